// test_cog_tasks.c: the body-less meta-RL tasks (tasks/cog_tasks.c: bandit, two-step) and the
// categorical action head that acts on them: the rules (rewards follow the drawn probabilities,
// transitions, swaps and reflecting walks, the variables and events of every trial, the feedback
// inputs), reproducibility across thread counts, and the categorical actor's sampling.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "ama_agents.h"
#include "amt_tasks.h"
#include "task_test_util.h"
#include "cli_test_util.h"

// Steps n envs of t for `steps` steps always choosing `arm` (one-hot), calling check after each.
typedef void (*step_check)(const am_task* t, const am_batch* b, int i, int step, void* ctx);
static void drive(const am_task* t, int n, int steps, int arm, uint64_t seed, step_check check,
                  void* ctx) {
  am_pool* pool = make_pool_threads(t, n, 1, seed);
  am_batch* b = am_pool_batch(pool);
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < n; i++)
      for (int j = 0; j < t->act_dim; j++) b->actions[i * t->act_dim + j] = j == arm;
    am_pool_step(pool);
    for (int i = 0; i < n; i++) check(t, b, i, s, ctx);
  }
  am_pool_free(pool);
}

typedef struct bandit_acc {
  int v_choice, v_out, v_p1, v_p2, v_reg, v_trial, e_rew, e_norew, e_start, e_end;
  double p_sum, r_sum;
  int trials, episodes, dependent;
} bandit_acc;

static void bandit_check(const am_task* t, const am_batch* b, int i, int step, void* ctx) {
  bandit_acc* a = ctx;
  const float* v = b->vars + (size_t)i * t->n_vars;
  uint32_t ev = b->events[i];
  // every step is one whole trial: start, end, and reward xor no reward
  assert_true(ev & (1u << a->e_start) && ev & (1u << a->e_end));
  assert_true(!(ev & (1u << a->e_rew)) != !(ev & (1u << a->e_norew)));
  assert_float_equal(v[a->v_out], b->rewards[i], 0);
  assert_int_equal(!!(ev & (1u << a->e_rew)), (int)v[a->v_out]);
  assert_float_equal(v[a->v_choice], -1, 0);  // left, always
  assert_float_equal(v[a->v_trial], b->ep_step[i], 0);
  assert_float_equal(v[a->v_reg], fmaxf(v[a->v_p1], v[a->v_p2]) - v[a->v_p1], 1e-6);
  if (a->dependent) assert_float_equal(v[a->v_p2], 1 - v[a->v_p1], 1e-6);
  // feedback: the choice just made (left) and its reward, zeros at a new episode's first step
  const float* o = b->obs + (size_t)i * t->obs_dim;
  if (b->terminated[i]) {
    assert_int_equal(b->ep_step[i] + 1, t->max_steps);
    assert_true(o[0] == 0 && o[1] == 0 && o[2] == 0);
    a->episodes++;
  } else {
    assert_true(o[0] == 1 && o[1] == 0 && o[2] == b->rewards[i]);
  }
  a->p_sum += v[a->v_p1];
  a->r_sum += b->rewards[i];
  a->trials++;
}

static bandit_acc bandit_setup(const am_task* t) {
  bandit_acc a = {find_var(t, "choice"), find_var(t, "outcome"), find_var(t, "p_left"),
                  find_var(t, "p_right"), find_var(t, "regret"), find_var(t, "trial"),
                  find_event(t, "reward"), find_event(t, "no_reward"),
                  t->trial_start_event, t->trial_end_event};
  assert_true(a.v_choice >= 0 && a.v_out >= 0 && a.v_p1 >= 0 && a.v_reg >= 0 && a.v_trial >= 0);
  return a;
}

// Reward frequency follows the drawn probability of the chosen arm (independent and dependent).
static void test_bandit_rules(void** s) {
  for (int dep = 0; dep < 2; dep++) {
    am_task t;
    make_task(&t, "bandit", "trials=20", dep ? "variant=dependent" : "variant=independent", NULL);
    assert_true(t.discrete);
    assert_int_equal(t.act_dim, 2);
    assert_int_equal(t.model->m->nq, 0);
    bandit_acc a = bandit_setup(&t);
    a.dependent = dep;
    drive(&t, 8, 2000, 0, 3 + dep, bandit_check, &a);
    assert_int_equal(a.episodes, 8 * 2000 / 20);
    // 16000 Bernoulli draws: their mean is within 0.02 of the mean probability
    assert_true(fabs(a.r_sum / a.trials - a.p_sum / a.trials) < 0.02);
    assert_true(fabs(a.p_sum / a.trials - 0.5) < 0.05);  // p_left is uniform
    amt_destroy(&t);
  }
  am_task t;
  amt_params p = {0};
  amt_params_add(&p, "variant=both", err, sizeof err);
  assert_int_equal(amt_create(&t, "bandit", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "variant"));
  memset(&p, 0, sizeof p);
  amt_params_add(&p, "p_set=0.5,1.5", err, sizeof err);
  assert_int_equal(amt_create(&t, "bandit", &p, err, sizeof err), -1);
  assert_non_null(strstr(err, "p_set"));
  // p_set: the probabilities come from the set (Wang et al.'s medium bandit), both values used
  make_task(&t, "bandit", "trials=5", "variant=dependent", "p_set=0.25,0.75", NULL);
  am_pool* pool = make_pool_threads(&t, 4, 1, 2);
  am_batch* b = am_pool_batch(pool);
  int v1 = find_var(&t, "p_left"), v2 = find_var(&t, "p_right"), seen[2] = {0};
  for (int st = 0; st < 200; st++) {
    am_pool_step(pool);
    for (int i = 0; i < 4; i++) {
      float pl = b->vars[i * t.n_vars + v1];
      assert_true(pl == 0.25f || pl == 0.75f);
      assert_float_equal(b->vars[i * t.n_vars + v2], 1 - pl, 1e-6);
      seen[pl > 0.5f] = 1;
    }
  }
  assert_true(seen[0] && seen[1]);
  am_pool_free(pool);
  amt_destroy(&t);
}

typedef struct two_acc {
  int v_choice, v_out, v_pa, v_pb, v_state, v_trans, e_rew;
  int right, common_expected;  // the chosen arm; -1: either transition
  int rare, trials;
  double walk_sd, lo, hi, last_pa, d2;  // walk: bounds and squared steps of p_a
  int swap_high;                        // swap, p_high = 1: the state that pays always
} two_acc;

static void two_check(const am_task* t, const am_batch* b, int i, int step, void* ctx) {
  two_acc* a = ctx;
  const float* v = b->vars + (size_t)i * t->n_vars;
  const float* o = b->obs + (size_t)i * t->obs_dim;
  uint32_t ev = b->events[i];
  if (b->ep_step[i] % 2 == 0) {  // stage 1 ended: the second-stage state is shown
    assert_true(ev & (1u << t->trial_start_event));
    assert_false(ev & (1u << t->trial_end_event));
    assert_float_equal(b->rewards[i], 0, 0);
    int st = (int)v[a->v_state] - 1;
    assert_true(o[0] == 0 && o[1 + st] == 1 && o[2 - st] == 0);
    assert_int_equal(v[a->v_trans], st == a->right);
    return;
  }
  assert_true(ev & (1u << t->trial_end_event));
  assert_float_equal(v[a->v_choice], a->right ? 1 : -1, 0);
  assert_float_equal(v[a->v_out], b->rewards[i], 0);
  int st = (int)v[a->v_state] - 1;
  if (a->common_expected >= 0) assert_int_equal((int)v[a->v_trans], a->common_expected);
  a->rare += v[a->v_trans] == 0;
  a->trials++;
  if (a->walk_sd > 0) {
    assert_true(v[a->v_pa] >= a->lo && v[a->v_pa] <= a->hi && v[a->v_pb] >= a->lo &&
                v[a->v_pb] <= a->hi);
    if (b->ep_step[i] > 1) a->d2 += pow(v[a->v_pa] - a->last_pa, 2);
    a->last_pa = v[a->v_pa];
  } else {
    assert_float_equal(v[a->v_pa] + v[a->v_pb], 1, 1e-6);
    if (a->swap_high >= 0) {  // p_high 1 without swaps: the same state pays all episode
      if (b->ep_step[i] == 1) a->swap_high = v[a->v_pa] == 1 ? 0 : 1;
      assert_float_equal(v[a->v_pa], a->swap_high == 0, 0);
      assert_float_equal(b->rewards[i], st == a->swap_high, 0);
    }
  }
  if (!b->terminated[i]) assert_true(o[0] == 1 && o[3 + a->right] == 1 && o[5] == b->rewards[i]);
}

