// cmd_fixedpoints.c: `animat fixedpoints CKPT_OR_RUN --data FILE`: fixed and slow points (Sussillo
// & Barak 2013) of one recurrent module of a checkpoint's policy, under each condition's mean input,
// searched from states the module visited in a recording (agents/ama_fixedpoints.h does the math).
//
// From the dataset: the module's recorded states (channel "<module>/state") are the starts, a
// random subset drawn with a seed; the module's input at every step is rebuilt as the policy builds
// it (ama_policy_module_input): the raw observation groups ("obs/<group>") through the
// checkpoint's normaliser, plus for the core the previous action and reward when the config feeds
// them, and for the motor the core's recorded output ("core/output"). A step belongs to the
// condition (and epoch) the task reported when its observation was made: the previous row's
// "task_vars" (the first row's own at an episode's start). The constant input of a condition is
// the mean of its steps' inputs. PC coordinates come from a PCA of the recorded states (at most
// PCA_ROWS of them, drawn with the seed).
// Writes DIR/fixedpoints.json and DIR/fixedpoints.csv (each via a temporary file and a rename) and
// prints a summary per condition.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "am_dataset.h"
#include "ama_agents.h"
#include "ama_fixedpoints.h"
#include "ana.h"
#include "cli.h"
#include "ds_trials.h"
#include "table.h"

#define MAX_CONDS 256
#define PCA_ROWS 20000
#define NPC 3
#define REPLAY_ROWS 20000

typedef struct cond_acc {
  float value;
  int64_t steps;
  double* sum;  // (module input size)
} cond_acc;

// Selection sampling (Knuth's algorithm S): choose `want` of `total` rows in order, each subset
// equally likely, one decision per row. Returns 1 when the row is chosen.
typedef struct row_picker {
  am_rng rng;
  int64_t left_rows, left_want;
} row_picker;

static void picker_init(row_picker* p, uint64_t seed, uint64_t stream, int64_t total, int64_t want) {
  am_rng_seed(&p->rng, seed, stream);
  p->left_rows = total;
  p->left_want = want < total ? want : total;
}

static int picker_take(row_picker* p) {
  int take = p->left_want > 0 && (double)p->left_rows * am_rng_uniform(&p->rng) < (double)p->left_want;
  p->left_rows--;
  p->left_want -= take;
  return take;
}

// The f32 channel `name` of r with `elems` elements per step (elems < 0: any): `what` it holds.
// Returns its index, or -1 with a message.
static int need_channel(am_ds_reader* r, const char* file, const char* name, long elems,
                        const char* what, char* err, size_t err_sz) {
  int c = am_ds_find_channel(r, name);
  if (c < 0)
    return am_err(err, err_sz, "%s has no channel %s (%s; a recording of the checkpoint by "
                  "`animat record CHECKPOINT` has it)", file, name, what);
  const am_ds_channel* ch = am_ds_get_channel(r, c);
  if (ch->dtype != AM_DT_F32)
    return am_err(err, err_sz, "%s: channel %s is %s, expected f32", file, name,
                  am_dtype_name(ch->dtype));
  if (elems >= 0 && ch->elems != (size_t)elems)
    return am_err(err, err_sz, "%s: channel %s (%s) has %zu values per step but the checkpoint's "
                  "has %ld: was it recorded with another checkpoint?", file, name, what, ch->elems,
                  elems);
  return c;
}

// JSON values (table.h's writers), remembering an allocation failure in *oom.
static void jnum(am_buf* b, int* oom, double v) { *oom |= table_json_number(b, v); }
static void jstr(am_buf* b, int* oom, const char* s) { *oom |= table_json_string(b, s); }

typedef struct cond_result {
  float value;
  int64_t steps;
  ama_fp_result fp;
  double* pcs;  // (n_points x NPC)
} cond_result;

