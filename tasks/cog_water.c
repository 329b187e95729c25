// cog_water.c: the task "water-plane": the water maze of "water-maze" (rat_water.c) without a
// body. A navigator on the plane of the same arena runs at a fixed speed toward the place the
// network names (the command of the rat's steer=2, as its turning runner carries it out) while
// searching, and toward the shown start cue while returning, turning at most turn_rate; the rules
// (hidden goal placed anew each episode, searches, timeouts, the cue, the rewards, the task group
// and the group "heading") are water_rules.c's, the rat's own.
//
// What it is for: learning to learn where the goal is (the latch of a place found, held through
// the walk back and used in the next search: Bellec et al. 2018's navigation, Wang et al. 2018's
// meta-RL) apart from steering a body, at the cost of a body-less step. Its control step is
// step_time (0.32 s: one tick of a rat core with core_tick = 16), so that a network trained here
// lives on the time scale of the rat's slow core.
// By default the navigator turns and runs ideally; turn_gain, heading_noise, halt=0 and wall_slip
// make it move more as the rat's turning runner does (a lagging turn, a wandering heading, no
// stopping, sticking at the wall: docs/tasks.md gives the rat's measured values).
// What it is not: a model of the rat's body.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"
#include "water_rules.h"

const amt_param_def amt_water_plane_params[] = {
    AMT_WATER_PARAMS,
    {"steer", "2", "the action's meaning while searching: 2 a place to run to (x, y / "
                   "arena_radius), 1 a direction to run in (x, y in the arena's frame)"},
    {"speed", "0.8", "the navigator's speed (m/s; the rat's turning runners run at 0.75-0.9 on "
                     "open ground, 0.55 in the water maze)"},
    {"turn_rate", "180", "the navigator's largest turn (deg/s)"},
    {"turn_gain", "0",
     "how fast the heading relaxes toward the target's direction (1/s: the rat's runner turns "
     "about 1.6 of its heading error per second); 0: the whole error at once (at most turn_rate)"},
    {"heading_noise", "0", "a random walk of the heading (deg per sqrt(s)); 0: none"},
    {"halt", "1", "1: the navigator stops at a named place; 0: it runs on through it and turns "
                  "back, as a runner does"},
    {"wall_slip", "1", "running into the wall, the fraction of the step's slide along it that is "
                       "kept (1: slides freely; 0: stops at the wall until it heads away; the rat "
                       "runner pushed against the wall moves at about 0.2 of its speed)"},
    {"return_speed", "0",
     "0: the navigator returns to the cue at `speed`; v > 0: at a speed drawn for each walk back "
     "uniformly between v and `speed` (m/s), so that walks back last as long as a rat's that "
     "creeps along the wall"},
    {"step_time", "0.32", "control step (s)"},
    AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

#define WALL_GAP 0.1  // the navigator stays this far inside the wall (the rat's half length)

enum { V_X = AMT_WATER_N_VARS, V_Y, V_HEADING, V_COUNT };
static const char* const var_names[V_COUNT] = {"goal_x", "goal_y", "phase", "search", "cue_x",
                                               "cue_y", "x", "y", "heading"};

typedef struct plane_cfg {
  amt_opts opts;  // first (task_opts.h)
  amt_water w;
  double speed, turn, dt, gain, noise, slip, ret_lo;
  int halt;
} plane_cfg;

typedef struct plane_state {
  amt_opt_state opt;  // first (task_opts.h)
  amt_water_state w;
  double pos[2], yaw;
  double ret_v;  // this walk back's speed (return_speed > 0)
} plane_state;

static void plane_reset(const am_task* t, am_env* e) {
  const plane_cfg* c = t->cfg;
  plane_state* s = e->task_state;
  memset(s, 0, sizeof *s);
  amt_opts_reset(&s->opt);
  amt_water_reset(&c->w, &s->w, &e->rng, s->pos);
  s->yaw = am_rng_range(&e->rng, -M_PI, M_PI);
  mj_forward(e->m, e->d);
}

static void plane_act(const am_task* t, am_env* e, const float* a) {
  const plane_cfg* c = t->cfg;
  plane_state* s = e->task_state;
  amt_opts_act(&c->opts, &s->opt, a);
  float cmd[2];
  for (int k = 0; k < 2; k++) cmd[k] = isfinite(a[k]) ? fmaxf(-1.0f, fminf(1.0f, a[k])) : 0.0f;
  amt_water_command(&s->w, cmd);
}

// The point of the segment p -> q nearest to x, as the fraction along it.
static double nearest_on(const double p[2], const double q[2], const double x[2]) {
  double dx = q[0] - p[0], dy = q[1] - p[1], n = dx * dx + dy * dy;
  if (n <= 0) return 0;
  double u = ((x[0] - p[0]) * dx + (x[1] - p[1]) * dy) / n;
  return u < 0 ? 0 : u > 1 ? 1 : u;
}

// One step of movement: turn toward the target (the whole error, or 1 - exp(-turn_gain dt) of
// it, at most turn_rate * dt; plus the heading noise), run speed * dt along the new heading (no
// farther than a named place with halt, or the cue), stay inside the wall (keeping wall_slip of
// the slide along it); a step that passes over the goal (searching) or the cue (returning) stops
// where it comes nearest to it.
static void plane_move(const plane_cfg* c, plane_state* s, am_rng* rng) {
  const amt_water_state* w = &s->w;
  int search = w->phase == AMT_WATER_SEARCH;
  double v[2];  // toward the target; how far it lies (a direction: no end)
  int place = amt_water_target(&c->w, w, s->pos, v);
  double reach = place && (c->halt || !search) ? hypot(v[0], v[1]) : INFINITY;
  if (hypot(v[0], v[1]) > 1e-9) {  // no command: straight on
    double turn = remainder(atan2(v[1], v[0]) - s->yaw, 2 * M_PI), most = c->turn * c->dt;
    if (c->gain > 0) turn *= 1 - exp(-c->gain * c->dt);
    s->yaw = remainder(s->yaw + fmax(-most, fmin(most, turn)), 2 * M_PI);
  }
  if (c->noise > 0)
    s->yaw = remainder(s->yaw + c->noise * sqrt(c->dt) * am_rng_normal(rng), 2 * M_PI);
  double v_now = !search && c->ret_lo > 0 ? s->ret_v : c->speed;
  double len = fmin(v_now * c->dt, reach);
  double q[2] = {s->pos[0] + len * cos(s->yaw), s->pos[1] + len * sin(s->yaw)};
  double r = hypot(q[0], q[1]), rmax = c->w.radius - WALL_GAP;
  if (r > rmax && c->slip < 1) {
    // where the step meets the wall (|pos + u d| = rmax); of the slide from there to the step's
    // radial projection, wall_slip is kept
    double d[2] = {q[0] - s->pos[0], q[1] - s->pos[1]};
    double pd = s->pos[0] * d[0] + s->pos[1] * d[1], dd = d[0] * d[0] + d[1] * d[1];
    double pp = s->pos[0] * s->pos[0] + s->pos[1] * s->pos[1] - rmax * rmax;
    double u = dd > 0 ? fmax(0, fmin(1, (-pd + sqrt(fmax(0, pd * pd - dd * pp))) / dd)) : 0;
    double meet[2] = {s->pos[0] + u * d[0], s->pos[1] + u * d[1]};
    q[0] = meet[0] + c->slip * (q[0] * (rmax / r) - meet[0]);
    q[1] = meet[1] + c->slip * (q[1] * (rmax / r) - meet[1]);
    r = hypot(q[0], q[1]);
  }
  if (r > rmax) q[0] *= rmax / r, q[1] *= rmax / r;  // slid along the wall
  const double* target = search ? w->goal : w->cue;
  double near = search ? c->w.goal_radius : AMT_WATER_CUE_RADIUS;
  double u = nearest_on(s->pos, q, target);
  double m[2] = {s->pos[0] + u * (q[0] - s->pos[0]), s->pos[1] + u * (q[1] - s->pos[1])};
  if (hypot(m[0] - target[0], m[1] - target[1]) < near) q[0] = m[0], q[1] = m[1];
  s->pos[0] = q[0], s->pos[1] = q[1];
}

static void plane_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const plane_cfg* c = t->cfg;
  plane_state* s = e->task_state;
  plane_move(c, s, &e->rng);
  uint32_t ev = 0;
  double goal, approach;
  int turned = amt_water_step(&c->w, &s->w, s->pos, &e->rng, &ev, &goal, &approach);
  if (turned && s->w.phase == AMT_WATER_RETURN && c->ret_lo > 0)
    s->ret_v = am_rng_range(&e->rng, c->ret_lo, c->speed);
  float reward = (float)(goal + approach);
  r->reward = reward;
  r->events = ev;
  r->terminated = s->w.done;
  amt_opts_reward(&s->opt, reward);
}

