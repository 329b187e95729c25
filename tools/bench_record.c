// bench_record.c: `animat bench record`: what recording a dataset costs and gives. One stepping
// thread, the same seed and actions in both runs: (a) the rollout alone (policy forward + env
// pool), (b) the rollout while recording every channel (state export, row copies; the writer's
// background thread filters, compresses and writes). Rounds of (a) and (b) alternate in one run,
// the fastest of each is kept. Reports the overhead of the stepping loop as % of rollout time
// (fastest against fastest, and with 4 rounds or more the median of the rounds' own overheads,
// each recording rollout against the rollout alone just before it: a host whose speed drifts
// moves both; and the same in the stepping thread's CPU time, which leaves out the time the
// host (or the guest's kernel) ran other work),
// separately the time of closing the file (writing the chunks still queued, the index, fsync) and
// the CPU time of the whole process (both threads), then the compression ratio, MB per million
// steps and the reading speed (open + decode every channel of every episode: on one thread, then
// on --read-threads T, by default every core, each thread with its own reader). With --policy
// gru|lstm|rnn (the default gru) a fresh, untrained recurrent policy acts and its activity is
// recorded too; with --checkpoint RUN a trained one (on its own task). --lossy records as
// `animat record --lossy`.
// --anchors also compresses the same raw rows (each step's channels in table order, episode
// after episode) with `zstd -19` and `xz -9` (single-threaded, when installed), for reference.
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "amt_tasks.h"
#include "ana.h"
#include "cli.h"
#include "record_net.h"

