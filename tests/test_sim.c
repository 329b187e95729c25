// test_sim.c: the simulation core: loading errors, loading from text (writes nothing), observation
// groups, frame skip, auto-reset, instability handling, determinism across thread counts and
// seeds that change the trajectory; MuJoCo's fatal errors (recovery points, the tool hook, the
// abort default: never a wait on stdin nor MUJOCO_LOG.TXT).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "amt_tasks.h"

static char err[AM_ERR_LEN];

static void make_body_task(am_task* t, const char* body, int frame_skip, int steps) {
  amt_params p = {0};
  char kv[64];
  snprintf(kv, sizeof kv, "frame_skip=%d", frame_skip);
  assert_int_equal(amt_params_add(&p, kv, err, sizeof err), 0);
  snprintf(kv, sizeof kv, "episode_steps=%d", steps);
  assert_int_equal(amt_params_add(&p, kv, err, sizeof err), 0);
  char name[64];
  snprintf(name, sizeof name, "body:%s", body);
  int rc = amt_create(t, name, &p, err, sizeof err);
  if (rc) fail_msg("%s", err);
}

//---------------------------------- loading -------------------------------------------------------

static void test_missing_file(void** state) {
  am_model* m = am_model_load("/nonexistent/dir/thing.xml", err, sizeof err);
  assert_null(m);
  assert_non_null(strstr(err, "/nonexistent/dir/thing.xml"));
  m = am_model_load_body("no-such-body", err, sizeof err);
  assert_null(m);
  assert_non_null(strstr(err, "no-such-body"));
}

static void test_malformed_file(void** state) {
  char path[] = "/tmp/animat-test-bad-XXXXXX.xml";
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  const char* bad = "<mujoco><worldbody><body name='a'><geom size='0.1'/></worldbody></mujoco>";
  assert_int_equal(write(fd, bad, strlen(bad)), (int)strlen(bad));
  close(fd);
  am_model* m = am_model_load(path, err, sizeof err);
  unlink(path);
  assert_null(m);
  assert_non_null(strstr(err, path));              // which file
  assert_non_null(strstr(err, "cannot load model"));  // and MuJoCo's message follows
  assert_true(strlen(err) > strlen(path) + 25);
}

static void test_malformed_string(void** state) {
  am_model* m = am_model_load_string("<mujoco><worldbody><geom type='nonsense'/></worldbody></mujoco>",
                                     NULL, "broken", err, sizeof err);
  assert_null(m);
  assert_non_null(strstr(err, "broken"));
  m = am_model_load_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>", NULL, "ok",
                           err, sizeof err);
  assert_non_null(m);
  assert_non_null(strstr(m->xml, "<mujoco"));
  am_model_free(m);
}

// Loading from a string writes nothing (MuJoCo's virtual file system holds the text), yet its
// includes resolve against the given directory: bodies/ keeps its entries and its mtime.
static void dir_state(const char* dir, struct stat* st, char* names, size_t names_sz) {
  assert_int_equal(stat(dir, st), 0);
  names[0] = 0;
  DIR* d = opendir(dir);
  assert_non_null(d);
  struct dirent* e;
  while ((e = readdir(d))) {
    size_t n = strlen(names);
    snprintf(names + n, names_sz - n, "%s/", e->d_name);
  }
  closedir(d);
}

