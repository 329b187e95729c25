// ama_dist.c: data-parallel PPO over a communicator (ama_comm, implemented outside the library):
// the start of a run (configuration check, rank 0's parameters to every rank), and what each
// iteration combines: observation normaliser statistics, minibatch gradients, reward statistics,
// episode and loss statistics, and the check that every rank holds the same parameters.
// What it is not: no MPI (tools/mpi_comm.c), no checkpoint format (ama_ckpt.c), no printing.
//
// Reproducibility: results must not depend on how the communication library orders its
// reductions. Statistics are gathered and merged here in rank order; so is the gradient, the one
// large message, up to GATHER_MAX ranks (each rank's floats, summed in rank order); beyond, where
// gathering would move more bytes than reducing, it is summed as 64-bit fixed-point integers
// (exact, so any order gives the same sum) with a power-of-two scale taken from the largest
// element over all ranks (ama_dist_grad).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"
#include "ama_internal.h"

// The gradient's fixed point (ama_dist_grad): exponents rounded up to multiples of Q; bins of
// exponents E_MIN.., the last one counting non-finite gradients.
enum { Q = 8, E_MIN = -160, N_BINS = 300, BIN_NONFINITE = N_BINS - 1 };
// Up to this many ranks the gradient is gathered rather than reduced: a ring allgather of 4-byte
// floats moves 4 (p - 1) bytes per parameter into each rank, the fixed-point allreduce
// 16 (p - 1) / p, so gathering moves no more up to 4 ranks, in half the steps, and needs no
// encoding (2 ranks: 4 bytes against 8).
enum { GATHER_MAX = 4 };

uint64_t ama_rank_seed(uint64_t seed, int rank) {
  return rank ? seed + 0x9e3779b97f4a7c15ULL * (uint64_t)rank : seed;
}

// The first line where two configuration texts differ, as "key: a vs b" into out ("" if none).
static void first_diff(const char* a, const char* b, char* out, size_t n) {
  out[0] = 0;
  while (*a || *b) {
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la != lb || memcmp(a, b, la)) {
      snprintf(out, n, "'%.*s' (rank 0: '%.*s')", (int)(la > 120 ? 120 : la), a,
               (int)(lb > 120 ? 120 : lb), b);
      return;
    }
    a += la + (a[la] ? 1 : 0);
    b += lb + (b[lb] ? 1 : 0);
  }
}

int ama_dist_agree(const ama_comm* c, const char* msg, char* err, size_t err_sz) {
  enum { M = 400 };
  char mine[M];
  snprintf(mine, M, "%s", msg);
  char* all = calloc((size_t)c->size, M);
  if (!all) {
    snprintf(err, err_sz, "out of memory");
    return -2;
  }
  if (c->allgather(c->ctx, mine, all, M, err, err_sz)) {
    free(all);
    return -2;
  }
  int bad = -1;
  for (int r = 0; r < c->size && bad < 0; r++)
    if (all[(size_t)r * M]) {
      bad = r;
      snprintf(err, err_sz, "rank %d: %.*s", r, M - 1, all + (size_t)r * M);
    }
  free(all);
  return bad;
}

int ama_ppo_set_comm(ama_ppo* L, const ama_comm* c, char* err, size_t err_sz) {
  if (!c || c->size <= 1) return 0;
  if (c->rank < 0 || c->rank >= c->size || !c->allgather || !c->sum_i64 || !c->bcast) {
    snprintf(err, err_sz, "invalid communicator (rank %d of %d)", c->rank, c->size);
    return -1;
  }
  // the configurations (env count included) must be rank 0's
  enum { CONF = 16384 };
  char* mine = calloc(2, CONF);
  if (!mine) {
    snprintf(err, err_sz, "out of memory");
    return -1;
  }
  char* root = mine + CONF;
  ama_config_write(&L->cfg, mine, CONF);
  memcpy(root, mine, CONF);
  if (c->bcast(c->ctx, root, CONF, err, err_sz)) {
    free(mine);
    return -1;
  }
  char diff[300], msg[400] = "";
  first_diff(mine, root, diff, sizeof diff);
  if (diff[0])
    snprintf(msg, sizeof msg, "its configuration differs from rank 0's: %s; every rank must be "
             "started with the same flags and files", diff);
  free(mine);
  if (ama_dist_agree(c, msg, err, err_sz) != -1) return -1;
  // the exchange's buffer: every rank's gradient (gathered) or the fixed-point sum and bins
  const size_t n = L->pol.params.count;
  L->gsum = malloc(c->size <= GATHER_MAX ? sizeof(float) * n * (size_t)c->size
                                         : ama_grad_message_bytes(n, c->size));
  if (!L->gsum) {
    snprintf(err, err_sz, "out of memory");
    return -1;
  }
  // rank 0's parameters and optimiser state everywhere (the same seed gives the same ones, but a
  // module loaded from a file on one node only must not make the ranks differ)
  ama_params* P = &L->pol.params;
  size_t bytes = sizeof(float) * P->count;
  if (c->bcast(c->ctx, P->w, bytes, err, err_sz) || c->bcast(c->ctx, P->m, bytes, err, err_sz) ||
      c->bcast(c->ctx, P->v, bytes, err, err_sz))
    return -1;
  ama_cell_prepare(&L->pol.core, P);
  ama_cell_prepare(&L->pol.motor, P);
  am_rng_seed(&L->rng, ama_rank_seed(L->cfg.seed, c->rank), 0x6c6561726e6572ULL);  // "learner"
  L->comm = c;
  return 0;
}

