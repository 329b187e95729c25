// test_analysis_bandit.c: analysis/ana_bandit.c against planted answers: the regret and
// P(better arm) curves, the random chooser's exact regret, Thompson sampling (which must find a
// sure arm quickly and be reproducible from its seed), and the two-step stay table with its
// model-based and model-free indices.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ana.h"

static char err[AM_ERR_LEN];

static void test_curves_and_random(void** s) {
  ana_bandit_curve c;
  assert_int_equal(ana_bandit_curve_init(&c, 3, err, sizeof err), 0);
  const double p1[2] = {0.2, 0.6}, p2[2] = {0.5, 0.5};
  ana_bandit_curve_add(&c, 0, p1, 0);  // regret 0.4, worse arm
  ana_bandit_curve_add(&c, 0, p1, 1);  // 0, better
  ana_bandit_curve_add(&c, 1, p2, 0);  // tie: 0, half
  ana_bandit_curve_add(&c, 7, p1, 0);  // outside: ignored
  ana_bandit_curve_finish(&c);
  assert_float_equal(c.regret[0], 0.2, 1e-12);
  assert_float_equal(c.p_best[0], 0.5, 1e-12);
  assert_float_equal(c.p_best[1], 0.5, 1e-12);
  assert_int_equal(c.count[0], 2);
  assert_true(isnan(c.regret[2]));
  ana_bandit_curve_free(&c);
  const double p[4] = {0.2, 0.6, 0.9, 0.1};
  assert_int_equal(ana_bandit_curve_init(&c, 5, err, sizeof err), 0);
  ana_bandit_random(p, 2, &c);
  for (int t = 0; t < 5; t++) assert_float_equal(c.regret[t], (0.2 + 0.4) / 2, 1e-12);
  ana_bandit_curve_free(&c);
}

static void test_thompson(void** s) {
  // arm 1 always pays, arm 0 never: Thompson's regret per trial falls to about 0 within ~10 trials
  const double p[2] = {0, 1};
  ana_bandit_curve c, d;
  assert_int_equal(ana_bandit_curve_init(&c, 50, err, sizeof err), 0);
  assert_int_equal(ana_bandit_thompson(p, 1, 50, 400, 3, &c, err, sizeof err), 0);
  assert_true(c.regret[0] > 0.4 && c.regret[0] < 0.6);  // the first choice is a coin flip
  assert_true(c.regret[49] < 0.02);
  assert_true(c.p_best[49] > 0.98);
  double cum = 0;
  for (int t = 0; t < 50; t++) cum += c.regret[t];
  assert_true(cum > 0.8 && cum < 3);  // a few wasted pulls, not dozens
  // the same seed gives the same curves
  assert_int_equal(ana_bandit_curve_init(&d, 50, err, sizeof err), 0);
  assert_int_equal(ana_bandit_thompson(p, 1, 50, 400, 3, &d, err, sizeof err), 0);
  assert_memory_equal(c.regret, d.regret, 50 * sizeof(double));
  ana_bandit_curve_free(&c), ana_bandit_curve_free(&d);
  assert_int_equal(ana_bandit_curve_init(&c, 10, err, sizeof err), 0);
  assert_int_equal(ana_bandit_thompson(p, 1, 20, 4, 3, &c, err, sizeof err), -1);  // 20 != 10
  ana_bandit_curve_free(&c);
}

static void test_stay(void** s) {
  // planted: two episodes; pairs (outcome, transition) -> stay
  //  ep 0: R C stay, R C stay, R R switch, U C switch, U R stay, (last: no pair)
  //  ep 1: R C switch, U R stay, U C switch, R R stay, (last)
  const int64_t ep[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
  const double ch[] = {1, 1, 1, -1, 1, 1, 1, -1, -1, 1, 1};
  const int rw[] = {1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0};
  const int cm[] = {1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1};
  ana_stay st;
  assert_int_equal(ana_two_step_stay(ep, ch, rw, cm, 11, &st, err, sizeof err), 0);
  assert_int_equal(st.n[1][1], 3);
  assert_float_equal(st.p[1][1], 2.0 / 3, 1e-12);
  assert_int_equal(st.n[1][0], 2);
  assert_float_equal(st.p[1][0], 0.5, 1e-12);  // switch (ep 0), stay (ep 1)
  assert_int_equal(st.n[0][1], 2);
  assert_float_equal(st.p[0][1], 0.0, 1e-12);
  assert_int_equal(st.n[0][0], 2);
  assert_float_equal(st.p[0][0], 1.0, 1e-12);
  assert_float_equal(st.mb, (2.0 / 3 - 0.5) - (0 - 1), 1e-12);
  assert_float_equal(st.mf, (2.0 / 3 + 0.5 - 0 - 1) / 2, 1e-12);
  assert_float_equal(st.se[1][1], sqrt(2.0 / 3 / 3 / 3), 1e-12);
  // a missing cell is an error naming it
  assert_int_equal(ana_two_step_stay(ep, ch, rw, cm, 3, &st, err, sizeof err), -1);
  assert_non_null(strstr(err, "unrewarded"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_curves_and_random),
                                     cmocka_unit_test(test_thompson), cmocka_unit_test(test_stay)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