static void test_load_string_writes_nothing(void** state) {
  const char* dir = am_bodies_dir();
  struct stat before, after;
  char names0[4096], names1[4096];
  dir_state(dir, &before, names0, sizeof names0);
  const char* scene =
      "<mujoco model='scene'><include file='_rat_body.xml'/>"
      "<worldbody><geom name='extra' type='box' size='1 1 0.01' pos='0 0 -1'/></worldbody></mujoco>";
  am_model* rat = am_model_load_body("rat", err, sizeof err);
  if (!rat) fail_msg("%s", err);
  am_model* m = am_model_load_string(scene, NULL, "rat-scene", err, sizeof err);
  if (!m) fail_msg("%s", err);
  assert_int_equal(m->m->nbody, rat->m->nbody);  // the include was found in bodies/
  assert_true(mj_name2id(m->m, mjOBJ_GEOM, "extra") >= 0);
  am_model_free(m);
  m = am_model_load_string(scene, dir, "rat-scene", err, sizeof err);  // the same, explicitly
  if (!m) fail_msg("%s", err);
  am_model_free(m);
  // a failing load names the model, and leaves nothing behind either
  assert_null(am_model_load_string("<mujoco><include file='no-such-file.xml'/></mujoco>", NULL,
                                   "missing-include", err, sizeof err));
  assert_non_null(strstr(err, "missing-include"));
  assert_non_null(strstr(err, "no-such-file.xml"));
  // a directory that does not exist: the text still loads (nothing is written there)
  m = am_model_load_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>",
                           "/nonexistent/dir", "plain", err, sizeof err);
  if (!m) fail_msg("%s", err);
  am_model_free(m);
  am_model_free(rat);
  dir_state(dir, &after, names1, sizeof names1);
  assert_string_equal(names0, names1);
  assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
              before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
}

static void test_xml_roundtrip(void** state) {
  // The self-contained XML a model carries rebuilds the same model.
  am_model* a = am_model_load_body("reacher", err, sizeof err);
  assert_non_null(a);
  am_model* b = am_model_load_string(a->xml, NULL, "copy", err, sizeof err);
  assert_non_null(b);
  assert_int_equal(a->m->nq, b->m->nq);
  assert_int_equal(a->m->nu, b->m->nu);
  assert_int_equal(a->m->nbody, b->m->nbody);
  assert_true(a->m->opt.timestep == b->m->opt.timestep);
  for (int i = 0; i < a->m->nbody; i++) assert_true(fabs(a->m->body_mass[i] - b->m->body_mass[i]) < 1e-9);
  am_model_free(a);
  am_model_free(b);
}

static void test_list_bodies(void** state) {
  char names[64][64];
  int n = am_list_bodies(names, 64, err, sizeof err);
  assert_true(n >= 1);
  int found = 0;
  for (int i = 0; i < n; i++) found |= !strcmp(names[i], "reacher");
  assert_true(found);
}

//---------------------------------- observation groups --------------------------------------------

static const char* sensor_xml =
    "<mujoco><option timestep='0.002'/><worldbody>"
    "<geom name='floor' type='plane' size='2 2 0.1'/>"
    "<body name='b' pos='0 0 0.3'><freejoint/><geom type='box' size='0.05 0.05 0.05'/>"
    "<site name='s' type='box' pos='0 0 -0.05' size='0.06 0.06 0.01'/><site name='eye' pos='0.05 0 0' zaxis='1 0 -1'/>"
    "<body name='c' pos='0.1 0 0'><joint name='h' type='hinge' axis='0 1 0'/>"
    "<geom type='capsule' fromto='0 0 0 0.1 0 0' size='0.01'/></body></body></worldbody>"
    "<actuator><position name='p' joint='h' kp='1'/></actuator>"
    "<sensor><gyro site='s'/><jointpos joint='h'/><touch site='s'/><rangefinder site='eye'/>"
    "<framepos objtype='site' objname='s'/><jointvel joint='h'/><accelerometer site='s'/>"
    "</sensor></mujoco>";

