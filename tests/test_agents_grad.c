// test_agents_grad.c: every backward in agents/ checked against central finite differences.
//
// Each check builds a module with random weights, a random loss L = sum_k R_k * out_k (weights R
// fixed), computes the analytic gradient of L, and compares it with (L(w+e) - L(w-e)) / 2e for a
// sample of coordinates of every tensor (and of the inputs). The loss is summed in double; the
// tolerance is relative: |a - n| <= tol * max(|a|, |n|) + atol. A corrupted gradient must fail
// (negative control), so the comparison is known to have teeth.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ama_agents.h"

static am_rng g_rng = {{12345, 67890, 13579, 24680}};
static float urand(float lo, float hi) { return (float)am_rng_range(&g_rng, lo, hi); }

// Compare analytic vs numeric; returns the number of mismatches.
static int compare(const char* what, double a, double n, double tol, double atol) {
  double d = fabs(a - n), s = fmax(fabs(a), fabs(n));
  if (d > tol * s + atol) {
    fprintf(stderr, "  mismatch %s: analytic %.6g numeric %.6g\n", what, a, n);
    return 1;
  }
  return 0;
}

//---------------------------------- cells ---------------------------------------------------------

typedef struct cell_case {
  ama_cell c;
  ama_params p;
  ama_cell_cache k;
  int T, B;
  float *x, *s0, *mask, *noise, *R, *dx;
} cell_case;

static double cell_loss(cell_case* cc) {
  ama_cell_forward(&cc->c, &cc->p, &cc->k, cc->T, cc->B, cc->x, cc->s0, cc->mask, cc->noise, NULL);
  double L = 0;
  size_t n = (size_t)cc->T * cc->B * cc->c.cfg.hidden;
  for (size_t i = 0; i < n; i++) L += (double)cc->R[i] * cc->k.y[i];
  return L;
}

static int g_tanh;  // 1: rate RNN cells with rnn_act = tanh (Miconi 2017)

static int check_cell(ama_cell_type type, int dale, int use_mask, int corrupt) {
  cell_case cc;
  memset(&cc, 0, sizeof(cc));
  char err[256];
  ama_cell_cfg cfg = {.type = type, .in = 5, .hidden = 7, .tau = 0.1f, .dt = 0.02f,
                      .noise = 0.1f, .dale = dale, .exc_frac = 0.8f, .tanh_act = g_tanh};
  cc.T = 6;
  cc.B = 3;
  assert_int_equal(ama_cell_init(&cc.c, &cfg, &cc.p, "cell", err, sizeof(err)), 0);
  assert_int_equal(ama_params_alloc(&cc.p, err, sizeof(err)), 0);
  ama_cell_init_weights(&cc.c, &cc.p, &g_rng);
  // bigger random weights than the default init so every path carries gradient
  for (size_t i = 0; i < cc.p.count; i++) cc.p.w[i] += urand(-0.3f, 0.3f);
  assert_int_equal(ama_cell_cache_alloc(&cc.k, &cc.c, cc.T, cc.B, err, sizeof(err)), 0);
  int I = cfg.in, H = cfg.hidden, S = cc.c.S > 0 ? cc.c.S : 1, T = cc.T, B = cc.B;
  cc.x = malloc(sizeof(float) * T * B * I);
  cc.dx = malloc(sizeof(float) * T * B * I);
  cc.s0 = malloc(sizeof(float) * B * S);
  cc.mask = malloc(sizeof(float) * T * B);
  cc.noise = malloc(sizeof(float) * T * B * H);
  cc.R = malloc(sizeof(float) * T * B * H);
  for (int i = 0; i < T * B * I; i++) cc.x[i] = urand(-1, 1);
  for (int i = 0; i < B * S; i++) cc.s0[i] = urand(-0.5f, 0.5f) + (type == AMA_CELL_RNN ? 0.3f : 0);
  for (int i = 0; i < T * B; i++) cc.mask[i] = 1.0f;
  if (use_mask) cc.mask[3 * B + 1] = 0.0f;  // env 1 resets before step 3
  for (int i = 0; i < T * B * H; i++) cc.noise[i] = urand(-1, 1);
  for (int i = 0; i < T * B * H; i++) cc.R[i] = urand(-1, 1);

  // rate RNN: redraw the inputs until no unit sits within 2e-3 of the relu kink, so that the
  // finite differences measure the derivative rather than the kink
  for (int tries = 0; type == AMA_CELL_RNN && tries < 50; tries++) {
    cell_loss(&cc);
    float mn = 1e9f;
    for (int i = 0; i < T * B * H; i++) mn = fminf(mn, fabsf(cc.k.s_out[i]));
    if (mn > 2e-3f) break;
    for (int i = 0; i < T * B * I; i++) cc.x[i] = urand(-1, 1);
  }
  cell_loss(&cc);
  memset(cc.p.g, 0, sizeof(float) * cc.p.count);
  ama_cell_backward(&cc.c, &cc.p, &cc.k, T, B, cc.x, cc.mask, cc.R, cc.dx);
  if (corrupt) cc.p.g[cc.p.t[cc.c.iWx].offset] *= 1.5f, cc.p.g[cc.p.t[cc.c.iWx].offset] += 0.05f;

  int bad = 0;
  const float eps = 1e-3f;
  char what[96];
  for (int ti = 0; ti < cc.p.n_tensors; ti++) {
    ama_tensor* t = &cc.p.t[ti];
    size_t n = (size_t)t->rows * t->cols;
    for (size_t q = 0; q < n; q++) {
      float* w = cc.p.w + t->offset + q;
      float w0 = *w;
      if (dale && ti == cc.c.iWh && fabsf(w0) < 2 * eps) continue;  // |w| kink
      double num[2];
      for (int e = 0; e < 2; e++) {  // two step sizes: a relu kink inside one step spoils it
        float h = e ? eps / 8 : eps;
        *w = w0 + h;
        double lp = cell_loss(&cc);
        *w = w0 - h;
        double lm = cell_loss(&cc);
        *w = w0;
        num[e] = (lp - lm) / (2 * h);
      }
      snprintf(what, sizeof(what), "%s %s[%zu]", ama_cell_type_name(type), t->name, q);
      double a = cc.p.g[t->offset + q];
      int best = fabs(a - num[1]) < fabs(a - num[0]);
      bad += compare(what, a, num[best], 2e-2, best ? 5e-3 : 2e-3);
    }
  }
  for (int q = 0; q < T * B * I; q++) {
    float x0 = cc.x[q];
    double num[2];
    for (int e = 0; e < 2; e++) {
      float h = e ? eps / 8 : eps;
      cc.x[q] = x0 + h;
      double lp = cell_loss(&cc);
      cc.x[q] = x0 - h;
      double lm = cell_loss(&cc);
      cc.x[q] = x0;
      num[e] = (lp - lm) / (2 * h);
    }
    snprintf(what, sizeof(what), "%s dx[%d]", ama_cell_type_name(type), q);
    int best = fabs(cc.dx[q] - num[1]) < fabs(cc.dx[q] - num[0]);
    bad += compare(what, cc.dx[q], num[best], 2e-2, best ? 5e-3 : 2e-3);
  }
  ama_cell_cache_free(&cc.k);
  ama_cell_free(&cc.c);
  ama_params_free(&cc.p);
  free(cc.x), free(cc.dx), free(cc.s0), free(cc.mask), free(cc.noise), free(cc.R);
  return bad;
}

