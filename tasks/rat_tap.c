// rat_tap.c: the task "two-tap" (Merel et al. 2020, after the rat timing task of Kawai et al.
// 2015): the rat touches an orb twice, the second touch interval +- tolerance after the first.
//
// Per trial (the orb shown at a random spot): the first touch pays tap_reward; a second touch in
// the window pays again and the orb moves at the next step; a touch too soon, or none by the end
// of the window, starts a timeout after which the orb moves. The task is a rat_part (rat_common.h),
// which the composite rat-multi also holds. docs/tasks.md describes it for users.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

const amt_param_def amt_two_tap_params[] = {
    {"episode_time", "30", "episode length (s)"},
    {"interval", "0.8", "required interval between the two touches (s)"},
    {"tolerance", "0.1", "allowed deviation from the interval (s)"},
    {"timeout", "1.2", "pause after a failed pair before the orb moves (s)"},
    {"tap_reward", "25", "reward per counted touch"},
    {"arena", "1.5", "the orb is placed uniformly within +-arena (m) in x and y"},
    {"timed_shaping", "0",
     "1: the hand-to-orb shaping pays only before the first touch and from the window's opening "
     "(not while the rat must wait, nor in timeouts)"},
    {"too_soon_cost", "0", "reward subtracted for a second touch too soon"},
    {"potential", "0",
     "training shaping (0: off): the hand-to-orb shaping paid as the change of potential x "
     "exp(-3 L1) since the step before (approaching pays, staying pays nothing, withdrawing costs "
     "it back; 0 at a trial's first step), in place of 0.25 exp(-3 L1) every step; not with "
     "timed_shaping"},
    {"graded", "0",
     "training shaping (0: off): a second touch too soon, t s after the first, pays tap_reward x "
     "exp(-(t - interval)^2 / (2 graded^2)) (graded: a width in s); the window pays in full as "
     "always, and a touch too soon stays a failed trial"},
    {"curriculum", "0",
     "training curriculum (0: off): the required interval rises from interval_start to interval "
     "over the env's first N counted pairs (the env's count persists across episodes)"},
    {"interval_start", "0.2", "the required interval at the curriculum's or staircase's start (s)"},
    {"staircase", "0",
     "training staircase (0: off): each env's required interval starts at interval_start, rises "
     "by stair_up after a counted pair and falls by stair_down after a failed trial (too soon or "
     "no second touch), within [interval_start, interval]; the env's interval persists across "
     "episodes"},
    {"stair_up", "0.02", "the staircase's step up after a counted pair (s)"},
    {"stair_down", "0.01", "the staircase's step down after a failed trial (s)"},
    {"first_share", "1",
     "share of tap_reward paid for the first touch (1: the published task; below 1 for training, "
     "so that a pair pays more than touching once)"},
    {"clock", "1",
     "1: the task group's last value is the time since the first touch (s); 0: it stays 0, as in "
     "the published task (the one-hot task state only), so the rat must time the wait itself"},
    {"show_interval", "0",
     "1: a group \"interval\" of 1 value follows the task group: the trial's required interval "
     "(s; constant without a curriculum, the env's current one with it)"},
    {"heading", "0", RAT_HEADING_HELP("the direction from the head to the orb")},
    RAT_COMMON_PARAMS, {NULL, NULL, NULL}};

typedef struct tap_cfg {
  rat_body rat;  // first (rat_common.h)
  double interval, tolerance, timeout;  // s (the parameters)
  int orb_mocap;
  int timeout_steps;
  double tap_reward, arena;
  int timed_shaping;     // shaping only where a touch would count
  double too_soon_cost;  // >= 0
  double graded;         // s; > 0: a touch too soon pays by its distance from the interval
  double potential;      // > 0: the shaping is the change of potential x exp(-3 L1)
  int curriculum;        // counted pairs over which the interval rises (0: off)
  double interval_start; // s, the interval at the curriculum's or the staircase's start
  int staircase;         // 1: each env's interval follows its trials (stair_up, stair_down)
  double stair_up, stair_down;  // s
  double first_share;    // the first touch pays first_share x tap_reward
  int clock;             // 1: the task group shows the time since the first touch
} tap_cfg;

