// test_agents_dist.c: data-parallel training through the communicator seam (ama_comm), without MPI:
// two "ranks" are two threads of this process joined by an in-memory communicator. Checked: the
// gradient mean over ranks is exact for planted gradients (large and tiny elements, zeros, a
// non-finite rank), gathered (2 ranks) and in fixed point (5 ranks); two ranks end with
// bit-identical parameters and count both ranks' steps; a rank whose parameters drift is named in
// the error; a rank with another configuration is refused; a two-rank checkpoint resumes exactly
// and is refused by one process. (tests/test_mpi.sh runs the same over real MPI ranks.)
#include <math.h>
#include <pthread.h>
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

//---------------------------------- an in-memory communicator of 2 ranks --------------------------

#define RANKS 2      // the training tests'
#define MAX_RANKS 5  // more than ama_dist.c gathers: the gradient goes through the fixed point

typedef struct shared {
  pthread_barrier_t bar;
  int n;  // ranks
  const void* slot[MAX_RANKS];
} shared;

typedef struct rank_ctx {
  shared* sh;
  int rank;
} rank_ctx;

static int t_allgather(void* ctx, const void* in, void* out, size_t n, char* err, size_t sz) {
  rank_ctx* c = ctx;
  c->sh->slot[c->rank] = in;
  pthread_barrier_wait(&c->sh->bar);
  for (int r = 0; r < c->sh->n; r++) memcpy((char*)out + (size_t)r * n, c->sh->slot[r], n);
  pthread_barrier_wait(&c->sh->bar);
  return 0;
}

static int t_sum_i64(void* ctx, int64_t* buf, size_t n, char* err, size_t sz) {
  rank_ctx* c = ctx;
  int64_t* sum = calloc(n ? n : 1, sizeof(int64_t));
  c->sh->slot[c->rank] = buf;
  pthread_barrier_wait(&c->sh->bar);
  for (int r = c->sh->n - 1; r >= 0; r--)  // the reverse of rank order: the sum must not care
    for (size_t i = 0; i < n; i++) sum[i] += ((const int64_t*)c->sh->slot[r])[i];
  pthread_barrier_wait(&c->sh->bar);
  memcpy(buf, sum, n * sizeof(int64_t));
  free(sum);
  return 0;
}

static int t_bcast(void* ctx, void* buf, size_t n, char* err, size_t sz) {
  rank_ctx* c = ctx;
  c->sh->slot[c->rank] = buf;
  pthread_barrier_wait(&c->sh->bar);
  if (c->rank) memcpy(buf, c->sh->slot[0], n);
  pthread_barrier_wait(&c->sh->bar);
  return 0;
}

//---------------------------------- one rank's job ------------------------------------------------

typedef enum { JOB_TRAIN, JOB_DRIFT, JOB_GRAD, JOB_SAVE, JOB_RESUME } job_kind;

typedef struct rank_job {
  job_kind kind;
  int rank, envs, iters;
  rank_ctx ctx;
  ama_comm comm;
  const char* path;     // JOB_SAVE, JOB_RESUME
  // results
  int rc;               // 0, or -1 with err
  char err[1024];
  uint32_t crc;
  int64_t steps;
  const float* planted; // JOB_GRAD: this rank's gradient
  float* grad_out;      // JOB_GRAD: the mean (malloc'd)
  double mean;          // JOB_GRAD: ama_dist_mean of rank + 1
  float target_kl;      // JOB_TRAIN: the config's target_kl
  int updates;          // JOB_TRAIN: the last iteration's minibatch steps
  size_t n_params;
} rank_job;

static void* rank_main(void* arg) {
  rank_job* j = arg;
  ama_config cfg;
  small_config(&cfg);
  cfg.num_envs = j->envs;
  cfg.ppo.target_kl = j->target_kl;
  am_task task;
  amt_params params = {0};
  j->rc = -1;
  if (amt_create(&task, cfg.task, &params, j->err, sizeof j->err)) return NULL;
  am_pool_config pc = {.num_envs = cfg.num_envs, .num_threads = 1,
                       .seed = ama_rank_seed(cfg.seed, j->rank)};
  am_pool* pool = am_pool_create(&task, &pc, j->err, sizeof j->err);
  ama_ppo* L = pool ? ama_ppo_create(&cfg, pool, j->err, sizeof j->err) : NULL;
  if (!L || ama_ppo_set_comm(L, &j->comm, j->err, sizeof j->err)) goto out;
  if (j->kind == JOB_RESUME && ama_ckpt_load(L, j->path, j->err, sizeof j->err)) goto out;
  if (j->kind == JOB_GRAD) {
    ama_params* P = &ama_ppo_policy(L)->params;
    j->n_params = P->count;
    if (!j->planted) {  // only the parameter count asked for
      j->rc = 0;
      goto out;
    }
    memcpy(P->g, j->planted, sizeof(float) * P->count);
    if (ama_dist_grad(L)) goto out;
    j->grad_out = malloc(sizeof(float) * P->count);
    memcpy(j->grad_out, P->g, sizeof(float) * P->count);
    j->mean = j->rank + 1;
    if (ama_dist_mean(L, &j->mean)) goto out;
    j->rc = 0;
    goto out;
  }
  for (int i = 0; i < j->iters; i++) {
    if (j->kind == JOB_DRIFT && i == 1 && j->rank == 1) ama_ppo_policy(L)->params.w[0] += 1.0f;
    ama_iter_stats st;
    if (ama_ppo_iterate(L, &st)) {
      snprintf(j->err, sizeof j->err, "%s", ama_ppo_error(L));
      goto out;
    }
    j->updates = st.updates;
  }
  if (j->kind == JOB_SAVE && ama_ckpt_save(L, j->path, j->err, sizeof j->err)) goto out;
  if (ama_ppo_check_ranks(L, &j->crc, j->err, sizeof j->err)) goto out;
  j->steps = ama_ppo_env_steps(L);
  j->rc = 0;
out:
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&task);
  return NULL;
}

