// test_tasks_multi.c: the composite rat task rat-multi, proven by setting state: which member each
// env runs (assign=env: env i runs tasks[i mod n]; assign=episode: drawn per episode), that the
// inactive members' pieces are parked and the active member's scene is the single task's own
// (same seed, same env: the same platforms, maze, bowl and orb), the task group's slots (zeros
// when inactive, the one-hot with task_input=1), the mapping of the members' events, terms and
// variables onto the composite's prefixed names (and `success`), a member's shorter episode
// truncated at its own length, and the parameter errors (bad tasks lists, prefixed keys).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "amt_tasks.h"

#include "task_test_util.h"

static const char* const members[4] = {"run-gaps", "escape-bowl", "forage-maze", "two-tap"};

static int task_group(const am_task* t, int* size) {
  int g = am_find_group(t->groups, t->n_groups, "task");
  assert_true(g >= 0);
  if (size) *size = t->groups[g].size;
  return t->groups[g].offset;
}

static int term_of(const am_task* t, const char* name) {
  for (int k = 0; k < t->n_terms; k++)
    if (!strcmp(t->terms[k], name)) return k;
  fail_msg("task %s has no term %s", t->name, name);
  return -1;
}

// The member a mocap body belongs to (index into members), by its name; -1: none.
static int owner(const mjModel* m, int body) {
  const char* nm = mj_id2name(m, mjOBJ_BODY, body);
  if (!nm) return -1;
  for (int k = 0; k < 4; k++) {
    size_t len = strlen(members[k]);
    if (!strncmp(nm, members[k], len) && nm[len] == '.') return k;
  }
  if (!strncmp(nm, "plat", 4)) return 0;
  if (!strncmp(nm, "terrain", 7)) return 1;
  if (!strncmp(nm, "wall", 4) || !strncmp(nm, "target", 6)) return 2;
  if (!strcmp(nm, "orb")) return 3;
  return -1;
}

