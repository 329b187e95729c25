// ama_ppo.c: the PPO learner: rollouts of T steps from the env pool with the recurrent policy,
// GAE(lambda) with terminated vs truncated episodes, and minibatch updates over envs with
// truncated BPTT from the stored initial states.
// What it is not: no file formats (ama_ckpt.c), no printing.
//
// Determinism: every random number (action noise, rate-RNN noise, minibatch order) comes from the
// learner's own xoshiro stream, drawn on the calling thread in env order, so a seed fixes the run
// whatever the pool's thread count.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"
#include "ama_internal.h"

//---------------------------------- loss and GAE --------------------------------------------------

void ama_ppo_loss_grad(const ama_ppo_coefs* co, int N, int A, const float* mean,
                       const float* logstd, const float* value, const float* act,
                       const float* old_logp, const float* adv, const float* ret, float scale,
                       float* dmean, float* dlogstd, float* dvalue, ama_ppo_stats* st) {
  double pg = 0, vl = 0, kl = 0, clipped = 0, akl = 0, wakl = 0;  // akl: unweighted
  float inv_var[AMA_MAX_ACT], istd[AMA_MAX_ACT], ref_var[AMA_MAX_ACT];
  if (A > AMA_MAX_ACT) {
    if (st) st->loss = NAN;
    return;
  }
  const int cat = logstd == NULL;  // categorical: mean holds logits, act one-hot choices
  double ent_sum = 0;
  float pr[AMA_MAX_ACT], logpr[AMA_MAX_ACT];
  const int anchored = !cat && co->anchor > 0 && co->ref_mean && co->ref_logstd;
  for (int j = 0; j < A && !cat; j++) {
    istd[j] = expf(-logstd[j]);
    inv_var[j] = istd[j] * istd[j];
    if (anchored) ref_var[j] = expf(2 * co->ref_logstd[j]);
  }
  for (int n = 0; n < N; n++) {
    const float* a = act + (size_t)n * A;
    const float* m = mean + (size_t)n * A;
    float lp = 0, H = 0;
    if (cat) {  // log softmax, the chosen entry's log-probability, the entropy
      float mx = m[0];
      for (int j = 1; j < A; j++) mx = fmaxf(mx, m[j]);
      double sum = 0;
      for (int j = 0; j < A; j++) sum += exp((double)m[j] - mx);
      float lse = mx + (float)log(sum);
      for (int j = 0; j < A; j++) {
        logpr[j] = m[j] - lse;
        pr[j] = expf(logpr[j]);
        lp += a[j] * logpr[j];
        H -= pr[j] * logpr[j];
      }
      ent_sum += H;
    } else {
      for (int j = 0; j < A; j++) {
        float z = (a[j] - m[j]) * istd[j];
        lp += -0.5f * z * z - logstd[j] - 0.5f * AMA_LOG_2PI;
      }
    }
    float logr = lp - old_logp[n];
    float r = expf(logr);
    float A_ = adv[n];
    float unc = r * A_, clp = fminf(fmaxf(r, 1.0f - co->clip), 1.0f + co->clip) * A_;
    float dlp;  // d loss / d logp
    if (unc <= clp) {
      pg += -unc;
      dlp = -A_ * r * scale;
    } else {
      pg += -clp;
      dlp = 0.0f;
    }
    if (fabsf(r - 1.0f) > co->clip) clipped += 1;
    kl += (r - 1.0f) - logr;
    if (cat) {  // d log p / dz_j = a_j - p_j; dH/dz_j = -p_j (log p_j + H)
      float ec = co->ent_coef / (float)N;
      for (int j = 0; j < A; j++)
        dmean[(size_t)n * A + j] = dlp * (a[j] - pr[j]) + ec * pr[j] * (logpr[j] + H);
    } else {
      for (int j = 0; j < A; j++) {
        float d = a[j] - m[j];
        dmean[(size_t)n * A + j] = dlp * d * inv_var[j];
        dlogstd[j] += dlp * (d * d * inv_var[j] - 1.0f);
      }
    }
    if (anchored) {  // KL(N(mr, sr) || N(m, s)) = log s - log sr + (sr^2 + (m - mr)^2) / 2s^2 - 1/2
      const float* mr = co->ref_mean + (size_t)n * A;
      const float w = co->anchor_w ? co->anchor_w[n] : 1.0f, b = co->anchor * scale * w;
      double kl_n = 0;
      for (int j = 0; j < A - co->anchor_skip; j++) {
        float d = m[j] - mr[j], q = (ref_var[j] + d * d) * inv_var[j];
        const float kl_j = logstd[j] - co->ref_logstd[j] + 0.5f * q - 0.5f;
        akl += kl_j, kl_n += kl_j;
        dmean[(size_t)n * A + j] += b * d * inv_var[j];
        dlogstd[j] += b * (1.0f - q);
      }
      wakl += w * kl_n;
    }
    if (!co->tau) {
      float dv = value[n] - ret[n];
      vl += 0.5 * dv * dv;
      dvalue[n] = co->vf_coef * dv * scale;
      continue;
    }
    // the distributional critic: head i's expectile loss |tau_i - 1[delta_i < 0]| delta_i^2
    // (delta_i = R_i - V_i), averaged over the K heads
    const int K = co->heads;
    for (int i = 0; i < K; i++) {
      size_t q = (size_t)n * K + i;
      float dv = value[q] - ret[q];  // = -delta_i
      float w = dv > 0 ? 1.0f - co->tau[i] : co->tau[i];
      vl += (double)w * dv * dv / K;
      dvalue[q] = co->vf_coef * (2.0f * w / (float)K) * dv * scale;
    }
  }
  float ent = cat ? (float)(N ? ent_sum / N : 0) : ama_gauss_entropy(logstd, A);
  for (int j = 0; j < A && !cat; j++) dlogstd[j] += -co->ent_coef;
  if (st) {
    st->pg_loss = pg * scale;
    st->v_loss = vl * scale;
    st->entropy = ent;
    st->anchor_kl = N ? akl / N : 0;
    st->loss = st->pg_loss + co->vf_coef * st->v_loss - co->ent_coef * ent +
               (anchored ? co->anchor * (co->anchor_w ? wakl : akl) * scale : 0);
    st->approx_kl = N ? kl / N : 0;
    st->clip_frac = N ? clipped / N : 0;
  }
}

