// ama_hebb.c: node perturbation with a reward-modulated Hebbian trace (Miconi 2017, eLife
// 6:e20899), a learner without backpropagation for the leaky rate RNN core (config learner =
// hebbian). docs/biology.md is the user's description.
//
// The network is the policy's core, x(t) = (1 - a) x(t-1) + a (W r(t-1) + W_x u(t) + b + D(t)),
// r = tanh(x) (rnn_act = tanh; relu also runs), a = dt / tau, read out by readout = unit: the
// action is the rate of core units 0..A-1 (Miconi's output neuron). The learner, per control step
// and env:
//   - exploration: each unit receives with probability pert_prob a perturbation D_i uniform in
//     [-pert_amp, pert_amp] on its input (added to x after the cell's step as a D_i, which is the
//     same thing; the policy's unit_add hook), drawn from the learner's stream;
//   - eligibility: e_ij += S(r_j(t-1) (x_i(t) - xbar_i(t-1))), S(v) = v^3 (supralinear, sign
//     preserving), then xbar_i <- xbar x xbar_i + (1 - xbar) x_i (a fast running mean: x - xbar
//     is the high-passed fluctuation the perturbations cause); not in a trial's first 3 steps
//     (Miconi's code), where x jumps from its reset;
//   - at the end of a trial (the task's trial_end event, or the episode's end), with R the
//     trial's return and Rbar the running mean return of its trial type (the values of the task's
//     condition variables on the trial's last row): dW_ij = clip(eta s e_ij (R - Rbar),
//     -max_dw, max_dw), s = |Rbar| when rbar_scale (the authors' code) else 1; then Rbar <- rbar
//     Rbar + (1 - rbar) R (the first trial of a type sets Rbar = R) and e = 0. Reward above the
//     type's mean reinforces the correlations of the trial's perturbations with the inputs. No
//     change during the first `warmup` trials.
// W (core.Wh) and the biases core.bx learn (a bias is a weight from a constant rate of 1: trace
// eb_i += dx_i^3; Miconi clamps three units at x = 1, 1, -1 whose outgoing weights play this
// part); with plastic_input also core.Wx (u in place of r). The motor module and the heads stay
// as drawn. Absent connections (conn masks) stay 0. The
// observation normaliser is not updated (the network sees the raw inputs).
// State carried between iterations (saved in checkpoints, section HEBB): the traces, xbar, each
// env's trial return and step, the trial types' Rbar and the trial count; one double buffer.
// N envs run side by side, each with its own traces; their trial-end updates apply in env order.
// What it is not: no backpropagation, no critic, no MPI (refused), no printing.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"
#include "ama_internal.h"

#define MAX_TYPES 256  // trial types with their own Rbar
#define MAX_KEY 8      // condition variables that define a type

struct ama_hebb {
  int N, H, I, K;   // envs, core units, core inputs, condition variables used
  ama_actor act;    // the deterministic actor on the learner's policy
  float* ones;      // (N x H) the perturbation's gain (1)
  float* add;       // (N x H) this step's a D
  float* rprev;     // (N x H) r(t-1)
  float* dx;        // (H) x - xbar of one env
  // the state (st, n_st doubles), views:
  double* st;
  size_t n_st;
  double* e;        // (N x H x H) recurrent traces (row: receiving unit)
  double* ein;      // (N x H x I) input traces (plastic_input), else NULL
  double* eb;       // (N x H) bias traces (a constant presynaptic rate of 1)
  double* xbar;     // (N x H)
  double* ret;      // (N) the trial's return so far
  double* tstep;    // (N) steps into the trial
  double* count;    // [0] trials ended, [1] trial types known
  double* types;    // (MAX_TYPES x (2 + MAX_KEY)): trials seen, Rbar, key values
};

void ama_hebb_free(ama_hebb* E) {
  if (!E) return;
  ama_actor_free(&E->act);
  free(E->ones);
  free(E->add);
  free(E->rprev);
  free(E->dx);
  free(E->st);
  free(E);
}

