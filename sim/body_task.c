// body_task.c: the plain "body" task (no reward, fixed-length episodes) and helpers shared by tasks.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_sim.h"

typedef struct body_cfg {
  double init_noise;
} body_cfg;

void am_write_ctrl(const mjModel* m, mjData* d, const float* action) {
  for (int i = 0; i < m->nu; i++) {
    double u = action[i];
    if (!isfinite(u)) u = 0;
    if (m->actuator_ctrllimited[i]) {
      double lo = m->actuator_ctrlrange[2 * i], hi = m->actuator_ctrlrange[2 * i + 1];
      u = u < lo ? lo : u > hi ? hi : u;
    }
    d->ctrl[i] = u;
  }
}

static int bad_vec(const mjtNum* v, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i]) || fabs(v[i]) > 1e8) return 1;
  return 0;
}

int am_state_is_bad(const mjModel* m, const mjData* d) {
  if (d->warning[mjWARN_BADQPOS].number || d->warning[mjWARN_BADQVEL].number ||
      d->warning[mjWARN_BADQACC].number || d->warning[mjWARN_BADCTRL].number)
    return 1;
  return bad_vec(d->qpos, m->nq) || bad_vec(d->qvel, m->nv) || bad_vec(d->act, m->na) ||
         bad_vec(d->qacc, m->nv);
}

static void body_reset(const am_task* t, am_env* e) {
  const body_cfg* c = t->cfg;
  const mjModel* m = e->m;
  mjData* d = e->d;
  if (m->nkey > 0) mj_resetDataKeyframe(m, d, 0);
  for (int j = 0; j < m->njnt; j++) {
    int type = m->jnt_type[j];
    if (type != mjJNT_HINGE && type != mjJNT_SLIDE) continue;
    d->qpos[m->jnt_qposadr[j]] += am_rng_range(&e->rng, -c->init_noise, c->init_noise);
  }
  mj_forward(m, d);
}

static void body_act(const am_task* t, am_env* e, const float* action) {
  am_write_ctrl(e->m, e->d, action);
}

static void body_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  r->reward = 0;
  r->terminated = 0;
  r->events = 0;
}

static void body_observe(const am_task* t, am_env* e, float* obs) {
  am_body_observe(e->m, e->d, obs);
}

static void body_destroy(am_task* t) {
  free((void*)t->cfg);
  t->cfg = NULL;
}

int am_body_task_init(am_task* t, const am_model* model, int frame_skip, int max_steps,
                      double init_noise, char* err, size_t err_sz) {
  if (!model || !model->m) return am_err(err, err_sz, "body task: no model");
  if (frame_skip < 1) return am_err(err, err_sz, "body task: frame_skip must be >= 1 (got %d)",
                                    frame_skip);
  if (max_steps < 0) return am_err(err, err_sz, "body task: max_steps must be >= 0 (got %d)",
                                   max_steps);
  if (!(init_noise >= 0)) return am_err(err, err_sz, "body task: init_noise must be >= 0");
  body_cfg* c = calloc(1, sizeof *c);
  if (!c) return am_err(err, err_sz, "out of memory");
  c->init_noise = init_noise;
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "body:%.58s", model->name);
  t->model = model;
  t->cfg = c;
  t->frame_skip = frame_skip;
  t->max_steps = max_steps;
  t->act_dim = model->m->nu;
  t->n_groups = am_body_obs_groups(model->m, t->groups, &t->obs_dim);
  t->reset = body_reset;
  t->act = body_act;
  t->evaluate = body_evaluate;
  t->observe = body_observe;
  t->destroy = body_destroy;
  return 0;
}