void ama_gae(int T, int N, float gamma, float lambda, const float* rewards, const float* values,
             const uint8_t* terminated, const uint8_t* truncated, const float* final_value,
             const float* next_value, float* adv, float* ret) {
  for (int b = 0; b < N; b++) {
    float last = 0.0f;
    for (int t = T - 1; t >= 0; t--) {
      size_t i = (size_t)t * N + b;
      float nv, delta;
      if (terminated[i]) {
        delta = rewards[i] - values[i];
        last = delta;
      } else if (truncated[i]) {
        delta = rewards[i] + gamma * final_value[i] - values[i];
        last = delta;
      } else {
        nv = t == T - 1 ? next_value[b] : values[i + N];
        delta = rewards[i] + gamma * nv - values[i];
        last = delta + gamma * lambda * (t == T - 1 ? 0.0f : last);
      }
      adv[i] = last;
      ret[i] = last + values[i];
    }
  }
}

//---------------------------------- learner -------------------------------------------------------

static void* xcalloc(size_t n, size_t sz, int* fail) {
  void* p = calloc(n ? n : 1, sz);
  if (!p) *fail = 1;
  return p;
}

ama_policy* ama_ppo_policy(ama_ppo* L) { return &L->pol; }
const ama_config* ama_ppo_config(const ama_ppo* L) { return &L->cfg; }
int64_t ama_ppo_env_steps(const ama_ppo* L) { return L->env_steps; }
int64_t ama_ppo_iteration(const ama_ppo* L) { return L->iteration; }
const char* ama_ppo_error(const ama_ppo* L) { return L->err; }

void ama_ppo_free(ama_ppo* L) {
  if (!L) return;
  ama_es_free(L->es);
  ama_hebb_free(L->hebb);
  if (L->anchored) {
    ama_actor_free(&L->ref_act);
    ama_policy_free(&L->ref);
  }
  free(L->ref_mean);
  free(L->ref_scratch);
  free(L->mb_ref);
  free(L->anchor_w);
  free(L->mb_aw);
  ama_policy_free(&L->pol);
  ama_seq_free(&L->half[0]);
  ama_seq_free(&L->half[1]);
  if (L->pol2.params.g) {  // pol2 shares everything with pol except these
    free(L->pol2.params.g);
    ama_cell_free(&L->pol2.core);
    ama_cell_free(&L->pol2.motor);
  }
  ama_seq_free(&L->roll);
  free(L->raw_obs);
  free(L->actions);
  free(L->logp);
  free(L->values);
  free(L->rewards);
  free(L->terminated);
  free(L->truncated);
  free(L->final_value);
  free(L->next_value);
  free(L->next_plane);
  free(L->adv);
  free(L->ret);
  ama_actor_free(&L->act);  // owns next_mask
  free(L->obs_n);
  free(L->mb_act);
  free(L->mb_logp);
  free(L->mb_adv);
  free(L->mb_ret);
  free(L->dmean);
  free(L->dvalue);
  free(L->perm);
  free(L->success_ev);
  free(L->gsum);
  free(L);
}

// The anchor's reference: a second policy of the same shape holding pol's parameters as they are
// now (after load_module), acting deterministically; its buffers.
static int anchor_init(ama_ppo* L, const am_task* task, char* err, size_t err_sz) {
  const int N = L->N, A = task->act_dim;
  if (ama_policy_init(&L->ref, &L->cfg.policy, task->groups, task->n_groups, task->obs_dim, A,
                      L->T, 1, N, L->cfg.seed, err, err_sz))
    return -1;
  L->anchored = 1;
  memcpy(L->ref.params.w, L->pol.params.w, sizeof(float) * L->pol.params.count);
  ama_cell_prepare(&L->ref.core, &L->ref.params);
  ama_cell_prepare(&L->ref.motor, &L->ref.params);
  ama_actor_cfg acfg = {.kind = AMA_ACT_POLICY, .deterministic = 1};
  if (ama_actor_init(&L->ref_act, &acfg, &L->ref, task, N, err, err_sz)) return -1;
  int fail = 0;
  L->ref_mean = xcalloc((size_t)L->T * N * A, sizeof(float), &fail);
  L->ref_scratch = xcalloc((size_t)N * A, sizeof(float), &fail);
  L->mb_ref = xcalloc((size_t)L->T * L->B * A, sizeof(float), &fail);
  if (L->cfg.ppo.anchor_envs[0]) {  // L->cfg.num_envs is N, this pool's envs
    L->anchor_w = xcalloc((size_t)N, sizeof(float), &fail);
    L->mb_aw = xcalloc((size_t)L->T * L->B, sizeof(float), &fail);
  }
  if (fail) return am_err(err, err_sz, "out of memory for the anchor (T=%d N=%d)", L->T, N);
  if (L->anchor_w && ama_anchor_weights(&L->cfg, L->anchor_w, err, err_sz)) return -1;
  return 0;
}

