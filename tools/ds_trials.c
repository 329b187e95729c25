// ds_trials.c: a dataset's trials (ds_trials.h).
#include "ds_trials.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amt_tasks.h"
#include "table.h"

const char* const ds_kin_names[DS_KIN_COLS] = {"go", "onset", "rt", "offset", "movement_time",
                                               "peak_speed", "path_length", "max_dev",
                                               "end_err", "dir_err"};
const char* const ds_body_names[DS_BODY_COLS] = {"distance", "displacement", "mean_speed",
                                                 "forward_speed"};

int ds_split_labels(const char* labels, char (*names)[AM_NAME_LEN], int max) {
  int n = 0;
  if (!labels || !*labels) return 0;
  const char* s = labels;
  for (;;) {
    const char* e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (n >= max || len >= AM_NAME_LEN) return -1;
    memcpy(names[n], s, len);
    names[n++][len] = 0;
    if (!e) break;
    s = e + 1;
  }
  return n;
}

int ds_find_name(const char (*names)[AM_NAME_LEN], int n, const char* name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

// "trial_start=NAME,success=NAME,trial_end=NAME" into the three codes.
static int parse_trial_events(ds_trials* d, const char* text, const char* path, char* err,
                              size_t err_sz) {
  char items[3][AM_NAME_LEN];
  int n = ds_split_labels(text, items, 3);
  const char* keys[3] = {"trial_start", "success", "trial_end"};
  int* out[3] = {&d->schema.trial_start, &d->schema.success, &d->schema.trial_end};
  if (n != 3)
    return am_err(err, err_sz, "%s: metadata task.trial_events: '%s' is not "
                  "trial_start=NAME,success=NAME,trial_end=NAME", path, text);
  for (int k = 0; k < 3; k++) {
    char key[AM_NAME_LEN], val[AM_NAME_LEN];
    if (am_kv_split(items[k], key, sizeof key, val, sizeof val) || strcmp(key, keys[k]))
      return am_err(err, err_sz, "%s: metadata task.trial_events: item '%s' should be %s=NAME",
                    path, items[k], keys[k]);
    *out[k] = -1;
    if (val[0] && (*out[k] = ds_find_name(d->events, d->n_events, val)) < 0)
      return am_err(err, err_sz, "%s: metadata task.trial_events: %s=%s is not one of the "
                    "recorded events", path, key, val);
  }
  return 0;
}

static int parse_conditions(ds_trials* d, const char* text, const char* path, char* err,
                            size_t err_sz) {
  char names[AM_MAX_CONDITIONS][AM_NAME_LEN];
  int n = ds_split_labels(text, names, AM_MAX_CONDITIONS);
  if (n < 0)
    return am_err(err, err_sz, "%s: metadata task.conditions: '%s' has more than %d names or a "
                  "name too long", path, text, AM_MAX_CONDITIONS);
  d->schema.n_cond = 0;
  for (int k = 0; k < n; k++) {
    int v = ds_find_name(d->vars, d->n_vars, names[k]);
    if (v < 0)
      return am_err(err, err_sz, "%s: metadata task.conditions: '%s' is not a task variable",
                    path, names[k]);
    d->schema.cond[d->schema.n_cond++] = v;
  }
  return 0;
}

int ds_task_params(const ds_trials* d, amt_params* p, char* err, size_t err_sz) {
  memset(p, 0, sizeof *p);
  const char* text = am_ds_meta(d->r, "task.params", NULL);
  return text && amt_params_add_list(p, text, err, err_sz) ? -1 : 0;
}

// Files recorded before task.trial_events / task.conditions: the task registry's schema.
static int schema_from_registry(ds_trials* d, const char* path, char* err, size_t err_sz) {
  amt_params params;
  am_task t;
  char e2[AM_ERR_LEN];
  if (!amt_find(d->task))
    return am_err(err, err_sz, "%s: task '%s' is not known to this animat and the file has no "
                  "task.trial_events metadata", path, d->task);
  if (ds_task_params(d, &params, e2, sizeof e2) ||
      amt_create(&t, d->task, &params, e2, sizeof e2))
    return am_err(err, err_sz, "%s: cannot rebuild task %s for its trial schema: %s", path,
                  d->task, e2);
  const int codes[3] = {t.trial_start_event, t.success_event, t.trial_end_event};
  int* out[3] = {&d->schema.trial_start, &d->schema.success, &d->schema.trial_end};
  for (int k = 0; k < 3; k++)
    *out[k] = codes[k] >= 0 && codes[k] < t.n_events
                  ? ds_find_name(d->events, d->n_events, t.events[codes[k]]) : -1;
  d->schema.n_cond = 0;
  for (int k = 0; k < t.n_conditions; k++) {
    int v = ds_find_name(d->vars, d->n_vars, t.vars[t.conditions[k]]);
    if (v >= 0) d->schema.cond[d->schema.n_cond++] = v;
  }
  amt_destroy(&t);
  return 0;
}

int ds_trials_open(ds_trials* d, am_ds_reader* r, const char* path, double onset_frac, char* err,
                   size_t err_sz) {
  memset(d, 0, sizeof *d);
  d->r = r;
  const char* task = am_ds_meta(r, "task.name", NULL);
  snprintf(d->task, sizeof d->task, "%s", task ? task : "");
  const char* dt = am_ds_meta(r, "control_dt", NULL);
  d->dt = dt ? strtod(dt, NULL) : 0;
  if (!(d->dt > 0))
    return am_err(err, err_sz, "%s: metadata control_dt: '%s' is not a positive number", path,
                  dt ? dt : "(missing)");
  d->ch_events = am_ds_find_channel(r, "events");
  d->ch_vars = am_ds_find_channel(r, "task_vars");
  d->ch_qpos = am_ds_find_channel(r, "qpos");
  if (d->ch_events >= 0) {
    const am_ds_channel* c = am_ds_get_channel(r, d->ch_events);
    if (c->dtype != AM_DT_U32 || c->elems != 1)
      return am_err(err, err_sz, "%s: channel events: expected one u32 per step", path);
    d->n_events = ds_split_labels(c->labels, d->events, AM_MAX_EVENTS);
    if (d->n_events < 0)
      return am_err(err, err_sz, "%s: channel events: its labels name more than %d events or a "
                    "name too long", path, AM_MAX_EVENTS);
  }
  if (d->ch_vars >= 0) {
    const am_ds_channel* c = am_ds_get_channel(r, d->ch_vars);
    d->n_vars = ds_split_labels(c->labels, d->vars, AM_MAX_VARS);
    if (c->dtype != AM_DT_F32 || d->n_vars < 0 || (size_t)d->n_vars != c->elems)
      return am_err(err, err_sz, "%s: channel task_vars: expected f32 values, one label each",
                    path);
  }
  ana_trial_schema* s = &d->schema;
  s->n_events = d->n_events;
  s->n_vars = d->n_vars;
  s->dt = d->dt;
  s->onset_frac = onset_frac;
  const char* te = am_ds_meta(r, "task.trial_events", NULL);
  if (te) {
    d->schema_source = "metadata";
    if (parse_trial_events(d, te, path, err, err_sz) ||
        parse_conditions(d, am_ds_meta(r, "task.conditions", NULL), path, err, err_sz))
      return -1;
  } else {
    d->schema_source = "task registry";
    if (schema_from_registry(d, path, err, err_sz)) return -1;
  }
  s->go_event = ds_find_name(d->events, d->n_events, "go_cue");
  struct { int* out; const char* name; } v[] = {
      {&s->eff_x, "cursor_x"}, {&s->eff_y, "cursor_y"}, {&s->start_x, "start_x"},
      {&s->start_y, "start_y"}, {&s->target_x, "target_x"}, {&s->target_y, "target_y"},
      {&s->choice, "choice"}, {&s->outcome, "outcome"}};
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
    *v[k].out = ds_find_name(d->vars, d->n_vars, v[k].name);
  d->root_adr = -1;
  if (d->ch_qpos >= 0) {
    char src[256];
    am_model* m = am_ds_load_model(r, src, sizeof src, err, err_sz);
    if (!m) return -1;
    if (m->m->njnt > 0 && m->m->jnt_type[0] == mjJNT_FREE) d->root_adr = m->m->jnt_qposadr[0];
    am_model_free(m);
  }
  return 0;
}

void ds_trials_close(ds_trials* d) {
  free(d->ev), free(d->vals), free(d->qpos), free(d->root), free(d->dst);
  d->ev = NULL, d->vals = NULL, d->qpos = d->root = NULL, d->dst = NULL, d->cap = 0;
}

int ds_trials_episode(ds_trials* d, int64_t i, ana_trials* tab, int extra_ch, void** extra,
                      size_t* extra_cap, char* err, size_t err_sz) {
  const am_ds_episode* e = am_ds_get_episode(d->r, i);
  size_t steps = (size_t)e->steps;
  int nq = d->ch_qpos >= 0 ? (int)am_ds_get_channel(d->r, d->ch_qpos)->elems : 0;
  int root = d->root_adr >= 0;
  if (!d->dst && !(d->dst = calloc((size_t)am_ds_num_channels(d->r), sizeof(void*))))
    return am_err(err, err_sz, "out of memory");
  if (steps > d->cap) {
    size_t cap = steps > 2 * d->cap ? steps : 2 * d->cap;
    free(d->ev), free(d->vals), free(d->qpos), free(d->root);
    d->ev = malloc(cap * sizeof *d->ev);
    d->vals = malloc(cap * (size_t)(d->n_vars ? d->n_vars : 1) * sizeof *d->vals);
    d->qpos = root ? malloc(cap * (size_t)nq * sizeof *d->qpos) : NULL;
    d->root = root ? malloc(cap * 3 * sizeof *d->root) : NULL;
    d->cap = cap;
    if (!d->ev || !d->vals || (root && (!d->qpos || !d->root))) {
      ds_trials_close(d);
      return am_err(err, err_sz, "out of memory for an episode of %zu steps", steps);
    }
  }
  if (extra_ch >= 0) {
    size_t need = steps * am_ds_get_channel(d->r, extra_ch)->row_bytes + 1;
    if (need > *extra_cap) {
      void* p = realloc(*extra, need);
      if (!p) return am_err(err, err_sz, "out of memory for an episode of %zu steps", steps);
      *extra = p, *extra_cap = need;
    }
  }
  int n = am_ds_num_channels(d->r);
  for (int c = 0; c < n; c++) d->dst[c] = NULL;
  if (d->ch_events >= 0) d->dst[d->ch_events] = d->ev;
  if (d->ch_vars >= 0) d->dst[d->ch_vars] = d->vals;
  if (root) d->dst[d->ch_qpos] = d->qpos;
  if (extra_ch >= 0) d->dst[extra_ch] = *extra;
  if (am_ds_read_episode(d->r, i, d->dst, NULL, err, err_sz)) return -1;
  if (root)
    for (size_t t = 0; t < steps; t++)
      memcpy(d->root + 3 * t, d->qpos + t * (size_t)nq + d->root_adr, 3 * sizeof(double));
  ana_episode_in in = {.episode = e->id, .env = e->env, .steps = e->steps,
                       .complete = e->complete, .events = d->ch_events >= 0 ? d->ev : NULL,
                       .vars = d->ch_vars >= 0 ? d->vals : NULL, .root = root ? d->root : NULL};
  return ana_trials_add_episode(&d->schema, &in, tab, err, err_sz);
}

int ds_trials_build(ds_trials* d, ana_trials* tab, void (*progress)(int64_t, int64_t, void*),
                    void* ctx, char* err, size_t err_sz) {
  int64_t n = am_ds_num_episodes(d->r);
  for (int64_t i = 0; i < n; i++) {
    if (ds_trials_episode(d, i, tab, -1, NULL, NULL, err, err_sz)) return -1;
    if (progress) progress(i + 1, n, ctx);
  }
  return 0;
}

double ds_trial_length(const ds_trials* d, const ana_trial* t) {
  return (double)(t->last - t->first + 1) * d->dt;
}

const char* ds_trial_outcome(const ds_trials* d, const ana_trial* t) {
  if (t->success) return "success";
  if (t->end_event >= 0 && t->end_event < d->n_events) return d->events[t->end_event];
  return t->complete ? "ended" : "incomplete";
}

// Column names of the trial table for this dataset (names: caller frees each and the array).
static int trial_columns(const ds_trials* d, char*** names_out) {
  const ana_trial_schema* s = &d->schema;
  int kin = s->eff_x >= 0 && s->go_event >= 0, root = d->root_adr >= 0;
  int cap = 16 + AM_MAX_CONDITIONS + 12 + 3 * AM_MAX_EVENTS, n = 0;
  char** c = calloc((size_t)cap, sizeof *c);
  if (!c) return -1;
  static const char* base[] = {"episode", "env", "trial", "first_step", "last_step",
                               "start_time", "duration", "complete", "success", "outcome"};
  for (size_t k = 0; k < sizeof base / sizeof base[0]; k++) c[n++] = strdup(base[k]);
  for (int k = 0; k < s->n_cond; k++) c[n++] = strdup(d->vars[s->cond[k]]);
  if (s->choice >= 0) c[n++] = strdup("choice");
  if (kin)
    for (int k = 0; k < DS_KIN_COLS; k++) c[n++] = strdup(ds_kin_names[k]);
  if (root)
    for (int k = 0; k < DS_BODY_COLS; k++) c[n++] = strdup(ds_body_names[k]);
  for (int e = 0; e < d->n_events; e++) {
    char b[AM_NAME_LEN + 8];
    const char* pre[3] = {"t_", "step_", "n_"};
    for (int k = 0; k < 3; k++) {
      snprintf(b, sizeof b, "%s%s", pre[k], d->events[e]);
      c[n++] = strdup(b);
    }
  }
  for (int i = 0; i < n; i++)
    if (!c[i]) return -1;
  *names_out = c;
  return n;
}

static void trial_row(const ds_trials* d, const ana_trial* t, table* tb) {
  const ana_trial_schema* s = &d->schema;
  table_int(tb, t->episode);
  table_int(tb, t->env);
  table_int(tb, t->trial);
  table_int(tb, t->first);
  table_int(tb, t->last);
  table_num(tb, (double)t->first * d->dt);
  table_num(tb, ds_trial_length(d, t));
  table_int(tb, t->complete);
  table_int(tb, t->success);
  table_str(tb, ds_trial_outcome(d, t));
  for (int k = 0; k < s->n_cond; k++) table_num(tb, t->cond[k]);
  if (s->choice >= 0) table_num(tb, t->choice);
  if (s->eff_x >= 0 && s->go_event >= 0) {
    const double kv[] = {t->go, t->onset, t->rt, t->offset, t->duration, t->peak_speed,
                         t->path, t->max_dev, t->end_err, t->dir_err};
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++) table_num(tb, kv[k]);
  }
  if (d->root_adr >= 0) {
    table_num(tb, t->distance);
    table_num(tb, t->displacement);
    table_num(tb, t->mean_speed);
    table_num(tb, t->forward_speed);
  }
  for (int e = 0; e < d->n_events; e++) {
    int r = t->ev_row[e];
    table_num(tb, r >= 0 ? r * d->dt : NAN);
    table_num(tb, r >= 0 ? (double)(t->first + r) : NAN);
    table_int(tb, t->ev_count[e]);
  }
}

int ds_trials_table(const ds_trials* d, const ana_trials* tab, table* tb) {
  char** cols = NULL;
  int n = trial_columns(d, &cols);
  int rc = n < 0 || table_init(tb, n, (const char* const*)cols) ? -1 : 0;
  for (int i = 0; cols && i < n; i++) free(cols[i]);
  free(cols);
  for (int64_t i = 0; !rc && i < tab->n; i++) trial_row(d, &tab->rows[i], tb);
  return rc || tb->oom ? -1 : 0;
}
