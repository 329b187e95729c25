// ama_policy.c: the hierarchical policy (core module -> motor module -> Gaussian or categorical
// action head; K value
// heads on the core, K = 1 the classic critic): observation routing, parameter layout, acting one step for N envs, and
// forward/backward over T x B sequences for learning.
// What it is not: no RL (ama_ppo.c), no file formats (ama_ckpt.c).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"

// Appends the observation indices of a comma-separated group list ("all", "none", names).
static int route(const char* list, const am_obs_group* groups, int n_groups, int obs_dim,
                 int* idx, int* n, const char* what, char* err, size_t err_sz) {
  *n = 0;
  if (strcmp(list, "none") == 0 || list[0] == 0) return 0;
  if (strcmp(list, "all") == 0) {
    for (int i = 0; i < obs_dim; i++) idx[(*n)++] = i;
    return 0;
  }
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", list);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    int g = am_find_group(groups, n_groups, tok);
    if (g < 0) {
      int k = snprintf(err, err_sz, "%s: the task has no observation group '%s' (it has:", what,
                       tok);
      for (int i = 0; i < n_groups && k > 0 && (size_t)k < err_sz; i++)
        k += snprintf(err + k, err_sz - k, " %s", groups[i].name);
      if (k > 0 && (size_t)k < err_sz) snprintf(err + k, err_sz - k, ")");
      return -1;
    }
    for (int i = 0; i < groups[g].size; i++) idx[(*n)++] = groups[g].offset + i;
  }
  return 0;
}

static int cell_cfg(const ama_policy_cfg* c, const char* type, int in, int hidden,
                    ama_cell_cfg* out, const char* what, char* err, size_t err_sz) {
  memset(out, 0, sizeof(*out));
  if (ama_cell_type_parse(type, &out->type) != 0) {
    snprintf(err, err_sz, "%s: unknown cell type '%s' (gru, lstm, rnn, mlp)", what, type);
    return -1;
  }
  out->in = in;
  out->hidden = hidden;
  out->tau = c->tau;
  out->dt = c->dt;
  out->noise = c->rnn_noise;
  out->dale = c->dale;
  out->exc_frac = c->exc_frac;
  out->tanh_act = !strcmp(c->rnn_act, "tanh");
  out->gain = c->rnn_gain;
  return 0;
}

void ama_policy_free(ama_policy* p) {
  free(p->core_obs_idx);
  free(p->motor_obs_idx);
  ama_cell_free(&p->core);
  ama_cell_free(&p->motor);
  ama_params_free(&p->params);
  free(p->conn[0]);
  free(p->conn[1]);
  ama_norm_free(&p->norm);
  free(p->core_s);
  free(p->motor_s);
  free(p->core_y);
  free(p->core_acc);
  free(p->prev_act);
  free(p->prev_rew);
  free(p->a_obs);
  free(p->a_prev_act);
  free(p->a_prev_rew);
  free(p->a_core_mask);
  free(p->a_mean);
  free(p->a_value);
  free(p->a_heads);
  free(p->a_core_x);
  free(p->a_motor_x);
  free(p->a_peek_y);
  free(p->a_tmp);
  ama_cell_cache_free(&p->a_core_k);
  ama_cell_cache_free(&p->a_motor_k);
  memset(p, 0, sizeof(*p));
}

