// test_tasks_rat.c: the rat tasks' rules (run, run-gaps, escape-bowl, forage-maze, two-tap,
// water-maze),
// proven by manipulating an env's state directly instead of needing a trained policy: set the free
// root's position, orientation and velocity, teleport the rat so its head or a hand is where the
// test wants it, then call the task's hooks (evaluate, observe, get_vars) or step the pool, and
// compare reward, terms, events, terminated vs truncated, observations and variables with values
// computed here from the documented formulas (docs/tasks.md).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ama_agents.h"
#include "amt_tasks.h"

#include "task_test_util.h"

//---------------------------------- helpers -------------------------------------------------------

// One thread: the test calls hooks on env slots from the main thread between pool steps.
static am_pool* make_pool(const am_task* t, int n, uint64_t seed) {
  return make_pool_threads(t, n, 1, seed);
}

static int task_group(const am_task* t) {
  int g = am_find_group(t->groups, t->n_groups, "task");
  assert_true(g >= 0);
  return t->groups[g].offset;
}

static int id_of(const mjModel* m, int type, const char* name) {
  int id = mj_name2id(m, type, name);
  if (id < 0) fail_msg("model has no object %s", name);
  return id;
}

static int mocap_of(const mjModel* m, const char* body) {
  int mc = m->body_mocapid[id_of(m, mjOBJ_BODY, body)];
  assert_true(mc >= 0);
  return mc;
}

typedef struct rat_ids {
  int q, v;  // root qpos / qvel addresses
  int torso, pelvis, head, hand[2], paw[4];
} rat_ids;

static rat_ids rat_lookup(const mjModel* m) {
  rat_ids r;
  int root = id_of(m, mjOBJ_JOINT, "root");
  assert_int_equal(m->jnt_type[root], mjJNT_FREE);
  r.q = m->jnt_qposadr[root];
  r.v = m->jnt_dofadr[root];
  r.torso = id_of(m, mjOBJ_BODY, "torso");
  r.pelvis = id_of(m, mjOBJ_BODY, "pelvis");
  r.head = id_of(m, mjOBJ_BODY, "head");
  const char* paws[4] = {"hand_L", "hand_R", "foot_L", "foot_R"};
  for (int k = 0; k < 4; k++) r.paw[k] = id_of(m, mjOBJ_SITE, paws[k]);
  r.hand[0] = r.paw[0];
  r.hand[1] = r.paw[1];
  return r;
}

// Moves the whole rat by (dx, dy, dz) (root translation) and recomputes the kinematics.
static void shift_root(am_env* e, const rat_ids* r, double dx, double dy, double dz) {
  e->d->qpos[r->q] += dx;
  e->d->qpos[r->q + 1] += dy;
  e->d->qpos[r->q + 2] += dz;
  mj_forward(e->m, e->d);
}

// Sets the root's orientation from a unit quaternion (w, x, y, z).
static void set_root_quat(am_env* e, const rat_ids* r, double w, double x, double y, double z) {
  double* q = e->d->qpos + r->q + 3;
  q[0] = w, q[1] = x, q[2] = y, q[3] = z;
  mj_forward(e->m, e->d);
}

// Moves the rat so that point p (world, already computed by mj_forward) lands on `goal`.
static void bring_to(am_env* e, const rat_ids* r, const double* p, const double goal[3]) {
  double dx = goal[0] - p[0], dy = goal[1] - p[1], dz = goal[2] - p[2];
  shift_root(e, r, dx, dy, dz);
}

// One control step's evaluation through the task's hook, on the current state.
static am_step_result evaluate(const am_task* t, am_env* e) {
  am_step_result res;
  memset(&res, 0, sizeof res);
  t->evaluate(t, e, &res);
  return res;
}

static double min_paw_z(const am_env* e, const rat_ids* r) {
  double z = 1e9;
  for (int k = 0; k < 4; k++) z = fmin(z, e->d->site_xpos[3 * r->paw[k] + 2]);
  return z;
}

//---------------------------------- run -----------------------------------------------------------

static double run_reward(double vx, double vstar) { return fmax(0, 1 - fabs(vx - vstar) / vstar); }

// The speed part of run's reward (terms[0]); an alive bonus (terms[1], here 0.1; default 0) comes on top
// while the torso is within fall_tilt (default 60 deg) of vertical.
static void check_run_speed(double vstar, const char* param) {
  const double alive = 0.1;
  am_task t;
  make_task(&t, "run", "init_noise=0", "alive_bonus=0.1", param, NULL);
  am_pool* p = make_pool(&t, 1, 3);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  // The rat starts facing +x: the head is ahead of the torso along world x, and "forward" is x.
  const double* head = e->d->xpos + 3 * r.head;
  const double* torso = e->d->xpos + 3 * r.torso;
  assert_true(head[0] - torso[0] > 0.03);
  assert_true(fabs(head[1] - torso[1]) < 1e-6);
  assert_int_equal(t.n_terms, 2);
  assert_string_equal(t.terms[0], "speed");
  assert_string_equal(t.terms[1], "alive");
  assert_int_equal(t.n_events, 1);
  assert_string_equal(t.events[0], "fall");
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  t.observe(&t, e, obs);
  assert_float_equal(obs[task_group(&t)], vstar, 1e-6);  // task group: the target speed
  const double vxs[] = {-1, -0.2, 0, 0.25, 0.5, 0.99, 1, 1.3, 1.5, 2, 2.5, 3, 4.5};
  for (size_t k = 0; k < sizeof vxs / sizeof *vxs; k++) {
    e->d->qvel[r.v] = vxs[k];
    e->d->qvel[r.v + 1] = 0.7;   // sideways and vertical speed must not count
    e->d->qvel[r.v + 2] = -0.3;
    am_step_result res = evaluate(&t, e);
    double want = run_reward(vxs[k], vstar);
    if (fabs(res.reward - (want + alive)) > 1e-5)
      fail_msg("run v*=%g vx=%g: reward %g, want %g", vstar, vxs[k], res.reward, want + alive);
    assert_float_equal(res.terms[0], want, 1e-5);
    assert_float_equal(res.terms[1], alive, 1e-6);
    assert_int_equal(res.terminated, 0);
    assert_int_equal(res.events, 0u);
  }
  // Heading matters not: vx is the world x velocity (the documented forward axis).
  set_root_quat(e, &r, cos(M_PI / 4), 0, 0, sin(M_PI / 4));  // facing +y
  e->d->qvel[r.v] = vstar;
  e->d->qvel[r.v + 1] = 0;
  assert_float_equal(evaluate(&t, e).reward, 1.0 + alive, 1e-6);
  // On its back the rat has fallen: the episode ends (terminated, event "fall") without the
  // alive bonus, and the speed earns nothing (upright=1, the default) unless upright=0.
  int upright_on = param == NULL || strncmp(param, "upright=0", 9);
  set_root_quat(e, &r, 0, 1, 0, 0);  // rolled over: z axis pointing down
  e->d->qvel[r.v] = vstar;
  am_step_result back = evaluate(&t, e);
  assert_int_equal(back.terminated, 1);
  assert_int_equal(back.events, ev_bit(&t, "fall"));
  assert_float_equal(back.terms[1], 0.0, 1e-9);
  assert_float_equal(back.reward, upright_on ? 0.0 : 1.0, 1e-6);
  set_root_quat(e, &r, cos(0.35), sin(0.35), 0, 0);  // rolled 40 deg: partly upright
  am_step_result partial = evaluate(&t, e);
  assert_int_equal(partial.terminated, 0);
  if (upright_on) assert_true(partial.terms[0] > 0.5 && partial.terms[0] < 1);
  // The fall threshold: tilts of 59 and 61 deg about the y axis (pitch) and the x axis (roll).
  for (int axis = 0; axis < 2; axis++)
    for (int k = 0; k < 2; k++) {
      double half = (k ? 61.0 : 59.0) * M_PI / 360, sn = sin(half);
      set_root_quat(e, &r, cos(half), axis ? sn : 0, axis ? 0 : sn, 0);
      am_step_result res = evaluate(&t, e);
      assert_int_equal(res.terminated, k);
      assert_float_equal(res.terms[1], k ? 0 : alive, 1e-6);
    }
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
}

// Through the pool (physics stepping, random actions): every step's reward equals the formula on
// the root_vx variable, episodes are truncated (never terminated) exactly at the time limit.
static void check_run_pool(void) {
  am_task t;
  make_task(&t, "run", "episode_time=0.3", "target_speed=0.5", "upright=0", "fall_tilt=180",
            "alive_bonus=0", NULL);
  assert_int_equal(t.max_steps, 15);
  am_pool* p = make_pool(&t, 2, 9);
  am_batch* b = am_pool_batch(p);
  int vvx = var_index(&t, "root_vx");
  am_rng rng;
  am_rng_seed(&rng, 1, 2);
  int nonzero = 0;
  for (int s = 0; s < 32; s++) {
    for (int i = 0; i < 2 * t.act_dim; i++) b->actions[i] = (float)am_rng_range(&rng, -1, 1);
    if (s == 3) {  // a push forward, so that the reward is far from 0 for a while
      for (int i = 0; i < 2; i++) am_pool_env(p, i)->d->qvel[rat_lookup(t.model->m).v] = 0.6;
    }
    am_pool_step(p);
    for (int i = 0; i < 2; i++) {
      double vx = b->vars[(size_t)i * t.n_vars + vvx];
      assert_float_equal(b->rewards[i], run_reward(vx, 0.5), 1e-4);
      nonzero += b->rewards[i] > 0.2;
      assert_int_equal(b->terminated[i], 0);
      assert_int_equal(b->truncated[i], (s % 15) == 14);
      assert_int_equal(b->ep_step[i], s % 15);
    }
  }
  assert_true(nonzero >= 2);
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_run(void** state) {
  (void)state;
  check_run_speed(1.0, NULL);
  check_run_speed(2.0, "target_speed=2");
  check_run_speed(0.4, "target_speed=0.4");
  check_run_speed(1.0, "upright=0");
  check_run_pool();
}

// The torso's heading from the rat's state (the forward axis in the plane), computed here.
static double torso_yaw(const am_env* e, const rat_ids* r) {
  const double* R = e->d->xmat + 9 * r->torso;
  return atan2(R[3], R[0]);
}

static double wrap_angle(double a) { return atan2(sin(a), cos(a)); }

// Heading commands (heading_time=0.1 s = 5 steps, heading_range=60 deg): the command is drawn at
// reset within +-60 deg of the torso's heading and anew every 5 steps from the heading then
// (event command); the group "heading" (right after the task group) shows it relative to the
// torso (cos, sin); the speed reward is
// paid on the velocity along it (variable v_command), not on vx. Bad values are refused.
static void test_run_heading(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run", "init_noise=0", "heading_time=0.1", "heading_range=60", NULL);
  assert_string_equal(t.groups[t.n_groups - 2].name, "task");
  assert_int_equal(t.groups[t.n_groups - 2].size, 1);
  assert_string_equal(t.groups[t.n_groups - 1].name, "heading");
  assert_int_equal(t.groups[t.n_groups - 1].size, 2);
  assert_int_equal(t.groups[t.n_groups - 1].offset, t.groups[t.n_groups - 2].offset + 1);
  assert_int_equal(t.n_events, 2);
  assert_string_equal(t.events[1], "command");
  am_pool* p = make_pool(&t, 1, 5);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  const int g = task_group(&t), vc = var_index(&t, "command"), vv = var_index(&t, "v_command");
  float obs[512], vars[16];
  assert_true(t.obs_dim <= 512 && t.n_vars <= 16);
  const double range = 60 * M_PI / 180;
  double seen_lo = 1, seen_hi = -1;
  for (int round = 0; round < 40; round++) {
    // a new heading for the rat, then the command it gets at the next draw
    double yaw = -3 + 0.15 * round;
    set_root_quat(e, &r, cos(yaw / 2), 0, 0, sin(yaw / 2));
    assert_float_equal(torso_yaw(e, &r), yaw, 1e-9);
    t.get_vars(&t, e, vars);
    double before = vars[vc];
    for (int s = 1; s <= 5; s++) {
      e->d->qvel[r.v] = e->d->qvel[r.v + 1] = 0;
      am_step_result res = evaluate(&t, e);
      assert_int_equal(res.events, s == 5 ? ev_bit(&t, "command") : 0u);
      t.get_vars(&t, e, vars);
      if (s < 5) assert_float_equal(vars[vc], before, 0);
    }
    double cmd = vars[vc], turn = wrap_angle(cmd - yaw);
    assert_true(fabs(turn) <= range + 1e-6);
    seen_lo = fmin(seen_lo, turn / range), seen_hi = fmax(seen_hi, turn / range);
    // the task group: target speed; the heading group: the command relative to the torso
    t.observe(&t, e, obs);
    assert_float_equal(obs[g], 1, 0);
    assert_float_equal(obs[g + 1], cos(cmd - yaw), 1e-5);
    assert_float_equal(obs[g + 2], sin(cmd - yaw), 1e-5);
    // the reward: 1 m/s along the command pays 1; across it nothing; vx alone does not count
    const double vel[3][2] = {{cos(cmd), sin(cmd)}, {-sin(cmd), cos(cmd)}, {0.5 * cos(cmd), 0.5 * sin(cmd)}};
    const double want[3] = {1, 0, 0.5};
    for (int k = 0; k < 3; k++) {
      e->d->qvel[r.v] = vel[k][0];
      e->d->qvel[r.v + 1] = vel[k][1];
      t.get_vars(&t, e, vars);
      assert_float_equal(vars[vv], k == 1 ? 0 : want[k], 1e-5);
      am_step_result res = evaluate(&t, e);
      assert_float_equal(res.terms[0], want[k], 1e-5);
    }
    for (int s = 0; s < 2; s++) evaluate(&t, e);  // the rest of the 5-step period
  }
  if (seen_lo > -0.7 || seen_hi < 0.7) fail_msg("turns drawn in [%g, %g] x range", seen_lo, seen_hi);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("run", "heading_time=-1");
  expect_refused("run", "heading_range=0");
  expect_refused("run", "heading_range=200");
}

// run's `arena`: a circular wall of 36 boxes whose inner faces lie at the set radius; thrown at
// the wall from 0.3 m inside it at 3 m/s, the rat stays inside (without the wall it slides past);
// bad radii refused.
static void test_run_arena(void** state) {
  (void)state;
  for (int wall = 0; wall < 2; wall++) {
    am_task t;
    make_task(&t, "run", "init_noise=0", wall ? "arena=1.2" : "arena=0", NULL);
    const mjModel* m = t.model->m;
    int n = 0;
    for (int g = 0; g < m->ngeom; g++) {
      const char* name = mj_id2name(m, mjOBJ_GEOM, g);
      if (!name || strncmp(name, "wall", 4)) continue;
      n++;
      const mjtNum* pos = m->geom_pos + 3 * g;
      assert_float_equal(hypot(pos[0], pos[1]) - m->geom_size[3 * g], 1.2, 1e-6);
      assert_float_equal(pos[2], 0.15, 1e-9);
    }
    assert_int_equal(n, wall ? 36 : 0);
    am_pool* p = make_pool(&t, 1, 3);
    am_env* e = am_pool_env(p, 0);
    rat_ids r = rat_lookup(e->m);
    e->d->qpos[r.q] = 0.9, e->d->qpos[r.q + 1] = 0;
    e->d->qvel[r.v] = 3;
    mj_forward(e->m, e->d);
    double far = 0;
    for (int k = 0; k < 250; k++) {  // 0.5 s of physics
      mj_step(e->m, e->d);
      far = fmax(far, hypot(e->d->xpos[3 * r.torso], e->d->xpos[3 * r.torso + 1]));
    }
    if (wall) assert_true(far < 1.2);
    else if (far <= 1.3) fail_msg("without a wall the rat got to %g m", far);
    am_pool_free(p);
    amt_destroy(&t);
  }
  expect_refused("run", "arena=0.2");
  expect_refused("run", "arena=-1");
}

// Through the pool, a fall ends the episode as terminated (not truncated) with the fall event, and
// the env starts again standing; fall_tilt=180 never ends it (the default of run-gaps and
// escape-bowl, whose published rewards have no tilt limit). Bad values name the parameter.
static void check_tilt_fall(const char* task, const char* never_param) {
  for (int never = 0; never < 2; never++) {
    am_task t;
    make_task(&t, task, "init_noise=0", never ? never_param : "fall_tilt=45", NULL);
    am_pool* p = make_pool(&t, 1, 4);
    am_batch* b = am_pool_batch(p);
    am_env* e = am_pool_env(p, 0);
    rat_ids r = rat_lookup(e->m);
    memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);
    am_pool_step(p);
    assert_int_equal(b->terminated[0], 0);
    set_root_quat(e, &r, cos(M_PI / 4), sin(M_PI / 4), 0, 0);  // on its side: 90 deg
    am_pool_step(p);
    assert_int_equal(b->terminated[0], !never);
    assert_int_equal(b->truncated[0], 0);
    assert_int_equal(b->events[0], never ? 0u : ev_bit(&t, "fall"));
    if (!never) {
      assert_int_equal(b->ep_step[0], 1);  // the fallen episode's last step
      assert_true(e->d->xmat[9 * r.torso + 8] > 0.99);  // reset: standing again
    }
    am_pool_free(p);
    amt_destroy(&t);
  }
}

static void test_run_fall(void** state) {
  (void)state;
  check_tilt_fall("run", "fall_tilt=180");
  check_tilt_fall("run-gaps", NULL);
  check_tilt_fall("escape-bowl", NULL);
  const char* bad[][2] = {{"fall_tilt=0", "fall_tilt"},
                          {"fall_tilt=200", "fall_tilt"},
                          {"alive_bonus=-1", "alive_bonus"}};
  for (int k = 0; k < 3; k++) {
    amt_params p;
    memset(&p, 0, sizeof p);
    assert_int_equal(amt_params_add(&p, bad[k][0], err, sizeof err), 0);
    am_task t;
    assert_int_equal(amt_create(&t, "run", &p, err, sizeof err), -1);
    if (!strstr(err, bad[k][1])) fail_msg("error for %s does not name it: %s", bad[k][0], err);
  }
}

// escape-bowl's fall_grace: the torso may stay past the fall limit that long (0.1 s: 5 control
// steps) before the episode ends; righting it in time starts the count again.
static void test_escape_bowl_fall_grace(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "init_noise=0", "terrains=1", "fall_tilt=45", "fall_grace=0.1",
            NULL);
  am_pool* p = make_pool(&t, 1, 4);
  am_batch* b = am_pool_batch(p);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);
  const uint32_t fall = ev_bit(&t, "fall");
  for (int round = 0; round < 2; round++) {
    for (int k = 1; k <= 5 + round; k++) {  // 5 steps tipped, then 6
      set_root_quat(e, &r, cos(M_PI / 4), sin(M_PI / 4), 0, 0);  // on its side
      am_pool_step(p);
      assert_int_equal(b->terminated[0], k == 6);
      assert_int_equal(b->events[0], k == 6 ? fall : 0u);
    }
    if (round == 0) {  // righted within the grace: the count starts again
      set_root_quat(e, &r, 1, 0, 0, 0);
      am_pool_step(p);
      assert_int_equal(b->terminated[0], 0);
    }
  }
  assert_int_equal(b->ep_step[0], 11);  // one episode of 12 steps: 5 tipped, 1 upright, 6
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused_saying("escape-bowl", "fall_grace=-1", "fall_grace");
}