ama_ppo* ama_ppo_create(const ama_config* cfg, am_pool* pool, char* err, size_t err_sz) {
  const am_task* task = am_pool_task(pool);
  int N = am_pool_num_envs(pool);
  const ama_ppo_cfg* pc = &cfg->ppo;
  ama_config chk = *cfg;  // the rules between keys, for the pool's env count
  chk.num_envs = N;
  if (ama_config_check(&chk, err, err_sz)) return NULL;
  if (pc->horizon < 1 || pc->epochs < 1 || pc->minibatches < 1) {
    snprintf(err, err_sz, "horizon, epochs and minibatches must be >= 1");
    return NULL;
  }
  if (N % pc->minibatches != 0) {
    snprintf(err, err_sz, "minibatches (%d) must divide the number of envs (%d)", pc->minibatches,
             N);
    return NULL;
  }
  if (strcmp(pc->lr_schedule, "constant") != 0 && strcmp(pc->lr_schedule, "linear") != 0) {
    snprintf(err, err_sz, "lr_schedule must be constant or linear (got '%s')", pc->lr_schedule);
    return NULL;
  }
  ama_ppo* L = calloc(1, sizeof(ama_ppo));
  if (!L) {
    snprintf(err, err_sz, "out of memory");
    return NULL;
  }
  L->cfg = *cfg;
  L->cfg.num_envs = N;
  L->pool = pool;
  L->N = N;
  L->T = pc->horizon;
  L->B = N / pc->minibatches;
  int O = task->obs_dim, A = task->act_dim, T = L->T;
  if (A > AMA_MAX_ACT || N > 4096) {
    free(L);
    snprintf(err, err_sz, "at most 64 action dimensions and 4096 envs (task has %d, pool %d)", A, N);
    return NULL;
  }
  if (ama_policy_init(&L->pol, &cfg->policy, task->groups, task->n_groups, O, A, T, L->B, N,
                      cfg->seed, err, err_sz)) {
    free(L);
    return NULL;
  }
  if (ama_seq_alloc(&L->roll, &L->pol, T, N, err, err_sz) ||
      0) {
    ama_ppo_free(L);
    return NULL;
  }
  L->n_half = L->B % 2 == 0 ? 2 : 1;
  L->Bh = L->B / L->n_half;
  for (int h = 0; h < L->n_half; h++) {
    if (ama_seq_alloc(&L->half[h], &L->pol, T, L->Bh, err, err_sz)) {
      ama_ppo_free(L);
      return NULL;
    }
    L->half[h].activity_scale = 1.0f / (float)L->n_half;
  }
  L->learn_threads = am_pool_num_threads(pool) >= 2 ? 2 : 1;
  int fail = 0;
  size_t TN = (size_t)T * N;
  const size_t K = (size_t)L->pol.n_heads;
  L->raw_obs = xcalloc(TN * O, sizeof(float), &fail);
  L->actions = xcalloc(TN * A, sizeof(float), &fail);
  L->logp = xcalloc(TN, sizeof(float), &fail);
  L->values = xcalloc(K * TN, sizeof(float), &fail);
  L->rewards = xcalloc(TN, sizeof(float), &fail);
  L->terminated = xcalloc(TN, 1, &fail);
  L->truncated = xcalloc(TN, 1, &fail);
  L->final_value = xcalloc(K * TN, sizeof(float), &fail);
  L->next_value = xcalloc(K * N, sizeof(float), &fail);
  L->next_plane = xcalloc(K * N, sizeof(float), &fail);
  L->adv = xcalloc((K + (K > 1)) * TN, sizeof(float), &fail);
  L->adv_sum = L->adv ? L->adv + (K > 1 ? K * TN : 0) : NULL;
  L->ret = xcalloc(K * TN, sizeof(float), &fail);
  L->obs_n = xcalloc((size_t)N * O, sizeof(float), &fail);
  size_t TB = (size_t)T * L->B;
  L->mb_act = xcalloc(TB * A, sizeof(float), &fail);
  L->mb_logp = xcalloc(TB, sizeof(float), &fail);
  L->mb_adv = xcalloc(TB, sizeof(float), &fail);
  L->mb_ret = xcalloc(TB * K, sizeof(float), &fail);
  L->dmean = xcalloc(TB * A, sizeof(float), &fail);
  L->dvalue = xcalloc(TB * K, sizeof(float), &fail);
  L->perm = xcalloc(N, sizeof(int), &fail);
  L->success_ev = xcalloc(2, sizeof(int), &fail);
  if (fail) {
    ama_ppo_free(L);
    snprintf(err, err_sz, "out of memory for rollouts (T=%d N=%d)", T, N);
    return NULL;
  }
  // acting: the one acting path, drawing from the learner's stream (ama_act.c)
  am_rng_seed(&L->rng, cfg->seed, 0x6c6561726e6572ULL);  // "learner"
  ama_actor_cfg acfg = {.kind = AMA_ACT_POLICY, .shared = &L->rng};
  if (ama_actor_init(&L->act, &acfg, &L->pol, task, N, err, err_sz)) {
    ama_ppo_free(L);
    return NULL;
  }
  L->next_mask = L->act.mask;
  for (int b = 0; b < N; b++) L->next_mask[b] = 1.0f;
  // success: the task's trial schema (am_task); per trial when it has a trial-end event, else per
  // episode. Codes outside [0, n_events) mean none.
  L->success_ev[0] = task->success_event >= 0 && task->success_event < task->n_events
                         ? task->success_event : -1;
  L->success_ev[1] = task->trial_end_event >= 0 && task->trial_end_event < task->n_events
                         ? task->trial_end_event : -1;
  if (cfg->load_module[0]) {  // module reuse (freezing them below too; both keys checked above)
    if (ama_policy_load_module(&L->pol, task->groups, task->n_groups, cfg->load_path,
                               cfg->load_module, cfg->freeze, err, err_sz) ||
        (cfg->load_extra_module[0] &&
         ama_policy_load_module(&L->pol, task->groups, task->n_groups, cfg->load_extra_path,
                                cfg->load_extra_module, cfg->freeze, err, err_sz))) {
      ama_ppo_free(L);
      return NULL;
    }
    // the loaded means, a fresh action noise (a Gaussian head: checked)
    static const char* const noisy[][2] = {{"head", "head.logstd"}, {"command", "command.logstd"}};
    for (int k = 0; k < 2 && cfg->reset_logstd; k++) {
      int t = ama_params_find(&L->pol.params, noisy[k][1]);
      if (t < 0 || !ama_config_loads(cfg, noisy[k][0])) continue;
      float* ls = L->pol.params.w + L->pol.params.t[t].offset;
      for (int j = 0; j < L->pol.params.t[t].rows; j++) ls[j] = cfg->policy.init_logstd;
    }
  }
  if (L->n_half == 2) {  // the second half's policy view: own gradients and Dale scratch
    L->pol2 = L->pol;
    L->pol2.params.g = calloc(L->pol.params.count ? L->pol.params.count : 1, sizeof(float));
    ama_cell* cells2[2] = {&L->pol2.core, &L->pol2.motor};
    const ama_cell* cells[2] = {&L->pol.core, &L->pol.motor};
    int oom = !L->pol2.params.g;
    for (int i = 0; i < 2; i++) {
      cells2[i]->Wh_eff = cells2[i]->sign = NULL;
      if (cells[i]->Wh_eff) {
        size_t H = (size_t)cells[i]->cfg.hidden;
        cells2[i]->Wh_eff = calloc(2 * H * H, sizeof(float));
        cells2[i]->sign = malloc(H * sizeof(float));
        if (!cells2[i]->Wh_eff || !cells2[i]->sign) oom = 1;
        else memcpy(cells2[i]->sign, cells[i]->sign, H * sizeof(float));
      }
    }
    if (oom) {
      ama_ppo_free(L);
      snprintf(err, err_sz, "out of memory");
      return NULL;
    }
  }
  if (cfg->freeze[0]) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%s", cfg->freeze);
    char* save = NULL;
    for (char* tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
      if (ama_policy_freeze(&L->pol, tok, 1, err, err_sz)) {
        ama_ppo_free(L);
        return NULL;
      }
  }
  if (L->n_half == 2) memcpy(L->pol2.params.t, L->pol.params.t, sizeof(L->pol.params.t));
  if (pc->anchor > 0 && anchor_init(L, task, err, err_sz)) {
    ama_ppo_free(L);
    return NULL;
  }
  if (!strcmp(cfg->learner, "es") && !(L->es = ama_es_create(L, err, err_sz))) {
    ama_ppo_free(L);
    return NULL;
  }
  if (!strcmp(cfg->learner, "hebbian") && !(L->hebb = ama_hebb_create(L, err, err_sz))) {
    ama_ppo_free(L);
    return NULL;
  }
  return L;
}