// Runs nr ranks' jobs (kind, envs per rank, iterations) to their end.
static void run_n(rank_job* jobs, int nr, job_kind kind, const int* envs, int iters,
                  const char* path) {
  shared sh = {.n = nr};
  pthread_barrier_init(&sh.bar, NULL, (unsigned)nr);
  pthread_t th[MAX_RANKS];
  for (int r = 0; r < nr; r++) {
    rank_job* j = &jobs[r];
    j->kind = kind;
    j->rank = r;
    j->envs = envs[r];
    j->iters = iters;
    j->path = path;
    j->ctx = (rank_ctx){&sh, r};
    j->comm = (ama_comm){r, nr, &j->ctx, t_allgather, t_sum_i64, t_bcast};
    assert_int_equal(pthread_create(&th[r], NULL, rank_main, j), 0);
  }
  for (int r = 0; r < nr; r++) pthread_join(th[r], NULL);
  pthread_barrier_destroy(&sh.bar);
}

static void run_ranks(rank_job* jobs, job_kind kind, const int envs[RANKS], int iters,
                      const char* path) {
  run_n(jobs, RANKS, kind, envs, iters, path);
}

static const int SAME_ENVS[MAX_RANKS] = {8, 8, 8, 8, 8};

//---------------------------------- tests ---------------------------------------------------------

// Planted gradients over nr ranks: elements whose mean is exactly representable come back
// exactly, tiny elements next to a large one survive, zeros stay zero, every rank gets the same
// bits, and a non-finite element on one rank makes the whole mean non-finite.
static void grad_mean_exact(int nr) {
  rank_job jobs[MAX_RANKS] = {0};
  run_n(jobs, nr, JOB_GRAD, SAME_ENVS, 0, NULL);  // (learns the parameter count)
  assert_int_equal(jobs[0].rc, 0);
  size_t n = jobs[0].n_params;
  assert_true(n > 8);
  float* g[MAX_RANKS];
  for (int r = 0; r < nr; r++) {
    g[r] = calloc(n, sizeof(float));
    g[r][0] = r ? 1.0f : 1.0f + (float)nr;                            // mean 2
    g[r][1] = r == 0 ? 1000.0f : r == 1 ? -1000.0f + 0.5f * (float)nr : 0;  // 0.5
    g[r][2] = 1e-6f * (float)(r + 1);             // next to 1000: tiny, not lost
    g[r][3] = r == 0 ? -0.25f : r == 1 ? -0.75f : -0.5f;               // -0.5
    g[r][4] = 0.0f;                                                    // 0
  }
  for (int r = 0; r < nr; r++) jobs[r] = (rank_job){.planted = g[r]};
  run_n(jobs, nr, JOB_GRAD, SAME_ENVS, 0, NULL);
  for (int r = 0; r < nr; r++) assert_int_equal(jobs[r].rc, 0);
  const float* m = jobs[0].grad_out;
  assert_true(m[0] == 2.0f);
  assert_true(m[1] == 0.5f);
  assert_true(fabsf(m[2] - 0.5e-6f * (float)(nr + 1)) < 1e-12f);
  assert_true(m[3] == -0.5f);
  assert_true(m[4] == 0.0f);
  for (int r = 0; r < nr; r++) assert_true(jobs[r].mean == 0.5 * (nr + 1));  // ama_dist_mean
  for (int r = 1; r < nr; r++)
    assert_memory_equal(jobs[0].grad_out, jobs[r].grad_out, n * sizeof(float));
  for (int r = 0; r < nr; r++) free(jobs[r].grad_out);
  g[nr - 1][5] = NAN;
  for (int r = 0; r < nr; r++) jobs[r] = (rank_job){.planted = g[r]};
  run_n(jobs, nr, JOB_GRAD, SAME_ENVS, 0, NULL);
  for (int r = 0; r < nr; r++) assert_true(isnan(jobs[r].grad_out[0]));
  for (int r = 0; r < nr; r++) free(jobs[r].grad_out), free(g[r]);
}

