// test_agents_ckpt.c: configuration text round trip, checkpoint round trip, exact resume (the
// resumed run equals the uninterrupted one bit for bit, also across thread counts), refusal of
// bad or mismatched files with a message naming the file and field, and loading + freezing a
// module from another checkpoint.
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

static char g_dir[256];

static int setup(void** s) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/animat_test_ckpt_%d", (int)getpid());
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "mkdir -p %s", g_dir);
  return system(cmd);
}
static int teardown(void** s) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
  return system(cmd);
}

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

typedef struct run {
  am_task task;
  am_pool* pool;
  ama_ppo* L;
} run;

static void run_open(run* r, const ama_config* cfg, int threads) {
  char err[1024];
  amt_params params = {0};
  assert_int_equal(amt_create(&r->task, cfg->task, &params, err, sizeof(err)), 0);
  am_pool_config pc = {.num_envs = cfg->num_envs, .num_threads = threads, .seed = cfg->seed};
  r->pool = am_pool_create(&r->task, &pc, err, sizeof(err));
  assert_non_null(r->pool);
  r->L = ama_ppo_create(cfg, r->pool, err, sizeof(err));
  if (!r->L) fprintf(stderr, "%s\n", err);
  assert_non_null(r->L);
}

static void run_close(run* r) {
  ama_ppo_free(r->L);
  am_pool_free(r->pool);
  amt_destroy(&r->task);
}

static void test_config_roundtrip(void** s) {
  ama_config a, b;
  ama_config_default(&a);
  char err[2048];
  assert_int_equal(ama_config_set(&a, "core", "lstm", err, sizeof(err)), 0);
  assert_int_equal(ama_config_set(&a, "lr", "0.00123", err, sizeof(err)), 0);
  assert_int_equal(ama_config_set(&a, "total_steps", "2e6", err, sizeof(err)), 0);
  assert_int_equal(ama_config_set_line(&a, "  motor_groups = proprioception,task  # shortcut", err,
                                       sizeof(err)),
                   0);
  static char t1[16384], t2[16384];
  ama_config_write(&a, t1, sizeof(t1));
  ama_config_default(&b);
  assert_int_equal(ama_config_parse(&b, t1, "t1", err, sizeof(err)), 0);
  ama_config_write(&b, t2, sizeof(t2));
  assert_string_equal(t1, t2);
  assert_int_equal(b.total_steps, 2000000);
  assert_string_equal(b.policy.motor_groups, "proprioception,task");
  assert_float_equal(b.ppo.lr, 0.00123f, 0);
  // errors name the key and list the valid ones
  assert_int_equal(ama_config_set(&a, "core_hiden", "5", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "core_hiden"));
  assert_non_null(strstr(err, "core_hidden"));
  assert_int_equal(ama_config_set(&a, "epochs", "ten", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "epochs"));
  assert_int_equal(ama_config_parse(&a, "lr = 1\nnonsense line\n", "file.cfg", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "file.cfg:2"));
}

static void assert_same_learner(ama_ppo* a, ama_ppo* b) {
  ama_policy* pa = ama_ppo_policy(a);
  ama_policy* pb = ama_ppo_policy(b);
  size_t n = pa->params.count;
  assert_int_equal(n, pb->params.count);
  assert_memory_equal(pa->params.w, pb->params.w, n * sizeof(float));
  assert_memory_equal(pa->params.m, pb->params.m, n * sizeof(float));
  assert_memory_equal(pa->params.v, pb->params.v, n * sizeof(float));
  assert_int_equal(pa->params.adam_t, pb->params.adam_t);
  assert_memory_equal(pa->norm.mean, pb->norm.mean, pa->norm.n * sizeof(double));
  assert_int_equal(ama_ppo_env_steps(a), ama_ppo_env_steps(b));
}