static void test_obs_groups_from_sensors(void** state) {
  am_model* model = am_model_load_string(sensor_xml, NULL, "sensors", err, sizeof err);
  if (!model) fail_msg("%s", err);
  const mjModel* m = model->m;
  am_obs_group g[AM_MAX_GROUPS];
  int dim;
  int n = am_body_obs_groups(m, g, &dim);
  assert_int_equal(n, 5);
  assert_string_equal(g[0].name, "proprioception");
  assert_int_equal(g[0].size, 2);  // jointpos + jointvel
  assert_string_equal(g[1].name, "vestibular");
  assert_int_equal(g[1].size, 6);  // gyro + accelerometer
  assert_string_equal(g[2].name, "touch");
  assert_int_equal(g[2].size, 1);
  assert_string_equal(g[3].name, "range");
  assert_int_equal(g[3].size, 1);
  assert_string_equal(g[4].name, "egocentric");
  assert_int_equal(g[4].size, 3);
  assert_int_equal(dim, 13);
  for (int i = 1; i < n; i++) assert_int_equal(g[i].offset, g[i - 1].offset + g[i - 1].size);
  assert_int_equal(am_find_group(g, n, "range"), 3);
  assert_int_equal(am_find_group(g, n, "nope"), -1);

  mjData* d = mj_makeData(m);
  for (int i = 0; i < 600; i++) mj_step(m, d);  // fall and come to rest
  mj_forward(m, d);
  float obs[13];
  am_body_observe(m, d, obs);
  // Each slice holds exactly the sensors of its type, in model order.
  const mjtNum* sd = d->sensordata;
  int adr[7];
  for (int s = 0; s < 7; s++) adr[s] = m->sensor_adr[s];
  assert_true(obs[0] == (float)sd[adr[1]]);      // jointpos
  assert_true(obs[1] == (float)sd[adr[5]]);      // jointvel
  for (int k = 0; k < 3; k++) {
    assert_true(obs[2 + k] == (float)sd[adr[0] + k]);  // gyro
    assert_true(obs[5 + k] == (float)sd[adr[6] + k]);  // accelerometer
    assert_true(obs[10 + k] == (float)sd[adr[4] + k]); // framepos
  }
  assert_true(obs[8] == (float)sd[adr[2]]);   // touch
  assert_true(obs[9] == (float)sd[adr[3]]);   // rangefinder
  assert_true(obs[8] > 0);                    // resting on the floor: the touch sensor feels it
  assert_true(obs[9] > 0);                    // the tilted eye sees the floor
  mj_deleteData(d);
  am_model_free(model);
}

static void test_obs_groups_without_sensors(void** state) {
  am_model* model = am_model_load_body("reacher", err, sizeof err);
  assert_non_null(model);
  am_obs_group g[AM_MAX_GROUPS];
  int dim;
  int n = am_body_obs_groups(model->m, g, &dim);
  assert_int_equal(n, 1);
  assert_string_equal(g[0].name, "proprioception");
  assert_int_equal(dim, model->m->nq + model->m->nv);
  am_model_free(model);
}

//---------------------------------- pool mechanics ------------------------------------------------

static void test_frame_skip_exact(void** state) {
  am_task t;
  make_body_task(&t, "reacher", 3, 100);
  am_pool_config cfg = {.num_envs = 4, .num_threads = 2, .seed = 5, .export_state = 1};
  am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
  assert_non_null(p);
  const mjModel* m = t.model->m;
  // A reference mjData stepped by hand from env 2's initial state with the same control.
  am_env* e = am_pool_env(p, 2);
  mjData* ref = mj_makeData(m);
  mj_copyData(ref, m, e->d);
  am_batch* b = am_pool_batch(p);
  for (int i = 0; i < 4 * 2; i++) b->actions[i] = 0.3f * (float)(i % 3) - 0.2f;
  for (int k = 0; k < 2; k++) ref->ctrl[k] = b->actions[2 * 2 + k];
  for (int k = 0; k < 3; k++) mj_step(m, ref);
  am_pool_step(p);
  assert_true(e->d->time == ref->time);
  assert_true(fabs(e->d->time - 3 * m->opt.timestep) < 1e-12);
  assert_memory_equal(e->d->qpos, ref->qpos, sizeof(mjtNum) * m->nq);
  assert_memory_equal(b->qpos + 2 * m->nq, ref->qpos, sizeof(mjtNum) * m->nq);
  am_pool_stats s;
  am_pool_get_stats(p, &s);
  assert_int_equal(s.physics_steps, 3 * 4);
  assert_int_equal(s.steps, 4);
  // Observation slicing: the body obs is qpos then qvel of the non-free joints.
  for (int k = 0; k < m->nq; k++) assert_true(b->obs[2 * t.obs_dim + k] == (float)ref->qpos[k]);
  for (int k = 0; k < m->nv; k++)
    assert_true(b->obs[2 * t.obs_dim + m->nq + k] == (float)ref->qvel[k]);
  mj_deleteData(ref);
  am_pool_free(p);
  amt_destroy(&t);
}

