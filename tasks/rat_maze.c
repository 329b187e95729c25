// rat_maze.c: the task "forage-maze" (Merel et al. 2020): the rat collects targets in a random
// 11 x 11 maze, regenerated per episode; the episode ends when all are taken.
//
// The walls and targets are mocap bodies placed by every env in reset. The maze's walls lie in the
// first of N_SLOTS wall bodies, each turned to its wall's direction; the slots left over and taken
// targets are parked (rat_common.h). Every body costs MuJoCo's broadphase (a sort of all bodies
// each step), so the scene holds only as many walls as a maze can have, not every possible one.
// The rangefinders' rays against the walls are cast by the task itself, along the grid cells the
// ray crosses (maze_rays); the single task's model variant hides the walls from MuJoCo's rays,
// which test every geom. The task is a rat_part (rat_common.h), which the composite rat-multi
// also holds. docs/tasks.md describes the task for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

#define MAZE_N 11
#define CELL 0.5                                 // cell size (m)
#define N_WALLS ((MAZE_N + 1) * MAZE_N * 2)      // every possible wall: 264
// Walls a maze can have: the 4 x MAZE_N of the border and the interior walls the carving leaves
// (a spanning tree of the cells opens MAZE_N^2 - 1 of them); make_maze removes no border wall.
#define N_SLOTS (N_WALLS - MAZE_N * MAZE_N + 1)
#define WALL_HALF (CELL / 2 + 0.02)  // a wall's half-length (m): it overlaps the next by 0.04 m
#define WALL_THICK 0.02              // half-thickness (m)
#define WALL_H 0.15                  // half-height (m); walls stand on the floor
#define MAX_TARGETS 32

