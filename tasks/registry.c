// registry.c: the task table, `key=value` parameter handling, and the plain "body:NAME" task.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amt_tasks.h"
#include "tasks_internal.h"

static const amt_info registry[] = {
    AMT_REACHER_INFO,
    AMT_EXTRA_TASKS
};

const amt_info* amt_registry(int* n) {
  *n = (int)(sizeof registry / sizeof registry[0]);
  return registry;
}

const amt_info* amt_find(const char* name) {
  int n;
  const amt_info* r = amt_registry(&n);
  for (int i = 0; i < n; i++)
    if (!strcmp(r[i].name, name)) return &r[i];
  return NULL;
}

int amt_params_add(amt_params* p, const char* kv, char* err, size_t err_sz) {
  if (p->n >= AMT_MAX_PARAMS)
    return am_err(err, err_sz, "too many task parameters (max %d)", AMT_MAX_PARAMS);
  int rc = am_kv_split(kv, p->key[p->n], sizeof p->key[0], p->value[p->n], sizeof p->value[0]);
  if (rc == -2) return am_err(err, err_sz, "task parameter key or value too long: %s", kv);
  if (rc)
    return am_err(err, err_sz, "task parameter '%s' is not of the form key=value", kv ? kv : "");
  p->n++;
  return 0;
}

int amt_params_add_list(amt_params* p, const char* list, char* err, size_t err_sz) {
  for (const char* s = list; s && *s;) {
    size_t n = strcspn(s, ";\n");
    if (n > 0) {
      char kv[sizeof p->key[0] + sizeof p->value[0] + 2];
      if (n >= sizeof kv) return am_err(err, err_sz, "task parameter too long: %.*s", (int)n, s);
      memcpy(kv, s, n);
      kv[n] = 0;
      if (amt_params_add(p, kv, err, err_sz)) return -1;
    }
    s += n;
    if (*s) s++;
  }
  return 0;
}

static const amt_param_def* find_def(const amt_info* info, const char* key) {
  for (const amt_param_def* d = info->params; d && d->key; d++)
    if (!strcmp(d->key, key)) return d;
  return NULL;
}

// The valid keys of info, comma-separated, into keys ("none" when it has none).
static void list_keys(const amt_info* info, char* keys, size_t n) {
  size_t len = 0;
  keys[0] = 0;
  for (const amt_param_def* d = info->params; d && d->key; d++)
    len += (size_t)snprintf(keys + len, len < n ? n - len : 0, "%s%s", len ? ", " : "", d->key);
  if (!keys[0]) snprintf(keys, n, "none");
}

// A composite's "TASK.key": TASK must be a member and key one of its parameters. Returns 1 when
// key names no member (the caller reports an unknown key), 0 when valid, -1 with a message.
static int check_member_key(const amt_info* info, const char* key, char* err, size_t err_sz) {
  const char* dot = strchr(key, '.');
  if (!info->members || !dot) return 1;
  for (const char* const* m = info->members; *m; m++) {
    if (strlen(*m) != (size_t)(dot - key) || strncmp(*m, key, (size_t)(dot - key))) continue;
    const amt_info* sub = amt_find(*m);
    if (sub && find_def(sub, dot + 1)) return 0;
    char keys[1024];
    if (sub) list_keys(sub, keys, sizeof keys);
    return am_err(err, err_sz, "task %s: parameter '%s': task %s has no parameter '%s' (valid: "
                  "%s)", info->name, key, *m, dot + 1, sub ? keys : "none");
  }
  return 1;
}

int amt_params_check(const amt_info* info, const amt_params* params, char* err, size_t err_sz) {
  if (!params) return 0;
  for (int i = 0; i < params->n; i++) {
    if (find_def(info, params->key[i])) continue;
    int rc = check_member_key(info, params->key[i], err, err_sz);
    if (rc <= 0) {
      if (rc < 0) return -1;
      continue;
    }
    char keys[1024], members[256] = "";
    list_keys(info, keys, sizeof keys);
    size_t len = 0;
    for (const char* const* m = info->members; m && *m; m++)
      len += (size_t)snprintf(members + len, len < sizeof members ? sizeof members - len : 0,
                              "%s%s", len ? ", " : "", *m);
    return am_err(err, err_sz, "task %s has no parameter '%s' (valid: %s%s%s%s)", info->name,
                  params->key[i], keys, members[0] ? "; and TASK.KEY for the members " : "",
                  members, members[0] ? ": `animat tasks TASK` lists their keys" : "");
  }
  return 0;
}

const char* amt_param_get(const amt_info* info, const amt_params* params, const char* key) {
  if (params)
    for (int i = params->n - 1; i >= 0; i--)
      if (!strcmp(params->key[i], key)) return params->value[i];
  const amt_param_def* d = find_def(info, key);
  return d ? d->def : NULL;
}

