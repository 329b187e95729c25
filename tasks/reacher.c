// reacher.c: Gymnasium's Reacher-v4 (Farama Foundation, gymnasium/envs/mujoco/reacher_v4.py),
// reproduced exactly for learning parity.
//
// Observation (11, gymnasium's order): cos q0, cos q1, sin q0, sin q1, target x, target y,
// qvel0, qvel1, fingertip - target (x, y, z; z is always 0).
// Reward per step: -|fingertip - target| - |action|^2, where the distance is measured before the
// step's physics (as Reacher-v4's step does) and the action is the one the policy sent.
// Episodes: 50 control steps of frame skip 2 at 0.01 s (truncated, never terminated).
// Reset: qpos = qpos0 + U(-0.1, 0.1), target uniform in the disk of radius 0.2 (rejection sampling
// in the square), qvel = U(-0.005, 0.005) with the target's velocity 0.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

const amt_param_def amt_reacher_params[] = {
    {"episode_steps", "50", "episode length in control steps (Reacher-v4: 50)"},
    {"target_radius", "0.2", "targets are uniform in a disk of this radius (m)"},
    {"init_qpos_noise", "0.1", "uniform joint-position noise at reset (rad)"},
    {"init_qvel_noise", "0.005", "uniform joint-velocity noise at reset (rad/s)"},
    AMT_OPTS_PARAMS,  // off by default: Reacher-v4 exactly
    {NULL, NULL, NULL}};

typedef struct reacher_cfg {
  amt_opts opts;  // first (task_opts.h)
  double target_radius, qpos_noise, qvel_noise;
  int fingertip, target;  // body ids
} reacher_cfg;

typedef struct reacher_state {
  amt_opt_state opt;   // first (task_opts.h)
  double dist_before;  // |fingertip - target| at the start of the current step
  double ctrl_cost;    // |action|^2 of the current step
} reacher_state;

static void tip_minus_target(const am_env* e, const reacher_cfg* c, double v[3]) {
  const mjtNum* f = e->d->xipos + 3 * c->fingertip;
  const mjtNum* g = e->d->xipos + 3 * c->target;
  for (int k = 0; k < 3; k++) v[k] = f[k] - g[k];
}

static void reacher_reset(const am_task* t, am_env* e) {
  const reacher_cfg* c = t->cfg;
  const mjModel* m = e->m;
  mjData* d = e->d;
  for (int i = 0; i < m->nq; i++)
    d->qpos[i] = m->qpos0[i] + am_rng_range(&e->rng, -c->qpos_noise, c->qpos_noise);
  double gx, gy;
  do {
    gx = am_rng_range(&e->rng, -c->target_radius, c->target_radius);
    gy = am_rng_range(&e->rng, -c->target_radius, c->target_radius);
  } while (gx * gx + gy * gy >= c->target_radius * c->target_radius);
  d->qpos[2] = gx;
  d->qpos[3] = gy;
  for (int i = 0; i < m->nv; i++) d->qvel[i] = am_rng_range(&e->rng, -c->qvel_noise, c->qvel_noise);
  d->qvel[2] = d->qvel[3] = 0;
  mj_forward(m, d);
  amt_opts_reset(e->task_state);
}

static void reacher_act(const am_task* t, am_env* e, const float* a) {
  const reacher_cfg* c = t->cfg;
  reacher_state* s = e->task_state;
  double v[3];
  tip_minus_target(e, c, v);
  s->dist_before = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  am_write_ctrl(e->m, e->d, a);
  // Reacher-v4 penalises the action the policy sent, before MuJoCo clamps it to ctrlrange.
  s->ctrl_cost = 0;
  for (int i = 0; i < 2; i++) s->ctrl_cost += (double)a[i] * a[i];
  amt_opts_act(&c->opts, &s->opt, a);
}

static void reacher_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  reacher_state* s = e->task_state;
  r->terms[0] = (float)-s->dist_before;
  r->terms[1] = (float)-s->ctrl_cost;
  r->reward = (float)(-s->dist_before - s->ctrl_cost);
  r->terminated = 0;
  r->events = 0;
  amt_opts_reward(&s->opt, r->reward);
}

