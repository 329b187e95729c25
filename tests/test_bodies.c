// test_bodies.c: the bodies in bodies/ (issue 3): each loads and round-trips through its saved
// XML; counts, masses, dimensions and names other modules rely on; the arm's muscles pull the right
// way over the whole workspace; the rat stands 10 s at neutral control; random control held for 10
// steps for 20,000 steps is stable (no NaN, no MuJoCo warnings) for every listed body; a body with
// less room for constraints than MuJoCo's default has room for every row its scene can produce.
// Not here: the Reacher fingertip kinematics (test_sim.c / the reacher task's tests).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "am_sim.h"

static char err[AM_ERR_LEN];

static am_model* load(const char* name) {
  am_model* am = am_model_load_body(name, err, sizeof err);
  if (!am) fail_msg("%s", err);
  return am;
}

static int id_of(const mjModel* m, int type, const char* name) {
  int id = mj_name2id(m, type, name);
  if (id < 0) fail_msg("model '%s' has no object named '%s' (type %d)", m->names, name, type);
  return id;
}

static int warnings(const mjData* d) {
  int n = 0;
  for (int w = 0; w < mjNWARNING; w++) n += d->warning[w].number;
  return n;
}

static int count_sensors(const mjModel* m, int type) {
  int n = 0;
  for (int s = 0; s < m->nsensor; s++) n += m->sensor_type[s] == type;
  return n;
}

// Random controls, uniform over ctrlrange, each held for 10 steps; a fixed-seed LCG so the test is
// the same everywhere. Returns 0 when no NaN/Inf and no MuJoCo warning occurred.
static int random_control_run(const mjModel* m, mjData* d, int steps, unsigned seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < steps; i++) {
    if (i % 10 == 0) {
      for (int a = 0; a < m->nu; a++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(s >> 11) / 9007199254740992.0;
        double lo = m->actuator_ctrlrange[2 * a], hi = m->actuator_ctrlrange[2 * a + 1];
        d->ctrl[a] = m->actuator_ctrllimited[a] ? lo + u * (hi - lo) : 2 * u - 1;
      }
    }
    mj_step(m, d);
    if (am_state_is_bad(m, d) || warnings(d)) {
      print_error("unstable at step %d (t=%.3f s): warnings %d\n", i, d->time, warnings(d));
      return -1;
    }
  }
  return 0;
}

//---------------------------------- every body ----------------------------------------------------

static void test_bodies_listed(void** state) {
  char names[64][64];
  int n = am_list_bodies(names, 64, err, sizeof err);
  assert_true(n >= 4);
  const char* want[] = {"arm", "rat", "rat-torque", "reacher"};
  for (int k = 0; k < 4; k++) {
    int found = 0;
    for (int i = 0; i < n; i++) found |= !strcmp(names[i], want[k]);
    if (!found) fail_msg("body '%s' is not listed", want[k]);
  }
  for (int i = 0; i < n; i++) assert_true(names[i][0] != '_');  // fragments are not bodies
}

// Every body loads, carries a floor and a light, and compiles again from its saved XML (what a
// dataset embeds) into the same sizes.
static void test_bodies_load_and_round_trip(void** state) {
  char names[64][64];
  int n = am_list_bodies(names, 64, err, sizeof err);
  for (int i = 0; i < n; i++) {
    am_model* a = load(names[i]);
    const mjModel* m = a->m;
    id_of(m, mjOBJ_GEOM, "floor");
    assert_true(m->nlight >= 1);
    am_model* b = am_model_load_string(a->xml, NULL, names[i], err, sizeof err);
    if (!b) fail_msg("%s: saved XML does not load: %s", names[i], err);
    assert_int_equal(b->m->nq, m->nq);
    assert_int_equal(b->m->nu, m->nu);
    assert_int_equal(b->m->na, m->na);
    assert_int_equal(b->m->nsensordata, m->nsensordata);
    assert_true(fabs(mj_getTotalmass(b->m) - mj_getTotalmass(m)) < 1e-9);
    am_model_free(b);
    am_model_free(a);
  }
}

