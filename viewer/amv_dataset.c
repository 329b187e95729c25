// amv_dataset.c: a dataset file (sim/am_dataset.h) as the viewer's source.
//
// The model is rebuilt from the file's own MJCF ("model.xml" metadata), so a dataset replays on a
// machine without the original bodies. Channels used (by name, as the recorder writes them):
// qpos (required), act, reward, events (labels: event names), task_vars (labels: variable names),
// action (behaviour trace), value, and the "network" group: each module's "<module>/output" (one
// heatmap module each; a file without them: every 1-D network channel). Anything else is ignored;
// a file without qpos or a model is refused. The scenery (mocap bodies' poses) comes from each
// episode's recorded initial state; heightfields from the embedded model (am_ds_load_model).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_dataset.h"
#include "amv.h"

typedef struct ds_map {
  int qpos, act, reward, events, vars, action;
} ds_map;

// Splits comma-separated labels into names[max][AM_NAME_LEN]; returns the count.
static int split_labels(const char* labels, char names[][AM_NAME_LEN], int max) {
  int n = 0;
  if (!labels || !*labels) return 0;
  const char* p = labels;
  while (*p && n < max) {
    const char* q = strchr(p, ',');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    snprintf(names[n++], AM_NAME_LEN, "%.*s", (int)len, p);
    if (!q) break;
    p = q + 1;
  }
  return n;
}

static int is_num(am_dtype t) { return t == AM_DT_F32 || t == AM_DT_F64; }

