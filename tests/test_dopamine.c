// test_dopamine.c: the distributional critic end to end: a short training with critic_heads = 3
// on reach-center-out with reward_sizes, its recording (channels critic/heads and critic/rpe,
// metadata critic.tau and critic.gamma) checked row by row against the TD error computed from the
// recorded heads and rewards, and `animat analyze dopamine` error paths (too few rewarded trials;
// a recording without the critic's channels).
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

static int setup(void** state) { return make_tmpdir("dopamine"); }
static int teardown(void** state) {
  remove_tmpdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_record_rpe)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
