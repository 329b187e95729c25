// test_experiment.c: `animat experiment` (tools/cmd_experiment.c) end to end on a tiny training:
// center-out --quick writes a complete report (its sections, every step's command line and log,
// the figures it links, the trial table); --run reuses a trained run and records the same trials
// for the same seed; force-field --quick compares a learning session with fixed weights; the
// refusals (unknown experiment, a non-empty DIR); bandit --quick with a tiny training; a failed or interrupted experiment leaves
// report.incomplete.md and no report.md.
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "am_sim.h"
#include "cli_test_util.h"

static char* read_text(const char* path) {
  char err[AM_ERR_LEN];
  char* t = am_read_text(path, NULL, err, sizeof err);
  if (!t) fail_msg("%s", err);
  return t;
}

static void expect_in(const char* text, const char* s) {
  if (!strstr(text, s)) fail_msg("expected '%s' in:\n%s", s, text);
}

static int count_lines(const char* t) {
  int n = 0;
  for (; *t; t++) n += *t == '\n';
  return n;
}

// The quick experiment's directory, made once by test_center_out_quick and reused.
static char quick_dir[512];

static void test_center_out_quick(void** state) {
  (void)state;
  snprintf(quick_dir, sizeof quick_dir, "%s/co", tmpdir);
  assert_int_equal(animat("experiment center-out --quick --out %s --quiet", quick_dir), 0);
  expect_out("report:");
  char p[1024];
  snprintf(p, sizeof p, "%s/report.incomplete.md", quick_dir);
  assert_false(file_exists(p));
  snprintf(p, sizeof p, "%s/report.md", quick_dir);
  char* r = read_text(p);
  const char* sections[] = {"# animat experiment center-out", "**--quick**", "## Published finding",
                            "## Measured", "## Figures", "## Steps", "## What each step printed",
                            "## References", "Georgopoulos", "Churchland", "units cosine-tuned",
                            "jPCA", "| quantity | published | measured here |"};
  for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) expect_in(r, sections[i]);
  // every step: its command line, status and log
  const char* cmds[] = {"`animat train --config ", "`animat record ", "`animat trials ",
                        "`animat analyze tuning ", "`animat analyze decode ",
                        "`animat analyze psth ", "`animat analyze jpca "};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) expect_in(r, cmds[i]);
  expect_in(r, "--steps 400000");
  const char* steps = strstr(r, "## Steps");
  int rows = 0;
  for (const char* q = steps; (q = strstr(q, "\n| ")); q++) {
    int num;
    if (sscanf(q, "\n| %d |", &num) != 1) continue;
    rows++;
    const char* end = strchr(q + 1, '\n');
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(end - q - 1), q + 1);
    if (!strstr(line, "| ok |")) fail_msg("step not ok: %s", line);
    char log[1024], lp[256];
    assert_int_equal(sscanf(strstr(line, "[logs/"), "[%255[^]]", lp), 1);
    snprintf(log, sizeof log, "%s/%s", quick_dir, lp);
    if (!file_exists(log)) fail_msg("missing log %s", log);
  }
  assert_int_equal(rows, 8);
  // every figure the report links exists and is an SVG; the four main ones are there
  int figs = 0;
  for (const char* q = r; (q = strstr(q, "](analysis/")); q++) {
    char rel[256], path[1024];
    assert_int_equal(sscanf(q, "](%255[^)])", rel), 1);
    snprintf(path, sizeof path, "%s/%s", quick_dir, rel);
    char* svg = read_text(path);
    if (!strstr(svg, "<svg")) fail_msg("%s is not an SVG", path);
    free(svg);
    figs++;
  }
  assert_true(figs >= 4);
  const char* must[] = {"analysis/tuning/tuning.svg", "analysis/jpca/jpca.svg",
                        "analysis/psth/psth.svg", "analysis/prep-tuning/tuning.svg"};
  for (int i = 0; i < 4; i++) expect_in(r, must[i]);
  // the trial table: a header and one row per recorded trial (200 one-trial episodes)
  snprintf(p, sizeof p, "%s/trials.csv", quick_dir);
  char* t = read_text(p);
  assert_true(!strncmp(t, "episode,env,trial,", 18));
  expect_in(t, ",condition,");
  assert_int_equal(count_lines(t), 201);
  free(t);
  free(r);
}

// --run: no training; the same run and seed record the same trials.
static void test_reuse_run(void** state) {
  (void)state;
  if (!quick_dir[0]) skip();
  char dir[600];
  snprintf(dir, sizeof dir, "%s/again", tmpdir);
  assert_int_equal(animat("experiment center-out --quick --run %s/run --out %s --quiet",
                          quick_dir, dir), 0);
  char p[1024], a[640], b[640];
  snprintf(p, sizeof p, "%s/report.md", dir);
  char* r = read_text(p);
  expect_in(r, "given with --run");
  assert_null(strstr(r, "`animat train"));
  free(r);
  snprintf(a, sizeof a, "%s/trials.csv", quick_dir);
  snprintf(b, sizeof b, "%s/trials.csv", dir);
  assert_true(same_file(a, b));
  snprintf(p, sizeof p, "%s/run", dir);
  assert_false(file_exists(p));
}

