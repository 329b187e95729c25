// cog_tasks.c: body-less value-based tasks with discrete actions, for meta-reinforcement learning:
// the two-armed bandit (Wang et al. 2018, Nat Neurosci) and the two-step task (Daw et al. 2011,
// Neuron; in the form of Wang et al. 2018). docs/tasks.md is the user's description.
//
// What it is: tasks without a body. Their scene is the empty MuJoCo model "none" (no joints, no
// actuators: a physics step is free and recordings, `animat record` and `verify --resim` work as
// for any task); the action is a choice among act_dim options (am_task.discrete: the argmax of the
// action vector, one-hot from a categorical head), one control step per decision. Every step
// observes the previous step's choice (one-hot) and reward (group "feedback"), the inputs of
// Wang et al.'s meta-RL agent. What it is not: an embodied version (choice by reaching: arm_tasks.c).
//
// bandit: an episode is `trials` one-step trials; reward probabilities p_left, p_right are drawn at
//   the episode's start (independent: each uniform in [0, 1]; dependent: p_left uniform, p_right =
//   1 - p_left) and fixed within it; choosing arm k pays 1 with probability p_k.
// two-step: a trial is two steps. Step 1 (stage 1, cue "stage1"): the choice left/right leads to
//   second-stage state A/B with probability common_prob (else the other state: a rare
//   transition). Step 2: the state is shown; any choice there collects reward 1 with the state's
//   probability p_A / p_B. Between trials the probabilities swap (variant swap, Wang et al.:
//   p_high / 1 - p_high, swapping with swap_prob per trial) or drift (variant walk, Daw et al.:
//   Gaussian random walks of sd walk_sd with reflecting bounds).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

enum { E_TRIAL_START, E_STAGE2, E_REWARD, E_NO_REWARD, E_TRIAL_END, E_COUNT };
static const char* const event_names[E_COUNT] = {"trial_start", "stage2", "reward", "no_reward",
                                           "trial_end"};
// Variables (the last row of a trial holds the trial's values): trial index in the episode, the
// (first-stage) choice -1 left / +1 right (0 before any), outcome 1 rewarded / 0 not, the reward
// probabilities, the regret of the choice (max p - p chosen; bandit), two-step: the second-stage
// state (1 A, 2 B) and the transition (1 common, 0 rare).
enum { V_TRIAL, V_CHOICE, V_OUTCOME, V_P1, V_P2, V_REGRET, V_STATE, V_TRANSITION, V_COUNT };
static const char* const bandit_vars[] = {"trial", "choice", "outcome", "p_left", "p_right", "regret"};
static const char* const two_step_vars[] = {"trial", "choice", "outcome", "p_a", "p_b", "regret",
                                      "state", "transition"};