static void test_roundtrip(void** s) {
  ama_config cfg;
  small_config(&cfg);
  run a, b;
  run_open(&a, &cfg, 1);
  ama_iter_stats st;
  ama_ppo_iterate(a.L, &st);
  ama_ppo_iterate(a.L, &st);
  char path[400], err[1024];
  snprintf(path, sizeof(path), "%s/rt.bin", g_dir);
  assert_int_equal(ama_ckpt_save(a.L, path, err, sizeof(err)), 0);
  assert_int_equal(access(path, F_OK), 0);
  char tmp[420];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  assert_int_not_equal(access(tmp, F_OK), 0);  // the temp file was renamed away
  run_open(&b, &cfg, 1);
  assert_int_equal(ama_ckpt_load(b.L, path, err, sizeof(err)), 0);
  assert_same_learner(a.L, b.L);
  // the stored configuration reads back
  char* text = ama_ckpt_read_config(path, err, sizeof(err));
  assert_non_null(text);
  assert_non_null(strstr(text, "core_hidden = 12"));
  free(text);
  // policy-only loading (for evaluation/recording)
  ama_policy p;
  const am_task* t = &a.task;
  assert_int_equal(ama_ckpt_load_policy(&p, path, t->groups, t->n_groups, t->obs_dim, t->act_dim,
                                        3, err, sizeof(err)),
                   0);
  assert_memory_equal(p.params.w, ama_ppo_policy(a.L)->params.w, p.params.count * sizeof(float));
  ama_policy_free(&p);
  run_close(&a);
  run_close(&b);
}

// Interrupt after 2 iterations, save, rebuild everything from scratch, load, continue: the result
// must equal 5 uninterrupted iterations bit for bit; the two runs also use different thread
// counts, so the result does not depend on them.
static void test_resume_exact(void** s) {
  ama_config cfg;
  small_config(&cfg);
  cfg.policy.prev_action = 1;  // acting state that must survive too
  cfg.policy.prev_reward = 1;
  cfg.policy.core_tick = 2;
  run a;
  run_open(&a, &cfg, 1);
  ama_iter_stats sa[5], sb[5];
  for (int i = 0; i < 5; i++) ama_ppo_iterate(a.L, &sa[i]);

  char path[400], err[1024];
  snprintf(path, sizeof(path), "%s/resume.bin", g_dir);
  run b;
  run_open(&b, &cfg, 2);
  for (int i = 0; i < 2; i++) ama_ppo_iterate(b.L, &sb[i]);
  assert_int_equal(ama_ckpt_save(b.L, path, err, sizeof(err)), 0);
  run_close(&b);
  run c;
  run_open(&c, &cfg, 2);
  assert_int_equal(ama_ckpt_load(c.L, path, err, sizeof(err)), 0);
  for (int i = 2; i < 5; i++) ama_ppo_iterate(c.L, &sb[i]);
  assert_same_learner(a.L, c.L);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(sa[i].episodes, sb[i].episodes);
    if (sa[i].episodes) assert_memory_equal(&sa[i].mean_return, &sb[i].mean_return, sizeof(double));
    assert_memory_equal(&sa[i].loss.loss, &sb[i].loss.loss, sizeof(double));
  }
  // the envs are in the same state too
  am_batch* ba = am_pool_batch(a.pool);
  am_batch* bc = am_pool_batch(c.pool);
  assert_memory_equal(ba->obs, bc->obs, sizeof(float) * cfg.num_envs * a.task.obs_dim);
  run_close(&a);
  run_close(&c);
}