// Every mocap piece of a member other than `active` is parked (z <= -20 m); the active member has
// pieces up (z > -20 m). Every mocap body belongs to a member. The env steps the active member's
// model variant: the other members' geoms neither collide nor meet rays there; every other geom
// (the rat's, the active member's) is as in the full model, but escape-bowl's tiles and
// forage-maze's walls, which their variants hide from MuJoCo's rays (the tasks cast those rays
// themselves): the tiles touch nothing anyway, the walls keep their contacts.
static void check_parked(const am_task* t, const am_env* e, int active) {
  const mjModel* m = e->m;
  const mjModel* full = t->model->m;
  int variant = -1;  // one per member of the task list
  assert_true(t->n_variants >= 2);
  for (int v = 0; v < t->n_variants; v++)
    if (m == t->variants[v]) variant = v + 1;
  assert_int_equal(e->variant, variant);
  for (int g = 0; g < m->ngeom; g++) {
    int b = m->geom_bodyid[g], k = m->body_mocapid[b] >= 0 ? owner(m, b) : -1;
    if (k >= 0 && k != active) {
      if (m->geom_contype[g] || m->geom_conaffinity[g] || m->geom_rgba[4 * g + 3] != 0 ||
          m->geom_matid[g] != -1)
        fail_msg("env %d (active %s): geom %d of %s is on", e->index, members[active], g,
                 mj_id2name(m, mjOBJ_BODY, b));
    } else if (k == 1 && strstr(mj_id2name(m, mjOBJ_BODY, b), "_tiles")) {
      if (m->geom_contype[g] || m->geom_conaffinity[g] || m->geom_rgba[4 * g + 3] != 0 ||
          m->geom_matid[g] != -1)
        fail_msg("env %d: tile geom %d of %s is seen by MuJoCo's rays", e->index, g,
                 mj_id2name(m, mjOBJ_BODY, b));
    } else if (k == 2 && !strncmp(mj_id2name(m, mjOBJ_BODY, b), "wall", 4)) {
      if (m->geom_contype[g] != full->geom_contype[g] ||
          m->geom_conaffinity[g] != full->geom_conaffinity[g] || m->geom_rgba[4 * g + 3] != 0 ||
          m->geom_matid[g] != -1)
        fail_msg("env %d: wall geom %d of %s is seen by MuJoCo's rays or touches nothing",
                 e->index, g, mj_id2name(m, mjOBJ_BODY, b));
    } else if (m->geom_contype[g] != full->geom_contype[g] ||
               m->geom_conaffinity[g] != full->geom_conaffinity[g] ||
               m->geom_rgba[4 * g + 3] != full->geom_rgba[4 * g + 3] ||
               m->geom_matid[g] != full->geom_matid[g]) {
      fail_msg("env %d (active %s): geom %d of %s differs from the model", e->index,
               members[active], g, mj_id2name(m, mjOBJ_BODY, b));
    }
  }
  int up = 0;
  for (int b = 0; b < m->nbody; b++) {
    int mc = m->body_mocapid[b];
    if (mc < 0) continue;
    int k = owner(m, b);
    if (k < 0) fail_msg("mocap body %s belongs to no member", mj_id2name(m, mjOBJ_BODY, b));
    double z = e->d->mocap_pos[3 * mc + 2];
    if (k != active && z > -20 + 1e-9)
      fail_msg("env %d (active %s): %s is not parked (z %g)", e->index, members[active],
               mj_id2name(m, mjOBJ_BODY, b), z);
    up += k == active && z > -20 + 1e-9;
  }
  if (!up) fail_msg("env %d: no piece of %s is up", e->index, members[active]);
  if (mj_name2id(m, mjOBJ_BODY, "run-gaps.start") < 0) return;  // run-gaps is not a member
  // run-gaps' bounds (vertical planes): at their places when it is active, else turned face up
  static const char* const bounds[4] = {"run-gaps.left", "run-gaps.right", "run-gaps.near",
                                        "run-gaps.far"};
  for (int k = 0; k < 4; k++) {
    int b = mj_name2id(m, mjOBJ_BODY, bounds[k]);
    if (b < 0 || m->body_mocapid[b] < 0) fail_msg("no mocap body %s", bounds[k]);
    const double* q = e->d->mocap_quat + 4 * m->body_mocapid[b];
    const double* p = e->d->mocap_pos + 3 * m->body_mocapid[b];
    const double up_q[4] = {1, 0, 0, 0};
    const double* want = active == 0 ? m->body_quat + 4 * b : up_q;
    for (int i = 0; i < 4; i++) assert_float_equal(q[i], want[i], 1e-12);
    if (active == 0)
      for (int i = 0; i < 3; i++) assert_float_equal(p[i], m->body_pos[3 * b + i], 1e-12);
    assert_true(fabs(m->body_quat[4 * b]) < 0.9);  // the model's pose is a wall, not face up
  }
}

// The pose of mocap body `name` in env e.
static const double* mocap_pos(const am_env* e, const char* name) {
  int b = mj_name2id(e->m, mjOBJ_BODY, name);
  if (b < 0 || e->m->body_mocapid[b] < 0) fail_msg("no mocap body %s", name);
  return e->d->mocap_pos + 3 * e->m->body_mocapid[b];
}

