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
#include "ama_internal.h"
#include "amt_tasks.h"
#include "agents_test_util.h"

static int setup(void** s) {
  (void)s;
  return test_dir_make("ckpt");
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
// counts, so the result does not depend on them. With action_noise_corr the last step's action
// noise is acting state too.
static void resume_exact(float noise_corr) {
  ama_config cfg;
  small_config(&cfg);
  cfg.policy.prev_action = 1;  // acting state that must survive too
  cfg.policy.prev_reward = 1;
  cfg.policy.core_tick = 2;
  cfg.policy.noise_corr = noise_corr;
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
  if (noise_corr > 0)
    assert_memory_equal(a.L->act.eps_prev, c.L->act.eps_prev,
                        sizeof(float) * cfg.num_envs * a.task.act_dim);
  run_close(&a);
  run_close(&c);
}

static void test_resume_exact(void** s) {
  (void)s;
  resume_exact(0);
  resume_exact(0.8f);
}

static void write_file(const char* path, const void* p, size_t n) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static uint8_t* read_all(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* buf = malloc(*n);
  assert_int_equal(fread(buf, 1, *n, f), *n);
  fclose(f);
  return buf;
}

static void assert_same_file(const char* a, const char* b) {
  size_t na, nb;
  uint8_t *pa = read_all(a, &na), *pb = read_all(b, &nb);
  assert_int_equal(na, nb);
  size_t first = na;
  for (size_t i = 0; i < na && first == na; i++)
    if (pa[i] != pb[i]) first = i;
  if (first != na) fprintf(stderr, "%s and %s differ first at byte %zu of %zu\n", a, b, first, na);
  assert_int_equal(first, na);
  free(pa);
  free(pb);
}

// For every kind of body and task (the reacher, an arm task with a force field read from the
// hand's pose in a substep hook, the rat running, the rat in a maze of mocap walls): a checkpoint
// written after two iterations with 1 thread is byte for byte the one written with 2 threads, and
// a run resumed from it continues bit for bit (its next checkpoint equals the uninterrupted run's).
static void test_threads_byte_identical(void** s) {
  const char* tasks[] = {"reacher", "force-field", "run", "forage-maze"};
  for (size_t k = 0; k < sizeof tasks / sizeof tasks[0]; k++) {
    ama_config cfg;
    small_config(&cfg);
    snprintf(cfg.task, sizeof cfg.task, "%s", tasks[k]);
    cfg.num_envs = 4;
    cfg.ppo.horizon = 8;
    cfg.ppo.minibatches = 2;
    cfg.policy.core_hidden = 8;
    cfg.policy.motor_hidden = 8;
    char p1[400], p2[400], p3[400], p4[400], err[1024];
    snprintf(p1, sizeof p1, "%s/%s-t1.bin", g_dir, tasks[k]);
    snprintf(p2, sizeof p2, "%s/%s-t2.bin", g_dir, tasks[k]);
    snprintf(p3, sizeof p3, "%s/%s-cont.bin", g_dir, tasks[k]);
    snprintf(p4, sizeof p4, "%s/%s-resumed.bin", g_dir, tasks[k]);
    ama_iter_stats st;
    run a, b;
    run_open(&a, &cfg, 1);
    run_open(&b, &cfg, 2);
    assert_int_equal(am_pool_num_threads(b.pool), 2);
    for (int i = 0; i < 2; i++) {
      ama_ppo_iterate(a.L, &st);
      ama_ppo_iterate(b.L, &st);
    }
    assert_int_equal(ama_ckpt_save(a.L, p1, err, sizeof err), 0);
    assert_int_equal(ama_ckpt_save(b.L, p2, err, sizeof err), 0);
    fprintf(stderr, "%s: 1 vs 2 threads\n", tasks[k]);
    assert_same_file(p1, p2);
    run_close(&b);
    // resume (2 threads) and compare with the uninterrupted run (1 thread) one iteration later
    run c;
    run_open(&c, &cfg, 2);
    if (ama_ckpt_load(c.L, p1, err, sizeof err)) fail_msg("%s", err);
    ama_ppo_iterate(a.L, &st);
    ama_ppo_iterate(c.L, &st);
    assert_int_equal(ama_ckpt_save(a.L, p3, err, sizeof err), 0);
    assert_int_equal(ama_ckpt_save(c.L, p4, err, sizeof err), 0);
    fprintf(stderr, "%s: uninterrupted vs resumed\n", tasks[k]);
    assert_same_file(p3, p4);
    run_close(&a);
    run_close(&c);
  }
}

// The env state bytes never contain struct padding (MuJoCo's contacts have 4 bytes of it, filled
// with whatever the stack held), round-trip exactly, and refuse truncated or foreign bytes naming
// the field.
static void test_env_state_bytes(void** s) {
  char err[1024];
  am_task t, t2;
  amt_params prm = {0};
  assert_int_equal(amt_create(&t, "run", &prm, err, sizeof err), 0);
  assert_int_equal(amt_create(&t2, "reacher", &prm, err, sizeof err), 0);
  am_pool_config pc = {.num_envs = 1, .num_threads = 1, .seed = 5};
  am_pool* p = am_pool_create(&t, &pc, err, sizeof err);
  am_pool* q = am_pool_create(&t, &pc, err, sizeof err);
  am_pool* r = am_pool_create(&t2, &pc, err, sizeof err);
  assert_non_null(p);
  for (int i = 0; i < 20; i++) am_pool_step(p);
  am_env* e = am_pool_env(p, 0);
  assert_true(e->d->ncon > 0);  // the rat stands on the floor: contacts are part of the state
  size_t n = am_env_state_write(&t, e, NULL, 0);
  uint8_t* b1 = malloc(n);
  uint8_t* b2 = malloc(n);
  assert_int_equal(am_env_state_write(&t, e, b1, n), n);
  size_t pad = offsetof(mjContact, efc_address) + sizeof(int);
  assert_true(pad < sizeof(mjContact));
  for (int k = 0; k < e->d->ncon; k++) memset((char*)&e->d->contact[k] + pad, 0xA5, sizeof(mjContact) - pad);
  assert_int_equal(am_env_state_write(&t, e, b2, n), n);
  assert_memory_equal(b1, b2, n);
  // round trip into another pool's env: same bytes, and both continue identically
  am_env* f = am_pool_env(q, 0);
  assert_int_equal(am_env_state_read(&t, f, b1, n, err, sizeof err), (int64_t)n);
  memset(b2, 0, n);
  assert_int_equal(am_env_state_write(&t, f, b2, n), n);
  assert_memory_equal(b1, b2, n);
  for (int i = 0; i < 5; i++) {
    am_pool_step(p);
    am_pool_step(q);
  }
  assert_memory_equal(am_pool_batch(p)->obs, am_pool_batch(q)->obs, sizeof(float) * t.obs_dim);
  assert_memory_equal(e->d->qpos, f->d->qpos, sizeof(mjtNum) * e->m->nq);
  // truncated: the field is named
  assert_int_equal(am_env_state_read(&t, f, b1, n - 3, err, sizeof err), -1);
  assert_non_null(strstr(err, "truncated in field 'task_state'"));
  assert_int_equal(am_env_state_read(&t, f, b1, 100, err, sizeof err), -1);
  assert_non_null(strstr(err, "truncated in field"));
  // another body: refused before anything is read into it
  assert_int_equal(am_env_state_read(&t2, am_pool_env(r, 0), b1, n, err, sizeof err), -1);
  assert_non_null(strstr(err, "nbuffer"));
  free(b1);
  free(b2);
  am_pool_free(p);
  am_pool_free(q);
  am_pool_free(r);
  amt_destroy(&t);
  amt_destroy(&t2);
}

// The env's model variant (rat-multi: one per member) is part of its state: restored into an env
// that steps another member's variant, the env steps the saved one and continues identically; a
// version-1 state (no variant) reads as variant 0; a variant the task does not have is refused.
static void test_env_state_variant(void** s) {
  (void)s;
  char err[1024];
  am_task t;
  amt_params prm = {0};
  assert_int_equal(amt_params_add_list(&prm, "tasks=two-tap,escape-bowl", err, sizeof err), 0);
  assert_int_equal(amt_create(&t, "rat-multi", &prm, err, sizeof err), 0);
  assert_int_equal(t.n_variants, 2);
  am_pool_config pc = {.num_envs = 2, .num_threads = 1, .seed = 9};
  am_pool* p = am_pool_create(&t, &pc, err, sizeof err);
  am_pool* q = am_pool_create(&t, &pc, err, sizeof err);
  assert_non_null(p);
  assert_non_null(q);
  for (int i = 0; i < 10; i++) am_pool_step(p);
  am_env *e = am_pool_env(p, 1), *f = am_pool_env(q, 0);  // escape-bowl; two-tap
  assert_int_equal(e->variant, 2);
  assert_int_equal(f->variant, 1);
  size_t n = am_env_state_write(&t, e, NULL, 0);
  uint8_t* b = malloc(n + 4);
  assert_int_equal(am_env_state_write(&t, e, b, n), n);
  assert_int_equal(am_env_state_read(&t, f, b, n, err, sizeof err), (int64_t)n);
  assert_int_equal(f->variant, 2);
  assert_ptr_equal(f->m, t.variants[1]);
  // a version-1 state: no variant field (version at byte 0, the variant after 88 bytes)
  const size_t at = 4 + 4 + 8 + 8 + 3 * 8 + 8 + 4 * 8;
  uint8_t* v1 = malloc(n);
  memcpy(v1, b, at);
  memcpy(v1 + at, b + at + 4, n - at - 4);
  v1[0] = 1;
  am_env* g = am_pool_env(q, 1);
  assert_int_equal(am_env_state_read(&t, g, v1, n - 4, err, sizeof err), (int64_t)(n - 4));
  assert_int_equal(g->variant, 0);
  assert_ptr_equal(g->m, t.model->m);
  // a variant the task does not have
  b[at] = 3;
  assert_int_equal(am_env_state_read(&t, g, b, n, err, sizeof err), -1);
  assert_non_null(strstr(err, "field 'variant': 3"));
  // env 1 of p and env 0 of q (restored) continue identically: step both pools with zero actions
  memset(am_pool_batch(p)->actions, 0, sizeof(float) * 2 * (size_t)t.act_dim);
  memset(am_pool_batch(q)->actions, 0, sizeof(float) * 2 * (size_t)t.act_dim);
  for (int i = 0; i < 5; i++) {
    am_pool_step(p);
    am_pool_step(q);
  }
  assert_memory_equal(e->d->qpos, f->d->qpos, sizeof(mjtNum) * e->m->nq);
  assert_memory_equal(e->d->sensordata, f->d->sensordata, sizeof(mjtNum) * e->m->nsensordata);
  free(b);
  free(v1);
  am_pool_free(p);
  am_pool_free(q);
  amt_destroy(&t);
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
  // version 1 (raw simulation state): refused for resuming, with the reason
  buf[8] = 1;
  crc = am_crc32(0, buf, n - 4);
  for (int i = 0; i < 4; i++) buf[n - 4 + i] = (uint8_t)(crc >> (8 * i));
  write_file(bad, buf, n);
  assert_int_equal(ama_ckpt_load(a.L, bad, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "version 1"));
  assert_non_null(strstr(err, "cannot be resumed"));
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

static size_t tensor_floats(const ama_policy* p, const char* name) {
  int i = ama_params_find(&p->params, name);
  assert_true(i >= 0);
  return (size_t)p->params.t[i].rows * p->params.t[i].cols;
}

// Every tensor of a module in b equals a's.
static void assert_module_equal(const ama_policy* a, const ama_policy* b, const char* module) {
  size_t ml = strlen(module);
  int seen = 0;
  for (int i = 0; i < b->params.n_tensors; i++) {
    const char* name = b->params.t[i].name;
    if (strncmp(name, module, ml) != 0 || name[ml] != '.') continue;
    assert_memory_equal(ama_params_view(&a->params, name), ama_params_view(&b->params, name),
                        tensor_floats(b, name) * sizeof(float));
    seen++;
  }
  assert_true(seen > 0);
}

static ama_ppo* create_with(const ama_config* c, char* err, size_t err_sz) {
  amt_params params = {0};
  am_task t;
  assert_int_equal(amt_create(&t, c->task, &params, err, err_sz), 0);
  am_pool_config pc = {.num_envs = c->num_envs, .num_threads = 1, .seed = 1};
  am_pool* pool = am_pool_create(&t, &pc, err, err_sz);
  ama_ppo* L = ama_ppo_create(c, pool, err, err_sz);
  if (L) ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&t);
  return L;
}

// A run trained for `iters` iterations whose checkpoint (g_dir/file, into path) a module is
// reused from.
static void source_run(run* a, const ama_config* cfg, int iters, const char* file, char* path,
                       size_t path_sz) {
  char err[1024];
  run_open(a, cfg, 1);
  ama_iter_stats st;
  for (int i = 0; i < iters; i++) ama_ppo_iterate(a->L, &st);
  snprintf(path, path_sz, "%s/%s", g_dir, file);
  assert_int_equal(ama_ckpt_save(a->L, path, err, sizeof(err)), 0);
}

// A motor system trained elsewhere (the motor module and its action head) is loaded and frozen
// under a fresh core: its weights stay put while the rest trains, and the normaliser statistics
// of its shortcut inputs come along (frozen with it); the other entries start fresh.
static void test_load_and_freeze_module(void** s) {
  ama_config cfg;
  small_config(&cfg);
  run a;
  char path[400], err[1024];
  source_run(&a, &cfg, 2, "motor.bin", path, sizeof path);
  ama_iter_stats st;
  ama_config c2 = cfg;
  c2.seed = 7;
  snprintf(c2.load_module, sizeof(c2.load_module), "motor,head");
  snprintf(c2.load_path, sizeof(c2.load_path), "%s", path);
  snprintf(c2.freeze, sizeof(c2.freeze), "motor,head");
  run b;
  run_open(&b, &c2, 1);
  ama_policy* pa = ama_ppo_policy(a.L);
  ama_policy* pb = ama_ppo_policy(b.L);
  assert_module_equal(pa, pb, "motor");
  assert_module_equal(pa, pb, "head");
  size_t nc = tensor_floats(pb, "core.Wx");
  assert_memory_not_equal(ama_params_view(&pa->params, "core.Wx"),
                          ama_params_view(&pb->params, "core.Wx"), nc * sizeof(float));
  // the normaliser of the motor's inputs (proprioception) is the source's; the rest is fresh
  const am_task* t = &b.task;
  int g = am_find_group(t->groups, t->n_groups, "proprioception");
  assert_true(g >= 0 && pb->n_motor_obs == t->groups[g].size);
  for (int i = 0; i < t->obs_dim; i++) {
    int motor = i >= t->groups[g].offset && i < t->groups[g].offset + t->groups[g].size;
    assert_int_equal(pb->norm.frozen[i], motor);
    if (motor) {
      assert_memory_equal(&pb->norm.mean[i], &pa->norm.mean[i], sizeof(double));
      assert_memory_equal(&pb->norm.m2[i], &pa->norm.m2[i], sizeof(double));
      assert_memory_equal(&pb->norm.counts[i], &pa->norm.counts[i], sizeof(double));
      assert_memory_equal(&pb->norm.scale[i], &pa->norm.scale[i], sizeof(float));
    } else {
      assert_true(pb->norm.counts[i] == 0);
    }
  }
  assert_true(pa->norm.counts[0] > 0);
  float* core0 = malloc(nc * sizeof(float));
  memcpy(core0, ama_params_view(&pb->params, "core.Wx"), nc * sizeof(float));
  double mean0 = pb->norm.mean[t->groups[g].offset];
  ama_ppo_iterate(b.L, &st);
  assert_module_equal(pa, pb, "motor");  // frozen
  assert_module_equal(pa, pb, "head");
  assert_memory_not_equal(core0, ama_params_view(&pb->params, "core.Wx"), nc * sizeof(float));
  assert_true(pb->norm.mean[t->groups[g].offset] == mean0);  // frozen with the motor
  int other = t->groups[g].offset == 0 ? t->groups[g].size : 0;
  assert_true(pb->norm.counts[other] > 0);  // the other entries learn
  free(core0);
  run_close(&b);

  // not frozen: the carried statistics are merged with the new samples
  ama_config c4 = c2;
  c4.freeze[0] = 0;
  run d;
  run_open(&d, &c4, 1);
  ama_policy* pd = ama_ppo_policy(d.L);
  int i0 = t->groups[g].offset;
  assert_int_equal(pd->norm.frozen[i0], 0);
  ama_ppo_iterate(d.L, &st);
  assert_true(pd->norm.counts[i0] == pa->norm.counts[i0] + cfg.num_envs * cfg.ppo.horizon);
  run_close(&d);

  // reset_logstd: the head's means as loaded, its action noise from init_logstd
  ama_config c6 = c2;
  c6.freeze[0] = 0;
  c6.reset_logstd = 1;
  c6.policy.init_logstd = -1.5f;
  run f;
  run_open(&f, &c6, 1);
  ama_policy* pf = ama_ppo_policy(f.L);
  size_t na = tensor_floats(pf, "head.logstd");
  const float* ls_src = ama_params_view(&pa->params, "head.logstd");
  const float* ls_f = ama_params_view(&pf->params, "head.logstd");
  assert_true(na == (size_t)pf->act_dim);
  for (size_t j = 0; j < na; j++) {
    assert_true(ls_f[j] == -1.5f);
    assert_true(ls_src[j] != -1.5f);  // (loaded without reset_logstd: the source's, above)
  }
  size_t nw = tensor_floats(pf, "head.Wmu");
  assert_memory_equal(ama_params_view(&pa->params, "head.Wmu"),
                      ama_params_view(&pf->params, "head.Wmu"), nw * sizeof(float));
  assert_module_equal(pa, pf, "motor");
  run_close(&f);
  snprintf(c6.load_module, sizeof c6.load_module, "motor");  // no head loaded: refused
  assert_null(create_with(&c6, err, sizeof err));
  assert_non_null(strstr(err, "reset_logstd = 1 needs load_module with head or command "
                              "(load_module = 'motor'"));
  snprintf(c6.load_module, sizeof c6.load_module, "motor,head");
  snprintf(c6.policy.action_head, sizeof c6.policy.action_head, "categorical");
  assert_null(create_with(&c6, err, sizeof err));
  assert_non_null(strstr(err, "reset_logstd = 1 sets the Gaussian head's log-std"));
  c6.reset_logstd = 0;  // correlated noise needs the Gaussian head's noise too
  c6.policy.noise_corr = 0.5f;
  assert_null(create_with(&c6, err, sizeof err));
  assert_non_null(strstr(err, "action_noise_corr = 0.5 correlates the Gaussian head's noise; "
                              "action_head = categorical has none"));

  // a second source: load_extra_module's modules come from load_extra_path, after load_module's
  run a2;
  char path2[400];
  ama_config c5 = cfg;
  c5.seed = 11;
  source_run(&a2, &c5, 1, "core.bin", path2, sizeof path2);
  c5 = c2;
  snprintf(c5.load_extra_module, sizeof c5.load_extra_module, "core,critic");
  snprintf(c5.load_extra_path, sizeof c5.load_extra_path, "%s", path2);
  run e;
  run_open(&e, &c5, 1);
  ama_policy* pe = ama_ppo_policy(e.L);
  ama_policy* pa2 = ama_ppo_policy(a2.L);
  assert_module_equal(pa, pe, "motor");
  assert_module_equal(pa, pe, "head");
  assert_module_equal(pa2, pe, "core");
  assert_module_equal(pa2, pe, "critic");
  run_close(&e);
  run_close(&a2);
  c5.load_extra_path[0] = 0;  // the pair goes together
  assert_null(create_with(&c5, err, sizeof err));
  assert_non_null(strstr(err, "load_extra_module = 'core,critic' and load_extra_path = '' go "
                              "together"));
  snprintf(c5.load_extra_path, sizeof c5.load_extra_path, "%s", path2);
  c5.load_module[0] = c5.load_path[0] = c5.freeze[0] = 0;
  assert_null(create_with(&c5, err, sizeof err));
  assert_non_null(strstr(err, "load_extra_module = core,critic needs load_module"));

  // a module whose shape does not fit is refused with the tensor named
  ama_config c3 = c2;
  c3.policy.motor_hidden = 11;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "motor."));
  // this motor leaves out a group the source's motor read: refused (its gait would lose an input)
  c3 = c2;
  snprintf(c3.policy.motor_groups, sizeof c3.policy.motor_groups, "target,velocity");  // 4 too
  snprintf(c3.load_module, sizeof c3.load_module, "motor");
  c3.policy.motor_hidden = cfg.policy.motor_hidden;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "field 'motor_groups': the reused motor read 'proprioception' "
                              "(group 'proprioception', 4 values), which this run's motor_groups "
                              "'target,velocity' leave out"));
  // the motor reads the core's output: a core of another size is refused, naming it
  c3 = c2;
  snprintf(c3.load_module, sizeof c3.load_module, "motor");
  c3.policy.core_hidden = 7;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "field 'core_hidden': the reused motor read a core of 12 units, "
                              "this run's core has 7"));
  // load_module without load_path, load_path without load_module, a missing file, a bad name
  c3 = c2;
  c3.load_path[0] = 0;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "load_module = motor,head needs load_path"));
  c3 = c2;
  c3.load_module[0] = 0;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "without load_module"));
  c3 = c2;
  snprintf(c3.load_path, sizeof c3.load_path, "%s/no-such.bin", g_dir);
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, c3.load_path));
  assert_non_null(strstr(err, "cannot open"));
  c3 = c2;
  snprintf(c3.load_module, sizeof c3.load_module, "motor,arm");
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "unknown module 'arm' (core, motor, head, critic, command)"));
  // the configuration help lists every loadable / freezable module
  char help[8192];
  ama_config_help(help, sizeof help);
  const char* keys[] = {"load_module", "load_extra_module", "freeze"};
  for (int k = 0; k < 3; k++) {
    const char* line = strstr(help, keys[k]);
    assert_non_null(line);
    char one[256];
    snprintf(one, sizeof one, "%.*s", (int)strcspn(line, "\n"), line);
    assert_non_null(strstr(one, "core, motor, head, critic, command"));
  }
  run_close(&a);
}

