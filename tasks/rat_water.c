// rat_water.c: the task "water-maze": a Morris-water-maze-like meta-learning task for the rat
// (Morris 1981; as posed to learning-to-learn networks by Bellec et al. 2018): a hidden goal is
// placed anew each episode in a walled circular arena, and the rat looks for it in several
// searches per episode from different starts. A network that learns to learn finds it by search
// in the first trial and goes straight to it in the next ones: the latency falls after trial 1.
//
// Per episode: the goal (a disc of goal_radius, invisible: no geom, so neither the rangefinders
// nor vision see it) at a random spot; the rat at a random start by the wall. A search (the trial)
// ends when the torso comes within goal_radius of the goal's centre (goal_found, +goal_reward) or
// after search_time (timeout). The rat is not lifted out as in the pool: a visible start cue then
// appears at a random spot by the wall, at least cue_min_distance from the rat and from the goal
// (as the first start is from the goal), and reaching it
// (+cue_reward) starts the next search from there, so that the body's state stays continuous and
// every episode replays exactly under `verify --resim`. After `trials` searches the episode
// terminates. docs/tasks.md describes the task for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

#define N_WALL 36       // box segments of the circular wall
#define CUE_RADIUS 0.15  // the start cue is reached with the torso within this of its centre

const amt_param_def amt_water_maze_params[] = {
    {"episode_time", "60", "episode length (s)"},
    {"trials", "4", "searches per episode (the episode terminates after the last)"},
    {"arena_radius", "1", "radius of the circular arena inside its wall (m)"},
    {"goal_radius", "0.15", "the hidden goal is found with the torso within this of its centre "
                            "(m)"},
    {"search_time", "10", "a search without finding the goal ends after this (s): timeout"},
    {"goal_reward", "10", "reward when the goal is found"},
    {"cue_reward", "1", "reward when the start cue is reached (the next search starts)"},
    {"cue_min_distance", "0.5", "every start (the first, and the cue) is at least this far from "
                                "the goal, and the cue this far from the rat (m)"},
    {"approach", "0",
     "shaping (term 'approach'): reward per metre the torso comes closer to the visible start "
     "cue while it is shown (potential-based: moving away costs the same; never toward the hidden "
     "goal); 0: off"},
    {"guide", "0",
     "1: the group 'heading' holds the direction from the head to the shown start cue relative "
     "to the torso's heading (cos, sin; the task group's cue vector as a direction), 0 0 while "
     "searching (the goal stays hidden), in the form of run's heading commands"},
    {"steer", "0",
     "(needs guide=1) two action values follow the muscles' (the network's command, e.g. from "
     "command_dims = 2), and while searching the group 'heading' shows relative to the torso: 1 "
     "the direction they give in the arena's frame (x, y); 2 the direction from the head to the "
     "place they name (x, y / arena_radius), as it shows the cue's while returning; 0: off"},
    {"recall", "0",
     "shaping (term 'approach'): reward per metre the torso comes closer to the goal during the "
     "searches after the one that found it in this episode (potential-based; the rat was there); "
     "0: off"},
    {"found_steps", "1",
     "the task group's found signal stays 1 for this many control steps after the goal was found "
     "(1: the step of the find only; a core that ticks every k steps, core_tick = k, sees it "
     "with found_steps = k)"},
    {"fall_tilt", "180", RAT_FALL_TILT_HELP},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct water_cfg {
  rat_body rat;  // first (rat_common.h)
  int trials, search_steps, cue_mocap, found_steps;
  int steer;  // 0 off, 1 a direction, 2 a place (the two action values after the muscles')
  double search_time;  // s (search_steps: in control steps, set in bind)
  double radius, goal_radius, goal_reward, cue_reward, cue_min, approach, recall, fall_cos;
} water_cfg;

enum { PH_SEARCH, PH_RETURN };

typedef struct water_state {
  amt_opt_state opt;  // first (task_opts.h)
  int phase, t_phase, search, found_left, pending_start, done;  // found_left: steps the found
                                                                 // signal still shows
  double goal[2], cue[2];
  double cue_d;  // the torso's distance to the cue at the last step (return phase; m)
  int found_once;  // the goal was found in an earlier search of this episode
  double goal_d;   // the torso's distance to the goal at the last step (searches; m)
  float steer[2];  // steer=1: the last command (a direction in the arena's frame)
} water_state;

enum { EV_START, EV_FOUND, EV_TIMEOUT, EV_END, EV_CUE, EV_FALL };

//---------------------------------- hooks ---------------------------------------------------------

// A spot by the wall (0.25 m inside it) at a random angle, at least cue_min_distance from the
// goal and from `from` (the rat; NULL: the goal only). The spots span 2 (radius - 0.25) >=
// cue_min_distance and the goal lies inside them, so some spot is far enough from both; 100
// draws, then the last one.
static void by_the_wall(const water_cfg* c, am_env* e, const double goal[2], const double* from,
                        double p[2]) {
  for (int tries = 0; tries < 100; tries++) {
    double a = am_rng_range(&e->rng, -M_PI, M_PI), r = c->radius - 0.25;
    p[0] = r * cos(a), p[1] = r * sin(a);
    if (hypot(p[0] - goal[0], p[1] - goal[1]) >= c->cue_min &&
        (!from || hypot(p[0] - from[0], p[1] - from[1]) >= c->cue_min))
      break;
  }
}

static void water_park(const void* cfg, mjData* d) {
  const water_cfg* c = cfg;
  rat_park(d, c->cue_mocap);
}

static void water_reset(const void* cfg, void* state, am_env* e) {
  const water_cfg* c = cfg;
  water_state* s = state;
  memset(s, 0, sizeof *s);
  // the goal uniformly over the disc 0.3 m inside the wall (area-uniform radius)
  double a = am_rng_range(&e->rng, -M_PI, M_PI);
  double r = (c->radius - 0.3) * sqrt(am_rng_uniform(&e->rng));
  s->goal[0] = r * cos(a), s->goal[1] = r * sin(a);
  double start[2];
  by_the_wall(c, e, s->goal, NULL, start);
  rat_place(&c->rat, e, start[0], start[1], 0, am_rng_range(&e->rng, -M_PI, M_PI));
  water_park(c, e->d);
  s->phase = PH_SEARCH;
  s->search = 1;
  s->pending_start = 1;
  mj_forward(e->m, e->d);
}

static double torso_dist(const water_cfg* c, const mjData* d, const double p[2]) {
  const mjtNum* x = d->xpos + 3 * c->rat.torso;
  return hypot(x[0] - p[0], x[1] - p[1]);
}

// A search ended (found or timed out): the start cue appears, or the episode ends.
static void end_search(const water_cfg* c, water_state* s, am_env* e, uint32_t* ev) {
  *ev |= 1u << EV_END;
  s->t_phase = 0;
  if (s->search >= c->trials) {
    s->done = 1;
    return;
  }
  const mjtNum* x = e->d->xpos + 3 * c->rat.torso;
  const double rat_xy[2] = {x[0], x[1]};
  by_the_wall(c, e, s->goal, rat_xy, s->cue);
  rat_set_mocap(e->d, c->cue_mocap, s->cue[0], s->cue[1], 0.1);
  s->phase = PH_RETURN;
  s->cue_d = torso_dist(c, e->d, s->cue);
}

static void water_evaluate(const void* cfg, void* state, am_env* e, am_step_result* r) {
  const water_cfg* c = cfg;
  water_state* s = state;
  uint32_t ev = 0;
  double reward = 0, approach = 0;
  if (s->found_left > 0) s->found_left--;
  if (s->pending_start) {
    ev |= 1u << EV_START;
    s->pending_start = 0;
  }
  s->t_phase++;
  if (s->phase == PH_SEARCH) {
    double dg = torso_dist(c, e->d, s->goal);
    if (s->found_once && s->t_phase > 1) approach = c->recall * (s->goal_d - dg);
    s->goal_d = dg;
    if (dg < c->goal_radius) {
      reward += c->goal_reward;
      s->found_left = c->found_steps;
      s->found_once = 1;
      ev |= 1u << EV_FOUND;
      end_search(c, s, e, &ev);
    } else if (s->t_phase >= c->search_steps) {
      ev |= 1u << EV_TIMEOUT;
      end_search(c, s, e, &ev);
    }
  } else {
    double dc = torso_dist(c, e->d, s->cue);
    approach = c->approach * (s->cue_d - dc);
    s->cue_d = dc;
    if (dc < CUE_RADIUS) {  // the next search starts here
      reward += c->cue_reward;
      ev |= (1u << EV_CUE) | (1u << EV_START);
      rat_park(e->d, c->cue_mocap);
      s->phase = PH_SEARCH;
      s->t_phase = 0;
      s->search++;
    }
  }
  if (rat_fallen(&c->rat, e->d, c->fall_cos)) {
    ev |= 1u << EV_FALL;
    s->done = 1;
  }
  r->terms[0] = (float)reward;
  r->terms[1] = (float)approach;
  r->reward = (float)(reward + approach);
  r->terminated = s->done;
  r->events = ev;
}

// Task group (10): the torso's position in the arena (x, y / arena_radius) and heading (cos, sin)
// (the self-location a navigating animal has; Bellec et al.'s agent saw its position), the phase
// (search, return; one-hot), the start cue relative to the head in the torso frame (x, y; 0 while
// searching), 1 for found_steps steps from the step the goal was found (found_steps 1: that step
// only), and the time in the phase / search_time.
static void water_observe(const void* cfg, const void* state, const mjData* d, float* g) {
  const water_cfg* c = cfg;
  const water_state* s = state;
  const mjtNum* x = d->xpos + 3 * c->rat.torso;
  const mjtNum* R = d->xmat + 9 * c->rat.torso;
  double w[3] = {0, 0, 0}, v[3] = {0, 0, 0};
  if (s->phase == PH_RETURN) {
    const mjtNum* h = d->xpos + 3 * c->rat.head;
    w[0] = s->cue[0] - h[0], w[1] = s->cue[1] - h[1];
    rat_to_torso(&c->rat, d, w, v);
  }
  double hx = R[0], hy = R[3], hn = hypot(hx, hy);  // the torso's forward (x) axis in the plane
  g[0] = (float)(x[0] / c->radius);
  g[1] = (float)(x[1] / c->radius);
  g[2] = (float)(hn > 0 ? hx / hn : 1);
  g[3] = (float)(hn > 0 ? hy / hn : 0);
  g[4] = (float)(s->phase == PH_SEARCH);
  g[5] = (float)(s->phase == PH_RETURN);
  g[6] = (float)v[0];
  g[7] = (float)v[1];
  g[8] = (float)(s->found_left > 0);
  g[9] = (float)(s->t_phase / (double)c->search_steps);
  if (c->rat.heading_group) {  // the group "heading" follows the task group
    // returning: the cue's direction; searching: the network's command (steer=1) or nothing
    int search = s->phase == PH_SEARCH;
    double cx = w[0], cy = w[1];
    if (search && c->steer == 2) {  // toward the named place
      const mjtNum* h = d->xpos + 3 * c->rat.head;
      cx = s->steer[0] * c->radius - h[0], cy = s->steer[1] * c->radius - h[1];
    } else if (search) {
      cx = s->steer[0], cy = s->steer[1];
    }
    int on = search ? c->steer > 0 && hypot(cx, cy) > 1e-6 : 1;
    double rel = atan2(cy, cx) - rat_yaw(&c->rat, d);
    g[10] = (float)(on ? cos(rel) : 0);
    g[11] = (float)(on ? sin(rel) : 0);
  }
}

// steer=1, 2: the two action values after the muscles (a direction, a place).
static void water_command(const void* cfg, void* state, const float* cmd) {
  water_state* s = state;
  (void)cfg;
  for (int k = 0; k < 2; k++) s->steer[k] = isfinite(cmd[k]) ? cmd[k] : 0.0f;
}

static void water_vars(const void* cfg, const void* state, const mjData* d, float* x) {
  const water_state* s = state;
  (void)cfg, (void)d;
  x[0] = (float)s->goal[0];
  x[1] = (float)s->goal[1];
  x[2] = (float)s->phase;
  x[3] = (float)s->search;
  x[4] = (float)(s->phase == PH_RETURN ? s->cue[0] : 0);
  x[5] = (float)(s->phase == PH_RETURN ? s->cue[1] : 0);
}

//---------------------------------- construction --------------------------------------------------

static int water_read(const amt_info* info, const amt_params* params, void* cfg, char* err,
                      size_t err_sz) {
  water_cfg* c = cfg;
  if (amt_param_int(info, params, "trials", &c->trials, err, err_sz) ||
      amt_param_double(info, params, "arena_radius", &c->radius, err, err_sz) ||
      amt_param_double(info, params, "goal_radius", &c->goal_radius, err, err_sz) ||
      amt_param_double(info, params, "search_time", &c->search_time, err, err_sz) ||
      amt_param_double(info, params, "goal_reward", &c->goal_reward, err, err_sz) ||
      amt_param_double(info, params, "cue_reward", &c->cue_reward, err, err_sz) ||
      amt_param_double(info, params, "cue_min_distance", &c->cue_min, err, err_sz) ||
      amt_param_double(info, params, "approach", &c->approach, err, err_sz) ||
      amt_param_int(info, params, "guide", &c->rat.heading_group, err, err_sz) ||
      amt_param_int(info, params, "steer", &c->steer, err, err_sz) ||
      amt_param_double(info, params, "recall", &c->recall, err, err_sz) ||
      amt_param_int(info, params, "found_steps", &c->found_steps, err, err_sz) ||
      rat_read_fall_tilt(info, params, &c->fall_cos, err, err_sz))
    return -1;
  const char* name = info->name;
  if (c->rat.heading_group != 0 && c->rat.heading_group != 1)
    return am_err(err, err_sz, "task %s: parameter guide: '%d' must be 0 or 1", name,
                  c->rat.heading_group);
  if (c->steer < 0 || c->steer > 2)
    return am_err(err, err_sz, "task %s: parameter steer: '%d' must be 0, 1 or 2", name,
                  c->steer);
  if (c->steer && !c->rat.heading_group)
    return am_err(err, err_sz, "task %s: parameter steer: '%d' needs guide=1 (the group 'heading' "
                  "the command is shown in)", name, c->steer);
  c->rat.command_dims = c->steer ? 2 : 0;
  if (!(c->recall >= 0 && isfinite(c->recall)))
    return am_err(err, err_sz, "task %s: parameter recall: '%g' must be >= 0", name, c->recall);
  if (c->found_steps < 1 || c->found_steps > 1000)
    return am_err(err, err_sz, "task %s: parameter found_steps: '%d' must be in [1, 1000]", name,
                  c->found_steps);
  if (c->trials < 1 || c->trials > 1000)
    return am_err(err, err_sz, "task %s: parameter trials: '%d' must be in [1, 1000]", name,
                  c->trials);
  if (!(c->radius >= 0.6 && c->radius <= 10))
    return am_err(err, err_sz, "task %s: parameter arena_radius: '%g' must be in [0.6, 10] m "
                  "(the goal lies 0.3 m inside the wall, the starts 0.25 m)", name, c->radius);
  if (!(c->goal_radius > 0 && c->goal_radius < c->radius))
    return am_err(err, err_sz, "task %s: parameter goal_radius: '%g' must be in (0, arena_radius)",
                  name, c->goal_radius);
  if (!(c->search_time > 0))
    return am_err(err, err_sz, "task %s: parameter search_time: '%g' must be > 0", name,
                  c->search_time);
  if (!(c->cue_min >= 0 && c->cue_min <= 2 * (c->radius - 0.25)))
    return am_err(err, err_sz, "task %s: parameter cue_min_distance: '%g' must be in [0, %g] (the "
                  "width of the circle of starts)", name, c->cue_min, 2 * (c->radius - 0.25));
  return 0;
}

// The arena: a floor, the circular wall (N_WALL boxes 0.3 m high) and the start cue (a sphere
// that touches nothing, parked while the rat searches).
static int water_build(const void* cfg, rat_sbuf* prelude, rat_sbuf* a, int movable) {
  const water_cfg* c = cfg;
  (void)prelude;
  rat_add_floor(a, c->radius + 1, 0, movable ? "water-maze" : NULL);
  const double half = (c->radius + 0.03) * tan(M_PI / N_WALL) + 0.02;
  for (int k = 0; k < N_WALL; k++) {
    double th = 2 * M_PI * k / N_WALL;
    rat_sb_add(a, "<geom name=\"wall%d\" type=\"box\" pos=\"%.6f %.6f 0.15\" "
                  "quat=\"%.6f 0 0 %.6f\" size=\"0.03 %.6f 0.15\" rgba=\"0.45 0.55 0.65 1\"/>", k,
               (c->radius + 0.03) * cos(th), (c->radius + 0.03) * sin(th), cos(th / 2),
               sin(th / 2), half);
  }
  rat_sb_add(a, "<body name=\"cue\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"sphere\" "
                "size=\"0.05\" rgba=\"0.95 0.85 0.2 1\" contype=\"0\" conaffinity=\"0\"/></body>",
             RAT_PARK_Z);
  return a->oom;
}

static int water_bind(void* cfg, mjModel* m, char* err, size_t err_sz) {
  water_cfg* c = cfg;
  c->search_steps = (int)floor(c->search_time / c->rat.dt + 0.5);
  if (c->search_steps < 1)
    return am_err(err, err_sz, "task water-maze: parameter search_time: '%g' s is shorter than a "
                  "control step (%g s)", c->search_time, c->rat.dt);
  c->cue_mocap = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "cue")];
  return 0;
}

static const char* const water_terms[] = {"goal", "approach"};
static const char* const water_events[] = {"trial_start", "goal_found", "timeout", "trial_end",
                                           "cue_reached", "fall"};
static const char* const water_vars_names[] = {"goal_x", "goal_y", "phase", "search", "cue_x",
                                               "cue_y"};

const rat_part rat_water_part = {
    .name = "water-maze", .cfg_size = sizeof(water_cfg), .state_size = sizeof(water_state),
    .task_size = 10, .n_terms = 2, .n_events = EV_FALL + 1, .n_vars = 6, .term_names = water_terms,
    .event_names = water_events, .var_names = water_vars_names,
    .trial_start = EV_START, .success = EV_FOUND, .trial_end = EV_END, .condition = "search",
    .read = water_read, .build = water_build, .bind = water_bind, .reset = water_reset,
    .evaluate = water_evaluate, .observe = water_observe, .vars = water_vars, .park = water_park,
    .command = water_command};

int amt_water_maze_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return rat_part_create(t, &rat_water_part, params, err, err_sz);
}
