// test_agents_act.c: the one acting path (agents/ama_act.c) and what `animat record` makes of it:
// action ranges, clipping, the random policy's range, per-env acting streams, the rate RNN's
// recurrent noise (applied, recorded, replayable; off when deterministic), the recorded network
// input, a checkpoint recorded on another task, and perturbations: of the network, and mechanical
// (force pulses on the arm's hand and the rat's torso: applied by the pool, recorded, replayable).
#include <math.h>
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
#include "ama_agents.h"
#include "amt_tasks.h"
#include "cli_test_util.h"
#include "task_test_util.h"

static ama_policy* fresh_policy(const am_task* t, int N, const char* core, const char* motor,
                                float rnn_noise, float init_logstd) {
  ama_policy_cfg c;
  ama_policy_cfg_default(&c);
  snprintf(c.core_type, sizeof c.core_type, "%s", core);
  snprintf(c.motor_type, sizeof c.motor_type, "%s", motor);
  c.core_hidden = 16;
  c.motor_hidden = 12;
  c.rnn_noise = rnn_noise;
  c.init_logstd = init_logstd;
  ama_policy* p = calloc(1, sizeof *p);
  if (ama_policy_init(p, &c, t->groups, t->n_groups, t->obs_dim, t->act_dim, 1, 1, N, 5, err,
                      sizeof err))
    fail_msg("%s", err);
  return p;
}

static void free_policy(ama_policy* p) {
  ama_policy_free(p);
  free(p);
}

// A random policy samples uniformly in each actuator's control range: the arm's excitations in
// [0, 1] (never the half of U(-1, 1) that clips to 0), the reacher's torques in [-1, 1].
static void test_random_policy_range(void** state) {
  (void)state;
  const char* tasks[2] = {"reach-center-out", "reacher"};
  const float want_lo[2] = {0.0f, -1.0f};
  for (int k = 0; k < 2; k++) {
    am_task t;
    make_task(&t, tasks[k], NULL);
    am_pool* pool = make_pool_threads(&t, 4, 1, 3);
    am_batch* b = am_pool_batch(pool);
    ama_actor a;
    ama_actor_cfg cfg = {.kind = AMA_ACT_RANDOM, .seed = 9};
    assert_int_equal(ama_actor_init(&a, &cfg, NULL, &t, 4, err, sizeof err), 0);
    for (int j = 0; j < t.act_dim; j++) {
      assert_true(a.lo[j] == want_lo[k]);
      assert_true(a.hi[j] == 1.0f);
    }
    double sum = 0;
    long n = 0, at_lo = 0;
    for (int s = 0; s < 200; s++) {
      ama_actor_act(&a, b->obs, b->actions);
      for (int q = 0; q < 4 * t.act_dim; q++) {
        float x = b->actions[q];
        assert_true(x >= a.lo[q % t.act_dim] && x <= a.hi[q % t.act_dim]);
        sum += x;
        n++;
        at_lo += x == a.lo[q % t.act_dim];
      }
      am_pool_step(pool);
      ama_actor_observe(&a, b);
    }
    double mid = 0.5 * (want_lo[k] + 1.0);
    assert_true(fabs(sum / n - mid) < 0.05);
    assert_true(at_lo == 0);
    ama_actor_free(&a);
    am_pool_free(pool);
    amt_destroy(&t);
  }
}

// Sampled actions are clipped into range on their way to the env; the unclipped sample is kept.
static void test_actions_clipped(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "reach-center-out", NULL);
  am_pool* pool = make_pool_threads(&t, 4, 1, 3);
  am_batch* b = am_pool_batch(pool);
  ama_policy* p = fresh_policy(&t, 4, "gru", "gru", 0, 1.0f);  // std e = 2.7: most samples clip
  ama_actor a;
  ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .seed = 9};
  assert_int_equal(ama_actor_init(&a, &cfg, p, &t, 4, err, sizeof err), 0);
  int outside = 0, inside = 0;
  for (int s = 0; s < 50; s++) {
    ama_actor_act(&a, b->obs, b->actions);
    for (int q = 0; q < 4 * t.act_dim; q++) {
      float lo = a.lo[q % t.act_dim], hi = a.hi[q % t.act_dim], x = a.sampled[q];
      float want = x < lo ? lo : x > hi ? hi : x;
      assert_true(b->actions[q] == want);
      assert_true(a.sampled[q] == p->a_mean[q] + a.std[q] * a.eps[q]);
      if (x < lo || x > hi) outside++;
      else inside++;
    }
    am_pool_step(pool);
    ama_actor_observe(&a, b);
  }
  assert_true(outside > 0 && inside > 0);
  ama_actor_free(&a);
  free_policy(p);
  am_pool_free(pool);
  amt_destroy(&t);
}