// A trained core reused on a task whose observations differ (Merel et al. reuse trained modules on
// new tasks): the core's input weights are matched by observation group name, whatever the order;
// the inputs the source did not have (a group it did not route, prev_reward) start at weight 0,
// so the reused core first computes what it did; the matched groups' normaliser statistics come
// along. With the same groups the weights are copied as they are.
static void test_load_core_new_inputs(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  snprintf(cfg.policy.core_groups, sizeof cfg.policy.core_groups, "proprioception,task,velocity");
  run a;
  char path[400], err[1024];
  source_run(&a, &cfg, 1, "core.bin", path, sizeof path);
  ama_iter_stats st;
  ama_config c2 = cfg;
  c2.seed = 9;
  snprintf(c2.policy.core_groups, sizeof c2.policy.core_groups, "task,target,proprioception");
  c2.policy.prev_reward = 1;
  snprintf(c2.load_module, sizeof c2.load_module, "core");
  snprintf(c2.load_path, sizeof c2.load_path, "%s", path);
  run b;
  run_open(&b, &c2, 1);
  ama_policy *pa = ama_ppo_policy(a.L), *pb = ama_ppo_policy(b.L);
  assert_int_equal(pa->core_in, 4 + 3 + 2);
  assert_int_equal(pb->core_in, 3 + 2 + 4 + 1);
  const float* wa = ama_params_view(&pa->params, "core.Wx");
  const float* wb = ama_params_view(&pb->params, "core.Wx");
  // b's column j comes from a's column from[j] (-1: new, 0)
  const int from[10] = {4, 5, 6, -1, -1, 0, 1, 2, 3, -1};
  int rows = (int)(tensor_floats(pb, "core.Wx") / 10), nonzero = 0;
  assert_int_equal(rows * 9, (int)tensor_floats(pa, "core.Wx"));
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < 10; j++) {
      float want = from[j] < 0 ? 0.0f : wa[r * 9 + from[j]];
      assert_memory_equal(&wb[r * 10 + j], &want, sizeof(float));
      nonzero += wb[r * 10 + j] != 0;
    }
  assert_true(nonzero > rows * 6);  // the copied columns are not zero themselves
  const char* same[] = {"core.Wh", "core.bx", "core.bh"};
  for (int k = 0; k < 3; k++)
    assert_memory_equal(ama_params_view(&pa->params, same[k]),
                        ama_params_view(&pb->params, same[k]),
                        tensor_floats(pb, same[k]) * sizeof(float));
  // the normaliser of matched core groups is the source's (not frozen); target, velocity fresh
  const am_task* t = &b.task;
  for (int i = 0; i < t->obs_dim; i++) {
    int g = 0;
    while (!(i >= t->groups[g].offset && i < t->groups[g].offset + t->groups[g].size)) g++;
    const char* gn = t->groups[g].name;
    int carried = !strcmp(gn, "task") || !strcmp(gn, "proprioception");
    assert_int_equal(pb->norm.frozen[i], 0);
    if (carried) {
      assert_memory_equal(&pb->norm.mean[i], &pa->norm.mean[i], sizeof(double));
      assert_memory_equal(&pb->norm.counts[i], &pa->norm.counts[i], sizeof(double));
    } else {
      assert_true(pb->norm.counts[i] == 0);
    }
  }
  ama_ppo_iterate(b.L, &st);  // the new columns learn
  int learnt = 0;
  for (int r = 0; r < rows; r++) learnt += wb[r * 10 + 3] != 0 || wb[r * 10 + 9] != 0;
  assert_true(learnt > 0);
  run_close(&b);
  // the same groups: the weights copied as they are
  ama_config c4 = cfg;
  c4.seed = 11;
  snprintf(c4.load_module, sizeof c4.load_module, "core");
  snprintf(c4.load_path, sizeof c4.load_path, "%s", path);
  run d;
  run_open(&d, &c4, 1);
  assert_module_equal(pa, ama_ppo_policy(d.L), "core");
  run_close(&d);
  // a core of another size is still refused, naming the tensor
  ama_config c3 = c2;
  c3.policy.core_hidden = 7;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "core."));
  run_close(&a);
}