// Contacts between the rat (every body under the torso's root) and anything else.
static int rat_ground_contacts(const mjModel* m, const mjData* d, int torso) {
  int n = 0, root = m->body_rootid[torso];
  for (int i = 0; i < d->ncon; i++)
    n += (m->body_rootid[m->geom_bodyid[d->contact[i].geom1]] == root) !=
         (m->body_rootid[m->geom_bodyid[d->contact[i].geom2]] == root);
  return n;
}

// escape-bowl's drop (dm_control's Escape start): each env's rat starts in its own random 3-D
// orientation, clear of the ground by less than 1 cm; a dropped rat has drop_time to get within
// the fall limit, then the limit holds with fall_grace. Out-of-range values name the key.
static void test_escape_bowl_drop(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "init_noise=0", "terrains=1", "drop=1", "fall_tilt=60",
            "drop_time=0.1", NULL);
  enum { N = 8 };
  am_pool* p = make_pool(&t, N, 4);
  am_batch* b = am_pool_batch(p);
  int tipped = 0;
  double first_w = 0;
  for (int i = 0; i < N; i++) {
    am_env* e = am_pool_env(p, i);
    rat_ids r = rat_lookup(e->m);
    const double* q = e->d->qpos + r.q + 3;
    assert_true(fabs(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3] - 1) < 1e-12);
    if (i == 0) first_w = q[0];
    if (i > 0) assert_true(q[0] != first_w);  // each env its own draw
    tipped += e->d->xmat[9 * r.torso + 8] < 0.5;
    mj_forward(e->m, e->d);
    assert_int_equal(rat_ground_contacts(e->m, e->d, r.torso), 0);
    e->d->qpos[r.q + 2] -= 0.0101;  // a centimetre lower it touches the ground
    mj_forward(e->m, e->d);
    assert_true(rat_ground_contacts(e->m, e->d, r.torso) > 0);
    e->d->qpos[r.q + 2] += 0.0101;
    mj_forward(e->m, e->d);
  }
  assert_true(tipped > 0 && tipped < N);  // past 60 deg: 3 in 4 orientations
  memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  const uint32_t fall = ev_bit(&t, "fall");
  for (int k = 1; k <= 6; k++) {  // dropped, held on its side: drop_time (5 steps), then the end
    set_root_quat(e, &r, cos(M_PI / 4), sin(M_PI / 4), 0, 0);
    am_pool_step(p);
    assert_int_equal(b->terminated[0], k == 6);
    assert_int_equal(b->events[0], k == 6 ? fall : 0u);
  }
  set_root_quat(e, &r, 1, 0, 0, 0);  // the next episode, dropped too: up at once, then tipped
  am_pool_step(p);
  assert_int_equal(b->terminated[0], 0);
  set_root_quat(e, &r, cos(M_PI / 4), sin(M_PI / 4), 0, 0);
  am_pool_step(p);
  assert_int_equal(b->terminated[0], 1);  // fall_grace 0: at once
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused_saying("escape-bowl", "drop=1.5", "drop");
  expect_refused_saying("escape-bowl", "drop=1;drop_time=-1", "drop_time");
}

// escape-bowl's start_far: each env's rat starts standing at its own distance, up to start_radius,
// from the centre, clear of the ground and within 3.5 cm of it (the start's 2 cm, or the last 1 cm
// step of the raise on a slope); without it every rat starts at the centre. Bad values name the key.
static void test_escape_bowl_start_far(void** state) {
  (void)state;
  enum { N = 8 };
  for (int far = 0; far < 2; far++) {
    am_task t;
    make_task(&t, "escape-bowl", "init_noise=0", "terrains=1", far ? "start_far=1" : "start_far=0",
              "start_radius=2.5", NULL);
    am_pool* p = make_pool(&t, N, 4);
    double rmin = 1e9, rmax = 0;
    for (int i = 0; i < N; i++) {
      am_env* e = am_pool_env(p, i);
      rat_ids r = rat_lookup(e->m);
      const double* q = e->d->qpos + r.q;
      const double dist = sqrt(q[0] * q[0] + q[1] * q[1]);
      rmin = fmin(rmin, dist);
      rmax = fmax(rmax, dist);
      assert_true(e->d->xmat[9 * r.torso + 8] > 0.999);  // standing
      mj_forward(e->m, e->d);
      assert_int_equal(rat_ground_contacts(e->m, e->d, r.torso), 0);
      e->d->qpos[r.q + 2] -= 0.035;
      mj_forward(e->m, e->d);
      assert_true(rat_ground_contacts(e->m, e->d, r.torso) > 0);
      e->d->qpos[r.q + 2] += 0.035;
      mj_forward(e->m, e->d);
    }
    if (far) {
      assert_true(rmax <= 2.5 && rmax > 1 && rmax - rmin > 0.5);  // spread, within the radius
    } else {
      assert_true(rmax < 1e-12);  // the centre
    }
    am_pool_free(p);
    amt_destroy(&t);
  }
  expect_refused_saying("escape-bowl", "start_far=-0.1", "start_far");
  expect_refused_saying("escape-bowl", "start_far=0.5;start_radius=7", "start_radius");
  expect_refused_saying("escape-bowl", "start_far=0.5;start_radius=3;escape_distance=3",
                        "start_radius");
}

// Random pushes (push_force, push_rate, push_time; docs/tasks.md): each push is a horizontal force
// of push_force newtons on the torso for push_time, the same in every physics step of its control
// steps, in qfrc_applied (so the free root's translational dofs carry exactly the force); the event
// "push" marks each onset; no push outlasts its episode; the env follows the unpushed one bit for
// bit until the first onset and is then pushed along the force.
// (ep: the key of a 1 s episode, extra: one more key)
static void check_push(const char* task, const char* ep, const char* extra) {
  const double F = 3;
  am_task t[2];
  make_task(&t[0], task, ep, "push_force=3", "push_rate=5", "push_time=0.1", extra, NULL);
  make_task(&t[1], task, ep, extra, NULL);
  assert_int_equal(t[0].obs_dim, t[1].obs_dim);
  assert_int_equal(t[0].n_events, t[1].n_events + 1);
  assert_null(t[1].substep);
  const uint32_t bit = ev_bit(&t[0], "push");
  am_pool* p[2];
  for (int k = 0; k < 2; k++) {
    am_pool_config cfg = {.num_envs = 1, .num_threads = 1, .seed = 5, .export_state = 1};
    if (!(p[k] = am_pool_create(&t[k], &cfg, err, sizeof err))) fail_msg("%s", err);
  }
  am_batch* b = am_pool_batch(p[0]);
  am_batch* b1 = am_pool_batch(p[1]);
  assert_non_null(b->qfrc_applied);
  const mjModel* m = t[0].model->m;
  const int nv = m->nv, fs = t[0].frame_skip, rv = rat_lookup(m).v;
  const int root_body = m->jnt_bodyid[id_of(m, mjOBJ_JOINT, "root")];
  double mass = 0;  // the rat's: every body under the root
  for (int j = 1; j < m->nbody; j++)
    if (m->body_rootid[j] == root_body) mass += m->body_mass[j];
  memset(b->actions, 0, sizeof(float) * (size_t)t[0].act_dim);
  memset(b1->actions, 0, sizeof(float) * (size_t)t[1].act_dim);
  int onsets = 0, run = 0, first = -1, checked = 0;
  double last[2] = {0, 0};
  for (int s = 0; s < 400; s++) {
    am_pool_step(p[0]);
    am_pool_step(p[1]);
    const double* q = b->qfrc_applied;
    const int on = q[rv] != 0 || q[rv + 1] != 0;
    for (int k = 0; k < fs; k++) {  // one force in every physics step of the control step
      const double* qk = q + (size_t)k * nv;
      assert_true(qk[rv] == q[rv] && qk[rv + 1] == q[rv + 1] && qk[rv + 2] == 0);
      if (on) {
        assert_float_equal(hypot(qk[rv], qk[rv + 1]), F, 1e-9);
      } else {
        for (int j = 0; j < nv; j++) assert_true(qk[j] == 0);
      }
    }
    const int onset = on && (run == 0 || run == 5 || q[rv] != last[0] || q[rv + 1] != last[1]);
    if (((b->events[0] & bit) != 0) != onset)
      fail_msg("%s step %d: push event %u, onset %d (run %d)", task, s, b->events[0] & bit, onset,
               run);
    if (b->ep_step[0] == 0 && on) assert_true(onset);  // a new episode starts without a push
    run = onset ? 1 : on ? run + 1 : 0;
    assert_true(run <= 5);  // 0.1 s: 5 control steps
    last[0] = q[rv], last[1] = q[rv + 1];
    onsets += onset;
    // unpushed until the first onset: the same state (in the first episode: the next reset's
    // draws from the env's stream come after the pushes')
    if (first < 0 && onset) first = s;
    if (first < 0 && b->episode[0] == 1)
      for (int j = 0; j < m->nq; j++) assert_true(b->qpos[j] == b1->qpos[j]);
    if (first >= 0 && s == first + 4) {  // the first push's end
      assert_int_equal(b->episode[0], 1);  // (seed 5: the first push comes in the first episode)
      const double* v = b->qvel + rv;
      const double* v1 = b1->qvel + rv;
      const double dv = ((v[0] - v1[0]) * last[0] + (v[1] - v1[1]) * last[1]) / F;
      printf("%s: mass %.3f kg, impulse/mass %.3f m/s, root dv along the push %.3f m/s\n", task,
             mass, F * 0.1 / mass, dv);
      assert_true(dv > 0.3 * F * 0.1 / mass);
      checked = 1;
    }
  }
  assert_true(checked);
  // p_start 0.1 per control step without a push, and 5 steps each: about 28 in 400 steps
  if (onsets < 14 || onsets > 45) fail_msg("%s: %d pushes in 400 steps", task, onsets);
  for (int k = 0; k < 2; k++) {
    am_pool_free(p[k]);
    amt_destroy(&t[k]);
  }
}

static void test_rat_push(void** state) {
  (void)state;
  check_push("run", "episode_time=1", "fall_tilt=180");
  check_push("run-gaps", "episode_time=1", "fall_tilt=180");
  check_push("rat-multi", "escape-bowl.episode_time=1", "tasks=escape-bowl,run-gaps");
  expect_refused("run", "push_force=-1");
  expect_refused("run", "push_force=200");
  expect_refused("escape-bowl", "push_rate=0");
  expect_refused("two-tap", "push_time=0");
  expect_refused_saying("rat-multi", "run-gaps.push_force=1", "run-gaps.push_force");
}

// paw_friction (docs/tasks.md, "Rat tasks"): the six paw geoms' sliding friction in the model,
// every other geom's left at 1, and MuJoCo's contacts of a standing rat take the larger value of
// the pair: the paws' contacts with the ground have the paws' friction, the others the ground's.
static void check_paw_friction(const char* task, const char* key, double want) {
  am_task t;
  make_task(&t, task, key, NULL);
  const mjModel* m = t.model->m;
  int paws = 0;
  for (int g = 0; g < m->ngeom; g++) {
    const char* nm = mj_id2name(m, mjOBJ_GEOM, g);
    int paw = nm && (!strncmp(nm, "hand_", 5) || !strncmp(nm, "foot_", 5) ||
                     !strncmp(nm, "toes_", 5));
    paws += paw;
    assert_float_equal(m->geom_friction[3 * g], paw ? want : 1.0, 0);
  }
  assert_int_equal(paws, 6);
  am_pool* p = make_pool(&t, 1, 4);
  am_batch* b = am_pool_batch(p);
  am_env* e = am_pool_env(p, 0);
  memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);
  for (int k = 0; k < 25; k++) am_pool_step(p);  // 0.5 s: settled on its paws
  int on_paws = 0;
  for (int i = 0; i < e->d->ncon; i++) {
    const mjContact* c = &e->d->contact[i];
    double f = fmax(m->geom_friction[3 * c->geom1], m->geom_friction[3 * c->geom2]);
    assert_float_equal(c->friction[0], f, 0);
    on_paws += f == want;
  }
  assert_true(on_paws >= 2);
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_rat_paw_friction(void** state) {
  (void)state;
  check_paw_friction("run", "episode_time=1", 1.0);  // the default
  check_paw_friction("run", "paw_friction=1.5", 1.5);
  check_paw_friction("escape-bowl", "paw_friction=1.5", 1.5);
  check_paw_friction("rat-multi", "paw_friction=2", 2.0);
  expect_refused_saying("run", "paw_friction=0", "paw_friction");
  expect_refused_saying("escape-bowl", "paw_friction=6", "paw_friction");
  expect_refused_saying("rat-multi", "escape-bowl.paw_friction=1.5", "escape-bowl.paw_friction");
}

//---------------------------------- run-gaps ------------------------------------------------------

typedef struct course {
  int n;
  double start[200], end[200];
} course;

// Reads the platforms in the scene from the env's mocap bodies: slot j is the pair of 0.4 m boxes
// (2j, 2j+1) spanning [first centre - 0.2, second centre + 0.2]; parked pieces are deep below.
// Right after a reset the slots hold the course's first platforms in order.
static void read_course(const am_env* e, course* c) {
  const mjModel* m = e->m;
  char nm[32];
  c->n = 0;
  for (int k = 0;; k += 2) {
    snprintf(nm, sizeof nm, "plat%d", k + 1);
    if (mj_name2id(m, mjOBJ_BODY, nm) < 0) break;
    const double* b = e->d->mocap_pos + 3 * mocap_of(m, nm);
    snprintf(nm, sizeof nm, "plat%d", k);
    const double* a = e->d->mocap_pos + 3 * mocap_of(m, nm);
    if (a[2] < -1) {
      assert_true(b[2] < -1);  // both halves parked together
      continue;
    }
    assert_float_equal(a[2], -0.25, 1e-9);  // top surface at z = 0
    assert_float_equal(b[2], -0.25, 1e-9);
    assert_float_equal(a[1], 0, 1e-9);
    assert_true(c->n < 200);
    c->start[c->n] = a[0] - 0.2;
    c->end[c->n] = b[0] + 0.2;
    c->n++;
  }
}

// The first platforms of a course (as the scene holds them after a reset: over 12 m of it).
static void check_course(const course* c, const double plat[2], const double gap[2]) {
  assert_true(c->n >= 20);
  assert_true(c->end[c->n - 1] > 6 + 12);
  assert_float_equal(c->start[0], 6, 1e-9);  // right after the solid start (0 to 6 m)
  for (int j = 0; j < c->n; j++) {
    double L = c->end[j] - c->start[j];
    if (!(L >= plat[0] - 1e-9 && L <= plat[1] + 1e-9))
      fail_msg("platform %d length %g outside [%g, %g]", j, L, plat[0], plat[1]);
    if (j + 1 < c->n) {
      double g = c->start[j + 1] - c->end[j];
      if (!(g >= gap[0] - 1e-9 && g <= gap[1] + 1e-9))
        fail_msg("gap %d length %g outside [%g, %g]", j, g, gap[0], gap[1]);
    }
  }
}

// The platforms of the scene sorted by start (the slots form a ring that follows the rat).
static void sort_course(course* c) {
  for (int i = 1; i < c->n; i++)
    for (int j = i; j > 0 && c->start[j] < c->start[j - 1]; j--) {
      double a = c->start[j], b = c->end[j];
      c->start[j] = c->start[j - 1], c->end[j] = c->end[j - 1];
      c->start[j - 1] = a, c->end[j - 1] = b;
    }
}

// The scene holds the course near the rat: wherever its root is (walked out to 41 m and back),
// every platform of the course overlapping [x - 2, x + 10] m is there, at the same place; the
// course the windows add up to runs from 6 m to 40 m with lengths in range; the model holds
// far fewer boxes than the course.
static void test_run_gaps_window(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", "init_noise=0", NULL);
  am_pool* p = make_pool(&t, 1, 13);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  int slots = 0;
  char nm[32];
  while (snprintf(nm, sizeof nm, "plat%d", slots), mj_name2id(e->m, mjOBJ_BODY, nm) >= 0) slots++;
  assert_true(slots >= 40 && slots <= 70);  // the whole course is about 160 boxes
  enum { N_POS = 2 * 73 };
  static course seen[N_POS];
  static double at[N_POS];
  course all = {0};
  for (int k = 0; k < N_POS; k++) {  // 5 to 41 m and back, 0.5 m apart
    at[k] = k < 73 ? 5 + 0.5 * k : 41 - 0.5 * (k - 73);
    shift_root(e, &r, at[k] - e->d->qpos[r.q], 0, 0);
    evaluate(&t, e);
    read_course(e, &seen[k]);
    sort_course(&seen[k]);
    for (int j = 0; j < seen[k].n; j++) {  // add to the union (platforms match exactly or not)
      int known = 0;
      for (int i = 0; i < all.n && !known; i++)
        if (all.start[i] == seen[k].start[j]) {
          assert_true(all.end[i] == seen[k].end[j]);
          known = 1;
        }
      if (!known) {
        assert_true(all.n < 200);
        all.start[all.n] = seen[k].start[j], all.end[all.n++] = seen[k].end[j];
      }
    }
  }
  sort_course(&all);
  const double plat[2] = {0.4, 0.8}, gap[2] = {0.05, 0.2};
  check_course(&all, plat, gap);
  assert_true(all.start[all.n - 1] < 40);          // platforms up to x = 40 m
  assert_true(all.end[all.n - 1] + gap[1] >= 40);  // and none missing before it
  for (int k = 0; k < N_POS; k++)
    for (int i = 0; i < all.n; i++) {
      if (all.end[i] <= at[k] - 2 || all.start[i] >= at[k] + 10) continue;
      int shown = 0;
      for (int j = 0; j < seen[k].n; j++) shown |= seen[k].start[j] == all.start[i];
      if (!shown) fail_msg("root at %g m: platform %g-%g not in the scene", at[k], all.start[i], all.end[i]);
    }
  am_pool_free(p);
  amt_destroy(&t);
}

static int same_course(const course* a, const course* b) {
  return a->n == b->n && fabs(a->end[0] - b->end[0]) < 1e-12 && fabs(a->start[5] - b->start[5]) < 1e-12;
}

static void test_run_gaps_course(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", NULL);
  assert_int_equal(t.max_steps, 1500);  // 30 s at 50 Hz
  am_pool* p = make_pool(&t, 3, 21);
  const double plat[2] = {0.4, 0.8}, gap[2] = {0.05, 0.2};
  course c[3][3];
  for (int ep = 0; ep < 3; ep++) {
    if (ep) am_pool_reset(p);
    for (int i = 0; i < 3; i++) {
      read_course(am_pool_env(p, i), &c[ep][i]);
      check_course(&c[ep][i], plat, gap);
    }
  }
  for (int ep = 0; ep < 3; ep++)
    for (int i = 0; i < 3; i++)
      for (int ep2 = 0; ep2 < 3; ep2++)
        for (int i2 = 0; i2 < 3; i2++)
          if (ep != ep2 || i != i2) assert_false(same_course(&c[ep][i], &c[ep2][i2]));
  // the lengths really spread over the ranges (not e.g. always the lower bound)
  double lmin = 9, lmax = 0, gmin = 9, gmax = 0;
  for (int j = 0; j + 1 < c[0][0].n; j++) {
    lmin = fmin(lmin, c[0][0].end[j] - c[0][0].start[j]);
    lmax = fmax(lmax, c[0][0].end[j] - c[0][0].start[j]);
    gmin = fmin(gmin, c[0][0].start[j + 1] - c[0][0].end[j]);
    gmax = fmax(gmax, c[0][0].start[j + 1] - c[0][0].end[j]);
  }
  assert_true(lmin < 0.5 && lmax > 0.7 && gmin < 0.08 && gmax > 0.17);
  // the rat starts at x = 5 m on the solid start, facing +x
  rat_ids r = rat_lookup(t.model->m);
  am_env* e = am_pool_env(p, 0);
  assert_float_equal(e->d->qpos[r.q], 5.0, 1e-9);
  assert_true(e->d->xpos[3 * r.head] > e->d->xpos[3 * r.torso]);
  am_pool_free(p);
  amt_destroy(&t);

  // overridden ranges are honoured
  make_task(&t, "run-gaps", "platform_length=0.5,0.6", "gap_length=0.1,0.12", NULL);
  p = make_pool(&t, 2, 5);
  const double plat2[2] = {0.5, 0.6}, gap2[2] = {0.1, 0.12};
  for (int i = 0; i < 2; i++) {
    course cc;
    read_course(am_pool_env(p, i), &cc);
    check_course(&cc, plat2, gap2);
  }
  am_pool_free(p);
  amt_destroy(&t);
}

