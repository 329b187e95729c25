// test_agents_hebb.c: node perturbation with a reward-modulated Hebbian trace (agents/ama_hebb.c,
// learner = hebbian; Miconi 2017): the trace and the trial-end update against numbers worked by
// hand on a 2-unit network; a perturbation on a unit's input through the policy's step against
// the rate equation computed by hand on a 3-unit network; learning a reduced delayed
// non-match-to-sample from a fixed seed (and not learning it with eta = 0); checkpoint and
// resume bit for bit, whatever the thread count; the configuration's refusals.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ama_agents.h"
#include "amt_tasks.h"
#include "agents_test_util.h"

static int setup(void** s) {
  (void)s;
  return test_dir_make("hebb");
}

// Two units, one input, one step, worked by hand:
//   rprev = (0.5, -1), x = (0.2, 0.4), xbar = (0, 0.1)  =>  dx = (0.2, 0.3)
//   e_00 = (0.5 * 0.2)^3 = 0.001      e_01 = (-1 * 0.2)^3 = -0.008
//   e_10 = (0.5 * 0.3)^3 = 0.003375   e_11 = (-1 * 0.3)^3 = -0.027
//   input u = 2: ein_0 = (2 * 0.2)^3 = 0.064, ein_1 = (2 * 0.3)^3 = 0.216
//   bias: eb = (0.2^3, 0.3^3) = (0.008, 0.027)
//   xbar' = 0.05 xbar + 0.95 x = (0.19, 0.385)
// then the trial-end change with eta 0.1, adv = 2 (R - Rbar, scaled), max_dw 0.001:
//   eta e adv = (0.0002, -0.0016, 0.000675, -0.0054) -> clipped (0.0002, -0.001, 0.000675, -0.001)
//   and no change where keep is 0.
static void test_rule_by_hand(void** s) {
  (void)s;
  const float rprev[2] = {0.5f, -1.0f}, x[2] = {0.2f, 0.4f}, u[1] = {2.0f};
  double xbar[2] = {0.0, 0.1}, e[4] = {0}, ein[2] = {0}, eb[2] = {0};
  float dx[2];
  ama_hebb_trace(2, 1, rprev, u, x, xbar, 0.05f, dx, e, ein, eb);
  const double we[4] = {0.001, -0.008, 0.003375, -0.027};
  for (int q = 0; q < 4; q++) assert_float_equal(e[q], we[q], 1e-8);
  assert_float_equal(ein[0], 0.064, 1e-8);
  assert_float_equal(ein[1], 0.216, 1e-7);
  assert_float_equal(eb[0], 0.008, 1e-8);
  assert_float_equal(eb[1], 0.027, 1e-8);
  assert_float_equal(xbar[0], 0.19, 1e-8);
  assert_float_equal(xbar[1], 0.385, 1e-8);
  // a second step adds to the traces: x again, xbar now (0.19, 0.385): dx = (0.01, 0.015)
  ama_hebb_trace(2, 1, rprev, u, x, xbar, 0.05f, dx, e, NULL, NULL);
  assert_float_equal(e[1], -0.008 + pow(-0.01, 3), 1e-9);
  assert_float_equal(e[2], 0.003375 + pow(0.5 * 0.015, 3), 1e-9);
  // the update
  float W[4] = {1, 1, 1, 1};
  const double e1[4] = {0.001, -0.008, 0.003375, -0.027};
  double ss = ama_hebb_update(W, NULL, e1, 4, 0.1, 2.0, 0.001);
  const float ww[4] = {1.0002f, 0.999f, 1.000675f, 0.999f};
  for (int q = 0; q < 4; q++) assert_float_equal(W[q], ww[q], 1e-6);
  assert_float_equal(ss, 0.0002 * 0.0002 + 1e-6 + 0.000675 * 0.000675 + 1e-6, 1e-12);
  const uint8_t keep[4] = {1, 0, 1, 0};
  float W2[4] = {0, 0, 0, 0};
  ama_hebb_update(W2, keep, e1, 4, 0.1, -2.0, 0.001);  // R below the mean: the other way
  assert_float_equal(W2[0], -0.0002f, 1e-9);
  assert_true(W2[1] == 0.0f && W2[3] == 0.0f);
  assert_float_equal(W2[2], -0.000675f, 1e-9);
}

