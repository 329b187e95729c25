// cmd_train.c: `animat train`: trains the hierarchical recurrent policy on a task with PPO (or
// evolution strategies: learner = es; node perturbation: learner = hebbian; docs/biology.md).
//
// The run directory (--out) receives config.txt (the full configuration, loadable with --config),
// metrics.csv (one row per iteration), checkpoint.bin (rewritten atomically every
// --checkpoint-every seconds, at the end, and on Ctrl-C). --resume DIR continues a run exactly
// where its checkpoint left it (same numbers as an uninterrupted run for the same seed).
//
// Faults (docs/training.md, "When things go wrong"): the run directory is locked (flock on
// DIR/.lock, held for the process lifetime) so a second writer is refused; --resume refuses a
// checkpoint whose configuration differs from the run's config.txt; on resume metrics.csv keeps
// only the complete rows its checkpoint covers (rewritten atomically); episodes cut by a physics
// blow-up are counted (metrics column `unstable`, the progress line) and left out of the mean
// return, with a warning when they exceed UNSTABLE_WARN_FRAC of an iteration's episodes.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ama_agents.h"
#include "amt_tasks.h"
#include "cli.h"
#include "mpi_comm.h"

static const char* USAGE =
    "usage: animat train --task NAME [--steps N] [--envs N] [--threads T] [--seed S] [--out DIR]\n"
    "                    [--task-param k=v]... [--config FILE] [--set key=value]...\n"
    "                    [--resume DIR] [--checkpoint-every SEC] [--quiet] [--force]\n"
    "                    [--record-every N [--record-episodes E] [--record-param k=v]...]\n"
    "                    [--budget MINUTES]\n"
    "  --task NAME             task to train on (see `animat tasks`; default reacher)\n"
    "  --steps N               env steps to train for (default 1e6; with --resume: the new total,\n"
    "                          more than the run has done)\n"
    "  --envs N                parallel envs (default 64)\n"
    "  --threads T             env worker threads (default 2); results do not depend on it\n"
    "  --seed S                seed of everything (default 1)\n"
    "  --out DIR               run directory (default runs/TASK-sSEED)\n"
    "  --task-param k=v        task parameter (repeatable; merged into the config's task_params)\n"
    "  --config FILE           configuration file of `key = value` lines (as in config.txt)\n"
    "  --set key=value         one configuration key (repeatable; after --config)\n"
    "  --core/--motor TYPE     cell type of a module: gru, lstm, rnn, mlp\n"
    "  --core-hidden/--motor-hidden N, --core-tick K   module sizes; core update period\n"
    "  --resume DIR            continue the run in DIR from its checkpoint\n"
    "  --checkpoint-every SEC  seconds between checkpoints (default 60)\n"
    "  --quiet                 print only errors and the final summary\n"
    "  --force                 start over in a run directory that already holds a run\n"
    "  --record-every N        every N env steps, record E evaluation episodes of the current\n"
    "                          policy (mean action) to DIR/recordings/step-<steps>.rollout\n"
    "  --record-episodes E     episodes per evaluation recording (default 10)\n"
    "  --record-param k=v      task parameter of the evaluation recordings only (repeatable; over\n"
    "                          the training's, e.g. a curriculum's end for the published task)\n"
    "  --budget MINUTES        stop at the end of the first iteration past this wall time, with a\n"
    "                          checkpoint (continue with --resume); the steps then depend on the\n"
    "                          machine's speed, the run up to them on the seed alone\n"
    "configuration keys (--set / config files):\n";

// metrics.csv's columns (one row per iteration)
static const char METRICS_HEADER[] =
    "iteration,env_steps,wall_s,steps_per_s,episodes,unstable,mean_return,mean_length,success,lr,"
    "loss,pg_loss,v_loss,entropy,approx_kl,clip_frac,anchor_kl,updates,grad_norm,explained_var,"
    "action_std,rollout_s,learn_s\n";

// Unstable episodes above this fraction of an iteration's episodes are warned about, at most once
// every UNSTABLE_WARN_EVERY iterations.
#define UNSTABLE_WARN_FRAC 0.05
#define UNSTABLE_WARN_EVERY 10

typedef struct sets {
  int n;
  char kv[64][600];
} sets;

static int add_set(const char* v, void* ctx, char* err, size_t err_sz) {
  sets* s = ctx;
  if (s->n >= 64) return am_err(err, err_sz, "--set: more than 64 keys (use --config FILE)");
  if (strlen(v) >= sizeof s->kv[0])
    return am_err(err, err_sz, "--set '%s': longer than %zu chars", v, sizeof s->kv[0] - 1);
  snprintf(s->kv[s->n++], 600, "%s", v);
  return 0;
}