// curriculum=N: an env's first episode draws gaps from gap_start; the range moves linearly with
// the env's control steps (across episodes) and reaches gap_length after N of them.
static void test_run_gaps_curriculum(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", "curriculum=100", "gap_start=0.02,0.03", NULL);
  am_pool* p = make_pool(&t, 2, 9);
  const double plat[2] = {0.4, 0.8}, g0[2] = {0.02, 0.03}, g_half[2] = {0.035, 0.115},
               g1[2] = {0.05, 0.2};
  course c;
  for (int i = 0; i < 2; i++) {
    read_course(am_pool_env(p, i), &c);
    check_course(&c, plat, g0);
  }
  for (int k = 0; k < 50; k++) am_pool_step(p);  // 50 control steps, standing on the start
  am_pool_reset(p);
  for (int i = 0; i < 2; i++) {
    read_course(am_pool_env(p, i), &c);
    check_course(&c, plat, g_half);
  }
  for (int k = 0; k < 60; k++) am_pool_step(p);  // 110 in all: past the curriculum
  am_pool_reset(p);
  read_course(am_pool_env(p, 0), &c);
  check_course(&c, plat, g1);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("run-gaps", "curriculum=-1");
  expect_refused("run-gaps", "gap_start=0.05,0.01");
}

// staircase=1: each env's gaps start at gap_start; every gap crossed moves its range stair_up of
// the way toward gap_length and every fall stair_down back, within [0, 1], applied at the next
// reset; the other env, which does nothing, stays at gap_start. With a curriculum it is refused.
static void test_run_gaps_staircase(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", "staircase=1", "stair_up=0.25", "stair_down=0.5",
            "gap_start=0.02,0.03", "init_noise=0", NULL);
  am_pool* p = make_pool(&t, 2, 9);
  const double plat[2] = {0.4, 0.8}, g0[2] = {0.02, 0.03}, g_half[2] = {0.035, 0.115},
               g1[2] = {0.05, 0.2};
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  course c;
  read_course(e, &c);
  check_course(&c, plat, g0);
  shift_root(e, &r, c.start[2] + 0.01 - e->d->qpos[r.q], 0, 0);  // two gaps crossed: 0.5
  assert_int_equal(evaluate(&t, e).events, ev_bit(&t, "gap_crossed"));
  am_pool_reset(p);
  read_course(e, &c);
  check_course(&c, plat, g_half);
  read_course(am_pool_env(p, 1), &c);
  check_course(&c, plat, g0);
  read_course(e, &c);
  shift_root(e, &r, 0, 0, -1);  // a fall: back to 0
  assert_true(evaluate(&t, e).events & ev_bit(&t, "fall"));
  am_pool_reset(p);
  read_course(e, &c);
  check_course(&c, plat, g0);
  shift_root(e, &r, c.start[6] + 0.01 - e->d->qpos[r.q], 0, 0);  // six crossed: 1.5, held at 1
  evaluate(&t, e);
  am_pool_reset(p);
  read_course(e, &c);
  check_course(&c, plat, g1);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("run-gaps", "staircase=2");
  expect_refused_saying("run-gaps", "staircase=1;curriculum=5", "set one of them");
  expect_refused_saying("run-gaps", "stair_up=1.5", "must be in [0, 1]");
}

// scan=N: a group "scan" after the task group, 1 over solid ground and 0 over a gap at 1..N x
// scan_step ahead of the torso along its heading (the corridor read back from the mocap bodies);
// scan_back=B moves the points B steps back, from (1 - B) x scan_step.
static int solid_in(const course* c, double x) {
  if (x >= 0 && x <= 6) return 1;
  for (int j = 0; j < c->n; j++)
    if (x >= c->start[j] - 1e-9 && x <= c->end[j] + 1e-9) return 1;
  return 0;
}

// The scan of scan=24, scan_step=0.04 and scan_back=back checked point by point along the corridor.
static void check_gaps_scan(int back) {
  am_task t;
  char back_param[32];
  snprintf(back_param, sizeof back_param, "scan_back=%d", back);
  make_task(&t, "run-gaps", "scan=24", "scan_step=0.04", back_param, NULL);
  int tg = am_find_group(t.groups, t.n_groups, "task"), sg = am_find_group(t.groups, t.n_groups, "scan");
  assert_true(tg >= 0 && sg >= 0);
  assert_int_equal(t.groups[tg].size, 1);
  assert_int_equal(t.groups[sg].size, 24);
  assert_int_equal(t.groups[sg].offset, t.groups[tg].offset + 1);
  am_pool* p = make_pool(&t, 1, 4);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  course c;
  read_course(e, &c);
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  int gaps_seen = 0, solid_seen = 0;
  for (int k = 0; k < 40; k++) {  // the rat moved along the corridor, facing +x then 30 deg off
    shift_root(e, &r, 0.137, 0, 0);
    double yaw = k < 20 ? 0 : M_PI / 6;
    set_root_quat(e, &r, cos(yaw / 2), 0, 0, sin(yaw / 2));
    t.observe(&t, e, obs);
    assert_float_equal(obs[t.groups[tg].offset], 1, 0);  // target speed
    for (int i = 0; i < 24; i++) {
      double x = e->d->qpos[r.q] + (i + 1 - back) * 0.04 * cos(yaw);
      float want = (float)solid_in(&c, x), got = obs[t.groups[sg].offset + i];
      if (got != want)
        fail_msg("back %d, step %d point %d at x = %g: scan %g, want %g", back, k, i, x, got, want);
      gaps_seen += want == 0, solid_seen += want == 1;
    }
  }
  assert_true(gaps_seen > 20 && solid_seen > 200);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_run_gaps_scan(void** state) {
  (void)state;
  check_gaps_scan(0);
  check_gaps_scan(6);  // points from 0.2 m behind the root
  am_task t;
  make_task(&t, "run-gaps", NULL);  // off by default: the published observations
  assert_true(am_find_group(t.groups, t.n_groups, "scan") < 0);
  amt_destroy(&t);
  expect_refused("run-gaps", "scan=-1");
  expect_refused("run-gaps", "scan_step=0");
  expect_refused_saying("run-gaps", "scan=4;scan_back=5", "scan_back");
  expect_refused_saying("run-gaps", "scan=4;scan_back=-1", "scan_back");
}

// The published corridor's bounds: planes 1 m either side of the centre line and across both ends
// (x = -2 and 42 m), facing in; invisible to MuJoCo's rays like the published camera; and they
// hold the rat: thrown sideways at 2 m/s from 0.2 m inside either side, it stays in the corridor
// and on the start (without them it slides off the 2 m wide ground and falls).
static void test_run_gaps_bounds(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", "init_noise=0", NULL);
  am_pool* p = make_pool(&t, 1, 3);
  am_batch* b = am_pool_batch(p);
  am_env* e = am_pool_env(p, 0);
  const mjModel* m = e->m;
  rat_ids r = rat_lookup(m);
  static const char* const names[4] = {"bound_left", "bound_right", "bound_near", "bound_far"};
  static const double normal[4][2] = {{0, -1}, {0, 1}, {1, 0}, {-1, 0}}, at[4] = {1, -1, -2, 42};
  int geom[4];
  for (int k = 0; k < 4; k++) {
    int g = geom[k] = id_of(m, mjOBJ_GEOM, names[k]);
    assert_int_equal(m->geom_type[g], mjGEOM_PLANE);
    assert_float_equal(m->geom_rgba[4 * g + 3], 0, 0);
    assert_true(m->geom_conaffinity[g] != 0);
    const double* xm = e->d->geom_xmat + 9 * g;  // the plane's normal: its frame's z axis
    assert_float_equal(xm[2], normal[k][0], 1e-9);
    assert_float_equal(xm[5], normal[k][1], 1e-9);
    assert_float_equal(xm[8], 0, 1e-9);
    assert_float_equal(e->d->geom_xpos[3 * g + (k < 2 ? 1 : 0)], at[k], 1e-9);
  }
  memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);
  for (int side = -1; side <= 1; side += 2) {
    am_pool_reset(p);
    shift_root(e, &r, 0, 0.8 * side, 0);
    // a ray from the head towards the wall 0.2 m away finds nothing there
    double from[3], dir[3] = {0, side, 0};
    for (int i = 0; i < 3; i++) from[i] = e->d->xpos[3 * r.head + i];
    from[2] = 0.05;
    int hit = -1;
    double dist = mj_ray(m, e->d, from, dir, NULL, 1, r.head, &hit);
    assert_true(dist < 0 || dist > 1);
    e->d->qvel[r.v + 1] = 2.0 * side;
    int touched = 0;
    for (int s = 0; s < 50; s++) {
      am_pool_step(p);
      assert_int_equal(b->terminated[0], 0);
      assert_true(fabs(e->d->qpos[r.q + 1]) < 1);
      for (int c = 0; c < e->d->ncon; c++)
        touched |= e->d->contact[c].geom1 == geom[side < 0] || e->d->contact[c].geom2 == geom[side < 0];
    }
    assert_true(touched);
    assert_true(min_paw_z(e, &r) > -0.1);
  }
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_run_gaps_fall_and_limit(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", "episode_time=0.2", "init_noise=0", NULL);
  assert_int_equal(t.max_steps, 10);
  uint32_t FALL = ev_bit(&t, "fall"), GAP = ev_bit(&t, "gap_crossed");
  assert_int_equal(FALL, 1u << 1);
  assert_int_equal(GAP, 1u << 0);
  int vg = var_index(&t, "gaps_crossed");
  am_pool* p = make_pool(&t, 1, 8);
  am_batch* b = am_pool_batch(p);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);

  // Time limit: standing still on the start, the 10th step truncates (not terminates).
  for (int s = 0; s < 10; s++) {
    am_pool_step(p);
    assert_int_equal(b->ep_step[0], s);
    assert_int_equal(b->terminated[0], 0);
    assert_int_equal(b->truncated[0], s == 9);
    assert_int_equal(b->events[0] & FALL, 0u);
    assert_float_equal(b->rewards[0], run_reward(b->vars[3], 1.0), 1e-4);
  }
  assert_int_equal(e->episode, 2);

  // Fall threshold, directly: off the corridor (|y| > 1 m: nothing below), lowest paw at
  // -0.299 m: going on; at -0.301 m: terminated with the fall event.
  shift_root(e, &r, 0, 1.6, 0);
  shift_root(e, &r, 0, 0, -0.299 - min_paw_z(e, &r));
  am_step_result res = evaluate(&t, e);
  assert_int_equal(res.terminated, 0);
  assert_int_equal(res.events & FALL, 0u);
  shift_root(e, &r, 0, 0, -0.002);
  res = evaluate(&t, e);
  assert_int_equal(res.terminated, 1);
  assert_int_equal(res.events & FALL, FALL);
  // any paw counts: pitched nose-up the feet are the lowest paws, nose-down the hands
  for (int tilt = -1; tilt <= 1; tilt += 2) {
    double a = tilt * 0.6;
    set_root_quat(e, &r, cos(a / 2), 0, sin(a / 2), 0);
    int low = 0;
    for (int k = 1; k < 4; k++)
      if (e->d->site_xpos[3 * r.paw[k] + 2] < e->d->site_xpos[3 * r.paw[low] + 2]) low = k;
    assert_true(tilt < 0 ? low >= 2 : low <= 1);  // pitching about y: feet vs hands lowest
    shift_root(e, &r, 0, 0, -0.31 - min_paw_z(e, &r));
    res = evaluate(&t, e);
    assert_int_equal(res.terminated, 1);
    shift_root(e, &r, 0, 0, 0.02);  // lowest paw at -0.29: not a fall
    assert_int_equal(evaluate(&t, e).terminated, 0);
  }

  // Through the pool: falling off the corridor ends the episode as terminated, not truncated.
  am_pool_reset(p);
  int64_t ep0 = e->episode;
  set_root_quat(e, &r, 1, 0, 0, 0);
  shift_root(e, &r, 0, 1.6, -0.305 - min_paw_z(e, &r));
  am_pool_step(p);
  assert_int_equal(b->terminated[0], 1);
  assert_int_equal(b->truncated[0], 0);
  assert_int_equal(b->unstable[0], 0);
  assert_int_equal(b->events[0] & FALL, FALL);
  assert_int_equal(b->ep_step[0], 0);
  assert_int_equal(e->episode, ep0 + 1);  // auto-reset: a new episode began
  assert_float_equal(e->d->qpos[r.q], 5.0, 1e-9);

  // gap_crossed: the root passing the end of a gap (the start of the next platform), once each
  course c;
  read_course(e, &c);
  float vars[16];
  t.get_vars(&t, e, vars);
  assert_float_equal(vars[vg], 0, 0);
  shift_root(e, &r, c.start[1] - 0.005 - e->d->qpos[r.q], 0, 0);  // just before it
  res = evaluate(&t, e);
  assert_int_equal(res.events & GAP, 0u);
  shift_root(e, &r, 0.01, 0, 0);  // just past it
  res = evaluate(&t, e);
  assert_int_equal(res.events, GAP);
  t.get_vars(&t, e, vars);
  assert_float_equal(vars[vg], 1, 0);
  res = evaluate(&t, e);  // still past it: not again
  assert_int_equal(res.events, 0u);
  shift_root(e, &r, c.start[4] + 0.01 - e->d->qpos[r.q], 0, 0);  // three more at once
  res = evaluate(&t, e);
  assert_int_equal(res.events, GAP);
  t.get_vars(&t, e, vars);
  assert_float_equal(vars[vg], 4, 0);
  am_pool_free(p);
  amt_destroy(&t);
}

// gap_reward=G: G added to the reward (its speed term) for each gap crossed, on the step that
// crosses it; the same state again pays without it. Out-of-range values are refused.
static void test_run_gaps_gap_reward(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "run-gaps", "gap_reward=2.5", "init_noise=0", NULL);
  am_pool* p = make_pool(&t, 1, 8);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  course c;
  read_course(e, &c);
  shift_root(e, &r, c.start[1] - 0.005 - e->d->qpos[r.q], 0, 0);
  am_step_result before = evaluate(&t, e);
  assert_int_equal(before.events, 0u);
  shift_root(e, &r, 0.01, 0, 0);  // past the first gap's end
  am_step_result crossed = evaluate(&t, e), again = evaluate(&t, e);
  assert_int_equal(crossed.events, ev_bit(&t, "gap_crossed"));
  assert_int_equal(again.events, 0u);
  assert_float_equal(crossed.reward - again.reward, 2.5, 1e-6);
  assert_float_equal(crossed.terms[0], crossed.reward, 0);
  shift_root(e, &r, c.start[4] + 0.01 - e->d->qpos[r.q], 0, 0);  // three more on one step
  crossed = evaluate(&t, e), again = evaluate(&t, e);
  assert_float_equal(crossed.reward - again.reward, 3 * 2.5, 1e-6);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("run-gaps", "gap_reward=-1");
  expect_refused("run-gaps", "gap_reward=nan");
}

//---------------------------------- escape-bowl ---------------------------------------------------

// The documented upright factor for one body whose z-axis makes `deg` degrees with vertical.
static double upright_of(double deg) { return deg <= 30 ? 1 : (180 - deg) / 150; }

static double body_tilt_deg(const mjData* d, int body) {
  double zz = d->xmat[9 * body + 8];
  return acos(fmax(-1, fmin(1, zz))) * 180 / M_PI;
}