static void test_grad_mlp(void** s) { assert_int_equal(check_cell(AMA_CELL_MLP, 0, 0, 0), 0); }
static void test_grad_gru(void** s) { assert_int_equal(check_cell(AMA_CELL_GRU, 0, 1, 0), 0); }
static void test_grad_lstm(void** s) { assert_int_equal(check_cell(AMA_CELL_LSTM, 0, 1, 0), 0); }
static void test_grad_rnn(void** s) { assert_int_equal(check_cell(AMA_CELL_RNN, 0, 1, 0), 0); }
static void test_grad_rnn_dale(void** s) { assert_int_equal(check_cell(AMA_CELL_RNN, 1, 1, 0), 0); }
static void test_grad_rnn_tanh(void** s) {
  g_tanh = 1;
  int bad = check_cell(AMA_CELL_RNN, 0, 1, 0);
  g_tanh = 0;
  assert_int_equal(bad, 0);
}
static void test_grad_check_has_teeth(void** s) {
  assert_true(check_cell(AMA_CELL_GRU, 0, 1, 1) > 0);
}

// Dale's law: the effective recurrent weights obey the sign of the presynaptic unit, whatever the
// raw parameters are (including after they are pushed to the wrong sign).
static void test_dale_signs(void** s) {
  ama_cell c;
  ama_params p;
  memset(&p, 0, sizeof(p));
  char err[256];
  ama_cell_cfg cfg = {.type = AMA_CELL_RNN, .in = 3, .hidden = 10, .tau = 0.1f, .dt = 0.02f,
                      .dale = 1, .exc_frac = 0.8f};
  assert_int_equal(ama_cell_init(&c, &cfg, &p, "rnn", err, sizeof(err)), 0);
  assert_int_equal(ama_params_alloc(&p, err, sizeof(err)), 0);
  ama_cell_init_weights(&c, &p, &g_rng);
  float* W = ama_params_view(&p, "rnn.Wh");
  for (int i = 0; i < 100; i++) W[i] = urand(-1, 1);
  ama_cell_prepare(&c, &p);
  int ne = 0;
  for (int j = 0; j < 10; j++) ne += c.sign[j] > 0;
  assert_int_equal(ne, 8);
  for (int i = 0; i < 10; i++)
    for (int j = 0; j < 10; j++) {
      float w = c.Wh_eff[i * 10 + j];
      if (j < 8) assert_true(w >= 0);
      else assert_true(w <= 0);
      assert_float_equal(fabsf(w), fabsf(W[i * 10 + j]), 0);
    }
  ama_cell_free(&c);
  ama_params_free(&p);
}

//---------------------------------- Gaussian head and PPO loss ------------------------------------

// One call of ama_ppo_loss_grad for finite differences (logstd NULL: the categorical head); dm,
// dl, dv are scratch for the gradients it writes, st its statistics.
typedef struct ppo_case {
  ama_ppo_coefs co;
  int N, A;
  float *mean, *logstd, *value, *act, *old_logp, *adv, *ret;
  float *dm, *dl, *dv;
  ama_ppo_stats st;
} ppo_case;

static double ppo_case_loss(ppo_case* c) {
  if (c->logstd) memset(c->dl, 0, sizeof(float) * c->A);
  ama_ppo_loss_grad(&c->co, c->N, c->A, c->mean, c->logstd, c->value, c->act, c->old_logp,
                    c->adv, c->ret, 1.0f / c->N, c->dm, c->dl, c->dv, &c->st);
  return c->st.loss;
}