// CPU seconds of the process (thread = 0: the stepping thread and the writer's), or of the calling
// thread (reading runs on it; OpenBLAS's idle workers spin in a young process)
static double cpu_now(int thread) {
  struct timespec ts;
  clock_gettime(thread ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef struct timing {
  double loop, close, cpu;  // stepping loop (s), am_rec_close (s), process CPU of loop + close (s)
  double loop_cpu;          // the stepping thread's CPU time in the loop (s)
  double rec;               // inside am_rec_step (s; part of loop)
} timing;

// One rollout of `steps` control steps per env; records to path when path != NULL.
static int run(const am_task* t, const char* policy, const char* ckpt, int lossy, int compact,
               int envs, long steps, const char* path, int64_t* rows, timing* tm, char* err,
               size_t err_sz) {
  am_pool_config pc = {.num_envs = envs, .num_threads = 1, .seed = 3, .export_state = path != NULL};
  am_pool* pool = am_pool_create(t, &pc, err, err_sz);
  if (!pool) return -1;
  am_batch* b = am_pool_batch(pool);
  netrec nr;
  memset(&nr, 0, sizeof nr);
  nr.compact = compact;
  am_rec* rec = NULL;
  int status = -1;
  if (ckpt) {
    if (ama_ckpt_load_policy(&nr.pol, ckpt, t->groups, t->n_groups, t->obs_dim, t->act_dim, envs,
                             err, err_sz))
      goto out;
    nr.loaded = 1;
  } else if (strcmp(policy, "random")) {
    ama_policy_cfg pcfg;
    ama_policy_cfg_default(&pcfg);
    snprintf(pcfg.core_type, sizeof pcfg.core_type, "%s", policy);
    snprintf(pcfg.motor_type, sizeof pcfg.motor_type, "%s", policy);
    if (ama_policy_init(&nr.pol, &pcfg, t->groups, t->n_groups, t->obs_dim, t->act_dim, 1, 1, envs,
                        3, err, err_sz))
      goto out;
    nr.loaded = 1;
  }
  if (netrec_setup(&nr, t, envs, nr.loaded ? AMA_ACT_POLICY : AMA_ACT_RANDOM, 0, 3, err, err_sz))
    goto out;
  if (path) {
    am_rec_config rc = {.path = path, .force = 1, .episodes = INT64_MAX / 2, .seed = 3,
                        .policy = ckpt ? ckpt : policy, .policy_step = -1, .lossy = lossy};
    if (!(rec = am_rec_create(pool, &rc, err, err_sz))) goto out;
    if (nr.loaded && netrec_channels(&nr, rec, err, err_sz)) goto out;
    if (am_rec_begin(rec, err, err_sz)) goto out;
  }
  tm->rec = 0;
  double t0 = am_now(), c0 = cpu_now(0), l0 = cpu_now(1);
  for (long s = 0; s < steps && !cli_interrupted; s++) {
    ama_actor_act(&nr.act, b->obs, b->actions);
    am_pool_step(pool);
    ama_actor_observe(&nr.act, b);
    if (rec) {
      double r0 = am_now();
      if (am_rec_step(rec, err, err_sz) < 0) goto out;
      tm->rec += am_now() - r0;
    }
  }
  tm->loop = am_now() - t0;
  tm->loop_cpu = cpu_now(1) - l0;
  tm->close = 0;
  if (rec) {
    *rows = am_rec_rows(rec);
    am_rec* r = rec;
    rec = NULL;
    double t1 = am_now();
    if (am_rec_close(r, err, err_sz)) goto out;  // queued chunks, the index, fsync
    tm->close = am_now() - t1;
  }
  tm->cpu = cpu_now(0) - c0;
  status = 0;
out:
  if (rec) am_rec_abort(rec);
  netrec_free(&nr);
  am_pool_free(pool);
  return status;
}

// Writes the raw rows of every episode of the dataset at path (each step's channels in table
// order) to raw, then compresses that with `cmd < raw | wc -c` for each anchor command.
static void anchors(const char* path, const char* raw, char* err, size_t err_sz) {
  am_ds_reader* r = am_ds_open(path, err, err_sz);
  FILE* f = r ? fopen(raw, "wb") : NULL;
  if (!f) {
    printf("  anchors: %s\n", r ? "cannot write the raw rows" : err);
    if (r) am_ds_reader_free(r);
    return;
  }
  int nc = am_ds_num_channels(r);
  size_t row = 0;
  for (int c = 0; c < nc; c++) row += am_ds_get_channel(r, c)->row_bytes;
  uint64_t total = 0;
  void** dst = calloc((size_t)nc, sizeof(void*));
  uint8_t* line = malloc(row + 1);
  for (int64_t i = 0; dst && line && i < am_ds_num_episodes(r); i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    for (int c = 0; c < nc; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps + 1);
    if (!am_ds_read_episode(r, i, dst, NULL, err, err_sz))
      for (int64_t s = 0; s < e->steps; s++) {
        size_t o = 0;
        for (int c = 0; c < nc; c++) {
          size_t rb = am_ds_get_channel(r, c)->row_bytes;
          memcpy(line + o, (uint8_t*)dst[c] + (size_t)s * rb, rb);
          o += rb;
        }
        total += fwrite(line, 1, row, f);
      }
    for (int c = 0; c < nc; c++) free(dst[c]);
  }
  free(line);
  free(dst);
  fclose(f);
  am_ds_reader_free(r);
  const char* cmds[] = {"zstd -19 -T1 -q -c", "xz -9 -T1 -c"};
  for (int k = 0; k < 2; k++) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "%s < '%s' 2>/dev/null | wc -c", cmds[k], raw);
    double t0 = am_now();
    FILE* p = popen(cmd, "r");
    unsigned long long n = 0;
    if (!p || fscanf(p, "%llu", &n) != 1) n = 0;
    if (p) pclose(p);
    if (n > 100)  // an empty output: the compressor is not installed
      printf("  anchor: %-20s ratio %.2f on the same %.1f MB of raw rows (%.1f s)\n", cmds[k],
             (double)total / n, total / 1e6, am_now() - t0);
    else
      printf("  anchor: %s not available\n", cmds[k]);
  }
  unlink(raw);
}

// The reading threads' shared counter of episodes, and each one's CPU seconds and failure.
typedef struct read_run {
  _Atomic int64_t next;
  double cpu[AM_DS_MAX_THREADS];
  int bad[AM_DS_MAX_THREADS];
  char err[AM_DS_MAX_THREADS][AM_ERR_LEN];
} read_run;