float ama_lr_at(const ama_ppo* L) {
  float lr = L->cfg.ppo.lr;
  if (strcmp(L->cfg.ppo.lr_schedule, "linear") == 0 && L->cfg.total_steps > 0) {
    double frac = 1.0 - (double)L->env_steps / (double)L->cfg.total_steps;
    if (frac < 0.0) frac = 0.0;
    lr = (float)(lr * frac);
  }
  return lr;
}

// The rollout: T control steps of all N envs. Fills roll (the policy's inputs, as sequences of
// all N envs), actions, logp, values, rewards, flags and bootstrap values. learn = 0 skips what
// only the update needs.
static void rollout(ama_ppo* L, int learn) {
  ama_policy* p = &L->pol;
  am_batch* bt = am_pool_batch(L->pool);
  const int T = L->T, N = L->N, A = p->act_dim, O = p->obs_dim, k = p->cfg.core_tick;
  const int Hc = p->cfg.core_hidden, Hm = p->cfg.motor_hidden;
  ama_actor* ac = &L->act;
  ama_seq* R = &L->roll;
  float* motor_noise_base = R->noise + (size_t)R->Tc * N * Hc;
  memcpy(R->core_s0, p->core_s, sizeof(float) * N * (p->core.S ? p->core.S : 1));
  memcpy(R->motor_s0, p->motor_s, sizeof(float) * N * (p->motor.S ? p->motor.S : 1));
  L->ep_count = 0;
  L->ep_return = 0;
  L->ep_length = 0;
  L->ep_success = 0;
  L->ep_unstable = 0;
  L->tr_count = L->tr_success = 0;
  L->rr0_count = L->rr_count, L->rr0_mean = L->rr_mean, L->rr0_m2 = L->rr_m2;
  L->it_count = L->it_mean = L->it_m2 = 0;
  L->hook_failed = 0;
  if (L->anchored) ama_norm_copy(&L->ref.norm, &p->norm);  // the reference sees what pol sees
  for (int t = 0; t < T; t++) {
    size_t row = (size_t)t * N;
    memcpy(L->raw_obs + row * O, bt->obs, sizeof(float) * N * O);
    memcpy(R->mask + row, L->next_mask, sizeof(float) * N);
    int tick = t % k == 0;
    ama_actor_act(ac, bt->obs, bt->actions);
    // what the sequences replay: the normalised input, the recurrent noise, the reset masks
    memcpy(R->obs + row * O, p->a_obs, sizeof(float) * N * O);
    if (ac->Hc && tick)
      memcpy(R->noise + (size_t)(t / k) * N * Hc, ac->core_noise, sizeof(float) * N * Hc);
    if (ac->Hm) memcpy(motor_noise_base + row * Hm, ac->motor_noise, sizeof(float) * N * Hm);
    memcpy(R->prev_act + row * A, p->a_prev_act, sizeof(float) * N * A);
    memcpy(R->prev_rew + row, p->a_prev_rew, sizeof(float) * N);
    if (p->a_ticked) memcpy(R->core_mask + (size_t)(t / k) * N, p->a_core_mask, sizeof(float) * N);
    for (int i = 0; i < p->n_heads; i++)  // head i's plane
      for (int b = 0; b < N; b++)
        L->values[(size_t)i * T * N + row + b] = p->a_heads[b * p->n_heads + i];
    memcpy(L->actions + row * A, ac->sampled, sizeof(float) * N * A);
    memcpy(L->logp + row, ac->logp, sizeof(float) * N);
    if (L->anchored) {
      ama_actor_act(&L->ref_act, bt->obs, L->ref_scratch);
      memcpy(L->ref_mean + row * A, L->ref.a_mean, sizeof(float) * N * A);
    }
    am_pool_step(L->pool);
    int any_trunc = 0;
    for (int b = 0; b < N; b++) {
      float r = bt->rewards[b];
      if (L->cfg.ppo.action_cost != 0) {
        float e = 0;
        for (int j = 0; j < A; j++) e += bt->actions[b * A + j] * bt->actions[b * A + j];
        r -= L->cfg.ppo.action_cost * e;
      }
      if (L->cfg.ppo.norm_reward) L->disc[b] = L->disc[b] * L->cfg.ppo.gamma + r;
      L->rewards[row + b] = r;
      L->terminated[row + b] = bt->terminated[b];
      L->truncated[row + b] = bt->truncated[b] && !bt->terminated[b];
      any_trunc |= L->truncated[row + b];
      int done = bt->terminated[b] || bt->truncated[b];
      L->run_return[b] += bt->rewards[b];
      L->run_length[b] += 1;
      if (L->success_ev[0] >= 0 && (bt->events[b] >> L->success_ev[0]) & 1u) {
        L->run_success[b] = 1;
        L->tr_success++;
      }
      if (L->success_ev[1] >= 0 && (bt->events[b] >> L->success_ev[1]) & 1u) L->tr_count++;
      if (done) {
        L->ep_count++;
        if (bt->unstable[b]) {  // cut by a blow-up: its return says nothing about the policy
          L->ep_unstable++;
        } else {
          L->ep_return += L->run_return[b];
          L->ep_length += L->run_length[b];
        }
        L->ep_success += L->run_success[b];
        L->run_return[b] = 0;
        L->run_length[b] = 0;
        L->run_success[b] = 0;
      }
    }
    ama_actor_observe(ac, bt);  // next_mask: 0 where an episode ended
    if (L->anchored) ama_actor_observe(&L->ref_act, bt);
    if (L->hook && !L->hook_failed && L->hook(L->hook_ctx, L->err, sizeof L->err))
      L->hook_failed = 1;
    if (L->cfg.ppo.norm_reward) {
      // running variance of the discounted return (Chan's update with this step's N values),
      // then rewards divided by its std; accumulators restart with each episode
      double s = 0, s2 = 0;
      for (int b = 0; b < N; b++) s += L->disc[b];
      double bm = s / N;
      for (int b = 0; b < N; b++) s2 += (L->disc[b] - bm) * (L->disc[b] - bm);
      ama_chan_merge(&L->rr_count, &L->rr_mean, &L->rr_m2, N, bm, s2);
      if (L->comm) ama_chan_merge(&L->it_count, &L->it_mean, &L->it_m2, N, bm, s2);
      float inv = (float)(1.0 / sqrt(L->rr_m2 / L->rr_count + 1e-8));
      for (int b = 0; b < N; b++) {
        float r = L->rewards[row + b] * inv;
        L->rewards[row + b] = r > 10.0f ? 10.0f : r < -10.0f ? -10.0f : r;
        if (L->next_mask[b] == 0.0f) L->disc[b] = 0;
      }
    }
    if (learn && any_trunc) {
      // V(final obs): the value the policy would give the ended episode's next step
      ama_norm_apply(&p->norm, bt->final_obs, L->obs_n, N);
      ama_policy_peek_value(p, L->obs_n, NULL, L->next_value);
      for (int b = 0; b < N; b++)
        for (int i = 0; L->truncated[row + b] && i < p->n_heads; i++)
          L->final_value[(size_t)i * T * N + row + b] = L->next_value[b * p->n_heads + i];
    }
  }
  if (learn) {
    ama_norm_apply(&p->norm, bt->obs, L->obs_n, N);
    ama_policy_peek_value(p, L->obs_n, L->next_mask, L->next_value);
  }
  L->env_steps += (int64_t)T * N * (L->comm ? L->comm->size : 1);
}

