// test_tasks.c: the task registry's tasks: random actions for several episodes (no NaN, lengths,
// terminated vs truncated, events in documented order), scripted controllers that solve the arm
// tasks, determinism for a seed, parameter overrides and refusals, prev-action/reward inputs, the
// trial schema (declared by every task, read by the learner's success metric).
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

static am_pool* make_pool(const am_task* t, int n, uint64_t seed) {
  return make_pool_threads(t, n, 2, seed);
}

//---------------------------------- scripted arm controller ---------------------------------------

// Inverse kinematics of the two-link arm (shoulder at the origin, links 0.30 and 0.33 m,
// elbow-positive branch), then joint-space PD error drives flexor/extensor pairs of excitations.
typedef struct arm_ctl {
  double kp, kd, c0;
} arm_ctl;

static void arm_ik(double x, double y, double q[2]) {
  const double l1 = 0.30, l2 = 0.33;
  double c2 = (x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2);
  c2 = c2 > 1 ? 1 : c2 < -1 ? -1 : c2;
  q[1] = acos(c2);
  q[0] = atan2(y, x) - atan2(l2 * sin(q[1]), l1 + l2 * cos(q[1]));
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void arm_command(const arm_ctl* k, const mjData* d, const double goal[2], float* a) {
  double q[2];
  arm_ik(goal[0], goal[1], q);
  double es = k->kp * (q[0] - d->qpos[0]) - k->kd * d->qvel[0];
  double ee = k->kp * (q[1] - d->qpos[1]) - k->kd * d->qvel[1];
  a[0] = (float)clamp01(k->c0 + es);
  a[1] = (float)clamp01(k->c0 - es);
  a[2] = (float)clamp01(k->c0 + ee);
  a[3] = (float)clamp01(k->c0 - ee);
  a[4] = (float)clamp01(k->c0 + 0.5 * (es + ee));
  a[5] = (float)clamp01(k->c0 - 0.5 * (es + ee));
}

typedef struct run_stats {
  int trials, success, catch_trials, catch_success;
  int coh_trials[8], coh_success[8];
  double rt_sum[8];
} run_stats;

// Runs `steps` control steps of an arm task with the scripted controller. rotation_deg: the
// controller aims the hand so that the rotated cursor lands on the target. decision: integrates
// the evidence and reaches to its sign.
static void run_scripted(const am_task* t, int n_envs, int steps, double rotation_deg,
                         int rt_variant, run_stats* st) {
  memset(st, 0, sizeof *st);
  am_pool* p = make_pool(t, n_envs, 7);
  am_batch* b = am_pool_batch(p);
  int tg = am_find_group(t->groups, t->n_groups, "task");
  assert_true(tg >= 0);
  int off = t->groups[tg].offset;
  int vx = find_var(t, "target_x"), vsx = find_var(t, "start_x"), vc = find_var(t, "catch");
  int vo = find_var(t, "outcome"), vcoh = find_var(t, "coherence");
  int decision = !strcmp(t->name, "decision-reach");
  int rt = decision && rt_variant;
  int e_end = find_event(t, "trial_end"), e_go = find_event(t, "go_cue");
  int e_onset = find_event(t, "movement_onset");
  double* evidence = calloc((size_t)n_envs, sizeof(double));
  int* go_step = calloc((size_t)n_envs, sizeof(int));
  int* rt_steps = calloc((size_t)n_envs, sizeof(int));
  double cr = cos(-rotation_deg * M_PI / 180), sr = sin(-rotation_deg * M_PI / 180);
  arm_ctl k = {.kp = 3.0, .kd = 0.1, .c0 = 0.3};
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < n_envs; i++) {
      const float* o = b->obs + (size_t)i * t->obs_dim + off;
      const float* v = b->vars + (size_t)i * t->n_vars;
      am_env* e = am_pool_env(p, i);
      double start[2] = {v[vsx], v[vsx + 1]};
      double goal[2] = {start[0], start[1]};
      if (decision) {
        // integrate the evidence; rt: commit when it reaches a bound (drift diffusion)
        if (o[1] > 0.5) evidence[i] += o[0];
        int commit = o[3] > 0.5 && (!rt || fabs(evidence[i]) >= 6 || o[1] < 0.5);
        if (commit) goal[0] = start[0] + (evidence[i] >= 0 ? 0.1 : -0.1);
      } else if (o[3] > 0.5) {
        double dx = v[vx] - start[0], dy = v[vx + 1] - start[1];
        goal[0] = start[0] + cr * dx - sr * dy;
        goal[1] = start[1] + sr * dx + cr * dy;
      }
      arm_command(&k, e->d, goal, b->actions + (size_t)i * t->act_dim);
    }
    am_pool_step(p);
    for (int i = 0; i < n_envs; i++) {
      uint32_t ev = b->events[i];
      if (ev & (1u << e_go)) go_step[i] = s;
      const float* v = b->vars + (size_t)i * t->n_vars;
      if (decision && e_onset >= 0 && (ev & (1u << e_onset))) rt_steps[i] = s - go_step[i];
      if (!(ev & (1u << e_end))) continue;
      // vars hold the ended trial (one trial per episode: read final values before reset).
      int ok = v[vo] > 0;
      st->trials++;
      st->success += ok;
      if (v[vc] > 0.5) {
        st->catch_trials++;
        st->catch_success += ok;
      }
      if (decision) {
        double c = fabs(v[vcoh]);
        int ci = c < 0.01 ? 0 : c < 0.05 ? 1 : c < 0.1 ? 2 : c < 0.2 ? 3 : c < 0.4 ? 4 : 5;
        st->coh_trials[ci]++;
        st->coh_success[ci] += ok;
        st->rt_sum[ci] += rt_steps[i];
      }
      evidence[i] = 0;
    }
  }
  free(evidence);
  free(go_step);
  free(rt_steps);
  am_pool_free(p);
}

//---------------------------------- every task: random actions ----------------------------------

// Runs random actions (uniform in ctrlrange, from a fixed-seed stream) and checks: finite
// observations and rewards, episode lengths equal to the env's step count, terminated and
// truncated exclusive, truncation only at max_steps (or instability), and trial events in order:
// trial_start first, trial_end last, and the largest event code of a step never below the
// largest code seen earlier in the trial (codes are numbered in trial order).
static void check_random(const char* name, int n_envs, int steps, const char* const* kv) {
  am_task t;
  amt_params p;
  memset(&p, 0, sizeof p);
  for (; kv && *kv; kv++)
    if (amt_params_add(&p, *kv, err, sizeof err)) fail_msg("%s", err);
  if (amt_create(&t, name, &p, err, sizeof err)) fail_msg("%s: %s", name, err);
  am_pool* pool = make_pool(&t, n_envs, 11);
  am_batch* b = am_pool_batch(pool);
  const mjModel* m = t.model->m;
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  int e_start = find_event(&t, "trial_start"), e_end = find_event(&t, "trial_end");
  int e_reward = find_event(&t, "reward");
  int* max_code = calloc((size_t)n_envs, sizeof(int));
  int* in_trial = calloc((size_t)n_envs, sizeof(int));
  int episodes = 0, trials = 0;
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < n_envs * t.act_dim; i++) {
      int u = i % t.act_dim;
      double lo = m->actuator_ctrlrange[2 * u], hi = m->actuator_ctrlrange[2 * u + 1];
      b->actions[i] = (float)am_rng_range(&rng, lo, hi);
    }
    int64_t len_before[256];
    for (int i = 0; i < n_envs && i < 256; i++) len_before[i] = am_pool_env(pool, i)->step;
    am_pool_step(pool);
    for (int i = 0; i < n_envs; i++) {
      for (int k = 0; k < t.obs_dim; k++) assert_true(isfinite(b->obs[(size_t)i * t.obs_dim + k]));
      assert_true(isfinite(b->rewards[i]));
      assert_false(b->terminated[i] && b->truncated[i]);
      assert_int_equal(b->ep_step[i], len_before[i]);
      int done = b->terminated[i] || b->truncated[i];
      if (b->truncated[i] && !b->unstable[i]) assert_int_equal(b->ep_step[i] + 1, t.max_steps);
      assert_false(b->unstable[i]);
      uint32_t ev = b->events[i];
      assert_true(t.n_events == 32 || (ev >> t.n_events) == 0);
      if (e_start >= 0 && ev) {
        if (ev & (1u << e_start)) {
          assert_false(in_trial[i]);  // the previous trial ended first
          in_trial[i] = 1;
          max_code[i] = 0;
        } else {
          assert_true(in_trial[i]);  // no event outside a trial
        }
        uint32_t ordered = e_reward >= 0 ? ev & ~(1u << e_reward) : ev;  // reward: any time
        if (!ordered) continue;
        int top = 31 - __builtin_clz(ordered);
        if (top < max_code[i])
          fail_msg("%s env %d step %d: event %s after %s", name, i, s, t.events[top],
                   t.events[max_code[i]]);
        max_code[i] = top;
        if (ev & (1u << e_end)) {
          assert_int_equal(top, e_end);
          in_trial[i] = 0;
          trials++;
        }
      }
      if (b->terminated[i] && e_end >= 0) assert_true(ev & (1u << e_end));
      if (done) {
        episodes++;
        in_trial[i] = 0;
      }
    }
  }
  printf("# %s random actions: %d episodes, %d trials in %d x %d steps\n", name, episodes, trials,
         n_envs, steps);
  assert_true(episodes >= n_envs);
  free(max_code);
  free(in_trial);
  am_pool_free(pool);
  amt_destroy(&t);
}

