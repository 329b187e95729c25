// ama_es.c: evolution strategies (Salimans, Ho, Chen, Sidor & Sutskever 2017), a learner without
// backpropagation (config learner = es). Each iteration draws n antithetic pairs of Gaussian
// perturbations eps_i of the policy's flat parameter buffer, evaluates theta + sigma eps_i and
// theta - sigma eps_i on whole episodes in the env pool's envs (num_envs / 2n envs each, the
// deterministic policy: clipped mean action, no recurrent noise), shapes the 2n returns into
// centred ranks u in [-0.5, 0.5], and follows the estimate
//     g = 1/(2n) sum_i (u_i+ - u_i-) eps_i
// (the authors' code: no 1/sigma, which the optimiser's step absorbs) with Adam or SGD with
// momentum, plus weight decay (-g + weight_decay theta is what the optimiser descends).
// Perturbations are never stored: eps_i is regenerated from the stream (seed, iteration, i) when
// the candidates are built and again for the estimate. The perturbed parameters are the ones that
// act: every tensor but the critic's and the action log-std (the policy acts with its mean), and
// not frozen tensors or absent connections (ama_mask.c): those keep their values.
//
// The learner is the PPO learner's object (struct ama_ppo, learner = es): the same configuration,
// env pool, observation normaliser, counters, checkpoints (every ES state is the parameters, Adam's
// moments, the normaliser and the iteration count) and metrics. Every iteration resets every env
// and runs until each env's first episode has ended (envs that finished early go on acting and
// their steps are counted), so episodes start where the envs' own streams put them and a seed
// reproduces a run whatever the thread count.
// Under MPI (ama_ppo_set_comm) every rank evaluates the same 2n candidates on its own envs and the
// ranks exchange only the returns (and the observation and episode statistics), never gradients
// or parameters: every rank regenerates the perturbations and takes the same step.
// What it is not: no printing.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"
#include "ama_internal.h"

struct ama_es {
  int K, m;            // candidates (2n) and envs per candidate
  ama_policy* cand;    // (K) the perturbed policies, m envs each
  ama_actor* act;      // (K) their deterministic actors
  int n_cand;          // candidates built (for freeing)
  uint8_t* pert;       // (count) 1: the parameter is perturbed
  float* eps;          // (count) one perturbation
  double* ghat;        // (count) the estimate, summed in double
  ama_norm acc;        // this iteration's observation statistics
  double* fit;         // (K) fitness: mean first-episode return of the candidate's envs
  double* ret;         // (N) per env: first episode's return
  int* len;            // (N) its length
  uint8_t* done;       // (N) its first episode ended
  uint8_t* unstable;   // (N) ... cut by instability
  uint8_t* succ;       // (N) the success event occurred in it
  int* tr_count;       // (N) trial ends in it
  int* tr_succ;        // (N) successes in it
  int* order;          // (K) scratch for the ranks
  double* u;           // (K) centred ranks
  double* xbuf;        // what the ranks exchange: this rank's (K + X_N + 3 O), then every rank's
  int xbuf_ranks;      // the rank count xbuf is sized for
};

// The statistics each rank sends after the K returns (then the observation statistics: counts,
// means, m2 of the O entries).
enum { X_STEPS, X_STABLE, X_RET, X_LEN, X_UNSTABLE, X_SUCC, X_TRC, X_TRS, X_OBS, X_N };

void ama_es_free(ama_es* E) {
  if (!E) return;
  for (int k = 0; k < E->n_cand; k++) {
    ama_actor_free(&E->act[k]);
    ama_policy_free(&E->cand[k]);
  }
  free(E->cand);
  free(E->act);
  free(E->pert);
  free(E->eps);
  free(E->ghat);
  ama_norm_free(&E->acc);
  free(E->fit);
  free(E->ret);
  free(E->len);
  free(E->done);
  free(E->unstable);
  free(E->succ);
  free(E->tr_count);
  free(E->tr_succ);
  free(E->order);
  free(E->u);
  free(E->xbuf);
  free(E);
}