int ama_ppo_rollout_only(ama_ppo* L) {
  L->err[0] = 0;
  rollout(L, 0);
  return L->hook_failed ? -1 : 0;
}

void ama_ppo_set_step_hook(ama_ppo* L, ama_step_hook hook, void* ctx) {
  L->hook = hook;
  L->hook_ctx = ctx;
}

ama_actor* ama_ppo_actor(ama_ppo* L) { return &L->act; }

// Gathers the envs perm[j0 .. j0+Bh) of the rollout into half h of the minibatch: its sequence
// and the rows [h*T*Bh, (h+1)*T*Bh) of the minibatch arrays.
static void gather(ama_ppo* L, int j0, int h) {
  ama_policy* p = &L->pol;
  ama_seq* R = &L->roll;
  ama_seq* S = &L->half[h];
  const int T = L->T, N = L->N, B = L->Bh, A = p->act_dim, O = p->obs_dim, Tc = R->Tc;
  const int Sc = p->core.S ? p->core.S : 1, Sm = p->motor.S ? p->motor.S : 1;
  const int Hc = p->cfg.core_hidden, Hm = p->cfg.motor_hidden, K = p->n_heads;
  const size_t off = (size_t)h * T * B;
  for (int j = 0; j < B; j++) {
    int e = L->perm[j0 + j];
    memcpy(S->core_s0 + (size_t)j * Sc, R->core_s0 + (size_t)e * Sc, sizeof(float) * Sc);
    memcpy(S->motor_s0 + (size_t)j * Sm, R->motor_s0 + (size_t)e * Sm, sizeof(float) * Sm);
    for (int t = 0; t < T; t++) {
      size_t src = (size_t)t * N + e, dst = (size_t)t * B + j;
      memcpy(S->obs + dst * O, R->obs + src * O, sizeof(float) * O);
      memcpy(S->prev_act + dst * A, R->prev_act + src * A, sizeof(float) * A);
      memcpy(L->mb_act + (off + dst) * A, L->actions + src * A, sizeof(float) * A);
      if (L->anchored)
        memcpy(L->mb_ref + (off + dst) * A, L->ref_mean + src * A, sizeof(float) * A);
      if (L->mb_aw) L->mb_aw[off + dst] = L->anchor_w[e];
      S->prev_rew[dst] = R->prev_rew[src];
      S->mask[dst] = R->mask[src];
      L->mb_logp[off + dst] = L->logp[src];
      L->mb_adv[off + dst] = L->adv_sum[src];
      for (int i = 0; i < K; i++)
        L->mb_ret[(off + dst) * K + i] = L->ret[(size_t)i * T * N + src];
      memcpy(S->noise + (size_t)Tc * B * Hc + dst * Hm, R->noise + (size_t)Tc * N * Hc + src * Hm,
             sizeof(float) * Hm);
    }
    for (int t = 0; t < Tc; t++) {
      size_t src = (size_t)t * N + e, dst = (size_t)t * B + j;
      S->core_mask[dst] = R->core_mask[src];
      memcpy(S->noise + dst * Hc, R->noise + src * Hc, sizeof(float) * Hc);
    }
  }
}

