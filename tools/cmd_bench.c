// cmd_bench.c: `animat bench physics`: the env pool's throughput against MuJoCo's raw mj_step loop.
//
// In one run: (a) a single-thread loop of mj_step on one mjData of the same model, started from
// the state of the pool's first env after its reset (the physics limit), (b) the env pool (observation assembly, task hooks, auto-reset) on 1 thread and on T
// threads. Prints physics steps per second, the pool's per-thread ratio to the raw loop, and the
// scaling from 1 to T threads. Controls are zero (neutral) in both so the physics is comparable.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amt_tasks.h"
#include "cli.h"

// The physics limit: mj_step in a loop on one mjData, from the same initial state as the pool's
// first env (a task's reset may put the body where the physics costs more than at qpos0).
static double raw_loop(const am_task* t, long steps, char* err, size_t err_sz) {
  am_pool_config cfg = {.num_envs = 1, .num_threads = 1, .seed = 1};
  am_pool* p = am_pool_create(t, &cfg, err, err_sz);
  if (!p) return -1;
  const mjModel* m = t->model->m;
  mjData* d = mj_makeData(m);
  if (!d) {
    am_pool_free(p);
    am_err(err, err_sz, "out of memory");
    return -1;
  }
  mj_copyData(d, m, am_pool_env(p, 0)->d);
  am_pool_free(p);
  for (int i = 0; i < 5 * t->frame_skip; i++) mj_step(m, d);  // warm up as the pool does
  double t0 = am_now();
  for (long i = 0; i < steps; i++) mj_step(m, d);
  double dt = am_now() - t0;
  mj_deleteData(d);
  return steps / dt;
}

// Physics steps per second of the pool; writes the pool's unstable-episode count.
static double pool_rate(const am_task* t, int envs, int threads, long steps, int64_t* unstable,
                        char* err, size_t err_sz) {
  am_pool_config cfg = {.num_envs = envs, .num_threads = threads, .seed = 1};
  am_pool* p = am_pool_create(t, &cfg, err, err_sz);
  if (!p) return -1;
  long iters = steps / ((long)envs * t->frame_skip);
  if (iters < 1) iters = 1;
  for (int i = 0; i < 5; i++) am_pool_step(p);  // warm up caches and threads
  am_pool_stats s0, s1;
  am_pool_get_stats(p, &s0);
  double t0 = am_now();
  for (long i = 0; i < iters; i++) am_pool_step(p);
  double dt = am_now() - t0;
  am_pool_get_stats(p, &s1);
  *unstable = s1.unstable;
  am_pool_free(p);
  return (double)(s1.physics_steps - s0.physics_steps) / dt;
}