// Env i acts from its own stream: its trajectory does not depend on how many envs run beside it
// or on the thread count.
static void test_per_env_streams(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "reacher", NULL);
  float* acts[3];
  const int Ns[3] = {2, 4, 4}, threads[3] = {1, 1, 2};
  const int steps = 120;  // more than one 50-step episode: resets included
  for (int r = 0; r < 3; r++) {
    int N = Ns[r];
    am_pool* pool = make_pool_threads(&t, N, threads[r], 11);
    am_batch* b = am_pool_batch(pool);
    ama_policy* p = fresh_policy(&t, N, "gru", "gru", 0, -0.5f);
    ama_actor a;
    ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .seed = 21};
    assert_int_equal(ama_actor_init(&a, &cfg, p, &t, N, err, sizeof err), 0);
    acts[r] = calloc((size_t)steps * 2 * t.act_dim, sizeof(float));
    for (int s = 0; s < steps; s++) {
      ama_actor_act(&a, b->obs, b->actions);
      memcpy(acts[r] + (size_t)s * 2 * t.act_dim, b->actions, sizeof(float) * 2 * t.act_dim);
      am_pool_step(pool);
      ama_actor_observe(&a, b);
    }
    ama_actor_free(&a);
    free_policy(p);
    am_pool_free(pool);
  }
  size_t n = (size_t)steps * 2 * t.act_dim;
  assert_memory_equal(acts[0], acts[1], n * sizeof(float));
  assert_memory_equal(acts[1], acts[2], n * sizeof(float));
  // and env 0 and env 1 did not act alike
  int differ = 0;
  for (int s = 0; s < steps; s++) differ += acts[0][s * 2 * t.act_dim] != acts[0][s * 2 * t.act_dim + t.act_dim];
  assert_true(differ > steps / 2);
  for (int r = 0; r < 3; r++) free(acts[r]);
  amt_destroy(&t);
}

// action_noise_corr = rho: the action noise is AR(1) over steps, built from the same standard
// normals as white noise (an actor with rho = 0 on the same seed draws them), fresh at each
// episode's start, standard normal with lag-1 correlation rho within episodes, and the sample's
// log-density is the Gaussian's at it. Deterministic acting has no noise state.
static void test_correlated_action_noise(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "reacher", NULL);  // 50-step episodes: the same resets whatever the actions
  const int N = 4, steps = 2000, A = t.act_dim;
  const float rho = 0.9f;
  float* eps[2];
  float* masks = calloc((size_t)steps * N, sizeof(float));
  for (int r = 0; r < 2; r++) {
    am_pool* pool = make_pool_threads(&t, N, 1, 11);
    am_batch* b = am_pool_batch(pool);
    ama_policy* p = fresh_policy(&t, N, "gru", "gru", 0, -0.5f);
    p->cfg.noise_corr = r ? rho : 0.0f;
    ama_actor a;
    ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .seed = 21};
    assert_int_equal(ama_actor_init(&a, &cfg, p, &t, N, err, sizeof err), 0);
    assert_true((a.eps_prev != NULL) == (r == 1));
    eps[r] = calloc((size_t)steps * N * A, sizeof(float));
    const float* logstd = p->params.w + p->params.t[p->i_logstd].offset;
    for (int s = 0; s < steps; s++) {
      if (r) memcpy(masks + (size_t)s * N, a.mask, sizeof(float) * N);
      ama_actor_act(&a, b->obs, b->actions);
      memcpy(eps[r] + (size_t)s * N * A, a.eps, sizeof(float) * N * A);
      for (int i = 0; i < N; i++) {
        double lp = 0;
        for (int j = 0; j < A; j++) {
          float e = a.eps[i * A + j];
          assert_true(a.sampled[i * A + j] == p->a_mean[i * A + j] + a.std[i * A + j] * e);
          lp += -0.5 * e * e - logstd[j] - 0.5 * AMA_LOG_2PI;
        }
        assert_true(fabs(lp - a.logp[i]) < 1e-4);
      }
      am_pool_step(pool);
      ama_actor_observe(&a, b);
    }
    ama_actor_free(&a);
    free_policy(p);
    am_pool_free(pool);
  }
  const float c = sqrtf(1.0f - rho * rho);
  double sxx = 0, sxy = 0, syy = 0;
  long n = 0, fresh = 0;
  for (int s = 0; s < steps; s++)
    for (int i = 0; i < N; i++)
      for (int j = 0; j < A; j++) {
        size_t q = ((size_t)s * N + i) * A + j;
        float xi = eps[0][q], e = eps[1][q];
        if (s == 0 || masks[(size_t)s * N + i] == 0.0f) {  // an episode's first step
          assert_true(e == xi);
          fresh++;
          continue;
        }
        float prev = eps[1][q - (size_t)N * A];
        assert_true(fabsf(e - (rho * prev + c * xi)) < 1e-5f);
        sxx += (double)prev * prev, syy += (double)e * e, sxy += (double)prev * e;
        n++;
      }
  assert_int_equal(fresh, (long)N * A * (steps / 50));
  double var = syy / n, corr = sxy / sqrt(sxx * syy);
  assert_true(fabs(var - 1.0) < 0.2);
  assert_true(fabs(corr - rho) < 0.05);
  // white noise on the same draws: no correlation
  double w_xy = 0, w_xx = 0;
  for (size_t q = (size_t)N * A; q < (size_t)steps * N * A; q++)
    w_xy += (double)eps[0][q] * eps[0][q - (size_t)N * A], w_xx += (double)eps[0][q] * eps[0][q];
  assert_true(fabs(w_xy / w_xx) < 0.05);
  // deterministic: the mean, no noise state
  ama_policy* p = fresh_policy(&t, N, "gru", "gru", 0, -0.5f);
  p->cfg.noise_corr = rho;
  ama_actor a;
  ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .deterministic = 1, .seed = 21};
  assert_int_equal(ama_actor_init(&a, &cfg, p, &t, N, err, sizeof err), 0);
  assert_null(a.eps_prev);
  ama_actor_free(&a);
  free_policy(p);
  for (int r = 0; r < 2; r++) free(eps[r]);
  free(masks);
  amt_destroy(&t);
}

