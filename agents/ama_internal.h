// ama_internal.h: the learner's struct, shared by ama_ppo.c and ama_ckpt.c. Not a public header.
#ifndef AMA_INTERNAL_H
#define AMA_INTERNAL_H

#include "ama_agents.h"

struct ama_ppo {
  ama_config cfg;
  am_pool* pool;        // not owned
  int N, T, B;          // envs, horizon, envs per minibatch
  ama_policy pol;
  ama_seq roll;         // the rollout as T x N sequences (policy inputs, masks, noise, s0)
  ama_seq half[2];      // one minibatch as two halves of B/2 envs (one half when B is odd)
  int n_half, Bh;       // halves per minibatch (fixed by the config, not by threads), envs per half
  ama_policy pol2;      // shallow copy of pol with its own gradient buffer and cell scratch: the
                        // second half's gradient is computed on another thread, then added
  int learn_threads;    // 1 or 2 (results do not depend on it)
  am_rng rng;           // the learner's stream
  int64_t env_steps, iteration;
  // rollout storage (T x N, time-major)
  float* raw_obs;       // (T x N x O) for the normaliser
  float* actions;       // (T x N x A) unclipped Gaussian samples
  float* logp;          // (T x N)
  float* values;
  float* rewards;
  uint8_t* terminated;
  uint8_t* truncated;
  float* final_value;   // V(final obs) where truncated
  float* next_value;    // (N) V after the last step
  float* adv;
  float* ret;
  ama_actor act;         // the acting path (draws from rng)
  float* next_mask;     // (N) mask of the next step: 0 where the episode just ended (act.mask)
  float* obs_n;         // (N x O) scratch
  // minibatch scratch (T x B)
  float *mb_act, *mb_logp, *mb_adv, *mb_ret, *dmean, *dvalue;
  int* perm;            // (N)
  int* success_ev;      // [0]: the task's success event code, [1]: its trial-end code; -1: none
  // per-env running episode statistics (saved in checkpoints so metrics resume exactly)
  double run_return[4096];
  int32_t run_length[4096];
  int32_t run_success[4096];
  // reward scaling: running statistics of the discounted return (per-env accumulators)
  double disc[4096];
  double rr_count, rr_mean, rr_m2;
  // this rollout's finished episodes
  int ep_count, ep_success;
  int ep_unstable;      // of ep_count, episodes cut by physics instability (not in ep_return/length)
  int tr_count, tr_success;  // trials ended / succeeded (tasks with a trial_end event)
  
  double ep_return;
  int64_t ep_length;
};

#endif  // AMA_INTERNAL_H
