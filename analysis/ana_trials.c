// ana_trials.c: the trial table: one row per trial of a recorded episode, with its condition,
// events, outcome and the effector's kinematics (ana.h, "trial table"; docs/analysis.md).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

static int has(const ana_trial_schema* s, uint32_t ev, int code) {
  return code >= 0 && code < s->n_events && code < 32 && (ev & (1u << code));
}

static double wrap_deg(double a) {
  while (a > 180) a -= 360;
  while (a <= -180) a += 360;
  return a;
}

static void eff(const ana_trial_schema* s, const ana_episode_in* ep, int64_t t, double p[2]) {
  p[0] = ep->vars[(size_t)t * s->n_vars + s->eff_x];
  p[1] = ep->vars[(size_t)t * s->n_vars + s->eff_y];
}

// Speed at row t from the displacement since row t-1 (row 0: the displacement to row 1).
static double speed_at(const ana_trial_schema* s, const ana_episode_in* ep, int64_t t) {
  if (ep->steps < 2) return 0;
  int64_t a = t > 0 ? t - 1 : 0, b = t > 0 ? t : 1;
  double p[2], q[2];
  eff(s, ep, a, p);
  eff(s, ep, b, q);
  return hypot(q[0] - p[0], q[1] - p[1]) / s->dt;
}

static void kinematics(const ana_trial_schema* s, const ana_episode_in* ep, ana_trial* r) {
  if (s->eff_x < 0 || s->eff_y < 0 || !ep->vars || s->go_event < 0) return;
  int g = r->ev_row[s->go_event];
  if (g < 0) return;
  int64_t go = r->first + g;
  r->go = g * s->dt;
  int64_t peak = go;
  double vmax = -1;
  for (int64_t t = go; t <= r->last; t++) {
    double v = speed_at(s, ep, t);
    if (v > vmax) vmax = v, peak = t;
  }
  if (!(vmax > 0)) return;
  double thr = s->onset_frac * vmax;
  int64_t on = peak;
  while (on > go && speed_at(s, ep, on - 1) >= thr) on--;
  int64_t off = peak;
  while (off < r->last && speed_at(s, ep, off) >= thr) off++;
  r->peak_speed = vmax;
  r->onset = (double)(on - r->first) * s->dt;
  r->rt = r->onset - r->go;
  r->offset = (double)(off - r->first) * s->dt;
  r->duration = r->offset - r->onset;
  double path = 0, p[2], q[2];
  for (int64_t t = on; t <= off; t++) {
    eff(s, ep, t > 0 ? t - 1 : 0, p);
    eff(s, ep, t, q);
    path += hypot(q[0] - p[0], q[1] - p[1]);
  }
  r->path = path;
  if (s->start_x < 0 || s->start_y < 0 || s->target_x < 0 || s->target_y < 0) return;
  const float* v = ep->vars + (size_t)r->last * s->n_vars;
  double st[2] = {v[s->start_x], v[s->start_y]}, tg[2] = {v[s->target_x], v[s->target_y]};
  double ux = tg[0] - st[0], uy = tg[1] - st[1], len = hypot(ux, uy);
  eff(s, ep, off, q);
  r->end_err = hypot(q[0] - tg[0], q[1] - tg[1]);
  if (!(len > 0)) return;
  double best = 0;
  for (int64_t t = on; t <= off; t++) {
    eff(s, ep, t, q);
    double d = (ux * (q[1] - st[1]) - uy * (q[0] - st[0])) / len;
    if (fabs(d) > fabs(best)) best = d;
  }
  r->max_dev = best;
  eff(s, ep, on > 0 ? on - 1 : 0, p);
  eff(s, ep, peak, q);
  if (q[0] != p[0] || q[1] != p[1])
    r->dir_err = wrap_deg((atan2(q[1] - p[1], q[0] - p[0]) - atan2(uy, ux)) * 180 / M_PI);
}

static void body(const ana_trial_schema* s, const ana_episode_in* ep, ana_trial* r) {
  if (!ep->root) return;
  const double* x = ep->root;
  double dist = 0;
  for (int64_t t = r->first + 1; t <= r->last; t++)
    dist += hypot(x[3 * t] - x[3 * (t - 1)], x[3 * t + 1] - x[3 * (t - 1) + 1]);
  double dur = (double)(r->last - r->first) * s->dt;
  r->distance = dist;
  r->displacement = hypot(x[3 * r->last] - x[3 * r->first], x[3 * r->last + 1] - x[3 * r->first + 1]);
  r->mean_speed = dur > 0 ? dist / dur : NAN;
  r->forward_speed = dur > 0 ? (x[3 * r->last] - x[3 * r->first]) / dur : NAN;
}