static two_acc two_setup(const am_task* t, int right) {
  two_acc a = {find_var(t, "choice"), find_var(t, "outcome"), find_var(t, "p_a"),
               find_var(t, "p_b"), find_var(t, "state"), find_var(t, "transition"),
               find_event(t, "reward")};
  a.right = right;
  a.common_expected = -1;
  a.swap_high = -1;
  return a;
}

static void test_two_step_rules(void** s) {
  am_task t;
  // always common, always rare
  for (int c = 0; c < 2; c++) {
    make_task(&t, "two-step", "trials=10", c ? "common_prob=1" : "common_prob=0", NULL);
    two_acc a = two_setup(&t, 1);
    a.common_expected = c;
    drive(&t, 4, 400, 1, 9, two_check, &a);
    assert_int_equal(a.trials, 4 * 200);
    amt_destroy(&t);
  }
  // the default 0.8: about 20 % rare transitions
  make_task(&t, "two-step", NULL);
  two_acc a = two_setup(&t, 0);
  drive(&t, 8, 4000, 0, 2, two_check, &a);
  assert_true(fabs((double)a.rare / a.trials - 0.2) < 0.03);
  amt_destroy(&t);
  // swap with p_high 1 and no swaps: reward exactly when the paying state is reached
  make_task(&t, "two-step", "p_high=1", "swap_prob=0", NULL);
  a = two_setup(&t, 1);
  a.swap_high = 0;
  drive(&t, 1, 2000, 1, 4, two_check, &a);  // one env: swap_high is per episode
  amt_destroy(&t);
  // swaps happen at swap_prob per trial: p_high 1, swap_prob 0.5
  make_task(&t, "two-step", "p_high=1", "swap_prob=0.5", "trials=1000", NULL);
  {
    am_pool* pool = make_pool_threads(&t, 1, 1, 8);
    am_batch* b = am_pool_batch(pool);
    int va = find_var(&t, "p_a"), swaps = 0;
    float last = -1;
    for (int k = 0; k < 2000; k++) {
      b->actions[0] = 1, b->actions[1] = 0;
      am_pool_step(pool);
      if (k % 2 == 1) {
        if (last >= 0 && b->vars[va] != last) swaps++;
        last = b->vars[va];
      }
    }
    assert_true(swaps > 430 && swaps < 570);  // 999 chances at 0.5
    am_pool_free(pool);
  }
  amt_destroy(&t);
  // the walk: probabilities stay within the bounds and move by about walk_sd per trial
  make_task(&t, "two-step", "variant=walk", "walk_sd=0.05", "walk_bounds=0.2,0.8", NULL);
  a = two_setup(&t, 0);
  a.walk_sd = 0.05, a.lo = 0.2, a.hi = 0.8;
  drive(&t, 1, 8000, 0, 6, two_check, &a);  // one env: last_pa follows its episodes
  double sd = sqrt(a.d2 / (a.trials - a.trials / 100));
  assert_true(sd > 0.04 && sd < 0.06);
  amt_destroy(&t);
}

// perceptual-decision: fixating through a trial is a miss (timeout) after fix + stim + decision
// steps; leaving fixation early aborts (-abort_penalty); in the decision period the side of the
// coherence's sign is rewarded and the other is an error; the evidence channels average (1 -+ c)/2.
static void test_perceptual_decision_rules(void** s) {
  am_task t;
  make_task(&t, "perceptual-decision", "trials=1000", "coherences=0.2", "noise=0.5",
            "stim_time=0.5", "abort_penalty=0.3", NULL);
  assert_true(t.discrete);
  assert_int_equal(t.act_dim, 3);
  am_pool* pool = make_pool_threads(&t, 1, 1, 5);
  am_batch* b = am_pool_batch(pool);
  int vc = find_var(&t, "coherence"), vch = find_var(&t, "choice"), vo = find_var(&t, "outcome");
  int e_end = t.trial_end_event, e_to = find_event(&t, "timeout"), e_ab = find_event(&t, "abort");
  int e_rew = find_event(&t, "reward"), e_err = find_event(&t, "error");
  int e_go = find_event(&t, "go_cue");
  // policy by trial: 0 fixate throughout, 1 break fixation at once, 2 correct, 3 wrong
  int mode = 0, len = 0, go = 0, trials[4] = {0};
  double ev_sum = 0;
  int ev_n = 0;
  for (int st = 0; st < 20000; st++) {
    float coh = b->vars[vc];
    int act = 0;
    if (mode == 1) act = 1;
    if (go && mode == 2) act = coh > 0 ? 2 : 1;
    if (go && mode == 3) act = coh > 0 ? 1 : 2;
    for (int j = 0; j < 3; j++) b->actions[j] = j == act;
    if (b->obs[1] != 0 || b->obs[2] != 0) {  // the evidence shown: right - left averages c
      assert_float_equal(b->obs[0], 1, 0);      // with the fixation cue on
      ev_sum += (b->obs[2] - b->obs[1]) * (coh > 0 ? 1 : -1), ev_n++;
    }
    am_pool_step(pool);
    len++;
    uint32_t ev = b->events[0];
    if (ev & (1u << e_go)) go = 1, assert_float_equal(b->obs[0], 0, 0);  // fixation cue off
    if (!(ev & (1u << e_end))) continue;
    const float* v = b->vars;
    if (mode == 0) {
      assert_true(ev & (1u << e_to));
      assert_int_equal(len, 1 + 5 + 1);
      assert_float_equal(b->rewards[0], 0, 0);
      assert_float_equal(v[vo], -1, 0);
    } else if (mode == 1) {
      assert_true(ev & (1u << e_ab));
      assert_int_equal(len, 1);
      assert_float_equal(b->rewards[0], -0.3f, 1e-6);
    } else if (mode == 2) {
      assert_true(ev & (1u << e_rew));
      assert_float_equal(b->rewards[0], 1, 0);
      assert_float_equal(v[vch], v[vc] > 0 ? 1 : -1, 0);
      assert_float_equal(v[vo], 1, 0);
    } else {
      assert_true(ev & (1u << e_err));
      assert_float_equal(b->rewards[0], 0, 0);
      assert_float_equal(v[vo], 0, 0);
    }
    trials[mode]++;
    mode = (mode + 1) % 4, len = 0, go = 0;
  }
  for (int k = 0; k < 4; k++) assert_true(trials[k] > 100);
  assert_true(fabs(ev_sum / ev_n - 0.2) < 0.03);  // noise 0.5 per channel, thousands of samples
  am_pool_free(pool);
  amt_destroy(&t);
}