ama_hebb* ama_hebb_create(ama_ppo* L, char* err, size_t err_sz) {
  ama_policy* p = &L->pol;
  const am_task* task = am_pool_task(L->pool);
  if (p->core.cfg.type != AMA_CELL_RNN || !p->readout_unit) {
    am_err(err, err_sz, "learner = hebbian needs core = rnn and readout = unit");
    return NULL;
  }
  ama_hebb* E = calloc(1, sizeof *E);
  if (!E) {
    am_err(err, err_sz, "out of memory for the Hebbian learner");
    return NULL;
  }
  const int N = L->N, H = p->cfg.core_hidden, I = p->core_in;
  E->N = N, E->H = H, E->I = I;
  E->K = task->n_conditions < MAX_KEY ? task->n_conditions : MAX_KEY;
  const int pin = L->cfg.hebb.plastic_input;
  size_t NH = (size_t)N * H;
  E->n_st = NH * H + (pin ? NH * I : 0) + 2 * NH + 2 * (size_t)N + 2 +
            (size_t)MAX_TYPES * (2 + MAX_KEY);
  E->st = calloc(E->n_st, sizeof(double));
  E->ones = malloc(sizeof(float) * NH);
  E->add = calloc(NH, sizeof(float));
  E->rprev = calloc(NH, sizeof(float));
  E->dx = calloc((size_t)H, sizeof(float));
  if (!E->st || !E->ones || !E->add || !E->rprev || !E->dx) {
    ama_hebb_free(E);
    am_err(err, err_sz, "out of memory for the Hebbian traces (%d envs x %d x %d units)", N, H, H);
    return NULL;
  }
  double* q = E->st;
  E->e = q, q += NH * H;
  if (pin) E->ein = q, q += NH * I;
  E->eb = q, q += NH;
  E->xbar = q, q += NH;
  E->ret = q, q += N;
  E->tstep = q, q += N;
  E->count = q, q += 2;
  E->types = q;
  for (size_t i = 0; i < NH; i++) E->ones[i] = 1.0f;
  ama_actor_cfg ac = {.kind = AMA_ACT_POLICY, .deterministic = 1, .seed = L->cfg.seed};
  if (ama_actor_init(&E->act, &ac, p, task, N, err, err_sz)) {
    ama_hebb_free(E);
    return NULL;
  }
  return E;
}

double* ama_hebb_state(ama_hebb* E, size_t* n) {
  *n = E->n_st;
  return E->st;
}

static double cube(double v) { return v * v * v; }

void ama_hebb_trace(int H, int I, const float* rprev, const float* u, const float* x,
                    double* xbar, float xbar_decay, float* dx, double* e, double* ein,
                    double* eb) {
  for (int i = 0; i < H; i++) dx[i] = (float)(x[i] - xbar[i]);
  for (int i = 0; i < H; i++) {
    double* ei = e + (size_t)i * H;
    if (eb) eb[i] += cube(dx[i]);
    for (int j = 0; j < H; j++) ei[j] += cube((double)rprev[j] * dx[i]);
    if (ein)
      for (int k = 0; k < I; k++) ein[(size_t)i * I + k] += cube((double)u[k] * dx[i]);
  }
  for (int i = 0; i < H; i++) xbar[i] = xbar_decay * xbar[i] + (1.0 - xbar_decay) * x[i];
}

double ama_hebb_update(float* W, const uint8_t* keep, const double* e, size_t n, double eta,
                       double adv, double max_dw) {
  double ss = 0;
  for (size_t q = 0; q < n; q++) {
    if (keep && !keep[q]) continue;
    double d = eta * e[q] * adv;
    d = d > max_dw ? max_dw : d < -max_dw ? -max_dw : d;
    W[q] += (float)d;
    ss += d * d;
  }
  return ss;
}