// the task state shown one-hot in the task group (and as the variable tap_state)
enum { TAP_BEFORE, TAP_ONCE, TAP_TWICE, TAP_TOO_SOON, TAP_NO_SECOND };

typedef struct tap_state {
  amt_opt_state opt;  // first (task_opts.h)
  int tap_state, t_since, timeout_left, touching, pending_start, taps;
  int lo, hi;          // this trial's window: control steps after the first touch that count
  double interval;     // this trial's required interval (s)
  double orb[3];
  double phi;          // potential shaping: the potential at the step before (phi_set: known)
  int phi_set;
  int64_t env_pairs;   // counted pairs of this env (persists across episodes: the curriculum)
  double stair;        // the staircase's interval for this env (s; persists; 0: not begun)
} tap_state;

enum { EV_START, EV_FIRST, EV_SECOND, EV_TOO_SOON, EV_NO_SECOND, EV_REWARD, EV_END };

#define ORB_RADIUS 0.025
#define TOUCH_MARGIN 0.015  // a touch: a hand site within ORB_RADIUS + TOUCH_MARGIN of the centre

//---------------------------------- hooks ---------------------------------------------------------

// A new trial: the orb at a random spot and the trial's window (the curriculum's point: the
// interval moves linearly from interval_start to interval with the env's counted pairs; the
// staircase's: the env's own step); trial_start is reported at the next evaluate.
static void new_orb(const tap_cfg* c, tap_state* s, am_env* e) {
  s->interval = c->interval;
  if (c->curriculum > 0 && s->env_pairs < c->curriculum)
    s->interval = c->interval_start +
                  (c->interval - c->interval_start) * (double)s->env_pairs / c->curriculum;
  if (c->staircase) {
    if (s->stair == 0) s->stair = c->interval_start;
    s->interval = s->stair;
  }
  amt_two_tap_window(s->interval, c->tolerance, c->rat.dt, &s->lo, &s->hi);
  s->orb[0] = am_rng_range(&e->rng, -c->arena, c->arena);
  s->orb[1] = am_rng_range(&e->rng, -c->arena, c->arena);
  s->orb[2] = 0.14;
  rat_set_mocap(e->d, c->orb_mocap, s->orb[0], s->orb[1], s->orb[2]);
  s->tap_state = TAP_BEFORE;
  s->t_since = 0;
  s->timeout_left = 0;
  s->pending_start = 1;
  s->phi_set = 0;  // the orb moved: the potential starts again
}

static void tap_park(const void* cfg, mjData* d) {
  const tap_cfg* c = cfg;
  rat_park(d, c->orb_mocap);
}

static void tap_reset(const void* cfg, void* state, am_env* e) {
  const tap_cfg* c = cfg;
  tap_state* s = state;
  int64_t pairs = s->env_pairs;
  double stair = s->stair;
  memset(s, 0, sizeof *s);
  s->env_pairs = pairs;
  s->stair = stair;
  rat_place(&c->rat, e, 0, 0, 0, am_rng_range(&e->rng, -M_PI, M_PI));
  new_orb(c, s, e);
  mj_forward(e->m, e->d);
}

// Distance (Euclidean; *l1: L1) from the orb to the nearer hand.
static double hand_orb_dist(const tap_cfg* c, const mjData* d, const double orb[3], double* l1) {
  double best = 1e9, best_l1 = 1e9;
  for (int h = 0; h < 2; h++) {
    const mjtNum* p = d->site_xpos + 3 * c->rat.hands[h];
    double dx = p[0] - orb[0], dy = p[1] - orb[1], dz = p[2] - orb[2];
    double dist = sqrt(dx * dx + dy * dy + dz * dz);
    if (dist < best) best = dist;
    double l = fabs(dx) + fabs(dy) + fabs(dz);
    if (l < best_l1) best_l1 = l;
  }
  *l1 = best_l1;
  return best;
}

// The staircase's step after a trial: up after a counted pair, down after a failed one.
static void stair_step(const tap_cfg* c, tap_state* s, int counted) {
  if (!c->staircase) return;
  s->stair += counted ? c->stair_up : -c->stair_down;
  if (s->stair > c->interval) s->stair = c->interval;
  if (s->stair < c->interval_start) s->stair = c->interval_start;
}

