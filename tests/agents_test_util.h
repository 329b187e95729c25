// agents_test_util.h: helpers shared by the learner tests (test_agents_ckpt.c, test_agents_dist.c).
// Include after <cmocka.h>, "ama_agents.h" and "amt_tasks.h"; every function is static (marked
// unused), one copy per program.
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

// A scratch directory per test program: /tmp/animat_test_NAME_PID (made by the group setup,
// removed by its teardown).
static char g_dir[256];

__attribute__((unused))
static int test_dir_make(const char* name) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/animat_test_%s_%d", name, (int)getpid());
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "mkdir -p %s", g_dir);
  return system(cmd);
}

__attribute__((unused))
static int test_dir_remove(void** s) {
  (void)s;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
  return system(cmd);
}

// A learner on its own task (with the config's task parameters) and env pool.
typedef struct run {
  am_task task;
  am_pool* pool;
  ama_ppo* L;
} run;

__attribute__((unused))
static void run_open(run* r, const ama_config* cfg, int threads) {
  char err[1024];
  amt_params params = {0};
  assert_int_equal(amt_params_add_list(&params, cfg->task_params, err, sizeof(err)), 0);
  assert_int_equal(amt_create(&r->task, cfg->task, &params, err, sizeof(err)), 0);
  am_pool_config pc = {.num_envs = cfg->num_envs, .num_threads = threads, .seed = cfg->seed};
  r->pool = am_pool_create(&r->task, &pc, err, sizeof(err));
  assert_non_null(r->pool);
  r->L = ama_ppo_create(cfg, r->pool, err, sizeof(err));
  if (!r->L) fprintf(stderr, "%s\n", err);
  assert_non_null(r->L);
}

__attribute__((unused))
static void run_close(run* r) {
  ama_ppo_free(r->L);
  am_pool_free(r->pool);
  amt_destroy(&r->task);
}

#endif  // AGENTS_TEST_UTIL_H