// The trial type of env b's ended trial: its slot in the table (a new one for an unseen key; -1
// when the table is full: the trial then has no Rbar and changes nothing).
static int type_slot(ama_hebb* E, const am_task* t, const float* vars) {
  double key[MAX_KEY];
  for (int k = 0; k < E->K; k++) key[k] = vars ? vars[t->conditions[k]] : 0.0;
  int n = (int)E->count[1];
  for (int s = 0; s < n; s++) {
    const double* row = E->types + (size_t)s * (2 + MAX_KEY);
    int same = 1;
    for (int k = 0; k < E->K && same; k++) same = row[2 + k] == key[k];
    if (same) return s;
  }
  if (n >= MAX_TYPES) return -1;
  double* row = E->types + (size_t)n * (2 + MAX_KEY);
  memset(row, 0, sizeof(double) * (2 + MAX_KEY));
  for (int k = 0; k < E->K; k++) row[2 + k] = key[k];
  E->count[1] = n + 1;
  return n;
}

int ama_hebb_iterate(ama_ppo* L, ama_iter_stats* st) {
  ama_hebb* E = L->hebb;
  ama_policy* p = &L->pol;
  ama_params* P = &p->params;
  const am_task* task = am_pool_task(L->pool);
  am_batch* bt = am_pool_batch(L->pool);
  const ama_hebb_cfg* hc = &L->cfg.hebb;
  const int N = L->N, H = E->H, I = E->I, T = L->T;
  const float alpha = p->core.cfg.dt / p->core.cfg.tau;
  const size_t HH = (size_t)H * H;
  float* W = P->w + P->t[p->core.iWh].offset;
  float* Wx = P->w + P->t[p->core.iWx].offset;
  float* bx = P->w + P->t[p->core.ibx].offset;
  const uint8_t* keepW = P->keep ? P->keep + P->t[p->core.iWh].offset : NULL;
  const int frozen = P->t[p->core.iWh].frozen;
  double t0 = am_now();
  L->err[0] = 0;
  L->hook_failed = 0;
  if (L->comm) return am_err(L->err, sizeof L->err, "learner = hebbian does not run on MPI ranks");
  memcpy(E->act.mask, L->next_mask, sizeof(float) * N);  // (restored by a checkpoint)
  p->unit_gain[0] = E->ones;
  p->unit_add[0] = E->add;
  const int sev = L->success_ev[0], tev = L->success_ev[1];
  int eps = 0, ep_len = 0, tr_count = 0, tr_succ = 0;
  double ep_ret = 0, dw2 = 0;
  for (int t = 0; t < T; t++) {
    // exploration: the perturbations of this step, a D on x after the cell's step
    for (int b = 0; b < N; b++) {
      float* ad = E->add + (size_t)b * H;
      for (int i = 0; i < H; i++) {
        ad[i] = 0.0f;
        if (am_rng_uniform(&L->rng) < hc->pert_prob)
          ad[i] = alpha * (float)(hc->pert_amp * (2.0 * am_rng_uniform(&L->rng) - 1.0));
      }
      // r(t-1): 0 where the episode starts (the policy resets its state there)
      if (E->act.mask[b] == 0.0f) memset(E->rprev + (size_t)b * H, 0, sizeof(float) * H);
      else memcpy(E->rprev + (size_t)b * H, p->core_y + (size_t)b * H, sizeof(float) * H);
    }
    ama_actor_act(&E->act, bt->obs, bt->actions);
    // the traces: x(t) = the core's state (perturbation included), u(t) its input
    for (int b = 0; b < N; b++) {
      if (E->tstep[b] < 3) continue;
      ama_hebb_trace(H, I, E->rprev + (size_t)b * H, p->a_core_x + (size_t)b * I,
                     p->core_s + (size_t)b * H, E->xbar + (size_t)b * H, hc->xbar, E->dx,
                     E->e + (size_t)b * HH, E->ein ? E->ein + (size_t)b * H * I : NULL,
                     E->eb + (size_t)b * H);
    }
    for (int b = 0; b < N; b++)  // (xbar follows x in the first steps too)
      if (E->tstep[b] < 3)
        for (int i = 0; i < H; i++)
          E->xbar[(size_t)b * H + i] = hc->xbar * E->xbar[(size_t)b * H + i] +
                                       (1.0 - hc->xbar) * p->core_s[(size_t)b * H + i];
    am_pool_step(L->pool);
    ama_actor_observe(&E->act, bt);
    if (L->hook && !L->hook_failed && L->hook(L->hook_ctx, L->err, sizeof L->err))
      L->hook_failed = 1;
    for (int b = 0; b < N; b++) {
      E->ret[b] += bt->rewards[b];
      E->tstep[b] += 1;
      L->run_return[b] += bt->rewards[b];
      L->run_length[b]++;
      const uint32_t ev = bt->events[b];
      const int ended = bt->terminated[b] || bt->truncated[b];
      if (sev >= 0 && (ev >> sev) & 1u) L->run_success[b]++;
      int trial_end = tev >= 0 ? (int)((ev >> tev) & 1u) : ended;
      if (tev >= 0 && trial_end) {
        tr_count++;
        tr_succ += sev >= 0 && ((ev >> sev) & 1u);
      }
      if (trial_end || ended) {
        const double R = E->ret[b];
        int s = type_slot(E, task, bt->vars ? bt->vars + (size_t)b * task->n_vars : NULL);
        if (s >= 0) {
          double* row = E->types + (size_t)s * (2 + MAX_KEY);
          if (row[0] == 0) row[1] = R;  // a new type: its first trial sets the mean
          if (E->count[0] >= hc->warmup && row[0] > 0 && !frozen) {
            const double adv = (hc->rbar_scale ? fabs(row[1]) : 1.0) * (R - row[1]);
            dw2 += ama_hebb_update(W, keepW, E->e + (size_t)b * HH, HH, hc->eta, adv, hc->max_dw);
            dw2 += ama_hebb_update(bx, NULL, E->eb + (size_t)b * H, (size_t)H, hc->eta, adv,
                                   hc->max_dw);
            if (E->ein)
              dw2 += ama_hebb_update(Wx, NULL, E->ein + (size_t)b * H * I, (size_t)H * I,
                                     hc->eta, adv, hc->max_dw);
          }
          row[1] = hc->rbar * row[1] + (1.0 - hc->rbar) * R;
          row[0] += 1;
        }
        memset(E->e + (size_t)b * HH, 0, sizeof(double) * HH);
        if (E->ein) memset(E->ein + (size_t)b * H * I, 0, sizeof(double) * H * I);
        memset(E->eb + (size_t)b * H, 0, sizeof(double) * H);
        E->ret[b] = 0;
        E->tstep[b] = 0;
        E->count[0] += 1;
      }
      if (ended) {
        eps++;
        ep_ret += L->run_return[b];
        ep_len += L->run_length[b];
        if (tev < 0) tr_count++, tr_succ += L->run_success[b] > 0;
        L->run_return[b] = 0;
        L->run_length[b] = 0;
        L->run_success[b] = 0;
      }
    }
  }
  p->unit_gain[0] = p->unit_add[0] = NULL;
  memcpy(L->next_mask, E->act.mask, sizeof(float) * N);
  L->env_steps += (int64_t)T * N;
  L->iteration++;
  double t1 = am_now();
  if (st) {
    memset(st, 0, sizeof *st);
    st->env_steps = L->env_steps;
    st->iteration = L->iteration;
    st->episodes = eps;
    st->mean_return = eps ? ep_ret / eps : NAN;
    st->mean_length = eps ? (double)ep_len / eps : NAN;
    st->success = tr_count > 0 && sev >= 0 ? (double)tr_succ / tr_count : NAN;
    st->lr = hc->eta;
    st->rollout_s = t1 - t0;
    st->learn_s = 0;
    st->grad_norm = sqrt(dw2);  // the norm of this iteration's weight changes
    st->explained_var = NAN;
    st->action_std = 0;  // the policy acts with its readout, exploring by perturbations
  }
  return L->hook_failed ? -1 : 0;
}
