// rat_tasks.c: naturalistic tasks for the rat (bodies/rat.xml): run, run-gaps, escape-bowl,
// forage-maze, two-tap (dm_control's "basic rodent 2020" tasks; numbers from SPECS.md).
//
// What it is: scene generation (the rat's MJCF with its floor line replaced by an arena), per-
// episode randomisation, task observations, reward, termination and events.
// Per-env geometry: the model is shared read-only by every env, so everything that changes per
// episode lives in mjData: gap platforms, maze walls, forage targets and the orb are mocap bodies
// whose positions (d->mocap_pos) each env sets in reset; unused pieces are parked far below.
// The escape bowl's heightfield is generated in code at task creation as `terrains` different
// bowls (each on a mocap body); each episode raises one of them (drawn from the env's RNG) and
// parks the rest, so terrain varies per episode from a fixed bank, not freshly per episode. Rays
// see each bowl as a copy cut into tiles (cheaper to ray-cast; see rat_create).
// What it is not: the rat's body (bodies/), or a copy of dm_control's code.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

enum { K_RUN, K_GAPS, K_BOWL, K_MAZE, K_TAP };

#define MAX_PIECES 300
#define MAX_TARGETS 32
#define MAX_TERRAINS 8
#define PARK_Z -20.0
#define PARK_Y -50.0   // parked pieces: a line far below and beside the scene (see park)
#define PARK_PITCH 3.0  // > the largest parked bounding-sphere diameter (a platform: 2.1 m)
#define MAZE_N 11
#define CELL 0.5
// The escape bowl: a BOWL_N x BOWL_N heightfield, half-size BOWL_SIZE, height BOWL_H, base
// BOWL_BASE below its lowest point. Rays see it as BOWL_TILES x BOWL_TILES tiles (see rat_create).
#define BOWL_N 201
#define BOWL_SIZE 6.0
#define BOWL_H 0.5
#define BOWL_BASE 0.1
#define BOWL_TILES 5  // 200 / BOWL_TILES cells per tile side; 4 and 8 measured slower

#define RAT_COMMON_PARAMS                                                                        \
  {"init_noise", "0.02", "uniform joint-angle noise at reset (rad)"}, AMT_OPTS_PARAMS

