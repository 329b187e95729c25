// ama_nn.c: network modules (linear, tanh layer, GRU, LSTM, leaky rate RNN with Dale's law), the
// flat parameter buffer and Adam. See ama_nn.h for shapes and conventions.
// What it is not: no policy logic, no allocation inside forward/backward.
#include "ama_nn.h"

#include "am_sim.h"  // am_err
#include "ama_gemm.h"

#include <cblas.h>
#undef I  // OpenBLAS pulls in <complex.h>; I is a size here
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Element-wise loops (the gates, Adam) take restrict pointers so that they vectorise, and are
// compiled for AVX-512, AVX2 and baseline x86-64, picked at load time (ifunc). The library is built
// with -ffp-contract=off, so every variant gives the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AMA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AMA_CLONES
#endif

//---------------------------------- flat parameter buffer -----------------------------------------

int ama_params_add(ama_params* p, const char* name, int rows, int cols) {
  if (p->n_tensors >= AMA_MAX_TENSORS || p->w) return -1;
  ama_tensor* t = &p->t[p->n_tensors];
  memset(t, 0, sizeof(*t));
  snprintf(t->name, sizeof(t->name), "%s", name);
  t->rows = rows;
  t->cols = cols;
  t->offset = p->count;
  p->count += (size_t)rows * (size_t)cols;
  return p->n_tensors++;
}

int ama_params_alloc(ama_params* p, char* err, size_t err_sz) {
  size_t n = p->count ? p->count : 1;
  p->w = calloc(n, sizeof(float));
  p->g = calloc(n, sizeof(float));
  p->m = calloc(n, sizeof(float));
  p->v = calloc(n, sizeof(float));
  p->adam_t = 0;
  if (!p->w || !p->g || !p->m || !p->v) {
    ama_params_free(p);
    return am_err(err, err_sz, "out of memory for %zu parameters", p->count);
  }
  return 0;
}

void ama_params_free(ama_params* p) {
  free(p->w);
  free(p->g);
  free(p->m);
  free(p->v);
  free(p->keep);
  p->w = p->g = p->m = p->v = NULL;
  p->keep = NULL;
}

void ama_params_mask_apply(ama_params* p) {
  if (!p->keep) return;
  for (size_t i = 0; i < p->count; i++)
    if (!p->keep[i]) p->w[i] = p->g[i] = p->m[i] = p->v[i] = 0.0f;
}

int ama_params_find(const ama_params* p, const char* name) {
  for (int i = 0; i < p->n_tensors; i++)
    if (strcmp(p->t[i].name, name) == 0) return i;
  return -1;
}

float* ama_params_view(const ama_params* p, const char* name) {
  int i = ama_params_find(p, name);
  return i < 0 ? NULL : p->w + p->t[i].offset;
}

double ama_grad_norm(ama_params* p) {
  for (int i = 0; i < p->n_tensors; i++)
    if (p->t[i].frozen)
      memset(p->g + p->t[i].offset, 0, sizeof(float) * (size_t)p->t[i].rows * p->t[i].cols);
  if (p->keep)
    for (size_t i = 0; i < p->count; i++)
      if (!p->keep[i]) p->g[i] = 0.0f;
  double s = 0;
  for (size_t i = 0; i < p->count; i++) s += (double)p->g[i] * p->g[i];
  return sqrt(s);
}

void ama_grad_scale(ama_params* p, float s) {
  for (size_t i = 0; i < p->count; i++) p->g[i] *= s;
}

// Adam's update of n weights, element by element.
AMA_CLONES static void adam_range(size_t n, float* restrict w, float* restrict m,
                                  float* restrict v, const float* restrict g, float beta1,
                                  float beta2, float step, float rc2, float eps) {
  for (size_t i = 0; i < n; i++) {
    float mi = m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
    float vi = v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
    w[i] -= step * mi / (sqrtf(vi) * rc2 + eps);
  }
}

void ama_adam_begin(ama_params* p) { p->adam_t++; }