// The gradient of one half of a minibatch (loss scaled by 1/(T*B) so that the halves add up to
// the minibatch mean) into that half's policy view. Half 1 runs on the pool's second thread when
// it has one (run_halves; a pool of one thread runs both on the caller's).
typedef struct half_job {
  ama_ppo* L;
  int h;
  ama_ppo_coefs co;
  ama_ppo_stats ms;
} half_job;

static void half_grad(half_job* j) {
  ama_ppo* L = j->L;
  ama_policy* p = j->h ? &L->pol2 : &L->pol;
  ama_seq* S = &L->half[j->h];
  const int T = L->T, B = L->Bh, A = p->act_dim, TB = T * B;
  const size_t off = (size_t)j->h * TB;
  ama_policy_seq_forward(p, S, T, B);
  memset(p->params.g, 0, sizeof(float) * p->params.count);
  float* dlogstd = p->categorical ? NULL : p->params.g + p->params.t[p->i_logstd].offset;
  const float* logstd = p->categorical ? NULL : p->params.w + p->params.t[p->i_logstd].offset;
  const size_t K = (size_t)p->n_heads;
  if (L->anchored) {
    j->co.ref_mean = L->mb_ref + off * A;
    j->co.ref_logstd = L->ref.params.w + L->ref.params.t[L->ref.i_logstd].offset;
    j->co.anchor_w = L->mb_aw ? L->mb_aw + off : NULL;
  }
  ama_ppo_loss_grad(&j->co, TB, A, S->mean, logstd, S->value, L->mb_act + off * A,
                    L->mb_logp + off, L->mb_adv + off, L->mb_ret + off * K,
                    1.0f / (float)(TB * L->n_half), L->dmean + off * A, dlogstd,
                    L->dvalue + off * K, &j->ms);
  ama_policy_seq_backward(p, S, T, B, L->dmean + off * A, L->dvalue + off * K);
}

// am_pool_run's work for the halves of a minibatch (jobs[0 .. n_half-1]): thread t computes
// halves t, t + learn_threads, ...; threads from learn_threads on have none.
static void run_halves(void* arg, int thread) {
  half_job* jobs = arg;
  const ama_ppo* L = jobs[0].L;
  for (int h = thread; h < L->n_half; h += L->learn_threads) half_grad(&jobs[h]);
}