// assign=env: env i runs member i mod 4 for its whole life; the others' pieces are parked; its
// scene, rat and task values are those of the single task's env i under the same seed (one
// implementation of the rules); the other members' slots of the task group are zero.
static void test_multi_assign_env(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "rat-multi", NULL);
  assert_int_equal(t.max_steps, 1500);  // the longest member (30 s)
  assert_int_equal(t.n_conditions, 1);
  assert_string_equal(t.vars[t.conditions[0]], "task_id");
  int gsize, goff = task_group(&t, &gsize);
  assert_int_equal(gsize, 1 + 3 + 3 + 9);  // run-gaps, escape-bowl, forage-maze, two-tap
  const int slot[4] = {0, 1, 4, 7}, size[4] = {1, 3, 3, 9};
  const int N = 8;
  am_pool* p = make_pool_threads(&t, N, 1, 21);
  am_batch* b = am_pool_batch(p);
  float* vars = malloc(sizeof(float) * (size_t)t.n_vars);
  for (int i = 0; i < N; i++) {
    am_env* e = am_pool_env(p, i);
    int k = i % 4;
    check_parked(&t, e, k);
    t.get_vars(&t, e, vars);
    assert_float_equal(vars[var_index(&t, "task_id")], k, 0);
    // the single task, same seed, same env index
    am_task s;
    make_task(&s, members[k], NULL);
    am_pool* sp = make_pool_threads(&s, N, 1, 21);
    am_env* se = am_pool_env(sp, i);
    assert_memory_equal(e->d->qpos, se->d->qpos, sizeof(double) * (size_t)e->m->nq);
    // the member's pieces: where the single task has them up, the composite has them at the same
    // place and turned alike; where it parks them (each model parks at its own spots), the
    // composite parks them
    const char* fmt[4] = {"plat%d", "terrain%d", "wall%d", "orb"};
    const int count[4] = {60, 4, 144, 1};  // run-gaps: 30 slots of two halves
    for (int j = 0; j < count[k]; j++) {
      char nm[32];
      snprintf(nm, sizeof nm, fmt[k], j);
      const double *a = mocap_pos(e, nm), *c = mocap_pos(se, nm);
      if (c[2] > -20 + 1e-9) {
        assert_memory_equal(a, c, 3 * sizeof(double));
        assert_memory_equal(e->d->mocap_quat + (a - e->d->mocap_pos) / 3 * 4,
                            se->d->mocap_quat + (c - se->d->mocap_pos) / 3 * 4, 4 * sizeof(double));
      } else {
        assert_true(a[2] <= -20 + 1e-9);
      }
    }
    // the task group: the member's values in its slot, zeros elsewhere
    int sg = task_group(&s, NULL);
    const float* o = b->obs + (size_t)i * t.obs_dim + goff;
    const float* so = am_pool_batch(sp)->obs + (size_t)i * s.obs_dim + sg;
    for (int j = 0; j < gsize; j++) {
      int in = j >= slot[k] && j < slot[k] + size[k];
      if (!in) assert_true(o[j] == 0.0f);
      else if (memcmp(&o[j], &so[j - slot[k]], sizeof(float)))
        fail_msg("env %d (%s): task value %d is %.9g, single task %.9g", i, members[k], j, o[j],
                 so[j - slot[k]]);
    }
    // its own variables in their slots (zeros for the others' variables)
    for (int v = 5; v < t.n_vars; v++) {
      size_t len = strlen(members[k]);
      if (strncmp(t.vars[v], members[k], len)) assert_true(vars[v] == 0.0f);
    }
    am_pool_free(sp);
    amt_destroy(&s);
  }
  // the assignment holds for the env's whole life
  memset(b->actions, 0, sizeof(float) * (size_t)N * t.act_dim);
  am_pool_step(p);
  for (int i = 0; i < N; i++) {
    am_pool_reset(p);
    check_parked(&t, am_pool_env(p, i), i % 4);
    assert_float_equal(b->vars[(size_t)i * t.n_vars + var_index(&t, "task_id")], (i % 4), 0);
  }
  free(vars);
  am_pool_free(p);
  amt_destroy(&t);
}