// Merges the command line's --task-param into the configuration's task_params ("k=v;k=v"): a key
// given again takes the new value in its place, new keys are appended.
static int merge_task_params(ama_config* cfg, const amt_params* extra, char* err, size_t err_sz) {
  static amt_params all;
  memset(&all, 0, sizeof all);
  if (amt_params_add_list(&all, cfg->task_params, err, err_sz)) return -1;
  for (int i = 0; i < extra->n; i++) {
    char kv[sizeof all.key[0] + sizeof all.value[0] + 2];
    snprintf(kv, sizeof kv, "%s=%s", extra->key[i], extra->value[i]);
    if (amt_params_add(&all, kv, err, err_sz)) return -1;
  }
  char text[4 * sizeof cfg->task_params];
  size_t n = 0;
  for (int i = 0; i < all.n; i++) {
    int last = i, first = 1;
    for (int j = 0; j < all.n; j++)
      if (!strcmp(all.key[j], all.key[i])) {
        if (j < i) first = 0;
        last = j;
      }
    if (first && n < sizeof text)
      n += (size_t)snprintf(text + n, sizeof text - n, "%s%s=%s", n ? ";" : "", all.key[i],
                            all.value[last]);
  }
  if (n >= sizeof text) return am_err(err, err_sz, "task parameters too long");
  return ama_config_set(cfg, "task_params", text, err, err_sz);
}

static int mkdirs(const char* path) {
  char buf[1024];
  snprintf(buf, sizeof(buf), "%s", path);
  for (char* p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(buf, 0755) && errno != EEXIST) return -1;
      *p = '/';
    }
  if (mkdir(buf, 0755) && errno != EEXIST) return -1;
  return 0;
}

