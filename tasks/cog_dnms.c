// cog_dnms.c: the body-less delayed non-match-to-sample task of Miconi 2017 (eLife 6:e20899,
// Fig. 1): two stimuli (A or B) separated by a delay; the output must be +1 when they differ and
// -1 when they are the same. docs/tasks.md describes it; docs/biology.md trains it with node
// perturbation (learner = hebbian), evolution strategies and PPO.
//
// A trial (control step `dt`, 0.01 s by default; the empty scene "none" of cog_tasks.c):
//   STIM1     stim_time: the first stimulus, one of two input channels (A, B) at 1
//   DELAY     delay: no input
//   STIM2     stim_time: the second stimulus
//   WAIT      wait: no input
//   RESPONSE  response_time: the action a (one value, clipped to [-1, 1] by the agent) is the
//             output; each step pays -|a - target| / response steps, so a trial's return is minus
//             its error, the mean absolute error over the response period (Miconi's trial error)
// With the defaults a trial is 1 s (Miconi's 200 ms stimuli, 200 ms delay, 200 ms response at the
// end of a 1000 ms trial). A trial with error < 1 (the output's mean on the right side, roughly)
// is correct (event reward, the trial schema's success; Miconi's criterion: 95 % correct over 100
// trials), else error. The trial type (A or B twice) is drawn uniformly from the env's stream at
// its start. An episode is `trials` trials, back to back (the agent's state carries over).
// What it is not: the categorical (choose match / non-match) version.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

enum { E_TRIAL_START, E_STIM2_ON, E_RESPONSE_ON, E_REWARD, E_ERROR, E_TRIAL_END, E_COUNT };
static const char* const event_names[E_COUNT] = {"trial_start", "stim2_on", "response_on",
                                                 "reward", "error", "trial_end"};
// Variables: the trial index, the stimuli (1 A, 2 B), match (1 same, 0 different), the target
// (+1 / -1), the epoch (0 stim1, 1 delay, 2 stim2, 3 wait, 4 response) and the error so far (the
// mean |a - target| over the response steps taken; on the last row the trial's error).
enum { V_TRIAL, V_STIM1, V_STIM2, V_MATCH, V_TARGET, V_EPOCH, V_ERROR, V_COUNT };
static const char* const var_names[V_COUNT] = {"trial", "stim1", "stim2", "match", "target",
                                               "epoch", "error"};
enum { EP_STIM1, EP_DELAY, EP_STIM2, EP_WAIT, EP_RESPONSE };

const amt_param_def amt_dnms_params[] = {
    {"trials", "1", "trials per episode (back to back)"},
    {"dt", "0.01", "control step (s)"},
    {"stim_time", "0.2", "duration of each stimulus (s)"},
    {"delay", "0.2", "delay between the stimuli (s)"},
    {"wait", "0.2", "time from the second stimulus' end to the response period (s)"},
    {"response_time", "0.2", "response period (s), over which the error is measured"},
    AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

typedef struct dnms_cfg {
  amt_opts opts;  // first (task_opts.h)
  int trials;
  int n[5];       // steps per epoch
  int total;      // steps per trial
} dnms_cfg;

typedef struct dnms_state {
  amt_opt_state opt;  // first (task_opts.h)
  int trial, t, done;
  int stim[2];        // 0 A, 1 B
  float action;
  double err_sum;     // sum of |a - target| over the response steps so far
  float vars[V_COUNT];
} dnms_state;

static int epoch_of(const dnms_cfg* c, int t) {
  int e = 0;
  for (int acc = c->n[0]; e < EP_RESPONSE && t >= acc; acc += c->n[++e]) {
  }
  return e;
}

static void begin_trial(dnms_state* s, am_rng* r) {
  s->stim[0] = am_rng_uniform(r) < 0.5 ? 0 : 1;
  s->stim[1] = am_rng_uniform(r) < 0.5 ? 0 : 1;
  s->t = 0;
  s->err_sum = 0;
}

static float target_of(const dnms_state* s) { return s->stim[0] == s->stim[1] ? -1.0f : 1.0f; }

static void fill_vars(const dnms_cfg* c, dnms_state* s, int epoch) {
  s->vars[V_TRIAL] = (float)s->trial;
  s->vars[V_STIM1] = (float)(s->stim[0] + 1);
  s->vars[V_STIM2] = (float)(s->stim[1] + 1);
  s->vars[V_MATCH] = (float)(s->stim[0] == s->stim[1]);
  s->vars[V_TARGET] = target_of(s);
  s->vars[V_EPOCH] = (float)epoch;
  s->vars[V_ERROR] = (float)(s->err_sum / c->n[EP_RESPONSE]);
}

static void dnms_reset(const am_task* t, am_env* e) {
  const dnms_cfg* c = t->cfg;
  dnms_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  amt_opts_reset(&s->opt);
  mj_forward(e->m, e->d);
  begin_trial(s, &e->rng);
  fill_vars(c, s, EP_STIM1);
}

static void dnms_act(const am_task* t, am_env* e, const float* a) {
  const dnms_cfg* c = t->cfg;
  dnms_state* s = e->task_state;
  amt_opts_act(&c->opts, &s->opt, a);
  float v = isfinite(a[0]) ? a[0] : 0.0f;
  s->action = v < -1 ? -1.0f : v > 1 ? 1.0f : v;
}

static void dnms_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const dnms_cfg* c = t->cfg;
  dnms_state* s = e->task_state;
  uint32_t ev = 0;
  float reward = 0;
  int ep = epoch_of(c, s->t);
  if (s->t == 0) ev |= 1u << E_TRIAL_START;
  if (ep == EP_STIM2 && s->t == c->n[0] + c->n[1]) ev |= 1u << E_STIM2_ON;
  if (ep == EP_RESPONSE) {
    if (s->t == c->total - c->n[EP_RESPONSE]) ev |= 1u << E_RESPONSE_ON;
    double d = fabs((double)s->action - target_of(s));
    s->err_sum += d;
    reward = (float)(-d / c->n[EP_RESPONSE]);
  }
  s->t++;
  fill_vars(c, s, ep);
  if (s->t >= c->total) {  // the trial ends: its values stay in vars for this row
    double err = s->err_sum / c->n[EP_RESPONSE];
    ev |= 1u << (err < 1.0 ? E_REWARD : E_ERROR) | 1u << E_TRIAL_END;
    s->trial++;
    s->done = s->trial >= c->trials;
    if (!s->done) begin_trial(s, &e->rng);  // the next observation shows the next trial
  }
  r->reward = reward;
  r->events = ev;
  r->terminated = s->done;
  amt_opts_reward(&s->opt, reward);
}

