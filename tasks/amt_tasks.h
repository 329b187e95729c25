// amt_tasks.h: the task registry (public header).
//
// What it is: tasks registered by name, each with a one-line description, a table of documented
// parameters (key, default, meaning) that `--task-param key=value` overrides, and a constructor
// that builds the scene model and fills an am_task (see sim/am_sim.h) for the env pool.
// What it is not: the tasks' internals (tasks/: reacher.c, arm_tasks.c for the five arm paradigms,
// one rat_*.c file per rat task).
#ifndef AMT_TASKS_H
#define AMT_TASKS_H

#include "am_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AMT_MAX_PARAMS 48

// One documented parameter. Values are parsed from text by the task (numbers, lists "a,b,c",
// names); an unknown key or a bad value is an error that lists the valid keys.
typedef struct amt_param_def {
  const char* key;
  const char* def;      // default value, as text
  const char* meaning;  // one line, with units
} amt_param_def;

// key=value overrides, in the order given (later wins).
typedef struct amt_params {
  int n;
  char key[AMT_MAX_PARAMS][64];
  char value[AMT_MAX_PARAMS][256];
} amt_params;

// A registered task.
typedef struct amt_info {
  const char* name;         // e.g. "reacher"
  const char* body;         // body it runs on, e.g. "reacher", "arm", "rat"
  const char* summary;      // one line
  const amt_param_def* params;  // terminated by a {NULL} entry
  // Builds the task (loads/generates its scene, applies params). Returns 0 or -1 with a message.
  int (*create)(am_task* t, const amt_params* params, char* err, size_t err_sz);
  // Composites only (NULL elsewhere): the member tasks, NULL-terminated, whose parameters pass
  // through as "TASK.key" (e.g. two-tap.interval=0.8); amt_params_check checks them against the
  // member's own table.
  const char* const* members;
} amt_info;

// All registered tasks, in display order; *n receives the count.
const amt_info* amt_registry(int* n);
const amt_info* amt_find(const char* name);

// Parses "key=value" into params (appending). Returns 0 or -1 with a message naming the text.
int amt_params_add(amt_params* p, const char* key_eq_value, char* err, size_t err_sz);

// Appends every "key=value" of a list separated by ';' or newlines (a configuration's task_params,
// a dataset's task.params); empty items are skipped. Returns 0 or -1 as amt_params_add.
int amt_params_add_list(amt_params* p, const char* list, char* err, size_t err_sz);

// Checks every key in params against info->params (and "TASK.key" against member TASK's table for
// a composite); on an unknown key returns -1 with a message that lists the valid keys.
int amt_params_check(const amt_info* info, const amt_params* params, char* err, size_t err_sz);

// Looks up a parameter: the last override if any, else the default from the table.
const char* amt_param_get(const amt_info* info, const amt_params* params, const char* key);

// Typed getters: parse the value of key; on a bad value return -1 with a message naming
// task, key and value.
int amt_param_double(const amt_info* info, const amt_params* params, const char* key, double* out,
                     char* err, size_t err_sz);
int amt_param_int(const amt_info* info, const amt_params* params, const char* key, int* out,
                  char* err, size_t err_sz);
// A switch: 0 or 1, anything else refused naming task, key and value.
int amt_param_bool(const amt_info* info, const amt_params* params, const char* key, int* out,
                   char* err, size_t err_sz);
// two-tap's counted window: the control steps k (of dt s) after the first touch with interval -
// tolerance <= k dt <= interval + tolerance, rounded inwards, as [*lo, *hi] (empty: *hi < *lo).
// The task and `animat analyze two-tap` share it.
void amt_two_tap_window(double interval, double tolerance, double dt, int* lo, int* hi);

// Comma-separated list of numbers; *n receives the count (<= max).
int amt_param_list(const amt_info* info, const amt_params* params, const char* key, double* out,
                   int max, int* n, char* err, size_t err_sz);

// Creates a task by name with overrides (checks keys first). Also accepts "body:NAME", the plain
// body task of am_body_task_init on any body (params: frame_skip, episode_steps, init_noise).
// On success the caller owns t's resources: release them with amt_destroy.
int amt_create(am_task* t, const char* name, const amt_params* params, char* err, size_t err_sz);

// Releases what amt_create made (the task's cfg and its model).
void amt_destroy(am_task* t);

#ifdef __cplusplus
}
#endif
#endif  // AMT_TASKS_H
