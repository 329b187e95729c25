// bench_analyze.c: `animat bench analyze FILE`: the analyses' read rate and memory against
// `animat verify` on the same file. Each command runs as a child process of this animat (so its
// peak resident memory is its own, from wait4's rusage), R times; the best wall time counts.
// Rates are raw (decoded) dataset bytes per second.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "am_dataset.h"
#include "cli.h"

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
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help, usage);
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
      if (cli_run_self(cmds[k], NULL, &w, &m))
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