// A trained motor reused with more shortcut inputs (a reused gait given the ground ahead): the
// core's output columns and the groups the source's motor read keep their weights, wherever the
// group now stands in motor_groups, with their normaliser statistics; a new group starts at
// weight 0, so the motor first acts as it did, and learns to use it unless frozen.
static void test_load_motor_new_inputs(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  run a;
  char path[400];
  source_run(&a, &cfg, 1, "motor-in.bin", path, sizeof path);
  ama_config c2 = cfg;
  c2.seed = 13;
  snprintf(c2.policy.motor_groups, sizeof c2.policy.motor_groups, "task,proprioception");
  snprintf(c2.load_module, sizeof c2.load_module, "core,motor,head");
  snprintf(c2.load_path, sizeof c2.load_path, "%s", path);
  run b;
  run_open(&b, &c2, 1);
  ama_policy *pa = ama_ppo_policy(a.L), *pb = ama_ppo_policy(b.L);
  int Hc = cfg.policy.core_hidden, na = pa->motor_in, nb = pb->motor_in;
  assert_int_equal(na, Hc + 4);
  assert_int_equal(nb, Hc + 3 + 4);
  const float* wa = ama_params_view(&pa->params, "motor.Wx");
  const float* wb = ama_params_view(&pb->params, "motor.Wx");
  int rows = (int)(tensor_floats(pb, "motor.Wx") / (size_t)nb), nonzero = 0;
  assert_int_equal(rows * na, (int)tensor_floats(pa, "motor.Wx"));
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < nb; j++) {
      int from = j < Hc ? j : j < Hc + 3 ? -1 : j - 3;  // b: core, task (new), proprioception
      float want = from < 0 ? 0.0f : wa[r * na + from];
      assert_memory_equal(&wb[r * nb + j], &want, sizeof(float));
      nonzero += wb[r * nb + j] != 0;
    }
  assert_true(nonzero > rows * (Hc + 4) * 9 / 10);  // the copied columns are not zero themselves
  assert_module_equal(pa, pb, "core");
  assert_module_equal(pa, pb, "head");
  // the normaliser statistics of the groups both read are the source's (task's come with the
  // core, which reads every group)
  const am_task* t = &b.task;
  int gp = am_find_group(t->groups, t->n_groups, "proprioception");
  int gt = am_find_group(t->groups, t->n_groups, "task");
  for (int i = 0; i < t->groups[gp].size; i++) {
    int e = t->groups[gp].offset + i;
    assert_memory_equal(&pb->norm.mean[e], &pa->norm.mean[e], sizeof(double));
  }
  assert_true(pb->norm.counts[t->groups[gt].offset] == pa->norm.counts[t->groups[gt].offset]);
  ama_iter_stats st;
  ama_ppo_iterate(b.L, &st);  // the new columns learn
  int learnt = 0;
  for (int r = 0; r < rows; r++)
    for (int j = Hc; j < Hc + 3; j++) learnt += wb[r * nb + j] != 0;
  assert_true(learnt > 0);
  run_close(&b);
  // frozen with the motor, the new columns stay 0
  snprintf(c2.freeze, sizeof c2.freeze, "motor");
  run d;
  run_open(&d, &c2, 1);
  ama_policy* pd = ama_ppo_policy(d.L);
  ama_ppo_iterate(d.L, &st);
  const float* wd = ama_params_view(&pd->params, "motor.Wx");
  for (int r = 0; r < rows; r++)
    for (int j = Hc; j < Hc + 3; j++) assert_true(wd[r * nb + j] == 0.0f);
  run_close(&d);
  run_close(&a);
}

