// agents_test_util.h: helpers shared by the learner tests (test_agents_ckpt.c, test_agents_dist.c).
// Include after "ama_agents.h"; every function is static (marked unused), one copy per program.
#ifndef AGENTS_TEST_UTIL_H
#define AGENTS_TEST_UTIL_H

// A learner small enough for tests: 8 envs, horizon 16, 2 epochs x 2 minibatches, GRU 12/10.
__attribute__((unused))
static void small_config(ama_config* c) {
  ama_config_default(c);
  c->num_envs = 8;
  c->ppo.horizon = 16;
  c->ppo.epochs = 2;
  c->ppo.minibatches = 2;
  c->policy.core_hidden = 12;
  c->policy.motor_hidden = 10;
  c->total_steps = 100000;
  c->seed = 42;
}

#endif  // AGENTS_TEST_UTIL_H