// dnms (tasks/cog_dnms.c): the epochs' inputs, the response period's reward, the trial error and
// the correct/error events, with an output scripted per trial: the target (error 0), the opposite
// (error 2), 0.25 (error 0.75 or 1.25: correct only on non-match trials) and a switch half way
// through the response period (error 1: not correct, the criterion is error < 1).
static void test_dnms_rules(void** s) {
  (void)s;
  am_task t;
  make_task(&t, "dnms", "trials=400", "dt=0.01", "stim_time=0.05", "delay=0.03", "wait=0.02",
            "response_time=0.04", NULL);
  assert_false(t.discrete);
  assert_int_equal(t.act_dim, 1);
  assert_int_equal(t.obs_dim, 2);
  assert_int_equal(t.max_steps, 400 * 19);  // 5 + 3 + 5 + 2 + 4 steps per trial
  am_pool* pool = make_pool_threads(&t, 1, 1, 3);
  am_batch* b = am_pool_batch(pool);
  int v1 = find_var(&t, "stim1"), v2 = find_var(&t, "stim2"), vm = find_var(&t, "match");
  int vt = find_var(&t, "target"), ve = find_var(&t, "error"), vep = find_var(&t, "epoch");
  int e_start = t.trial_start_event, e_end = t.trial_end_event;
  int e_rew = find_event(&t, "reward"), e_err = find_event(&t, "error");
  int e_s2 = find_event(&t, "stim2_on"), e_resp = find_event(&t, "response_on");
  assert_true(e_start >= 0 && e_end >= 0 && e_rew == t.success_event && e_err >= 0);
  int mode = 0, k = 0, types[4] = {0}, correct[4] = {0}, n[4] = {0};
  double ret = 0;
  for (int st = 0; st < 400 * 19; st++) {
    // the stimulus shown before step k: A or B (one-hot) in the stimulus epochs, else nothing
    const float* o = b->obs;
    int a = (int)b->vars[v1] - 1, bb = (int)b->vars[v2] - 1;
    if (k == 0) a = -1;  // (the row of the last step still holds the previous trial's values)
    if (k > 0 && k < 5) assert_true(o[a] == 1 && o[1 - a] == 0);
    if ((k >= 5 && k < 8) || k >= 13) assert_true(o[0] == 0 && o[1] == 0);
    if (k >= 8 && k < 13) assert_true(o[bb] == 1 && o[1 - bb] == 0);
    float target = b->vars[vt];
    float out = mode == 0 ? target : mode == 1 ? -target : mode == 2 ? 0.25f : (k < 17 ? 1 : -1);
    b->actions[0] = k >= 15 ? out : 0.0f;  // (only the response period counts)
    am_pool_step(pool);
    uint32_t ev = b->events[0];
    assert_int_equal(!!(ev & (1u << e_start)), k == 0);
    assert_int_equal(!!(ev & (1u << e_s2)), k == 8);
    assert_int_equal(!!(ev & (1u << e_resp)), k == 15);
    assert_float_equal(b->vars[vep], k < 5 ? 0 : k < 8 ? 1 : k < 13 ? 2 : k < 15 ? 3 : 4, 0);
    if (k < 15) assert_float_equal(b->rewards[0], 0, 0);
    else assert_float_equal(b->rewards[0], -fabsf(out - b->vars[vt]) / 4, 1e-6);
    ret += b->rewards[0];
    k++;
    if (k < 19) {
      assert_false(ev & (1u << e_end));
      continue;
    }
    // the trial's last row: its values, its error = minus its return
    assert_true(ev & (1u << e_end));
    float m = b->vars[vm];
    assert_float_equal(m, b->vars[v1] == b->vars[v2], 0);
    assert_float_equal(b->vars[vt], m ? -1 : 1, 0);
    double want = mode == 0 ? 0 : mode == 1 ? 2 : mode == 2 ? (m ? 1.25 : 0.75) : 1;
    assert_float_equal(b->vars[ve], want, 1e-6);
    assert_float_equal(-ret, want, 1e-5);
    int ok = want < 1;
    assert_int_equal(!!(ev & (1u << e_rew)), ok);
    assert_int_equal(!!(ev & (1u << e_err)), !ok);
    types[(int)(b->vars[v1] - 1) * 2 + (int)(b->vars[v2] - 1)]++;
    n[mode]++;
    correct[mode] += ok;
    mode = (mode + 1) % 4, k = 0, ret = 0;
  }
  assert_true(b->terminated[0]);
  for (int q = 0; q < 4; q++) assert_true(types[q] > 70);  // the four types, each about 100
  assert_int_equal(correct[0], n[0]);
  assert_int_equal(correct[1], 0);
  assert_true(correct[2] > 30 && correct[2] < 70);  // the non-match trials of 100
  assert_int_equal(correct[3], 0);
  am_pool_free(pool);
  amt_destroy(&t);
  // a duration shorter than one step is refused, naming it
  amt_params params = {0};
  char e2[AM_ERR_LEN];
  assert_int_equal(amt_params_add(&params, "stim_time=0.004", e2, sizeof e2), 0);
  assert_int_equal(amt_create(&t, "dnms", &params, e2, sizeof e2), -1);
  assert_non_null(strstr(e2, "stim_time"));
}

// wager: fixating through a trial is a miss after fix + stimulus + delay + decision steps, the
// stimulus lasting the trial's stim_duration (0.1..0.5 s here, every length drawn); the sure
// target appears (sure_on, observation 3) sure_onset into the delay on the offered trials only
// (about sure_prob of them) and stays until the choice; choosing it pays sure_reward (outcome 2,
// chose_sure 1) when offered and is a miss when not; left/right are rewarded or errors by the
// coherence's sign (correct 1 / 0); breaking fixation in the delay aborts.
static void test_wager_rules(void** s) {
  am_task t;
  make_task(&t, "wager", "trials=1000", "coherences=0.3", "noise=0", "stim_time=0.1,0.5",
            "delay_time=0.3", "sure_onset=0.1", "sure_prob=0.4", "sure_reward=0.6",
            "abort_penalty=0.3", NULL);
  assert_true(t.discrete);
  assert_int_equal(t.act_dim, 4);
  assert_int_equal(t.obs_dim, 4);
  am_pool* pool = make_pool_threads(&t, 1, 1, 9);
  am_batch* b = am_pool_batch(pool);
  int vc = find_var(&t, "coherence"), vo = find_var(&t, "outcome"), vd = find_var(&t, "stim_duration");
  int vso = find_var(&t, "sure_offered"), vcs = find_var(&t, "chose_sure");
  int vcr = find_var(&t, "correct"), vch = find_var(&t, "choice");
  int e_end = t.trial_end_event, e_to = find_event(&t, "timeout"), e_ab = find_event(&t, "abort");
  int e_rew = find_event(&t, "reward"), e_err = find_event(&t, "error");
  int e_sure = find_event(&t, "sure"), e_son = find_event(&t, "sure_on");
  int e_go = find_event(&t, "go_cue"), e_off = find_event(&t, "stim_off");
  // policy by trial: 0 fixate throughout, 1 break fixation in the delay, 2 correct, 3 wrong,
  // 4 sure
  int mode = 0, len = 0, go = 0, off = 0, stim = 0, son = -1, trials[5] = {0}, offered = 0, n = 0;
  int dur_seen[6] = {0};
  for (int st = 0; st < 30000; st++) {
    float coh = b->vars[vc];
    int act = 0;
    if (mode == 1 && off) act = 2;
    if (go && mode == 2) act = coh > 0 ? 2 : 1;
    if (go && mode == 3) act = coh > 0 ? 1 : 2;
    if (go && mode == 4) act = 3;
    for (int j = 0; j < 4; j++) b->actions[j] = j == act;
    if (b->obs[1] != 0 || b->obs[2] != 0) {  // noise 0: the channels are (1 -+ c) / 2
      assert_float_equal(b->obs[2] - b->obs[1], coh, 1e-6);
      stim++;
    }
    am_pool_step(pool);
    len++;
    uint32_t ev = b->events[0];
    const float* v = b->vars;
    if (ev & (1u << e_off)) off = len;
    if (ev & (1u << e_son)) son = len;
    if (off && !(ev & (1u << e_end))) assert_float_equal(b->obs[3], son >= 0, 0);  // sure target
    if (ev & (1u << e_go)) go = len, assert_float_equal(b->obs[0], 0, 0);
    if (!(ev & (1u << e_end))) continue;
    int steps = (int)lroundf(v[vd] * 10), sure = v[vso] == 1;
    assert_true(steps >= 1 && steps <= 5);
    dur_seen[steps] = 1;
    if (mode != 1) {
      assert_int_equal(stim, steps);            // the evidence shown for the drawn duration
      assert_int_equal(off, 1 + steps);         // fixation step, the stimulus
      assert_int_equal(go, off + 3);            // the delay
      assert_int_equal(son, sure ? off + 1 : -1);  // 0.1 s into the delay, offered trials only
    }
    assert_float_equal(v[vcs], mode == 4 && sure, 0);
    if (mode == 0) {
      assert_true(ev & (1u << e_to));
      assert_int_equal(len, go + 1);
      assert_float_equal(v[vo], -1, 0);
      assert_float_equal(v[vcr], -1, 0);
    } else if (mode == 1) {
      assert_true(ev & (1u << e_ab));
      assert_int_equal(len, off + 1);
      assert_float_equal(b->rewards[0], -0.3f, 1e-6);
    } else if (mode == 2 || mode == 3) {
      assert_true(ev & (1u << (mode == 2 ? e_rew : e_err)));
      assert_float_equal(b->rewards[0], mode == 2, 0);
      assert_float_equal(v[vch], (coh > 0) == (mode == 2) ? 1 : -1, 0);
      assert_float_equal(v[vcr], mode == 2, 0);
      assert_float_equal(v[vo], mode == 2, 0);
    } else if (sure) {
      assert_true(ev & (1u << e_sure));
      assert_float_equal(b->rewards[0], 0.6f, 1e-6);
      assert_float_equal(v[vo], 2, 0);
      assert_float_equal(v[vch], 0, 0);
    } else {  // no sure target to choose: a miss
      assert_true(ev & (1u << e_to));
      assert_float_equal(b->rewards[0], 0, 0);
      assert_float_equal(v[vo], -1, 0);
    }
    trials[mode]++, offered += sure, n++;
    mode = (mode + 1) % 5, len = go = off = stim = 0, son = -1;
  }
  for (int k = 0; k < 5; k++) assert_true(trials[k] > 100);
  for (int k = 1; k <= 5; k++) assert_true(dur_seen[k]);
  assert_true(fabs((double)offered / n - 0.4) < 0.05);
  am_pool_free(pool);
  amt_destroy(&t);
  // bad parameters are refused by name
  const char* bad[][2] = {{"sure_onset=0.3", "sure_onset"}, {"sure_prob=1.5", "sure_prob"},
                          {"sure_reward=2", "sure_reward"}, {"stim_time=0.5,0.2", "stim_time"}};
  for (int k = 0; k < 4; k++) {
    amt_params p = {0};
    assert_int_equal(amt_params_add(&p, bad[k][0], err, sizeof err), 0);
    am_task u;
    assert_int_equal(amt_create(&u, "wager", &p, err, sizeof err), -1);
    assert_non_null(strstr(err, bad[k][1]));
  }
}