static void test_escape_bowl(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "init_noise=0", "terrains=2", NULL);
  assert_int_equal(t.max_steps, 1000);  // 20 s
  uint32_t ESC = ev_bit(&t, "escaped");
  am_pool* p = make_pool(&t, 1, 4);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  int off = task_group(&t);
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  set_root_quat(e, &r, 1, 0, 0, 0);
  // upright pose: torso and pelvis vertical (no joint noise)
  assert_true(body_tilt_deg(e->d, r.torso) < 1e-6 && body_tilt_deg(e->d, r.pelvis) < 1e-6);

  // Escape: 0 at the centre, linear in the distance, 1 from 6 m on; the event once, at the first
  // evaluation at >= 6 m.
  const double dist[] = {0, 0.6, 1.5, 3, 4.5, 5.9, 6.0001, 7.5, 9, 2, 8};
  int escaped = 0;
  for (size_t k = 0; k < sizeof dist / sizeof *dist; k++) {
    double ang = 0.7 + k;  // any direction
    e->d->qpos[r.q] = dist[k] * cos(ang);
    e->d->qpos[r.q + 1] = dist[k] * sin(ang);
    mj_forward(e->m, e->d);
    am_step_result res = evaluate(&t, e);
    double esc = fmin(1, dist[k] / 6);
    assert_float_equal(res.terms[1], esc, 1e-6);
    assert_float_equal(res.reward, esc, 1e-6);  // upright x escape with upright = 1
    assert_float_equal(res.terms[0], esc, 1e-6);
    assert_int_equal(res.terminated, 0);
    assert_int_equal(res.events, dist[k] >= 6 && !escaped ? ESC : 0u);
    escaped |= dist[k] >= 6;
  }

  // Upright: tilting the whole rat by a (pitch, roll, about a diagonal axis), torso and pelvis
  // both tilt by a; at escape 1 the reward is the product of the two upright factors.
  shift_root(e, &r, 7 - e->d->qpos[r.q], -e->d->qpos[r.q + 1], 0);
  const double degs[] = {0, 10, 29, 30, 45, 60, 90, 120, 150, 179, 180};
  const double axes[3][3] = {{0, 1, 0}, {1, 0, 0}, {0.6, 0.8, 0}};
  double prev = 2;
  for (int ax = 0; ax < 3; ax++)
    for (size_t k = 0; k < sizeof degs / sizeof *degs; k++) {
      double a = degs[k] * M_PI / 180;
      set_root_quat(e, &r, cos(a / 2), axes[ax][0] * sin(a / 2), axes[ax][1] * sin(a / 2),
                    axes[ax][2] * sin(a / 2));
      assert_float_equal(body_tilt_deg(e->d, r.torso), degs[k], 1e-6);
      assert_float_equal(body_tilt_deg(e->d, r.pelvis), degs[k], 1e-6);
      double want = upright_of(degs[k]) * upright_of(degs[k]);
      am_step_result res = evaluate(&t, e);
      if (fabs(res.reward - want) > 1e-5)
        fail_msg("escape-bowl tilt %g deg: reward %g, want %g", degs[k], res.reward, want);
      assert_float_equal(res.terms[1], 1, 1e-6);
      if (ax == 0) {
        assert_true(res.reward <= prev + 1e-9);  // never rises with the tilt
        prev = res.reward;
      }
    }
  assert_float_equal(prev, 0, 1e-6);  // upside down: 0
  // the spine bent: pelvis tilted by 20 more degrees than the torso (lumbar + sacral extension)
  set_root_quat(e, &r, cos(0.4), 0, sin(0.4), 0);  // torso pitched 45.8 deg
  int jl = id_of(e->m, mjOBJ_JOINT, "lumbar_extend"), js = id_of(e->m, mjOBJ_JOINT, "sacral_extend");
  e->d->qpos[e->m->jnt_qposadr[jl]] = 0.2;
  e->d->qpos[e->m->jnt_qposadr[js]] = 0.15;
  mj_forward(e->m, e->d);
  double tt = body_tilt_deg(e->d, r.torso), tp = body_tilt_deg(e->d, r.pelvis);
  assert_true(fabs(tt - tp) > 10);
  assert_float_equal(evaluate(&t, e).reward, upright_of(tt) * upright_of(tp), 1e-5);
  e->d->qpos[e->m->jnt_qposadr[jl]] = 0;
  e->d->qpos[e->m->jnt_qposadr[js]] = 0;

  // Task group: direction to the centre in the torso frame and distance, in escape_distance units.
  set_root_quat(e, &r, 1, 0, 0, 0);
  shift_root(e, &r, 3 - e->d->qpos[r.q], -e->d->qpos[r.q + 1], 0);
  t.observe(&t, e, obs);
  assert_float_equal(obs[off], -0.5, 1e-5);
  assert_float_equal(obs[off + 1], 0, 1e-5);
  assert_float_equal(obs[off + 2], 0.5, 1e-5);
  // facing +y, the centre (world -x) is on its left, the torso's +y
  set_root_quat(e, &r, cos(M_PI / 4), 0, 0, sin(M_PI / 4));
  t.observe(&t, e, obs);
  assert_float_equal(obs[off], 0, 1e-5);
  assert_float_equal(obs[off + 1], 0.5, 1e-5);
  assert_float_equal(obs[off + 2], 0.5, 1e-5);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);

  // escape_distance override: 1 at 2 m, 0.5 at 1 m
  make_task(&t, "escape-bowl", "init_noise=0", "terrains=1", "escape_distance=2", NULL);
  p = make_pool(&t, 1, 4);
  e = am_pool_env(p, 0);
  r = rat_lookup(e->m);
  set_root_quat(e, &r, 1, 0, 0, 0);
  shift_root(e, &r, 1 - e->d->qpos[r.q], -e->d->qpos[r.q + 1], 0);
  assert_float_equal(evaluate(&t, e).reward, 0.5, 1e-6);
  shift_root(e, &r, 1, 0, 0);
  am_step_result res = evaluate(&t, e);
  assert_float_equal(res.reward, 1, 1e-6);
  assert_int_equal(res.events, ESC);
  assert_int_equal(res.terminated, 0);
  am_pool_free(p);
  amt_destroy(&t);

  // escape_end: escaping terminates, paid 1 for each of the episode's remaining steps (10 s at
  // 0.02 s: 500 steps; the 30th step leaves 470)
  make_task(&t, "escape-bowl", "init_noise=0", "terrains=1", "escape_distance=2", "escape_end=1",
            "episode_time=10", NULL);
  p = make_pool(&t, 1, 4);
  e = am_pool_env(p, 0);
  r = rat_lookup(e->m);
  set_root_quat(e, &r, 1, 0, 0, 0);
  shift_root(e, &r, 1 - e->d->qpos[r.q], -e->d->qpos[r.q + 1], 0);
  e->step = 30;
  res = evaluate(&t, e);
  assert_float_equal(res.reward, 0.5, 1e-6);
  assert_int_equal(res.terminated, 0);
  shift_root(e, &r, 1, 0, 0);
  res = evaluate(&t, e);
  assert_float_equal(res.reward, 1 + 470, 1e-4);
  assert_int_equal(res.events, ESC);
  assert_int_equal(res.terminated, 1);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("escape-bowl", "escape_end=2");
}

// The mocap ids of the bowls terrain0 .. terrain<n-1>.
static void terrain_mocaps(const mjModel* m, int* mc, int n) {
  for (int k = 0; k < n; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "terrain%d", k);
    mc[k] = mocap_of(m, nm);
  }
}

// The terrain env e has raised (the one mocap bowl at the origin; the others parked below).
static int raised_terrain(const am_env* e, const int* mc, int n) {
  int k_up = -1;
  for (int k = 0; k < n; k++) {
    const double* mp = e->d->mocap_pos + 3 * mc[k];
    if (fabs(mp[0]) < 1e-12 && fabs(mp[1]) < 1e-12 && fabs(mp[2]) < 1e-12) {
      assert_int_equal(k_up, -1);
      k_up = k;
    } else {
      assert_true(mp[2] < -1);
    }
  }
  assert_true(k_up >= 0);
  return k_up;
}

// The bowl of Merel et al. 2020 (dm_control's Bowl): elevation (0.5 - cos(2 pi r)/2) x bumps,
// r = distance / 6 m clipped to [0.1, 1]: low and flat-profiled at the centre, the ridge at 3 m,
// back to 0 at 6 m and beyond (the corners), where the ground plane at z = 0 goes on. With
// bumps=linear the bumps stay in [0.5, 1] (the cubic ones: test_escape_bowl_bumps). The rat starts
// standing above the ground near the centre, not in it (with either bumps).
static void test_escape_bowl_profile(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "terrains=1", "bumps=linear", NULL);
  const mjModel* m = t.model->m;
  int hf = mj_name2id(m, mjOBJ_HFIELD, "bowl0"), n = m->hfield_nrow[hf];
  assert_int_equal(n, 201);
  assert_float_equal(m->hfield_size[4 * hf + 2], 0.5, 0);  // no overshoot: the top is the height
  const float* h = m->hfield_data + m->hfield_adr[hf];
  const double lo_c = 0.5 - cos(2 * M_PI * 0.1) / 2;  // the profile inside r = 0.1 (0.6 m)
  for (int k = 0; k < 4; k++) {  // centre, and up to 0.54 m out along x: the clipped profile
    int col = 100 + 3 * k;  // 0.06 m per column
    if (!(h[100 * n + col] >= 0.5 * lo_c - 1e-6 && h[100 * n + col] <= lo_c + 1e-6))
      fail_msg("elevation %g at column %d, want [%g, %g]", h[100 * n + col], col, 0.5 * lo_c, lo_c);
  }
  const int ridge[4][2] = {{100, 150}, {100, 50}, {150, 100}, {50, 100}};  // 3 m along the axes
  for (int j = 0; j < 4; j++) {
    float v = h[ridge[j][0] * n + ridge[j][1]];
    assert_true(v >= 0.5 - 1e-6 && v <= 1 + 1e-6);
  }
  const int edge[6][2] = {{100, 200}, {100, 0}, {0, 100}, {200, 100}, {0, 0}, {200, 200}};
  for (int j = 0; j < 6; j++) assert_float_equal(h[edge[j][0] * n + edge[j][1]], 0, 1e-6);
  int floor_g = mj_name2id(m, mjOBJ_GEOM, "floor");
  assert_true(floor_g >= 0);
  assert_int_equal(m->geom_type[floor_g], mjGEOM_PLANE);
  assert_float_equal(m->geom_pos[3 * floor_g + 2], 0, 0);
  for (int bumps = 0; bumps < 2; bumps++) {
    if (bumps) {
      amt_destroy(&t);
      make_task(&t, "escape-bowl", "terrains=4", NULL);  // cubic, each bowl its own peak
    }
    am_pool* p = make_pool(&t, 4, 7);
    for (int i = 0; i < 4; i++) {
      const mjData* d = am_pool_env(p, i)->d;
      for (int c = 0; c < d->ncon; c++)
        if (d->contact[c].dist < -0.002)
          fail_msg("env %d starts %g m into the ground", i, -d->contact[c].dist);
    }
    am_pool_free(p);
  }
  amt_destroy(&t);
}

// The coefficients of the cubic B-spline through n samples x[k * s], mirrored beyond the ends:
// c[k-1] + 4 c[k] + c[k+1] = 6 x[k] with c[-1] = c[1] and c[n] = c[n-2], solved as a tridiagonal
// system (the task filters recursively instead).
static void spline_solve(double* x, int n, int s) {
  double cp[64], dp[64];
  for (int k = 0; k < n; k++) {
    double lo = k == 0 ? 0 : k == n - 1 ? 2 : 1, up = k == 0 ? 2 : k == n - 1 ? 0 : 1;
    double den = 4 - (k ? lo * cp[k - 1] : 0);
    cp[k] = up / den;
    dp[k] = (6 * x[k * s] - (k ? lo * dp[k - 1] : 0)) / den;
  }
  for (int k = n - 1; k >= 0; k--) x[k * s] = dp[k] - (k < n - 1 ? cp[k] * x[(k + 1) * s] : 0);
}

// The cubic B-spline, 0 beyond |t| = 2.
static double beta3(double t) {
  t = fabs(t);
  return t < 1 ? (4 - 6 * t * t + 3 * t * t * t) / 6 : t < 2 ? (2 - t) * (2 - t) * (2 - t) / 6 : 0;
}

// The published bowl's bumps (bumps=cubic, the default), as dm_control's Bowl makes them: a 60 x
// 60 grid of U(0.5, 1) over the 12 m field, corner to corner, through which scipy's
// ndimage.zoom(order=3) lays a cubic B-spline, sampled at the field's 201 x 201 points. The bowl
// is recomputed here from the task's draws (the terrain's RNG stream, row-major) with an
// independent solver; the heightfield holds it over its peak (the spline overshoots [0.5, 1], and
// MuJoCo takes an elevation of 1 as the top), its top height x peak.
static void test_escape_bowl_bumps(void** state) {
  (void)state;
  enum { NB = 60, N = 201 };
  am_task t;
  make_task(&t, "escape-bowl", "terrains=2", "terrain_seed=3", "height=0.5,0.3", NULL);
  const mjModel* m = t.model->m;
  static double c[NB * NB], want[N * N];
  double lo_bump = 1, hi_bump = 0;
  for (int k = 0; k < 2; k++) {
    am_rng rng;
    am_rng_seed(&rng, 3, (uint64_t)k);
    for (int i = 0; i < NB * NB; i++) c[i] = am_rng_range(&rng, 0.5, 1.0);
    for (int r = 0; r < NB; r++) spline_solve(c + r * NB, NB, 1);
    for (int col = 0; col < NB; col++) spline_solve(c + col, NB, NB);
    double peak = 1;
    for (int r = 0; r < N; r++)
      for (int col = 0; col < N; col++) {
        double u = col * (NB - 1.0) / (N - 1), v = r * (NB - 1.0) / (N - 1), bump = 0;
        for (int a = (int)v - 1; a <= (int)v + 2; a++)
          for (int b = (int)u - 1; b <= (int)u + 2; b++) {
            int ma = a < 0 ? -a : a > NB - 1 ? 2 * (NB - 1) - a : a;
            int mb = b < 0 ? -b : b > NB - 1 ? 2 * (NB - 1) - b : b;
            bump += beta3(v - a) * beta3(u - b) * c[ma * NB + mb];
          }
        double x = -6 + 12.0 * col / (N - 1), y = -6 + 12.0 * r / (N - 1);
        double rad = fmin(fmax(sqrt(x * x + y * y) / 6, 0.1), 1);
        want[r * N + col] = (0.5 - cos(2 * M_PI * rad) / 2) * bump;
        peak = fmax(peak, want[r * N + col]);
        lo_bump = fmin(lo_bump, bump);
        hi_bump = fmax(hi_bump, bump);
      }
    char nm[16];
    snprintf(nm, sizeof nm, "bowl%d", k);
    int hf = mj_name2id(m, mjOBJ_HFIELD, nm);
    assert_int_equal(m->hfield_nrow[hf], N);
    assert_true(peak > 1.02);  // the ridge's bumps overshoot, on every bowl of this size
    assert_float_equal(m->hfield_size[4 * hf + 2], (k ? 0.3 : 0.5) * peak, 1e-6);
    const float* h = m->hfield_data + m->hfield_adr[hf];
    double worst = 0;
    for (int i = 0; i < N * N; i++) worst = fmax(worst, fabs(h[i] - want[i] / peak));
    if (worst > 1e-6) fail_msg("bowl %d: elevation off by %g", k, worst);
  }
  assert_true(lo_bump < 0.45 && hi_bump > 1.05);  // a spline through the points, not a blend
  amt_destroy(&t);
  expect_refused_saying("escape-bowl", "bumps=quadratic", "bumps");
}

// height_scan=N: a group "height_scan" of N rows of scan_width points (row i at (i + 1 -
// scan_back) x scan_step ahead along the heading, point j at (j - (width - 1) / 2) x scan_step to
// the left), each the ground's z less the root's. Checked against a vertical ray onto the raised
// bowl's tiles (what the rangefinders see; MuJoCo's triangles, not the scan's bilinear
// interpolation: within 1 cm, where a cell's corners disagree most, and 2 mm on average), from above the ground and below the lifted rat, at rats placed
// over the bowl, on the ridge and beyond it, on each terrain in turn, heading anywhere.
static void test_escape_bowl_height_scan(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "terrains=4", "height_scan=5", "scan_width=3", "scan_back=1",
            "scan_step=0.15", "heading=1", NULL);
  int tg = am_find_group(t.groups, t.n_groups, "task");
  int hg = am_find_group(t.groups, t.n_groups, "heading");
  int sg = am_find_group(t.groups, t.n_groups, "height_scan");
  assert_true(tg >= 0 && hg >= 0 && sg >= 0);
  assert_int_equal(t.groups[sg].size, 15);
  assert_int_equal(t.groups[sg].offset, t.groups[hg].offset + 2);
  am_pool* p = make_pool(&t, 1, 5);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  int mc[4], terrains_seen[4] = {0};
  terrain_mocaps(t.model->m, mc, 4);
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  am_rng rng;
  am_rng_seed(&rng, 3, 0);
  double lo = 1, hi = -1, worst = 0, sum_diff = 0;
  int n_diff = 0;
  for (int ep = 0; ep < 8; ep++) {
    if (ep) am_pool_reset(p);
    terrains_seen[raised_terrain(e, mc, 4)]++;
    for (int k = 0; k < 12; k++) {  // the root 1.5 m up, so that rays from 1 m miss the rat
      double rad = am_rng_range(&rng, 0, 6.6), ang = am_rng_range(&rng, -M_PI, M_PI);
      double yaw = am_rng_range(&rng, -M_PI, M_PI);
      e->d->qpos[r.q] = rad * cos(ang), e->d->qpos[r.q + 1] = rad * sin(ang);
      e->d->qpos[r.q + 2] = 1.5;
      set_root_quat(e, &r, cos(yaw / 2), 0, 0, sin(yaw / 2));
      t.observe(&t, e, obs);
      for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) {
          double a = (i + 1 - 1) * 0.15, b = (j - 1) * 0.15;
          mjtNum from[3] = {e->d->qpos[r.q] + a * cos(yaw) - b * sin(yaw),
                            e->d->qpos[r.q + 1] + a * sin(yaw) + b * cos(yaw), 1.0};
          mjtNum down[3] = {0, 0, -1};
          int geom = -1;
          mjtNum dist = mj_ray(t.model->m, e->d, from, down, NULL, 1, -1, &geom);  // tiles seen
          assert_true(dist > 0);
          double want = 1.0 - dist - 1.5, got = obs[t.groups[sg].offset + 3 * i + j];
          if (fabs(got - want) > 0.01)
            fail_msg("episode %d rat %d row %d point %d at (%g, %g): %g, the ray %g", ep, k, i, j,
                     from[0], from[1], got, want);
          worst = fmax(worst, fabs(got - want));
          sum_diff += fabs(got - want), n_diff++;
          lo = fmin(lo, want + 1.5), hi = fmax(hi, want + 1.5);
        }
    }
  }
  print_message("height scan: ground z %.3f to %.3f m, difference from the ray: largest %.4f m, "
                "mean %.5f m\n", lo, hi, worst, sum_diff / n_diff);
  assert_true(sum_diff / n_diff < 0.002);
  assert_true(lo < 0.01 && hi > 0.3);  // the plane beyond the bowl and the ridge
  int n_seen = 0;
  for (int k = 0; k < 4; k++) n_seen += terrains_seen[k] > 0;
  assert_true(n_seen >= 2);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
  make_task(&t, "escape-bowl", NULL);  // off by default: the published observations
  assert_true(am_find_group(t.groups, t.n_groups, "height_scan") < 0);
  amt_destroy(&t);
  expect_refused_saying("escape-bowl", "height_scan=4;scan_width=2", "scan_width");
  expect_refused_saying("escape-bowl", "height_scan=30;scan_width=3", "height_scan");
  expect_refused_saying("escape-bowl", "height_scan=3;scan_back=4", "scan_back");
  expect_refused_saying("escape-bowl", "height_scan=3;scan_step=0", "scan_step");
}

// Puts the rat's root at (x, y, z0 + a height drawn in [zlo, zhi]) in a random orientation
// (a normalised Gaussian quaternion: uniform over rotations); mj_forward on e->m.
static void random_pose(am_env* e, const rat_ids* r, am_rng* rng, double x, double y, double z0,
                        double zlo, double zhi) {
  double qw = am_rng_normal(rng), qx = am_rng_normal(rng), qy = am_rng_normal(rng),
         qz = am_rng_normal(rng), norm = sqrt(qw * qw + qx * qx + qy * qy + qz * qz);
  e->d->qpos[r->q] = x, e->d->qpos[r->q + 1] = y;
  e->d->qpos[r->q + 2] = z0 + am_rng_range(rng, zlo, zhi);
  set_root_quat(e, r, qw / norm, qx / norm, qy / norm, qz / norm);
}

// What a test of task-cast rays saw: readings, misses, readings that changed in the task's cast
// (from `before`, MuJoCo's alone), and the largest difference from mj_ray.
typedef struct ray_tally {
  int n, n_miss, n_changed;
  double worst;
} ray_tally;

// Rangefinder s of env e after the task's evaluate: its reading must equal, within tol, mj_ray's
// on the model m (where every geom is seen) with the sensor's cutoff; counted into tl. Returns the
// geom mj_ray met (-1: none). ep and k name the episode and pose in a failure.
static int check_ray_reading(const mjModel* m, const am_env* e, int s, const double* before,
                             double tol, int ep, int k, ray_tally* tl) {
  int site = m->sensor_objid[s], adr = m->sensor_adr[s], geom;
  const double *xm = e->d->site_xmat + 9 * site, *o = e->d->site_xpos + 3 * site;
  double v[3] = {xm[2], xm[5], xm[8]};
  double want = mj_ray(m, e->d, o, v, NULL, 1, m->site_bodyid[site], &geom);
  if (m->sensor_cutoff[s] > 0 && want > m->sensor_cutoff[s]) want = m->sensor_cutoff[s];
  double got = e->d->sensordata[adr];
  if ((want < 0) != (got < 0) || fabs(got - want) > tol)
    fail_msg("episode %d pose %d ray %d from (%g, %g, %g): read %.12g, mj_ray %.12g", ep, k, s,
             o[0], o[1], o[2], got, want);
  if (want >= 0) tl->worst = fmax(tl->worst, fabs(got - want));
  tl->n++;
  tl->n_miss += want < 0;
  tl->n_changed += before[adr] != got;
  return geom;
}