const amt_param_def amt_bandit_params[] = {
    {"trials", "100", "trials (one step each) per episode"},
    AMT_BANDIT_PARAMS, AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_two_step_params[] = {
    {"trials", "100", "trials (two steps each) per episode"},
    {"common_prob", "0.8", "probability of the common transition (left -> A, right -> B)"},
    {"variant", "swap", "swap: p_A, p_B are p_high and 1 - p_high and swap with swap_prob per "
                        "trial (Wang et al. 2018); walk: Gaussian random walks (Daw et al. 2011)"},
    {"p_high", "0.9", "swap: the rewarded state's probability"},
    {"swap_prob", "0.025", "swap: probability per trial that p_A and p_B swap"},
    {"walk_sd", "0.025", "walk: sd of the random walk per trial"},
    {"walk_bounds", "0.25,0.75", "walk: reflecting bounds of the probabilities"},
    AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

typedef struct cog_cfg {
  amt_opts opts;  // first (task_opts.h)
  int two_step, trials, walk;
  amt_bandit_probs probs;  // bandit
  double common, p_high, swap_prob, walk_sd, lo, hi;
} cog_cfg;

typedef struct cog_state {
  amt_opt_state opt;  // first (task_opts.h)
  int trial, stage;   // trial index in the episode; two-step: 0 stage 1, 1 stage 2
  int choice, prev_choice, state, common, outcome;
  int trial_choice;   // the trial's (first-stage) choice, -1 before any
  double p[2], regret;
  float prev_reward;
  uint32_t events;
  int done;
} cog_state;

// The choice an action vector makes: the argmax (non-finite entries count as -inf; ties: the
// first).
static int choice_of(const float* a, int n) {
  int k = 0;
  float best = -INFINITY;
  for (int j = 0; j < n; j++)
    if (isfinite(a[j]) && a[j] > best) best = a[j], k = j;
  return k;
}

static double reflect(double x, double lo, double hi) {
  for (int i = 0; i < 8 && (x < lo || x > hi); i++) x = x < lo ? 2 * lo - x : 2 * hi - x;
  return x < lo ? lo : x > hi ? hi : x;
}

int amt_bandit_probs_read(const amt_info* info, const amt_params* params, amt_bandit_probs* b,
                          char* err, size_t err_sz) {
  memset(b, 0, sizeof *b);
  const char* variant = amt_param_get(info, params, "variant");
  b->dependent = !strcmp(variant, "dependent");
  if (!b->dependent && strcmp(variant, "independent"))
    return am_err(err, err_sz, "task %s: parameter variant: '%s' is not independent or dependent",
                  info->name, variant);
  if (*amt_param_get(info, params, "p_set") &&
      amt_param_list(info, params, "p_set", b->set, 16, &b->n_set, err, err_sz))
    return -1;
  for (int i = 0; i < b->n_set; i++)
    if (!(b->set[i] >= 0 && b->set[i] <= 1))
      return am_err(err, err_sz, "task %s: parameter p_set: '%g' must be in [0, 1]", info->name,
                    b->set[i]);
  return 0;
}

void amt_bandit_probs_draw(const amt_bandit_probs* b, am_rng* r, double p[2]) {
  for (int k = 0; k < 2; k++) {
    double u = am_rng_uniform(r);
    p[k] = b->n_set ? b->set[(int)(u * b->n_set) % b->n_set] : u;
    if (b->dependent) {
      p[1] = 1 - p[0];
      break;
    }
  }
}

static void cog_reset(const am_task* t, am_env* e) {
  const cog_cfg* c = t->cfg;
  cog_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  amt_opts_reset(&s->opt);
  s->prev_choice = s->trial_choice = -1;
  if (!c->two_step) {
    amt_bandit_probs_draw(&c->probs, &e->rng, s->p);
  } else if (c->walk) {
    s->p[0] = am_rng_range(&e->rng, c->lo, c->hi);
    s->p[1] = am_rng_range(&e->rng, c->lo, c->hi);
  } else {
    int hi = am_rng_uniform(&e->rng) < 0.5;
    s->p[hi] = c->p_high;
    s->p[1 - hi] = 1.0 - c->p_high;
  }
  mj_forward(e->m, e->d);
}

static void cog_act(const am_task* t, am_env* e, const float* a) {
  const cog_cfg* c = t->cfg;
  cog_state* s = e->task_state;
  amt_opts_act(&c->opts, &s->opt, a);
  s->choice = choice_of(a, t->act_dim);
}

// The probabilities of the next trial (two-step), at the start of every trial but
// the first (so a trial's last row holds the probabilities that paid it).
static void cog_drift(const cog_cfg* c, cog_state* s, am_rng* rng) {
  if (!c->two_step) return;
  if (c->walk) {
    for (int k = 0; k < 2; k++) s->p[k] = reflect(s->p[k] + c->walk_sd * am_rng_normal(rng), c->lo, c->hi);
  } else if (am_rng_uniform(rng) < c->swap_prob) {
    double x = s->p[0];
    s->p[0] = s->p[1];
    s->p[1] = x;
  }
}

static void cog_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const cog_cfg* c = t->cfg;
  cog_state* s = e->task_state;
  uint32_t ev = 0;
  float reward = 0;
  if (c->two_step && s->stage == 0) {  // stage 1: the probabilities move on, the transition
    if (s->trial > 0) cog_drift(c, s, &e->rng);
    ev |= 1u << E_TRIAL_START | 1u << E_STAGE2;
    s->trial_choice = s->choice;
    s->common = am_rng_uniform(&e->rng) < c->common;
    s->state = s->common ? s->choice : 1 - s->choice;
    s->outcome = 0;
    s->regret = 0;
    s->stage = 1;
    s->events = ev;
    s->prev_choice = s->choice;
    s->prev_reward = 0;
    r->reward = 0;
    r->events = ev;
    r->terminated = 0;
    amt_opts_reward(&s->opt, 0);
    return;
  }
  int arm = c->two_step ? s->state : s->choice;  // whose probability pays
  if (!c->two_step) ev |= 1u << E_TRIAL_START, s->trial_choice = s->choice;
  s->outcome = am_rng_uniform(&e->rng) < s->p[arm];
  reward = (float)s->outcome;
  ev |= 1u << (s->outcome ? E_REWARD : E_NO_REWARD) | 1u << E_TRIAL_END;
  // the regret of the (first-stage) choice: the best choice's expected reward minus its own
  double q[2] = {s->p[0], s->p[1]};
  if (c->two_step)
    for (int k = 0; k < 2; k++) q[k] = c->common * s->p[k] + (1 - c->common) * s->p[1 - k];
  s->regret = fmax(q[0], q[1]) - q[s->trial_choice];
  s->events = ev;
  s->prev_choice = s->choice;
  s->prev_reward = reward;
  s->trial++;
  s->stage = 0;
  s->done = s->trial >= c->trials;
  r->reward = reward;
  r->events = ev;
  r->terminated = s->done;
  amt_opts_reward(&s->opt, reward);
}

static void cog_observe(const am_task* t, am_env* e, float* o) {
  const cog_cfg* c = t->cfg;
  cog_state* s = e->task_state;
  int n = 0;
  if (c->two_step) {  // group "stage": stage 1, state A, state B (one-hot)
    o[n++] = s->stage == 0;
    o[n++] = s->stage == 1 && s->state == 0;
    o[n++] = s->stage == 1 && s->state == 1;
  }
  o[n++] = s->prev_choice == 0;  // group "feedback"
  o[n++] = s->prev_choice == 1;
  o[n++] = s->prev_reward;
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void cog_vars(const am_task* t, const am_env* e, float* v) {
  const cog_cfg* c = t->cfg;
  const cog_state* s = e->task_state;
  int last = s->stage == 0;  // the step just taken ended a trial (or nothing happened yet)
  v[V_TRIAL] = (float)(last && s->trial > 0 ? s->trial - 1 : s->trial);
  v[V_CHOICE] = s->trial_choice < 0 ? 0.0f : (float)(s->trial_choice * 2 - 1);
  v[V_OUTCOME] = (float)s->outcome;
  v[V_P1] = (float)s->p[0];
  v[V_P2] = (float)s->p[1];
  v[V_REGRET] = (float)s->regret;
  if (c->two_step) {
    v[V_STATE] = (float)(s->state + 1);
    v[V_TRANSITION] = (float)s->common;
  }
}

int amt_bodyless_steps(const amt_info* info, const amt_params* p, const char* key, double dt,
                       int* out, char* err, size_t err_sz) {
  double v;
  if (amt_param_double(info, p, key, &v, err, err_sz)) return -1;
  return amt_bodyless_to_steps(info, key, v, dt, out, err, err_sz);
}

int amt_bodyless_to_steps(const amt_info* info, const char* key, double v, double dt, int* out,
                          char* err, size_t err_sz) {
  if (!(v >= dt - 1e-9 && v <= 600))
    return am_err(err, err_sz, "task %s: parameter %s: '%g' must be in [%g, 600] s (steps of "
                  "%g s)", info->name, key, v, dt, dt);
  *out = (int)floor(v / dt + 0.5);
  return 0;
}

static void bodyless_destroy(am_task* t) {
  free((void*)t->cfg);
  t->cfg = NULL;
}

int amt_bodyless_init(am_task* t, const char* name, const void* cfg, size_t cfg_size,
                      size_t state_size, int act_dim, const char* const* events, int n_events,
                      const char* const* vars, int n_vars, double timestep, char* err,
                      size_t err_sz) {
  // No constraint can arise in an empty scene: without the size element MuJoCo 2.2 would
  // allocate room for 500 constraint rows (a dense 500 x 500 efc_AR among them), 3 MB that
  // mj_resetData clears at every episode's start.
  char xml[160];
  snprintf(xml, sizeof xml, "<mujoco model=\"none\"><option timestep=\"%.17g\"/>"
           "<size njmax=\"0\" nconmax=\"0\"/><worldbody/></mujoco>", timestep);
  if (n_events > AM_MAX_EVENTS || n_vars > AM_MAX_VARS)
    return am_err(err, err_sz, "task %s: too many events or variables", name);
  am_model* model = am_model_load_string(xml, NULL, "none", err, err_sz);
  if (!model) return -1;
  void* copy = malloc(cfg_size);
  if (!copy) {
    am_model_free(model);
    return am_err(err, err_sz, "out of memory");
  }
  memcpy(copy, cfg, cfg_size);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->model = model;
  t->cfg = copy;
  t->destroy = bodyless_destroy;
  t->state_size = state_size;
  t->frame_skip = 1;
  t->act_dim = act_dim;
  t->discrete = 1;
  t->n_terms = 0;
  t->n_events = n_events;
  t->trial_start_event = t->success_event = t->trial_end_event = -1;
  for (int k = 0; k < n_events; k++) {
    snprintf(t->events[k], AM_NAME_LEN, "%s", events[k]);
    if (!strcmp(events[k], "trial_start")) t->trial_start_event = k;
    if (!strcmp(events[k], "reward")) t->success_event = k;
    if (!strcmp(events[k], "trial_end")) t->trial_end_event = k;
  }
  t->n_vars = n_vars;
  for (int k = 0; k < n_vars; k++) snprintf(t->vars[k], AM_NAME_LEN, "%s", vars[k]);
  return 0;
}

static int cog_create(am_task* t, const char* name, int two_step, const amt_params* params,
                      char* err, size_t err_sz) {
  const amt_info* info = amt_find(name);
  cog_cfg c = {0};
  c.two_step = two_step;
  const char* variant = amt_param_get(info, params, "variant");
  if (amt_opts_read(info, params, &c.opts, err, err_sz) ||
      amt_param_int(info, params, "trials", &c.trials, err, err_sz))
    return -1;
  if (c.trials < 1 || c.trials > 100000)
    return am_err(err, err_sz, "task %s: parameter trials: %d must be in [1, 100000]", name,
                  c.trials);
  if (!two_step) {
    if (amt_bandit_probs_read(info, params, &c.probs, err, err_sz)) return -1;
  } else {
    double b[2];
    int nb = 0;
    c.walk = !strcmp(variant, "walk");
    if (!c.walk && strcmp(variant, "swap"))
      return am_err(err, err_sz, "task %s: parameter variant: '%s' is not swap or walk", name,
                    variant);
    if (amt_param_double(info, params, "common_prob", &c.common, err, err_sz) ||
        amt_param_double(info, params, "p_high", &c.p_high, err, err_sz) ||
        amt_param_double(info, params, "swap_prob", &c.swap_prob, err, err_sz) ||
        amt_param_double(info, params, "walk_sd", &c.walk_sd, err, err_sz) ||
        amt_param_list(info, params, "walk_bounds", b, 2, &nb, err, err_sz))
      return -1;
    if (!(c.common >= 0 && c.common <= 1) || !(c.p_high >= 0 && c.p_high <= 1) ||
        !(c.swap_prob >= 0 && c.swap_prob <= 1))
      return am_err(err, err_sz, "task %s: common_prob, p_high and swap_prob must lie in [0, 1] "
                    "(got %g, %g, %g)", name, c.common, c.p_high, c.swap_prob);
    if (nb != 2 || !(b[0] >= 0 && b[0] < b[1] && b[1] <= 1) || !(c.walk_sd >= 0))
      return am_err(err, err_sz, "task %s: walk_bounds must be LO,HI with 0 <= LO < HI <= 1 and "
                    "walk_sd >= 0", name);
    c.lo = b[0], c.hi = b[1];
  }
  if (amt_bodyless_init(t, name, &c, sizeof c, sizeof(cog_state), 2, event_names, E_COUNT,
                        two_step ? two_step_vars : bandit_vars, two_step ? V_COUNT : V_STATE, 0.1,
                        err, err_sz))
    return -1;
  t->max_steps = c.trials * (two_step ? 2 : 1);
  t->n_groups = 0;
  if (two_step) t->groups[t->n_groups++] = (am_obs_group){"stage", 0, 3};
  t->groups[t->n_groups++] = (am_obs_group){"feedback", two_step ? 3 : 0, 3};
  t->obs_dim = two_step ? 6 : 3;
  t->n_conditions = 0;
  t->conditions[t->n_conditions++] = V_P1;
  t->conditions[t->n_conditions++] = V_P2;
  if (two_step) t->conditions[t->n_conditions++] = V_TRANSITION;
  t->reset = cog_reset;
  t->act = cog_act;
  t->evaluate = cog_evaluate;
  t->observe = cog_observe;
  t->get_vars = cog_vars;
  return amt_opts_setup(t, &((cog_cfg*)t->cfg)->opts, err, err_sz);
}

int amt_bandit_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return cog_create(t, "bandit", 0, params, err, err_sz);
}

int amt_two_step_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return cog_create(t, "two-step", 1, params, err, err_sz);
}