int ama_dist_obs_norm(ama_ppo* L) {
  const ama_comm* c = L->comm;
  ama_norm* z = &L->pol.norm;
  const int n = z->n, rows = L->T * L->N;
  double* buf = malloc(sizeof(double) * 2 * (size_t)n * (size_t)(c->size + 1));
  if (!buf) {
    snprintf(L->err, sizeof L->err, "out of memory for the normaliser statistics");
    return -1;
  }
  double* all = buf + 2 * (size_t)n;
  for (int i = 0; i < n; i++) ama_col_stats(L->raw_obs, rows, n, i, &buf[i], &buf[n + i]);
  if (c->allgather(c->ctx, buf, all, sizeof(double) * 2 * (size_t)n, L->err, sizeof L->err)) {
    free(buf);
    return -1;
  }
  for (int r = 0; r < c->size; r++) {
    const double* s = all + 2 * (size_t)n * (size_t)r;
    for (int i = 0; i < n; i++)
      if (!z->frozen[i]) ama_chan_merge(&z->counts[i], &z->mean[i], &z->m2[i], rows, s[i], s[n + i]);
    z->count += rows;
  }
  ama_norm_refresh(z);
  free(buf);
  return 0;
}

// The gradient's fixed point: element g is sent as llrint(g * 2^(62 - Eq - k)) where 2^k >= size
// and Eq is the largest element's binary exponent over all ranks (|g| < 2^E) rounded up to a
// multiple of Q: the sum over the ranks stays below 2^62 and keeps about 62 - Q - k bits below the
// largest element, far more than a float's 24. The exponents travel in the same sum, one count per
// exponent (bins), so one allreduce usually does: each rank guesses Eq from the last minibatch,
// and only when the bins show that Eq changed is the sum done again with the new one. The result
// depends on Eq alone (never on the guess), so runs and resumed runs give the same bits.

// Fills the first n entries of L->gsum with g at exponent eq (zeros when this rank's largest
// element, of exponent e_loc, does not fit: the sum is then redone at the right eq).
static void encode(ama_ppo* L, int eq, int k, int e_loc) {
  const float* g = L->pol.params.g;
  const size_t n = L->pol.params.count;
  // a product with an exact power of two scales exactly as ldexp does, without a call per element
  const double scale = ldexp(1.0, 62 - eq - k);
  if (e_loc > eq) memset(L->gsum, 0, sizeof(int64_t) * n);
  else
    for (size_t i = 0; i < n; i++) L->gsum[i] = (int64_t)llrint((double)g[i] * scale);
}

// Up to GATHER_MAX ranks: every rank's float gradient, summed in rank order (so the same bits
// whatever the library does) and divided by the rank count. Row by row, so that it vectorises.
static int grad_gathered(ama_ppo* L) {
  const ama_comm* c = L->comm;
  const size_t n = L->pol.params.count;
  if (c->allgather(c->ctx, L->pol.params.g, L->gsum, sizeof(float) * n, L->err, sizeof L->err))
    return -1;
  float* restrict g = L->pol.params.g;
  const float* restrict all = (const float*)L->gsum;
  memcpy(g, all, sizeof(float) * n);
  for (int r = 1; r < c->size; r++) {
    const float* restrict a = all + (size_t)r * n;
    for (size_t i = 0; i < n; i++) g[i] += a[i];
  }
  const float inv = 1.0f / (float)c->size;  // exact for 2 and 4 ranks
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    g[i] *= inv;
    uint32_t u;
    memcpy(&u, &g[i], sizeof u);
    bad |= (u & 0x7f800000u) == 0x7f800000u;  // Inf or NaN
  }
  if (bad)  // a rank's gradient is not finite: so is the mean (as in one process)
    for (size_t i = 0; i < n; i++) g[i] = NAN;
  return 0;
}

