// analyze_data.c: selection, alignment and the streaming pass of `animat analyze`
// (analyze_data.h).
#include "analyze_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int az_cond_slot(const ds_trials* d, const char* name) {
  for (int k = 0; k < d->schema.n_cond; k++)
    if (!strcmp(d->vars[d->schema.cond[k]], name)) return k;
  return -1;
}

static void cond_names(const ds_trials* d, char* out, size_t n) {
  size_t o = 0;
  out[0] = 0;
  for (int k = 0; k < d->schema.n_cond && o < n; k++)
    o += (size_t)snprintf(out + o, n - o, "%s%s", k ? ", " : "", d->vars[d->schema.cond[k]]);
  if (!d->schema.n_cond) snprintf(out, n, "none");
}

int az_parse_where(az_select* s, const ds_trials* d, const char* text, char* err, size_t err_sz) {
  char key[AM_NAME_LEN], val[512], names[256];
  if (s->n_where >= AZ_MAX_WHERE)
    return am_err(err, err_sz, "--where: at most %d filters", AZ_MAX_WHERE);
  if (am_kv_split(text, key, sizeof key, val, sizeof val))
    return am_err(err, err_sz, "--where '%s': expected VAR=VALUE[,VALUE...]", text);
  int k = az_cond_slot(d, key);
  if (k < 0) {
    cond_names(d, names, sizeof names);
    return am_err(err, err_sz, "--where '%s': '%s' is not a condition variable of task %s "
                  "(condition variables: %s)", text, key, d->task, names);
  }
  int n = 0;
  for (char* p = val; *p;) {
    char* end;
    double v = strtod(p, &end);
    if (end == p || (*end && *end != ',') || n >= AZ_MAX_VALUES)
      return am_err(err, err_sz, "--where '%s': '%s' is not a list of at most %d numbers", text,
                    val, AZ_MAX_VALUES);
    s->where_val[s->n_where][n++] = (float)v;
    p = *end ? end + 1 : end;
  }
  s->where_var[s->n_where] = k;
  s->where_n[s->n_where++] = n;
  return 0;
}

int az_parse_by(az_select* s, const ds_trials* d, const char* text, char* err, size_t err_sz) {
  s->n_by = 0;
  if (!text) {
    for (int k = 0; k < d->schema.n_cond; k++) s->by[s->n_by++] = k;
    return 0;
  }
  char names[AM_MAX_CONDITIONS][AM_NAME_LEN], all[256];
  int n = ds_split_labels(text, names, AM_MAX_CONDITIONS);
  for (int i = 0; i < n; i++) {
    int k = az_cond_slot(d, names[i]);
    if (k < 0) {
      cond_names(d, all, sizeof all);
      return am_err(err, err_sz, "--by: '%s' is not a condition variable of task %s (condition "
                    "variables: %s)", names[i], d->task, all);
    }
    s->by[s->n_by++] = k;
  }
  if (n < 0) return am_err(err, err_sz, "--by '%s': too many names", text);
  return 0;
}

int64_t az_align_row(const ds_trials* d, const ana_trial* t, const char* align) {
  if (!strcmp(align, "onset"))
    return isfinite(t->onset) ? t->first + (int64_t)llround(t->onset / d->dt) : -1;
  int e = ds_find_name(d->events, d->n_events, align);
  return e >= 0 && t->ev_row[e] >= 0 ? t->first + t->ev_row[e] : -1;
}

int az_selected(const ds_trials* d, const az_select* s, const ana_trial* t) {
  if (!t->complete) return 0;
  const char* o = s->outcome ? s->outcome : "success";
  if (strcmp(o, "all") && strcmp(o, ds_trial_outcome(d, t))) return 0;
  for (int w = 0; w < s->n_where; w++) {
    int hit = 0;
    for (int k = 0; k < s->where_n[w]; k++) hit |= t->cond[s->where_var[w]] == s->where_val[w][k];
    if (!hit) return 0;
  }
  return 1;
}

