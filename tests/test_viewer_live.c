// test_viewer_live.c: the viewer's live mode acts exactly as `animat record` does (one acting path,
// agents/ama_act.c): the same checkpoint, seed and --deterministic give the same actions (clipped)
// and rewards step for step, with and without sampling.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "amt_tasks.h"
#include "amv.h"
#include "cli_test_util.h"

static char err[AM_ERR_LEN];

static float* read_ch(am_ds_reader* r, const char* name, int64_t ep) {
  int c = am_ds_find_channel(r, name);
  if (c < 0) fail_msg("no channel %s", name);
  const am_ds_episode* e = am_ds_get_episode(r, ep);
  float* x = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps);
  if (am_ds_read_channel(r, ep, c, x, err, sizeof err)) fail_msg("%s", err);
  return x;
}

static void live_matches_record(const char* task, int det) {
  char ds[400], run_dir[400];
  snprintf(ds, sizeof ds, "%s/%s-%d.rollout", tmpdir, task, det);
  snprintf(run_dir, sizeof run_dir, "%s/%s", tmpdir, task);
  assert_int_equal(animat("record %s --envs 1 --threads 1 --seed 5 --episodes 2 --out %s-%d.rollout --quiet%s",
                       task, task, det, det ? " --deterministic" : ""), 0);
  am_ds_reader* r = am_ds_open(ds, err, sizeof err);
  if (!r) fail_msg("%s", err);
  amv_live L;
  amv_meta meta;
  amv_episode ep;
  memset(&ep, 0, sizeof ep);
  if (amv_live_open(&L, NULL, NULL, run_dir, 5, det, &meta, &ep, err, sizeof err))
    fail_msg("%s", err);
  int A = L.task.act_dim;
  for (int64_t e = 0; e < 2; e++) {
    float* rew = read_ch(r, "reward", e);
    float* act = read_ch(r, "action", e);
    int64_t T = am_ds_get_episode(r, e)->steps;
    int rc = 0;
    while (rc == 0) {
      rc = amv_live_step(&L, &ep, err, sizeof err);
      assert_true(rc >= 0);
    }
    assert_int_equal(ep.T, T);
    int ach = L.ch_action;
    for (int64_t s = 0; s < T; s++) {
      assert_true(ep.reward[s] == rew[s]);
      assert_memory_equal(ep.channels[ach].x + s * A, act + s * A, sizeof(float) * A);
    }
    amv_live_next_episode(&L, &ep);
    free(rew);
    free(act);
  }
  amv_live_close(&L);
  amv_episode_free(&ep);
  am_ds_reader_free(r);
}

static void test_live_matches_record(void** state) {
  (void)state;
  for (int det = 0; det < 2; det++) live_matches_record("reacher", det);
  live_matches_record("reach-center-out", 0);  // excitations clipped to [0, 1]
}

static int setup(void** state) {
  (void)state;
  if (make_tmpdir("live") || chdir(tmpdir)) return -1;  // the commands below write here
  return animat("train --task reacher --steps 4096 --envs 8 --seed 2 --quiet --set horizon=32 "
             "--set minibatches=2 --out reacher") ||
         animat("train --task reach-center-out --steps 4096 --envs 8 --seed 2 --quiet --set horizon=32 "
             "--set minibatches=2 --set init_logstd=0 --out reach-center-out");
}

static int teardown(void** state) {
  (void)state;
  remove_tmpdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_live_matches_record)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
