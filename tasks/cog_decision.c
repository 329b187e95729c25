// cog_decision.c: the body-less perceptual decision, actions fixate / left / right: NeuroGym's
// PerceptualDecisionMaking (Molano-Mazon et al. 2022), the random-dots task of Roitman & Shadlen
// 2002 in the abstract form Song, Yang & Wang 2017 trained networks on. docs/tasks.md describes it;
// decision-reach (arm_tasks.c) is the embodied version, chosen by reaching.
//
// A trial (control step 0.1 s, the empty scene "none" of cog_tasks.c):
//   FIX       fix_time: the fixation cue is on; the agent must choose "fixate" (action 0)
//   STIM      stim_time: two evidence channels (1 -+ c) / 2 + noise N(0, noise^2) per step for left
//             and right, c the signed coherence; still fixating (any other action aborts)
//   DECISION  decision_time: the fixation cue is off (go_cue); left (1) or right (2) ends the
//             trial: reward 1 when it matches the sign of c (c = 0: a coin flip decides), 0 when
//             not (error); fixating through it is a miss (timeout)
// Breaking fixation before the decision period aborts the trial (reward -abort_penalty). Trials
// follow each other without a pause; an episode is `trials` trials.
//
// wager: the post-decision wager of Kiani & Shadlen 2009 (Science 324:759) on the same engine,
// actions fixate / left / right / sure. The stimulus lasts a duration drawn per trial from
// stim_time (min,max, in 0.1 s steps); then a DELAY of delay_time (fixating, nothing shown but,
// on a random sure_prob of the trials, the sure target from sure_onset into the delay until the
// choice); then the decision period. Choosing the sure target pays sure_reward (< 1) whatever the
// motion; choosing it when it was not offered is a miss.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

// Events: one internal code per event; each task lists the ones it raises (their bits in that
// order: trial_start first, trial_end last, the order within a trial).
enum { E_TRIAL_START, E_STIM_ON, E_STIM_OFF, E_SURE_ON, E_GO_CUE, E_REWARD, E_ERROR, E_SURE,
       E_ABORT, E_TIMEOUT, E_TRIAL_END, E_ALL };
static const char* const event_names[E_ALL] = {"trial_start", "stim_on", "stim_off", "sure_on",
                                               "go_cue", "reward", "error", "sure", "abort",
                                               "timeout", "trial_end"};
static const int pd_events[] = {E_TRIAL_START, E_STIM_ON, E_GO_CUE, E_REWARD, E_ERROR, E_ABORT,
                                E_TIMEOUT, E_TRIAL_END};
static const int wager_events[] = {E_TRIAL_START, E_STIM_ON, E_STIM_OFF, E_SURE_ON, E_GO_CUE,
                                   E_REWARD, E_ERROR, E_SURE, E_ABORT, E_TIMEOUT, E_TRIAL_END};
// Variables: perceptual-decision has the first V_PD_COUNT, wager all. outcome: 1 correct, 0
// error, -1 abort or miss, 2 sure (wager); correct: 1 / 0 for a left/right choice, -1 otherwise.
enum { V_TRIAL, V_COHERENCE, V_CHOICE, V_OUTCOME, V_EPOCH, V_EV_LEFT, V_EV_RIGHT, V_PD_COUNT,
       V_DURATION = V_PD_COUNT, V_SURE_OFFERED, V_CHOSE_SURE, V_CORRECT, V_COUNT };
static const char* const var_names[V_COUNT] = {"trial", "coherence", "choice", "outcome", "epoch",
                                               "evidence_left", "evidence_right", "stim_duration",
                                               "sure_offered", "chose_sure", "correct"};
enum { EP_FIX, EP_STIM, EP_DECISION, EP_DELAY };  // the variable epoch (delay: wager)

#define MAX_COH 16

