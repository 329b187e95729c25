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
// terminates. The rules are water_rules.c's (shared with the body-less "water-plane"); this file
// is the rat's arena, its senses of it and the cue's sphere. docs/tasks.md describes the task.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"
#include "water_rules.h"

const amt_param_def amt_water_maze_params[] = {
    AMT_WATER_PARAMS,
    {"guide", "0",
     "1: the group 'heading' holds the direction from the head to the shown start cue relative "
     "to the torso's heading (cos, sin; the task group's cue vector as a direction), 0 0 while "
     "searching (the goal stays hidden), in the form of run's heading commands"},
    {"steer", "0",
     "(needs guide=1) two action values follow the muscles' (the network's command, e.g. from "
     "command_dims = 2), and while searching the group 'heading' shows relative to the torso: 1 "
     "the direction they give in the arena's frame (x, y); 2 the direction from the head to the "
     "place they name (x, y / arena_radius), as it shows the cue's while returning; 0: off"},
    {"fall_tilt", "180", RAT_FALL_TILT_HELP},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct water_cfg {
  rat_body rat;  // first (rat_common.h)
  amt_water w;   // the rules (water_rules.h)
  int cue_mocap;
  double fall_cos;
} water_cfg;

typedef struct water_state {
  amt_opt_state opt;  // first (task_opts.h)
  amt_water_state w;
} water_state;

enum { EV_FALL = AMT_WATER_N_EVENTS };  // after the rules' events

//---------------------------------- hooks ---------------------------------------------------------

static void water_park(const void* cfg, mjData* d) {
  const water_cfg* c = cfg;
  rat_park(d, c->cue_mocap);
}

static void water_reset(const void* cfg, void* state, am_env* e) {
  const water_cfg* c = cfg;
  water_state* s = state;
  memset(s, 0, sizeof *s);
  double start[2];
  amt_water_reset(&c->w, &s->w, &e->rng, start);
  rat_place(&c->rat, e, start[0], start[1], 0, am_rng_range(&e->rng, -M_PI, M_PI));
  water_park(c, e->d);
  mj_forward(e->m, e->d);
}

static void water_evaluate(const void* cfg, void* state, am_env* e, am_step_result* r) {
  const water_cfg* c = cfg;
  water_state* s = state;
  const mjtNum* x = e->d->xpos + 3 * c->rat.torso;
  const double torso[2] = {x[0], x[1]};
  uint32_t ev = 0;
  double reward, approach;
  if (amt_water_step(&c->w, &s->w, torso, &e->rng, &ev, &reward, &approach)) {
    if (s->w.phase == AMT_WATER_RETURN)  // the start cue appears
      rat_set_mocap(e->d, c->cue_mocap, s->w.cue[0], s->w.cue[1], 0.1);
    else
      rat_park(e->d, c->cue_mocap);
  }
  if (rat_fallen(&c->rat, e->d, c->fall_cos)) {
    ev |= 1u << EV_FALL;
    s->w.done = 1;
  }
  r->terms[0] = (float)reward;
  r->terms[1] = (float)approach;
  r->reward = (float)(reward + approach);
  r->terminated = s->w.done;
  r->events = ev;
}

// Task group (10, water_rules.h): the torso's position in the arena and heading (the
// self-location a navigating animal has; Bellec et al.'s agent saw its position), the phase, the
// start cue relative to the head in the torso frame, the found signal, the time in the phase.
// The group "heading" (guide=1) follows it.
static void water_observe(const void* cfg, const void* state, const mjData* d, float* g) {
  const water_cfg* c = cfg;
  const water_state* s = state;
  const mjtNum* x = d->xpos + 3 * c->rat.torso;
  const mjtNum* R = d->xmat + 9 * c->rat.torso;
  const mjtNum* h = d->xpos + 3 * c->rat.head;
  double v[3] = {0, 0, 0};
  if (s->w.phase == AMT_WATER_RETURN) {
    double w[3] = {s->w.cue[0] - h[0], s->w.cue[1] - h[1], 0};
    rat_to_torso(&c->rat, d, w, v);
  }
  double hx = R[0], hy = R[3], hn = hypot(hx, hy);  // the torso's forward (x) axis in the plane
  const double pos[2] = {x[0], x[1]}, heading[2] = {hn > 0 ? hx / hn : 1, hn > 0 ? hy / hn : 0};
  amt_water_observe(&c->w, &s->w, pos, heading, v, g);
  if (c->rat.own[0].size) {  // the group "heading" follows the task group
    const double head[2] = {h[0], h[1]};
    amt_water_heading(&c->w, &s->w, head, rat_yaw(&c->rat, d), g + 10);
  }
}

// steer=1, 2: the two action values after the muscles (a direction, a place).
static void water_command(const void* cfg, void* state, const float* cmd) {
  water_state* s = state;
  (void)cfg;
  amt_water_command(&s->w, cmd);
}

static void water_vars(const void* cfg, const void* state, const mjData* d, float* x) {
  const water_state* s = state;
  (void)cfg, (void)d;
  amt_water_vars(&s->w, x);
}

//---------------------------------- construction --------------------------------------------------

static int water_read(const amt_info* info, const amt_params* params, void* cfg, char* err,
                      size_t err_sz) {
  water_cfg* c = cfg;
  if (amt_water_read(info, params, &c->w, err, err_sz) ||
      rat_read_heading(info, params, "guide", 0, &c->rat, err, err_sz) ||
      amt_param_int(info, params, "steer", &c->w.steer, err, err_sz) ||
      rat_read_fall_tilt(info, params, &c->fall_cos, err, err_sz))
    return -1;
  const char* name = info->name;
  if (c->w.steer < 0 || c->w.steer > 2)
    return am_err(err, err_sz, "task %s: parameter steer: '%d' must be 0, 1 or 2", name,
                  c->w.steer);
  if (c->w.steer && !c->rat.own[0].size)
    return am_err(err, err_sz, "task %s: parameter steer: '%d' needs guide=1 (the group 'heading' "
                  "the command is shown in)", name, c->w.steer);
  c->rat.command_dims = c->w.steer ? 2 : 0;
  return 0;
}

// The arena: a floor, the circular wall (rat_add_round_wall) and the start cue (a sphere
// that touches nothing, parked while the rat searches).
static int water_build(const void* cfg, rat_sbuf* prelude, rat_sbuf* a, int movable) {
  const water_cfg* c = cfg;
  (void)prelude;
  rat_add_floor(a, c->w.radius + 1, 0, movable ? "water-maze" : NULL);
  rat_add_round_wall(a, c->w.radius);
  rat_sb_add(a, "<body name=\"cue\" mocap=\"true\" pos=\"0 0 %g\"><geom type=\"sphere\" "
                "size=\"0.05\" rgba=\"0.95 0.85 0.2 1\" contype=\"0\" conaffinity=\"0\"/></body>",
             RAT_PARK_Z);
  return a->oom;
}

static int water_bind(void* cfg, mjModel* m, char* err, size_t err_sz) {
  water_cfg* c = cfg;
  if (amt_water_bind(&c->w, "water-maze", c->rat.dt, err, err_sz)) return -1;
  c->cue_mocap = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "cue")];
  return 0;
}

static const char* const water_terms[] = {"goal", "approach"};
static const char* const water_events[] = {"trial_start", "goal_found", "timeout", "trial_end",
                                           "cue_reached", "fall"};  // the rules' and "fall"

const rat_part rat_water_part = {
    .name = "water-maze", .cfg_size = sizeof(water_cfg), .state_size = sizeof(water_state),
    .task_size = 10, .n_terms = 2, .n_events = EV_FALL + 1, .n_vars = AMT_WATER_N_VARS,
    .term_names = water_terms, .event_names = water_events, .var_names = amt_water_var_names,
    .trial_start = AMT_WATER_EV_START, .success = AMT_WATER_EV_FOUND,
    .trial_end = AMT_WATER_EV_END, .condition = "search",
    .read = water_read, .build = water_build, .bind = water_bind, .reset = water_reset,
    .evaluate = water_evaluate, .observe = water_observe, .vars = water_vars, .park = water_park,
    .command = water_command};

int amt_water_maze_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return rat_part_create(t, &rat_water_part, params, err, err_sz);
}
