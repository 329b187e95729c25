// cli.h: the `animat` command's subcommands and the flag-parsing helpers they share.
//
// Each subcommand lives in tools/cmd_<name>.c as `int cmd_<name>(int argc, char** argv)` where
// argv[0] is the subcommand name; it returns the process exit status (0 ok, 1 failure, 2 usage).
// tools/ is the only place that prints or exits. Errors go to stderr as "animat <cmd>: <message>".
#ifndef ANIMAT_CLI_H
#define ANIMAT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct cli_command {
  const char* name;
  const char* summary;  // one line for `animat --help`
  int (*run)(int argc, char** argv);
} cli_command;

// The registry (tools/animat.c). Add new subcommands there.
const cli_command* cli_commands(int* n);

int cmd_demo(int argc, char** argv);
int cmd_bodies(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_version(int argc, char** argv);
int cmd_tasks(int argc, char** argv);
int cmd_train(int, char**);
int cmd_record(int argc, char** argv);   // datasets (issue 6)
int cmd_session(int argc, char** argv);  // learning during an experiment (issue 15)
int cmd_inspect(int argc, char** argv);
int cmd_verify(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_trials(int argc, char** argv);   // analyses (issue 13)
int cmd_analyze(int argc, char** argv);
int cmd_plot(int argc, char** argv);      // training curves (issue 13)
int cmd_fixedpoints(int argc, char** argv);  // issue 13 (Sussillo & Barak 2013)
int cmd_experiment(int argc, char** argv);   // the classic experiments, one command each (issue 15)

// A flag table entry for cli_parse. Flags are "--name VALUE" or "--name=VALUE"; booleans take no
// value. Repeatable string flags (e.g. --task-param) call `each` for every occurrence.
typedef enum { CLI_INT, CLI_U64, CLI_DOUBLE, CLI_STRING, CLI_BOOL, CLI_EACH } cli_type;
typedef struct cli_flag {
  const char* name;     // without the leading "--"
  cli_type type;
  void* out;            // int*, uint64_t*, double*, const char**, int* (bool)
  double lo, hi;        // inclusive range for numbers (ignored when lo > hi)
  int (*each)(const char* value, void* ctx, char* err, size_t err_sz);  // CLI_EACH
  void* ctx;
} cli_flag;

// Parses argv[1..argc) against flags. Positional arguments are stored in pos (up to max_pos) and
// counted in *n_pos. "--help"/"-h" prints usage to stdout and sets *help (the caller then returns
// 0). On a bad flag or value prints
// "animat <cmd>: <message>" and the usage text to stderr and returns 2; else 0.
int cli_parse(int argc, char** argv, const cli_flag* flags, int n_flags, const char** pos,
              int max_pos, int* n_pos, int* help, const char* usage);
// The number of flags in a cli_flag array (cli_parse's n_flags).
#define CLI_NFLAGS(flags) ((int)(sizeof(flags) / sizeof((flags)[0])))

// Prints "animat <cmd>: <message>" to stderr; returns 1. In a run of several MPI ranks the message
// starts with cli_rank_tag ("rank R of N: ", set by cli_mpi_start).
extern const char* cli_rank_tag;
int cli_fail(const char* cmd, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Progress of a long job, on stderr (stdout keeps the results). On a terminal one line is rewritten
// in place ("\r", at most every 0.5 s); when stderr is not a terminal (a file, a pipe, a CI log)
// plain lines are printed at most every 10 s, so logs hold no carriage returns. Quiet: nothing.
//   cli_progress_state pg;
//   cli_progress_start(&pg, quiet);
//   while (...) cli_progress(&pg, last_one, "%d/%d steps", i, n);  // rate-limited unless last_one
//   cli_progress_end(&pg);  // ends the in-place line (call it before printing to stdout)
// cli_fail ends an open in-place line itself, so an error never lands on the progress line.
typedef struct cli_progress_state {
  int quiet, tty;
  double last;  // time of the last line (am_now seconds), < 0 before the first
} cli_progress_state;
void cli_progress_start(cli_progress_state* p, int quiet);
void cli_progress(cli_progress_state* p, int force, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cli_progress_end(cli_progress_state* p);

// Registers the process's MuJoCo fatal-error hook (am_set_fatal_hook): on a MuJoCo fatal error it
// prints "animat CMD: MuJoCo fatal error: MSG (stopped; files keep their last complete write)" on
// stderr and exits with status 1, saving nothing (checkpoints are written atomically, so the last
// one is intact). main() calls it with the subcommand's name before running it.
void cli_install_fatal_hook(const char* cmd);

// The checkpoint a command-line argument names: a run directory's checkpoint.bin, or the file
// itself. Returns 0, or -1 after printing "animat CMD: cannot open ARG: reason".
// A repeatable string flag's values, collected in order into items (max of them, then a NULL):
// {"where", CLI_EACH, NULL, 0, 0, cli_collect, &list} with cli_strings list = {items, max, "--where"}.
typedef struct cli_strings {
  const char** items;  // max + 1 entries, zeroed
  int max;
  const char* flag;    // for the message when there are more than max
} cli_strings;
int cli_collect(const char* value, void* ctx, char* err, size_t err_sz);
// The --task-param flag's collector: {"task-param", CLI_EACH, NULL, 0, 0, cli_task_param, &params}
// with amt_params params = {0}; each "k=v" goes through amt_params_add.
int cli_task_param(const char* value, void* ctx, char* err, size_t err_sz);

// The cores online, at least 1 and at most most: the default thread count of commands that read
// datasets on threads (verify, bench record).
int cli_cores(int most);

// The name of the kernels OpenBLAS picked for this CPU at load time ("SkylakeX", "Zen", ...):
// they round differently, so a run repeats to the bit only with the same ones
// (OPENBLAS_CORETYPE=NAME picks them; docs/agents.md, Determinism).
const char* cli_blas_kernels(void);

// OpenBLAS's worker threads; main sets 1 for the whole process before any command runs.
void cli_blas_threads(int n);

// The path of the running animat (/proc/self/exe) into out. Returns 0 or -1.
int cli_self_path(char* out, size_t out_sz);
// The identity of a file (a checkpoint): FNV-1a 64 of its bytes as "fnv1a64:<16 hex digits>".
// Returns 0 or -1 (unreadable).
int cli_file_hash(const char* path, char* out, size_t out_sz);

// Runs this animat (cli_self_path) as a child process with args (args[0] is its name, NULL-
// terminated) and waits for it. Its stdout and stderr go to log_path (created or truncated), or
// to /dev/null when log_path is NULL. wall: its wall seconds; rss_mb: its peak resident memory
// (MB, from wait4); either may be NULL. Returns its exit status (0 ok), 128 + the signal that
// ended it, or -1 when it could not be started.
int cli_run_self(char* const* args, const char* log_path, double* wall, double* rss_mb);

// Removes path: a file, or a directory and everything in it (symbolic links themselves, never
// what they point to). A missing path is fine. Returns 0 or -1 (errno set).
int cli_remove_tree(const char* path);

int cli_checkpoint_path(const char* cmd, const char* arg, char* out, size_t out_sz);

// Set by SIGINT/SIGTERM when cli_install_interrupt() was called; long jobs poll it.
extern volatile int cli_interrupted;
void cli_install_interrupt(void);

#endif  // ANIMAT_CLI_H
