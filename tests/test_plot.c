// test_plot.c: `animat plot RUN` on a tiny real training run (the SVG is parsed back by Python's XML
// parser: one panel per column, one line per panel with finite values, a note in a panel without
// any), --columns, --smooth and --out, a run still writing its last row, and the errors: a missing
// run or metrics.csv, an empty file, a header without rows, a malformed row (file, line and column
// named), an unknown column; a failed write leaves no figure behind.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_test_util.h"
#include "svg_test_util.h"

static char run[400];

static int setup(void** state) {
  if (make_tmpdir("plot")) return -1;
  snprintf(run, sizeof run, "%s/run", tmpdir);
  // 4 iterations of 32 steps; 10-step episodes, so every iteration ends some
  return animat("train --task reacher --steps 128 --envs 2 --set minibatches=1 --set horizon=16 "
                "--set epochs=1 --threads 1 --task-param episode_steps=10 --quiet --out '%s'",
                run)
             ? -1
             : 0;
}

static int teardown(void** state) {
  remove_tmpdir();
  return 0;
}

// Per panel of the SVG at path, "title:polylines" (spaces in the title as '_'), space-separated.
static void panels(const char* path, char* res, size_t n) {
  svg_python("out = []\n"
             "for g in r.iter(ns + 'g'):\n"
             "  if g.get('class') != 'panel': continue\n"
             "  t = [e.text for e in g.findall(ns + 'text') if e.get('font-weight') == 'bold'][0]\n"
             "  out.append('%s:%d' % (t.replace(' ', '_'), len(list(g.iter(ns + 'polyline')))))\n"
             "print(' '.join(out))\n",
             path, res, n);
}

static void write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_plot_run(void** state) {
  char svg[500], res[4096];
  assert_int_equal(animat("plot '%s'", run), 0);
  expect_out("4 iterations, 128 env steps");
  expect_out("final: mean_return ");
  expect_out("best return ");
  expect_out("training.svg (6 panels)");
  snprintf(svg, sizeof svg, "%s/training.svg", run);
  assert_true(file_exists(svg));
  panels(svg, res, sizeof res);
  // reacher declares no success event: its column is all nan, drawn as a note, not a line
  assert_string_equal(res, "return:1 success_rate:0 policy_loss:1 value_loss:1 entropy:1 speed:1");
  char csv[500];
  snprintf(csv, sizeof csv, "%s/metrics.csv", run);
  char* text = NULL;
  size_t len = 0;
  FILE* f = fopen(csv, "r");
  assert_non_null(f);
  assert_true(getdelim(&text, &len, 0, f) > 0);
  fclose(f);
  assert_non_null(strstr(text, ",nan,"));  // the success column
  free(text);
  expect_out(", success n/a,");

  // --columns, --smooth (raw + smoothed line per panel) and --out; RUN may be the csv itself
  snprintf(svg, sizeof svg, "%s/two.svg", tmpdir);
  assert_int_equal(animat("plot '%s' --columns mean_length,approx_kl --smooth 3 --out '%s'", csv,
                          svg), 0);
  expect_out("(2 panels)");
  panels(svg, res, sizeof res);
  assert_string_equal(res, "episode_length:2 approximate_KL:2");
}

// A last row without its newline (train is writing it) is left out with a note; rows after it
// would not exist.
static void test_plot_torn_row(void** state) {
  char dir[500], csv[600], svg[600], res[4096];
  snprintf(dir, sizeof dir, "%s/torn", tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
  write_file(csv, "iteration,env_steps,mean_return\n1,100,-5\n2,200,-3\n3,300,-4\n4,40");
  assert_int_equal(animat("plot '%s' --columns mean_return", dir), 0);
  expect_out("3 iterations, 300 env steps (a last, incomplete row left out");
  expect_out("final: mean_return -4");
  expect_out("best return -3 at 200 env steps (iteration 2)");
  snprintf(svg, sizeof svg, "%s/training.svg", dir);
  panels(svg, res, sizeof res);
  assert_string_equal(res, "return:1");
}

static void test_plot_errors(void** state) {
  char dir[500], csv[600], svg[600];
  snprintf(dir, sizeof dir, "%s/bad", tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
  snprintf(svg, sizeof svg, "%s/training.svg", dir);

  assert_int_equal(animat("plot --help"), 0);
  expect_out("usage: animat plot RUN");
  assert_int_equal(animat("--help"), 0);
  expect_out("  plot         draw a training run's curves");
  assert_int_equal(animat("plot"), 2);
  expect_out("usage: animat plot RUN");
  assert_int_equal(animat("plot '%s/nope'", tmpdir), 1);
  expect_out("nope: no such run directory");
  assert_int_equal(animat("plot '%s'", dir), 1);
  expect_out("bad/metrics.csv: no metrics.csv in this directory");

  // bad metrics.csv contents, and the message each gets (file, line and column named)
  static const struct {
    const char *csv, *args, *message;
  } bad[] = {
      {"", "", "bad/metrics.csv: empty file (no header)"},
      {"iteration,env_steps,mean_return\n", "", "bad/metrics.csv: no rows yet"},
      {"iteration,env_steps,mean_return\n1,100,-5\n2,200,x7\n", "",
       "bad/metrics.csv line 3, column 3 (mean_return): 'x7' is not a number"},
      {"iteration,env_steps,mean_return\n1,100,-5\n2,200\n", "",
       "bad/metrics.csv line 3: 2 fields, the header has 3"},
      {"iteration,env_steps,mean_return\n1,100,-5,7\n", "",
       "bad/metrics.csv line 2: 4 fields, the header has 3"},
      {"iteration,steps,mean_return\n1,100,-5\n", "",
       "no column 'env_steps' (columns: iteration, steps, mean_return)"},
      {"iteration,env_steps,mean_return\n1,100,-5\n", "--columns mean_return,sucess",
       "--columns: no column 'sucess' in"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file(csv, bad[i].csv);
    assert_int_equal(animat("plot '%s' %s", dir, bad[i].args), 1);
    expect_out(bad[i].message);
  }
  assert_false(file_exists(svg));  // no figure from any of these
  // an unwritable output: named, nothing left behind
  assert_int_equal(animat("plot '%s' --columns mean_return --out '%s/no-dir/f.svg'", dir, dir), 1);
  expect_out("cannot write ");
  expect_out("no-dir/f.svg: No such file or directory");
  assert_int_equal(animat("plot '%s' --columns mean_return --out '%s'", dir, dir), 1);
  expect_out("cannot write ");
  char tmp[700];
  snprintf(tmp, sizeof tmp, "%s.tmp", dir);
  assert_false(file_exists(tmp));
  assert_false(file_exists(svg));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plot_run),
      cmocka_unit_test(test_plot_torn_row),
      cmocka_unit_test(test_plot_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