int az_choices(const ds_trials* d, const ana_trials* tab, const az_select* sel, int kc, int kside,
               double* x, int* chose, double* rt, int64_t* row, int* by_event) {
  // RT: from the go cue to the task's movement_onset event when it has one (decision-reach: the
  // cursor leaves the start zone, which in the rt variant ends the stimulus: the commitment),
  // else the kinematic reaction time of the trial table. A hand that creeps inside the start zone
  // can pass the kinematic threshold (a fraction of the peak speed) before it commits.
  int e_go = ds_find_name(d->events, d->n_events, "go_cue");
  int e_on = ds_find_name(d->events, d->n_events, "movement_onset");
  *by_event = e_go >= 0 && e_on >= 0;
  az_select all = *sel;
  all.outcome = "all";
  int n = 0;
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* t = &tab->rows[i];
    if (!t->complete || !(t->choice == 1 || t->choice == -1)) continue;  // a choice was made
    if (!az_selected(d, &all, t)) continue;
    x[n] = t->cond[kc];
    chose[n] = kside < 0 ? t->choice > 0 : (t->choice > 0) == (t->cond[kside] > 0);
    int timed = *by_event && t->ev_row[e_go] >= 0 && t->ev_row[e_on] >= 0;
    rt[n] = !*by_event ? t->rt : timed ? (t->ev_row[e_on] - t->ev_row[e_go]) * d->dt : NAN;
    if (row) row[n] = i;
    n++;
  }
  return n;
}

static int cmp_level(const void* a, const void* b) {
  double x = ((const az_level*)a)->x, y = ((const az_level*)b)->x;
  return x < y ? -1 : x > y;
}

int az_choice_levels(const double* x, const int* chose, const double* rt, int n, az_level* out,
                     int max) {
  int nl = 0;
  for (int i = 0; i < n; i++) {
    int k = 0;
    while (k < nl && out[k].x != x[i]) k++;
    if (k == nl) {
      if (nl == max) continue;
      out[nl++] = (az_level){.x = x[i]};
    }
    out[k].n++, out[k].p += chose[i];
    if (isfinite(rt[i])) out[k].nrt++, out[k].rt += rt[i], out[k].sem_rt += rt[i] * rt[i];
  }
  for (int k = 0; k < nl; k++) {
    az_level* l = &out[k];
    double s = l->rt, s2 = l->sem_rt;
    l->p /= l->n;
    l->sem = sqrt(l->p * (1 - l->p) / l->n);
    l->rt = l->nrt ? s / l->nrt : NAN;
    l->sem_rt = l->nrt > 1 ? sqrt((s2 - s * s / l->nrt) / (l->nrt - 1) / l->nrt) : NAN;
  }
  qsort(out, (size_t)nl, sizeof *out, cmp_level);
  return nl;
}

static int n_by_g;  // qsort has no context argument; az_gather sets it
static int cmp_key(const void* a, const void* b) {
  const float *x = a, *y = b;
  for (int k = 0; k < n_by_g; k++)
    if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
  return 0;
}

// Gaussian smoothing along time of steps x units (in place, scratch: steps floats).
static void smooth_episode(float* x, int64_t steps, int units, double sigma_steps, float* col) {
  int half = (int)ceil(3 * sigma_steps);
  for (int u = 0; u < units; u++) {
    for (int64_t t = 0; t < steps; t++) col[t] = x[(size_t)t * units + u];
    for (int64_t t = 0; t < steps; t++) {
      double acc = 0, wsum = 0;
      for (int k = -half; k <= half; k++) {
        int64_t j = t + k;
        if (j < 0 || j >= steps) continue;
        double w = exp(-0.5 * k * k / (sigma_steps * sigma_steps));
        acc += w * col[j], wsum += w;
      }
      x[(size_t)t * units + u] = (float)(acc / wsum);
    }
  }
}