// The analytic gradient g (n) of the loss in x (n entries of one of c's inputs) against central
// differences; returns the number of mismatches.
static int ppo_fd(ppo_case* c, const char* name, float* x, const float* g, int n) {
  const float eps = 1e-3f;
  int bad = 0;
  char what[64];
  for (int i = 0; i < n; i++) {
    float x0 = x[i];
    x[i] = x0 + eps;
    double lp = ppo_case_loss(c);
    x[i] = x0 - eps;
    double lm = ppo_case_loss(c);
    x[i] = x0;
    snprintf(what, sizeof(what), "%s[%d]", name, i);
    bad += compare(what, g[i], (lp - lm) / (2 * eps), 2e-2, 1e-3);
  }
  return bad;
}

// Checks ama_ppo_loss_grad (the per-sample PPO objective for a Gaussian policy) against finite
// differences in mean, log-std and value.
static void test_grad_ppo_loss(void** s) {
  enum { N = 6, A = 3 };
  float mean[N * A], act[N * A], logstd[A], value[N], old_logp[N], adv[N], ret[N];
  for (int i = 0; i < N * A; i++) mean[i] = urand(-1, 1), act[i] = urand(-1.5f, 1.5f);
  for (int j = 0; j < A; j++) logstd[j] = urand(-1, 0);
  for (int n = 0; n < N; n++) value[n] = urand(-1, 1), adv[n] = urand(-1, 1), ret[n] = urand(-1, 1);
  // old log-probs near the current ones so that some samples are clipped and some are not
  ama_gauss_logp(old_logp, act, mean, logstd, N, A);
  for (int n = 0; n < N; n++) old_logp[n] += (n % 3 == 0) ? 0.5f : urand(-0.05f, 0.05f);
  ama_ppo_coefs co = {.clip = 0.2f, .vf_coef = 0.5f, .ent_coef = 0.01f};
  float dmean[N * A], dlogstd[A], dvalue[N];
  ama_ppo_stats st;
  memset(dlogstd, 0, sizeof(dlogstd));
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dlogstd, dvalue, &st);
  float dm2[N * A], dl2[A], dv2[N];
  ppo_case c = {co, N, A, mean, logstd, value, act, old_logp, adv, ret, dm2, dl2, dv2, {0}};
  int bad = ppo_fd(&c, "dmean", mean, dmean, N * A) + ppo_fd(&c, "dlogstd", logstd, dlogstd, A) +
            ppo_fd(&c, "dvalue", value, dvalue, N);
  assert_int_equal(bad, 0);
  assert_true(st.clip_frac > 0 && st.clip_frac < 1);  // both regimes were exercised
}

// mean_n w_n sum_{j < dims} KL(N(ref_mean_nj, ref_std_j) || N(mean_nj, std_j)) in binary64, by
// the closed form (w NULL: all 1).
static double anchor_kl_by_hand(const float* mean, const float* ref_mean, const float* logstd,
                                const float* ref_logstd, int N, int A, int dims, const float* w) {
  double kl = 0;
  for (int n = 0; n < N; n++)
    for (int j = 0; j < dims; j++) {
      double d = mean[n * A + j] - ref_mean[n * A + j], v = exp(2.0 * logstd[j]);
      kl += (w ? w[n] : 1.0) *
            (logstd[j] - ref_logstd[j] + (exp(2.0 * ref_logstd[j]) + d * d) / (2 * v) - 0.5) / N;
    }
  return kl;
}