int amv_ds_open(amv_ds* D, const char* path, amv_meta* meta, char* err, size_t err_sz) {
  memset(D, 0, sizeof *D);
  memset(meta, 0, sizeof *meta);
  snprintf(D->path, sizeof D->path, "%s", path);
  char e2[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(path, e2, sizeof e2);
  if (!r) {
    if (strstr(e2, path)) return am_err(err, err_sz, "%s", e2);
    return am_err(err, err_sz, "%s: %s", path, e2);
  }
  D->reader = r;
  D->model = am_ds_load_model(r, NULL, 0, e2, sizeof e2);
  if (!D->model) {
    amv_ds_close(D);
    return am_err(err, err_sz, "%s: %s: nothing to replay", path, e2);
  }
  int qp = am_ds_find_channel(r, "qpos");
  const am_ds_channel* c = qp >= 0 ? am_ds_get_channel(r, qp) : NULL;
  if (!c || c->dtype != AM_DT_F64 || (int)c->elems != D->model->m->nq) {
    int nq = D->model->m->nq;
    amv_ds_close(D);
    return am_err(err, err_sz, "%s: no qpos channel of %d doubles (record with the body state to "
                  "replay the body)", path, nq);
  }
  D->n_episodes = am_ds_num_episodes(r);
  if (D->n_episodes < 1) {
    amv_ds_close(D);
    return am_err(err, err_sz, "%s: the dataset holds no episode", path);
  }
  const char* task = am_ds_meta(r, "task.name", NULL);
  snprintf(meta->task, sizeof meta->task, "%s", task ? task : "?");
  int ev = am_ds_find_channel(r, "events");
  if (ev >= 0) meta->n_events = split_labels(am_ds_get_channel(r, ev)->labels, meta->events, AM_MAX_EVENTS);
  int tv = am_ds_find_channel(r, "task_vars");
  if (tv >= 0) meta->n_vars = split_labels(am_ds_get_channel(r, tv)->labels, meta->vars, AM_MAX_VARS);
  meta->condition_var = amv_find_condition_var(meta);
  const char* pol = am_ds_meta(r, "policy", NULL);
  snprintf(meta->policy, sizeof meta->policy, "%s", pol ? pol : "unknown policy");
  const char* base = strrchr(path, '/');
  snprintf(meta->origin, sizeof meta->origin, "%s  (%lld episodes, policy %s)",
           base ? base + 1 : path, (long long)D->n_episodes, meta->policy);
  return 0;
}

// The episode's scenery: the mocap poses in its recorded initial state, found by the metadata
// "init.layout" (comma-separated fields: time, qpos, qvel, act, mocap_pos, mocap_quat, ...).
// Files without mocap poses in the initial state (format 1.0 before they were stored) have no
// scenery to show: the model's default poses are drawn.
static int load_scene(amv_ds* D, int64_t i, amv_episode* ep, char* err, size_t err_sz) {
  am_ds_reader* r = D->reader;
  const mjModel* m = D->model->m;
  const char* layout = am_ds_meta(r, "init.layout", NULL);
  int n_init = am_ds_num_init(r), off = 0, at_pos = -1, at_quat = -1;
  if (!m->nmocap || !layout || n_init < 1) return 0;
  for (const char* p = layout; *p;) {
    size_t len = strcspn(p, ",");
    int size = -1;
#define FIELD(nm, sz) if (len == strlen(nm) && !strncmp(p, nm, len)) size = (sz)
    FIELD("time", 1);
    FIELD("qpos", m->nq);
    FIELD("qvel", m->nv);
    FIELD("act", m->na);
    FIELD("qacc_warmstart", m->nv);
    FIELD("mocap_pos", 3 * m->nmocap);
    FIELD("mocap_quat", 4 * m->nmocap);
#undef FIELD
    if (size < 0) break;  // an unknown field: the offsets after it are unknown
    if (len == 9 && !strncmp(p, "mocap_pos", len)) at_pos = off;
    if (len == 10 && !strncmp(p, "mocap_quat", len)) at_quat = off;
    off += size;
    p += len;
    if (*p == ',') p++;
  }
  if (at_pos < 0 || at_quat < 0 || at_pos + 3 * m->nmocap > n_init ||
      at_quat + 4 * m->nmocap > n_init)
    return 0;
  double* init = malloc(sizeof(double) * (size_t)n_init);
  void** dst = calloc((size_t)am_ds_num_channels(r) + 1, sizeof(void*));
  int rc = -1;
  if (!init || !dst) am_err(err, err_sz, "out of memory reading the initial state");
  else if (!am_ds_read_episode(r, i, dst, init, err, err_sz))
    rc = amv_episode_set_scene(ep, 0, init + at_pos, init + at_quat, err, err_sz);
  // the scenery at the end of every step when recorded (targets taken disappear when they were)
  int cm = am_ds_find_channel(r, "mocap_pos");
  double* pos = NULL;
  if (!rc && cm >= 0 && am_ds_get_channel(r, cm)->dtype == AM_DT_F64 &&
      am_ds_get_channel(r, cm)->elems == 3 * (size_t)m->nmocap) {
    pos = malloc(sizeof(double) * 3 * (size_t)m->nmocap * (size_t)ep->T + 1);
    if (!pos) rc = am_err(err, err_sz, "out of memory reading the scenery");
    else rc = am_ds_read_channel(r, i, cm, pos, err, err_sz);
    for (int s = 0; !rc && s < ep->T; s++)
      rc = amv_episode_set_scene(ep, s, pos + (size_t)s * 3 * m->nmocap, init + at_quat, err,
                                 err_sz);
  }
  free(pos);
  free(init);
  free(dst);
  return rc;
}

// Reads channel ch of episode i as floats or doubles into dst (T x elems).
static int read_conv(am_ds_reader* r, int64_t i, int ch, int T, void* dst, int want_double,
                     char* err, size_t err_sz) {
  const am_ds_channel* c = am_ds_get_channel(r, ch);
  if ((c->dtype == AM_DT_F64) == want_double && is_num(c->dtype))
    return am_ds_read_channel(r, i, ch, dst, err, err_sz);
  void* tmp = malloc(c->row_bytes * (size_t)(T > 0 ? T : 1));
  if (!tmp) return am_err(err, err_sz, "out of memory reading channel %s", c->name);
  if (am_ds_read_channel(r, i, ch, tmp, err, err_sz)) return free(tmp), -1;
  size_t n = c->elems * (size_t)T;
  for (size_t k = 0; k < n; k++) {
    double x;
    switch (c->dtype) {
      case AM_DT_F32: x = ((float*)tmp)[k]; break;
      case AM_DT_F64: x = ((double*)tmp)[k]; break;
      case AM_DT_I32: x = ((int32_t*)tmp)[k]; break;
      case AM_DT_U8: x = ((uint8_t*)tmp)[k]; break;
      case AM_DT_U32: x = ((uint32_t*)tmp)[k]; break;
      case AM_DT_I64: x = (double)((int64_t*)tmp)[k]; break;
      default: x = 0;
    }
    if (want_double) ((double*)dst)[k] = x;
    else ((float*)dst)[k] = (float)x;
  }
  free(tmp);
  return 0;
}

int amv_ds_load(amv_ds* D, const amv_meta* meta, int64_t i, amv_episode* ep, mjData* scratch,
                char* err, size_t err_sz) {
  am_ds_reader* r = D->reader;
  const mjModel* m = D->model->m;
  const am_ds_episode* info = am_ds_get_episode(r, i);
  if (!info) return am_err(err, err_sz, "%s: no episode %lld", D->path, (long long)i);
  if (info->steps < 1)
    return am_err(err, err_sz, "%s: episode %lld has no steps", D->path, (long long)info->id);
  if (info->steps > 50000000)
    return am_err(err, err_sz, "%s: episode %lld is too long to show (%lld steps)", D->path,
                  (long long)info->id, (long long)info->steps);
  int T = (int)info->steps;
  ds_map c = {am_ds_find_channel(r, "qpos"),   am_ds_find_channel(r, "act"),
              am_ds_find_channel(r, "reward"), am_ds_find_channel(r, "events"),
              am_ds_find_channel(r, "task_vars"), am_ds_find_channel(r, "action")};
  int na = 0, n_vars = 0;
  if (c.act >= 0 && (int)am_ds_get_channel(r, c.act)->elems == m->na) na = m->na;
  if (c.vars >= 0) n_vars = (int)am_ds_get_channel(r, c.vars)->elems;
  amv_episode_free(ep);
  if (amv_episode_init(ep, T, m->nq, na, n_vars, err, err_sz)) return -1;
  ep->index = info->id;
  const char* cdt = am_ds_meta(r, "control_dt", NULL);
  const char* fs = am_ds_meta(r, "task.frame_skip", NULL);
  ep->dt = cdt ? atof(cdt) : m->opt.timestep * (fs ? atoi(fs) : 1);
  if (!(ep->dt > 0)) ep->dt = m->opt.timestep;
  int rc = read_conv(r, i, c.qpos, T, ep->qpos, 1, err, err_sz);
  if (!rc && na) rc = read_conv(r, i, c.act, T, ep->act, 1, err, err_sz);
  if (!na) {
    free(ep->act);
    ep->act = NULL;
  }
  if (!rc && c.reward >= 0) rc = read_conv(r, i, c.reward, T, ep->reward, 0, err, err_sz);
  if (!rc && c.events >= 0) {
    const am_ds_channel* ch = am_ds_get_channel(r, c.events);
    if (ch->dtype == AM_DT_U32 && ch->elems == 1)
      rc = am_ds_read_channel(r, i, c.events, ep->events, err, err_sz);
  }
  if (!rc && n_vars) rc = read_conv(r, i, c.vars, T, ep->vars, 0, err, err_sz);
  if (rc) return -1;
  ep->T = T;
  ep->nmocap = m->nmocap;
  if (load_scene(D, i, ep, err, err_sz)) return -1;
  // behaviour channels: the policy's actions, and muscle activations when recorded
  if (c.action >= 0) {
    const am_ds_channel* ch = am_ds_get_channel(r, c.action);
    int k = amv_episode_add_channel(ep, "action", (int)ch->elems, err, err_sz);
    if (k < 0 || read_conv(r, i, c.action, T, ep->channels[k].x, 0, err, err_sz)) return -1;
  }
  if (na) {
    int k = amv_episode_add_channel(ep, "activation", na, err, err_sz);
    if (k < 0) return -1;
    for (size_t s = 0; s < (size_t)T * na; s++) ep->channels[k].x[s] = (float)ep->act[s];
  }
  // network modules: each module's output ("core/output"), then 1-D states that are not the same
  // thing ("rnn": x before the rate function); files without */output: every 1-D network channel
  int nch = am_ds_num_channels(r), n_out = 0;
  for (int k = 0; k < nch; k++) {
    const am_ds_channel* ch = am_ds_get_channel(r, k);
    size_t n = strlen(ch->name);
    n_out += ch->group && !strcmp(ch->group, "network") && n > 7 && !strcmp(ch->name + n - 7, "/output");
  }
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < nch && ep->n_modules < AMV_MAX_MODULES; k++) {
      const am_ds_channel* ch = am_ds_get_channel(r, k);
      if (!ch->group || strcmp(ch->group, "network") != 0 || !is_num(ch->dtype) || ch->elems < 2 ||
          ch->ndim != 1)
        continue;
      size_t n = strlen(ch->name);
      int is_out = n > 7 && !strcmp(ch->name + n - 7, "/output");
      int is_state = n > 6 && !strcmp(ch->name + n - 6, "/state");
      if (n_out) {
        if (pass == 0 && !is_out) continue;
        if (pass == 1 && !(is_state && ch->units && strstr(ch->units, "rate"))) continue;
      } else if (pass == 1) continue;
      int md = amv_episode_add_module(ep, ch->name, (int)ch->elems, err, err_sz);
      if (md < 0 || read_conv(r, i, k, T, ep->modules[md].x, 0, err, err_sz)) return -1;
    }
  // the critic's value estimate, when recorded, is a behaviour trace
  int cv = am_ds_find_channel(r, "value");
  if (cv >= 0 && am_ds_get_channel(r, cv)->elems == 1 && is_num(am_ds_get_channel(r, cv)->dtype)) {
    int k = amv_episode_add_channel(ep, "value", 1, err, err_sz);
    if (k < 0 || read_conv(r, i, cv, T, ep->channels[k].x, 0, err, err_sz)) return -1;
  }
  amv_episode_derive(ep, m, scratch);
  (void)meta;
  return 0;
}

void amv_ds_close(amv_ds* D) {
  if (D->model) am_model_free(D->model);
  if (D->reader) am_ds_reader_free(D->reader);
  memset(D, 0, sizeof *D);
}
