// cmd_bench_agents.c: benchmarks of the agents, registered in `animat bench` (tools/cmd_bench.c):
//   gru       one GRU update (forward + BPTT + Adam; input 64, hidden 128, T 32, B 64)
//             timed here and in PyTorch (tools/bench_gru_torch.py) in the same run: a ratio
//   overhead  training throughput (env steps/s with learning) vs the env pool alone
//   learn     reacher learning parity: return after N env steps over several seeds
// Nothing here is a test assertion; numbers go to stdout for docs/benchmarks.md.
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ama_agents.h"
#include "amt_tasks.h"
#include "cli.h"

// One half of the batch: forward + BPTT into its own gradient buffer (what the learner does on
// its two threads, see ama_ppo.c).
typedef struct gru_part {
  ama_cell* c;
  ama_params p;  // shares w with the whole; own g
  ama_cell_cache k;
  int T, B;
  float *x, *dx, *h0, *dy;
} gru_part;

static void* gru_part_run(void* arg) {
  gru_part* q = arg;
  ama_cell_forward(q->c, &q->p, &q->k, q->T, q->B, q->x, q->h0, NULL, NULL, NULL);
  memset(q->p.g, 0, sizeof(float) * q->p.count);
  ama_cell_backward(q->c, &q->p, &q->k, q->T, q->B, q->x, NULL, q->dy, q->dx);
  return NULL;
}

// Seconds per GRU update (best of `rounds` blocks of `reps`). mode 1: one thread; mode 2: the batch
// in two halves on two threads, gradients summed, one Adam step: the learner's scheme. (The cells'
// products are animat's own, agents/ama_gemm.c: OpenBLAS's thread count does not apply.)
static double gru_update_time(int I, int H, int T, int B, int mode, int reps, int rounds) {
  char err[256];
  ama_params p = {0};
  ama_cell c;
  ama_cell_cfg cfg = {.type = AMA_CELL_GRU, .in = I, .hidden = H};
  if (ama_cell_init(&c, &cfg, &p, "gru", err, sizeof(err)) || ama_params_alloc(&p, err, sizeof(err)))
    return -1;
  am_rng rng;
  am_rng_seed(&rng, 1, 2);
  ama_cell_init_weights(&c, &p, &rng);
  int parts = mode == 2 ? 2 : 1, Bp = B / parts;
  gru_part q[2];
  for (int h = 0; h < parts; h++) {
    q[h].c = &c;
    q[h].p = p;
    q[h].p.g = h == 0 ? p.g : calloc(p.count, sizeof(float));
    q[h].T = T;
    q[h].B = Bp;
    if (ama_cell_cache_alloc(&q[h].k, &c, T, Bp, err, sizeof(err))) return -1;
    q[h].x = malloc(sizeof(float) * T * Bp * I);
    q[h].dx = malloc(sizeof(float) * T * Bp * I);
    q[h].h0 = calloc((size_t)Bp * H, sizeof(float));
    q[h].dy = malloc(sizeof(float) * T * Bp * H);
    for (int i = 0; i < T * Bp * I; i++) q[h].x[i] = (float)am_rng_range(&rng, -1, 1);
    for (int i = 0; i < T * Bp * H; i++) q[h].dy[i] = (float)am_rng_range(&rng, -1, 1) * 1e-3f;
  }
  double best = 1e30;
  for (int r = 0; r < rounds + 1; r++) {  // round 0 warms up
    double t0 = am_now();
    for (int i = 0; i < reps; i++) {
      pthread_t th;
      int threaded = parts == 2 && pthread_create(&th, NULL, gru_part_run, &q[1]) == 0;
      gru_part_run(&q[0]);
      if (threaded) pthread_join(th, NULL);
      else if (parts == 2) gru_part_run(&q[1]);
      if (parts == 2)
        for (size_t j = 0; j < p.count; j++) p.g[j] += q[1].p.g[j];
      ama_adam_step(&p, 1e-4f, 0.9f, 0.999f, 1e-8f);
    }
    double dt = (am_now() - t0) / reps;
    if (r > 0 && dt < best) best = dt;
  }
  for (int h = 0; h < parts; h++) {
    free(q[h].x), free(q[h].dx), free(q[h].h0), free(q[h].dy);
    if (h) free(q[h].p.g);
    ama_cell_cache_free(&q[h].k);
  }
  ama_cell_free(&c);
  ama_params_free(&p);
  return best;
}

