// cli.c: flag parsing and error reporting shared by the animat subcommands.
#define _GNU_SOURCE  // nftw, wait4
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "am_sim.h"
#include "amt_tasks.h"
#include "cli.h"

volatile int cli_interrupted = 0;

static void on_signal(int sig) {
  (void)sig;
  cli_interrupted = 1;
}

void cli_install_interrupt(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static int progress_open;  // an in-place progress line is on the terminal (no newline yet)

// MuJoCo's fatal errors (am_set_fatal_hook): MuJoCo cannot continue, and the thread that failed may
// be an env worker while the main thread is mid-write, so nothing is saved here: the files a tool
// writes are complete as of their last write (checkpoints are replaced atomically; a resume keeps
// only the metrics rows its checkpoint covers). _exit: no atexit handlers or stdio flushes from a
// worker thread.
static char fatal_cmd[32] = "";
static void mujoco_fatal(const char* msg) {
  char line[1200];
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
  int len = snprintf(line, sizeof line,
                     "%sanimat%s%s: MuJoCo fatal error: %.*s (stopped; files keep their last "
                     "complete write)\n",
                     progress_open ? "\n" : "", fatal_cmd[0] ? " " : "", fatal_cmd, (int)n, msg);
  if (len > (int)sizeof line - 1) len = (int)sizeof line - 1;
  if (write(STDERR_FILENO, line, (size_t)len) < 0) {}
  _exit(1);
}

void cli_install_fatal_hook(const char* cmd) {
  snprintf(fatal_cmd, sizeof fatal_cmd, "%s", cmd ? cmd : "");
  am_set_fatal_hook(mujoco_fatal);
}

void cli_progress_start(cli_progress_state* p, int quiet) {
  p->quiet = quiet;
  p->tty = isatty(fileno(stderr));
  p->last = -1;
  // What the command printed before its progress lines (train's header) goes out first: stdout
  // is block-buffered when redirected, so in a log of both streams it otherwise came last.
  fflush(stdout);
}

void cli_progress(cli_progress_state* p, int force, const char* fmt, ...) {
  if (p->quiet) return;
  double now = am_now();
  if (!force && p->last >= 0 && now - p->last < (p->tty ? 0.5 : 10.0)) return;
  p->last = now;
  if (p->tty) fputs("\r\033[K", stderr);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (!p->tty) fputc('\n', stderr);
  progress_open = p->tty;
  fflush(stderr);
}

void cli_progress_end(cli_progress_state* p) {
  (void)p;
  if (progress_open) fputc('\n', stderr);
  progress_open = 0;
}

const char* cli_rank_tag = "";

int cli_fail(const char* cmd, const char* fmt, ...) {
  cli_progress_end(NULL);
  fprintf(stderr, "animat %s: %s", cmd, cli_rank_tag);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

static int usage_error(const char* cmd, const char* usage, const char* fmt, const char* a,
                       const char* b) {
  fprintf(stderr, "animat %s: ", cmd);
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n\n%s", usage);
  return 2;
}

static int set_value(const cli_flag* f, const char* v, char* msg, size_t msg_sz) {
  char* end;
  errno = 0;
  switch (f->type) {
    case CLI_INT:
    case CLI_U64:
    case CLI_DOUBLE: {
      double d = f->type == CLI_DOUBLE ? strtod(v, &end) : (double)strtoll(v, &end, 10);
      if (f->type == CLI_U64) {
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (*v == '-' || errno || *end || end == v) {
          snprintf(msg, msg_sz, "--%s: '%s' is not a non-negative integer", f->name, v);
          return -1;
        }
        *(uint64_t*)f->out = (uint64_t)u;
        return 0;
      }
      if (errno || *end || end == v || !isfinite(d)) {
        snprintf(msg, msg_sz, "--%s: '%s' is not %s", f->name, v,
                 f->type == CLI_INT ? "an integer" : "a number");
        return -1;
      }
      if (f->lo <= f->hi && (d < f->lo || d > f->hi)) {
        snprintf(msg, msg_sz, "--%s: %s is out of range [%g, %g]", f->name, v, f->lo, f->hi);
        return -1;
      }
      if (f->type == CLI_INT) *(int*)f->out = (int)d;
      else *(double*)f->out = d;
      return 0;
    }
    case CLI_STRING:
      *(const char**)f->out = v;
      return 0;
    case CLI_EACH:
      return f->each(v, f->ctx, msg, msg_sz);
    case CLI_BOOL:
      *(int*)f->out = 1;
      return 0;
  }
  return -1;
}

int cli_parse(int argc, char** argv, const cli_flag* flags, int n_flags, const char** pos,
              int max_pos, int* n_pos, int* help, const char* usage) {
  const char* cmd = argv[0];
  *n_pos = 0;
  *help = 0;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      *help = 1;
      continue;
    }
    if (strncmp(a, "--", 2) || !a[2]) {
      if (*n_pos >= max_pos) return usage_error(cmd, usage, "unexpected argument '%s'%s", a, "");
      pos[(*n_pos)++] = a;
      continue;
    }
    const char* name = a + 2;
    const char* eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_flag* f = NULL;
    for (int k = 0; k < n_flags; k++)
      if (strlen(flags[k].name) == len && !strncmp(flags[k].name, name, len)) f = &flags[k];
    if (!f) return usage_error(cmd, usage, "unknown flag '%s'%s", a, "");
    const char* v = NULL;
    if (f->type == CLI_BOOL) {
      if (eq) return usage_error(cmd, usage, "flag --%s takes no value%s", f->name, "");
    } else if (eq) {
      v = eq + 1;
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      return usage_error(cmd, usage, "flag --%s needs a value%s", f->name, "");
    }
    char msg[4096] = "";  // room for the whole value in the message
    if (set_value(f, v, msg, sizeof msg)) return usage_error(cmd, usage, "%s%s", msg, "");
  }
  if (*help) printf("%s", usage);
  return 0;
}