static void test_bodies_random_control_stable(void** state) {
  char names[64][64];
  int n = am_list_bodies(names, 64, err, sizeof err);
  for (int i = 0; i < n; i++) {
    am_model* a = load(names[i]);
    mjData* d = mj_makeData(a->m);
    if (a->m->nkey > 0) mj_resetDataKeyframe(a->m, d, 0);
    if (random_control_run(a->m, d, 20000, 1)) fail_msg("body '%s' is unstable", names[i]);
    mj_deleteData(d);
    am_model_free(a);
  }
}

// A body that sizes its constraint arrays below MuJoCo's default (<size njmax>: the arm and the
// reacher, so that mj_resetData does not clear 3 MB per episode) must have room for every row its
// scene can produce: no geom pair may collide, and its joint and tendon limits, dry friction and
// equality constraints together fit in njmax. A body that can collide keeps room for contacts
// (the rat: 600 rows, 150 contacts) and is not checked here.
static void test_bodies_constraint_room(void** state) {
  char names[64][64];
  int n = am_list_bodies(names, 64, err, sizeof err);
  int checked = 0;
  for (int i = 0; i < n; i++) {
    am_model* a = load(names[i]);
    const mjModel* m = a->m;
    int collides = m->npair > 0;
    for (int g = 0; g < m->ngeom && !collides; g++)
      for (int h = g + 1; h < m->ngeom && !collides; h++)
        collides = (m->geom_contype[g] & m->geom_conaffinity[h]) ||
                   (m->geom_contype[h] & m->geom_conaffinity[g]);
    if (collides) {
      assert_true(m->njmax >= 500);  // room for contacts
      am_model_free(a);
      continue;
    }
    int rows = 0;
    for (int j = 0; j < m->njnt; j++) rows += m->jnt_limited[j] != 0;
    for (int k = 0; k < m->ntendon; k++)
      rows += (m->tendon_limited[k] != 0) + (m->tendon_frictionloss[k] > 0);
    for (int v = 0; v < m->nv; v++) rows += m->dof_frictionloss[v] > 0;
    rows += 6 * m->neq;  // a weld's 6 rows at most
    if (rows > m->njmax)
      fail_msg("body '%s': %d constraint rows possible, room for %d (<size njmax>)", names[i], rows,
               m->njmax);
    checked += m->njmax < 500;
    am_model_free(a);
  }
  assert_true(checked >= 2);  // the arm and the reacher
}

//---------------------------------- arm -----------------------------------------------------------

static const char* arm_muscles[6] = {"shoulder_flexor",    "shoulder_extensor",
                                     "elbow_flexor",       "elbow_extensor",
                                     "biarticular_flexor", "biarticular_extensor"};
// sign of each muscle's torque on (shoulder, elbow): +1 flexes, -1 extends, 0 does not cross
static const int arm_action[6][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, -1}};