// A noisy rate RNN: the acting path applies the recurrent noise (the state differs from the
// noise-free update), exposes the standard normals it used, and a replay of the policy step with
// the exposed input, masks and noise reproduces the state bit for bit. Deterministic acting draws
// no noise and follows the noise-free update.
static void test_recurrent_noise(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "reacher", NULL);
  const int N = 3;
  for (int det = 0; det < 2; det++) {
    am_pool* pool = make_pool_threads(&t, N, 1, 4);
    am_batch* b = am_pool_batch(pool);
    ama_policy* p = fresh_policy(&t, N, "rnn", "rnn", 0.3f, -1.0f);
    ama_policy* q = fresh_policy(&t, N, "rnn", "rnn", 0.3f, -1.0f);  // the replay
    ama_actor a;
    ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .deterministic = det, .seed = 2};
    assert_int_equal(ama_actor_init(&a, &cfg, p, &t, N, err, sizeof err), 0);
    assert_int_equal(a.Hc, det ? 0 : 16);
    assert_int_equal(a.Hm, det ? 0 : 12);
    float mask[3];
    double noise_abs = 0;
    for (int s = 0; s < 70; s++) {
      memcpy(mask, a.mask, sizeof mask);
      ama_actor_act(&a, b->obs, b->actions);
      // replay with the recorded noise: identical state
      ama_policy_step(q, p->a_obs, mask, det ? NULL : a.core_noise, det ? NULL : a.motor_noise);
      assert_memory_equal(q->core_s, p->core_s, sizeof(float) * N * 16);
      assert_memory_equal(q->motor_s, p->motor_s, sizeof(float) * N * 12);
      assert_memory_equal(q->a_mean, p->a_mean, sizeof(float) * N * t.act_dim);
      if (s == 0) {  // a noise-free first step from the same (zero) state differs unless deterministic
        ama_policy* z = fresh_policy(&t, N, "rnn", "rnn", 0.3f, -1.0f);
        ama_policy_step(z, p->a_obs, mask, NULL, NULL);
        int same = !memcmp(z->motor_s, p->motor_s, sizeof(float) * N * 12);
        assert_int_equal(same, det);
        free_policy(z);
      }
      am_pool_step(pool);
      ama_actor_observe(&a, b);
      ama_policy_set_feedback(q, b->actions, b->rewards);
      for (int i = 0; i < N * a.Hm; i++) noise_abs += fabs((double)a.motor_noise[i]);
    }
    if (det) assert_true(noise_abs == 0);
    else assert_true(noise_abs > 100);
    ama_actor_free(&a);
    free_policy(p);
    free_policy(q);
    am_pool_free(pool);
  }
  amt_destroy(&t);
}

// The library refuses what the command refuses: Dale's law on a cell without it, and the
// learner's cross-key rules (ama_config_check) for a caller that skips the command.
static void test_library_refusals(void** state) {
  (void)state;
  ama_params prm = {0};
  ama_cell c;
  ama_cell_cfg cc = {.type = AMA_CELL_LSTM, .in = 3, .hidden = 4, .dale = 1, .exc_frac = 0.8f};
  assert_int_equal(ama_cell_init(&c, &cc, &prm, "motor", err, sizeof err), -1);
  assert_non_null(strstr(err, "motor: Dale's law is implemented by the rate RNN cell only (this is a lstm cell)"));
  ama_params_free(&prm);
  am_task t;
  make_task(&t, "reacher", NULL);
  am_pool* pool = make_pool_threads(&t, 4, 1, 1);
  ama_config cfg;
  ama_config_default(&cfg);
  cfg.policy.dale = 1;
  assert_null(ama_ppo_create(&cfg, pool, err, sizeof err));
  assert_non_null(strstr(err, "dale = 1"));
  ama_config_default(&cfg);
  snprintf(cfg.load_module, sizeof cfg.load_module, "motor");
  cfg.ppo.minibatches = 2;
  assert_null(ama_ppo_create(&cfg, pool, err, sizeof err));
  assert_non_null(strstr(err, "load_module = motor needs load_path"));
  am_pool_free(pool);
  amt_destroy(&t);
}

//---------------------------------- animat record ------------------------------------------------

static int setup(void** state) {
  (void)state;
  if (make_tmpdir("act") || chdir(tmpdir)) return -1;  // the commands below write here
  // a small noisy rate-RNN policy on reacher
  return animat("train --task reacher --steps 4096 --envs 8 --seed 2 --quiet --set core=rnn "
                "--set motor=rnn --set rnn_noise=0.2 --set core_hidden=16 --set motor_hidden=8 "
                "--set horizon=32 --set minibatches=2 --out run") != 0;
}

static int teardown(void** state) {
  (void)state;
  remove_tmpdir();
  return 0;
}

static am_ds_reader* open_ds(const char* name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  return r;
}

static float* read_ch(am_ds_reader* r, const char* name, int64_t ep, int* width) {
  int c = am_ds_find_channel(r, name);
  if (c < 0) fail_msg("no channel %s", name);
  const am_ds_episode* e = am_ds_get_episode(r, ep);
  size_t rb = am_ds_get_channel(r, c)->row_bytes;
  float* x = malloc(rb * (size_t)e->steps);
  if (am_ds_read_channel(r, ep, c, x, err, sizeof err)) fail_msg("%s", err);
  if (width) *width = (int)(rb / sizeof(float));
  return x;
}

static const char* meta(am_ds_reader* r, const char* key) { return am_ds_meta(r, key, NULL); }

char* openblas_get_corename(void);  // OpenBLAS (its cblas.h defines I)

