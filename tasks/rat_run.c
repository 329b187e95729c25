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
    RAT_RUN_PARAMS("0", "1", "60"),
    {"alive_bonus", "0", "reward per step while the episode goes on (not on the falling step)"},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct run_cfg {
  rat_body rat;  // first (rat_common.h)
  rat_run_reward run;
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
  int fell;
  double reward = rat_run_reward_eval(&c->run, &c->rat, d, &fell);
  if (fell) {
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
  o[c->rat.body_dim] = (float)c->run.target_speed;
  amt_opts_observe(&c->rat.opts, &s->opt, &e->rng, o);
}

static void run_vars(const am_task* t, const am_env* e, float* x) {
  const run_cfg* c = t->cfg;
  rat_common_vars(&c->rat, e->d, x);
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
