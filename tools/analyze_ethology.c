// analyze_ethology.c: `animat analyze ethology FILE`: a recorded rat studied the way Merel et al.
// (2020, "Deep neuroethology of a virtual rodent", ICLR) studied theirs. Behaviour is segmented
// step by step into simple categories from the body's kinematics (the recorded qpos and qvel run
// through the recorded model's forward kinematics); then, for each module of the network (every
// recorded `*/output` channel): how well its activity separates the behaviours (and the tasks, when
// the recording holds several: a task variable `task_id`), by cross-validated linear decoding with
// whole episodes held out; the dimensionality of its activity (participation ratio, components for
// 80 and 90 % of the variance); and its dynamics during running (jPCA of 1 s running segments,
// its plane with the most variance, against the stride frequency from the left foot's height (and
// each limb's own peak) and a time-shuffled control).
// docs/analysis.md ("Neuroethology") gives the categories' thresholds and every number's
// definition.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mujoco/mujoco.h>

#include "ana.h"
#include "ana_svg.h"
#include "analyze_data.h"
#include "table.h"

// Behaviour categories, in order of precedence (the first that applies names the step).
enum { B_FALLEN, B_REARING, B_RUNNING, B_TURNING, B_WALKING, B_REACHING, B_STILL, ETH_N };
static const char* const eth_names[ETH_N] = {"fallen",  "rearing",  "running", "turning",
                                              "walking", "reaching", "still"};
// Centred box filters (steps; at 50 Hz): speed and yaw rate over 0.3 s, longer than a stride (a
// galloping torso yaws from side to side at the stride frequency, ~5 Hz), hand speed over 0.1 s.
#define ETH_SMOOTH_BODY 15
#define ETH_SMOOTH_HAND 5
#define ETH_UP_MIN 0.5       // fallen: the torso's up axis more than 60 deg from vertical
#define ETH_REAR_SIN 0.5     // rearing: the torso's forward axis pitched up more than 30 deg
#define ETH_RUN_SPEED 0.3    // running: horizontal speed of the torso (m/s)
#define ETH_TURN_RATE 1.5    // turning: yaw rate (rad/s)
#define ETH_WALK_SPEED 0.08  // walking
#define ETH_REACH_SPEED 0.4  // reaching: a hand's speed relative to the torso (m/s)
#define ETH_MAX_SAMPLES 60000  // steps kept for decoding and PCA (an even stride over the file)
#define ETH_MAX_MODULES 8
#define ETH_SEG 50           // running segment length for the gait analysis (steps)
#define ETH_MAX_SEG 600
#define ETH_LIMB_STILL 1e-4  // a limb whose height varies less (sd within segments, m) has no peak
#define ETH_NF 89            // spectrum grid: 0.5 .. 22.5 Hz in 0.25 Hz steps
#define ETH_MIN_CLASS 0.01   // decode categories holding at least this share of the steps
#define ETH_SHOW 12          // episodes in the ethogram

typedef struct eth_module {
  char name[AM_NAME_LEN];
  int ch, units;
  float* ep;  // one episode's activity (steps x units)
} eth_module;

typedef struct eth_result {
  double acc, bal, chance, bal_chance;  // behaviour decoding
  int classes;
  double task_acc, task_bal, task_chance;
  double pr, n80, n90;
  double r2_skew, r2_full, r2_shuf, jfreq, jvar, peak_hz;
  double* cumvar;  // units
  double* traj;    // segments shown x ETH_SEG x 2: the first jPC plane
} eth_result;

static double box_at(const double* x, int T, int t, int w) {
  int a = t - w / 2, b = t + w / 2;
  if (a < 0) a = 0;
  if (b > T - 1) b = T - 1;
  double s = 0;
  for (int k = a; k <= b; k++) s += x[k];
  return s / (b - a + 1);
}

// Labels each of an episode's T steps from its kinematics (episode_kinematics' columns).
static void label_steps(const double* speed, const double* yaw, const double* up,
                        const double* pitch, const double* hand, int T, int* lab) {
  for (int t = 0; t < T; t++) {
    const double v = box_at(speed, T, t, ETH_SMOOTH_BODY), w = fabs(box_at(yaw, T, t, ETH_SMOOTH_BODY));
    const double h = box_at(hand, T, t, ETH_SMOOTH_HAND);
    int b;
    if (up[t] < ETH_UP_MIN) b = B_FALLEN;
    else if (pitch[t] > ETH_REAR_SIN) b = B_REARING;
    else if (v >= ETH_RUN_SPEED && w < ETH_TURN_RATE) b = B_RUNNING;
    else if (w >= ETH_TURN_RATE) b = B_TURNING;
    else if (v >= ETH_WALK_SPEED) b = B_WALKING;
    else if (h >= ETH_REACH_SPEED) b = B_REACHING;
    else b = B_STILL;
    lab[t] = b;
  }
}

// The limbs whose height above the torso is kept for the gait's spectrum; the first is the one
// whose peak is reported as the stride frequency.
enum { ETH_LIMBS = 4 };
static const char* const eth_limbs[ETH_LIMBS] = {"foot_L", "foot_R", "hand_L", "hand_R"};