// `record --random` on the arm stores actions in [0, 1] (the excitations' range). Its progress
// has no carriage returns when piped; --quiet leaves the closing summary only.
static void test_record_random_arm(void** state) {
  (void)state;
  assert_int_equal(animat("record --random --task reach-center-out --episodes 2 --envs 2 --out arm0.rollout"), 0);
  assert_null(strchr(out, '\r'));
  expect_out("record: 2/2 episodes");
  assert_int_equal(animat("record --random --task reach-center-out --episodes 2 --envs 2 --out arm.rollout --quiet"), 0);
  assert_int_equal(strncmp(out, "recorded 2 episodes", 19), 0);
  assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);  // one line
  am_ds_reader* r = open_ds("arm.rollout");
  int w;
  float* a = read_ch(r, "action", 0, &w);
  int64_t T = am_ds_get_episode(r, 0)->steps;
  double sum = 0;
  for (int64_t i = 0; i < T * w; i++) {
    assert_true(a[i] >= 0.0f && a[i] <= 1.0f);
    assert_true(a[i] != 0.0f);
    sum += a[i];
  }
  assert_true(fabs(sum / (T * w) - 0.5) < 0.05);
  free(a);
  am_ds_reader_free(r);
}

// A stochastic recording of a noisy rate RNN applies and records the recurrent noise; the
// deterministic one has none; both record the network's input, which is the observation through
// the checkpoint's normaliser.
static void test_record_noise_and_input(void** state) {
  (void)state;
  assert_int_equal(animat("record run --episodes 2 --envs 2 --out sto.rollout --quiet"), 0);
  assert_int_equal(animat("record run --episodes 2 --envs 2 --deterministic --out det.rollout --quiet"), 0);
  am_task t;
  make_task(&t, "reacher", NULL);
  ama_policy pol;
  char ck[400];
  snprintf(ck, sizeof ck, "%s/run/checkpoint.bin", tmpdir);
  assert_int_equal(ama_ckpt_load_policy(&pol, ck, t.groups, t.n_groups, t.obs_dim, t.act_dim, 1,
                                        err, sizeof err), 0);
  const char* names[2] = {"sto.rollout", "det.rollout"};
  for (int k = 0; k < 2; k++) {
    am_ds_reader* r = open_ds(names[k]);
    assert_string_equal(meta(r, "policy.recurrent_noise"), k == 0 ? "1" : "0");
    // the kernels that decide the policy's rounding: the ones this process's OpenBLAS picked
    assert_non_null(meta(r, "policy.blas"));
    assert_string_equal(meta(r, "policy.blas"), openblas_get_corename());
    assert_true((am_ds_find_channel(r, "core/noise") >= 0) == (k == 0));
    assert_true((am_ds_find_channel(r, "motor/noise") >= 0) == (k == 0));
    int w;
    float* in = read_ch(r, "input", 0, &w);
    assert_int_equal(w, t.obs_dim);
    int64_t T = am_ds_get_episode(r, 0)->steps;
    float* obs = calloc((size_t)T * t.obs_dim, sizeof(float));
    for (int g = 0; g < t.n_groups; g++) {
      char nm[80];
      snprintf(nm, sizeof nm, "obs/%s", t.groups[g].name);
      int gw;
      float* x = read_ch(r, nm, 0, &gw);
      for (int64_t s = 0; s < T; s++)
        memcpy(obs + s * t.obs_dim + t.groups[g].offset, x + s * gw, sizeof(float) * gw);
      free(x);
    }
    float* want = calloc((size_t)T * t.obs_dim, sizeof(float));
    ama_norm_apply(&pol.norm, obs, want, (int)T);
    assert_memory_equal(in, want, sizeof(float) * T * t.obs_dim);
    if (k == 0) {  // the noise is standard normal, one per unit and step
      float* xi = read_ch(r, "motor/noise", 0, &w);
      assert_int_equal(w, 8);
      double s1 = 0, s2 = 0;
      for (int64_t i = 0; i < T * w; i++) s1 += xi[i], s2 += (double)xi[i] * xi[i];
      double n = (double)T * w;
      assert_true(fabs(s1 / n) < 0.2 && fabs(s2 / n - 1) < 0.25);
      free(xi);
    }
    free(in), free(obs), free(want);
    am_ds_reader_free(r);
  }
  ama_policy_free(&pol);
  amt_destroy(&t);
}

// A checkpoint recorded on another task: refused when the sizes differ (naming both tasks), a note
// when they fit.
static void test_record_other_task(void** state) {
  (void)state;
  assert_int_equal(animat("record run --task reach-center-out --episodes 1 --out x.rollout"), 1);
  assert_non_null(strstr(out, "trained on task reacher, not reach-center-out"));
  assert_true(access("x.rollout", F_OK) != 0);
}


// Each specification bad[i][0] is refused with a message holding bad[i][1].
static void expect_refusals(const char* bad[][2], size_t n, const am_task* t, const ama_policy* p) {
  ama_perturb pt;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(ama_perturb_parse(&pt, bad[i][0], t, p, err, sizeof err), -1);
    if (!strstr(err, bad[i][1])) fail_msg("'%s': expected '%s' in: %s", bad[i][0], bad[i][1], err);
  }
}