size_t ama_grad_message_bytes(size_t params, int ranks) {
  return ranks <= GATHER_MAX ? sizeof(float) * params : sizeof(int64_t) * (params + N_BINS);
}

int ama_ppo_grad_mean(ama_ppo* L) {
  return L->comm ? ama_dist_grad(L) : 0;
}

int ama_dist_grad(ama_ppo* L) {
  const ama_comm* c = L->comm;
  if (c->size <= GATHER_MAX) return grad_gathered(L);
  ama_params* P = &L->pol.params;
  float* g = P->g;
  const size_t n = P->count;
  int k = 0;
  while ((1 << k) < c->size) k++;
  double mx = 0;
  for (size_t i = 0; i < n; i++) {
    double a = fabs((double)g[i]);
    if (a != a) a = INFINITY;
    if (a > mx) mx = a;
  }
  int e_loc = INT32_MIN;  // this rank's largest exponent (none: all zero)
  if (mx > 0 && isfinite(mx)) frexp(mx, &e_loc);
  encode(L, L->g_eq, k, isfinite(mx) ? e_loc : INT32_MAX);
  int64_t* bins = L->gsum + n;
  memset(bins, 0, sizeof(int64_t) * N_BINS);
  if (!isfinite(mx)) bins[BIN_NONFINITE] = 1;
  else if (mx > 0) bins[e_loc - E_MIN] = 1;
  if (c->sum_i64(c->ctx, L->gsum, n + N_BINS, L->err, sizeof L->err)) return -1;
  if (bins[BIN_NONFINITE]) {  // a rank's gradient is not finite: so is the mean (as in one process)
    for (size_t i = 0; i < n; i++) g[i] = NAN;
    return 0;
  }
  int E = INT32_MIN;
  for (int b = BIN_NONFINITE - 1; b >= 0 && E == INT32_MIN; b--)
    if (bins[b]) E = b + E_MIN;
  if (E == INT32_MIN) return 0;  // every rank's gradient is zero
  int eq = E >= 0 ? (E + Q - 1) / Q * Q : -(-E / Q * Q);  // E rounded up to a multiple of Q
  if (eq != L->g_eq) {  // the guess was wrong: again at the right exponent
    L->g_eq = eq;
    encode(L, eq, k, e_loc);
    if (c->sum_i64(c->ctx, L->gsum, n, L->err, sizeof L->err)) return -1;
  }
  const double unscale = ldexp(1.0, -(62 - eq - k));  // exact, as in encode
  if ((c->size & (c->size - 1)) == 0) {  // a power of two: the mean's division is exact too
    const double s = unscale / c->size;
    for (size_t i = 0; i < n; i++) g[i] = (float)((double)L->gsum[i] * s);
  } else {
    for (size_t i = 0; i < n; i++) g[i] = (float)((double)L->gsum[i] * unscale / c->size);
  }
  return 0;
}

// The checksum of the parameters and their Adam state.
static uint32_t params_crc(const ama_params* P) {
  uint32_t crc = am_crc32(0, P->w, sizeof(float) * P->count);
  crc = am_crc32(crc, P->m, sizeof(float) * P->count);
  return am_crc32(crc, P->v, sizeof(float) * P->count);
}

// Compares every rank's checksum (crc[r * stride]) with rank 0's: 0, or -1 naming the first rank
// that differs.
static int check_crcs(const ama_ppo* L, const double* crc, size_t stride, char* err,
                      size_t err_sz) {
  for (int r = 1; r < L->comm->size; r++)
    if (crc[(size_t)r * stride] != crc[0]) {
      snprintf(err, err_sz,
               "the parameters of rank %d differ from rank 0's after update %lld (checksums %08x "
               "and %08x): the ranks no longer train the same model. Every rank must run the same "
               "animat build on the same kind of CPU",
               r, (long long)L->pol.params.adam_t, (uint32_t)crc[(size_t)r * stride],
               (uint32_t)crc[0]);
      return -1;
    }
  return 0;
}

int ama_ppo_check_ranks(ama_ppo* L, uint32_t* crc, char* err, size_t err_sz) {
  double mine = params_crc(&L->pol.params);
  *crc = (uint32_t)mine;
  if (!L->comm) return 0;
  double* all = malloc(sizeof(double) * (size_t)L->comm->size);
  if (!all) return am_err(err, err_sz, "out of memory");
  int rc = L->comm->allgather(L->comm->ctx, &mine, all, sizeof mine, err, err_sz);
  if (!rc) rc = check_crcs(L, all, 1, err, err_sz);
  free(all);
  return rc;
}

