// ama_internal.h: the learner's struct, shared by ama_ppo.c and ama_ckpt.c. Not a public header.
#ifndef AMA_INTERNAL_H
#define AMA_INTERNAL_H

#include "ama_agents.h"

// Column i's mean and sum of squared deviations over rows (x: rows x n, summed in row order).
void ama_col_stats(const float* x, int rows, int n, int i, double* mean, double* m2);
// Chan et al.'s pairwise update: merges a batch of nb samples with mean bm and sum of squared
// deviations bm2 into the running (count, mean, m2).
void ama_chan_merge(double* count, double* mean, double* m2, double nb, double bm, double bm2);

typedef struct ama_es ama_es;  // evolution strategies' state (ama_es.c)
typedef struct ama_hebb ama_hebb;  // node perturbation's state (ama_hebb.c)

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
  // rollout storage (T x N, time-major; per value head: K planes of T x N, head i at i * T * N)
  float* raw_obs;       // (T x N x O) for the normaliser
  float* actions;       // (T x N x A) unclipped Gaussian samples
  float* logp;          // (T x N)
  float* values;        // (K x T x N) every head's V(s_t)
  float* rewards;
  uint8_t* terminated;
  uint8_t* truncated;
  float* final_value;   // (K x T x N) V(final obs) where truncated
  float* next_value;    // (N x K) V after the last step (the policy's peek layout)
  float* next_plane;    // (K x N) the same, head-major for GAE
  float* adv;           // (K x T x N) each head's GAE, then (K > 1) a plane of their mean
  float* adv_sum;       // (T x N) the policy's advantage: the mean of the heads' (adv when K = 1)
  float* ret;           // (K x T x N) each head's return target
  ama_actor act;         // the acting path (draws from rng)
  // anchor > 0: the policy the run started from, acting deterministically beside the learner on
  // the same inputs (its own recurrent state; its normaliser copied from pol's before each
  // rollout), and its means per step
  int anchored;
  ama_policy ref;
  ama_actor ref_act;
  float* ref_mean;      // (T x N x A)
  float* ref_scratch;   // (N x A) the reference's clipped actions (unused)
  float* mb_ref;        // (T x B x A)
  float* anchor_w;      // (N) each env's weight on the anchor (anchor_envs; NULL: 1 for all)
  float* mb_aw;         // (T x B) the minibatch samples' weights (with anchor_w)
  float* next_mask;     // (N) mask of the next step: 0 where the episode just ended (act.mask)
  float* obs_n;         // (N x O) scratch
  // minibatch scratch (T x B)
  float *mb_act, *mb_logp, *mb_adv, *dmean;
  float *mb_ret, *dvalue;  // (T x B x K)
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
  // data-parallel training (ama_ppo_set_comm; NULL: one process)
  const ama_comm* comm;
  // ama_ppo_set_step_hook: called after every control step of a rollout (NULL: none)
  ama_step_hook hook;
  void* hook_ctx;
  int hook_failed;       // the hook failed in this rollout (its message is in err)
  int64_t* gsum;        // the gradient exchange's buffer (ama_dist.c): every rank's float gradient
                        // (up to 4 ranks), else the fixed-point sum and exponent bins
  int g_eq;             // the gradient's fixed-point exponent of the last minibatch (a guess)
  double rr0_count, rr0_mean, rr0_m2;  // reward statistics at the start of the rollout
  double it_count, it_mean, it_m2;     // this rank's reward statistics of the rollout alone
  char err[AM_ERR_LEN];  // the last failure of ama_ppo_iterate
  ama_es* es;           // learner = es: the candidates and scratch (ama_es.c); NULL for PPO
  ama_hebb* hebb;       // learner = hebbian: traces and running means (ama_hebb.c); else NULL
};

// The learning rate of the coming update (lr, linear schedule to 0 at total_steps).
float ama_lr_at(const ama_ppo* L);
// Evolution strategies (ama_es.c): created by ama_ppo_create when learner = es; ama_ppo_iterate
// then runs ama_es_iterate instead of a PPO iteration. Returns NULL / -1 with a message.
ama_es* ama_es_create(ama_ppo* L, char* err, size_t err_sz);
void ama_es_free(ama_es* E);
int ama_es_iterate(ama_ppo* L, ama_iter_stats* st);
// Node perturbation (ama_hebb.c): created by ama_ppo_create when learner = hebbian; its iteration
// is horizon control steps of every env, the weights changing at each trial's end.
ama_hebb* ama_hebb_create(ama_ppo* L, char* err, size_t err_sz);
void ama_hebb_free(ama_hebb* E);
int ama_hebb_iterate(ama_ppo* L, ama_iter_stats* st);
// Its whole state (traces, running means, counters) as n doubles (checkpoint section HEBB).
double* ama_hebb_state(ama_hebb* E, size_t* n);

// Data-parallel steps (ama_dist.c), called by ama_ppo_iterate when L->comm is set; each returns 0
// or -1 with L->err set.
int ama_dist_obs_norm(ama_ppo* L);  // the observation statistics of every rank's rollout
int ama_dist_grad(ama_ppo* L);      // the minibatch gradient: mean over the ranks
int ama_dist_mean(ama_ppo* L, double* x);  // *x: the mean over the ranks (summed in rank order)
// After the update: the reward statistics, the episode and loss statistics (acc: this rank's
// loss sums, replaced by the mean over ranks) and the parameter check.
int ama_dist_iter_end(ama_ppo* L, ama_ppo_stats* acc);
// Every rank's message (msg: "" for none) to every rank: returns the lowest rank with a message,
// copied into err as "rank R: message", or -1 when no rank has one (-2: the exchange failed).
int ama_dist_agree(const ama_comm* c, const char* msg, char* err, size_t err_sz);

#endif  // AMA_INTERNAL_H