// Perturbations (ama_perturb.c): a silenced window reads zero in the module's output and state
// exactly when its bit is set (aligned on an event, repeating per trial), a clamp reads its value,
// a lesion removes the chosen recurrent weights, noise is reproducible for a seed, and bad
// specifications are refused with the field named.
static void test_perturbations(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "reach-center-out", "trials=3", NULL);
  const int N = 2, steps = 200;
  const char* kinds[3] = {"gru", "lstm", "rnn"};
  for (int k = 0; k < 3; k++) {
    am_pool* pool = make_pool_threads(&t, N, 1, 3);
    am_batch* b = am_pool_batch(pool);
    ama_policy* p = fresh_policy(&t, N, kinds[k], kinds[k], 0, -1.0f);
    ama_actor a;
    ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .seed = 4, .deterministic = 1};
    assert_int_equal(ama_actor_init(&a, &cfg, p, &t, N, err, sizeof err), 0);
    ama_perturb pt[2];
    assert_int_equal(ama_perturb_parse(&pt[0], "kind=silence,module=core,units=2-9,event=target_on,"
                                       "start=0.02,duration=0.05", &t, p, err, sizeof err), 0);
    assert_int_equal(ama_perturb_parse(&pt[1], "kind=clamp,module=motor,units=0,value=0.5,"
                                       "duration=0.03", &t, p, err, sizeof err), 0);
    assert_int_equal(ama_actor_perturb(&a, pt, 2, 0.01, 9, NULL, err, sizeof err), 0);
    int e_on = -1;
    for (int e = 0; e < t.n_events; e++)
      if (!strcmp(t.events[e], "target_on")) e_on = e;
    int64_t since[2] = {-1, -1}, ep_step[2] = {0, 0};
    int windows = 0;
    for (int s = 0; s < steps; s++) {
      ama_actor_act(&a, b->obs, b->actions);
      for (int i = 0; i < N; i++) {
        int want0 = since[i] >= 2 && since[i] < 7;    // 0.02 .. 0.07 s after target_on
        int want1 = ep_step[i] < 3;                   // the episode's first 0.03 s
        assert_int_equal((a.pert_active[i] & 1u) != 0, want0);
        assert_int_equal((a.pert_active[i] & 2u) != 0, want1);
        windows += want0;
        const float* y = p->core_y + (size_t)i * 16;
        const float* sc = p->core_s + (size_t)i * p->core.S;
        for (int u = 2; u <= 9 && want0; u++) {
          assert_true(y[u] == 0.0f && sc[u] == 0.0f);
          if (p->core.cfg.type == AMA_CELL_LSTM) assert_true(sc[16 + u] == 0.0f);
        }
        if (want0 && k < 2) assert_true(y[1] != 0.0f || y[10] != 0.0f);  // the others act (tanh-range units)
        if (want1) assert_true(p->a_motor_k.y[(size_t)i * 12] == 0.5f);
      }
      am_pool_step(pool);
      ama_actor_observe(&a, b);
      for (int i = 0; i < N; i++) {
        int ended = b->terminated[i] || b->truncated[i];
        since[i] = ended ? -1 : (b->events[i] & (1u << e_on)) ? 0 : since[i] >= 0 ? since[i] + 1 : -1;
        ep_step[i] = ended ? 0 : ep_step[i] + 1;
      }
    }
    assert_true(windows >= 10);  // several trials' windows were seen
    ama_actor_free(&a);
    free_policy(p);
    am_pool_free(pool);
  }
  // lesion: all recurrent weights into core units 0-3 removed, none of the others
  ama_policy* p = fresh_policy(&t, N, "gru", "gru", 0, -1.0f);
  ama_actor a;
  ama_actor_cfg cfg = {.kind = AMA_ACT_POLICY, .seed = 4};
  assert_int_equal(ama_actor_init(&a, &cfg, p, &t, N, err, sizeof err), 0);
  ama_perturb les;
  assert_int_equal(ama_perturb_parse(&les, "kind=lesion,units=0-3,value=1", &t, p, err, sizeof err), 0);
  assert_int_equal(ama_actor_perturb(&a, &les, 1, 0.01, 9, NULL, err, sizeof err), 0);
  const float* W = p->params.w + p->params.t[p->core.iWh].offset;
  int zero_in = 0, zero_out = 0;
  for (int g = 0; g < 3; g++)
    for (int u = 0; u < 16; u++)
      for (int j = 0; j < 16; j++) *(u < 4 ? &zero_in : &zero_out) += W[((size_t)g * 16 + u) * 16 + j] == 0;
  assert_int_equal(zero_in, 3 * 4 * 16);
  assert_int_equal(zero_out, 0);
  ama_actor_free(&a);
  // refusals name the field
  const char* bad[][2] = {{"kind=zap", "kind 'zap'"},
                          {"kind=silence,module=cortex", "module 'cortex'"},
                          {"kind=silence,units=0-99", "units '0-99'"},
                          {"kind=silence,event=nope", "no event 'nope'"},
                          {"kind=clamp", "clamp needs value="},
                          {"kind=lesion,value=2", "must be in [0, 1]"},
                          {"kind=silence,colour=red", "unknown key 'colour'"},
                          {"units=1", "no kind="}};
  expect_refusals(bad, sizeof bad / sizeof bad[0], &t, p);
  free_policy(p);
  amt_destroy(&t);
}