// The members' own groups (run-gaps' scan, two-tap's interval, the heading that forage-maze's guide
// and the others' heading ask for) are groups of the composite under the same names, in the
// members' order after the task group, one group for a name several members ask for; the active
// member's groups hold the single task's values (same parameters, seed and env), the others
// zeros.
static void test_multi_own_groups(void** state) {
  (void)state;
  const char* own[4][2] = {{"scan=8", "heading=1"}, {"heading=1", NULL}, {"guide=1", NULL},
                           {"show_interval=1", "heading=1"}};
  const char* name[3] = {"scan", "heading", "interval"};
  const int size[3] = {8, 2, 1};
  const int has[4][3] = {{1, 1, 0}, {0, 1, 0}, {0, 1, 0}, {0, 1, 1}};  // member -> its groups
  am_task t;
  make_task(&t, "rat-multi", "run-gaps.scan=8", "run-gaps.heading=1", "escape-bowl.heading=1",
            "forage-maze.guide=1", "two-tap.show_interval=1", "two-tap.heading=1", NULL);
  int gsize, goff = task_group(&t, &gsize), at = goff + gsize, g[3];
  for (int j = 0; j < 3; j++) {
    g[j] = am_find_group(t.groups, t.n_groups, name[j]);
    assert_true(g[j] >= 0);
    assert_int_equal(t.groups[g[j]].offset, at);
    assert_int_equal(t.groups[g[j]].size, size[j]);
    at += size[j];
  }
  assert_int_equal(t.obs_dim, at);
  const int N = 4;
  am_pool* p = make_pool_threads(&t, N, 1, 21);
  for (int i = 0; i < N; i++) {
    am_task s;
    make_task(&s, members[i], own[i][0], own[i][1], NULL);
    am_pool* sp = make_pool_threads(&s, N, 1, 21);
    const float* o = am_pool_batch(p)->obs + (size_t)i * t.obs_dim;
    const float* so = am_pool_batch(sp)->obs + (size_t)i * s.obs_dim;
    for (int j = 0; j < 3; j++) {
      const float* v = o + t.groups[g[j]].offset;
      int sg = am_find_group(s.groups, s.n_groups, name[j]);
      assert_int_equal(sg >= 0, has[i][j]);
      if (!has[i][j]) {
        for (int q = 0; q < size[j]; q++) assert_true(v[q] == 0.0f);
        continue;
      }
      assert_memory_equal(v, so + s.groups[sg].offset, sizeof(float) * (size_t)size[j]);
      int nonzero = 0;
      for (int q = 0; q < size[j]; q++) nonzero += v[q] != 0.0f;
      assert_true(nonzero > 0);
    }
    am_pool_free(sp);
    amt_destroy(&s);
  }
  am_pool_free(p);
  amt_destroy(&t);
}

// assign=episode: each episode draws its member from the env's RNG (every member comes up); the
// pieces follow; task_input=1 appends a one-hot of the active member to the task group.
static void test_multi_assign_episode(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "rat-multi", "assign=episode", "task_input=1", "tasks=two-tap,forage-maze",
            "two-tap.episode_time=0.04", "forage-maze.episode_time=0.04", NULL);
  assert_int_equal(t.max_steps, 2);
  int gsize, goff = task_group(&t, &gsize);
  assert_int_equal(gsize, 9 + 3 + 2);
  am_pool* p = make_pool_threads(&t, 3, 1, 5);
  am_batch* b = am_pool_batch(p);
  memset(b->actions, 0, sizeof(float) * 3 * (size_t)t.act_dim);
  int seen[2] = {0, 0}, tid = var_index(&t, "task_id");
  for (int s = 0; s < 40; s++) {
    am_pool_step(p);
    for (int i = 0; i < 3; i++) {
      am_env* e = am_pool_env(p, i);
      float* vars = malloc(sizeof(float) * (size_t)t.n_vars);
      t.get_vars(&t, e, vars);  // the new episode's member (obs holds its first observation)
      int k = (int)vars[tid];
      free(vars);
      assert_true(k == 0 || k == 1);
      seen[k]++;
      check_parked(&t, e, k == 0 ? 3 : 2);  // members[] order: two-tap 3, forage-maze 2
      const float* o = b->obs + (size_t)i * t.obs_dim + goff;
      assert_true(o[12] == (k == 0) && o[13] == (k == 1));
      // two-tap's slot: the one-hot state "before touch" is set only when it is active
      assert_true(o[3] == (k == 0));
    }
  }
  if (seen[0] < 20 || seen[1] < 20) fail_msg("members drawn %d and %d times", seen[0], seen[1]);
  am_pool_free(p);
  amt_destroy(&t);
}