// A dataset of planted one-env trials for the trial-table analyses (control period 0.1 s): task,
// its task.params (NULL: none), its success event (between trial_start and trial_end), condition
// variables, an events channel with event_labels and a task_vars channel with var_labels; begun,
// its channels in *c_ev, *c_va.
static am_ds_writer* planted_writer(const char* path, const char* task, const char* params,
                                    const char* success, const char* conds,
                                    const char* event_labels, const char* var_labels, int* c_ev,
                                    int* c_va) {
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_non_null(w);
  char schema[256];
  snprintf(schema, sizeof schema, "trial_start=trial_start,success=%s,trial_end=trial_end", success);
  am_ds_set_meta(w, "task.name", task, -1);
  am_ds_set_meta(w, "control_dt", "0.1", -1);
  am_ds_set_meta(w, "task.trial_events", schema, -1);
  am_ds_set_meta(w, "task.conditions", conds, -1);
  if (params) am_ds_set_meta(w, "task.params", params, -1);
  int nv = 1;
  for (const char* c = var_labels; *c; c++) nv += *c == ',';
  am_channel_def ev = {.name = "events", .group = "task", .dtype = AM_DT_U32, .ndim = 0,
                       .labels = event_labels};
  am_channel_def va = {.name = "task_vars", .group = "task", .dtype = AM_DT_F32, .ndim = 1,
                       .shape = {nv}, .labels = var_labels};
  *c_ev = am_ds_add_channel(w, &ev), *c_va = am_ds_add_channel(w, &va);
  assert_true(*c_ev >= 0 && *c_va >= 0);
  assert_int_equal(am_ds_begin(w, 1, 0, 0), 0);
  return w;
}

// `animat analyze METHOD` on another task's recording (a random bandit) fails, its message naming
// `needs` (what the analysis needs that the recording lacks).
static void expect_analysis_refused(const char* method, const char* needs) {
  assert_int_equal(animat("record --random --task bandit --task-param trials=5 --episodes 2 "
                          "--out %s/b.rollout", tmpdir), 0);
  assert_int_equal(animat("analyze %s %s/b.rollout --out %s/refused", method, tmpdir, tmpdir), 1);
  expect_out(needs);
}

// analyze wager on a planted trial table: 40 one-trial episodes at |c| 0 and 0.512, the sure
// target offered on half, with P(sure | offered) 0.8 and 0.2, accuracy waived 0.5 and 1.0, without
// the sure target 0.5 and 0.9 (waived - no sure, weighted by waived trials: (2 x 0 + 8 x 0.1) / 10).
static void test_wager_analysis_planted(void** s) {
  assert_int_equal(make_tmpdir("wager"), 0);
  char path[600], csv[700];
  snprintf(path, sizeof path, "%s/planted.rollout", tmpdir);
  int c_ev, c_va;
  am_ds_writer* w = planted_writer(path, "wager", NULL, "reward", "coherence,sure_offered,stim_duration",
                                   "trial_start,reward,error,sure,trial_end",
                                   "coherence,sure_offered,stim_duration,choice,outcome", &c_ev,
                                   &c_va);
  // per (coherence, offered): 10 trials; outcome by index: sure (2) first, then correct (1), error
  const int sure_n[2][2] = {{0, 8}, {0, 2}}, ok_n[2][2] = {{5, 1}, {9, 8}};
  int ep = 0;
  for (int ci = 0; ci < 2; ci++)
    for (int off = 0; off < 2; off++)
      for (int i = 0; i < 10; i++, ep++) {
        int o = i < sure_n[ci][off] ? 2 : i < sure_n[ci][off] + ok_n[ci][off] ? 1 : 0;
        assert_int_equal(am_ds_episode_begin(w, 0, ep, NULL), 0);
        for (int t = 0; t < 2; t++) {
          uint32_t bits = t == 0 ? 1u : (o == 1 ? 2u : o == 0 ? 4u : 8u) | 16u;
          memcpy(am_ds_row_ptr(w, 0, c_ev), &bits, 4);
          float* v = am_ds_row_ptr(w, 0, c_va);
          v[0] = ci ? (i % 2 ? 0.512f : -0.512f) : 0, v[1] = (float)off;
          v[2] = ci ? 0.9f : 0.1f, v[3] = t && o != 2 ? 1.0f : 0.0f, v[4] = t ? (float)o : 0;
          assert_int_equal(am_ds_row_commit(w, 0, t ? AM_DS_END | AM_DS_TERMINATED : 0), 0);
        }
      }
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  assert_int_equal(animat("analyze wager %s --out %s/an", path, tmpdir), 0);
  expect_out("wager: 40 trials with a choice, sure target offered in 20, chosen in 10; P(sure | "
             "offered) 0.800 at |c| = 0, 0.200 at |c| = 0.512; accuracy waived - no sure target "
             "at the same coherence +0.080");
  snprintf(csv, sizeof csv, "%s/an/wager.csv", tmpdir);
  const double want[2][4] = {{0.8, 0.5, 0.5, 10}, {0.2, 1.0, 0.9, 10}};
  for (int r = 0; r < 2; r++) {
    assert_float_equal(csv_value(csv, r, "p_sure"), want[r][0], 1e-9);
    assert_float_equal(csv_value(csv, r, "acc_waived"), want[r][1], 1e-9);
    assert_float_equal(csv_value(csv, r, "acc_no_sure"), want[r][2], 1e-9);
    assert_float_equal(csv_value(csv, r, "no_sure"), want[r][3], 0);
  }
  expect_analysis_refused("wager", "sure_offered");
  remove_tmpdir();
}

