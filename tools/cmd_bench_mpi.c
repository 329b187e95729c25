// cmd_bench_mpi.c: `animat bench mpi`: data-parallel training on MPI ranks (docs/distributed.md,
// results in docs/benchmarks.md). It launches mpirun itself, with this animat as the ranks
// (`animat bench mpi --rank-job`), so one command measures everything in one run:
//   1. training throughput of 2 ranks x T threads against 1 rank x T threads, the same envs per
//      rank, per task (alternating rounds, best of each);
//   2. for 2, 4, 8 ranks (oversubscribed on a small machine): the share of the update time spent in
//      the gradient exchange during training (waiting for slower ranks included) and the cost of
//      the exchange alone (after a barrier);
//   3. a projection to 64 ranks from the message size and stated network bandwidth and latency
//      (ring and recursive halving-doubling allreduce).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ama_agents.h"
#include "amt_tasks.h"
#include "cli.h"
#include "mpi_comm.h"

// One job's result, printed by rank 0 as one "RESULT key=value..." line.
typedef struct job_result {
  int ranks;
  long long steps;     // env steps of the timed iterations, all ranks
  double wall;         // seconds of the timed iterations
  double learn;        // rank 0: update phase seconds
  double grad_comm;    // rank 0: seconds in the gradient exchange during the update
  long grad_calls;
  double alone;        // seconds of one gradient exchange after a barrier (mean)
  size_t params;       // the policy's parameters
  long long updates;   // minibatch updates of the timed iterations
} job_result;

// The rank side: trains `iters` timed iterations after one warm-up, then times the exchange alone.
static int rank_job(const char* task_name, int envs, int threads, int iters) {
  ama_comm comm;
  if (cli_mpi_start("bench", &comm)) return 1;
  char err[1024];
  ama_config cfg;
  ama_config_default(&cfg);
  cfg.num_envs = envs;
  if (ama_config_set(&cfg, "task", task_name, err, sizeof err))
    return cli_mpi_end(&comm, cli_fail("bench", "%s", err));
  amt_params params = {0};
  am_task t;
  if (amt_create(&t, task_name, &params, err, sizeof err))
    return cli_mpi_end(&comm, cli_fail("bench", "%s", err));
  am_pool_config pc = {.num_envs = envs, .num_threads = threads,
                       .seed = ama_rank_seed(1, comm.rank)};
  am_pool* pool = am_pool_create(&t, &pc, err, sizeof err);
  ama_ppo* L = pool ? ama_ppo_create(&cfg, pool, err, sizeof err) : NULL;
  if (!L || ama_ppo_set_comm(L, &comm, err, sizeof err))
    return cli_mpi_end(&comm, cli_fail("bench", "%s", err));
  ama_iter_stats st;
  char b = 0, bb[4096];
  if (ama_ppo_iterate(L, &st)) return cli_mpi_end(&comm, cli_fail("bench", "%s", ama_ppo_error(L)));
  if (comm.size > 1 && comm.allgather(comm.ctx, &b, bb, 1, err, sizeof err))  // a barrier
    return cli_mpi_end(&comm, cli_fail("bench", "%s", err));
  int64_t s0 = ama_ppo_env_steps(L);
  double learn = 0, exch = 0, t0 = am_now();
  long n_exch = 0;
  for (int i = 0; i < iters; i++) {
    if (ama_ppo_iterate(L, &st))
      return cli_mpi_end(&comm, cli_fail("bench", "%s", ama_ppo_error(L)));
    learn += st.learn_s;
    exch += st.exchange_s;
    n_exch += st.exchanges;
  }
  double wall = am_now() - t0;
  // the gradient exchange alone, after a barrier
  size_t n = ama_ppo_policy(L)->params.count;
  double alone = 0;
  int reps = 20;
  if (comm.size > 1)
    for (int r = 0; r < reps; r++) {
      if (comm.allgather(comm.ctx, &b, bb, 1, err, sizeof err))
        return cli_mpi_end(&comm, cli_fail("bench", "%s", err));
      double a = am_now();
      if (ama_ppo_grad_mean(L))
        return cli_mpi_end(&comm, cli_fail("bench", "%s", ama_ppo_error(L)));
      alone += am_now() - a;
    }
  if (comm.rank == 0)
    printf("RESULT ranks=%d steps=%lld wall=%.6f learn=%.6f grad_comm=%.6f grad_calls=%ld "
           "alone=%.9f params=%zu updates=%lld\n",
           comm.size, (long long)(ama_ppo_env_steps(L) - s0), wall, learn, exch, n_exch,
           alone / reps, n, (long long)iters * cfg.ppo.epochs * cfg.ppo.minibatches);
  fflush(stdout);
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&t);
  return cli_mpi_end(&comm, 0);
}

