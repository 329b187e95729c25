// task_opts.h: options every task can offer recurrent agents (internal to tasks/).
//
// What it is: two generic observation options, read from the same two parameters in every task:
//   prev_inputs=1  appends a group "prev_action_reward" = the previous action (act_dim values, as
//                  sent, non-finite values as 0) and the previous reward (1 value); zeros after a
//                  reset (Wang et al. 2018, meta-RL);
//   obs_noise=S    adds N(0, S^2) to every observation value, drawn from the env's own RNG.
// A task embeds amt_opts as the FIRST member of its cfg and amt_opt_state as the FIRST member of
// its per-env state, adds AMT_OPTS_PARAMS to its parameter table, and calls the hooks below.
// What it is not: a wrapper task; the task stays in charge of its own hooks.
#ifndef AMT_TASK_OPTS_H
#define AMT_TASK_OPTS_H

#include "amt_tasks.h"

#define AMT_MAX_ACT 64  // largest action size prev_inputs supports

typedef struct amt_opts {
  int prev_inputs;   // 1: append the prev_action_reward group
  double obs_noise;  // std of additive Gaussian observation noise (0: none)
  int base_dim;      // observation size before the prev_action_reward group
  int act_dim;
} amt_opts;

typedef struct amt_opt_state {
  float prev_action[AMT_MAX_ACT];
  float prev_reward;
} amt_opt_state;

#define AMT_OPTS_PARAMS                                                                          \
  {"prev_inputs", "0", "1: append group prev_action_reward (previous action and reward; meta-RL)"}, \
  {"obs_noise", "0", "std of Gaussian noise added to every observation value (env RNG)"}

// Reads prev_inputs and obs_noise for task info. Returns 0 or -1 with a message.
int amt_opts_read(const amt_info* info, const amt_params* params, amt_opts* o, char* err,
                  size_t err_sz);

// Call after the task set obs_dim, groups and act_dim: records the base size and appends the
// prev_action_reward group when asked. Returns 0 or -1 with a message.
int amt_opts_setup(am_task* t, amt_opts* o, char* err, size_t err_sz);

void amt_opts_reset(amt_opt_state* s);
void amt_opts_act(const amt_opts* o, amt_opt_state* s, const float* action);
void amt_opts_reward(amt_opt_state* s, float reward);
// Writes the prev_action_reward group (if on) and adds noise to the whole vector (if on).
void amt_opts_observe(const amt_opts* o, const amt_opt_state* s, am_rng* rng, float* obs);

#endif  // AMT_TASK_OPTS_H
