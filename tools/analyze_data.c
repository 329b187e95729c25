// analyze_data.c: selection, alignment and the streaming pass of `animat analyze`
// (analyze_data.h).
#include "analyze_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cond_slot(const ds_trials* d, const char* name) {
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
  int k = cond_slot(d, key);
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
    int k = cond_slot(d, names[i]);
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

static void key_of(const az_select* s, const ana_trial* t, float* key) {
  memset(key, 0, sizeof(float) * AM_MAX_CONDITIONS);
  for (int k = 0; k < s->n_by; k++) key[k] = t->cond[s->by[k]];
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

int az_gather(const ds_trials* d, const ana_trials* tab, const az_select* s, az_data* a,
              char* err, size_t err_sz) {
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
  a->units = (int)c->elems;
  a->bin_s = s->bin * d->dt;
  int64_t b0 = (int64_t)floor(s->w0 / d->dt + 1e-9), b1 = (int64_t)ceil(s->w1 / d->dt - 1e-9);
  a->T = (int)((b1 - b0 + s->bin - 1) / s->bin);
  a->t0 = b0 * d->dt;
  if (a->T < 1 || a->T > 100000) return am_err(err, err_sz, "window gives %d bins", a->T);
  // the selected trials and their conditions
  n_by_g = s->n_by;
  a->tr = malloc(sizeof(int64_t) * (size_t)(tab->n + 1));
  float(*keys)[AM_MAX_CONDITIONS] = malloc(sizeof *keys * (size_t)(tab->n + 1));
  if (!a->tr || !keys) return free(keys), am_err(err, err_sz, "out of memory");
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* t = &tab->rows[i];
    if (!az_selected(d, s, t) || az_align_row(d, t, s->align) < 0) continue;
    key_of(s, t, keys[a->ntr]);
    a->tr[a->ntr++] = i;
  }
  if (a->ntr == 0) {
    free(keys);
    return am_err(err, err_sz, "no trial matches the selection (outcome %s, %d filters) with "
                  "the alignment event '%s'", s->outcome ? s->outcome : "success", s->n_where,
                  s->align);
  }
  // distinct keys, sorted
  float(*uk)[AM_MAX_CONDITIONS] = malloc(sizeof *uk * (size_t)a->ntr);
  if (!uk) return free(keys), am_err(err, err_sz, "out of memory");
  memcpy(uk, keys, sizeof *uk * (size_t)a->ntr);
  qsort(uk, (size_t)a->ntr, sizeof *uk, cmp_key);
  int nu = 0;
  for (int64_t i = 0; i < a->ntr; i++)
    if (!nu || cmp_key(uk[nu - 1], uk[i])) memmove(uk[nu++], uk[i], sizeof *uk);
  a->keys = uk;
  a->ncond = nu;
  a->tcond = malloc(sizeof(int) * (size_t)a->ntr);
  size_t cells = (size_t)nu * a->T * a->units;
  a->sum = calloc(cells, sizeof(double));
  a->sq = calloc(cells, sizeof(double));
  a->cnt = calloc((size_t)nu * a->T, sizeof(int64_t));
  a->wmean = calloc((size_t)a->ntr * a->units, sizeof(double));
  if (s->keep_trials) a->full = malloc(sizeof(float) * (size_t)a->ntr * a->T * a->units);
  if (s->vars_too && d->n_vars)
    a->fvars = malloc(sizeof(float) * (size_t)a->ntr * a->T * d->n_vars);
  if (!a->tcond || !a->sum || !a->sq || !a->cnt || !a->wmean || (s->keep_trials && !a->full) ||
      (s->vars_too && d->n_vars && !a->fvars)) {
    free(keys);
    return am_err(err, err_sz, "out of memory for %d conditions x %d bins x %d units", nu, a->T,
                  a->units);
  }
  for (int64_t i = 0; i < a->ntr; i++) {
    float* f = bsearch(keys[i], uk, (size_t)nu, sizeof *uk, cmp_key);
    a->tcond[i] = (int)(f - uk[0]) / AM_MAX_CONDITIONS;
  }
  free(keys);
  // the pass: episodes in table order (the table is built episode by episode, in index order)
  float* ep = NULL;
  double* tmp64 = NULL;
  float *col = NULL, *vars = NULL;
  size_t cap = 0;
  int rc = 0;
  int64_t i = 0;
  while (i < a->ntr && !rc) {
    const ana_trial* t0 = &tab->rows[a->tr[i]];
    int64_t ei = am_ds_find_episode(r, t0->episode);
    const am_ds_episode* e = am_ds_get_episode(r, ei);
    size_t steps = (size_t)e->steps;
    if (steps > cap) {
      cap = steps;
      free(ep), free(tmp64), free(col), free(vars);
      ep = malloc(sizeof(float) * cap * a->units);
      tmp64 = c->dtype == AM_DT_F64 ? malloc(sizeof(double) * cap * a->units) : NULL;
      col = malloc(sizeof(float) * cap);
      vars = a->fvars ? malloc(sizeof(float) * cap * d->n_vars) : NULL;
      if (!ep || !col || (c->dtype == AM_DT_F64 && !tmp64) || (a->fvars && !vars)) {
        rc = am_err(err, err_sz, "out of memory for an episode of %zu steps", steps);
        break;
      }
    }
    if (c->dtype == AM_DT_F64) {
      if ((rc = am_ds_read_channel(r, ei, ch, tmp64, err, err_sz))) break;
      for (size_t k = 0; k < steps * a->units; k++) ep[k] = (float)tmp64[k];
    } else if ((rc = am_ds_read_channel(r, ei, ch, ep, err, err_sz))) {
      break;
    }
    if (vars && (rc = am_ds_read_channel(r, ei, d->ch_vars, vars, err, err_sz))) break;
    if (s->smooth > 0) smooth_episode(ep, (int64_t)steps, a->units, s->smooth / d->dt, col);
    for (; i < a->ntr && tab->rows[a->tr[i]].episode == t0->episode; i++) {
      const ana_trial* t = &tab->rows[a->tr[i]];
      int64_t al = az_align_row(d, t, s->align);
      int cnd = a->tcond[i];
      double* wm = a->wmean + (size_t)i * a->units;
      int64_t nw = 0;
      for (int b = 0; b < a->T; b++) {
        float* fb = a->full ? a->full + ((size_t)i * a->T + b) * a->units : NULL;
        float* vb = a->fvars ? a->fvars + ((size_t)i * a->T + b) * d->n_vars : NULL;
        int64_t lo = al + b0 + (int64_t)b * s->bin, n = 0;
        double* sm = a->sum + ((size_t)cnd * a->T + b) * a->units;
        double* sq = a->sq + ((size_t)cnd * a->T + b) * a->units;
        if (fb) memset(fb, 0, sizeof(float) * a->units);
        if (vb) memset(vb, 0, sizeof(float) * d->n_vars);
        for (int64_t row = lo; row < lo + s->bin; row++)
          if (row >= 0 && row < (int64_t)steps) n++;
        if (n < s->bin) {  // the bin leaves the episode: not counted
          if (fb) for (int u = 0; u < a->units; u++) fb[u] = NAN;
          if (vb) for (int v = 0; v < d->n_vars; v++) vb[v] = NAN;
          continue;
        }
        a->cnt[(size_t)cnd * a->T + b]++;
        for (int u = 0; u < a->units; u++) {
          double x = 0;
          for (int64_t row = lo; row < lo + s->bin; row++) x += ep[(size_t)row * a->units + u];
          x /= s->bin;
          sm[u] += x, sq[u] += x * x, wm[u] += x;
          if (fb) fb[u] = (float)x;
        }
        if (vb)
          for (int v = 0; v < d->n_vars; v++) {
            double x = 0;
            for (int64_t row = lo; row < lo + s->bin; row++) x += vars[(size_t)row * d->n_vars + v];
            vb[v] = (float)(x / s->bin);
          }
        nw++;
      }
      for (int u = 0; u < a->units; u++) wm[u] = nw ? wm[u] / nw : NAN;
    }
  }
  free(ep), free(tmp64), free(col), free(vars);
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
