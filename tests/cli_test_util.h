// cli_test_util.h: helpers shared by the tests that run the built `animat` command (test_cli.c,
// test_export.c). Include after <cmocka.h>; every function is static, one copy per test program.
#ifndef CLI_TEST_UTIL_H
#define CLI_TEST_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[256];  // made by make_tmpdir, removed by remove_tmpdir
static char out[65536];   // stdout and stderr of the last animat() call

// Runs `animat ARGS` (stdout and stderr captured into out); returns the exit status.
static int animat(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static int animat(const char* fmt, ...) {
  char args[4096], cmd[5200];
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

// Fails the test unless the last animat() output contains s (and shows the output when not).
__attribute__((unused)) static void expect_out(const char* s) {
  if (!strstr(out, s)) fail_msg("expected '%s' in the output:\n%s", s, out);
}

__attribute__((unused)) static int file_exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

__attribute__((unused)) static int same_file(const char* a, const char* b) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
  return system(cmd) == 0;
}

static int make_tmpdir(const char* name) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/animat-test-%s-XXXXXX", name);
  return mkdtemp(tmpdir) ? 0 : -1;
}

static void remove_tmpdir(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd)) {}
}

// The value of column `col` in row `row` (0-based data row) of a CSV file.
__attribute__((unused)) static double csv_value(const char* path, int row, const char* col) {
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  static char line[1 << 16];
  assert_non_null(fgets(line, sizeof line, f));
  int k = -1, i = 0;
  for (char* s = strtok(line, ",\n"); s; s = strtok(NULL, ",\n"), i++)
    if (!strcmp(s, col)) k = i;
  if (k < 0) fail_msg("no column %s in %s", col, path);
  for (int r = 0; r <= row; r++) assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  char* s = line;
  for (i = 0; i < k; i++) s = strchr(s, ',') + 1;
  return *s == ',' || *s == '\n' ? NAN : strtod(s, NULL);
}

// The text after the first `"key": ` in a JSON file (its first 64 KB).
__attribute__((unused)) static const char* json_find(const char* path, const char* key) {
  FILE* f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  static char js[1 << 16];
  js[fread(js, 1, sizeof js - 1, f)] = 0;
  fclose(f);
  char k[128];
  snprintf(k, sizeof k, "\"%s\": ", key);
  const char* p = strstr(js, k);
  if (!p) fail_msg("no %s in %s", key, path);
  return p + strlen(k);
}

// The number after the first `"key": ` in a JSON file (the analyses' METHOD.json).
__attribute__((unused)) static double json_value(const char* path, const char* key) {
  return strtod(json_find(path, key), NULL);
}

// Whether the value of the first `"key"` in a JSON file is null.
__attribute__((unused)) static int json_is_null(const char* path, const char* key) {
  return !strncmp(json_find(path, key), "null", 4);
}

#endif  // CLI_TEST_UTIL_H