static int finish(const ana_trial_schema* s, const ana_episode_in* ep, int64_t first, int64_t last,
                  int complete, int index, ana_trials* tab, char* err, size_t err_sz) {
  if (tab->n == tab->cap) {
    int64_t cap = tab->cap ? 2 * tab->cap : 256;
    ana_trial* rows = realloc(tab->rows, (size_t)cap * sizeof *rows);
    if (!rows) return am_err(err, err_sz, "out of memory for %lld trials", (long long)cap);
    tab->rows = rows;
    tab->cap = cap;
  }
  ana_trial* r = &tab->rows[tab->n++];
  memset(r, 0, sizeof *r);
  r->episode = ep->episode;
  r->env = ep->env;
  r->trial = index;
  r->first = first;
  r->last = last;
  r->complete = complete;
  r->end_event = -1;
  r->choice = r->outcome = NAN;
  r->target_dir = NAN;
  r->go = r->onset = r->rt = r->offset = r->duration = r->peak_speed = r->path = NAN;
  r->max_dev = r->end_err = r->dir_err = NAN;
  r->distance = r->displacement = r->mean_speed = r->forward_speed = NAN;
  for (int k = 0; k < AM_MAX_EVENTS; k++) r->ev_row[k] = -1;
  for (int k = 0; k < AM_MAX_CONDITIONS; k++) r->cond[k] = NAN;
  if (ep->events)
    for (int64_t t = first; t <= last; t++)
      for (int k = 0; k < s->n_events && k < AM_MAX_EVENTS; k++)
        if (has(s, ep->events[t], k)) {
          if (r->ev_row[k] < 0) r->ev_row[k] = (int)(t - first);
          r->ev_count[k]++;
        }
  r->success = s->success >= 0 && s->success < AM_MAX_EVENTS && r->ev_count[s->success] > 0;
  if (r->success) {
    r->end_event = s->success;
  } else if (ep->events) {
    uint32_t e = ep->events[last];
    for (int k = 0; k < s->n_events && k < AM_MAX_EVENTS; k++)
      if (has(s, e, k) && k != s->trial_end && k != s->trial_start &&
          r->end_event < 0)
        r->end_event = k;
  }
  if (ep->vars) {
    const float* v = ep->vars + (size_t)last * s->n_vars;
    for (int k = 0; k < s->n_cond; k++) r->cond[k] = v[s->cond[k]];
    if (s->choice >= 0) r->choice = v[s->choice];
    if (s->outcome >= 0) r->outcome = v[s->outcome];
    if (s->start_x >= 0 && s->start_y >= 0 && s->target_x >= 0 && s->target_y >= 0) {
      double dx = v[s->target_x] - v[s->start_x], dy = v[s->target_y] - v[s->start_y];
      if (dx != 0 || dy != 0) r->target_dir = atan2(dy, dx);
    }
  }
  kinematics(s, ep, r);
  body(s, ep, r);
  return 0;
}

static int check_index(int v, int n, const char* what, char* err, size_t err_sz) {
  if (v < -1 || v >= n)
    return am_err(err, err_sz, "trial schema: %s index %d is outside [-1, %d)", what, v, n);
  return 0;
}

int ana_trials_add_episode(const ana_trial_schema* s, const ana_episode_in* ep, ana_trials* tab,
                           char* err, size_t err_sz) {
  if (!s || !ep || !tab) return am_err(err, err_sz, "ana_trials_add_episode: NULL argument");
  if (s->n_events < 0 || s->n_events > AM_MAX_EVENTS || s->n_vars < 0 || s->n_cond < 0 ||
      s->n_cond > AM_MAX_CONDITIONS || !(s->dt > 0) || !(s->onset_frac > 0 && s->onset_frac < 1))
    return am_err(err, err_sz, "trial schema: bad sizes (events %d, vars %d, conditions %d), dt "
                  "%g or onset_frac %g (must be in (0, 1))", s->n_events, s->n_vars, s->n_cond,
                  s->dt, s->onset_frac);
  const int ev_idx[] = {s->trial_start, s->success, s->trial_end, s->go_event};
  const int var_idx[] = {s->eff_x, s->eff_y, s->start_x, s->start_y, s->target_x, s->target_y,
                         s->choice, s->outcome};
  for (int k = 0; k < 4; k++)
    if (check_index(ev_idx[k], s->n_events, "event", err, err_sz)) return -1;
  for (int k = 0; k < 8; k++)
    if (check_index(var_idx[k], s->n_vars, "variable", err, err_sz)) return -1;
  for (int k = 0; k < s->n_cond; k++)
    if (s->cond[k] < 0 || check_index(s->cond[k], s->n_vars, "condition", err, err_sz))
      return am_err(err, err_sz, "trial schema: condition %d is not a variable", k);
  if (s->n_vars > 0 && !ep->vars && ep->steps > 0)
    return am_err(err, err_sz, "episode %lld: no task variables", (long long)ep->episode);
  if (ep->steps <= 0) return 0;
  int trials = s->trial_start >= 0 || s->trial_end >= 0;
  if (!trials || !ep->events)
    return finish(s, ep, 0, ep->steps - 1, ep->complete, 0, tab, err, err_sz);
  int64_t first = -1;  // the open trial's first row, -1 between trials
  int index = 0, ended = 0;  // ended: a trial ended and no trial_start was seen since
  for (int64_t t = 0; t < ep->steps; t++) {
    uint32_t e = ep->events[t];
    if (has(s, e, s->trial_start)) {
      if (first >= 0 && t > first &&
          finish(s, ep, first, t - 1, 0, index++, tab, err, err_sz))  // restarted without end
        return -1;
      first = t;
    } else if (first < 0 && (s->trial_start < 0 ? 1 : !ended && t == 0)) {
      first = t;  // no start events, or the episode began inside a trial
    }
    if (has(s, e, s->trial_end) && first >= 0) {
      if (finish(s, ep, first, t, 1, index++, tab, err, err_sz)) return -1;
      first = -1;
      ended = 1;
    }
  }
  if (first >= 0 && finish(s, ep, first, ep->steps - 1, 0, index, tab, err, err_sz)) return -1;
  return 0;
}

void ana_trials_free(ana_trials* tab) {
  if (!tab) return;
  free(tab->rows);
  memset(tab, 0, sizeof *tab);
}