void ama_adam_part(ama_params* p, float lr, float beta1, float beta2, float eps, int part,
                   int n_parts) {
  float c1 = 1.0f - powf(beta1, (float)p->adam_t);
  float c2 = 1.0f - powf(beta2, (float)p->adam_t);
  float step = lr / c1;
  float rc2 = 1.0f / sqrtf(c2);
  size_t lo = p->count * (size_t)part / (size_t)n_parts;
  size_t hi = p->count * (size_t)(part + 1) / (size_t)n_parts;
  for (int k = 0; k < p->n_tensors; k++) {
    if (p->t[k].frozen) continue;
    size_t a = p->t[k].offset, b = a + (size_t)p->t[k].rows * p->t[k].cols;
    a = a > lo ? a : lo;
    b = b < hi ? b : hi;
    if (a >= b) continue;
    adam_range(b - a, p->w + a, p->m + a, p->v + a, p->g + a, beta1, beta2, step, rc2, eps);
    if (p->keep)  // absent connections stay exactly 0 (whatever the update made of them)
      for (size_t i = a; i < b; i++)
        if (!p->keep[i]) p->w[i] = p->m[i] = p->v[i] = 0.0f;
  }
}

void ama_adam_step(ama_params* p, float lr, float beta1, float beta2, float eps) {
  ama_adam_begin(p);
  ama_adam_part(p, lr, beta1, beta2, eps, 0, 1);
}

//---------------------------------- linear ------------------------------------------------------

void ama_linear_forward(float* y, const float* x, const float* W, const float* b, int N, int I,
                        int O, int accumulate) {
  if (N <= 0) return;
  if (!accumulate) {
    if (b)
      for (int n = 0; n < N; n++) memcpy(y + (size_t)n * O, b, sizeof(float) * O);
    else
      memset(y, 0, sizeof(float) * (size_t)N * O);
  } else if (b) {
    for (int n = 0; n < N; n++)
      for (int o = 0; o < O; o++) y[(size_t)n * O + o] += b[o];
  }
  if (I > 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, x, I, W, I, 1.0f, y, O);
}

void ama_linear_backward(float* dx, float* dW, float* db, const float* dy, const float* x,
                         const float* W, int N, int I, int O, int accumulate_dx) {
  if (N <= 0) return;
  if (dW && I > 0)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N, 1.0f, dy, O, x, I, 1.0f, dW, I);
  if (db)
    for (int n = 0; n < N; n++)
      for (int o = 0; o < O; o++) db[o] += dy[(size_t)n * O + o];
  if (dx && I > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O, 1.0f, dy, O, W, I,
                accumulate_dx ? 1.0f : 0.0f, dx, I);
}

// W^T (W: O x I) packed for the forward pass, reusing the last packing when W is bit for bit the
// weights it was made from (`src`): acting calls the forward once per step with unchanged weights.
static const float* packed_wt(const float* W, int O, int I, float* src, float* packed,
                              int* valid) {
  size_t n = (size_t)O * I;
  if (!*valid || memcmp(src, W, sizeof(float) * n) != 0) {
    memcpy(src, W, sizeof(float) * n);
    ama_gemm_pack(I, O, W, I, 1, packed);
    *valid = 1;
  }
  return packed;
}

// The recurrent operand of every step (T*B rows) and its row stride: relu(x) in k->hin for the rate
// RNN, else h, the first H of each incoming state row in k->s_in.
static const float* recurrent_operand(const ama_cell* c, const ama_cell_cache* k, size_t* ld) {
  int rnn = c->cfg.type == AMA_CELL_RNN;
  *ld = rnn ? (size_t)c->cfg.hidden : (size_t)c->S;
  return rnn ? k->hin : k->s_in;
}

// The backward products for the cells, through ama_gemm with the cache's packing buffer. x has
// row stride ldx (>= I).
static void lin_bwd(float* dx, float* dW, float* db, const float* dy, const float* x, size_t ldx,
                    const float* W, int N, int I, int O, float* pack) {
  if (N <= 0) return;
  // B operands whose width is a multiple of the panel are read in place, others packed first
  if (dW && ama_gemm_direct(O, I, N, dy, 1, O, x, ldx, 1.0f, dW, I)) {  // dW (O x I) += dy^T x
    ama_gemm_pack(N, I, x, ldx, 0, pack);
    ama_gemm(O, I, N, dy, 1, O, pack, 1.0f, dW, I);
  }
  if (db)
    for (int n = 0; n < N; n++)
      for (int o = 0; o < O; o++) db[o] += dy[(size_t)n * O + o];
  if (dx && ama_gemm_direct(N, I, O, dy, O, 1, W, I, 0.0f, dx, I)) {  // dx (N x I) = dy W
    ama_gemm_pack(O, I, W, I, 0, pack);
    ama_gemm(N, I, O, dy, O, 1, pack, 0.0f, dx, I);
  }
}

//---------------------------------- cells ---------------------------------------------------------

const char* ama_cell_type_name(ama_cell_type t) {
  switch (t) {
    case AMA_CELL_MLP: return "mlp";
    case AMA_CELL_GRU: return "gru";
    case AMA_CELL_LSTM: return "lstm";
    case AMA_CELL_RNN: return "rnn";
  }
  return "?";
}

