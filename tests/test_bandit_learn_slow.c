// test_bandit_learn_slow.c: meta-reinforcement learning in well under a minute: PPO with a GRU core
// and a categorical action head on the body-less two-armed bandit (reward probabilities drawn per
// episode, Wang et al. 2018) for 256k env steps; then, on fresh episodes (another seed) with the
// weights fixed, the agent's mean regret per trial must fall clearly below a random chooser's
// (about 1/6: E|p_left - p_right| / 2). Real training; only regrets are asserted, not times.
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

// Mean regret per trial (the task's regret variable at trial ends) of `episodes` fresh episodes of
// task t acted by an actor of kind `kind` (a policy: pol, acting for `n` envs).
static double eval_regret(const am_task* t, ama_policy* pol, ama_act_kind kind, int n,
                          int episodes) {
  char err[AM_ERR_LEN];
  am_pool_config pc = {.num_envs = n, .num_threads = 1, .seed = 99};
  am_pool* pool = am_pool_create(t, &pc, err, sizeof err);
  assert_non_null(pool);
  ama_actor ac;
  ama_actor_cfg acfg = {.kind = kind, .seed = 5};
  assert_int_equal(ama_actor_init(&ac, &acfg, pol, t, n, err, sizeof err), 0);
  if (pol) ama_policy_reset_state(pol);
  am_batch* b = am_pool_batch(pool);
  int reg = -1, end = t->trial_end_event;
  for (int k = 0; k < t->n_vars; k++)
    if (!strcmp(t->vars[k], "regret")) reg = k;
  assert_true(reg >= 0);
  double sum = 0;
  int64_t trials = 0, done = 0;
  while (done < episodes) {
    ama_actor_act(&ac, b->obs, b->actions);
    am_pool_step(pool);
    ama_actor_observe(&ac, b);
    for (int i = 0; i < n; i++) {
      if ((b->events[i] >> end) & 1u) sum += b->vars[(size_t)i * t->n_vars + reg], trials++;
      done += b->terminated[i] || b->truncated[i];
    }
  }
  ama_actor_free(&ac);
  am_pool_free(pool);
  return sum / (double)trials;
}

static void test_bandit_learns(void** s) {
  char err[AM_ERR_LEN];
  ama_config cfg;
  ama_config_default(&cfg);
  const char* lines =
      "task = bandit\naction_head = categorical\ncore = gru\ncore_hidden = 48\nmotor = mlp\n"
      "motor_hidden = 32\nmotor_groups = none\nnum_envs = 64\nhorizon = 100\nepochs = 4\n"
      "minibatches = 4\nlr = 0.003\nlr_schedule = constant\ngamma = 0.9\nent_coef = 0.01\n"
      "norm_reward = 0\ntotal_steps = 256000\nseed = 1\n";
  assert_int_equal(ama_config_parse(&cfg, lines, "test", err, sizeof err), 0);
  am_task task;
  amt_params params = {0};
  assert_int_equal(amt_create(&task, "bandit", &params, err, sizeof err), 0);
  am_pool_config pc = {.num_envs = cfg.num_envs, .num_threads = 2, .seed = cfg.seed};
  am_pool* pool = am_pool_create(&task, &pc, err, sizeof err);
  assert_non_null(pool);
  ama_ppo* L = ama_ppo_create(&cfg, pool, err, sizeof err);
  assert_non_null(L);
  ama_iter_stats st;
  while (ama_ppo_env_steps(L) < cfg.total_steps) assert_int_equal(ama_ppo_iterate(L, &st), 0);
  // the trained weights, acting for the evaluation's envs
  const char* ck = "test_bandit_learn.ckpt";
  assert_int_equal(ama_ckpt_save(L, ck, err, sizeof err), 0);
  ama_policy pol;
  const int n = 32;
  assert_int_equal(ama_ckpt_load_policy(&pol, ck, task.groups, task.n_groups, task.obs_dim,
                                        task.act_dim, n, err, sizeof err), 0);
  assert_true(pol.categorical);
  remove(ck);
  double agent = eval_regret(&task, &pol, AMA_ACT_POLICY, n, 256);
  double random = eval_regret(&task, NULL, AMA_ACT_RANDOM, n, 256);
  printf("bandit: mean regret per trial over 256 fresh episodes: agent %.4f, random chooser %.4f\n",
         agent, random);
  assert_true(random > 0.12 && random < 0.21);  // 1/6 in expectation
  assert_true(agent < 0.6 * random);            // it learned to exploit within episodes
  ama_policy_free(&pol);
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&task);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_bandit_learns)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
