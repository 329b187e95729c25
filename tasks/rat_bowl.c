// rat_bowl.c: the task "escape-bowl" (Merel et al. 2020): the rat climbs out of a bumpy
// heightfield bowl; reward = upright x escape (distance from the centre / escape_distance, at
// most 1). Optional shaping (fall_tilt < 180): the episode ends when the torso tips over.
//
// The heightfield is part of the shared model, so it cannot change per env: the task generates
// `terrains` different bowls at creation (each on a mocap body); each episode raises one of them
// (drawn from the env's RNG) and parks the rest, so terrain varies per episode from a fixed bank.
// The rangefinders' rays against the bowl are cast by the task itself, along the cells the ray
// crosses (bowl_rays); the viewer, and MuJoCo's rays where the task does not cast them (rat-multi),
// see each bowl as a copy cut into tiles (see bowl_build). The task is a rat_part (rat_common.h),
// which the composite rat-multi also holds. docs/tasks.md describes the task for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

#define MAX_TERRAINS 8
// The bowl: a BOWL_N x BOWL_N heightfield, half-size BOWL_SIZE, height `height`, base BOWL_BASE
// below its lowest point. Rays see it as BOWL_TILES x BOWL_TILES tiles of TILE_N cells a side.
#define BOWL_N 201
#define BOWL_SIZE 6.0
#define BOWL_BASE 0.1
#define BOWL_TILES 5  // 4 and 8 measured slower
#define TILE_N ((BOWL_N - 1) / BOWL_TILES)
#define N_TILES (BOWL_TILES * BOWL_TILES)
#define START_R 0.25  // m: the rat starts above the highest ground within this of the centre (x, y)