// Groups "task" (10, water_rules.h; the cue's vector in the navigator's frame) and "heading".
static void plane_observe(const am_task* t, am_env* e, float* o) {
  const plane_cfg* c = t->cfg;
  plane_state* s = e->task_state;
  double cs = cos(s->yaw), sn = sin(s->yaw);
  double dx = s->w.cue[0] - s->pos[0], dy = s->w.cue[1] - s->pos[1];
  const double heading[2] = {cs, sn}, cue_rel[2] = {cs * dx + sn * dy, -sn * dx + cs * dy};
  amt_water_observe(&c->w, &s->w, s->pos, heading, cue_rel, o);
  amt_water_heading(&c->w, &s->w, s->pos, s->yaw, o + 10);
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void plane_vars(const am_task* t, const am_env* e, float* v) {
  const plane_state* s = e->task_state;
  (void)t;
  amt_water_vars(&s->w, v);
  v[V_X] = (float)s->pos[0];
  v[V_Y] = (float)s->pos[1];
  v[V_HEADING] = (float)s->yaw;
}

int amt_water_plane_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  const amt_info* info = amt_find("water-plane");
  plane_cfg c = {0};
  double episode_time;
  if (amt_opts_read(info, params, &c.opts, err, err_sz) ||
      amt_water_read(info, params, &c.w, err, err_sz) ||
      amt_param_int(info, params, "steer", &c.w.steer, err, err_sz) ||
      amt_param_double(info, params, "speed", &c.speed, err, err_sz) ||
      amt_param_double(info, params, "turn_rate", &c.turn, err, err_sz) ||
      amt_param_double(info, params, "step_time", &c.dt, err, err_sz) ||
      amt_param_double(info, params, "turn_gain", &c.gain, err, err_sz) ||
      amt_param_double(info, params, "heading_noise", &c.noise, err, err_sz) ||
      amt_param_bool(info, params, "halt", &c.halt, err, err_sz) ||
      amt_param_double(info, params, "wall_slip", &c.slip, err, err_sz) ||
      amt_param_double(info, params, "return_speed", &c.ret_lo, err, err_sz) ||
      amt_param_double(info, params, "episode_time", &episode_time, err, err_sz))
    return -1;
  const char* name = info->name;
  if (c.w.steer != 1 && c.w.steer != 2)
    return am_err(err, err_sz, "task %s: parameter steer: '%d' must be 1 or 2", name, c.w.steer);
  if (!(c.speed > 0 && c.speed <= 10))
    return am_err(err, err_sz, "task %s: parameter speed: '%g' must be in (0, 10] m/s", name,
                  c.speed);
  if (!(c.turn > 0 && c.turn <= 3600))
    return am_err(err, err_sz, "task %s: parameter turn_rate: '%g' must be in (0, 3600] deg/s",
                  name, c.turn);
  if (!(c.dt >= 0.001 && c.dt <= 1))
    return am_err(err, err_sz, "task %s: parameter step_time: '%g' must be in [0.001, 1] s", name,
                  c.dt);
  if (!(c.gain >= 0 && c.gain <= 1000))
    return am_err(err, err_sz, "task %s: parameter turn_gain: '%g' must be in [0, 1000] 1/s", name,
                  c.gain);
  if (!(c.noise >= 0 && c.noise <= 360))
    return am_err(err, err_sz, "task %s: parameter heading_noise: '%g' must be in [0, 360] deg "
                  "per sqrt(s)", name, c.noise);
  if (!(c.slip >= 0 && c.slip <= 1))
    return am_err(err, err_sz, "task %s: parameter wall_slip: '%g' must be in [0, 1]", name,
                  c.slip);
  if (!(c.ret_lo >= 0 && c.ret_lo <= c.speed))
    return am_err(err, err_sz, "task %s: parameter return_speed: '%g' must be in [0, speed] m/s",
                  name, c.ret_lo);
  c.turn *= M_PI / 180;
  c.noise *= M_PI / 180;
  int steps;
  if (amt_water_bind(&c.w, name, c.dt, err, err_sz) ||
      amt_bodyless_steps(info, params, "episode_time", c.dt, &steps, err, err_sz))
    return -1;
  if (amt_bodyless_init(t, name, &c, sizeof c, sizeof(plane_state), 2, amt_water_events,
                        AMT_WATER_N_EVENTS, var_names, V_COUNT, c.dt, err, err_sz))
    return -1;
  t->discrete = 0;  // the command: two values in [-1, 1]
  t->success_event = AMT_WATER_EV_FOUND;
  t->max_steps = steps;
  t->n_groups = 2;
  t->groups[0] = (am_obs_group){"task", 0, 10};
  t->groups[1] = (am_obs_group){"heading", 10, 2};
  t->obs_dim = 12;
  t->n_conditions = 1;
  t->conditions[0] = 3;  // search
  t->reset = plane_reset;
  t->act = plane_act;
  t->evaluate = plane_evaluate;
  t->observe = plane_observe;
  t->get_vars = plane_vars;
  return amt_opts_setup(t, &((plane_cfg*)t->cfg)->opts, err, err_sz);
}