// The rangefinders against the bowl, cast by the task (the model variant hides the tiles from
// MuJoCo's rays): every reading equals mj_ray's on the model, where the rays see the tiles, over
// random poses on four bowls of different heights, in the bowl, on the ridge and beyond the field
// (looking back at it), at heights from the bumps' tops to a metre up, tilted any way; and
// most readings are the bowl's, which MuJoCo alone did not see. Env `env` of a pool of n_envs is
// the bowl's (rat-multi: its member).
static void check_bowl_rays(am_task* tp, int n_envs, int env) {
  const am_task t = *tp;  // the same task (a copy of its handle)
  const mjModel* m = t.model->m;
  am_pool* p = make_pool(&t, n_envs, 9);
  am_env* e = am_pool_env(p, env);
  assert_true(e->m != m);  // the variant
  rat_ids r = rat_lookup(m);
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  am_step_result res;
  ray_tally tl = {0};
  int n_bowl = 0, n_inside = 0, mc[4];
  terrain_mocaps(m, mc, 4);
  for (int ep = 0; ep < 8; ep++) {
    if (ep) am_pool_reset(p);
    char nm[16];  // the raised bowl's whole-field geom
    snprintf(nm, sizeof nm, "terrain%d", raised_terrain(e, mc, 4));
    int field = id_of(m, mjOBJ_GEOM, nm);
    // its edges lie at 0, on the floor plane (so the task's cast may leave out the field's sides)
    const int hid = m->geom_dataid[field], nr = m->hfield_nrow[hid], nc = m->hfield_ncol[hid];
    const float* hd = m->hfield_data + m->hfield_adr[hid];
    for (int i = 0; i < nr; i++)
      assert_true(hd[i * nc] == 0 && hd[i * nc + nc - 1] == 0);
    for (int j = 0; j < nc; j++)
      assert_true(hd[j] == 0 && hd[(nr - 1) * nc + j] == 0);
    assert_true(fabs(e->d->geom_xpos[3 * field + 2]) < 1e-12);
    for (int k = 0; k < 40; k++) {
      double rad = am_rng_range(&rng, 0, 7.5), ang = am_rng_range(&rng, -M_PI, M_PI);
      double x = rad * cos(ang), y = rad * sin(ang), down[3] = {0, 0, -1}, from[3] = {x, y, 5};
      int geom;
      double ground = 5 - mj_ray(m, e->d, from, down, NULL, 1, -1, &geom);
      random_pose(e, &r, &rng, x, y, ground, 0.05, 1.0);
      double before[256];
      assert_true(m->nsensordata <= 256);
      memcpy(before, e->d->sensordata, sizeof(double) * (size_t)m->nsensordata);
      t.evaluate(&t, e, &res);  // casts the rays against the bowl
      for (int s = 0; s < m->nsensor; s++) {
        if (m->sensor_type[s] != mjSENS_RANGEFINDER) continue;
        const double* o = e->d->site_xpos + 3 * m->sensor_objid[s];
        double above[3] = {o[0], o[1], 5};
        double h = mj_rayHfield(m, e->d, field, above, down);
        if (o[2] < (h >= 0 ? 5 - h : 0) + 1e-4) {  // a ray from inside the ground: the tiles' boxes
          n_inside++;                             // and the field's differ there
          continue;
        }
        geom = check_ray_reading(m, e, s, before, 1e-5, ep, k, &tl);
        n_bowl += geom >= 0 && m->geom_type[geom] == mjGEOM_HFIELD;
      }
    }
  }
  print_message("bowl rays: %d readings, %d on the bowl, %d changed by the task's cast, %d "
                "misses (%d from inside the ground, skipped); largest difference from mj_ray %.3g "
                "m\n", tl.n, n_bowl, tl.n_changed, tl.n_miss, n_inside, tl.worst);
  assert_true(n_bowl > tl.n / 4 && tl.n_changed > n_bowl / 2);
  am_pool_free(p);
  amt_destroy(tp);
}

static void test_escape_bowl_rays(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "terrains=4", "height=0.15,0.35,0.5,0.8", NULL);
  check_bowl_rays(&t, 1, 0);
  // rat-multi's bowl member (env 1: escape-bowl), in the variant that also hides two-tap's pieces
  make_task(&t, "rat-multi", "tasks=two-tap,escape-bowl", "escape-bowl.terrains=4",
            "escape-bowl.height=0.15,0.35,0.5,0.8", NULL);
  check_bowl_rays(&t, 2, 1);
}

// Each episode raises one bank bowl (drawn from the env's RNG) and parks the others; headings vary.
static void test_escape_bowl_terrain(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "terrains=4", NULL);
  am_pool* p = make_pool(&t, 4, 12);
  int mc[4], used[4] = {0};
  terrain_mocaps(t.model->m, mc, 4);
  double headings[24];
  int nh = 0;
  for (int ep = 0; ep < 6; ep++) {
    if (ep) am_pool_reset(p);
    for (int i = 0; i < 4; i++) {
      am_env* e = am_pool_env(p, i);
      used[raised_terrain(e, mc, 4)]++;
      rat_ids r = rat_lookup(e->m);
      headings[nh++] = 2 * atan2(e->d->qpos[r.q + 6], e->d->qpos[r.q + 3]);
    }
  }
  int distinct_used = 0;
  for (int k = 0; k < 4; k++) distinct_used += used[k] > 0;
  assert_true(distinct_used >= 3);
  for (int k = 1; k < nh; k++) assert_true(fabs(headings[k] - headings[0]) > 1e-6 || k == 0);
  am_pool_free(p);
  amt_destroy(&t);
}

// staircase=1: each env starts on the first terrain, goes one up after an episode that escaped and
// one down after one that did not, within [0, terrains - 1]; the envs move apart.
static void test_escape_bowl_staircase(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "terrains=3", "height=0.1,0.3,0.5", "staircase=1",
            "escape_distance=1", NULL);
  am_pool* p = make_pool(&t, 2, 5);
  int mc[3];
  terrain_mocaps(t.model->m, mc, 3);
  rat_ids r = rat_lookup(am_pool_env(p, 0)->m);
  // env 0 escapes in episodes 1-3 and not in 4-6; env 1 never: expected terrains per episode
  const int want0[7] = {0, 1, 2, 2, 1, 0, 0}, want1[7] = {0, 0, 0, 0, 0, 0, 0};
  for (int ep = 0; ep < 7; ep++) {
    if (ep) am_pool_reset(p);
    assert_int_equal(raised_terrain(am_pool_env(p, 0), mc, 3), want0[ep]);
    assert_int_equal(raised_terrain(am_pool_env(p, 1), mc, 3), want1[ep]);
    am_env* e = am_pool_env(p, 0);
    if (ep < 3) {  // 2 m from the centre: escaped (escape_distance 1)
      shift_root(e, &r, 2, 0, 0);
      assert_int_equal(evaluate(&t, e).events & 1u, 1u);
    }
  }
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("escape-bowl", "staircase=2");
}

// stair_top=0.5: about half of each env's episodes are on the last terrain whatever its place on
// the staircase, and those episodes do not move it: an env that escapes in every one of them and
// in no other stays on the first terrain (never the middle one); bad shares are refused by name.
static void test_escape_bowl_stair_top(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "escape-bowl", "terrains=3", "height=0.1,0.3,0.5", "staircase=1", "stair_top=0.5",
            "escape_distance=1", NULL);
  am_pool* p = make_pool(&t, 1, 7);
  int mc[3], on[3] = {0, 0, 0};
  terrain_mocaps(t.model->m, mc, 3);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  for (int ep = 0; ep < 40; ep++) {
    if (ep) am_pool_reset(p);
    int k = raised_terrain(e, mc, 3);
    on[k]++;
    if (k == 2) {  // a top episode: escape (2 m out, escape_distance 1)
      shift_root(e, &r, 2, 0, 0);
      assert_int_equal(evaluate(&t, e).events & 1u, 1u);
    }
  }
  assert_int_equal(on[1], 0);
  assert_true(on[2] >= 10 && on[2] <= 30);
  assert_int_equal(on[0] + on[2], 40);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused_saying("escape-bowl", "staircase=1;stair_top=1",
                        "stair_top: '1' must be in [0, 1)");
  expect_refused_saying("escape-bowl", "staircase=1;stair_top=-0.1", "stair_top: '-0.1'");
}

// height scales the bowl and its bumps (the heightfield's top and every tile's offset and range),
// the same bumps from the same terrain_seed; bad heights are refused naming the key.
static void test_escape_bowl_height(void** state) {
  (void)state;
  am_task a, b;
  make_task(&a, "escape-bowl", "terrains=1", NULL);
  make_task(&b, "escape-bowl", "terrains=1", "height=0.2", NULL);
  const mjModel *ma = a.model->m, *mb = b.model->m;
  int hf = mj_name2id(ma, mjOBJ_HFIELD, "bowl0");
  assert_true(hf >= 0);
  assert_true(ma->hfield_size[4 * hf + 2] >= 0.5);  // the height times the bowl's peak
  assert_float_equal(mb->hfield_size[4 * hf + 2], 0.4 * ma->hfield_size[4 * hf + 2], 1e-12);
  assert_int_equal(ma->nhfielddata, mb->nhfielddata);
  assert_memory_equal(ma->hfield_data + ma->hfield_adr[hf], mb->hfield_data + mb->hfield_adr[hf],
                      sizeof(float) * (size_t)ma->hfield_nrow[hf] * ma->hfield_ncol[hf]);
  int tiles = 0;
  for (int g = 0; g < ma->ngeom; g++) {
    if (ma->geom_type[g] != mjGEOM_HFIELD || ma->geom_dataid[g] == hf) continue;
    int th = ma->geom_dataid[g];  // a tile: its offset and height range scale with the bowl
    assert_float_equal(mb->geom_pos[3 * g + 2], 0.4 * ma->geom_pos[3 * g + 2], 1e-9);
    if (ma->hfield_size[4 * th + 2] > 1e-3)
      assert_float_equal(mb->hfield_size[4 * th + 2], 0.4 * ma->hfield_size[4 * th + 2], 1e-9);
    tiles++;
  }
  assert_int_equal(tiles, 25);
  amt_destroy(&a);
  amt_destroy(&b);
  // a list: each terrain its own height (a mixture of difficulties; linear bumps: the height is
  // the top)
  make_task(&a, "escape-bowl", "terrains=2", "height=0.2,0.45", "bumps=linear", NULL);
  for (int k = 0; k < 2; k++) {
    char nm[16];
    snprintf(nm, sizeof nm, "bowl%d", k);
    int h = mj_name2id(a.model->m, mjOBJ_HFIELD, nm);
    assert_float_equal(a.model->m->hfield_size[4 * h + 2], k ? 0.45 : 0.2, 1e-12);
  }
  amt_destroy(&a);
  const char* bad[] = {"height=0", "height=-1", "height=3", "height=0.2,0.5;terrains=3",
                       "height=0.2,x;terrains=2"};
  for (int k = 0; k < 5; k++) expect_refused("escape-bowl", bad[k]);
}

//---------------------------------- forage-maze ---------------------------------------------------

static void test_forage_maze_collect(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "forage-maze", "init_noise=0", NULL);
  assert_int_equal(t.max_steps, 1500);
  uint32_t TGT = ev_bit(&t, "target_collected"), ALL = ev_bit(&t, "all_collected");
  int vrem = var_index(&t, "remaining");
  am_pool* p = make_pool(&t, 1, 6);
  am_env* e = am_pool_env(p, 0);
  const mjModel* m = e->m;
  rat_ids r = rat_lookup(m);
  int off = task_group(&t);
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  float vars[16];
  const int n = 12;
  int mc[12];
  double pos[12][3];
  for (int i = 0; i < n; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "target%d", i);
    mc[i] = mocap_of(m, nm);
    memcpy(pos[i], e->d->mocap_pos + 3 * mc[i], sizeof pos[i]);
    assert_float_equal(pos[i][2], 0.125, 1e-12);  // at 0.125 m height, in a cell centre
    for (int k = 0; k < 2; k++) {
      double cell = (pos[i][k] + 2.75) / 0.5 - 0.5;
      assert_float_equal(cell, round(cell), 1e-9);
      assert_true(cell >= 0 && cell <= 10);
    }
    for (int j = 0; j < i; j++)  // distinct cells
      assert_true(fabs(pos[i][0] - pos[j][0]) + fabs(pos[i][1] - pos[j][1]) > 0.4);
  }
  for (int i = 0; i < n; i++)  // the rat starts in a cell of its own
    assert_true(fabs(e->d->qpos[r.q] - pos[i][0]) + fabs(e->d->qpos[r.q + 1] - pos[i][1]) > 0.4);
  t.observe(&t, e, obs);
  assert_float_equal(obs[off], 1, 1e-6);  // fraction remaining
  double total = 0;
  for (int i = 0; i < n; i++) {
    const double* head = e->d->xpos + 3 * r.head;
    // 0.12 m from the target (outside the 0.1 m reach): nothing
    double near[3] = {pos[i][0] + 0.12, pos[i][1], pos[i][2]};
    bring_to(e, &r, head, near);
    am_step_result res = evaluate(&t, e);
    assert_float_equal(res.reward, 0, 0);
    assert_int_equal(res.events, 0u);
    // the nearest remaining target in the observation: this one, 0.12 m behind/aside the head
    t.observe(&t, e, obs);
    double dist = sqrt(obs[off + 1] * obs[off + 1] + obs[off + 2] * obs[off + 2]);
    assert_float_equal(dist, 0.12, 1e-4);
    // 0.09 m away: collected, +50, event, counted once
    double in[3] = {pos[i][0], pos[i][1] + 0.09, pos[i][2]};
    bring_to(e, &r, head, in);
    res = evaluate(&t, e);
    total += res.reward;
    assert_float_equal(res.reward, 50, 0);
    assert_float_equal(res.terms[0], 50, 0);
    assert_int_equal(res.events, i == n - 1 ? (TGT | ALL) : TGT);
    assert_int_equal(res.terminated, i == n - 1);
    t.get_vars(&t, e, vars);
    assert_float_equal(vars[vrem], n - 1 - i, 0);
    t.observe(&t, e, obs);
    assert_float_equal(obs[off], (double)(n - 1 - i) / n, 1e-6);
    // the collected target is gone (parked) and does not pay twice
    assert_true(e->d->mocap_pos[3 * mc[i] + 2] < -1);
    if (i < n - 1) {
      bring_to(e, &r, head, pos[i]);
      res = evaluate(&t, e);
      assert_float_equal(res.reward, 0, 0);
      assert_int_equal(res.events, 0u);
    }
  }
  assert_float_equal(total, 50 * n, 0);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
}

// The group "heading" at obs[h], obs[h + 1] as the rat turns round on the spot (twelve yaws): the
// direction from the head to `goal` (world x, y) relative to the torso's heading (cos, sin). For
// forage-maze also the task group's vector (x, y at obs[vec]) in the same direction (vec < 0: none).
static void check_heading_toward(const am_task* t, am_env* e, const rat_ids* r, float* obs, int h,
                                 const double goal[2], int vec) {
  for (int k = 0; k < 12; k++) {
    double yaw = -3 + 0.5 * k;
    set_root_quat(e, r, cos(yaw / 2), 0, 0, sin(yaw / 2));
    const double* head = e->d->xpos + 3 * r->head;
    double rel = atan2(goal[1] - head[1], goal[0] - head[0]) - yaw;
    t->observe(t, e, obs);
    assert_float_equal(obs[h], cos(rel), 1e-5);
    assert_float_equal(obs[h + 1], sin(rel), 1e-5);
    if (vec >= 0)  // the same direction as the task group's vector (torso frame, level here)
      assert_float_equal(atan2(obs[vec + 1], obs[vec]), atan2(sin(rel), cos(rel)), 1e-3);
  }
}

// guide=1: the group "heading" right after the task group holds the direction from the head to
// the nearest remaining target relative to the torso's heading (cos, sin), whichever way the rat
// faces; the task group is unchanged; without guide there is no such group; bad values refused.
static void test_forage_maze_guide(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "forage-maze", "init_noise=0", "n_targets=1", "guide=1", NULL);
  const int h = am_find_group(t.groups, t.n_groups, "heading"), g = task_group(&t);
  assert_true(h == am_find_group(t.groups, t.n_groups, "task") + 1);
  assert_int_equal(t.groups[h].size, 2);
  assert_int_equal(t.groups[h].offset, g + 3);
  am_pool* p = make_pool(&t, 1, 6);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  const double* tg = e->d->mocap_pos + 3 * mocap_of(e->m, "target0");
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  check_heading_toward(&t, e, &r, obs, g + 3, (double[2]){tg[0], tg[1]}, g + 1);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
  make_task(&t, "forage-maze", "init_noise=0", NULL);
  assert_int_equal(am_find_group(t.groups, t.n_groups, "heading"), -1);
  amt_destroy(&t);
  expect_refused("forage-maze", "guide=2");
}

// heading=1 in run-gaps, escape-bowl and two-tap: the group "heading" after the task group and the
// task's other group (scan, interval) holds the way to go relative to the torso (cos, sin), in the
// form of run's commands: the corridor's +x, the way out of the bowl (from the centre through the
// root, straight ahead at the centre), the way from the head to the orb; whichever way the rat
// faces. Off by default; bad values refused.
static void test_heading_groups(void** state) {
  (void)state;
  const char* task[3] = {"run-gaps", "escape-bowl", "two-tap"};
  const char* kv[3][2] = {
      {"scan=4", "heading=1"}, {"heading=1", NULL}, {"show_interval=1", "heading=1"}};
  const int other[3] = {4, 0, 1};  // the values of the task's other group before "heading"
  for (int k = 0; k < 3; k++) {
    am_task t;
    make_task(&t, task[k], "init_noise=0", kv[k][0], kv[k][1], NULL);
    const int tg = am_find_group(t.groups, t.n_groups, "task");
    const int h = am_find_group(t.groups, t.n_groups, "heading");
    assert_true(tg >= 0 && h == t.n_groups - 1);
    assert_int_equal(t.groups[h].size, 2);
    const int at = t.groups[tg].offset + t.groups[tg].size + other[k];
    assert_int_equal(t.groups[h].offset, at);
    am_pool* p = make_pool(&t, 1, 8);
    am_env* e = am_pool_env(p, 0);
    rat_ids r = rat_lookup(e->m);
    float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
    if (k == 0) {  // far along +x from wherever the head is
      check_heading_toward(&t, e, &r, obs, at, (double[2]){1e9, 0}, -1);
    } else if (k == 2) {
      const double* orb = e->d->mocap_pos + 3 * mocap_of(e->m, "orb");
      check_heading_toward(&t, e, &r, obs, at, (double[2]){orb[0], orb[1]}, -1);
    } else {
      t.observe(&t, e, obs);  // at the centre: straight ahead
      assert_float_equal(obs[at], 1, 1e-6);
      assert_float_equal(obs[at + 1], 0, 1e-6);
      for (int j = 0; j < 8; j++) {  // out from the centre through the root, as the rat turns
        double a = 0.8 * j, x = 1.5 * cos(a), y = 1.5 * sin(a), yaw = 2.4 - 0.7 * j;
        e->d->qpos[r.q] = x;
        e->d->qpos[r.q + 1] = y;
        set_root_quat(e, &r, cos(yaw / 2), 0, 0, sin(yaw / 2));
        t.observe(&t, e, obs);
        assert_float_equal(obs[at], cos(a - yaw), 1e-5);
        assert_float_equal(obs[at + 1], sin(a - yaw), 1e-5);
      }
    }
    free(obs);
    am_pool_free(p);
    amt_destroy(&t);
    make_task(&t, task[k], NULL);
    assert_int_equal(am_find_group(t.groups, t.n_groups, "heading"), -1);
    amt_destroy(&t);
    expect_refused(task[k], "heading=2");
  }
}