// One reading thread (am_ds_run_threads): every channel of the episodes it takes from the counter,
// decoded into arrays of its own.
static void read_part(am_ds_reader* r, int t, void* ctx) {
  read_run* v = ctx;
  double c0 = cpu_now(1);
  int nc = am_ds_num_channels(r), bad = 0;
  void** dst = calloc((size_t)nc, sizeof(void*));
  int64_t most = 0;  // each channel's array made once, for the longest episode
  for (int64_t i = 0; i < am_ds_num_episodes(r); i++)
    if (am_ds_get_episode(r, i)->steps > most) most = am_ds_get_episode(r, i)->steps;
  for (int c = 0; dst && c < nc; c++)
    if (!(dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)most + 1))) bad = 1;
  if (!dst || bad) snprintf(v->err[t], sizeof v->err[t], "out of memory"), bad = 1;
  for (int64_t i; !bad && (i = atomic_fetch_add(&v->next, 1)) < am_ds_num_episodes(r);)
    bad = am_ds_read_episode(r, i, dst, NULL, v->err[t], sizeof v->err[t]) != 0;
  for (int c = 0; dst && c < nc; c++) free(dst[c]);
  free(dst);
  v->bad[t] = bad;
  v->cpu[t] = cpu_now(1) - c0;
}

// Reads every channel of every episode of path on threads threads (am_ds_run_threads), repeat
// times; prints the best wall and CPU rates, or the error. 0 or -1.
static int read_speed(const char* path, int repeat, int threads) {
  char err[AM_ERR_LEN];
  double best = 1e30, best_cpu = 1e30;
  uint64_t fb = 0, sb = 0, rb = 0;
  int used = threads;
  read_run* v = malloc(sizeof *v);
  for (int k = 0; v && k < repeat; k++) {
    double t0 = am_now(), c0 = cpu_now(1);
    am_ds_reader* r = am_ds_open(path, err, sizeof err);
    if (!r) {
      printf("  reading: %s\n", err);
      break;
    }
    am_ds_sizes(r, &fb, &sb, &rb);
    memset(v, 0, sizeof *v);
    used = am_ds_run_threads(r, threads, read_part, v);
    am_ds_reader_free(r);
    int failed = -1;
    for (int t = used - 1; t >= 0; t--)
      if (v->bad[t]) failed = t;
    if (failed >= 0) {
      printf("  reading: %s\n", v->err[failed]);
      break;
    }
    double dt = am_now() - t0, dc = cpu_now(1) - c0;  // the calling thread's, then the others'
    for (int t = 1; t < used; t++) dc += v->cpu[t];
    if (dt < best) best = dt;
    if (dc < best_cpu) best_cpu = dc;
  }
  int ok = v && best < 1e30;
  if (!v) printf("  reading: out of memory\n");
  if (ok)
    printf("  reading: %.0f MB/s of decoded data (%.0f MB/s of file), all channels, all episodes, "
           "best of %d, %d thread%s; per CPU second: %.0f MB/s decoded\n", rb / 1e6 / best,
           fb / 1e6 / best, repeat, used, used > 1 ? "s" : "", rb / 1e6 / best_cpu);
  free(v);
  return ok ? 0 : -1;
}