int ama_cell_type_parse(const char* s, ama_cell_type* out) {
  static const char* names[] = {"mlp", "gru", "lstm", "rnn"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (ama_cell_type)i;
      return 0;
    }
  return -1;
}

int ama_dale_excitatory(const ama_cell_cfg* cfg) {
  if (!cfg->dale || cfg->type != AMA_CELL_RNN) return 0;
  return (int)lroundf(cfg->exc_frac * (float)cfg->hidden);
}

int ama_cell_init(ama_cell* c, const ama_cell_cfg* cfg, ama_params* p, const char* prefix,
                  char* err, size_t err_sz) {
  memset(c, 0, sizeof(*c));
  c->cfg = *cfg;
  int H = cfg->hidden, I = cfg->in;
  if (H < 1 || I < 0) return am_err(err, err_sz, "%s: bad cell size in=%d hidden=%d", prefix, I, H);
  if (cfg->type == AMA_CELL_RNN && !(cfg->tau > 0 && cfg->dt > 0 && cfg->dt <= cfg->tau))
    return am_err(err, err_sz, "%s: rate RNN needs 0 < dt <= tau (dt=%g tau=%g)", prefix, cfg->dt,
                  cfg->tau);
  if (cfg->dale && cfg->type != AMA_CELL_RNN)
    return am_err(err, err_sz, "%s: Dale's law is implemented by the rate RNN cell only (this is a %s "
                  "cell)", prefix, cfg->type == AMA_CELL_GRU ? "gru" : cfg->type == AMA_CELL_LSTM ? "lstm" : "mlp");
  if (cfg->dale && !(cfg->exc_frac > 0 && cfg->exc_frac < 1))
    return am_err(err, err_sz, "%s: Dale's law needs 0 < exc_frac < 1 (got %g)", prefix,
                  cfg->exc_frac);
  c->G = cfg->type == AMA_CELL_GRU ? 3 : cfg->type == AMA_CELL_LSTM ? 4 : 1;
  c->S = cfg->type == AMA_CELL_MLP ? 0 : cfg->type == AMA_CELL_LSTM ? 2 * H : H;
  char name[AMA_TNAME_LEN];
  c->iWx = c->iWh = c->ibx = c->ibh = -1;
  snprintf(name, sizeof(name), "%s.Wx", prefix);
  c->iWx = ama_params_add(p, name, c->G * H, I);
  snprintf(name, sizeof(name), "%s.bx", prefix);
  c->ibx = ama_params_add(p, name, c->G * H, 1);
  if (cfg->type != AMA_CELL_MLP) {
    snprintf(name, sizeof(name), "%s.Wh", prefix);
    c->iWh = ama_params_add(p, name, c->G * H, H);
  }
  if (cfg->type == AMA_CELL_GRU) {
    snprintf(name, sizeof(name), "%s.bh", prefix);
    c->ibh = ama_params_add(p, name, c->G * H, 1);
  }
  if (c->iWx < 0 || c->ibx < 0 || (cfg->type != AMA_CELL_MLP && c->iWh < 0) ||
      (cfg->type == AMA_CELL_GRU && c->ibh < 0))
    return am_err(err, err_sz, "%s: too many tensors", prefix);
  if (cfg->type == AMA_CELL_RNN && cfg->dale) {
    c->Wh_eff = calloc((size_t)2 * H * H, sizeof(float));  // effective W, then its gradient
    c->sign = calloc((size_t)H, sizeof(float));
    if (!c->Wh_eff || !c->sign) {
      ama_cell_free(c);
      return am_err(err, err_sz, "%s: out of memory", prefix);
    }
    int ne = ama_dale_excitatory(cfg);
    for (int j = 0; j < H; j++) c->sign[j] = j < ne ? 1.0f : -1.0f;
  }
  return 0;
}

void ama_cell_free(ama_cell* c) {
  free(c->Wh_eff);
  free(c->sign);
  c->Wh_eff = c->sign = NULL;
}