const amt_param_def amt_run_params[] = {
    {"episode_time", "10", "episode length (s)"},
    {"target_speed", "1", "target forward speed v* (m/s); reward max(0, 1 - |vx - v*| / v*)"},
    {"reward_floor", "0", "lower bound of the speed reward (the 0 in max(0, ...)); -1 stops "
                          "back-and-forth jitter from paying (mean reward = mean vx / v* below v*)"},
    {"upright", "1", "1: a positive speed reward is multiplied by escape-bowl's upright factors of "
                     "torso and pelvis (1 within 30 deg of vertical, 0 upside down), so only "
                     "running on the feet pays; 0: speed alone (a policy may move on its back)"},
    {"fall_tilt", "60", "the episode ends (terminated, event 'fall') when the torso's up axis "
                        "tilts more than this from vertical (deg); 180: never"},
    {"alive_bonus", "0", "reward per step while the episode goes on (not on the falling step)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_run_gaps_params[] = {
    {"episode_time", "30", "episode length (s)"},
    {"target_speed", "1", "target forward speed v* (m/s); reward max(0, 1 - |vx - v*| / v*)"},
    {"platform_length", "0.4,0.8", "platform length range (m)"},
    {"gap_length", "0.05,0.2", "gap length range (m)"},
    {"fall_depth", "-0.3", "the episode ends (terminated) when a paw is below this z (m)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_escape_bowl_params[] = {
    {"episode_time", "20", "episode length (s)"},
    {"terrains", "4", "bowls generated at creation; each episode uses one of them (1..8)"},
    {"terrain_seed", "1", "seed of the bowls' random bumps"},
    {"escape_distance", "6", "distance from the centre at which escape reaches 1 (m)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_forage_maze_params[] = {
    {"episode_time", "30", "episode length (s)"},
    {"n_targets", "12", "targets per episode (+50 each; the episode ends when all are taken)"},
    {"open_fraction", "0.35", "fraction of interior maze walls removed to open rooms and loops"},
    {"target_reward", "50", "reward per target"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_two_tap_params[] = {
    {"episode_time", "30", "episode length (s)"},
    {"interval", "0.8", "required interval between the two touches (s)"},
    {"tolerance", "0.1", "allowed deviation from the interval (s)"},
    {"timeout", "1.2", "pause after a failed pair before the orb moves (s)"},
    {"tap_reward", "25", "reward per counted touch"},
    {"arena", "1.5", "the orb is placed uniformly within +-arena (m) in x and y"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

//---------------------------------- config and state ----------------------------------------------

typedef struct rat_cfg {
  amt_opts opts;  // first
  int kind;
  double dt, init_noise;
  int root_q, root_v, torso, pelvis, head, paws[4], hands[2];
  int body_dim;
  double target_speed, reward_floor;  // reward_floor: run only (0 elsewhere)
  int run_upright;                     // run: scale positive reward by the upright factors
  double fall_cos, alive_bonus;        // run: cos of the fall tilt; bonus per upright step
  // gaps
  double plat[2], gap[2], fall_depth;
  int n_plat;                // mocap ids of platform halves
  int plat_mocap[MAX_PIECES];
  // bowl
  int n_terrains, terrain_mocap[MAX_TERRAINS], tiles_mocap[MAX_TERRAINS];
  double escape_distance;
  // maze
  int n_walls, wall_mocap[MAX_PIECES];
  int n_targets, target_mocap[MAX_TARGETS];
  double open_fraction, target_reward;
  // two-tap
  int orb_mocap;
  int interval_lo, interval_hi, timeout_steps;
  double tap_reward, arena;
  int ev_first, ev_count;
} rat_cfg;

enum { TAP_BEFORE, TAP_ONCE, TAP_TWICE, TAP_TOO_SOON, TAP_NO_SECOND };

typedef struct rat_state {
  amt_opt_state opt;  // first
  double gap_end[MAX_PIECES / 2];
  int n_gaps, next_gap, escaped, remaining, collected[MAX_TARGETS];
  int tap_state, t_since, timeout_left, touching, pending_start, taps;
  double orb[3];
} rat_state;

// event codes per task
enum { RE_GAP_CROSSED, RE_FALL };                       // run-gaps
enum { RE_RUN_FALL };                                   // run
enum { RE_ESCAPED };                                    // escape-bowl
enum { RE_TARGET, RE_ALL };                             // forage-maze
enum { TE_START, TE_FIRST, TE_SECOND, TE_TOO_SOON, TE_NO_SECOND, TE_REWARD, TE_END };  // two-tap

//---------------------------------- helpers -------------------------------------------------------

typedef struct sbuf {
  char* s;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_add(sbuf* b, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf* b, const char* fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = (b->cap + (size_t)k + 1) * 2;
    char* q = realloc(b->s, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->s = q;
    b->cap = cap;
  }
}

// The rat's MJCF with its floor line replaced by `arena`. Returns malloc'd text or NULL.
static char* rat_scene(const char* task, const char* arena, char* err, size_t err_sz) {
  char path[1024];
  if (am_body_path("rat", path, sizeof path, err, err_sz)) return NULL;
  char* body = am_read_text(path, NULL, err, err_sz);
  if (!body) return NULL;
  char* a = strstr(body, "<geom name=\"floor\"");
  char* e = a ? strstr(a, "/>") : NULL;
  if (!a || !e) {
    free(body);
    am_err(err, err_sz, "task %s: %s has no single-line <geom name=\"floor\" .../>", task, path);
    return NULL;
  }
  sbuf b = {0};
  sb_add(&b, "%.*s%s%s", (int)(a - body), body, arena, e + 2);
  free(body);
  if (b.oom) {
    free(b.s);
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  return b.s;
}

// Vector w (world) in the torso's frame.
static void to_torso(const rat_cfg* c, const mjData* d, const double w[3], double out[3]) {
  const mjtNum* R = d->xmat + 9 * c->torso;
  for (int k = 0; k < 3; k++) out[k] = R[k] * w[0] + R[3 + k] * w[1] + R[6 + k] * w[2];
}

// Parks a mocap body far below the scene, each at its own spot (x = PARK_PITCH x its mocap id,
// y = PARK_Y): pieces piled at one point all overlap in MuJoCo's sweep-and-prune broadphase, which
// then tests every pair of them each step (about 1 M instructions per step for the maze's ~150
// parked walls); spread out they cost nothing there.
static void park(mjData* d, int mocap) {
  d->mocap_pos[3 * mocap] = PARK_PITCH * mocap;
  d->mocap_pos[3 * mocap + 1] = PARK_Y;
  d->mocap_pos[3 * mocap + 2] = PARK_Z;
}

static void set_mocap(mjData* d, int mocap, double x, double y, double z) {
  d->mocap_pos[3 * mocap] = x;
  d->mocap_pos[3 * mocap + 1] = y;
  d->mocap_pos[3 * mocap + 2] = z;
}

// Upright: 1 within 30 deg of vertical, falling linearly with the angle to 0 upside down.
static double upright(const mjData* d, int body) {
  double zz = d->xmat[9 * body + 8];
  zz = zz > 1 ? 1 : zz < -1 ? -1 : zz;
  double ang = acos(zz) * 180 / M_PI;
  return ang <= 30 ? 1 : (180 - ang) / 150;
}

//---------------------------------- maze ----------------------------------------------------------

// Wall k: horizontal walls first ((N+1) rows x N), then vertical (N x (N+1) columns).
static void wall_pos(int k, double* x, double* y) {
  const int N = MAZE_N;
  double o = -N * CELL / 2;
  if (k < (N + 1) * N) {
    int row = k / N, col = k % N;
    *x = o + (col + 0.5) * CELL;
    *y = o + row * CELL;
  } else {
    k -= (N + 1) * N;
    int row = k / (N + 1), col = k % (N + 1);
    *x = o + col * CELL;
    *y = o + (row + 0.5) * CELL;
  }
}

// Generates a maze into `on` (1: wall present): randomized depth-first carving, then a fraction
// of the remaining interior walls removed. Uses only stack memory.
static void make_maze(am_rng* rng, double open_fraction, unsigned char* on) {
  const int N = MAZE_N, NH = (N + 1) * N;
  int total = NH + N * (N + 1);
  for (int k = 0; k < total; k++) on[k] = 1;
  unsigned char seen[MAZE_N * MAZE_N] = {0};
  int stack[MAZE_N * MAZE_N], top = 0;
  int start = (int)(am_rng_uniform(rng) * N * N);
  stack[top++] = start;
  seen[start] = 1;
  while (top) {
    int cell = stack[top - 1], r = cell / N, cc = cell % N;
    int nb[4], wall[4], n = 0;
    if (r > 0 && !seen[cell - N]) nb[n] = cell - N, wall[n++] = r * N + cc;
    if (r < N - 1 && !seen[cell + N]) nb[n] = cell + N, wall[n++] = (r + 1) * N + cc;
    if (cc > 0 && !seen[cell - 1]) nb[n] = cell - 1, wall[n++] = NH + r * (N + 1) + cc;
    if (cc < N - 1 && !seen[cell + 1]) nb[n] = cell + 1, wall[n++] = NH + r * (N + 1) + cc + 1;
    if (!n) {
      top--;
      continue;
    }
    int k = (int)(am_rng_uniform(rng) * n);
    on[wall[k]] = 0;
    seen[nb[k]] = 1;
    stack[top++] = nb[k];
  }
  for (int k = 0; k < total; k++) {
    double x, y;
    wall_pos(k, &x, &y);
    int border = fabs(x) > N * CELL / 2 - 1e-6 || fabs(y) > N * CELL / 2 - 1e-6;
    if (!border && on[k] && am_rng_uniform(rng) < open_fraction) on[k] = 0;
  }
}

//---------------------------------- hooks ---------------------------------------------------------

static void place_rat(const rat_cfg* c, am_env* e, double x, double y, double z, double heading) {
  const mjModel* m = e->m;
  mjData* d = e->d;
  if (m->nkey > 0) mj_resetDataKeyframe(m, d, 0);
  for (int j = 0; j < m->njnt; j++) {
    int type = m->jnt_type[j];
    if (type == mjJNT_HINGE || type == mjJNT_SLIDE)
      d->qpos[m->jnt_qposadr[j]] += am_rng_range(&e->rng, -c->init_noise, c->init_noise);
  }
  mjtNum* q = d->qpos + c->root_q;
  q[0] = x;
  q[1] = y;
  q[2] += z;
  q[3] = cos(heading / 2);
  q[4] = 0;
  q[5] = 0;
  q[6] = sin(heading / 2);
}

static void new_orb(const rat_cfg* c, am_env* e) {
  rat_state* s = e->task_state;
  s->orb[0] = am_rng_range(&e->rng, -c->arena, c->arena);
  s->orb[1] = am_rng_range(&e->rng, -c->arena, c->arena);
  s->orb[2] = 0.14;
  set_mocap(e->d, c->orb_mocap, s->orb[0], s->orb[1], s->orb[2]);
  s->tap_state = TAP_BEFORE;
  s->t_since = 0;
  s->timeout_left = 0;
  s->pending_start = 1;
}

static void rat_reset(const am_task* t, am_env* e) {
  const rat_cfg* c = t->cfg;
  rat_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  mjData* d = e->d;
  switch (c->kind) {
    case K_RUN:
      place_rat(c, e, 0, 0, 0, 0);
      break;
    case K_GAPS: {
      double x = 5.5;
      int k = 0;
      while (k + 1 < c->n_plat && x < 40) {
        double L = am_rng_range(&e->rng, c->plat[0], c->plat[1]);
        double g = am_rng_range(&e->rng, c->gap[0], c->gap[1]);
        // each platform is two boxes 0.4 m long, overlapping to give length L
        set_mocap(d, c->plat_mocap[k++], x + 0.2, 0, -0.25);
        set_mocap(d, c->plat_mocap[k++], x + L - 0.2, 0, -0.25);
        x += L + g;
        if (s->n_gaps < MAX_PIECES / 2) s->gap_end[s->n_gaps++] = x;
      }
      for (; k < c->n_plat; k++) park(d, c->plat_mocap[k]);
      place_rat(c, e, 5, 0, 0, 0);
      break;
    }
    case K_BOWL: {
      int pick = (int)(am_rng_uniform(&e->rng) * c->n_terrains);
      for (int k = 0; k < c->n_terrains; k++)
        if (k == pick) {
          set_mocap(d, c->terrain_mocap[k], 0, 0, 0);
          set_mocap(d, c->tiles_mocap[k], 0, 0, 0);
        } else {
          park(d, c->terrain_mocap[k]);
          park(d, c->tiles_mocap[k]);
        }
      place_rat(c, e, 0, 0, 0.02, am_rng_range(&e->rng, -M_PI, M_PI));
      break;
    }
    case K_MAZE: {
      unsigned char on[MAX_PIECES];
      make_maze(&e->rng, c->open_fraction, on);
      for (int k = 0; k < c->n_walls; k++) {
        double x, y;
        wall_pos(k, &x, &y);
        if (on[k]) set_mocap(d, c->wall_mocap[k], x, y, 0.15);
        else park(d, c->wall_mocap[k]);
      }
      // targets and the rat in distinct random cells
      int cells[MAZE_N * MAZE_N];
      for (int i = 0; i < MAZE_N * MAZE_N; i++) cells[i] = i;
      for (int i = 0; i <= c->n_targets; i++) {
        int j = i + (int)(am_rng_uniform(&e->rng) * (MAZE_N * MAZE_N - i));
        int tmp = cells[i];
        cells[i] = cells[j];
        cells[j] = tmp;
      }
      double o = -MAZE_N * CELL / 2;
      for (int i = 0; i < c->n_targets; i++) {
        int cell = cells[i + 1];
        set_mocap(d, c->target_mocap[i], o + (cell % MAZE_N + 0.5) * CELL,
                  o + (cell / MAZE_N + 0.5) * CELL, 0.125);
      }
      s->remaining = c->n_targets;
      place_rat(c, e, o + (cells[0] % MAZE_N + 0.5) * CELL, o + (cells[0] / MAZE_N + 0.5) * CELL,
                0, am_rng_range(&e->rng, -M_PI, M_PI));
      break;
    }
    case K_TAP:
      place_rat(c, e, 0, 0, 0, am_rng_range(&e->rng, -M_PI, M_PI));
      new_orb(c, e);
      break;
  }
  mj_forward(e->m, d);
  amt_opts_reset(&s->opt);
}

static void rat_act(const am_task* t, am_env* e, const float* a) {
  const rat_cfg* c = t->cfg;
  rat_state* s = e->task_state;
  am_write_ctrl(e->m, e->d, a);
  amt_opts_act(&c->opts, &s->opt, a);
}

static double hand_orb_dist(const rat_cfg* c, const mjData* d, const double orb[3], double* l1) {
  double best = 1e9, best_l1 = 1e9;
  for (int h = 0; h < 2; h++) {
    const mjtNum* p = d->site_xpos + 3 * c->hands[h];
    double dx = p[0] - orb[0], dy = p[1] - orb[1], dz = p[2] - orb[2];
    double dist = sqrt(dx * dx + dy * dy + dz * dz);
    if (dist < best) best = dist;
    double l = fabs(dx) + fabs(dy) + fabs(dz);
    if (l < best_l1) best_l1 = l;
  }
  *l1 = best_l1;
  return best;
}

static void rat_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const rat_cfg* c = t->cfg;
  rat_state* s = e->task_state;
  mjData* d = e->d;
  double reward = 0;
  uint32_t ev = 0;
  double vx = d->qvel[c->root_v];
  switch (c->kind) {
    case K_RUN:
    case K_GAPS:
      reward = fmax(c->reward_floor, 1 - fabs(vx - c->target_speed) / c->target_speed);
      if (c->run_upright && reward > 0) reward *= upright(d, c->torso) * upright(d, c->pelvis);
      if (c->kind == K_RUN) {
        if (d->xmat[9 * c->torso + 8] < c->fall_cos) {
          r->terminated = 1;
          ev |= 1u << RE_RUN_FALL;
        } else {
          reward += c->alive_bonus;
          r->terms[1] = (float)c->alive_bonus;
        }
      }
      if (c->kind == K_GAPS) {
        double x = d->qpos[c->root_q];
        while (s->next_gap < s->n_gaps && x > s->gap_end[s->next_gap]) {
          s->next_gap++;
          ev |= 1u << RE_GAP_CROSSED;
        }
        for (int p = 0; p < 4; p++)
          if (d->site_xpos[3 * c->paws[p] + 2] < c->fall_depth) {
            r->terminated = 1;
            ev |= 1u << RE_FALL;
            break;
          }
      }
      break;
    case K_BOWL: {
      double x = d->qpos[c->root_q], y = d->qpos[c->root_q + 1];
      double dist = sqrt(x * x + y * y);
      double esc = fmin(1, dist / c->escape_distance);
      reward = upright(d, c->torso) * upright(d, c->pelvis) * esc;
      r->terms[1] = (float)esc;
      if (esc >= 1 && !s->escaped) {
        s->escaped = 1;
        ev |= 1u << RE_ESCAPED;
      }
      break;
    }
    case K_MAZE: {
      const mjtNum* h = d->xpos + 3 * c->head;
      for (int i = 0; i < c->n_targets; i++) {
        if (s->collected[i]) continue;
        const mjtNum* p = d->mocap_pos + 3 * c->target_mocap[i];
        double dx = h[0] - p[0], dy = h[1] - p[1], dz = h[2] - p[2];
        if (dx * dx + dy * dy + dz * dz < 0.1 * 0.1) {
          s->collected[i] = 1;
          s->remaining--;
          reward += c->target_reward;
          park(d, c->target_mocap[i]);
          ev |= 1u << RE_TARGET;
        }
      }
      if (s->remaining <= 0) {
        ev |= 1u << RE_ALL;
        r->terminated = 1;
      }
      break;
    }
    case K_TAP: {
      if (s->pending_start) {
        ev |= 1u << TE_START;
        s->pending_start = 0;
      }
      double l1;
      double dist = hand_orb_dist(c, d, s->orb, &l1);
      int touch = dist < 0.025 + 0.015;
      int onset = touch && !s->touching;
      s->touching = touch;
      double shaping = 0.25 * exp(-3 * l1);
      r->terms[1] = (float)shaping;
      reward = shaping;
      if (s->timeout_left > 0) {
        if (--s->timeout_left == 0) {
          ev |= 1u << TE_END;
          new_orb(c, e);
        }
        break;
      }
      s->t_since++;
      if (s->tap_state == TAP_BEFORE && onset) {
        s->tap_state = TAP_ONCE;
        s->t_since = 0;
        reward += c->tap_reward;
        ev |= (1u << TE_FIRST) | (1u << TE_REWARD);
      } else if (s->tap_state == TAP_ONCE) {
        // the window closes first: a touch after interval_hi is no second touch, not a late one
        if (s->t_since > c->interval_hi) {
          s->tap_state = TAP_NO_SECOND;
          s->timeout_left = c->timeout_steps;
          ev |= 1u << TE_NO_SECOND;
        } else if (onset && s->t_since < c->interval_lo) {
          s->tap_state = TAP_TOO_SOON;
          s->timeout_left = c->timeout_steps;
          ev |= 1u << TE_TOO_SOON;
        } else if (onset) {
          s->tap_state = TAP_TWICE;
          reward += c->tap_reward;
          s->taps++;
          ev |= (1u << TE_SECOND) | (1u << TE_REWARD);
          s->timeout_left = 1;  // trial_end and the orb moves at the next step
        }
      }
      break;
    }
  }
  if (c->kind != K_BOWL) r->terms[0] = (float)reward - r->terms[1];  // bowl: product, escape
  else r->terms[0] = (float)reward;
  r->reward = (float)reward;
  r->events = ev;
  amt_opts_reward(&s->opt, r->reward);
}

static void rat_observe(const am_task* t, am_env* e, float* o) {
  const rat_cfg* c = t->cfg;
  rat_state* s = e->task_state;
  const mjData* d = e->d;
  am_body_observe(e->m, d, o);
  float* g = o + c->body_dim;
  double w[3], v[3];
  switch (c->kind) {
    case K_RUN:
    case K_GAPS:
      g[0] = (float)c->target_speed;
      break;
    case K_BOWL:
      w[0] = -d->qpos[c->root_q];
      w[1] = -d->qpos[c->root_q + 1];
      w[2] = 0;
      to_torso(c, d, w, v);
      g[0] = (float)(v[0] / c->escape_distance);
      g[1] = (float)(v[1] / c->escape_distance);
      g[2] = (float)(sqrt(w[0] * w[0] + w[1] * w[1]) / c->escape_distance);
      break;
    case K_MAZE: {
      double best = 1e9;
      w[0] = w[1] = w[2] = 0;
      const mjtNum* h = d->xpos + 3 * c->head;
      for (int i = 0; i < c->n_targets; i++) {
        if (s->collected[i]) continue;
        const mjtNum* p = d->mocap_pos + 3 * c->target_mocap[i];
        double dd = (p[0] - h[0]) * (p[0] - h[0]) + (p[1] - h[1]) * (p[1] - h[1]);
        if (dd < best) best = dd, w[0] = p[0] - h[0], w[1] = p[1] - h[1];
      }
      to_torso(c, d, w, v);
      g[0] = (float)(c->n_targets ? (double)s->remaining / c->n_targets : 0);
      g[1] = (float)v[0];
      g[2] = (float)v[1];
      break;
    }
    case K_TAP: {
      const mjtNum* h = d->xpos + 3 * c->head;
      for (int k = 0; k < 3; k++) w[k] = s->orb[k] - h[k];
      to_torso(c, d, w, v);
      for (int k = 0; k < 3; k++) g[k] = (float)v[k];
      for (int k = 0; k < 5; k++) g[3 + k] = (float)(s->tap_state == k);
      g[8] = (float)(s->tap_state == TAP_ONCE ? s->t_since * c->dt : 0);
      break;
    }
  }
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void rat_vars(const am_task* t, const am_env* e, float* x) {
  const rat_cfg* c = t->cfg;
  const rat_state* s = e->task_state;
  const mjData* d = e->d;
  x[0] = (float)d->qpos[c->root_q];
  x[1] = (float)d->qpos[c->root_q + 1];
  x[2] = (float)d->qpos[c->root_q + 2];
  x[3] = (float)d->qvel[c->root_v];
  switch (c->kind) {
    case K_GAPS: x[4] = (float)s->next_gap; break;
    case K_BOWL: x[4] = (float)sqrt(x[0] * x[0] + x[1] * x[1]); break;
    case K_MAZE: x[4] = (float)s->remaining; break;
    case K_TAP:
      x[4] = (float)s->orb[0];
      x[5] = (float)s->orb[1];
      x[6] = (float)s->tap_state;
      x[7] = (float)s->taps;
      break;
    default: break;
  }
}

static void rat_destroy(am_task* t) {
  free((void*)t->cfg);
  t->cfg = NULL;
}

//---------------------------------- construction --------------------------------------------------

// Bowl elevation in [0, 1]: 0.5 - cos(2 pi r)/2 for r = distance / size up to 0.5 (the rim), then
// flat at 1, times bumps U(0.5, 1) on a 0.2 m grid, bilinearly interpolated.
static int make_bowl(float* h, int n, double size, am_rng* rng) {
  int nb = (int)(2 * size / 0.2) + 2;
  float* bumps = malloc(sizeof(float) * (size_t)nb * (size_t)nb);
  if (!bumps) return -1;
  for (int i = 0; i < nb * nb; i++) bumps[i] = (float)am_rng_range(rng, 0.5, 1.0);
  for (int r = 0; r < n; r++)
    for (int col = 0; col < n; col++) {
      double x = -size + 2 * size * col / (n - 1), y = -size + 2 * size * r / (n - 1);
      double rad = sqrt(x * x + y * y) / size;
      double prof = rad >= 0.5 ? 1 : 0.5 - cos(2 * M_PI * rad) / 2;
      double bx = (x + size) / 0.2, by = (y + size) / 0.2;
      int ix = (int)bx, iy = (int)by;
      if (ix > nb - 2) ix = nb - 2;
      if (iy > nb - 2) iy = nb - 2;
      double fx = bx - ix, fy = by - iy;
      double bump = (1 - fx) * (1 - fy) * bumps[iy * nb + ix] + fx * (1 - fy) * bumps[iy * nb + ix + 1] +
                    (1 - fx) * fy * bumps[(iy + 1) * nb + ix] + fx * fy * bumps[(iy + 1) * nb + ix + 1];
      h[r * n + col] = (float)(prof * bump);
    }
  free(bumps);
  return 0;
}

static int range_param(const amt_info* info, const amt_params* p, const char* key, double out[2],
                       char* err, size_t err_sz) {
  int n;
  if (amt_param_list(info, p, key, out, 2, &n, err, err_sz)) return -1;
  if (n != 2 || !(out[0] > 0) || out[1] < out[0])
    return am_err(err, err_sz, "task %s: parameter %s: '%s' must be lo,hi with 0 < lo <= hi",
                  info->name, key, amt_param_get(info, p, key));
  return 0;
}

static int rat_create(am_task* t, const amt_params* params, int kind, const char* name, char* err,
                      size_t err_sz) {
  const amt_info* info = amt_find(name);
  rat_cfg c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  if (amt_opts_read(info, params, &c.opts, err, err_sz)) return -1;
  double episode_time;
  if (amt_param_double(info, params, "episode_time", &episode_time, err, err_sz) ||
      amt_param_double(info, params, "init_noise", &c.init_noise, err, err_sz))
    return -1;
  if (!(episode_time > 0 && episode_time <= 3600))
    return am_err(err, err_sz, "task %s: parameter episode_time: '%g' must be in (0, 3600] s", name,
                  episode_time);
  if (c.init_noise < 0 || c.init_noise > 0.5)
    return am_err(err, err_sz, "task %s: parameter init_noise: '%g' must be in [0, 0.5] rad", name,
                  c.init_noise);
  int terrain_seed = 1;
  if (kind == K_RUN || kind == K_GAPS) {
    if (amt_param_double(info, params, "target_speed", &c.target_speed, err, err_sz)) return -1;
    if (!(c.target_speed > 0 && c.target_speed < 20))
      return am_err(err, err_sz, "task %s: parameter target_speed: '%g' must be in (0, 20) m/s",
                    name, c.target_speed);
  }
  if (kind == K_RUN) {
    if (amt_param_double(info, params, "reward_floor", &c.reward_floor, err, err_sz)) return -1;
    if (!(c.reward_floor >= -10 && c.reward_floor <= 0))
      return am_err(err, err_sz, "task %s: parameter reward_floor: '%g' must be in [-10, 0]",
                    name, c.reward_floor);
    if (amt_param_int(info, params, "upright", &c.run_upright, err, err_sz)) return -1;
    if (c.run_upright != 0 && c.run_upright != 1)
      return am_err(err, err_sz, "task %s: parameter upright: '%d' must be 0 or 1", name,
                    c.run_upright);
    double tilt;
    if (amt_param_double(info, params, "fall_tilt", &tilt, err, err_sz) ||
        amt_param_double(info, params, "alive_bonus", &c.alive_bonus, err, err_sz))
      return -1;
    if (!(tilt > 0 && tilt <= 180))
      return am_err(err, err_sz, "task %s: parameter fall_tilt: '%g' must be in (0, 180] deg",
                    name, tilt);
    c.fall_cos = tilt >= 180 ? -2 : cos(tilt * M_PI / 180);
    if (!(c.alive_bonus >= 0 && c.alive_bonus <= 10))
      return am_err(err, err_sz, "task %s: parameter alive_bonus: '%g' must be in [0, 10]", name,
                    c.alive_bonus);
  }
  if (kind == K_GAPS) {
    if (range_param(info, params, "platform_length", c.plat, err, err_sz) ||
        range_param(info, params, "gap_length", c.gap, err, err_sz) ||
        amt_param_double(info, params, "fall_depth", &c.fall_depth, err, err_sz))
      return -1;
    if (c.plat[0] < 0.4 || c.plat[1] > 0.8)
      return am_err(err, err_sz, "task %s: parameter platform_length: lengths must be within "
                    "[0.4, 0.8] m (platforms are two 0.4 m boxes)", name);
  }
  if (kind == K_BOWL) {
    if (amt_param_int(info, params, "terrains", &c.n_terrains, err, err_sz) ||
        amt_param_int(info, params, "terrain_seed", &terrain_seed, err, err_sz) ||
        amt_param_double(info, params, "escape_distance", &c.escape_distance, err, err_sz))
      return -1;
    if (c.n_terrains < 1 || c.n_terrains > MAX_TERRAINS)
      return am_err(err, err_sz, "task %s: parameter terrains: '%d' must be in [1, %d]", name,
                    c.n_terrains, MAX_TERRAINS);
    if (!(c.escape_distance > 0))
      return am_err(err, err_sz, "task %s: parameter escape_distance: '%g' must be > 0", name,
                    c.escape_distance);
  }
  if (kind == K_MAZE) {
    if (amt_param_int(info, params, "n_targets", &c.n_targets, err, err_sz) ||
        amt_param_double(info, params, "open_fraction", &c.open_fraction, err, err_sz) ||
        amt_param_double(info, params, "target_reward", &c.target_reward, err, err_sz))
      return -1;
    if (c.n_targets < 1 || c.n_targets > MAX_TARGETS)
      return am_err(err, err_sz, "task %s: parameter n_targets: '%d' must be in [1, %d]", name,
                    c.n_targets, MAX_TARGETS);
    if (c.open_fraction < 0 || c.open_fraction > 1)
      return am_err(err, err_sz, "task %s: parameter open_fraction: '%g' must be in [0, 1]", name,
                    c.open_fraction);
  }
  double interval = 0, tol = 0, timeout = 0;
  if (kind == K_TAP) {
    if (amt_param_double(info, params, "interval", &interval, err, err_sz) ||
        amt_param_double(info, params, "tolerance", &tol, err, err_sz) ||
        amt_param_double(info, params, "timeout", &timeout, err, err_sz) ||
        amt_param_double(info, params, "tap_reward", &c.tap_reward, err, err_sz) ||
        amt_param_double(info, params, "arena", &c.arena, err, err_sz))
      return -1;
    if (!(interval > 0) || tol < 0 || tol >= interval || !(timeout > 0) || !(c.arena > 0))
      return am_err(err, err_sz, "task %s: interval, timeout and arena must be > 0 and 0 <= "
                    "tolerance < interval", name);
  }

  // The bowls (elevations in [0, 1], row-major, y by row) are generated before the scene is built
  // because the rays' tiles (below) are placed by their lowest and highest points.
  const int NB = BOWL_N, TN = (BOWL_N - 1) / BOWL_TILES;  // TN cells per tile side
  float* bowls = NULL;
  float tile_lo[MAX_TERRAINS][BOWL_TILES * BOWL_TILES], tile_hi[MAX_TERRAINS][BOWL_TILES * BOWL_TILES];
  if (kind == K_BOWL) {
    bowls = malloc(sizeof(float) * (size_t)c.n_terrains * NB * NB);
    if (!bowls) return am_err(err, err_sz, "out of memory");
    for (int k = 0; k < c.n_terrains; k++) {
      am_rng rng;
      am_rng_seed(&rng, (uint64_t)terrain_seed, (uint64_t)k);
      if (make_bowl(bowls + (size_t)k * NB * NB, NB, BOWL_SIZE, &rng)) {
        free(bowls);
        return am_err(err, err_sz, "out of memory");
      }
      for (int ti = 0; ti < BOWL_TILES * BOWL_TILES; ti++) {
        int r0 = ti / BOWL_TILES * TN, c0 = ti % BOWL_TILES * TN;
        float lo = 2, hi = -1;
        for (int r = r0; r <= r0 + TN; r++)
          for (int cc = c0; cc <= c0 + TN; cc++) {
            float v = bowls[(size_t)k * NB * NB + (size_t)r * NB + cc];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
          }
        tile_lo[k][ti] = lo;
        tile_hi[k][ti] = hi;
      }
    }
  }

  // Scene: the arena replaces the rat's floor line.
  sbuf a = {0};
  sb_add(&a, "<geom name=\"floor\" type=\"plane\" size=\"%g %g 0.05\" material=\"grid\" "
             "contype=\"0\" conaffinity=\"1\"%s/>",
         kind == K_MAZE ? 3.5 : 5.0, kind == K_MAZE ? 3.5 : 5.0,
         kind == K_GAPS || kind == K_BOWL ? " pos=\"0 0 -100\"" : "");
  if (kind == K_RUN) {
    // long flat ground: a plane 100 m long
    a.n = 0;
    sb_add(&a, "<geom name=\"floor\" type=\"plane\" size=\"100 100 0.05\" material=\"grid\" "
               "conaffinity=\"1\"/>");
  }
  if (kind == K_GAPS) {
    sb_add(&a, "<geom name=\"start\" type=\"box\" pos=\"4.25 0 -0.25\" size=\"1.25 1 0.25\" "
               "material=\"grid\" contype=\"0\" conaffinity=\"1\"/>");
    // worst case: shortest platforms and gaps over 34.5 m
    int n = 2 * ((int)(34.5 / (c.plat[0] + c.gap[0])) + 2);
    if (n > MAX_PIECES) n = MAX_PIECES;
    c.n_plat = n;
    for (int k = 0; k < n; k++)
      sb_add(&a, "<body name=\"plat%d\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"box\" "
                 "size=\"0.2 1 0.25\" rgba=\"0.6 0.62 0.66 1\" contype=\"0\" conaffinity=\"1\"/></body>",
             k, PARK_Z);
  }
  if (kind == K_BOWL) {
    // Each bowl twice, on two mocap bodies that move together. terrain<k>: the whole heightfield,
    // which the rat collides with, made invisible (alpha 0, no material) so that rangefinders skip
    // it. terrain<k>_tiles: the same surface cut into BOWL_TILES^2 tiles that collide with nothing
    // and are what rays (and the viewer) see. MuJoCo 2.2's ray-heightfield test checks every
    // triangle in the bounding rectangle of the ray's path through the field's bounding box
    // [0, max height], so a ray across the whole bowl tested up to 80,000 triangles (80 % of the
    // task's time); a tile is offset to its lowest point and scaled to its own height range, so a
    // ray only searches the tiles whose height band it passes through, over the tile's rectangle.
    // Tiles share their edge rows and each one's base reaches BOWL_BASE below the field's zero, so
    // the surface and the solid below it are the whole field's: a ray from above the ground reads
    // the same distance (to float rounding; one starting inside the ground may not).
    const double half = BOWL_SIZE / BOWL_TILES;
    for (int k = 0; k < c.n_terrains; k++) {
      sb_add(&a, "<body name=\"terrain%d\" mocap=\"true\" pos=\"0 0 %g\"><geom name=\"terrain%d\" "
                 "type=\"hfield\" hfield=\"bowl%d\" rgba=\"0 0 0 0\" contype=\"0\" "
                 "conaffinity=\"1\"/></body>", k, PARK_Z, k, k);
      // (massless like terrain<k>; explicit because the compiler cannot place a centre of mass
      // among massless offset geoms)
      sb_add(&a, "<body name=\"terrain%d_tiles\" mocap=\"true\" pos=\"0 0 %g\"><inertial "
                 "pos=\"0 0 0\" mass=\"0\" diaginertia=\"0 0 0\"/>", k, PARK_Z);
      for (int ti = 0; ti < BOWL_TILES * BOWL_TILES; ti++) {
        double lo = BOWL_H * tile_lo[k][ti];
        double x = -BOWL_SIZE + (2 * (ti % BOWL_TILES) + 1) * half;
        double y = -BOWL_SIZE + (2 * (ti / BOWL_TILES) + 1) * half;
        sb_add(&a, "<geom type=\"hfield\" hfield=\"bowl%d_%d\" pos=\"%.17g %.17g %.17g\" "
                   "material=\"bowlgrid\" contype=\"0\" conaffinity=\"0\"/>", k, ti, x, y, lo);
      }
      sb_add(&a, "</body>");
    }
  }
  if (kind == K_MAZE) {
    c.n_walls = (MAZE_N + 1) * MAZE_N * 2;
    for (int k = 0; k < c.n_walls; k++) {
      int horiz = k < (MAZE_N + 1) * MAZE_N;
      sb_add(&a, "<body name=\"wall%d\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"box\" "
                 "size=\"%g %g 0.15\" rgba=\"0.55 0.5 0.45 1\" contype=\"0\" conaffinity=\"1\"/></body>",
             k, PARK_Z, horiz ? CELL / 2 + 0.02 : 0.02, horiz ? 0.02 : CELL / 2 + 0.02);
    }
    for (int k = 0; k < c.n_targets; k++)
      sb_add(&a, "<body name=\"target%d\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"sphere\" "
                 "size=\"0.05\" rgba=\"0.9 0.7 0.1 1\" contype=\"0\" conaffinity=\"0\"/></body>",
             k, PARK_Z);
  }
  if (kind == K_TAP)
    sb_add(&a, "<body name=\"orb\" mocap=\"true\" pos=\"0 0 0.14\"><geom type=\"sphere\" "
               "size=\"0.025\" rgba=\"0.2 0.5 0.95 1\" contype=\"0\" conaffinity=\"0\"/></body>");
  char* scene = a.oom ? NULL : rat_scene(name, a.s, err, err_sz);
  int oom = a.oom;
  free(a.s);
  if (!scene) {
    free(bowls);
    return oom ? am_err(err, err_sz, "out of memory") : -1;
  }
  if (kind == K_BOWL) {
    // the bowls' hfield assets: an <asset> block right after <mujoco ...>
    char* gt = strstr(scene, "<mujoco");
    gt = gt ? strchr(gt, '>') : NULL;
    sbuf h = {0};
    if (gt) {
      sb_add(&h, "%.*s<asset>", (int)(gt + 1 - scene), scene);
      sb_add(&h, "<material name=\"bowlgrid\" texture=\"grid\" texrepeat=\"%g %g\" "
                 "reflectance=\"0.05\"/>", 40.0 / BOWL_TILES, 40.0 / BOWL_TILES);
      for (int k = 0; k < c.n_terrains; k++) {
        sb_add(&h, "<hfield name=\"bowl%d\" nrow=\"%d\" ncol=\"%d\" size=\"%g %g %g %g\"/>", k, NB,
               NB, BOWL_SIZE, BOWL_SIZE, BOWL_H, BOWL_BASE);
        // a tile: offset to its lowest point, elevation range its own, base down to the bowl's
        for (int ti = 0; ti < BOWL_TILES * BOWL_TILES; ti++) {
          double lo = BOWL_H * tile_lo[k][ti], hi = BOWL_H * tile_hi[k][ti];
          sb_add(&h, "<hfield name=\"bowl%d_%d\" nrow=\"%d\" ncol=\"%d\" size=\"%.17g %.17g "
                     "%.17g %.17g\"/>", k, ti, TN + 1, TN + 1, BOWL_SIZE / BOWL_TILES,
                 BOWL_SIZE / BOWL_TILES, hi - lo > 1e-4 ? hi - lo : 1e-4, lo + BOWL_BASE);
        }
      }
      // The tiles collide with nothing, but MuJoCo's broadphase pairs every body with the world's
      // geoms and with any body holding a heightfield, then tests those pairs geom by geom:
      // excluding the tile bodies from those pairs skips the tiles at once.
      sb_add(&h, "</asset><contact>");
      for (int k = 0; k < c.n_terrains; k++) {
        sb_add(&h, "<exclude body1=\"world\" body2=\"terrain%d_tiles\"/>", k);
        for (int j = 0; j < c.n_terrains; j++)
          sb_add(&h, "<exclude body1=\"terrain%d\" body2=\"terrain%d_tiles\"/>", j, k);
      }
      sb_add(&h, "</contact>%s", gt + 1);
    }
    free(scene);
    if (!gt || h.oom) {
      free(h.s);
      free(bowls);
      return am_err(err, err_sz, "task %s: cannot build the scene", name);
    }
    scene = h.s;
  }
  am_model* model = am_model_load_string(scene, am_bodies_dir(), name, err, err_sz);
  free(scene);
  if (!model) {
    free(bowls);
    return -1;
  }
  t->model = model;  // amt_create frees it on failure from here
  mjModel* m = model->m;

  int root = mj_name2id(m, mjOBJ_JOINT, "root");
  c.torso = mj_name2id(m, mjOBJ_BODY, "torso");
  c.pelvis = mj_name2id(m, mjOBJ_BODY, "pelvis");
  c.head = mj_name2id(m, mjOBJ_BODY, "head");
  const char* paws[4] = {"hand_L", "hand_R", "foot_L", "foot_R"};
  int ok = root >= 0 && c.torso >= 0 && c.pelvis >= 0 && c.head >= 0;
  for (int p = 0; p < 4; p++) ok &= (c.paws[p] = mj_name2id(m, mjOBJ_SITE, paws[p])) >= 0;
  if (!ok)
    return am_err(err, err_sz, "task %s: body 'rat' lacks joint root, bodies torso/pelvis/head or "
                  "paw sites hand_L/hand_R/foot_L/foot_R", name);
  c.hands[0] = c.paws[0];
  c.hands[1] = c.paws[1];
  c.root_q = m->jnt_qposadr[root];
  c.root_v = m->jnt_dofadr[root];
  char nm[32];
  for (int k = 0; k < c.n_plat; k++) {
    snprintf(nm, sizeof nm, "plat%d", k);
    c.plat_mocap[k] = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, nm)];
  }
  for (int k = 0; k < c.n_walls; k++) {
    snprintf(nm, sizeof nm, "wall%d", k);
    c.wall_mocap[k] = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, nm)];
  }
  for (int k = 0; k < (kind == K_MAZE ? c.n_targets : 0); k++) {
    snprintf(nm, sizeof nm, "target%d", k);
    c.target_mocap[k] = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, nm)];
  }
  for (int k = 0; k < (kind == K_BOWL ? c.n_terrains : 0); k++) {
    snprintf(nm, sizeof nm, "terrain%d", k);
    c.terrain_mocap[k] = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, nm)];
    snprintf(nm, sizeof nm, "terrain%d_tiles", k);
    c.tiles_mocap[k] = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, nm)];
    // the terrain's elevations in metres: the collision field's data x BOWL_H; a tile's data is
    // its part of that, less its lowest point (its geom's z), over its own height range
    const float* bowl = bowls + (size_t)k * NB * NB;
    snprintf(nm, sizeof nm, "bowl%d", k);
    int hf = mj_name2id(m, mjOBJ_HFIELD, nm);
    memcpy(m->hfield_data + m->hfield_adr[hf], bowl, sizeof(float) * (size_t)NB * NB);
    for (int ti = 0; ti < BOWL_TILES * BOWL_TILES; ti++) {
      snprintf(nm, sizeof nm, "bowl%d_%d", k, ti);
      hf = mj_name2id(m, mjOBJ_HFIELD, nm);
      const double lo = BOWL_H * tile_lo[k][ti];
      const double range = m->hfield_size[4 * hf + 2];
      float* td = m->hfield_data + m->hfield_adr[hf];
      int r0 = ti / BOWL_TILES * TN, c0 = ti % BOWL_TILES * TN;
      for (int r = 0; r <= TN; r++)
        for (int cc = 0; cc <= TN; cc++)
          td[r * (TN + 1) + cc] = (float)((BOWL_H * bowl[(size_t)(r0 + r) * NB + c0 + cc] - lo) / range);
    }
  }
  free(bowls);
  if (kind == K_TAP) c.orb_mocap = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "orb")];

  const int frame_skip = 10;  // 0.02 s control period at 2 ms physics (50 Hz, as in the paper)
  c.dt = frame_skip * m->opt.timestep;
  // the control steps k with interval - tol <= k dt <= interval + tol (rounded inwards)
  c.interval_lo = (int)ceil((interval - tol) / c.dt - 1e-9);
  c.interval_hi = (int)floor((interval + tol) / c.dt + 1e-9);
  if (c.interval_hi < c.interval_lo)
    return am_err(err, err_sz, "task %s: interval %g +- tolerance %g s contains no control step "
                  "(of %g s): widen tolerance", name, interval, tol, c.dt);
  c.timeout_steps = (int)floor(timeout / c.dt + 0.5);
  if (c.timeout_steps < 1) c.timeout_steps = 1;

  snprintf(t->name, sizeof t->name, "%s", name);
  t->state_size = sizeof(rat_state);
  t->frame_skip = frame_skip;
  t->max_steps = (int)floor(episode_time / c.dt + 0.5);
  if (t->max_steps < 1) t->max_steps = 1;
  t->act_dim = m->nu;
  t->n_groups = am_body_obs_groups(m, t->groups, &t->obs_dim);
  c.body_dim = t->obs_dim;
  int task_size = kind == K_RUN || kind == K_GAPS ? 1 : kind == K_TAP ? 9 : 3;
  am_obs_group* g = &t->groups[t->n_groups++];
  snprintf(g->name, AM_NAME_LEN, "task");
  g->offset = t->obs_dim;
  g->size = task_size;
  t->obs_dim += task_size;
  if (amt_opts_setup(t, &c.opts, err, err_sz)) return -1;

  const char* term1 = kind == K_RUN    ? "alive"
                      : kind == K_BOWL ? "escape"
                      : kind == K_TAP  ? "shaping"
                                       : NULL;
  t->n_terms = term1 ? 2 : 1;
  snprintf(t->terms[0], AM_NAME_LEN, "%s", kind == K_RUN || kind == K_GAPS ? "speed"
                                           : kind == K_BOWL ? "upright_escape_rest"
                                           : kind == K_MAZE ? "targets" : "taps");
  if (term1) snprintf(t->terms[1], AM_NAME_LEN, "%s", term1);
  if (kind == K_BOWL) snprintf(t->terms[0], AM_NAME_LEN, "upright_x_escape");
  static const char* ev_gaps[] = {"gap_crossed", "fall", NULL};
  static const char* ev_run[] = {"fall", NULL};
  static const char* ev_bowl[] = {"escaped", NULL};
  static const char* ev_maze[] = {"target_collected", "all_collected", NULL};
  static const char* ev_tap[] = {"trial_start", "touch_first", "touch_second", "too_soon",
                                 "no_second", "reward", "trial_end", NULL};
  const char** evs = kind == K_RUN    ? ev_run
                     : kind == K_GAPS ? ev_gaps
                     : kind == K_BOWL ? ev_bowl
                     : kind == K_MAZE ? ev_maze
                     : kind == K_TAP  ? ev_tap
                                      : NULL;
  t->n_events = 0;
  for (; evs && *evs; evs++) snprintf(t->events[t->n_events++], AM_NAME_LEN, "%s", *evs);
  t->trial_start_event = kind == K_TAP ? TE_START : -1;
  t->success_event = kind == K_BOWL ? RE_ESCAPED : kind == K_MAZE ? RE_ALL
                     : kind == K_TAP ? TE_SECOND : -1;
  t->trial_end_event = kind == K_TAP ? TE_END : -1;
  static const char* vars_common[] = {"root_x", "root_y", "root_z", "root_vx"};
  t->n_vars = 4;
  for (int k = 0; k < 4; k++) snprintf(t->vars[k], AM_NAME_LEN, "%s", vars_common[k]);
  if (kind == K_GAPS) snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "gaps_crossed");
  if (kind == K_BOWL) snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "distance");
  if (kind == K_MAZE) snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "remaining");
  if (kind == K_TAP) {
    const char* tv[] = {"orb_x", "orb_y", "tap_state", "pairs_done"};
    for (int k = 0; k < 4; k++) snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "%s", tv[k]);
  }
  rat_cfg* cfg = malloc(sizeof *cfg);
  if (!cfg) return am_err(err, err_sz, "out of memory");
  *cfg = c;
  t->cfg = cfg;
  t->reset = rat_reset;
  t->act = rat_act;
  t->evaluate = rat_evaluate;
  t->observe = rat_observe;
  t->get_vars = rat_vars;
  t->destroy = rat_destroy;
  return 0;
}

int amt_run_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return rat_create(t, p, K_RUN, "run", err, err_sz);
}
int amt_run_gaps_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return rat_create(t, p, K_GAPS, "run-gaps", err, err_sz);
}
int amt_escape_bowl_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return rat_create(t, p, K_BOWL, "escape-bowl", err, err_sz);
}
int amt_forage_maze_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return rat_create(t, p, K_MAZE, "forage-maze", err, err_sz);
}
int amt_two_tap_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return rat_create(t, p, K_TAP, "two-tap", err, err_sz);
}
