// nwb_export.c: `animat export FILE --nwb OUT.nwb`: a recording as one NWB 2.7.0 session file
// (tools/nwb.c writes the HDF5). Layout (docs/datasets.md, "NWB"):
//   /processing/behavior  body channels (BehavioralTimeSeries), body positions from the recorded
//                         qpos by forward kinematics (body_xpos; Position/<root> for a free body)
//   /processing/task      action, reward, flags, task variables (BehavioralTimeSeries), events
//                         (BehavioralEvents), the episode's step and time
//   /processing/network   every network channel as a TimeSeries, the table network_units
//   /stimulus/presentation the observations (what the policy saw)
//   /intervals/epochs     one row per episode; /intervals/trials: the trial table (ds_trials.h)
//   /general              task, body, parameters, policy identity; /general/animat: all metadata
// Episodes are laid end to end on one timeline: episode k starts at (rows before it) x control_dt;
// row t of an episode holds what the policy saw and did at the start of step t (observations,
// action, network: time t dt) and the state at its end (body, reward, events: time (t+1) dt).
#define _POSIX_C_SOURCE 200809L  // gmtime_r, mkstemp
#include <errno.h>
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "am_dataset.h"
#include "ama_agents.h"
#include "amt_tasks.h"
#include "cli.h"
#include "ds_trials.h"
#include "nwb.h"
#include "nwb_export.h"

#define NETWORK_DESC                                                                           \
  "the policy network's activity while computing each step's action (one TimeSeries per "      \
  "module and state; the units are described in network_units)"

#define TRIAL_ONSET_FRAC 0.2  // movement onset threshold: `animat trials`' default --onset-frac

typedef struct series_out {
  int ch;          // dataset channel (-1: derived)
  nwb_series* s;
  double t0;       // time of the series' row 0 within its episode (0 or dt)
} series_out;

// The HDF5 name of a channel ('/' would make groups).
static void h5_name(const char* ch, char* out, size_t sz) {
  snprintf(out, sz, "%s", ch);
  for (char* s = out; *s; s++)
    if (*s == '/') *s = '_';
}

static const char* meta_or(am_ds_reader* r, const char* key, const char* dflt) {
  const char* v = am_ds_meta(r, key, NULL);
  return v && *v ? v : dflt;
}

// Every metadata entry under /general/animat: text as text, binary values (model.mjb,
// model.hfield_data) as uint8 arrays.
static void write_meta(nwb_file* f, am_ds_reader* r) {
  nwb_group(f, "/general/animat");
  nwb_attr_text(f, "/general/animat", "description",
                "every metadata entry of the animat recording (docs/dataset-format.md, METADATA "
                "block): text values as text, binary values (model.mjb...) as uint8 arrays");
  for (int i = 0; i < am_ds_num_meta(r); i++) {
    const char* k = am_ds_meta_key(r, i);
    size_t len;
    const char* v = am_ds_meta(r, k, &len);
    char p[512], name[256];
    h5_name(k, name, sizeof name);
    snprintf(p, sizeof p, "/general/animat/%s", name);
    if (strlen(v) == len)
      nwb_text(f, p, v);
    else
      nwb_bytes(f, p, v, len);
  }
}

// The units of the network's modules: one row per unit (module, index, cell type, E or I when the
// module obeys Dale's law: its first ama_dale_excitatory units are excitatory, as ama_nn.c signs
// them).
static int write_units(nwb_file* f, am_ds_reader* r, char* err, size_t err_sz) {
  const char* text = am_ds_meta(r, "policy.config", NULL);
  if (!text) return 0;
  nwb_typed_group(f, "/processing/network", "ProcessingModule", "core", NETWORK_DESC);
  ama_config c;
  ama_config_default(&c);
  if (ama_config_parse(&c, text, "metadata policy.config", err, err_sz)) return -1;
  const ama_policy_cfg* p = &c.policy;
  const char* mod[2] = {"core", "motor"};
  const char* type[2] = {p->core_type, p->motor_type};
  int H[2] = {p->core_hidden, p->motor_hidden};
  int64_t n = H[0] + H[1];
  const char** m = calloc((size_t)n, sizeof *m);
  const char** cell = calloc((size_t)n, sizeof *cell);
  const char** ei = calloc((size_t)n, sizeof *ei);
  int32_t* idx = calloc((size_t)n, sizeof *idx);
  if (!m || !cell || !ei || !idx) {
    free(m), free(cell), free(ei), free(idx);
    return am_err(err, err_sz, "out of memory");
  }
  int64_t row = 0;
  for (int k = 0; k < 2; k++) {
    ama_cell_cfg cc = {.hidden = H[k], .dale = p->dale, .exc_frac = p->exc_frac};
    int dale = ama_cell_type_parse(type[k], &cc.type) == 0 && cc.type == AMA_CELL_RNN && p->dale;
    int ne = ama_dale_excitatory(&cc);
    for (int j = 0; j < H[k]; j++, row++) {
      m[row] = mod[k];
      cell[row] = type[k];
      idx[row] = j;
      ei[row] = !dale ? "" : j < ne ? "E" : "I";
    }
  }
  nwb_column cols[] = {
      {"module", "network module of the unit (core or motor); its activity is column index of "
                 "the module's TimeSeries (MODULE_state, MODULE_output, ...)", NWB_COL_TEXT, 1, m},
      {"index", "index of the unit within its module", NWB_COL_I32, 1, idx},
      {"cell", "the module's cell type (rnn: leaky rate RNN, gru, lstm, mlp)", NWB_COL_TEXT, 1,
       cell},
      {"ei", "E (excitatory) or I (inhibitory) under Dale's law (policy dale = 1: the unit's "
             "outgoing recurrent weights all have this sign); empty when the module does not "
             "obey Dale's law", NWB_COL_TEXT, 1, ei}};
  int rc = nwb_table(f, "/processing/network/network_units", "DynamicTable", "hdmf-common",
                     "the units of the policy network's modules (one row per unit)", n, NULL, cols,
                     4);
  free(m), free(cell), free(ei), free(idx);
  return rc;
}