int bench_gru(int argc, char** argv) {
  int I = 64, H = 128, T = 32, B = 64, reps = 50, rounds = 5, torch = 1, repeats = 3;
  // next to the bodies in the source tree: <source>/tools/bench_gru_torch.py
  const char* py = ANIMAT_BODIES_DIR "/../tools/bench_gru_torch.py";
  const char* usage =
      "usage: animat bench gru [--in 64] [--hidden 128] [--T 32] [--B 64] [--reps 50]\n"
      "                              [--rounds 5] [--repeats 3] [--no-torch] [--script PATH]\n"
      "  PATH defaults to the source tree's tools/bench_gru_torch.py (run with Debian's python3)\n";
  int no_torch = 0;
  cli_flag flags[] = {
      {"in", CLI_INT, &I, 1, 4096},       {"hidden", CLI_INT, &H, 1, 4096},
      {"T", CLI_INT, &T, 1, 4096},        {"B", CLI_INT, &B, 1, 4096},
      {"reps", CLI_INT, &reps, 1, 1 << 20}, {"rounds", CLI_INT, &rounds, 1, 1000},
      {"no-torch", CLI_BOOL, &no_torch},  {"script", CLI_STRING, &py},
      {"repeats", CLI_INT, &repeats, 1, 100},
  };
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  torch = !no_torch;
  printf("bench gru: one update = forward + BPTT (incl. d input) + Adam; in %d hidden %d T %d B %d;"
         " %d repeats of animat then PyTorch, each the best of %d blocks of %d updates\n",
         I, H, T, B, repeats, rounds, reps);
  static const char* modes[3] = {"", "1 thread", "2 threads, batch halves"};
  char cmd[1024];
  // Debian's python3-torch lives under /usr/bin/python3 (a pyenv python3 on PATH may lack it)
  const char* python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  snprintf(cmd, sizeof(cmd), "%s %s --in %d --hidden %d --T %d --B %d --reps %d --rounds %d",
           python, py, I, H, T, B, reps, rounds);
  // The two sides alternate, so that both sample the same stretch of a shared machine's load.
  double best_c = 1e30, best_t = 1e30;
  int best_mode = 1;
  for (int r = 0; r < repeats; r++) {
    double rep_c = 1e30;
    for (int mode = 1; mode <= 2; mode++) {
      double t = gru_update_time(I, H, T, B, mode, reps, rounds);
      if (t <= 0) return cli_fail("bench", "out of memory for the GRU benchmark");
      printf("  [%d] animat (%s): %.3f ms/update\n", r + 1, modes[mode], t * 1e3);
      if (t < rep_c) rep_c = t;
      if (t < best_c) best_c = t, best_mode = mode;
    }
    if (!torch) continue;
    FILE* f = popen(cmd, "r");
    if (!f) return cli_fail("bench", "cannot run %s", cmd);
    char line[512];
    double rep_t = -1;
    while (fgets(line, sizeof(line), f)) {
      double v;
      if (sscanf(line, "best_ms %lf", &v) == 1) rep_t = v / 1e3;
      else printf("  [%d] %s", r + 1, line);
    }
    if (pclose(f) != 0 || rep_t <= 0)
      return cli_fail("bench", "PyTorch reference failed (is python3-torch installed?)");
    printf("  [%d] this repeat: animat is %.2fx PyTorch\n", r + 1, rep_t / rep_c);
    if (rep_t < best_t) best_t = rep_t;
  }
  if (!torch) return 0;
  printf("  best animat %.3f ms (%s), best PyTorch %.3f ms: animat is %.2fx PyTorch\n",
         best_c * 1e3, modes[best_mode], best_t * 1e3, best_t / best_c);
  return 0;
}

// The task of a benchmark: --task NAME when given (its default parameters), else the
// configuration's task with its task_params ("k=v;k=v"; the default configuration: reacher).
static int make_task(const char* name, const ama_config* cfg, am_task* t, char* err, size_t n) {
  amt_params params = {0};
  if (!name) {
    if (amt_params_add_list(&params, cfg->task_params, err, n)) return -1;
    name = cfg->task;
  }
  return amt_create(t, name, &params, err, n);
}

// Applies a configuration file (`key = value` lines) to cfg. Returns 0, or 1 after printing why.
static int load_config(ama_config* cfg, const char* path) {
  char err[1024];
  char* text = am_read_text(path, NULL, err, sizeof(err));
  if (!text) return cli_fail("bench", "%s", err);
  int rc = ama_config_parse(cfg, text, path, err, sizeof(err));
  free(text);
  return rc ? cli_fail("bench", "%s", err) : 0;
}

