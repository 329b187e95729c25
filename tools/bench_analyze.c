// bench_analyze.c: `animat bench analyze FILE`: the analyses' read rate and memory against
// `animat verify` on the same file. Each command runs as a child process of this animat (so its
// peak resident memory is its own, from wait4's rusage), R times; the best wall time counts.
// Rates are raw (decoded) dataset bytes per second.
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "am_dataset.h"
#include "cli.h"

extern char** environ;

// Runs this animat with args (stdout and stderr to /dev/null); wall seconds and peak RSS (MB).
static int run_child(char* const* args, double* wall, double* rss_mb) {
  char self[4096];
  if (cli_self_path(self, sizeof self)) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  double t0 = am_now();
  int rc = posix_spawn(&pid, self, &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  int st;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0) return -1;
  *wall = am_now() - t0;
  *rss_mb = ru.ru_maxrss / 1024.0;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int bench_analyze(int argc, char** argv) {
  const char* usage =
      "usage: animat bench analyze FILE [--rounds R] [--out DIR]\n"
      "  Times `animat verify FILE`, `animat analyze psth FILE` and `animat analyze tuning FILE`\n"
      "  (each a child process, best of R rounds) and reports each one's read rate (raw dataset\n"
      "  bytes per second), its ratio to verify's and its peak resident memory. A 1 GB file:\n"
      "  animat record RUN --deterministic --episodes 5000 --out big.rollout (reach-center-out).\n";
  int rounds = 3;
  const char* out = NULL;
  cli_flag flags[] = {{"rounds", CLI_INT, &rounds, 1, 100}, {"out", CLI_STRING, &out}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, 2, pos, 2, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return cli_fail("bench", "analyze: give one dataset FILE"), 2;
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(pos[0], err, sizeof err);
  if (!r) return cli_fail("bench", "%s", err);
  uint64_t fb, sb, rb;
  am_ds_sizes(r, &fb, &sb, &rb);
  int64_t eps = am_ds_num_episodes(r);
  am_ds_reader_free(r);
  char dir[4096];
  if (out) snprintf(dir, sizeof dir, "%s", out);
  else snprintf(dir, sizeof dir, "/tmp/animat-bench-analyze-%ld", (long)getpid());
  if (mkdir(dir, 0777) && errno != EEXIST) return cli_fail("bench", "cannot create %s", dir);
  printf("bench analyze: %s, %.1f MB on disk, %.1f MB raw, %lld episodes, best of %d rounds\n",
         pos[0], fb / 1e6, rb / 1e6, (long long)eps, rounds);
  char* cmds[3][8] = {{"animat", "verify", (char*)pos[0], NULL},
                      {"animat", "analyze", "psth", (char*)pos[0], "--out", dir, NULL},
                      {"animat", "analyze", "tuning", (char*)pos[0], "--out", dir, NULL}};
  const char* names[3] = {"verify", "analyze psth", "analyze tuning"};
  double verify_rate = 0;
  printf("%-16s %9s %12s %10s %12s\n", "command", "wall (s)", "raw MB/s", "/ verify", "peak RSS MB");
  for (int k = 0; k < 3; k++) {
    double best = 1e300, rss = 0;
    for (int i = 0; i < rounds; i++) {
      double w, m;
      if (run_child(cmds[k], &w, &m))
        return cli_fail("bench", "analyze: `animat %s %s` failed (run it to see why)", names[k],
                        pos[0]);
      if (w < best) best = w;
      if (m > rss) rss = m;
    }
    double rate = rb / 1e6 / best;
    if (k == 0) verify_rate = rate;
    printf("%-16s %9.2f %12.0f %10.2f %12.1f\n", names[k], best, rate, rate / verify_rate, rss);
  }
  if (!out) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
  }
  return 0;
}