static int bench_physics(int argc, char** argv) {
  const char* usage =
      "usage: animat bench physics --body NAME [--envs N] [--threads T] [--steps S]\n"
      "                            [--frame-skip K] [--task NAME] [--rounds R]\n"
      "  --body NAME     body to simulate (default reacher); see `animat bodies`\n"
      "  --task NAME     measure a task's pool instead of the bare body (e.g. reacher)\n"
      "  --envs N        envs in the pool (default 64)\n"
      "  --threads T     worker threads for the scaling run (default 2)\n"
      "  --steps S       physics steps per measurement (default 200000)\n"
      "  --frame-skip K  physics steps per control step for the bare body (default 5)\n"
      "  --rounds R      alternating rounds; the best of each measurement is kept (default 3)\n";
  const char* body = "reacher";
  const char* task_name = NULL;
  int envs = 64, threads = 2, frame_skip = 5, rounds = 3;
  double steps = 200000;
  cli_flag flags[] = {
      {"body", CLI_STRING, &body},
      {"task", CLI_STRING, &task_name},
      {"envs", CLI_INT, &envs, 1, 1 << 16},
      {"threads", CLI_INT, &threads, 1, 256},
      {"steps", CLI_DOUBLE, &steps, 1000, 1e10},
      {"frame-skip", CLI_INT, &frame_skip, 1, 1000},
      {"rounds", CLI_INT, &rounds, 1, 100},
  };
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  char err[AM_ERR_LEN];
  am_task t;
  amt_params params = {0};
  char name[128];
  if (task_name) {
    snprintf(name, sizeof name, "%s", task_name);
  } else {
    snprintf(name, sizeof name, "body:%s", body);
    char kv[64];
    snprintf(kv, sizeof kv, "frame_skip=%d", frame_skip);
    amt_params_add(&params, kv, err, sizeof err);
  }
  if (amt_create(&t, name, &params, err, sizeof err)) return cli_fail("bench", "%s", err);
  const mjModel* m = t.model->m;
  printf("bench physics: %s (nv %d, nu %d, timestep %g s), %d envs, frame skip %d, %.0f steps,"
         " best of %d alternating rounds\n",
         t.name, m->nv, m->nu, m->opt.timestep, envs, t.frame_skip, steps, rounds);
  fflush(stdout);
  // Rounds alternate the three measurements and keep each one's best, so that load from other
  // processes during one measurement does not bias a ratio.
  double raw = 0, one = 0, many = 0;
  int64_t unstable1 = 0, unstableT = 0;
  for (int r = 0; r < rounds; r++) {
    double x = raw_loop(&t, (long)steps, err, sizeof err);
    if (x < 0) {
      amt_destroy(&t);
      return cli_fail("bench", "%s", err);
    }
    if (x > raw) raw = x;
    x = pool_rate(&t, envs, 1, (long)steps, &unstable1, err, sizeof err);
    if (x < 0) {
      amt_destroy(&t);
      return cli_fail("bench", "%s", err);
    }
    if (x > one) one = x;
    if (threads > 1) {
      x = pool_rate(&t, envs, threads, (long)steps * threads, &unstableT, err, sizeof err);
      if (x < 0) {
        amt_destroy(&t);
        return cli_fail("bench", "%s", err);
      }
      if (x > many) many = x;
    }
  }
  printf("  raw mj_step loop, 1 thread      %12.0f steps/s\n", raw);
  printf("  env pool, 1 thread              %12.0f steps/s   ratio to raw %.3f\n", one, one / raw);
  if (threads > 1) {
    printf("  env pool, %d threads             %12.0f steps/s   per thread %.3f of raw\n", threads,
           many, many / threads / raw);
    printf("  scaling 1 -> %d threads          %12.2fx\n", threads, many / one);
  }
  if (unstable1 || unstableT)
    printf("  episodes cut for instability: %lld (1 thread), %lld (%d threads)\n",
           (long long)unstable1, (long long)unstableT, threads);
  amt_destroy(&t);
  return 0;
}

int bench_record(int argc, char** argv);    // tools/bench_record.c
int bench_analyze(int argc, char** argv);   // tools/bench_analyze.c
int bench_gru(int argc, char** argv);       // tools/cmd_bench_agents.c
int bench_overhead(int argc, char** argv);  // tools/cmd_bench_agents.c
int bench_learn(int argc, char** argv);     // tools/cmd_bench_agents.c
int bench_mpi(int argc, char** argv);       // tools/cmd_bench_mpi.c

typedef struct bench_entry {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
} bench_entry;

static const bench_entry benches[] = {
    {"physics", "env pool throughput vs the raw mj_step loop, and thread scaling", bench_physics},
    {"record", "dataset recording overhead, compression, MB per million steps, read speed", bench_record},
    {"gru", "one GRU update (forward, BPTT, Adam) against PyTorch on the same shapes", bench_gru},
    {"overhead", "training throughput (with learning) against the env pool alone", bench_overhead},
    {"learn", "learning parity: return after N env steps over several seeds (reacher)", bench_learn},
    {"analyze", "analyses' read rate and peak memory against animat verify on one file", bench_analyze},
    {"mpi", "MPI ranks: 2 ranks vs 1 throughput, gradient allreduce share, 64-rank projection", bench_mpi},
};

int cmd_bench(int argc, char** argv) {
  int n = (int)(sizeof benches / sizeof benches[0]);
  if (argc >= 2 && strncmp(argv[1], "-", 1)) {
    for (int i = 0; i < n; i++)
      if (!strcmp(argv[1], benches[i].name)) {
        argv[1] = "bench";
        return benches[i].run(argc - 1, argv + 1);
      }
    fprintf(stderr, "animat bench: unknown benchmark '%s'\n", argv[1]);
  }
  FILE* f = (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) ? stdout : stderr;
  fprintf(f, "usage: animat bench BENCHMARK [FLAGS]   (animat bench BENCHMARK --help)\n");
  for (int i = 0; i < n; i++) fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].summary);
  return f == stdout ? 0 : 2;
}