//---------------------------------- value-choice -------------------------------------------------
// The economic choice of Padoa-Schioppa & Assad 2006 without a body (value-reach is the embodied
// one): each step is a trial; the observation shows the offer of each side (group "offers": left
// A, left B, right A, right B, as drops / AMT_VALUE_Q_SCALE; 0 for the juice not on that side),
// an offer type qA:qB drawn from `offers` and A's side at random; the action chooses left or right
// and pays the chosen offer's value (a drop of A is worth rho drops of B) / the best offer type's
// value. The variables of a step are the trial just chosen (the next offer is already shown).

int amt_offers_read(const amt_info* info, const amt_params* params, amt_offers* o, char* err,
                    size_t err_sz) {
  const char* text = amt_param_get(info, params, "offers");
  memset(o, 0, sizeof *o);
  o->n = amt_parse_pairs(text, o->qa, o->qb, 16);
  if (amt_param_double(info, params, "rho", &o->rho, err, err_sz)) return -1;
  if (!(o->rho > 0 && o->rho <= 100))
    return am_err(err, err_sz, "task %s: parameter rho: '%g' must be in (0, 100]", info->name,
                  o->rho);
  for (int i = 0; i < o->n; i++) {
    if (!(o->qa[i] > 0 && o->qa[i] <= 100 && o->qb[i] > 0 && o->qb[i] <= 100)) o->n = -1;
    if (o->n < 0) break;
    o->max_value = fmax(o->max_value, fmax(o->rho * o->qa[i], o->qb[i]));
  }
  if (o->n < 1)
    return am_err(err, err_sz, "task %s: parameter offers: '%s' must be up to 16 offer types "
                  "qA:qB,qA:qB,... with 0 < q <= 100", info->name, text);
  return 0;
}