const amt_param_def amt_escape_bowl_params[] = {
    {"episode_time", "20", "episode length (s)"},
    {"terrains", "4", "bowls generated at creation; each episode uses one of them (1..8)"},
    {"terrain_seed", "1", "seed of the bowls' random bumps"},
    {"bumps", "cubic",
     "how the bumps' random heights are interpolated between their grid points: cubic (a cubic "
     "B-spline through them, the published bowl: dm_control's ndimage.zoom) or linear "
     "(bilinear, smoother and gentler: animat's bowl until 7 Dec 2026)"},
    {"escape_distance", "6", "distance from the centre at which escape reaches 1 (m)"},
    {"height", "0.5",
     "the bowl's height (m), its bumps scaled with it (0.5: the published bowl); a list gives "
     "each of the terrains its own (a mixture of difficulties)"},
    {"escape_end", "0",
     "1: escaping ends the episode (terminated), paid as if every remaining step earned the full "
     "reward 1 (the published reward's best continuation, without its risk of a fall)"},
    {"staircase", "0",
     "training curriculum (0: off): 1 gives each env the terrains in the order listed, starting "
     "at the first, one up after an episode that escaped and one down after one that did not, "
     "so each env's bowl follows what its rat can do (list the heights easiest first; record "
     "with staircase=0)"},
    {"stair_top", "0",
     "with staircase=1: the share of each env's episodes (drawn per episode) on the last terrain "
     "listed, whatever the env's place; the staircase moves only after its own episodes "
     "(0 <= share < 1)"},
    {"fall_tilt", "180", RAT_FALL_TILT_HELP},
    {"drop", "0",
     "the share of episodes (drawn per episode) that start as dm_control's Escape does: the rat "
     "in a random 3-D orientation, just clear of the ground, dropped (0: none, the rat starts "
     "standing; 1: every episode); with fall_tilt below 180, a dropped rat has drop_time to get "
     "its torso within the limit; with staircase=1, dropped episodes do not move the staircase"},
    {"drop_time", "3",
     "with drop and fall_tilt below 180: how long (s) a dropped rat may take to get its torso "
     "within the fall limit before the episode ends (event fall); after that, fall_grace holds"},
    {"start_far", "0",
     "training aid: the share of episodes (drawn per episode) that start the rat standing off "
     "the centre, at a uniformly random distance up to start_radius in a random direction, so "
     "more of the training is spent on the ridge (0: none); with staircase=1 they do not move "
     "the staircase; with drop, a dropped rat is dropped there"},
    {"start_radius", "3",
     "with start_far: the farthest start from the centre (m; below escape_distance)"},
    {"fall_grace", "0",
     "with fall_tilt below 180: how long (s) the torso may stay tipped past it before the "
     "episode ends, so a rat that rolls over can get up again (0: at once)"},
    {"heading", "0",
     RAT_HEADING_HELP("the way out: the direction from the centre through the root (straight "
                      "ahead at the centre)")},
    {"height_scan", "0",
     "the ground's height around the rat as an observation group 'height_scan' (0: none, the "
     "published observations): N rows ahead along the torso's heading, scan_width points each, "
     "the ground's z less the root's (m)"},
    {"scan_step", "0.1", "spacing of the height scan's rows and points (m)"},
    {"scan_width", "3", "points per row of the height scan, across the heading (odd)"},
    {"scan_back", "0",
     "how many of the height scan's rows lie behind: the rows run from (1 - scan_back) x "
     "scan_step to (height_scan - scan_back) x scan_step ahead of the root"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct bowl_cfg {
  rat_body rat;  // first (rat_common.h)
  int n_terrains, terrain_seed, terrain_mocap[MAX_TERRAINS], tiles_mocap[MAX_TERRAINS];
  int cubic;  // bumps=cubic (1) or linear (0)
  double escape_distance, height[MAX_TERRAINS];  // height: per terrain
  // per terrain (bind): the heightfield's top (m), height x the bowl's peak (bowl_bank)
  double elev[MAX_TERRAINS];
  double start_z[MAX_TERRAINS];  // per terrain: the highest ground within START_R of the centre (m)
  int escape_end, episode_steps;  // episode_steps: from episode_time (bind)
  int staircase;                  // 1: each env's terrain follows its escapes (bowl_reset)
  double stair_top;               // share of a staircase's episodes on the last terrain
  double episode_time;
  double fall_cos;  // the fall limit's cosine (-2: never, the published task)
  double fall_grace, drop, drop_time;
  double start_far, start_radius;  // the share of episodes started off the centre, and how far
  int grace_steps, drop_steps;  // fall_grace and drop_time in control steps (bind)
  // the height scan (rat.own[1] holds its size): rows, points per row, rows behind, spacing (m)
  int scan_rows, scan_width, scan_back;
  double scan_step;
  const float* hf[MAX_TERRAINS];  // each bowl's elevations in [0, 1] of elev, in the model (bind)
  // the rays (bind): each bowl's whole-field geom, the first tile geom (hidden from MuJoCo's rays
  // in the single task's model variant: bowl_hide_tiles), and the rangefinders
  int field_geom[MAX_TERRAINS], tile_geom;
  rat_rays rays;
} bowl_cfg;

typedef struct bowl_state {
  amt_opt_state opt;  // first (task_opts.h)
  int escaped;
  int tipped;  // control steps in a row with the torso past the fall limit
  int armed;   // the torso has been within the fall limit (at once unless dropped)
  // persist across episodes (the staircase): this env's terrain, whether it has had an episode,
  // and whether that episode was set aside from it (stair_top's or dropped: they do not move it)
  int level, episodes, aside;
} bowl_state;

enum { EV_ESCAPED, EV_FALL };

//---------------------------------- hooks ---------------------------------------------------------

static void bowl_park(const void* cfg, mjData* d) {
  const bowl_cfg* c = cfg;
  for (int k = 0; k < c->n_terrains; k++) {
    rat_park(d, c->terrain_mocap[k]);
    rat_park(d, c->tiles_mocap[k]);
  }
}

// The bowl in the scene: the one not parked.
static int raised_bowl(const bowl_cfg* c, const mjData* d) {
  int k = 0;
  while (k < c->n_terrains - 1 && d->mocap_pos[3 * c->terrain_mocap[k] + 2] < RAT_PARK_Z / 2) k++;
  return k;
}

// Distance along v from p to the triangle (a, b, c), edges included; -1: none (or behind p).
static double ray_triangle(const double p[3], const double v[3], const double a[3],
                           const double b[3], const double c[3]) {
  const double eps = 1e-12;
  double e1[3], e2[3], s[3], h[3], q[3];
  for (int i = 0; i < 3; i++) e1[i] = b[i] - a[i], e2[i] = c[i] - a[i], s[i] = p[i] - a[i];
  mju_cross(h, v, e2);
  double det = mju_dot3(e1, h);
  if (fabs(det) < 1e-15) return -1;  // parallel to the triangle's plane
  double u = mju_dot3(s, h) / det;
  if (u < -eps || u > 1 + eps) return -1;
  mju_cross(q, s, e1);
  double w = mju_dot3(v, q) / det;
  if (w < -eps || u + w > 1 + eps) return -1;
  double t = mju_dot3(e2, q) / det;
  return t >= 0 ? t : -1;
}

// Distance along vec from pnt to the surface of heightfield geom g (-1: none), as MuJoCo's mj_ray
// measures it: each cell split into two triangles along the diagonal from its lowest row and
// column, as MuJoCo 2.2 splits it. mj_ray also counts the sides of the field's box below the
// edge's profile and its base; a bowl's edges lie at z = 0 on the floor plane, so a ray meets
// those only below the plane, which it has met first (a ray that starts under the ground may read
// otherwise; test_escape_bowl_rays checks the edges). Only the cells under the ray's path are
// tested, walked in order from the ray's entry into the box (Amanatides and Woo's grid traversal),
// and the walk stops at the first cell with a hit: MuJoCo tests every cell in the path's bounding
// rectangle.
static double field_ray(const mjModel* m, const mjData* d, int g, const double* pnt,
                        const double* vec) {
  const int hid = m->geom_dataid[g], nrow = m->hfield_nrow[hid], ncol = m->hfield_ncol[hid];
  const double* size = m->hfield_size + 4 * hid;
  const float* data = m->hfield_data + m->hfield_adr[hid];
  const double *xp = d->geom_xpos + 3 * g, *xm = d->geom_xmat + 9 * g;
  double dp[3] = {pnt[0] - xp[0], pnt[1] - xp[1], pnt[2] - xp[2]}, p[3], v[3];
  mju_mulMatTVec(p, xm, dp, 3, 3);  // the ray in the geom's frame
  mju_mulMatTVec(v, xm, vec, 3, 3);
  // the box: x, y within the field's half-sizes, z from the base's bottom to the top
  const double lo[3] = {-size[0], -size[1], -size[3]}, hi[3] = {size[0], size[1], size[2]};
  double tin, tout;
  if (rat_ray_clip(p, v, lo, hi, 3, &tin, &tout)) return -1;
  const double dx = 2 * size[0] / (ncol - 1), dy = 2 * size[1] / (nrow - 1);
  // walk the cells from the ray's entry into the box
  const double cell[2] = {dx, dy};
  const int first[2] = {0, 0}, last[2] = {ncol - 2, nrow - 2};
  rat_walk w;
  rat_walk_start(&w, p, v, tin, lo, cell, first, last);
  double best = -1;
  for (;;) {
    const int c = w.cell[0], r = w.cell[1];
    double a[3] = {dx * c - size[0], dy * r - size[1], data[r * ncol + c] * size[2]};
    double b[3] = {dx * (c + 1) - size[0], dy * (r + 1) - size[1],
                   data[(r + 1) * ncol + c + 1] * size[2]};
    double e1[3] = {b[0], a[1], data[r * ncol + c + 1] * size[2]};
    double e2[3] = {a[0], b[1], data[(r + 1) * ncol + c] * size[2]};
    double t1 = ray_triangle(p, v, a, b, e1), t2 = ray_triangle(p, v, a, b, e2);
    if (t1 >= 0 && (best < 0 || t1 < best)) best = t1;
    if (t2 >= 0 && (best < 0 || t2 < best)) best = t2;
    double leave = fmin(rat_walk_exit(&w), tout);
    if (best >= 0 && best <= leave * (1 + 1e-12) + 1e-12) return best;
    if (leave >= tout) return best;
    int ax = rat_walk_next(&w);
    if (w.cell[ax] < first[ax] || w.cell[ax] > last[ax]) return best;
  }
}

// The cast against the bowl in the scene (rat_rays_merge; ctx: its whole-field geom's id).
static double bowl_cast(const void* ctx, const mjModel* m, const mjData* d, const double* pnt,
                        const double* vec, double bound) {
  (void)bound;  // the walk stops at the first cell with a hit
  return field_ray(m, d, *(const int*)ctx, pnt, vec);
}

// The rangefinders against the bowl, when MuJoCo's rays skipped its tiles (the single task's
// model variant): each one's reading as mj_ray would have read it with the tiles seen.
static void bowl_rays(const bowl_cfg* c, const mjModel* m, mjData* d) {
  if (m->geom_matid[c->tile_geom] >= 0 || m->geom_rgba[4 * c->tile_geom + 3] != 0) return;
  const int g = c->field_geom[raised_bowl(c, d)];
  rat_rays_merge(&c->rays, m, d, bowl_cast, &g);
}

// The single task's model variant (rat_part.hide): its tiles invisible, so MuJoCo's rays skip them
// and bowl_rays casts against the bowl. The physics is the model's (the tiles touch nothing).
static void bowl_hide_tiles(const void* cfg, mjModel* v) {
  const bowl_cfg* c = cfg;
  char nm[32];
  for (int k = 0; k < c->n_terrains; k++) {
    snprintf(nm, sizeof nm, "terrain%d_tiles", k);
    int b = mj_name2id(v, mjOBJ_BODY, nm);
    for (int g = v->body_geomadr[b]; g < v->body_geomadr[b] + v->body_geomnum[b]; g++) {
      v->geom_matid[g] = -1;
      v->geom_rgba[4 * g + 3] = 0;
    }
  }
}

// Contacts between the rat and anything else (the ground).
static int rat_contacts(const bowl_cfg* c, const mjModel* m, const mjData* d) {
  const int root = m->body_rootid[c->rat.torso];
  int n = 0;
  for (int i = 0; i < d->ncon; i++) {
    const int a = m->body_rootid[m->geom_bodyid[d->contact[i].geom1]] == root;
    const int b = m->body_rootid[m->geom_bodyid[d->contact[i].geom2]] == root;
    n += a != b;
  }
  return n;
}

// Raises the rat's root in 1 cm steps until the rat touches nothing (at most 1 m: the rat is about
// 0.2 m across), from where it falls.
static void raise_clear(const bowl_cfg* c, am_env* e) {
  mjtNum* z = e->d->qpos + c->rat.root_q + 2;
  for (int k = 0; k < 100; k++) {
    mj_forward(e->m, e->d);
    if (!rat_contacts(c, e->m, e->d)) break;
    *z += 0.01;
  }
}

// dm_control's Escape start: the root turned to a uniformly random orientation (a normalised
// 4-D normal draw), put at the ground's height z0 and raised until it touches nothing.
static void drop_rat(const bowl_cfg* c, am_env* e, double z0) {
  mjtNum* q = e->d->qpos + c->rat.root_q;
  double u[4], n2 = 0;
  for (int k = 0; k < 4; k++) {
    u[k] = am_rng_normal(&e->rng);
    n2 += u[k] * u[k];
  }
  const double n = sqrt(n2);
  for (int k = 0; k < 4; k++) q[3 + k] = u[k] / n;
  q[2] = z0;
  raise_clear(c, e);
}

static double ground_z(const bowl_cfg* c, int k, double x, double y);

// A start off the centre (start_far): a uniformly random distance in [0, start_radius] from the
// centre, in a uniformly random direction.
static void far_point(const bowl_cfg* c, am_env* e, double* x, double* y) {
  const double r = c->start_radius * am_rng_uniform(&e->rng);
  const double a = am_rng_range(&e->rng, -M_PI, M_PI);
  *x = r * cos(a);
  *y = r * sin(a);
}

static void bowl_reset(const void* cfg, void* state, am_env* e) {
  const bowl_cfg* c = cfg;
  bowl_state* s = state;
  // the staircase: one terrain up after an escape, one down after an episode without
  int level = s->level, episodes = s->episodes;
  if (c->staircase && episodes > 0 && !s->aside) {
    level += s->escaped ? 1 : -1;
    level = level < 0 ? 0 : level >= c->n_terrains ? c->n_terrains - 1 : level;
  }
  memset(s, 0, sizeof *s);
  s->level = level;
  s->episodes = episodes + 1;
  mjData* d = e->d;
  int pick = (int)(am_rng_uniform(&e->rng) * c->n_terrains);  // drawn either way: one RNG stream
  if (c->staircase) pick = level;
  // stair_top's episodes: a draw of their own, taken only when set (one RNG stream without it)
  if (c->staircase && c->stair_top > 0 && am_rng_uniform(&e->rng) < c->stair_top) {
    pick = c->n_terrains - 1;
    s->aside = 1;
  }
  for (int k = 0; k < c->n_terrains; k++)
    if (k == pick) {
      rat_set_mocap(d, c->terrain_mocap[k], 0, 0, 0);
      rat_set_mocap(d, c->tiles_mocap[k], 0, 0, 0);
    } else {
      rat_park(d, c->terrain_mocap[k]);
      rat_park(d, c->tiles_mocap[k]);
    }
  const double heading = am_rng_range(&e->rng, -M_PI, M_PI);
  // start_far's episodes: draws of their own, taken only when set (one RNG stream without it)
  const int far = c->start_far > 0 && am_rng_uniform(&e->rng) < c->start_far;
  double x = 0, y = 0, z0 = c->start_z[pick];
  if (far) {
    far_point(c, e, &x, &y);
    z0 = ground_z(c, pick, x, y);
  }
  rat_place(&c->rat, e, x, y, z0 + 0.02, heading);
  s->armed = 1;
  if (far) {
    raise_clear(c, e);
    s->aside = 1;
  }
  if (c->drop > 0 && am_rng_uniform(&e->rng) < c->drop) {  // a draw taken only when drop > 0
    drop_rat(c, e, z0);
    s->armed = 0;
    s->aside = 1;
  }
  mj_forward(e->m, d);
  bowl_rays(c, e->m, d);
}

static void bowl_evaluate(const void* cfg, void* state, am_env* e, am_step_result* r) {
  const bowl_cfg* c = cfg;
  bowl_state* s = state;
  bowl_rays(c, e->m, e->d);  // first: what the rat sees this step
  const mjData* d = e->d;
  double x = d->qpos[c->rat.root_q], y = d->qpos[c->rat.root_q + 1];
  double dist = sqrt(x * x + y * y);
  double esc = fmin(1, dist / c->escape_distance);
  double reward = rat_upright(d, c->rat.torso) * rat_upright(d, c->rat.pelvis) * esc;
  r->terms[1] = (float)esc;
  if (esc >= 1 && !s->escaped) {
    s->escaped = 1;
    r->events = 1u << EV_ESCAPED;
    if (c->escape_end) {  // the rest of the episode at the reward's maximum, 1 per step
      r->terminated = 1;
      if (e->step < c->episode_steps) reward += (double)(c->episode_steps - e->step);
    }
  }
  const int past = rat_fallen(&c->rat, d, c->fall_cos);
  if (!past) s->armed = 1;
  s->tipped = past ? s->tipped + 1 : 0;
  if (s->tipped > (s->armed ? c->grace_steps : c->drop_steps)) {
    r->terminated = 1;
    r->events |= 1u << EV_FALL;
  }
  r->terms[0] = (float)reward;  // the product; terms[1] is its escape factor
  r->reward = (float)reward;
}

// A square n x n grid g (row-major, y by row) at the fractional column bx and row by (both in
// [0, n - 1]), bilinearly interpolated.
static double bilinear(const float* g, int n, double bx, double by) {
  int ix = (int)bx, iy = (int)by;
  if (ix > n - 2) ix = n - 2;
  if (iy > n - 2) iy = n - 2;
  double fx = bx - ix, fy = by - iy;
  const float* h = g + (size_t)iy * n + ix;
  return (1 - fx) * (1 - fy) * h[0] + fx * (1 - fy) * h[1] + (1 - fx) * fy * h[n] +
         fx * fy * h[n + 1];
}

// The ground's z at (x, y) on bowl k raised at the origin: its elevations bilinearly interpolated
// (MuJoCo's triangles differ by at most a few mm on the 0.06 m grid), the plane z = 0 outside it.
static double ground_z(const bowl_cfg* c, int k, double x, double y) {
  const double cell = 2 * BOWL_SIZE / (BOWL_N - 1);
  double bx = (x + BOWL_SIZE) / cell, by = (y + BOWL_SIZE) / cell;
  if (!(bx >= 0 && by >= 0 && bx <= BOWL_N - 1 && by <= BOWL_N - 1)) return 0;
  return c->elev[k] * bilinear(c->hf[k], BOWL_N, bx, by);
}

// The height scan: row i at (i + 1 - scan_back) x scan_step along the torso's heading, point j
// at (j - (scan_width - 1) / 2) x scan_step to its left; the ground's z less the root's, on the
// bowl in the scene (the one not parked).
static void height_scan(const bowl_cfg* c, const mjData* d, float* g) {
  const int k = raised_bowl(c, d);
  const double x0 = d->qpos[c->rat.root_q], y0 = d->qpos[c->rat.root_q + 1];
  const double z0 = d->qpos[c->rat.root_q + 2], yaw = rat_yaw(&c->rat, d);
  const double cy = cos(yaw), sy = sin(yaw);
  for (int i = 0; i < c->scan_rows; i++)
    for (int j = 0; j < c->scan_width; j++) {
      double a = (i + 1 - c->scan_back) * c->scan_step;
      double b = (j - (c->scan_width - 1) / 2) * c->scan_step;
      *g++ = (float)(ground_z(c, k, x0 + a * cy - b * sy, y0 + a * sy + b * cy) - z0);
    }
}

// Task group: the direction to the centre in the torso frame (x, y) and the distance, in units of
// escape_distance. With heading the group "heading" follows it: the opposite direction, the way
// out; with height_scan, the group "height_scan" after those.
static void bowl_observe(const void* cfg, const void* state, const mjData* d, float* g) {
  const bowl_cfg* c = cfg;
  (void)state;
  double w[3], v[3];
  w[0] = -d->qpos[c->rat.root_q];
  w[1] = -d->qpos[c->rat.root_q + 1];
  w[2] = 0;
  rat_to_torso(&c->rat, d, w, v);
  g[0] = (float)(v[0] / c->escape_distance);
  g[1] = (float)(v[1] / c->escape_distance);
  g[2] = (float)(sqrt(w[0] * w[0] + w[1] * w[1]) / c->escape_distance);
  if (c->rat.own[0].size)  // the group "heading" follows the task group
    rat_heading_write(&c->rat, d, w[0] || w[1] ? atan2(-w[1], -w[0]) : rat_yaw(&c->rat, d), g + 3);
  if (c->rat.own[1].size) height_scan(c, d, g + 3 + c->rat.own[0].size);
}

// distance: from the root's recorded (float) x and y, as the variables root_x and root_y hold them
static void bowl_vars(const void* cfg, const void* state, const mjData* d, float* x) {
  const bowl_cfg* c = cfg;
  (void)state;
  float rx = (float)d->qpos[c->rat.root_q], ry = (float)d->qpos[c->rat.root_q + 1];
  x[0] = (float)sqrt(rx * rx + ry * ry);
}

//---------------------------------- construction --------------------------------------------------

// The bowls generated at creation: elevations in [0, 1] (row-major, y by row), each scaled by its
// bowl's peak (the heightfield's top is height x peak: MuJoCo takes the top to be 1), and each
// tile's lowest and highest point, which place and scale the rays' tiles.
typedef struct bowl_bank {
  float* h;  // n_terrains x BOWL_N x BOWL_N
  double peak[MAX_TERRAINS];  // the highest point over 1 (cubic bumps overshoot), else 1
  float tile_lo[MAX_TERRAINS][N_TILES], tile_hi[MAX_TERRAINS][N_TILES];
} bowl_bank;

// Turns the n samples c[0], c[s], ... c[(n - 1) s] (n >= 2) into the coefficients of the cubic
// B-spline that passes through them, the samples mirrored about the end ones beyond the ends
// (scipy.ndimage's 'mirror', which its zoom uses inside the grid): the recursive filter of Unser
// (1999, IEEE Signal Process. Mag. 16(6)), pole sqrt(3) - 2, with exact initial values.
static void bspline3_coeffs(double* c, int n, int s) {
  const double z = sqrt(3.0) - 2;
  for (int k = 0; k < n; k++) c[k * s] *= 6;  // the filter's gain, (1 - z)(1 - 1/z)
  // causal: c+[0] = sum of z^|k| over the mirrored signal, which repeats every 2n - 2 samples
  double zk = z, z2k = pow(z, n - 1), sum = c[0] + z2k * c[(n - 1) * s];
  z2k *= z2k / z;
  for (int k = 1; k <= n - 2; k++) {
    sum += (zk + z2k) * c[k * s];
    zk *= z;
    z2k /= z;
  }
  c[0] = sum / (1 - zk * zk);
  for (int k = 1; k < n; k++) c[k * s] += z * c[(k - 1) * s];
  // anti-causal
  c[(n - 1) * s] = z / (z * z - 1) * (c[(n - 1) * s] + z * c[(n - 2) * s]);
  for (int k = n - 2; k >= 0; k--) c[k * s] = z * (c[(k + 1) * s] - c[k * s]);
}

// Where sample j of an n-point axis falls on a grid of nb points laid corner to corner (point 0
// on 0, point n - 1 on nb - 1, as ndimage.zoom): the 4 grid points whose B-splines reach it
// (mirrored into the grid) and their weights.
static void bspline3_taps(int j, int n, int nb, int idx[4], double w[4]) {
  double u = (double)j * (nb - 1) / (n - 1);
  int i = (int)floor(u);
  if (i > nb - 2) i = nb - 2;
  double t = u - i, t2 = t * t, t3 = t2 * t;
  w[0] = (1 - 3 * t + 3 * t2 - t3) / 6;
  w[1] = (4 - 6 * t2 + 3 * t3) / 6;
  w[2] = (1 + 3 * t + 3 * t2 - 3 * t3) / 6;
  w[3] = t3 / 6;
  for (int q = 0; q < 4; q++) {
    int k = i - 1 + q;
    idx[q] = k < 0 ? -k : k > nb - 1 ? 2 * (nb - 1) - k : k;
  }
}

// The bumps U(0.5, 1) on an nb x nb grid spanning the field, as dm_control's Bowl makes them:
// nb = 60 points over 12 m (0.203 m apart), a cubic B-spline through them sampled at the field's
// n x n points (ndimage.zoom, order 3). Overshoots: about 0.41-1.12.
static int cubic_bumps(double* out, int n, am_rng* rng) {
  const int nb = 60;
  double* c = malloc(sizeof(double) * nb * nb);
  if (!c) return -1;
  for (int i = 0; i < nb * nb; i++) c[i] = am_rng_range(rng, 0.5, 1.0);
  for (int r = 0; r < nb; r++) bspline3_coeffs(c + r * nb, nb, 1);
  for (int col = 0; col < nb; col++) bspline3_coeffs(c + col, nb, nb);
  for (int r = 0; r < n; r++) {
    int ir[4], ic[4];
    double wr[4], wc[4];
    bspline3_taps(r, n, nb, ir, wr);
    for (int col = 0; col < n; col++) {
      bspline3_taps(col, n, nb, ic, wc);
      double v = 0;
      for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) v += wr[a] * wc[b] * c[ir[a] * nb + ic[b]];
      out[r * n + col] = v;
    }
  }
  free(c);
  return 0;
}

// Bowl elevation (1 at the ridge's average bump): 0.5 - cos(2 pi r)/2 for r = distance / size
// clipped to [0.1, 1] (the arena of Merel et al. 2020, dm_control's Bowl: a ring ridge at r = 0.5
// falling back to 0 at the field's edge, r = 1, and beyond), times the bumps: cubic_bumps, or
// (linear) U(0.5, 1) on a 0.2 m grid from the field's corner, bilinearly interpolated.
static int make_bowl(float* h, int n, double size, int cubic, am_rng* rng) {
  // cubic: the bumps at the field's n x n points; linear: the nb x nb grid they blend
  const int nb = (int)(2 * size / 0.2) + 2;
  double* bumps = cubic ? malloc(sizeof(double) * (size_t)n * (size_t)n) : NULL;
  float* grid = cubic ? NULL : malloc(sizeof(float) * (size_t)nb * (size_t)nb);
  if (cubic ? !bumps || cubic_bumps(bumps, n, rng) : !grid) {
    free(bumps);
    free(grid);
    return -1;
  }
  if (!cubic)
    for (int i = 0; i < nb * nb; i++) grid[i] = (float)am_rng_range(rng, 0.5, 1.0);
  for (int r = 0; r < n; r++)
    for (int col = 0; col < n; col++) {
      double x = -size + 2 * size * col / (n - 1), y = -size + 2 * size * r / (n - 1);
      double rad = fmin(fmax(sqrt(x * x + y * y) / size, 0.1), 1);
      double prof = 0.5 - cos(2 * M_PI * rad) / 2;
      double bump = cubic ? bumps[r * n + col]
                          : bilinear(grid, nb, (x + size) / 0.2, (y + size) / 0.2);
      h[r * n + col] = (float)(prof * bump);
    }
  free(bumps);
  free(grid);
  return 0;
}

// Generates bowl k from (terrain_seed, k), scales it to its peak, and finds the bounds of its
// tiles. Returns 0 or -1 (memory).
static int make_bank(bowl_bank* b, int n_terrains, int terrain_seed, int cubic) {
  const int NB = BOWL_N;
  b->h = malloc(sizeof(float) * (size_t)n_terrains * NB * NB);
  if (!b->h) return -1;
  for (int k = 0; k < n_terrains; k++) {
    am_rng rng;
    am_rng_seed(&rng, (uint64_t)terrain_seed, (uint64_t)k);
    float* bowl = b->h + (size_t)k * NB * NB;
    if (make_bowl(bowl, NB, BOWL_SIZE, cubic, &rng)) return -1;
    float top = 1;
    for (int i = 0; i < NB * NB; i++) top = bowl[i] > top ? bowl[i] : top;
    b->peak[k] = top;
    if (top > 1)
      for (int i = 0; i < NB * NB; i++) bowl[i] /= top;
    for (int ti = 0; ti < N_TILES; ti++) {
      int r0 = ti / BOWL_TILES * TILE_N, c0 = ti % BOWL_TILES * TILE_N;
      float lo = 2, hi = -1;
      for (int r = r0; r <= r0 + TILE_N; r++)
        for (int cc = c0; cc <= c0 + TILE_N; cc++) {
          float v = bowl[(size_t)r * NB + cc];
          lo = v < lo ? v : lo;
          hi = v > hi ? v : hi;
        }
      b->tile_lo[k][ti] = lo;
      b->tile_hi[k][ti] = hi;
    }
  }
  return 0;
}

// The top of bowl k's heightfield (m): its height times its peak.
static double bowl_top(const bowl_cfg* c, const bowl_bank* b, int k) {
  return c->height[k] * b->peak[k];
}

// The arena: the ground plane at z = 0 (beyond the bowls' square; inside it every bowl lies on or
// above it) and each bowl twice, on two mocap bodies that move together.
// terrain<k>: the whole heightfield, which the rat collides with, made invisible (alpha 0, no
// material) so that rangefinders skip it. terrain<k>_tiles: the same surface cut into
// BOWL_TILES^2 tiles that collide with nothing and are what rays (and the viewer) see. MuJoCo
// 2.2's ray-heightfield test checks every triangle in the bounding rectangle of the ray's path
// through the field's bounding box [0, max height], so a ray across the whole bowl tested up to
// 80,000 triangles (80 % of the task's time); a tile is offset to its lowest point and scaled to
// its own height range, so a ray only searches the tiles whose height band it passes through, over
// the tile's rectangle. Tiles share their edge rows and each one's base reaches BOWL_BASE below
// the field's zero, so the surface and the solid below it are the whole field's: a ray from above
// the ground reads the same distance (to float rounding; one starting inside the ground may not).
static void build_arena(const bowl_cfg* c, const bowl_bank* b, rat_sbuf* a, int movable) {
  rat_add_floor(a, 10.0, 0, movable ? "escape-bowl" : NULL);
  const double half = BOWL_SIZE / BOWL_TILES;
  for (int k = 0; k < c->n_terrains; k++) {
    rat_sb_add(a, "<body name=\"terrain%d\" mocap=\"true\" pos=\"0 0 %g\"><geom name=\"terrain%d\" "
                  "type=\"hfield\" hfield=\"bowl%d\" rgba=\"0 0 0 0\" contype=\"0\" "
                  "conaffinity=\"1\"/></body>", k, RAT_PARK_Z, k, k);
    // (massless like terrain<k>; explicit because the compiler cannot place a centre of mass
    // among massless offset geoms)
    rat_sb_add(a, "<body name=\"terrain%d_tiles\" mocap=\"true\" pos=\"0 0 %g\"><inertial "
                  "pos=\"0 0 0\" mass=\"0\" diaginertia=\"0 0 0\"/>", k, RAT_PARK_Z);
    for (int ti = 0; ti < N_TILES; ti++) {
      double lo = bowl_top(c, b, k) * b->tile_lo[k][ti];
      double x = -BOWL_SIZE + (2 * (ti % BOWL_TILES) + 1) * half;
      double y = -BOWL_SIZE + (2 * (ti / BOWL_TILES) + 1) * half;
      rat_sb_add(a, "<geom type=\"hfield\" hfield=\"bowl%d_%d\" pos=\"%.17g %.17g %.17g\" "
                    "material=\"bowlgrid\" contype=\"0\" conaffinity=\"0\"/>", k, ti, x, y, lo);
    }
    rat_sb_add(a, "</body>");
  }
}

// The assets (the tiles' material, the bowls' and tiles' hfields) and contact exclusions, placed
// right after <mujoco ...>.
static void build_prelude(const bowl_cfg* c, const bowl_bank* b, rat_sbuf* h) {
  rat_sb_add(h, "<asset>");
  rat_sb_add(h, "<material name=\"bowlgrid\" texture=\"grid\" texrepeat=\"%g %g\" "
                "reflectance=\"0.05\"/>", 40.0 / BOWL_TILES, 40.0 / BOWL_TILES);
  for (int k = 0; k < c->n_terrains; k++) {
    rat_sb_add(h, "<hfield name=\"bowl%d\" nrow=\"%d\" ncol=\"%d\" size=\"%g %g %.17g %g\"/>", k,
               BOWL_N, BOWL_N, BOWL_SIZE, BOWL_SIZE, bowl_top(c, b, k), BOWL_BASE);
    // a tile: offset to its lowest point, elevation range its own, base down to the bowl's
    for (int ti = 0; ti < N_TILES; ti++) {
      double top = bowl_top(c, b, k), lo = top * b->tile_lo[k][ti], hi = top * b->tile_hi[k][ti];
      rat_sb_add(h, "<hfield name=\"bowl%d_%d\" nrow=\"%d\" ncol=\"%d\" size=\"%.17g %.17g "
                    "%.17g %.17g\"/>", k, ti, TILE_N + 1, TILE_N + 1, BOWL_SIZE / BOWL_TILES,
                 BOWL_SIZE / BOWL_TILES, hi - lo > 1e-4 ? hi - lo : 1e-4, lo + BOWL_BASE);
    }
  }
  // The tiles collide with nothing, but MuJoCo's broadphase pairs every body with the world's
  // geoms and with any body holding a heightfield, then tests those pairs geom by geom:
  // excluding the tile bodies from those pairs skips the tiles at once.
  rat_sb_add(h, "</asset><contact>");
  for (int k = 0; k < c->n_terrains; k++) {
    rat_sb_add(h, "<exclude body1=\"world\" body2=\"terrain%d_tiles\"/>", k);
    for (int j = 0; j < c->n_terrains; j++)
      rat_sb_add(h, "<exclude body1=\"terrain%d\" body2=\"terrain%d_tiles\"/>", j, k);
  }
  rat_sb_add(h, "</contact>");
}

// Writes the elevations into the model: bowl<k>'s data is the bowl (x height is metres), which the
// height scan reads (c->hf); a tile's data is its part of that, less its lowest point (its geom's
// z), over its own height range.
static void fill_hfields(mjModel* m, bowl_cfg* c, const bowl_bank* b) {
  const int NB = BOWL_N, TN = TILE_N;
  char nm[32];
  for (int k = 0; k < c->n_terrains; k++) {
    const float* bowl = b->h + (size_t)k * NB * NB;
    c->elev[k] = bowl_top(c, b, k);
    snprintf(nm, sizeof nm, "bowl%d", k);
    int hf = mj_name2id(m, mjOBJ_HFIELD, nm);
    memcpy(m->hfield_data + m->hfield_adr[hf], bowl, sizeof(float) * (size_t)NB * NB);
    c->hf[k] = m->hfield_data + m->hfield_adr[hf];
    for (int ti = 0; ti < N_TILES; ti++) {
      snprintf(nm, sizeof nm, "bowl%d_%d", k, ti);
      hf = mj_name2id(m, mjOBJ_HFIELD, nm);
      const double lo = c->elev[k] * b->tile_lo[k][ti];
      const double range = m->hfield_size[4 * hf + 2];
      float* td = m->hfield_data + m->hfield_adr[hf];
      int r0 = ti / BOWL_TILES * TN, c0 = ti % BOWL_TILES * TN;
      for (int r = 0; r <= TN; r++)
        for (int cc = 0; cc <= TN; cc++)
          td[r * (TN + 1) + cc] =
              (float)((c->elev[k] * bowl[(size_t)(r0 + r) * NB + c0 + cc] - lo) / range);
    }
  }
}

static int bowl_read(const amt_info* info, const amt_params* params, void* cfg, char* err,
                     size_t err_sz) {
  bowl_cfg* c = cfg;
  int nh = 0;
  if (amt_param_int(info, params, "terrains", &c->n_terrains, err, err_sz) ||
      amt_param_bool(info, params, "escape_end", &c->escape_end, err, err_sz) ||
      amt_param_bool(info, params, "staircase", &c->staircase, err, err_sz) ||
      amt_param_double(info, params, "stair_top", &c->stair_top, err, err_sz) ||
      amt_param_double(info, params, "episode_time", &c->episode_time, err, err_sz) ||
      amt_param_int(info, params, "terrain_seed", &c->terrain_seed, err, err_sz) ||
      amt_param_double(info, params, "escape_distance", &c->escape_distance, err, err_sz) ||
      amt_param_list(info, params, "height", c->height, MAX_TERRAINS, &nh, err, err_sz) ||
      rat_read_fall_tilt(info, params, &c->fall_cos, err, err_sz) ||
      amt_param_double(info, params, "fall_grace", &c->fall_grace, err, err_sz) ||
      amt_param_double(info, params, "drop", &c->drop, err, err_sz) ||
      amt_param_double(info, params, "drop_time", &c->drop_time, err, err_sz) ||
      amt_param_double(info, params, "start_far", &c->start_far, err, err_sz) ||
      amt_param_double(info, params, "start_radius", &c->start_radius, err, err_sz) ||
      rat_read_heading(info, params, "heading", 0, &c->rat, err, err_sz) ||
      amt_param_int(info, params, "height_scan", &c->scan_rows, err, err_sz) ||
      amt_param_int(info, params, "scan_width", &c->scan_width, err, err_sz) ||
      amt_param_int(info, params, "scan_back", &c->scan_back, err, err_sz) ||
      amt_param_double(info, params, "scan_step", &c->scan_step, err, err_sz))
    return -1;
  const char* bumps = amt_param_get(info, params, "bumps");
  c->cubic = !strcmp(bumps, "cubic");
  if (!c->cubic && strcmp(bumps, "linear"))
    return am_err(err, err_sz, "task %s: parameter bumps: '%s' must be cubic or linear",
                  info->name, bumps);
  if (c->scan_width < 1 || c->scan_width % 2 == 0 || c->scan_width > 9)
    return am_err(err, err_sz, "task %s: parameter scan_width: must be odd, 1-9 (got %d)",
                  info->name, c->scan_width);
  if (c->scan_rows < 0 || c->scan_rows * c->scan_width > 64)
    return am_err(err, err_sz, "task %s: parameter height_scan: %d rows of %d points: must be 0 "
                  "to 64 values", info->name, c->scan_rows, c->scan_width);
  if (c->scan_back < 0 || c->scan_back > c->scan_rows)
    return am_err(err, err_sz, "task %s: parameter scan_back: must be 0 to height_scan (%d) "
                  "(got %d)", info->name, c->scan_rows, c->scan_back);
  if (!(c->scan_step > 0 && c->scan_step <= 1))
    return am_err(err, err_sz, "task %s: parameter scan_step: must be in (0, 1] m (got %g)",
                  info->name, c->scan_step);
  c->rat.own[1] = (rat_group){"height_scan", c->scan_rows * c->scan_width, "height_scan"};
  if (c->n_terrains < 1 || c->n_terrains > MAX_TERRAINS)
    return am_err(err, err_sz, "task %s: parameter terrains: '%d' must be in [1, %d]", info->name,
                  c->n_terrains, MAX_TERRAINS);
  if (!(c->stair_top >= 0 && c->stair_top < 1))
    return am_err(err, err_sz, "task %s: parameter stair_top: '%g' must be in [0, 1)", info->name,
                  c->stair_top);
  if (nh != 1 && nh != c->n_terrains)
    return am_err(err, err_sz, "task %s: parameter height: %d values for %d terrains (give one, "
                  "or one per terrain)", info->name, nh, c->n_terrains);
  for (int k = 0; k < c->n_terrains; k++) {
    if (nh == 1) c->height[k] = c->height[0];
    if (!(c->height[k] > 0 && c->height[k] <= 2))
      return am_err(err, err_sz, "task %s: parameter height: '%g' must be in (0, 2] m",
                    info->name, c->height[k]);
  }
  if (!(c->drop >= 0 && c->drop <= 1))
    return am_err(err, err_sz, "task %s: parameter drop: '%g' must be in [0, 1]", info->name,
                  c->drop);
  if (!(c->start_far >= 0 && c->start_far <= 1))
    return am_err(err, err_sz, "task %s: parameter start_far: '%g' must be in [0, 1]", info->name,
                  c->start_far);
  if (!(c->drop_time >= 0 && c->drop_time <= 60))
    return am_err(err, err_sz, "task %s: parameter drop_time: '%g' must be in [0, 60] s",
                  info->name, c->drop_time);
  if (!(c->fall_grace >= 0 && c->fall_grace <= 60))
    return am_err(err, err_sz, "task %s: parameter fall_grace: '%g' must be in [0, 60] s",
                  info->name, c->fall_grace);
  if (!(c->escape_distance > 0))
    return am_err(err, err_sz, "task %s: parameter escape_distance: '%g' must be > 0", info->name,
                  c->escape_distance);
  if (!(c->start_radius >= 0 && c->start_radius <= BOWL_SIZE &&
        (c->start_far == 0 || c->start_radius < c->escape_distance)))  // else: escaped at once
    return am_err(err, err_sz, "task %s: parameter start_radius: '%g' must be in [0, %g] m and "
                  "below escape_distance (%g m)", info->name, c->start_radius, BOWL_SIZE,
                  c->escape_distance);
  return 0;
}

// The bowls come first: the rays' tiles are placed by their lowest and highest points. The bank
// is generated again by bowl_bind (from terrain_seed: the same bowls) to fill the heightfields.
static int bowl_build(const void* cfg, rat_sbuf* prelude, rat_sbuf* arena, int movable) {
  const bowl_cfg* c = cfg;
  bowl_bank bank;
  if (make_bank(&bank, c->n_terrains, c->terrain_seed, c->cubic)) {
    free(bank.h);
    return -1;
  }
  build_prelude(c, &bank, prelude);
  build_arena(c, &bank, arena, movable);
  free(bank.h);
  return prelude->oom || arena->oom;
}

static int bowl_bind(void* cfg, mjModel* m, char* err, size_t err_sz) {
  bowl_cfg* c = cfg;
  c->episode_steps = rat_episode_steps(c->episode_time, c->rat.dt);
  c->grace_steps = (int)lround(c->fall_grace / c->rat.dt);
  c->drop_steps = (int)lround(c->drop_time / c->rat.dt);
  bowl_bank bank;
  if (make_bank(&bank, c->n_terrains, c->terrain_seed, c->cubic)) {
    free(bank.h);
    return am_err(err, err_sz, "out of memory");
  }
  fill_hfields(m, c, &bank);
  for (int k = 0; k < c->n_terrains; k++) {  // the highest ground near the centre
    const float* h = bank.h + (size_t)k * BOWL_N * BOWL_N;
    double top = 0, cell = 2 * BOWL_SIZE / (BOWL_N - 1);
    int mid = BOWL_N / 2, reach = (int)(START_R / cell) + 1;
    for (int r = mid - reach; r <= mid + reach; r++)
      for (int cc = mid - reach; cc <= mid + reach; cc++)
        top = fmax(top, h[(size_t)r * BOWL_N + cc]);
    c->start_z[k] = c->elev[k] * top;
  }
  free(bank.h);
  for (int k = 0; k < c->n_terrains; k++) {
    c->terrain_mocap[k] = rat_mocap_id(m, "terrain%d", k);
    c->tiles_mocap[k] = rat_mocap_id(m, "terrain%d_tiles", k);
    char nm[32];
    snprintf(nm, sizeof nm, "terrain%d", k);
    c->field_geom[k] = m->body_geomadr[mj_name2id(m, mjOBJ_BODY, nm)];
  }
  c->tile_geom = m->body_geomadr[mj_name2id(m, mjOBJ_BODY, "terrain0_tiles")];
  if (rat_rays_find(m, &c->rays, "escape-bowl", err, err_sz)) return -1;
  return 0;
}

static const char* const bowl_terms[] = {"upright_x_escape", "escape"};
static const char* const bowl_events[] = {"escaped", "fall"};
static const char* const bowl_vars_names[] = {"distance"};

const rat_part rat_bowl_part = {
    .name = "escape-bowl", .cfg_size = sizeof(bowl_cfg), .state_size = sizeof(bowl_state),
    .task_size = 3, .n_terms = 2, .n_events = 2, .n_vars = 1, .term_names = bowl_terms,
    .event_names = bowl_events, .var_names = bowl_vars_names,
    .trial_start = -1, .success = EV_ESCAPED, .trial_end = -1,  // one attempt per episode
    .read = bowl_read, .build = bowl_build, .bind = bowl_bind, .reset = bowl_reset,
    .evaluate = bowl_evaluate, .observe = bowl_observe, .vars = bowl_vars, .park = bowl_park,
    .hide = bowl_hide_tiles};

int amt_escape_bowl_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return rat_part_create(t, &rat_bowl_part, params, err, err_sz);
}
