// test_ethology.c: `animat analyze ethology` on a planted rat. A dataset written here holds the
// rat's model and 25 episodes of kinematics set by hand, five of each behaviour: running (the torso
// moving forward at 0.6 m/s while the left hip swings at 4 Hz and the right shoulder at 6 Hz), turning (yaw at 3 rad/s), rearing
// (the torso pitched up 45 deg), fallen (rolled 90 deg) and still; a module "core" whose units
// code the behaviour (one unit per behaviour) and rotate in a plane at 4 Hz while running, and a
// module "motor" of pure noise. The analysis must find each behaviour's share, decode behaviour
// from core (and not from motor), find the stride at 4 Hz (the right hand at 6 Hz, the other
// limbs without a peak) and core's rotation at 4 Hz (jPCA, and
// not in its time-shuffled control), and rank core's dimensionality below motor's. A recording of
// running alone claims no decoding. Error path: a recording of another body.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "am_dataset.h"
#include "cli_test_util.h"

enum { EPS = 25, STEPS = 150, U = 16 };
enum { RUN, TURN, REAR, FALL, STILL, KINDS };
static const char* const kind_names[KINDS] = {"running", "turning", "rearing", "fallen", "still"};

static void quat_axis(double* q, double ax, double ay, double az, double angle) {
  q[0] = cos(angle / 2), q[1] = ax * sin(angle / 2), q[2] = ay * sin(angle / 2),
  q[3] = az * sin(angle / 2);
}

// kinds: episode ep holds behaviour ep % kinds (KINDS: all five; 1: running only).
static void write_planted(const char* path, int kinds) {
  char err[AM_ERR_LEN];
  am_model* model = am_model_load_body("rat", err, sizeof err);
  if (!model) fail_msg("%s", err);
  const mjModel* m = model->m;
  const int nq = m->nq, nv = m->nv;
  const int hip = mj_name2id(m, mjOBJ_JOINT, "hip_L");
  assert_true(hip >= 0 && m->jnt_qposadr[mj_name2id(m, mjOBJ_JOINT, "root")] == 0);
  const int hq = m->jnt_qposadr[hip];
  const int shoulder = mj_name2id(m, mjOBJ_JOINT, "shoulder_R");
  assert_true(shoulder >= 0);
  const int sq = m->jnt_qposadr[shoulder];
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_non_null(w);
  am_ds_set_meta(w, "task.name", "run", -1);
  am_ds_set_meta(w, "model.name", "rat", -1);
  am_ds_set_meta(w, "model.xml", model->xml, -1);
  am_ds_set_meta(w, "control_dt", "0.02", -1);
  am_ds_set_meta(w, "task.trial_events", "trial_start=,success=,trial_end=", -1);
  am_ds_set_meta(w, "task.conditions", "", -1);
  am_channel_def dq = {.name = "qpos", .group = "body", .dtype = AM_DT_F64, .ndim = 1,
                       .shape = {(uint32_t)nq}};
  am_channel_def dv = {.name = "qvel", .group = "body", .dtype = AM_DT_F64, .ndim = 1,
                       .shape = {(uint32_t)nv}};
  am_channel_def dc = {.name = "core/output", .group = "network", .dtype = AM_DT_F32, .ndim = 1,
                       .shape = {U}};
  am_channel_def dm = {.name = "motor/output", .group = "network", .dtype = AM_DT_F32, .ndim = 1,
                       .shape = {U}};
  int cq = am_ds_add_channel(w, &dq), cv = am_ds_add_channel(w, &dv);
  int cc = am_ds_add_channel(w, &dc), cm = am_ds_add_channel(w, &dm);
  assert_true(cq >= 0 && cv >= 0 && cc >= 0 && cm >= 0);
  assert_int_equal(am_ds_begin(w, 1, 0, 0), 0);
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  const double* stand = m->nkey ? m->key_qpos : m->qpos0;
  const double dt = 0.02, f = 4.0;
  for (int ep = 0; ep < EPS; ep++) {
    const int kind = ep % kinds;
    assert_int_equal(am_ds_episode_begin(w, 0, ep, NULL), 0);
    const double phase = 2 * M_PI * am_rng_uniform(&rng);
    for (int t = 0; t < STEPS; t++) {
      double* q = am_ds_row_ptr(w, 0, cq);
      double* v = am_ds_row_ptr(w, 0, cv);
      memcpy(q, stand, sizeof(double) * nq);
      memset(v, 0, sizeof(double) * nv);
      const double ph = 2 * M_PI * f * t * dt + phase;
      if (kind == RUN) {
        q[0] += 0.6 * t * dt, v[0] = 0.6;
        q[hq] = 0.3 + 0.4 * sin(ph);
        q[sq] = 0.3 + 0.3 * sin(1.5 * (ph - phase));  // the right hand at 6 Hz
      } else if (kind == TURN) {
        quat_axis(q + 3, 0, 0, 1, 3.0 * t * dt);
        v[5] = 3.0;
      } else if (kind == REAR) {
        quat_axis(q + 3, 0, 1, 0, -M_PI / 4);  // about y by -45 deg: the nose up
      } else if (kind == FALL) {
        quat_axis(q + 3, 1, 0, 0, M_PI / 2);
      }
      float* c = am_ds_row_ptr(w, 0, cc);
      float* mo = am_ds_row_ptr(w, 0, cm);
      for (int u = 0; u < U; u++) {
        c[u] = (float)((u == kind) + 0.02 * am_rng_normal(&rng));
        mo[u] = (float)am_rng_normal(&rng);
      }
      if (kind == RUN) c[10] += (float)cos(ph), c[11] += (float)sin(ph);
      assert_int_equal(am_ds_row_commit(w, 0, t == STEPS - 1 ? AM_DS_END | AM_DS_TRUNCATED : 0), 0);
    }
  }
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  am_model_free(model);
}