typedef struct eth_body {
  int torso, va, hand[2];  // body, root dof address, hand sites
  int limb[ETH_LIMBS];     // the sites of eth_limbs
} eth_body;

// One episode's kinematics from its recorded qpos and qvel (T steps) through the model's forward
// kinematics: into kin (columns of maxT: torso horizontal speed, yaw rate, up-axis z, forward-axis
// z (pitch sine), the faster hand's speed relative to the torso, then each of eth_limbs' height
// above the torso).
static void episode_kinematics(const mjModel* m, mjData* md, const eth_body* bd, const double* qpos,
                               const double* qvel, int T, double dt, double* kin, int64_t maxT) {
  double *sp = kin, *yw = kin + maxT, *upv = kin + 2 * maxT, *pit = kin + 3 * maxT,
         *hs = kin + 4 * maxT, *lz = kin + 5 * maxT;
  double prev[2][3] = {{0}};
  for (int t = 0; t < T; t++) {
    mju_copy(md->qpos, qpos + (size_t)t * m->nq, m->nq);
    mj_kinematics(m, md);
    const double* R = md->xmat + 9 * bd->torso;  // row-major: R[3 * row + col]
    const double* v = qvel + (size_t)t * m->nv + bd->va;
    sp[t] = hypot(v[0], v[1]);
    yw[t] = R[6] * v[3] + R[7] * v[4] + R[8] * v[5];  // body-frame angular velocity to world z
    upv[t] = R[8], pit[t] = R[6];
    double hmax = 0;
    for (int h = 0; h < 2; h++) {
      const double* p = md->site_xpos + 3 * bd->hand[h];
      double dv = 0;
      for (int a = 0; a < 3; a++) {  // the hand in the torso frame: R^T (p - torso)
        double rel = 0;
        for (int b = 0; b < 3; b++) rel += R[3 * b + a] * (p[b] - md->xpos[3 * bd->torso + b]);
        dv += (rel - prev[h][a]) * (rel - prev[h][a]);
        prev[h][a] = rel;
      }
      if (t > 0 && sqrt(dv) / dt > hmax) hmax = sqrt(dv) / dt;
    }
    hs[t] = hmax;
    for (int l = 0; l < ETH_LIMBS; l++)  // relative to the torso: not the terrain's slope
      lz[(size_t)l * maxT + t] = md->site_xpos[3 * bd->limb[l] + 2] - md->xpos[3 * bd->torso + 2];
  }
}

// Cross-validated classification by ridge regression onto one-hot classes (argmax of the held-out
// outputs), episodes held out whole. y: n labels in [0, ncls); classes with fewer than min_count
// samples are left out. Fills accuracy, balanced accuracy (mean recall), the majority share and
// the classes used. Returns 0, 1 when there is nothing to decode (fewer than 2 classes or too few
// episodes), or -1.
static int classify(const double* X, int n, int p, const int* y, int ncls, const int* groups,
                    int n_groups, uint64_t seed, double* acc, double* bal, double* chance,
                    int* used, char* err, size_t err_sz) {
  int cnt[64] = {0}, map[64], C = 0;
  const int min_count = (int)fmax(20, ETH_MIN_CLASS * n);
  for (int i = 0; i < n; i++) cnt[y[i]]++;
  for (int k = 0; k < ncls; k++) map[k] = cnt[k] >= min_count ? C++ : -1;
  *used = C;
  if (C < 2 || n_groups < 2) return 1;
  int m = 0;
  for (int i = 0; i < n; i++) m += map[y[i]] >= 0;
  double* Xs = malloc(sizeof(double) * (size_t)m * p);
  double* Y = calloc((size_t)m * C, sizeof(double));
  double* pred = malloc(sizeof(double) * (size_t)m * C);
  double* r2 = malloc(sizeof(double) * C);
  int* g = malloc(sizeof(int) * m);
  int* ys = malloc(sizeof(int) * m);
  int rc = -1;
  if (!Xs || !Y || !pred || !r2 || !g || !ys) {
    am_err(err, err_sz, "ethology: out of memory (%d samples x %d units)", m, p);
    goto done;
  }
  for (int i = 0, j = 0; i < n; i++) {
    if (map[y[i]] < 0) continue;
    memcpy(Xs + (size_t)j * p, X + (size_t)i * p, sizeof(double) * p);
    Y[(size_t)j * C + map[y[i]]] = 1;
    g[j] = groups[i], ys[j] = map[y[i]];
    j++;
  }
  const int folds = n_groups < 5 ? n_groups : 5;
  static const double one = 1e-2;
  ana_ridge_config cfg = {.folds = folds, .seed = seed, .groups = g, .pred = pred};
  if (n_groups < folds * 5) cfg.lambdas = &one, cfg.n_lambdas = 1;  // too few for an inner CV
  if (ana_ridge_cv(Xs, m, p, Y, C, &cfg, r2, NULL, err, err_sz)) goto done;
  int right = 0, per_n[64] = {0}, per_ok[64] = {0}, top = 0;
  for (int j = 0; j < m; j++) {
    int best = 0;
    for (int k = 1; k < C; k++)
      if (pred[(size_t)j * C + k] > pred[(size_t)j * C + best]) best = k;
    per_n[ys[j]]++;
    if (best == ys[j]) right++, per_ok[ys[j]]++;
  }
  double b = 0;
  for (int k = 0; k < C; k++) {
    b += (double)per_ok[k] / per_n[k] / C;
    if (per_n[k] > top) top = per_n[k];
  }
  *acc = (double)right / m, *bal = b, *chance = (double)top / m;
  rc = 0;
done:
  free(Xs), free(Y), free(pred), free(r2), free(g), free(ys);
  return rc;
}

