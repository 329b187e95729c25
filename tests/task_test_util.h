// task_test_util.h: helpers shared by the task tests (test_tasks*.c). Include after <cmocka.h>
// and "amt_tasks.h"; every function is static (marked unused: a test may need only some), one
// copy per test program.
#ifndef TASK_TEST_UTIL_H
#define TASK_TEST_UTIL_H

static char err[AM_ERR_LEN];

// Creates task `name` with "k=v" overrides (NULL-terminated); fails the test on an error.
__attribute__((unused))
static void make_task(am_task* t, const char* name, ...) {
  amt_params p;
  memset(&p, 0, sizeof p);
  va_list ap;
  va_start(ap, name);
  for (const char* kv = va_arg(ap, const char*); kv; kv = va_arg(ap, const char*))
    if (amt_params_add(&p, kv, err, sizeof err)) fail_msg("%s", err);
  va_end(ap);
  if (amt_create(t, name, &p, err, sizeof err)) fail_msg("%s: %s", name, err);
}

// Task `name` with the overrides "key=value[;key2=value2...]" must be refused, the message naming
// the task and the first key.
__attribute__((unused))
static void expect_refused(const char* name, const char* kv) {
  amt_params p;
  memset(&p, 0, sizeof p);
  if (amt_params_add_list(&p, kv, err, sizeof err)) fail_msg("%s", err);
  am_task t;
  if (amt_create(&t, name, &p, err, sizeof err) != -1) fail_msg("%s: accepted %s", name, kv);
  char key[64];
  snprintf(key, sizeof key, "%s", kv);
  char* eq = strchr(key, '=');
  if (eq) *eq = 0;
  if (!strstr(err, name) || !strstr(err, key)) fail_msg("message lacks task/key: %s", err);
}

// Task `name` with the parameters of list (separated by ';') is refused with a message holding
// `want`.
__attribute__((unused))
static void expect_refused_saying(const char* name, const char* list, const char* want) {
  amt_params p;
  memset(&p, 0, sizeof p);
  if (amt_params_add_list(&p, list, err, sizeof err)) fail_msg("%s", err);
  am_task t;
  if (amt_create(&t, name, &p, err, sizeof err) != -1) fail_msg("%s: accepted %s", name, list);
  if (!strstr(err, want)) fail_msg("%s %s: error '%s' lacks '%s'", name, list, err, want);
}

// An env pool of n envs on `threads` worker threads.
__attribute__((unused))
static am_pool* make_pool_threads(const am_task* t, int n, int threads, uint64_t seed) {
  am_pool_config cfg = {.num_envs = n, .num_threads = threads, .seed = seed};
  am_pool* p = am_pool_create(t, &cfg, err, sizeof err);
  if (!p) fail_msg("%s", err);
  return p;
}

// Index of task variable / event `name`, or -1 when the task has none.
__attribute__((unused))
static int find_var(const am_task* t, const char* name) {
  for (int k = 0; k < t->n_vars; k++)
    if (!strcmp(t->vars[k], name)) return k;
  return -1;
}

__attribute__((unused))
static int find_event(const am_task* t, const char* name) {
  for (int k = 0; k < t->n_events; k++)
    if (!strcmp(t->events[k], name)) return k;
  return -1;
}

// Strict lookups: a missing variable or event fails the test.
__attribute__((unused))
static int var_index(const am_task* t, const char* name) {
  int k = find_var(t, name);
  if (k < 0) fail_msg("task %s has no variable %s", t->name, name);
  return k;
}

__attribute__((unused))
static uint32_t ev_bit(const am_task* t, const char* name) {
  int k = find_event(t, name);
  if (k < 0) fail_msg("task %s has no event %s", t->name, name);
  return 1u << k;
}

#endif