// `record --perturb`: the perturb channel and metadata, silenced units read zero in the
// recording exactly where the bit is set, and one seed gives the same file twice.
static void test_record_perturbed(void** state) {
  (void)state;
  const char* pert = "--perturb kind=silence,module=core,units=0-7,start=0.05,duration=0.1 "
                     "--perturb kind=noise,module=motor,value=0.3";
  for (int k = 0; k < 2; k++)
    assert_int_equal(animat("record run --episodes 3 --envs 2 --out pert%d.rollout --quiet %s",
                            k, pert), 0);
  char a[600], bpath[600];
  snprintf(a, sizeof a, "%s/pert0.rollout", tmpdir);
  snprintf(bpath, sizeof bpath, "%s/pert1.rollout", tmpdir);
  am_ds_reader* r = open_ds("pert0.rollout");
  assert_string_equal(meta(r, "perturb.0"), "kind=silence,module=core,units=0-7,start=0.05,duration=0.1");
  int w, wp;
  float* core = read_ch(r, "core/output", 0, &w);
  uint32_t* bits = (uint32_t*)read_ch(r, "perturb", 0, &wp);
  int64_t T = am_ds_get_episode(r, 0)->steps;
  double dt = strtod(meta(r, "control_dt"), NULL);
  int s0 = (int)lround(0.05 / dt), s1 = (int)lround(0.15 / dt);
  for (int64_t s = 0; s < T; s++) {
    int on = s >= s0 && s < s1;
    assert_int_equal((bits[s] & 1u) != 0, on);
    assert_true(bits[s] & 2u);  // the noise acts all the time
    for (int u = 0; u < 8 && on; u++) assert_true(core[s * w + u] == 0.0f);
  }
  free(core), free(bits);
  am_ds_reader_free(r);
  // the same seed, the same rows (compare a channel: the files' creation times differ)
  am_ds_reader* r1 = open_ds("pert1.rollout");
  r = open_ds("pert0.rollout");
  float* m0 = read_ch(r, "action", 1, &w);
  float* m1 = read_ch(r1, "action", 1, &w);
  assert_memory_equal(m0, m1, sizeof(float) * w * am_ds_get_episode(r, 1)->steps);
  free(m0), free(m1);
  am_ds_reader_free(r), am_ds_reader_free(r1);
  assert_int_equal(animat("record --random --task reacher --episodes 1 --out x.rollout %s", pert), 1);
  expect_out("silence perturbs the network: it needs a trained policy");
  assert_int_equal(animat("record run --episodes 1 --out y.rollout --perturb kind=silence,module=x"), 1);
  expect_out("module 'x' is not core or motor");
  assert_false(file_exists("y.rollout"));
}

// The arm's hand (site "hand" on the forearm, 0.33 m from the elbow; upper arm 0.30 m; shoulder at
// the origin, both joints about +z): the joint torques of a planar force F at the hand, tau = J^T F.
static void arm_hand_torque(const double* qpos, double fx, double fy, double tau[2]) {
  double q1 = qpos[0], q12 = qpos[0] + qpos[1];
  double ex = 0.30 * cos(q1), ey = 0.30 * sin(q1);
  double hx = ex + 0.33 * cos(q12), hy = ey + 0.33 * sin(q12);
  tau[0] = hx * fy - hy * fx;
  tau[1] = (hx - ex) * fy - (hy - ey) * fx;
}

// A force pulse through the pool (batch push) adds to the force-field task's own force: two pools
// with the same seed and actions, one pulsed, step identically until the pulse; in its first
// physics step the pulsed pool's applied generalized force is the field's (the other pool's) plus
// J^T F at the hand exactly, and the field is not zero there (so both are seen).
static void test_force_pulse_pool(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "force-field", "baseline_trials=0", "catch_fraction=0", NULL);
  const int N = 2, pulse_step = 12;
  ama_perturb pt;
  assert_int_equal(ama_perturb_parse(&pt, "kind=force,site=hand,force=2.5,-4,start=0.12,"
                                     "duration=0.03", &t, NULL, err, sizeof err), 0);
  am_pool_config pc[2] = {{.num_envs = N, .num_threads = 1, .seed = 5, .export_state = 1},
                          {.num_envs = N, .num_threads = 1, .seed = 5, .export_state = 1}};
  assert_int_equal(ama_perturb_push_points(&pt, 1, &pc[0], err, sizeof err), 0);
  assert_int_equal(pc[0].n_push, 1);
  assert_int_equal(pt.push, 0);
  am_pool* pool[2];
  ama_actor a[2];
  ama_actor_cfg cfg = {.kind = AMA_ACT_RANDOM, .seed = 3};
  for (int k = 0; k < 2; k++) {
    pool[k] = am_pool_create(&t, &pc[k], err, sizeof err);
    if (!pool[k]) fail_msg("%s", err);
    assert_int_equal(ama_actor_init(&a[k], &cfg, NULL, &t, N, err, sizeof err), 0);
  }
  assert_int_equal(ama_actor_perturb(&a[0], &pt, 1, 0.01, 1, am_pool_batch(pool[0]), err,
                                     sizeof err), 0);
  // without the pool's push point the pulse has nowhere to go
  ama_actor a2;
  assert_int_equal(ama_actor_init(&a2, &cfg, NULL, &t, N, err, sizeof err), 0);
  assert_int_equal(ama_actor_perturb(&a2, &pt, 1, 0.01, 1, am_pool_batch(pool[1]), err,
                                     sizeof err), -1);
  assert_non_null(strstr(err, "no push point"));
  ama_actor_free(&a2);
  const int nv = 2, fs = t.frame_skip;
  double prev_qpos[2][4];
  for (int s = 0; s < 20; s++) {
    for (int k = 0; k < 2; k++) {
      am_batch* b = am_pool_batch(pool[k]);
      memcpy(prev_qpos[k], b->qpos, sizeof(double) * 2 * N);
      ama_actor_act(&a[k], b->obs, b->actions);
      am_pool_step(pool[k]);
      ama_actor_observe(&a[k], b);
    }
    am_batch *b0 = am_pool_batch(pool[0]), *b1 = am_pool_batch(pool[1]);
    int on = s >= pulse_step && s < pulse_step + 3;
    for (int i = 0; i < N; i++) {
      assert_int_equal(a[0].pert_active[i], (uint32_t)on);
      const double* push = b0->push + 6 * i;
      assert_true(push[0] == (on ? 2.5 : 0) && push[1] == (on ? -4 : 0) && push[2] == 0);
      const double* q0 = b0->qfrc_applied + (size_t)i * fs * nv;
      const double* q1 = b1->qfrc_applied + (size_t)i * fs * nv;
      if (s < pulse_step) {  // identical so far, field included
        assert_memory_equal(q0, q1, sizeof(double) * fs * nv);
        assert_memory_equal(b0->qpos + 2 * i, b1->qpos + 2 * i, sizeof(double) * 2);
      } else if (s == pulse_step) {
        double tau[2];
        arm_hand_torque(prev_qpos[0] + 2 * i, 2.5, -4, tau);
        assert_true(fabs(q1[0]) + fabs(q1[1]) > 1e-4);  // the field acts
        for (int j = 0; j < nv; j++) assert_true(fabs(q0[j] - q1[j] - tau[j]) < 1e-9);
      }
    }
  }
  for (int k = 0; k < 2; k++) ama_actor_free(&a[k]), am_pool_free(pool[k]);
  // a bad push point is refused by the pool
  am_pool_config bad = {.num_envs = 1, .num_threads = 1, .n_push = 1, .push = {{mjOBJ_BODY, 0}}};
  assert_null(am_pool_create(&t, &bad, err, sizeof err));
  assert_non_null(strstr(err, "push point 0"));
  amt_destroy(&t);
}