// analyze multisensory on a planted trial table: per modality (visual, auditory, both) 100
// one-trial episodes at each of 8 signed coherences, with the rightward choices of a logistic
// observer of scale 0.2, 0.1 and 0.06 (counts rounded); the fits recover the scales, the optimal
// prediction is 0.2 x 0.1 / sqrt(0.2^2 + 0.1^2) = 0.0894 and the multisensory scale beats it.
static void test_multisensory_analysis_planted(void** s) {
  assert_int_equal(make_tmpdir("multi"), 0);
  char path[600], csv[700], js[700];
  snprintf(path, sizeof path, "%s/planted.rollout", tmpdir);
  int c_ev, c_va;
  am_ds_writer* w = planted_writer(path, "multisensory-reach", NULL, "hold_complete",
                                   "coherence,modality",
                                   "trial_start,hold_complete,error,trial_end",
                                   "coherence,modality,choice,outcome", &c_ev, &c_va);
  const double scale[3] = {0.2, 0.1, 0.06}, coh[8] = {-0.4, -0.2, -0.1, -0.05, 0.05, 0.1, 0.2, 0.4};
  int right[3][8], ep = 0;
  for (int m = 0; m < 3; m++)
    for (int k = 0; k < 8; k++) {
      right[m][k] = (int)floor(100 / (1 + exp(-coh[k] / scale[m])) + 0.5);
      for (int i = 0; i < 100; i++, ep++) {
        int r = i < right[m][k], ok = r == (coh[k] > 0);
        assert_int_equal(am_ds_episode_begin(w, 0, ep, NULL), 0);
        for (int t = 0; t < 2; t++) {
          uint32_t bits = t == 0 ? 1u : (ok ? 2u : 4u) | 8u;
          memcpy(am_ds_row_ptr(w, 0, c_ev), &bits, 4);
          float* v = am_ds_row_ptr(w, 0, c_va);
          v[0] = (float)coh[k], v[1] = (float)m, v[2] = t ? (r ? 1.0f : -1.0f) : 0;
          v[3] = t ? (float)ok : 0;
          assert_int_equal(am_ds_row_commit(w, 0, t ? AM_DS_END | AM_DS_TERMINATED : 0), 0);
        }
      }
    }
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  assert_int_equal(animat("analyze multisensory %s --out %s/an", path, tmpdir), 0);
  expect_out("multisensory: 2400 trials with a choice");
  snprintf(csv, sizeof csv, "%s/an/multisensory.csv", tmpdir);
  snprintf(js, sizeof js, "%s/an/multisensory.json", tmpdir);
  for (int m = 0; m < 3; m++)
    for (int k = 0; k < 8; k++) {
      assert_float_equal(csv_value(csv, 8 * m + k, "coherence"), (float)coh[k], 1e-6);
      assert_float_equal(csv_value(csv, 8 * m + k, "p_right"), right[m][k] / 100.0, 1e-9);
    }
  double sv = json_value(js, "slope"), pred = json_value(js, "predicted_slope");
  double ratio = json_value(js, "slope_ratio"), benefit = json_value(js, "benefit");
  print_message("multisensory planted: visual scale %.4f (0.2), predicted %.4f (0.0894), ratio "
                "%.3f (0.671), benefit %.3f (0.6)\n", sv, pred, ratio, benefit);
  assert_true(fabs(sv - 0.2) < 0.01 && fabs(pred - 0.0894) < 0.005);
  assert_true(fabs(ratio - 0.06 / 0.0894) < 0.05 && fabs(benefit - 0.6) < 0.05);
  expect_analysis_refused("multisensory", "modality");
  remove_tmpdir();
}

// analyze two-tap on a planted trial table (control period 0.1 s, so the default 0.8 +- 0.1 s
// window is steps 7-9 and the decision comes at 1.0 s): 10 trials with a second touch 0.8 s after
// the first, 5 with one too soon (0.2 s), 5 without; with task.params interval=0.5 the window is
// 0.4-0.6 s of 0.7 s, the uniform baseline 3/7. A recording made with the training curriculum or
// staircase (windows moving with each env's pairs or trials) is refused, naming it.
static void test_two_tap_analysis_planted(void** s) {
  assert_int_equal(make_tmpdir("tap"), 0);
  char path[600], csv[700], js[700];
  for (int variant = 0; variant < 4; variant++) {
    snprintf(path, sizeof path, "%s/planted%d.rollout", tmpdir, variant);
    int c_ev, c_va;
    const char* params[4] = {NULL, "interval=0.5", "curriculum=3", "staircase=1"};
    am_ds_writer* w = planted_writer(path, "two-tap", params[variant],
                                     "touch_second", "",
                                     "trial_start,touch_first,touch_second,too_soon,no_second,"
                                     "reward,trial_end", "tap_state", &c_ev, &c_va);
    for (int ep = 0; ep < 20; ep++) {
      int kind = ep < 10 ? 2 : ep < 15 ? 3 : 4;  // the event that follows the first touch
      int at = kind == 2 ? 9 : kind == 3 ? 3 : 11, rows = at + 2;
      assert_int_equal(am_ds_episode_begin(w, 0, ep, NULL), 0);
      for (int t = 0; t < rows; t++) {
        uint32_t bits = (t == 0 ? 1u : 0) | (t == 1 ? 2u : 0) | (t == at ? 1u << kind : 0) |
                        (t == rows - 1 ? 64u : 0);
        memcpy(am_ds_row_ptr(w, 0, c_ev), &bits, 4);
        *(float*)am_ds_row_ptr(w, 0, c_va) = 0;
        assert_int_equal(am_ds_row_commit(w, 0, t == rows - 1 ? AM_DS_END | AM_DS_TERMINATED : 0),
                         0);
      }
    }
    assert_int_equal(am_ds_close(w, err, sizeof err), 0);
    if (variant >= 2) {  // the training's moving windows
      assert_int_equal(animat("analyze two-tap %s --out %s/an%d", path, tmpdir, variant), 1);
      expect_out(variant == 2 ? "recording was made with curriculum=3"
                              : "recording was made with staircase=1");
      continue;
    }
    assert_int_equal(animat("analyze two-tap %s --out %s/an%d", path, tmpdir, variant), 0);
    snprintf(js, sizeof js, "%s/an%d/two-tap.json", tmpdir, variant);
    assert_float_equal(json_value(js, "in_window_uniform"), variant ? 3.0 / 7 : 0.3, 1e-5);
    if (variant) continue;
    expect_out("two-tap: 20 first touches: 10 counted pairs (50.0 %), 5 too soon, 5 without a "
               "second; second touches in the 0.70-0.90 s window 0.667 (uniform timing 0.300); "
               "median interval 0.800 s");
    snprintf(csv, sizeof csv, "%s/an0/two-tap.csv", tmpdir);
    for (int b = 0; b < 26; b++)
      assert_float_equal(csv_value(csv, b, "second_touches"), b == 5 ? 5 : b == 20 ? 10 : 0, 0);
    assert_float_equal(csv_value(csv, 20, "in_window"), 1, 0);
    assert_float_equal(csv_value(csv, 5, "in_window"), 0, 0);
  }
  expect_analysis_refused("two-tap", "touch_first");
  remove_tmpdir();
}