int cli_collect(const char* value, void* ctx, char* err, size_t err_sz) {
  cli_strings* l = ctx;
  for (int i = 0; i < l->max; i++)
    if (!l->items[i]) return l->items[i] = value, 0;
  return am_err(err, err_sz, "%s: at most %d values", l->flag, l->max);
}

int cli_cores(int most) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > most ? most : (int)n;
}

// OpenBLAS's own declarations, not its cblas.h (which defines the macro I)
char* openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);

void cli_blas_threads(int n) { openblas_set_num_threads(n); }

const char* cli_blas_kernels(void) {
  const char* name = openblas_get_corename();
  return name && *name ? name : "unknown";
}

int cli_self_path(char* out, size_t out_sz) {
  ssize_t n = readlink("/proc/self/exe", out, out_sz - 1);
  if (n <= 0) return -1;
  out[n] = 0;
  return 0;
}

extern char** environ;

int cli_run_self(char* const* args, const char* log_path, double* wall, double* rss_mb) {
  char self[4096];
  if (cli_self_path(self, sizeof self)) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (log_path) {
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid;
  double t0 = am_now();
  int rc = posix_spawn(&pid, self, &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  int st;
  struct rusage ru;
  int forwarded = 0;
  while (wait4(pid, &st, 0, &ru) < 0) {
    if (errno != EINTR) return -1;
    // interrupted (cli_install_interrupt): the child stops too (a terminal's ^C reaches it
    // already; a SIGTERM sent to this process alone does not)
    if (cli_interrupted && !forwarded) kill(pid, SIGINT), forwarded = 1;
  }
  if (wall) *wall = am_now() - t0;
  if (rss_mb) *rss_mb = ru.ru_maxrss / 1024.0;
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int cli_checkpoint_path(const char* cmd, const char* arg, char* out, size_t out_sz) {
  struct stat st;
  if (stat(arg, &st)) return cli_fail(cmd, "cannot open %s: %s", arg, strerror(errno)), -1;
  if (S_ISDIR(st.st_mode)) snprintf(out, out_sz, "%s/checkpoint.bin", arg);
  else snprintf(out, out_sz, "%s", arg);
  return 0;
}

// FNV-1a 64 of a file, as "fnv1a64:<hex>".
int cli_file_hash(const char* path, char* out, size_t out_sz) {
  FILE* f = fopen(path, "rb");
  if (!f) return -1;
  uint64_t h = 1469598103934665603ull;
  unsigned char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 1099511628211ull;
  fclose(f);
  snprintf(out, out_sz, "fnv1a64:%016llx", (unsigned long long)h);
  return 0;
}

static int remove_entry(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  (void)st, (void)type, (void)ftw;
  return remove(path);
}

int cli_remove_tree(const char* path) {
  struct stat st;
  if (lstat(path, &st)) return errno == ENOENT ? 0 : -1;
  return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int cli_task_param(const char* value, void* ctx, char* err, size_t err_sz) {
  return amt_params_add((amt_params*)ctx, value, err, err_sz);
}
