// test_task_opts.c: the observation options every task has (tasks/task_opts.c): per-group sensory
// delays (obs_delay) and Gaussian noise (obs_noise). A delayed group equals the undelayed group k
// control steps earlier in the same episode (the episode's first observation before that), other
// groups are untouched; noise has the set std on the named groups only, is drawn before the delay
// (a delayed noisy group is the noisy group k steps earlier), and is the same for a seed whatever
// the thread count; bad specs are refused naming task, key and value.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amt_tasks.h"

#include "task_test_util.h"

#define ENVS 4

// Runs `steps` control steps of task t (ENVS envs, seed, threads) under a fixed stream of random
// actions, storing every observation (steps + 1 rows of ENVS x obs_dim, row 0 the first) and per
// row and env the index of the episode's first row.
static void run_obs(const am_task* t, int steps, int threads, uint64_t seed, float* obs,
                    int* first) {
  am_pool* p = make_pool_threads(t, ENVS, threads, seed);
  am_batch* b = am_pool_batch(p);
  const mjModel* m = t->model->m;
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  size_t row = (size_t)ENVS * t->obs_dim;
  memcpy(obs, b->obs, sizeof(float) * row);
  for (int i = 0; i < ENVS; i++) first[i] = 0;
  for (int s = 1; s <= steps; s++) {
    for (int i = 0; i < ENVS * t->act_dim; i++) {
      int u = i % t->act_dim;
      b->actions[i] = (float)am_rng_range(&rng, m->actuator_ctrlrange[2 * u],
                                          m->actuator_ctrlrange[2 * u + 1]);
    }
    am_pool_step(p);
    memcpy(obs + s * row, b->obs, sizeof(float) * row);
    for (int i = 0; i < ENVS; i++) {
      first[s * ENVS + i] = (b->terminated[i] || b->truncated[i]) ? s : first[(s - 1) * ENVS + i];
    }
  }
  am_pool_free(p);
}

// Group g of env i at row s.
static const float* grp(const am_task* t, const float* obs, int s, int i, int g) {
  return obs + ((size_t)s * ENVS + i) * t->obs_dim + t->groups[g].offset;
}

// With delays[g] steps of delay per group (noise off), every group of the delayed run equals the
// plain run's group delays[g] rows earlier, within the episode.
static void check_delay(const char* name, const char* const* extra, const char* delay_spec,
                        const int* delays, int steps) {
  am_task plain, late;
  amt_params p;
  memset(&p, 0, sizeof p);
  for (const char* const* kv = extra; *kv; kv++) assert_int_equal(amt_params_add(&p, *kv, err, sizeof err), 0);
  if (amt_create(&plain, name, &p, err, sizeof err)) fail_msg("%s", err);
  char kv[300];
  snprintf(kv, sizeof kv, "obs_delay=%s", delay_spec);
  assert_int_equal(amt_params_add(&p, kv, err, sizeof err), 0);
  if (amt_create(&late, name, &p, err, sizeof err)) fail_msg("%s", err);
  assert_int_equal(plain.obs_dim, late.obs_dim);
  size_t rows = (size_t)(steps + 1) * ENVS;
  float* a = malloc(sizeof(float) * rows * plain.obs_dim);
  float* b = malloc(sizeof(float) * rows * plain.obs_dim);
  int *fa = malloc(sizeof(int) * rows), *fb = malloc(sizeof(int) * rows);
  run_obs(&plain, steps, 2, 11, a, fa);
  run_obs(&late, steps, 2, 11, b, fb);
  int episodes = 0, checked = 0;
  for (int s = 0; s <= steps; s++)
    for (int i = 0; i < ENVS; i++) {
      assert_int_equal(fa[s * ENVS + i], fb[s * ENVS + i]);  // delays never change the physics
      episodes += s > 0 && fa[s * ENVS + i] == s;
      for (int g = 0; g < plain.n_groups; g++) {
        int src = s - delays[g];
        if (src < fa[s * ENVS + i]) src = fa[s * ENVS + i];
        if (memcmp(grp(&late, b, s, i, g), grp(&plain, a, src, i, g),
                   sizeof(float) * (size_t)plain.groups[g].size))
          fail_msg("%s: group %s at step %d env %d is not the plain group of step %d", name,
                   plain.groups[g].name, s, i, src);
        checked++;
      }
    }
  printf("# %s, obs_delay=%s: %d group rows checked over %d episode ends\n", name, delay_spec,
         checked, episodes);
  assert_true(episodes >= 1);
  free(a), free(b), free(fa), free(fb);
  amt_destroy(&plain);
  amt_destroy(&late);
}

static void test_delay_shifts_groups(void** state) {
  // arm: three short trials per episode, so several episode starts happen in 400 steps
  const char* arm[] = {"trials=1", "fix_timeout=0.3", "hold_time=0.2", NULL};
  am_task t;
  make_task(&t, "reach-center-out", NULL);
  int d_arm[AM_MAX_GROUPS] = {0};
  d_arm[am_find_group(t.groups, t.n_groups, "proprioception")] = 4;
  d_arm[am_find_group(t.groups, t.n_groups, "egocentric")] = 9;
  d_arm[am_find_group(t.groups, t.n_groups, "task")] = 9;
  amt_destroy(&t);
  check_delay("reach-center-out", arm, "proprioception:4,egocentric:9,task:9", d_arm, 400);
  // one value for every group, on the reacher (50-step episodes) with prev_inputs on
  const char* rch[] = {"prev_inputs=1", NULL};
  int d_all[AM_MAX_GROUPS];
  for (int g = 0; g < AM_MAX_GROUPS; g++) d_all[g] = 3;
  check_delay("reacher", rch, "3", d_all, 160);
  // a rat task
  const char* run[] = {"episode_time=1", NULL};
  make_task(&t, "run", NULL);
  int d_rat[AM_MAX_GROUPS] = {0};
  d_rat[am_find_group(t.groups, t.n_groups, "vestibular")] = 2;
  amt_destroy(&t);
  check_delay("run", run, "vestibular:2", d_rat, 80);
}

