// test_viewer_live.c: what the viewer shows comes from what happened. Live mode acts exactly as
// `animat record` does (one acting path, agents/ama_act.c): the same checkpoint, seed and
// --deterministic give the same actions (clipped) and rewards step for step, with and without
// sampling. Replay shows scenery moved during an episode (a forage-maze target taken) from the
// step it moved, and `verify --resim` stays exact.
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

// A target taken in the middle of a forage-maze episode (parked as the task parks it): the file's
// mocap_pos channel has it from that step on, the replayed scenery changes at that step and not
// before, and the replay of the physics is still exact.
static void test_replay_scenery_moves(void** state) {
  (void)state;
  am_task t;
  if (amt_create(&t, "forage-maze", NULL, err, sizeof err)) fail_msg("%s", err);
  am_pool_config pc = {.num_envs = 1, .num_threads = 1, .seed = 3, .export_state = 1};
  am_pool* p = am_pool_create(&t, &pc, err, sizeof err);
  if (!p) fail_msg("%s", err);
  char path[400];
  snprintf(path, sizeof path, "%s/maze.rollout", tmpdir);
  am_rec_config rc = {.path = path, .episodes = 1, .seed = 3, .policy = "zero", .policy_step = -1};
  am_rec* rec = am_rec_create(p, &rc, err, sizeof err);
  if (!rec || am_rec_begin(rec, err, sizeof err)) fail_msg("%s", err);
  const mjModel* m = t.model->m;
  int target = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "target0")];
  assert_true(target >= 0);
  double before[3];
  mjData* d = am_pool_env(p, 0)->d;
  memcpy(before, d->mocap_pos + 3 * target, sizeof before);
  for (int s = 0; s < 12; s++) {
    memset(am_pool_batch(p)->actions, 0, sizeof(float) * t.act_dim);
    if (s == 5) d->mocap_pos[3 * target + 2] = -5;  // taken: out of sight, before step 5
    am_pool_step(p);
    assert_true(am_rec_step(rec, err, sizeof err) >= 0);
  }
  if (am_rec_close(rec, err, sizeof err)) fail_msg("%s", err);
  am_pool_free(p);
  amv_ds D;
  amv_meta meta;
  amv_episode ep;
  memset(&ep, 0, sizeof ep);
  if (amv_ds_open(&D, path, &meta, err, sizeof err)) fail_msg("%s", err);
  mjData* scratch = mj_makeData(D.model->m);
  if (amv_ds_load(&D, &meta, 0, &ep, scratch, err, sizeof err)) fail_msg("%s", err);
  assert_int_equal(ep.T, 12);
  for (int s = 0; s < 12; s++) {
    const double* sc = amv_episode_scene(&ep, s);
    assert_non_null(sc);
    if (s < 5) assert_memory_equal(sc + 3 * target, before, sizeof before);
    else assert_true(sc[3 * target + 2] == -5);
  }
  amv_episode_free(&ep);
  mj_deleteData(scratch);
  amv_ds_close(&D);
  assert_int_equal(animat("verify %s --resim", path), 0);
  expect_out("largest qpos deviation 0");
  amt_destroy(&t);
}

// Live scenery step by step is what a recording of the same seed stores (its mocap_pos channel),
// the last step of each episode included (the pool exports it before resetting the env).
static void test_live_scenery_matches_record(void** state) {
  (void)state;
  assert_int_equal(animat("record --random --task forage-maze --task-param episode_time=0.3 --envs 1 "
                          "--threads 1 --seed 4 --episodes 2 --out maze-live.rollout --quiet"), 0);
  char path[400];
  snprintf(path, sizeof path, "%s/maze-live.rollout", tmpdir);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  amt_params prm = {0};
  if (amt_params_add(&prm, "episode_time=0.3", err, sizeof err)) fail_msg("%s", err);
  amv_live L;
  amv_meta meta;
  amv_episode ep;
  memset(&ep, 0, sizeof ep);
  if (amv_live_open(&L, "forage-maze", &prm, "random", 4, 0, &meta, &ep, err, sizeof err))
    fail_msg("%s", err);
  int nm = L.task.model->m->nmocap, c = am_ds_find_channel(r, "mocap_pos");
  assert_true(nm > 0 && c >= 0);
  for (int64_t e = 0; e < 2; e++) {
    int64_t T = am_ds_get_episode(r, e)->steps;
    double* pos = malloc(sizeof(double) * 3 * nm * T);
    if (am_ds_read_channel(r, e, c, pos, err, sizeof err)) fail_msg("%s", err);
    int rc = 0;
    while (rc == 0) assert_true((rc = amv_live_step(&L, &ep, err, sizeof err)) >= 0);
    assert_int_equal(ep.T, T);
    for (int64_t s = 0; s < T; s++)
      assert_memory_equal(amv_episode_scene(&ep, (int)s), pos + s * 3 * nm, sizeof(double) * 3 * nm);
    free(pos);
    amv_live_next_episode(&L, &ep);
  }
  amv_live_close(&L);
  amv_episode_free(&ep);
  am_ds_reader_free(r);
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
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_live_matches_record),
                                     cmocka_unit_test(test_replay_scenery_moves),
                                     cmocka_unit_test(test_live_scenery_matches_record)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
