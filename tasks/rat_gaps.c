// rat_gaps.c: the task "run-gaps" (Merel et al. 2020): the rat runs along a corridor of platforms
// and gaps, redrawn per episode, and the episode ends when a paw falls below fall_depth (or, with
// the run task's fall_tilt shaping, when the torso tips over). The reward is run's (rat_common.h).
//
// The course (platforms and gaps to x = 40 m) is drawn in reset and kept in the env's task state;
// the scene holds only the platforms from SHOW_BEHIND behind the rat's root to SHOW_AHEAD ahead of
// it, on a ring of mocap slots (two overlapping 0.4 m boxes each) that follows the rat: every body
// in the scene costs physics time, and the whole course is ~160 boxes. Unused slots are parked
// (rat_common.h). The task is a rat_part (rat_common.h), which the
// composite rat-multi also holds. docs/tasks.md describes the task for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

#define MAX_COURSE 150    // platforms in a course (34 m of the shortest platforms and gaps: < 90)
#define SHOW_BEHIND 2.0   // m of course in the scene behind the rat's root
#define SHOW_AHEAD 10.0   // and ahead of it

// The published corridor (dm_control's GapsCorridor, corridor_length 40, corridor_width 2): a
// solid start from x = 0 to 6 m (the rat starts at 5 m), platforms from there to past 40 m, and
// the bounds of its EmptyCorridor: planes 1 m either side of the centre line and across the ends,
// 2 m beyond the course (x = -2 and 42 m), invisible as published (alpha 0: the rangefinders, like
// the published camera, do not see them; MuJoCo's rays skip such geoms).
#define START_END 6.0     // the solid start runs from 0 to here (m)
#define COURSE_END 40.0   // platforms start up to here
#define BOUND_PAD 2.0     // the end planes stand this far beyond 0 and COURSE_END