// The peak of the mean spectrum of `ns` series (each T samples, stride `stride` between series'
// starts in x, values x[s * stride + t * step]) over the grid; the spectra are added into acc (NF).
static int mean_spectrum(const double* x, int ns, int T, size_t stride, int step, double dt,
                         const double* freqs, double* acc, char* err, size_t err_sz) {
  double s[ETH_SEG], pw[ETH_NF];
  for (int k = 0; k < ns; k++) {
    for (int t = 0; t < T; t++) s[t] = x[(size_t)k * stride + (size_t)t * step];
    if (ana_periodogram(s, T, dt, freqs, ETH_NF, pw, err, err_sz)) return -1;
    for (int f = 0; f < ETH_NF; f++) acc[f] += pw[f] / ns;
  }
  return 0;
}

static double grid_peak(const double* freqs, const double* p) {
  int b = 0;
  for (int f = 1; f < ETH_NF; f++)
    if (p[f] > p[b]) b = f;
  return freqs[b];
}

int az_ethology(ds_trials* d, uint64_t seed, ana_fig** fig, table* tb, am_buf* json,
                am_buf* summary, char* err, size_t err_sz) {
  am_ds_reader* r = d->r;
  eth_module mod[ETH_MAX_MODULES];
  int nm = 0;
  for (int c = 0; c < am_ds_num_channels(r) && nm < ETH_MAX_MODULES; c++) {
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    size_t L = strlen(ch->name);
    if (L > 7 && !strcmp(ch->name + L - 7, "/output") && ch->dtype == AM_DT_F32 &&
        !strncmp(ch->group, "network", 8)) {
      snprintf(mod[nm].name, AM_NAME_LEN, "%.*s", (int)(L - 7), ch->name);
      mod[nm].ch = c, mod[nm].units = (int)ch->elems, mod[nm].ep = NULL;
      nm++;
    }
  }
  const int c_qpos = am_ds_find_channel(r, "qpos"), c_qvel = am_ds_find_channel(r, "qvel");
  if (c_qpos < 0 || c_qvel < 0)
    return am_err(err, err_sz, "ethology: the dataset has no qpos/qvel channels (record with the "
                  "body state)");
  char src[256];
  am_model* model = am_ds_load_model(r, src, sizeof src, err, err_sz);
  if (!model) return -1;
  const mjModel* m = model->m;
  const int torso = mj_name2id(m, mjOBJ_BODY, "torso");
  const int root = mj_name2id(m, mjOBJ_JOINT, "root");
  const int hand[2] = {mj_name2id(m, mjOBJ_SITE, "hand_L"), mj_name2id(m, mjOBJ_SITE, "hand_R")};
  eth_body bd = {torso, root >= 0 ? m->jnt_dofadr[root] : 0, {hand[0], hand[1]}, {0}};
  int limbs_ok = 1;
  for (int l = 0; l < ETH_LIMBS; l++)
    limbs_ok &= (bd.limb[l] = mj_name2id(m, mjOBJ_SITE, eth_limbs[l])) >= 0;
  if (torso < 0 || root < 0 || m->jnt_type[root] != mjJNT_FREE || hand[0] < 0 || hand[1] < 0 ||
      !limbs_ok) {
    am_model_free(model);
    return am_err(err, err_sz, "ethology: task %s's model is not the rat (needs body torso with "
                  "the free joint root and sites hand_L, hand_R, foot_L, foot_R)", d->task);
  }
  const int task_var = ds_find_name(d->vars, d->n_vars, "task_id");
  const int64_t ne = am_ds_num_episodes(r);
  int64_t total = 0, maxT = 0;
  for (int64_t i = 0; i < ne; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    total += e->steps;
    if (e->steps > maxT) maxT = e->steps;
  }
  const double dt = d->dt;
  const int stride = total > ETH_MAX_SAMPLES ? (int)((total + ETH_MAX_SAMPLES - 1) / ETH_MAX_SAMPLES) : 1;
  const int64_t cap = total / stride + ne + 1;
  int rc = -1, units_all = 0;
  for (int k = 0; k < nm; k++) units_all += mod[k].units;
  mjData* md = mj_makeData(m);
  double *qpos = malloc(sizeof(double) * (size_t)maxT * m->nq),
         *qvel = malloc(sizeof(double) * (size_t)maxT * m->nv);
  double* kin = malloc(sizeof(double) * (size_t)maxT * (5 + ETH_LIMBS));  // episode_kinematics
  int* lab = malloc(sizeof(int) * (size_t)maxT);
  int* elab = malloc(sizeof(int) * (size_t)maxT * ETH_SHOW);  // the ethogram's episodes' labels
  float* vars = task_var >= 0 ? malloc(sizeof(float) * (size_t)maxT * d->n_vars) : NULL;
  int* y = malloc(sizeof(int) * (size_t)cap);
  int* ytask = malloc(sizeof(int) * (size_t)cap);
  int* grp = malloc(sizeof(int) * (size_t)cap);
  double* X = malloc(sizeof(double) * (size_t)cap * (units_all ? units_all : 1));
  const int W = units_all + ETH_LIMBS;  // a segment row: every module's units, the limbs' heights
  double* seg = malloc(sizeof(double) * (size_t)ETH_MAX_SEG * ETH_SEG * W);
  int64_t count[ETH_N] = {0}, n = 0, steps_all = 0;
  int nseg = 0, ntask = 0;
  eth_result res[ETH_MAX_MODULES];
  memset(res, 0, sizeof res);
  void** dst = calloc((size_t)am_ds_num_channels(r), sizeof(void*));
  ana_fig* f = NULL;
  if (!md || !qpos || !qvel || !kin || !lab || !elab || (task_var >= 0 && !vars) || !y || !ytask || !grp ||
      !X || !seg || !dst) {
    am_err(err, err_sz, "ethology: out of memory (%lld steps)", (long long)total);
    goto done;
  }
  for (int k = 0; k < nm; k++)
    if (!(mod[k].ep = malloc(sizeof(float) * (size_t)maxT * mod[k].units))) {
      am_err(err, err_sz, "ethology: out of memory");
      goto done;
    }
  // One pass: kinematics and labels per step, a strided sample of the activity, running segments.
  for (int64_t i = 0; i < ne; i++) {
    const int T = (int)am_ds_get_episode(r, i)->steps;
    if (T < 1) continue;
    dst[c_qpos] = qpos, dst[c_qvel] = qvel;
    for (int k = 0; k < nm; k++) dst[mod[k].ch] = mod[k].ep;
    if (task_var >= 0) dst[d->ch_vars] = vars;
    if (am_ds_read_episode(r, i, dst, NULL, err, err_sz)) goto done;
    episode_kinematics(m, md, &bd, qpos, qvel, T, dt, kin, maxT);
    const double* lz = kin + 5 * maxT;
    label_steps(kin, kin + maxT, kin + 2 * maxT, kin + 3 * maxT, kin + 4 * maxT, T, lab);
    for (int t = 0; t < T; t++) count[lab[t]]++;
    if (i < ETH_SHOW) memcpy(elab + (size_t)i * maxT, lab, sizeof(int) * (size_t)T);
    steps_all += T;
    for (int t = 0; t < T; t++) {
      if ((steps_all - T + t) % stride) continue;
      if (n >= cap) break;
      double* row = X + (size_t)n * units_all;
      for (int k = 0, o = 0; k < nm; o += mod[k].units, k++)
        for (int u = 0; u < mod[k].units; u++) row[o + u] = mod[k].ep[(size_t)t * mod[k].units + u];
      y[n] = lab[t], grp[n] = (int)i;
      ytask[n] = task_var >= 0 ? (int)vars[(size_t)t * d->n_vars + task_var] : 0;
      if (ytask[n] < 0 || ytask[n] > 63) ytask[n] = 0;
      if (ytask[n] + 1 > ntask) ntask = ytask[n] + 1;
      n++;
    }
    // running segments: non-overlapping ETH_SEG-step pieces of running bouts
    for (int t = 0; t + ETH_SEG <= T && nseg < ETH_MAX_SEG;) {
      int ok = 1;
      for (int k = 0; k < ETH_SEG && ok; k++) ok = lab[t + k] == B_RUNNING;
      if (!ok) {
        t++;
        continue;
      }
      double* s = seg + (size_t)nseg * ETH_SEG * W;
      for (int k = 0; k < ETH_SEG; k++) {
        double* row = s + (size_t)k * W;
        for (int q = 0, o = 0; q < nm; o += mod[q].units, q++)
          for (int u = 0; u < mod[q].units; u++)
            row[o + u] = mod[q].ep[(size_t)(t + k) * mod[q].units + u];
        for (int l = 0; l < ETH_LIMBS; l++) row[units_all + l] = lz[(size_t)l * maxT + t + k];
      }
      nseg++;
      t += ETH_SEG;
    }
  }
  if (n < 10) {
    am_err(err, err_sz, "ethology: %lld steps are too few to analyse", (long long)n);
    goto done;
  }
  // The gait: the mean spectrum of each limb's height above the torso over the running segments;
  // the stride frequency is the first limb's (the left foot's) peak. A limb that does not move
  // (its height's sd within segments under ETH_LIMB_STILL) has no peak.
  double freqs[ETH_NF], limb_pw[ETH_LIMBS][ETH_NF] = {{0}}, limb_hz[ETH_LIMBS];
  for (int k = 0; k < ETH_NF; k++) freqs[k] = 0.5 + 0.25 * k;
  const size_t seg_stride = (size_t)ETH_SEG * W;
  for (int l = 0; l < ETH_LIMBS; l++) {
    limb_hz[l] = NAN;
    if (nseg < 2) continue;
    if (mean_spectrum(seg + units_all + l, nseg, ETH_SEG, seg_stride, W, dt, freqs, limb_pw[l],
                      err, err_sz))
      goto done;
    double var = 0;
    for (int q = 0; q < nseg; q++) {
      const double* x = seg + q * seg_stride + units_all + l;
      double mu = 0;
      for (int t = 0; t < ETH_SEG; t++) mu += x[(size_t)t * W] / ETH_SEG;
      for (int t = 0; t < ETH_SEG; t++) var += (x[(size_t)t * W] - mu) * (x[(size_t)t * W] - mu);
    }
    if (sqrt(var / ((double)nseg * ETH_SEG)) >= ETH_LIMB_STILL)
      limb_hz[l] = grid_peak(freqs, limb_pw[l]);
  }
  const double stride_hz = limb_hz[0];
  // Per module: decoding, dimensionality, running dynamics.
  for (int k = 0, o = 0; k < nm; o += mod[k].units, k++) {
    eth_result* e = &res[k];
    const int U = mod[k].units;
    double* Xm = malloc(sizeof(double) * (size_t)n * U);
    double* var = malloc(sizeof(double) * U);
    e->cumvar = malloc(sizeof(double) * U);
    if (!Xm || !var || !e->cumvar) {
      free(Xm), free(var);
      am_err(err, err_sz, "ethology: out of memory");
      goto done;
    }
    for (int64_t i = 0; i < n; i++)
      memcpy(Xm + (size_t)i * U, X + (size_t)i * units_all + o, sizeof(double) * U);
    int used;
    e->acc = e->bal = e->chance = e->task_acc = e->task_bal = e->task_chance = NAN;
    int crc = classify(Xm, (int)n, U, y, ETH_N, grp, (int)ne, seed, &e->acc, &e->bal, &e->chance,
                       &used, err, err_sz);
    e->classes = used;
    e->bal_chance = used ? 1.0 / used : NAN;
    if (crc < 0 || (ntask > 1 && classify(Xm, (int)n, U, ytask, ntask, grp, (int)ne, seed,
                                          &e->task_acc, &e->task_bal, &e->task_chance, &used, err,
                                          err_sz) < 0)) {
      free(Xm), free(var);
      goto done;
    }
    if (ana_pca(Xm, (int)n, U, 0, NULL, NULL, var, NULL, err, err_sz)) {
      free(Xm), free(var);
      goto done;
    }
    double s = 0, s2 = 0, c = 0;
    for (int u = 0; u < U; u++) s += fmax(var[u], 0), s2 += fmax(var[u], 0) * fmax(var[u], 0);
    e->pr = s2 > 0 ? s * s / s2 : NAN;
    e->n80 = e->n90 = NAN;
    for (int u = 0; u < U; u++) {
      c += fmax(var[u], 0);
      e->cumvar[u] = s > 0 ? c / s : NAN;
      if (isnan(e->n80) && c >= 0.8 * s) e->n80 = u + 1;
      if (isnan(e->n90) && c >= 0.9 * s) e->n90 = u + 1;
    }
    free(Xm), free(var);
    // jPCA over the running segments (each a "condition"; the cross-segment mean is removed)
    e->r2_skew = e->r2_full = e->r2_shuf = e->jfreq = e->jvar = e->peak_hz = NAN;
    if (nseg >= 4 && U >= 6) {
      double* S = malloc(sizeof(double) * (size_t)nseg * ETH_SEG * U);
      double* jp = malloc(sizeof(double) * 6 * U);
      double* proj = malloc(sizeof(double) * (size_t)nseg * ETH_SEG * 2);
      ana_jpca_result jr, js;
      am_rng rng;
      am_rng_seed(&rng, seed, 7);
      int bad = !S || !jp || !proj;
      for (int q = 0; !bad && q < nseg; q++)
        for (int t = 0; t < ETH_SEG; t++)
          memcpy(S + ((size_t)q * ETH_SEG + t) * U, seg + q * seg_stride + (size_t)t * W + o,
                 sizeof(double) * U);
      if (!bad && ana_jpca(S, nseg, ETH_SEG, U, dt, 6, &jr, jp, err, err_sz)) bad = 2;
      if (!bad) {
        // the plane holding the most variance (jPCA orders planes by frequency)
        int pl = 0;
        for (int j = 1; j < 3; j++)
          if (jr.plane_var[j] > jr.plane_var[pl]) pl = j;
        e->r2_skew = jr.r2_skew, e->r2_full = jr.r2_full, e->jfreq = jr.freq_hz[pl];
        e->jvar = jr.plane_var[pl];
        // the first plane's projections (segment mean removed by the periodogram) and spectrum
        double acc[ETH_NF] = {0};
        for (int q = 0; q < nseg; q++)
          for (int t = 0; t < ETH_SEG; t++)
            for (int a = 0; a < 2; a++) {
              double v = 0;
              const double* row = S + ((size_t)q * ETH_SEG + t) * U;
              for (int u = 0; u < U; u++) v += jp[(size_t)(2 * pl + a) * U + u] * row[u];
              proj[((size_t)q * ETH_SEG + t) * 2 + a] = v;
            }
        for (int a = 0; a < 2 && !bad; a++)
          if (mean_spectrum(proj + a, nseg, ETH_SEG, (size_t)ETH_SEG * 2, 2, dt, freqs, acc, err,
                            err_sz))
            bad = 2;
        e->peak_hz = grid_peak(freqs, acc);
        const int show = nseg < 6 ? nseg : 6;
        if ((e->traj = malloc(sizeof(double) * (size_t)show * ETH_SEG * 2)))
          memcpy(e->traj, proj, sizeof(double) * (size_t)show * ETH_SEG * 2);
        // control: each segment's time steps shuffled (same states, no temporal order)
        for (int q = 0; q < nseg; q++)
          for (int t = ETH_SEG - 1; t > 0; t--) {
            const int j = (int)(am_rng_next(&rng) % (uint64_t)(t + 1));
            double* a = S + ((size_t)q * ETH_SEG + t) * U;
            double* b = S + ((size_t)q * ETH_SEG + j) * U;
            for (int u = 0; u < U; u++) {
              const double x = a[u];
              a[u] = b[u], b[u] = x;
            }
          }
        if (ana_jpca(S, nseg, ETH_SEG, U, dt, 6, &js, NULL, err, err_sz)) bad = 2;
        else e->r2_shuf = js.r2_skew;
      }
      free(S), free(jp), free(proj);
      if (bad == 1) {
        am_err(err, err_sz, "ethology: out of memory");
        goto done;
      }
      if (bad) goto done;
    }
  }
  // Table: one row per module.
  {
    const char* cols[] = {"module", "units", "samples", "episodes", "behaviour_classes",
                          "behaviour_accuracy", "behaviour_balanced_accuracy", "behaviour_majority",
                          "task_accuracy", "task_balanced_accuracy", "task_majority",
                          "participation_ratio", "pcs_80", "pcs_90", "running_segments",
                          "stride_hz", "jpca_r2_skew", "jpca_r2_full", "jpca_r2_skew_shuffled",
                          "jpca_plane_hz", "jpca_plane_var", "jpca_plane_peak_hz"};
    table_init(tb, 22, cols);
    for (int k = 0; k < nm; k++) {
      const eth_result* e = &res[k];
      table_str(tb, mod[k].name), table_int(tb, mod[k].units), table_int(tb, n), table_int(tb, ne);
      table_int(tb, e->classes), table_num(tb, e->acc), table_num(tb, e->bal);
      table_num(tb, e->chance), table_num(tb, e->task_acc), table_num(tb, e->task_bal);
      table_num(tb, e->task_chance), table_num(tb, e->pr), table_num(tb, e->n80);
      table_num(tb, e->n90), table_int(tb, nseg), table_num(tb, stride_hz);
      table_num(tb, e->r2_skew), table_num(tb, e->r2_full), table_num(tb, e->r2_shuf);
      table_num(tb, e->jfreq), table_num(tb, e->jvar), table_num(tb, e->peak_hz);
    }
  }
  // JSON and summary.
  am_buf_printf(json, ", \"steps\": %lld, \"samples\": %lld, \"sample_stride\": %d, \"behaviours\": {",
                (long long)steps_all, (long long)n, stride);
  am_buf_printf(summary, "ethology: %lld steps of %lld episodes; behaviour:", (long long)steps_all,
                (long long)ne);
  for (int b = 0; b < ETH_N; b++) {
    am_buf_printf(json, "%s\"%s\": ", b ? ", " : "", eth_names[b]);
    table_json_number(json, steps_all ? (double)count[b] / steps_all : 0);
    am_buf_printf(summary, " %s %.0f%%", eth_names[b], steps_all ? 100.0 * count[b] / steps_all : 0);
  }
  am_buf_printf(json, "}, \"running_segments\": %d, \"stride_hz\": ", nseg);
  table_json_number(json, stride_hz);
  am_buf_printf(json, ", \"limb_peak_hz\": {");
  for (int l = 0; l < ETH_LIMBS; l++) {
    am_buf_printf(json, "%s\"%s\": ", l ? ", " : "", eth_limbs[l]);
    table_json_number(json, limb_hz[l]);
  }
  am_buf_printf(json, "}, \"limb_spectra\": {\"hz\": [");
  for (int k = 0; k < ETH_NF; k++) am_buf_printf(json, "%s%g", k ? ", " : "", freqs[k]);
  am_buf_printf(json, "]");
  for (int l = 0; l < ETH_LIMBS; l++) {
    am_buf_printf(json, ", \"%s\": [", eth_limbs[l]);
    for (int k = 0; k < ETH_NF; k++) {
      if (k) am_buf_printf(json, ", ");
      table_json_number(json, limb_pw[l][k]);
    }
    am_buf_printf(json, "]");
  }
  am_buf_printf(json, "}");
  am_buf_printf(json, ", \"modules\": [");
  am_buf_printf(summary, "\n  running segments (1 s): %d, stride frequency %.2f Hz (%s);", nseg,
                stride_hz, eth_limbs[0]);
  for (int l = 1; l < ETH_LIMBS; l++)
    am_buf_printf(summary, "%s %s %.2f", l > 1 ? "," : "", eth_limbs[l], limb_hz[l]);
  am_buf_printf(summary, " Hz\n");
  for (int k = 0; k < nm; k++) {
    const eth_result* e = &res[k];
    am_buf_printf(json, "%s{\"module\": \"%s\", \"units\": %d, \"behaviour_balanced_accuracy\": ",
                  k ? ", " : "", mod[k].name, mod[k].units);
    table_json_number(json, e->bal);
    am_buf_printf(json, ", \"behaviour_classes\": %d, \"task_balanced_accuracy\": ", e->classes);
    table_json_number(json, e->task_bal);
    am_buf_printf(json, ", \"participation_ratio\": ");
    table_json_number(json, e->pr);
    am_buf_printf(json, ", \"jpca_r2_skew\": ");
    table_json_number(json, e->r2_skew);
    am_buf_printf(json, ", \"jpca_r2_skew_shuffled\": ");
    table_json_number(json, e->r2_shuf);
    am_buf_printf(json, ", \"jpca_plane_hz\": ");
    table_json_number(json, e->jfreq);
    am_buf_printf(json, "}");
    if (isnan(e->bal))  // fewer than two behaviours with enough steps: nothing to tell apart
      am_buf_printf(summary, "  %-8s %3d units: behaviour not decoded (%d class%s: nothing to tell "
                    "apart)", mod[k].name, mod[k].units, e->classes, e->classes == 1 ? "" : "es");
    else
      am_buf_printf(summary, "  %-8s %3d units: behaviour decoded %.2f balanced (chance %.2f, %d "
                    "classes)", mod[k].name, mod[k].units, e->bal, e->bal_chance, e->classes);
    if (ntask > 1) am_buf_printf(summary, ", task %.2f", e->task_bal);
    am_buf_printf(summary, "; participation ratio %.1f, %g PCs for 90%%", e->pr, e->n90);
    if (!isnan(e->r2_skew))
      am_buf_printf(summary, "; running: jPCA R2 skew %.2f (full %.2f, shuffled %.2f), main plane "
                    "%.2f Hz (%.0f%% of the variance)", e->r2_skew, e->r2_full, e->r2_shuf, e->jfreq,
                    100 * e->jvar);
    am_buf_printf(summary, "\n");
  }
  am_buf_printf(json, "], \"data\": \"ethology.csv\"}\n");
  // Figure: ethogram, decoding, dimensionality, gait.
  if (!(f = ana_fig_new(2, 2, 480, 320, err, err_sz))) goto done;
  ana_fig_title(f, "Neuroethology (Merel et al. 2020)");
  {
    // ethogram of the first episodes: one row per episode, a thick line per category
    const int show = ne < ETH_SHOW ? (int)ne : ETH_SHOW;
    double *tx = malloc(sizeof(double) * (size_t)maxT), *ty = malloc(sizeof(double) * (size_t)maxT);
    if (!tx || !ty) {
      free(tx), free(ty);
      am_err(err, err_sz, "ethology: out of memory");
      goto done;
    }
    ana_fig_labels(f, 0, "behaviour (first episodes)", "time (s)", "episode");
    // the x axis runs on past the longest episode to leave the legend room on the right
    ana_fig_axes(f, 0, &(ana_axes){.legend = ANA_LEGEND_UR, .ymin = -0.8, .ymax = show - 0.2,
                                   .xmin = 0, .xmax = maxT * dt * 1.5});
    for (int i = 0; i < show; i++) {
      const int T = (int)am_ds_get_episode(r, i)->steps;
      const int* el = elab + (size_t)i * maxT;
      for (int b = 0; b < ETH_N; b++) {
        for (int t = 0; t < T; t++) {
          tx[t] = t * dt;
          ty[t] = el[t] == b || (t > 0 && el[t - 1] == b) ? i : NAN;
        }
        ana_fig_line(f, 0, tx, ty, T, &(ana_style){.color = ana_color_cat(b), .width = 7});
      }
    }
    free(tx), free(ty);
    for (int b = 0; b < ETH_N; b++) {  // the key: category names with their share of all steps
      char lb[64];
      snprintf(lb, sizeof lb, "%s %.0f%%", eth_names[b], steps_all ? 100.0 * count[b] / steps_all : 0);
      ana_fig_line(f, 0, NULL, NULL, 0, &(ana_style){.color = ana_color_cat(b), .width = 7, .label = lb});
    }
  }
  {
    double xs[ETH_MAX_MODULES], yb[ETH_MAX_MODULES], yt[ETH_MAX_MODULES];
    const char* names[ETH_MAX_MODULES];
    for (int k = 0; k < nm; k++)
      xs[k] = k, yb[k] = res[k].bal, yt[k] = res[k].task_bal, names[k] = mod[k].name;
    ana_fig_labels(f, 1, "decoding from each module", "module", "balanced accuracy (held-out episodes)");
    ana_fig_axes(f, 1, &(ana_axes){.ymin = 0, .ymax = 1, .xmin = -0.5, .xmax = nm - 0.5,
                                   .legend = ANA_LEGEND_NONE, .grid = 1});
    const int no_behaviour = nm && isnan(res[0].bal);  // one behaviour only: nothing to decode
    ana_fig_note(f, 1, ntask > 1 ? no_behaviour ? "squares: task; dashed: chance (1 / classes); "
                                                  "behaviour: one class, not decoded"
                                                : "circles: behaviour, squares: task; dashed: "
                                                  "chance (1 / classes)"
                       : no_behaviour ? "behaviour not decoded: every step in one class"
                                      : "behaviour; dashed: chance (1 / classes)", NULL);
    ana_fig_ticks(f, 1, 0, xs, names, nm);
    ana_fig_scatter(f, 1, xs, yb, nm, &(ana_style){.size = 6, .label = "behaviour"});
    if (ntask > 1)
      ana_fig_scatter(f, 1, xs, yt, nm, &(ana_style){.size = 6, .marker = ANA_MARK_SQUARE, .label = "task"});
    if (nm && !no_behaviour && !isnan(res[0].bal_chance))
      ana_fig_hline(f, 1, res[0].bal_chance, &(ana_style){.label = "chance (behaviour)"});
    ana_fig_labels(f, 2, "dimensionality", "principal components", "cumulative variance explained");
    ana_fig_axes(f, 2, &(ana_axes){.ymin = 0, .ymax = 1, .legend = ANA_LEGEND_LR, .grid = 1});
    for (int k = 0; k < nm; k++) {
      double* px = malloc(sizeof(double) * mod[k].units);
      if (!px) continue;
      for (int u = 0; u < mod[k].units; u++) px[u] = u + 1;
      char lb[512];
      snprintf(lb, sizeof lb, "%s (PR %.1f)", mod[k].name, res[k].pr);
      ana_fig_line(f, 2, px, res[k].cumvar, mod[k].units, &(ana_style){.label = lb});
      free(px);
    }
    // gait: the module whose running dynamics are the most rotational (the others in notes)
    int g = -1;
    for (int k = 0; k < nm; k++)
      if (res[k].traj && (g < 0 || res[k].r2_skew > res[g].r2_skew)) g = k;
    char title[512];
    if (g >= 0) {
      snprintf(title, sizeof title, "%s during running: main jPC plane", mod[g].name);
      ana_fig_labels(f, 3, title, "jPC a", "jPC b");
      const int show = nseg < 2 ? nseg : 2;  // 1 s each: about 5 strides
      double lo = INFINITY, hi = -INFINITY, xl = INFINITY, xh = -INFINITY;
      for (size_t q = 0; q < (size_t)show * ETH_SEG; q++) {
        xl = fmin(xl, res[g].traj[2 * q]), xh = fmax(xh, res[g].traj[2 * q]);
        lo = fmin(lo, res[g].traj[2 * q + 1]), hi = fmax(hi, res[g].traj[2 * q + 1]);
      }
      // room above the trajectories for the notes
      ana_fig_axes(f, 3, &(ana_axes){.equal = 1, .no_xticks = 1, .no_yticks = 1, .xmin = xl,
                                     .xmax = xh + 0.8 * (xh - xl), .ymin = lo,
                                     .ymax = hi + 0.6 * (hi - lo)});
      for (int q = 0; q < show; q++) {
        double px[ETH_SEG], py[ETH_SEG];
        for (int t = 0; t < ETH_SEG; t++)
          px[t] = res[g].traj[((size_t)q * ETH_SEG + t) * 2], py[t] = res[g].traj[((size_t)q * ETH_SEG + t) * 2 + 1];
        ana_fig_arrow(f, 3, px, py, ETH_SEG, &(ana_style){.color = ana_color_cat(q), .width = 1.2});
      }
      char note[512];
      snprintf(note, sizeof note, "R2 skew %.2f (shuffled %.2f)", res[g].r2_skew, res[g].r2_shuf);
      ana_fig_note(f, 3, note, NULL);
      snprintf(note, sizeof note, "plane %.2f Hz, %.0f%% of the variance", res[g].jfreq,
               100 * res[g].jvar);
      ana_fig_note(f, 3, note, NULL);
      snprintf(note, sizeof note, "stride (left foot) %.2f Hz", stride_hz);
      ana_fig_note(f, 3, note, NULL);
      snprintf(note, sizeof note, "hands L %.2f, R %.2f; foot R %.2f Hz", limb_hz[2], limb_hz[3],
               limb_hz[1]);
      ana_fig_note(f, 3, note, NULL);
      for (int k = 0; k < nm; k++)
        if (k != g && res[k].traj) {
          snprintf(note, sizeof note, "%s: R2 skew %.2f, %.2f Hz", mod[k].name, res[k].r2_skew,
                   res[k].jfreq);
          ana_fig_note(f, 3, note, &(ana_style){.color = ANA_GREY});
        }
    } else {
      ana_fig_labels(f, 3, "running dynamics", NULL, NULL);
      snprintf(title, sizeof title, "%d running segments of 1 s: too few for jPCA", nseg);
      ana_fig_note(f, 3, title, NULL);
    }
  }
  if (*ana_fig_error(f)) {
    am_err(err, err_sz, "ethology: figure: %s", ana_fig_error(f));
    goto done;
  }
  *fig = f;
  f = NULL;
  rc = 0;
done:
  ana_fig_free(f);
  for (int k = 0; k < nm; k++) free(mod[k].ep), free(res[k].cumvar), free(res[k].traj);
  free(qpos), free(qvel), free(kin), free(lab), free(elab), free(vars), free(y), free(ytask), free(grp), free(X);
  free(seg), free(dst);
  if (md) mj_deleteData(md);
  am_model_free(model);
  return rc;
}
