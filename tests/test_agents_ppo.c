// test_agents_ppo.c: the learner's pieces against hand computations: GAE with terminated vs
// truncated episodes, the running observation normaliser, one Adam step, frozen tensors, and the
// policy's observation routing (including its error for an unknown group).
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

// One env, T = 5: steps 0-1 one episode that TERMINATES at step 1, steps 2-3 an episode TRUNCATED
// at step 3 (time limit), step 4 continues into the next rollout.
static void test_gae_terminated_vs_truncated(void** s) {
  enum { T = 5, N = 1 };
  const float g = 0.9f, l = 0.8f;
  float r[T] = {1, 2, 3, 4, 5}, v[T] = {0.5f, 0.25f, 1, 2, 3};
  uint8_t term[T] = {0, 1, 0, 0, 0}, trunc[T] = {0, 0, 0, 1, 0};
  float fin[T] = {0, 0, 0, 10, 0};  // V(final obs) of the truncated episode
  float next[N] = {7};              // V after the rollout
  float adv[T], ret[T];
  ama_gae(T, N, g, l, r, v, term, trunc, fin, next, adv, ret);
  // step 4: continues; bootstrap from next value
  double a4 = 5 + g * 7 - 3;
  // step 3: truncated: bootstrap from V(final obs), chain cut (does not see step 4)
  double a3 = 4 + g * 10 - 2;
  double a2 = (3 + g * 2 - 1) + g * l * a3;
  // step 1: terminated: no bootstrap, chain cut
  double a1 = 2 - 0.25;
  double a0 = (1 + g * 0.25 - 0.5) + g * l * a1;
  double want[T] = {a0, a1, a2, a3, a4};
  for (int t = 0; t < T; t++) {
    assert_float_equal(adv[t], want[t], 1e-5);
    assert_float_equal(ret[t], want[t] + v[t], 1e-5);
  }
}

static void test_normaliser(void** s) {
  ama_norm z;
  char err[256];
  assert_int_equal(ama_norm_init(&z, 2, 5.0f, err, sizeof(err)), 0);
  // two batches; statistics must equal those of the concatenation
  float a[6] = {1, 10, 2, 20, 3, 30};
  float b[4] = {4, 40, 100, -50};
  ama_norm_update(&z, a, 3);
  ama_norm_update(&z, b, 2);
  double x0[5] = {1, 2, 3, 4, 100}, x1[5] = {10, 20, 30, 40, -50};
  for (int i = 0; i < 2; i++) {
    const double* x = i ? x1 : x0;
    double m = 0, v = 0;
    for (int k = 0; k < 5; k++) m += x[k] / 5;
    for (int k = 0; k < 5; k++) v += (x[k] - m) * (x[k] - m) / 5;
    assert_float_equal(z.mean[i], m, 1e-9);
    assert_float_equal(z.m2[i] / z.count, v, 1e-9);
  }
  float in[2] = {(float)z.mean[0], 1e6f}, out[2];
  ama_norm_apply(&z, in, out, 1);
  assert_float_equal(out[0], 0.0f, 1e-6);
  assert_float_equal(out[1], 5.0f, 0);  // clipped
  ama_norm_free(&z);
}

static void test_adam_and_freeze(void** s) {
  ama_params p;
  memset(&p, 0, sizeof(p));
  char err[256];
  ama_params_add(&p, "a.W", 1, 2);
  ama_params_add(&p, "b.W", 1, 1);
  assert_int_equal(ama_params_alloc(&p, err, sizeof(err)), 0);
  p.w[0] = 1, p.w[1] = -1, p.w[2] = 3;
  p.g[0] = 0.5f, p.g[1] = -2, p.g[2] = 4;
  p.t[1].frozen = 1;
  double n = ama_grad_norm(&p);  // zeroes the frozen gradient first
  assert_float_equal(n, sqrt(0.25 + 4), 1e-6);
  assert_float_equal(p.g[2], 0, 0);
  ama_adam_step(&p, 0.1f, 0.9f, 0.999f, 1e-8f);
  // first Adam step moves each coordinate by lr * sign(g) (bias-corrected m/sqrt(v) = g/|g|)
  assert_float_equal(p.w[0], 1 - 0.1f, 1e-6);
  assert_float_equal(p.w[1], -1 + 0.1f, 1e-6);
  assert_float_equal(p.w[2], 3, 0);  // frozen
  assert_int_equal(p.adam_t, 1);
  ama_params_free(&p);
}

// Adam split into parts (as the learner runs it on the pool's threads) gives the bits of one whole
// step: three tensors, one frozen, a connectivity mask, part boundaries inside tensors.
static void test_adam_parts(void** s) {
  char err[256];
  ama_params a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  for (ama_params* p = &a; p; p = p == &a ? &b : NULL) {
    ama_params_add(p, "x.W", 7, 13);
    ama_params_add(p, "y.W", 5, 3);
    ama_params_add(p, "z.b", 1, 37);
    assert_int_equal(ama_params_alloc(p, err, sizeof err), 0);
    p->keep = calloc(p->count, 1);
    assert_non_null(p->keep);
    p->t[1].frozen = 1;
  }
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  for (size_t i = 0; i < a.count; i++) {
    a.w[i] = b.w[i] = (float)am_rng_range(&rng, -1, 1);
    a.keep[i] = b.keep[i] = i % 5 != 3;
  }
  for (int step = 0; step < 4; step++) {
    for (size_t i = 0; i < a.count; i++) a.g[i] = b.g[i] = (float)am_rng_range(&rng, -2, 2);
    ama_adam_step(&a, 0.01f, 0.9f, 0.999f, 1e-8f);
    ama_adam_begin(&b);
    for (int part = 2; part >= 0; part--) ama_adam_part(&b, 0.01f, 0.9f, 0.999f, 1e-8f, part, 3);
  }
  assert_int_equal(a.adam_t, b.adam_t);
  assert_memory_equal(a.w, b.w, sizeof(float) * a.count);
  assert_memory_equal(a.m, b.m, sizeof(float) * a.count);
  assert_memory_equal(a.v, b.v, sizeof(float) * a.count);
  assert_true(a.w[3] == 0.0f && a.m[3] == 0.0f);  // masked
  assert_true(a.m[0] != 0.0f);                    // moved
  for (ama_params* p = &a; p; p = p == &a ? &b : NULL) {
    free(p->keep);
    p->keep = NULL;
    ama_params_free(p);
  }
}

