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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

enum { E_TRIAL_START, E_STIM_ON, E_GO_CUE, E_REWARD, E_ERROR, E_ABORT, E_TIMEOUT, E_TRIAL_END,
       E_COUNT };
static const char* const event_names[E_COUNT] = {"trial_start", "stim_on", "go_cue", "reward", "error",
                                           "abort", "timeout", "trial_end"};
enum { V_TRIAL, V_COHERENCE, V_CHOICE, V_OUTCOME, V_EPOCH, V_EV_LEFT, V_EV_RIGHT, V_COUNT };
static const char* const var_names[V_COUNT] = {"trial", "coherence", "choice", "outcome", "epoch",
                                         "evidence_left", "evidence_right"};
enum { EP_FIX, EP_STIM, EP_DECISION };

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

typedef struct pd_cfg {
  amt_opts opts;  // first (task_opts.h)
  int trials, fix_steps, stim_steps, dec_steps, n_coh;
  double coh[MAX_COH], noise, abort_penalty;
} pd_cfg;

typedef struct pd_state {
  amt_opt_state opt;  // first (task_opts.h)
  int trial, epoch, t, action, choice, outcome, done;
  int ended;  // the last step ended the trial (the next begins with the next action)
  double coh, ev[2];
  uint32_t pending;
} pd_state;

static void begin_trial(const pd_cfg* c, am_env* e) {
  pd_state* s = e->task_state;
  int k = (int)(am_rng_uniform(&e->rng) * c->n_coh) % c->n_coh;
  s->coh = (am_rng_uniform(&e->rng) < 0.5 ? -1 : 1) * c->coh[k];
  s->epoch = EP_FIX;
  s->t = 0;
  s->choice = s->outcome = s->ended = 0;
  s->ev[0] = s->ev[1] = 0;
  s->pending |= 1u << E_TRIAL_START;
}

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
  for (int j = 0; j < 3; j++)
    if (isfinite(a[j]) && a[j] > best) best = a[j], k = j;
  s->action = k;  // 0 fixate, 1 left, 2 right
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
    ev |= 1u << E_ABORT;
    reward = (float)-c->abort_penalty;
    s->outcome = -1;
    end = 1;
  } else if (s->epoch == EP_DECISION && s->action != 0) {
    s->choice = s->action == 2 ? 1 : -1;
    int right = s->coh > 0 || (s->coh == 0 && am_rng_uniform(&e->rng) < 0.5);
    int correct = (s->choice > 0) == right;
    ev |= 1u << (correct ? E_REWARD : E_ERROR);
    reward = correct ? 1.0f : 0.0f;
    s->outcome = correct;
    end = 1;
  } else if (s->epoch == EP_FIX && s->t >= c->fix_steps) {
    s->epoch = EP_STIM, s->t = 0;
    ev |= 1u << E_STIM_ON;
    draw_evidence(c, s, &e->rng);
  } else if (s->epoch == EP_STIM) {
    if (s->t >= c->stim_steps) {
      s->epoch = EP_DECISION, s->t = 0;
      s->ev[0] = s->ev[1] = 0;
      ev |= 1u << E_GO_CUE;
    } else {
      draw_evidence(c, s, &e->rng);
    }
  } else if (s->epoch == EP_DECISION && s->t >= c->dec_steps) {
    ev |= 1u << E_TIMEOUT;
    s->outcome = -1;
    end = 1;
  }
  if (end) {
    ev |= 1u << E_TRIAL_END;
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
  o[0] = s->ended || s->epoch == EP_FIX || s->epoch == EP_STIM;  // fixation cue
  o[1] = stim ? (float)s->ev[0] : 0.0f;
  o[2] = stim ? (float)s->ev[1] : 0.0f;
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void pd_vars(const am_task* t, const am_env* e, float* v) {
  const pd_state* s = e->task_state;
  (void)t;
  v[V_TRIAL] = (float)(s->ended ? s->trial - 1 : s->trial);
  v[V_COHERENCE] = (float)s->coh;
  v[V_CHOICE] = (float)s->choice;
  v[V_OUTCOME] = (float)s->outcome;
  v[V_EPOCH] = (float)s->epoch;
  v[V_EV_LEFT] = (float)s->ev[0];
  v[V_EV_RIGHT] = (float)s->ev[1];
}

int amt_perceptual_decision_create(am_task* t, const amt_params* params, char* err,
                                   size_t err_sz) {
  const amt_info* info = amt_find("perceptual-decision");
  pd_cfg c = {0};
  if (amt_opts_read(info, params, &c.opts, err, err_sz) ||
      amt_param_int(info, params, "trials", &c.trials, err, err_sz) ||
      amt_param_list(info, params, "coherences", c.coh, MAX_COH, &c.n_coh, err, err_sz) ||
      amt_param_double(info, params, "noise", &c.noise, err, err_sz) ||
      amt_param_double(info, params, "abort_penalty", &c.abort_penalty, err, err_sz) ||
      amt_bodyless_steps(info, params, "fix_time", 0.1, &c.fix_steps, err, err_sz) ||
      amt_bodyless_steps(info, params, "stim_time", 0.1, &c.stim_steps, err, err_sz) ||
      amt_bodyless_steps(info, params, "decision_time", 0.1, &c.dec_steps, err, err_sz))
    return -1;
  if (c.trials < 1 || c.trials > 100000)
    return am_err(err, err_sz, "task %s: parameter trials: %d must be in [1, 100000]", info->name,
                  c.trials);
  for (int i = 0; i < c.n_coh; i++)
    if (!(c.coh[i] >= 0 && c.coh[i] <= 1))
      return am_err(err, err_sz, "task %s: parameter coherences: '%g' must be in [0, 1] "
                    "(unsigned)", info->name, c.coh[i]);
  if (!(c.noise >= 0))
    return am_err(err, err_sz, "task %s: parameter noise: '%g' must be >= 0", info->name, c.noise);
  if (amt_bodyless_init(t, info->name, &c, sizeof c, sizeof(pd_state), 3, event_names, E_COUNT,
                        var_names, V_COUNT, 0.1, err, err_sz))
    return -1;
  t->max_steps = c.trials * (c.fix_steps + c.stim_steps + c.dec_steps);
  t->n_groups = 1;
  t->groups[0] = (am_obs_group){"stimulus", 0, 3};  // fixation cue, evidence left, right
  t->obs_dim = 3;
  t->n_conditions = 1;
  t->conditions[0] = V_COHERENCE;
  t->reset = pd_reset;
  t->act = pd_act;
  t->evaluate = pd_evaluate;
  t->observe = pd_observe;
  t->get_vars = pd_vars;
  return amt_opts_setup(t, &((pd_cfg*)t->cfg)->opts, err, err_sz);
}