// `record --perturb kind=force`: the pulse shows in the push channel and the perturb bit exactly
// in its window (after each go cue... here after the episode's start, as a random arm aborts
// before any cue), in qfrc_applied as J^T F there and nowhere else, the metadata names it, and the
// recording re-simulates exactly; the rat's torso push changes the torso's velocity (against the
// same recording without the push) and replays exactly too.
static void test_record_force_pulse(void** state) {
  (void)state;
  const char* pulse = "kind=force,site=hand,force=0,3,start=0.2,duration=0.05";
  assert_int_equal(animat("record --random --task reach-center-out --episodes 3 --envs 2 --quiet "
                          "--out pulse.rollout --perturb %s", pulse), 0);
  am_ds_reader* r = open_ds("pulse.rollout");
  assert_string_equal(meta(r, "perturb.0"), pulse);
  assert_string_equal(meta(r, "push.points"), "site:hand");
  am_model* model = am_ds_load_model(r, NULL, 0, err, sizeof err);
  if (!model) fail_msg("%s", err);
  double dt = strtod(meta(r, "control_dt"), NULL);
  int s0 = (int)lround(0.2 / dt), s1 = (int)lround(0.25 / dt), fs = atoi(meta(r, "task.frame_skip"));
  for (int64_t ep = 0; ep < am_ds_num_episodes(r); ep++) {
    int w;
    uint32_t* bits = (uint32_t*)read_ch(r, "perturb", ep, &w);
    double* push = (double*)read_ch(r, "push", ep, &w);
    double* qf = (double*)read_ch(r, "qfrc_applied", ep, &w);
    double* qpos = (double*)read_ch(r, "qpos", ep, &w);
    int64_t T = am_ds_get_episode(r, ep)->steps;
    assert_true(T > s1);
    for (int64_t s = 0; s < T; s++) {
      int on = s >= s0 && s < s1;
      assert_int_equal(bits[s], (uint32_t)on);
      for (int j = 0; j < 6; j++) assert_true(push[6 * s + j] == (on && j == 1 ? 3.0 : 0.0));
      for (int k = 0; k < fs; k++)
        for (int j = 0; j < 2; j++) assert_int_equal(qf[(s * fs + k) * 2 + j] != 0, on);
      if (on) {  // the first physics step of the step acts at the previous step's end state
        double tau[2];
        arm_hand_torque(qpos + 2 * (s - 1), 0, 3, tau);
        for (int j = 0; j < 2; j++) assert_true(fabs(qf[s * fs * 2 + j] - tau[j]) < 1e-9);
      }
    }
    double dev = -1;
    if (am_ds_resim_episode(r, model, ep, &dev, err, sizeof err)) fail_msg("%s", err);
    assert_true(dev == 0);
    free(bits), free(push), free(qf), free(qpos);
  }
  am_model_free(model);
  am_ds_reader_free(r);
  assert_int_equal(animat("verify --resim pulse.rollout"), 0);
  expect_out("largest qpos deviation 0");

  // the rat: a 1 N sideways push on the torso, 50 ms from 0.1 s
  const char* push = "kind=force,body=torso,force=0,1,0,start=0.1,duration=0.05";
  assert_int_equal(animat("record --random --task run --episodes 1 --envs 1 --quiet "
                          "--task-param episode_time=0.8 --out rat0.rollout"), 0);
  assert_int_equal(animat("record --random --task run --episodes 1 --envs 1 --quiet "
                          "--task-param episode_time=0.8 --out rat1.rollout --perturb %s", push), 0);
  am_ds_reader *r0 = open_ds("rat0.rollout"), *r1 = open_ds("rat1.rollout");
  assert_string_equal(meta(r1, "push.points"), "body:torso");
  dt = strtod(meta(r1, "control_dt"), NULL);
  s0 = (int)lround(0.1 / dt), s1 = (int)lround(0.15 / dt);
  int w0, w1, wb;
  double* v0 = (double*)read_ch(r0, "qvel", 0, &w0);
  double* v1 = (double*)read_ch(r1, "qvel", 0, &w1);
  uint32_t* bits = (uint32_t*)read_ch(r1, "perturb", 0, &wb);
  w0 /= 2;
  int64_t T = am_ds_get_episode(r1, 0)->steps;
  for (int64_t s = 0; s < T; s++) {
    assert_int_equal(bits[s], (uint32_t)(s >= s0 && s < s1));
    if (s < s0) assert_memory_equal(v0 + s * w0, v1 + s * w0, sizeof(double) * w0);
  }
  // the free joint's linear velocity (dofs 0-2, world frame): pushed along +y
  double dvy = v1[(s1 - 1) * w0 + 1] - v0[(s1 - 1) * w0 + 1];
  assert_true(dvy > 0.02);
  free(v0), free(v1), free(bits);
  am_ds_reader_free(r0), am_ds_reader_free(r1);
  assert_int_equal(animat("verify --resim rat1.rollout"), 0);
  expect_out("largest qpos deviation 0");
}