static void test_arm_facts(void** state) {
  am_model* a = load("arm");
  const mjModel* m = a->m;
  assert_string_equal(m->names, "arm");
  assert_int_equal(m->nq, 2);
  assert_int_equal(m->nv, 2);
  assert_int_equal(m->nu, 6);
  assert_int_equal(m->na, 6);
  assert_int_equal(id_of(m, mjOBJ_JOINT, "shoulder"), 0);
  assert_int_equal(id_of(m, mjOBJ_JOINT, "elbow"), 1);
  for (int j = 0; j < 2; j++) {
    assert_int_equal(m->jnt_type[j], mjJNT_HINGE);
    assert_true(fabs(m->jnt_axis[3 * j + 2] - 1) < 1e-12);  // about +z: positive = counter-clockwise
  }
  for (int k = 0; k < 6; k++) {
    assert_int_equal(id_of(m, mjOBJ_ACTUATOR, arm_muscles[k]), k);
    assert_int_equal(m->actuator_trntype[k], mjTRN_TENDON);
    assert_int_equal(m->actuator_dyntype[k], mjDYN_MUSCLE);
    assert_int_equal(m->actuator_gaintype[k], mjGAIN_MUSCLE);
    assert_int_equal(m->tendon_num[m->actuator_trnid[2 * k]] >= 3, 1);  // a spatial path with wraps
    assert_true(fabs(m->actuator_dynprm[mjNDYN * k] - 0.01) < 1e-12);
    assert_true(fabs(m->actuator_dynprm[mjNDYN * k + 1] - 0.04) < 1e-12);
    assert_true(m->actuator_ctrllimited[k]);
    assert_true(m->actuator_ctrlrange[2 * k] == 0 && m->actuator_ctrlrange[2 * k + 1] == 1);
  }
  int upper = id_of(m, mjOBJ_BODY, "upper_arm"), fore = id_of(m, mjOBJ_BODY, "forearm");
  assert_true(fabs(m->body_mass[upper] - 1.4) < 1e-9);
  assert_true(fabs(m->body_mass[fore] - 1.0) < 1e-9);
  assert_true(fabs(m->body_pos[3 * fore] - 0.30) < 1e-9);  // upper arm 0.30 m
  int hand = id_of(m, mjOBJ_SITE, "hand");
  assert_int_equal(m->site_bodyid[hand], fore);
  assert_true(fabs(m->site_pos[3 * hand] - 0.33) < 1e-9);  // forearm + hand 0.33 m
  // sensors: joint pos/vel x2, muscle length/velocity/force x6, hand position and velocity
  assert_int_equal(count_sensors(m, mjSENS_JOINTPOS), 2);
  assert_int_equal(count_sensors(m, mjSENS_JOINTVEL), 2);
  assert_int_equal(count_sensors(m, mjSENS_ACTUATORPOS), 6);
  assert_int_equal(count_sensors(m, mjSENS_ACTUATORVEL), 6);
  assert_int_equal(count_sensors(m, mjSENS_ACTUATORFRC), 6);
  assert_int_equal(count_sensors(m, mjSENS_FRAMEPOS), 1);
  assert_int_equal(count_sensors(m, mjSENS_FRAMELINVEL), 1);
  assert_true(m->opt.timestep <= 0.002 + 1e-12);
  am_model_free(a);
}

// The "home" keyframe puts the hand in front of the body; every point 0.15 m around it is reachable
// within the joint ranges (tasks put targets 0.1 m around home).
static void test_arm_home_and_workspace(void** state) {
  am_model* a = load("arm");
  const mjModel* m = a->m;
  int key = id_of(m, mjOBJ_KEY, "home");
  mjData* d = mj_makeData(m);
  mj_resetDataKeyframe(m, d, key);
  mj_forward(m, d);
  int hand = id_of(m, mjOBJ_SITE, "hand");
  const double h[3] = {d->site_xpos[3 * hand], d->site_xpos[3 * hand + 1], d->site_xpos[3 * hand + 2]};
  assert_true(fabs(d->qpos[0] - M_PI / 4) < 1e-4 && fabs(d->qpos[1] - M_PI / 2) < 1e-4);
  assert_true(fabs(h[0] + 0.0212) < 1e-3 && fabs(h[1] - 0.4455) < 1e-3 && fabs(h[2]) < 1e-9);
  const double l1 = 0.30, l2 = 0.33;
  for (int k = 0; k < 64; k++) {
    double ang = 2 * M_PI * k / 64, x = h[0] + 0.15 * cos(ang), y = h[1] + 0.15 * sin(ang);
    double c = (x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2);
    assert_true(c > -1 && c < 1);
    double e = acos(c);  // elbow flexed (positive) solution
    double s = atan2(y, x) - atan2(l2 * sin(e), l1 + l2 * cos(e));
    assert_true(s > m->jnt_range[0] + 0.05 && s < m->jnt_range[1] - 0.05);
    assert_true(e > m->jnt_range[2] + 0.05 && e < m->jnt_range[3] - 0.05);
    // and the model agrees with the planar kinematics
    d->qpos[0] = s;
    d->qpos[1] = e;
    mj_kinematics(m, d);
    assert_true(fabs(d->site_xpos[3 * hand] - x) < 1e-9 && fabs(d->site_xpos[3 * hand + 1] - y) < 1e-9);
  }
  mj_deleteData(d);
  am_model_free(a);
}

