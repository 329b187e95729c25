// tasks_internal.h: what task files share with the registry (not part of the public API).
// A task family adds its amt_info entry macro here and to the table in registry.c.
#ifndef AMT_TASKS_INTERNAL_H
#define AMT_TASKS_INTERNAL_H

#include "amt_tasks.h"

// reacher.c
extern const amt_param_def amt_reacher_params[];
int amt_reacher_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
#define AMT_REACHER_INFO                                                                       \
  {"reacher", "reacher", "Gymnasium Reacher-v4 exactly: two-link arm to a random target "     \
                         "(the learning-parity benchmark)",                                     \
   amt_reacher_params, amt_reacher_create}

// Further task families append their entries here (comma-separated amt_info initialisers).
#define AMT_EXTRA_TASKS

#endif  // AMT_TASKS_INTERNAL_H
