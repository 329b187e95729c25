// test_cli.c: the `animat` command as a user meets it: exit codes and messages for bad input,
// train's protection of existing runs, and evaluation recordings during training that leave the
// training run bit-identical.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[256];
static char out[65536];

// Runs `animat ARGS` (stdout and stderr captured into out); returns the exit status.
static int animat(const char* fmt, ...) {
  char args[2048], cmd[3200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "'%s/animat' %s 2>&1", ANIMAT_BUILD_DIR, args);
  FILE* f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = 0;
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int same_file(const char* a, const char* b) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
  return system(cmd) == 0;
}

static void test_bad_input(void** state) {
  assert_int_equal(animat("no-such-command"), 2);
  assert_non_null(strstr(out, "unknown command 'no-such-command'"));
  assert_int_equal(animat("bench physics --envs x"), 2);
  assert_non_null(strstr(out, "--envs: 'x' is not an integer"));
  assert_non_null(strstr(out, "usage: animat bench physics"));
  assert_int_equal(animat("bench physics --threads 0"), 2);
  assert_non_null(strstr(out, "out of range"));
  assert_int_equal(animat("train --steps"), 2);
  assert_non_null(strstr(out, "--steps needs a value"));
  assert_int_equal(animat("bodies no-such-body"), 1);
  assert_non_null(strstr(out, "unknown body 'no-such-body'"));
  assert_int_equal(animat("tasks reacher --task-param nope=1"), 1);
  assert_non_null(strstr(out, "valid: episode_steps"));
  assert_int_equal(animat("version"), 0);
  assert_non_null(strstr(out, "MuJoCo 2.2"));
  for (const char* c = "demo bodies tasks bench train record inspect verify export version"; *c;) {
    char name[32];
    int n = 0;
    while (*c && *c != ' ') name[n++] = *c++;
    name[n] = 0;
    while (*c == ' ') c++;
    assert_int_equal(animat("%s --help", name), 0);
    assert_non_null(strstr(out, "usage: animat"));
  }
}

static void test_train_protects_runs_and_records(void** state) {
  char a[512], b[512], ca[600], cb[600], rec[700];
  snprintf(a, sizeof a, "%s/plain", tmpdir);
  snprintf(b, sizeof b, "%s/recorded", tmpdir);
  const char* common = "train --task reacher --steps 8192 --envs 16 --quiet";
  assert_int_equal(animat("%s --out '%s'", common, a), 0);
  // A second run into the same directory is refused and names the way out.
  assert_int_equal(animat("%s --out '%s'", common, a), 1);
  assert_non_null(strstr(out, "already holds a run"));
  assert_non_null(strstr(out, "--resume"));
  // Evaluation recordings on multiples of 4096 steps; the training itself is unchanged.
  assert_int_equal(animat("%s --out '%s' --record-every 4096 --record-episodes 2", common, b), 0);
  snprintf(ca, sizeof ca, "%s/checkpoint.bin", a);
  snprintf(cb, sizeof cb, "%s/checkpoint.bin", b);
  assert_true(same_file(ca, cb));
  snprintf(rec, sizeof rec, "%s/recordings/step-4096.rollout", b);
  assert_true(file_exists(rec));
  snprintf(rec, sizeof rec, "%s/recordings/step-8192.rollout", b);
  assert_true(file_exists(rec));
  assert_int_equal(animat("verify '%s' --resim", rec), 0);
  assert_non_null(strstr(out, "largest qpos deviation 0"));
  assert_int_equal(animat("inspect '%s'", rec), 0);
  const char* ps = strstr(out, "policy.step");
  assert_non_null(ps);
  assert_int_equal(atoi(ps + strlen("policy.step")), 8192);  // the checkpoint's training step
  // --force starts over.
  assert_int_equal(animat("%s --out '%s' --force", common, a), 0);
  assert_true(same_file(ca, cb));
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/animat-test-cli-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_train_protects_runs_and_records),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd)) {}
  return rc;
}