// approach=10: the shaping term pays 10 per metre the head comes closer to the nearest remaining
// target and costs as much moving away; the take's step is measured to the target taken, and the
// switch to the next nearest target afterwards costs nothing. The published term is unchanged.
static void test_forage_maze_approach(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "forage-maze", "init_noise=0", "n_targets=2", "approach=10", NULL);
  assert_true(t.n_terms == 2 && !strcmp(t.terms[1], "approach"));
  am_pool* p = make_pool(&t, 1, 6);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  double p0[3], p1[3];
  memcpy(p0, e->d->mocap_pos + 3 * mocap_of(e->m, "target0"), sizeof p0);
  memcpy(p1, e->d->mocap_pos + 3 * mocap_of(e->m, "target1"), sizeof p1);
  const double* head = e->d->xpos + 3 * r.head;
  double d_reset = fmin(hypot(head[0] - p0[0], head[1] - p0[1]),
                        hypot(head[0] - p1[0], head[1] - p1[1]));
  // u points from target1 through target0: on it, target0 stays the nearest
  double l = hypot(p0[0] - p1[0], p0[1] - p1[1]), u[2] = {(p0[0] - p1[0]) / l, (p0[1] - p1[1]) / l};
  const double at[4] = {0.4, 0.2, 0.3, 0.05};  // distances from target0 along u
  const double want[4] = {10 * (d_reset - 0.4), 2, -1, 2.5};
  for (int k = 0; k < 4; k++) {
    bring_to(e, &r, head, (double[3]){p0[0] + at[k] * u[0], p0[1] + at[k] * u[1], p0[2]});
    am_step_result res = evaluate(&t, e);
    assert_float_equal(res.terms[1], want[k], 1e-4);
    assert_float_equal(res.terms[0], k == 3 ? 50 : 0, 0);
    assert_float_equal(res.reward, res.terms[0] + res.terms[1], 1e-4);
  }
  // target0 taken: target1 (farther) is now the nearest, and standing still pays nothing
  am_step_result res = evaluate(&t, e);
  assert_float_equal(res.terms[1], 0, 1e-6);
  assert_float_equal(res.reward, 0, 1e-6);
  am_pool_free(p);
  amt_destroy(&t);
  // off by default: the term stays 0
  make_task(&t, "forage-maze", "init_noise=0", NULL);
  p = make_pool(&t, 1, 6);
  e = am_pool_env(p, 0);
  shift_root(e, &r, 0.2, 0.1, 0);
  res = evaluate(&t, e);
  assert_float_equal(res.terms[1], 0, 0);
  am_pool_free(p);
  amt_destroy(&t);
}

// The maze env e stands: on[k] = 1 where wall k (rat_maze.c's order: the 12 x 11 walls along x,
// row by row, then the 11 x 12 along y) stands, read from the wall bodies that are not parked (each
// at 0.15 m, along x or turned 90 deg about z to lie along y, on a grid line). Returns how many;
// fails on a wall off the grid or two bodies on one wall. *slots: the wall bodies (144).
static int maze_layout(const am_env* e, unsigned char on[264], int* slots) {
  const mjModel* m = e->m;
  const double o = -2.75, h = sqrt(0.5);
  int n = 0, count = 0;
  memset(on, 0, 264);
  for (;; n++) {
    char nm[16];
    snprintf(nm, sizeof nm, "wall%d", n);
    int b = mj_name2id(m, mjOBJ_BODY, nm);
    if (b < 0) break;
    const double *p = e->d->mocap_pos + 3 * m->body_mocapid[b],
                 *q = e->d->mocap_quat + 4 * m->body_mocapid[b];
    if (p[2] < -1) continue;
    assert_float_equal(p[2], 0.15, 1e-12);
    int along_y = fabs(q[3]) > 0.5, k;
    if (along_y) {
      assert_true(fabs(q[0] - h) < 1e-12 && q[1] == 0 && q[2] == 0 && fabs(q[3] - h) < 1e-12);
      double c = (p[0] - o) / 0.5, r = (p[1] - o) / 0.5 - 0.5;
      assert_true(fabs(c - round(c)) < 1e-9 && fabs(r - round(r)) < 1e-9);
      assert_true(c > -0.5 && c < 11.5 && r > -0.5 && r < 10.5);
      k = 132 + (int)round(r) * 12 + (int)round(c);
    } else {
      assert_true(q[0] == 1 && q[1] == 0 && q[2] == 0 && q[3] == 0);
      double c = (p[0] - o) / 0.5 - 0.5, r = (p[1] - o) / 0.5;
      assert_true(fabs(c - round(c)) < 1e-9 && fabs(r - round(r)) < 1e-9);
      assert_true(c > -0.5 && c < 10.5 && r > -0.5 && r < 11.5);
      k = (int)round(r) * 11 + (int)round(c);
    }
    if (on[k]) fail_msg("two wall bodies on wall %d", k);
    on[k] = 1;
    count++;
  }
  if (slots) *slots = n;
  return count;
}

// Through the pool: a target taken pays target_reward, the last one terminates the episode
// (terminated, not truncated) and the next episode's maze is new. Mazes differ between envs.
static void test_forage_maze_pool(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "forage-maze", "n_targets=2", "target_reward=7", "init_noise=0", NULL);
  uint32_t TGT = ev_bit(&t, "target_collected"), ALL = ev_bit(&t, "all_collected");
  am_pool* p = make_pool(&t, 2, 31);
  am_batch* b = am_pool_batch(p);
  am_env* e = am_pool_env(p, 0);
  const mjModel* m = e->m;
  rat_ids r = rat_lookup(m);
  // walls standing or parked: a maze, neither empty nor full, different per env, in as many wall
  // bodies as a maze can have
  unsigned char on[3][264];
  for (int i = 0; i < 2; i++) {
    int slots, count = maze_layout(am_pool_env(p, i), on[i], &slots);
    // 44 border walls always; a spanning tree of 121 cells leaves 100 interior walls, of which
    // open_fraction (0.35) are removed
    assert_int_equal(slots, 144);
    if (!(count > 44 + 40 && count < 144)) fail_msg("forage-maze: %d walls", count);
    for (int k = 0; k < 11; k++)  // the border
      assert_true(on[i][k] && on[i][121 + k] && on[i][132 + 12 * k] && on[i][132 + 12 * k + 11]);
  }
  assert_true(memcmp(on[0], on[1], 264) != 0);
  int mt0 = mocap_of(m, "target0"), mt1 = mocap_of(m, "target1");
  // one target per pool step (targets are in distinct cells 0.5 m apart)
  double t1[3];
  memcpy(t1, e->d->mocap_pos + 3 * mt1, sizeof t1);
  memset(b->actions, 0, sizeof(float) * 2 * (size_t)t.act_dim);
  bring_to(e, &r, e->d->xpos + 3 * r.head, e->d->mocap_pos + 3 * mt0);
  am_pool_step(p);
  assert_float_equal(b->rewards[0], 7, 0);
  assert_int_equal(b->events[0], TGT);
  assert_int_equal(b->terminated[0] | b->truncated[0], 0);
  bring_to(e, &r, e->d->xpos + 3 * r.head, t1);
  int64_t ep0 = e->episode;
  am_pool_step(p);
  assert_float_equal(b->rewards[0], 7, 0);
  assert_int_equal(b->events[0], TGT | ALL);
  assert_int_equal(b->terminated[0], 1);
  assert_int_equal(b->truncated[0], 0);
  assert_int_equal(e->episode, ep0 + 1);
  // the new episode: targets back up, a new maze
  assert_float_equal(e->d->mocap_pos[3 * mt0 + 2], 0.125, 1e-12);
  maze_layout(e, on[2], NULL);
  assert_true(memcmp(on[0], on[2], 264) != 0);
  am_pool_free(p);
  amt_destroy(&t);
}

// The rangefinders against the walls, cast by the task (the model variant hides the walls from
// MuJoCo's rays): every reading equals mj_ray's on the model, where the rays see the walls, over
// random poses in and around new mazes (looking in from outside), from the floor to 0.6 m up (over
// the walls' tops), tilted any way; and many readings are the walls', which MuJoCo alone did not
// see. Env `env` of a pool of n_envs is the maze's (rat-multi: its member).
static void check_maze_rays(am_task* tp, int n_envs, int env) {
  const am_task t = *tp;  // the same task (a copy of its handle)
  const mjModel* m = t.model->m;
  am_pool* p = make_pool(&t, n_envs, 4);
  am_env* e = am_pool_env(p, env);
  assert_true(e->m != m);  // the variant
  rat_ids r = rat_lookup(m);
  am_rng rng;
  am_rng_seed(&rng, 6, 0);
  am_step_result res;
  ray_tally tl = {0};
  int n_wall = 0;
  for (int ep = 0; ep < 8; ep++) {
    if (ep) am_pool_reset(p);
    unsigned char on[264];
    assert_true(maze_layout(e, on, NULL) > 44);
    for (int k = 0; k < 40; k++) {
      double x = am_rng_range(&rng, -3.5, 3.5), y = am_rng_range(&rng, -3.5, 3.5);
      random_pose(e, &r, &rng, x, y, 0, 0.05, 0.6);
      double before[256];
      assert_true(m->nsensordata <= 256);
      memcpy(before, e->d->sensordata, sizeof(double) * (size_t)m->nsensordata);
      t.evaluate(&t, e, &res);  // casts the rays against the walls
      for (int s = 0; s < m->nsensor; s++) {
        if (m->sensor_type[s] != mjSENS_RANGEFINDER) continue;
        int geom = check_ray_reading(m, e, s, before, 1e-9, ep, k, &tl);
        n_wall += geom >= 0 && !strncmp(mj_id2name(m, mjOBJ_BODY, m->geom_bodyid[geom]), "wall", 4);
      }
    }
  }
  print_message("maze rays: %d readings, %d on the walls, %d changed by the task's cast, %d "
                "misses; largest difference from mj_ray %.3g m\n", tl.n, n_wall, tl.n_changed,
                tl.n_miss, tl.worst);
  assert_true(n_wall > tl.n / 5 && tl.n_changed > n_wall / 2);
  am_pool_free(p);
  amt_destroy(tp);
}

static void test_forage_maze_rays(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "forage-maze", NULL);
  check_maze_rays(&t, 1, 0);
  // rat-multi's maze member (env 1: forage-maze), in the variant that also hides two-tap's pieces
  make_task(&t, "rat-multi", "tasks=two-tap,forage-maze", NULL);
  check_maze_rays(&t, 2, 1);
}

//---------------------------------- water-maze ----------------------------------------------------

// water-maze (docs/tasks.md): the goal is hidden inside the arena; the torso within goal_radius of
// it ends the search (goal_found, +goal_reward, trial_end) and shows the start cue by the wall, at
// least cue_min_distance from the rat and the goal (the first start too); the torso at the cue
// pays cue_reward and starts the next
// search (trial_start, variable search + 1); a search with no find ends at search_time (timeout,
// trial_end); the last search terminates the episode. The task group shows the position, heading,
// phase, the cue's vector (its distance here) and the find.
static void test_water_maze_rules(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "water-maze", "init_noise=0", "trials=3", "search_time=0.5", NULL);
  assert_int_equal(t.max_steps, 3000);
  assert_true(t.n_conditions == 1 && !strcmp(t.vars[t.conditions[0]], "search"));
  uint32_t START = ev_bit(&t, "trial_start"), FOUND = ev_bit(&t, "goal_found");
  uint32_t TIMEOUT = ev_bit(&t, "timeout"), END = ev_bit(&t, "trial_end");
  uint32_t CUE = ev_bit(&t, "cue_reached");
  int vgx = var_index(&t, "goal_x"), vph = var_index(&t, "phase"), vse = var_index(&t, "search");
  int vcx = var_index(&t, "cue_x");
  am_pool* p = make_pool(&t, 1, 9);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  int off = task_group(&t), cue_mc = mocap_of(e->m, "cue");
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  float v[16];
  t.get_vars(&t, e, v);
  double goal[2] = {v[vgx], v[vgx + 1]};
  const double* torso = e->d->xpos + 3 * r.torso;
  // the goal 0.3 m inside the wall, the rat by the wall (0.75 m from the centre), the cue parked
  assert_true(hypot(goal[0], goal[1]) <= 0.7 + 1e-9);
  assert_float_equal(hypot(e->d->qpos[r.q], e->d->qpos[r.q + 1]), 0.75, 1e-9);
  assert_true(hypot(e->d->qpos[r.q] - goal[0], e->d->qpos[r.q + 1] - goal[1]) >= 0.5);
  assert_true(e->d->mocap_pos[3 * cue_mc + 2] < -1);
  t.observe(&t, e, obs);
  assert_float_equal(obs[off], torso[0], 1e-5);  // arena_radius 1
  assert_float_equal(obs[off + 2] * obs[off + 2] + obs[off + 3] * obs[off + 3], 1, 1e-5);
  assert_true(obs[off + 4] == 1 && obs[off + 5] == 0 && obs[off + 8] == 0);
  // first step: the search starts; 0.2 m from the goal: nothing more
  double near[3] = {goal[0] + 0.2, goal[1], torso[2]};
  bring_to(e, &r, torso, near);
  am_step_result res = evaluate(&t, e);
  assert_int_equal(res.events, START);
  assert_float_equal(res.reward, 0, 0);
  // 0.1 m from it: found
  double in[3] = {goal[0], goal[1] + 0.1, torso[2]};
  bring_to(e, &r, torso, in);
  res = evaluate(&t, e);
  assert_int_equal(res.events, FOUND | END);
  assert_float_equal(res.reward, 10, 0);
  assert_int_equal(res.terminated, 0);
  t.get_vars(&t, e, v);
  assert_true(v[vph] == 1 && v[vse] == 1);
  double cue[2] = {v[vcx], v[vcx + 1]};
  assert_float_equal(hypot(cue[0], cue[1]), 0.75, 1e-5);
  assert_true(hypot(cue[0] - torso[0], cue[1] - torso[1]) >= 0.5);
  assert_true(hypot(cue[0] - goal[0], cue[1] - goal[1]) >= 0.5);
  assert_float_equal(e->d->mocap_pos[3 * cue_mc], cue[0], 1e-6);
  t.observe(&t, e, obs);
  double head_cue = hypot(cue[0] - e->d->xpos[3 * r.head], cue[1] - e->d->xpos[3 * r.head + 1]);
  assert_true(obs[off + 4] == 0 && obs[off + 5] == 1 && obs[off + 8] == 1);
  assert_float_equal(hypot(obs[off + 6], obs[off + 7]), head_cue, 0.03);  // torso frame, tilted
  // at the goal again while returning: nothing (the found signal was one step's); at the cue: +1,
  // the second search starts
  res = evaluate(&t, e);
  assert_int_equal(res.events, 0u);
  t.observe(&t, e, obs);
  assert_true(obs[off + 8] == 0);
  double at_cue[3] = {cue[0], cue[1], torso[2]};
  bring_to(e, &r, torso, at_cue);
  res = evaluate(&t, e);
  assert_int_equal(res.events, CUE | START);
  assert_float_equal(res.reward, 1, 0);
  t.get_vars(&t, e, v);
  assert_true(v[vph] == 0 && v[vse] == 2);
  assert_true(e->d->mocap_pos[3 * cue_mc + 2] < -1);
  // no find for 0.5 s (25 steps): timeout on the 25th
  for (int k = 1; k <= 25; k++) {
    res = evaluate(&t, e);
    assert_int_equal(res.events, k < 25 ? 0u : (TIMEOUT | END));
  }
  t.get_vars(&t, e, v);  // the new cue
  bring_to(e, &r, torso, (double[3]){v[vcx], v[vcx + 1], torso[2]});
  res = evaluate(&t, e);
  assert_int_equal(res.events, CUE | START);
  // the third (last) search: found ends the episode (terminated)
  bring_to(e, &r, torso, (double[3]){goal[0], goal[1], torso[2]});
  res = evaluate(&t, e);
  assert_int_equal(res.events, FOUND | END);
  assert_int_equal(res.terminated, 1);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
  // refusals name the key
  const char* bad[] = {"trials=0", "arena_radius=0.5", "goal_radius=0", "search_time=0",
                       "cue_min_distance=5", "found_steps=0", "found_steps=x"};
  for (int i = 0; i < 7; i++) expect_refused("water-maze", bad[i]);
}

// found_steps=4: the found signal shows on the step of the find and the 3 after it, then 0 (a
// core ticking every 4 steps sees it once, whichever step the find falls on).
static void test_water_maze_found_steps(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "water-maze", "init_noise=0", "found_steps=4", NULL);
  uint32_t FOUND = ev_bit(&t, "goal_found");
  am_pool* p = make_pool(&t, 1, 9);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  int off = task_group(&t), vgx = var_index(&t, "goal_x");
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  float v[16];
  t.get_vars(&t, e, v);
  const double* torso = e->d->xpos + 3 * r.torso;
  am_step_result res = evaluate(&t, e);
  t.observe(&t, e, obs);
  assert_true(obs[off + 8] == 0);
  bring_to(e, &r, torso, (double[3]){v[vgx], v[vgx + 1], torso[2]});
  res = evaluate(&t, e);
  assert_true(res.events & FOUND);
  for (int k = 0; k < 6; k++) {
    if (k > 0) evaluate(&t, e);
    t.observe(&t, e, obs);
    assert_true(obs[off + 8] == (k < 4 ? 1.0f : 0.0f));
  }
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
}

// guide=1: the group "heading" after the task group is 0 0 while searching (the goal stays
// hidden) and, once the goal is found, the direction from the head to the shown cue relative to
// the torso's heading (cos, sin), whichever way the rat faces; bad values refused.
static void test_water_maze_guide(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "water-maze", "init_noise=0", "guide=1", NULL);
  const int h = am_find_group(t.groups, t.n_groups, "heading"), g = task_group(&t);
  assert_true(h == am_find_group(t.groups, t.n_groups, "task") + 1);
  assert_int_equal(t.groups[h].offset, g + 10);
  int vgx = var_index(&t, "goal_x"), vcx = var_index(&t, "cue_x");
  am_pool* p = make_pool(&t, 1, 9);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  float v[16];
  t.get_vars(&t, e, v);
  const double* torso = e->d->xpos + 3 * r.torso;
  t.observe(&t, e, obs);
  assert_true(obs[g + 10] == 0 && obs[g + 11] == 0);  // searching
  bring_to(e, &r, torso, (double[3]){v[vgx], v[vgx + 1], torso[2]});
  // the search starts at the goal: found on its first step
  assert_true(evaluate(&t, e).events & ev_bit(&t, "goal_found"));
  t.get_vars(&t, e, v);
  assert_float_equal(v[var_index(&t, "phase")], 1, 0);  // returning to the cue
  check_heading_toward(&t, e, &r, obs, g + 10, (double[2]){v[vcx], v[vcx + 1]}, -1);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("water-maze", "guide=-1");
}