int bench_record(int argc, char** argv) {
  const char* usage =
      "usage: animat bench record [--task NAME] [--policy gru|lstm|rnn|random] [--envs N]\n"
      "                           [--steps S] [--task-param K=V] [--out FILE] [--repeat R]\n"
      "                           [--checkpoint RUN] [--lossy] [--compact] [--anchors]\n"
      "                           [--read-threads T]\n"
      "                           | --read FILE [--repeat R] [--read-threads T]\n"
      "  --task NAME    task (default reach-center-out; body:rat for the bare rat)\n"
      "  --policy P     untrained recurrent policy of this cell type, or random (default gru)\n"
      "  --checkpoint RUN  a trained policy (run directory or checkpoint) instead, on its task\n"
      "  --lossy        record observations, sensordata and network activity lossy\n"
      "  --compact      record as `animat record --compact` (GRU and LSTM gates modelled)\n"
      "  --anchors      also compress the raw rows with zstd -19 and xz -9 (slow)\n"
      "  --read FILE    only measure reading FILE (every channel of every episode, R times)\n"
      "  --read-threads T  also read on T threads, each with its own reader (default: every\n"
      "                 core; reading is measured on one thread first)\n"
      "  --envs N       envs (default 16), one thread\n"
      "  --steps S      control steps per env (default 500)\n"
      "  --repeat R     alternate R rollouts with and without recording, keep the fastest (3)\n"
      "  --out FILE     dataset written (default /tmp/animat-bench-record.rollout, removed after)\n";
  const char* task_name = "reach-center-out";
  const char* policy = "gru";
  const char* out = "/tmp/animat-bench-record.rollout";
  const char* run_dir = NULL;
  const char* read_only = NULL;
  int envs = 16, repeat = 3, lossy = 0, compact = 0, with_anchors = 0;
  int read_threads = cli_cores(AM_DS_MAX_THREADS);
  double steps = 500;
  amt_params params = {0};
  cli_flag flags[] = {{"task", CLI_STRING, &task_name},
                      {"policy", CLI_STRING, &policy},
                      {"envs", CLI_INT, &envs, 1, 4096},
                      {"steps", CLI_DOUBLE, &steps, 1, 1e9},
                      {"repeat", CLI_INT, &repeat, 1, 100},
                      {"task-param", CLI_EACH, NULL, 0, 0, cli_task_param, &params},
                      {"out", CLI_STRING, &out},
                      {"checkpoint", CLI_STRING, &run_dir},
                      {"lossy", CLI_BOOL, &lossy},
                      {"compact", CLI_BOOL, &compact},
                      {"anchors", CLI_BOOL, &with_anchors},
                      {"read", CLI_STRING, &read_only},
                      {"read-threads", CLI_INT, &read_threads, 1, AM_DS_MAX_THREADS}};
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (read_only) {
    printf("bench record --read %s\n", read_only);
    if (read_speed(read_only, repeat, 1)) return 1;
    if (read_threads > 1 && read_speed(read_only, repeat, read_threads)) return 1;
    return 0;
  }
  cli_install_interrupt();
  char err[AM_ERR_LEN];
  char ckpt[1200] = "";
  amt_params ck_params = {0};
  if (run_dir) {  // the checkpoint's task and task parameters, then the command line's
    struct stat st;
    if (stat(run_dir, &st)) return cli_fail("bench", "cannot open %s", run_dir);
    snprintf(ckpt, sizeof ckpt, S_ISDIR(st.st_mode) ? "%s/checkpoint.bin" : "%s", run_dir);
    char* text = ama_ckpt_read_config(ckpt, err, sizeof err);
    if (!text) return cli_fail("bench", "%s", err);
    static ama_config acfg;
    ama_config_default(&acfg);
    rc = ama_config_parse(&acfg, text, ckpt, err, sizeof err);
    free(text);
    if (rc || amt_params_add_list(&ck_params, acfg.task_params, err, sizeof err))
      return cli_fail("bench", "%s", err);
    task_name = acfg.task;
    policy = "trained";
    for (int i = 0; i < params.n; i++) {
      char kv[400];
      snprintf(kv, sizeof kv, "%s=%s", params.key[i], params.value[i]);
      if (amt_params_add(&ck_params, kv, err, sizeof err)) return cli_fail("bench", "%s", err);
    }
    params = ck_params;
  }
  am_task t;
  if (amt_create(&t, task_name, &params, err, sizeof err)) return cli_fail("bench", "%s", err);
  printf("bench record: %s (nq %d, nu %d, na %d), %s policy%s%s, %d envs x %.0f steps, 1 thread%s%s\n",
         t.name, t.model->m->nq, t.model->m->nu, t.model->m->na, policy, run_dir ? " " : "",
         run_dir ? run_dir : "", envs, steps, lossy ? ", LOSSY" : "", compact ? ", compact" : "");
  fflush(stdout);
  timing base = {.loop = 1e30, .close = 1e30, .cpu = 1e30, .rec = 1e30};
  timing with = base;
  // each round's overhead, am_rec_step and stepping-thread CPU overhead, % of its rollout alone
  double pair[100], pair_rec[100], pair_cpu[100];
  int64_t rows = 0;
  for (int k = 0; k < repeat; k++) {
    timing a, b;
    const char* ck = run_dir ? ckpt : NULL;
    if (run(&t, policy, ck, lossy, compact, envs, (long)steps, NULL, &rows, &a, err, sizeof err) ||
        run(&t, policy, ck, lossy, compact, envs, (long)steps, out, &rows, &b, err, sizeof err)) {
      amt_destroy(&t);
      return cli_fail("bench", "%s", err);
    }
    pair[k] = 100 * (b.loop - a.loop) / a.loop;
    pair_rec[k] = 100 * b.rec / a.loop;
    pair_cpu[k] = 100 * (b.loop_cpu - a.loop_cpu) / a.loop_cpu;
    if (a.loop < base.loop) base.loop = a.loop;
    if (a.cpu < base.cpu) base.cpu = a.cpu;
    if (b.loop < with.loop) with.loop = b.loop;
    if (b.rec < with.rec) with.rec = b.rec;
    if (b.close < with.close) with.close = b.close;
    if (b.cpu < with.cpu) with.cpu = b.cpu;
  }
  printf("  rollout alone          %8.3f s  (%.0f steps/s), best of %d\n", base.loop, rows / base.loop,
         repeat);
  printf("  rollout + recording    %8.3f s  overhead %.2f %% of rollout time (stepping loop)\n",
         with.loop, 100 * (with.loop - base.loop) / base.loop);
  printf("  in am_rec_step         %8.3f s  (row copies, waits for a free chunk buffer: %.2f %%)\n",
         with.rec, 100 * with.rec / base.loop);
  if (repeat >= 4) {  // (ana_median sorts)
    double m = ana_median(pair, repeat), mr = ana_median(pair_rec, repeat);
    printf("  round by round         overhead median %.2f %%, middle half %.2f to %.2f %%; "
           "am_rec_step median %.2f %% (%d rounds)\n",
           m, pair[repeat / 4], pair[repeat - 1 - repeat / 4], mr, repeat);
    double mc = ana_median(pair_cpu, repeat);
    printf("  stepping thread's CPU  overhead median %.2f %%, middle half %.2f to %.2f %% (time "
           "the host gave other work is not counted)\n",
           mc, pair_cpu[repeat / 4], pair_cpu[repeat - 1 - repeat / 4]);
  }
  printf("  closing the file       %8.3f s  (queued chunks, index, fsync; %.2f %% of rollout time)\n",
         with.close, 100 * with.close / base.loop);
  printf("  CPU, both threads      %8.3f s vs %.3f s alone: +%.1f %% (loop and close)\n", with.cpu,
         base.cpu, 100 * (with.cpu - base.cpu) / base.cpu);
  am_ds_reader* r = am_ds_open(out, err, sizeof err);
  if (!r) {
    amt_destroy(&t);
    return cli_fail("bench", "%s", err);
  }
  uint64_t fb, sb, rb;
  am_ds_sizes(r, &fb, &sb, &rb);
  size_t row = 0;
  int nc = am_ds_num_channels(r);
  for (int c = 0; c < nc; c++) row += am_ds_get_channel(r, c)->row_bytes;
  printf("  %d channels, %zu bytes per step raw; %lld steps in %lld episodes\n", nc, row,
         (long long)rows, (long long)am_ds_num_episodes(r));
  printf("  file %.2f MB, compression ratio %.2f, %.1f MB per million steps\n", fb / 1e6,
         (double)rb / sb, fb / 1e6 / (rows / 1e6));
  am_ds_reader_free(r);
  if (!read_speed(out, repeat, 1) && read_threads > 1) read_speed(out, repeat, read_threads);
  if (with_anchors) {
    char raw[1100];
    snprintf(raw, sizeof raw, "%s.raw", out);
    anchors(out, raw, err, sizeof err);
  }
  unlink(out);
  amt_destroy(&t);
  return 0;
}
