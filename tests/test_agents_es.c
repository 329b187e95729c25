// test_agents_es.c: evolution strategies (agents/ama_es.c, learner = es): perturbations
// regenerated from their seed, centred ranks, the estimate against a direct computation, steps
// that climb a planted quadratic, the learner's determinism whatever the thread count (with a
// connectivity mask that stays exact), checkpoint and resume bit for bit, and the configuration's
// refusal of an env count the population does not divide.
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
  return test_dir_make("es");
}

// Regenerated perturbations are identical; different pairs and iterations differ; the mask holds.
static void test_perturbation(void** s) {
  (void)s;
  enum { n = 1000 };
  uint8_t pert[n];
  for (int q = 0; q < n; q++) pert[q] = q % 7 != 0;
  float a[n], b[n], c[n], d[n];
  ama_es_perturbation(5, 3, 2, pert, n, a);
  ama_es_perturbation(5, 3, 2, pert, n, b);
  ama_es_perturbation(5, 3, 1, pert, n, c);
  ama_es_perturbation(5, 4, 2, pert, n, d);
  assert_memory_equal(a, b, sizeof a);
  double m = 0, v = 0;
  int k = 0;
  for (int q = 0; q < n; q++) {
    if (!pert[q]) {
      assert_true(a[q] == 0.0f);
      continue;
    }
    assert_true(a[q] != c[q] && a[q] != d[q]);
    m += a[q];
    v += (double)a[q] * a[q];
    k++;
  }
  m /= k;
  v = v / k - m * m;
  assert_true(fabs(m) < 0.15 && fabs(v - 1.0) < 0.15);  // standard normals (k = 857)
}

// Centred ranks of planted fitnesses, ties by index.
static void test_ranks(void** s) {
  (void)s;
  const double fit[5] = {3.0, -1.0, 10.0, 3.0, 0.5};
  int order[5];
  double u[5];
  ama_es_centred_ranks(fit, 5, order, u);
  const double want[5] = {0.0, -0.5, 0.5, 0.25, -0.25};  // ranks 2, 0, 4, 3, 1 over 4
  for (int k = 0; k < 5; k++) assert_true(fabs(u[k] - want[k]) < 1e-12);
}

// The estimate against a direct computation: the same streams drawn by hand with am_rng.
static void test_estimate_direct(void** s) {
  (void)s;
  enum { n = 64, pairs = 3 };
  uint8_t pert[n];
  memset(pert, 1, n);
  pert[5] = 0;
  const double u[2 * pairs] = {0.5, -0.5, 0.1, 0.3, -0.3, -0.1};
  double g[n];
  float eps[n];
  ama_es_estimate(11, 7, pairs, u, pert, n, eps, g);
  double want[n] = {0};
  for (int i = 0; i < pairs; i++) {
    am_rng r;
    am_rng_seed(&r, 11, 0x6573000000000000ULL + 7u * 4096u + (uint64_t)i);
    float e[n];
    am_rng_normals(&r, e, n);
    for (int q = 0; q < n; q++) want[q] += (u[2 * i] - u[2 * i + 1]) * (q == 5 ? 0.0 : e[q]);
  }
  for (int q = 0; q < n; q++) assert_true(fabs(g[q] - want[q] / (2 * pairs)) < 1e-12);
  assert_true(g[5] == 0.0);
}

static double quadratic(const float* x, const float* target, int n) {
  double f = 0;
  for (int q = 0; q < n; q++) f -= (double)(x[q] - target[q]) * (x[q] - target[q]);
  return f;
}

// ES climbs a planted quadratic F(theta) = -|theta - theta*|^2 in 50 dimensions: the estimate
// points uphill (positive inner product with the true gradient), one Adam step improves F, and
// 200 steps of 16 pairs bring F from -50 to above -1.
static void test_quadratic(void** s) {
  (void)s;
  enum { n = 50, pairs = 16, K = 2 * pairs };
  ama_params P = {0};
  ama_params_add(&P, "x", n, 1);
  char err[256];
  assert_int_equal(ama_params_alloc(&P, err, sizeof err), 0);
  float target[n];
  uint8_t pert[n];
  memset(pert, 1, n);
  for (int q = 0; q < n; q++) target[q] = (q % 2 ? 1.0f : -1.0f);
  const float sigma = 0.1f;
  double fit[K], u[K], g[n];
  int order[K];
  float eps[n], cand[n];
  double f0 = quadratic(P.w, target, n);
  assert_true(fabs(f0 + 50.0) < 1e-9);
  for (int it = 0; it < 200; it++) {
    for (int i = 0; i < pairs; i++) {
      ama_es_perturbation(3, it, i, pert, n, eps);
      for (int sgn = 0; sgn < 2; sgn++) {
        for (int q = 0; q < n; q++) cand[q] = P.w[q] + (sgn ? -sigma : sigma) * eps[q];
        fit[2 * i + sgn] = quadratic(cand, target, n);
      }
    }
    ama_es_centred_ranks(fit, K, order, u);
    ama_es_estimate(3, it, pairs, u, pert, n, eps, g);
    if (it == 0) {
      double dot = 0;
      for (int q = 0; q < n; q++) dot += g[q] * 2.0 * (target[q] - P.w[q]);
      assert_true(dot > 0);
    }
    for (int q = 0; q < n; q++) P.g[q] = (float)-g[q];
    ama_adam_step(&P, 0.05f, 0.9f, 0.999f, 1e-8f);
    if (it == 0) assert_true(quadratic(P.w, target, n) > f0);
  }
  double f = quadratic(P.w, target, n);
  printf("quadratic: F from %.3f to %.3f after 200 ES steps\n", f0, f);
  assert_true(f > -1.0);
  ama_params_free(&P);
}