// The pool skips sensor computation on all but the last physics step of a control step; the
// trajectory and the observation must equal full mj_steps bit for bit.
static void test_sensors_on_last_substep_only(void** state) {
  am_model* model = am_model_load_string(sensor_xml, NULL, "sensors", err, sizeof err);
  if (!model) fail_msg("%s", err);
  am_task t;
  assert_int_equal(am_body_task_init(&t, model, 4, 0, 0.05, err, sizeof err), 0);
  am_pool_config cfg = {.num_envs = 2, .num_threads = 1, .seed = 3, .export_state = 1};
  am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
  if (!p) fail_msg("%s", err);
  const mjModel* m = model->m;
  am_env* e = am_pool_env(p, 1);
  mjData* ref = mj_makeData(m);
  mj_copyData(ref, m, e->d);
  am_batch* b = am_pool_batch(p);
  float want[32];
  for (int step = 0; step < 200; step++) {
    for (int i = 0; i < 2; i++) b->actions[i] = 0.5f * (float)sin(0.1 * step + i);
    ref->ctrl[0] = b->actions[1];
    for (int k = 0; k < 4; k++) mj_step(m, ref);
    am_pool_step(p);
    assert_memory_equal(e->d->qpos, ref->qpos, sizeof(mjtNum) * m->nq);
    assert_memory_equal(b->sensordata + m->nsensordata, ref->sensordata,
                        sizeof(mjtNum) * m->nsensordata);
    am_body_observe(m, ref, want);
    assert_memory_equal(b->obs + t.obs_dim, want, sizeof(float) * t.obs_dim);
  }
  mj_deleteData(ref);
  am_pool_free(p);
  t.destroy(&t);
  am_model_free(model);
}

static void test_auto_reset(void** state) {
  am_task t;
  make_body_task(&t, "reacher", 2, 5);
  am_pool_config cfg = {.num_envs = 3, .num_threads = 1, .seed = 9, .export_state = 1};
  am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
  assert_non_null(p);
  am_batch* b = am_pool_batch(p);
  const mjModel* m = t.model->m;
  for (int i = 0; i < 3 * 2; i++) b->actions[i] = 0.5f;
  for (int step = 0; step < 4; step++) {
    am_pool_step(p);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(b->truncated[i], 0);
      assert_int_equal(b->terminated[i], 0);
      assert_int_equal(b->ep_step[i], step);
      assert_int_equal(b->episode[i], 1);
    }
  }
  am_pool_step(p);  // the fifth step ends every episode
  for (int i = 0; i < 3; i++) {
    assert_int_equal(b->truncated[i], 1);
    assert_int_equal(b->terminated[i], 0);
    assert_int_equal(b->ep_step[i], 4);
    assert_int_equal(b->episode[i], 1);
    am_env* e = am_pool_env(p, i);
    assert_int_equal(e->step, 0);     // already reset
    assert_int_equal(e->episode, 2);
    assert_true(e->d->time == 0);
    // final_obs is the end state (exported before the reset); obs is the new episode's start.
    for (int k = 0; k < m->nq; k++) {
      assert_true(b->final_obs[i * t.obs_dim + k] == (float)b->qpos[i * m->nq + k]);
      assert_true(b->obs[i * t.obs_dim + k] == (float)e->d->qpos[k]);
    }
    assert_true(fabs(b->qpos[i * m->nq] - e->d->qpos[0]) > 1e-6);  // it moved in 10 steps
  }
  am_pool_stats s;
  am_pool_get_stats(p, &s);
  assert_int_equal(s.episodes, 3);
  assert_int_equal(s.length_sum, 15);
  am_pool_step(p);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(b->truncated[i], 0);
    assert_int_equal(b->ep_step[i], 0);
    assert_int_equal(b->episode[i], 2);
  }
  am_pool_free(p);
  amt_destroy(&t);
}

