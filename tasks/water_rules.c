// water_rules.c: the water maze's rules on a plane (water_rules.h), for the rat (rat_water.c) and
// the body-less navigator (cog_water.c).
#include "water_rules.h"

#include <math.h>
#include <string.h>

#include "tasks_internal.h"

const char* const amt_water_events[AMT_WATER_N_EVENTS] = {"trial_start", "goal_found", "timeout",
                                                          "trial_end", "cue_reached"};
const char* const amt_water_var_names[AMT_WATER_N_VARS] = {"goal_x", "goal_y", "phase", "search",
                                                      "cue_x", "cue_y"};


int amt_water_read(const amt_info* info, const amt_params* params, amt_water* c, char* err,
                   size_t err_sz) {
  if (amt_param_int(info, params, "trials", &c->trials, err, err_sz) ||
      amt_param_double(info, params, "arena_radius", &c->radius, err, err_sz) ||
      amt_param_double(info, params, "goal_radius", &c->goal_radius, err, err_sz) ||
      amt_param_double(info, params, "search_time", &c->search_time, err, err_sz) ||
      amt_param_double(info, params, "goal_reward", &c->goal_reward, err, err_sz) ||
      amt_param_double(info, params, "cue_reward", &c->cue_reward, err, err_sz) ||
      amt_param_double(info, params, "cue_min_distance", &c->cue_min, err, err_sz) ||
      amt_param_double(info, params, "approach", &c->approach, err, err_sz) ||
      amt_param_double(info, params, "recall", &c->recall, err, err_sz) ||
      amt_param_int(info, params, "found_steps", &c->found_steps, err, err_sz) ||
      amt_param_double(info, params, "place_inside", &c->inside, err, err_sz))
    return -1;
  const char* name = info->name;
  if (!(c->recall >= 0 && isfinite(c->recall)))
    return am_err(err, err_sz, "task %s: parameter recall: '%g' must be >= 0", name, c->recall);
  if (c->found_steps < 1 || c->found_steps > 1000)
    return am_err(err, err_sz, "task %s: parameter found_steps: '%d' must be in [1, 1000]", name,
                  c->found_steps);
  if (c->trials < 1 || c->trials > 1000)
    return am_err(err, err_sz, "task %s: parameter trials: '%d' must be in [1, 1000]", name,
                  c->trials);
  if (!(c->radius >= 0.6 && c->radius <= 10))
    return am_err(err, err_sz, "task %s: parameter arena_radius: '%g' must be in [0.6, 10] m "
                  "(the goal lies 0.3 m inside the wall, the starts 0.25 m)", name, c->radius);
  if (!(c->goal_radius > 0 && c->goal_radius < c->radius))
    return am_err(err, err_sz, "task %s: parameter goal_radius: '%g' must be in (0, arena_radius)",
                  name, c->goal_radius);
  if (!(c->search_time > 0))
    return am_err(err, err_sz, "task %s: parameter search_time: '%g' must be > 0", name,
                  c->search_time);
  if (!(c->inside >= 0 && c->inside < c->radius))
    return am_err(err, err_sz, "task %s: parameter place_inside: '%g' must be in [0, arena_radius)",
                  name, c->inside);
  if (!(c->cue_min >= 0 && c->cue_min <= 2 * (c->radius - 0.25)))
    return am_err(err, err_sz, "task %s: parameter cue_min_distance: '%g' must be in [0, %g] (the "
                  "width of the circle of starts)", name, c->cue_min, 2 * (c->radius - 0.25));
  return 0;
}

int amt_water_bind(amt_water* c, const char* task, double dt, char* err, size_t err_sz) {
  c->search_steps = (int)floor(c->search_time / dt + 0.5);
  if (c->search_steps < 1)
    return am_err(err, err_sz, "task %s: parameter search_time: '%g' s is shorter than a "
                  "control step (%g s)", task, c->search_time, dt);
  return 0;
}

// A spot by the wall (0.25 m inside it) at a random angle, at least cue_min_distance from the
// goal and from `from` (NULL: the goal only). The spots span 2 (radius - 0.25) >=
// cue_min_distance and the goal lies inside them, so some spot is far enough from both; 100
// draws, then the last one.
static void by_the_wall(const amt_water* c, am_rng* rng, const double goal[2], const double* from,
                        double p[2]) {
  for (int tries = 0; tries < 100; tries++) {
    double a = am_rng_range(rng, -M_PI, M_PI), r = c->radius - 0.25;
    p[0] = r * cos(a), p[1] = r * sin(a);
    if (hypot(p[0] - goal[0], p[1] - goal[1]) >= c->cue_min &&
        (!from || hypot(p[0] - from[0], p[1] - from[1]) >= c->cue_min))
      break;
  }
}

void amt_water_reset(const amt_water* c, amt_water_state* s, am_rng* rng, double start[2]) {
  memset(s, 0, sizeof *s);
  // the goal uniformly over the disc 0.3 m inside the wall (area-uniform radius)
  double a = am_rng_range(rng, -M_PI, M_PI);
  double r = (c->radius - 0.3) * sqrt(am_rng_uniform(rng));
  s->goal[0] = r * cos(a), s->goal[1] = r * sin(a);
  by_the_wall(c, rng, s->goal, NULL, start);
  s->phase = AMT_WATER_SEARCH;
  s->search = 1;
  s->pending_start = 1;
}

