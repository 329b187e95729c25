// test_reacher.c: the Reacher-spec arm and the reacher task against Gymnasium Reacher-v4's
// formulas, computed by hand: fingertip kinematics, observation layout, reward, resets, lengths.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "amt_tasks.h"

static char err[AM_ERR_LEN];

static void test_fingertip_kinematics(void** state) {
  am_model* model = am_model_load_body("reacher", err, sizeof err);
  if (!model) fail_msg("%s", err);
  const mjModel* m = model->m;
  assert_int_equal(m->nq, 4);
  assert_int_equal(m->nu, 2);
  assert_true(m->opt.timestep == 0.01);
  assert_int_equal(m->opt.integrator, mjINT_RK4);
  for (int j = 0; j < 2; j++) {
    assert_true(m->dof_damping[j] == 1 && m->dof_armature[j] == 1);
    assert_true(m->actuator_gear[6 * j] == 200);
    assert_true(m->actuator_ctrlrange[2 * j] == -1 && m->actuator_ctrlrange[2 * j + 1] == 1);
  }
  assert_int_equal(m->jnt_limited[0], 0);
  assert_int_equal(m->jnt_limited[1], 1);
  assert_true(m->jnt_range[2] == -3 && m->jnt_range[3] == 3);
  int tip = mj_name2id(m, mjOBJ_BODY, "fingertip");
  mjData* d = mj_makeData(m);
  const double angles[][2] = {{0, 0}, {M_PI / 2, 0}, {0.3, -1.2}, {-2.5, 2.9}, {M_PI, M_PI / 2}};
  for (size_t k = 0; k < sizeof angles / sizeof angles[0]; k++) {
    double q0 = angles[k][0], q1 = angles[k][1];
    d->qpos[0] = q0;
    d->qpos[1] = q1;
    mj_forward(m, d);
    double x = 0.1 * cos(q0) + 0.11 * cos(q0 + q1), y = 0.1 * sin(q0) + 0.11 * sin(q0 + q1);
    assert_true(fabs(d->xpos[3 * tip + 0] - x) < 1e-12);
    assert_true(fabs(d->xpos[3 * tip + 1] - y) < 1e-12);
    assert_true(fabs(d->xpos[3 * tip + 2] - 0.01) < 1e-12);
  }
  mj_deleteData(d);
  am_model_free(model);
}

static am_pool* make_pool(am_task* t, int n, const amt_params* p) {
  if (amt_create(t, "reacher", p, err, sizeof err)) fail_msg("%s", err);
  am_pool_config cfg = {.num_envs = n, .num_threads = 1, .seed = 11};
  am_pool* pool = am_pool_create(t, &cfg, err, sizeof err);
  if (!pool) fail_msg("%s", err);
  return pool;
}