static void fmt_time(double s, char* out, size_t n) {
  if (!isfinite(s) || s < 0) snprintf(out, n, "?");
  else if (s < 60) snprintf(out, n, "%.0fs", s);
  else if (s < 3600) snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
  else snprintf(out, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

// Saves a checkpoint and records `episodes` evaluation episodes of it (mean action) into
// OUT/recordings/step-<steps>.rollout with `animat record` (its summary line silenced when quiet).
// With several ranks every rank saves (collective) and rank 0 alone records. Returns 0 or -1
// (message printed).
static int record_eval(ama_ppo* L, const char* out, const char* ckpt, int64_t steps, int episodes,
                       const amt_params* params, int threads, int quiet, int rank, char* err,
                       size_t err_sz) {
  if (ama_ckpt_save(L, ckpt, err, err_sz)) return cli_fail("train", "%s", err), -1;
  if (rank) return 0;
  char dir[1200], path[1300], a_eps[16], a_thr[16];
  snprintf(dir, sizeof(dir), "%s/recordings", out);
  if (mkdirs(dir)) return cli_fail("train", "cannot create %s: %s", dir, strerror(errno)), -1;
  snprintf(path, sizeof(path), "%s/step-%lld.rollout", dir, (long long)steps);
  snprintf(a_eps, sizeof(a_eps), "%d", episodes);
  snprintf(a_thr, sizeof(a_thr), "%d", threads);
  static char kv[AMT_MAX_PARAMS][sizeof params->key[0] + sizeof params->value[0] + 2];
  char* rargs[12 + 2 * AMT_MAX_PARAMS] = {"record", (char*)ckpt, "--episodes", a_eps, "--out",
                                          path, "--deterministic", "--quiet", "--threads", a_thr,
                                          "--force"};
  int nargs = 11;
  for (int i = 0; i < params->n; i++) {
    snprintf(kv[i], sizeof kv[i], "%s=%s", params->key[i], params->value[i]);
    rargs[nargs++] = "--task-param";
    rargs[nargs++] = kv[i];
  }
  fflush(stdout);
  int saved = quiet ? dup(fileno(stdout)) : -1, null = saved >= 0 ? open("/dev/null", O_WRONLY) : -1;
  if (null >= 0) dup2(null, fileno(stdout));
  int rc = cmd_record(nargs, rargs);
  fflush(stdout);
  if (null >= 0) {
    dup2(saved, fileno(stdout));
    close(null);
  }
  if (saved >= 0) close(saved);
  if (rc && !cli_interrupted) return cli_fail("train", "evaluation recording failed"), -1;
  return 0;
}


// Locks the run directory for this process's lifetime: flock on DIR/.lock (released by the kernel
// when the process ends, however it ends, kill -9 included), which then holds the PID. Returns the
// descriptor, or -1 after printing why (another train holds it: the directory and its PID).
static int lock_run_dir(const char* dir) {
  char path[1100];
  snprintf(path, sizeof path, "%s/.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return cli_fail("train", "cannot create %s: %s", path, strerror(errno)), -1;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int busy = errno == EWOULDBLOCK;
    char pid[32] = "";
    ssize_t n = busy ? pread(fd, pid, sizeof pid - 1, 0) : -1;
    pid[n > 0 ? n : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    close(fd);
    if (!busy) return cli_fail("train", "cannot lock %s: %s", path, strerror(errno)), -1;
    return cli_fail("train", "run directory %s is in use by another train (PID %s, holding %s); "
                    "wait for it to finish or stop it", dir, pid[0] ? pid : "unknown", path), -1;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)len, 0) != len) {}  // the PID is a courtesy
  return fd;
}

static int count_fields(const char* line, size_t len) {
  int n = 1;
  for (size_t i = 0; i < len; i++) n += line[i] == ',';
  return n;
}

// A relative load_path (or load_extra_path) made absolute, so that the run's config.txt and
// checkpoint name the file wherever the run is later resumed from (--resume reloads it: with an
// anchor it is the reference policy). A path that does not resolve is left for the learner's
// error, which names it; one too long for the field is left as given.
static void absolute_load_paths(ama_config* cfg) {
  struct { char* path; size_t size; } f[2] = {{cfg->load_path, sizeof cfg->load_path},
                                              {cfg->load_extra_path, sizeof cfg->load_extra_path}};
  for (int i = 0; i < 2; i++) {
    char* full;
    if (!f[i].path[0] || f[i].path[0] == '/' || !(full = realpath(f[i].path, NULL))) continue;
    if (strlen(full) < f[i].size) strcpy(f[i].path, full);
    free(full);
  }
}

// On resume: keeps metrics.csv's header and the complete rows its checkpoint covers (a row ending
// in a newline, with as many fields as the file's header, whose iteration is a whole number <= the
// checkpoint's), drops the rest (rows written after the checkpoint, a row torn by a crash), and
// rewrites the file atomically in the current columns (a column the old file lacks is "nan").
// Returns 0 or -1 (message printed).
static int trim_metrics(const char* path, long long last_iter, int quiet) {
  char err[1200];
  size_t n = 0;
  char* text = am_read_text(path, &n, err, sizeof err);
  if (!text) return cli_fail("train", "%s", err), -1;
  am_buf o = {0};
  am_buf_append(&o, METRICS_HEADER, strlen(METRICS_HEADER));
  const char* hdr_end = memchr(text, '\n', n);
  int kept = 0, dropped = 0;
  if (hdr_end) {
    size_t hlen = (size_t)(hdr_end - text);
    int old_cols = count_fields(text, hlen);
    // where each current column sits in the old header (-1: absent)
    int map[64], new_cols = 0;
    for (const char* c = METRICS_HEADER; *c && new_cols < 64; new_cols++) {
      size_t k = strcspn(c, ",\n");
      map[new_cols] = -1;
      const char* h = text;
      for (int j = 0; j < old_cols; j++) {
        size_t hk = strcspn(h, ",\n");
        if (hk == k && !memcmp(h, c, k)) map[new_cols] = j;
        h += hk + 1;
      }
      c += k + (c[k] ? 1 : 0);
    }
    int same = hlen + 1 == strlen(METRICS_HEADER) && !memcmp(text, METRICS_HEADER, hlen);
    for (const char* line = hdr_end + 1; line < text + n;) {
      const char* nl = memchr(line, '\n', (size_t)(text + n - line));
      size_t len = nl ? (size_t)(nl - line) : (size_t)(text + n - line);
      char* end = NULL;
      long long it = strtoll(line, &end, 10);
      int ok = nl && len && end > line && *end == ',' && line[0] != '-' && line[0] != '+' &&
               it <= last_iter && count_fields(line, len) == old_cols;
      if (ok && same) {
        am_buf_append(&o, line, len + 1);
      } else if (ok) {
        const char* fields[64];
        size_t flen[64];
        const char* f = line;
        for (int j = 0; j < old_cols && j < 64; j++) {
          fields[j] = f;
          flen[j] = strcspn(f, ",\n");
          f += flen[j] + 1;
        }
        for (int c = 0; c < new_cols; c++) {
          if (c) am_buf_append(&o, ",", 1);
          if (map[c] >= 0 && map[c] < 64) am_buf_append(&o, fields[map[c]], flen[map[c]]);
          else am_buf_append(&o, "nan", 3);
        }
        am_buf_append(&o, "\n", 1);
      }
      kept += ok;
      dropped += !ok;
      line += len + (nl ? 1 : 0);
    }
  }
  free(text);
  int rc = am_write_file_atomic(path, o.p, o.len, err, sizeof err);
  am_buf_free(&o);
  if (rc) cli_fail("train", "%s", err);
  if (!rc && dropped && !quiet)
    printf("%s: kept %d rows up to iteration %lld, dropped %d (after the checkpoint, or "
           "incomplete)\n", path, kept, last_iter, dropped);
  return rc;
}

// --resume: the checkpoint must belong to the run whose config.txt sits in dir (when there is
// one): every key but total_steps (which --steps changes) must agree. Returns 0, or -1 after
// printing the differing keys.
static int check_run_config(const char* dir, const char* ckpt, const ama_config* cc) {
  char path[1100], err[1200];
  snprintf(path, sizeof path, "%s/config.txt", dir);
  if (access(path, F_OK) != 0) return 0;
  char* text = am_read_text(path, NULL, err, sizeof err);
  if (!text) return cli_fail("train", "%s", err), -1;
  ama_config rc;
  ama_config_default(&rc);
  int bad = ama_config_parse(&rc, text, path, err, sizeof err);
  free(text);
  if (bad) return cli_fail("train", "--resume: %s", err), -1;
  static char a[16384], b[16384];
  ama_config_write(cc, a, sizeof a);
  ama_config_write(&rc, b, sizeof b);
  char diff[2048] = "";
  size_t dn = 0;
  int ndiff = 0;
  char *sa = NULL, *sb = NULL;
  for (char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb); la && lb;
       la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
    char ka[64], va[600], kb[64], vb[600];
    if (am_kv_split(la, ka, sizeof ka, va, sizeof va) ||
        am_kv_split(lb, kb, sizeof kb, vb, sizeof vb) || strcmp(ka, kb))
      continue;  // both are written in one fixed key order
    if (!strcmp(ka, "total_steps") || !strcmp(va, vb)) continue;
    ndiff++;
    if (dn < sizeof diff)
      dn += (size_t)snprintf(diff + dn, sizeof diff - dn, "%s%s = %.60s (checkpoint) vs %.60s",
                             dn ? "; " : "", ka, va, vb);
  }
  if (!ndiff) return 0;
  cli_fail("train", "--resume: %s is not this run's checkpoint: %d key%s differ%s from %s: %s. "
           "Resume the run it belongs to, or start over with --force", ckpt, ndiff,
           ndiff > 1 ? "s" : "", ndiff > 1 ? "" : "s", path, diff);
  return -1;
}