// Moment arms (dL/dq: negative = the pull flexes) keep their sign and a plausible size on a grid
// over the whole joint range: no muscle ever switches role, none acts on a joint it does not cross.
static void test_arm_moment_arms(void** state) {
  am_model* a = load("arm");
  const mjModel* m = a->m;
  mjData* d = mj_makeData(m);
  for (int i = 0; i <= 30; i++) {
    for (int j = 0; j <= 30; j++) {
      d->qpos[0] = m->jnt_range[0] + (m->jnt_range[1] - m->jnt_range[0]) * i / 30.0;
      d->qpos[1] = m->jnt_range[2] + (m->jnt_range[3] - m->jnt_range[2]) * j / 30.0;
      mj_forward(m, d);
      for (int k = 0; k < 6; k++) {
        for (int q = 0; q < 2; q++) {
          double r = -d->actuator_moment[2 * k + q];  // flexing moment arm of a pull
          if (arm_action[k][q] == 0) {
            assert_true(fabs(r) < 1e-9);
          } else if (!(arm_action[k][q] * r > 0.005 && fabs(r) < 0.09)) {
            fail_msg("%s: moment arm %.4f m on joint %d at (%.2f, %.2f) rad", arm_muscles[k], r, q,
                     d->qpos[0], d->qpos[1]);
          }
        }
        // the muscle's operating length stays near its length range
        double L = d->actuator_length[k], lo = m->actuator_lengthrange[2 * k],
               hi = m->actuator_lengthrange[2 * k + 1];
        assert_true(L > lo - 0.01 * (hi - lo) && L < hi + 0.01 * (hi - lo));
      }
    }
  }
  mj_deleteData(d);
  am_model_free(a);
}

// Exciting one muscle alone from home: its joint torques have the right signs and, after 0.1 s,
// the joints it crosses have moved the right way (a monoarticular muscle's other joint may move
// either way through the arm's interaction torques).
static void test_arm_muscle_signs(void** state) {
  am_model* a = load("arm");
  const mjModel* m = a->m;
  mjData* d = mj_makeData(m);
  for (int k = 0; k < 6; k++) {
    mj_resetDataKeyframe(m, d, 0);
    d->ctrl[k] = 1;
    for (int i = 0; i < 5; i++) mj_step(m, d);  // 10 ms: activation rising
    assert_true(d->act[k] > 0.3);
    assert_true(d->actuator_force[k] < 0);  // muscles pull
    for (int q = 0; q < 2; q++) {
      if (arm_action[k][q]) assert_true(arm_action[k][q] * d->qfrc_actuator[q] > 0);
    }
    for (int i = 0; i < 45; i++) mj_step(m, d);
    for (int q = 0; q < 2; q++) {
      double moved = d->qpos[q] - m->key_qpos[q];
      if (arm_action[k][q] && !(arm_action[k][q] * moved > 0.02))
        fail_msg("%s moved joint %d by %.3f rad", arm_muscles[k], q, moved);
    }
  }
  mj_deleteData(d);
  am_model_free(a);
}

static void test_arm_obs_groups(void** state) {
  am_model* a = load("arm");
  am_obs_group g[AM_MAX_GROUPS];
  int dim = 0, n = am_body_obs_groups(a->m, g, &dim);
  int p = am_find_group(g, n, "proprioception");
  assert_true(p >= 0);
  assert_int_equal(g[p].size, 2 + 2 + 6 * 3 + 6);  // joints, muscle length/velocity/force, activations
  assert_int_equal(dim, a->m->nsensordata + a->m->na);
  am_model_free(a);
}

//---------------------------------- rat -----------------------------------------------------------