// force-field --quick on the quick run: the session with learning and the fixed-weight control,
// their adaptation figures and the table comparing them.
static void test_force_field_quick(void** state) {
  (void)state;
  if (!quick_dir[0]) skip();
  char dir[600], p[1024];
  snprintf(dir, sizeof dir, "%s/ff", tmpdir);
  if (animat("experiment force-field --quick --run %s/run --out %s --quiet", quick_dir, dir))
    fail_msg("%s", out);
  snprintf(p, sizeof p, "%s/report.md", dir);
  char* r = read_text(p);
  expect_in(r, "| learning in session | fixed weights |");
  expect_in(r, "error reduction");
  expect_in(r, "after-effect ratio");
  expect_in(r, "savings");
  expect_in(r, "learning=none");
  const char* figs[] = {"analysis/session/adaptation/adaptation.svg",
                        "analysis/session-fixed/adaptation/adaptation.svg"};
  for (int i = 0; i < 2; i++) {
    expect_in(r, figs[i]);
    snprintf(p, sizeof p, "%s/%s", dir, figs[i]);
    char* svg = read_text(p);
    expect_in(svg, "<svg");
    free(svg);
  }
  snprintf(p, sizeof p, "%s/analysis/session/params.rollout", dir);
  assert_true(file_exists(p));
  free(r);
}

static void test_refusals(void** state) {
  (void)state;
  assert_int_equal(animat("experiment no-such --out %s/x", tmpdir), 2);
  expect_out("unknown experiment 'no-such'");
  expect_out("center-out");
  assert_int_equal(animat("experiment center-out"), 2);
  expect_out("--out");
  // a non-empty DIR is refused and left as it was
  char dir[600], p[1024];
  snprintf(dir, sizeof dir, "%s/full", tmpdir);
  mkdir(dir, 0777);
  snprintf(p, sizeof p, "%s/keep.txt", dir);
  FILE* f = fopen(p, "w");
  fputs("mine\n", f);
  fclose(f);
  assert_int_equal(animat("experiment center-out --quick --out %s", dir), 2);
  expect_out("exists and is not empty");
  snprintf(p, sizeof p, "%s/report.incomplete.md", dir);
  assert_false(file_exists(p));
  snprintf(p, sizeof p, "%s/logs", dir);
  assert_false(file_exists(p));
  // the meta-RL ones run end to end (a tiny training: the pipeline, not the finding)
  assert_int_equal(animat("experiment bandit --quick --steps 6400 --episodes 20 --out %s/b --quiet",
                          tmpdir), 0);
  snprintf(p, sizeof p, "%s/b/report.md", tmpdir);
  char* rep = am_read_text(p, NULL, NULL, 0);
  assert_non_null(rep);
  assert_non_null(strstr(rep, "cumulative expected regret: Thompson sampling"));
  assert_non_null(strstr(rep, "Wang JX"));
  free(rep);
  assert_int_equal(animat("experiment --list"), 0);
  const char* names[] = {"center-out", "decision", "force-field", "rotation", "bandit", "two-step"};
  for (int i = 0; i < 6; i++) expect_out(names[i]);
  assert_int_equal(animat("--help"), 0);
  expect_out("experiment");
}

// DIR has no report.md; its report.incomplete.md says why and what the step's status was, and
// holds no findings.
static void expect_incomplete(const char* dir, const char* why, const char* status) {
  char p[1024];
  snprintf(p, sizeof p, "%s/report.md", dir);
  assert_false(file_exists(p));
  snprintf(p, sizeof p, "%s/report.incomplete.md", dir);
  char* r = read_text(p);
  expect_in(r, why);
  expect_in(r, status);
  assert_null(strstr(r, "## Measured"));
  free(r);
}

// A required step that fails stops the experiment: report.incomplete.md, no report.md.
static void test_failure_incomplete(void** state) {
  (void)state;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/fail", tmpdir);
  assert_int_equal(animat("experiment center-out --run %s/no-such-run --out %s --quiet", tmpdir,
                          dir), 1);
  expect_out("stopped after 1 step");
  expect_incomplete(dir, "**INCOMPLETE** (stopped: step 1 (record) failed)", "| failed |");
}

// SIGTERM during training: the experiment stops, says so, and claims nothing.
static void test_interrupted(void** state) {
  (void)state;
  char dir[600], p[1024], bin[600];
  snprintf(dir, sizeof dir, "%s/int", tmpdir);
  snprintf(bin, sizeof bin, "%s/animat", ANIMAT_BUILD_DIR);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(bin, "animat", "experiment", "center-out", "--out", dir, "--steps", "100000000",
          (char*)NULL);
    _exit(127);
  }
  snprintf(p, sizeof p, "%s/run/metrics.csv", dir);
  for (int i = 0; i < 600 && !file_exists(p); i++) usleep(100000);  // training has started
  kill(pid, SIGTERM);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 1);
  expect_incomplete(dir, "**INCOMPLETE** (interrupted)", "| interrupted |");
}

static int setup(void** state) {
  (void)state;
  return make_tmpdir("experiment");
}

static int teardown(void** state) {
  (void)state;
  remove_tmpdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_failure_incomplete),
      cmocka_unit_test(test_interrupted),
      cmocka_unit_test(test_center_out_quick),
      cmocka_unit_test(test_reuse_run),
      cmocka_unit_test(test_force_field_quick),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
