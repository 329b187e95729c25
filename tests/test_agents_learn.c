// test_agents_learn.c: a real learning signal in well under a minute: PPO with a GRU core and GRU
// motor module on `reacher` must raise the mean episode return from about -40 (the initial,
// noisy policy) past -25 within 150k env steps. Not a timing test: only returns are asserted.
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
#include "amt_tasks.h"

static void test_reacher_learns(void** s) {
  char err[1024];
  ama_config cfg;
  ama_config_default(&cfg);
  cfg.num_envs = 32;
  cfg.ppo.horizon = 64;
  cfg.ppo.minibatches = 8;
  cfg.ppo.epochs = 10;
  cfg.policy.core_hidden = 32;
  cfg.policy.motor_hidden = 32;
  cfg.total_steps = 150000;
  cfg.seed = 3;
  am_task task;
  amt_params params = {0};
  assert_int_equal(amt_create(&task, "reacher", &params, err, sizeof(err)), 0);
  am_pool_config pc = {.num_envs = cfg.num_envs, .num_threads = 2, .seed = cfg.seed};
  am_pool* pool = am_pool_create(&task, &pc, err, sizeof(err));
  assert_non_null(pool);
  ama_ppo* L = ama_ppo_create(&cfg, pool, err, sizeof(err));
  assert_non_null(L);
  ama_iter_stats st;
  double first = NAN, last[4] = {NAN, NAN, NAN, NAN};
  int k = 0;
  while (ama_ppo_env_steps(L) < cfg.total_steps) {
    ama_ppo_iterate(L, &st);
    if (st.episodes) {
      if (isnan(first)) first = st.mean_return;
      last[k++ % 4] = st.mean_return;
    }
  }
  double final = (last[0] + last[1] + last[2] + last[3]) / 4;
  printf("reacher: first return %.2f, final return (mean of last 4 rollouts) %.2f\n", first, final);
  assert_true(first < -30);    // the starting point is the noisy untrained policy
  assert_true(final > -25.0);  // and it learned
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&task);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_reacher_learns)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