int bench_overhead(int argc, char** argv) {
  const char* task_name = NULL;
  int envs = 0, threads = 2, iters = 30;
  const char* config_file = NULL;
  const char* usage =
      "usage: animat bench overhead [--config FILE] [--task NAME] [--envs N] [--threads 2]\n"
      "                                   [--iters 30]\n"
      "  task and envs default to the configuration's (without --config: reacher, 64 envs)\n";
  cli_flag flags[] = {
      {"task", CLI_STRING, &task_name},    {"envs", CLI_INT, &envs, 1, 4096},
      {"threads", CLI_INT, &threads, 1, 64}, {"iters", CLI_INT, &iters, 1, 100000},
      {"config", CLI_STRING, &config_file},
  };
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  char err[1024];
  ama_config cfg;
  ama_config_default(&cfg);
  if (config_file && load_config(&cfg, config_file)) return 1;
  if (envs) cfg.num_envs = envs;
  envs = cfg.num_envs;
  am_task t;
  if (make_task(task_name, &cfg, &t, err, sizeof(err))) return cli_fail("bench", "%s", err);
  if (!task_name) task_name = cfg.task;
  am_pool_config pc = {.num_envs = envs, .num_threads = threads, .seed = 1};
  // (a) the env pool alone, constant zero actions
  am_pool* pool = am_pool_create(&t, &pc, err, sizeof(err));
  if (!pool) return cli_fail("bench", "%s", err);
  int steps_per_iter = cfg.ppo.horizon;
  double best_pool = 0, best_train = 0, best_roll = 0, learn_frac = 0;
  ama_ppo* L = ama_ppo_create(&cfg, pool, err, sizeof(err));
  if (!L) return cli_fail("bench", "%s", err);
  ama_iter_stats st;
  ama_ppo_iterate(L, &st);  // warm up
  for (int round = 0; round < 3; round++) {
    am_batch* b = am_pool_batch(pool);
    memset(b->actions, 0, sizeof(float) * envs * t.act_dim);
    double t0 = am_now();
    for (int i = 0; i < iters * steps_per_iter; i++) am_pool_step(pool);
    double r_pool = (double)iters * steps_per_iter * envs / (am_now() - t0);
    t0 = am_now();
    for (int i = 0; i < iters; i++) ama_ppo_rollout_only(L);
    double r_roll = (double)iters * steps_per_iter * envs / (am_now() - t0);
    t0 = am_now();
    double ls = 0, rs = 0;
    for (int i = 0; i < iters; i++) {
      ama_ppo_iterate(L, &st);
      ls += st.learn_s;
      rs += st.rollout_s;
    }
    double r_train = (double)iters * steps_per_iter * envs / (am_now() - t0);
    if (r_pool > best_pool) best_pool = r_pool;
    if (r_roll > best_roll) best_roll = r_roll;
    if (r_train > best_train) best_train = r_train, learn_frac = ls / (ls + rs);
  }
  printf("bench overhead: %s, %d envs, %d threads, horizon %d, epochs %d, minibatches %d, core "
         "%s(%d) motor %s(%d); best of 3 alternating rounds of %d iterations\n",
         task_name, envs, am_pool_num_threads(pool), cfg.ppo.horizon, cfg.ppo.epochs,
         cfg.ppo.minibatches, cfg.policy.core_type, cfg.policy.core_hidden, cfg.policy.motor_type,
         cfg.policy.motor_hidden, iters);
  printf("  env pool alone:          %9.0f env steps/s\n", best_pool);
  printf("  pool + policy (acting):  %9.0f env steps/s  (%.2f of pool alone)\n", best_roll,
         best_roll / best_pool);
  printf("  training (act + learn):  %9.0f env steps/s  (%.2f of pool alone)\n", best_train,
         best_train / best_pool);
  printf("  learning share of training wall time: %.1f %%\n", 100 * learn_frac);
  printf("  overhead vs pool alone (1 - train/pool): %.1f %%\n", 100 * (1 - best_train / best_pool));
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&t);
  return 0;
}