// The trial table (`animat trials`: tools/ds_trials.c, analysis/ana_trials.c) as intervals/trials:
// one row per trial, its columns those of the trial table; times on the file's timeline (t0: the
// episode's start there; a row's time is the start of its step, as in the trial table).
typedef struct trial_cols {
  int64_t *episode, *first, *last;
  int32_t *env, *trial;
  uint8_t *complete, *success;
  const char** outcome;
  double *start, *stop, *num;  // num: n_num columns of n rows
} trial_cols;

#define KIN_COLS DS_KIN_COLS
#define kin_names ds_kin_names
static const char* const kin_desc[KIN_COLS] = {
    "go cue, s from the trial's start", "kinematic movement onset, s from the trial's start",
    "reaction time: onset - go (s)", "movement end, s from the trial's start",
    "offset - onset (s)", "peak speed of the effector after the go cue (m/s)",
    "path length from onset to offset (m)",
    "signed largest distance from the straight start-target line (m; + counterclockwise side)",
    "distance from the target at the offset (m)",
    "initial direction error (degrees, in (-180, 180])"};
#define body_names ds_body_names
static const char* const body_desc[4] = {
    "path length of the free root body over the trial (m)", "its net displacement (m)",
    "its mean speed (m/s)", "its mean forward (+x) speed (m/s)"};