static void test_routing(void** s) {
  am_obs_group groups[3] = {{"proprioception", 0, 3}, {"touch", 3, 2}, {"task", 5, 4}};
  ama_policy_cfg cfg;
  ama_policy_cfg_default(&cfg);
  cfg.core_hidden = 4;
  cfg.motor_hidden = 3;
  snprintf(cfg.core_groups, sizeof(cfg.core_groups), "task,touch");
  snprintf(cfg.motor_groups, sizeof(cfg.motor_groups), "proprioception");
  cfg.prev_action = 1;
  ama_policy p;
  char err[512];
  assert_int_equal(ama_policy_init(&p, &cfg, groups, 3, 9, 2, 4, 2, 2, 1, err, sizeof(err)), 0);
  assert_int_equal(p.n_core_obs, 6);
  int want_core[6] = {5, 6, 7, 8, 3, 4};
  assert_memory_equal(p.core_obs_idx, want_core, sizeof(want_core));
  assert_int_equal(p.core_in, 6 + 2);
  assert_int_equal(p.n_motor_obs, 3);
  assert_int_equal(p.motor_in, 4 + 3);
  ama_policy_free(&p);
  snprintf(cfg.motor_groups, sizeof(cfg.motor_groups), "vestibular");
  assert_int_equal(ama_policy_init(&p, &cfg, groups, 3, 9, 2, 4, 2, 2, 1, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "vestibular"));
  assert_non_null(strstr(err, "proprioception touch task"));
  snprintf(cfg.motor_groups, sizeof(cfg.motor_groups), "none");
  snprintf(cfg.core_type, sizeof(cfg.core_type), "tcn");
  assert_int_equal(ama_policy_init(&p, &cfg, groups, 3, 9, 2, 4, 2, 2, 1, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "tcn"));
}

// Acting one step at a time must give the same values and means as the sequence forward used for
// learning (the PPO ratio starts at 1), including episode resets and the core tick.
static void test_step_matches_sequence(void** s) {
  am_obs_group groups[2] = {{"proprioception", 0, 3}, {"task", 3, 2}};
  ama_policy_cfg cfg;
  ama_policy_cfg_default(&cfg);
  cfg.core_hidden = 8;
  cfg.motor_hidden = 6;
  cfg.core_tick = 2;
  cfg.prev_action = 1;
  cfg.prev_reward = 1;
  snprintf(cfg.core_type, sizeof(cfg.core_type), "lstm");
  enum { T = 6, N = 3, O = 5, A = 2 };
  ama_policy p;
  char err[512];
  assert_int_equal(ama_policy_init(&p, &cfg, groups, 2, O, A, T, N, N, 5, err, sizeof(err)), 0);
  ama_seq q;
  assert_int_equal(ama_seq_alloc(&q, &p, T, N, err, sizeof(err)), 0);
  uint64_t st = 99;
  float mean[T * N * A], value[T * N];
  for (int t = 0; t < T; t++) {
    float obs[N * O], mask[N], act[N * A], rew[N];
    for (int i = 0; i < N * O; i++) {
      st = st * 6364136223846793005ULL + 1;
      obs[i] = (float)((st >> 40) % 1000) / 500.0f - 1;
    }
    for (int b = 0; b < N; b++) mask[b] = (t == 3 && b == 1) ? 0.0f : 1.0f;
    ama_policy_step(&p, obs, mask, NULL, NULL);
    memcpy(q.obs + (size_t)t * N * O, obs, sizeof(obs));
    memcpy(q.mask + (size_t)t * N, mask, sizeof(mask));
    memcpy(q.prev_act + (size_t)t * N * A, p.a_prev_act, sizeof(float) * N * A);
    memcpy(q.prev_rew + (size_t)t * N, p.a_prev_rew, sizeof(float) * N);
    if (p.a_ticked) memcpy(q.core_mask + (size_t)(t / 2) * N, p.a_core_mask, sizeof(float) * N);
    memcpy(mean + t * N * A, p.a_mean, sizeof(float) * N * A);
    memcpy(value + t * N, p.a_value, sizeof(float) * N);
    for (int i = 0; i < N * A; i++) act[i] = 0.1f * (float)(i + t);
    for (int b = 0; b < N; b++) rew[b] = -0.5f * (float)b + 0.1f * (float)t;
    ama_policy_set_feedback(&p, act, rew);
  }
  ama_policy_seq_forward(&p, &q, T, N);  // s0 = zeros, as the acting state started
  for (int i = 0; i < T * N * A; i++) assert_float_equal(q.mean[i], mean[i], 1e-5);
  for (int i = 0; i < T * N; i++) assert_float_equal(q.value[i], value[i], 1e-5);
  ama_seq_free(&q);
  ama_policy_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gae_terminated_vs_truncated),
      cmocka_unit_test(test_normaliser),
      cmocka_unit_test(test_adam_and_freeze),
      cmocka_unit_test(test_adam_parts),
      cmocka_unit_test(test_routing),
      cmocka_unit_test(test_step_matches_sequence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