// am_pool_run's work for an Adam step begun (ama_adam_begin): thread t updates part t of
// learn_threads.
typedef struct adam_job {
  ama_ppo* L;
  float lr;
} adam_job;

static void run_adam(void* arg, int thread) {
  adam_job* j = arg;
  if (thread < j->L->learn_threads)
    ama_adam_part(&j->L->pol.params, j->lr, 0.9f, 0.999f, j->L->cfg.ppo.adam_eps, thread,
                  j->L->learn_threads);
}

// Holds every tensor but the value head's (critic.*) for the rest of the iteration, the user's
// freeze kept: *held (allocated here) marks the tensors to release after. Returns 0 or -1 (out of
// memory, L->err set).
static int hold_policy(ama_ppo* L, uint8_t** held) {
  ama_policy* p = &L->pol;
  if (!*held && !(*held = calloc((size_t)p->params.n_tensors, 1))) {
    snprintf(L->err, sizeof L->err, "out of memory");
    return -1;
  }
  for (int i = 0; i < p->params.n_tensors; i++)
    if (strncmp(p->params.t[i].name, "critic.", 7) && !p->params.t[i].frozen)
      (*held)[i] = 1, p->params.t[i].frozen = 1;
  return 0;
}

// Ends an iteration that held tensors (critic warm-up, target_kl): they learn again.
static void release_held(ama_policy* p, uint8_t* held) {
  if (!held) return;
  for (int i = 0; i < p->params.n_tensors; i++)
    if (held[i]) p->params.t[i].frozen = 0;
  free(held);
}