static int trials_write(nwb_file* f, const ds_trials* d, const ana_trials* tab,
                        const double* ep_t0, const int64_t* ep_id, int64_t n_done) {
  const ana_trial_schema* s = &d->schema;
  int64_t n = tab->n, n1 = n ? n : 1;
  int kin = s->eff_x >= 0 && s->go_event >= 0, body = d->root_adr >= 0;
  int n_num = s->n_cond + (s->choice >= 0) + (kin ? KIN_COLS : 0) + (body ? 4 : 0) +
              2 * d->n_events;
  trial_cols c = {calloc((size_t)n1, 8), calloc((size_t)n1, 8), calloc((size_t)n1, 8),
                  calloc((size_t)n1, 4), calloc((size_t)n1, 4), calloc((size_t)n1, 1),
                  calloc((size_t)n1, 1), calloc((size_t)n1, sizeof(char*)),
                  calloc((size_t)n1, 8), calloc((size_t)n1, 8),
                  calloc((size_t)n1 * (size_t)(n_num ? n_num : 1), 8)};
  nwb_column* cols = calloc((size_t)n_num + 8, sizeof *cols);
  char(*names)[AM_NAME_LEN + 8] = calloc((size_t)n_num + 1, sizeof *names);
  char(*descs)[200] = calloc((size_t)n_num + 1, sizeof *descs);
  int rc = -1;
  if (!c.episode || !c.first || !c.last || !c.env || !c.trial || !c.complete || !c.success ||
      !c.outcome || !c.start || !c.stop || !c.num || !cols || !names || !descs)
    goto out;
  int64_t e = 0;  // the episode of row i (trials come in episode order)
  for (int64_t i = 0; i < n; i++) {
    const ana_trial* t = &tab->rows[i];
    while (e < n_done && ep_id[e] != t->episode) e++;
    double t0 = e < n_done ? ep_t0[e] : NAN;
    c.episode[i] = t->episode, c.env[i] = t->env, c.trial[i] = t->trial;
    c.first[i] = t->first, c.last[i] = t->last;
    c.complete[i] = (uint8_t)t->complete, c.success[i] = (uint8_t)t->success;
    c.outcome[i] = ds_trial_outcome(d, t);
    c.start[i] = t0 + (double)t->first * d->dt;
    c.stop[i] = t0 + (double)(t->last + 1) * d->dt;
    int k = 0;
    double* col = c.num;
#define PUT(v) (col[(int64_t)(k++) * n + i] = (v))
    for (int j = 0; j < s->n_cond; j++) PUT(t->cond[j]);
    if (s->choice >= 0) PUT(t->choice);
    if (kin) {
      const double kv[KIN_COLS] = {t->go, t->onset, t->rt, t->offset, t->duration, t->peak_speed,
                                   t->path, t->max_dev, t->end_err, t->dir_err};
      for (int j = 0; j < KIN_COLS; j++) PUT(kv[j]);
    }
    if (body) {
      PUT(t->distance), PUT(t->displacement), PUT(t->mean_speed), PUT(t->forward_speed);
    }
    for (int j = 0; j < d->n_events; j++) {
      int r = t->ev_row[j];
      PUT(r >= 0 ? c.start[i] + (double)r * d->dt : NAN);
      PUT((double)t->ev_count[j]);
    }
#undef PUT
  }
  int m = 0, k = 0;
  cols[m++] = (nwb_column){"episode", "id of the episode the trial belongs to (intervals/epochs)",
                           NWB_COL_I64, 1, c.episode};
  cols[m++] = (nwb_column){"env", "the env that ran the episode", NWB_COL_I32, 1, c.env};
  cols[m++] = (nwb_column){"trial", "index of the trial within its episode", NWB_COL_I32, 1,
                           c.trial};
  cols[m++] = (nwb_column){"first_step", "the trial's first row (control step) in its episode",
                           NWB_COL_I64, 1, c.first};
  cols[m++] = (nwb_column){"last_step", "the trial's last row in its episode", NWB_COL_I64, 1,
                           c.last};
  cols[m++] = (nwb_column){"complete", "1: its end was recorded (trial end, or the episode's)",
                           NWB_COL_U8, 1, c.complete};
  cols[m++] = (nwb_column){"success", "1: the task's success event occurred in the trial",
                           NWB_COL_U8, 1, c.success};
  cols[m++] = (nwb_column){"outcome", "success, the event that ended the trial (abort, timeout...), "
                           "ended or incomplete", NWB_COL_TEXT, 1, c.outcome};
  for (int j = 0; j < s->n_cond; j++, k++) {
    snprintf(names[k], sizeof names[0], "%s", d->vars[s->cond[j]]);
    snprintf(descs[k], sizeof descs[0], "condition: task variable %s in the trial's last row",
             d->vars[s->cond[j]]);
  }
  if (s->choice >= 0) {
    snprintf(names[k], sizeof names[0], "choice");
    snprintf(descs[k++], sizeof descs[0], "task variable choice in the trial's last row");
  }
  for (int j = 0; kin && j < KIN_COLS; j++, k++) {
    snprintf(names[k], sizeof names[0], "%s", kin_names[j]);
    snprintf(descs[k], sizeof descs[0], "%s", kin_desc[j]);
  }
  for (int j = 0; body && j < 4; j++, k++) {
    snprintf(names[k], sizeof names[0], "%s", body_names[j]);
    snprintf(descs[k], sizeof descs[0], "%s", body_desc[j]);
  }
  for (int j = 0; j < d->n_events; j++) {
    snprintf(names[k], sizeof names[0], "%s_time", d->events[j]);
    snprintf(descs[k++], sizeof descs[0], "time (s) of the first row in the trial with the event "
             "%s (the start of that step); NaN: none", d->events[j]);
    snprintf(names[k], sizeof names[0], "%s_count", d->events[j]);
    snprintf(descs[k++], sizeof descs[0], "rows in the trial with the event %s", d->events[j]);
  }
  for (int j = 0; j < n_num; j++)
    cols[m++] = (nwb_column){names[j], descs[j], NWB_COL_F64, 1, c.num + (int64_t)j * n};
  char desc[512];
  snprintf(desc, sizeof desc, "the trial table of `animat trials` (docs/analysis.md): one row per "
           "trial, by the task's trial schema (from the %s)", d->schema_source);
  rc = nwb_intervals(f, "/intervals/trials", desc, n, NULL, c.start, c.stop, cols, m);
out:
  free(c.episode), free(c.first), free(c.last), free(c.env), free(c.trial), free(c.complete);
  free(c.success), free(c.outcome), free(c.start), free(c.stop), free(c.num);
  free(cols), free(names), free(descs);
  return rc;
}