// critic_warmup = 2: in the first two iterations only the critic learns (the core, motor and head
// stay exactly as loaded), from the third everything does, and a module the user froze stays
// frozen throughout.
static void test_critic_warmup(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  cfg.ppo.critic_warmup = 2;
  snprintf(cfg.freeze, sizeof cfg.freeze, "motor");
  run a;
  run_open(&a, &cfg, 1);
  ama_policy* p = ama_ppo_policy(a.L);
  size_t n = p->params.count;
  float* w0 = malloc(n * sizeof(float));
  memcpy(w0, p->params.w, n * sizeof(float));
  ama_iter_stats st;
  for (int it = 0; it < 3; it++) {
    assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
    assert_int_equal(st.updates, it < 2 ? 0 : 4);  // steps that moved the policy
    for (int i = 0; i < p->params.n_tensors; i++) {
      const char* name = p->params.t[i].name;
      const float* w = p->params.w + p->params.t[i].offset;
      size_t sz = (size_t)p->params.t[i].rows * p->params.t[i].cols * sizeof(float);
      int critic = !strncmp(name, "critic.", 7), motor = !strncmp(name, "motor.", 6);
      if (critic || (it == 2 && !motor))
        assert_memory_not_equal(w, w0 + p->params.t[i].offset, sz);
      else
        assert_memory_equal(w, w0 + p->params.t[i].offset, sz);
      assert_int_equal(p->params.t[i].frozen, motor);  // the warm-up's hold is released
    }
  }
  free(w0);
  run_close(&a);
}