// A task hook that blows the physics up when the action asks for it.
static void (*plain_act)(const am_task*, am_env*, const float*);
static void exploding_act(const am_task* t, am_env* e, const float* a) {
  plain_act(t, e, a);
  if (a[0] > 5) e->d->qvel[0] = NAN;
  if (a[0] < -5) e->d->qfrc_applied[1] = 1e30;
}

static void test_instability(void** state) {
  am_task t;
  make_body_task(&t, "reacher", 2, 1000);
  plain_act = t.act;
  t.act = exploding_act;
  const int n = 6;
  am_pool_config cfg = {.num_envs = n, .num_threads = 2, .seed = 3};
  am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
  assert_non_null(p);
  am_batch* b = am_pool_batch(p);
  for (int step = 0; step < 50; step++) {
    for (int i = 0; i < n; i++) {
      b->actions[2 * i] = 0.1f;
      b->actions[2 * i + 1] = 0.0f;
    }
    if (step == 10) b->actions[2 * 1] = 10;   // NaN velocity in env 1
    if (step == 20) b->actions[2 * 4] = -10;  // a huge force in env 4
    am_pool_step(p);
    for (int i = 0; i < n * t.obs_dim; i++) {
      assert_true(isfinite(b->obs[i]));
      assert_true(isfinite(b->final_obs[i]));
    }
    for (int i = 0; i < n; i++) assert_true(isfinite(b->rewards[i]));
    if (step == 10 || step == 20) {
      int bad = step == 10 ? 1 : 4;
      assert_int_equal(b->truncated[bad], 1);
      assert_int_equal(b->unstable[bad], 1);
      assert_int_equal(am_pool_env(p, bad)->step, 0);
      for (int i = 0; i < n; i++)
        if (i != bad) assert_int_equal(b->truncated[i], 0);
    }
  }
  am_pool_stats s;
  am_pool_get_stats(p, &s);
  assert_int_equal(s.unstable, 2);
  assert_int_equal(am_pool_env(p, 1)->unstable, 1);
  assert_int_equal(am_pool_env(p, 4)->unstable, 1);
  assert_int_equal(am_pool_env(p, 0)->unstable, 0);
  // The envs keep running normally afterwards.
  assert_int_equal(am_pool_env(p, 1)->step, 39);
  am_pool_free(p);
  amt_destroy(&t);
}

// Runs the reacher task (pool seed `seed`) with the same seeded random actions and returns the
// final state of every env and the sum of rewards.
static void run_reacher(int threads, int n, int steps, uint64_t seed, double* qpos_out,
                        double* reward_sum) {
  am_task t;
  assert_int_equal(amt_create(&t, "reacher", NULL, err, sizeof err), 0);
  am_pool_config cfg = {.num_envs = n, .num_threads = threads, .seed = seed};
  am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
  assert_non_null(p);
  am_batch* b = am_pool_batch(p);
  am_rng rng;
  am_rng_seed(&rng, 99, 0);
  *reward_sum = 0;
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < n * t.act_dim; i++) b->actions[i] = (float)am_rng_range(&rng, -1, 1);
    am_pool_step(p);
    for (int i = 0; i < n; i++) *reward_sum += b->rewards[i];
  }
  for (int i = 0; i < n; i++) memcpy(qpos_out + 4 * i, am_pool_env(p, i)->d->qpos, 4 * sizeof(double));
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_determinism_across_threads(void** state) {
  const int n = 8, steps = 1000;
  double q1[32], q2[32], q4[32], r1, r2, r4;
  run_reacher(1, n, steps, 1234, q1, &r1);
  run_reacher(2, n, steps, 1234, q2, &r2);
  run_reacher(4, n, steps, 1234, q4, &r4);
  assert_memory_equal(q1, q2, sizeof q1);
  assert_memory_equal(q1, q4, sizeof q1);
  assert_true(r1 == r2 && r1 == r4);
  // blocks of uneven size (7 envs on 3 threads: 2, 2, 3), each env stepped once per step
  double q7[28], q73[28], r7, r73;
  run_reacher(1, 7, steps, 1234, q7, &r7);
  run_reacher(3, 7, steps, 1234, q73, &r73);
  assert_memory_equal(q7, q73, sizeof q7);
  assert_true(r7 == r73);
}