static void check_rat_common(const mjModel* m) {
  double mass = mj_getTotalmass(m);
  assert_true(mass > 0.30 && mass < 0.38);
  int root = id_of(m, mjOBJ_JOINT, "root");
  assert_int_equal(m->jnt_type[root], mjJNT_FREE);
  assert_int_equal(m->jnt_bodyid[root], id_of(m, mjOBJ_BODY, "torso"));
  id_of(m, mjOBJ_BODY, "pelvis");
  id_of(m, mjOBJ_BODY, "head");
  int hinges = m->nv - 6;
  assert_true(hinges >= 30 && hinges <= 70);
  assert_true(m->nu >= 30 && m->nu <= 40);
  assert_true(m->opt.timestep <= 0.002 + 1e-12);
  for (int a = 0; a < m->nu; a++) {
    assert_int_equal(m->actuator_dyntype[a], mjDYN_FILTER);
    assert_true(fabs(m->actuator_dynprm[mjNDYN * a] - 0.04) < 1e-12);
    assert_true(m->actuator_ctrllimited[a]);
    assert_true(m->actuator_ctrlrange[2 * a] == -1 && m->actuator_ctrlrange[2 * a + 1] == 1);
  }
  const char* paws[4] = {"hand_L", "hand_R", "foot_L", "foot_R"};
  for (int k = 0; k < 4; k++) id_of(m, mjOBJ_SITE, paws[k]);
  assert_int_equal(count_sensors(m, mjSENS_TOUCH), 4);
  assert_int_equal(count_sensors(m, mjSENS_ACCELEROMETER), 1);
  assert_int_equal(count_sensors(m, mjSENS_GYRO), 1);
  assert_int_equal(count_sensors(m, mjSENS_VELOCIMETER), 1);
  assert_int_equal(count_sensors(m, mjSENS_JOINTPOS), hinges);
  assert_int_equal(count_sensors(m, mjSENS_JOINTVEL), hinges);
  assert_int_equal(count_sensors(m, mjSENS_ACTUATORFRC), m->nu);
  assert_true(count_sensors(m, mjSENS_RANGEFINDER) >= 9);
  assert_true(count_sensors(m, mjSENS_FRAMEPOS) >= 5);  // paws and head in the torso frame
  id_of(m, mjOBJ_CAMERA, "egocentric");
}

static void test_rat_facts(void** state) {
  am_model* a = load("rat");
  const mjModel* m = a->m;
  assert_string_equal(m->names, "rat");
  check_rat_common(m);
  for (int k = 0; k < m->nu; k++) {  // position servo: force = kp (act h - q)
    assert_int_equal(m->actuator_biastype[k], mjBIAS_AFFINE);
    assert_true(m->actuator_gainprm[mjNGAIN * k] > 0 && m->actuator_biasprm[mjNBIAS * k + 1] < 0);
  }
  // body length (nose to tail base) and tail length at the standing pose
  mjData* d = mj_makeData(m);
  mj_forward(m, d);
  int snout = id_of(m, mjOBJ_GEOM, "snout"), tail1 = id_of(m, mjOBJ_BODY, "tail_1");
  int tail4 = id_of(m, mjOBJ_GEOM, "tail_4");
  double nose = d->geom_xpos[3 * snout] + m->geom_rbound[snout];
  double body = nose - d->xpos[3 * tail1];
  double tail_end = d->geom_xpos[3 * tail4] - m->geom_rbound[tail4];
  double tail = d->xpos[3 * tail1] - tail_end;
  if (!(body > 0.17 && body < 0.25 && tail > 0.15 && tail < 0.25))
    fail_msg("body %.3f m, tail %.3f m", body, tail);
  // the floor line is one self-closing element (tasks replace it by name)
  char path[1024];
  assert_int_equal(am_body_path("rat", path, sizeof path, err, sizeof err), 0);
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  char line[1024];
  int floors = 0;
  while (fgets(line, sizeof line, f)) {
    if (!strstr(line, "name=\"floor\"")) continue;
    floors++;
    assert_non_null(strstr(line, "<geom"));
    assert_non_null(strstr(line, "/>"));
  }
  fclose(f);
  assert_int_equal(floors, 1);
  mj_deleteData(d);
  am_model_free(a);
}

