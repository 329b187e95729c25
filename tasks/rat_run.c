// rat_run.c: the task "run": the rat runs forward on flat ground at a target speed.
//
// Reward max(reward_floor, 1 - |vx - v*| / v*), a positive reward scaled by the upright factors of
// torso and pelvis (upright=1); the episode ends (terminated, event "fall") when the torso tilts
// more than fall_tilt from vertical. With heading commands (heading_time > 0) the direction to
// run is drawn anew every heading_time s, within +-heading_range of the torso's heading, and vx
// becomes the velocity along it. `arena` puts a circular wall around the start. docs/tasks.md
// describes it for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

const amt_param_def amt_run_params[] = {
    {"episode_time", "10", "episode length (s)"},
    RAT_RUN_PARAMS("0", "1", "60"),
    {"alive_bonus", "0", "reward per step while the episode goes on (not on the falling step)"},
    {"heading_time", "0",
     "0: run along +x; T > 0: heading commands: a direction to run in, drawn at reset and every T "
     "s within +-heading_range of the torso's heading; the speed reward is paid on the velocity "
     "along it and the group 'heading' holds the command relative to the torso (cos, sin)"},
    {"heading_range", "90", "largest turn a new heading command asks for (deg, in (0, 180])"},
    {"arena", "0",
     "0: open ground; R > 0: a circular wall of inner radius R (m) around the start, as "
     "water-maze's (so that a runner on heading commands meets walls: a command into the wall "
     "pays only the velocity along it)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct run_cfg {
  rat_body rat;  // first (rat_common.h)
  rat_run_reward run;
  double alive_bonus;
  double heading_time;   // s between heading commands (0: run along +x)
  int heading_steps;     // the same in control steps (once the control period is known)
  double heading_range;  // rad
  double arena;          // the wall's radius (m; 0: none)
} run_cfg;

typedef struct run_state {
  amt_opt_state opt;  // first (task_opts.h)
  double command;     // the direction to run in (rad about z, world frame)
  int left;           // control steps until the next command
} run_state;

enum { EV_FALL, EV_COMMAND };

// A new heading command: the torso's heading turned by a uniform angle within +-heading_range.
static void new_command(const run_cfg* c, run_state* s, am_env* e) {
  double a = rat_yaw(&c->rat, e->d) + am_rng_range(&e->rng, -c->heading_range, c->heading_range);
  s->command = atan2(sin(a), cos(a));
  s->left = c->heading_steps;
}

// The velocity that the speed reward pays: along +x, or along the heading command.
static double run_velocity(const run_cfg* c, const run_state* s, const mjData* d) {
  const mjtNum* v = d->qvel + c->rat.root_v;  // the free joint's linear velocity (world frame)
  return c->heading_steps ? v[0] * cos(s->command) + v[1] * sin(s->command) : v[0];
}

static void run_reset(const am_task* t, am_env* e) {
  const run_cfg* c = t->cfg;
  run_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  rat_place(&c->rat, e, 0, 0, 0, 0);
  mj_forward(e->m, e->d);
  if (c->heading_steps) new_command(c, s, e);
  amt_opts_reset(&s->opt);
}

static void run_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const run_cfg* c = t->cfg;
  run_state* s = e->task_state;
  const mjData* d = e->d;
  int fell;
  double reward = rat_run_reward_eval(&c->run, &c->rat, d, run_velocity(c, s, d), &fell);
  if (fell) {
    r->terminated = 1;
    r->events = 1u << EV_FALL;
  } else {
    reward += c->alive_bonus;
    r->terms[1] = (float)c->alive_bonus;
    if (c->heading_steps && --s->left == 0) {  // the next observation shows the new command
      new_command(c, s, e);
      r->events |= 1u << EV_COMMAND;
    }
  }
  r->terms[0] = (float)reward - r->terms[1];
  r->reward = (float)reward;
  amt_opts_reward(&s->opt, r->reward);
}

static void run_observe(const am_task* t, am_env* e, float* o) {
  const run_cfg* c = t->cfg;
  run_state* s = e->task_state;
  am_body_observe(e->m, e->d, o);
  o[c->rat.body_dim] = (float)c->run.target_speed;
  if (c->heading_steps) rat_heading_write(&c->rat, e->d, s->command, o + c->rat.body_dim + 1);
  amt_opts_observe(&c->rat.opts, &s->opt, &e->rng, o);
}