static void es_config(ama_config* c) {
  small_config(c);
  char err[1024];
  const char* sets[][2] = {{"learner", "es"}, {"es_pairs", "2"}, {"es_sigma", "0.05"},
                           {"lr", "0.01"}, {"conn", "random"}, {"conn_density", "0.5"}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    if (ama_config_set(c, sets[i][0], sets[i][1], err, sizeof err)) fail_msg("%s", err);
}

static void assert_same(ama_ppo* a, ama_ppo* b) {
  const ama_policy* pa = ama_ppo_policy(a);
  const ama_policy* pb = ama_ppo_policy(b);
  size_t n = pa->params.count;
  assert_memory_equal(pa->params.w, pb->params.w, n * sizeof(float));
  assert_memory_equal(pa->params.m, pb->params.m, n * sizeof(float));
  assert_memory_equal(pa->params.v, pb->params.v, n * sizeof(float));
  assert_memory_equal(pa->norm.mean, pb->norm.mean, pa->norm.n * sizeof(double));
  assert_int_equal(ama_ppo_env_steps(a), ama_ppo_env_steps(b));
}

// The learner on reacher: 1 thread and 3 threads give the same bits; every iteration runs each of
// the 8 envs' first episode (50 steps); absent connections stay 0; the critic and the log-std are
// not perturbed, so they do not move.
static void test_learner_threads(void** s) {
  (void)s;
  ama_config cfg;
  es_config(&cfg);
  run a, b;
  run_open(&a, &cfg, 1);
  run_open(&b, &cfg, 3);
  ama_policy* p = ama_ppo_policy(a.L);
  float* w0 = malloc(sizeof(float) * p->params.count);
  memcpy(w0, p->params.w, sizeof(float) * p->params.count);
  ama_iter_stats sa, sb;
  for (int it = 0; it < 3; it++) {
    assert_int_equal(ama_ppo_iterate(a.L, &sa), 0);
    assert_int_equal(ama_ppo_iterate(b.L, &sb), 0);
    assert_int_equal(sa.episodes, 8);
    assert_true(sa.mean_return == sb.mean_return);
    assert_true(sa.mean_length == 50.0);
  }
  assert_same(a.L, b.L);
  assert_int_equal(ama_ppo_env_steps(a.L), 3 * 8 * 50);
  int moved = 0;
  for (size_t q = 0; q < p->params.count; q++) {
    if (!p->params.keep[q]) assert_true(p->params.w[q] == 0.0f);
    moved += p->params.w[q] != w0[q];
  }
  assert_true(moved > 1000);
  const int fixed[3] = {p->i_logstd, p->i_Wv, p->i_bv};
  for (int k = 0; k < 3; k++) {
    const ama_tensor* t = &p->params.t[fixed[k]];
    assert_memory_equal(p->params.w + t->offset, w0 + t->offset,
                        sizeof(float) * t->rows * t->cols);
  }
  free(w0);
  run_close(&a);
  run_close(&b);
}

// Save after 2 iterations, rebuild, load, go on: equal to the uninterrupted run bit for bit.
// Also with SGD.
static void test_resume(void** s) {
  (void)s;
  for (int sgd = 0; sgd < 2; sgd++) {
    ama_config cfg;
    es_config(&cfg);
    char err[1024], path[400];
    if (sgd) assert_int_equal(ama_config_set(&cfg, "es_optimizer", "sgd", err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/es%d.bin", g_dir, sgd);
    run a, b;
    run_open(&a, &cfg, 1);
    ama_iter_stats st;
    for (int it = 0; it < 2; it++) assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
    assert_int_equal(ama_ckpt_save(a.L, path, err, sizeof err), 0);
    char* text = ama_ckpt_read_config(path, err, sizeof err);
    assert_non_null(text);
    assert_non_null(strstr(text, "learner = es"));
    assert_non_null(strstr(text, "es_pairs = 2"));
    free(text);
    run_open(&b, &cfg, 2);
    assert_int_equal(ama_ckpt_load(b.L, path, err, sizeof err), 0);
    for (int it = 0; it < 2; it++) {
      assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
      assert_int_equal(ama_ppo_iterate(b.L, &st), 0);
    }
    assert_same(a.L, b.L);
    run_close(&a);
    run_close(&b);
  }
}

static void test_refusals(void** s) {
  (void)s;
  ama_config c;
  es_config(&c);
  char err[1024];
  assert_int_equal(ama_config_set(&c, "es_pairs", "3", err, sizeof err), 0);
  assert_int_equal(ama_config_check(&c, err, sizeof err), -1);
  assert_non_null(strstr(err, "num_envs = 8 must be a multiple of 2 x es_pairs = 6"));
  assert_int_equal(ama_config_set(&c, "learner", "cma", err, sizeof err), -1);
  assert_non_null(strstr(err, "ppo, es"));
  assert_int_equal(ama_config_set(&c, "es_sigma", "0", err, sizeof err), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_perturbation),   cmocka_unit_test(test_ranks),
      cmocka_unit_test(test_estimate_direct), cmocka_unit_test(test_quadratic),
      cmocka_unit_test(test_learner_threads), cmocka_unit_test(test_resume),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, test_dir_remove);
}