// One evaluation of env e through the composite's hook on the current state.
static am_step_result evaluate(const am_task* t, am_env* e) {
  am_step_result r;
  memset(&r, 0, sizeof r);
  t->evaluate(t, e, &r);
  return r;
}

// Moves the rat's root by (dx, dy, dz) and recomputes the kinematics.
static void shift_root(am_env* e, double dx, double dy, double dz) {
  int q = e->m->jnt_qposadr[mj_name2id(e->m, mjOBJ_JOINT, "root")];
  e->d->qpos[q] += dx;
  e->d->qpos[q + 1] += dy;
  e->d->qpos[q + 2] += dz;
  mj_forward(e->m, e->d);
}

// The members' events under their prefixed names, `success` with the member's success event, the
// reward terms in the member's slots, terminated as the member says.
static void test_multi_events(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "rat-multi", "forage-maze.n_targets=1", "run-gaps.init_noise=0",
            "escape-bowl.init_noise=0", NULL);
  assert_int_equal(t.n_events, 2 + 2 + 2 + 7 + 1);  // run-gaps, escape-bowl (escaped, fall), ...
  assert_int_equal(t.success_event, find_event(&t, "success"));
  assert_int_equal(t.trial_start_event, -1);  // episodes are trials
  assert_int_equal(t.trial_end_event, -1);
  assert_int_equal(t.n_terms, 7);  // forage-maze: targets and approach
  am_pool* p = make_pool_threads(&t, 4, 1, 8);
  const mjModel* m = am_pool_env(p, 0)->m;

  // run-gaps (env 0): a paw below fall_depth ends the episode (terminated), event run-gaps.fall;
  // no success (the task has none)
  am_env* e = am_pool_env(p, 0);
  shift_root(e, 0, 0, -1);
  am_step_result r = evaluate(&t, e);
  assert_int_equal(r.terminated, 1);
  assert_int_equal(r.events, ev_bit(&t, "run-gaps.fall"));

  // escape-bowl (env 1): 7 m from the centre, upright: escape 1, event escaped and success
  e = am_pool_env(p, 1);
  int q = m->jnt_qposadr[mj_name2id(m, mjOBJ_JOINT, "root")];
  e->d->qpos[q] = 7, e->d->qpos[q + 1] = 0;
  e->d->qpos[q + 3] = 1, e->d->qpos[q + 4] = e->d->qpos[q + 5] = e->d->qpos[q + 6] = 0;
  mj_forward(m, e->d);
  r = evaluate(&t, e);
  assert_int_equal(r.events, ev_bit(&t, "escape-bowl.escaped") | ev_bit(&t, "success"));
  assert_float_equal(r.terms[term_of(&t, "escape-bowl.escape")], 1, 1e-6);
  assert_float_equal(r.terms[term_of(&t, "escape-bowl.upright_x_escape")], r.reward, 0);
  assert_true(r.terms[term_of(&t, "run-gaps.speed")] == 0);
  assert_int_equal(r.terminated, 0);

  // forage-maze (env 2): the head on the one target: target_collected, all_collected, success,
  // terminated, +50 in forage-maze.targets
  e = am_pool_env(p, 2);
  const double* tp = mocap_pos(e, "target0");
  const double* head = e->d->xpos + 3 * mj_name2id(m, mjOBJ_BODY, "head");
  shift_root(e, tp[0] - head[0], tp[1] - head[1], tp[2] - head[2]);
  r = evaluate(&t, e);
  assert_int_equal(r.events, ev_bit(&t, "forage-maze.target_collected") |
                                 ev_bit(&t, "forage-maze.all_collected") | ev_bit(&t, "success"));
  assert_int_equal(r.terminated, 1);
  assert_float_equal(r.terms[term_of(&t, "forage-maze.targets")], 50, 0);
  assert_float_equal(r.terms[term_of(&t, "forage-maze.approach")], 0, 0);  // off by default
  assert_float_equal(r.reward, 50, 0);

  // two-tap (env 3): the first evaluation reports the trial start; a hand on the orb is the first
  // touch (+25 in two-tap.taps); success comes with the second touch only
  e = am_pool_env(p, 3);
  const double* orb = mocap_pos(e, "orb");
  const double* hand = e->d->site_xpos + 3 * mj_name2id(m, mjOBJ_SITE, "hand_L");
  shift_root(e, orb[0] - hand[0], orb[1] - hand[1], orb[2] - hand[2]);
  r = evaluate(&t, e);
  assert_int_equal(r.events, ev_bit(&t, "two-tap.trial_start") |
                                 ev_bit(&t, "two-tap.touch_first") | ev_bit(&t, "two-tap.reward"));
  assert_float_equal(r.terms[term_of(&t, "two-tap.taps")], 25, 1e-6);
  assert_true(r.terms[term_of(&t, "two-tap.shaping")] > 0.2);
  float* vars = malloc(sizeof(float) * (size_t)t.n_vars);
  t.get_vars(&t, e, vars);
  assert_float_equal(vars[var_index(&t, "two-tap.tap_state")], 1, 0);  // touched once
  assert_float_equal(vars[var_index(&t, "two-tap.orb_x")], (float)orb[0], 0);
  free(vars);
  am_pool_free(p);
  amt_destroy(&t);
}