enum { VE_TRIAL_START, VE_BETTER, VE_WORSE, VE_TRIAL_END, VE_COUNT };
static const char* const value_events[VE_COUNT] = {"trial_start", "better", "worse", "trial_end"};
enum { VV_TRIAL, VV_CHOICE, VV_OUTCOME, VV_OFFER_A, VV_OFFER_B, VV_VALUE_A, VV_VALUE_B, VV_B_SIDE,
       VV_LOG_RATIO, VV_CHOSEN_VALUE, VV_COUNT };
static const char* const value_vars[VV_COUNT] = {"trial", "choice", "outcome", "offer_a", "offer_b",
                                                 "value_a", "value_b", "b_side", "log_ratio",
                                                 "chosen_value"};

const amt_param_def amt_value_choice_params[] = {
    {"trials", "20", "trials (one step each) per episode"},
    AMT_OFFER_PARAMS, AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

typedef struct vc_cfg {
  amt_opts opts;  // first (task_opts.h)
  int trials;
  amt_offers offers;
} vc_cfg;

typedef struct vc_offer {
  double qa, qb;
  int a_side;  // -1 left, +1 right
} vc_offer;

typedef struct vc_state {
  amt_opt_state opt;  // first (task_opts.h)
  int trial, choice, done;
  vc_offer shown, last;  // the offer on screen; the trial just chosen (the variables)
  double chosen_value;
  int better;
} vc_state;

static void vc_draw(const vc_cfg* c, am_rng* r, vc_offer* o) {
  int k = (int)(am_rng_uniform(r) * c->offers.n) % c->offers.n;
  o->qa = c->offers.qa[k], o->qb = c->offers.qb[k];
  o->a_side = am_rng_uniform(r) < 0.5 ? -1 : 1;
}

static void vc_reset(const am_task* t, am_env* e) {
  const vc_cfg* c = t->cfg;
  vc_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  amt_opts_reset(&s->opt);
  vc_draw(c, &e->rng, &s->shown);
  mj_forward(e->m, e->d);
}

static void vc_act(const am_task* t, am_env* e, const float* a) {
  const vc_cfg* c = t->cfg;
  vc_state* s = e->task_state;
  amt_opts_act(&c->opts, &s->opt, a);
  s->choice = choice_of(a, t->act_dim) ? 1 : -1;
}

static void vc_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const vc_cfg* c = t->cfg;
  vc_state* s = e->task_state;
  const vc_offer* o = &s->shown;
  double va = c->offers.rho * o->qa, vb = o->qb;
  int chose_a = s->choice == o->a_side;
  s->chosen_value = chose_a ? va : vb;
  s->better = s->chosen_value >= (chose_a ? vb : va);
  s->last = *o;
  float reward = (float)(s->chosen_value / c->offers.max_value);
  r->reward = reward;
  r->events = 1u << VE_TRIAL_START | 1u << (s->better ? VE_BETTER : VE_WORSE) | 1u << VE_TRIAL_END;
  s->trial++;
  s->done = s->trial >= c->trials;
  r->terminated = s->done;
  amt_opts_reward(&s->opt, reward);
  vc_draw(c, &e->rng, &s->shown);  // the next trial's offer
}