// Grows a malloc'd array to hold n elements of size sz (capacity doubling in *cap).
static int grow(void** p, int64_t n, int64_t* cap, size_t sz) {
  if (n <= *cap) return 0;
  int64_t c = *cap ? *cap : 64;
  while (c < n) c *= 2;
  void* q = realloc(*p, (size_t)c * sz);
  if (!q) return -1;
  *p = q, *cap = c;
  return 0;
}

// The condition index of key, adding a new condition (zeroed accumulators) when it is new.
static int cond_index(az_data* a, const float* key, int64_t* ccap, char* err, size_t err_sz) {
  for (int k = 0; k < a->ncond; k++)
    if (!cmp_key(a->keys[k], key)) return k;
  int64_t n = a->ncond + 1, c0 = *ccap, c1 = *ccap, c2 = *ccap, c3 = *ccap;
  size_t cells = (size_t)a->T * a->units;
  if (grow((void**)&a->keys, n, &c0, sizeof *a->keys) ||
      grow((void**)&a->sum, n, &c1, sizeof(double) * cells) ||
      grow((void**)&a->sq, n, &c2, sizeof(double) * cells) ||
      grow((void**)&a->cnt, n, &c3, sizeof(int64_t) * a->T))
    return am_err(err, err_sz, "out of memory for %lld conditions", (long long)n);
  *ccap = c0;
  int k = a->ncond++;
  memcpy(a->keys[k], key, sizeof *a->keys);
  memset(a->sum + (size_t)k * cells, 0, sizeof(double) * cells);
  memset(a->sq + (size_t)k * cells, 0, sizeof(double) * cells);
  memset(a->cnt + (size_t)k * a->T, 0, sizeof(int64_t) * a->T);
  return k;
}

// Sorts the conditions by key (the order they appeared in is the recording's, not the science's).
static int sort_conditions(az_data* a, char* err, size_t err_sz) {
  int n = a->ncond;
  size_t cells = (size_t)a->T * a->units;
  float(*keys)[AM_MAX_CONDITIONS] = malloc(sizeof *keys * (size_t)(n + 1));
  int* rank = malloc(sizeof(int) * (size_t)(n + 1));
  double *sum = malloc(sizeof(double) * cells * n + 1), *sq = malloc(sizeof(double) * cells * n + 1);
  int64_t* cnt = malloc(sizeof(int64_t) * a->T * n + 1);
  int rc = 0;
  if (!keys || !rank || !sum || !sq || !cnt) {
    rc = am_err(err, err_sz, "out of memory");
  } else {
    memcpy(keys, a->keys, sizeof *keys * (size_t)n);
    qsort(keys, (size_t)n, sizeof *keys, cmp_key);
    for (int k = 0; k < n; k++) {
      float* f = bsearch(a->keys[k], keys, (size_t)n, sizeof *keys, cmp_key);
      int j = (int)(((float(*)[AM_MAX_CONDITIONS])f) - keys);
      rank[k] = j;
      memcpy(sum + (size_t)j * cells, a->sum + (size_t)k * cells, sizeof(double) * cells);
      memcpy(sq + (size_t)j * cells, a->sq + (size_t)k * cells, sizeof(double) * cells);
      memcpy(cnt + (size_t)j * a->T, a->cnt + (size_t)k * a->T, sizeof(int64_t) * a->T);
    }
    for (int64_t i = 0; i < a->ntr; i++) a->tcond[i] = rank[a->tcond[i]];
    memcpy(a->keys, keys, sizeof *keys * (size_t)n);
    memcpy(a->sum, sum, sizeof(double) * cells * n);
    memcpy(a->sq, sq, sizeof(double) * cells * n);
    memcpy(a->cnt, cnt, sizeof(int64_t) * a->T * n);
  }
  free(keys), free(rank), free(sum), free(sq), free(cnt);
  return rc;
}