void ama_cell_init_weights(ama_cell* c, ama_params* p, am_rng* rng) {
  int H = c->cfg.hidden, I = c->cfg.in, G = c->G;
  float* Wx = p->w + p->t[c->iWx].offset;
  float* bx = p->w + p->t[c->ibx].offset;
  float bound = c->cfg.type == AMA_CELL_MLP ? 1.0f / sqrtf((float)(I > 0 ? I : 1))
                                            : 1.0f / sqrtf((float)H);
  if (c->cfg.type == AMA_CELL_RNN) bound = 1.0f / sqrtf((float)(I > 0 ? I : 1));
  for (size_t i = 0; i < (size_t)G * H * I; i++) Wx[i] = (float)((2 * am_rng_uniform(rng) - 1) * bound);
  memset(bx, 0, sizeof(float) * G * H);
  if (c->cfg.type == AMA_CELL_MLP) {
    for (size_t i = 0; i < (size_t)G * H; i++) bx[i] = 0;
    return;
  }
  float* Wh = p->w + p->t[c->iWh].offset;
  if (c->cfg.type == AMA_CELL_RNN) {
    // Normal(0, g^2/H), g = 0.5 (cfg.gain): stable leaky dynamics (1.5: Miconi's edge of chaos). With Dale's law the raw magnitudes of
    // inhibitory columns are scaled by n_exc/n_inh so excitation and inhibition balance.
    double g = c->cfg.gain > 0 ? c->cfg.gain : 0.5;
    int ne = 0;
    if (c->sign)
      for (int j = 0; j < H; j++) ne += c->sign[j] > 0;
    for (int i = 0; i < H; i++)
      for (int j = 0; j < H; j++) {
        double w = am_rng_normal(rng) * g / sqrt((double)H);
        if (c->sign) {
          w = fabs(w);
          if (c->sign[j] < 0 && ne < H) w *= (double)ne / (double)(H - ne);
        }
        Wh[(size_t)i * H + j] = (float)w;
      }
    return;
  }
  for (size_t i = 0; i < (size_t)G * H * H; i++) Wh[i] = (float)((2 * am_rng_uniform(rng) - 1) * bound);
  if (c->cfg.type == AMA_CELL_GRU) {
    float* bh = p->w + p->t[c->ibh].offset;
    for (size_t i = 0; i < (size_t)G * H; i++) bx[i] = (float)((2 * am_rng_uniform(rng) - 1) * bound);
    for (size_t i = 0; i < (size_t)G * H; i++) bh[i] = (float)((2 * am_rng_uniform(rng) - 1) * bound);
  }
  if (c->cfg.type == AMA_CELL_LSTM)
    for (int h = 0; h < H; h++) bx[H + h] = 1.0f;  // forget gate
}

int ama_cell_cache_alloc(ama_cell_cache* k, const ama_cell* c, int T_max, int B_max, char* err,
                         size_t err_sz) {
  memset(k, 0, sizeof(*k));
  k->T_max = T_max;
  k->B_max = B_max;
  size_t TB = (size_t)T_max * B_max, GH = (size_t)c->G * c->cfg.hidden, H = c->cfg.hidden;
  size_t S = c->S ? (size_t)c->S : 1;
  k->px = calloc(TB * GH, sizeof(float));
  k->ph = calloc(TB * GH, sizeof(float));
  k->act = calloc(TB * GH, sizeof(float));
  k->s_in = calloc(TB * S, sizeof(float));
  k->s_out = calloc(TB * S, sizeof(float));
  // A GRU's output is its state (y aliases s_out); the recurrent operand of GRU and LSTM is the
  // first H of the incoming state (read from s_in with its row stride): only the rate RNN (relu)
  // needs its own hin.
  k->y = c->cfg.type == AMA_CELL_GRU ? k->s_out : calloc(TB * H, sizeof(float));
  k->dGx = calloc(TB * GH, sizeof(float));
  k->dGh = calloc(TB * GH, sizeof(float));
  k->ds = calloc((size_t)B_max * S, sizeof(float));
  k->hin = c->cfg.type == AMA_CELL_RNN ? calloc(TB * H, sizeof(float)) : k->s_in;
  k->tmp = calloc((size_t)B_max * (GH > S ? GH : S), sizeof(float));
  // the packed right-hand operands: weights (either way round) and the inputs of the weight
  // gradients (all T*B rows of x or of the recurrent operand)
  size_t I = (size_t)c->cfg.in, np = 0;
  size_t sizes[6] = {ama_gemm_pack_size((int)I, (int)GH), ama_gemm_pack_size((int)GH, (int)I),
                     ama_gemm_pack_size((int)TB, (int)I), ama_gemm_pack_size((int)H, (int)GH),
                     ama_gemm_pack_size((int)GH, (int)H), ama_gemm_pack_size((int)TB, (int)H)};
  for (int i = 0; i < 6; i++) np = sizes[i] > np ? sizes[i] : np;
  size_t bytes = (np * sizeof(float) + 63) / 64 * 64;
  k->pack = aligned_alloc(64, bytes ? bytes : 64);
  // the forward pass's packed weights, kept with a copy of the weights they were packed from
  size_t nwx = ama_gemm_pack_size((int)I, (int)GH), nwh = ama_gemm_pack_size((int)H, (int)GH);
  k->fw_wx = aligned_alloc(64, (nwx * sizeof(float) + 63) / 64 * 64 + 64);
  k->fw_wh = aligned_alloc(64, (nwh * sizeof(float) + 63) / 64 * 64 + 64);
  k->src_wx = malloc(sizeof(float) * (GH * I + 1));
  k->src_wh = malloc(sizeof(float) * (GH * H + 1));
  if (!k->px || !k->ph || !k->act || !k->s_in || !k->s_out || !k->y || !k->dGx || !k->dGh ||
      !k->ds || !k->hin || !k->tmp || !k->pack || !k->fw_wx || !k->fw_wh || !k->src_wx ||
      !k->src_wh) {
    ama_cell_cache_free(k);
    return am_err(err, err_sz, "out of memory for a cell cache (T=%d B=%d)", T_max, B_max);
  }
  return 0;
}