// The policy a Hebbian learner trains: dnms, a 3-unit tanh rate RNN, readout = unit.
static void hebb_config(ama_config* c, int H) {
  ama_config_default(c);
  char err[1024];
  char hs[16];
  snprintf(hs, sizeof hs, "%d", H);
  const char* sets[][2] = {
      {"task", "dnms"},       {"task_params", "dt=0.002"}, {"num_envs", "1"},
      {"learner", "hebbian"}, {"core", "rnn"},             {"core_hidden", hs},
      {"rnn_act", "tanh"},    {"rnn_gain", "1.5"},         {"tau", "0.03"},
      {"dt", "0.002"},        {"readout", "unit"},         {"motor", "mlp"},
      {"motor_hidden", "1"},  {"motor_groups", "none"},    {"horizon", "500"},
      {"minibatches", "1"},   {"hebb_pert_prob", "0.006"}, {"hebb_pert_amp", "8"},
      {"seed", "1"}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    if (ama_config_set(c, sets[i][0], sets[i][1], err, sizeof err)) fail_msg("%s", err);
}

// A planted perturbation D on unit 1's input at step 2 (added to x after the cell's step as
// a D, a = dt / tau) through ama_policy_step, against x(t) = (1 - a) x + a (W r + Wx u + b + D),
// r = tanh(x), computed here in double; the action is r_0 (readout = unit).
static void test_perturbation_by_hand(void** s) {
  (void)s;
  ama_config cfg;
  hebb_config(&cfg, 3);
  run r;
  run_open(&r, &cfg, 1);
  ama_policy* p = ama_ppo_policy(r.L);
  float* W = p->params.w + p->params.t[p->core.iWh].offset;
  float* Wx = p->params.w + p->params.t[p->core.iWx].offset;
  float* bx = p->params.w + p->params.t[p->core.ibx].offset;
  const float Wp[9] = {0.5f, -1.0f, 0.25f, 1.5f, 0.0f, -0.5f, -0.75f, 0.5f, 1.0f};
  const float Wxp[6] = {1.0f, -1.0f, 0.5f, 0.5f, -0.25f, 2.0f};
  const float bp[3] = {0.1f, -0.2f, 0.3f};
  memcpy(W, Wp, sizeof Wp);
  memcpy(Wx, Wxp, sizeof Wxp);
  memcpy(bx, bp, sizeof bp);
  ama_policy_reset_state(p);
  float ones[3] = {1, 1, 1}, add[3] = {0, 0, 0};
  p->unit_gain[0] = ones;
  p->unit_add[0] = add;
  const double a = 0.002 / 0.03, D = 8.0;
  double x[3] = {0, 0, 0}, rr[3] = {0, 0, 0};
  const float u[4][2] = {{1, 0}, {1, 0}, {0, 0}, {0, 1}};
  for (int t = 0; t < 4; t++) {
    add[1] = t == 2 ? (float)(a * D) : 0.0f;
    float mask = t == 0 ? 0.0f : 1.0f;
    ama_policy_step(p, u[t], &mask, NULL, NULL);
    double xn[3];
    for (int i = 0; i < 3; i++) {
      double in = bp[i] + Wxp[2 * i] * u[t][0] + Wxp[2 * i + 1] * u[t][1] + (t == 2 && i == 1 ? D : 0);
      for (int j = 0; j < 3; j++) in += Wp[3 * i + j] * rr[j];
      xn[i] = (1 - a) * x[i] + a * in;
    }
    for (int i = 0; i < 3; i++) {
      x[i] = xn[i], rr[i] = tanh(x[i]);
      assert_float_equal(p->core_s[i], x[i], 1e-5);
      assert_float_equal(p->core_y[i], rr[i], 1e-5);
    }
    assert_float_equal(p->a_mean[0], rr[0], 1e-5);  // the action: unit 0's rate
  }
  assert_true(x[1] > 0.5);  // the kick: a D = 0.53 on top of the small drive
  p->unit_gain[0] = p->unit_add[0] = NULL;
  run_close(&r);
}

// Success per trial over trials [a, b) of a run's iterations (one trial each).
static double run_trials(const ama_config* cfg, int n, double* early, double* late) {
  run r;
  run_open(&r, cfg, 1);
  ama_iter_stats st;
  int s_early = 0, s_late = 0;
  double err_late = 0;
  for (int k = 0; k < n; k++) {
    assert_int_equal(ama_ppo_iterate(r.L, &st), 0);
    assert_int_equal(st.episodes, 1);  // horizon 500 = one trial of 1 s at 2 ms
    if (k < 100) s_early += st.success > 0.5;
    if (k >= n - 100) s_late += st.success > 0.5, err_late -= st.mean_return;
  }
  run_close(&r);
  *early = s_early / 100.0;
  *late = s_late / 100.0;
  return err_late / 100;
}

// A reduced DNMS (50 units, 2 ms steps): 800 trials from seed 1 raise the success rate well
// above its start; the same run with eta = 0 (perturbations, no weight change) does not.
static void test_learns_dnms(void** s) {
  (void)s;
  ama_config cfg;
  hebb_config(&cfg, 50);
  double early, late, early0, late0;
  double err = run_trials(&cfg, 800, &early, &late);
  char e[256];
  assert_int_equal(ama_config_set(&cfg, "hebb_eta", "0", e, sizeof e), 0);
  double err0 = run_trials(&cfg, 800, &early0, &late0);
  printf("dnms, 50 units: correct in trials 1-100 %.2f, 701-800 %.2f (mean error %.3f); "
         "eta = 0: %.2f, %.2f (%.3f)\n", early, late, err, early0, late0, err0);
  assert_true(late >= 0.8 && late >= early + 0.2);
  assert_true(err < 0.8);
  assert_true(late0 < 0.7 && err0 > 0.95);
}

static int files_equal(const char* a, const char* b) {
  FILE* fa = fopen(a, "rb");
  FILE* fb = fopen(b, "rb");
  int eq = fa && fb;
  while (eq) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) eq = 0;
    if (ca == EOF || cb == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return eq;
}

// Two envs, iterations of 130 steps (trials of 500: the checkpoint falls inside trials, with
// their traces, xbar and returns), no warm-up: save after 5 iterations, load into a learner on 2
// threads, go on: the weights and the whole checkpoint equal the uninterrupted run's bit for bit.
static void test_resume(void** s) {
  (void)s;
  ama_config cfg;
  hebb_config(&cfg, 12);
  char err[1024], pa[400], pb[400], pc[400];
  const char* sets[][2] = {{"num_envs", "2"}, {"horizon", "130"}, {"hebb_warmup", "0"},
                           {"hebb_plastic_input", "1"}, {"conn", "random"},
                           {"conn_density", "0.5"}, {"conn_modules", "core"}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    assert_int_equal(ama_config_set(&cfg, sets[i][0], sets[i][1], err, sizeof err), 0);
  snprintf(pa, sizeof pa, "%s/a.bin", g_dir);
  snprintf(pb, sizeof pb, "%s/b.bin", g_dir);
  snprintf(pc, sizeof pc, "%s/c.bin", g_dir);
  run a, b;
  run_open(&a, &cfg, 1);
  ama_policy* p = ama_ppo_policy(a.L);
  float* w0 = malloc(sizeof(float) * p->params.count);
  memcpy(w0, p->params.w, sizeof(float) * p->params.count);
  ama_iter_stats st;
  for (int it = 0; it < 5; it++) assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
  assert_int_equal(ama_ckpt_save(a.L, pa, err, sizeof err), 0);
  char* text = ama_ckpt_read_config(pa, err, sizeof err);
  assert_non_null(text);
  assert_non_null(strstr(text, "learner = hebbian"));
  free(text);
  run_open(&b, &cfg, 2);
  assert_int_equal(ama_ckpt_load(b.L, pa, err, sizeof err), 0);
  for (int it = 0; it < 6; it++) {
    assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
    assert_int_equal(ama_ppo_iterate(b.L, &st), 0);
  }
  const ama_policy* pb_ = ama_ppo_policy(b.L);
  assert_memory_equal(p->params.w, pb_->params.w, sizeof(float) * p->params.count);
  assert_int_equal(ama_ckpt_save(a.L, pb, err, sizeof err), 0);
  assert_int_equal(ama_ckpt_save(b.L, pc, err, sizeof err), 0);
  assert_true(files_equal(pb, pc));
  // what learnt: the recurrent and input weights and biases of the core; the rest as drawn;
  // absent connections still 0
  int moved_wh = 0;
  for (int t = 0; t < p->params.n_tensors; t++) {
    const ama_tensor* T = &p->params.t[t];
    size_t n = (size_t)T->rows * T->cols;
    int moved = memcmp(p->params.w + T->offset, w0 + T->offset, sizeof(float) * n) != 0;
    int plastic = t == p->core.iWh || t == p->core.iWx || t == p->core.ibx;
    assert_int_equal(moved, plastic);
    if (t == p->core.iWh)
      for (size_t q = 0; q < n; q++) {
        moved_wh += p->params.w[T->offset + q] != w0[T->offset + q];
        if (!p->params.keep[T->offset + q]) assert_true(p->params.w[T->offset + q] == 0.0f);
      }
  }
  assert_true(moved_wh > 30);
  // a checkpoint of another network size is refused, naming the field
  run c;
  hebb_config(&cfg, 12);
  assert_int_equal(ama_config_set(&cfg, "num_envs", "2", err, sizeof err), 0);
  assert_int_equal(ama_config_set(&cfg, "horizon", "130", err, sizeof err), 0);
  run_open(&c, &cfg, 1);  // (no plastic input: a smaller state)
  assert_int_equal(ama_ckpt_load(c.L, pa, err, sizeof err), -1);
  assert_non_null(strstr(err, "hebbian state"));
  run_close(&c);
  free(w0);
  run_close(&a);
  run_close(&b);
}

static void refuse(const char* key, const char* value, const char* want) {
  ama_config c;
  hebb_config(&c, 8);
  char err[1024];
  if (!strcmp(key, "dale"))  // (Dale's law needs both modules to be rate RNNs first)
    assert_int_equal(ama_config_set(&c, "motor", "rnn", err, sizeof err), 0);
  assert_int_equal(ama_config_set(&c, key, value, err, sizeof err), 0);
  assert_int_equal(ama_config_check(&c, err, sizeof err), -1);
  if (!strstr(err, want)) fail_msg("%s = %s: '%s' does not say '%s'", key, value, err, want);
}

static void test_refusals(void** s) {
  (void)s;
  refuse("core", "gru", "core = gru: a gated cell");
  refuse("core", "lstm", "core = lstm: a gated cell");
  refuse("readout", "head", "learner = hebbian needs readout = unit");
  refuse("dale", "1", "dale = 1 is not supported");
  refuse("rnn_noise", "0.1", "rnn_noise = 0.1 is not supported");
  refuse("core_tick", "2", "core_tick = 1");
  refuse("learner", "ppo", "readout = unit: the action is the core's own units");
  ama_config c;
  hebb_config(&c, 8);
  char err[1024];
  assert_int_equal(ama_config_check(&c, err, sizeof err), 0);
  assert_int_equal(ama_config_set(&c, "learner", "node", err, sizeof err), -1);
  assert_non_null(strstr(err, "ppo, es, hebbian"));
  assert_int_equal(ama_config_set(&c, "hebb_pert_prob", "1.5", err, sizeof err), -1);
  assert_int_equal(ama_config_set(&c, "rnn_act", "sigmoid", err, sizeof err), -1);
  assert_non_null(strstr(err, "relu, tanh"));
  // readout = unit needs as many core units as actions
  hebb_config(&c, 8);
  assert_int_equal(ama_config_set(&c, "core_hidden", "1", err, sizeof err), 0);
  assert_int_equal(ama_config_set(&c, "task", "reacher", err, sizeof err), 0);
  assert_int_equal(ama_config_set(&c, "task_params", "", err, sizeof err), 0);
  amt_params params = {0};
  am_task t;
  assert_int_equal(amt_create(&t, "reacher", &params, err, sizeof err), 0);
  am_pool_config pc = {.num_envs = 1, .num_threads = 1, .seed = 1};
  am_pool* pool = am_pool_create(&t, &pc, err, sizeof err);
  assert_non_null(pool);
  assert_null(ama_ppo_create(&c, pool, err, sizeof err));
  assert_non_null(strstr(err, "readout = unit reads the action from core units 0..1"));
  am_pool_free(pool);
  amt_destroy(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rule_by_hand), cmocka_unit_test(test_perturbation_by_hand),
      cmocka_unit_test(test_learns_dnms),  cmocka_unit_test(test_resume),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, test_dir_remove);
}