static void test_planted_rat(void** state) {
  (void)state;
  char path[600], dir[600], p[700];
  snprintf(path, sizeof path, "%s/planted.rollout", tmpdir);
  snprintf(dir, sizeof dir, "%s/eth", tmpdir);
  write_planted(path, KINDS);
  assert_int_equal(animat("analyze ethology '%s' --out '%s'", path, dir), 0);
  printf("%s", out);
  expect_out("ethology: 3750 steps of 25 episodes");
  snprintf(p, sizeof p, "%s/ethology.json", dir);
  // every planted behaviour is found on its own steps (the box filter's edges cost none here:
  // each episode holds one behaviour)
  for (int k = 0; k < KINDS; k++) assert_float_equal(json_value(p, kind_names[k]), 0.2, 1e-9);
  assert_float_equal(json_value(p, "walking"), 0, 1e-12);
  assert_float_equal(json_value(p, "stride_hz"), 4.0, 0.26);
  // each limb's own peak; the limbs held still have none
  assert_float_equal(json_value(p, "foot_L"), 4.0, 0.26);
  assert_float_equal(json_value(p, "hand_R"), 6.0, 0.26);
  assert_true(json_is_null(p, "foot_R") && json_is_null(p, "hand_L"));
  snprintf(p, sizeof p, "%s/ethology.csv", dir);
  // row 0: core, row 1: motor
  assert_int_equal((int)csv_value(p, 0, "behaviour_classes"), 5);
  assert_true(csv_value(p, 0, "behaviour_balanced_accuracy") > 0.97);
  assert_true(csv_value(p, 1, "behaviour_balanced_accuracy") < 0.4);  // noise: chance is 0.2
  assert_true(csv_value(p, 0, "participation_ratio") < csv_value(p, 1, "participation_ratio"));
  assert_int_equal((int)csv_value(p, 0, "running_segments"), 15);  // 5 episodes x 3 s
  assert_float_equal(csv_value(p, 0, "jpca_plane_hz"), 4.0, 0.3);
  assert_float_equal(csv_value(p, 0, "jpca_plane_peak_hz"), 4.0, 0.26);
  assert_true(csv_value(p, 0, "jpca_r2_skew") > 0.8);
  assert_true(csv_value(p, 0, "jpca_r2_skew_shuffled") < 0.2);
  assert_true(csv_value(p, 1, "jpca_r2_skew") < 0.2);
  snprintf(p, sizeof p, "%s/ethology.svg", dir);
  assert_true(file_exists(p));
  // another body: a clear refusal
  char arm[600];
  snprintf(arm, sizeof arm, "%s/arm.rollout", tmpdir);
  assert_int_equal(animat("record --random --task reach-center-out --episodes 1 --out '%s' --quiet",
                          arm), 0);
  assert_int_equal(animat("analyze ethology '%s' --out '%s'", arm, dir), 1);
  expect_out("is not the rat");
}

// A recording of running alone: the behaviour has one class, so no decoding is claimed (the
// summary and the figure say so), while the gait's rotation is still measured.
static void test_one_behaviour(void** state) {
  (void)state;
  char path[600], dir[600], p[700];
  snprintf(path, sizeof path, "%s/run-only.rollout", tmpdir);
  snprintf(dir, sizeof dir, "%s/eth-run", tmpdir);
  write_planted(path, 1);
  assert_int_equal(animat("analyze ethology '%s' --out '%s'", path, dir), 0);
  expect_out("running 100%");
  expect_out("core      16 units: behaviour not decoded (1 class: nothing to tell apart)");
  snprintf(p, sizeof p, "%s/ethology.csv", dir);
  assert_int_equal((int)csv_value(p, 0, "behaviour_classes"), 1);
  assert_true(isnan(csv_value(p, 0, "behaviour_balanced_accuracy")));
  assert_float_equal(csv_value(p, 0, "jpca_plane_hz"), 4.0, 0.3);
  snprintf(p, sizeof p, "%s/ethology.svg", dir);
  char err[AM_ERR_LEN];
  char* svg = am_read_text(p, NULL, err, sizeof err);
  assert_non_null(svg);
  assert_non_null(strstr(svg, "behaviour not decoded: every step in one class"));
  free(svg);
}

static int setup(void** state) { return make_tmpdir("ethology"); }
static int teardown(void** state) {
  if (getenv("KEEP")) return 0;
  remove_tmpdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_planted_rat),
                                     cmocka_unit_test(test_one_behaviour)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
