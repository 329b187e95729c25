// ama_act.c: the one way animat acts on an env pool: training rollouts (ama_ppo.c), `animat
// record`, the demo and benchmarks, and the viewer's live mode all call ama_actor_act before
// am_pool_step and ama_actor_observe after it.
//
// What it does per control step, for N envs: normalises the observations with the policy's running
// statistics (clipped to +-obs_clip) into p->a_obs, draws the rate-RNN recurrent noise (core: on
// its ticks; motor: every step) and the action noise, steps the policy, samples
// a = mean + exp(logstd) * eps, and writes a clipped into each actuator's control range (a
// categorical head: a choice drawn from softmax(logits), written one-hot). A random
// policy samples uniformly in that range; a zero policy writes 0 clipped into it.
// What it is not: no learning (ama_ppo.c keeps what the update needs), no file formats.
//
// Noise: --deterministic (ama_actor_cfg.deterministic) acts with the mean and no recurrent noise.
// Otherwise every standard normal comes from one of two sources, fixed at creation:
//  - per env (the default): env i draws from its own acting stream, seeded from (seed, i) apart
//    from the task's stream, in the order core noise (at ticks), motor noise, action noise; so env
//    i's behaviour depends on the seed and i only, not on the number of envs or threads;
//  - shared (the learner): one stream, drawn for all envs in env order, core noise block, motor
//    noise block, then action noise block (what the learner has always drawn).
// With action_noise_corr = rho > 0 the action noise is AR(1) over steps: eps_t = rho eps_{t-1} +
// sqrt(1 - rho^2) xi_t, xi_t the step's standard normals (the same draws as white noise), and
// eps = xi at each episode's first step; every eps is still standard normal, so the sample's
// log-density (what PPO's ratio uses) keeps its form.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"

void ama_action_range(const am_task* t, float* lo, float* hi) {
  const mjModel* m = t->model ? t->model->m : NULL;
  for (int j = 0; j < t->act_dim; j++) {
    lo[j] = -1.0f;
    hi[j] = 1.0f;
    // the actuators' ranges; values after them (a task's command, e.g. water-maze's steer=1)
    // stay in [-1, 1]
    if (m && j < m->nu && t->act_dim >= m->nu && m->actuator_ctrllimited[j]) {
      lo[j] = (float)m->actuator_ctrlrange[2 * j];
      hi[j] = (float)m->actuator_ctrlrange[2 * j + 1];
    }
  }
}

void ama_actor_free(ama_actor* a) {
  ama_actor_perturb_free(a);
  free(a->lo);
  free(a->hi);
  free(a->rng);
  free(a->core_noise);
  free(a->motor_noise);
  free(a->eps);
  free(a->eps_prev);
  free(a->sampled);
  free(a->std);
  free(a->logp);
  free(a->mask);
  memset(a, 0, sizeof *a);
}