// value-choice: the offers shown per side (drops / 5), the variables of the trial just chosen
// (offers, values, b_side, log_ratio, chosen_value), the reward = chosen value / the best offer
// type's value, and the "better" event: a chooser that values A at rho takes the better offer on
// every trial (P(choose B) a step at log rho), one that values A at 1 takes the worse one on the
// offer types between (1:2 with rho 3).
static void test_value_choice_rules(void** s) {
  am_task t;
  make_task(&t, "value-choice", "trials=50", "rho=3", "offers=1:1,1:2,1:4,2:1", NULL);
  assert_true(t.discrete);
  assert_int_equal(t.act_dim, 2);
  int voa = find_var(&t, "offer_a"), vob = find_var(&t, "offer_b"), vva = find_var(&t, "value_a");
  int vvb = find_var(&t, "value_b"), vbs = find_var(&t, "b_side"), vlr = find_var(&t, "log_ratio");
  int vcv = find_var(&t, "chosen_value"), vch = find_var(&t, "choice"), vo = find_var(&t, "outcome");
  int e_b = find_event(&t, "better"), e_w = find_event(&t, "worse");
  assert_int_equal(t.success_event, e_b);
  for (int valuer = 0; valuer < 2; valuer++) {  // 0: values A at rho = 3, 1: at 1
    am_pool* pool = make_pool_threads(&t, 1, 1, 4);
    am_batch* b = am_pool_batch(pool);
    int better = 0, worse = 0, n = 0, mid = 0;
    for (int st = 0; st < 2000; st++) {
      const float* o = b->obs;  // left A, left B, right A, right B (drops / 5)
      int a_right = o[2] > 0;
      double qa = 5 * (a_right ? o[2] : o[0]), qb = 5 * (a_right ? o[1] : o[3]);
      assert_true(qa > 0 && qb > 0);
      assert_float_equal(a_right ? o[0] : o[2], 0, 0);
      assert_float_equal(a_right ? o[3] : o[1], 0, 0);
      double wa = (valuer ? 1 : 3) * qa;
      int take_a = wa >= qb, right = take_a == a_right;
      b->actions[0] = !right, b->actions[1] = (float)right;
      am_pool_step(pool);
      const float* v = b->vars;
      assert_float_equal(v[voa], qa, 1e-6);
      assert_float_equal(v[vob], qb, 1e-6);
      assert_float_equal(v[vva], 3 * qa, 1e-5);
      assert_float_equal(v[vvb], qb, 1e-6);
      assert_float_equal(v[vbs], a_right ? -1 : 1, 0);
      assert_float_equal(v[vlr], log(qb / qa), 1e-6);
      assert_float_equal(v[vch], right ? 1 : -1, 0);
      double chosen = take_a ? 3 * qa : qb, other = take_a ? qb : 3 * qa;
      assert_float_equal(v[vcv], chosen, 1e-5);
      assert_float_equal(b->rewards[0], chosen / 6.0, 1e-6);  // best offer type 2:1 = 6
      int good = chosen >= other;
      assert_int_equal(!!(b->events[0] & (1u << e_b)), good);
      assert_int_equal(!!(b->events[0] & (1u << e_w)), !good);
      assert_float_equal(v[vo], good, 0);
      better += good, worse += !good, n++;
      mid += qa == 1 && qb == 2;
    }
    if (!valuer) assert_int_equal(better, n);
    else assert_int_equal(worse, mid), assert_true(mid > 300);  // only 1:2 (B at 2 > A at 1)
    am_pool_free(pool);
  }
  amt_destroy(&t);
}

// water-plane: the navigator runs at `speed` (0.256 m per 0.32 s step) toward the place the
// action names, turning at most 57.6 deg a step, inside the wall; named the goal it finds it
// (goal_found, trial_end, +10, the found signal, the return phase, the heading group on the cue),
// then runs to the cue by itself (cue_reached, trial_start, +1, search 2); named the place where it
// stands it stays and times out on the 16th step (search_time 5 s); the last search's find
// terminates the episode. Bad values refused naming the key.
static void water_plane_step(am_pool* pool, am_batch* b, const float cmd[2], double prev[2]) {
  b->actions[0] = cmd[0], b->actions[1] = cmd[1];
  am_pool_step(pool);
  const float* v = b->vars;
  double x = v[6], y = v[7], hd = v[8];
  assert_true(hypot(x - prev[0], y - prev[1]) <= 0.8 * 0.32 + 1e-6);
  assert_true(hypot(x, y) <= 0.9 + 1e-6);
  prev[0] = x, prev[1] = y;
  if (b->terminated[0]) return;  // the observation is the next episode's
  // the heading group points at the named place (searching) or at the cue (returning)
  double tx = v[2] == 0 ? cmd[0] - x : v[4] - x, ty = v[2] == 0 ? cmd[1] - y : v[5] - y;
  if (hypot(tx, ty) > 1e-3) {
    assert_float_equal(b->obs[10], cos(atan2(ty, tx) - hd), 1e-4);
    assert_float_equal(b->obs[11], sin(atan2(ty, tx) - hd), 1e-4);
  }
  assert_float_equal(b->obs[0], x, 1e-6);  // arena_radius 1
  assert_float_equal(b->obs[2], cos(hd), 1e-5);
}

static void test_water_plane_rules(void** s) {
  (void)s;
  am_task t;
  make_task(&t, "water-plane", "trials=3", "search_time=5", NULL);
  assert_false(t.discrete);
  assert_int_equal(t.act_dim, 2);
  assert_int_equal(t.obs_dim, 12);
  assert_int_equal(t.max_steps, 188);
  int FOUND = find_event(&t, "goal_found"), TIMEOUT = find_event(&t, "timeout");
  int CUE = find_event(&t, "cue_reached"), START = t.trial_start_event, END = t.trial_end_event;
  assert_int_equal(t.success_event, FOUND);
  assert_true(START >= 0 && END >= 0 && TIMEOUT >= 0 && CUE >= 0);
  am_pool* pool = make_pool_threads(&t, 1, 1, 5);
  am_batch* b = am_pool_batch(pool);
  const float* v = b->vars;
  float v0[16];
  t.get_vars(&t, am_pool_env(pool, 0), v0);  // after the reset
  double prev[2] = {v0[6], v0[7]};
  const float goal[2] = {v0[0], v0[1]};
  assert_true(hypot(prev[0], prev[1]) > 0.74 && hypot(goal[0] - prev[0], goal[1] - prev[1]) >= 0.5);
  for (int search = 1; search <= 3; search++) {
    int k = 0;
    uint32_t ev = 0;
    const float stay[2] = {(float)prev[0], (float)prev[1]};
    const float* cmd = search == 2 ? stay : goal;
    for (; k < 16 && !(ev & (1u << END)); k++) {
      water_plane_step(pool, b, cmd, prev);
      ev = b->events[0];
      assert_int_equal(!!(ev & (1u << START)), search == 1 && k == 0);
    }
    if (search == 2) {  // stood still: timed out on the 16th step
      assert_int_equal(k, 16);
      assert_int_equal(ev, (1u << TIMEOUT) | (1u << END));
      assert_float_equal(b->rewards[0], 0, 0);
    } else {
      assert_true(k < 16);
      assert_int_equal(ev, (1u << FOUND) | (1u << END));
      assert_float_equal(b->rewards[0], 10, 0);
      assert_true(hypot(prev[0] - goal[0], prev[1] - goal[1]) < 0.15);
      assert_true(search == 3 || b->obs[8] == 1);  // (the last: the next episode's)
    }
    if (search == 3) break;
    assert_int_equal(b->terminated[0], 0);
    assert_true(v[2] == 1 && b->obs[5] == 1 && b->obs[4] == 0);  // returning to the cue
    assert_true(hypot(v[4] - goal[0], v[5] - goal[1]) >= 0.5);
    const float none[2] = {0, 0};
    for (k = 0; k < 40 && !(b->events[0] & (1u << CUE)); k++) {
      water_plane_step(pool, b, none, prev);
      assert_true(k == 0 || b->obs[8] == 0);  // the found signal: one step (found_steps 1)
    }
    assert_int_equal(b->events[0], (1u << CUE) | (1u << START));
    assert_float_equal(b->rewards[0], 1, 0);
    assert_true(v[2] == 0 && v[3] == search + 1);
  }
  assert_int_equal(b->terminated[0], 1);
  am_pool_free(pool);
  amt_destroy(&t);
  const char* bad[] = {"steer=0", "steer=3", "speed=0", "turn_rate=0", "step_time=2",
                       "found_steps=0", "trials=0", "search_time=0.1"};
  for (int i = 0; i < 8; i++) expect_refused("water-plane", bad[i]);
}