static int parse_double(const char* s, double* out) {
  if (!s || !*s) return -1;
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  while (*end == ' ') end++;
  if (errno || *end || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int amt_param_double(const amt_info* info, const amt_params* params, const char* key, double* out,
                     char* err, size_t err_sz) {
  const char* v = amt_param_get(info, params, key);
  if (!v) return am_err(err, err_sz, "task %s has no parameter '%s'", info->name, key);
  if (parse_double(v, out))
    return am_err(err, err_sz, "task %s: parameter %s: '%s' is not a number", info->name, key, v);
  return 0;
}

int amt_param_int(const amt_info* info, const amt_params* params, const char* key, int* out,
                  char* err, size_t err_sz) {
  double d;
  const char* v = amt_param_get(info, params, key);
  if (amt_param_double(info, params, key, &d, err, err_sz)) return -1;
  if (d != floor(d) || fabs(d) > 2e9)
    return am_err(err, err_sz, "task %s: parameter %s: '%s' is not an integer", info->name, key, v);
  *out = (int)d;
  return 0;
}

int amt_param_bool(const amt_info* info, const amt_params* params, const char* key, int* out,
                   char* err, size_t err_sz) {
  if (amt_param_int(info, params, key, out, err, err_sz)) return -1;
  if (*out != 0 && *out != 1)
    return am_err(err, err_sz, "task %s: parameter %s: '%s' must be 0 or 1", info->name, key,
                  amt_param_get(info, params, key));
  return 0;
}

int amt_param_list(const amt_info* info, const amt_params* params, const char* key, double* out,
                   int max, int* n, char* err, size_t err_sz) {
  const char* v = amt_param_get(info, params, key);
  if (!v) return am_err(err, err_sz, "task %s has no parameter '%s'", info->name, key);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", v);
  int k = 0;
  char* save = NULL;
  for (char* tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    if (k >= max)
      return am_err(err, err_sz, "task %s: parameter %s: more than %d values in '%s'", info->name,
                    key, max, v);
    if (parse_double(tok, &out[k]))
      return am_err(err, err_sz, "task %s: parameter %s: '%s' is not a number (in '%s')",
                    info->name, key, tok, v);
    k++;
  }
  if (!k) return am_err(err, err_sz, "task %s: parameter %s: empty list", info->name, key);
  *n = k;
  return 0;
}

//---------------------------------- body:NAME ------------------------------------------------------

static const amt_param_def body_params[] = {
    {"frame_skip", "5", "physics steps per control step"},
    {"episode_steps", "1000", "episode length in control steps (0: never truncate)"},
    {"init_noise", "0.01", "uniform noise on hinge/slide joint positions at reset (rad or m)"},
    {NULL, NULL, NULL}};

static int create_body_task(am_task* t, const char* body, const amt_params* params, char* err,
                            size_t err_sz) {
  amt_info info = {.name = "body", .params = body_params};
  if (amt_params_check(&info, params, err, err_sz)) return -1;
  int frame_skip, steps;
  double noise;
  if (amt_param_int(&info, params, "frame_skip", &frame_skip, err, err_sz) ||
      amt_param_int(&info, params, "episode_steps", &steps, err, err_sz) ||
      amt_param_double(&info, params, "init_noise", &noise, err, err_sz))
    return -1;
  am_model* model = am_model_load_body(body, err, err_sz);
  if (!model) return -1;
  if (am_body_task_init(t, model, frame_skip, steps, noise, err, err_sz)) {
    am_model_free(model);
    return -1;
  }
  t->trial_start_event = t->success_event = t->trial_end_event = -1;  // no events
  return 0;
}

int amt_create(am_task* t, const char* name, const amt_params* params, char* err, size_t err_sz) {
  memset(t, 0, sizeof *t);
  if (!name || !*name) return am_err(err, err_sz, "no task name given");
  if (!strncmp(name, "body:", 5)) return create_body_task(t, name + 5, params, err, err_sz);
  const amt_info* info = amt_find(name);
  if (!info)
    return am_err(err, err_sz, "unknown task '%s' (`animat tasks` lists them; body:NAME runs a "
                  "bare body)", name);
  if (amt_params_check(info, params, err, err_sz)) return -1;
  if (info->create(t, params, err, err_sz)) {
    amt_destroy(t);
    return -1;
  }
  return 0;
}

void amt_destroy(am_task* t) {
  if (!t) return;
  if (t->destroy) t->destroy(t);
  for (int v = 0; v < t->n_variants; v++) mj_deleteModel(t->variants[v]);
  free(t->variants);
  am_model_free((am_model*)t->model);
  memset(t, 0, sizeof *t);
}

int amt_parse_pairs(const char* text, double* a, double* b, int max) {
  int n = 0;
  for (const char* q = text; *q; n++) {
    char* end;
    if (n == max) return -1;
    a[n] = strtod(q, &end);
    if (end == q || *end != ':' || !isfinite(a[n])) return -1;
    q = end + 1;
    b[n] = strtod(q, &end);
    if (end == q || (*end != ',' && *end) || !isfinite(b[n])) return -1;
    q = *end ? end + 1 : end;
  }
  return n;
}