static void test_grad_mean_gathered(void** state) { grad_mean_exact(2); }
static void test_grad_mean_fixed_point(void** state) { grad_mean_exact(MAX_RANKS); }

// Two ranks train to bit-identical parameters, count both ranks' env steps, and do so again.
static void test_ranks_identical(void** state) {
  rank_job a[RANKS] = {0}, b[RANKS] = {0};
  run_ranks(a, JOB_TRAIN, SAME_ENVS, 3, NULL);
  for (int r = 0; r < RANKS; r++) {
    if (a[r].rc) fprintf(stderr, "rank %d: %s\n", r, a[r].err);
    assert_int_equal(a[r].rc, 0);
  }
  assert_int_equal(a[0].crc, a[1].crc);
  assert_int_equal(a[0].steps, 3 * 16 * 8 * RANKS);
  run_ranks(b, JOB_TRAIN, SAME_ENVS, 3, NULL);
  assert_int_equal(b[0].crc, a[0].crc);
}

// target_kl decides on the mean approx_kl over the ranks, so every rank stops at the same step:
// a tiny target leaves one step per iteration on both, a huge one the same learner as none.
static void test_ranks_target_kl(void** state) {
  rank_job a[RANKS] = {0}, b[RANKS] = {0}, c[RANKS] = {0};
  run_ranks(a, JOB_TRAIN, SAME_ENVS, 3, NULL);
  for (int r = 0; r < RANKS; r++) b[r].target_kl = 1e-7f, c[r].target_kl = 1e9f;
  run_ranks(b, JOB_TRAIN, SAME_ENVS, 3, NULL);
  run_ranks(c, JOB_TRAIN, SAME_ENVS, 3, NULL);
  for (int r = 0; r < RANKS; r++) {
    assert_int_equal(b[r].rc, 0);
    assert_int_equal(b[r].updates, 1);
    assert_int_equal(c[r].updates, a[r].updates);
  }
  assert_int_equal(b[0].crc, b[1].crc);
  assert_true(b[0].crc != a[0].crc);
  assert_int_equal(c[0].crc, a[0].crc);
}

// A rank whose parameters change behind the learner's back is named.
static void test_drift_detected(void** state) {
  rank_job j[RANKS] = {0};
  run_ranks(j, JOB_DRIFT, SAME_ENVS, 3, NULL);
  for (int r = 0; r < RANKS; r++) {
    assert_int_equal(j[r].rc, -1);
    assert_non_null(strstr(j[r].err, "the parameters of rank 1 differ from rank 0's"));
  }
}

// A rank started with another configuration is refused, naming it and the key.
static void test_config_mismatch(void** state) {
  rank_job j[RANKS] = {0};
  const int envs[RANKS] = {8, 16};
  run_ranks(j, JOB_TRAIN, envs, 1, NULL);
  for (int r = 0; r < RANKS; r++) {
    assert_int_equal(j[r].rc, -1);
    assert_non_null(strstr(j[r].err, "rank 1: its configuration differs from rank 0's"));
    assert_non_null(strstr(j[r].err, "num_envs = 16"));
  }
}

// A two-rank checkpoint resumes exactly under two ranks and is refused by one process.
static void test_checkpoint_resume(void** state) {
  char path[256];
  snprintf(path, sizeof path, "/tmp/animat_test_dist_%d.bin", (int)getpid());
  rank_job full[RANKS] = {0}, half[RANKS] = {0}, rest[RANKS] = {0};
  run_ranks(full, JOB_TRAIN, SAME_ENVS, 4, NULL);
  run_ranks(half, JOB_SAVE, SAME_ENVS, 2, path);
  assert_int_equal(half[0].rc, 0);
  assert_int_equal(half[1].rc, 0);
  run_ranks(rest, JOB_RESUME, SAME_ENVS, 2, path);
  assert_int_equal(rest[0].rc, 0);
  assert_int_equal(rest[0].crc, full[0].crc);
  assert_int_equal(rest[0].steps, full[0].steps);
  // one process
  ama_config cfg;
  small_config(&cfg);
  am_task task;
  amt_params params = {0};
  char err[1024];
  assert_int_equal(amt_create(&task, cfg.task, &params, err, sizeof err), 0);
  am_pool_config pc = {.num_envs = 8, .num_threads = 1, .seed = cfg.seed};
  am_pool* pool = am_pool_create(&task, &pc, err, sizeof err);
  ama_ppo* L = ama_ppo_create(&cfg, pool, err, sizeof err);
  assert_non_null(L);
  assert_int_equal(ama_ckpt_load(L, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "written by 2 ranks, this run has 1"));
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&task);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grad_mean_gathered),
      cmocka_unit_test(test_grad_mean_fixed_point),
      cmocka_unit_test(test_ranks_identical),
      cmocka_unit_test(test_ranks_target_kl),
      cmocka_unit_test(test_drift_detected),
      cmocka_unit_test(test_config_mismatch),
      cmocka_unit_test(test_checkpoint_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