// anchor: a KL pull toward the policy as loaded. At the first rollout the reference acts exactly as
// the policy (KL 0 before any update); over iterations a strong anchor keeps the policy much nearer
// its start than a negligible one (the KL each reports); a resumed anchored run continues bit for
// bit (the reference's acting state is in the checkpoint); anchor_envs of all 1 is the plain
// anchor and of all 0 no anchor, bit for bit; anchor without load_module, with a categorical head
// or another learner, and anchor_envs without an anchor or with a bad list, are refused naming
// the key.
static void test_anchor(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  cfg.ppo.lr = 3e-3f;  // move far enough in a few iterations to tell the two apart
  run a;
  char path[400], path2[400], err[1024];
  source_run(&a, &cfg, 2, "anchor-src.bin", path, sizeof path);
  run_close(&a);
  ama_config c2 = cfg;
  c2.seed = 9;
  snprintf(c2.load_module, sizeof c2.load_module, "core,motor,head");
  snprintf(c2.load_path, sizeof c2.load_path, "%s", path);
  double kl[2][6];
  size_t n_w = 0;
  const float beta[2] = {1e-6f, 20.0f};
  for (int k = 0; k < 2; k++) {
    c2.ppo.anchor = beta[k];
    run r;
    run_open(&r, &c2, 1);
    ama_iter_stats st;
    for (int i = 0; i < 6; i++) {
      assert_int_equal(ama_ppo_iterate(r.L, &st), 0);
      kl[k][i] = st.loss.anchor_kl;
    }
    run_close(&r);
  }
  // the first minibatch's KL is 0 (it shares the iteration's mean with later, moved ones)
  // (measured: 0.016 free, 0.00045 anchored after 6 iterations)
  for (int k = 0; k < 2; k++) assert_true(kl[k][0] >= 0 && kl[k][0] < 0.002);
  assert_true(kl[0][5] > 0.005 && kl[0][5] > 4 * kl[0][0]);
  assert_true(kl[1][5] < 0.1 * kl[0][5]);
  // resume: 2 + 2 iterations equal 4 straight
  c2.ppo.anchor = 5;
  run b, c, d;
  run_open(&b, &c2, 1);
  ama_iter_stats st;
  for (int i = 0; i < 4; i++) ama_ppo_iterate(b.L, &st);
  run_open(&c, &c2, 2);
  for (int i = 0; i < 2; i++) ama_ppo_iterate(c.L, &st);
  snprintf(path2, sizeof path2, "%s/anchor-resume.bin", g_dir);
  assert_int_equal(ama_ckpt_save(c.L, path2, err, sizeof err), 0);
  run_close(&c);
  run_open(&d, &c2, 1);
  assert_int_equal(ama_ckpt_load(d.L, path2, err, sizeof err), 0);
  for (int i = 0; i < 2; i++) ama_ppo_iterate(d.L, &st);
  assert_same_learner(b.L, d.L);
  run_close(&b);
  run_close(&d);
  // anchor_envs: weights of 1 in every env are the plain anchor; weights of 0 in every env are
  // no anchor at all (the reference acts beside, but pulls nothing), bit for bit
  const char* const wts[2] = {"1", "0,0"};
  const float with[2] = {5, 20}, without[2] = {5, 0};
  for (int k = 0; k < 2; k++) {
    run u, v;
    c2.ppo.anchor = with[k];
    snprintf(c2.ppo.anchor_envs, sizeof c2.ppo.anchor_envs, "%s", wts[k]);
    run_open(&u, &c2, 1);
    c2.ppo.anchor = without[k], c2.ppo.anchor_envs[0] = 0;
    run_open(&v, &c2, 1);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(ama_ppo_iterate(u.L, &st), 0);
      assert_int_equal(ama_ppo_iterate(v.L, &st), 0);
    }
    assert_same_learner(u.L, v.L);
    run_close(&u);
    run_close(&v);
  }
  // each env its own weight (the minibatch's samples take their env's, whichever minibatch they
  // fall in): half the envs anchored is neither all of them nor none, whichever half
  const char* const half[4] = {"20", "0", "20,20,20,20,0,0,0,0", "0,0,0,0,20,20,20,20"};
  float* w[4];
  for (int k = 0; k < 4; k++) {
    run u;
    c2.ppo.anchor = 1;
    snprintf(c2.ppo.anchor_envs, sizeof c2.ppo.anchor_envs, "%s", half[k]);
    run_open(&u, &c2, 1);
    for (int i = 0; i < 3; i++) assert_int_equal(ama_ppo_iterate(u.L, &st), 0);
    const ama_params* pp = &ama_ppo_policy(u.L)->params;
    w[k] = malloc(sizeof(float) * pp->count);
    memcpy(w[k], pp->w, sizeof(float) * pp->count);
    n_w = pp->count;
    run_close(&u);
  }
  c2.ppo.anchor_envs[0] = 0;
  for (int k = 2; k < 4; k++)
    for (int q = 0; q < 2; q++) assert_true(memcmp(w[k], w[q], sizeof(float) * n_w) != 0);
  assert_true(memcmp(w[2], w[3], sizeof(float) * n_w) != 0);
  for (int k = 0; k < 4; k++) free(w[k]);
  // refusals
  ama_config c3 = cfg;
  c3.ppo.anchor = 1;
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "anchor = 1 needs load_module"));
  c3 = c2;
  c3.ppo.anchor = 0;
  snprintf(c3.ppo.anchor_envs, sizeof c3.ppo.anchor_envs, "1,0");
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "anchor_envs = 1,0 weights the anchor, but anchor = 0"));
  c3.ppo.anchor = 1;
  snprintf(c3.ppo.anchor_envs, sizeof c3.ppo.anchor_envs, "1,-2");
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "config key 'anchor_envs': -2 (in '1,-2') is out of range"));
  snprintf(c3.ppo.anchor_envs, sizeof c3.ppo.anchor_envs, "1,x");
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "config key 'anchor_envs': '1,x' is not valid"));
  snprintf(c3.ppo.anchor_envs, sizeof c3.ppo.anchor_envs, "1,1,1,1,1,1,1,1,1");
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "has 9 weights for num_envs = 8 envs"));
  c3 = c2;
  snprintf(c3.learner, sizeof c3.learner, "es");
  assert_null(create_with(&c3, err, sizeof err));
  assert_non_null(strstr(err, "learner = es"));
}