int az_gather(ds_trials* d, ana_trials* tab, const az_select* s, az_data* a, char* err,
              size_t err_sz) {
  am_ds_reader* r = d->r;
  int ch = am_ds_find_channel(r, s->channel);
  if (ch < 0) return am_err(err, err_sz, "no channel '%s' in the dataset (animat inspect lists "
                            "them; modules: core/output, motor/output...)", s->channel);
  const am_ds_channel* c = am_ds_get_channel(r, ch);
  if (c->dtype != AM_DT_F32 && c->dtype != AM_DT_F64)
    return am_err(err, err_sz, "channel '%s' is %s; analyses need f32 or f64 values", s->channel,
                  am_dtype_name(c->dtype));
  if (!(s->w1 > s->w0) || s->bin < 1)
    return am_err(err, err_sz, "window %g..%g s must have start < end, bin >= 1", s->w0, s->w1);
  if (s->vars_too && d->ch_vars < 0)
    return am_err(err, err_sz, "the dataset has no task_vars channel");
  a->units = (int)c->elems;
  a->bin_s = s->bin * d->dt;
  int64_t b0 = (int64_t)floor(s->w0 / d->dt + 1e-9), b1 = (int64_t)ceil(s->w1 / d->dt - 1e-9);
  a->T = (int)((b1 - b0 + s->bin - 1) / s->bin);
  a->t0 = b0 * d->dt;
  if (a->T < 1 || a->T > 100000) return am_err(err, err_sz, "window gives %d bins", a->T);
  n_by_g = s->n_by;
  int U = a->units, V = d->n_vars;
  int64_t ccap = 0, tcap = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0;
  void* raw = NULL;
  size_t raw_cap = 0;
  float *ep = NULL, *col = NULL;
  size_t ep_cap = 0;
  int rc = 0;
  int64_t n_eps = am_ds_num_episodes(r);
  for (int64_t ei = 0; ei < n_eps && !rc; ei++) {
    int64_t first = tab->n;
    if ((rc = ds_trials_episode(d, ei, tab, ch, &raw, &raw_cap, err, err_sz))) break;
    size_t steps = (size_t)am_ds_get_episode(r, ei)->steps;
    if (tab->n == first) continue;
    if (steps > ep_cap) {
      free(ep), free(col);
      ep_cap = steps;
      ep = malloc(sizeof(float) * ep_cap * U);
      col = malloc(sizeof(float) * ep_cap);
      if (!ep || !col) {
        rc = am_err(err, err_sz, "out of memory for an episode of %zu steps", steps);
        break;
      }
    }
    if (c->dtype == AM_DT_F64)
      for (size_t k = 0; k < steps * U; k++) ep[k] = (float)((const double*)raw)[k];
    else
      memcpy(ep, raw, sizeof(float) * steps * U);
    if (s->smooth > 0) smooth_episode(ep, (int64_t)steps, U, s->smooth / d->dt, col);
    const float* vars = d->vals;
    for (int64_t ti = first; ti < tab->n && !rc; ti++) {
      const ana_trial* t = &tab->rows[ti];
      int64_t al;
      if (!az_selected(d, s, t) || (al = az_align_row(d, t, s->align)) < 0) continue;
      float key[AM_MAX_CONDITIONS];
      memset(key, 0, sizeof key);
      for (int k = 0; k < s->n_by; k++) key[k] = t->cond[s->by[k]];
      int cnd = cond_index(a, key, &ccap, err, err_sz);
      int64_t i = a->ntr;
      if (cnd < 0 || grow((void**)&a->tr, i + 1, &tcap, sizeof(int64_t)) ||
          grow((void**)&a->tcond, i + 1, &c1, sizeof(int)) ||
          grow((void**)&a->wmean, i + 1, &c2, sizeof(double) * U) ||
          (s->keep_trials && grow((void**)&a->full, i + 1, &c3, sizeof(float) * a->T * U)) ||
          (s->vars_too && grow((void**)&a->fvars, i + 1, &c4, sizeof(float) * a->T * V))) {
        rc = cnd < 0 ? -1 : am_err(err, err_sz, "out of memory for %lld trials", (long long)i);
        break;
      }
      a->ntr++;
      a->tr[i] = ti, a->tcond[i] = cnd;
      double* wm = a->wmean + (size_t)i * U;
      memset(wm, 0, sizeof(double) * U);
      int64_t nw = 0;
      for (int b = 0; b < a->T; b++) {
        float* fb = s->keep_trials ? a->full + ((size_t)i * a->T + b) * U : NULL;
        float* vb = s->vars_too ? a->fvars + ((size_t)i * a->T + b) * V : NULL;
        int64_t lo = al + b0 + (int64_t)b * s->bin;
        if (lo < 0 || lo + s->bin > (int64_t)steps) {  // the bin leaves the episode: not counted
          if (fb) for (int u = 0; u < U; u++) fb[u] = NAN;
          if (vb) for (int v = 0; v < V; v++) vb[v] = NAN;
          continue;
        }
        double* sm = a->sum + ((size_t)cnd * a->T + b) * U;
        double* sq = a->sq + ((size_t)cnd * a->T + b) * U;
        a->cnt[(size_t)cnd * a->T + b]++;
        for (int u = 0; u < U; u++) {
          double x = 0;
          for (int64_t row = lo; row < lo + s->bin; row++) x += ep[(size_t)row * U + u];
          x /= s->bin;
          sm[u] += x, sq[u] += x * x, wm[u] += x;
          if (fb) fb[u] = (float)x;
        }
        for (int v = 0; vb && v < V; v++) {
          double x = 0;
          for (int64_t row = lo; row < lo + s->bin; row++) x += vars[(size_t)row * V + v];
          vb[v] = (float)(x / s->bin);
        }
        nw++;
      }
      for (int u = 0; u < U; u++) wm[u] = nw ? wm[u] / nw : NAN;
    }
  }
  free(raw), free(ep), free(col);
  if (!rc && a->ntr == 0)
    rc = am_err(err, err_sz, "no trial matches the selection (outcome %s, %d filters) with the "
                "alignment '%s'", s->outcome ? s->outcome : "success", s->n_where, s->align);
  if (!rc) rc = sort_conditions(a, err, err_sz);
  return rc;
}