static void test_observation_and_reward(void** state) {
  am_task t;
  am_pool* p = make_pool(&t, 1, NULL);
  assert_int_equal(t.obs_dim, 11);
  assert_int_equal(t.act_dim, 2);
  assert_int_equal(t.frame_skip, 2);
  assert_int_equal(t.max_steps, 50);
  am_env* e = am_pool_env(p, 0);
  const mjModel* m = e->m;
  mjData* d = e->d;
  const double q[4] = {0.7, -0.4, 0.05, -0.12}, v[4] = {0.3, -0.2, 0, 0};
  memcpy(d->qpos, q, sizeof q);
  memcpy(d->qvel, v, sizeof v);
  mj_forward(m, d);
  float o[11];
  t.observe(&t, e, o);
  double tx = 0.1 * cos(q[0]) + 0.11 * cos(q[0] + q[1]), ty = 0.1 * sin(q[0]) + 0.11 * sin(q[0] + q[1]);
  const double want[11] = {cos(q[0]), cos(q[1]), sin(q[0]), sin(q[1]), q[2], q[3], v[0], v[1],
                           tx - q[2], ty - q[3], 0};
  for (int i = 0; i < 11; i++) assert_true(fabs(o[i] - want[i]) < 1e-6);

  // Reward of one step: the distance before the step's physics and the action sent.
  am_batch* b = am_pool_batch(p);
  b->actions[0] = 0.5f;
  b->actions[1] = -1.5f;  // beyond ctrlrange: MuJoCo clamps it, the penalty does not
  double dist = hypot(tx - q[2], ty - q[3]);
  am_pool_step(p);
  double expect = -dist - (0.25 + 2.25);
  assert_true(fabs(b->rewards[0] - expect) < 1e-5);
  assert_true(fabs(b->terms[0] + dist) < 1e-6);
  assert_true(fabs(b->terms[1] + 2.5) < 1e-6);
  assert_true(d->ctrl[1] == -1.0);
  assert_true(fabs(d->time - 0.02) < 1e-12);
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_resets_and_lengths(void** state) {
  am_task t;
  const int n = 64;
  am_pool* p = make_pool(&t, n, NULL);
  am_batch* b = am_pool_batch(p);
  memset(b->actions, 0, sizeof(float) * n * 2);
  int resets = 0;
  double max_r = 0;
  for (int step = 0; step < 50 * 8; step++) {
    am_pool_step(p);
    for (int i = 0; i < n; i++) {
      assert_int_equal(b->terminated[i], 0);
      assert_int_equal(b->truncated[i], (step % 50) == 49);
      if (!b->truncated[i]) continue;
      resets++;
      const mjData* d = am_pool_env(p, i)->d;  // freshly reset
      for (int k = 0; k < 2; k++) {
        assert_true(fabs(d->qpos[k]) <= 0.1);
        assert_true(fabs(d->qvel[k]) <= 0.005);
        assert_true(d->qvel[2 + k] == 0);
      }
      double r = hypot(d->qpos[2], d->qpos[3]);
      assert_true(r < 0.2);
      if (r > max_r) max_r = r;
    }
  }
  assert_int_equal(resets, n * 8);
  assert_true(max_r > 0.15);  // targets do fill the disk
  am_pool_stats s;
  am_pool_get_stats(p, &s);
  assert_int_equal(s.length_sum, (int64_t)50 * n * 8);
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_parameters(void** state) {
  amt_params ps = {0};
  assert_int_equal(amt_params_add(&ps, "episode_steps=10", err, sizeof err), 0);
  am_task t;
  am_pool* p = make_pool(&t, 2, &ps);
  assert_int_equal(t.max_steps, 10);
  am_pool_free(p);
  amt_destroy(&t);

  amt_params bad = {0};
  assert_int_equal(amt_params_add(&bad, "target_radiuss=0.1", err, sizeof err), 0);
  assert_int_equal(amt_create(&t, "reacher", &bad, err, sizeof err), -1);
  assert_non_null(strstr(err, "target_radiuss"));
  assert_non_null(strstr(err, "target_radius,"));  // the valid keys are listed
  amt_params badv = {0};
  assert_int_equal(amt_params_add(&badv, "episode_steps=ten", err, sizeof err), 0);
  assert_int_equal(amt_create(&t, "reacher", &badv, err, sizeof err), -1);
  assert_non_null(strstr(err, "episode_steps"));
  assert_non_null(strstr(err, "ten"));
  assert_int_equal(amt_params_add(&badv, "novalue", err, sizeof err), -1);
  assert_non_null(strstr(err, "key=value"));
  assert_int_equal(amt_create(&t, "no-such-task", NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "no-such-task"));

  // lists as configurations (';') and datasets (newlines) hold them; empty items skipped
  amt_params list = {0};
  assert_int_equal(amt_params_add_list(&list, "episode_steps=12;;target_radius=0.1\nx=y;", err,
                                       sizeof err), 0);
  assert_int_equal(list.n, 3);
  assert_string_equal(list.key[0], "episode_steps");
  assert_string_equal(list.value[0], "12");
  assert_string_equal(list.key[1], "target_radius");
  assert_string_equal(list.value[1], "0.1");
  assert_string_equal(list.key[2], "x");
  assert_string_equal(list.value[2], "y");
  assert_int_equal(amt_params_add_list(&list, "", err, sizeof err), 0);
  assert_int_equal(list.n, 3);
  amt_params badl = {0};
  assert_int_equal(amt_params_add_list(&badl, "episode_steps=12;novalue", err, sizeof err), -1);
  assert_non_null(strstr(err, "novalue"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fingertip_kinematics),
      cmocka_unit_test(test_observation_and_reward),
      cmocka_unit_test(test_resets_and_lengths),
      cmocka_unit_test(test_parameters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
