// rat_run.c: the task "run": the rat runs forward on flat ground at a target speed.
//
// Reward max(reward_floor, 1 - |vx - v*| / v*), a positive reward scaled by the upright factors of
// torso and pelvis (upright=1); the episode ends (terminated, event "fall") when the torso tilts
// more than fall_tilt from vertical. docs/tasks.md describes it for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

const amt_param_def amt_run_params[] = {
    {"episode_time", "10", "episode length (s)"},
    {"target_speed", "1", "target forward speed v* (m/s); reward max(0, 1 - |vx - v*| / v*)"},
    {"reward_floor", "0",
     "lower bound of the speed reward (the 0 in max(0, ...)); -1 stops back-and-forth jitter from "
     "paying (mean reward = mean vx / v* below v*)"},
    {"upright", "1", "1: a positive speed reward is multiplied by escape-bowl's upright factors of "
                     "torso and pelvis (1 within 30 deg of vertical, 0 upside down), so only "
                     "running on the feet pays; 0: speed alone (a policy may move on its back)"},
    {"fall_tilt", "60", "the episode ends (terminated, event 'fall') when the torso's up axis "
                        "tilts more than this from vertical (deg); 180: never"},
    {"alive_bonus", "0", "reward per step while the episode goes on (not on the falling step)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct run_cfg {
  rat_body rat;  // first (rat_common.h)
  double target_speed, reward_floor;
  int upright;       // scale a positive reward by the upright factors
  double fall_cos;   // cos of the fall tilt (-2: never)
  double alive_bonus;
} run_cfg;

typedef struct run_state {
  amt_opt_state opt;  // first (task_opts.h)
} run_state;

enum { EV_FALL };

static void run_reset(const am_task* t, am_env* e) {
  const run_cfg* c = t->cfg;
  run_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  rat_place(&c->rat, e, 0, 0, 0, 0);
  mj_forward(e->m, e->d);
  amt_opts_reset(&s->opt);
}

static void run_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const run_cfg* c = t->cfg;
  run_state* s = e->task_state;
  const mjData* d = e->d;
  double reward = rat_speed_reward(d->qvel[c->rat.root_v], c->target_speed, c->reward_floor);
  if (c->upright && reward > 0)
    reward *= rat_upright(d, c->rat.torso) * rat_upright(d, c->rat.pelvis);
  if (d->xmat[9 * c->rat.torso + 8] < c->fall_cos) {
    r->terminated = 1;
    r->events = 1u << EV_FALL;
  } else {
    reward += c->alive_bonus;
    r->terms[1] = (float)c->alive_bonus;
  }
  r->terms[0] = (float)reward - r->terms[1];
  r->reward = (float)reward;
  amt_opts_reward(&s->opt, r->reward);
}

static void run_observe(const am_task* t, am_env* e, float* o) {
  const run_cfg* c = t->cfg;
  run_state* s = e->task_state;
  am_body_observe(e->m, e->d, o);
  o[c->rat.body_dim] = (float)c->target_speed;
  amt_opts_observe(&c->rat.opts, &s->opt, &e->rng, o);
}

static void run_vars(const am_task* t, const am_env* e, float* x) {
  const run_cfg* c = t->cfg;
  rat_common_vars(&c->rat, e->d, x);
}

static int read_params(const amt_info* info, const amt_params* params, run_cfg* c, char* err,
                       size_t err_sz) {
  const char* name = info->name;
  if (amt_param_double(info, params, "target_speed", &c->target_speed, err, err_sz)) return -1;
  if (!(c->target_speed > 0 && c->target_speed < 20))
    return am_err(err, err_sz, "task %s: parameter target_speed: '%g' must be in (0, 20) m/s",
                  name, c->target_speed);
  if (amt_param_double(info, params, "reward_floor", &c->reward_floor, err, err_sz)) return -1;
  if (!(c->reward_floor >= -10 && c->reward_floor <= 0))
    return am_err(err, err_sz, "task %s: parameter reward_floor: '%g' must be in [-10, 0]", name,
                  c->reward_floor);
  if (amt_param_int(info, params, "upright", &c->upright, err, err_sz)) return -1;
  if (c->upright != 0 && c->upright != 1)
    return am_err(err, err_sz, "task %s: parameter upright: '%d' must be 0 or 1", name,
                  c->upright);
  double tilt;
  if (amt_param_double(info, params, "fall_tilt", &tilt, err, err_sz) ||
      amt_param_double(info, params, "alive_bonus", &c->alive_bonus, err, err_sz))
    return -1;
  if (!(tilt > 0 && tilt <= 180))
    return am_err(err, err_sz, "task %s: parameter fall_tilt: '%g' must be in (0, 180] deg", name,
                  tilt);
  c->fall_cos = tilt >= 180 ? -2 : cos(tilt * M_PI / 180);
  if (!(c->alive_bonus >= 0 && c->alive_bonus <= 10))
    return am_err(err, err_sz, "task %s: parameter alive_bonus: '%g' must be in [0, 10]", name,
                  c->alive_bonus);
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
  int rc = rat_load(t, info->name, NULL, &arena, &c.rat, err, err_sz);
  rat_sb_free(&arena);
  if (rc || rat_task_init(t, info->name, &c.rat, sizeof(run_state), episode_time, 1, err, err_sz))
    return -1;
  t->n_terms = 2;
  snprintf(t->terms[0], AM_NAME_LEN, "speed");
  snprintf(t->terms[1], AM_NAME_LEN, "alive");
  t->n_events = 1;
  snprintf(t->events[EV_FALL], AM_NAME_LEN, "fall");
  t->trial_start_event = t->success_event = t->trial_end_event = -1;  // falling is no trial
  t->reset = run_reset;
  t->evaluate = run_evaluate;
  t->observe = run_observe;
  t->get_vars = run_vars;
  return rat_task_finish(t, &c, sizeof c, err, err_sz);
}
