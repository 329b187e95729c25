// animat.c: the `animat` command: dispatches to the subcommands in tools/cmd_*.c.
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"demo", "train a reacher-arm policy for a few minutes and report what it learned (default)",
     cmd_demo},
    {"bodies", "list bodies, or describe one: animat bodies NAME", cmd_bodies},
    {"tasks", "list tasks, or describe one: animat tasks NAME", cmd_tasks},
    {"bench", "benchmarks: physics, record, gru, overhead, learn, analyze, mpi (animat bench --help)", cmd_bench},
    {"train", "train a policy with PPO (or ES): animat train --task NAME [--steps N] [--out DIR]", cmd_train},
    {"record", "record episodes to a dataset: animat record RUN|--random --task NAME --out FILE", cmd_record},
    {"session", "a block protocol (e.g. force field) run by a trained agent that keeps learning: "
                "animat session RUN --protocol FILE --out DIR", cmd_session},
    {"inspect", "describe a dataset: metadata, channels, episodes, sizes", cmd_inspect},
    {"verify", "check a dataset's checksums; --resim replays it", cmd_verify},
    {"export", "export a dataset to NumPy .npy or CSV (with meta.json), or to NWB (--nwb)", cmd_export},
    {"trials", "a dataset's trial table (conditions, events, outcome, kinematics) as CSV/JSON", cmd_trials},
    {"analyze", "analyses: psth, tuning, pca, jpca, decode, cka, rsa, psychometric, adaptation, report", cmd_analyze},
    {"plot", "draw a training run's curves (metrics.csv) as SVG: animat plot RUN", cmd_plot},
    {"experiment", "a classic experiment end to end: train, record, analyse, report (--list)", cmd_experiment},
    {"fixedpoints", "fixed and slow points of a module: animat fixedpoints RUN --data FILE", cmd_fixedpoints},
    {"version", "print animat's and MuJoCo's versions", cmd_version},
};

const cli_command* cli_commands(int* n) {
  *n = (int)(sizeof commands / sizeof commands[0]);
  return commands;
}

static void usage(FILE* f) {
  int n;
  const cli_command* c = cli_commands(&n);
  fprintf(f, "usage: animat COMMAND [FLAGS]   (animat COMMAND --help for its flags)\n\ncommands:\n");
  for (int i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", c[i].name, c[i].summary);
}

int main(int argc, char** argv) {
  // animat's matrices are small (envs x units) and its own threads split the work; OpenBLAS's
  // worker threads would only busy-wait on the other core, taking it from the env pool and the
  // dataset writer (a recorded rollout used 2 cores' CPU time for 1 core of work).
  cli_blas_threads(1);
  // a MuJoCo fatal error ends the command with a message and status 1 (never waits on stdin)
  cli_install_fatal_hook(argc >= 2 && argv[1][0] != '-' ? argv[1] : "demo");
  if (argc < 2) {
    char* args[] = {"demo", NULL};
    return cmd_demo(1, args);
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) return cmd_version(1, argv + 1);
  int n;
  const cli_command* c = cli_commands(&n);
  for (int i = 0; i < n; i++)
    if (!strcmp(argv[1], c[i].name)) return c[i].run(argc - 1, argv + 1);
  fprintf(stderr, "animat: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