int ama_actor_init(ama_actor* a, const ama_actor_cfg* cfg, ama_policy* p, const am_task* t,
                   int N, char* err, size_t err_sz) {
  memset(a, 0, sizeof *a);
  if (cfg->kind == AMA_ACT_POLICY && !p)
    return am_err(err, err_sz, "acting with a policy needs a policy");
  if (p && (p->N != N || p->obs_dim != t->obs_dim || p->act_dim != t->act_dim))
    return am_err(err, err_sz,
                  "the policy acts for %d envs with observation %d and action %d; the task has "
                  "observation %d and action %d for %d envs",
                  p->N, p->obs_dim, p->act_dim, t->obs_dim, t->act_dim, N);
  if (p && cfg->kind == AMA_ACT_POLICY && p->categorical && !t->discrete)
    return am_err(err, err_sz, "the policy has a categorical action head (action_head = "
                  "categorical) but task %s's actions are continuous", t->name);
  a->kind = cfg->kind;
  a->deterministic = cfg->deterministic;
  a->categorical = cfg->kind == AMA_ACT_POLICY && p->categorical;
  a->pol = cfg->kind == AMA_ACT_POLICY ? p : NULL;
  a->shared = cfg->shared;
  a->N = N;
  a->A = t->act_dim;
  a->O = t->obs_dim;
  const int A = a->A;
  if (a->pol) {
    const ama_cell* cc = &a->pol->core;
    const ama_cell* mc = &a->pol->motor;
    a->Hc = cc->cfg.type == AMA_CELL_RNN && cc->cfg.noise > 0 && !a->deterministic ? cc->cfg.hidden : 0;
    a->Hm = mc->cfg.type == AMA_CELL_RNN && mc->cfg.noise > 0 && !a->deterministic ? mc->cfg.hidden : 0;
  }
  a->lo = calloc((size_t)A + 1, sizeof(float));
  a->hi = calloc((size_t)A + 1, sizeof(float));
  a->rng = calloc((size_t)N, sizeof(am_rng));
  a->core_noise = calloc((size_t)N * a->Hc + 1, sizeof(float));
  a->motor_noise = calloc((size_t)N * a->Hm + 1, sizeof(float));
  a->eps = calloc((size_t)N * A + 1, sizeof(float));
  a->sampled = calloc((size_t)N * A + 1, sizeof(float));
  a->std = calloc((size_t)N * A + 1, sizeof(float));
  a->logp = calloc((size_t)N, sizeof(float));
  a->mask = calloc((size_t)N, sizeof(float));  // 0: every env starts an episode
  const int corr = a->pol && a->pol->cfg.noise_corr > 0 && !a->deterministic && !a->categorical;
  if (corr) a->eps_prev = calloc((size_t)N * A, sizeof(float));
  if (!a->lo || !a->hi || !a->rng || !a->core_noise || !a->motor_noise || !a->eps ||
      !a->sampled || !a->std || !a->logp || !a->mask || (corr && !a->eps_prev)) {
    ama_actor_free(a);
    return am_err(err, err_sz, "out of memory for acting (%d envs)", N);
  }
  ama_action_range(t, a->lo, a->hi);
  for (int i = 0; i < N; i++) am_rng_seed(&a->rng[i], cfg->seed, 0x61637400000000ULL + (uint64_t)i);
  return 0;
}

// The standard normals of one step: core noise (when the core ticks), motor noise, action noise.
static void draw_noise(ama_actor* a, int core_tick) {
  const int N = a->N, A = a->A, Hc = core_tick ? a->Hc : 0, Hm = a->Hm;
  if (a->shared) {
    if (Hc) am_rng_normals(a->shared, a->core_noise, (size_t)N * Hc);
    if (Hm) am_rng_normals(a->shared, a->motor_noise, (size_t)N * Hm);
    if (!a->categorical) am_rng_normals(a->shared, a->eps, (size_t)N * A);
    for (int i = 0; a->categorical && i < N; i++) a->eps[(size_t)i * A] = (float)am_rng_uniform(a->shared);
    return;
  }
  for (int i = 0; i < N; i++) {
    if (Hc) am_rng_normals(&a->rng[i], a->core_noise + (size_t)i * Hc, (size_t)Hc);
    if (Hm) am_rng_normals(&a->rng[i], a->motor_noise + (size_t)i * Hm, (size_t)Hm);
    if (a->categorical) a->eps[(size_t)i * A] = (float)am_rng_uniform(&a->rng[i]);
    else am_rng_normals(&a->rng[i], a->eps + (size_t)i * A, (size_t)A);
  }
}

// action_noise_corr: the step's standard normals xi (in eps) folded into the AR(1) noise.
static void correlate_noise(ama_actor* a) {
  const size_t A = (size_t)a->A;
  const float rho = a->pol->cfg.noise_corr, c = sqrtf(fmaxf(0.0f, 1.0f - rho * rho));
  for (int i = 0; i < a->N; i++) {
    float *e = a->eps + i * A, *prev = a->eps_prev + i * A;
    if (a->eps_started && a->mask[i] != 0.0f)  // else an episode's first step: xi as drawn
      for (size_t j = 0; j < A; j++) e[j] = rho * prev[j] + c * e[j];
    memcpy(prev, e, sizeof(float) * A);
  }
  a->eps_started = 1;
}