// Runs one job under mpirun and parses its result. Returns 0, or 1 after printing why.
static int run_job(const char* mpirun, const char* self, int ranks, const char* task, int envs,
                   int threads, int iters, job_result* r) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "'%s' -np %d --bind-to none --oversubscribe '%s' bench mpi --rank-job --task %s "
           "--envs %d --threads %d --iters %d",
           mpirun, ranks, self, task, envs, threads, iters);
  FILE* f = popen(cmd, "r");
  if (!f) return cli_fail("bench", "cannot run %s", cmd);
  char line[1024];
  int got = 0;
  memset(r, 0, sizeof *r);
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "RESULT ranks=%d steps=%lld wall=%lf learn=%lf grad_comm=%lf grad_calls=%ld "
               "alone=%lf params=%zu updates=%lld",
               &r->ranks, &r->steps, &r->wall, &r->learn, &r->grad_comm, &r->grad_calls,
               &r->alone, &r->params, &r->updates) == 9)
      got = 1;
  if (pclose(f) != 0 || !got) return cli_fail("bench", "the MPI job failed: %s", cmd);
  return 0;
}

static double loadavg(void) {
  double l = NAN;
  FILE* f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = NAN;
    fclose(f);
  }
  return l;
}

int bench_mpi(int argc, char** argv) {
  const char* tasks = "reacher,run";
  const char* task = "reacher";
  const char* ranks_list = "2,4,8";
  int envs = 32, threads = 1, iters = 10, rounds = 3, rank_job_mode = 0;
  const char* usage =
      "usage: animat bench mpi [--tasks reacher,run] [--envs 32] [--threads 1] [--iters 10]\n"
      "                        [--rounds 3] [--ranks 2,4,8]\n"
      "  runs mpirun (Open MPI) itself; envs and threads are per rank\n";
  cli_flag flags[] = {
      {"tasks", CLI_STRING, &tasks},         {"envs", CLI_INT, &envs, 1, 4096},
      {"threads", CLI_INT, &threads, 1, 64}, {"iters", CLI_INT, &iters, 1, 100000},
      {"rounds", CLI_INT, &rounds, 1, 100},  {"ranks", CLI_STRING, &ranks_list},
      {"rank-job", CLI_BOOL, &rank_job_mode}, {"task", CLI_STRING, &task},
  };
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (rank_job_mode) return rank_job(task, envs, threads, iters);
  if (!cli_mpi_built())
    return cli_fail("bench", "this animat was built without MPI (install libopenmpi-dev and "
                    "rebuild: tools/animat does both)");
  const char* mpirun = "mpirun";
  if (system("command -v mpirun > /dev/null 2>&1") != 0)
    return cli_fail("bench", "mpirun not found (Debian: openmpi-bin)");
  char self[1024];
  if (cli_self_path(self, sizeof self))
    return cli_fail("bench", "cannot find this executable (/proc/self/exe)");
  if (getuid() == 0) {  // Open MPI refuses root without these (containers)
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  }
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
  printf("bench mpi: %d envs and %d thread(s) per rank, %d timed iterations per job (default PPO "
         "configuration), %ld cores, load average %.1f at the start\n",
         envs, threads, iters, sysconf(_SC_NPROCESSORS_ONLN), loadavg());
  // 1. throughput: 2 ranks against 1, alternating
  char list[256];
  snprintf(list, sizeof list, "%s", tasks);
  job_result one_reacher = {0};
  char* save = NULL;
  for (char* tk = strtok_r(list, ",", &save); tk; tk = strtok_r(NULL, ",", &save)) {
    double best[3] = {0, 0, 0};
    job_result r;
    for (int round = 0; round < rounds; round++)
      for (int np = 1; np <= 2; np++) {
        if (run_job(mpirun, self, np, tk, envs, threads, iters, &r)) return 1;
        double sps = r.steps / r.wall;
        printf("  [%d] %-8s %d rank%s x %d thread%s: %8.0f env steps/s (learning %.0f %% of "
               "rank 0's time)\n", round + 1, tk, np, np > 1 ? "s" : " ", threads,
               threads > 1 ? "s" : "", sps, 100 * r.learn / r.wall);
        if (sps > best[np]) best[np] = sps;
        if (np == 1 && !strcmp(tk, "reacher")) one_reacher = r;
      }
    printf("%s: 2 ranks / 1 rank throughput ratio %.2f (best of %d rounds: %.0f vs %.0f env "
           "steps/s)\n", tk, best[2] / best[1], rounds, best[2], best[1]);
  }
  // 2. the gradient exchange's share of the update, reacher
  printf("gradient exchange, reacher (%d envs per rank; up to 4 ranks an allgather of floats, "
         "beyond an allreduce of fixed point):\n", envs);
  printf("  ranks  message    update/iter  exchange in training   share   "
         "exchange alone   share\n");
  snprintf(list, sizeof list, "%s", ranks_list);
  job_result last = {0};
  for (char* tk = strtok_r(list, ",", &save); tk; tk = strtok_r(NULL, ",", &save)) {
    int np = atoi(tk);
    if (np < 2 || np > 256) return cli_fail("bench", "--ranks: %s is not a rank count in 2..256", tk);
    job_result r;
    if (run_job(mpirun, self, np, "reacher", envs, threads, iters, &r)) return 1;
    double per_it = r.learn / iters, comm_it = r.grad_comm / iters;
    double alone_it = r.alone * r.grad_calls / iters;
    printf("  %5d  %6.0f kB  %9.1f ms  %18.1f ms  %5.1f %%  %12.1f ms  %5.1f %%\n", np,
           ama_grad_message_bytes(r.params, np) / 1e3, 1e3 * per_it, 1e3 * comm_it,
           100 * comm_it / per_it,
           1e3 * alone_it, 100 * alone_it / per_it);
    last = r;
  }
  // 3. projection: the allreduce of M bytes over p ranks with latency alpha and bandwidth beta,
  // ring: 2 (p - 1) alpha + 2 (p - 1) / p * M / beta; recursive halving and doubling (Rabenseifner,
  // what MPI libraries use for large messages): 2 log2(p) alpha + 2 (p - 1) / p * M / beta. The
  // update's compute per minibatch, measured with 1 rank, does not change with the rank count.
  if (one_reacher.updates && last.params) {
    const int p = 64;
    double per_update = one_reacher.learn / one_reacher.updates;
    double M = (double)ama_grad_message_bytes(last.params, p);
    const struct {
      const char* name;
      double alpha, beta;
    } nets[] = {{"10 Gbit/s Ethernet (latency 30 us, 1.1 GB/s)", 30e-6, 1.1e9},
                {"InfiniBand EDR (latency 2 us, 11 GB/s)", 2e-6, 11e9}};
    printf("projection to %d ranks (allreduce of %.0f kB; update compute %.2f ms per minibatch, "
           "measured with 1 rank):\n", p, M / 1e3, 1e3 * per_update);
    for (int i = 0; i < 2; i++) {
      double bw = 2.0 * (p - 1) / p * M / nets[i].beta;
      double ring = 2.0 * (p - 1) * nets[i].alpha + bw, rab = 2.0 * log2(p) * nets[i].alpha + bw;
      printf("  %-46s ring %.2f ms (%.1f %% of the update), halving-doubling %.2f ms (%.1f %%)\n",
             nets[i].name, 1e3 * ring, 100 * ring / (ring + per_update), 1e3 * rab,
             100 * rab / (rab + per_update));
    }
  }
  printf("load average %.1f at the end\n", loadavg());
  return 0;
}