ama_es* ama_es_create(ama_ppo* L, char* err, size_t err_sz) {
  const ama_config* c = &L->cfg;
  const am_task* task = am_pool_task(L->pool);
  const ama_policy* p = &L->pol;
  const int N = L->N, K = 2 * c->es.pairs;
  if (N % K) {
    am_err(err, err_sz, "learner = es: %d envs is not a multiple of 2 x es_pairs = %d", N, K);
    return NULL;
  }
  ama_es* E = calloc(1, sizeof *E);
  if (!E) {
    am_err(err, err_sz, "out of memory for evolution strategies");
    return NULL;
  }
  E->K = K;
  E->m = N / K;
  const size_t n = p->params.count ? p->params.count : 1;
  E->cand = calloc((size_t)K, sizeof(ama_policy));
  E->act = calloc((size_t)K, sizeof(ama_actor));
  E->pert = calloc(n, 1);
  E->eps = calloc(n, sizeof(float));
  E->ghat = calloc(n, sizeof(double));
  E->fit = calloc((size_t)K, sizeof(double));
  E->ret = calloc((size_t)N, sizeof(double));
  E->len = calloc((size_t)N, sizeof(int));
  E->done = calloc((size_t)N, 1);
  E->unstable = calloc((size_t)N, 1);
  E->succ = calloc((size_t)N, 1);
  E->tr_count = calloc((size_t)N, sizeof(int));
  E->tr_succ = calloc((size_t)N, sizeof(int));
  E->order = calloc((size_t)K, sizeof(int));
  E->u = calloc((size_t)K, sizeof(double));
  if (!E->cand || !E->act || !E->pert || !E->eps || !E->ghat || !E->fit || !E->ret || !E->len ||
      !E->done || !E->unstable || !E->succ || !E->tr_count || !E->tr_succ || !E->order || !E->u) {
    ama_es_free(E);
    am_err(err, err_sz, "out of memory for evolution strategies");
    return NULL;
  }
  if (ama_norm_init(&E->acc, p->obs_dim, p->cfg.obs_clip, err, err_sz)) {
    ama_es_free(E);
    return NULL;
  }
  // the candidates: the same architecture (masks included), acting for m envs each
  ama_policy_cfg pc = p->cfg;
  if (!strcmp(pc.conn, "file")) snprintf(pc.conn, sizeof pc.conn, "full");  // masks: copied below
  ama_actor_cfg ac = {.kind = AMA_ACT_POLICY, .deterministic = 1, .seed = c->seed};
  for (int k = 0; k < K; k++) {
    if (ama_policy_init(&E->cand[k], &pc, task->groups, task->n_groups, p->obs_dim, p->act_dim, 1,
                        1, E->m, c->seed, err, err_sz)) {
      ama_es_free(E);
      return NULL;
    }
    E->n_cand = k + 1;
    for (int mod = 0; mod < 2; mod++)
      if (ama_policy_conn_set(&E->cand[k], mod, p->conn[mod], err, err_sz)) {
        ama_es_free(E);
        return NULL;
      }
    if (ama_actor_init(&E->act[k], &ac, &E->cand[k], task, E->m, err, err_sz)) {
      ama_actor_free(&E->act[k]);
      ama_policy_free(&E->cand[k]);
      E->n_cand = k;
      ama_es_free(E);
      return NULL;
    }
  }
  // what is perturbed: every tensor that acts (not the critic, not the log-std), not frozen ones,
  // not absent connections
  for (int t = 0; t < p->params.n_tensors; t++) {
    const ama_tensor* T = &p->params.t[t];
    if (T->frozen || t == p->i_logstd || t == p->i_Wv || t == p->i_bv) continue;
    memset(E->pert + T->offset, 1, (size_t)T->rows * T->cols);
  }
  for (size_t q = 0; p->params.keep && q < p->params.count; q++)
    if (!p->params.keep[q]) E->pert[q] = 0;
  return E;
}

void ama_es_perturbation(uint64_t seed, int64_t it, int i, const uint8_t* pert, size_t n,
                         float* eps) {
  am_rng r;
  am_rng_seed(&r, seed, 0x6573000000000000ULL + (uint64_t)it * 4096u + (uint64_t)i);  // "es"
  am_rng_normals(&r, eps, n);
  for (size_t q = 0; q < n; q++)
    if (!pert[q]) eps[q] = 0.0f;
}

void ama_es_estimate(uint64_t seed, int64_t it, int pairs, const double* u, const uint8_t* pert,
                     size_t n, float* eps, double* g) {
  memset(g, 0, sizeof(double) * n);
  for (int i = 0; i < pairs; i++) {
    double w = u[2 * i] - u[2 * i + 1];
    if (w == 0.0) continue;
    ama_es_perturbation(seed, it, i, pert, n, eps);
    for (size_t q = 0; q < n; q++) g[q] += w * eps[q];
  }
  for (size_t q = 0; q < n; q++) g[q] /= 2.0 * pairs;
}

void ama_es_centred_ranks(const double* fit, int K, int* order, double* u) {
  for (int k = 0; k < K; k++) order[k] = k;
  for (int a = 1; a < K; a++) {  // insertion sort, stable
    int v = order[a], b = a - 1;
    while (b >= 0 && fit[order[b]] > fit[v]) {
      order[b + 1] = order[b];
      b--;
    }
    order[b + 1] = v;
  }
  for (int r = 0; r < K; r++) u[order[r]] = K > 1 ? (double)r / (K - 1) - 0.5 : 0.0;
}