// The anchor (co.anchor > 0): the loss adds anchor * mean_n KL(N(ref_mean_n, ref_std) ||
// N(mean_n, std)); its gradient in mean and log-std against finite differences, its value against
// the closed form by hand, and zero KL (and no pull) at the reference itself.
static void test_grad_ppo_anchor(void** s) {
  enum { N = 5, A = 3 };
  float mean[N * A], act[N * A], logstd[A], value[N], old_logp[N], adv[N], ret[N];
  float ref_mean[N * A], ref_logstd[A];
  for (int i = 0; i < N * A; i++)
    mean[i] = urand(-1, 1), act[i] = urand(-1.5f, 1.5f), ref_mean[i] = urand(-1, 1);
  for (int j = 0; j < A; j++) logstd[j] = urand(-1, 0), ref_logstd[j] = urand(-1, 0);
  for (int n = 0; n < N; n++) value[n] = urand(-1, 1), adv[n] = urand(-1, 1), ret[n] = urand(-1, 1);
  ama_gauss_logp(old_logp, act, mean, logstd, N, A);
  for (int n = 0; n < N; n++) old_logp[n] += urand(-0.05f, 0.05f);
  ama_ppo_coefs co = {.clip = 0.2f, .vf_coef = 0.5f, .ent_coef = 0.01f, .anchor = 0.7f,
                      .ref_mean = ref_mean, .ref_logstd = ref_logstd};
  float dmean[N * A], dlogstd[A], dvalue[N];
  ama_ppo_stats st, st0;
  memset(dlogstd, 0, sizeof(dlogstd));
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dlogstd, dvalue, &st);
  const double kl = anchor_kl_by_hand(mean, ref_mean, logstd, ref_logstd, N, A, A, NULL);
  assert_true(kl > 0.01);
  assert_float_equal(st.anchor_kl, kl, 1e-5);
  ama_ppo_coefs co0 = co;
  co0.anchor = 0;
  ama_ppo_loss_grad(&co0, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dlogstd, dvalue, &st0);
  assert_float_equal(st.loss - st0.loss, 0.7 * kl, 1e-5);
  memset(dlogstd, 0, sizeof(dlogstd));
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dlogstd, dvalue, &st);
  float dm2[N * A], dl2[A], dv2[N];
  ppo_case c = {co, N, A, mean, logstd, value, act, old_logp, adv, ret, dm2, dl2, dv2, {0}};
  int bad = ppo_fd(&c, "dmean", mean, dmean, N * A) + ppo_fd(&c, "dlogstd", logstd, dlogstd, A);
  assert_int_equal(bad, 0);
  // at the reference: no KL and the same gradient as without the anchor
  float dm0[N * A], dl0[A] = {0}, dl1[A] = {0};
  co.ref_mean = mean, co.ref_logstd = logstd;
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dl1, dvalue, &st);
  ama_ppo_loss_grad(&co0, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dm0, dl0,
                    dvalue, &st0);
  assert_float_equal(st.anchor_kl, 0, 1e-6);
  for (int i = 0; i < N * A; i++) assert_float_equal(dmean[i], dm0[i], 1e-6);
  for (int j = 0; j < A; j++) assert_float_equal(dl1[j], dl0[j], 1e-6);
  // anchor_skip = 1: the last action value is not anchored (a command head's)
  co.ref_mean = ref_mean, co.ref_logstd = ref_logstd, co.anchor_skip = 1;
  float dl3[A] = {0};
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dl3, dvalue, &st);
  memset(dl0, 0, sizeof dl0);
  ama_ppo_loss_grad(&co0, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dm0, dl0,
                    dvalue, &st0);
  assert_float_equal(st.anchor_kl,
                     anchor_kl_by_hand(mean, ref_mean, logstd, ref_logstd, N, A, A - 1, NULL), 1e-5);
  for (int n = 0; n < N; n++) assert_float_equal(dmean[n * A + A - 1], dm0[n * A + A - 1], 1e-6);
  assert_float_equal(dl3[A - 1], dl0[A - 1], 1e-6);
  assert_true(fabsf(dl3[0] - dl0[0]) > 1e-4);
  // anchor_w (anchor_envs): sample n's term weighted by w[n]; anchor_kl stays the unweighted mean
  const float w[N] = {0, 2.0f, 0.5f, 1.0f, 0};
  co.anchor_skip = 0, co.anchor_w = w;
  ama_ppo_stats stw;
  memset(dl3, 0, sizeof dl3);
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dl3, dvalue, &stw);
  memset(dl0, 0, sizeof dl0);
  ama_ppo_loss_grad(&co0, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dm0, dl0,
                    dvalue, &st0);
  const double wkl = anchor_kl_by_hand(mean, ref_mean, logstd, ref_logstd, N, A, A, w);
  assert_float_equal(stw.anchor_kl, kl, 1e-5);
  assert_float_equal(stw.loss - st0.loss, 0.7 * wkl, 1e-5);
  for (int j = 0; j < A; j++) {  // weight 0: the sample is pulled by nothing
    assert_float_equal(dmean[j], dm0[j], 1e-6);
    assert_float_equal(dmean[4 * A + j], dm0[4 * A + j], 1e-6);
    assert_true(fabsf(dmean[A + j] - dm0[A + j]) > 1e-4);
  }
  c.co = co;
  bad = ppo_fd(&c, "dmean (weighted)", mean, dmean, N * A) +
        ppo_fd(&c, "dlogstd (weighted)", logstd, dl3, A);
  assert_int_equal(bad, 0);
}

// The categorical head's PPO objective (logstd NULL: logits in mean, one-hot choices in act, the
// entropy bonus per sample) against finite differences in the logits and values, in both the
// clipped and the unclipped regime; at old_logp = log p the ratio is 1 (no KL).
static void test_grad_categorical_loss(void** s) {
  enum { N = 8, A = 3 };
  float z[N * A], act[N * A], value[N], old_logp[N], adv[N], ret[N];
  for (int i = 0; i < N * A; i++) z[i] = urand(-2, 2), act[i] = 0;
  for (int n = 0; n < N; n++) {
    int k = n % A;
    act[n * A + k] = 1;
    value[n] = urand(-1, 1), adv[n] = urand(-1, 1), ret[n] = urand(-1, 1);
    float mx = fmaxf(fmaxf(z[n * A], z[n * A + 1]), z[n * A + 2]);
    double sum = 0;
    for (int j = 0; j < A; j++) sum += exp(z[n * A + j] - mx);
    old_logp[n] = z[n * A + k] - mx - (float)log(sum);
  }
  ama_ppo_coefs co = {.clip = 0.2f, .vf_coef = 0.5f, .ent_coef = 0.05f};
  float dmean[N * A], dvalue[N], dm2[N * A], dv2[N];
  ama_ppo_stats st;
  ama_ppo_loss_grad(&co, N, A, z, NULL, value, act, old_logp, adv, ret, 1.0f / N, dmean, NULL,
                    dvalue, &st);
  assert_true(fabs(st.approx_kl) < 1e-6 && st.clip_frac == 0);
  double H = 0;  // the mean entropy, by hand
  for (int n = 0; n < N; n++) {
    float mx = fmaxf(fmaxf(z[n * A], z[n * A + 1]), z[n * A + 2]);
    double sum = 0;
    for (int j = 0; j < A; j++) sum += exp(z[n * A + j] - mx);
    for (int j = 0; j < A; j++) {
      double p = exp(z[n * A + j] - mx) / sum;
      H -= p * log(p) / N;
    }
  }
  assert_float_equal(st.entropy, H, 1e-5);
  for (int n = 0; n < N; n++) old_logp[n] += (n % 3 == 0) ? 0.5f : urand(-0.05f, 0.05f);
  ama_ppo_loss_grad(&co, N, A, z, NULL, value, act, old_logp, adv, ret, 1.0f / N, dmean, NULL,
                    dvalue, &st);
  ppo_case c = {co, N, A, z, NULL, value, act, old_logp, adv, ret, dm2, NULL, dv2, {0}};
  int bad = ppo_fd(&c, "dlogits", z, dmean, N * A) + ppo_fd(&c, "dvalue", value, dvalue, N);
  assert_int_equal(bad, 0);
  assert_true(st.clip_frac > 0 && st.clip_frac < 1);  // both regimes were exercised
}