const amt_param_def amt_perceptual_decision_params[] = {
    {"trials", "20", "trials per episode"},
    {"coherences", "0,0.064,0.128,0.256,0.512", "unsigned coherences; the sign is random"},
    {"noise", "0.1", "std of each evidence channel's noise per 0.1 s step"},
    {"fix_time", "0.1", "fixation before the stimulus (s)"},
    {"stim_time", "2.0", "stimulus duration (s)"},
    {"decision_time", "0.1", "time to choose after the fixation cue goes off (s)"},
    {"abort_penalty", "0.1", "reward -abort_penalty for breaking fixation early"},
    AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_wager_params[] = {
    {"trials", "20", "trials per episode"},
    {"coherences", "0,0.032,0.064,0.128,0.256,0.512", "unsigned coherences; the sign is random "
                                                      "(Kiani & Shadlen 2009's set)"},
    {"noise", "0.2", "std of each evidence channel's noise per 0.1 s step"},
    {"fix_time", "0.1", "fixation before the stimulus (s)"},
    {"stim_time", "0.1,0.9", "stimulus duration min,max (s), drawn uniformly in 0.1 s steps per "
                             "trial; one value: fixed"},
    {"delay_time", "0.3", "delay between the stimulus and the go cue (s), fixating"},
    {"sure_onset", "0.1", "time into the delay when the sure target appears (s)"},
    {"sure_prob", "0.5", "fraction of trials on which the sure target is offered"},
    {"sure_reward", "0.7", "reward for choosing the sure target (a correct left/right pays 1)"},
    {"decision_time", "0.1", "time to choose after the fixation cue goes off (s)"},
    {"abort_penalty", "0.1", "reward -abort_penalty for breaking fixation early"},
    AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

typedef struct pd_cfg {
  amt_opts opts;  // first (task_opts.h)
  int wager;      // the wager task (else perceptual-decision)
  int trials, fix_steps, stim_steps, stim_max, dec_steps, n_coh;
  int delay_steps, sure_steps;  // wager: the delay and the sure target's onset in it
  int code[E_ALL];              // the event bit of each internal event (-1: not raised)
  double coh[MAX_COH], noise, abort_penalty, sure_prob, sure_reward;
} pd_cfg;

typedef struct pd_state {
  amt_opt_state opt;  // first (task_opts.h)
  int trial, epoch, t, action, choice, outcome, done;
  int ended;  // the last step ended the trial (the next begins with the next action)
  int stim_steps, sure_offered, sure_shown;  // this trial's stimulus length; wager's sure target
  double coh, ev[2];
  uint32_t pending;
} pd_state;

static void begin_trial(const pd_cfg* c, am_env* e) {
  pd_state* s = e->task_state;
  int k = (int)(am_rng_uniform(&e->rng) * c->n_coh) % c->n_coh;
  s->coh = (am_rng_uniform(&e->rng) < 0.5 ? -1 : 1) * c->coh[k];
  s->stim_steps = c->stim_steps;
  s->sure_offered = s->sure_shown = 0;
  if (c->wager) {
    s->stim_steps += (int)(am_rng_uniform(&e->rng) * (c->stim_max - c->stim_steps + 1));
    if (s->stim_steps > c->stim_max) s->stim_steps = c->stim_max;
    s->sure_offered = am_rng_uniform(&e->rng) < c->sure_prob;
  }
  s->epoch = EP_FIX;
  s->t = 0;
  s->choice = s->outcome = s->ended = 0;
  s->ev[0] = s->ev[1] = 0;
  s->pending |= 1u << c->code[E_TRIAL_START];
}

static uint32_t bit(const pd_cfg* c, int e) { return 1u << c->code[e]; }

static void pd_reset(const am_task* t, am_env* e) {
  const pd_cfg* c = t->cfg;
  pd_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  amt_opts_reset(&s->opt);
  mj_forward(e->m, e->d);
  begin_trial(c, e);
}

static void pd_act(const am_task* t, am_env* e, const float* a) {
  const pd_cfg* c = t->cfg;
  pd_state* s = e->task_state;
  amt_opts_act(&c->opts, &s->opt, a);
  if (s->ended) begin_trial(c, e);  // the trial's first action (its conditions drawn here)
  int k = 0;
  float best = -INFINITY;
  for (int j = 0; j < t->act_dim; j++)
    if (isfinite(a[j]) && a[j] > best) best = a[j], k = j;
  s->action = k;  // 0 fixate, 1 left, 2 right, 3 sure (wager)
}

// The evidence the next observation shows (drawn once per step of the stimulus).
static void draw_evidence(const pd_cfg* c, pd_state* s, am_rng* r) {
  s->ev[0] = (1 - s->coh) / 2 + c->noise * am_rng_normal(r);
  s->ev[1] = (1 + s->coh) / 2 + c->noise * am_rng_normal(r);
}

static void pd_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const pd_cfg* c = t->cfg;
  pd_state* s = e->task_state;
  uint32_t ev = s->pending;
  s->pending = 0;
  float reward = 0;
  int end = 0;
  s->t++;
  if (s->epoch != EP_DECISION && s->action != 0) {  // broke fixation
    ev |= bit(c, E_ABORT);
    reward = (float)-c->abort_penalty;
    s->outcome = -1;
    end = 1;
  } else if (s->epoch == EP_DECISION && (s->action == 1 || s->action == 2)) {
    s->choice = s->action == 2 ? 1 : -1;
    int right = s->coh > 0 || (s->coh == 0 && am_rng_uniform(&e->rng) < 0.5);
    int correct = (s->choice > 0) == right;
    ev |= bit(c, correct ? E_REWARD : E_ERROR);
    reward = correct ? 1.0f : 0.0f;
    s->outcome = correct;
    end = 1;
  } else if (s->epoch == EP_DECISION && s->action == 3 && s->sure_shown) {  // wager: sure
    ev |= bit(c, E_SURE);
    reward = (float)c->sure_reward;
    s->outcome = 2;
    end = 1;
  } else if (s->epoch == EP_DECISION && s->action == 3) {  // the sure target is not there: a miss
    ev |= bit(c, E_TIMEOUT);
    s->outcome = -1;
    end = 1;
  } else if (s->epoch == EP_FIX && s->t >= c->fix_steps) {
    s->epoch = EP_STIM, s->t = 0;
    ev |= bit(c, E_STIM_ON);
    draw_evidence(c, s, &e->rng);
  } else if (s->epoch == EP_STIM) {
    if (s->t >= s->stim_steps) {
      s->epoch = c->wager ? EP_DELAY : EP_DECISION, s->t = 0;
      s->ev[0] = s->ev[1] = 0;
      ev |= bit(c, c->wager ? E_STIM_OFF : E_GO_CUE);
      if (c->wager && s->sure_offered && c->sure_steps == 0)
        s->sure_shown = 1, ev |= bit(c, E_SURE_ON);
    } else {
      draw_evidence(c, s, &e->rng);
    }
  } else if (s->epoch == EP_DELAY) {
    if (s->sure_offered && s->t == c->sure_steps) s->sure_shown = 1, ev |= bit(c, E_SURE_ON);
    if (s->t >= c->delay_steps) s->epoch = EP_DECISION, s->t = 0, ev |= bit(c, E_GO_CUE);
  } else if (s->epoch == EP_DECISION && s->t >= c->dec_steps) {
    ev |= bit(c, E_TIMEOUT);
    s->outcome = -1;
    end = 1;
  }
  if (end) {
    ev |= bit(c, E_TRIAL_END);
    s->trial++;
    s->done = s->trial >= c->trials;
  }
  r->reward = reward;
  r->events = ev;
  r->terminated = s->done;
  amt_opts_reward(&s->opt, reward);
  s->ended = end;  // the variables of this step still describe the trial that ended
}

static void pd_observe(const am_task* t, am_env* e, float* o) {
  const pd_cfg* c = t->cfg;
  pd_state* s = e->task_state;
  int stim = !s->ended && s->epoch == EP_STIM;  // after a trial's end: the next one's fixation
  o[0] = s->ended || s->epoch != EP_DECISION;  // fixation cue
  o[1] = stim ? (float)s->ev[0] : 0.0f;
  o[2] = stim ? (float)s->ev[1] : 0.0f;
  if (c->wager) o[3] = !s->ended && s->sure_shown;  // the sure target
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void pd_vars(const am_task* t, const am_env* e, float* v) {
  const pd_cfg* c = t->cfg;
  const pd_state* s = e->task_state;
  v[V_TRIAL] = (float)(s->ended ? s->trial - 1 : s->trial);
  v[V_COHERENCE] = (float)s->coh;
  v[V_CHOICE] = (float)s->choice;
  v[V_OUTCOME] = (float)s->outcome;
  v[V_EPOCH] = (float)s->epoch;
  v[V_EV_LEFT] = (float)s->ev[0];
  v[V_EV_RIGHT] = (float)s->ev[1];
  if (!c->wager) return;
  v[V_DURATION] = (float)(s->stim_steps * 0.1);
  v[V_SURE_OFFERED] = (float)s->sure_offered;
  v[V_CHOSE_SURE] = (float)(s->outcome == 2);
  v[V_CORRECT] = (float)(s->outcome == 0 || s->outcome == 1 ? s->outcome : -1);
}

// stim_time of the wager: min,max (one value: fixed) in steps of 0.1 s.
static int stim_range(const amt_info* info, const amt_params* p, pd_cfg* c, char* err,
                      size_t err_sz) {
  double v[2];
  int n = 0;
  if (amt_param_list(info, p, "stim_time", v, 2, &n, err, err_sz)) return -1;
  if (n == 1) v[1] = v[0];
  if (amt_bodyless_to_steps(info, "stim_time", v[0], 0.1, &c->stim_steps, err, err_sz) ||
      amt_bodyless_to_steps(info, "stim_time", v[1], 0.1, &c->stim_max, err, err_sz))
    return -1;
  if (c->stim_max < c->stim_steps)
    return am_err(err, err_sz, "task %s: parameter stim_time: min %g > max %g", info->name, v[0],
                  v[1]);
  return 0;
}

static int pd_create(am_task* t, const char* name, int wager, const amt_params* params,
                     char* err, size_t err_sz) {
  const amt_info* info = amt_find(name);
  pd_cfg c = {0};
  c.wager = wager;
  if (amt_opts_read(info, params, &c.opts, err, err_sz) ||
      amt_param_int(info, params, "trials", &c.trials, err, err_sz) ||
      amt_param_list(info, params, "coherences", c.coh, MAX_COH, &c.n_coh, err, err_sz) ||
      amt_param_double(info, params, "noise", &c.noise, err, err_sz) ||
      amt_param_double(info, params, "abort_penalty", &c.abort_penalty, err, err_sz) ||
      amt_bodyless_steps(info, params, "fix_time", 0.1, &c.fix_steps, err, err_sz) ||
      amt_bodyless_steps(info, params, "decision_time", 0.1, &c.dec_steps, err, err_sz))
    return -1;
  if (!wager) {
    if (amt_bodyless_steps(info, params, "stim_time", 0.1, &c.stim_steps, err, err_sz)) return -1;
    c.stim_max = c.stim_steps;
  } else if (stim_range(info, params, &c, err, err_sz) ||
             amt_bodyless_steps(info, params, "delay_time", 0.1, &c.delay_steps, err, err_sz) ||
             amt_param_double(info, params, "sure_prob", &c.sure_prob, err, err_sz) ||
             amt_param_double(info, params, "sure_reward", &c.sure_reward, err, err_sz)) {
    return -1;
  } else {
    double on;
    if (amt_param_double(info, params, "sure_onset", &on, err, err_sz)) return -1;
    c.sure_steps = (int)floor(on / 0.1 + 0.5);
    if (!(on >= 0) || c.sure_steps >= c.delay_steps)
      return am_err(err, err_sz, "task %s: parameter sure_onset: '%g' must be >= 0 and before "
                    "the delay's end (delay_time %g s)", name, on, c.delay_steps * 0.1);
    if (!(c.sure_prob >= 0 && c.sure_prob <= 1))
      return am_err(err, err_sz, "task %s: parameter sure_prob: '%g' must be in [0, 1]", name,
                    c.sure_prob);
    if (!(c.sure_reward >= 0 && c.sure_reward <= 1))
      return am_err(err, err_sz, "task %s: parameter sure_reward: '%g' must be in [0, 1] (a "
                    "correct choice pays 1)", name, c.sure_reward);
  }
  if (c.trials < 1 || c.trials > 100000)
    return am_err(err, err_sz, "task %s: parameter trials: %d must be in [1, 100000]", name,
                  c.trials);
  for (int i = 0; i < c.n_coh; i++)
    if (!(c.coh[i] >= 0 && c.coh[i] <= 1))
      return am_err(err, err_sz, "task %s: parameter coherences: '%g' must be in [0, 1] "
                    "(unsigned)", name, c.coh[i]);
  if (!(c.noise >= 0))
    return am_err(err, err_sz, "task %s: parameter noise: '%g' must be >= 0", name, c.noise);
  const int* evs = wager ? wager_events : pd_events;
  int n_ev = wager ? (int)(sizeof wager_events / sizeof *wager_events)
                   : (int)(sizeof pd_events / sizeof *pd_events);
  const char* names[E_ALL];
  for (int k = 0; k < E_ALL; k++) c.code[k] = -1;
  for (int k = 0; k < n_ev; k++) c.code[evs[k]] = k, names[k] = event_names[evs[k]];
  if (amt_bodyless_init(t, name, &c, sizeof c, sizeof(pd_state), wager ? 4 : 3, names, n_ev,
                        var_names, wager ? V_COUNT : V_PD_COUNT, 0.1, err, err_sz))
    return -1;
  t->max_steps = c.trials * (c.fix_steps + c.stim_max + c.delay_steps + c.dec_steps);
  t->n_groups = 1;
  // fixation cue, evidence left, right; wager: the sure target shown
  t->groups[0] = (am_obs_group){"stimulus", 0, wager ? 4 : 3};
  t->obs_dim = wager ? 4 : 3;
  t->n_conditions = 1;
  t->conditions[0] = V_COHERENCE;
  if (wager) {
    t->conditions[t->n_conditions++] = V_SURE_OFFERED;
    t->conditions[t->n_conditions++] = V_DURATION;
  }
  t->reset = pd_reset;
  t->act = pd_act;
  t->evaluate = pd_evaluate;
  t->observe = pd_observe;
  t->get_vars = pd_vars;
  return amt_opts_setup(t, &((pd_cfg*)t->cfg)->opts, err, err_sz);
}

int amt_perceptual_decision_create(am_task* t, const amt_params* params, char* err,
                                   size_t err_sz) {
  return pd_create(t, "perceptual-decision", 0, params, err, err_sz);
}

int amt_wager_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return pd_create(t, "wager", 1, params, err, err_sz);
}