// target_kl: an iteration's policy updates stop at the first minibatch whose approx_kl exceeds
// 1.5 x target_kl, the first step always running, and the value head trains on through the
// remaining steps: a tiny target moves the policy once per iteration (the same first step as a
// run of one epoch) while the value head takes all 8 steps; a huge target gives the very same
// learner as none; the stop is the same whatever the thread count; learner = es refuses the key.
static void test_target_kl(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  cfg.ppo.epochs = 4;  // 8 steps per iteration
  const float target[3] = {0, 1e9f, 1e-7f};
  run r[3];
  ama_iter_stats st;
  for (int k = 0; k < 3; k++) {
    cfg.ppo.target_kl = target[k];
    run_open(&r[k], &cfg, 1);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(ama_ppo_iterate(r[k].L, &st), 0);
      assert_int_equal(st.updates, k < 2 ? 8 : 1);
    }
    assert_int_equal(ama_ppo_policy(r[k].L)->params.adam_t, 24);
    for (int i = 0; i < ama_ppo_policy(r[k].L)->params.n_tensors; i++)
      assert_int_equal(ama_ppo_policy(r[k].L)->params.t[i].frozen, 0);  // the hold is released
  }
  assert_same_learner(r[0].L, r[1].L);
  run t;
  run_open(&t, &cfg, 2);
  for (int i = 0; i < 3; i++) assert_int_equal(ama_ppo_iterate(t.L, &st), 0);
  assert_same_learner(r[2].L, t.L);
  run_close(&t);
  for (int k = 0; k < 3; k++) run_close(&r[k]);
  // one iteration: tiny target over 4 epochs vs 1 epoch: the policy's tensors equal (one step
  // each), the value head's differ (8 steps against 2)
  run a, b;
  run_open(&a, &cfg, 1);
  ama_config c1 = cfg;
  c1.ppo.epochs = 1;
  run_open(&b, &c1, 1);
  assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
  assert_int_equal(ama_ppo_iterate(b.L, &st), 0);
  const ama_params* pa = &ama_ppo_policy(a.L)->params;
  const ama_params* pb = &ama_ppo_policy(b.L)->params;
  int critic = 0;
  for (int i = 0; i < pa->n_tensors; i++) {
    size_t sz = (size_t)pa->t[i].rows * pa->t[i].cols * sizeof(float);
    if (strncmp(pa->t[i].name, "critic.", 7)) {
      assert_memory_equal(pa->w + pa->t[i].offset, pb->w + pb->t[i].offset, sz);
    } else {
      assert_memory_not_equal(pa->w + pa->t[i].offset, pb->w + pb->t[i].offset, sz);
      critic++;
    }
  }
  assert_true(critic > 0);
  run_close(&a);
  run_close(&b);
  char err[1024];
  ama_config c3 = cfg;
  c3.ppo.target_kl = 0.01f;
  c3.es.pairs = 4;
  snprintf(c3.learner, sizeof c3.learner, "es");
  assert_null(create_with(&c3, err, sizeof err));
  if (!strstr(err, "target_kl = 0.01")) fail_msg("error: %s", err);
}