// am_pool_run calls the function once per thread index, index 0 on the caller's thread and each
// other on a thread of its own, all before it returns; the pool steps as before afterwards.
typedef struct run_probe {
  pthread_t who[4];
  atomic_int calls[4];
} run_probe;

static void probe_run(void* arg, int thread) {
  run_probe* r = arg;
  r->who[thread] = pthread_self();
  atomic_fetch_add(&r->calls[thread], 1);
}

static void test_pool_run(void** state) {
  char err[256];
  am_task t;
  assert_int_equal(amt_create(&t, "reacher", NULL, err, sizeof err), 0);
  for (int threads = 1; threads <= 4; threads *= 2) {
    am_pool_config cfg = {.num_envs = 8, .num_threads = threads, .seed = 3};
    am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
    assert_non_null(p);
    for (int round = 0; round < 50; round++) {
      run_probe r;
      memset(&r, 0, sizeof r);
      am_pool_run(p, probe_run, &r);
      for (int i = 0; i < 4; i++) assert_int_equal(atomic_load(&r.calls[i]), i < threads);
      assert_true(pthread_equal(r.who[0], pthread_self()));
      for (int i = 1; i < threads; i++)
        for (int j = 0; j < i; j++) assert_false(pthread_equal(r.who[i], r.who[j]));
      am_pool_step(p);
    }
    am_pool_free(p);
  }
  amt_destroy(&t);
}

// The same steps and actions under another pool seed end in other states (every env), with other
// rewards; the same seed again reproduces the first run exactly.
static void test_seed_changes_trajectory(void** state) {
  const int n = 8, steps = 300;
  double qa[32], qb[32], qc[32], ra, rb, rc;
  run_reacher(2, n, steps, 1234, qa, &ra);
  run_reacher(2, n, steps, 1235, qb, &rb);
  run_reacher(2, n, steps, 1234, qc, &rc);
  for (int i = 0; i < n; i++)
    if (!memcmp(qa + 4 * i, qb + 4 * i, 4 * sizeof(double)))
      fail_msg("env %d ends in the same state under seeds 1234 and 1235", i);
  assert_true(ra != rb);
  assert_memory_equal(qa, qc, sizeof qa);
  assert_true(ra == rc);
}

static void test_env_streams_differ(void** state) {
  am_rng a, b;
  am_rng_seed(&a, 1, 0);
  am_rng_seed(&b, 1, 1);
  assert_true(am_rng_next(&a) != am_rng_next(&b));
  am_rng_seed(&a, 42, 3);
  am_rng_seed(&b, 42, 3);
  for (int i = 0; i < 100; i++) assert_true(am_rng_next(&a) == am_rng_next(&b));
  double sum = 0, sq = 0;
  for (int i = 0; i < 100000; i++) {
    double u = am_rng_uniform(&a);
    assert_true(u >= 0 && u < 1);
    double z = am_rng_normal(&a);
    sum += z;
    sq += z * z;
  }
  assert_true(fabs(sum / 100000) < 0.02);
  assert_true(fabs(sq / 100000 - 1) < 0.03);
}

