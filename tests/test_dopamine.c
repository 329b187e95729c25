// test_dopamine.c: the distributional critic end to end: a short training with critic_heads = 3
// on reach-center-out with reward_sizes, its recording (channels critic/heads and critic/rpe,
// metadata critic.tau and critic.gamma) checked row by row against the TD error computed from the
// recorded heads and rewards, `animat analyze dopamine` on a planted population (heads predicting
// the expectiles of the delivered sizes) and its error paths (too few rewarded trials; a recording
// without the critic's channels).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "am_dataset.h"
#include "cli_test_util.h"

static float* read_ch(am_ds_reader* r, int64_t ep, const char* name, size_t* elems) {
  char err[AM_ERR_LEN];
  int c = am_ds_find_channel(r, name);
  if (c < 0) fail_msg("no channel %s", name);
  const am_ds_channel* ch = am_ds_get_channel(r, c);
  *elems = ch->elems;
  void* x = malloc(ch->row_bytes * (size_t)am_ds_get_episode(r, ep)->steps + 1);
  assert_non_null(x);
  if (am_ds_read_channel(r, ep, c, x, err, sizeof err)) fail_msg("%s", err);
  return x;
}

static void test_record_rpe(void** state) {
  (void)state;
  char run[600], rec[600], rnd[600], dir[600];
  snprintf(run, sizeof run, "%s/run", tmpdir);
  snprintf(rec, sizeof rec, "%s/dist.rollout", tmpdir);
  snprintf(rnd, sizeof rnd, "%s/random.rollout", tmpdir);
  snprintf(dir, sizeof dir, "%s/an", tmpdir);
  assert_int_equal(animat("train --task reach-center-out --task-param reward_sizes=1,5,20 "
                          "--steps 1024 --envs 8 --set minibatches=2 --set horizon=32 "
                          "--set critic_heads=3 --set norm_reward=0 --set gamma=0.95 --quiet "
                          "--out '%s'", run), 0);
  assert_int_equal(animat("record '%s' --episodes 3 --envs 2 --out '%s' --quiet", run, rec), 0);
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(rec, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_string_equal(am_ds_meta(r, "critic.tau", NULL), "0.166667,0.5,0.833333");
  assert_string_equal(am_ds_meta(r, "critic.gamma", NULL), "0.949999988");
  int checked = 0, terminal = 0;
  for (int64_t ep = 0; ep < am_ds_num_episodes(r); ep++) {
    const am_ds_episode* e = am_ds_get_episode(r, ep);
    size_t K, K2, one, one2;
    float* V = read_ch(r, ep, "critic/heads", &K);
    float* D = read_ch(r, ep, "critic/rpe", &K2);
    float* R = read_ch(r, ep, "reward", &one);
    uint8_t* term = (uint8_t*)read_ch(r, ep, "terminated", &one2);
    assert_true(K == 3 && K2 == 3 && one == 1);
    for (int64_t t = 0; t < e->steps; t++) {
      int last = t == e->steps - 1;
      if (last && !term[t]) continue;  // truncated: bootstraps from the final observation
      for (size_t i = 0; i < K; i++) {
        double next = last ? 0 : 0.95f * V[(t + 1) * K + i];
        double want = R[t] + next - V[t * K + i];
        if (fabs(D[t * K + i] - want) > 1e-4 * (1 + fabs(want)))
          fail_msg("episode %lld row %lld head %zu: rpe %g, r + gamma V' - V = %g", (long long)ep,
                   (long long)t, i, D[t * K + i], want);
        checked++;
      }
      terminal += last;
    }
    free(V), free(D), free(R), free(term);
  }
  am_ds_reader_free(r);
  assert_true(checked > 100);
  printf("# %d head-steps checked (%d terminal rows)\n", checked, terminal);
  // the analysis needs rewarded trials, and the critic's channels
  assert_int_equal(animat("analyze dopamine '%s' --out '%s'", rec, dir), 1);
  expect_out("rewarded trials in the dataset (need >= 10)");
  assert_int_equal(animat("record --random --task reach-center-out --episodes 1 --out '%s' --quiet",
                          rnd), 0);
  assert_int_equal(animat("analyze dopamine '%s' --out '%s'", rnd, dir), 1);
  expect_out("no channel critic/rpe");
  // a classic critic records no critic channels
  assert_int_equal(animat("train --task reach-center-out --steps 256 --envs 4 --set minibatches=2 "
                          "--set horizon=32 --quiet --force --out '%s'", run), 0);
  assert_int_equal(animat("record '%s' --episodes 1 --envs 1 --out '%s' --force --quiet", run,
                          rec), 0);
  assert_int_equal(animat("inspect '%s'", rec), 0);
  if (strstr(out, "critic/")) fail_msg("a classic critic recorded critic channels:\n%s", out);
}

// A planted population: 5 heads whose prediction at reward delivery is the tau_i-expectile of the
// sizes delivered (each of 0.1, 1, 4, 10 in turn over 40 one-trial episodes), so each head's
// prediction error is size - expectile: the analysis must find the expectiles as reversal points,
// rank correlation 1, and decode a distribution near the delivered one. Rows: trial_start, 3
// steps, reward at row 3 (hold_complete, reward, trial_end).
static void test_planted_population(void** state) {
  (void)state;
  enum { K = 5, EPS = 40, STEPS = 4 };
  const double sizes[4] = {0.1, 1, 4, 10}, tau[K] = {0.1, 0.3, 0.5, 0.7, 0.9};
  double all[EPS], e[K];
  for (int i = 0; i < EPS; i++) all[i] = sizes[i % 4];
  for (int i = 0; i < K; i++) {  // the expectiles, by bisection here (independent of ana_dist.c)
    double lo = 0, hi = 10;
    for (int it = 0; it < 100; it++) {
      double m = 0.5 * (lo + hi), f = 0;
      for (int j = 0; j < EPS; j++) f += all[j] > m ? tau[i] * (all[j] - m) : -(1 - tau[i]) * (m - all[j]);
      if (f > 0) lo = m;
      else hi = m;
    }
    e[i] = 0.5 * (lo + hi);
  }
  char path[600], dir[600], err[AM_ERR_LEN];
  snprintf(path, sizeof path, "%s/planted.rollout", tmpdir);
  snprintf(dir, sizeof dir, "%s/planted", tmpdir);
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_non_null(w);
  am_ds_set_meta(w, "task.name", "reach-center-out", -1);
  am_ds_set_meta(w, "control_dt", "0.01", -1);
  am_ds_set_meta(w, "task.trial_events",
                 "trial_start=trial_start,success=hold_complete,trial_end=trial_end", -1);
  am_ds_set_meta(w, "task.conditions", "", -1);
  am_ds_set_meta(w, "critic.tau", "0.1,0.3,0.5,0.7,0.9", -1);
  am_channel_def ev = {.name = "events", .group = "task", .dtype = AM_DT_U32, .ndim = 0,
                       .labels = "trial_start,hold_complete,reward,trial_end"};
  am_channel_def tm = {.name = "reward_terms", .group = "reward", .dtype = AM_DT_F32, .ndim = 1,
                       .shape = {2}, .labels = "success,proximity"};
  am_channel_def rp = {.name = "critic/rpe", .group = "network", .dtype = AM_DT_F32, .ndim = 1,
                       .shape = {K}};
  int c_ev = am_ds_add_channel(w, &ev), c_tm = am_ds_add_channel(w, &tm);
  int c_rp = am_ds_add_channel(w, &rp);
  assert_true(c_ev >= 0 && c_tm >= 0 && c_rp >= 0);
  assert_int_equal(am_ds_begin(w, 1, 0, 0), 0);
  for (int i = 0; i < EPS; i++) {
    assert_int_equal(am_ds_episode_begin(w, 0, i, NULL), 0);
    for (int t = 0; t < STEPS; t++) {
      int last = t == STEPS - 1;
      uint32_t bits = (t == 0 ? 1u : 0) | (last ? 2u | 4u | 8u : 0);
      memcpy(am_ds_row_ptr(w, 0, c_ev), &bits, 4);
      float* term = am_ds_row_ptr(w, 0, c_tm);
      term[0] = last ? (float)all[i] : 0, term[1] = 0.01f;
      float* d = am_ds_row_ptr(w, 0, c_rp);
      for (int k = 0; k < K; k++) d[k] = last ? (float)(all[i] - e[k]) : 0;
      assert_int_equal(am_ds_row_commit(w, 0, last ? AM_DS_END | AM_DS_TERMINATED : 0), 0);
    }
  }
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  assert_int_equal(animat("analyze dopamine '%s' --out '%s'", path, dir), 0);
  expect_out("dopamine: 5 heads (tau from critic.tau), 40 rewarded trials; Spearman rho(tau, "
             "reversal point) 1.000");
  char csv[700];
  snprintf(csv, sizeof csv, "%s/dopamine.csv", dir);
  for (int k = 0; k < K; k++) {
    assert_float_equal(csv_value(csv, k, "reversal_point"), e[k], 1e-5);  // the planted prediction
    assert_float_equal(csv_value(csv, k, "true_expectile"), e[k], 1e-6);  // the analysis' own
    assert_float_equal(csv_value(csv, k, "slope"), 1, 1e-6);
  }
  snprintf(csv, sizeof csv, "%s/dopamine.json", dir);
  double w1 = json_value(csv, "wasserstein1");
  assert_true(w1 < 1.0);  // decoded from 5 expectiles; a point mass at the mean is 3.2 away
  printf("# planted: W1 of the decoded distribution %.3f\n", w1);
}

static int setup(void** state) { return make_tmpdir("dopamine"); }
static int teardown(void** state) {
  remove_tmpdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_record_rpe),
                                     cmocka_unit_test(test_planted_population)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