int ama_es_iterate(ama_ppo* L, ama_iter_stats* st) {
  ama_es* E = L->es;
  ama_policy* p = &L->pol;
  ama_params* P = &p->params;
  am_batch* bt = am_pool_batch(L->pool);
  const int N = L->N, K = E->K, m = E->m, O = p->obs_dim, A = p->act_dim;
  const float sigma = L->cfg.es.sigma;
  const int64_t it = L->iteration;
  double t0 = am_now();
  L->err[0] = 0;
  // the 2n candidates: theta +- sigma eps_i
  for (int i = 0; i < K / 2; i++) {
    ama_es_perturbation(L->cfg.seed, it, i, E->pert, P->count, E->eps);
    float* wp = E->cand[2 * i].params.w;
    float* wm = E->cand[2 * i + 1].params.w;
    for (size_t q = 0; q < P->count; q++) {
      wp[q] = P->w[q] + sigma * E->eps[q];
      wm[q] = P->w[q] - sigma * E->eps[q];
    }
  }
  for (int k = 0; k < K; k++) {
    ama_norm_copy(&E->cand[k].norm, &p->norm);  // the learner's, as it stands
    ama_policy_reset_state(&E->cand[k]);
    for (int b = 0; b < m; b++) E->act[k].mask[b] = 0.0f;  // every env starts an episode
  }
  // every env's first episode from a reset
  am_pool_reset(L->pool);
  memset(E->done, 0, (size_t)N);
  memset(E->unstable, 0, (size_t)N);
  memset(E->succ, 0, (size_t)N);
  for (int e = 0; e < N; e++) {
    E->ret[e] = 0;
    E->len[e] = 0;
    E->tr_count[e] = E->tr_succ[e] = 0;
  }
  const int sev = L->success_ev[0], tev = L->success_ev[1];
  int n_done = 0;
  int64_t steps = 0;
  while (n_done < N) {
    ama_norm_update(&E->acc, bt->obs, N);
    for (int k = 0; k < K; k++)
      ama_actor_act(&E->act[k], bt->obs + (size_t)k * m * O, bt->actions + (size_t)k * m * A);
    am_pool_step(L->pool);
    steps++;
    for (int e = 0; e < N; e++) {
      if (E->done[e]) continue;
      E->ret[e] += bt->rewards[e];
      E->len[e]++;
      if (sev >= 0 && (bt->events[e] >> sev) & 1u) {
        E->succ[e] = 1;
        E->tr_succ[e]++;
      }
      if (tev >= 0 && (bt->events[e] >> tev) & 1u) E->tr_count[e]++;
      if (bt->terminated[e] || bt->truncated[e]) {
        E->done[e] = 1;
        E->unstable[e] = bt->unstable[e];
        n_done++;
      }
    }
    for (int k = 0; k < K; k++) {  // each actor observes its envs' rows of the batch
      am_batch v = *bt;
      v.actions = bt->actions + (size_t)k * m * A;
      v.rewards = bt->rewards + (size_t)k * m;
      v.terminated = bt->terminated + (size_t)k * m;
      v.truncated = bt->truncated + (size_t)k * m;
      ama_actor_observe(&E->act[k], &v);
    }
  }
  // What this process (rank) found: each candidate's summed returns, the episode statistics and
  // the observation statistics. With several ranks (docs/distributed.md) every rank evaluated the
  // same 2n candidates on its own envs: the ranks exchange these numbers (returns, not gradients or
  // parameters), merge them in rank order, and so take the same step.
  const int R = L->comm ? L->comm->size : 1;
  const size_t nloc = (size_t)K + X_N + 3 * (size_t)O;
  if (E->xbuf_ranks != R) {  // sized once the rank count is known
    free(E->xbuf);
    E->xbuf = malloc(sizeof(double) * nloc * (size_t)(R + 1));
    E->xbuf_ranks = E->xbuf ? R : 0;
    if (!E->xbuf) return am_err(L->err, sizeof L->err, "out of memory for the ranks' returns");
  }
  double* loc = E->xbuf;
  double* all = E->xbuf + nloc;
  memset(loc, 0, sizeof(double) * nloc);
  for (int k = 0; k < K; k++)
    for (int b = 0; b < m; b++) loc[k] += E->ret[k * m + b];
  double* x = loc + K;
  x[X_STEPS] = (double)steps * N;
  for (int e = 0; e < N; e++) {
    x[X_UNSTABLE] += E->unstable[e];
    x[X_SUCC] += E->succ[e];
    x[X_TRC] += E->tr_count[e];
    x[X_TRS] += E->tr_succ[e];
    if (E->unstable[e]) continue;
    x[X_STABLE] += 1;
    x[X_RET] += E->ret[e];
    x[X_LEN] += E->len[e];
  }
  x[X_OBS] = E->acc.count;
  memcpy(x + X_N, E->acc.counts, sizeof(double) * O);
  memcpy(x + X_N + O, E->acc.mean, sizeof(double) * O);
  memcpy(x + X_N + 2 * O, E->acc.m2, sizeof(double) * O);
  if (!L->comm) memcpy(all, loc, sizeof(double) * nloc);
  else if (L->comm->allgather(L->comm->ctx, loc, all, sizeof(double) * nloc, L->err,
                              sizeof L->err))
    return -1;
  double tot[X_N] = {0};
  memset(E->fit, 0, sizeof(double) * K);
  for (int r = 0; r < R; r++) {  // in rank order
    const double* a = all + (size_t)r * nloc;
    for (int k = 0; k < K; k++) E->fit[k] += a[k];
    for (int j = 0; j < X_N; j++) tot[j] += a[K + j];
    // the observation statistics of this iteration join the learner's (used from the next one on)
    const double* c = a + K + X_N;
    for (int i = 0; i < O; i++)
      if (!p->norm.frozen[i] && c[i] > 0)
        ama_chan_merge(&p->norm.counts[i], &p->norm.mean[i], &p->norm.m2[i], c[i], c[O + i],
                       c[2 * O + i]);
    p->norm.count += a[K + X_OBS];
  }
  ama_norm_refresh(&p->norm);
  memset(E->acc.counts, 0, sizeof(double) * O);
  memset(E->acc.mean, 0, sizeof(double) * O);
  memset(E->acc.m2, 0, sizeof(double) * O);
  E->acc.count = 0;
  L->env_steps += (int64_t)tot[X_STEPS];
  double t1 = am_now();
  // fitness (the mean return of the candidate's episodes on every rank), centred ranks, estimate
  for (int k = 0; k < K; k++) E->fit[k] /= (double)m * R;
  ama_es_centred_ranks(E->fit, K, E->order, E->u);
  ama_es_estimate(L->cfg.seed, it, K / 2, E->u, E->pert, P->count, E->eps, E->ghat);
  const float wd = L->cfg.es.weight_decay;
  double gn = 0;
  for (size_t q = 0; q < P->count; q++) {
    double g = E->ghat[q];
    gn += g * g;
    // the optimiser descends -g + weight_decay theta on the perturbed parameters only
    P->g[q] = E->pert[q] ? (float)(-g) + wd * P->w[q] : 0.0f;
  }
  float lr = ama_lr_at(L);
  if (!strcmp(L->cfg.es.optimizer, "sgd")) {
    const float mu = L->cfg.es.momentum;
    for (size_t q = 0; q < P->count; q++) {
      if (!E->pert[q]) continue;
      P->m[q] = mu * P->m[q] + (1.0f - mu) * P->g[q];  // the velocity, in Adam's first moment
      P->w[q] -= lr * P->m[q];
    }
    P->adam_t++;
  } else {
    ama_adam_step(P, lr, 0.9f, 0.999f, L->cfg.ppo.adam_eps);
  }
  ama_params_mask_apply(P);
  L->iteration++;
  uint32_t crc;  // with ranks: every rank's parameters must still be rank 0's
  if (L->comm && ama_ppo_check_ranks(L, &crc, L->err, sizeof L->err)) return -1;
  double t2 = am_now();
  if (st) {
    memset(st, 0, sizeof *st);
    st->env_steps = L->env_steps;
    st->iteration = L->iteration;
    st->episodes = (int)(tot[X_STABLE] + tot[X_UNSTABLE]);
    st->unstable = (int)tot[X_UNSTABLE];
    st->mean_return = tot[X_STABLE] > 0 ? tot[X_RET] / tot[X_STABLE] : NAN;
    st->mean_length = tot[X_STABLE] > 0 ? tot[X_LEN] / tot[X_STABLE] : NAN;
    st->success = NAN;
    if (sev >= 0 && tev >= 0 && tot[X_TRC] > 0) st->success = tot[X_TRS] / tot[X_TRC];
    else if (sev >= 0 && tev < 0) st->success = tot[X_SUCC] / st->episodes;
    st->lr = lr;
    st->rollout_s = t1 - t0;
    st->learn_s = t2 - t1;
    st->grad_norm = sqrt(gn);
    st->explained_var = NAN;
    st->action_std = 0;  // the candidates act with their mean
  }
  return 0;
}