// water-plane's rat-like movement, each option against its definition: turn_gain shrinks the
// heading error by exp(-turn_gain dt) a step; halt=0 runs the whole step through a named place
// (halt=1 stops on it); running into the wall at an angle, wall_slip=0 stops where the straight
// path meets the wall (wall_slip=1 slides to the radial projection); heading_noise is a random walk
// whose steps have the set deviation; place_inside moves a named place beyond it in onto its
// circle (a rule of water_rules.c, the rat's too). One env per case, seed 7.
static am_pool* plane_case(am_task* t, const char* p1, const char* p2, double pos[3]) {
  make_task(t, "water-plane", "turn_rate=3600", p1, p2, NULL);
  am_pool* pool = make_pool_threads(t, 1, 1, 7);
  float v[16];
  t->get_vars(t, am_pool_env(pool, 0), v);
  pos[0] = v[6], pos[1] = v[7], pos[2] = v[8];
  return pool;
}

static void plane_go(am_pool* pool, double cx, double cy, double out[3]) {
  am_batch* b = am_pool_batch(pool);
  b->actions[0] = (float)cx, b->actions[1] = (float)cy;
  am_pool_step(pool);
  out[0] = b->vars[6], out[1] = b->vars[7], out[2] = b->vars[8];
}

static void test_water_plane_motion(void** s) {
  (void)s;
  am_task t;
  double p[3], q[3];
  // turn_gain 2: a target 90 deg aside leaves 90 exp(-0.64) deg of error
  am_pool* pool = plane_case(&t, "turn_gain=2", "speed=0.01", p);
  double aim = p[2] + M_PI / 2, cx = p[0] + 0.2 * cos(aim), cy = p[1] + 0.2 * sin(aim);
  plane_go(pool, cx, cy, q);
  double err = remainder(atan2(cy - p[1], cx - p[0]) - q[2], 2 * M_PI);
  assert_float_equal(err, M_PI / 2 * exp(-2 * 0.32), 1e-5);
  am_pool_free(pool);
  amt_destroy(&t);
  // a place 0.05 m toward the centre: halt=1 stops on it, halt=0 runs the step's 0.16 m
  for (int halt = 0; halt <= 1; halt++) {
    pool = plane_case(&t, halt ? "halt=1" : "halt=0", "speed=0.5", p);
    double r = hypot(p[0], p[1]);
    plane_go(pool, p[0] * (1 - 0.05 / r), p[1] * (1 - 0.05 / r), q);
    assert_float_equal(hypot(q[0] - p[0], q[1] - p[1]), halt ? 0.05 : 0.16, 1e-5);
    assert_float_equal(hypot(q[0], q[1]), r - (halt ? 0.05 : 0.16), 1e-5);
    am_pool_free(pool);
    amt_destroy(&t);
  }
  // outward at 45 deg from the radius from 0.75 m, to a place 0.25 m away (1 m/s: reached in the
  // step): the path crosses 0.9 m after 0.197 m
  for (int slip = 0; slip <= 1; slip++) {
    pool = plane_case(&t, slip ? "wall_slip=1" : "wall_slip=0", "speed=1", p);
    double a = atan2(p[1], p[0]) + M_PI / 4, r = hypot(p[0], p[1]);
    assert_float_equal(r, 0.75, 1e-5);
    double dx = cos(a), dy = sin(a);
    plane_go(pool, p[0] + 0.25 * dx, p[1] + 0.25 * dy, q);
    assert_float_equal(hypot(q[0], q[1]), 0.9, 1e-5);
    if (slip) {  // the radial projection of the free step
      double fx = p[0] + 0.25 * dx, fy = p[1] + 0.25 * dy, f = hypot(fx, fy);
      assert_float_equal(q[0], fx * 0.9 / f, 1e-5);
      assert_float_equal(q[1], fy * 0.9 / f, 1e-5);
    } else {  // on the straight path, short of the free step
      assert_float_equal((q[0] - p[0]) * dy - (q[1] - p[1]) * dx, 0, 1e-5);
      assert_float_equal(hypot(q[0] - p[0], q[1] - p[1]), 0.197, 1e-3);
    }
    am_pool_free(pool);
    amt_destroy(&t);
  }
  // heading_noise 30 deg/sqrt(s) with no command and no turning: steps of 30 sqrt(0.32) deg
  make_task(&t, "water-plane", "heading_noise=30", "turn_rate=0.001", "speed=0.01", NULL);
  pool = make_pool_threads(&t, 32, 1, 7);
  am_batch* b = am_pool_batch(pool);
  double sum = 0, sum2 = 0, prev[32];
  int n = 0;
  for (int k = 0; k < 20; k++) {
    memset(b->actions, 0, 32 * 2 * sizeof(float));
    am_pool_step(pool);
    for (int e = 0; e < 32; e++) {
      if (k > 0) {
        double d = remainder(b->vars[e * t.n_vars + 8] - prev[e], 2 * M_PI);
        sum += d, sum2 += d * d, n++;
      }
      prev[e] = b->vars[e * t.n_vars + 8];
    }
  }
  double sd = sqrt(sum2 / n - (sum / n) * (sum / n)), want = 30 * M_PI / 180 * sqrt(0.32);
  assert_true(fabs(sd / want - 1) < 0.15);
  assert_true(fabs(sum / n) < 4 * want / sqrt(n));
  am_pool_free(pool);
  amt_destroy(&t);
  // place_inside 0.2 (arena 1 m): the place (1, 1) is taken at (0.8, 0.8) / sqrt(2); (0.3, 0.2)
  // as named; the group heading points there from where the step left the navigator
  const float named[2][2] = {{1, 1}, {0.3f, 0.2f}};
  const double at[2][2] = {{0.8 / sqrt(2), 0.8 / sqrt(2)}, {0.3, 0.2}};
  for (int k = 0; k < 2; k++) {
    pool = plane_case(&t, "place_inside=0.2", "speed=0.01", p);
    plane_go(pool, named[k][0], named[k][1], q);
    b = am_pool_batch(pool);
    double rel = atan2(at[k][1] - q[1], at[k][0] - q[0]) - q[2];
    assert_float_equal(b->obs[10], cos(rel), 1e-4);
    assert_float_equal(b->obs[11], sin(rel), 1e-4);
    am_pool_free(pool);
    amt_destroy(&t);
  }
  // return_speed 0.1 (speed 0.5): each walk back runs at one speed drawn in [0.1, 0.5] m/s (the
  // steps before the one that reaches the cue all of one length), and the walks differ
  make_task(&t, "water-plane", "return_speed=0.1", "speed=0.5", "search_time=0.64", "trials=100",
            "turn_rate=3600", NULL);
  pool = make_pool_threads(&t, 1, 1, 7);
  b = am_pool_batch(pool);
  double walk[8] = {0}, last = -1;
  int walks = 0, steps = 0;
  float v0[16];
  t.get_vars(&t, am_pool_env(pool, 0), v0);
  p[0] = v0[6], p[1] = v0[7];
  for (int k = 0; k < 400 && walks < 8; k++) {
    int returning = b->vars[2] == 1 && k > 0;
    plane_go(pool, 0, 0, q);
    if (b->terminated[0]) break;
    double len = hypot(q[0] - p[0], q[1] - p[1]);
    p[0] = q[0], p[1] = q[1];
    if (!returning) continue;
    if (b->events[0] & (1u << find_event(&t, "cue_reached"))) {  // this walk is over
      if (steps > 0) walks++;
      steps = 0, last = -1;
      continue;
    }
    if (last >= 0) assert_float_equal(len, last, 1e-6);
    assert_true(len >= 0.1 * 0.32 - 1e-6 && len <= 0.5 * 0.32 + 1e-6);
    walk[walks] = last = len, steps++;
  }
  assert_int_equal(walks, 8);
  double lo = walk[0], hi = walk[0];
  for (int k = 1; k < 8; k++) lo = fmin(lo, walk[k]), hi = fmax(hi, walk[k]);
  assert_true(hi - lo > 0.02);
  am_pool_free(pool);
  amt_destroy(&t);
  const char* bad[] = {"turn_gain=-1", "heading_noise=-1", "halt=2", "wall_slip=1.5",
                       "place_inside=-0.1", "place_inside=1", "return_speed=0.9"};
  for (int i = 0; i < 7; i++) expect_refused("water-plane", bad[i]);
}