static void test_bad_config(void** state) {
  am_task t;
  make_body_task(&t, "reacher", 1, 10);
  am_pool_config cfg = {.num_envs = 0, .num_threads = 1};
  assert_null(am_pool_create(&t, &cfg, err, sizeof err));
  assert_non_null(strstr(err, "num_envs"));
  cfg.num_envs = 2;
  cfg.num_threads = 0;
  assert_null(am_pool_create(&t, &cfg, err, sizeof err));
  assert_non_null(strstr(err, "num_threads"));
  cfg.num_threads = 64;  // more threads than envs is clamped, not an error
  am_pool* p = am_pool_create(&t, &cfg, err, sizeof err);
  assert_non_null(p);
  assert_int_equal(am_pool_num_threads(p), 2);
  am_pool_free(p);
  t.groups[0].size += 1;  // groups must tile the observation exactly
  assert_null(am_pool_create(&t, &cfg, err, sizeof err));
  assert_non_null(strstr(err, "cover"));
  t.groups[0].size -= 1;
  amt_destroy(&t);
}

// The one key=value splitter: spaces trimmed around both parts, '=' required, a key required,
// parts that do not fit refused.
// am_crc32 (tables, and carry-less folding of 64-byte blocks where the processor has it) against
// the CRC's definition, one bit at a time: every length to 1200 at three alignments, each from
// its own starting value, the check value of "123456789", and continuing over pieces.
static uint32_t crc_bitwise(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

static void test_crc32(void** state) {
  (void)state;
  assert_int_equal(am_crc32(0, "123456789", 9), 0xCBF43926u);
  uint8_t b[1300];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof b; i++) b[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
  for (size_t n = 0; n <= 1200; n++)
    for (size_t o = 0; o < 3; o++) {
      uint32_t s = (uint32_t)(n * 2654435761u + o);
      if (am_crc32(s, b + o, n) != crc_bitwise(s, b + o, n)) fail_msg("length %zu at offset %zu", n, o);
    }
  assert_int_equal(am_crc32(am_crc32(0, b, 700), b + 700, 600), crc_bitwise(0, b, 1300));
}

static void test_kv_split(void** state) {
  (void)state;
  char k[8], v[16];
  assert_int_equal(am_kv_split("  lr = 3e-4  ", k, sizeof k, v, sizeof v), 0);
  assert_string_equal(k, "lr");
  assert_string_equal(v, "3e-4");
  assert_int_equal(am_kv_split("a=b=c", k, sizeof k, v, sizeof v), 0);
  assert_string_equal(k, "a");
  assert_string_equal(v, "b=c");
  assert_int_equal(am_kv_split("key=", k, sizeof k, v, sizeof v), 0);
  assert_string_equal(v, "");
  assert_int_equal(am_kv_split("novalue", k, sizeof k, v, sizeof v), -1);
  assert_int_equal(am_kv_split(" = 1", k, sizeof k, v, sizeof v), -1);
  assert_int_equal(am_kv_split(NULL, k, sizeof k, v, sizeof v), -1);
  assert_int_equal(am_kv_split("toolongkey=1", k, sizeof k, v, sizeof v), -2);
  assert_int_equal(am_kv_split("k=0123456789abcdef", k, sizeof k, v, sizeof v), -2);
}

// A real MuJoCo fatal error: mjData's stack cannot hold the request (mju_error in mj_stackAlloc).
static void overflow_stack(mjData* d) { mj_stackAlloc(d, (int)(d->nstack + 1000)); }

// Inside a recovery point the error comes back to the caller as a message; guards nest, and the
// thread continues with MuJoCo afterwards.
static void test_mujoco_fatal_guard(void** state) {
  am_model* m = am_model_load_body("reacher", err, sizeof err);
  assert_non_null(m);
  mjData* d = mj_makeData(m->m);
  assert_non_null(d);
  am_mj_guard outer, inner;
  volatile int reached = 0;
  am_mj_guard_push(&outer);
  if (setjmp(outer.jb) == 0) {
    am_mj_guard_push(&inner);
    if (setjmp(inner.jb) == 0) {
      overflow_stack(d);
      reached = 1;  // not reached: the error never returns into MuJoCo
    } else {
      if (!strstr(inner.msg, "Stack overflow")) fail_msg("message: %s", inner.msg);
    }
    // the inner guard is popped by the jump: the next error reaches the outer one
    mju_error("second error");
    reached = 2;
  } else {
    assert_string_equal(outer.msg, "second error");
  }
  assert_int_equal(reached, 0);
  mj_resetData(m->m, d);  // MuJoCo keeps working after a recovered error
  mj_step(m->m, d);
  mj_deleteData(d);
  am_model_free(m);
}

static void child_hook(const char* msg) {
  fprintf(stderr, "hook: %s\n", msg);
  _exit(3);
}

// Runs a child that hits a MuJoCo fatal error with stdin an open pipe (MuJoCo's default handler
// would wait on it) in a fresh directory; returns its wait status (fails after 20 s) and leaves its
// stderr in text.
static int run_fatal_child(int with_hook, const char* dir, char* text, size_t text_sz) {
  int in[2], errp[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(errp), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(errp[1], 2);
    close(in[1]);
    close(errp[0]);
    if (chdir(dir)) _exit(90);
    char e[AM_ERR_LEN];
    am_model* m = am_model_load_body("reacher", e, sizeof e);
    if (!m) _exit(91);
    if (with_hook) am_set_fatal_hook(child_hook);
    mjData* d = mj_makeData(m->m);
    overflow_stack(d);
    _exit(92);  // MuJoCo continued after its fatal error
  }
  close(in[0]);
  close(errp[1]);
  int st = 0, done = 0;
  for (int i = 0; i < 2000 && !done; i++) {
    done = waitpid(pid, &st, WNOHANG) == pid;
    if (!done) usleep(10000);
  }
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  ssize_t n = read(errp[0], text, text_sz - 1);
  text[n > 0 ? n : 0] = 0;
  close(errp[0]);
  close(in[1]);
  if (!done) fail_msg("the child blocked on a MuJoCo fatal error; stderr:\n%s", text);
  return st;
}

static void test_mujoco_fatal_no_hang(void** state) {
  char dir[] = "/tmp/animat-test-fatal-XXXXXX", log[600], text[4096];
  assert_non_null(mkdtemp(dir));
  snprintf(log, sizeof log, "%s/MUJOCO_LOG.TXT", dir);
  // no hook: the message on stderr, then abort
  int st = run_fatal_child(0, dir, text, sizeof text);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGABRT);
  if (!strstr(text, "animat: MuJoCo fatal error: Stack overflow")) fail_msg("stderr: %s", text);
  assert_null(strstr(text, "Press Enter"));
  assert_int_equal(access(log, F_OK), -1);
  // a tool's hook decides the exit
  st = run_fatal_child(1, dir, text, sizeof text);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 3);
  if (!strstr(text, "hook: Stack overflow")) fail_msg("stderr: %s", text);
  assert_int_equal(access(log, F_OK), -1);
  assert_int_equal(rmdir(dir), 0);  // nothing was written there
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_malformed_file),
      cmocka_unit_test(test_malformed_string),
      cmocka_unit_test(test_load_string_writes_nothing),
      cmocka_unit_test(test_xml_roundtrip),
      cmocka_unit_test(test_list_bodies),
      cmocka_unit_test(test_obs_groups_from_sensors),
      cmocka_unit_test(test_obs_groups_without_sensors),
      cmocka_unit_test(test_frame_skip_exact),
      cmocka_unit_test(test_sensors_on_last_substep_only),
      cmocka_unit_test(test_auto_reset),
      cmocka_unit_test(test_instability),
      cmocka_unit_test(test_determinism_across_threads),
      cmocka_unit_test(test_pool_run),
      cmocka_unit_test(test_seed_changes_trajectory),
      cmocka_unit_test(test_env_streams_differ),
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_crc32),
      cmocka_unit_test(test_kv_split),
      cmocka_unit_test(test_mujoco_fatal_guard),
      cmocka_unit_test(test_mujoco_fatal_no_hang),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