// The trial's state machine on a touch onset; adds to *reward and *ev.
static void tap_rules(const tap_cfg* c, tap_state* s, int onset, double* reward, uint32_t* ev) {
  s->t_since++;
  if (s->tap_state == TAP_BEFORE && onset) {
    s->tap_state = TAP_ONCE;
    s->t_since = 0;
    *reward += c->first_share * c->tap_reward;
    *ev |= (1u << EV_FIRST) | (1u << EV_REWARD);
  } else if (s->tap_state == TAP_ONCE) {
    // the window closes first: a touch after interval_hi is no second touch, not a late one
    if (s->t_since > s->hi) {
      s->tap_state = TAP_NO_SECOND;
      s->timeout_left = c->timeout_steps;
      *ev |= 1u << EV_NO_SECOND;
      stair_step(c, s, 0);
    } else if (onset && s->t_since < s->lo) {
      s->tap_state = TAP_TOO_SOON;
      s->timeout_left = c->timeout_steps;
      *reward -= c->too_soon_cost;
      if (c->graded > 0) {  // shaping toward the interval; not a reward event of the task
        double d = (s->t_since * c->rat.dt - s->interval) / c->graded;
        *reward += c->tap_reward * exp(-0.5 * d * d);
      }
      *ev |= 1u << EV_TOO_SOON;
      stair_step(c, s, 0);
    } else if (onset) {
      s->tap_state = TAP_TWICE;
      *reward += c->tap_reward;
      s->taps++;
      s->env_pairs++;
      *ev |= (1u << EV_SECOND) | (1u << EV_REWARD);
      stair_step(c, s, 1);
      s->timeout_left = 1;  // trial_end and the orb moves at the next step
    }
  }
}

static void tap_evaluate(const void* cfg, void* state, am_env* e, am_step_result* r) {
  const tap_cfg* c = cfg;
  tap_state* s = state;
  uint32_t ev = 0;
  if (s->pending_start) {
    ev |= 1u << EV_START;
    s->pending_start = 0;
  }
  double l1;
  double dist = hand_orb_dist(c, e->d, s->orb, &l1);
  int touch = dist < ORB_RADIUS + TOUCH_MARGIN;
  int onset = touch && !s->touching;
  s->touching = touch;
  // timed: only where a touch would count (the rules below judge this step at t_since + 1)
  int in_window = s->tap_state == TAP_ONCE && s->t_since + 1 >= s->lo;
  int shape = !c->timed_shaping ||
              (s->timeout_left == 0 && (s->tap_state == TAP_BEFORE || in_window));
  double shaping = shape ? 0.25 * exp(-3 * l1) : 0.0;
  if (c->potential > 0) {  // potential-based (Ng et al. 1999): only changes pay
    double phi = c->potential * exp(-3 * l1);
    shaping = s->phi_set ? phi - s->phi : 0.0;
    s->phi = phi;
    s->phi_set = 1;
  }
  r->terms[1] = (float)shaping;
  double reward = shaping;
  if (s->timeout_left > 0) {  // between trials: the rules wait
    if (--s->timeout_left == 0) {
      ev |= 1u << EV_END;
      new_orb(c, s, e);
    }
  } else {
    tap_rules(c, s, onset, &reward, &ev);
  }
  r->terms[0] = (float)reward - r->terms[1];
  r->reward = (float)reward;
  r->events = ev;
}

// Task group (9): the orb relative to the head in the torso frame (3), the one-hot task state (5),
// the time since the first touch (s; 0 unless touched once, always 0 with clock=0). With
// show_interval the group "interval" follows it: the trial's required interval (s); with heading
// the group "heading" after that: the direction from the head to the orb.
static void tap_observe(const void* cfg, const void* state, const mjData* d, float* g) {
  const tap_cfg* c = cfg;
  const tap_state* s = state;
  double w[3], v[3];
  const mjtNum* h = d->xpos + 3 * c->rat.head;
  for (int k = 0; k < 3; k++) w[k] = s->orb[k] - h[k];
  rat_to_torso(&c->rat, d, w, v);
  for (int k = 0; k < 3; k++) g[k] = (float)v[k];
  for (int k = 0; k < 5; k++) g[3 + k] = (float)(s->tap_state == k);
  g[8] = (float)(c->clock && s->tap_state == TAP_ONCE ? s->t_since * c->rat.dt : 0);
  const int n_iv = c->rat.own[0].size;
  if (n_iv) g[9] = (float)s->interval;  // the group "interval"
  if (c->rat.own[1].size) rat_heading_write(&c->rat, d, atan2(w[1], w[0]), g + 9 + n_iv);
}