// The refusal of configuration flags beside --resume.
static const char RESUME_FLAGS[] =
    "--resume continues a run with its saved configuration; only --steps, --threads, --out, "
    "--checkpoint-every, --budget and --quiet apply";

// What the ranks of a multi-rank run agree on after every iteration (ama_comm allgather): stop when
// any rank was interrupted, checkpoint and stop at the time budget when rank 0's timers say so.
typedef struct rank_ctl {
  int32_t interrupted, save, over_budget;
} rank_ctl;

static int train_run(int argc, char** argv, const ama_comm* comm);

int cmd_train(int argc, char** argv) {
  ama_comm comm;
  if (cli_mpi_start("train", &comm)) return 1;
  return cli_mpi_end(&comm, train_run(argc, argv, &comm));
}

static int train_run(int argc, char** argv, const ama_comm* comm) {
  const int rank = comm->rank, ranks = comm->size;
  const char* task_name = NULL;
  const char* out = NULL;
  const char* resume = NULL;
  const char* config_file = NULL;
  const char *core = NULL, *motor = NULL;
  int core_hidden = 0, motor_hidden = 0, core_tick = 0;
  double steps = -1, ckpt_every = 60, record_every = 0, budget_min = 0;
  int record_episodes = 10;
  int envs = -1, threads = 2, quiet = 0, force = 0;
  uint64_t seed = 0;
  int seed_given = 0;
  static sets S;
  static amt_params task_params, record_params;
  S.n = 0;
  memset(&task_params, 0, sizeof task_params);
  memset(&record_params, 0, sizeof record_params);
  uint64_t seed_flag = (uint64_t)-1;
  cli_flag flags[] = {
      {"task", CLI_STRING, &task_name},
      {"steps", CLI_DOUBLE, &steps, 1, 1e13},
      {"envs", CLI_INT, &envs, 1, 4096},
      {"threads", CLI_INT, &threads, 1, 256},
      {"seed", CLI_U64, &seed_flag},
      {"out", CLI_STRING, &out},
      {"task-param", CLI_EACH, NULL, 0, 0, cli_task_param, &task_params},
      {"config", CLI_STRING, &config_file},
      {"set", CLI_EACH, NULL, 0, 0, add_set, &S},
      {"core", CLI_STRING, &core},
      {"motor", CLI_STRING, &motor},
      {"core-hidden", CLI_INT, &core_hidden, 1, 1 << 14},
      {"motor-hidden", CLI_INT, &motor_hidden, 1, 1 << 14},
      {"core-tick", CLI_INT, &core_tick, 1, 1000},
      {"resume", CLI_STRING, &resume},
      {"checkpoint-every", CLI_DOUBLE, &ckpt_every, 1, 1e9},
      {"quiet", CLI_BOOL, &quiet},
      {"force", CLI_BOOL, &force},
      {"record-every", CLI_DOUBLE, &record_every, 1, 1e13},
      {"record-episodes", CLI_INT, &record_episodes, 1, 1 << 20},
      {"record-param", CLI_EACH, NULL, 0, 0, cli_task_param, &record_params},
      {"budget", CLI_DOUBLE, &budget_min, 0.01, 1e7},
  };
  const char* pos[1];
  int npos, help;
  char keys[8192];
  ama_config_help(keys, sizeof(keys));
  char usage[12000];
  snprintf(usage, sizeof(usage), "%s%s", USAGE, keys);
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 0, &npos,
                     &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (rank) quiet = 1;  // rank 0 reports for the run; the others print only errors
  // the paths below are built in fixed buffers: refuse what would not fit rather than cut it
  if ((out && strlen(out) > 900) || (resume && strlen(resume) > 900))
    return cli_fail("train", "the %s path is longer than 900 chars", out && strlen(out) > 900 ?
                    "--out" : "--resume"), 2;
  seed_given = seed_flag != (uint64_t)-1;
  seed = seed_flag;
  char err[1024];
  ama_config cfg;
  ama_config_default(&cfg);
  char ckpt_in[1100] = "";
  if (resume)
    snprintf(ckpt_in, sizeof(ckpt_in), "%s/checkpoint.bin", resume);
  if (resume && rank) {  // rank 0 reads and checks the run's configuration, then sends it
    if (task_name || envs > 0 || seed_given || config_file || S.n || core || motor ||
        task_params.n || core_hidden || motor_hidden || core_tick)
      return cli_fail("train", "%s", RESUME_FLAGS);
    if (comm->bcast(comm->ctx, &cfg, sizeof cfg, err, sizeof err))
      return cli_fail("train", "%s", err);
    if (!out) out = resume;
  } else if (resume) {
    char* text = ama_ckpt_read_config(ckpt_in, err, sizeof(err));
    if (!text) return cli_fail("train", "%s", err);
    rc = ama_config_parse(&cfg, text, ckpt_in, err, sizeof(err));
    free(text);
    if (rc) return cli_fail("train", "%s", err);
    if (task_name || envs > 0 || seed_given || config_file || S.n || core || motor ||
        task_params.n || core_hidden || motor_hidden || core_tick)
      return cli_fail("train", "%s", RESUME_FLAGS);
    if (check_run_config(resume, ckpt_in, &cfg) ||
        (out && strcmp(out, resume) && check_run_config(out, ckpt_in, &cfg)))
      return 1;
    int64_t done_steps = 0;
    if (ama_ckpt_read_steps(ckpt_in, &done_steps, err, sizeof(err)))
      return cli_fail("train", "%s", err);
    if (steps > 0) cfg.total_steps = (int64_t)steps;
    if (cfg.total_steps <= done_steps && steps > 0)
      return cli_fail("train", "--resume %s: --steps %lld is the new total, but the run has "
                      "already done %lld env steps; give a larger total, e.g. --steps %lld",
                      resume, (long long)cfg.total_steps, (long long)done_steps,
                      (long long)(2 * done_steps));
    if (cfg.total_steps <= done_steps)
      return cli_fail("train", "--resume %s: the run has already done all its %lld env steps; "
                      "give a larger total to continue it, e.g. --steps %lld", resume,
                      (long long)done_steps, (long long)(2 * done_steps));
    if (!out) out = resume;
    if (ranks > 1 && comm->bcast(comm->ctx, &cfg, sizeof cfg, err, sizeof err))
      return cli_fail("train", "%s", err);
  } else {
    if (config_file) {
      char* text = am_read_text(config_file, NULL, err, sizeof(err));
      if (!text) return cli_fail("train", "%s", err);
      rc = ama_config_parse(&cfg, text, config_file, err, sizeof(err));
      free(text);
      if (rc) return cli_fail("train", "%s", err);
    }
    for (int i = 0; i < S.n; i++)
      if (ama_config_set_line(&cfg, S.kv[i], err, sizeof(err)))
        return cli_fail("train", "--set %s: %s", S.kv[i], err);
    // the flags, through the same checks as the keys they set
    const char* flag_keys[][2] = {{"task", task_name}, {"core", core}, {"motor", motor}};
    for (int i = 0; i < 3; i++)
      if (flag_keys[i][1] && ama_config_set(&cfg, flag_keys[i][0], flag_keys[i][1], err,
                                            sizeof(err)))
        return cli_fail("train", "--%s: %s", flag_keys[i][0], err);
    if (task_params.n && merge_task_params(&cfg, &task_params, err, sizeof(err)))
      return cli_fail("train", "--task-param: %s", err);
    if (steps > 0) cfg.total_steps = (int64_t)steps;
    if (envs > 0) cfg.num_envs = envs;
    if (seed_given) cfg.seed = seed;
    if (core_hidden) cfg.policy.core_hidden = core_hidden;
    if (motor_hidden) cfg.policy.motor_hidden = motor_hidden;
    if (core_tick) cfg.policy.core_tick = core_tick;
    absolute_load_paths(&cfg);
  }
  if (ama_config_check(&cfg, err, sizeof(err))) return cli_fail("train", "%s", err);
  if (record_params.n) {  // refused now, not at the first evaluation minutes into the run
    if (!record_every) return cli_fail("train", "--record-param needs --record-every"), 2;
    static ama_config rcfg;
    static amt_params all;
    rcfg = cfg;
    memset(&all, 0, sizeof all);
    am_task t;
    if (merge_task_params(&rcfg, &record_params, err, sizeof err) ||
        amt_params_add_list(&all, rcfg.task_params, err, sizeof err) ||
        amt_create(&t, cfg.task, &all, err, sizeof err))
      return cli_fail("train", "--record-param: %s", err);
    amt_destroy(&t);
  }
  char out_default[256];
  if (!out) {
    snprintf(out_default, sizeof(out_default), "runs/%s-s%llu", cfg.task,
             (unsigned long long)cfg.seed);
    out = out_default;
  }
  if (!resume && !force && !rank) {  // never overwrite a run's checkpoint and metrics by accident
    char prev[1200];
    snprintf(prev, sizeof(prev), "%s/checkpoint.bin", out);
    if (access(prev, F_OK) == 0)
      return cli_fail("train", "%s already holds a run (%s): continue it with --resume %s, or "
                      "start over with --force", out, prev, out);
  }
  // the task
  amt_params params = {0};
  if (amt_params_add_list(&params, cfg.task_params, err, sizeof(err)))
    return cli_fail("train", "%s", err);
  am_task task;
  if (amt_create(&task, cfg.task, &params, err, sizeof(err))) return cli_fail("train", "%s", err);
  // every rank its own envs (rank 0's are those of a single-process run)
  am_pool_config pc = {.num_envs = cfg.num_envs, .num_threads = threads,
                       .seed = ama_rank_seed(cfg.seed, rank)};
  am_pool* pool = am_pool_create(&task, &pc, err, sizeof(err));
  if (!pool) {
    amt_destroy(&task);
    return cli_fail("train", "%s", err);
  }
  ama_ppo* L = ama_ppo_create(&cfg, pool, err, sizeof(err));
  if (!L) {
    am_pool_free(pool);
    amt_destroy(&task);
    return cli_fail("train", "%s", err);
  }
  int status = 1, lock_fd = -1;
  FILE* metrics = NULL;
  char path[1200], ckpt_out[1200];
  snprintf(ckpt_out, sizeof(ckpt_out), "%s/checkpoint.bin", out);
  if (ama_ppo_set_comm(L, comm, err, sizeof err)) {
    cli_fail("train", "%s", err);
    goto done;
  }
  if (resume && ama_ckpt_load(L, ckpt_in, err, sizeof(err))) {
    cli_fail("train", "%s", err);
    goto done;
  }
  if (rank) goto train;  // rank 0 alone writes the run directory
  if (mkdirs(out)) {
    cli_fail("train", "cannot create run directory %s: %s", out, strerror(errno));
    goto done;
  }
  if ((lock_fd = lock_run_dir(out)) < 0) goto done;  // before anything in it is written
  snprintf(path, sizeof(path), "%s/config.txt", out);
  {
    char text[16384];
    ama_config_write(ama_ppo_config(L), text, sizeof(text));
    FILE* f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
      cli_fail("train", "cannot write %s: %s", path, strerror(errno));
      goto done;
    }
  }
  snprintf(path, sizeof(path), "%s/metrics.csv", out);
  int exists = access(path, F_OK) == 0;
  // drop rows written after the checkpoint (a crash between checkpoints: the resumed run writes
  // them again) and a row torn by a crash
  if (resume && exists && trim_metrics(path, (long long)ama_ppo_iteration(L), quiet)) goto done;
  metrics = fopen(path, resume && exists ? "a" : "w");
  if (!metrics) {
    cli_fail("train", "cannot write %s: %s", path, strerror(errno));
    goto done;
  }
  if (!(resume && exists)) fputs(METRICS_HEADER, metrics);
