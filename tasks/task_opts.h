// task_opts.h: options every task can offer recurrent agents (internal to tasks/).
//
// What it is: generic observation options, read from the same parameters in every task:
//   prev_inputs=1  appends a group "prev_action_reward" = the previous action (act_dim values, as
//                  sent, non-finite values as 0) and the previous reward (1 value); zeros after a
//                  reset (Wang et al. 2018, meta-RL);
//   obs_noise=SPEC adds N(0, S^2) to observation values, drawn from the env's own RNG;
//   obs_delay=SPEC shows each group as it was K control steps earlier (sensory delays).
// SPEC is one number for every group ("0.01", "4") or GROUP:VALUE pairs over the task's
// observation groups ("proprioception:4,egocentric:9"; groups not named get 0). Noise is added
// when a value is sensed, before the delay: a delayed group is exactly the noisy group of K steps
// earlier; the first observation of an episode fills the delay line (steps before it show it).
// A task embeds amt_opts as the FIRST member of its cfg and amt_opt_state as the FIRST member of
// its per-env state, adds AMT_OPTS_PARAMS to its parameter table, sets state_size before calling
// amt_opts_setup (which appends the delay line to the state block) and calls the hooks below.
// What it is not: a wrapper task; the task stays in charge of its own hooks.
#ifndef AMT_TASK_OPTS_H
#define AMT_TASK_OPTS_H

#include "amt_tasks.h"

#define AMT_MAX_ACT 64     // largest action size prev_inputs supports
#define AMT_MAX_DELAY 200  // largest observation delay (control steps)

typedef struct amt_opts {
  int prev_inputs;   // 1: append the prev_action_reward group
  int base_dim;      // observation size before the prev_action_reward group
  int act_dim;
  int obs_dim;       // the whole observation (with prev_action_reward)
  char noise_spec[256], delay_spec[256];  // the parameters' text, resolved by amt_opts_setup
  int n_groups;                           // the task's groups (with prev_action_reward)
  int g_off[AM_MAX_GROUPS], g_size[AM_MAX_GROUPS];
  double g_noise[AM_MAX_GROUPS];  // noise std per group (0: none)
  int g_delay[AM_MAX_GROUPS];     // delay per group (control steps)
  int any_noise, max_delay;
  size_t line_offset;  // byte offset of the delay line in the task's state block
} amt_opts;

typedef struct amt_opt_state {
  float prev_action[AMT_MAX_ACT];
  float prev_reward;
  int64_t sensed;  // observations made in this episode (the delay line's write position)
} amt_opt_state;

#define AMT_OPTS_PARAMS                                                                          \
  {"prev_inputs", "0", "1: append group prev_action_reward (previous action and reward; meta-RL)"}, \
  {"obs_noise", "0", "Gaussian noise std on observations (env RNG): S for every group, or "      \
                     "GROUP:S,GROUP:S,... (e.g. proprioception:0.01)"},                         \
  {"obs_delay", "0", "sensory delay in control steps: K for every group, or GROUP:K,... (e.g. "   \
                     "proprioception:4,egocentric:9,task:9: 40/90 ms at 10 ms steps)"}

// Reads prev_inputs, obs_noise and obs_delay for task info. Returns 0 or -1 with a message.
int amt_opts_read(const amt_info* info, const amt_params* params, amt_opts* o, char* err,
                  size_t err_sz);

// Call after the task set obs_dim, groups, act_dim and state_size: records the base size, appends
// the prev_action_reward group when asked, resolves the noise and delay specs against the groups
// and appends the delay line to t->state_size. Returns 0 or -1 with a message.
int amt_opts_setup(am_task* t, amt_opts* o, char* err, size_t err_sz);

void amt_opts_reset(amt_opt_state* s);
void amt_opts_act(const amt_opts* o, amt_opt_state* s, const float* action);
void amt_opts_reward(amt_opt_state* s, float reward);
// Writes the prev_action_reward group (if on), adds noise (if on) and applies the delays (if
// any) to the whole vector. s must be the start of the env's task state (the delay line follows).
void amt_opts_observe(const amt_opts* o, amt_opt_state* s, am_rng* rng, float* obs);

#endif  // AMT_TASK_OPTS_H