// Each member keeps its own state: two-tap's curriculum count (which persists across episodes)
// survives forage-maze episodes in between (assign=episode): one counted pair with curriculum=1
// moves the window from interval_start 0.3 s to the task's 0.8 s for good.
static void test_multi_member_state(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "rat-multi", "assign=episode", "tasks=two-tap,forage-maze", "two-tap.curriculum=1",
            "two-tap.interval_start=0.3", "two-tap.init_noise=0", NULL);
  am_pool* p = make_pool_threads(&t, 1, 1, 9);
  am_env* e = am_pool_env(p, 0);
  float* vars = malloc(sizeof(float) * (size_t)t.n_vars);
  const int tid = var_index(&t, "task_id"), iv = var_index(&t, "two-tap.interval");
  const int second = ev_bit(&t, "two-tap.touch_second");
  for (int round = 0; round < 3; round++) {
    int want = round == 1;  // two-tap, forage-maze, two-tap
    for (int n = 0;; n++) {
      t.reset(&t, e);
      mj_forward(e->m, e->d);
      t.get_vars(&t, e, vars);
      if ((int)vars[tid] == want) break;
      if (n > 100) fail_msg("member %d never drawn", want);
    }
    for (int s = 0; s < 5; s++) evaluate(&t, e);
    if (want) continue;
    t.get_vars(&t, e, vars);
    if (round == 2) {
      assert_float_equal(vars[iv], 0.8, 1e-6);
      break;
    }
    assert_float_equal(vars[iv], 0.3, 1e-6);
    // first touch, 11 steps away, a second touch 12 steps (0.24 s) after the first: counted
    const double* orb = mocap_pos(e, "orb");
    const double* hand = e->d->site_xpos + 3 * mj_name2id(e->m, mjOBJ_SITE, "hand_L");
    shift_root(e, orb[0] - hand[0], orb[1] - hand[1], orb[2] - hand[2]);
    evaluate(&t, e);
    shift_root(e, 0.5, 0.5, 0);
    for (int s = 0; s < 11; s++) assert_int_equal(evaluate(&t, e).events & second, 0);
    shift_root(e, -0.5, -0.5, 0);
    assert_true(evaluate(&t, e).events & second);
    evaluate(&t, e);  // trial_end: the next trial's window
    t.get_vars(&t, e, vars);
    assert_float_equal(vars[iv], 0.8, 1e-6);
  }
  free(vars);
  am_pool_free(p);
  amt_destroy(&t);
}