// The categorical head: choice probabilities softmax(logits) into a->std, the choice (the first k
// whose cumulative probability exceeds the uniform eps[i*A]; deterministic: the argmax) one-hot
// into sampled and actions, its log-probability into logp.
static void act_categorical(ama_actor* a, float* actions) {
  const int N = a->N, A = a->A;
  const ama_policy* p = a->pol;
  for (int i = 0; i < N; i++) {
    const float* z = p->a_mean + (size_t)i * A;
    float* pr = a->std + (size_t)i * A;
    float mx = z[0];
    int best = 0;
    for (int j = 1; j < A; j++)
      if (z[j] > mx) mx = z[j], best = j;
    double sum = 0;
    for (int j = 0; j < A; j++) sum += exp((double)z[j] - mx);
    float lse = mx + (float)log(sum);
    for (int j = 0; j < A; j++) pr[j] = expf(z[j] - lse);
    int k = best;
    if (!a->deterministic) {
      double u = a->eps[(size_t)i * A], c = 0;
      for (k = 0; k < A - 1; k++)
        if (u < (c += pr[k])) break;
    }
    for (int j = 0; j < A; j++) actions[(size_t)i * A + j] = a->sampled[(size_t)i * A + j] = j == k;
    a->logp[i] = z[k] - lse;
  }
}

void ama_actor_act(ama_actor* a, const float* obs, float* actions) {
  const int N = a->N, A = a->A;
  if (a->n_pert) ama_actor_perturb_apply(a);  // the network's windows and the pushes
  if (a->kind == AMA_ACT_RANDOM) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < A; j++) {
        size_t q = (size_t)i * A + j;
        am_rng* r = a->shared ? a->shared : &a->rng[i];
        actions[q] = a->sampled[q] = (float)am_rng_range(r, a->lo[j], a->hi[j]);
      }
    return;
  }
  if (a->kind == AMA_ACT_ZERO) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < A; j++) {
        size_t q = (size_t)i * A + j;
        actions[q] = a->sampled[q] = fminf(fmaxf(0.0f, a->lo[j]), a->hi[j]);
      }
    return;
  }
  ama_policy* p = a->pol;
  int tick = p->t_global % p->cfg.core_tick == 0;
  if (!a->deterministic) draw_noise(a, tick);
  if (a->eps_prev) correlate_noise(a);
  ama_norm_apply(&p->norm, obs, p->a_obs, N);
  ama_policy_step(p, p->a_obs, a->mask, tick && a->Hc ? a->core_noise : NULL,
                  a->Hm ? a->motor_noise : NULL);
  if (a->categorical) {
    act_categorical(a, actions);
    return;
  }
  const float* logstd = p->params.w + p->params.t[p->i_logstd].offset;
  float stdv[AMA_MAX_ACT];
  for (int j = 0; j < A; j++) stdv[j] = a->deterministic ? 0.0f : expf(logstd[j]);
  for (int i = 0; i < N; i++) {
    float lp = 0;
    for (int j = 0; j < A; j++) {
      size_t q = (size_t)i * A + j;
      float e = a->deterministic ? 0.0f : a->eps[q];
      float s = p->a_mean[q] + stdv[j] * e;
      a->std[q] = stdv[j];
      a->sampled[q] = s;
      lp += -0.5f * e * e - logstd[j] - 0.5f * AMA_LOG_2PI;
      actions[q] = s < a->lo[j] ? a->lo[j] : s > a->hi[j] ? a->hi[j] : s;
    }
    a->logp[i] = lp;
  }
}

void ama_actor_observe(ama_actor* a, const am_batch* b) {
  if (a->pol) ama_policy_set_feedback(a->pol, b->actions, b->rewards);
  for (int i = 0; i < a->N; i++) a->mask[i] = (b->terminated[i] || b->truncated[i]) ? 0.0f : 1.0f;
  if (a->n_pert) ama_actor_perturb_observe(a, b);
}