static void tap_vars(const void* cfg, const void* state, const mjData* d, float* x) {
  const tap_state* s = state;
  (void)cfg, (void)d;
  x[0] = (float)s->orb[0];
  x[1] = (float)s->orb[1];
  x[2] = (float)s->tap_state;
  x[3] = (float)s->taps;
  x[4] = (float)s->interval;
}

//---------------------------------- construction --------------------------------------------------

static int tap_read(const amt_info* info, const amt_params* params, void* cfg, char* err,
                    size_t err_sz) {
  tap_cfg* c = cfg;
  if (amt_param_double(info, params, "interval", &c->interval, err, err_sz) ||
      amt_param_double(info, params, "tolerance", &c->tolerance, err, err_sz) ||
      amt_param_double(info, params, "timeout", &c->timeout, err, err_sz) ||
      amt_param_double(info, params, "tap_reward", &c->tap_reward, err, err_sz) ||
      amt_param_double(info, params, "arena", &c->arena, err, err_sz) ||
      amt_param_bool(info, params, "timed_shaping", &c->timed_shaping, err, err_sz) ||
      amt_param_double(info, params, "too_soon_cost", &c->too_soon_cost, err, err_sz) ||
      amt_param_double(info, params, "graded", &c->graded, err, err_sz) ||
      amt_param_double(info, params, "potential", &c->potential, err, err_sz) ||
      amt_param_int(info, params, "curriculum", &c->curriculum, err, err_sz) ||
      amt_param_double(info, params, "interval_start", &c->interval_start, err, err_sz) ||
      amt_param_bool(info, params, "staircase", &c->staircase, err, err_sz) ||
      amt_param_double(info, params, "stair_up", &c->stair_up, err, err_sz) ||
      amt_param_double(info, params, "stair_down", &c->stair_down, err, err_sz) ||
      amt_param_double(info, params, "first_share", &c->first_share, err, err_sz) ||
      amt_param_bool(info, params, "clock", &c->clock, err, err_sz) ||
      // show_interval: the size of the group "interval"
      amt_param_bool(info, params, "show_interval", &c->rat.own[0].size, err, err_sz) ||
      rat_read_heading(info, params, "heading", 1, &c->rat, err, err_sz))
    return -1;
  c->rat.own[0].name = "interval";
  c->rat.own[0].param = "show_interval";
  if (!(c->first_share >= 0 && c->first_share <= 1))
    return am_err(err, err_sz, "task %s: first_share must be in [0, 1] (got %g)", info->name,
                  c->first_share);
  if (c->curriculum < 0)
    return am_err(err, err_sz, "task %s: curriculum must be >= 0 (got %d)", info->name,
                  c->curriculum);
  if (c->staircase && c->curriculum > 0)
    return am_err(err, err_sz, "task %s: staircase and curriculum are two ways of moving the "
                  "interval: set one of them", info->name);
  if (c->staircase && !(c->stair_up > 0 && c->stair_down >= 0))
    return am_err(err, err_sz, "task %s: stair_up must be > 0 and stair_down >= 0 (got %g, %g)",
                  info->name, c->stair_up, c->stair_down);
  if ((c->curriculum > 0 || c->staircase) && !(c->interval_start > c->tolerance))
    return am_err(err, err_sz, "task %s: interval_start must be > tolerance %g (got %g)",
                  info->name, c->tolerance, c->interval_start);
  if (c->staircase && c->interval_start > c->interval)
    return am_err(err, err_sz, "task %s: with the staircase, interval_start %g must be <= "
                  "interval %g", info->name, c->interval_start, c->interval);
  if (!(c->too_soon_cost >= 0))
    return am_err(err, err_sz, "task %s: too_soon_cost must be >= 0 (got %g)", info->name,
                  c->too_soon_cost);
  if (!(c->potential >= 0))
    return am_err(err, err_sz, "task %s: potential must be >= 0 (got %g)", info->name,
                  c->potential);
  if (c->potential > 0 && c->timed_shaping)
    return am_err(err, err_sz, "task %s: potential and timed_shaping are two forms of the "
                  "shaping: set one of them", info->name);
  if (!(c->graded >= 0))
    return am_err(err, err_sz, "task %s: graded must be >= 0 s (got %g)", info->name, c->graded);
  if (!(c->interval > 0) || c->tolerance < 0 || c->tolerance >= c->interval ||
      !(c->timeout > 0) || !(c->arena > 0))
    return am_err(err, err_sz, "task %s: interval, timeout and arena must be > 0 and 0 <= "
                  "tolerance < interval", info->name);
  return 0;
}

