// task_opts.c: previous action/reward input group and observation noise (see task_opts.h).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "task_opts.h"

int amt_opts_read(const amt_info* info, const amt_params* params, amt_opts* o, char* err,
                  size_t err_sz) {
  memset(o, 0, sizeof *o);
  if (amt_param_int(info, params, "prev_inputs", &o->prev_inputs, err, err_sz) ||
      amt_param_double(info, params, "obs_noise", &o->obs_noise, err, err_sz))
    return -1;
  if (o->prev_inputs != 0 && o->prev_inputs != 1)
    return am_err(err, err_sz, "task %s: parameter prev_inputs: '%d' must be 0 or 1", info->name,
                  o->prev_inputs);
  if (!(o->obs_noise >= 0))
    return am_err(err, err_sz, "task %s: parameter obs_noise: '%g' must be >= 0", info->name,
                  o->obs_noise);
  return 0;
}

int amt_opts_setup(am_task* t, amt_opts* o, char* err, size_t err_sz) {
  o->base_dim = t->obs_dim;
  o->act_dim = t->act_dim;
  if (!o->prev_inputs) return 0;
  if (t->act_dim > AMT_MAX_ACT)
    return am_err(err, err_sz, "task %s: prev_inputs supports at most %d actions (task has %d)",
                  t->name, AMT_MAX_ACT, t->act_dim);
  if (t->n_groups >= AM_MAX_GROUPS)
    return am_err(err, err_sz, "task %s: too many observation groups", t->name);
  am_obs_group* g = &t->groups[t->n_groups++];
  snprintf(g->name, AM_NAME_LEN, "prev_action_reward");
  g->offset = t->obs_dim;
  g->size = t->act_dim + 1;
  t->obs_dim += g->size;
  return 0;
}

void amt_opts_reset(amt_opt_state* s) { memset(s, 0, sizeof *s); }

void amt_opts_act(const amt_opts* o, amt_opt_state* s, const float* a) {
  if (!o->prev_inputs) return;
  for (int i = 0; i < o->act_dim; i++) s->prev_action[i] = isfinite(a[i]) ? a[i] : 0.0f;
}

void amt_opts_reward(amt_opt_state* s, float r) { s->prev_reward = isfinite(r) ? r : 0.0f; }

void amt_opts_observe(const amt_opts* o, const amt_opt_state* s, am_rng* rng, float* obs) {
  int n = o->base_dim;
  if (o->prev_inputs) {
    for (int i = 0; i < o->act_dim; i++) obs[n + i] = s->prev_action[i];
    obs[n + o->act_dim] = s->prev_reward;
    n += o->act_dim + 1;
  }
  if (o->obs_noise > 0)
    for (int i = 0; i < n; i++) obs[i] += (float)(o->obs_noise * am_rng_normal(rng));
}