static void run_vars(const am_task* t, const am_env* e, float* x) {
  const run_cfg* c = t->cfg;
  const run_state* s = e->task_state;
  rat_common_vars(&c->rat, e->d, x);
  if (c->heading_steps) {
    x[4] = (float)s->command;
    x[5] = (float)run_velocity(c, s, e->d);
  }
}

static int read_params(const amt_info* info, const amt_params* params, run_cfg* c, char* err,
                       size_t err_sz) {
  const char* name = info->name;
  if (rat_read_run_reward(info, params, &c->run, err, err_sz) ||
      amt_param_double(info, params, "alive_bonus", &c->alive_bonus, err, err_sz))
    return -1;
  if (!(c->alive_bonus >= 0 && c->alive_bonus <= 10))
    return am_err(err, err_sz, "task %s: parameter alive_bonus: '%g' must be in [0, 10]", name,
                  c->alive_bonus);
  double ht, hr;
  if (amt_param_double(info, params, "heading_time", &ht, err, err_sz) ||
      amt_param_double(info, params, "heading_range", &hr, err, err_sz) ||
      amt_param_double(info, params, "arena", &c->arena, err, err_sz))
    return -1;
  if (!(c->arena == 0 || (c->arena >= 0.5 && c->arena <= 50)))
    return am_err(err, err_sz, "task %s: parameter arena: '%g' must be 0 (no wall) or in [0.5, 50] "
                  "m", name, c->arena);
  if (!(ht >= 0 && ht <= 1e4))
    return am_err(err, err_sz, "task %s: parameter heading_time: '%g' must be in [0, 1e4] s", name,
                  ht);
  if (!(hr > 0 && hr <= 180))
    return am_err(err, err_sz, "task %s: parameter heading_range: '%g' must be in (0, 180] deg",
                  name, hr);
  c->heading_range = hr * M_PI / 180;
  c->heading_time = ht;
  return 0;
}

int amt_run_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  const amt_info* info = amt_find("run");
  run_cfg c;
  memset(&c, 0, sizeof c);
  double episode_time;
  if (rat_read_common(info, params, &c.rat, &episode_time, err, err_sz) ||
      read_params(info, params, &c, err, err_sz))
    return -1;
  // long flat ground: a plane 100 m long, the rat's own material
  rat_sbuf arena = {0};
  rat_sb_add(&arena, "<geom name=\"floor\" type=\"plane\" size=\"100 100 0.05\" material=\"grid\" "
                     "conaffinity=\"1\"/>");
  if (c.arena > 0) rat_add_round_wall(&arena, c.arena);
  int rc = rat_load(t, info->name, NULL, &arena, &c.rat, err, err_sz);
  rat_sb_free(&arena);
  if (!rc && c.heading_time > 0)  // (rat_task_init sets the control period later)
    c.heading_steps = rat_episode_steps(c.heading_time, RAT_FRAME_SKIP * t->model->m->opt.timestep);
  const int on = c.heading_steps > 0;
  c.rat.own[0] = (rat_group){"heading", on ? 2 : 0, "heading_time"};  // the command
  if (rc || rat_task_init(t, info->name, &c.rat, sizeof(run_state), episode_time, 1, err, err_sz))
    return -1;
  t->n_terms = 2;
  snprintf(t->terms[0], AM_NAME_LEN, "speed");
  snprintf(t->terms[1], AM_NAME_LEN, "alive");
  t->n_events = on ? 2 : 1;
  snprintf(t->events[EV_FALL], AM_NAME_LEN, "fall");
  if (on) {
    snprintf(t->events[EV_COMMAND], AM_NAME_LEN, "command");
    snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "command");
    snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "v_command");
  }
  t->trial_start_event = t->success_event = t->trial_end_event = -1;  // falling is no trial
  t->reset = run_reset;
  t->evaluate = run_evaluate;
  t->observe = run_observe;
  t->get_vars = run_vars;
  return rat_task_finish(t, &c, sizeof c, err, err_sz);
}