static int tap_build(const void* cfg, rat_sbuf* prelude, rat_sbuf* a, int movable) {
  (void)cfg, (void)prelude;
  rat_add_floor(a, 5.0, 0, movable ? "two-tap" : NULL);
  rat_sb_add(a, "<body name=\"orb\" mocap=\"true\" pos=\"0 0 0.14\"><geom type=\"sphere\" "
                "size=\"%g\" rgba=\"0.2 0.5 0.95 1\" contype=\"0\" conaffinity=\"0\"/></body>",
             ORB_RADIUS);
  return a->oom;
}

void amt_two_tap_window(double interval, double tolerance, double dt, int* lo, int* hi) {
  *lo = (int)ceil((interval - tolerance) / dt - 1e-9);
  *hi = (int)floor((interval + tolerance) / dt + 1e-9);
}

// The interval, tolerance and timeout become control steps (the control period is known now).
static int tap_bind(void* cfg, mjModel* m, char* err, size_t err_sz) {
  tap_cfg* c = cfg;
  const double dt = c->rat.dt;
  int lo, hi;
  amt_two_tap_window(c->interval, c->tolerance, dt, &lo, &hi);
  if (hi < lo)
    return am_err(err, err_sz, "task two-tap: interval %g +- tolerance %g s contains no control "
                  "step (of %g s): widen tolerance", c->interval, c->tolerance, dt);
  // the curriculum's and the staircase's windows lie between interval_start and interval; each
  // must hold a step (2 x tolerance >= dt guarantees it for all of them)
  if ((c->curriculum > 0 || c->staircase) && 2 * c->tolerance < dt)
    return am_err(err, err_sz, "task two-tap: with a curriculum or staircase, tolerance %g s must "
                  "be at least half the control step (%g s)", c->tolerance, dt);
  c->timeout_steps = (int)floor(c->timeout / dt + 0.5);
  if (c->timeout_steps < 1) c->timeout_steps = 1;
  c->orb_mocap = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "orb")];
  return 0;
}

static const char* const tap_terms[] = {"taps", "shaping"};
static const char* const tap_events[] = {"trial_start", "touch_first", "touch_second", "too_soon",
                                         "no_second", "reward", "trial_end"};
static const char* const tap_vars_names[] = {"orb_x", "orb_y", "tap_state", "pairs_done",
                                             "interval"};

const rat_part rat_tap_part = {
    .name = "two-tap", .cfg_size = sizeof(tap_cfg), .state_size = sizeof(tap_state),
    .task_size = 9, .n_terms = 2, .n_events = EV_END + 1, .n_vars = 5, .term_names = tap_terms,
    .event_names = tap_events, .var_names = tap_vars_names,
    .trial_start = EV_START, .success = EV_SECOND, .trial_end = EV_END,
    .read = tap_read, .build = tap_build, .bind = tap_bind, .reset = tap_reset,
    .evaluate = tap_evaluate, .observe = tap_observe, .vars = tap_vars, .park = tap_park};

int amt_two_tap_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  return rat_part_create(t, &rat_tap_part, params, err, err_sz);
}