const amt_param_def amt_forage_maze_params[] = {
    {"episode_time", "30", "episode length (s)"},
    {"n_targets", "12", "targets per episode (+50 each; the episode ends when all are taken)"},
    {"open_fraction", "0.35", "fraction of interior maze walls removed to open rooms and loops"},
    {"target_reward", "50", "reward per target"},
    {"approach", "0",
     "shaping (term 'approach'): reward per metre the head comes closer to the nearest remaining "
     "target (potential-based: moving away costs the same); 0: off, the published task"},
    {"guide", "0",
     "1: the group 'heading' holds the direction from the head to the nearest remaining target "
     "relative to the torso's heading (cos, sin; the task group's vector as a direction), in the "
     "form of run's heading commands, so that a core trained on them steers here"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct maze_cfg {
  rat_body rat;  // first (rat_common.h)
  int slot_mocap[N_SLOTS], slot_geom;  // the wall bodies, and the first one's geom
  int n_targets, target_mocap[MAX_TARGETS];
  double open_fraction, target_reward, approach;
  rat_rays rays;
} maze_cfg;

typedef struct maze_state {
  amt_opt_state opt;  // first (task_opts.h)
  int remaining, collected[MAX_TARGETS];
  double near_d;  // the head's distance to the nearest remaining target at the last step (m)
  unsigned char on[N_WALLS];  // this episode's maze: 1 where wall k stands (wall_pos)
} maze_state;

enum { EV_TARGET, EV_ALL };

//---------------------------------- the maze ------------------------------------------------------

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

static int is_horiz(int k) { return k < (MAZE_N + 1) * MAZE_N; }

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

//---------------------------------- the rays ------------------------------------------------------

// Distance along vec from p to wall k's box (-1: none), by MuJoCo's test of a box's faces (each
// face plane the ray meets at a distance >= 0, within the face's rectangle, inclusive).
static double wall_ray(int k, const double* p, const double* v) {
  double x, y;
  wall_pos(k, &x, &y);
  const double c[3] = {x, y, WALL_H};
  const double hs[3] = {is_horiz(k) ? WALL_HALF : WALL_THICK, is_horiz(k) ? WALL_THICK : WALL_HALF,
                        WALL_H};
  const double l[3] = {p[0] - c[0], p[1] - c[1], p[2] - c[2]};
  double best = -1;
  for (int i = 0; i < 3; i++) {
    if (fabs(v[i]) <= mjMINVAL) continue;
    const int a = (i + 1) % 3, b = (i + 2) % 3;
    for (int side = -1; side <= 1; side += 2) {
      double t = (side * hs[i] - l[i]) / v[i];
      if (t >= 0 && fabs(l[a] + t * v[a]) <= hs[a] && fabs(l[b] + t * v[b]) <= hs[b] &&
          (best < 0 || t < best))
        best = t;
    }
  }
  return best;
}

// The nearest of the standing walls among those that reach into cell (ci, cj) (column, row; -1 to
// MAZE_N): the horizontal walls on its two row lines and the vertical walls on its two column
// lines, each with its neighbours on either side, whose 0.02 m ends reach past the corners.
static double cell_ray(const unsigned char* on, int ci, int cj, const double* p, const double* v,
                       double best) {
  const int N = MAZE_N, NH = (N + 1) * N;
  for (int line = cj; line <= cj + 1; line++)  // horizontal: row line, column
    for (int i = ci - 1; i <= ci + 1; i++) {
      if (line < 0 || line > N || i < 0 || i >= N || !on[line * N + i]) continue;
      double t = wall_ray(line * N + i, p, v);
      if (t >= 0 && (best < 0 || t < best)) best = t;
    }
  for (int line = ci; line <= ci + 1; line++)  // vertical: row, column line
    for (int j = cj - 1; j <= cj + 1; j++) {
      if (line < 0 || line > N || j < 0 || j >= N || !on[NH + j * (N + 1) + line]) continue;
      double t = wall_ray(NH + j * (N + 1) + line, p, v);
      if (t >= 0 && (best < 0 || t < best)) best = t;
    }
  return best;
}

// The cast against the maze's standing walls (rat_rays_merge; ctx: the state's on[]): the grid
// cells under the ray's path within the maze and one cell around it, walked in order (Amanatides
// and Woo's traversal), stopping after the first cell whose walls hold a hit no farther than the
// cell's exit: every wall is tested in every cell it reaches into, so no later cell holds a nearer
// one. The walk also stops past bound, above the walls' tops when rising, and under the floor.
static double maze_cast(const void* ctx, const mjModel* m, const mjData* d, const double* p,
                        const double* v, double bound) {
  const unsigned char* on = ctx;
  (void)m, (void)d;
  const double o = -MAZE_N * CELL / 2, lo[2] = {o - CELL, o - CELL};
  const double hi[2] = {o + (MAZE_N + 1) * CELL, o + (MAZE_N + 1) * CELL};
  double tin, tout;  // the ray within the square of cells -1 to MAZE_N
  if (rat_ray_clip(p, v, lo, hi, 2, &tin, &tout)) return -1;
  const double org[2] = {o, o}, size[2] = {CELL, CELL};
  const int first[2] = {-1, -1}, last[2] = {MAZE_N, MAZE_N};
  rat_walk w;
  rat_walk_start(&w, p, v, tin, org, size, first, last);
  double best = -1;
  for (;;) {
    best = cell_ray(on, w.cell[0], w.cell[1], p, v, best);
    double exit = fmin(rat_walk_exit(&w), tout), z = p[2] + exit * v[2];
    if ((best >= 0 && best <= exit) || exit >= tout || (bound >= 0 && exit > bound) ||
        (v[2] > 0 && z > 2 * WALL_H) || (v[2] < 0 && z < 0))
      return best;
    int a = rat_walk_next(&w);
    if (w.cell[a] < first[a] || w.cell[a] > last[a]) return best;
  }
}

// The rangefinders against the walls, when MuJoCo's rays skipped them (the single task's model
// variant): each one's reading as mj_ray would have read it with the walls seen.
static void maze_rays(const maze_cfg* c, const maze_state* s, const mjModel* m, mjData* d) {
  if (m->geom_matid[c->slot_geom] >= 0 || m->geom_rgba[4 * c->slot_geom + 3] != 0) return;
  rat_rays_merge(&c->rays, m, d, maze_cast, s->on);
}

//---------------------------------- hooks ---------------------------------------------------------

// The horizontal distance from the head to the nearest remaining target, and the vector to it
// (world frame) in w (0 and a zero vector when none remains).
static double nearest(const maze_cfg* c, const maze_state* s, const mjData* d, double w[3]) {
  double best = -1;
  const mjtNum* h = d->xpos + 3 * c->rat.head;
  w[0] = w[1] = w[2] = 0;
  for (int i = 0; i < c->n_targets; i++) {
    if (s->collected[i]) continue;
    const mjtNum* p = d->mocap_pos + 3 * c->target_mocap[i];
    double dd = hypot(p[0] - h[0], p[1] - h[1]);
    if (best < 0 || dd < best) best = dd, w[0] = p[0] - h[0], w[1] = p[1] - h[1];
  }
  return best < 0 ? 0 : best;
}

static void maze_park(const void* cfg, mjData* d) {
  const maze_cfg* c = cfg;
  for (int k = 0; k < N_SLOTS; k++) rat_park(d, c->slot_mocap[k]);
  for (int k = 0; k < c->n_targets; k++) rat_park(d, c->target_mocap[k]);
}

// A new maze; the targets and the rat in distinct random cells; a random heading.
static void maze_reset(const void* cfg, void* state, am_env* e) {
  const maze_cfg* c = cfg;
  maze_state* s = state;
  memset(s, 0, sizeof *s);
  mjData* d = e->d;
  make_maze(&e->rng, c->open_fraction, s->on);
  int n = 0;  // walls placed: the slots are built along x; a wall along y is turned 90 deg
  for (int k = 0; k < N_WALLS && n < N_SLOTS; k++) {
    if (!s->on[k]) continue;
    double x, y, h = M_SQRT1_2 * !is_horiz(k);
    wall_pos(k, &x, &y);
    rat_set_mocap(d, c->slot_mocap[n], x, y, WALL_H);
    mjtNum* q = d->mocap_quat + 4 * c->slot_mocap[n++];
    q[0] = h ? h : 1, q[1] = q[2] = 0, q[3] = h;
  }
  while (n < N_SLOTS) rat_park(d, c->slot_mocap[n++]);
  int cells[MAZE_N * MAZE_N];  // a partial shuffle: cells[0] the rat's, then the targets'
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
    rat_set_mocap(d, c->target_mocap[i], o + (cell % MAZE_N + 0.5) * CELL,
                  o + (cell / MAZE_N + 0.5) * CELL, 0.125);
  }
  s->remaining = c->n_targets;
  rat_place(&c->rat, e, o + (cells[0] % MAZE_N + 0.5) * CELL, o + (cells[0] / MAZE_N + 0.5) * CELL,
            0, am_rng_range(&e->rng, -M_PI, M_PI));
  mj_forward(e->m, d);
  maze_rays(c, s, e->m, d);
  double w[3];
  s->near_d = nearest(c, s, d, w);
}

// A target is taken when the head is within 0.1 m of its centre; it is parked at once. The
// approach shaping is the change of the distance to the nearest target over the step, measured
// among the targets that remained before it (a take does not count as moving away).
static void maze_evaluate(const void* cfg, void* state, am_env* e, am_step_result* r) {
  const maze_cfg* c = cfg;
  maze_state* s = state;
  mjData* d = e->d;
  maze_rays(c, s, e->m, d);  // first: what the rat sees this step
  double reward = 0, w[3];
  uint32_t ev = 0;
  double near = nearest(c, s, d, w);
  double approach = c->approach * (s->near_d - near);
  const mjtNum* h = d->xpos + 3 * c->rat.head;
  for (int i = 0; i < c->n_targets; i++) {
    if (s->collected[i]) continue;
    const mjtNum* p = d->mocap_pos + 3 * c->target_mocap[i];
    double dx = h[0] - p[0], dy = h[1] - p[1], dz = h[2] - p[2];
    if (dx * dx + dy * dy + dz * dz < 0.1 * 0.1) {
      s->collected[i] = 1;
      s->remaining--;
      reward += c->target_reward;
      rat_park(d, c->target_mocap[i]);
      ev |= 1u << EV_TARGET;
    }
  }
  if (s->remaining <= 0) {
    ev |= 1u << EV_ALL;
    r->terminated = 1;
  }
  s->near_d = ev ? nearest(c, s, d, w) : near;  // a take changes the nearest target
  r->terms[0] = (float)reward;
  r->terms[1] = (float)approach;
  r->reward = (float)(reward + approach);
  r->events = ev;
}

// Task group: the fraction of targets remaining and the vector from the head to the nearest
// remaining target (in the horizontal plane) in the torso frame (x, y).
static void maze_observe(const void* cfg, const void* state, const mjData* d, float* g) {
  const maze_cfg* c = cfg;
  const maze_state* s = state;
  double w[3], v[3];
  nearest(c, s, d, w);
  rat_to_torso(&c->rat, d, w, v);
  g[0] = (float)(c->n_targets ? (double)s->remaining / c->n_targets : 0);
  g[1] = (float)v[0];
  g[2] = (float)v[1];
  if (c->rat.own[0].size)  // the group "heading" follows the task group (straight on: none left)
    rat_heading_write(&c->rat, d, s->remaining > 0 ? atan2(w[1], w[0]) : rat_yaw(&c->rat, d),
                      g + 3);
}

static void maze_vars(const void* cfg, const void* state, const mjData* d, float* x) {
  const maze_state* s = state;
  (void)cfg, (void)d;
  x[0] = (float)s->remaining;
}

//---------------------------------- construction --------------------------------------------------

static int maze_read(const amt_info* info, const amt_params* params, void* cfg, char* err,
                     size_t err_sz) {
  maze_cfg* c = cfg;
  if (amt_param_int(info, params, "n_targets", &c->n_targets, err, err_sz) ||
      amt_param_double(info, params, "open_fraction", &c->open_fraction, err, err_sz) ||
      amt_param_double(info, params, "target_reward", &c->target_reward, err, err_sz) ||
      amt_param_double(info, params, "approach", &c->approach, err, err_sz) ||
      rat_read_heading(info, params, "guide", 0, &c->rat, err, err_sz))
    return -1;
  if (c->n_targets < 1 || c->n_targets > MAX_TARGETS)
    return am_err(err, err_sz, "task %s: parameter n_targets: '%d' must be in [1, %d]", info->name,
                  c->n_targets, MAX_TARGETS);
  if (c->open_fraction < 0 || c->open_fraction > 1)
    return am_err(err, err_sz, "task %s: parameter open_fraction: '%g' must be in [0, 1]",
                  info->name, c->open_fraction);
  return 0;
}

// The arena: a 3.5 m floor, the wall slots (0.3 m high, 0.04 m thick, along x) and the targets
// (spheres of radius 0.05 m that touch nothing), all parked at first.
static int maze_build(const void* cfg, rat_sbuf* prelude, rat_sbuf* a, int movable) {
  const maze_cfg* c = cfg;
  (void)prelude;
  rat_add_floor(a, 3.5, 0, movable ? "forage-maze" : NULL);
  for (int k = 0; k < N_SLOTS; k++)
    rat_sb_add(a, "<body name=\"wall%d\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"box\" "
                  "size=\"%g %g %g\" rgba=\"0.55 0.5 0.45 1\" contype=\"0\" conaffinity=\"1\"/>"
                  "</body>", k, RAT_PARK_Z, WALL_HALF, WALL_THICK, WALL_H);
  for (int k = 0; k < c->n_targets; k++)
    rat_sb_add(a, "<body name=\"target%d\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"sphere\" "
                  "size=\"0.05\" rgba=\"0.9 0.7 0.1 1\" contype=\"0\" conaffinity=\"0\"/></body>",
               k, RAT_PARK_Z);
  return a->oom;
}

static int maze_bind(void* cfg, mjModel* m, char* err, size_t err_sz) {
  maze_cfg* c = cfg;
  (void)err, (void)err_sz;
  for (int k = 0; k < N_SLOTS; k++) c->slot_mocap[k] = rat_mocap_id(m, "wall%d", k);
  for (int k = 0; k < c->n_targets; k++) c->target_mocap[k] = rat_mocap_id(m, "target%d", k);
  c->slot_geom = m->body_geomadr[mj_name2id(m, mjOBJ_BODY, "wall0")];
  return rat_rays_find(m, &c->rays, "forage-maze", err, err_sz);
}

// The single task's model variant (rat_part.hide): the walls invisible, so MuJoCo's rays skip them
// and maze_rays casts against the maze. The physics is the model's.
static void maze_hide_walls(const void* cfg, mjModel* v) {
  (void)cfg;
  for (int k = 0; k < N_SLOTS; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "wall%d", k);
    int g = v->body_geomadr[mj_name2id(v, mjOBJ_BODY, nm)];
    v->geom_matid[g] = -1;
    v->geom_rgba[4 * g + 3] = 0;
  }
}

static const char* const maze_terms[] = {"targets", "approach"};
static const char* const maze_events[] = {"target_collected", "all_collected"};
static const char* const maze_vars_names[] = {"remaining"};

const rat_part rat_maze_part = {
    .name = "forage-maze", .cfg_size = sizeof(maze_cfg), .state_size = sizeof(maze_state),
    .task_size = 3, .n_terms = 2, .n_events = 2, .n_vars = 1, .term_names = maze_terms,
    .event_names = maze_events, .var_names = maze_vars_names,
    .trial_start = -1, .success = EV_ALL, .trial_end = -1,  // one foraging bout per episode
    .read = maze_read, .build = maze_build, .bind = maze_bind, .reset = maze_reset,
    .evaluate = maze_evaluate, .observe = maze_observe, .vars = maze_vars, .park = maze_park,
    .hide = maze_hide_walls};

int amt_forage_maze_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return rat_part_create(t, &rat_maze_part, params, err, err_sz);
}