// Mean return of the deterministic policy (action = mean) over `episodes` episodes per env.
static double evaluate(ama_ppo* L, const am_task* t, int envs, int episodes, uint64_t seed,
                       char* err, size_t n) {
  am_pool_config pc = {.num_envs = envs, .num_threads = 1, .seed = seed};
  am_pool* pool = am_pool_create(t, &pc, err, n);
  if (!pool) return NAN;
  ama_policy* src = ama_ppo_policy(L);
  // a policy with acting state for `envs` envs sharing the trained weights and normaliser
  ama_policy p;
  if (ama_policy_init(&p, &src->cfg, t->groups, t->n_groups, t->obs_dim, t->act_dim, 1, 1, envs,
                      1, err, n)) {
    am_pool_free(pool);
    return NAN;
  }
  memcpy(p.params.w, src->params.w, sizeof(float) * src->params.count);
  memcpy(p.norm.scale, src->norm.scale, sizeof(float) * t->obs_dim);
  memcpy(p.norm.shift, src->norm.shift, sizeof(float) * t->obs_dim);
  ama_actor ac;
  ama_actor_cfg acfg = {.kind = AMA_ACT_POLICY, .deterministic = 1, .seed = seed};
  if (ama_actor_init(&ac, &acfg, &p, t, envs, err, n)) {
    ama_policy_free(&p);
    am_pool_free(pool);
    return NAN;
  }
  am_batch* b = am_pool_batch(pool);
  double sum = 0;
  int count = 0;
  int* done = calloc(envs, sizeof(int));
  double* ret = calloc(envs, sizeof(double));
  while (count < envs * episodes) {
    ama_actor_act(&ac, b->obs, b->actions);
    am_pool_step(pool);
    ama_actor_observe(&ac, b);
    for (int i = 0; i < envs; i++) {
      ret[i] += b->rewards[i];
      if (b->terminated[i] || b->truncated[i]) {
        if (done[i] < episodes) sum += ret[i], count++;
        done[i]++;
        ret[i] = 0;
      }
    }
  }
  free(done), free(ret);
  ama_actor_free(&ac);
  ama_policy_free(&p);
  am_pool_free(pool);
  return sum / count;
}

int bench_learn(int argc, char** argv) {
  const char* task_name = NULL;
  const char* config_file = NULL;
  double steps = 1e6;
  int seeds = 3, threads = 2;
  const char* usage =
      "usage: animat bench learn [--config FILE] [--task NAME] [--steps 1e6] [--seeds 3]\n"
      "                                [--threads 2]\n"
      "  the task defaults to the configuration's (without --config: reacher)\n";
  cli_flag flags[] = {
      {"task", CLI_STRING, &task_name}, {"steps", CLI_DOUBLE, &steps, 1000, 1e12},
      {"seeds", CLI_INT, &seeds, 1, 100}, {"threads", CLI_INT, &threads, 1, 64},
      {"config", CLI_STRING, &config_file},
  };
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  char err[1024];
  ama_config base;
  ama_config_default(&base);
  if (config_file && load_config(&base, config_file)) return 1;
  base.total_steps = (int64_t)steps;
  am_task t;
  if (make_task(task_name, &base, &t, err, sizeof(err))) return cli_fail("bench", "%s", err);
  if (!task_name) task_name = base.task;
  printf("bench learn: %s, %.0f env steps per seed, %d envs, %d threads, core %s(%d) motor %s(%d)\n",
         task_name, steps, base.num_envs, threads, base.policy.core_type, base.policy.core_hidden,
         base.policy.motor_type, base.policy.motor_hidden);
  double sum_train = 0, sum_eval = 0, sum_time = 0;
  for (int s = 1; s <= seeds; s++) {
    ama_config cfg = base;
    cfg.seed = (uint64_t)s;
    am_pool_config pc = {.num_envs = cfg.num_envs, .num_threads = threads, .seed = cfg.seed};
    am_pool* pool = am_pool_create(&t, &pc, err, sizeof(err));
    if (!pool) return cli_fail("bench", "%s", err);
    ama_ppo* L = ama_ppo_create(&cfg, pool, err, sizeof(err));
    if (!L) return cli_fail("bench", "%s", err);
    double t0 = am_now();
    ama_iter_stats st;
    // training return: mean over the episodes of the last 5 % of the steps
    double tail_sum = 0;
    int tail_n = 0;
    while (ama_ppo_env_steps(L) < cfg.total_steps) {
      ama_ppo_iterate(L, &st);
      int stable = st.episodes - st.unstable;  // mean_return covers the stable episodes only
      if (st.env_steps >= 0.95 * cfg.total_steps && stable > 0)
        tail_sum += st.mean_return * stable, tail_n += stable;
    }
    double wall = am_now() - t0;
    double ev = evaluate(L, &t, 50, 2, 1000 + s, err, sizeof(err));
    double tr = tail_n ? tail_sum / tail_n : NAN;
    printf("  seed %d: training return (last 5%%) %.3f, deterministic eval (100 episodes) %.3f, "
           "%.1f s, %.0f steps/s\n",
           s, tr, ev, wall, ama_ppo_env_steps(L) / wall);
    fflush(stdout);
    sum_train += tr;
    sum_eval += ev;
    sum_time += wall;
    ama_ppo_free(L);
    am_pool_free(pool);
  }
  printf("  mean over %d seeds: training return %.3f, eval return %.3f, wall time %.1f s per seed\n",
         seeds, sum_train / seeds, sum_eval / seeds, sum_time / seeds);
  amt_destroy(&t);
  return 0;
}