static void dnms_observe(const am_task* t, am_env* e, float* o) {
  const dnms_cfg* c = t->cfg;
  dnms_state* s = e->task_state;
  int ep = s->t < c->total ? epoch_of(c, s->t) : EP_RESPONSE;  // (after the last trial: none)
  o[0] = o[1] = 0.0f;  // group "stimulus": A, B
  if (ep == EP_STIM1) o[s->stim[0]] = 1.0f;
  if (ep == EP_STIM2) o[s->stim[1]] = 1.0f;
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void dnms_vars(const am_task* t, const am_env* e, float* v) {
  const dnms_state* s = e->task_state;
  (void)t;
  memcpy(v, s->vars, sizeof(float) * V_COUNT);
}

int amt_dnms_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  const amt_info* info = amt_find("dnms");
  dnms_cfg c = {0};
  double dt;
  if (amt_opts_read(info, params, &c.opts, err, err_sz) ||
      amt_param_int(info, params, "trials", &c.trials, err, err_sz) ||
      amt_param_double(info, params, "dt", &dt, err, err_sz))
    return -1;
  if (!(dt >= 1e-4 && dt <= 1))
    return am_err(err, err_sz, "task %s: parameter dt: '%g' must be in [0.0001, 1] s", info->name,
                  dt);
  if (c.trials < 1 || c.trials > 100000)
    return am_err(err, err_sz, "task %s: parameter trials: %d must be in [1, 100000]", info->name,
                  c.trials);
  int ns, nd, nw, nr;
  if (amt_bodyless_steps(info, params, "stim_time", dt, &ns, err, err_sz) ||
      amt_bodyless_steps(info, params, "delay", dt, &nd, err, err_sz) ||
      amt_bodyless_steps(info, params, "wait", dt, &nw, err, err_sz) ||
      amt_bodyless_steps(info, params, "response_time", dt, &nr, err, err_sz))
    return -1;
  c.n[EP_STIM1] = c.n[EP_STIM2] = ns;
  c.n[EP_DELAY] = nd;
  c.n[EP_WAIT] = nw;
  c.n[EP_RESPONSE] = nr;
  c.total = 2 * ns + nd + nw + nr;
  if ((int64_t)c.total * c.trials > 100000000)
    return am_err(err, err_sz, "task %s: %d trials of %d steps is too long an episode", info->name,
                  c.trials, c.total);
  if (amt_bodyless_init(t, info->name, &c, sizeof c, sizeof(dnms_state), 1, event_names, E_COUNT,
                        var_names, V_COUNT, dt, err, err_sz))
    return -1;
  t->discrete = 0;  // one continuous output in [-1, 1]
  t->max_steps = c.total * c.trials;
  t->n_groups = 1;
  t->groups[0] = (am_obs_group){"stimulus", 0, 2};  // A, B
  t->obs_dim = 2;
  t->n_conditions = 2;
  t->conditions[0] = V_STIM1;
  t->conditions[1] = V_STIM2;
  t->reset = dnms_reset;
  t->act = dnms_act;
  t->evaluate = dnms_evaluate;
  t->observe = dnms_observe;
  t->get_vars = dnms_vars;
  return amt_opts_setup(t, &((dnms_cfg*)t->cfg)->opts, err, err_sz);
}