void az_data_free(az_data* a) {
  free(a->keys), free(a->sum), free(a->sq), free(a->cnt), free(a->tr), free(a->tcond);
  free(a->wmean), free(a->full), free(a->fvars);
  memset(a, 0, sizeof *a);
}

void az_cond_mean(const az_data* a, int64_t min_trials, double* mean, double* sem) {
  for (int c = 0; c < a->ncond; c++)
    for (int b = 0; b < a->T; b++) {
      int64_t n = a->cnt[(size_t)c * a->T + b];
      size_t o = ((size_t)c * a->T + b) * a->units;
      for (int u = 0; u < a->units; u++) {
        double m = n >= min_trials && n > 0 ? a->sum[o + u] / n : NAN;
        mean[o + u] = m;
        if (sem) {
          double var = n > 1 ? (a->sq[o + u] - n * m * m) / (n - 1) : NAN;
          sem[o + u] = n > 1 ? sqrt(var > 0 ? var : 0) / sqrt((double)n) : NAN;
        }
      }
    }
}

void az_cond_label(const ds_trials* d, const az_select* s, const float* key, char* out, size_t n) {
  size_t o = 0;
  out[0] = 0;
  for (int k = 0; k < s->n_by && o < n; k++)
    o += (size_t)snprintf(out + o, n - o, "%s%s=%g", k ? " " : "",
                          d->vars[d->schema.cond[s->by[k]]], key[k]);
  if (!s->n_by) snprintf(out, n, "all");
}