// A categorical policy has no log-std tensor; its outputs are logits over the choices.
static void test_categorical_policy(void** s) {
  ama_policy_cfg cfg;
  ama_policy_cfg_default(&cfg);
  snprintf(cfg.action_head, sizeof cfg.action_head, "categorical");
  snprintf(cfg.motor_groups, sizeof cfg.motor_groups, "none");
  char err[512];
  am_obs_group groups[1] = {{"feedback", 0, 3}};
  ama_policy pol;
  assert_int_equal(ama_policy_init(&pol, &cfg, groups, 1, 3, 3, 4, 2, 1, 7, err, sizeof err), 0);
  assert_true(pol.categorical);
  assert_int_equal(pol.i_logstd, -1);
  for (int i = 0; i < pol.params.n_tensors; i++)
    assert_string_not_equal(pol.params.t[i].name, "head.logstd");
  ama_policy_free(&pol);
  // one choice is no choice
  assert_int_equal(ama_policy_init(&pol, &cfg, groups, 1, 3, 1, 4, 2, 1, 7, err, sizeof err), -1);
  assert_non_null(strstr(err, "categorical"));
}

// The distributional critic's value term (expectile loss of K heads) against finite differences,
// and the classic critic as its tau = 0.5, K = 1 case (bit for bit).
static void test_grad_expectile_loss(void** s) {
  enum { N = 5, A = 2, K = 4 };
  float mean[N * A], act[N * A], logstd[A], value[N * K], old_logp[N], adv[N], ret[N * K];
  const float tau[K] = {0.1f, 0.35f, 0.5f, 0.9f};
  for (int i = 0; i < N * A; i++) mean[i] = urand(-1, 1), act[i] = urand(-1, 1);
  for (int j = 0; j < A; j++) logstd[j] = urand(-1, 0);
  for (int n = 0; n < N; n++) adv[n] = urand(-1, 1);
  for (int q = 0; q < N * K; q++) {  // |V - R| > 0.05: away from the kink of the weight
    value[q] = urand(-1, 1);
    ret[q] = value[q] + (q % 2 ? 1 : -1) * urand(0.05f, 1);
  }
  ama_gauss_logp(old_logp, act, mean, logstd, N, A);
  ama_ppo_coefs co = {.clip = 0.2f, .vf_coef = 0.7f, .ent_coef = 0, .heads = K, .tau = tau};
  float dmean[N * A], dlogstd[A] = {0}, dvalue[N * K], dm2[N * A], dl2[A], dv2[N * K];
  ama_ppo_stats st;
  ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                    dlogstd, dvalue, &st);
  const float eps = 1e-3f;
  int bad = 0;
  char what[64];
  double direct = 0;  // the value term, evaluated directly
  for (int n = 0; n < N; n++)
    for (int i = 0; i < K; i++) {
      double d = ret[n * K + i] - value[n * K + i];
      direct += fabs(tau[i] - (d < 0)) * d * d / K / N;
    }
  bad += compare("v_loss", st.v_loss, direct, 1e-5, 1e-7);
  for (int q = 0; q < N * K; q++) {
    float v0 = value[q];
    double l[2];
    for (int sgn = 0; sgn < 2; sgn++) {
      value[q] = v0 + (sgn ? -eps : eps);
      memset(dl2, 0, sizeof(dl2));
      ama_ppo_loss_grad(&co, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dm2,
                        dl2, dv2, &st);
      l[sgn] = st.loss;
    }
    value[q] = v0;
    snprintf(what, sizeof(what), "dvalue[n=%d, head %d]", q / K, q % K);
    bad += compare(what, dvalue[q], (l[0] - l[1]) / (2 * eps), 2e-2, 1e-4);
    // the sign of the weight: head i pulls V up with weight tau_i, down with 1 - tau_i
    double w = ret[q] > value[q] ? tau[q % K] : 1 - tau[q % K];
    bad += compare("dvalue weight", dvalue[q],
                   co.vf_coef * 2 * w / K * (value[q] - ret[q]) / N, 1e-4, 1e-7);
  }
  assert_int_equal(bad, 0);
  // one head at tau = 0.5 is the classic critic, bit for bit
  const float half = 0.5f;
  ama_ppo_coefs c1 = {.clip = 0.2f, .vf_coef = 0.7f, .ent_coef = 0.01f, .heads = 1, .tau = &half};
  ama_ppo_coefs c0 = {.clip = 0.2f, .vf_coef = 0.7f, .ent_coef = 0.01f};
  float dva[N], dvb[N];
  ama_ppo_stats sa, sb;
  memset(dl2, 0, sizeof(dl2));
  ama_ppo_loss_grad(&c1, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dm2, dl2,
                    dva, &sa);
  ama_ppo_loss_grad(&c0, N, A, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dm2, dl2,
                    dvb, &sb);
  assert_memory_equal(dva, dvb, sizeof(dva));
  assert_true(sa.v_loss == sb.v_loss && sa.loss == sb.loss);
}