static void vc_observe(const am_task* t, am_env* e, float* o) {
  const vc_cfg* c = t->cfg;
  vc_state* s = e->task_state;
  const vc_offer* f = &s->shown;
  double qa = f->qa / AMT_VALUE_Q_SCALE, qb = f->qb / AMT_VALUE_Q_SCALE;
  int a_right = f->a_side > 0;
  o[0] = (float)(a_right ? 0 : qa);  // left: A
  o[1] = (float)(a_right ? qb : 0);  // left: B
  o[2] = (float)(a_right ? qa : 0);  // right: A
  o[3] = (float)(a_right ? 0 : qb);  // right: B
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void vc_vars(const am_task* t, const am_env* e, float* v) {
  const vc_cfg* c = t->cfg;
  const vc_state* s = e->task_state;
  const vc_offer* o = &s->last;
  v[VV_TRIAL] = (float)(s->trial > 0 ? s->trial - 1 : 0);
  v[VV_CHOICE] = (float)(s->trial > 0 ? s->choice : 0);
  v[VV_OUTCOME] = (float)s->better;
  v[VV_OFFER_A] = (float)o->qa;
  v[VV_OFFER_B] = (float)o->qb;
  v[VV_VALUE_A] = (float)(c->offers.rho * o->qa);
  v[VV_VALUE_B] = (float)o->qb;
  v[VV_B_SIDE] = (float)-o->a_side;
  v[VV_LOG_RATIO] = (float)(o->qa > 0 && o->qb > 0 ? log(o->qb / o->qa) : 0);
  v[VV_CHOSEN_VALUE] = (float)s->chosen_value;
}

int amt_value_choice_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  const amt_info* info = amt_find("value-choice");
  vc_cfg c = {0};
  if (amt_opts_read(info, params, &c.opts, err, err_sz) ||
      amt_param_int(info, params, "trials", &c.trials, err, err_sz) ||
      amt_offers_read(info, params, &c.offers, err, err_sz))
    return -1;
  if (c.trials < 1 || c.trials > 100000)
    return am_err(err, err_sz, "task %s: parameter trials: %d must be in [1, 100000]", info->name,
                  c.trials);
  if (amt_bodyless_init(t, info->name, &c, sizeof c, sizeof(vc_state), 2, value_events, VE_COUNT,
                        value_vars, VV_COUNT, 0.1, err, err_sz))
    return -1;
  t->success_event = VE_BETTER;  // the better offer (or either of equal ones) chosen
  t->max_steps = c.trials;
  t->n_groups = 1;
  t->groups[0] = (am_obs_group){"offers", 0, 4};
  t->obs_dim = 4;
  t->n_conditions = 0;
  const int cond[4] = {VV_LOG_RATIO, VV_B_SIDE, VV_OFFER_A, VV_OFFER_B};
  for (int k = 0; k < 4; k++) t->conditions[t->n_conditions++] = cond[k];
  t->reset = vc_reset;
  t->act = vc_act;
  t->evaluate = vc_evaluate;
  t->observe = vc_observe;
  t->get_vars = vc_vars;
  return amt_opts_setup(t, &((vc_cfg*)t->cfg)->opts, err, err_sz);
}