static void test_random_arm(void** state) {
  const char* none[] = {NULL};
  const char* multi[] = {"trials=3", "delay=0", NULL};
  const char* rt[] = {"variant=rt", "rt_max=0.5", NULL};
  // a wide start zone: random flailing stays "at the start" long enough to see go cues
  const char* easy[] = {"start_radius=0.06", "distance=0.15", NULL};
  const char* easy_random[] = {"start_radius=0.06", NULL};
  check_random("reach-center-out", 8, 400, none);
  check_random("reach-center-out", 8, 400, multi);
  check_random("reach-center-out", 8, 300, easy);
  check_random("reach-random", 8, 300, easy_random);
  check_random("force-field", 8, 300, easy);
  check_random("visuomotor-rotation", 8, 300, easy);
  check_random("decision-reach", 8, 300, none);
  check_random("decision-reach", 8, 300, rt);
  check_random("romo-reach", 8, 300, easy_random);
  check_random("mante-reach", 8, 300, rt);
  check_random("multisensory-reach", 8, 300, rt);
  check_random("value-reach", 8, 300, rt);
}

// With zero actions the rat stands on each task's ground (terrain, platforms, maze floor): the
// scene's collision geometry is really under it, not parked away.
static void check_rat_stands(const char* name) {
  am_task t;
  make_task(&t, name, "episode_time=1", NULL);
  am_pool* p = make_pool(&t, 2, 4);
  am_batch* b = am_pool_batch(p);
  int vz = find_var(&t, "root_z");
  memset(b->actions, 0, sizeof(float) * 2 * (size_t)t.act_dim);
  for (int s = 0; s < 40; s++) am_pool_step(p);
  for (int i = 0; i < 2; i++) {
    float z = b->vars[(size_t)i * t.n_vars + vz];
    if (!(z > 0.02 && z < 0.3)) fail_msg("%s: rat torso at z %g after 0.8 s standing", name, z);
  }
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_random_rat(void** state) {
  check_rat_stands("run-gaps");
  check_rat_stands("escape-bowl");
  check_rat_stands("forage-maze");
  const char* short_ep[] = {"episode_time=1", NULL};
  const char* tap[] = {"episode_time=1", "arena=0.05", "prev_inputs=1", "obs_noise=0.1", NULL};
  check_random("run", 4, 60, short_ep);
  check_random("run-gaps", 4, 60, short_ep);
  check_random("escape-bowl", 4, 60, short_ep);
  check_random("forage-maze", 4, 60, short_ep);
  check_random("two-tap", 4, 60, tap);
  const char* water[] = {"episode_time=1", "search_time=0.2", NULL};
  check_random("water-maze", 4, 60, water);
}

//---------------------------------- scripted controllers ------------------------------------------

static void test_scripted_center_out(void** state) {
  am_task t;
  make_task(&t, "reach-center-out", NULL);
  run_stats st;
  run_scripted(&t, 16, 1500, 0, 0, &st);
  printf("# reach-center-out scripted: %d/%d trials, catch %d/%d\n", st.success, st.trials,
         st.catch_success, st.catch_trials);
  assert_true(st.trials >= 30);
  assert_true(st.success >= 0.9 * st.trials);
  // The success metric is not trivially met: doing nothing only passes catch trials.
  amt_destroy(&t);
}

static void test_scripted_others(void** state) {
  am_task t;
  run_stats st;
  make_task(&t, "reach-random", NULL);
  run_scripted(&t, 16, 1200, 0, 0, &st);
  printf("# reach-random scripted: %d/%d\n", st.success, st.trials);
  assert_true(st.trials >= 30 && st.success >= 0.85 * st.trials);
  amt_destroy(&t);

  make_task(&t, "force-field", "baseline_trials=2", "field_trials=20", "washout_trials=2", NULL);
  run_scripted(&t, 16, 1500, 0, 0, &st);
  printf("# force-field (curl) scripted: %d/%d\n", st.success, st.trials);
  assert_true(st.trials >= 30 && st.success >= 0.8 * st.trials);
  amt_destroy(&t);

  make_task(&t, "visuomotor-rotation", "rotation=45", NULL);
  run_scripted(&t, 16, 1200, 45, 0, &st);  // aims through the rotation: solves it
  printf("# visuomotor-rotation (45 deg) scripted, compensating: %d/%d\n", st.success, st.trials);
  assert_true(st.trials >= 30 && st.success >= 0.9 * st.trials);
  run_stats naive;
  run_scripted(&t, 16, 1200, 0, 0, &naive);  // aims at the target itself: misses it
  printf("# visuomotor-rotation (45 deg) scripted, naive: %d/%d\n", naive.success, naive.trials);
  assert_true(naive.success <= 0.2 * naive.trials);
  amt_destroy(&t);

  for (int rt = 0; rt < 2; rt++) {
    make_task(&t, "decision-reach", rt ? "variant=rt" : "variant=fixed", NULL);
    run_scripted(&t, 16, 1500, 0, rt, &st);
    printf("# decision-reach (%s) scripted: %d/%d; accuracy by |coherence|:", rt ? "rt" : "fixed",
           st.success, st.trials);
    for (int c = 0; c < 6; c++)
      printf(" %.2f", st.coh_trials[c] ? (double)st.coh_success[c] / st.coh_trials[c] : -1);
    printf("; mean RT (steps from go):");
    for (int c = 0; c < 6; c++) printf(" %.1f", st.coh_trials[c] ? st.rt_sum[c] / st.coh_trials[c] : -1);
    printf("\n");
    assert_true(st.trials >= 40);
    if (rt) assert_true(st.rt_sum[5] / st.coh_trials[5] < st.rt_sum[0] / st.coh_trials[0]);
    // strong evidence: nearly always right; zero coherence: chance
    assert_true(st.coh_success[5] >= 0.85 * st.coh_trials[5]);
    assert_true(st.coh_success[0] <= 0.85 * st.coh_trials[0] + 1);
    amt_destroy(&t);
  }
}

//---------------------------------- decision-reach rules ------------------------------------------

// One decision-reach trial of env 0 driven by the scripted arm: the hand holds at the start (fix:
// 0: at the start during FIX, 1: 0.06 m below it, so the fixation never completes), waits `wait`
// steps after the go cue (-1: forever), then reaches to the correct (side = 1) or wrong (-1)
// target. Records the step of each event, the terms and what the policy saw.
typedef struct dec_obs {
  int go, stim_off, onset, error, reached, hold, timeout, end, reward;  // steps (-1: none)
  int stim_steps;           // steps whose observation showed the stimulus on
  int stim_fixed;           // of those, steps before the go cue (the fixed variant's stimulus)
  double max_dev;           // largest |evidence - coherence| while the stimulus was shown
  double prox_waiting;      // proximity reward summed over steps after go with the hand at start
  double prox_moving;       // proximity reward summed after movement onset
  double abort_term, coherence, choice;
} dec_obs;

static void dec_trial(const am_task* t, am_pool* p, int fix, int wait, int side, dec_obs* r) {
  am_batch* b = am_pool_batch(p);
  int off = t->groups[am_find_group(t->groups, t->n_groups, "task")].offset;
  int vsx = find_var(t, "start_x"), vcoh = find_var(t, "coherence"), vch = find_var(t, "choice");
  const char* names[] = {"go_cue", "stim_off", "movement_onset", "error", "target_reached",
                         "hold_complete", "timeout", "trial_end", "reward"};
  int code[9];
  for (int k = 0; k < 9; k++) code[k] = find_event(t, names[k]);
  int* at[9] = {&r->go, &r->stim_off, &r->onset, &r->error, &r->reached, &r->hold, &r->timeout,
                &r->end, &r->reward};
  memset(r, 0, sizeof *r);
  for (int k = 0; k < 9; k++) *at[k] = -1;
  arm_ctl k = {.kp = 3.0, .kd = 0.1, .c0 = 0.3};
  am_env* e = am_pool_env(p, 0);
  for (int s = 0; s < 1000 && r->end < 0; s++) {
    const float* v = b->vars;
    double goal[2] = {v[vsx], v[vsx + 1]};
    if (r->go < 0 && fix) goal[1] -= 0.06;
    double sign = v[vcoh] >= 0 ? 1 : -1;
    if (r->go >= 0 && wait >= 0 && s - r->go > wait) goal[0] += side * sign * 0.1;
    arm_command(&k, e->d, goal, b->actions);
    am_pool_step(p);
    const float* o = b->terminated[0] ? b->final_obs + off : b->obs + off;
    for (int j = 0; j < 9; j++)
      if (code[j] >= 0 && (b->events[0] & (1u << code[j])) && *at[j] < 0) *at[j] = s;
    if (o[1] > 0.5) {
      r->stim_steps++;
      r->stim_fixed += r->go < 0;
      r->max_dev = fmax(r->max_dev, fabs(o[0] - v[vcoh]));
    }
    if (r->go >= 0 && r->onset < 0) r->prox_waiting += b->terms[1];
    if (r->onset >= 0) r->prox_moving += b->terms[1];
    r->abort_term += b->terms[4];
    r->coherence = v[vcoh];
    r->choice = v[vch];
  }
}

// The rules that make the task learnable (docs/tasks.md, decision-reach): rt: the stimulus stays
// on while the hand waits at the start and ends when it leaves (movement_onset); no shaping while
// waiting, then proximity toward the correct target; the wrong target is an error costing
// error_penalty; a timeout (no response; no fixation) costs abort_penalty. The curriculum's
// schedule: the first trials have the highest coherence, no noise and (fixed) a short stimulus.
static void test_decision_rules(void** state) {
  am_task t;
  make_task(&t, "decision-reach", "variant=rt", "coherences=0.256", "noise=0", "rt_max=1",
            "error_penalty=0.5", "abort_penalty=1", NULL);
  am_pool* p = make_pool(&t, 1, 3);
  dec_obs r;
  dec_trial(&t, p, 0, 40, 1, &r);  // waits 0.4 s, then the correct target
  assert_true(r.go >= 0 && r.onset > r.go + 30 && r.stim_off == r.onset);
  assert_int_equal(r.stim_steps, r.onset - r.go);  // evidence shown from go until leaving
  assert_true(r.max_dev == 0);  // noise 0: the sample is the coherence
  assert_true(r.prox_waiting == 0 && r.prox_moving > 0);
  assert_true(r.reached > r.onset && r.hold > r.reached && r.reward == r.end && r.error < 0);
  assert_true(r.choice == (r.coherence > 0 ? 1 : -1) && r.abort_term == 0);
  dec_trial(&t, p, 0, 5, -1, &r);  // the wrong target: an error, error_penalty
  assert_true(r.error > r.onset && r.error == r.end && r.reward < 0 && r.reached < 0);
  assert_true(r.choice == (r.coherence > 0 ? -1 : 1));
  assert_float_equal(r.abort_term, -0.5, 1e-6);
  assert_true(r.prox_moving < 0.05);  // shaping only near the correct target
  dec_trial(&t, p, 0, -1, 0, &r);  // never responds: timeout at rt_max, abort_penalty
  assert_true(r.timeout == r.end && r.timeout - r.go == 100 && r.stim_steps == 100);
  assert_float_equal(r.abort_term, -1, 1e-6);
  am_pool_free(p);
  amt_destroy(&t);

  make_task(&t, "decision-reach", "variant=fixed", "fix_timeout=0.5", NULL);
  p = make_pool(&t, 1, 3);
  dec_trial(&t, p, 1, 0, 1, &r);  // away from the start: the fixation times out, costing 1
  assert_true(r.go < 0 && r.timeout == r.end && r.end < 60);
  assert_float_equal(r.abort_term, -1, 1e-6);
  am_pool_free(p);
  amt_destroy(&t);

  // Curriculum over 4 trials: f = 1, 0.75, 0.5, 0.25, then 0. Noise x (1 - f), stim_time x
  // (1 - f) (at least one step); with probability f the highest coherence and, apart, a stimulus
  // that lasts until the choice (f = 1: always; f = 0: never).
  make_task(&t, "decision-reach", "variant=fixed", "curriculum=4", "coherences=0,0.512",
            "noise=2", "stim_time=0.4", "start_radius=0.03", NULL);
  p = make_pool(&t, 1, 5);
  int stim[6];
  double dev[6];
  for (int i = 0; i < 6; i++) {
    dec_trial(&t, p, 0, 10, 1, &r);
    stim[i] = r.stim_fixed, dev[i] = r.max_dev;
    if (i == 0) {  // f = 1: the highest coherence, and the evidence stays on until the choice
      assert_float_equal(fabs(r.coherence), 0.512, 1e-6);
      assert_true(r.stim_off == r.reached && r.stim_steps > r.stim_fixed);
    }
    if (i >= 4) assert_true(r.stim_off == r.go - 0 && r.stim_steps == r.stim_fixed);
  }
  int want[6] = {1, 10, 20, 30, 40, 40};
  for (int i = 0; i < 6; i++) assert_int_equal(stim[i], want[i]);
  assert_true(dev[0] == 0);                       // no noise at f = 1
  assert_true(dev[2] > 0.5 && dev[2] < 1 * 4);    // noise 1 (20 samples)
  assert_true(dev[4] > 2 && dev[4] < 2 * 4.5);    // the full noise 2 (40 samples)
  am_pool_free(p);
  amt_destroy(&t);
}

// bandit-reach: a hand that always reaches left chooses left (choice -1) in every completed trial;
// the reward event pays reward_success and comes with the left arm's probability; the task group
// shows the previous trial's choice and reward.
static void test_bandit_reach_rules(void** state) {
  am_task t;
  make_task(&t, "bandit-reach", "trials=4", "variant=dependent", "reward_success=3", NULL);
  am_pool* p = make_pool(&t, 1, 3);
  am_batch* b = am_pool_batch(p);
  int off = t.groups[am_find_group(t.groups, t.n_groups, "task")].offset;
  int vsx = find_var(&t, "start_x"), vch = find_var(&t, "choice"), vpl = find_var(&t, "p_left");
  int vpr = find_var(&t, "p_right"), e_go = find_event(&t, "go_cue");
  int e_rew = find_event(&t, "reward"), e_hold = find_event(&t, "hold_complete");
  int e_end = find_event(&t, "trial_end");
  arm_ctl k = {.kp = 3.0, .kd = 0.1, .c0 = 0.3};
  am_env* e = am_pool_env(p, 0);
  int go = 0, held = 0, rewarded = 0, last_reward = -1;
  double p_sum = 0;
  for (int s = 0; s < 40000; s++) {
    const float* v = b->vars;
    double goal[2] = {v[vsx], v[vsx + 1]};
    if (go) goal[0] -= 0.1;  // the left target
    arm_command(&k, e->d, goal, b->actions);
    am_pool_step(p);
    uint32_t ev = b->events[0];
    if (ev & (1u << e_go)) go = 1;
    assert_float_equal(b->vars[vpr], 1 - b->vars[vpl], 1e-6);
    if (ev & (1u << e_hold)) {
      held++;
      assert_float_equal(b->vars[vch], -1, 0);
      p_sum += b->vars[vpl];
      if (ev & (1u << e_rew)) rewarded++, assert_float_equal(b->terms[0], 3, 1e-6);
      else assert_float_equal(b->terms[0], 0, 0);
      last_reward = !!(ev & (1u << e_rew));
    }
    if (ev & (1u << e_end)) go = 0;
    const float* o = b->obs + off;
    if (!b->terminated[0] && last_reward >= 0 && !(ev & (1u << e_end)) && go)
      assert_true(o[0] == -1 && o[1] == last_reward);  // the previous trial's feedback
    if (b->terminated[0]) last_reward = -1;
  }
  assert_true(held > 300);  // the scripted hand completes most trials
  assert_true(fabs((double)rewarded / held - p_sum / held) < 0.08);
  am_pool_free(p);
  amt_destroy(&t);
}

//---------------------------------- romo-reach rules ----------------------------------------------

// One romo-reach trial of env 0 driven by the scripted arm: the hand holds at the start, except
// that `leave` = 1 leaves it during the delay; after the go cue it waits `wait` steps and reaches
// to the correct (side = 1) or wrong (-1) target (side 0: stays). Records the step of each event
// (-1: none), what the task group showed, and the trial's variables at its end.
typedef struct romo_obs {
  int ev[16];                   // step of the first occurrence of event code k (-1: none)
  double shown_f1, shown_f2;    // task observation 0 during f1 and during f2 (last seen)
  int f1_steps, f2_steps, delay_dark;  // steps showing f1, f2; delay steps with nothing shown
  double f1, f2, df, choice, outcome, target_x, start_x, abort_term, reward;
} romo_obs;

static void romo_trial(const am_task* t, am_pool* p, int leave, int wait, int side, romo_obs* r) {
  am_batch* b = am_pool_batch(p);
  int off = t->groups[am_find_group(t->groups, t->n_groups, "task")].offset;
  int vsx = find_var(t, "start_x"), vdf = find_var(t, "df"), vf1 = find_var(t, "f1");
  int vf2 = find_var(t, "f2"), vch = find_var(t, "choice"), vo = find_var(t, "outcome");
  int vtx = find_var(t, "target_x");
  int e_go = find_event(t, "go_cue"), e_off = find_event(t, "stim_off");
  int e_on2 = find_event(t, "stim2_on"), e_end = find_event(t, "trial_end");
  memset(r, 0, sizeof *r);
  for (int k = 0; k < 16; k++) r->ev[k] = -1;
  arm_ctl k = {.kp = 3.0, .kd = 0.1, .c0 = 0.3};
  am_env* e = am_pool_env(p, 0);
  for (int s = 0; s < 1000 && r->ev[e_end] < 0; s++) {
    const float* v = b->vars;
    double goal[2] = {v[vsx], v[vsx + 1]};
    if (leave && r->ev[e_off] >= 0) goal[1] -= 0.06;
    double right = v[vdf] > 0 ? 1 : -1;
    if (r->ev[e_go] >= 0 && s - r->ev[e_go] > wait) goal[0] += side * right * 0.1;
    arm_command(&k, e->d, goal, b->actions);
    am_pool_step(p);
    for (int j = 0; j < t->n_events; j++)
      if ((b->events[0] & (1u << j)) && r->ev[j] < 0) r->ev[j] = s;
    const float* o = b->terminated[0] ? b->final_obs + off : b->obs + off;
    if (o[1] > 0.5 && r->ev[e_on2] < 0) r->f1_steps++, r->shown_f1 = o[0];
    if (o[1] > 0.5 && r->ev[e_on2] >= 0) r->f2_steps++, r->shown_f2 = o[0];
    if (o[1] < 0.5 && o[0] == 0 && r->ev[e_off] >= 0 && r->ev[e_on2] < 0) r->delay_dark++;
    r->abort_term += b->terms[4];
    r->reward += b->rewards[0];
    r->f1 = v[vf1], r->f2 = v[vf2], r->df = v[vdf], r->choice = v[vch], r->outcome = v[vo];
    r->target_x = v[vtx], r->start_x = v[vsx];
  }
}

// The rules of romo-reach (docs/tasks.md): target_on and f1 (stim_on) when the fixation hold
// completes; f1 for stim_time, then a delay in which nothing is shown; then f2 (stim2_on) with
// the go cue, shown until the hand leaves the start (stim2_off = movement_onset); the correct
// target is right when f1 > f2; the wrong one is an error; leaving during the delay aborts; the
// observation shows (f - 22 Hz) / 10 Hz; the variables hold f1, f2, df = f1 - f2 and the choice.
static void test_romo_rules(void** state) {
  am_task t;
  make_task(&t, "romo-reach", "f1=14,30", "df=4,8", "noise=0", "delay=0.3", "stim_time=0.1",
            "error_penalty=0.5", "abort_penalty=1", NULL);
  int E[16];
  const char* names[] = {"trial_start", "target_on", "stim_on", "stim_off", "stim2_on", "go_cue",
                         "movement_onset", "stim2_off", "target_reached", "hold_complete",
                         "reward", "error", "abort", "timeout", "trial_end"};
  assert_int_equal(t.n_events, 15);
  for (int j = 0; j < 15; j++) assert_int_equal(E[j] = find_event(&t, names[j]), j);
  am_pool* p = make_pool(&t, 1, 3);
  romo_obs r;
  int rights = 0, lefts = 0;
  for (int trial = 0; trial < 12; trial++) {
    romo_trial(&t, p, 0, 5, 1, &r);  // the correct target
    assert_true(r.f1 == 14 || r.f1 == 30);
    assert_true(fabs(r.df) == 4 || fabs(r.df) == 8);
    assert_float_equal(r.df, r.f1 - r.f2, 1e-6);
    assert_float_equal(r.shown_f1, (r.f1 - 22) / 10, 1e-6);
    assert_float_equal(r.shown_f2, (r.f2 - 22) / 10, 1e-6);
    assert_true(r.ev[E[1]] >= 0 && r.ev[E[2]] == r.ev[E[1]]);  // targets and f1 together
    assert_int_equal(r.ev[E[3]] - r.ev[E[2]], 10);             // f1: 0.1 s
    assert_int_equal(r.ev[E[4]] - r.ev[E[3]], 30);             // delay: 0.3 s
    assert_int_equal(r.f1_steps, 10);
    assert_int_equal(r.delay_dark, 30);
    assert_true(r.ev[E[5]] == r.ev[E[4]]);                     // go with f2
    assert_true(r.ev[E[6]] > r.ev[E[5]] && r.ev[E[7]] == r.ev[E[6]]);  // f2 until leaving
    assert_int_equal(r.f2_steps, r.ev[E[6]] - r.ev[E[5]]);
    assert_true(r.ev[E[8]] > r.ev[E[6]] && r.ev[E[9]] > r.ev[E[8]] && r.ev[E[10]] == r.ev[E[14]]);
    assert_true(r.ev[E[11]] < 0 && r.ev[E[12]] < 0 && r.ev[E[13]] < 0);
    double side = r.df > 0 ? 1 : -1;  // f1 > f2: right
    assert_float_equal(r.target_x - r.start_x, side * 0.1, 1e-6);
    assert_true(r.choice == side && r.outcome == 1 && r.abort_term == 0);
    rights += side > 0, lefts += side < 0;
  }
  assert_true(rights >= 2 && lefts >= 2);
  romo_trial(&t, p, 0, 5, -1, &r);  // the wrong target: an error costing error_penalty
  assert_true(r.ev[E[11]] >= 0 && r.ev[E[11]] == r.ev[E[14]] && r.ev[E[8]] < 0);
  assert_true(r.choice == (r.df > 0 ? -1 : 1) && r.outcome == -1);
  assert_float_equal(r.abort_term, -0.5, 1e-6);
  romo_trial(&t, p, 1, 5, 1, &r);  // leaves during the delay: abort, no f2, abort_penalty
  assert_true(r.ev[E[12]] > r.ev[E[3]] && r.ev[E[12]] == r.ev[E[14]] && r.ev[E[4]] < 0);
  assert_float_equal(r.abort_term, -1, 1e-6);
  romo_trial(&t, p, 0, 5, 0, &r);  // never responds: timeout at rt_max (1 s), f2 shown throughout
  assert_true(r.ev[E[13]] == r.ev[E[14]] && r.ev[E[13]] - r.ev[E[5]] == 100 && r.f2_steps == 100);
  assert_float_equal(r.abort_term, -1, 1e-6);
  am_pool_free(p);
  amt_destroy(&t);

  // Curriculum over 3 trials: the first (f = 1) has the largest |df|, its delay scaled to 0
  // (one dark step: the delay epoch lasts at least one step) and f2 shown until the choice; at
  // f = 0 the documented delay and f2 until the hand leaves the start.
  make_task(&t, "romo-reach", "noise=0", "curriculum=3", "start_radius=0.03", NULL);
  p = make_pool(&t, 1, 9);
  romo_trial(&t, p, 0, 5, 1, &r);  // f = 1
  assert_float_equal(fabs(r.df), 8, 1e-6);
  assert_int_equal(r.delay_dark, 1);
  assert_true(r.ev[E[7]] == r.ev[E[8]]);  // f2 off when the target is entered
  for (int i = 0; i < 3; i++) romo_trial(&t, p, 0, 5, 1, &r);  // f = 2/3, 1/3, 0
  assert_true(r.ev[E[7]] == r.ev[E[6]] && r.delay_dark >= 20 && r.delay_dark <= 40);
  am_pool_free(p);
  amt_destroy(&t);
}

// mante-reach (docs/tasks.md): the context cue (one-hot, task observations 7 and 8) says which
// stream to report: motion (observation 0) or colour (observation 6), each its signed coherence
// plus noise; the correct target is the cued stream's sign. A scripted integrator of the cued
// stream is right on nearly every strong trial and agrees with the uncued stream's sign only at
// chance; one integrating the uncued stream is at chance against the correct side.
static void test_mante_rules(void** state) {
  am_task t;
  make_task(&t, "mante-reach", "variant=fixed", "coherences=0.128,0.512", "noise=0",
            "stim_time=0.1", NULL);
  int off = t.groups[am_find_group(t.groups, t.n_groups, "task")].offset;
  assert_int_equal(t.groups[am_find_group(t.groups, t.n_groups, "task")].size, 9);
  int vm = find_var(&t, "motion"), vc = find_var(&t, "colour"), vx = find_var(&t, "context");
  int vtx = find_var(&t, "target_x"), vsx = find_var(&t, "start_x"), vch = find_var(&t, "choice");
  int vo = find_var(&t, "outcome"), e_end = find_event(&t, "trial_end");
  assert_true(t.n_conditions == 3 && !strcmp(t.vars[t.conditions[0]], "motion") &&
              !strcmp(t.vars[t.conditions[2]], "context"));
  // noise 0: the samples are the coherences; the cue is the context; the target is its sign
  am_pool* p = make_pool(&t, 4, 2);
  am_batch* b = am_pool_batch(p);
  int shown = 0, ctx[2] = {0, 0};
  for (int s = 0; s < 400; s++) {
    memset(b->actions, 0, sizeof(float) * 4 * (size_t)t.act_dim);
    am_pool_step(p);
    for (int i = 0; i < 4; i++) {
      const float* o = b->obs + (size_t)i * t.obs_dim + off;
      const float* v = b->vars + (size_t)i * t.n_vars;
      if (b->terminated[i] || b->truncated[i]) continue;
      assert_true((o[7] == 1 && o[8] == 0 && v[vx] == 0) || (o[7] == 0 && o[8] == 1 && v[vx] == 1));
      double cued = v[vx] ? v[vc] : v[vm];
      assert_float_equal(v[vtx] - v[vsx], (cued > 0 ? 0.1 : -0.1), 1e-6);
      if (o[1] > 0.5) {
        assert_float_equal(o[0], v[vm], 1e-6);
        assert_float_equal(o[6], v[vc], 1e-6);
        shown++;
        ctx[(int)v[vx]]++;
      }
    }
  }
  assert_true(shown > 20 && ctx[0] > 0 && ctx[1] > 0);
  am_pool_free(p);
  amt_destroy(&t);

  // scripted integrators of the cued stream and of the uncued one, with noise
  make_task(&t, "mante-reach", "variant=fixed", "coherences=0.512", "noise=1", NULL);
  for (int use_cued = 1; use_cued >= 0; use_cued--) {
    p = make_pool(&t, 16, 4);
    b = am_pool_batch(p);
    double acc[16] = {0};
    int trials = 0, correct = 0;
    arm_ctl k = {.kp = 3.0, .kd = 0.1, .c0 = 0.3};
    for (int s = 0; s < 1500; s++) {
      for (int i = 0; i < 16; i++) {
        const float* o = b->obs + (size_t)i * t.obs_dim + off;
        const float* v = b->vars + (size_t)i * t.n_vars;
        int cue_colour = o[8] > 0.5;
        int read_colour = use_cued ? cue_colour : !cue_colour;
        if (o[1] > 0.5) acc[i] += read_colour ? o[6] : o[0];
        double goal[2] = {v[vsx], v[vsx + 1]};
        if (o[3] > 0.5) goal[0] += acc[i] >= 0 ? 0.1 : -0.1;
        arm_command(&k, am_pool_env(p, i)->d, goal, b->actions + (size_t)i * t.act_dim);
      }
      am_pool_step(p);
      for (int i = 0; i < 16; i++) {
        if (!(b->events[i] & (1u << e_end))) continue;
        const float* v = b->vars + (size_t)i * t.n_vars;
        if (v[vch] != 0) trials++, correct += v[vo] > 0;
        acc[i] = 0;
      }
    }
    printf("# mante-reach scripted, integrating the %s stream: %d/%d correct\n",
           use_cued ? "cued" : "uncued", correct, trials);
    assert_true(trials >= 40);
    if (use_cued) assert_true(correct >= 0.9 * trials);
    else assert_true(correct >= 0.3 * trials && correct <= 0.7 * trials);
    am_pool_free(p);
  }
  amt_destroy(&t);
}

// multisensory-reach (docs/tasks.md): per trial one signed strength, shown by the visual stream
// (task observation 0, carrier 7), the auditory one (6, carrier 8) or both; a stream not shown is
// exactly 0 and its carrier off; each stream's noise is its own (noise, noise2); the modalities
// come in the set proportions; the correct target is the strength's sign. Bad weights and a
// negative noise2 are refused.
static void test_multisensory_rules(void** state) {
  am_task t;
  make_task(&t, "multisensory-reach", "variant=rt", "rt_max=0.3", "coherences=0.5", "noise=0.5",
            "noise2=2", "modality_weights=1,2,1", NULL);
  int off = t.groups[am_find_group(t.groups, t.n_groups, "task")].offset;
  assert_int_equal(t.groups[am_find_group(t.groups, t.n_groups, "task")].size, 9);
  int vc = find_var(&t, "coherence"), vm = find_var(&t, "modality"), vtx = find_var(&t, "target_x");
  int vsx = find_var(&t, "start_x"), e_start = find_event(&t, "trial_start");
  assert_true(t.n_conditions == 2 && !strcmp(t.vars[t.conditions[0]], "coherence") &&
              !strcmp(t.vars[t.conditions[1]], "modality"));
  am_pool* p = make_pool(&t, 16, 3);
  am_batch* b = am_pool_batch(p);
  int trials[3] = {0, 0, 0}, n[2] = {0, 0};
  double sum[2] = {0, 0}, sum2[2] = {0, 0};
  for (int s = 0; s < 3000; s++) {
    memset(b->actions, 0, sizeof(float) * 16 * (size_t)t.act_dim);  // the hand stays: timeouts
    am_pool_step(p);
    for (int i = 0; i < 16; i++) {
      if (b->terminated[i] || b->truncated[i]) continue;
      const float* o = b->obs + (size_t)i * t.obs_dim + off;
      const float* v = b->vars + (size_t)i * t.n_vars;
      int m = (int)v[vm], vis = m != 1, aud = m != 0;
      assert_true(m >= 0 && m <= 2 && fabs(v[vc]) == 0.5f);
      assert_float_equal(v[vtx] - v[vsx], v[vc] > 0 ? 0.1 : -0.1, 1e-6);
      if (b->events[i] & (1u << e_start)) trials[m]++;
      assert_true(o[7] == (float)(o[1] > 0.5 && vis) && o[8] == (float)(o[1] > 0.5 && aud));
      if (o[1] < 0.5 || !vis) assert_true(o[0] == 0);
      if (o[1] < 0.5 || !aud) assert_true(o[6] == 0);
      for (int k = 0; k < 2; k++)
        if (o[7 + k] > 0.5) {
          double r = o[k ? 6 : 0] - v[vc];
          n[k]++, sum[k] += r, sum2[k] += r * r;
        }
    }
  }
  int all = trials[0] + trials[1] + trials[2];
  double sd0 = sqrt(sum2[0] / n[0]), sd1 = sqrt(sum2[1] / n[1]);
  printf("# multisensory-reach: trials %d/%d/%d, visual noise %.3f (%d samples), auditory %.3f "
         "(%d)\n", trials[0], trials[1], trials[2], sd0, n[0], sd1, n[1]);
  assert_true(all > 300 && fabs((double)trials[1] / all - 0.5) < 0.08 &&
              fabs((double)trials[0] / all - 0.25) < 0.08);
  assert_true(fabs(sd0 - 0.5) < 0.03 && fabs(sd1 - 2) < 0.12);
  assert_true(fabs(sum[0] / n[0]) < 0.05 && fabs(sum[1] / n[1]) < 0.2);
  am_pool_free(p);
  amt_destroy(&t);
  const char* bad[] = {"modality_weights=1,1", "modality_weights=0,0,0", "modality_weights=1,-1,1",
                       "noise2=-1"};
  for (int i = 0; i < 4; i++) expect_refused("multisensory-reach", bad[i]);
}

// value-reach (docs/tasks.md): the offers are observed per side as drops / 5 (task observations
// 0 left A, 6 left B, 7 right A, 8 right B); either target is taken and held for the chosen offer's value (reward_success
// x value / the best offer type's value; no error event); the variables hold the offers, their
// values (A: rho qA, in drops of B), B's side, log(qB/qA) and the chosen value. A scripted chooser
// that values A at rho' picks the better offer on every trial when rho' = rho and takes less
// value when rho' = 1.
static double value_run(const am_task* t, double rho_agent, int relative, int* trials, int* best) {
  am_pool* p = make_pool(t, 8, 6);
  am_batch* b = am_pool_batch(p);
  int off = t->groups[am_find_group(t->groups, t->n_groups, "task")].offset;
  int vsx = find_var(t, "start_x"), vqa = find_var(t, "offer_a"), vqb = find_var(t, "offer_b");
  int vva = find_var(t, "value_a"), vvb = find_var(t, "value_b"), vbs = find_var(t, "b_side");
  int vlr = find_var(t, "log_ratio"), vcv = find_var(t, "chosen_value");
  int vch = find_var(t, "choice"), vtx = find_var(t, "target_x");
  int e_end = find_event(t, "trial_end"), e_hold = find_event(t, "hold_complete");
  assert_true(find_event(t, "error") < 0);
  double total = 0, pick[8] = {0};
  *trials = *best = 0;
  arm_ctl k = {.kp = 3.0, .kd = 0.1, .c0 = 0.3};
  for (int s = 0; s < 1500; s++) {
    for (int i = 0; i < 8; i++) {
      const float* o = b->obs + (size_t)i * t->obs_dim + off;
      const float* v = b->vars + (size_t)i * t->n_vars;
      double goal[2] = {v[vsx], v[vsx + 1]};
      if (o[1] > 0.5) {  // offers on, per side (left A, left B, right A, right B): A = rho_agent B
        int a_right = v[vbs] < 0;
        assert_float_equal(o[a_right ? 7 : 0], v[vqa] / 5, 1e-6);
        assert_float_equal(o[a_right ? 6 : 8], v[vqb] / 5, 1e-6);
        assert_true(o[a_right ? 0 : 7] == 0 && o[a_right ? 8 : 6] == 0);
        double left = rho_agent * o[0] + o[6], right = rho_agent * o[7] + o[8];
        pick[i] = right > left ? 1 : -1;
      }
      if (o[3] > 0.5) goal[0] += 0.1 * pick[i];  // after the go cue: the pick
      arm_command(&k, am_pool_env(p, i)->d, goal, b->actions + (size_t)i * t->act_dim);
    }
    am_pool_step(p);
    for (int i = 0; i < 8; i++) {
      if (!(b->events[i] & (1u << e_end))) continue;
      const float* v = b->vars + (size_t)i * t->n_vars;
      assert_true(b->events[i] & (1u << e_hold));  // either offer completes the trial
      assert_float_equal(v[vva], 2.5 * v[vqa], 1e-5);
      assert_float_equal(v[vvb], v[vqb], 1e-6);
      assert_float_equal(v[vlr], log(v[vqb] / v[vqa]), 1e-5);
      double chosen = v[vch] == v[vbs] ? v[vvb] : v[vva];
      assert_float_equal(v[vcv], chosen, 1e-5);
      double other = v[vch] == v[vbs] ? v[vva] : v[vvb];  // the best offer type: 10 A = 25 B
      assert_float_equal(b->terms[(size_t)i * t->n_terms], 4 * (chosen - relative * other) / 25,
                         1e-5);
      assert_float_equal(v[vtx] - v[vsx], 0.1 * v[vch], 1e-6);  // the target held: the chosen
      *best += fabs(chosen - fmax(v[vva], v[vvb])) < 1e-6;
      (*trials)++;
      total += chosen;
    }
  }
  am_pool_free(p);
  return total;
}

static void test_value_rules(void** state) {
  am_task t;
  make_task(&t, "value-reach", "variant=fixed", "stim_time=0.1", "offers=1:1,1:2,1:3,10:1",
            "rho=2.5", "reward_success=4", NULL);
  int n1, b1, n2, b2;
  double v1 = value_run(&t, 2.5, 0, &n1, &b1), v2 = value_run(&t, 1, 0, &n2, &b2);
  printf("# value-reach scripted: rho' = rho: %d/%d best offers, mean value %.3f; rho' = 1: "
         "%d/%d, mean value %.3f\n", b1, n1, v1 / n1, b2, n2, v2 / n2);
  assert_true(n1 >= 40 && n2 >= 40);
  assert_int_equal(b1, n1);
  assert_true(b2 < n2 && v2 / n2 < v1 / n1);
  amt_destroy(&t);
  // relative=1: the reward is the chosen minus the unchosen value (negative for the worse offer)
  make_task(&t, "value-reach", "variant=fixed", "stim_time=0.1", "offers=1:1,1:2,1:3,10:1",
            "rho=2.5", "reward_success=4", "relative=1", NULL);
  value_run(&t, 1, 1, &n2, &b2);
  assert_true(n2 >= 40 && b2 < n2);
  amt_destroy(&t);
  // offer_curriculum=1: over each env's first 40 of curriculum=50 trials (f from 1 to 0.2) only
  // the offer types at least f x 7.5 (1:10's |rho qA - qB|) apart: 1:10 (7.5) first, then 2:1
  // (4), 1:6 (3.5), never 1:2 or 1:3 (0.5)
  make_task(&t, "value-reach", "variant=rt", "rt_max=0.1", "rho=2.5", "curriculum=50",
            "offer_curriculum=1", NULL);
  {
    enum { NE = 8 };
    am_pool* p = make_pool(&t, NE, 5);
    am_batch* b = am_pool_batch(p);
    int va = find_var(&t, "offer_a"), vb = find_var(&t, "offer_b");
    int e_end = find_event(&t, "trial_end"), idx[NE] = {0}, seen[2] = {0, 0};
    memset(b->actions, 0, sizeof(float) * NE * (size_t)t.act_dim);
    for (int st = 0; st < 4000; st++) {
      am_pool_step(p);
      for (int i = 0; i < NE; i++) {
        if (!(b->events[i] & (1u << e_end)) || idx[i] >= 40) continue;
        const float* v = b->vars + (size_t)i * t.n_vars;
        double diff = fabs(2.5 * v[va] - v[vb]), f = 1 - (idx[i] + 1) / 50.0;
        assert_true(diff >= f * 7.5 - 1e-6);
        assert_true(diff > 1);
        seen[diff > 5]++;
        idx[i]++;
      }
    }
    for (int i = 0; i < NE; i++) assert_true(idx[i] >= 20);
    assert_true(seen[0] > 10 && seen[1] > 10);
    am_pool_free(p);
  }
  amt_destroy(&t);
  // refusals: offers must be qA:qB pairs of positive quantities; rho > 0
  const char* bad[] = {"offers=1:0", "offers=1-2", "offers=", "rho=0", "relative=2",
                       "offer_curriculum=2"};
  for (int i = 0; i < 6; i++) {
    amt_params p;
    memset(&p, 0, sizeof p);
    assert_int_equal(amt_params_add(&p, bad[i], err, sizeof err), 0);
    assert_int_equal(amt_create(&t, "value-reach", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "value-reach"));
  }
}

// Same seed, same trials (f1, f2, events, observations); another seed, other trials.
static void test_romo_reproducible(void** state) {
  am_task t;
  make_task(&t, "romo-reach", "trials=3", "start_radius=0.06", NULL);
  double sums[3];
  for (int run = 0; run < 3; run++) {
    am_pool* p = make_pool_threads(&t, 4, run == 1 ? 1 : 2, run < 2 ? 21 : 22);
    am_batch* b = am_pool_batch(p);
    am_rng rng;
    am_rng_seed(&rng, 4, 0);
    double acc = 0;
    for (int s = 0; s < 300; s++) {
      for (int i = 0; i < 4 * t.act_dim; i++) b->actions[i] = (float)am_rng_uniform(&rng) * 0.3f;
      am_pool_step(p);
      for (int i = 0; i < 4 * t.obs_dim; i++) acc += b->obs[i] * (1 + i % 5);
      for (int i = 0; i < 4 * t.n_vars; i++) acc += b->vars[i] * (1 + i % 3);
      for (int i = 0; i < 4; i++) acc += b->events[i] * 1e-3 + b->rewards[i];
    }
    sums[run] = acc;
    am_pool_free(p);
  }
  assert_true(sums[0] == sums[1]);  // 2 threads vs 1
  assert_true(sums[0] != sums[2]);
  amt_destroy(&t);
}

//---------------------------------- success metric, determinism, parameters ----------------------

// Doing nothing (no excitation) never completes a reach: only catch trials succeed.
static void test_idle_fails(void** state) {
  am_task t;
  make_task(&t, "reach-center-out", "catch_fraction=0.3", NULL);
  am_pool* p = make_pool(&t, 8, 3);
  am_batch* b = am_pool_batch(p);
  int vo = find_var(&t, "outcome"), vc = find_var(&t, "catch");
  int e_end = find_event(&t, "trial_end"), e_rew = find_event(&t, "reward");
  int trials = 0, ok = 0, catch_ok = 0, catches = 0;
  memset(b->actions, 0, sizeof(float) * 8 * (size_t)t.act_dim);
  for (int s = 0; s < 600; s++) {
    am_pool_step(p);
    for (int i = 0; i < 8; i++) {
      if (!(b->events[i] & (1u << e_end))) continue;
      const float* v = b->vars + (size_t)i * t.n_vars;
      trials++;
      ok += v[vo] > 0;
      assert_int_equal(v[vo] > 0, !!(b->events[i] & (1u << e_rew)));
      if (v[vc] > 0.5) catches++, catch_ok += v[vo] > 0;
      else assert_true(v[vo] < 0);
    }
  }
  assert_true(trials > 10 && catches > 0);
  assert_int_equal(ok, catch_ok);
  amt_destroy(&t);
  am_pool_free(p);
}

// reward_sizes: the success reward (term "success") is drawn at each reward from the list; the
// other trials get none. Zero actions on catch-only trials: every trial that holds succeeds.
static void test_reward_sizes(void** state) {
  am_task t;
  make_task(&t, "reach-center-out", "catch_fraction=1", "reward_sizes=0.5,2,20", NULL);
  am_pool* p = make_pool(&t, 8, 3);
  am_batch* b = am_pool_batch(p);
  int e_rew = find_event(&t, "reward");
  int seen[3] = {0}, rewards = 0;
  memset(b->actions, 0, sizeof(float) * 8 * (size_t)t.act_dim);
  for (int s = 0; s < 800; s++) {
    am_pool_step(p);
    for (int i = 0; i < 8; i++) {
      float r = b->terms[(size_t)i * t.n_terms];  // "success"
      if (!(b->events[i] & (1u << e_rew))) {
        assert_true(r == 0);
        continue;
      }
      rewards++;
      int k = r == 0.5f ? 0 : r == 2.0f ? 1 : r == 20.0f ? 2 : -1;
      if (k < 0) fail_msg("success reward %g is not one of reward_sizes", r);
      seen[k]++;
    }
  }
  assert_true(rewards >= 20);
  assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
  am_pool_free(p);
  amt_destroy(&t);
  amt_params q;
  const char* bad[][2] = {{"reward_sizes=1,x", "'x' is not a number"},
                          {"reward_sizes=1,-2", "reward_sizes: '-2' must be in [0, 1000]"}};
  for (int k = 0; k < 2; k++) {
    memset(&q, 0, sizeof q);
    assert_int_equal(amt_params_add(&q, bad[k][0], err, sizeof err), 0);
    assert_int_equal(amt_create(&t, "reach-center-out", &q, err, sizeof err), -1);
    if (!strstr(err, bad[k][1])) fail_msg("expected '%s' in '%s'", bad[k][1], err);
  }
}

static const char* all_tasks[] = {"reach-center-out", "reach-random", "force-field",
                                  "visuomotor-rotation", "decision-reach", "romo-reach", "mante-reach",
                                  "value-reach"};

// Same seed, same everything; another seed differs. Also with prev_inputs and obs_noise on.
static void test_determinism(void** state) {
  for (size_t k = 0; k < sizeof all_tasks / sizeof all_tasks[0]; k++) {
    am_task t;
    make_task(&t, all_tasks[k], "prev_inputs=1", "obs_noise=0.01", "start_radius=0.06", NULL);
    double sums[3] = {0};
    for (int run = 0; run < 3; run++) {
      am_pool* p = make_pool(&t, 4, run < 2 ? 42 : 43);
      am_batch* b = am_pool_batch(p);
      am_rng rng;
      am_rng_seed(&rng, 9, 0);
      double acc = 0;
      for (int s = 0; s < 150; s++) {
        for (int i = 0; i < 4 * t.act_dim; i++) b->actions[i] = (float)am_rng_uniform(&rng);
        am_pool_step(p);
        for (int i = 0; i < 4 * t.obs_dim; i++) acc += b->obs[i] * (1 + i % 7);
        for (int i = 0; i < 4; i++) acc += b->rewards[i] + b->events[i] * 1e-3;
      }
      sums[run] = acc;
      am_pool_free(p);
    }
    assert_true(sums[0] == sums[1]);
    assert_true(sums[0] != sums[2]);
    amt_destroy(&t);
  }
}

static void test_params(void** state) {
  am_task t;
  amt_params p;
  // unknown key: refused with the valid keys listed
  memset(&p, 0, sizeof p);
  assert_int_equal(amt_params_add(&p, "distanse=0.1", err, sizeof err), 0);
  assert_int_equal(amt_create(&t, "reach-center-out", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "distanse"));
  assert_non_null(strstr(err, "valid:"));
  assert_non_null(strstr(err, "catch_fraction"));
  // bad values: refused naming task, key and value
  const char* bad[][2] = {{"reach-center-out", "distance=abc"}, {"reach-center-out", "delay=0.5,0.1"},
                          {"reach-center-out", "catch_fraction=2"}, {"force-field", "field=spiral"},
                          {"force-field", "B=1,2,3"}, {"decision-reach", "variant=slow"},
                          {"visuomotor-rotation", "rotation=400"}, {"reach-random", "elbow_range=-10,50"},
                          {"reach-center-out", "prev_inputs=2"}, {"reach-center-out", "obs_noise=-1"}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    memset(&p, 0, sizeof p);
    assert_int_equal(amt_params_add(&p, bad[k][1], err, sizeof err), 0);
    if (amt_create(&t, bad[k][0], &p, err, sizeof err) != -1) fail_msg("accepted %s", bad[k][1]);
    char key[64];
    snprintf(key, sizeof key, "%s", bad[k][1]);
    *strchr(key, '=') = 0;
    if (!strstr(err, bad[k][0]) || !strstr(err, key)) fail_msg("message lacks task/key: %s", err);
  }
  // overrides take effect: observation size with prev_inputs, target distance, rotation
  make_task(&t, "reach-center-out", NULL);
  int base = t.obs_dim;
  amt_destroy(&t);
  make_task(&t, "reach-center-out", "prev_inputs=1", "distance=0.15", "catch_fraction=0",
            "delay=0", NULL);
  assert_int_equal(t.obs_dim, base + t.act_dim + 1);
  int g = am_find_group(t.groups, t.n_groups, "prev_action_reward");
  assert_true(g >= 0);
  am_pool* pool = make_pool(&t, 4, 1);
  am_batch* b = am_pool_batch(pool);
  int vx = find_var(&t, "target_x");
  for (int s = 0; s < 30; s++) {
    for (int i = 0; i < 4 * t.act_dim; i++) b->actions[i] = 0.01f * (float)(i % t.act_dim);
    am_pool_step(pool);
    for (int i = 0; i < 4; i++) {
      const float* v = b->vars + (size_t)i * t.n_vars;
      assert_float_equal(hypot(v[vx] - v[vx + 2], v[vx + 1] - v[vx + 3]), 0.15, 1e-5);
      const float* o = b->obs + (size_t)i * t.obs_dim + t.groups[g].offset;
      if (b->terminated[i] || b->truncated[i]) continue;  // obs is the next episode's first
      for (int a = 0; a < t.act_dim; a++) assert_float_equal(o[a], 0.01f * a, 1e-7);
      assert_float_equal(o[t.act_dim], b->rewards[i], 1e-7);
    }
  }
  am_pool_free(pool);
  amt_destroy(&t);
  // force-field blocks: field on only in the field block, counted in trials per env
  make_task(&t, "force-field", "baseline_trials=1", "field_trials=2", "washout_trials=1",
            "catch_fraction=0", "hold_time=0.01", "fix_timeout=0.01", "delay=0", "move_time=0.01",
            NULL);
  pool = make_pool(&t, 1, 1);
  b = am_pool_batch(pool);
  int vf = find_var(&t, "field_on"), vb = find_var(&t, "block"), vt = find_var(&t, "trial");
  memset(b->actions, 0, sizeof(float) * (size_t)t.act_dim);
  int seen = 0;
  for (int s = 0; s < 200 && seen < 8; s++) {
    am_pool_step(pool);
    if (!(b->terminated[0] || b->truncated[0])) continue;
    const float* v = b->vars;
    int trial = (int)v[vt], expect_block = trial % 4 == 0 ? 0 : trial % 4 < 3 ? 1 : 2;
    assert_int_equal(trial, seen);
    assert_int_equal((int)v[vb], expect_block);
    assert_int_equal((int)v[vf], expect_block == 1);
    seen++;
  }
  assert_int_equal(seen, 8);
  am_pool_free(pool);
  amt_destroy(&t);
}

// The block variables of the trials one env runs, read at each trial's end (at most max).
static int trial_blocks(const am_task* t, int max, int* block, float* value, const char* var) {
  am_pool* pool = make_pool(t, 1, 3);
  am_batch* b = am_pool_batch(pool);
  int vb = find_var(t, "block"), vv = find_var(t, var), end = find_event(t, "trial_end");
  memset(b->actions, 0, sizeof(float) * (size_t)t->act_dim);
  int n = 0;
  for (int s = 0; s < 100000 && n < max; s++) {
    am_pool_step(pool);
    if (!((b->events[0] >> end) & 1u)) continue;
    block[n] = (int)b->vars[vb];
    value[n++] = b->vars[vv];
  }
  am_pool_free(pool);
  return n;
}

// Block schedules: `blocks` (per env, the last block goes on) and `hidden_blocks` (runs of MIN..MAX
// trials inside an episode, a different value at each switch), for the field and the rotation.
static void test_block_schedules(void** state) {
  (void)state;
  const char* quick[] = {"catch_fraction=0", "hold_time=0.01", "fix_timeout=0.01", "delay=0",
                         "move_time=0.01"};
  am_task t;
  int block[64];
  float value[64];
  make_task(&t, "force-field", quick[0], quick[1], quick[2], quick[3], quick[4],
            "blocks=1:0,2:-1,1:0.5", NULL);
  assert_int_equal(trial_blocks(&t, 6, block, value, "field_gain"), 6);
  const int eb[6] = {0, 1, 1, 2, 2, 2};
  const float ev[6] = {0, -1, -1, 0.5f, 0.5f, 0.5f};
  for (int i = 0; i < 6; i++) {
    assert_int_equal(block[i], eb[i]);
    assert_float_equal(value[i], ev[i], 0);
  }
  amt_destroy(&t);
  make_task(&t, "visuomotor-rotation", quick[0], quick[1], quick[2], quick[3], quick[4],
            "blocks=2:0,1:45", NULL);
  assert_int_equal(trial_blocks(&t, 5, block, value, "rotation"), 5);
  const float er[5] = {0, 0, 45, 45, 45};
  for (int i = 0; i < 5; i++) assert_float_equal(value[i], er[i], 0);
  amt_destroy(&t);
  // hidden blocks inside one 60-trial episode: runs of 2..4 trials, the value changes at each
  make_task(&t, "visuomotor-rotation", quick[0], quick[1], quick[2], quick[3], quick[4],
            "trials=60", "hidden_blocks=2,4", "hidden_values=0,30,-30", NULL);
  int n = trial_blocks(&t, 60, block, value, "rotation");
  assert_int_equal(n, 60);
  int run = 1, runs = 0;
  for (int i = 1; i < n; i++) {
    const float hv[3] = {0, 30, -30};
    assert_float_equal(value[i], hv[block[i]], 0);
    if (block[i] == block[i - 1]) {
      run++;
      continue;
    }
    if (run < 2 || run > 4) fail_msg("a hidden block of %d trials (2..4)", run);
    run = 1, runs++;
  }
  assert_true(runs >= 60 / 4 - 1);
  amt_destroy(&t);
  // bad schedules
  const char* bad[][3] = {{"force-field", "blocks=0:1", "blocks"},
                          {"force-field", "blocks=3:x", "blocks"},
                          {"visuomotor-rotation", "blocks=3:200", "blocks"},
                          {"force-field", "hidden_blocks=3,2", "hidden_blocks"},
                          {"force-field", "hidden_blocks=2", "hidden_blocks"}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    amt_params p;
    memset(&p, 0, sizeof p);
    assert_int_equal(amt_params_add(&p, bad[k][1], err, sizeof err), 0);
    if (amt_create(&t, bad[k][0], &p, err, sizeof err) != -1) fail_msg("accepted %s", bad[k][1]);
    if (!strstr(err, bad[k][2])) fail_msg("message lacks %s: %s", bad[k][2], err);
  }
  amt_params p;
  memset(&p, 0, sizeof p);
  amt_params_add(&p, "blocks=2:1", err, sizeof err);
  amt_params_add(&p, "hidden_blocks=2,3", err, sizeof err);
  assert_int_equal(amt_create(&t, "force-field", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "give one of them"));
}

// Force-field variables describe their step: hand_fx/hand_fy are zero whenever field_on is 0, also
// at the first step of a null-field trial that follows a field trial in the same episode (the
// force then used to be the previous trial's), and non-zero during field trials.
static void test_force_field_vars(void** state) {
  am_task t;
  make_task(&t, "force-field", "start_radius=0.06", "distance=0.15", "trials=3",
            "baseline_trials=1", "field_trials=1", "washout_trials=1", "hold_time=0.05", NULL);
  am_pool* p = make_pool(&t, 2, 123);
  am_batch* b = am_pool_batch(p);
  int vf = find_var(&t, "field_on"), vx = find_var(&t, "hand_fx"), vy = find_var(&t, "hand_fy");
  int e_start = find_event(&t, "trial_start");
  am_rng rng;
  am_rng_seed(&rng, 77, 0);
  int prev_on[2] = {0, 0}, field_to_null = 0, pushed = 0;
  for (int s = 0; s < 300; s++) {
    for (int i = 0; i < 2 * t.act_dim; i++) b->actions[i] = (float)am_rng_uniform(&rng);
    am_pool_step(p);
    for (int i = 0; i < 2; i++) {
      const float* v = b->vars + (size_t)i * t.n_vars;
      if (v[vf] == 0) {
        if (v[vx] != 0 || v[vy] != 0)
          fail_msg("env %d step %d: field_on 0 but hand force (%g, %g)", i, s, v[vx], v[vy]);
        if (prev_on[i] && b->ep_step[i] > 0 && (b->events[i] & (1u << e_start))) field_to_null++;
      } else {
        pushed += v[vx] != 0 || v[vy] != 0;
      }
      prev_on[i] = v[vf] != 0 && !(b->terminated[i] || b->truncated[i]);
    }
  }
  printf("# force-field: %d field -> null trial starts within an episode, %d pushed steps\n",
         field_to_null, pushed);
  assert_true(field_to_null >= 1);
  assert_true(pushed >= 100);
  am_pool_free(p);
  amt_destroy(&t);
}

//---------------------------------- trial schema --------------------------------------------------

// Every registered task declares its trial schema: the event names below, or none (-1).
static void test_schema_declared(void** state) {
  static const struct {
    const char *task, *start, *success, *end;
  } want[] = {
      {"reacher", NULL, NULL, NULL},
      {"reach-center-out", "trial_start", "hold_complete", "trial_end"},
      {"reach-random", "trial_start", "hold_complete", "trial_end"},
      {"force-field", "trial_start", "hold_complete", "trial_end"},
      {"visuomotor-rotation", "trial_start", "hold_complete", "trial_end"},
      {"decision-reach", "trial_start", "hold_complete", "trial_end"},
      {"romo-reach", "trial_start", "hold_complete", "trial_end"},
      {"mante-reach", "trial_start", "hold_complete", "trial_end"},
      {"multisensory-reach", "trial_start", "hold_complete", "trial_end"},
      {"value-reach", "trial_start", "hold_complete", "trial_end"},
      {"run", NULL, NULL, NULL},
      {"run-gaps", NULL, NULL, NULL},
      {"escape-bowl", NULL, "escaped", NULL},
      {"forage-maze", NULL, "all_collected", NULL},
      {"two-tap", "trial_start", "touch_second", "trial_end"},
      {"water-maze", "trial_start", "goal_found", "trial_end"},
      {"rat-multi", NULL, "success", NULL},  // episodes are trials
      {"bandit", "trial_start", "reward", "trial_end"},
      {"two-step", "trial_start", "reward", "trial_end"},
      {"bandit-reach", "trial_start", "reward", "trial_end"},
      {"perceptual-decision", "trial_start", "reward", "trial_end"},
      {"dnms", "trial_start", "reward", "trial_end"},
      {"wager", "trial_start", "reward", "trial_end"},
      {"value-choice", "trial_start", "better", "trial_end"},
      {"water-plane", "trial_start", "goal_found", "trial_end"},
  };
  int n;
  const amt_info* reg = amt_registry(&n);
  assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
  for (int k = 0; k < n; k++) {
    assert_string_equal(reg[k].name, want[k].task);
    am_task t;
    // tiny episodes: the rat scenes are built in full either way (the composite has none of
    // its own)
    int short_ep = !strcmp(reg[k].body, "rat") && !reg[k].members;
    make_task(&t, reg[k].name, short_ep ? "episode_time=0.1" : NULL, NULL);
    const int code[3] = {t.trial_start_event, t.success_event, t.trial_end_event};
    const char* name[3] = {want[k].start, want[k].success, want[k].end};
    for (int r = 0; r < 3; r++) {
      if (!name[r]) {
        if (code[r] != -1) fail_msg("%s: schema role %d is %d, expected -1", t.name, r, code[r]);
        continue;
      }
      if (code[r] < 0 || code[r] >= t.n_events || strcmp(t.events[code[r]], name[r]))
        fail_msg("%s: schema role %d is code %d, expected event %s", t.name, r, code[r], name[r]);
    }
    // a trial has a start and an end or neither; its end is not its start
    assert_int_equal(code[0] >= 0, code[2] >= 0);
    if (code[0] >= 0) assert_int_not_equal(code[0], code[2]);
    amt_destroy(&t);
  }
  // the bare body task has no events and says so
  am_task t;
  make_task(&t, "body:arm", NULL);
  assert_int_equal(t.n_events, 0);
  assert_int_equal(t.success_event, -1);
  assert_int_equal(t.trial_end_event, -1);
  assert_int_equal(t.trial_start_event, -1);
  amt_destroy(&t);
}

// The learner's success metric after one iteration on reach-center-out (short trials: random
// actions leave the start and time out within 0.1 s), with the task's schema rewritten.
static double learner_success(am_task* t, int start, int success, int end) {
  t->trial_start_event = start;
  t->success_event = success;
  t->trial_end_event = end;
  ama_config cfg;
  ama_config_default(&cfg);
  cfg.num_envs = 4;
  cfg.ppo.horizon = 64;
  cfg.ppo.minibatches = 1;
  cfg.ppo.epochs = 1;
  cfg.policy.core_hidden = 8;
  cfg.policy.motor_hidden = 8;
  cfg.seed = 5;
  am_pool* p = make_pool(t, cfg.num_envs, 5);
  ama_ppo* L = ama_ppo_create(&cfg, p, err, sizeof err);
  if (!L) fail_msg("%s", err);
  ama_iter_stats st;
  assert_int_equal(ama_ppo_iterate(L, &st), 0);
  assert_true(st.episodes > 0);
  ama_ppo_free(L);
  am_pool_free(p);
  return st.success;
}

// The learner reads the schema, not event names: planted schemas give planted answers.
static void test_schema_learner(void** state) {
  am_task t;
  make_task(&t, "reach-center-out", "catch_fraction=0", "hold_time=0.05", "fix_timeout=0.1",
            NULL);
  int start = find_event(&t, "trial_start"), end = find_event(&t, "trial_end");
  int catch_ev = find_event(&t, "catch");  // never happens: catch_fraction=0
  // every trial that starts "succeeds" and "ends" at its start: exactly 1
  assert_true(learner_success(&t, start, start, start) == 1.0);
  // success on an event that never happens, per trial (trial_end) and per episode: exactly 0
  assert_true(learner_success(&t, start, catch_ev, end) == 0.0);
  assert_true(learner_success(&t, -1, catch_ev, -1) == 0.0);
  // no success event: no metric, even when events carry the names the learner once looked for
  snprintf(t.events[start], AM_NAME_LEN, "success");
  snprintf(t.events[catch_ev], AM_NAME_LEN, "hold_complete");
  assert_true(isnan(learner_success(&t, start, -1, end)));
  // codes outside [0, n_events) count as none
  assert_true(isnan(learner_success(&t, start, t.n_events, end)));
  amt_destroy(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_arm),
      cmocka_unit_test(test_random_rat),
      cmocka_unit_test(test_scripted_center_out),
      cmocka_unit_test(test_scripted_others),
      cmocka_unit_test(test_decision_rules),
      cmocka_unit_test(test_bandit_reach_rules),
      cmocka_unit_test(test_romo_rules),
      cmocka_unit_test(test_romo_reproducible),
      cmocka_unit_test(test_mante_rules),
      cmocka_unit_test(test_multisensory_rules),
      cmocka_unit_test(test_value_rules),
      cmocka_unit_test(test_idle_fails),
      cmocka_unit_test(test_reward_sizes),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_force_field_vars),
      cmocka_unit_test(test_block_schedules),
      cmocka_unit_test(test_schema_declared),
      cmocka_unit_test(test_schema_learner),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