// steer=1: two action values after the muscles; while searching the group "heading" shows that
// direction (the arena's frame) relative to the torso's heading, whichever way the rat faces; a
// zero command shows 0 0; returning, the cue's direction as with guide=1; the command is clipped to
// [-1, 1] by the actor's range and only the muscles reach ctrl. steer=2: the direction from the
// head to the place the two values name (scaled by arena_radius). recall=2: after the goal was
// found, the next searches pay 2 per metre toward it (the first search none). Bad values refused.
static void test_water_maze_steer(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "water-maze", "init_noise=0", "guide=1", "steer=1", "recall=2", NULL);
  const int h = am_find_group(t.groups, t.n_groups, "heading"), g = task_group(&t);
  int vgx = var_index(&t, "goal_x"), vcx = var_index(&t, "cue_x");
  assert_int_equal(t.groups[h].offset, g + 10);
  am_pool* p = make_pool(&t, 1, 9);
  am_env* e = am_pool_env(p, 0);
  assert_int_equal(t.act_dim, e->m->nu + 2);
  float lo[128], hi[128];
  ama_action_range(&t, lo, hi);
  assert_true(lo[e->m->nu] == -1 && hi[e->m->nu + 1] == 1 && lo[0] == (float)e->m->actuator_ctrlrange[0]);
  rat_ids r = rat_lookup(e->m);
  float* obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  float* a = calloc((size_t)t.act_dim, sizeof(float));
  t.act(&t, e, a);
  t.observe(&t, e, obs);
  assert_true(obs[g + 10] == 0 && obs[g + 11] == 0);  // no command yet
  for (int i = 0; i < e->m->nu; i++) a[i] = 0.25f;
  a[e->m->nu] = 0.6f, a[e->m->nu + 1] = -0.8f;  // toward -53 deg in the arena
  t.act(&t, e, a);
  assert_float_equal(e->d->ctrl[e->m->nu - 1], 0.25, 1e-6);
  for (int k = 0; k < 12; k++) {
    double yaw = -3 + 0.5 * k, rel = atan2(-0.8, 0.6) - yaw;
    set_root_quat(e, &r, cos(yaw / 2), 0, 0, sin(yaw / 2));
    t.observe(&t, e, obs);
    assert_float_equal(obs[g + 10], cos(rel), 1e-5);
    assert_float_equal(obs[g + 11], sin(rel), 1e-5);
  }
  // recall: none before the goal was found
  float v[16];
  t.get_vars(&t, e, v);
  double goal[2] = {v[vgx], v[vgx + 1]};
  const double* torso = e->d->xpos + 3 * r.torso;
  set_root_quat(e, &r, 1, 0, 0, 0);
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.5, goal[1], torso[2]});
  assert_float_equal(evaluate(&t, e).terms[1], 0, 0);
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.3, goal[1], torso[2]});
  assert_float_equal(evaluate(&t, e).terms[1], 0, 0);
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.05, goal[1], torso[2]});
  am_step_result res = evaluate(&t, e);  // found
  assert_float_equal(res.terms[0], 10, 0);
  t.get_vars(&t, e, v);
  check_heading_toward(&t, e, &r, obs, g + 10, (double[2]){v[vcx], v[vcx + 1]}, -1);
  set_root_quat(e, &r, 1, 0, 0, 0);
  bring_to(e, &r, torso, (double[3]){v[vcx], v[vcx + 1], torso[2]});
  res = evaluate(&t, e);  // at the cue: the second search starts
  assert_float_equal(res.terms[0], 1, 0);
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.6, goal[1], torso[2]});
  assert_float_equal(evaluate(&t, e).terms[1], 0, 0);  // the search's first step: the reference
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.4, goal[1], torso[2]});
  assert_float_equal(evaluate(&t, e).terms[1], 0.4, 1e-4);
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.5, goal[1], torso[2]});
  assert_float_equal(evaluate(&t, e).terms[1], -0.2, 1e-4);
  free(a);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
  make_task(&t, "water-maze", "init_noise=0", NULL);
  assert_int_equal(t.act_dim, 32);
  amt_destroy(&t);
  expect_refused("water-maze", "steer=1");  // without guide=1
  expect_refused("water-maze", "steer=3;guide=1");
  // steer=2: the two values name a place (x, y / arena_radius); searching, "heading" points there
  make_task(&t, "water-maze", "init_noise=0", "guide=1", "steer=2", "arena_radius=1.5", NULL);
  p = make_pool(&t, 1, 9);
  e = am_pool_env(p, 0);
  r = rat_lookup(e->m);
  obs = malloc(sizeof(float) * (size_t)t.obs_dim);
  a = calloc((size_t)t.act_dim, sizeof(float));
  a[e->m->nu] = 0.3f, a[e->m->nu + 1] = -0.2f;
  t.act(&t, e, a);
  check_heading_toward(&t, e, &r, obs, task_group(&t) + 10, (double[2]){0.45, -0.3}, -1);
  free(a);
  free(obs);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("water-maze", "recall=-1");
}

// approach=3: in the return phase the shaping pays 3 per metre the torso comes closer to the cue
// (and costs moving away), never during a search (the goal is hidden).
static void test_water_maze_approach(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "water-maze", "init_noise=0", "trials=3", "approach=3", NULL);
  assert_true(t.n_terms == 2 && !strcmp(t.terms[1], "approach"));
  int vgx = var_index(&t, "goal_x"), vcx = var_index(&t, "cue_x");
  am_pool* p = make_pool(&t, 1, 9);
  am_env* e = am_pool_env(p, 0);
  rat_ids r = rat_lookup(e->m);
  const double* torso = e->d->xpos + 3 * r.torso;
  float v[16];
  t.get_vars(&t, e, v);
  double goal[2] = {v[vgx], v[vgx + 1]};
  // searching: coming closer to the goal pays no shaping
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.3, goal[1], torso[2]});
  am_step_result res = evaluate(&t, e);
  assert_float_equal(res.terms[1], 0, 0);
  bring_to(e, &r, torso, (double[3]){goal[0] + 0.05, goal[1], torso[2]});
  res = evaluate(&t, e);  // found: the cue appears
  assert_float_equal(res.terms[1], 0, 0);
  assert_float_equal(res.reward, 10, 0);
  t.get_vars(&t, e, v);
  double cue[2] = {v[vcx], v[vcx + 1]}, x0[2] = {torso[0], torso[1]};
  double l = hypot(cue[0] - x0[0], cue[1] - x0[1]), u[2] = {(cue[0] - x0[0]) / l, (cue[1] - x0[1]) / l};
  // along the line to the cue: 0.3 m on, 0.1 m back, then to 0.1 m from it (reached)
  const double s_at[3] = {0.3, 0.2, l - 0.1}, want[3] = {0.9, -0.3, 3 * (l - 0.1 - 0.2)};
  for (int k = 0; k < 3; k++) {
    bring_to(e, &r, torso, (double[3]){x0[0] + s_at[k] * u[0], x0[1] + s_at[k] * u[1], torso[2]});
    res = evaluate(&t, e);
    assert_float_equal(res.terms[1], want[k], 1e-4);
    assert_float_equal(res.terms[0], k == 2 ? 1 : 0, 0);
    assert_float_equal(res.reward, res.terms[0] + res.terms[1], 1e-4);
  }
  // the next search: no shaping
  shift_root(e, &r, 0.2, 0, 0);
  res = evaluate(&t, e);
  assert_float_equal(res.terms[1], 0, 0);
  am_pool_free(p);
  amt_destroy(&t);
  expect_refused("water-maze", "approach=x");
}

//---------------------------------- two-tap -------------------------------------------------------

typedef struct tap_rig {
  am_task t;
  am_pool* p;
  am_env* e;
  rat_ids r;
  int orb_mc, off, v_state, v_pairs, v_orbx, v_orby;
  double arena, reward;
  int shaping_off;  // timed_shaping: the next step must pay no shaping
  int no_clock;     // clock=0: the time since the first touch must read 0
  uint32_t START, FIRST, SECOND, SOON, NOSEC, REW, END;
  float obs[512];
  float vars[16];
} tap_rig;

// Creates two-tap (no joint noise) with extra "k=v" overrides (NULL-terminated list or NULL).
static void tap_open(tap_rig* g, const char* const* kv, double arena, double reward) {
  amt_params p;
  memset(&p, 0, sizeof p);
  g->shaping_off = 0;
  g->no_clock = 0;
  if (amt_params_add(&p, "init_noise=0", err, sizeof err)) fail_msg("%s", err);
  for (; kv && *kv; kv++)
    if (amt_params_add(&p, *kv, err, sizeof err)) fail_msg("%s", err);
  if (amt_create(&g->t, "two-tap", &p, err, sizeof err)) fail_msg("two-tap: %s", err);
  assert_true(g->t.obs_dim <= 512);
  g->p = make_pool(&g->t, 1, 17);
  g->e = am_pool_env(g->p, 0);
  g->r = rat_lookup(g->e->m);
  g->orb_mc = mocap_of(g->e->m, "orb");
  g->off = task_group(&g->t);
  g->v_state = var_index(&g->t, "tap_state");
  g->v_pairs = var_index(&g->t, "pairs_done");
  g->v_orbx = var_index(&g->t, "orb_x");
  g->v_orby = var_index(&g->t, "orb_y");
  g->arena = arena;
  g->reward = reward;
  const char* names[] = {"trial_start", "touch_first", "touch_second", "too_soon",
                         "no_second",   "reward",      "trial_end"};
  uint32_t* bits[] = {&g->START, &g->FIRST, &g->SECOND, &g->SOON, &g->NOSEC, &g->REW, &g->END};
  for (int k = 0; k < 7; k++) {
    *bits[k] = ev_bit(&g->t, names[k]);
    assert_int_equal(*bits[k], 1u << k);  // documented codes 0..6
  }
}

static void tap_close(tap_rig* g) {
  am_pool_free(g->p);
  amt_destroy(&g->t);
}

static const double* orb_pos(const tap_rig* g) { return g->e->d->mocap_pos + 3 * g->orb_mc; }

// Places the left hand on the orb (touch) or the rat 0.5 m away from it (no touch).
static void tap_hand(tap_rig* g, int touch) {
  const double* o = orb_pos(g);
  double goal[3] = {o[0], o[1], o[2]};
  if (!touch) goal[0] += 0.5, goal[1] += 0.5;
  bring_to(g->e, &g->r, g->e->d->site_xpos + 3 * g->r.hand[0], goal);
}

// The documented shaping: 0.25 exp(-3 L1(hand - orb)), with the nearer hand (in L1).
static double tap_shaping(const tap_rig* g) {
  const double* o = orb_pos(g);
  double best = 1e9;
  for (int h = 0; h < 2; h++) {
    const double* x = g->e->d->site_xpos + 3 * g->r.hand[h];
    best = fmin(best, fabs(x[0] - o[0]) + fabs(x[1] - o[1]) + fabs(x[2] - o[2]));
  }
  return 0.25 * exp(-3 * best);
}

// One control step through the hooks with the hand on or off the orb; checks the reward's split
// into taps + shaping (shaping by the formula) and refreshes the observation and variables.
static am_step_result tap_step(tap_rig* g, int touch) {
  tap_hand(g, touch);
  double shaping = g->shaping_off ? 0 : tap_shaping(g);
  am_step_result res = evaluate(&g->t, g->e);
  assert_float_equal(res.terms[1], shaping, 1e-6);
  assert_float_equal(res.reward, res.terms[0] + res.terms[1], 1e-5);
  assert_int_equal(res.terminated, 0);
  g->t.observe(&g->t, g->e, g->obs);
  g->t.get_vars(&g->t, g->e, g->vars);
  return res;
}

// The task-state one-hot (before, once, twice, too soon, no second) and the state variable.
static void tap_expect_state(const tap_rig* g, int state) {
  for (int k = 0; k < 5; k++)
    if (g->obs[g->off + 3 + k] != (k == state))
      fail_msg("two-tap: one-hot %g %g %g %g %g, want state %d", g->obs[g->off + 3],
               g->obs[g->off + 4], g->obs[g->off + 5], g->obs[g->off + 6], g->obs[g->off + 7], state);
  assert_float_equal(g->vars[g->v_state], state, 0);
}

// First touch after `pre` steps without one.
static void tap_first(tap_rig* g, int pre) {
  for (int s = 0; s < pre; s++) {
    am_step_result res = tap_step(g, 0);
    assert_float_equal(res.terms[0], 0, 0);
    tap_expect_state(g, 0);
  }
  am_step_result res = tap_step(g, 1);
  assert_int_equal(res.events & ~g->START, g->FIRST | g->REW);
  assert_float_equal(res.terms[0], g->reward, 1e-5);
  tap_expect_state(g, 1);
  assert_float_equal(g->obs[g->off + 8], 0, 1e-6);  // time since the first touch
}

// One trial: first touch, then a second touch `gap` control steps (x 0.02 s) later. `late` is the
// first step at which no second touch can count any more (no_second is decided there if the
// second touch has not come before), `timeout` the failed-pair pause in steps. Checks the
// outcome `want` (2 twice, 3 too soon, 4 no second), its events and reward, the pause, the orb's
// move with trial_end, and trial_start at the step after.
static void tap_trial(tap_rig* g, int gap, int late, int timeout, int want) {
  double orb0[3];
  memcpy(orb0, orb_pos(g), sizeof orb0);
  float pairs = g->vars[g->v_pairs];
  tap_first(g, 2);
  int decide = gap < late ? gap : late;
  am_step_result res;
  for (int s = 1; s < decide; s++) {
    res = tap_step(g, 0);
    assert_int_equal(res.events, 0u);
    assert_float_equal(res.terms[0], 0, 0);
    tap_expect_state(g, 1);
    // the time since the first touch
    assert_float_equal(g->obs[g->off + 8], g->no_clock ? 0 : s * 0.02, 1e-5);
  }
  res = tap_step(g, decide == gap);
  uint32_t want_ev = want == 2 ? (g->SECOND | g->REW) : want == 3 ? g->SOON : g->NOSEC;
  if (res.events != want_ev)
    fail_msg("two-tap: second touch after %d steps (window ends at %d): events 0x%x, want 0x%x",
             gap, late, res.events, want_ev);
  assert_float_equal(res.terms[0], want == 2 ? g->reward : 0, 1e-5);
  assert_float_equal(g->vars[g->v_pairs], pairs + (want == 2), 0);
  tap_expect_state(g, want);
  // After a counted pair the orb moves at the next step; otherwise after the timeout, during
  // which touches do nothing.
  int wait = want == 2 ? 1 : timeout;
  for (int s = 1; s <= wait; s++) {
    res = tap_step(g, s % 7 == 3);
    assert_float_equal(res.terms[0], 0, 0);
    if (s < wait) {
      assert_int_equal(res.events, 0u);
      tap_expect_state(g, want);
      assert_float_equal(orb_pos(g)[0], orb0[0], 0);
    } else {
      assert_int_equal(res.events, g->END);
      tap_expect_state(g, 0);
      assert_true(fabs(orb_pos(g)[0] - orb0[0]) + fabs(orb_pos(g)[1] - orb0[1]) > 1e-6);
      assert_float_equal(g->vars[g->v_orbx], orb_pos(g)[0], 1e-6);
      assert_float_equal(g->vars[g->v_orby], orb_pos(g)[1], 1e-6);
      assert_float_equal(orb_pos(g)[2], 0.14, 1e-12);
      for (int k = 0; k < 2; k++) assert_true(fabs(orb_pos(g)[k]) <= g->arena);
    }
  }
  res = tap_step(g, 0);  // the next step announces the new trial
  assert_int_equal(res.events, g->START);
  tap_expect_state(g, 0);
}

static void test_two_tap_rules(void** state) {
  (void)state;
  tap_rig g;
  tap_open(&g, NULL, 1.5, 25);
  assert_int_equal(g.t.max_steps, 1500);
  // the first evaluation of an episode announces the trial; no touch yet
  am_step_result res = tap_step(&g, 0);
  assert_int_equal(res.events, g.START);
  tap_expect_state(&g, 0);
  assert_true(res.terms[1] > 0 && res.terms[1] < 0.25 * exp(-3 * 0.5));  // far: small shaping
  // the orb relative to the head, in the torso frame
  const mjData* d = g.e->d;
  const double* h = d->xpos + 3 * g.r.head;
  const double* R = d->xmat + 9 * g.r.torso;
  for (int k = 0; k < 3; k++) {
    double v = 0;
    for (int j = 0; j < 3; j++) v += R[3 * j + k] * (orb_pos(&g)[j] - h[j]);
    assert_float_equal(g.obs[g.off + k], v, 1e-5);
  }
  // 0.8 +- 0.1 s at 0.02 s steps: the second touch counts 35..45 steps after the first; from 46
  // steps (0.92 s) on it is too late; the timeout is 1.2 s = 60 steps.
  tap_trial(&g, 40, 46, 60, 2);  // 0.80 s
  tap_trial(&g, 35, 46, 60, 2);  // 0.70 s
  tap_trial(&g, 45, 46, 60, 2);  // 0.90 s
  tap_trial(&g, 10, 46, 60, 3);  // 0.20 s: too soon
  tap_trial(&g, 34, 46, 60, 3);  // 0.68 s: too soon
  tap_trial(&g, 2, 46, 60, 3);   // at once (let go for one step)
  tap_trial(&g, 46, 46, 60, 4);  // 0.92 s: too late
  tap_trial(&g, 80, 46, 60, 4);  // never
  // the hand resting on the orb is one touch, not a touch per step
  tap_first(&g, 0);
  for (int s = 1; s < 40; s++) {
    res = tap_step(&g, 1);
    assert_int_equal(res.events, 0u);
    assert_float_equal(res.terms[0], 0, 0);
    assert_float_equal(res.terms[1], 0.25, 1e-6);  // hand on the orb: full shaping
  }
  tap_close(&g);
}

// Shaping at hand-computed offsets: L1 = |dx| + |dy| + |dz| of the nearer hand.
static void test_two_tap_shaping(void** state) {
  (void)state;
  tap_rig g;
  tap_open(&g, NULL, 1.5, 25);
  const double offs[][3] = {{0.1, 0, 0}, {0.1, -0.2, 0.05}, {-0.3, 0.3, 0.02}, {0.8, 0.1, -0.05}};
  for (int k = 0; k < 4; k++) {
    tap_hand(&g, 1);
    shift_root(g.e, &g.r, offs[k][0], offs[k][1], offs[k][2]);
    // the left hand is at orb + offs; if the right hand is nearer, the task must use it
    double want_l = fabs(offs[k][0]) + fabs(offs[k][1]) + fabs(offs[k][2]);
    const double* o = orb_pos(&g);
    const double* hr = g.e->d->site_xpos + 3 * g.r.hand[1];
    double lr = fabs(hr[0] - o[0]) + fabs(hr[1] - o[1]) + fabs(hr[2] - o[2]);
    double want = 0.25 * exp(-3 * fmin(want_l, lr));
    am_step_result res = evaluate(&g.t, g.e);
    assert_float_equal(res.terms[1], want, 1e-6);
    assert_float_equal(res.reward, want, 1e-6);  // no touch: shaping only
  }
  // the left hand 0.1 m straight above the orb (the right hand is farther): 0.25 exp(-0.3)
  tap_hand(&g, 1);
  shift_root(g.e, &g.r, 0, 0, 0.1);
  assert_float_equal(evaluate(&g.t, g.e).terms[1], 0.25 * exp(-0.3), 1e-6);
  tap_close(&g);
}