int ama_policy_init(ama_policy* p, const ama_policy_cfg* cfg, const am_obs_group* groups,
                    int n_groups, int obs_dim, int act_dim, int T_max, int B_max, int N,
                    uint64_t seed, char* err, size_t err_sz) {
  (void)T_max;
  (void)B_max;
  memset(p, 0, sizeof(*p));
  p->cfg = *cfg;
  p->obs_dim = obs_dim;
  p->act_dim = act_dim;
  p->N = N;
  if (cfg->core_tick < 1) {
    snprintf(err, err_sz, "core_tick must be >= 1 (got %d)", cfg->core_tick);
    return -1;
  }
  if (cfg->core_hidden < 1 || cfg->motor_hidden < 1) {
    snprintf(err, err_sz, "core_hidden and motor_hidden must be >= 1");
    return -1;
  }
  p->core_obs_idx = calloc((size_t)obs_dim + 1, sizeof(int));
  p->motor_obs_idx = calloc((size_t)obs_dim * 2 + 1, sizeof(int));
  if (!p->core_obs_idx || !p->motor_obs_idx) goto oom;
  if (route(cfg->core_groups, groups, n_groups, obs_dim, p->core_obs_idx, &p->n_core_obs,
            "core_groups", err, err_sz) ||
      route(cfg->motor_groups, groups, n_groups, obs_dim, p->motor_obs_idx, &p->n_motor_obs,
            "motor_groups", err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  p->core_in = p->n_core_obs + (cfg->prev_action ? act_dim : 0) + (cfg->prev_reward ? 1 : 0);
  if (p->core_in < 1) {
    ama_policy_free(p);
    snprintf(err, err_sz, "the core has no inputs (core_groups = '%s')", cfg->core_groups);
    return -1;
  }
  int Hc = cfg->core_hidden, Hm = cfg->motor_hidden, A = act_dim;
  if (ama_critic_taus(cfg, p->head_tau, err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  const int K = p->n_heads = cfg->critic_heads;
  p->motor_in = Hc + p->n_motor_obs;
  ama_cell_cfg cc, mc;
  if (cell_cfg(cfg, cfg->core_type, p->core_in, Hc, &cc, "core", err, err_sz) ||
      cell_cfg(cfg, cfg->motor_type, p->motor_in, Hm, &mc, "motor", err, err_sz) ||
      ama_cell_init(&p->core, &cc, &p->params, "core", err, err_sz) ||
      ama_cell_init(&p->motor, &mc, &p->params, "motor", err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  p->readout_unit = !strcmp(cfg->readout, "unit");
  if (p->readout_unit && A > Hc) {
    ama_policy_free(p);
    snprintf(err, err_sz, "readout = unit reads the action from core units 0..%d, but the core "
             "has %d units (core_hidden)", A - 1, Hc);
    return -1;
  }
  p->categorical = !strcmp(cfg->action_head, "categorical");
  if (!p->categorical && strcmp(cfg->action_head, "gaussian")) {
    ama_policy_free(p);
    snprintf(err, err_sz, "action_head: unknown head '%s' (gaussian, categorical)",
             cfg->action_head);
    return -1;
  }
  if (p->categorical && A < 2) {
    ama_policy_free(p);
    snprintf(err, err_sz, "action_head = categorical needs at least 2 choices (the task has %d "
             "action values)", A);
    return -1;
  }
  const int Kc = p->n_cmd = cfg->command_dims, Am = A - Kc;
  p->i_Wcmd = p->i_bcmd = -1;
  if (Kc < 0 || Kc > A || (Kc && (p->categorical || p->readout_unit))) {
    ama_policy_free(p);
    snprintf(err, err_sz, "command_dims = %d must be at most the task's %d action values (the "
             "motor drives the rest), with action_head = gaussian and readout = head", Kc, A);
    return -1;
  }
  p->i_Wmu = ama_params_add(&p->params, "head.Wmu", Am, Hm);
  p->i_bmu = ama_params_add(&p->params, "head.bmu", Am, 1);
  p->i_logstd = p->categorical ? -1 : ama_params_add(&p->params, "head.logstd", Am, 1);
  if (Kc) {  // command.logstd right after head.logstd: one run of A log-stds from i_logstd
    int i_ls = ama_params_add(&p->params, "command.logstd", Kc, 1);
    p->i_Wcmd = ama_params_add(&p->params, "command.W", Kc, Hc);
    p->i_bcmd = ama_params_add(&p->params, "command.b", Kc, 1);
    if (i_ls < 0 || p->params.t[i_ls].offset != p->params.t[p->i_logstd].offset + (size_t)Am)
      p->i_bcmd = -1;
  }
  p->i_Wv = ama_params_add(&p->params, "critic.Wv", K, Hc);
  p->i_bv = ama_params_add(&p->params, "critic.bv", K, 1);
  if (p->i_bv < 0 || (Kc && p->i_bcmd < 0) || ama_params_alloc(&p->params, err, err_sz)) {
    ama_policy_free(p);
    if (p->i_bv < 0) snprintf(err, err_sz, "too many tensors");
    return -1;
  }
  am_rng rng;
  am_rng_seed(&rng, seed, 0x706f6c6963790000ULL);  // "policy"
  ama_cell_init_weights(&p->core, &p->params, &rng);
  ama_cell_init_weights(&p->motor, &p->params, &rng);
  float* Wmu = p->params.w + p->params.t[p->i_Wmu].offset;
  float* Wv = p->params.w + p->params.t[p->i_Wv].offset;
  for (int i = 0; i < Am * Hm; i++) Wmu[i] = (float)((2 * am_rng_uniform(&rng) - 1) * 0.01 / sqrt(Hm));
  for (int i = 0; i < K * Hc; i++) Wv[i] = (float)((2 * am_rng_uniform(&rng) - 1) / sqrt(Hc));
  if (!p->categorical) {
    float* ls = p->params.w + p->params.t[p->i_logstd].offset;  // head.logstd, command.logstd
    for (int j = 0; j < A; j++) ls[j] = cfg->init_logstd;
  }
  if (Kc) {  // the command starts near 0 (pure exploration), as the head does
    float* Wc = p->params.w + p->params.t[p->i_Wcmd].offset;
    for (int i = 0; i < Kc * Hc; i++) Wc[i] = (float)((2 * am_rng_uniform(&rng) - 1) * 0.01 / sqrt(Hc));
  }
  if (ama_policy_conn_init(p, seed, err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  if (ama_norm_init(&p->norm, obs_dim, cfg->obs_clip, err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  int Sc = p->core.S ? p->core.S : 1, Sm = p->motor.S ? p->motor.S : 1;
  p->core_s = calloc((size_t)N * Sc, sizeof(float));
  p->motor_s = calloc((size_t)N * Sm, sizeof(float));
  p->core_y = calloc((size_t)N * Hc, sizeof(float));
  p->core_acc = calloc((size_t)N, sizeof(float));
  p->prev_act = calloc((size_t)N * A, sizeof(float));
  p->prev_rew = calloc((size_t)N, sizeof(float));
  p->a_obs = calloc((size_t)N * obs_dim + 1, sizeof(float));
  p->a_prev_act = calloc((size_t)N * A, sizeof(float));
  p->a_prev_rew = calloc((size_t)N, sizeof(float));
  p->a_core_mask = calloc((size_t)N, sizeof(float));
  p->a_mean = calloc((size_t)N * A, sizeof(float));
  p->a_value = calloc((size_t)N, sizeof(float));
  p->a_heads = calloc((size_t)N * K, sizeof(float));
  p->a_core_x = calloc((size_t)N * p->core_in, sizeof(float));
  p->a_motor_x = calloc((size_t)N * p->motor_in, sizeof(float));
  p->a_peek_y = calloc((size_t)N * (A + 1), sizeof(float));
  p->a_tmp = calloc((size_t)N * A, sizeof(float));
  if (!p->core_s || !p->motor_s || !p->core_y || !p->core_acc || !p->prev_act || !p->prev_rew ||
      !p->a_obs || !p->a_prev_act || !p->a_prev_rew || !p->a_core_mask || !p->a_mean ||
      !p->a_value || !p->a_heads || !p->a_core_x || !p->a_motor_x || !p->a_peek_y ||
      !p->a_tmp)
    goto oom;
  if (ama_cell_cache_alloc(&p->a_core_k, &p->core, 1, N, err, err_sz) ||
      ama_cell_cache_alloc(&p->a_motor_k, &p->motor, 1, N, err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  ama_policy_reset_state(p);
  return 0;
oom:
  ama_policy_free(p);
  snprintf(err, err_sz, "out of memory building the policy");
  return -1;
}

void ama_policy_reset_state(ama_policy* p) {
  int N = p->N, A = p->act_dim;
  memset(p->core_s, 0, sizeof(float) * N * (p->core.S ? p->core.S : 1));
  memset(p->motor_s, 0, sizeof(float) * N * (p->motor.S ? p->motor.S : 1));
  memset(p->core_y, 0, sizeof(float) * N * p->cfg.core_hidden);
  for (int b = 0; b < N; b++) p->core_acc[b] = 1.0f;
  memset(p->prev_act, 0, sizeof(float) * N * A);
  memset(p->prev_rew, 0, sizeof(float) * N);
  p->t_global = 0;
}

// Core input row: routed observation, previous action, previous reward.
static void core_row(const ama_policy* p, float* dst, const float* obs, const float* pa, float pr) {
  int k = 0;
  for (int i = 0; i < p->n_core_obs; i++) dst[k++] = obs[p->core_obs_idx[i]];
  if (p->cfg.prev_action)
    for (int j = 0; j < p->act_dim; j++) dst[k++] = pa ? pa[j] : 0.0f;
  if (p->cfg.prev_reward) dst[k++] = pr;
}

static void motor_row(const ama_policy* p, float* dst, const float* core_y, const float* obs) {
  int Hc = p->cfg.core_hidden;
  if (p->cfg.motor_core)
    memcpy(dst, core_y, sizeof(float) * Hc);
  else  // motor_core = 0: the core's slots stay 0
    memset(dst, 0, sizeof(float) * Hc);
  for (int i = 0; i < p->n_motor_obs; i++) dst[Hc + i] = obs[p->motor_obs_idx[i]];
}

void ama_policy_module_input(const ama_policy* p, int motor, const float* obs_n,
                             const float* prev_act, float prev_rew, const float* core_y, float* x) {
  if (motor) {
    motor_row(p, x, core_y, obs_n);
    return;
  }
  core_row(p, x, obs_n, prev_act, prev_rew);
}

#define PW(p, i) ((p)->params.w + (p)->params.t[(i)].offset)
#define PG(p, i) ((p)->params.g + (p)->params.t[(i)].offset)

// Perturbations (ama_perturb.c): s = s * gain + add on the module's state and the output follows
// (the rate RNN's output is relu(x); the LSTM's cell c takes the gain only).
static void perturb_units(const ama_cell* c, float* s, float* y, const float* gain,
                          const float* add, int N) {
  const int H = c->cfg.hidden, S = c->S;
  for (int b = 0; b < N; b++)
    for (int u = 0; u < H; u++) {
      size_t q = (size_t)b * H + u;
      if (gain[q] == 1 && add[q] == 0) continue;
      float* h = s + (size_t)b * S + u;
      *h = *h * gain[q] + add[q];
      if (c->cfg.type == AMA_CELL_LSTM) s[(size_t)b * S + H + u] *= gain[q];
      y[q] = c->cfg.type != AMA_CELL_RNN ? *h : c->cfg.tanh_act ? tanhf(*h) : *h > 0 ? *h : 0;
    }
}

// The action means (T x B x A): the head on the motor's output (rows t B + b) for the first A - K
// values, the command head on the core's output (rows (t / k) B + b: held over a tick's block)
// for the last K. tmp holds T x B x A floats.
static void means_forward(const ama_policy* p, float* mean, float* tmp, const float* motor_y,
                          const float* core_y, int T, int B, int k) {
  const int A = p->act_dim, Kc = p->n_cmd, Am = A - Kc, Hm = p->cfg.motor_hidden;
  const int Hc = p->cfg.core_hidden, TB = T * B;
  if (!Kc) {
    ama_linear_forward(mean, motor_y, PW(p, p->i_Wmu), PW(p, p->i_bmu), TB, Hm, A, 0);
    return;
  }
  ama_linear_forward(tmp, motor_y, PW(p, p->i_Wmu), PW(p, p->i_bmu), TB, Hm, Am, 0);
  for (int r = 0; r < TB; r++) memcpy(mean + (size_t)r * A, tmp + (size_t)r * Am, sizeof(float) * Am);
  ama_linear_forward(tmp, core_y, PW(p, p->i_Wcmd), PW(p, p->i_bcmd), (T / k) * B, Hc, Kc, 0);
  for (int t = 0; t < T; t++)
    for (int b = 0; b < B; b++)
      memcpy(mean + ((size_t)t * B + b) * A + Am, tmp + ((size_t)(t / k) * B + b) * Kc,
             sizeof(float) * Kc);
}

void ama_policy_step(ama_policy* p, const float* obs_n, const float* mask, const float* core_noise,
                     const float* motor_noise) {
  const int N = p->N, A = p->act_dim, O = p->obs_dim, Hc = p->cfg.core_hidden;
  if (obs_n != p->a_obs) memcpy(p->a_obs, obs_n, sizeof(float) * N * O);
  for (int b = 0; b < N; b++) {
    float m = mask ? mask[b] : 1.0f;
    for (int j = 0; j < A; j++) p->a_prev_act[b * A + j] = p->prev_act[b * A + j] * m;
    p->a_prev_rew[b] = p->prev_rew[b] * m;
    p->a_core_mask[b] = p->core_acc[b] * m;
  }
  p->a_ticked = p->t_global % p->cfg.core_tick == 0;
  if (p->a_ticked) {
    for (int b = 0; b < N; b++)
      core_row(p, p->a_core_x + (size_t)b * p->core_in, p->a_obs + (size_t)b * O,
               p->a_prev_act + (size_t)b * A, p->a_prev_rew[b]);
    ama_cell_forward(&p->core, &p->params, &p->a_core_k, 1, N, p->a_core_x, p->core_s,
                     p->a_core_mask, core_noise, p->core_s);
    memcpy(p->core_y, p->a_core_k.y, sizeof(float) * N * Hc);
    if (p->unit_gain[0]) perturb_units(&p->core, p->core_s, p->core_y, p->unit_gain[0],
                                       p->unit_add[0], N);
    for (int b = 0; b < N; b++) p->core_acc[b] = 1.0f;
  } else {
    for (int b = 0; b < N; b++) p->core_acc[b] = p->a_core_mask[b];
  }
  const int K = p->n_heads;
  ama_linear_forward(p->a_heads, p->core_y, PW(p, p->i_Wv), PW(p, p->i_bv), N, Hc, K, 0);
  for (int b = 0; b < N; b++) {  // the value: the mean of the heads
    float v = 0;
    for (int i = 0; i < K; i++) v += p->a_heads[(size_t)b * K + i];
    p->a_value[b] = v / (float)K;
  }
  for (int b = 0; b < N; b++)
    motor_row(p, p->a_motor_x + (size_t)b * p->motor_in, p->core_y + (size_t)b * Hc,
              p->a_obs + (size_t)b * O);
  ama_cell_forward(&p->motor, &p->params, &p->a_motor_k, 1, N, p->a_motor_x, p->motor_s, mask,
                   motor_noise, p->motor_s);
  if (p->unit_gain[1]) perturb_units(&p->motor, p->motor_s, p->a_motor_k.y, p->unit_gain[1],
                                     p->unit_add[1], N);
  means_forward(p, p->a_mean, p->a_tmp, p->a_motor_k.y, p->core_y, 1, N, 1);
  if (p->readout_unit)  // the action is the core's units 0..A-1 (docs/biology.md)
    for (int b = 0; b < N; b++)
      memcpy(p->a_mean + (size_t)b * A, p->core_y + (size_t)b * Hc, sizeof(float) * A);
  p->t_global++;
}

void ama_policy_peek_value(ama_policy* p, const float* obs_n, const float* mask, float* value) {
  const int N = p->N, A = p->act_dim, O = p->obs_dim, Hc = p->cfg.core_hidden;
  const float* y = p->core_y;
  if (p->t_global % p->cfg.core_tick == 0) {
    float* cm = p->a_peek_y;               // (N) core mask
    float* pa = p->a_peek_y + N;           // (N x A) masked previous actions
    for (int b = 0; b < N; b++) {
      float m = mask ? mask[b] : 1.0f;
      for (int j = 0; j < A; j++) pa[b * A + j] = p->prev_act[b * A + j] * m;
      core_row(p, p->a_core_x + (size_t)b * p->core_in, obs_n + (size_t)b * O, pa + b * A,
               p->prev_rew[b] * m);
      cm[b] = p->core_acc[b] * m;
    }
    ama_cell_forward(&p->core, &p->params, &p->a_core_k, 1, N, p->a_core_x, p->core_s, cm, NULL,
                     NULL);
    y = p->a_core_k.y;
  }
  ama_linear_forward(value, y, PW(p, p->i_Wv), PW(p, p->i_bv), N, Hc, p->n_heads, 0);
}

void ama_policy_rpe(ama_policy* p, const am_batch* b, float gamma, float* obs_n, float* vnext,
                    float* rpe) {
  const int N = p->N, O = p->obs_dim, K = p->n_heads;
  for (int e = 0; e < N; e++) {
    int done = b->terminated[e] || b->truncated[e];
    memcpy(obs_n + (size_t)e * O, (done ? b->final_obs : b->obs) + (size_t)e * O, sizeof(float) * O);
  }
  ama_norm_apply(&p->norm, obs_n, obs_n, N);
  ama_policy_peek_value(p, obs_n, NULL, vnext);  // V(s') as the episode's next step would see it
  for (int e = 0; e < N; e++)
    for (int i = 0; i < K; i++) {
      size_t q = (size_t)e * K + i;
      float boot = b->terminated[e] ? 0.0f : gamma * vnext[q];
      rpe[q] = b->rewards[e] + boot - p->a_heads[q];
    }
}

void ama_policy_set_feedback(ama_policy* p, const float* actions, const float* rewards) {
  if (actions) memcpy(p->prev_act, actions, sizeof(float) * p->N * p->act_dim);
  if (rewards) memcpy(p->prev_rew, rewards, sizeof(float) * p->N);
}

//---------------------------------- sequences -----------------------------------------------------

void ama_seq_free(ama_seq* s) {
  free(s->obs);
  free(s->prev_act);
  free(s->prev_rew);
  free(s->mask);
  free(s->core_mask);
  free(s->core_s0);
  free(s->motor_s0);
  free(s->noise);
  free(s->mean);
  free(s->value);
  free(s->core_x);
  free(s->motor_x);
  free(s->vc);
  free(s->dcore_y);
  free(s->dmotor_y);
  free(s->dmotor_x);
  free(s->dvc);
  free(s->mean_tmp);
  ama_cell_cache_free(&s->core_k);
  ama_cell_cache_free(&s->motor_k);
  memset(s, 0, sizeof(*s));
}

int ama_seq_alloc(ama_seq* s, const ama_policy* p, int T, int B, char* err, size_t err_sz) {
  memset(s, 0, sizeof(*s));
  int k = p->cfg.core_tick;
  if (T % k != 0) {
    snprintf(err, err_sz, "the rollout horizon (%d) must be a multiple of core_tick (%d)", T, k);
    return -1;
  }
  s->T = T;
  s->B = B;
  s->Tc = T / k;
  size_t TB = (size_t)T * B, TcB = (size_t)s->Tc * B;
  int O = p->obs_dim, A = p->act_dim, Hc = p->cfg.core_hidden, Hm = p->cfg.motor_hidden;
  int Sc = p->core.S ? p->core.S : 1, Sm = p->motor.S ? p->motor.S : 1;
  s->noise_len = TcB * Hc + TB * Hm;
  s->obs = calloc(TB * O + 1, sizeof(float));
  s->prev_act = calloc(TB * A, sizeof(float));
  s->prev_rew = calloc(TB, sizeof(float));
  s->mask = calloc(TB, sizeof(float));
  s->core_mask = calloc(TcB, sizeof(float));
  s->core_s0 = calloc((size_t)B * Sc, sizeof(float));
  s->motor_s0 = calloc((size_t)B * Sm, sizeof(float));
  s->noise = calloc(s->noise_len, sizeof(float));
  s->mean = calloc(TB * A, sizeof(float));
  const int K = p->n_heads;
  s->value = calloc(TB * K, sizeof(float));
  s->core_x = calloc(TcB * p->core_in, sizeof(float));
  s->motor_x = calloc(TB * p->motor_in, sizeof(float));
  s->vc = calloc(TcB * K, sizeof(float));
  s->dcore_y = calloc(TcB * Hc, sizeof(float));
  s->dmotor_y = calloc(TB * Hm, sizeof(float));
  s->dmotor_x = calloc(TB * p->motor_in, sizeof(float));
  s->dvc = calloc(TcB * K, sizeof(float));
  s->mean_tmp = calloc(TB * A, sizeof(float));
  if (!s->obs || !s->prev_act || !s->prev_rew || !s->mask || !s->core_mask || !s->core_s0 ||
      !s->motor_s0 || !s->noise || !s->mean || !s->value || !s->core_x || !s->motor_x || !s->vc ||
      !s->dcore_y || !s->dmotor_y || !s->dmotor_x || !s->dvc || !s->mean_tmp) {
    ama_seq_free(s);
    snprintf(err, err_sz, "out of memory for sequences T=%d B=%d", T, B);
    return -1;
  }
  for (size_t i = 0; i < TB; i++) s->mask[i] = 1.0f;
  for (size_t i = 0; i < TcB; i++) s->core_mask[i] = 1.0f;
  s->activity_scale = 1.0f;
  if (ama_cell_cache_alloc(&s->core_k, &p->core, s->Tc, B, err, err_sz) ||
      ama_cell_cache_alloc(&s->motor_k, &p->motor, T, B, err, err_sz)) {
    ama_seq_free(s);
    return -1;
  }
  return 0;
}

static int rnn_noise_on(const ama_cell* c) { return c->cfg.type == AMA_CELL_RNN && c->cfg.noise > 0; }

void ama_policy_seq_forward(ama_policy* p, ama_seq* s, int T, int B) {
  const int k = p->cfg.core_tick, Tc = T / k, O = p->obs_dim, A = p->act_dim;
  const int Hc = p->cfg.core_hidden, K = p->n_heads;
  for (int tc = 0; tc < Tc; tc++)
    for (int b = 0; b < B; b++) {
      size_t row = (size_t)tc * k * B + b;
      core_row(p, s->core_x + ((size_t)tc * B + b) * p->core_in, s->obs + row * O,
               s->prev_act + row * A, s->prev_rew[row]);
    }
  const float* cn = rnn_noise_on(&p->core) ? s->noise : NULL;
  const float* mn = rnn_noise_on(&p->motor) ? s->noise + (size_t)Tc * B * Hc : NULL;
  ama_cell_forward(&p->core, &p->params, &s->core_k, Tc, B, s->core_x, s->core_s0, s->core_mask,
                   cn, NULL);
  ama_linear_forward(s->vc, s->core_k.y, PW(p, p->i_Wv), PW(p, p->i_bv), Tc * B, Hc, K, 0);
  for (int t = 0; t < T; t++)
    for (int b = 0; b < B; b++) {
      size_t row = (size_t)t * B + b, crow = (size_t)(t / k) * B + b;
      motor_row(p, s->motor_x + row * p->motor_in, s->core_k.y + crow * Hc, s->obs + row * O);
      memcpy(s->value + row * K, s->vc + crow * K, sizeof(float) * K);
    }
  ama_cell_forward(&p->motor, &p->params, &s->motor_k, T, B, s->motor_x, s->motor_s0, s->mask, mn,
                   NULL);
  means_forward(p, s->mean, s->mean_tmp, s->motor_k.y, s->core_k.y, T, B, k);
}

static double sumsq(const float* x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

double ama_policy_activity_cost(const ama_policy* p, const ama_seq* s, int T, int B) {
  if (p->cfg.activity_reg == 0) return 0;
  int Tc = T / p->cfg.core_tick, Hc = p->cfg.core_hidden, Hm = p->cfg.motor_hidden;
  double nc = (double)Tc * B * Hc, nm = (double)T * B * Hm;
  return p->cfg.activity_reg * s->activity_scale *
         (sumsq(s->core_k.y, (size_t)nc) / nc + sumsq(s->motor_k.y, (size_t)nm) / nm);
}

void ama_policy_seq_backward(ama_policy* p, ama_seq* s, int T, int B, const float* dmean,
                             const float* dvalue) {
  const int k = p->cfg.core_tick, Tc = T / k, A = p->act_dim;
  const int Hc = p->cfg.core_hidden, Hm = p->cfg.motor_hidden, Im = p->motor_in, K = p->n_heads;
  const size_t TB = (size_t)T * B, TcB = (size_t)Tc * B;
  // head (the first A - K values of dmean; all of them without a command)
  const int Kc = p->n_cmd, Am = A - Kc;
  const float* dm = dmean;
  if (Kc) {
    for (size_t r = 0; r < TB; r++)
      memcpy(s->mean_tmp + r * Am, dmean + r * A, sizeof(float) * Am);
    dm = s->mean_tmp;
  }
  ama_linear_backward(s->dmotor_y, PG(p, p->i_Wmu), PG(p, p->i_bmu), dm, s->motor_k.y,
                      PW(p, p->i_Wmu), (int)TB, Hm, Am, 0);
  float reg = p->cfg.activity_reg * s->activity_scale;
  if (reg != 0) {
    float cm = 2.0f * reg / (float)(TB * Hm);
    for (size_t i = 0; i < TB * Hm; i++) s->dmotor_y[i] += cm * s->motor_k.y[i];
  }
  ama_cell_backward(&p->motor, &p->params, &s->motor_k, T, B, s->motor_x, s->mask, s->dmotor_y,
                    p->cfg.stop_grad_core || !p->cfg.motor_core ? NULL : s->dmotor_x);
  // core: gradient from the motor inputs (held over the tick's block) and from the value head
  memset(s->dcore_y, 0, sizeof(float) * TcB * Hc);
  memset(s->dvc, 0, sizeof(float) * TcB * K);
  for (int t = 0; t < T; t++)
    for (int b = 0; b < B; b++) {
      size_t row = (size_t)t * B + b, crow = (size_t)(t / k) * B + b;
      for (int i = 0; i < K; i++) s->dvc[crow * K + i] += dvalue[row * K + i];
      if (!p->cfg.stop_grad_core && p->cfg.motor_core) {
        const float* src = s->dmotor_x + row * Im;
        float* dst = s->dcore_y + crow * Hc;
        for (int i = 0; i < Hc; i++) dst[i] += src[i];
      }
    }
  ama_linear_backward(s->dcore_y, PG(p, p->i_Wv), PG(p, p->i_bv), s->dvc, s->core_k.y,
                      PW(p, p->i_Wv), (int)TcB, Hc, K, 1);
  if (Kc) {  // the command head: its values summed over each tick's block, into the core
    float* dc = s->mean_tmp;  // (Tc x B x K)
    memset(dc, 0, sizeof(float) * TcB * Kc);
    for (int t = 0; t < T; t++)
      for (int b = 0; b < B; b++) {
        const float* src = dmean + ((size_t)t * B + b) * A + Am;
        float* dst = dc + ((size_t)(t / k) * B + b) * Kc;
        for (int i = 0; i < Kc; i++) dst[i] += src[i];
      }
    ama_linear_backward(s->dcore_y, PG(p, p->i_Wcmd), PG(p, p->i_bcmd), dc, s->core_k.y,
                        PW(p, p->i_Wcmd), (int)TcB, Hc, Kc, 1);
  }
  if (reg != 0) {
    float cc = 2.0f * reg / (float)(TcB * Hc);
    for (size_t i = 0; i < TcB * Hc; i++) s->dcore_y[i] += cc * s->core_k.y[i];
  }
  ama_cell_backward(&p->core, &p->params, &s->core_k, Tc, B, s->core_x, s->core_mask, s->dcore_y,
                    NULL);
}

int ama_policy_freeze(ama_policy* p, const char* module, int frozen, char* err, size_t err_sz) {
  size_t len = strlen(module);
  int hit = 0;
  for (int i = 0; i < p->params.n_tensors; i++)
    if (strncmp(p->params.t[i].name, module, len) == 0 && p->params.t[i].name[len] == '.') {
      p->params.t[i].frozen = frozen;
      hit++;
    }
  if (!hit) {
    snprintf(err, err_sz, "no module '%s' in the policy (core, motor, head, critic, command)",
             module);
    return -1;
  }
  return 0;
}