// A search ended (found or timed out): the start cue appears, or the episode ends.
static void end_search(const amt_water* c, amt_water_state* s, const double pos[2], am_rng* rng,
                       uint32_t* ev) {
  *ev |= 1u << AMT_WATER_EV_END;
  s->t_phase = 0;
  if (s->search >= c->trials) {
    s->done = 1;
    return;
  }
  by_the_wall(c, rng, s->goal, pos, s->cue);
  s->phase = AMT_WATER_RETURN;
  s->cue_d = hypot(pos[0] - s->cue[0], pos[1] - s->cue[1]);
}

int amt_water_step(const amt_water* c, amt_water_state* s, const double pos[2], am_rng* rng,
                   uint32_t* events, double* goal, double* approach) {
  uint32_t ev = 0;
  int phase = s->phase;
  *goal = *approach = 0;
  if (s->found_left > 0) s->found_left--;
  if (s->pending_start) {
    ev |= 1u << AMT_WATER_EV_START;
    s->pending_start = 0;
  }
  s->t_phase++;
  if (s->phase == AMT_WATER_SEARCH) {
    double dg = hypot(pos[0] - s->goal[0], pos[1] - s->goal[1]);
    if (s->found_once && s->t_phase > 1) *approach = c->recall * (s->goal_d - dg);
    s->goal_d = dg;
    if (dg < c->goal_radius) {
      *goal += c->goal_reward;
      s->found_left = c->found_steps;
      s->found_once = 1;
      ev |= 1u << AMT_WATER_EV_FOUND;
      end_search(c, s, pos, rng, &ev);
    } else if (s->t_phase >= c->search_steps) {
      ev |= 1u << AMT_WATER_EV_TIMEOUT;
      end_search(c, s, pos, rng, &ev);
    }
  } else {
    double dc = hypot(pos[0] - s->cue[0], pos[1] - s->cue[1]);
    *approach = c->approach * (s->cue_d - dc);
    s->cue_d = dc;
    if (dc < AMT_WATER_CUE_RADIUS) {  // the next search starts here
      *goal += c->cue_reward;
      ev |= (1u << AMT_WATER_EV_CUE) | (1u << AMT_WATER_EV_START);
      s->phase = AMT_WATER_SEARCH;
      s->t_phase = 0;
      s->search++;
    }
  }
  *events = ev;
  return s->phase != phase;
}

void amt_water_observe(const amt_water* c, const amt_water_state* s, const double pos[2],
                       const double heading[2], const double cue_rel[2], float* g) {
  int ret = s->phase == AMT_WATER_RETURN;
  g[0] = (float)(pos[0] / c->radius);
  g[1] = (float)(pos[1] / c->radius);
  g[2] = (float)heading[0];
  g[3] = (float)heading[1];
  g[4] = (float)!ret;
  g[5] = (float)ret;
  g[6] = (float)(ret ? cue_rel[0] : 0);
  g[7] = (float)(ret ? cue_rel[1] : 0);
  g[8] = (float)(s->found_left > 0);
  g[9] = (float)(s->t_phase / (double)c->search_steps);
}

int amt_water_target(const amt_water* c, const amt_water_state* s, const double from[2],
                     double v[2]) {
  if (s->phase == AMT_WATER_RETURN) {
    v[0] = s->cue[0] - from[0], v[1] = s->cue[1] - from[1];
    return 1;
  }
  if (c->steer == 2) {  // toward the named place (moved in from beyond place_inside)
    double p[2] = {s->steer[0] * c->radius, s->steer[1] * c->radius}, r = hypot(p[0], p[1]);
    double rmax = c->radius - c->inside;
    if (c->inside > 0 && r > rmax) p[0] *= rmax / r, p[1] *= rmax / r;
    v[0] = p[0] - from[0], v[1] = p[1] - from[1];
    return 1;
  }
  v[0] = s->steer[0], v[1] = s->steer[1];
  return 0;
}

void amt_water_heading(const amt_water* c, const amt_water_state* s, const double from[2],
                       double yaw, float* g) {
  double v[2];
  amt_water_target(c, s, from, v);
  int on = s->phase == AMT_WATER_SEARCH ? c->steer > 0 && hypot(v[0], v[1]) > 1e-6 : 1;
  double rel = atan2(v[1], v[0]) - yaw;
  g[0] = (float)(on ? cos(rel) : 0);
  g[1] = (float)(on ? sin(rel) : 0);
}

void amt_water_vars(const amt_water_state* s, float* x) {
  int ret = s->phase == AMT_WATER_RETURN;
  x[0] = (float)s->goal[0];
  x[1] = (float)s->goal[1];
  x[2] = (float)s->phase;
  x[3] = (float)s->search;
  x[4] = (float)(ret ? s->cue[0] : 0);
  x[5] = (float)(ret ? s->cue[1] : 0);
}

void amt_water_command(amt_water_state* s, const float* cmd) {
  for (int k = 0; k < 2; k++) s->steer[k] = isfinite(cmd[k]) ? cmd[k] : 0.0f;
}