const amt_param_def amt_run_gaps_params[] = {
    {"episode_time", "30", "episode length (s)"},
    RAT_RUN_PARAMS("0", "0", "180"),
    {"platform_length", "0.4,0.8", "platform length range (m)"},
    {"gap_length", "0.05,0.2", "gap length range (m)"},
    {"fall_depth", "-0.3", "the episode ends (terminated) when a paw is below this z (m)"},
    {"curriculum", "0",
     "training curriculum (0: off): over an env's first N control steps the gap range moves "
     "linearly from gap_start to gap_length (record with curriculum=0)"},
    {"gap_start", "0.02,0.05", "gap length range at the curriculum's or staircase's start (m)"},
    {"staircase", "0",
     "training staircase (0: off; not with curriculum): each env's gap range sits at a point "
     "from gap_start (0) to gap_length (1), starting at 0, up by stair_up for each gap crossed "
     "and down by stair_down for each fall (record with staircase=0)"},
    {"stair_up", "0.02", "the staircase's step up per gap crossed"},
    {"stair_down", "0.1", "the staircase's step down per fall"},
    {"scan", "0",
     "ground ahead as an observation group 'scan' of N values (0: none, the published "
     "observations): 1 where the point lies over solid ground, 0 over a gap, at scan_step, "
     "2 x scan_step, ... ahead of the torso along its heading"},
    {"scan_step", "0.05", "spacing of the scan's points (m)"},
    {"scan_back", "0",
     "how many of the scan's points lie behind: the points run from (1 - scan_back) x scan_step "
     "(the hind legs' ground with scan_back > 1) to (scan - scan_back) x scan_step"},
    {"heading", "0", RAT_HEADING_HELP("the corridor's direction (+x)")},
    {"gap_reward", "0",
     "shaping: reward added for each gap crossed (the root passing a gap's end), in the speed term "
     "(0: the published reward)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct gaps_cfg {
  rat_body rat;  // first (rat_common.h)
  rat_run_reward run;                  // the published speed reward by default (no shaping)
  double plat[2], gap[2], fall_depth;  // platform and gap length ranges (m), fall depth (m)
  double gap_start[2];                 // the gap range at the curriculum's start (m)
  int curriculum;                      // env control steps over which it moves to gap (0: off)
  int staircase;                       // 1: each env's gap range follows its crossings and falls
  double stair_up, stair_down;         // the staircase's steps (fractions of the range)
  double scan_step;                    // m between the scan's points (rat.own[0].size of them)
  int scan_back;                       // points at or behind the root: from (1 - scan_back) x step
  double gap_reward;                   // shaping: added per gap crossed (0: published)
  int n_slots;                         // platforms in the scene (two mocap halves each)
  int plat_mocap[2 * MAX_COURSE];
} gaps_cfg;

typedef struct gaps_state {
  amt_opt_state opt;  // first (task_opts.h)
  double gap_end[MAX_COURSE];    // x where each gap ends, in order
  double gap_begin[MAX_COURSE];  // x where each gap begins (platform j: gap_end[j-1] to here)
  int n_gaps, next_gap;          // next_gap: gaps crossed so far
  int shown;                     // the first platform in the scene (-1: none placed yet)
  int64_t env_steps;  // control steps of this env (persists across episodes: the curriculum)
  double stair;       // this env's point on the staircase, 0-1 (persists across episodes)
} gaps_state;

enum { EV_GAP_CROSSED, EV_FALL };

static void gaps_park(const void* cfg, mjData* d) {
  const gaps_cfg* c = cfg;
  for (int k = 0; k < 2 * c->n_slots; k++) rat_park(d, c->plat_mocap[k]);
}

// The first index i < n with a[i] > x (a ascending), n when none.
static int first_above(const double* a, int n, double x) {
  int lo = 0, hi = n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Puts the platforms near x (the rat's root) in the scene: from the first one ending past
// x - SHOW_BEHIND, n_slots of them (enough to reach SHOW_AHEAD past x, gaps_read), platform j in
// slot j mod n_slots; slots past the course's end are parked. Moves nothing when the first is
// unchanged.
static void gaps_show(const gaps_cfg* c, gaps_state* s, mjData* d, double x) {
  int first = first_above(s->gap_begin, s->n_gaps, x - SHOW_BEHIND);
  if (first == s->shown) return;
  s->shown = first;
  for (int j = first; j < first + c->n_slots; j++) {
    const int* half = c->plat_mocap + 2 * (j % c->n_slots);
    if (j >= s->n_gaps) {
      rat_park(d, half[0]);
      rat_park(d, half[1]);
      continue;
    }
    double x0 = j ? s->gap_end[j - 1] : START_END, x1 = s->gap_begin[j];
    rat_set_mocap(d, half[0], x0 + 0.2, 0, -0.25);
    rat_set_mocap(d, half[1], x1 - 0.2, 0, -0.25);
  }
}

static void gaps_reset(const void* cfg, void* state, am_env* e) {
  const gaps_cfg* c = cfg;
  gaps_state* s = state;
  int64_t steps = s->env_steps;
  double stair = s->stair;
  memset(s, 0, sizeof *s);
  s->env_steps = steps;
  s->stair = stair;
  // this episode's gap range: the curriculum's point, linear in the env's control steps, or the
  // staircase's
  double gap[2] = {c->gap[0], c->gap[1]}, f = 1;
  if (c->curriculum > 0 && steps < c->curriculum) f = (double)steps / c->curriculum;
  if (c->staircase) f = stair;
  if (f < 1)
    for (int i = 0; i < 2; i++) gap[i] = c->gap_start[i] + (c->gap[i] - c->gap_start[i]) * f;
  mjData* d = e->d;
  double x = START_END;  // platform j runs from x (the previous gap's end) for L, then gap j
  while (s->n_gaps < MAX_COURSE && x < COURSE_END) {
    double L = am_rng_range(&e->rng, c->plat[0], c->plat[1]);
    double g = am_rng_range(&e->rng, gap[0], gap[1]);
    s->gap_begin[s->n_gaps] = x + L;
    x += L + g;
    s->gap_end[s->n_gaps++] = x;
  }
  s->shown = -1;
  gaps_show(c, s, d, 5);
  rat_place(&c->rat, e, 5, 0, 0, 0);
  mj_forward(e->m, d);
}

static void gaps_evaluate(const void* cfg, void* state, am_env* e, am_step_result* r) {
  const gaps_cfg* c = cfg;
  gaps_state* s = state;
  const mjData* d = e->d;
  s->env_steps++;
  int fell;
  double reward = rat_run_reward_eval(&c->run, &c->rat, d, d->qvel[c->rat.root_v], &fell);
  uint32_t ev = 0;
  double x = d->qpos[c->rat.root_q];
  while (s->next_gap < s->n_gaps && x > s->gap_end[s->next_gap]) {
    s->next_gap++;
    ev |= 1u << EV_GAP_CROSSED;
    reward += c->gap_reward;
    if (c->staircase) s->stair = fmin(1, s->stair + c->stair_up);
  }
  gaps_show(c, s, e->d, x);
  for (int p = 0; p < 4 && !fell; p++) fell = d->site_xpos[3 * c->rat.paws[p] + 2] < c->fall_depth;
  if (fell) {
    r->terminated = 1;
    ev |= 1u << EV_FALL;
    if (c->staircase) s->stair = fmax(0, s->stair - c->stair_down);
  }
  r->terms[0] = (float)reward;
  r->reward = (float)reward;
  r->events = ev;
}

// 1 when x lies over solid ground: the start (0 to START_END) or a platform (outside every gap,
// before the last platform's end).
static int solid_at(const gaps_state* s, double x) {
  if (x < 0 || s->n_gaps == 0 || x > s->gap_begin[s->n_gaps - 1]) return x >= 0 && x <= START_END;
  int g = first_above(s->gap_end, s->n_gaps, x);  // the first gap ending after x
  return !(x > s->gap_begin[g] && x < s->gap_end[g]);
}

// Task group: the target speed. Then the groups "scan" (scan=N) and "heading" (heading=1: the
// corridor's direction, +x), when asked for.
static void gaps_observe(const void* cfg, const void* state, const mjData* d, float* g) {
  const gaps_cfg* c = cfg;
  const gaps_state* s = state;
  g[0] = (float)c->run.target_speed;
  const int n_scan = c->rat.own[0].size;
  if (n_scan > 0) {  // the group "scan" follows the task group
    double yaw = rat_yaw(&c->rat, d), x0 = d->qpos[c->rat.root_q];
    for (int k = 0; k < n_scan; k++)
      g[1 + k] = (float)solid_at(s, x0 + (k + 1 - c->scan_back) * c->scan_step * cos(yaw));
  }
  if (c->rat.own[1].size) rat_heading_write(&c->rat, d, 0, g + 1 + n_scan);  // then "heading"
}

static void gaps_vars(const void* cfg, const void* state, const mjData* d, float* x) {
  const gaps_state* s = state;
  (void)cfg, (void)d;
  x[0] = (float)s->next_gap;
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

// The run reward's keys, the ranges, the fall depth, and the platforms the scene holds: enough
// that those shown from the first ending past x - SHOW_BEHIND reach x + SHOW_AHEAD with the
// shortest platforms and gaps, and no more than the whole course (34 m) needs.
static int gaps_read(const amt_info* info, const amt_params* params, void* cfg, char* err,
                     size_t err_sz) {
  gaps_cfg* c = cfg;
  if (rat_read_run_reward(info, params, &c->run, err, err_sz)) return -1;
  if (range_param(info, params, "platform_length", c->plat, err, err_sz) ||
      range_param(info, params, "gap_length", c->gap, err, err_sz) ||
      range_param(info, params, "gap_start", c->gap_start, err, err_sz) ||
      amt_param_double(info, params, "fall_depth", &c->fall_depth, err, err_sz) ||
      amt_param_int(info, params, "curriculum", &c->curriculum, err, err_sz) ||
      amt_param_bool(info, params, "staircase", &c->staircase, err, err_sz) ||
      amt_param_double(info, params, "stair_up", &c->stair_up, err, err_sz) ||
      amt_param_double(info, params, "stair_down", &c->stair_down, err, err_sz) ||
      amt_param_int(info, params, "scan", &c->rat.own[0].size, err, err_sz) ||
      rat_read_heading(info, params, "heading", 1, &c->rat, err, err_sz) ||
      amt_param_double(info, params, "scan_step", &c->scan_step, err, err_sz) ||
      amt_param_int(info, params, "scan_back", &c->scan_back, err, err_sz) ||
      amt_param_double(info, params, "gap_reward", &c->gap_reward, err, err_sz))
    return -1;
  if (!(c->gap_reward >= 0 && c->gap_reward <= 1000))
    return am_err(err, err_sz, "task %s: parameter gap_reward: must be 0-1000 (got %g)",
                  info->name, c->gap_reward);
  if (c->rat.own[0].size < 0 || c->rat.own[0].size > 64)
    return am_err(err, err_sz, "task %s: parameter scan: must be 0-64 (got %d)", info->name,
                  c->rat.own[0].size);
  if (c->scan_back < 0 || c->scan_back > c->rat.own[0].size)
    return am_err(err, err_sz, "task %s: parameter scan_back: must be 0 to scan (%d) (got %d)",
                  info->name, c->rat.own[0].size, c->scan_back);
  c->rat.own[0].name = "scan";
  c->rat.own[0].param = "scan";
  if (!(c->scan_step > 0))
    return am_err(err, err_sz, "task %s: parameter scan_step: must be > 0 (got %g)", info->name,
                  c->scan_step);
  if (c->curriculum < 0)
    return am_err(err, err_sz, "task %s: parameter curriculum: must be >= 0 (got %d)", info->name,
                  c->curriculum);
  if (c->staircase && c->curriculum > 0)
    return am_err(err, err_sz, "task %s: parameters staircase and curriculum: set one of them",
                  info->name);
  if (!(c->stair_up >= 0 && c->stair_up <= 1) || !(c->stair_down >= 0 && c->stair_down <= 1))
    return am_err(err, err_sz, "task %s: parameters stair_up, stair_down: %g, %g must be in [0, 1]",
                  info->name, c->stair_up, c->stair_down);
  if (c->plat[0] < 0.4 || c->plat[1] > 0.8)
    return am_err(err, err_sz, "task %s: parameter platform_length: lengths must be within "
                  "[0.4, 0.8] m (platforms are two 0.4 m boxes)", info->name);
  int ramp = c->curriculum > 0 || c->staircase;
  double gap_min = ramp && c->gap_start[0] < c->gap[0] ? c->gap_start[0] : c->gap[0];
  double step = c->plat[0] + gap_min;
  int window = (int)ceil((SHOW_BEHIND + SHOW_AHEAD + c->plat[1]) / step) + 1;
  int course = (int)((COURSE_END - START_END) / step) + 2;
  c->n_slots = window < course ? window : course;
  return 0;
}

// The corridor's bounds: name, centre, orientation (MJCF xyaxes: the plane's normal, x cross y,
// points into the corridor) and half-size as drawn.
static const struct {
  const char* name;
  double pos[3];
  const char* xyaxes;
  double size[2];
} bounds[] = {
    {"left", {COURSE_END / 2, 1, 2}, "1 0 0 0 0 1", {COURSE_END / 2 + BOUND_PAD, 2}},
    {"right", {COURSE_END / 2, -1, 2}, "-1 0 0 0 0 1", {COURSE_END / 2 + BOUND_PAD, 2}},
    {"near", {-BOUND_PAD, 0, 2}, "0 1 0 0 0 1", {1, 2}},
    {"far", {COURSE_END + BOUND_PAD, 0, 2}, "0 -1 0 0 0 1", {1, 2}},
};

// The corridor: the floor out of the way, the solid start, the bounds, and the platform halves,
// all parked at first. In a composite (movable) the start and each bound are fixed pieces (mocap
// bodies "run-gaps.*", the bound's orientation on its body so that parking it turns it face up).
static int gaps_build(const void* cfg, rat_sbuf* prelude, rat_sbuf* a, int movable) {
  const gaps_cfg* c = cfg;
  (void)prelude;
  rat_add_floor(a, 5.0, 1, movable ? "run-gaps" : NULL);
  const double h = START_END / 2;  // the start block's half-length and centre
  if (movable)
    rat_sb_add(a, "<body name=\"run-gaps.start\" mocap=\"true\" pos=\"%g 0 -0.25\"><geom "
                  "name=\"start\" type=\"box\" size=\"%g 1 0.25\" material=\"grid\" "
                  "contype=\"0\" conaffinity=\"1\"/></body>", h, h);
  else
    rat_sb_add(a, "<geom name=\"start\" type=\"box\" pos=\"%g 0 -0.25\" size=\"%g 1 0.25\" "
                  "material=\"grid\" contype=\"0\" conaffinity=\"1\"/>", h, h);
  for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
    const double* p = bounds[k].pos;
    char geom[160];
    snprintf(geom, sizeof geom, "name=\"bound_%s\" type=\"plane\" size=\"%g %g 1\" "
             "rgba=\"0 0 0 0\" contype=\"0\" conaffinity=\"1\"", bounds[k].name,
             bounds[k].size[0], bounds[k].size[1]);
    if (movable)
      rat_sb_add(a, "<body name=\"run-gaps.%s\" mocap=\"true\" pos=\"%g %g %g\" xyaxes=\"%s\">"
                    "<geom %s/></body>", bounds[k].name, p[0], p[1], p[2], bounds[k].xyaxes, geom);
    else
      rat_sb_add(a, "<geom %s pos=\"%g %g %g\" xyaxes=\"%s\"/>", geom, p[0], p[1], p[2],
                 bounds[k].xyaxes);
  }
  for (int k = 0; k < 2 * c->n_slots; k++)
    rat_sb_add(a, "<body name=\"plat%d\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"box\" "
                  "size=\"0.2 1 0.25\" rgba=\"0.6 0.62 0.66 1\" contype=\"0\" conaffinity=\"1\"/>"
                  "</body>", k, RAT_PARK_Z);
  return a->oom;
}

static int gaps_bind(void* cfg, mjModel* m, char* err, size_t err_sz) {
  gaps_cfg* c = cfg;
  (void)err, (void)err_sz;
  for (int k = 0; k < 2 * c->n_slots; k++) c->plat_mocap[k] = rat_mocap_id(m, "plat%d", k);
  return 0;
}

static const char* const gaps_terms[] = {"speed"};
static const char* const gaps_events[] = {"gap_crossed", "fall"};
static const char* const gaps_vars_names[] = {"gaps_crossed"};

const rat_part rat_gaps_part = {
    .name = "run-gaps", .cfg_size = sizeof(gaps_cfg), .state_size = sizeof(gaps_state),
    .task_size = 1, .n_terms = 1, .n_events = 2, .n_vars = 1, .term_names = gaps_terms,
    .event_names = gaps_events, .var_names = gaps_vars_names,
    .trial_start = -1, .success = -1, .trial_end = -1,  // no trials, no goal
    .read = gaps_read, .build = gaps_build, .bind = gaps_bind, .reset = gaps_reset,
    .evaluate = gaps_evaluate, .observe = gaps_observe, .vars = gaps_vars, .park = gaps_park};

int amt_run_gaps_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return rat_part_create(t, &rat_gaps_part, params, err, err_sz);
}