void ama_cell_cache_free(ama_cell_cache* k) {
  free(k->px);
  free(k->ph);
  free(k->act);
  free(k->s_in);
  free(k->s_out);
  if (k->y != k->s_out) free(k->y);
  free(k->dGx);
  free(k->dGh);
  free(k->ds);
  if (k->hin != k->s_in) free(k->hin);
  free(k->tmp);
  free(k->pack);
  free(k->fw_wx);
  free(k->fw_wh);
  free(k->src_wx);
  free(k->src_wh);
  memset(k, 0, sizeof(*k));
}

void ama_cell_prepare(ama_cell* c, const ama_params* p) {
  if (!c->Wh_eff) return;
  int H = c->cfg.hidden;
  const float* W = p->w + p->t[c->iWh].offset;
  for (int i = 0; i < H; i++)
    for (int j = 0; j < H; j++) c->Wh_eff[(size_t)i * H + j] = fabsf(W[(size_t)i * H + j]) * c->sign[j];
}

// exp without a library call, so that loops over gates vectorise: range reduction x = n ln2 + r
// (round-to-nearest by the 1.5 * 2^23 trick), a degree-6 polynomial for e^r on |r| <= ln2/2
// (Cephes' expf coefficients, relative error ~1e-7), 2^n built in the exponent bits. Inputs are
// clamped to [-87, 88], so it never overflows to inf or underflows to a denormal.
static inline float fexp(float x) {
  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float z = r * r;
  float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
              4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}
static inline float sigm(float x) { return 1.0f / (1.0f + fexp(-x)); }
// tanh(x) = 1 - 2 / (e^2x + 1): glibc's tanhf (through expm1f) was a quarter of the learner's time.
static inline float ftanh(float x) { return 1.0f - 2.0f / (fexp(2.0f * x) + 1.0f); }


// Gate loops over one env's H units, with restrict pointers so that they vectorise (AMA_CLONES
// above).
AMA_CLONES static void gru_fwd(int H, const float* restrict px, const float* restrict ph,
                    const float* restrict hp, float* restrict act, float* restrict h) {
  for (int i = 0; i < H; i++) {
    float r = sigm(px[i] + ph[i]);
    float z = sigm(px[H + i] + ph[H + i]);
    float n = ftanh(px[2 * H + i] + r * ph[2 * H + i]);
    act[i] = r;
    act[H + i] = z;
    act[2 * H + i] = n;
    h[i] = (1.0f - z) * n + z * hp[i];
  }
}

AMA_CLONES static void gru_bwd(int H, const float* restrict act, const float* restrict ph,
                    const float* restrict hp, const float* restrict dy, const float* restrict ds,
                    float* restrict gx, float* restrict gh, float* restrict dp) {
  for (int i = 0; i < H; i++) {
    float r = act[i], z = act[H + i], n = act[2 * H + i];
    float dh = dy[i] + ds[i];
    float dn = dh * (1.0f - z) * (1.0f - n * n);
    float dz = dh * (hp[i] - n) * z * (1.0f - z);
    float dr = dn * ph[2 * H + i] * r * (1.0f - r);
    gx[i] = gh[i] = dr;
    gx[H + i] = gh[H + i] = dz;
    gx[2 * H + i] = dn;
    gh[2 * H + i] = dn * r;
    dp[i] = dh * z;
  }
}