// Planted answer: descending the expectile loss moves a head to the tau-expectile of the targets
// (the 7 reward magnitudes of Eshel et al. 2016), found independently by bisection on the
// expectile's defining equation tau E[(R - e)+] = (1 - tau) E[(e - R)+].
static void test_expectile_minimiser(void** s) {
  enum { N = 7, K = 3 };
  const float R7[N] = {0.1f, 0.3f, 1.2f, 2.5f, 5, 10, 20};
  const float tau[K] = {0.1f, 0.5f, 0.9f};
  float value[N * K], ret[N * K], dvalue[N * K], v[K] = {0}, dmean[N], dlogstd[1];
  float mean[N] = {0}, act[N] = {0}, logstd[1] = {0}, old_logp[N] = {0}, adv[N] = {0};
  for (int n = 0; n < N; n++)
    for (int i = 0; i < K; i++) ret[n * K + i] = R7[n];
  ama_ppo_coefs co = {.clip = 0.2f, .vf_coef = 1, .heads = K, .tau = tau};
  for (int it = 0; it < 20000; it++) {
    for (int n = 0; n < N; n++)
      for (int i = 0; i < K; i++) value[n * K + i] = v[i];
    dlogstd[0] = 0;
    ama_ppo_loss_grad(&co, N, 1, mean, logstd, value, act, old_logp, adv, ret, 1.0f / N, dmean,
                      dlogstd, dvalue, NULL);
    for (int i = 0; i < K; i++) {
      double g = 0;
      for (int n = 0; n < N; n++) g += dvalue[n * K + i];
      v[i] -= (float)(0.5 * K * g);
    }
  }
  for (int i = 0; i < K; i++) {
    double lo = 0, hi = 20;
    for (int b = 0; b < 60; b++) {
      double e = 0.5 * (lo + hi), up = 0, dn = 0;
      for (int n = 0; n < N; n++) up += R7[n] > e ? R7[n] - e : 0, dn += R7[n] < e ? e - R7[n] : 0;
      if (tau[i] * up > (1 - tau[i]) * dn) lo = e;
      else hi = e;
    }
    assert_float_equal(v[i], 0.5 * (lo + hi), 1e-3);
  }
  assert_float_equal(v[1], (0.1 + 0.3 + 1.2 + 2.5 + 5 + 10 + 20) / 7, 1e-3);  // tau 0.5: the mean
}

// Gaussian log-density against a direct double-precision evaluation.
static void test_gauss_logp(void** s) {
  float a[4] = {0.3f, -1.0f, 2.0f, 0.0f}, m[4] = {0.0f, 0.5f, 1.0f, 0.0f}, ls[2] = {-0.5f, 0.2f};
  float lp[2];
  ama_gauss_logp(lp, a, m, ls, 2, 2);
  for (int n = 0; n < 2; n++) {
    double ref = 0;
    for (int j = 0; j < 2; j++) {
      double sd = exp(ls[j]), z = (a[n * 2 + j] - m[n * 2 + j]) / sd;
      ref += -0.5 * z * z - log(sd) - 0.5 * log(2 * M_PI);
    }
    assert_float_equal(lp[n], ref, 1e-5);
  }
  assert_float_equal(ama_gauss_entropy(ls, 2), (-0.5 + 0.2) + 1.0 + log(2 * M_PI), 1e-5);
}

//---------------------------------- the whole policy ----------------------------------------------

// Gradient of a loss on the policy's outputs (action means, log-std, values, activity) w.r.t.
// every parameter, through time, the core tick, the routing and the heads.
static int g_motor_core = 1;  // check_policy's motor_core

