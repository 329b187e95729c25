// task_opts.c: previous action/reward input group, observation noise and sensory delays (see
// task_opts.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"

static int copy_spec(const amt_info* info, const amt_params* params, const char* key, char* out,
                     size_t n, char* err, size_t err_sz) {
  const char* v = amt_param_get(info, params, key);
  if (!v) return am_err(err, err_sz, "task %s has no parameter '%s'", info->name, key);
  if (snprintf(out, n, "%s", v) >= (int)n)
    return am_err(err, err_sz, "task %s: parameter %s: value too long", info->name, key);
  return 0;
}

int amt_opts_read(const amt_info* info, const amt_params* params, amt_opts* o, char* err,
                  size_t err_sz) {
  memset(o, 0, sizeof *o);
  if (amt_param_bool(info, params, "prev_inputs", &o->prev_inputs, err, err_sz) ||
      copy_spec(info, params, "obs_noise", o->noise_spec, sizeof o->noise_spec, err, err_sz) ||
      copy_spec(info, params, "obs_delay", o->delay_spec, sizeof o->delay_spec, err, err_sz))
    return -1;
  return 0;
}

// Resolves SPEC ("V" for every group, or "GROUP:V,GROUP:V,...") into out[group]; values must be in
// [0, max] (integers when integer). Returns 0 or -1 with a message naming the task, key and value.
static int parse_group_spec(const am_task* t, const char* key, const char* spec, double max,
                            int integer, double* out, char* err, size_t err_sz) {
  char groups[512] = "";
  size_t len = 0;
  for (int g = 0; g < t->n_groups; g++)
    len += (size_t)snprintf(groups + len, len < sizeof groups ? sizeof groups - len : 0, "%s%s",
                            g ? ", " : "", t->groups[g].name);
  const char* what = integer ? "an integer number of control steps" : "a number (std)";
  for (int g = 0; g < t->n_groups; g++) out[g] = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  char* save = NULL;
  int n = 0;
  for (char* tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
    while (*tok == ' ') tok++;
    char* colon = strchr(tok, ':');
    const char* num = colon ? colon + 1 : tok;
    int g = -1;
    if (colon) {
      *colon = 0;
      for (char* e = colon - 1; e >= tok && *e == ' '; e--) *e = 0;
      g = am_find_group(t->groups, t->n_groups, tok);
      if (g < 0)
        return am_err(err, err_sz, "task %s: parameter %s: '%s' is not an observation group "
                      "(groups: %s)", t->name, key, tok, groups);
    } else if (n > 0 || strchr(spec, ',')) {
      return am_err(err, err_sz, "task %s: parameter %s: '%s' must be one value for every group "
                    "or GROUP:VALUE pairs (groups: %s)", t->name, key, spec, groups);
    }
    char* end;
    double v = strtod(num, &end);
    while (*end == ' ') end++;
    if (end == num || *end || !(v >= 0 && v <= max) || (integer && v != floor(v)))
      return am_err(err, err_sz, "task %s: parameter %s: '%s' must be %s in [0, %g]", t->name,
                    key, num, what, max);
    if (g >= 0) out[g] = v;
    else
      for (int k = 0; k < t->n_groups; k++) out[k] = v;
  }
  return 0;
}

int amt_opts_setup(am_task* t, amt_opts* o, char* err, size_t err_sz) {
  o->base_dim = t->obs_dim;
  o->act_dim = t->act_dim;
  if (o->prev_inputs) {
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
  }
  o->obs_dim = t->obs_dim;
  double noise[AM_MAX_GROUPS], delay[AM_MAX_GROUPS];
  if (parse_group_spec(t, "obs_noise", o->noise_spec, 1e6, 0, noise, err, err_sz) ||
      parse_group_spec(t, "obs_delay", o->delay_spec, AMT_MAX_DELAY, 1, delay, err, err_sz))
    return -1;
  o->n_groups = t->n_groups;
  o->any_noise = o->max_delay = 0;
  for (int g = 0; g < t->n_groups; g++) {
    o->g_off[g] = t->groups[g].offset;
    o->g_size[g] = t->groups[g].size;
    o->g_noise[g] = noise[g];
    o->g_delay[g] = (int)delay[g];
    o->any_noise |= noise[g] > 0;
    if (o->g_delay[g] > o->max_delay) o->max_delay = o->g_delay[g];
  }
  if (o->max_delay > 0) {  // the delay line: max_delay + 1 observations after the task's state
    o->line_offset = (t->state_size + 7) & ~(size_t)7;
    t->state_size = o->line_offset + sizeof(float) * (size_t)(o->max_delay + 1) * o->obs_dim;
  }
  return 0;
}

void amt_opts_reset(amt_opt_state* s) { memset(s, 0, sizeof *s); }

void amt_opts_act(const amt_opts* o, amt_opt_state* s, const float* a) {
  if (!o->prev_inputs) return;
  for (int i = 0; i < o->act_dim; i++) s->prev_action[i] = isfinite(a[i]) ? a[i] : 0.0f;
}

void amt_opts_reward(amt_opt_state* s, float r) { s->prev_reward = isfinite(r) ? r : 0.0f; }

void amt_opts_observe(const amt_opts* o, amt_opt_state* s, am_rng* rng, float* obs) {
  int n = o->base_dim;
  if (o->prev_inputs) {
    for (int i = 0; i < o->act_dim; i++) obs[n + i] = s->prev_action[i];
    obs[n + o->act_dim] = s->prev_reward;
  }
  if (o->any_noise)  // group by group in the task's order (the groups tile the observation)
    for (int g = 0; g < o->n_groups; g++)
      if (o->g_noise[g] > 0)
        for (int i = o->g_off[g]; i < o->g_off[g] + o->g_size[g]; i++)
          obs[i] += (float)(o->g_noise[g] * am_rng_normal(rng));
  if (o->max_delay > 0) {
    const int L = o->max_delay + 1, d = o->obs_dim;
    float* line = (float*)((char*)s + o->line_offset);  // L observations, slot = step mod L
    int head = (int)(s->sensed % L);
    if (s->sensed == 0)  // the episode's first observation stands for the steps before it
      for (int k = 0; k < L; k++) memcpy(line + (size_t)k * d, obs, sizeof(float) * (size_t)d);
    else
      memcpy(line + (size_t)head * d, obs, sizeof(float) * (size_t)d);
    for (int g = 0; g < o->n_groups; g++) {
      if (!o->g_delay[g]) continue;
      const float* past = line + (size_t)((head - o->g_delay[g] + L) % L) * d;
      memcpy(obs + o->g_off[g], past + o->g_off[g], sizeof(float) * (size_t)o->g_size[g]);
    }
  }
  s->sensed++;
}