int cmd_fixedpoints(int argc, char** argv) {
  const char* usage =
      "usage: animat fixedpoints CHECKPOINT_OR_RUN --data FILE [FLAGS]\n"
      "  Fixed and slow points (Sussillo & Barak 2013) of one recurrent module of a checkpoint's\n"
      "  policy under each condition's constant input: minimises q(s) = 1/2 |F(s) - s|^2 from\n"
      "  recorded states and reports the points, q, and the eigenvalues of dF/ds there.\n"
      "  --data FILE       a recording of this checkpoint (animat record CHECKPOINT): its module\n"
      "                    states are the starts, its observations give the inputs\n"
      "  --module M        core (default) or motor\n"
      "  --condition VAR   task variable whose distinct values are the conditions (default\n"
      "                    condition)\n"
      "  --epoch N         a condition's input is the mean over its steps with task variable\n"
      "                    epoch = N only (default: all its steps)\n"
      "  --starts N        starting states, a random subset of the recorded ones (default 200)\n"
      "  --seed S          seed of that subset, of the PCA sample and of --noise (default 1)\n"
      "  --noise SD        Gaussian noise added to every start (default 0)\n"
      "  --max-iter N      evaluations of F per start (default 200)\n"
      "  --tol-fixed Q     q below this: a fixed point (default 1e-12)\n"
      "  --tol-slow Q      q below this: a slow point (default 1e-5); above: rejected\n"
      "  --dedup D         points closer than D are one (default 1e-3)\n"
      "  --eig-tol E       |eigenvalue| above 1 + E: unstable; within E of 1: marginal (1e-3)\n"
      "  --eig K           eigenvalues per point in the output, largest |lambda| first (default 8)\n"
      "  --out DIR         write DIR/fixedpoints.json and DIR/fixedpoints.csv\n"
      "  --quiet           no progress\n";
  const char *data = NULL, *module = "core", *cond_name = "condition", *outdir = NULL;
  int epoch = -1, n_starts = 200, n_eig = 8, quiet = 0;
  uint64_t seed = 1;
  ama_fp_config fc;
  ama_fp_config_default(&fc);
  cli_flag flags[] = {
      {"data", CLI_STRING, &data},
      {"module", CLI_STRING, &module},
      {"condition", CLI_STRING, &cond_name},
      {"epoch", CLI_INT, &epoch, 0, 1e6},
      {"starts", CLI_INT, &n_starts, 1, 1e6},
      {"seed", CLI_U64, &seed},
      {"noise", CLI_DOUBLE, &fc.start_noise, 0, 1e6},
      {"max-iter", CLI_INT, &fc.max_iter, 1, 1e7},
      {"tol-fixed", CLI_DOUBLE, &fc.tol_fixed, 1e-300, 1e6},
      {"tol-slow", CLI_DOUBLE, &fc.tol_slow, 1e-300, 1e6},
      {"dedup", CLI_DOUBLE, &fc.dedup, 0, 1e6},
      {"eig-tol", CLI_DOUBLE, &fc.eig_tol, 0, 1},
      {"eig", CLI_INT, &n_eig, 1, 1 << 20},
      {"out", CLI_STRING, &outdir},
      {"quiet", CLI_BOOL, &quiet},
  };
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help,
                     usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return cli_fail("fixedpoints", "give one checkpoint or run (see --help)"), 2;
  if (!data) return cli_fail("fixedpoints", "--data FILE is required (a recording of the checkpoint)"), 2;
  if (strcmp(module, "core") && strcmp(module, "motor"))
    return cli_fail("fixedpoints", "--module: no module '%s' (core, motor)", module), 2;
  if (fc.tol_slow < fc.tol_fixed)
    return cli_fail("fixedpoints", "--tol-slow (%g) must not be below --tol-fixed (%g)",
                    fc.tol_slow, fc.tol_fixed), 2;
  fc.seed = seed;
  const int motor = !strcmp(module, "motor");
  char err[AM_ERR_LEN], ckpt[1200];
  if (cli_checkpoint_path("fixedpoints", pos[0], ckpt, sizeof ckpt)) return 1;

  am_ds_reader* r = am_ds_open(data, err, sizeof err);
  if (!r) return cli_fail("fixedpoints", "%s", err);
  int status = 1;
  ama_policy pol;
  memset(&pol, 0, sizeof pol);
  int pol_loaded = 0;
  ama_cellmap map;
  memset(&map, 0, sizeof map);
  cond_acc conds[MAX_CONDS];
  cond_result res[MAX_CONDS];
  int n_conds = 0, n_res = 0;
  memset(res, 0, sizeof res);
  float *ebuf = NULL, *obs_raw = NULL, *obs_n = NULL, *xin = NULL;
  double *xd = NULL, *starts = NULL, *pcaX = NULL, *pmean = NULL, *comps = NULL, *pvar = NULL, *pexp = NULL;
  am_buf json = {0};

  // the observation layout from the recording's obs/<group> channels (in the task's group order)
  am_obs_group groups[AM_MAX_GROUPS];
  int n_groups = 0, obs_dim = 0, ch_obs[AM_MAX_GROUPS];
  for (int c = 0; c < am_ds_num_channels(r); c++) {
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    if (strncmp(ch->name, "obs/", 4)) continue;
    if (n_groups == AM_MAX_GROUPS || ch->dtype != AM_DT_F32) {
      cli_fail("fixedpoints", "%s: unexpected observation channel %s", data, ch->name);
      goto done;
    }
    snprintf(groups[n_groups].name, AM_NAME_LEN, "%s", ch->name + 4);
    groups[n_groups].offset = obs_dim;
    groups[n_groups].size = (int)ch->elems;
    ch_obs[n_groups++] = c;
    obs_dim += (int)ch->elems;
  }
  int ch_act = am_ds_find_channel(r, "action");
  if (!n_groups || ch_act < 0) {
    cli_fail("fixedpoints", "%s has no observation or action channels (not an animat recording?)", data);
    goto done;
  }
  int act_dim = (int)am_ds_get_channel(r, ch_act)->elems;
  if (ama_ckpt_load_policy(&pol, ckpt, groups, n_groups, obs_dim, act_dim, 1, err, sizeof err)) {
    cli_fail("fixedpoints", "%s (does %s record the checkpoint's task?)", err, data);
    goto done;
  }
  pol_loaded = 1;
  const ama_cell* cell = motor ? &pol.motor : &pol.core;
  if (ama_cellmap_init(&map, cell, &pol.params, err, sizeof err)) {
    cli_fail("fixedpoints", "the %s (%s) of %s: %s", module, ama_cell_type_name(cell->cfg.type),
             ckpt, err);
    goto done;
  }
  const int S = map.S, I = map.I, Hc = pol.cfg.core_hidden;
  if (n_eig > S) n_eig = S;

  // the channels this needs
  char stname[32];
  snprintf(stname, sizeof stname, "%s/state", module);
  int ch_state = need_channel(r, data, stname, S, "the module's state", err, sizeof err);
  int ch_vars = ch_state < 0 ? -1 : need_channel(r, data, "task_vars", -1, "task variables", err,
                                                 sizeof err);
  int ch_cout = -1, ch_rew = -1;
  if (ch_vars >= 0 && motor)
    ch_cout = need_channel(r, data, "core/output", Hc, "the core's output, the motor's input", err,
                           sizeof err);
  if (ch_vars >= 0 && !motor && pol.cfg.prev_reward)
    ch_rew = need_channel(r, data, "reward", 1, "the reward, the core's next input", err, sizeof err);
  if (ch_state < 0 || ch_vars < 0 || (motor && ch_cout < 0) ||
      (!motor && pol.cfg.prev_reward && ch_rew < 0)) {
    cli_fail("fixedpoints", "%s", err);
    goto done;
  }
  const am_ds_channel* vch = am_ds_get_channel(r, ch_vars);
  char vnames[AM_MAX_VARS][AM_NAME_LEN];
  int n_vn = ds_split_labels(vch->labels, vnames, AM_MAX_VARS);
  int v_cond = ds_find_name(vnames, n_vn, cond_name);
  int v_epoch = epoch >= 0 ? ds_find_name(vnames, n_vn, "epoch") : -1;
  if (v_cond < 0 || (epoch >= 0 && v_epoch < 0)) {
    cli_fail("fixedpoints", "%s: no task variable '%s' (it has: %s)", data,
             v_cond < 0 ? cond_name : "epoch", vch->labels[0] ? vch->labels : "none");
    goto done;
  }
  const int V = (int)vch->elems;

  // rows
  int64_t n_eps = am_ds_num_episodes(r), rows = 0, max_steps = 0;
  for (int64_t e = 0; e < n_eps; e++) {
    int64_t s = am_ds_get_episode(r, e)->steps;
    rows += s;
    if (s > max_steps) max_steps = s;
  }
  if (rows < 2) {
    cli_fail("fixedpoints", "%s holds %lld steps: too few", data, (long long)rows);
    goto done;
  }
  if (n_starts > rows) n_starts = (int)rows;
  int n_pca = rows < PCA_ROWS ? (int)rows : PCA_ROWS;
  // one episode's channels: state, vars, actions, rewards, core output, each group's observations
  size_t per_step = (size_t)S + V + act_dim + 1 + Hc + obs_dim;
  ebuf = calloc(per_step * (size_t)max_steps, sizeof(float));
  obs_raw = malloc(sizeof(float) * (size_t)obs_dim);
  obs_n = malloc(sizeof(float) * (size_t)obs_dim);
  xin = malloc(sizeof(float) * (size_t)I);
  starts = malloc(sizeof(double) * (size_t)n_starts * S);
  pcaX = malloc(sizeof(double) * (size_t)n_pca * S);
  if (!ebuf || !obs_raw || !obs_n || !xin || !starts || !pcaX) {
    cli_fail("fixedpoints", "out of memory (%lld steps of %d states)", (long long)max_steps, S);
    goto done;
  }
  float* e_state = ebuf;
  float* e_vars = e_state + (size_t)S * max_steps;
  float* e_act = e_vars + (size_t)V * max_steps;
  float* e_rew = e_act + (size_t)act_dim * max_steps;
  float* e_cout = e_rew + (size_t)max_steps;
  float* e_obs = e_cout + (size_t)Hc * max_steps;  // group g at e_obs + offset_g * max_steps
  // The replay check needs every update visible in the recording: no recurrent noise, and a
  // core that ticks every step.
  char noise_ch[32];
  snprintf(noise_ch, sizeof noise_ch, "%s/noise", module);
  const char* no_replay = am_ds_find_channel(r, noise_ch) >= 0 ? "recurrent noise"
                          : !motor && pol.cfg.core_tick > 1 ? "core_tick > 1" : NULL;
  int replay = !no_replay;
  int64_t replay_rows = 0;
  double replay_err = 0;
  xd = malloc(sizeof(double) * (size_t)(I + 2 * S));
  if (!xd) {
    cli_fail("fixedpoints", "out of memory");
    goto done;
  }
  double *sd = xd + I, *fd = sd + S;
  row_picker pick_start, pick_pca;
  picker_init(&pick_start, seed, 1, rows, n_starts);
  picker_init(&pick_pca, seed, 2, rows, n_pca);
  int got_start = 0, got_pca = 0;
  cli_progress_state pg;
  cli_progress_start(&pg, quiet);
  for (int64_t e = 0; e < n_eps; e++) {
    int64_t T = am_ds_get_episode(r, e)->steps;
    int bad = am_ds_read_channel(r, e, ch_state, e_state, err, sizeof err) ||
              am_ds_read_channel(r, e, ch_vars, e_vars, err, sizeof err) ||
              am_ds_read_channel(r, e, ch_act, e_act, err, sizeof err) ||
              (ch_rew >= 0 && am_ds_read_channel(r, e, ch_rew, e_rew, err, sizeof err)) ||
              (ch_cout >= 0 && am_ds_read_channel(r, e, ch_cout, e_cout, err, sizeof err));
    for (int g = 0; g < n_groups && !bad; g++)
      bad = am_ds_read_channel(r, e, ch_obs[g], e_obs + (size_t)groups[g].offset * max_steps, err,
                               sizeof err);
    if (bad) {
      cli_progress_end(&pg);
      cli_fail("fixedpoints", "%s", err);
      goto done;
    }
    for (int64_t t = 0; t < T; t++) {
      const float* st_t = e_state + (size_t)t * S;
      if (picker_take(&pick_start)) {
        for (int i = 0; i < S; i++) starts[(size_t)got_start * S + i] = st_t[i];
        got_start++;
      }
      if (picker_take(&pick_pca)) {
        for (int i = 0; i < S; i++) pcaX[(size_t)got_pca * S + i] = st_t[i];
        got_pca++;
      }
      // the module's input at this step, as the policy built it
      for (int g = 0; g < n_groups; g++)
        memcpy(obs_raw + groups[g].offset,
               e_obs + (size_t)groups[g].offset * max_steps + (size_t)t * groups[g].size,
               sizeof(float) * (size_t)groups[g].size);
      ama_norm_apply(&pol.norm, obs_raw, obs_n, 1);
      ama_policy_module_input(&pol, motor, obs_n, t > 0 ? e_act + (size_t)(t - 1) * act_dim : NULL,
                              t > 0 ? e_rew[t - 1] : 0.0f, e_cout + (size_t)t * Hc, xin);
      if (replay && replay_rows < REPLAY_ROWS) {  // F(previous state; input) = this state?
        for (int i = 0; i < I; i++) xd[i] = xin[i];
        for (int i = 0; i < S; i++) sd[i] = t > 0 ? st_t[i - S] : 0.0;  // a new episode starts at 0
        ama_cellmap_set_input(&map, xd);
        ama_cellmap_step(&map, sd, fd, NULL);
        for (int i = 0; i < S; i++) {
          double d = fabs(fd[i] - st_t[i]);
          replay_err = d > replay_err ? d : replay_err;
        }
        replay_rows++;
      }
      // the condition and epoch when this step's observation was made
      const float* vars = e_vars + (size_t)(t > 0 ? t - 1 : 0) * V;
      if (epoch >= 0 && vars[v_epoch] != (float)epoch) continue;
      float cv = vars[v_cond];
      if (!isfinite(cv)) continue;
      int k = 0;
      while (k < n_conds && conds[k].value != cv) k++;
      if (k == n_conds) {
        if (n_conds == MAX_CONDS) {
          cli_progress_end(&pg);
          cli_fail("fixedpoints", "task variable '%s' takes more than %d values in %s: not a "
                   "condition (choose another with --condition)", cond_name, MAX_CONDS, data);
          goto done;
        }
        conds[k].value = cv;
        conds[k].steps = 0;
        conds[k].sum = calloc((size_t)I, sizeof(double));
        if (!conds[k].sum) {
          cli_fail("fixedpoints", "out of memory");
          goto done;
        }
        n_conds++;
      }
      for (int i = 0; i < I; i++) conds[k].sum[i] += xin[i];
      conds[k].steps++;
    }
    cli_progress(&pg, e + 1 == n_eps, "fixedpoints: read %lld/%lld episodes", (long long)e + 1,
                 (long long)n_eps);
  }
  cli_progress_end(&pg);
  if (!n_conds) {
    cli_fail("fixedpoints", "%s: no step has epoch = %d", data, epoch);
    goto done;
  }
  // conditions in ascending order of value
  for (int a = 1; a < n_conds; a++)
    for (int b = a; b > 0 && conds[b - 1].value > conds[b].value; b--) {
      cond_acc t = conds[b];
      conds[b] = conds[b - 1];
      conds[b - 1] = t;
    }

  // PCA of the recorded states
  int npc = S < NPC ? S : NPC;
  pmean = malloc(sizeof(double) * S);
  comps = malloc(sizeof(double) * (size_t)npc * S);
  pvar = malloc(sizeof(double) * S);
  pexp = malloc(sizeof(double) * S);
  if (!pmean || !comps || !pvar || !pexp) {
    cli_fail("fixedpoints", "out of memory");
    goto done;
  }
  if (ana_pca(pcaX, got_pca, S, npc, pmean, comps, pvar, pexp, err, sizeof err)) {
    cli_fail("fixedpoints", "PCA of the recorded states: %s", err);
    goto done;
  }

  // the search, condition by condition (the same starts for each)
  double* xm = malloc(sizeof(double) * (size_t)(I > 0 ? I : 1));
  if (!xm) {
    cli_fail("fixedpoints", "out of memory");
    goto done;
  }
  cli_progress_start(&pg, quiet);
  for (int k = 0; k < n_conds; k++) {
    for (int i = 0; i < I; i++) xm[i] = conds[k].sum[i] / (double)conds[k].steps;
    ama_cellmap_set_input(&map, xm);
    cond_result* cr = &res[n_res];
    cr->value = conds[k].value;
    cr->steps = conds[k].steps;
    if (ama_fixedpoints(&map, starts, got_start, &fc, &cr->fp, err, sizeof err)) {
      free(xm);
      cli_progress_end(&pg);
      cli_fail("fixedpoints", "%s = %g: %s", cond_name, cr->value, err);
      goto done;
    }
    n_res++;
    int np = cr->fp.n_points;
    cr->pcs = malloc(sizeof(double) * (size_t)(np > 0 ? np : 1) * npc);
    double* P = malloc(sizeof(double) * (size_t)(np > 0 ? np : 1) * S);
    if (!cr->pcs || !P) {
      free(P);
      free(xm);
      cli_fail("fixedpoints", "out of memory");
      goto done;
    }
    for (int p = 0; p < np; p++) memcpy(P + (size_t)p * S, cr->fp.points[p].s, sizeof(double) * S);
    if (np && ana_pca_project(P, np, S, pmean, comps, npc, cr->pcs, err, sizeof err)) {
      free(P);
      free(xm);
      cli_fail("fixedpoints", "%s", err);
      goto done;
    }
    free(P);
    cli_progress(&pg, k + 1 == n_conds, "fixedpoints: %d/%d conditions searched", k + 1, n_conds);
  }
  free(xm);
  cli_progress_end(&pg);

  // summary
  printf("fixedpoints: %s (%s, %d units, state %d) of %s, %d starts from %lld recorded states of "
         "%s\n", module, ama_cell_type_name(cell->cfg.type), map.H, S, ckpt, got_start,
         (long long)rows, data);
  printf("conditions: values of '%s'", cond_name);
  if (epoch >= 0) printf(", inputs averaged over epoch %d", epoch);
  printf(" (q < %g fixed, < %g slow)\n", fc.tol_fixed, fc.tol_slow);
  printf("%-10s %8s %6s %6s %9s %9s %9s %9s %9s %9s\n", cond_name, "steps", "fixed", "slow",
         "rejected", "min q", "unstable", "marginal", "max|eig|", "dist");
  for (int k = 0; k < n_res; k++) {
    const ama_fp_result* f = &res[k].fp;
    double mx = NAN;
    int unst = 0, marg = 0;
    for (int p = 0; p < f->n_points; p++) {
      const ama_fp_point* P = &f->points[p];
      if (!(P->max_abs <= mx)) mx = P->max_abs;
      unst += P->n_unstable > 0;
      marg = P->n_marginal > marg ? P->n_marginal : marg;
    }
    double qmin = INFINITY;
    for (int j = 0; j < f->n_starts; j++) qmin = fmin(qmin, f->start_q[j]);
    char c_mx[16] = "-", c_dist[16] = "-";
    if (f->n_points) {
      snprintf(c_mx, sizeof c_mx, "%.4f", mx);
      snprintf(c_dist, sizeof c_dist, "%.3g", f->points[0].dist_start);
    }
    printf("%-10g %8lld %6d %6d %9d %9.2g %9d %9d %9s %9s\n", res[k].value,
           (long long)res[k].steps, f->n_fixed, f->n_slow, f->n_rejected, qmin, unst, marg, c_mx,
           c_dist);
  }
  printf("min q: the lowest q any start reached; unstable: points with an |eigenvalue| of dF/ds "
         "above 1 + %g; marginal: the most eigenvalues within %g of 1 at a point; max|eig|: the "
         "largest; dist: the lowest-q point's distance from the nearest start\n", fc.eig_tol,
         fc.eig_tol);
  if (replay)
    printf("replay: F(recorded state, rebuilt input) gives the next recorded state to %.2g (largest "
           "|difference| over %lld steps)\n", replay_err, (long long)replay_rows);
  else
    printf("replay: not checked (%s)\n", no_replay);
  printf("PCA of %d recorded states: PC1-%d explain", got_pca, npc);
  for (int j = 0; j < npc; j++) printf(" %.1f%%", 100 * pexp[j]);
  printf(" of the variance\n");

  if (outdir) {
    if (mkdir(outdir, 0777) && errno != EEXIST) {
      cli_fail("fixedpoints", "cannot create %s: %s", outdir, strerror(errno));
      goto done;
    }
    int oom = 0;
    am_buf* j = &json;
    oom |= am_buf_printf(j, "{\n  \"checkpoint\": ");
    jstr(j, &oom, ckpt);
    oom |= am_buf_printf(j, ",\n  \"data\": ");
    jstr(j, &oom, data);
    oom |= am_buf_printf(j, ",\n  \"module\": \"%s\",\n  \"cell\": \"%s\",\n  \"units\": %d,\n"
                         "  \"state_size\": %d,\n  \"condition_var\": ", module,
                         ama_cell_type_name(cell->cfg.type), map.H, S);
    jstr(j, &oom, cond_name);
    if (epoch >= 0) oom |= am_buf_printf(j, ",\n  \"epoch\": %d", epoch);
    else oom |= am_buf_printf(j, ",\n  \"epoch\": null");
    oom |= am_buf_printf(j, ",\n  \"recorded_states\": %lld,\n  \"starts\": %d,\n  \"seed\": %llu",
                         (long long)rows, got_start, (unsigned long long)seed);
    const char* knames[5] = {"noise", "tol_fixed", "tol_slow", "dedup", "eig_tol"};
    const double kvals[5] = {fc.start_noise, fc.tol_fixed, fc.tol_slow, fc.dedup, fc.eig_tol};
    for (int k = 0; k < 5; k++) {
      oom |= am_buf_printf(j, ",\n  \"%s\": ", knames[k]);
      jnum(j, &oom, kvals[k]);
    }
    oom |= am_buf_printf(j, ",\n  \"max_iter\": %d,\n  \"replay_steps\": %lld,\n"
                         "  \"replay_max_error\": ", fc.max_iter, (long long)replay_rows);
    jnum(j, &oom, replay ? replay_err : NAN);
    oom |= am_buf_printf(j, ",\n  \"pca\": {\"states\": %d, \"explained\": [", got_pca);
    for (int q = 0; q < npc; q++) {
      oom |= am_buf_printf(j, "%s", q ? ", " : "");
      jnum(j, &oom, pexp[q]);
    }
    oom |= am_buf_printf(j, "]},\n  \"conditions\": [");
    // the CSV: one row per point
    int ncol = 9 + npc + 2 * n_eig;
    char(*cn)[24] = calloc((size_t)ncol, sizeof *cn);
    const char** cols = calloc((size_t)ncol, sizeof *cols);
    table csv;
    memset(&csv, 0, sizeof csv);
    const char* fixed_cols[9] = {"condition", "point", "kind", "q", "count", "dist_start",
                                 "n_unstable", "n_marginal", "max_abs_eig"};
    if (cn && cols) {
      for (int c = 0; c < ncol; c++) {
        if (c < 9) snprintf(cn[c], sizeof cn[c], "%s", fixed_cols[c]);
        else if (c < 9 + npc) snprintf(cn[c], sizeof cn[c], "pc%d", c - 9 + 1);
        else snprintf(cn[c], sizeof cn[c], "eig%d_%s", (c - 9 - npc) / 2 + 1,
                      (c - 9 - npc) % 2 ? "im" : "re");
        cols[c] = cn[c];
      }
    }
    oom |= !cn || !cols || table_init(&csv, ncol, cols) != 0;
    free(cols);
    free(cn);
    for (int k = 0; k < n_res && !oom; k++) {
      const ama_fp_result* f = &res[k].fp;
      double qmin = INFINITY;
      for (int q = 0; q < f->n_starts; q++) qmin = fmin(qmin, f->start_q[q]);
      oom |= am_buf_printf(j, "%s\n    {\"value\": ", k ? "," : "");
      jnum(j, &oom, res[k].value);
      oom |= am_buf_printf(j, ", \"steps\": %lld, \"fixed\": %d, \"slow\": %d, \"rejected\": %d, "
                           "\"min_q\": ", (long long)res[k].steps, f->n_fixed, f->n_slow,
                           f->n_rejected);
      jnum(j, &oom, qmin);
      oom |= am_buf_printf(j, ", \"points\": [");
      for (int p = 0; p < f->n_points; p++) {
        const ama_fp_point* P = &f->points[p];
        const double* pc = res[k].pcs + (size_t)p * npc;
        oom |= am_buf_printf(j, "%s\n      {\"kind\": \"%s\", \"q\": ", p ? "," : "",
                             ama_fp_kind_name(P->kind));
        jnum(j, &oom, P->q);
        oom |= am_buf_printf(j, ", \"count\": %d, \"dist_start\": ", P->count);
        jnum(j, &oom, P->dist_start);
        oom |= am_buf_printf(j, ", \"n_unstable\": %d, \"n_marginal\": %d, \"max_abs_eig\": ",
                             P->n_unstable, P->n_marginal);
        jnum(j, &oom, P->max_abs);
        oom |= am_buf_printf(j, ", \"pc\": [");
        for (int q = 0; q < npc; q++) {
          oom |= am_buf_printf(j, "%s", q ? ", " : "");
          jnum(j, &oom, pc[q]);
        }
        oom |= am_buf_printf(j, "], \"eig\": [");
        for (int q = 0; q < n_eig; q++) {
          oom |= am_buf_printf(j, "%s[", q ? ", " : "");
          jnum(j, &oom, P->eig_re[q]);
          oom |= am_buf_printf(j, ", ");
          jnum(j, &oom, P->eig_im[q]);
          oom |= am_buf_printf(j, "]");
        }
        oom |= am_buf_printf(j, "], \"state\": [");
        for (int i = 0; i < S; i++) {
          oom |= am_buf_printf(j, "%s", i ? ", " : "");
          jnum(j, &oom, P->s[i]);
        }
        oom |= am_buf_printf(j, "]}");
        table_num(&csv, res[k].value);
        table_int(&csv, p);
        table_str(&csv, ama_fp_kind_name(P->kind));
        table_num(&csv, P->q);
        table_int(&csv, P->count);
        table_num(&csv, P->dist_start);
        table_int(&csv, P->n_unstable);
        table_int(&csv, P->n_marginal);
        table_num(&csv, P->max_abs);
        for (int q = 0; q < npc; q++) table_num(&csv, pc[q]);
        for (int q = 0; q < n_eig; q++) {
          table_num(&csv, P->eig_re[q]);
          table_num(&csv, P->eig_im[q]);
        }
      }
      oom |= am_buf_printf(j, "%s]}", f->n_points ? "\n    " : "");
    }
    oom |= am_buf_printf(j, "\n  ]\n}\n");
    char path[1300];
    if (oom || csv.oom) {
      table_free(&csv);
      cli_fail("fixedpoints", "out of memory writing the results");
      goto done;
    }
    snprintf(path, sizeof path, "%s/fixedpoints.json", outdir);
    int bad = am_write_file_atomic(path, json.p, json.len, err, sizeof err);
    snprintf(path, sizeof path, "%s/fixedpoints.csv", outdir);
    bad = bad || table_write(&csv, path, err, sizeof err);
    table_free(&csv);
    if (bad) {
      cli_fail("fixedpoints", "%s", err);
      goto done;
    }
    printf("wrote %s/fixedpoints.json and %s/fixedpoints.csv\n", outdir, outdir);
  }
  status = 0;
done:
  for (int k = 0; k < n_conds; k++) free(conds[k].sum);
  for (int k = 0; k < n_res; k++) {
    ama_fp_result_free(&res[k].fp);
    free(res[k].pcs);
  }
  am_buf_free(&json);
  free(ebuf);
  free(obs_raw);
  free(obs_n);
  free(xin);
  free(xd);
  free(starts);
  free(pcaX);
  free(pmean);
  free(comps);
  free(pvar);
  free(pexp);
  ama_cellmap_free(&map);
  if (pol_loaded) ama_policy_free(&pol);
  am_ds_reader_free(r);
  return status;
}