// One seed fixes every env whatever the thread count (water-plane with its random options too).
static void test_cog_determinism(void** s) {
  const char* names[7] = {"bandit", "two-step", "perceptual-decision", "dnms", "wager",
                          "value-choice", "water-plane"};
  // water-plane with the options that draw from the env's stream (heading noise, walk-back speed)
  const char* extra[7][2] = {{0}, {0}, {0}, {0}, {0}, {0}, {"heading_noise=30", "return_speed=0.1"}};
  for (int k = 0; k < 7; k++) {
    uint32_t h[2];
    for (int th = 0; th < 2; th++) {
      am_task t;
      make_task(&t, names[k], "trials=7", extra[k][0], extra[k][1], NULL);
      am_pool* pool = make_pool_threads(&t, 6, th + 1, 21);
      am_batch* b = am_pool_batch(pool);
      am_rng rng;
      am_rng_seed(&rng, 3, 0);
      h[th] = 0;
      for (int st = 0; st < 300; st++) {
        for (int i = 0; i < 6 * t.act_dim; i++) b->actions[i] = (float)am_rng_range(&rng, -1, 1);
        am_pool_step(pool);
        h[th] = am_crc32(h[th], b->obs, sizeof(float) * 6 * t.obs_dim);
        h[th] = am_crc32(h[th], b->vars, sizeof(float) * 6 * t.n_vars);
        h[th] = am_crc32(h[th], b->rewards, sizeof(float) * 6);
      }
      am_pool_free(pool);
      amt_destroy(&t);
    }
    assert_int_equal(h[0], h[1]);
  }
}

// The categorical actor: choices one-hot, drawn with the softmax's frequencies, log-probabilities
// of the choice; deterministic: the argmax; refused on a task with continuous actions.
static void test_categorical_actor(void** s) {
  am_task t;
  make_task(&t, "bandit", NULL);
  ama_policy_cfg pc;
  ama_policy_cfg_default(&pc);
  snprintf(pc.action_head, sizeof pc.action_head, "categorical");
  snprintf(pc.motor_groups, sizeof pc.motor_groups, "none");
  const int N = 400;
  ama_policy pol;
  assert_int_equal(ama_policy_init(&pol, &pc, t.groups, t.n_groups, t.obs_dim, t.act_dim, 1, 1, N,
                                   3, err, sizeof err), 0);
  // logits = bias only: log(0.3), log(0.7)
  float* W = pol.params.w + pol.params.t[pol.i_Wmu].offset;
  float* bias = pol.params.w + pol.params.t[pol.i_bmu].offset;
  memset(W, 0, sizeof(float) * 2 * pc.motor_hidden);
  bias[0] = logf(0.3f), bias[1] = logf(0.7f);
  for (int det = 0; det < 2; det++) {
    ama_actor ac;
    ama_actor_cfg acfg = {.kind = AMA_ACT_POLICY, .seed = 4, .deterministic = det};
    assert_int_equal(ama_actor_init(&ac, &acfg, &pol, &t, N, err, sizeof err), 0);
    float* obs = calloc((size_t)N * t.obs_dim, sizeof(float));
    float* act = calloc((size_t)N * 2, sizeof(float));
    int right = 0;
    for (int rep = 0; rep < 5; rep++) {
      ama_actor_act(&ac, obs, act);
      for (int i = 0; i < N; i++) {
        assert_float_equal(act[2 * i] + act[2 * i + 1], 1, 0);
        assert_float_equal(ac.std[2 * i + 1], 0.7, 1e-5);
        assert_float_equal(ac.logp[i], logf(act[2 * i + 1] ? 0.7f : 0.3f), 1e-5);
        right += act[2 * i + 1] == 1;
      }
    }
    if (det) assert_int_equal(right, 5 * N);
    else assert_true(fabs(right / (5.0 * N) - 0.7) < 0.03);
    free(obs), free(act);
    ama_actor_free(&ac);
  }
  ama_policy_free(&pol);
  amt_destroy(&t);
  // a categorical head on a continuous task is refused by name
  am_task r;
  make_task(&r, "reacher", NULL);
  snprintf(pc.motor_groups, sizeof pc.motor_groups, "none");
  assert_int_equal(ama_policy_init(&pol, &pc, r.groups, r.n_groups, r.obs_dim, r.act_dim, 1, 1, 2,
                                   3, err, sizeof err), 0);
  ama_actor ac;
  ama_actor_cfg acfg = {.kind = AMA_ACT_POLICY, .seed = 4};
  assert_int_equal(ama_actor_init(&ac, &acfg, &pol, &r, 2, err, sizeof err), -1);
  assert_non_null(strstr(err, "categorical"));
  ama_policy_free(&pol);
  amt_destroy(&r);
}

// Records `episodes` episodes of random actions of task (one task parameter) to tmpdir/name.rollout,
// replays them exactly (`verify --resim`) and writes their trial table (whose summary is `trials`).
static void record_replay(const char* task, const char* param, const char* name, int episodes,
                          const char* trials) {
  assert_int_equal(animat("record --random --task %s --task-param %s --episodes %d "
                          "--out %s/%s.rollout", task, param, episodes, tmpdir, name), 0);
  assert_int_equal(animat("verify %s/%s.rollout --resim", tmpdir, name), 0);
  char want[64];
  snprintf(want, sizeof want, "%d episodes replayed, largest qpos deviation 0", episodes);
  expect_out(want);
  assert_int_equal(animat("trials %s/%s.rollout --out %s/%s.csv", tmpdir, name, tmpdir, name), 0);
  expect_out(trials);
}

// A body-less task through the tools: a recording (random choices), `verify --resim` (nothing to
// replay: deviation 0), the trial table (one row per trial) and the two-step analysis.
static void test_cog_cli(void** s) {
  assert_int_equal(make_tmpdir("cog"), 0);
  record_replay("two-step", "trials=50", "ts", 4, "200 trials (200 complete)");
  char p[512];
  snprintf(p, sizeof p, "%s/ts.csv", tmpdir);
  assert_float_equal(csv_value(p, 0, "trial"), 0, 0);
  assert_int_equal(animat("analyze two-step %s/ts.rollout --out %s/an", tmpdir, tmpdir), 0);
  expect_out("model-based index");
  assert_int_equal(animat("analyze bandit %s/ts.rollout --out %s/an", tmpdir, tmpdir), 1);
  expect_out("p_left");  // the wrong analysis says what it needs
  // dnms: random outputs recorded, replayed exactly, one trial per episode
  record_replay("dnms", "dt=0.01", "dn", 6, "6 trials (6 complete)");
  remove_tmpdir();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bandit_rules),     cmocka_unit_test(test_two_step_rules),
      cmocka_unit_test(test_cog_determinism),  cmocka_unit_test(test_categorical_actor),
      cmocka_unit_test(test_perceptual_decision_rules), cmocka_unit_test(test_dnms_rules),
      cmocka_unit_test(test_cog_cli),
      cmocka_unit_test(test_wager_rules),      cmocka_unit_test(test_wager_analysis_planted),
      cmocka_unit_test(test_multisensory_analysis_planted),
      cmocka_unit_test(test_two_tap_analysis_planted),
      cmocka_unit_test(test_value_choice_rules),
      cmocka_unit_test(test_water_plane_rules),
      cmocka_unit_test(test_water_plane_motion),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