static void reacher_observe(const am_task* t, am_env* e, float* o) {
  const reacher_cfg* c = t->cfg;
  const mjData* d = e->d;
  double v[3];
  tip_minus_target(e, c, v);
  o[0] = (float)cos(d->qpos[0]);
  o[1] = (float)cos(d->qpos[1]);
  o[2] = (float)sin(d->qpos[0]);
  o[3] = (float)sin(d->qpos[1]);
  o[4] = (float)d->qpos[2];
  o[5] = (float)d->qpos[3];
  o[6] = (float)d->qvel[0];
  o[7] = (float)d->qvel[1];
  o[8] = (float)v[0];
  o[9] = (float)v[1];
  o[10] = (float)v[2];
  amt_opts_observe(&c->opts, e->task_state, &e->rng, o);
}

static void reacher_vars(const am_task* t, const am_env* e, float* vars) {
  const reacher_cfg* c = t->cfg;
  const mjData* d = e->d;
  vars[0] = (float)d->xipos[3 * c->target + 0];
  vars[1] = (float)d->xipos[3 * c->target + 1];
  vars[2] = (float)d->xipos[3 * c->fingertip + 0];
  vars[3] = (float)d->xipos[3 * c->fingertip + 1];
}

static void reacher_destroy(am_task* t) {
  free((void*)t->cfg);
  t->cfg = NULL;
}

int amt_reacher_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  const amt_info* info = amt_find("reacher");
  reacher_cfg c = {0};
  int steps;
  if (amt_param_int(info, params, "episode_steps", &steps, err, err_sz) ||
      amt_param_double(info, params, "target_radius", &c.target_radius, err, err_sz) ||
      amt_param_double(info, params, "init_qpos_noise", &c.qpos_noise, err, err_sz) ||
      amt_param_double(info, params, "init_qvel_noise", &c.qvel_noise, err, err_sz) ||
      amt_opts_read(info, params, &c.opts, err, err_sz))
    return -1;
  if (steps < 1) return am_err(err, err_sz, "task reacher: episode_steps must be >= 1 (got %d)", steps);
  if (!(c.target_radius > 0 && c.target_radius <= 0.21))
    return am_err(err, err_sz, "task reacher: target_radius must be in (0, 0.21] m (got %g)",
                  c.target_radius);
  if (c.qpos_noise < 0 || c.qvel_noise < 0)
    return am_err(err, err_sz, "task reacher: noise parameters must be >= 0");
  am_model* model = am_model_load_body("reacher", err, err_sz);
  if (!model) return -1;
  const mjModel* m = model->m;
  c.fingertip = mj_name2id(m, mjOBJ_BODY, "fingertip");
  c.target = mj_name2id(m, mjOBJ_BODY, "target");
  if (c.fingertip < 0 || c.target < 0 || m->nq != 4 || m->nu != 2) {
    am_model_free(model);
    return am_err(err, err_sz, "task reacher: body 'reacher' lacks fingertip/target bodies or has "
                  "nq %d nu %d (expected 4, 2)", m->nq, m->nu);
  }
  reacher_cfg* cfg = malloc(sizeof *cfg);
  if (!cfg) {
    am_model_free(model);
    return am_err(err, err_sz, "out of memory");
  }
  *cfg = c;
  snprintf(t->name, sizeof t->name, "reacher");
  t->model = model;
  t->cfg = cfg;
  t->state_size = sizeof(reacher_state);
  t->frame_skip = 2;
  t->max_steps = steps;
  t->act_dim = 2;
  t->obs_dim = 11;
  t->n_groups = 4;  // gymnasium's order interleaves body and task values
  t->groups[0] = (am_obs_group){"proprioception", 0, 4};  // cos, sin of the joint angles
  t->groups[1] = (am_obs_group){"target", 4, 2};          // target x, y
  t->groups[2] = (am_obs_group){"velocity", 6, 2};        // joint velocities
  t->groups[3] = (am_obs_group){"task", 8, 3};            // fingertip - target
  t->n_terms = 2;
  snprintf(t->terms[0], AM_NAME_LEN, "distance");
  snprintf(t->terms[1], AM_NAME_LEN, "control");
  t->trial_start_event = t->success_event = t->trial_end_event = -1;  // no events
  t->n_vars = 4;
  snprintf(t->vars[0], AM_NAME_LEN, "target_x");
  snprintf(t->vars[1], AM_NAME_LEN, "target_y");
  snprintf(t->vars[2], AM_NAME_LEN, "fingertip_x");
  snprintf(t->vars[3], AM_NAME_LEN, "fingertip_y");
  t->reset = reacher_reset;
  t->act = reacher_act;
  t->evaluate = reacher_evaluate;
  t->observe = reacher_observe;
  t->get_vars = reacher_vars;
  t->destroy = reacher_destroy;
  return amt_opts_setup(t, &cfg->opts, err, err_sz);  // on failure amt_create destroys t
}