static void test_rat_torque_variant(void** state) {
  am_model* s = load("rat");
  am_model* t = load("rat-torque");
  check_rat_common(t->m);
  assert_int_equal(t->m->nq, s->m->nq);
  assert_int_equal(t->m->nu, s->m->nu);
  assert_int_equal(t->m->nsensordata, s->m->nsensordata);
  for (int k = 0; k < t->m->nu; k++) {
    assert_string_equal(mj_id2name(t->m, mjOBJ_ACTUATOR, k), mj_id2name(s->m, mjOBJ_ACTUATOR, k));
    assert_int_equal(t->m->actuator_biastype[k], mjBIAS_NONE);
    // peak torque equals the servo's torque at a full-range error
    assert_true(fabs(t->m->actuator_gainprm[mjNGAIN * k] - s->m->actuator_gainprm[mjNGAIN * k]) < 1e-9);
  }
  am_model_free(t);
  am_model_free(s);
}

// Zero (neutral) control: the rat settles within 0.5 s and then stands still for the rest of 10 s.
static void test_rat_stands(void** state) {
  am_model* a = load("rat");
  const mjModel* m = a->m;
  mjData* d = mj_makeData(m);
  int torso = id_of(m, mjOBJ_BODY, "torso");
  double zlo = 1, zhi = 0, x0 = 0, y0 = 0;
  int steps = (int)lround(10.0 / m->opt.timestep);
  for (int i = 0; i < steps; i++) {
    mj_step(m, d);
    double z = d->xpos[3 * torso + 2];
    if (d->time < 0.5) continue;
    if (zlo > zhi) {
      x0 = d->xpos[3 * torso];
      y0 = d->xpos[3 * torso + 1];
    }
    zlo = fmin(zlo, z);
    zhi = fmax(zhi, z);
    assert_true(d->xmat[9 * torso + 8] > 0.98);  // torso upright
  }
  if (!(zlo > 0.055 && zhi < 0.075 && zhi - zlo < 0.003))
    fail_msg("torso height band [%.4f, %.4f] m", zlo, zhi);
  assert_true(hypot(d->xpos[3 * torso] - x0, d->xpos[3 * torso + 1] - y0) < 0.005);  // no creep
  assert_int_equal(warnings(d), 0);
  double v = 0;
  for (int k = 0; k < m->nv; k++) v = fmax(v, fabs(d->qvel[k]));
  assert_true(v < 0.01);  // no jitter
  // the paws carry most of the weight and the downward rays see the floor
  double touch = 0;
  for (int s = 0; s < m->nsensor; s++) {
    if (m->sensor_type[s] == mjSENS_TOUCH) touch += d->sensordata[m->sensor_adr[s]];
    if (m->sensor_type[s] == mjSENS_RANGEFINDER && strstr(mj_id2name(m, mjOBJ_SENSOR, s), "down")) {
      double r = d->sensordata[m->sensor_adr[s]];
      assert_true(r > 0.05 && r < 0.3);
    }
  }
  assert_true(touch > 0.6 * mj_getTotalmass(m) * 9.81);
  mj_deleteData(d);
  am_model_free(a);
}

static void test_rat_obs_groups(void** state) {
  am_model* a = load("rat");
  am_obs_group g[AM_MAX_GROUPS];
  int dim = 0, n = am_body_obs_groups(a->m, g, &dim);
  const char* want[] = {"proprioception", "vestibular", "touch", "range", "egocentric"};
  for (int k = 0; k < 5; k++) {
    if (am_find_group(g, n, want[k]) < 0) fail_msg("rat has no '%s' observation group", want[k]);
  }
  assert_int_equal(g[am_find_group(g, n, "touch")].size, 4);
  assert_int_equal(dim, a->m->nsensordata + a->m->na);  // sensors plus actuator activations
  am_model_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bodies_listed),
      cmocka_unit_test(test_bodies_load_and_round_trip),
      cmocka_unit_test(test_arm_facts),
      cmocka_unit_test(test_arm_home_and_workspace),
      cmocka_unit_test(test_arm_moment_arms),
      cmocka_unit_test(test_arm_muscle_signs),
      cmocka_unit_test(test_arm_obs_groups),
      cmocka_unit_test(test_rat_facts),
      cmocka_unit_test(test_rat_torque_variant),
      cmocka_unit_test(test_rat_stands),
      cmocka_unit_test(test_rat_obs_groups),
      cmocka_unit_test(test_bodies_random_control_stable),
      cmocka_unit_test(test_bodies_constraint_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