static int check_policy(const char* core, const char* motor, int tick, int extras, int heads,
                        int cmd) {
  ama_policy_cfg cfg;
  ama_policy_cfg_default(&cfg);
  cfg.motor_core = g_motor_core;
  char err[512];
  snprintf(cfg.core_type, sizeof(cfg.core_type), "%s", core);
  snprintf(cfg.motor_type, sizeof(cfg.motor_type), "%s", motor);
  cfg.core_hidden = 6;
  cfg.motor_hidden = 5;
  cfg.core_tick = tick;
  cfg.prev_action = extras;
  cfg.prev_reward = extras;
  cfg.activity_reg = extras ? 0.3f : 0.0f;
  cfg.rnn_noise = 0.1f;
  cfg.critic_heads = heads;
  cfg.command_dims = cmd;
  am_obs_group groups[2] = {{"proprioception", 0, 3}, {"task", 3, 2}};
  ama_policy pol;
  int T = 6, B = 2, A = 2 + cmd, O = 5;
  assert_int_equal(ama_policy_init(&pol, &cfg, groups, 2, O, A, T, B, 1, 7, err, sizeof(err)), 0);
  for (size_t i = 0; i < pol.params.count; i++) pol.params.w[i] += urand(-0.2f, 0.2f);
  ama_seq seq;
  assert_int_equal(ama_seq_alloc(&seq, &pol, T, B, err, sizeof(err)), 0);
  for (int i = 0; i < T * B * O; i++) seq.obs[i] = urand(-1, 1);
  for (int i = 0; i < T * B * A; i++) seq.prev_act[i] = urand(-1, 1);
  for (int i = 0; i < T * B; i++) seq.prev_rew[i] = urand(-1, 1), seq.mask[i] = 1;
  seq.mask[3 * B + 1] = 0;
  for (int i = 0; i < B * pol.core.S; i++) seq.core_s0[i] = urand(-0.5f, 0.5f);
  for (int i = 0; i < B * pol.motor.S; i++) seq.motor_s0[i] = urand(-0.5f, 0.5f);
  for (size_t i = 0; i < seq.noise_len; i++) seq.noise[i] = urand(-1, 1);
  float* Rm = malloc(sizeof(float) * T * B * A);
  float* Rv = malloc(sizeof(float) * T * B * heads);
  for (int i = 0; i < T * B * A; i++) Rm[i] = urand(-1, 1);
  for (int i = 0; i < T * B * heads; i++) Rv[i] = urand(-1, 1);
  float Rs[4] = {0.7f, -0.4f, 0.3f, -0.9f};
  // L = sum Rm*mean + sum Rv*value + Rs.logstd + activity penalty (returned by backward)
#define PLOSS()                                                                              \
  ({                                                                                         \
    ama_policy_seq_forward(&pol, &seq, T, B);                                                \
    double L = 0;                                                                            \
    for (int i = 0; i < T * B * A; i++) L += (double)Rm[i] * seq.mean[i];                    \
    for (int i = 0; i < T * B * heads; i++) L += (double)Rv[i] * seq.value[i];               \
    const float* ls = pol.params.w + pol.params.t[pol.i_logstd].offset;                      \
    for (int j = 0; j < A; j++) L += Rs[j] * ls[j];                                          \
    L + ama_policy_activity_cost(&pol, &seq, T, B);                                          \
  })
  PLOSS();
  memset(pol.params.g, 0, sizeof(float) * pol.params.count);
  float* dlogstd = pol.params.g + pol.params.t[pol.i_logstd].offset;
  for (int j = 0; j < A; j++) dlogstd[j] += Rs[j];
  ama_policy_seq_backward(&pol, &seq, T, B, Rm, Rv);
  float* g = malloc(sizeof(float) * pol.params.count);
  memcpy(g, pol.params.g, sizeof(float) * pol.params.count);
  int bad = 0;
  const float eps = 1e-3f;
  char what[96];
  for (int ti = 0; ti < pol.params.n_tensors; ti++) {
    ama_tensor* t = &pol.params.t[ti];
    size_t n = (size_t)t->rows * t->cols;
    size_t stride = n > 40 ? n / 40 : 1;  // a sample of every tensor
    for (size_t q = 0; q < n; q += stride) {
      float* w = pol.params.w + t->offset + q;
      float w0 = *w;
      *w = w0 + eps;
      double lp = PLOSS();
      *w = w0 - eps;
      double lm = PLOSS();
      *w = w0;
      snprintf(what, sizeof(what), "policy(%s/%s k=%d cmd=%d) %s[%zu]", core, motor, tick, cmd,
               t->name, q);
      bad += compare(what, g[t->offset + q], (lp - lm) / (2 * eps), 2e-2, 2e-3);
    }
  }
#undef PLOSS
  free(g);
  free(Rm);
  free(Rv);
  ama_seq_free(&seq);
  ama_policy_free(&pol);
  return bad;
}

static void test_grad_policy_gru(void** s) {
  assert_int_equal(check_policy("gru", "gru", 1, 0, 1, 0), 0);
}
static void test_grad_policy_tick(void** s) {
  assert_int_equal(check_policy("lstm", "gru", 2, 1, 1, 0), 0);
}
static void test_grad_policy_rnn(void** s) {
  assert_int_equal(check_policy("rnn", "mlp", 3, 1, 1, 0), 0);
}
// the distributional critic: K value heads on the core, through the core tick
static void test_grad_policy_heads(void** s) {
  assert_int_equal(check_policy("gru", "gru", 2, 1, 5, 0), 0);
}
// command_dims: the last two action means from the core (held over the tick's block), their
// log-std after the head's
static void test_grad_policy_command(void** s) {
  assert_int_equal(check_policy("gru", "gru", 1, 1, 1, 2), 0);
  assert_int_equal(check_policy("lstm", "gru", 2, 0, 3, 1), 0);
}

// A small policy (core 6, motor 5 units; 3 proprioceptive inputs) with K command values of A,
// its weights jittered, and a sequence of T x B random observations for it.
static void command_policy(ama_policy* pol, ama_seq* seq, int K, int motor_core, int T, int B,
                           int A) {
  ama_policy_cfg cfg;
  ama_policy_cfg_default(&cfg);
  char err[512];
  cfg.core_hidden = 6;
  cfg.motor_hidden = 5;
  cfg.command_dims = K;
  cfg.motor_core = motor_core;
  am_obs_group groups[1] = {{"proprioception", 0, 3}};
  assert_int_equal(ama_policy_init(pol, &cfg, groups, 1, 3, A, T, B, B, 7, err, sizeof err), 0);
  for (size_t i = 0; i < pol->params.count; i++) pol->params.w[i] += urand(-0.3f, 0.3f);
  assert_int_equal(ama_seq_alloc(seq, pol, T, B, err, sizeof err), 0);
  for (int i = 0; i < T * B * 3; i++) seq->obs[i] = urand(-1, 1);
}