int ama_ppo_iterate(ama_ppo* L, ama_iter_stats* st) {
  ama_policy* p = &L->pol;
  const int T = L->T, N = L->N, B = L->B, A = p->act_dim;
  if (L->es) return ama_es_iterate(L, st);  // learner = es (ama_es.c)
  if (L->hebb) return ama_hebb_iterate(L, st);  // learner = hebbian (ama_hebb.c)
  double t0 = am_now();
  L->err[0] = 0;
  rollout(L, 1);
  if (L->hook_failed) return -1;
  double t1 = am_now();
  // every value head's GAE on its own values; the policy's advantage is their mean (= GAE on the
  // mean of the heads, GAE being linear in the values)
  const int K = p->n_heads;
  const size_t TN = (size_t)T * N;
  for (int i = 0; i < K; i++)
    for (int b = 0; b < N; b++) L->next_plane[i * N + b] = L->next_value[b * K + i];
  for (int i = 0; i < K; i++)
    ama_gae(T, N, L->cfg.ppo.gamma, L->cfg.ppo.lambda, L->rewards, L->values + i * TN,
            L->terminated, L->truncated, L->final_value + i * TN, L->next_plane + i * N,
            L->adv + i * TN, L->ret + i * TN);
  if (K > 1)
    for (size_t q = 0; q < TN; q++) {
      float a = 0;
      for (int i = 0; i < K; i++) a += L->adv[i * TN + q];
      L->adv_sum[q] = a / (float)K;
    }
  // update the observation statistics with this rollout (used from the next rollout on)
  if (!L->comm) ama_norm_update(&p->norm, L->raw_obs, T * N);
  else if (ama_dist_obs_norm(L)) return -1;
  float lr = ama_lr_at(L);
  ama_ppo_coefs co = {L->cfg.ppo.clip, L->cfg.ppo.vf_coef, L->cfg.ppo.ent_coef, K, p->head_tau,
                      L->cfg.ppo.anchor, NULL, NULL, p->n_cmd};
  ama_ppo_stats acc = {0}, ms;
  double gn_sum = 0;
  int n_mb = 0, n_exch = 0;
  double exch_s = 0;
  const int TB = T * B;
  // critic warm-up: every other tensor held for these iterations (the user's freeze kept)
  uint8_t* held = NULL;
  if (L->iteration < L->cfg.ppo.critic_warmup && hold_policy(L, &held)) return -1;
  int kl_stop = 0, n_policy = 0;  // n_policy: the steps that moved the policy
  for (int ep = 0; ep < L->cfg.ppo.epochs; ep++) {
    for (int i = 0; i < N; i++) L->perm[i] = i;
    for (int i = N - 1; i > 0; i--) {  // Fisher-Yates with the learner's stream
      int j = (int)(am_rng_next(&L->rng) % (uint64_t)(i + 1));
      int tmp = L->perm[i];
      L->perm[i] = L->perm[j];
      L->perm[j] = tmp;
    }
    for (int mb = 0; mb < L->cfg.ppo.minibatches; mb++) {
      for (int h = 0; h < L->n_half; h++) gather(L, mb * B + h * L->Bh, h);
      if (L->cfg.ppo.norm_adv) {  // over the whole minibatch
        double s = 0, s2 = 0;
        for (int i = 0; i < TB; i++) s += L->mb_adv[i];
        double mu = s / TB;
        for (int i = 0; i < TB; i++) s2 += (L->mb_adv[i] - mu) * (L->mb_adv[i] - mu);
        double sd = sqrt(s2 / TB) + 1e-8;
        for (int i = 0; i < TB; i++) L->mb_adv[i] = (float)((L->mb_adv[i] - mu) / sd);
      }
      ama_ppo_coefs coh = co;  // the entropy term is per minibatch: half of it in each half
      coh.ent_coef = co.ent_coef / (float)L->n_half;
      half_job jobs[2] = {{L, 0, coh, {0}}, {L, 1, coh, {0}}};
      am_pool_run(L->pool, run_halves, jobs);
      if (L->n_half == 2) {  // fixed order: the same sums whatever ran where
        const float* g2 = L->pol2.params.g;
        for (size_t i = 0; i < p->params.count; i++) p->params.g[i] += g2[i];
        ms.loss = jobs[0].ms.loss + jobs[1].ms.loss;
        ms.pg_loss = jobs[0].ms.pg_loss + jobs[1].ms.pg_loss;
        ms.v_loss = jobs[0].ms.v_loss + jobs[1].ms.v_loss;
        ms.entropy = 0.5 * (jobs[0].ms.entropy + jobs[1].ms.entropy);  // halves of equal size
        ms.approx_kl = 0.5 * (jobs[0].ms.approx_kl + jobs[1].ms.approx_kl);
        ms.clip_frac = 0.5 * (jobs[0].ms.clip_frac + jobs[1].ms.clip_frac);
        ms.anchor_kl = 0.5 * (jobs[0].ms.anchor_kl + jobs[1].ms.anchor_kl);
      } else {
        ms = jobs[0].ms;
      }
      if (L->cfg.ppo.target_kl > 0 && n_mb > 0 && !kl_stop) {  // the first step always runs
        double kl = ms.approx_kl;
        if (L->comm && ama_dist_mean(L, &kl)) {
          release_held(p, held);
          return -1;
        }
        if (kl > 1.5 * L->cfg.ppo.target_kl) {
          // the policy stops here; the value head trains on through the remaining steps (held
          // tensors are released after the iteration, the user's freeze kept)
          kl_stop = 1;
          if (hold_policy(L, &held)) return -1;
        }
      }
      n_policy += !kl_stop && L->iteration >= L->cfg.ppo.critic_warmup;
      if (L->comm) {  // the mean over the ranks (timed: benchmarks)
        double te = am_now();
        if (ama_dist_grad(L)) {
          release_held(p, held);
          return -1;
        }
        exch_s += am_now() - te;
        n_exch++;
      }
      double gn = ama_grad_norm(&p->params);
      if (L->cfg.ppo.max_grad_norm > 0 && gn > L->cfg.ppo.max_grad_norm)
        ama_grad_scale(&p->params, (float)(L->cfg.ppo.max_grad_norm / (gn + 1e-6)));
      ama_adam_begin(&p->params);
      adam_job aj = {L, lr};
      am_pool_run(L->pool, run_adam, &aj);
      acc.loss += ms.loss;
      acc.pg_loss += ms.pg_loss;
      acc.v_loss += ms.v_loss;
      acc.entropy += ms.entropy;
      acc.approx_kl += ms.approx_kl;
      acc.clip_frac += ms.clip_frac;
      acc.anchor_kl += ms.anchor_kl;
      gn_sum += gn;
      n_mb++;
    }
  }
  release_held(p, held);
  L->iteration++;
  if (L->comm && ama_dist_iter_end(L, &acc)) return -1;
  double t2 = am_now();
  if (st) {
    memset(st, 0, sizeof(*st));
    st->env_steps = L->env_steps;
    st->iteration = L->iteration;
    st->episodes = L->ep_count;
    st->unstable = L->ep_unstable;
    int stable = L->ep_count - L->ep_unstable;
    st->mean_return = stable ? L->ep_return / stable : NAN;
    st->mean_length = stable ? (double)L->ep_length / stable : NAN;
    st->success = NAN;
    if (L->success_ev[0] >= 0 && L->success_ev[1] >= 0 && L->tr_count)
      st->success = (double)L->tr_success / L->tr_count;
    else if (L->success_ev[0] >= 0 && L->success_ev[1] < 0 && L->ep_count)
      st->success = (double)L->ep_success / L->ep_count;
    st->lr = lr;
    st->rollout_s = t1 - t0;
    st->learn_s = t2 - t1;
    st->exchange_s = exch_s;
    st->exchanges = n_exch;
    st->loss.loss = acc.loss / n_mb;
    st->loss.pg_loss = acc.pg_loss / n_mb;
    st->loss.v_loss = acc.v_loss / n_mb;
    st->loss.entropy = acc.entropy / n_mb;
    st->loss.approx_kl = acc.approx_kl / n_mb;
    st->loss.clip_frac = acc.clip_frac / n_mb;
    st->loss.anchor_kl = acc.anchor_kl / n_mb;
    st->grad_norm = gn_sum / n_mb;
    st->updates = n_policy;
    double rm = 0, n = (double)T * N;
    const float* ret = L->ret + (size_t)(K / 2) * TN;  // the middle head's (K = 1: the critic's)
    const float* val = L->values + (size_t)(K / 2) * TN;
    for (int i = 0; i < T * N; i++) rm += ret[i];
    rm /= n;
    double vr = 0, ve = 0;
    for (int i = 0; i < T * N; i++) {
      vr += (ret[i] - rm) * (ret[i] - rm);
      ve += (ret[i] - val[i]) * (ret[i] - val[i]);
    }
    st->explained_var = vr > 0 ? 1.0 - ve / vr : NAN;
    st->action_std = NAN;  // a categorical head has none
    if (!p->categorical) {
      const float* ls = p->params.w + p->params.t[p->i_logstd].offset;
      double sd = 0;
      for (int j = 0; j < A; j++) sd += exp(ls[j]);
      st->action_std = sd / A;
    }
  }
  return 0;
}