AMA_CLONES static void lstm_fwd(int H, const float* restrict px, const float* restrict ph,
                     const float* restrict cp, float* restrict act, float* restrict h,
                     float* restrict c) {
  for (int i = 0; i < H; i++) {
    float ig = sigm(px[i] + ph[i]);
    float fg = sigm(px[H + i] + ph[H + i]);
    float gg = ftanh(px[2 * H + i] + ph[2 * H + i]);
    float og = sigm(px[3 * H + i] + ph[3 * H + i]);
    act[i] = ig;
    act[H + i] = fg;
    act[2 * H + i] = gg;
    act[3 * H + i] = og;
    float cc = fg * cp[i] + ig * gg;
    c[i] = cc;
    h[i] = og * ftanh(cc);
  }
}

AMA_CLONES static void lstm_bwd(int H, const float* restrict act, const float* restrict c,
                     const float* restrict cp, const float* restrict dy, const float* restrict dsh,
                     const float* restrict dsc, float* restrict gx, float* restrict dph,
                     float* restrict dpc) {
  for (int i = 0; i < H; i++) {
    float ig = act[i], fg = act[H + i], gg = act[2 * H + i], og = act[3 * H + i];
    float tc = ftanh(c[i]);
    float dh = dy[i] + dsh[i];
    float dc = dsc[i] + dh * og * (1.0f - tc * tc);
    gx[i] = dc * gg * ig * (1.0f - ig);
    gx[H + i] = dc * cp[i] * fg * (1.0f - fg);
    gx[2 * H + i] = dc * ig * (1.0f - gg * gg);
    gx[3 * H + i] = dh * tc * og * (1.0f - og);
    dph[i] = 0.0f;
    dpc[i] = dc * fg;
  }
}

const float* ama_cell_wh(const ama_cell* c, const ama_params* p) {
  return c->Wh_eff ? c->Wh_eff : p->w + p->t[c->iWh].offset;
}

void ama_cell_forward(ama_cell* c, const ama_params* p, ama_cell_cache* k, int T, int B,
                      const float* x, const float* s0, const float* mask, const float* noise,
                      float* s_final) {
  const int H = c->cfg.hidden, I = c->cfg.in, G = c->G, S = c->S, GH = G * H;
  const float* Wx = p->w + p->t[c->iWx].offset;
  const float* bx = p->w + p->t[c->ibx].offset;
  // input side for all T*B rows at once
  const float* Wxp = packed_wt(Wx, GH, I, k->src_wx, k->fw_wx, &k->fw_wx_ok);
  ama_gemm_bias(T * B, GH, I, x, I, 1, Wxp, bx, k->px, GH);
  if (c->cfg.type == AMA_CELL_MLP) {
    size_t n = (size_t)T * B * H;
    for (size_t i = 0; i < n; i++) k->y[i] = ftanh(k->px[i]);
    return;
  }
  ama_cell_prepare(c, p);
  const float* Wh = ama_cell_wh(c, p);
  const float* bh = c->ibh >= 0 ? p->w + p->t[c->ibh].offset : NULL;
  const float alpha = c->cfg.type == AMA_CELL_RNN ? c->cfg.dt / c->cfg.tau : 0.0f;
  const float nscale = c->cfg.type == AMA_CELL_RNN ? sqrtf(2.0f * alpha) * c->cfg.noise : 0.0f;
  const float* Whp = packed_wt(Wh, GH, H, k->src_wh, k->fw_wh, &k->fw_wh_ok);  // once for all T
  for (int t = 0; t < T; t++) {
    float* s_in = k->s_in + (size_t)t * B * S;
    float* s_out = k->s_out + (size_t)t * B * S;
    const float* prev = t == 0 ? s0 : k->s_out + (size_t)(t - 1) * B * S;
    for (int b = 0; b < B; b++) {
      float m = mask ? mask[(size_t)t * B + b] : 1.0f;
      float* d = s_in + (size_t)b * S;
      if (!prev || m == 0.0f)
        memset(d, 0, sizeof(float) * S);
      else
        for (int i = 0; i < S; i++) d[i] = m * prev[(size_t)b * S + i];
    }
    if (c->cfg.type == AMA_CELL_RNN) {  // r = relu(x) or tanh(x), the recurrent operand
      float* hr = k->hin + (size_t)t * B * H;
      if (c->cfg.tanh_act)
        for (int i = 0; i < B * H; i++) hr[i] = ftanh(s_in[i]);
      else
        for (int i = 0; i < B * H; i++) hr[i] = s_in[i] > 0 ? s_in[i] : 0;
    }
    size_t ldh;
    const float* hin = recurrent_operand(c, k, &ldh) + (size_t)t * B * ldh;
    float* ph = k->ph + (size_t)t * B * GH;
    ama_gemm_bias(B, GH, H, hin, ldh, 1, Whp, bh, ph, GH);
    const float* px = k->px + (size_t)t * B * GH;
    float* act = k->act + (size_t)t * B * GH;
    float* y = k->y + (size_t)t * B * H;
    for (int b = 0; b < B; b++) {
      const float* pxb = px + (size_t)b * GH;
      const float* phb = ph + (size_t)b * GH;
      float* ab = act + (size_t)b * GH;
      const float* sb = s_in + (size_t)b * S;
      float* ob = s_out + (size_t)b * S;
      float* yb = y + (size_t)b * H;
      switch (c->cfg.type) {
        case AMA_CELL_GRU:
          gru_fwd(H, pxb, phb, sb, ab, ob);  // y is s_out
          break;
        case AMA_CELL_LSTM:
          lstm_fwd(H, pxb, phb, sb + H, ab, ob, ob + H);
          memcpy(yb, ob, sizeof(float) * H);
          break;
        case AMA_CELL_RNN: {
          const float* nb = noise ? noise + ((size_t)t * B + b) * H : NULL;
          for (int i = 0; i < H; i++) {
            float xs = (1.0f - alpha) * sb[i] + alpha * (pxb[i] + phb[i]);
            if (nb) xs += nscale * nb[i];
            ob[i] = xs;
            yb[i] = c->cfg.tanh_act ? ftanh(xs) : xs > 0 ? xs : 0;
          }
        } break;
        default:
          break;
      }
    }
  }
  if (s_final) memcpy(s_final, k->s_out + (size_t)(T - 1) * B * S, sizeof(float) * B * S);
}