int ama_dist_mean(ama_ppo* L, double* x) {
  const ama_comm* c = L->comm;
  double* all = malloc(sizeof(double) * (size_t)c->size);
  if (!all) {
    snprintf(L->err, sizeof L->err, "out of memory");
    return -1;
  }
  if (c->allgather(c->ctx, x, all, sizeof(double), L->err, sizeof L->err)) {
    free(all);
    return -1;
  }
  double s = 0;
  for (int r = 0; r < c->size; r++) s += all[r];  // in rank order: the same sum on every rank
  *x = s / c->size;
  free(all);
  return 0;
}

// The values each rank sends at the end of an iteration.
enum {
  S_EP_COUNT, S_EP_RETURN, S_EP_LENGTH, S_EP_SUCCESS, S_EP_UNSTABLE, S_TR_COUNT, S_TR_SUCCESS,
  S_LOSS, S_PG, S_VL, S_ENT, S_KL, S_CLIP, S_AKL, S_RR_COUNT, S_RR_MEAN, S_RR_M2, S_CRC, S_N
};

int ama_dist_iter_end(ama_ppo* L, ama_ppo_stats* acc) {
  const ama_comm* c = L->comm;
  uint32_t crc = params_crc(&L->pol.params);
  double mine[S_N] = {
      [S_EP_COUNT] = L->ep_count,     [S_EP_RETURN] = L->ep_return,
      [S_EP_LENGTH] = (double)L->ep_length, [S_EP_SUCCESS] = L->ep_success,
      [S_EP_UNSTABLE] = L->ep_unstable, [S_TR_COUNT] = L->tr_count,
      [S_TR_SUCCESS] = L->tr_success, [S_LOSS] = acc->loss,
      [S_PG] = acc->pg_loss,          [S_VL] = acc->v_loss,
      [S_ENT] = acc->entropy,         [S_KL] = acc->approx_kl,
      [S_CLIP] = acc->clip_frac,      [S_AKL] = acc->anchor_kl,
      [S_RR_COUNT] = L->it_count,
      [S_RR_MEAN] = L->it_mean,       [S_RR_M2] = L->it_m2,
      [S_CRC] = crc};
  double* all = malloc(sizeof mine * (size_t)c->size);
  if (!all) {
    snprintf(L->err, sizeof L->err, "out of memory");
    return -1;
  }
  if (c->allgather(c->ctx, mine, all, sizeof mine, L->err, sizeof L->err)) {
    free(all);
    return -1;
  }
  double sum[S_N] = {0};
  for (int r = 0; r < c->size; r++)  // in rank order
    for (int j = 0; j < S_N; j++) sum[j] += all[(size_t)r * S_N + j];
  if (check_crcs(L, all + S_CRC, S_N, L->err, sizeof L->err)) {
    free(all);
    return -1;
  }
  if (L->cfg.ppo.norm_reward) {  // the statistics before this rollout, then every rank's rollout
    L->rr_count = L->rr0_count, L->rr_mean = L->rr0_mean, L->rr_m2 = L->rr0_m2;
    for (int r = 0; r < c->size; r++) {
      const double* s = all + (size_t)r * S_N;
      if (s[S_RR_COUNT] > 0)
        ama_chan_merge(&L->rr_count, &L->rr_mean, &L->rr_m2, s[S_RR_COUNT], s[S_RR_MEAN],
                       s[S_RR_M2]);
    }
  }
  free(all);
  L->ep_count = (int)sum[S_EP_COUNT];
  L->ep_return = sum[S_EP_RETURN];
  L->ep_length = (int64_t)sum[S_EP_LENGTH];
  L->ep_success = (int)sum[S_EP_SUCCESS];
  L->ep_unstable = (int)sum[S_EP_UNSTABLE];
  L->tr_count = (int)sum[S_TR_COUNT];
  L->tr_success = (int)sum[S_TR_SUCCESS];
  acc->loss = sum[S_LOSS] / c->size;
  acc->pg_loss = sum[S_PG] / c->size;
  acc->v_loss = sum[S_VL] / c->size;
  acc->entropy = sum[S_ENT] / c->size;
  acc->approx_kl = sum[S_KL] / c->size;
  acc->clip_frac = sum[S_CLIP] / c->size;
  acc->anchor_kl = sum[S_AKL] / c->size;
  return 0;
}