// motor_core = 0: the motor reads its shortcut groups only (the core's slots are 0), so the core
// learns through the value and command heads alone: gradients exact, and the head's means do not
// move when the core's weights do.
static void test_grad_policy_motor_core(void** s) {
  g_motor_core = 0;
  int bad = check_policy("gru", "gru", 2, 1, 1, 2);
  g_motor_core = 1;
  assert_int_equal(bad, 0);
  enum { T = 4, B = 2, A = 3 };
  ama_policy pol;
  ama_seq seq;
  command_policy(&pol, &seq, 1, 0, T, B, A);
  ama_policy_seq_forward(&pol, &seq, T, B);
  float before[T * B * A];
  memcpy(before, seq.mean, sizeof before);
  int wx = ama_params_find(&pol.params, "core.Wx");
  for (int i = 0; i < pol.params.t[wx].rows * pol.params.t[wx].cols; i++)
    pol.params.w[pol.params.t[wx].offset + i] += 0.5f;
  ama_policy_seq_forward(&pol, &seq, T, B);
  int moved = 0;
  for (int r = 0; r < T * B; r++)
    for (int j = 0; j < A; j++) {
      if (j < A - 1) assert_float_equal(seq.mean[r * A + j], before[r * A + j], 0);
      else moved += seq.mean[r * A + j] != before[r * A + j];  // the command follows the core
    }
  assert_true(moved > 0);
  ama_seq_free(&seq);
  ama_policy_free(&pol);
}

// The command head acting step by step gives the sequence forward's means; its values follow the
// core alone (the motor's weights zeroed change the head's values only); the tensors are the
// head's for A - K values plus command.*; every value a command (K = A: a body-less navigator's
// place) acts as the sequence forward too; more than A refused.
static void test_command_head(void** s) {
  enum { T = 5, B = 3, A = 5, O = 3 };
  ama_policy pol;
  ama_seq seq;
  command_policy(&pol, &seq, 2, 1, T, B, A);
  assert_int_equal(pol.params.t[pol.i_Wmu].rows, 3);
  assert_int_equal(pol.params.t[pol.i_Wcmd].rows, 2);
  assert_int_equal(pol.params.t[pol.i_Wcmd].cols, 6);
  assert_true(ama_params_find(&pol.params, "command.logstd") >= 0);
  ama_policy_seq_forward(&pol, &seq, T, B);
  ama_policy_reset_state(&pol);
  for (int t = 0; t < T; t++) {
    ama_policy_step(&pol, seq.obs + (size_t)t * B * O, NULL, NULL, NULL);
    for (int i = 0; i < B * A; i++)
      assert_float_equal(pol.a_mean[i], seq.mean[(size_t)t * B * A + i], 1e-5);
  }
  float before[T * B * A];
  memcpy(before, seq.mean, sizeof before);
  memset(pol.params.w + pol.params.t[pol.i_Wmu].offset, 0, sizeof(float) * 3 * 5);
  ama_policy_seq_forward(&pol, &seq, T, B);
  int changed = 0;
  for (int r = 0; r < T * B; r++)
    for (int j = 0; j < A; j++) {
      if (j >= 3) assert_float_equal(seq.mean[r * A + j], before[r * A + j], 0);
      else changed += seq.mean[r * A + j] != before[r * A + j];
    }
  assert_true(changed > 0);
  ama_seq_free(&seq);
  ama_policy_free(&pol);
  command_policy(&pol, &seq, A, 1, T, B, A);
  assert_int_equal(pol.params.t[pol.i_Wmu].rows, 0);
  ama_policy_seq_forward(&pol, &seq, T, B);
  ama_policy_reset_state(&pol);
  float spread = 0;
  for (int t = 0; t < T; t++) {
    ama_policy_step(&pol, seq.obs + (size_t)t * B * O, NULL, NULL, NULL);
    for (int i = 0; i < B * A; i++) {
      assert_float_equal(pol.a_mean[i], seq.mean[(size_t)t * B * A + i], 1e-5);
      spread += fabsf(seq.mean[(size_t)t * B * A + i] - seq.mean[i % A]);
    }
  }
  assert_true(spread > 0);
  ama_seq_free(&seq);
  ama_policy_free(&pol);
  ama_policy_cfg cfg;
  ama_policy_cfg_default(&cfg);
  char err[512];
  cfg.command_dims = A + 1;
  am_obs_group groups[1] = {{"proprioception", 0, 3}};
  assert_int_equal(ama_policy_init(&pol, &cfg, groups, 1, O, A, T, B, B, 7, err, sizeof err), -1);
  assert_non_null(strstr(err, "command_dims = 6"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grad_mlp),        cmocka_unit_test(test_grad_gru),
      cmocka_unit_test(test_grad_lstm),       cmocka_unit_test(test_grad_rnn),
      cmocka_unit_test(test_grad_rnn_dale),   cmocka_unit_test(test_grad_check_has_teeth),
      cmocka_unit_test(test_grad_rnn_tanh),
      cmocka_unit_test(test_dale_signs),      cmocka_unit_test(test_gauss_logp),
      cmocka_unit_test(test_grad_ppo_loss),   cmocka_unit_test(test_grad_policy_motor_core),
      cmocka_unit_test(test_grad_ppo_anchor),   cmocka_unit_test(test_grad_policy_gru),
      cmocka_unit_test(test_grad_policy_tick), cmocka_unit_test(test_grad_policy_rnn),
      cmocka_unit_test(test_grad_expectile_loss), cmocka_unit_test(test_expectile_minimiser),
      cmocka_unit_test(test_grad_policy_heads), cmocka_unit_test(test_grad_categorical_loss),
      cmocka_unit_test(test_categorical_policy), cmocka_unit_test(test_grad_policy_command),
      cmocka_unit_test(test_command_head),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