void ama_cell_backward(ama_cell* c, ama_params* p, ama_cell_cache* k, int T, int B,
                       const float* x, const float* mask, const float* dy, float* dx) {
  const int H = c->cfg.hidden, I = c->cfg.in, G = c->G, S = c->S, GH = G * H;
  const float* Wx = p->w + p->t[c->iWx].offset;
  float* dWx = p->g + p->t[c->iWx].offset;
  float* dbx = p->g + p->t[c->ibx].offset;
  if (c->cfg.type == AMA_CELL_MLP) {
    size_t n = (size_t)T * B * H;
    for (size_t i = 0; i < n; i++) k->dGx[i] = dy[i] * (1.0f - k->y[i] * k->y[i]);
    lin_bwd(dx, dWx, dbx, k->dGx, x, I, Wx, T * B, I, GH, k->pack);
    return;
  }
  const float* Wh = ama_cell_wh(c, p);
  const int wh_direct = H % AMA_GEMM_NR == 0;  // else Wh packed once for all T steps
  if (!wh_direct) ama_gemm_pack(GH, H, Wh, H, 0, k->pack);
  const float alpha = c->cfg.type == AMA_CELL_RNN ? c->cfg.dt / c->cfg.tau : 0.0f;
  const int shared = c->cfg.type != AMA_CELL_GRU;  // dGh == dGx except for the GRU
  memset(k->ds, 0, sizeof(float) * B * S);
  for (int t = T - 1; t >= 0; t--) {
    const float* dyt = dy + (size_t)t * B * H;
    const float* act = k->act + (size_t)t * B * GH;
    const float* ph = k->ph + (size_t)t * B * GH;
    const float* s_in = k->s_in + (size_t)t * B * S;
    const float* s_out = k->s_out + (size_t)t * B * S;
    float* dGx = k->dGx + (size_t)t * B * GH;
    float* dGh = shared ? dGx : k->dGh + (size_t)t * B * GH;
    float* ds = k->ds;     // on entry: d state_out[t] (from t+1); on exit: d state_out[t-1]
    float* dprev = k->tmp; // d s_in (B x S), direct paths
    for (int b = 0; b < B; b++) {
      const float* ab = act + (size_t)b * GH;
      const float* phb = ph + (size_t)b * GH;
      const float* sb = s_in + (size_t)b * S;
      const float* ob = s_out + (size_t)b * S;
      const float* dyb = dyt + (size_t)b * H;
      float* dsb = ds + (size_t)b * S;
      float* gx = dGx + (size_t)b * GH;
      float* gh = dGh + (size_t)b * GH;
      float* dp = dprev + (size_t)b * S;
      switch (c->cfg.type) {
        case AMA_CELL_GRU:
          gru_bwd(H, ab, phb, sb, dyb, dsb, gx, gh, dp);
          break;
        case AMA_CELL_LSTM:
          lstm_bwd(H, ab, ob + H, sb + H, dyb, dsb, dsb + H, gx, dp, dp + H);
          break;
        case AMA_CELL_RNN:
          for (int i = 0; i < H; i++) {
            const float yi = k->y[((size_t)t * B + b) * H + i];
            float dr = c->cfg.tanh_act ? 1.0f - yi * yi : ob[i] > 0 ? 1.0f : 0.0f;  // dr/dx
            float dxs = dr * dyb[i] + dsb[i];
            gx[i] = alpha * dxs;
            dp[i] = (1.0f - alpha) * dxs;
          }
          break;
        default:
          break;
      }
    }
    // recurrent path: d hin = dGh Wh  (B x GH) x (GH x H), into the first H of each state row
    // (lstm: the h part; its c part is filled below)
    float* dhin = k->ds;  // reuse: ds is consumed above
    if (wh_direct) ama_gemm_direct(B, H, GH, dGh, GH, 1, Wh, H, 0.0f, dhin, S);
    else ama_gemm(B, H, GH, dGh, GH, 1, k->pack, 0.0f, dhin, S);
    for (int b = 0; b < B; b++) {
      float m = mask ? mask[(size_t)t * B + b] : 1.0f;
      float* dsb = k->ds + (size_t)b * S;
      const float* dp = dprev + (size_t)b * S;
      const float* sb = s_in + (size_t)b * S;
      if (c->cfg.type == AMA_CELL_RNN && c->cfg.tanh_act) {
        const float* hr = k->hin + ((size_t)t * B + b) * H;  // tanh(x_in)
        for (int i = 0; i < H; i++) dsb[i] = m * (dp[i] + (1.0f - hr[i] * hr[i]) * dsb[i]);
      } else if (c->cfg.type == AMA_CELL_RNN)
        for (int i = 0; i < H; i++) dsb[i] = m * (dp[i] + (sb[i] > 0 ? dsb[i] : 0.0f));
      else if (c->cfg.type == AMA_CELL_LSTM)
        for (int i = 0; i < H; i++) {
          dsb[i] = m * (dp[i] + dsb[i]);
          dsb[H + i] = m * dp[H + i];
        }
      else
        for (int i = 0; i < H; i++) dsb[i] = m * (dp[i] + dsb[i]);
    }
  }
  // parameter gradients over all T*B rows at once
  lin_bwd(dx, dWx, dbx, k->dGx, x, I, Wx, T * B, I, GH, k->pack);
  // the recurrent operand of every step, as in the forward pass
  size_t ldh;
  const float* hin = recurrent_operand(c, k, &ldh);
  float* dbh = c->ibh >= 0 ? p->g + p->t[c->ibh].offset : NULL;
  const float* dGh = shared ? k->dGx : k->dGh;
  float* dWh = p->g + p->t[c->iWh].offset;
  if (c->Wh_eff) {
    float* dWe = c->Wh_eff + (size_t)H * H;
    memset(dWe, 0, sizeof(float) * H * H);
    lin_bwd(NULL, dWe, NULL, dGh, hin, ldh, Wh, T * B, H, GH, k->pack);
    const float* W = p->w + p->t[c->iWh].offset;
    for (int i = 0; i < H; i++)
      for (int j = 0; j < H; j++) {
        size_t q = (size_t)i * H + j;
        float sg = W[q] > 0 ? 1.0f : W[q] < 0 ? -1.0f : 0.0f;
        dWh[q] += dWe[q] * c->sign[j] * sg;
      }
  } else {
    lin_bwd(NULL, dWh, dbh, dGh, hin, ldh, Wh, T * B, H, GH, k->pack);
  }
}

//---------------------------------- Gaussian head ------------------------------------------------

void ama_gauss_logp(float* logp, const float* a, const float* mean, const float* logstd, int N,
                    int A) {
  for (int n = 0; n < N; n++) {
    float s = 0;
    for (int j = 0; j < A; j++) {
      float z = (a[(size_t)n * A + j] - mean[(size_t)n * A + j]) * expf(-logstd[j]);
      s += -0.5f * z * z - logstd[j] - 0.5f * AMA_LOG_2PI;
    }
    logp[n] = s;
  }
}

float ama_gauss_entropy(const float* logstd, int A) {
  float s = 0;
  for (int j = 0; j < A; j++) s += logstd[j] + 0.5f * (1.0f + AMA_LOG_2PI);
  return s;
}