train:;
  ama_policy* pol = ama_ppo_policy(L);
  char rank_note[64] = "";
  char rank_launch[64] = "";  // how to start this run again
  if (ranks > 1) snprintf(rank_note, sizeof rank_note, " x %d ranks", ranks);
  if (ranks > 1) snprintf(rank_launch, sizeof rank_launch, "mpirun -np %d ", ranks);
  char extra[160] = "";  // the learner when it is not PPO, and masked connectivity
  if (!strcmp(cfg.learner, "es"))
    snprintf(extra, sizeof extra, ", evolution strategies (%d pairs, sigma %g)", cfg.es.pairs,
             cfg.es.sigma);
  if (!strcmp(cfg.learner, "hebbian"))
    snprintf(extra, sizeof extra, ", node perturbation (Hebbian trace, eta %g, %g perturbations "
             "per unit and step, readout core units 0..%d)", cfg.hebb.eta, cfg.hebb.pert_prob,
             pol->act_dim - 1);
  if (strcmp(cfg.policy.conn, "full")) {
    size_t l = strlen(extra);
    snprintf(extra + l, sizeof extra - l, ", conn %s %s", cfg.policy.conn_modules,
             cfg.policy.conn);
  }
  if (!quiet)
    printf("train %s: %d envs%s, %d threads, seed %llu, core %s(%d) tick %d, motor %s(%d), %zu "
           "parameters%s, OpenBLAS %s, run dir %s%s\n",
           cfg.task, cfg.num_envs, rank_note, am_pool_num_threads(pool),
           (unsigned long long)cfg.seed,
           cfg.policy.core_type, cfg.policy.core_hidden, cfg.policy.core_tick,
           cfg.policy.motor_type, cfg.policy.motor_hidden, pol->params.count, extra,
           cli_blas_kernels(), out,
           resume ? " (resumed)" : "");
  cli_install_interrupt();
  cli_progress_state pg;
  cli_progress_start(&pg, quiet);
  double t_start = am_now(), t_ckpt = t_start;
  int64_t steps0 = ama_ppo_env_steps(L);
  // Evaluation recordings fall on multiples of --record-every (also after a resume).
  int64_t rec_every = (int64_t)record_every;
  int64_t next_rec = rec_every ? (steps0 / rec_every + 1) * rec_every : 0;
  double ret_ema = NAN, succ_ema = NAN;
  long long eps_total = 0, unstable_total = 0, warned_iter = -1;
  ama_iter_stats st;
  int stop = 0, over_budget = 0;
  while (ama_ppo_env_steps(L) < cfg.total_steps && !stop && !over_budget) {
    if (ama_ppo_iterate(L, &st)) {
      cli_fail("train", "%s", ama_ppo_error(L));
      goto done;
    }
    double now = am_now(), wall = now - t_start;
    // the ranks agree on stopping and checkpointing (one process: its own flags)
    rank_ctl ctl = {cli_interrupted, now - t_ckpt > ckpt_every,
                    budget_min > 0 && wall > 60 * budget_min};
    if (ranks > 1) {
      rank_ctl all[ranks];
      if (comm->allgather(comm->ctx, &ctl, all, sizeof ctl, err, sizeof err)) {
        cli_fail("train", "%s", err);
        goto done;
      }
      ctl.save = all[0].save;
      ctl.over_budget = all[0].over_budget;
      for (int r = 0; r < ranks; r++) ctl.interrupted |= all[r].interrupted;
    }
    stop = ctl.interrupted;
    over_budget = ctl.over_budget;
    double sps = (st.env_steps - steps0) / (wall > 1e-9 ? wall : 1e-9);
    eps_total += st.episodes;
    unstable_total += st.unstable;
    if (st.episodes > st.unstable) {  // the return of stable episodes only
      ret_ema = isnan(ret_ema) ? st.mean_return : 0.8 * ret_ema + 0.2 * st.mean_return;
      if (!isnan(st.success))
        succ_ema = isnan(succ_ema) ? st.success : 0.8 * succ_ema + 0.2 * st.success;
    }
    if (metrics)
      fprintf(metrics,
            "%lld,%lld,%.3f,%.1f,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
            "%d,%.6g,%.6g,%.6g,%.4f,%.4f\n",
            (long long)st.iteration, (long long)st.env_steps, wall, sps, st.episodes, st.unstable,
            st.mean_return, st.mean_length, st.success, st.lr, st.loss.loss, st.loss.pg_loss,
            st.loss.v_loss, st.loss.entropy, st.loss.approx_kl, st.loss.clip_frac,
            st.loss.anchor_kl, st.updates, st.grad_norm,
            st.explained_var, st.action_std, st.rollout_s, st.learn_s);
    if (!rank && st.episodes && st.unstable > UNSTABLE_WARN_FRAC * st.episodes &&
        (warned_iter < 0 || st.iteration - warned_iter >= UNSTABLE_WARN_EVERY)) {
      warned_iter = st.iteration;
      cli_progress_end(&pg);
      fprintf(stderr, "animat train: warning: iteration %lld: %d of %d episodes (%.0f %%) ended in "
              "a physics blow-up (more than %.0f %%); they are left out of the mean return. "
              "The actions, the task's parameters or the body drive the simulation beyond what "
              "its timestep can integrate (warned at most every %d iterations)\n",
              (long long)st.iteration, st.unstable, st.episodes,
              100.0 * st.unstable / st.episodes, 100 * UNSTABLE_WARN_FRAC, UNSTABLE_WARN_EVERY);
    }
    if (!quiet) {
      char eta[32], succ[32] = "", unst[48] = "", ret[32];
      if (unstable_total)
        snprintf(unst, sizeof unst, "  unstable %lld/%lld", unstable_total, eps_total);
      if (isnan(ret_ema)) snprintf(ret, sizeof ret, "n/a");
      else snprintf(ret, sizeof ret, "%.3f", ret_ema);
      fmt_time((cfg.total_steps - st.env_steps) / (sps > 0 ? sps : 1), eta, sizeof(eta));
      if (!isnan(succ_ema)) snprintf(succ, sizeof(succ), "  success %.0f%%", 100 * succ_ema);
      cli_progress(&pg, st.env_steps >= cfg.total_steps,
                   "%lld/%lld steps  %.0f steps/s  return %s%s%s  learn %.0f%%  ETA %s",
                   (long long)st.env_steps, (long long)cfg.total_steps, sps, ret, unst, succ,
                   100 * st.learn_s / (st.learn_s + st.rollout_s), eta);
    }
    if (rec_every && st.env_steps >= next_rec && !stop) {
      while (next_rec <= st.env_steps) next_rec += rec_every;
      if (metrics) fflush(metrics);
      cli_progress_end(&pg);
      // The recording reads the policy back from a fresh checkpoint and runs its own envs, so
      // the training run is exactly what it would be without it.
      if (record_eval(L, out, ckpt_out, st.env_steps, record_episodes, &record_params, threads,
                      quiet, rank, err, sizeof(err)))
        goto done;
      t_ckpt = am_now();  // record_eval saved a checkpoint
    }
    if (ctl.save) {
      if (metrics) fflush(metrics);
      if (ama_ckpt_save(L, ckpt_out, err, sizeof(err))) {
        cli_fail("train", "%s", err);
        goto done;
      }
      t_ckpt = now;
    }
  }
  cli_progress_end(&pg);
  if (metrics) fflush(metrics);
  if (ama_ckpt_save(L, ckpt_out, err, sizeof(err))) {
    cli_fail("train", "%s", err);
    goto done;
  }
  uint32_t crc;
  if (ranks > 1 && ama_ppo_check_ranks(L, &crc, err, sizeof err)) {
    cli_fail("train", "%s", err);
    goto done;
  }
  if (ranks > 1 && !rank)
    printf("%d ranks: parameters bit-identical on every rank (crc32 %08x)\n", ranks, crc);
  if (rank)
    ;  // rank 0 reports
  else if (stop)
    printf("interrupted at %lld steps: checkpoint saved to %s; continue with "
           "`%sanimat train --resume %s`\n",
           (long long)ama_ppo_env_steps(L), ckpt_out, rank_launch, out);
  else if (over_budget && ama_ppo_env_steps(L) < cfg.total_steps)
    printf("budget: stopped after %.1f min at %lld of %lld steps, recent mean return %.3f; "
           "checkpoint %s; continue with `%sanimat train --resume %s`\n",
           (am_now() - t_start) / 60, (long long)ama_ppo_env_steps(L),
           (long long)cfg.total_steps, ret_ema, ckpt_out, rank_launch, out);
  else if (unstable_total)
    printf("done: %lld steps in %.1f s, recent mean return %.3f (stable episodes), %lld of %lld "
           "episodes unstable; checkpoint %s\n",
           (long long)ama_ppo_env_steps(L), am_now() - t_start, ret_ema, unstable_total,
           eps_total, ckpt_out);
  else
    printf("done: %lld steps in %.1f s, recent mean return %.3f; checkpoint %s\n",
           (long long)ama_ppo_env_steps(L), am_now() - t_start, ret_ema, ckpt_out);
  status = 0;
done:
  if (metrics) fclose(metrics);
  if (lock_fd >= 0) close(lock_fd);  // releases the run directory
  ama_ppo_free(L);
  am_pool_free(pool);
  amt_destroy(&task);
  return status;
}