static void write_file(const char* path, const void* p, size_t n) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void test_bad_files(void** s) {
  ama_config cfg;
  small_config(&cfg);
  run a;
  run_open(&a, &cfg, 1);
  char path[400], bad[400], err[1024];
  snprintf(path, sizeof(path), "%s/good.bin", g_dir);
  snprintf(bad, sizeof(bad), "%s/bad.bin", g_dir);
  assert_int_equal(ama_ckpt_save(a.L, path, err, sizeof(err)), 0);
  FILE* f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* buf = malloc(n);
  assert_int_equal(fread(buf, 1, n, f), (size_t)n);
  fclose(f);

  // missing file
  assert_int_equal(ama_ckpt_load(a.L, "/nonexistent/x.bin", err, sizeof(err)), -1);
  assert_non_null(strstr(err, "/nonexistent/x.bin"));
  // one flipped bit in the parameters
  buf[n / 2] ^= 0x10;
  write_file(bad, buf, n);
  assert_int_equal(ama_ckpt_load(a.L, bad, err, sizeof(err)), -1);
  assert_non_null(strstr(err, bad));
  assert_non_null(strstr(err, "crc32"));
  buf[n / 2] ^= 0x10;
  // truncated
  write_file(bad, buf, n - 100);
  assert_int_equal(ama_ckpt_load(a.L, bad, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "checksum"));
  // not a checkpoint
  write_file(bad, "hello, this is not a checkpoint at all", 38);
  assert_int_equal(ama_ckpt_load(a.L, bad, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "magic"));
  // a future version (with a valid checksum)
  buf[8] = 99;
  uint32_t crc = am_crc32(0, buf, n - 4);
  for (int i = 0; i < 4; i++) buf[n - 4 + i] = (uint8_t)(crc >> (8 * i));
  write_file(bad, buf, n);
  assert_int_equal(ama_ckpt_load(a.L, bad, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "version"));
  free(buf);
  // a different architecture
  ama_config other;
  small_config(&other);
  other.policy.core_hidden = 13;
  run b;
  run_open(&b, &other, 1);
  assert_int_equal(ama_ckpt_load(b.L, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "core."));
  assert_non_null(strstr(err, path));
  run_close(&b);
  // a different number of envs
  small_config(&other);
  other.num_envs = 4;
  run_open(&b, &other, 1);
  assert_int_equal(ama_ckpt_load(b.L, path, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "num_envs"));
  run_close(&b);
  run_close(&a);
}

// A motor module trained elsewhere is loaded and frozen under a fresh core: its weights stay put
// while the rest trains.
static void test_load_and_freeze_module(void** s) {
  ama_config cfg;
  small_config(&cfg);
  run a;
  run_open(&a, &cfg, 1);
  ama_iter_stats st;
  ama_ppo_iterate(a.L, &st);
  char path[400], err[1024];
  snprintf(path, sizeof(path), "%s/motor.bin", g_dir);
  assert_int_equal(ama_ckpt_save(a.L, path, err, sizeof(err)), 0);
  ama_config c2 = cfg;
  c2.seed = 7;
  snprintf(c2.load_module, sizeof(c2.load_module), "motor");
  snprintf(c2.load_path, sizeof(c2.load_path), "%s", path);
  snprintf(c2.freeze, sizeof(c2.freeze), "motor");
  run b;
  run_open(&b, &c2, 1);
  ama_policy* pa = ama_ppo_policy(a.L);
  ama_policy* pb = ama_ppo_policy(b.L);
  int iWx = ama_params_find(&pb->params, "motor.Wx");
  int iCore = ama_params_find(&pb->params, "core.Wx");
  size_t nm = (size_t)pb->params.t[iWx].rows * pb->params.t[iWx].cols;
  float* ma = ama_params_view(&pa->params, "motor.Wx");
  float* mb = ama_params_view(&pb->params, "motor.Wx");
  assert_memory_equal(ma, mb, nm * sizeof(float));
  size_t nc = (size_t)pb->params.t[iCore].rows * pb->params.t[iCore].cols;
  float* core0 = malloc(nc * sizeof(float));
  memcpy(core0, ama_params_view(&pb->params, "core.Wx"), nc * sizeof(float));
  ama_ppo_iterate(b.L, &st);
  assert_memory_equal(ma, mb, nm * sizeof(float));  // frozen
  assert_memory_not_equal(core0, ama_params_view(&pb->params, "core.Wx"), nc * sizeof(float));
  free(core0);
  run_close(&b);
  // a module whose shape does not fit is refused with the tensor named
  ama_config c3 = c2;
  c3.policy.motor_hidden = 11;
  amt_params params = {0};
  am_task t;
  assert_int_equal(amt_create(&t, c3.task, &params, err, sizeof(err)), 0);
  am_pool_config pc = {.num_envs = c3.num_envs, .num_threads = 1, .seed = 1};
  am_pool* pool = am_pool_create(&t, &pc, err, sizeof(err));
  assert_null(ama_ppo_create(&c3, pool, err, sizeof(err)));
  assert_non_null(strstr(err, "motor."));
  am_pool_free(pool);
  amt_destroy(&t);
  run_close(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_roundtrip),
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_resume_exact),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_load_and_freeze_module),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