//---------------------------------- inconsistent checkpoints --------------------------------------

// The payload offset and length of a section of a checkpoint image (fails when absent).
static size_t find_section(const uint8_t* b, size_t n, const char* tag, size_t* len) {
  size_t pos = 16;
  while (pos + 12 <= n - 4) {
    uint64_t l = 0;
    for (int i = 0; i < 8; i++) l |= (uint64_t)b[pos + 4 + i] << (8 * i);
    if (!memcmp(b + pos, tag, 4)) {
      *len = (size_t)l;
      return pos + 12;
    }
    pos += 12 + (size_t)l;
  }
  fail_msg("no section %s", tag);
  return 0;
}

static void put_le(uint8_t* at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) at[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crc(uint8_t* b, size_t n) { put_le(b + n - 4, am_crc32(0, b, n - 4), 4); }

typedef struct ckpt_case {
  const char* what;
  uint8_t* img;
  size_t n;
} ckpt_case;

// Writes the image (its checksum recomputed, so only the reader's checks can catch it) and expects
// each reader to refuse it with a message holding `field` (NULL: that reader is not asked).
static void expect_refused(run* r, const char* bad, uint8_t* img, size_t n, const char* field_load,
                           const char* field_policy, const char* field_module,
                           const char* modules) {
  char err[1024];
  fix_crc(img, n);
  write_file(bad, img, n);
  if (field_load) {
    err[0] = 0;
    assert_int_equal(ama_ckpt_load(r->L, bad, err, sizeof err), -1);
    if (!strstr(err, field_load) || !strstr(err, bad))
      fail_msg("ama_ckpt_load: expected '%s' in: %s", field_load, err);
  }
  const am_task* t = &r->task;
  if (field_policy) {
    ama_policy p;
    err[0] = 0;
    assert_int_equal(ama_ckpt_load_policy(&p, bad, t->groups, t->n_groups, t->obs_dim, t->act_dim,
                                          2, err, sizeof err), -1);
    if (!strstr(err, field_policy))
      fail_msg("ama_ckpt_load_policy: expected '%s' in: %s", field_policy, err);
  }
  if (field_module) {
    err[0] = 0;
    assert_int_equal(ama_policy_load_module(ama_ppo_policy(r->L), t->groups, t->n_groups, bad,
                                            modules, NULL, err, sizeof err), -1);
    if (!strstr(err, field_module))
      fail_msg("load_module(%s): expected '%s' in: %s", modules, field_module, err);
  }
}

// Counts, sizes and offsets that disagree with their section (valid checksums) are refused by
// ama_ckpt_load, ama_ckpt_load_policy and load_module with a message naming the field, never read
// out of bounds (the run under ASan checks that too).
static void test_inconsistent_files(void** s) {
  ama_config cfg;
  small_config(&cfg);
  run a;
  run_open(&a, &cfg, 1);
  ama_iter_stats st;
  ama_ppo_iterate(a.L, &st);
  char path[400], bad[400], err[1024];
  snprintf(path, sizeof(path), "%s/src.bin", g_dir);
  snprintf(bad, sizeof(bad), "%s/inconsistent.bin", g_dir);
  assert_int_equal(ama_ckpt_save(a.L, path, err, sizeof(err)), 0);
  FILE* f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  size_t n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* good = malloc(n);
  uint8_t* img = malloc(n);
  assert_int_equal(fread(good, 1, n, f), n);
  fclose(f);
  size_t len, at;
#define RESET() memcpy(img, good, n)
  // tensor table: a count larger than the table, a huge name length, a wrong offset
  RESET();
  at = find_section(img, n, "TENS", &len);
  put_le(img + at, 0xffffffffu, 4);
  expect_refused(&a, bad, img, n, "field 'tensors': 4294967295 tensors do not fit",
                 "field 'tensors': 4294967295 tensors do not fit",
                 "field 'tensors': 4294967295 tensors do not fit", "core");
  RESET();
  put_le(img + at + 4, 0x7fffffffu, 4);
  expect_refused(&a, bad, img, n, "field 'tensor 0 name length'", "field 'tensor 0 name length'",
                 "field 'tensor 0 name length'", "core");
  RESET();
  uint32_t nl = img[at + 4];
  char name0[64] = {0};
  memcpy(name0, img + at + 8, nl);
  put_le(img + at + 8 + nl + 8, (uint64_t)1 << 62, 8);  // tensor 0's offset
  char want[160];
  snprintf(want, sizeof want, "field 'tensor %s offset'", name0);
  expect_refused(&a, bad, img, n, "field 'tensor 0 offset'", "field 'tensor 0 offset'", want,
                 "core");
  RESET();
  put_le(img + at + 8 + nl + 8, 0x7fffffffffffffffULL - 3, 8);
  expect_refused(&a, bad, img, n, "field 'tensor 0 offset'", NULL, want, "core");
  // parameters: a count larger than the section (and one that overflows 12 * count)
  RESET();
  at = find_section(img, n, "PARM", &len);
  put_le(img + at, ((uint64_t)1 << 62) + 5, 8);
  expect_refused(&a, bad, img, n, "field 'parameters'", "field 'parameters'",
                 "field 'parameters'", "core");
  // a truncated parameter section (the file re-framed around it)
  {
    size_t cut = 100, m = n - cut;
    uint8_t* t = malloc(n);
    memcpy(t, good, at + len - cut);
    memcpy(t + at + len - cut, good + at + len, n - (at + len));
    put_le(t + at - 8, len - cut, 8);
    expect_refused(&a, bad, t, m, "field 'parameters': the section holds",
                   "field 'parameters': the section holds", "field 'parameters'", "core");
    free(t);
  }
  // a section length beyond the end of the file
  RESET();
  at = find_section(img, n, "NORM", &len);
  put_le(img + at - 8, (uint64_t)-1, 8);
  expect_refused(&a, bad, img, n, "field 'section NORM length'", "field 'section NORM length'",
                 "field 'section NORM length'", "motor");
  // normaliser size, learner and env sections
  RESET();
  put_le(img + at, 0xfffffff0u, 4);
  expect_refused(&a, bad, img, n, "field 'normaliser'", "field 'normaliser'", "field 'normaliser'",
                 "motor");
  RESET();
  at = find_section(img, n, "ENVS", &len);
  put_le(img + at + 16, (uint64_t)-100, 8);  // env 0's state length
  expect_refused(&a, bad, img, n, "field 'envs' (env 0 length)", NULL, NULL, NULL);
  // the observation group table load_module reads for the motor's normaliser
  RESET();
  at = find_section(img, n, "OGRP", &len);
  put_le(img + at, 1000000, 4);
  expect_refused(&a, bad, img, n, NULL, NULL, "field 'groups': 1000000 groups", "motor");
  RESET();
  put_le(img + at + 4, 0xffffff00u, 4);
  expect_refused(&a, bad, img, n, NULL, NULL, "field 'group 0 name length'", "motor");
  RESET();
  nl = img[at + 4];
  put_le(img + at + 8 + nl, 0xfffffff0u, 4);  // group 0's offset
  expect_refused(&a, bad, img, n, NULL, NULL, "field 'group 0'", "motor");
  RESET();
  put_le(img + at + 8 + nl, 0x7ffffff0u, 4);
  expect_refused(&a, bad, img, n, NULL, NULL, "out of range", "motor");
  // the untouched image still loads everywhere
  RESET();
  write_file(bad, img, n);
  assert_int_equal(ama_ckpt_load(a.L, bad, err, sizeof err), 0);
  assert_int_equal(ama_policy_load_module(ama_ppo_policy(a.L), a.task.groups, a.task.n_groups, bad,
                                          "core,motor", NULL, err, sizeof err), 0);
#undef RESET
  free(good);
  free(img);
  run_close(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_roundtrip),
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_resume_exact),
      cmocka_unit_test(test_threads_byte_identical),
      cmocka_unit_test(test_env_state_bytes),
      cmocka_unit_test(test_env_state_variant),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_inconsistent_files),
      cmocka_unit_test(test_load_and_freeze_module),
      cmocka_unit_test(test_load_core_new_inputs),
      cmocka_unit_test(test_load_motor_new_inputs),
      cmocka_unit_test(test_critic_warmup),
      cmocka_unit_test(test_anchor),
      cmocka_unit_test(test_target_kl),
  };
  return cmocka_run_group_tests(tests, setup, test_dir_remove);
}