// Overrides change the window, the reward, the timeout and the arena: interval 0.5 +- 0.05 s is
// steps 23..27 (0.46..0.54 s; 0.44 and 0.56 s are outside), timeout 0.4 s = 20 steps.
static void test_two_tap_params(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"interval=0.5", "tolerance=0.05", "tap_reward=10", "timeout=0.4",
                      "arena=0.3", NULL};
  tap_open(&g, kv, 0.3, 10);
  tap_step(&g, 0);  // trial_start
  tap_trial(&g, 23, 28, 20, 2);
  tap_trial(&g, 27, 28, 20, 2);
  tap_trial(&g, 25, 28, 20, 2);
  tap_trial(&g, 22, 28, 20, 3);
  tap_trial(&g, 28, 28, 20, 4);
  tap_trial(&g, 40, 28, 20, 4);
  tap_close(&g);
  // a window holding no control step (0.805 +- 0.005 s: between 0.80 and 0.82) is refused
  amt_params p;
  memset(&p, 0, sizeof p);
  assert_int_equal(amt_params_add(&p, "interval=0.81", err, sizeof err), 0);
  assert_int_equal(amt_params_add(&p, "tolerance=0.005", err, sizeof err), 0);
  am_task t;
  assert_int_equal(amt_create(&t, "two-tap", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "two-tap"));
  assert_non_null(strstr(err, "control step"));
}

// timed_shaping=1 pays the hand-to-orb shaping only where a touch would count: before the first
// touch and from the window's opening (35 steps after it), not while the rat must wait nor during
// a timeout; too_soon_cost is subtracted on a touch too soon. Bad values are refused by name.
static void test_two_tap_timed_shaping(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"timed_shaping=1", "too_soon_cost=5", NULL};
  tap_open(&g, kv, 1.5, 25);
  am_step_result res = tap_step(&g, 0);  // trial_start: shaping on before the first touch
  assert_true(res.terms[1] > 0);
  tap_first(&g, 1);  // judged before the touch: full shaping (checked by tap_step)
  g.shaping_off = 1;
  for (int s = 1; s <= 34; s++) {  // the hand rests on the orb while the rat must wait: nothing
    res = tap_step(&g, 1);
    assert_int_equal(res.events, 0u);
  }
  g.shaping_off = 0;
  res = tap_step(&g, 0);  // step 35: the window is open, shaping again (the hand lifted)
  assert_true(res.terms[1] > 0);
  res = tap_step(&g, 1);  // step 36: a counted second touch with full shaping
  assert_int_equal(res.events, g.SECOND | g.REW);
  assert_float_equal(res.terms[0], 25, 1e-5);
  assert_float_equal(res.terms[1], 0.25, 1e-6);
  g.shaping_off = 1;  // the step after the pair: trial_end (timeout_left was 1)
  res = tap_step(&g, 0);
  assert_int_equal(res.events, g.END);
  g.shaping_off = 0;
  tap_step(&g, 0);  // trial_start
  tap_first(&g, 0);
  g.shaping_off = 1;
  tap_step(&g, 0);  // let go
  res = tap_step(&g, 1);  // too soon: the cost, and no shaping through the timeout
  assert_int_equal(res.events, g.SOON);
  assert_float_equal(res.terms[0], -5, 1e-5);
  for (int s = 1; s < 60; s++) assert_int_equal(tap_step(&g, 1).events, 0u);
  tap_close(&g);
  expect_refused("two-tap", "timed_shaping=2");
  expect_refused("two-tap", "too_soon_cost=-1");
}

// graded=0.3 with too_soon_cost=1: a second touch too soon, t s after the first, pays
// 25 exp(-(t - 0.8)^2 / (2 0.3^2)) - 1 and is still a failed trial (too_soon, no reward event, the
// timeout); a counted pair pays 25 as without it. A negative width is refused by name.
static void test_two_tap_graded(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"graded=0.3", "too_soon_cost=1", NULL};
  tap_open(&g, kv, 1.5, 25);
  tap_step(&g, 0);  // trial_start
  const int gaps[2] = {10, 34};  // 0.2 s and 0.68 s (the window opens at 35 steps)
  for (int k = 0; k < 2; k++) {
    tap_first(&g, 1);
    for (int s = 1; s < gaps[k]; s++) assert_int_equal(tap_step(&g, 0).events, 0u);
    am_step_result res = tap_step(&g, 1);
    assert_int_equal(res.events, g.SOON);
    double d = (gaps[k] * 0.02 - 0.8) / 0.3;
    assert_float_equal(res.terms[0], 25 * exp(-0.5 * d * d) - 1, 1e-4);
    tap_expect_state(&g, 3);
    for (int s = 1; s < 60; s++) {  // the timeout: touches pay nothing
      res = tap_step(&g, s % 5 == 0);
      assert_int_equal(res.events, 0u);
      assert_float_equal(res.terms[0], 0, 0);
    }
    assert_int_equal(tap_step(&g, 0).events, g.END);
    tap_step(&g, 0);  // trial_start
  }
  tap_trial(&g, 40, 46, 60, 2);  // 0.8 s: the full reward, as without graded
  tap_close(&g);
  expect_refused_saying("two-tap", "graded=-0.1", "graded");
}

// potential=5: the shaping is the change of 5 exp(-3 L1) since the step before: 0 at a trial's
// first step, positive toward the orb, 0 staying, negative away; over a path it sums to the
// potential's change; it starts again when the orb moves. Refused below 0 and with timed_shaping.
static void test_two_tap_potential(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"potential=5", NULL};
  tap_open(&g, kv, 1.5, 25);
  tap_hand(&g, 0);
  am_step_result res = evaluate(&g.t, g.e);
  assert_int_equal(res.events, g.START);
  assert_float_equal(res.terms[1], 0, 0);  // the trial's first step
  double phi0 = 20 * tap_shaping(&g), prev = phi0, sum = 0;
  const double offs[][3] = {{0.3, 0.2, 0}, {0.1, 0, 0.02}, {0.1, 0, 0.02}, {0.2, -0.1, 0}};
  for (int k = 0; k < 4; k++) {
    tap_hand(&g, 1);
    shift_root(g.e, &g.r, offs[k][0], offs[k][1], offs[k][2]);
    double phi = 20 * tap_shaping(&g);  // 5 exp(-3 L1) = 20 x 0.25 exp(-3 L1)
    res = evaluate(&g.t, g.e);
    assert_float_equal(res.terms[1], phi - prev, 1e-5);
    assert_float_equal(res.reward, res.terms[1], 1e-6);  // no touch
    if (k == 1) assert_true(res.terms[1] > 0);
    if (k == 2) assert_float_equal(res.terms[1], 0, 1e-6);
    if (k == 3) assert_true(res.terms[1] < 0);
    sum += res.terms[1];
    prev = phi;
  }
  assert_float_equal(sum, prev - phi0, 1e-5);
  // a counted pair: the orb moves at the next step, and the step after pays no shaping
  tap_hand(&g, 1);
  res = evaluate(&g.t, g.e);
  assert_int_equal(res.events, g.FIRST | g.REW);
  for (int s = 1; s < 40; s++) {
    tap_hand(&g, 0);
    assert_int_equal(evaluate(&g.t, g.e).events, 0u);
  }
  tap_hand(&g, 1);
  assert_int_equal(evaluate(&g.t, g.e).events, g.SECOND | g.REW);
  assert_int_equal(evaluate(&g.t, g.e).events, g.END);  // the orb moves
  res = evaluate(&g.t, g.e);
  assert_int_equal(res.events, g.START);
  assert_float_equal(res.terms[1], 0, 0);
  tap_close(&g);
  expect_refused_saying("two-tap", "potential=-1", "potential");
  expect_refused_saying("two-tap", "potential=5;timed_shaping=1", "set one of them");
}

// curriculum=2, interval_start=0.3 (tolerance 0.1): the env's first window is 0.2-0.4 s (steps
// 10..20), after one counted pair 0.55 +- 0.1 s (steps 23..32), after two the task's 0.8 +- 0.1 s
// (35..45); failed trials do not move it; the env's count survives the episode's reset; the
// variable `interval` shows the trial's requirement. Bad values are refused by name.
static void test_two_tap_curriculum(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"curriculum=2", "interval_start=0.3", NULL};
  tap_open(&g, kv, 1.5, 25);
  const int v_iv = var_index(&g.t, "interval");
  tap_step(&g, 0);  // trial_start
  assert_float_equal(g.vars[v_iv], 0.3, 1e-6);
  tap_trial(&g, 9, 21, 60, 3);   // 0.18 s: too soon
  tap_trial(&g, 21, 21, 60, 4);  // 0.42 s: too late
  assert_float_equal(g.vars[v_iv], 0.3, 1e-6);
  tap_trial(&g, 10, 21, 60, 2);  // 0.20 s counts: the first pair
  assert_float_equal(g.vars[v_iv], 0.55, 1e-6);
  tap_trial(&g, 22, 33, 60, 3);
  tap_trial(&g, 33, 33, 60, 4);
  tap_trial(&g, 32, 33, 60, 2);  // the second pair: the curriculum is over
  assert_float_equal(g.vars[v_iv], 0.8, 1e-6);
  tap_trial(&g, 34, 46, 60, 3);
  tap_trial(&g, 35, 46, 60, 2);
  // a new episode keeps the env's count (the task's own pairs_done starts again)
  g.t.reset(&g.t, g.e);
  mj_forward(g.e->m, g.e->d);
  tap_step(&g, 0);
  assert_float_equal(g.vars[v_iv], 0.8, 1e-6);
  assert_float_equal(g.vars[g.v_pairs], 0, 0);
  tap_trial(&g, 34, 46, 60, 3);
  tap_close(&g);
  // off (the default): the variable is the task's interval from the first trial
  tap_open(&g, NULL, 1.5, 25);
  tap_step(&g, 0);
  assert_float_equal(g.vars[var_index(&g.t, "interval")], 0.8, 1e-6);
  tap_close(&g);
  expect_refused("two-tap", "curriculum=-1");
  // interval_start <= tolerance; a tolerance under half the control step
  expect_refused_saying("two-tap", "curriculum=5;interval_start=0.1", "interval_start");
  expect_refused_saying("two-tap", "curriculum=5;tolerance=0.009", "half the control step");
}

// staircase=1, interval_start=0.3, stair_up=0.1, stair_down=0.05 (tolerance 0.1): the env's
// first window is 0.2-0.4 s (steps 10..20); a counted pair moves it up 0.1 s, a trial too soon or
// without a second touch down 0.05 s, never below interval_start nor above interval; it survives
// the episode's reset. Bad values and a staircase with a curriculum are refused by name.
static void test_two_tap_staircase(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"staircase=1", "interval_start=0.3", "stair_up=0.1", "stair_down=0.05",
                      NULL};
  tap_open(&g, kv, 1.5, 25);
  const int v_iv = var_index(&g.t, "interval");
  tap_step(&g, 0);  // trial_start
  assert_float_equal(g.vars[v_iv], 0.3, 1e-6);
  tap_trial(&g, 9, 21, 60, 3);  // too soon at the bottom: stays
  assert_float_equal(g.vars[v_iv], 0.3, 1e-6);
  tap_trial(&g, 10, 21, 60, 2);  // 0.20 s counts: up to 0.4 (steps 15..25)
  assert_float_equal(g.vars[v_iv], 0.4, 1e-6);
  tap_trial(&g, 25, 26, 60, 2);  // up to 0.5 (steps 20..30)
  assert_float_equal(g.vars[v_iv], 0.5, 1e-6);
  tap_trial(&g, 31, 31, 60, 4);  // no second touch: down to 0.45 (steps 18..27)
  assert_float_equal(g.vars[v_iv], 0.45, 1e-6);
  tap_trial(&g, 17, 28, 60, 3);  // too soon: down to 0.4
  assert_float_equal(g.vars[v_iv], 0.4, 1e-6);
  // a new episode keeps the env's interval
  g.t.reset(&g.t, g.e);
  mj_forward(g.e->m, g.e->d);
  tap_step(&g, 0);
  assert_float_equal(g.vars[v_iv], 0.4, 1e-6);
  for (int k = 0; k < 5; k++) {  // four pairs reach 0.8; the fifth stays there
    int centre = (int)lround(g.vars[v_iv] / 0.02);
    tap_trial(&g, centre, centre + 6, 60, 2);
    assert_float_equal(g.vars[v_iv], fmin(0.5 + 0.1 * k, 0.8), 1e-6);
  }
  tap_trial(&g, 34, 46, 60, 3);
  assert_float_equal(g.vars[v_iv], 0.75, 1e-6);
  tap_close(&g);
  expect_refused("two-tap", "staircase=2");
  const char* bad[][2] = {{"staircase=1;curriculum=5", "set one of them"},
                          {"staircase=1;stair_up=0", "stair_up"},
                          {"staircase=1;stair_down=-0.01", "stair_down"},
                          {"staircase=1;interval_start=0.9", "interval_start 0.9"},
                          {"staircase=1;interval_start=0.1", "interval_start"},
                          {"staircase=1;tolerance=0.009", "half the control step"}};
  for (int k = 0; k < 6; k++) expect_refused_saying("two-tap", bad[k][0], bad[k][1]);
}

// clock=0: the task group's clock reads 0 through the wait (the published observation), and the
// trials' rules, rewards and events are those of the default; 0 or 1 only.
static void test_two_tap_clock(void** state) {
  (void)state;
  tap_rig g;
  tap_open(&g, NULL, 1.5, 25);
  int plain_dim = g.t.obs_dim;
  tap_close(&g);
  const char* kv[] = {"clock=0", NULL};
  tap_open(&g, kv, 1.5, 25);
  g.no_clock = 1;
  assert_int_equal(g.t.obs_dim, plain_dim);  // same groups: a policy trained with it loads
  tap_step(&g, 0);               // trial_start
  tap_trial(&g, 40, 46, 60, 2);  // counted at 0.8 s
  tap_trial(&g, 10, 46, 60, 3);  // too soon
  tap_trial(&g, 60, 46, 60, 4);  // none in time
  tap_close(&g);
  expect_refused("two-tap", "clock=2");
}

// show_interval=1: a group "interval" of one value follows the task group and holds the trial's
// required interval, the curriculum's as it moves; 0 or 1 only.
static void test_two_tap_show_interval(void** state) {
  (void)state;
  tap_rig g;
  tap_open(&g, NULL, 1.5, 25);
  int plain_dim = g.t.obs_dim, plain_groups = g.t.n_groups;
  tap_close(&g);
  const char* kv[] = {"curriculum=2", "interval_start=0.3", "show_interval=1", NULL};
  tap_open(&g, kv, 1.5, 25);
  assert_int_equal(g.t.obs_dim, plain_dim + 1);
  assert_int_equal(g.t.n_groups, plain_groups + 1);
  const am_obs_group* cue = &g.t.groups[g.t.n_groups - 1];
  assert_string_equal(cue->name, "interval");
  assert_int_equal(cue->size, 1);
  assert_int_equal(cue->offset, g.off + 9);
  const int v_iv = var_index(&g.t, "interval");
  tap_step(&g, 0);  // trial_start
  assert_float_equal(g.obs[cue->offset], 0.3, 1e-6);
  tap_trial(&g, 10, 21, 60, 2);  // a counted pair: the window moves to 0.55 s
  assert_float_equal(g.obs[cue->offset], 0.55, 1e-6);
  assert_float_equal(g.obs[cue->offset], g.vars[v_iv], 0);
  tap_close(&g);
  expect_refused("two-tap", "show_interval=2");
}

// first_share=0.2: the first touch pays 0.2 x tap_reward, a counted second touch the whole of it.
static void test_two_tap_first_share(void** state) {
  (void)state;
  tap_rig g;
  const char* kv[] = {"first_share=0.2", NULL};
  tap_open(&g, kv, 1.5, 25);
  tap_step(&g, 0);  // trial_start
  am_step_result res = tap_step(&g, 1);
  assert_int_equal(res.events, g.FIRST | g.REW);
  assert_float_equal(res.terms[0], 5, 1e-5);
  for (int s = 1; s < 40; s++) assert_float_equal(tap_step(&g, 0).terms[0], 0, 0);
  res = tap_step(&g, 1);  // 0.8 s after the first touch
  assert_int_equal(res.events, g.SECOND | g.REW);
  assert_float_equal(res.terms[0], 25, 1e-5);
  tap_close(&g);
  expect_refused("two-tap", "first_share=1.5");
  expect_refused("two-tap", "first_share=-0.1");
}

// Through the pool with zero actions: trial_start comes at the first step of every episode, the
// episode is truncated at the time limit, never terminated.
static void test_two_tap_pool(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "two-tap", "episode_time=0.1", NULL);
  assert_int_equal(t.max_steps, 5);
  am_pool* p = make_pool(&t, 2, 2);
  am_batch* b = am_pool_batch(p);
  memset(b->actions, 0, sizeof(float) * 2 * (size_t)t.act_dim);
  for (int s = 0; s < 15; s++) {
    am_pool_step(p);
    for (int i = 0; i < 2; i++) {
      assert_int_equal(b->ep_step[i], s % 5);
      assert_int_equal(b->events[i], b->ep_step[i] == 0 ? 1u : 0u);
      assert_int_equal(b->terminated[i], 0);
      assert_int_equal(b->truncated[i], b->ep_step[i] == 4);
    }
  }
  am_pool_free(p);
  amt_destroy(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run),
      cmocka_unit_test(test_run_heading),
      cmocka_unit_test(test_run_arena),
      cmocka_unit_test(test_run_fall),
      cmocka_unit_test(test_escape_bowl_fall_grace),
      cmocka_unit_test(test_escape_bowl_drop),
      cmocka_unit_test(test_escape_bowl_start_far),
      cmocka_unit_test(test_rat_push),
      cmocka_unit_test(test_rat_paw_friction),
      cmocka_unit_test(test_run_gaps_course),
      cmocka_unit_test(test_run_gaps_window),
      cmocka_unit_test(test_run_gaps_curriculum),
      cmocka_unit_test(test_run_gaps_staircase),
      cmocka_unit_test(test_run_gaps_scan),
      cmocka_unit_test(test_run_gaps_bounds),
      cmocka_unit_test(test_escape_bowl_height_scan),
      cmocka_unit_test(test_escape_bowl_rays),
      cmocka_unit_test(test_run_gaps_gap_reward),
      cmocka_unit_test(test_run_gaps_fall_and_limit),
      cmocka_unit_test(test_escape_bowl),
      cmocka_unit_test(test_escape_bowl_terrain),
      cmocka_unit_test(test_escape_bowl_height),
      cmocka_unit_test(test_escape_bowl_profile),
      cmocka_unit_test(test_escape_bowl_bumps),
      cmocka_unit_test(test_escape_bowl_staircase),
      cmocka_unit_test(test_escape_bowl_stair_top),
      cmocka_unit_test(test_forage_maze_collect),
      cmocka_unit_test(test_forage_maze_approach),
      cmocka_unit_test(test_forage_maze_guide),
      cmocka_unit_test(test_heading_groups),
      cmocka_unit_test(test_water_maze_guide),
      cmocka_unit_test(test_forage_maze_pool),
      cmocka_unit_test(test_forage_maze_rays),
      cmocka_unit_test(test_two_tap_rules),
      cmocka_unit_test(test_two_tap_shaping),
      cmocka_unit_test(test_two_tap_params),
      cmocka_unit_test(test_two_tap_timed_shaping),
      cmocka_unit_test(test_two_tap_curriculum),
      cmocka_unit_test(test_two_tap_staircase),
      cmocka_unit_test(test_two_tap_graded),
      cmocka_unit_test(test_two_tap_potential),
      cmocka_unit_test(test_two_tap_show_interval),
      cmocka_unit_test(test_two_tap_clock),
      cmocka_unit_test(test_two_tap_first_share),
      cmocka_unit_test(test_two_tap_pool),
      cmocka_unit_test(test_water_maze_rules),
      cmocka_unit_test(test_water_maze_found_steps),
      cmocka_unit_test(test_water_maze_approach),
      cmocka_unit_test(test_water_maze_steer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