// A member with a shorter episode than the longest is truncated (not terminated) at its own
// length; the longest at max_steps.
static void test_multi_episode_length(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "rat-multi", "tasks=escape-bowl,two-tap", "escape-bowl.episode_time=0.1",
            "two-tap.episode_time=0.2", NULL);
  assert_int_equal(t.max_steps, 10);
  am_pool* p = make_pool_threads(&t, 2, 1, 3);
  am_batch* b = am_pool_batch(p);
  memset(b->actions, 0, sizeof(float) * 2 * (size_t)t.act_dim);
  for (int s = 0; s < 20; s++) {
    am_pool_step(p);
    assert_int_equal(b->ep_step[0], s % 5);  // escape-bowl: 5 steps
    assert_int_equal(b->truncated[0], s % 5 == 4);
    assert_int_equal(b->ep_step[1], s % 10);  // two-tap: 10
    assert_int_equal(b->truncated[1], s % 10 == 9);
    assert_int_equal(b->terminated[0] | b->terminated[1], 0);
  }
  am_pool_free(p);
  amt_destroy(&t);
}

// Bad parameters: errors name the key and the value.
static void check_error(const char* want1, const char* want2, const char* kv1, const char* kv2) {
  amt_params p;
  memset(&p, 0, sizeof p);
  if (kv1 && amt_params_add(&p, kv1, err, sizeof err)) fail_msg("%s", err);
  if (kv2 && amt_params_add(&p, kv2, err, sizeof err)) fail_msg("%s", err);
  am_task t;
  if (!amt_create(&t, "rat-multi", &p, err, sizeof err)) fail_msg("%s %s accepted", kv1, kv2);
  if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
    fail_msg("%s %s: message '%s' lacks '%s' / '%s'", kv1, kv2, err, want1, want2 ? want2 : "");
}

static void test_multi_params(void** state) {
  (void)state;
  check_error("tasks: 'run' is not a member task", NULL, "tasks=run-gaps,run", NULL);
  check_error("'two-tap' is listed twice", NULL, "tasks=two-tap,escape-bowl,two-tap", NULL);
  check_error("tasks: empty list", NULL, "tasks=,", NULL);
  check_error("assign: 'trial' must be env or episode", NULL, "assign=trial", NULL);
  check_error("task_input: '2' must be 0 or 1", NULL, "task_input=2", NULL);
  check_error("parameter 'two-tap.intervall'", "task two-tap has no parameter 'intervall'",
              "two-tap.intervall=0.8", NULL);
  check_error("has no parameter 'run.target_speed'", "TASK.KEY", "run.target_speed=1", NULL);
  check_error("parameter 'escape-bowl.terrains': escape-bowl is not in tasks", NULL,
              "tasks=two-tap", "escape-bowl.terrains=2");
  check_error("'two-tap.obs_noise': observation options, pushes and the paws are the composite's",
              NULL, "two-tap.obs_noise=0.1", NULL);
  check_error("task rat-multi: task two-tap: interval", "two-tap.KEY", "two-tap.interval=-1",
              NULL);
  check_error("rat-multi", "episode_time", "forage-maze.episode_time=0", NULL);
  check_error("task rat-multi: task two-tap: interval 0.81 +- tolerance 0.005 s contains no "
              "control step", "two-tap.KEY", "two-tap.interval=0.81", "two-tap.tolerance=0.005");
  // a member's parameter reaches the member: run-gaps' task group holds its target speed
  am_task t;
  make_task(&t, "rat-multi", "run-gaps.target_speed=2.5", "tasks=two-tap,run-gaps", NULL);
  am_pool* p = make_pool_threads(&t, 2, 1, 1);
  int goff = task_group(&t, NULL);
  assert_float_equal(am_pool_batch(p)->obs[t.obs_dim + goff + 9], 2.5, 0);  // env 1: run-gaps
  am_pool_free(p);
  amt_destroy(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multi_assign_env),
      cmocka_unit_test(test_multi_own_groups),
      cmocka_unit_test(test_multi_assign_episode),
      cmocka_unit_test(test_multi_events),
      cmocka_unit_test(test_multi_episode_length),
      cmocka_unit_test(test_multi_member_state),
      cmocka_unit_test(test_multi_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