// Bad force specifications are refused naming the field and its value (library and command line;
// nothing is left behind).
static void test_force_pulse_refusals(void** state) {
  (void)state;
  am_task t;
  make_task(&t, "reach-center-out", NULL);
  ama_perturb pt;
  const char* bad[][2] = {
      {"kind=force,body=hand,force=0,3", "body 'hand' is not a body of the model (bodies: "
                                         "upper_arm, forearm; a site is named 'hand': site=hand)"},
      {"kind=force,site=fist,force=0,3", "site 'fist' is not a site"},
      {"kind=force,site=hand,force=3", "force has 1 component; it takes 2 (FX,FY) or 3"},
      {"kind=force,site=hand,force=1,2,3,4", "force has 4 components"},
      {"kind=force,site=hand,force=1,nan", "force component 2 'nan' is not a finite number"},
      {"kind=force,site=hand,force=1,inf,0", "force component 2 'inf'"},
      {"kind=force,site=hand,force=1,x", "force component 2 'x'"},
      {"kind=force,site=hand,torque=0,1", "torque has 2 components; it takes 3"},
      {"kind=force,force=0,3", "force needs body=NAME or site=NAME"},
      {"kind=force,site=hand", "force needs force=FX,FY[,FZ]"},
      {"kind=force,site=hand,force=0,3,units=2", "not units="},
      {"kind=force,site=hand,force=0,3,duration=0", "duration 0"},
      {"kind=force,site=hand,body=forearm,force=0,3", "give one body= or site="},
      {"kind=force,site=hand,force=0,3,force=1,1", "force= given twice"},
      {"kind=silence,site=hand", "belong to kind=force"},
      {"kind=silence", "silence perturbs the network: it needs a trained policy"},
      {"kind=force,site=hand,force=0,3,event=nope", "no event 'nope'"}};
  expect_refusals(bad, sizeof bad / sizeof bad[0], &t, NULL);
  // good ones: a 3-D force with a torque, a 2-D force (FZ = 0)
  assert_int_equal(ama_perturb_parse(&pt, "kind=force,body=forearm,force=1,2,3,torque=0,0,0.5,"
                                     "event=go_cue,start=0.1,duration=0.05", &t, NULL, err,
                                     sizeof err), 0);
  assert_true(pt.kind == AMA_PT_FORCE && pt.point.type == mjOBJ_BODY && pt.ft[2] == 3 &&
              pt.ft[5] == 0.5 && pt.duration == 0.05);
  assert_int_equal(ama_perturb_parse(&pt, "kind=force,site=hand,force=-1,2", &t, NULL, err,
                                     sizeof err), 0);
  assert_true(pt.point.type == mjOBJ_SITE && pt.ft[0] == -1 && pt.ft[1] == 2 && pt.ft[2] == 0);
  amt_destroy(&t);
  assert_int_equal(animat("record --random --task reach-center-out --episodes 1 --out bad.rollout "
                          "--perturb kind=force,site=hand,force=0,nan"), 1);
  expect_out("force component 2 'nan' is not a finite number");
  assert_false(file_exists("bad.rollout"));
  assert_int_equal(animat("record --random --task run --episodes 1 --out bad.rollout "
                          "--perturb kind=force,body=trunk,force=0,1,0"), 1);
  expect_out("body 'trunk' is not a body of the model (bodies: torso, neck");
  assert_false(file_exists("bad.rollout"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_policy_range),
      cmocka_unit_test(test_actions_clipped),
      cmocka_unit_test(test_per_env_streams),
      cmocka_unit_test(test_correlated_action_noise),
      cmocka_unit_test(test_recurrent_noise),
      cmocka_unit_test(test_library_refusals),
      cmocka_unit_test(test_record_random_arm),
      cmocka_unit_test(test_record_noise_and_input),
      cmocka_unit_test(test_record_other_task),
      cmocka_unit_test(test_perturbations),
      cmocka_unit_test(test_record_perturbed),
      cmocka_unit_test(test_force_pulse_pool),
      cmocka_unit_test(test_record_force_pulse),
      cmocka_unit_test(test_force_pulse_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