// Noise: the named group gets N(0, std^2) (mean and std within sampling error over the first
// episode, when nothing else differs), the others none; noise then delay = the noisy stream
// shifted; a seed gives the same noise with 1 or 2 threads and another seed other noise.
static void test_noise(void** state) {
  const int steps = 49;  // the reacher's first episode (50 steps): same physics and targets
  am_task plain, noisy, both;
  make_task(&plain, "reacher", NULL);
  make_task(&noisy, "reacher", "obs_noise=velocity:0.5,target:0.01", NULL);
  make_task(&both, "reacher", "obs_noise=velocity:0.5,target:0.01", "obs_delay=velocity:2", NULL);
  int gv = am_find_group(plain.groups, plain.n_groups, "velocity");
  int gt = am_find_group(plain.groups, plain.n_groups, "target");
  size_t rows = (size_t)(steps + 1) * ENVS, n = rows * plain.obs_dim;
  float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
  float *c = malloc(sizeof(float) * n), *d = malloc(sizeof(float) * n);
  int* f = malloc(sizeof(int) * rows);
  run_obs(&plain, steps, 2, 3, a, f);
  run_obs(&noisy, steps, 2, 3, b, f);
  double sum[2] = {0}, sq[2] = {0};
  int cnt[2] = {0};
  for (int s = 0; s <= steps; s++)
    for (int i = 0; i < ENVS; i++)
      for (int g = 0; g < plain.n_groups; g++)
        for (int k = 0; k < plain.groups[g].size; k++) {
          double e = grp(&noisy, b, s, i, g)[k] - grp(&plain, a, s, i, g)[k];
          int which = g == gv ? 0 : g == gt ? 1 : -1;
          if (which < 0) {
            assert_true(e == 0);  // groups not named: no noise
            continue;
          }
          sum[which] += e, sq[which] += e * e, cnt[which]++;
        }
  double sd[2];
  for (int w = 0; w < 2; w++) {
    double mean = sum[w] / cnt[w];
    sd[w] = sqrt(sq[w] / cnt[w] - mean * mean);
    printf("# reacher noise on %s: %d values, mean %.4f, std %.4f\n", w ? "target" : "velocity",
           cnt[w], mean, sd[w]);
    double want = w ? 0.01 : 0.5;
    assert_true(fabs(mean) < 4 * want / sqrt(cnt[w]));
    assert_true(fabs(sd[w] / want - 1) < 0.15);
  }
  // noise, then delay: the delayed velocity group is the noisy one 2 steps earlier
  run_obs(&both, steps, 1, 3, c, f);
  for (int s = 0; s <= steps; s++)
    for (int i = 0; i < ENVS; i++) {
      int src = s >= 2 ? s - 2 : 0;
      assert_memory_equal(grp(&both, c, s, i, gv), grp(&noisy, b, src, i, gv), sizeof(float) * 2);
      assert_memory_equal(grp(&both, c, s, i, gt), grp(&noisy, b, s, i, gt), sizeof(float) * 2);
    }
  // one thread or two: the same; another seed: other noise
  run_obs(&noisy, steps, 1, 3, d, f);
  assert_memory_equal(b, d, sizeof(float) * n);
  run_obs(&noisy, steps, 2, 4, d, f);
  assert_true(memcmp(b, d, sizeof(float) * n) != 0);
  free(a), free(b), free(c), free(d), free(f);
  amt_destroy(&plain);
  amt_destroy(&noisy);
  amt_destroy(&both);
}

// Bad specs are refused naming the task, the key and the value (and the groups for a bad name).
static void test_bad_specs(void** state) {
  const char* bad[][2] = {
      {"reach-center-out", "obs_delay=vision:9"},      {"reach-center-out", "obs_delay=1.5"},
      {"reach-center-out", "obs_delay=-1"},            {"reach-center-out", "obs_delay=201"},
      {"run", "obs_delay=proprioception:x"},           {"reacher", "obs_noise=velocity:-0.1"},
      {"decision-reach", "obs_noise=0.1,0.2"},         {"two-tap", "obs_noise=tusk:0.1"}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    amt_params p;
    memset(&p, 0, sizeof p);
    am_task t;
    assert_int_equal(amt_params_add(&p, bad[k][1], err, sizeof err), 0);
    if (amt_create(&t, bad[k][0], &p, err, sizeof err) != -1) fail_msg("accepted %s", bad[k][1]);
    char key[64];
    snprintf(key, sizeof key, "%s", bad[k][1]);
    *strchr(key, '=') = 0;
    if (!strstr(err, bad[k][0]) || !strstr(err, key)) fail_msg("message lacks task/key: %s", err);
    printf("# %s %s: %s\n", bad[k][0], bad[k][1], err);
  }
  amt_params p;
  memset(&p, 0, sizeof p);
  am_task t;
  assert_int_equal(amt_params_add(&p, "obs_delay=vision:9", err, sizeof err), 0);
  assert_int_equal(amt_create(&t, "reach-center-out", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "groups: proprioception, egocentric, task"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_delay_shifts_groups),
      cmocka_unit_test(test_noise),
      cmocka_unit_test(test_bad_specs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