// Names of the model's qpos coordinates ("shoulder", "root_x"... "root_qw") into a
// comma-separated list.
static void qpos_names(const mjModel* m, char* out, size_t sz) {
  size_t o = 0;
  out[0] = 0;
  static const char* freeq[7] = {"x", "y", "z", "qw", "qx", "qy", "qz"};
  static const char* ballq[4] = {"qw", "qx", "qy", "qz"};
  for (int j = 0; j < m->njnt && o < sz; j++) {
    const char* jn = mj_id2name(m, mjOBJ_JOINT, j);
    char base[64];
    snprintf(base, sizeof base, "%s", jn && *jn ? jn : "joint");
    int nq = m->jnt_type[j] == mjJNT_FREE ? 7 : m->jnt_type[j] == mjJNT_BALL ? 4 : 1;
    for (int k = 0; k < nq && o < sz; k++) {
      const char* suffix = nq == 7 ? freeq[k] : nq == 4 ? ballq[k] : NULL;
      o += (size_t)snprintf(out + o, sz - o, "%s%s%s%s", o ? "," : "", base, suffix ? "_" : "",
                            suffix ? suffix : "");
    }
  }
}

int nwb_export(am_ds_reader* r, const char* in_path, const char* out, const int64_t* eps,
               int64_t n_eps, const int* sel, int allow_damaged, int force) {
  char err[AM_ERR_LEN], tmp[4200] = "";
  int status = 1, nc = am_ds_num_channels(r);
  struct stat st;
  if (stat(out, &st) == 0 && !force)
    return cli_fail("export", "%s already exists: choose another --nwb path, or replace it with "
                    "--force", out);
  if (stat(out, &st) == 0 && !S_ISREG(st.st_mode))
    return cli_fail("export", "%s exists and is not a file: not replacing it, even with --force",
                    out);
  const char* dts = am_ds_meta(r, "control_dt", NULL);
  char* end = NULL;
  double dt = dts ? strtod(dts, &end) : 0;
  if (!dts || end == dts || *end || !(dt > 0) || !isfinite(dt))
    return cli_fail("export", "%s: metadata control_dt is %s%s%s: the NWB timeline needs the "
                    "seconds per control step", in_path, dts ? "'" : "missing", dts ? dts : "",
                    dts ? "', not a positive number" : "");
  // a regular time base when the sampling rate is exact as the float32 NWB stores it
  double rate = 1.0 / dt;
  int regular = fabs(1.0 / (double)(float)rate - dt) <= 1e-12 * dt;
  if (!regular) rate = 0;

  int c_events = am_ds_find_channel(r, "events"), c_qpos = am_ds_find_channel(r, "qpos");
  int c_mocap = am_ds_find_channel(r, "mocap_pos");
  nwb_file* f = NULL;
  series_out* so = calloc((size_t)nc + 2, sizeof *so);
  void** dst = calloc((size_t)nc, sizeof *dst);
  int* need = calloc((size_t)nc, sizeof *need);
  double* times = NULL;
  double* xpos = NULL;
  mjData* md = NULL;
  am_model* model = NULL;
  int n_so = 0;
  ds_trials dtr;
  memset(&dtr, 0, sizeof dtr);
  ana_trials tab = {0};
  double* root_xyz = NULL;
  int64_t* ep_id = calloc((size_t)n_eps, sizeof(int64_t));
  int64_t* ep_steps = calloc((size_t)n_eps, sizeof(int64_t));
  int64_t* ep_row = calloc((size_t)n_eps, sizeof(int64_t));
  int32_t* ep_env = calloc((size_t)n_eps, sizeof(int32_t));
  const char** ep_end = calloc((size_t)n_eps, sizeof(char*));
  double* ep_t0 = calloc((size_t)n_eps, sizeof(double));
  double* ep_t1 = calloc((size_t)n_eps, sizeof(double));
  int n_init = am_ds_num_init(r);
  double* ep_init = calloc((size_t)n_eps * (size_t)(n_init ? n_init : 1), sizeof(double));
  if (!so || !dst || !need || !ep_id || !ep_steps || !ep_row || !ep_env || !ep_end || !ep_t0 ||
      !ep_t1 || !ep_init) {
    cli_fail("export", "out of memory");
    goto done;
  }
  // the file is written to OUT.tmp-XXXXXX next to OUT and renamed when complete
  snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    cli_fail("export", "cannot create a file next to %s: %s", out, strerror(errno));
    tmp[0] = 0;
    goto done;
  }
  mode_t mask = umask(0);  // a file as fopen makes it (mkstemp's is private)
  umask(mask);
  int perm_bad = fchmod(fd, 0666 & ~mask);
  close(fd);
  if (perm_bad) {
    cli_fail("export", "cannot set the permissions of %s: %s", tmp, strerror(errno));
    goto done;
  }
  cli_install_interrupt();

  // identity: the recording (its metadata) and the selection; the same export, the same ids
  uint32_t h1 = 0, h2 = 0x9e3779b9u;
  for (int i = 0; i < am_ds_num_meta(r); i++) {
    size_t len;
    const char* k = am_ds_meta_key(r, i);
    const char* v = am_ds_meta(r, k, &len);
    h1 = am_crc32(am_crc32(h1, k, strlen(k) + 1), v, len);
    h2 = am_crc32(am_crc32(h2, v, len), k, strlen(k) + 1);
  }
  h1 = am_crc32(am_crc32(h1, eps, (size_t)n_eps * 8), sel, (size_t)nc * sizeof(int));
  h2 = am_crc32(am_crc32(h2, sel, (size_t)nc * sizeof(int)), eps, (size_t)n_eps * 8);
  uint64_t seed = (uint64_t)h1 << 32 | h2;
  char ident[64], created[32], desc[1024];
  snprintf(ident, sizeof ident, "animat-%016llx", (unsigned long long)seed);
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  const char* task = meta_or(r, "task.name", "unknown task");
  const char* body = meta_or(r, "model.name", "unknown body");
  const char* policy = meta_or(r, "policy", "unknown policy");
  int64_t total_steps = 0;
  for (int64_t i = 0; i < n_eps; i++) total_steps += am_ds_get_episode(r, eps[i])->steps;
  snprintf(desc, sizeof desc, "animat simulation: task %s on the %s body, policy %s; %lld "
           "episodes (%lld control steps of %g s) laid end to end on one timeline", task, body,
           policy, (long long)n_eps, (long long)total_steps, dt);
  nwb_session ses = {ident, desc, meta_or(r, "created", created), created};
  if (!(f = nwb_create(tmp, &ses, seed, err, sizeof err))) {
    cli_fail("export", "%s", err);
    goto done;
  }

  // metadata: /general
  const amt_info* ti = amt_find(task);
  char text[4096];
  snprintf(text, sizeof text, "task %s%s%s", task, ti ? ": " : "", ti ? ti->summary : "");
  nwb_text(f, "/general/experiment_description", text);
  const char* params = meta_or(r, "task.params", "");
  snprintf(text, sizeof text, "task %s, parameters (key=value overrides of the task's defaults, "
           "`animat tasks`): %s", task, *params ? params : "none (defaults)");
  nwb_text(f, "/general/protocol", text);
  const char* sl = strrchr(in_path, '/');
  nwb_text(f, "/general/session_id", sl ? sl + 1 : in_path);
  snprintf(text, sizeof text, "simulated with MuJoCo %s by animat %s; seed %s, %s envs; policy %s "
           "(%s, trained for %s env steps, deterministic %s)", meta_or(r, "mujoco.version", "?"),
           meta_or(r, "animat.version", "?"), meta_or(r, "seed", "?"), meta_or(r, "envs", "?"),
           policy, meta_or(r, "policy.hash", "no hash"), meta_or(r, "policy.step", "?"),
           meta_or(r, "policy.deterministic", "n/a"));
  nwb_text(f, "/general/data_collection", text);
  snprintf(text, sizeof text, "%s. Timeline: episodes laid end to end (intervals/epochs); the "
           "series of observations, actions and network activity sample the start of each "
           "control step (starting_time 0), those of body state, reward and events its end "
           "(starting_time = control_dt).", meta_or(r, "row.convention", ""));
  nwb_text(f, "/general/notes", text);
  const char* kw[] = {"simulation", "MuJoCo", "reinforcement learning", "animat", task, body};
  nwb_text_array(f, "/general/keywords", kw, 6);
  snprintf(text, sizeof text, "simulated %s body (MuJoCo model %s; its MJCF is "
           "/general/animat/model.xml)", body, body);
  nwb_typed_group(f, "/general/subject", "Subject", "core", NULL);
  nwb_text(f, "/general/subject/description", text);
  nwb_text(f, "/general/subject/subject_id", body);
  write_meta(f, r);
  nwb_typed_group(f, "/processing/behavior", "ProcessingModule", "core",
                  "the body: MuJoCo state at the end of each control step, and body positions");
  nwb_typed_group(f, "/processing/behavior/BehavioralTimeSeries", "BehavioralTimeSeries", "core",
                  NULL);
  nwb_typed_group(f, "/processing/task", "ProcessingModule", "core",
                  "the task: actions, rewards, episode flags, events and task variables");
  nwb_typed_group(f, "/processing/task/BehavioralTimeSeries", "BehavioralTimeSeries", "core", NULL);

  // the body model: joint names of qpos, body positions by forward kinematics
  char qnames[8192] = "";
  const mjModel* m = NULL;
  if (c_qpos >= 0) {
    char src[512];
    model = am_ds_load_model(r, src, sizeof src, err, sizeof err);
    if (!model)
      fprintf(stderr, "export: note: no body positions (the model does not load: %s)\n", err);
    else if ((size_t)model->m->nq != am_ds_get_channel(r, c_qpos)->elems) {
      fprintf(stderr, "export: note: no body positions (the model's nq %d is not qpos's %zu)\n",
              model->m->nq, am_ds_get_channel(r, c_qpos)->elems);
    } else if (!(md = mj_makeData(model->m))) {
      cli_fail("export", "out of memory");
      goto done;
    } else {
      m = model->m;
      qpos_names(m, qnames, sizeof qnames);
    }
  }

  // one TimeSeries per selected channel
  for (int c = 0; c < nc; c++) {
    if (!sel[c]) continue;
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    char name[256], path[512], d[2048];
    h5_name(ch->name, name, sizeof name);
    const char* g = ch->group;
    int at_start = !strcmp(g, "obs") || !strcmp(g, "action") || !strcmp(g, "network");
    const char* labels = c == c_qpos && qnames[0] ? qnames : ch->labels;
    // network channels' units are what the values are, not units: in the description
    nwb_series_def sd = {.type = "TimeSeries", .unit = strcmp(g, "network") ? ch->units : "a.u.",
                         .dtype = ch->dtype,
                         .ndim = ch->ndim, .starting_time = at_start ? 0 : dt, .rate = rate,
                         .continuity = !strcmp(g, "body") || !strcmp(g, "obs") ? "continuous"
                                                                               : "step"};
    memcpy(sd.shape, ch->shape, sizeof sd.shape);
    if (!strcmp(g, "body"))
      snprintf(path, sizeof path, "/processing/behavior/BehavioralTimeSeries/%s", name);
    else if (!strcmp(g, "obs"))
      snprintf(path, sizeof path, "/stimulus/presentation/%s", name);
    else if (!strcmp(g, "network")) {
      nwb_typed_group(f, "/processing/network", "ProcessingModule", "core", NETWORK_DESC);
      snprintf(path, sizeof path, "/processing/network/%s", name);
    } else if (c == c_events) {
      nwb_typed_group(f, "/processing/task/BehavioralEvents", "BehavioralEvents", "core", NULL);
      snprintf(path, sizeof path, "/processing/task/BehavioralEvents/%s", name);
    } else if (!strcmp(g, "action") || !strcmp(g, "reward") || !strcmp(g, "task") ||
               !strcmp(g, "time"))
      snprintf(path, sizeof path, "/processing/task/BehavioralTimeSeries/%s%s",
               !strcmp(g, "time") ? "episode_" : "", name);
    else {
      char gn[128], gp[256];
      h5_name(g, gn, sizeof gn);
      snprintf(gp, sizeof gp, "/processing/%s", gn);
      nwb_typed_group(f, gp, "ProcessingModule", "core", "animat channels of this group");
      snprintf(path, sizeof path, "%s/%s", gp, name);
    }
    size_t o = (size_t)snprintf(d, sizeof d, "animat channel %s (group %s, %s", ch->name, g,
                                am_dtype_name(ch->dtype));
    for (int k = 0; k < ch->ndim && o < sizeof d; k++)
      o += (size_t)snprintf(d + o, sizeof d - o, "%s%u", k ? " x " : " per step: ", ch->shape[k]);
    if (o < sizeof d)
      o += (size_t)snprintf(d + o, sizeof d - o, ")%s%s%s%s", *ch->units ? "; units: " : "",
                            ch->units, c == c_events ? "; bit k set: event k happened" : "",
                            labels[0] ? "; entries (last dimension) in the comments" : "");
    sd.path = path;
    sd.description = d;
    sd.comments = labels[0] ? labels : NULL;
    so[n_so] = (series_out){c, nwb_series_create(f, &sd), sd.starting_time};
    if (!so[n_so++].s) break;
  }
  series_out* xs = NULL;  // body positions (derived)
  series_out* root = NULL;
  if (m && !nwb_error(f)[0]) {
    char bn[8192] = "";
    size_t o = 0;
    for (int b = 1; b < m->nbody && o < sizeof bn; b++) {
      const char* s = mj_id2name(m, mjOBJ_BODY, b);
      o += (size_t)snprintf(bn + o, sizeof bn - o, "%s%s", b > 1 ? "," : "", s && *s ? s : "body");
    }
    nwb_series_def sd = {"/processing/behavior/BehavioralTimeSeries/body_xpos", "TimeSeries",
                         "world position of every body of the model (all but the world body, in "
                         "model order; names in the comments) at the end of each step, by forward "
                         "kinematics of the recorded qpos (and mocap_pos)", bn, "meters",
                         "continuous", AM_DT_F64, 2, {(uint32_t)m->nbody - 1, 3}, dt, rate};
    xs = &so[n_so];
    so[n_so] = (series_out){-1, nwb_series_create(f, &sd), dt};
    if (so[n_so++].s && m->njnt > 0 && m->jnt_type[0] == mjJNT_FREE) {
      const char* rn = mj_id2name(m, mjOBJ_BODY, m->jnt_bodyid[0]);
      char p[512], d2[512];
      nwb_typed_group(f, "/processing/behavior/Position", "Position", "core", NULL);
      snprintf(p, sizeof p, "/processing/behavior/Position/%s", rn && *rn ? rn : "root");
      snprintf(d2, sizeof d2, "world position of the free-moving root body %s (its free joint's "
               "x, y, z) at the end of each step", rn && *rn ? rn : "root");
      nwb_series_def rd = {p, "SpatialSeries", d2, NULL, "meters", "continuous", AM_DT_F64, 1,
                           {3}, dt, rate};
      root = &so[n_so];
      so[n_so] = (series_out){-1, nwb_series_create(f, &rd), dt};
      if (so[n_so++].s) {
        snprintf(p + strlen(p), sizeof p - strlen(p), "/reference_frame");
        nwb_text(f, p, "the MuJoCo model's world frame (z up, meters)");
      }
    }
  }
  if (nwb_error(f)[0]) {
    cli_fail("export", "%s", nwb_error(f));
    goto done;
  }
  // the trial table, built from the rows read for the export (ds_trials: its schema and names)
  char note[AM_ERR_LEN] = "";
  int have_trials = ds_trials_open(&dtr, r, in_path, TRIAL_ONSET_FRAC, note, sizeof note) == 0;
  if (have_trials && dtr.ch_events < 0) {
    snprintf(note, sizeof note, "no events channel");
    have_trials = 0;
  }

  // the episodes, one after the other
  int64_t row = 0, n_done = 0, n_lost = 0;
  for (int64_t i = 0; i < n_eps && !cli_interrupted; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, eps[i]);
    for (int c = 0; c < nc; c++)
      need[c] = sel[c] || (m && (c == c_qpos || c == c_mocap)) ||
                (have_trials && (c == dtr.ch_events || c == dtr.ch_vars ||
                                 (dtr.root_adr >= 0 && c == dtr.ch_qpos)));
    int got = export_read_episode(r, eps[i], need, dst, ep_init + n_done * n_init, allow_damaged,
                                  &n_lost);
    if (got < 0) goto done;
    if (!got) {
      double t0 = (double)row * dt;
      if (!regular) {
        free(times);
        if (!(times = malloc((size_t)(e->steps + 1) * sizeof *times))) {
          cli_fail("export", "out of memory");
          goto done;
        }
      }
      for (int k = 0; k < n_so && so[k].ch >= 0; k++) {
        if (times)
          for (int64_t t = 0; t < e->steps; t++) times[t] = t0 + so[k].t0 + (double)t * dt;
        nwb_series_append(f, so[k].s, dst[so[k].ch], e->steps, times);
      }
      if (xs) {
        int nb = m->nbody - 1;
        free(xpos);
        if (!(xpos = malloc((size_t)e->steps * (size_t)nb * 3 * sizeof *xpos))) {
          cli_fail("export", "out of memory");
          goto done;
        }
        const double* q = dst[c_qpos];
        for (int64_t t = 0; t < e->steps; t++) {
          memcpy(md->qpos, q + t * m->nq, (size_t)m->nq * sizeof(double));
          if (c_mocap >= 0)
            memcpy(md->mocap_pos, (const double*)dst[c_mocap] + t * 3 * m->nmocap,
                   (size_t)m->nmocap * 3 * sizeof(double));
          mj_kinematics(m, md);
          memcpy(xpos + t * nb * 3, md->xpos + 3, (size_t)nb * 3 * sizeof(double));
        }
        if (times)
          for (int64_t t = 0; t < e->steps; t++) times[t] = t0 + dt + (double)t * dt;
        nwb_series_append(f, xs->s, xpos, e->steps, times);
        if (root) {
          for (int64_t t = 0; t < e->steps; t++)
            memcpy(xpos + 3 * t, q + t * m->nq, 3 * sizeof(double));
          nwb_series_append(f, root->s, xpos, e->steps, times);
        }
      }
      if (have_trials) {
        if (dtr.root_adr >= 0) {
          free(root_xyz);
          if (!(root_xyz = malloc((size_t)e->steps * 3 * sizeof *root_xyz))) {
            cli_fail("export", "out of memory");
            goto done;
          }
          size_t nq = am_ds_get_channel(r, dtr.ch_qpos)->elems;
          for (int64_t t = 0; t < e->steps; t++)
            memcpy(root_xyz + 3 * t, (const double*)dst[dtr.ch_qpos] + (size_t)t * nq +
                   dtr.root_adr, 3 * sizeof(double));
        }
        ana_episode_in in = {e->id, e->env, e->steps, e->complete, dst[dtr.ch_events],
                             dtr.ch_vars >= 0 ? dst[dtr.ch_vars] : NULL,
                             dtr.root_adr >= 0 ? root_xyz : NULL};
        if (ana_trials_add_episode(&dtr.schema, &in, &tab, err, sizeof err)) {
          cli_fail("export", "%s: episode %lld: %s", in_path, (long long)e->id, err);
          goto done;
        }
      }
      ep_id[n_done] = e->id;
      ep_env[n_done] = e->env;
      ep_steps[n_done] = e->steps;
      ep_row[n_done] = row;
      ep_end[n_done] = !e->complete ? "incomplete" : e->terminated ? "terminated" : "truncated";
      ep_t0[n_done] = t0;
      ep_t1[n_done] = (double)(row + e->steps) * dt;
      row += e->steps;
      n_done++;
    }
    for (int c = 0; c < nc; c++) {
      free(dst[c]);
      dst[c] = NULL;
    }
    if (nwb_error(f)[0]) break;
  }
  if (cli_interrupted) {
    cli_fail("export", "interrupted; nothing was written to %s", out);
    status = 130;
    goto done;
  }
  if (n_done == 0 && !nwb_error(f)[0]) {
    cli_fail("export", "none of the selected episodes of %s could be read: nothing exported",
             in_path);
    goto done;
  }
  for (int k = 0; k < n_so; k++) {
    nwb_series_finish(f, so[k].s);
    so[k].s = NULL;
  }
  char layout[1024];
  snprintf(layout, sizeof layout, "the episode's initial state (%d doubles, layout %s: everything "
           "MuJoCo needs to replay it)", n_init, meta_or(r, "init.layout", "time,qpos,qvel,act"));
  nwb_column cols[] = {
      {"env", "the env (slot) that ran the episode", NWB_COL_I32, 1, ep_env},
      {"steps", "control steps (rows) of the episode", NWB_COL_I64, 1, ep_steps},
      {"first_row", "row of every TimeSeries where the episode starts", NWB_COL_I64, 1, ep_row},
      {"end", "how the episode ended: terminated (by the task's rules), truncated (time limit or "
              "instability) or incomplete (the recording stopped first)", NWB_COL_TEXT, 1, ep_end},
      {"initial_state", layout, NWB_COL_F64, n_init, ep_init}};
  nwb_intervals(f, "/intervals/epochs", "the recording's episodes, laid end to end (id: episode "
                "id)", n_done, ep_id, ep_t0, ep_t1, cols, n_init > 0 ? 5 : 4);
  if (have_trials && trials_write(f, &dtr, &tab, ep_t0, ep_id, n_done) && !nwb_error(f)[0]) {
    cli_fail("export", "out of memory");
    goto done;
  }
  if (write_units(f, r, err, sizeof err)) {
    cli_fail("export", "%s", err);
    goto done;
  }
  int rc = nwb_close(f, err, sizeof err);
  f = NULL;
  if (rc) {
    cli_fail("export", "%s", err);
    goto done;
  }
  if (rename(tmp, out)) {
    cli_fail("export", "cannot rename %s to %s: %s", tmp, out, strerror(errno));
    goto done;
  }
  tmp[0] = 0;
  stat(out, &st);
  printf("exported %lld episodes (%lld steps, %d time series, %lld trials) to %s (%.2f MB)\n",
         (long long)n_done, (long long)row, n_so, (long long)tab.n, out, (double)st.st_size / 1e6);
  if (!have_trials) printf("export: no trials table (%s)\n", note);
  if (n_lost)
    printf("export: from a damaged file (--allow-damaged): %lld selected episode(s) unreadable; "
           "see the lines above\n", (long long)n_lost);
  status = 0;
done:
  for (int k = 0; k < n_so; k++) nwb_series_free(so[k].s);
  if (f) nwb_close(f, NULL, 0);
  if (tmp[0]) unlink(tmp);
  if (dst)
    for (int c = 0; c < nc; c++) free(dst[c]);
  free(dst), free(need), free(so), free(times), free(xpos);
  free(ep_id), free(ep_steps), free(ep_row), free(ep_env), free(ep_end), free(ep_t0), free(ep_t1);
  free(ep_init);
  ana_trials_free(&tab);
  ds_trials_close(&dtr);
  free(root_xyz);
  if (md) mj_deleteData(md);
  if (model) am_model_free(model);
  return status;
}
