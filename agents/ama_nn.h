// ama_nn.h: animat's network modules over raw float pointers (part of agents/, prefix ama_).
//
// What it is: plain forward/backward functions for a linear layer, a tanh layer ("mlp"), GRU,
// LSTM and a leaky rate RNN (optionally obeying Dale's law), over batches of envs (acting: T = 1)
// and over T x B sequences (learning, backpropagation through time). The cells' matrix products are
// animat's own packed products (ama_gemm.c), batched over all T*B rows wherever the recurrence
// allows it; the linear heads call OpenBLAS.
// What it is not: no allocation inside forward/backward (caches are made once), no parameters of
// its own (a cell's weights are views into the agent's one flat buffer), no printing.
//
// Layout conventions: row-major; sequences are time-major, x[t][b][i] = x[(t*B + b)*I + i].
// Weights are (out x in) like PyTorch, so y = x W^T + b.
#ifndef AMA_NN_H
#define AMA_NN_H

#include <stddef.h>
#include <stdint.h>

#include "am_sim.h"  // am_rng

#ifdef __cplusplus
extern "C" {
#endif

//---------------------------------- flat parameter buffer -----------------------------------------

#define AMA_MAX_TENSORS 64
#define AMA_TNAME_LEN 48

// A named view into the flat buffer.
typedef struct ama_tensor {
  char name[AMA_TNAME_LEN];  // e.g. "core.Wx"
  size_t offset;             // first float in the flat buffer
  int rows, cols;            // shape (cols = 1 for vectors)
  int frozen;                // 1: gradients are zeroed and Adam skips it
} ama_tensor;

// All parameters of an agent: params, grads and the two Adam moments share one layout.
typedef struct ama_params {
  int n_tensors;
  ama_tensor t[AMA_MAX_TENSORS];
  size_t count;  // floats per array
  float* w;      // parameters (count)
  float* g;      // gradients  (count)
  float* m;      // Adam first moment (count)
  float* v;      // Adam second moment (count)
  int64_t adam_t;  // Adam steps taken
  uint8_t* keep;   // (count) connectivity mask (ama_mask.c): 0 = the weight is absent and stays
                   // exactly 0 (w, g, m, v); NULL: every weight is trained
} ama_params;

// Appends a tensor of rows x cols to the layout (before ama_params_alloc). Returns its index.
int ama_params_add(ama_params* p, const char* name, int rows, int cols);
// Allocates w, g, m, v (zeroed). Returns 0 or -1.
int ama_params_alloc(ama_params* p, char* err, size_t err_sz);
void ama_params_free(ama_params* p);
int ama_params_find(const ama_params* p, const char* name);  // index or -1
float* ama_params_view(const ama_params* p, const char* name);  // w + offset, or NULL

// Zeroes w, g, m and v wherever keep is 0 (nothing when keep is NULL).
void ama_params_mask_apply(ama_params* p);
// Zeroes gradients of frozen tensors and masked weights; returns the global L2 norm of the gradient.
double ama_grad_norm(ama_params* p);
// Scales all gradients by s.
void ama_grad_scale(ama_params* p, float s);
// One Adam step over the whole buffer (frozen tensors untouched; masked weights, keep = 0, and
// their moments stay exactly 0). eps added to sqrt(v_hat).
void ama_adam_step(ama_params* p, float lr, float beta1, float beta2, float eps);
// The same step split for threads: ama_adam_begin once, then ama_adam_part for part = 0 ..
// n_parts - 1, in any order or at once; each updates its share of the buffer (element-wise, so
// the bits are ama_adam_step's).
void ama_adam_begin(ama_params* p);
void ama_adam_part(ama_params* p, float lr, float beta1, float beta2, float eps, int part,
                   int n_parts);

//---------------------------------- linear ------------------------------------------------------

// y (N x O) = x (N x I) W^T (O x I) + b (O).  b may be NULL. accumulate: y += instead of y =.
void ama_linear_forward(float* y, const float* x, const float* W, const float* b, int N, int In,
                        int O, int accumulate);
// Given dy (N x O): dW (O x I) += dy^T x, db (O) += sum dy, dx (N x I) = (or += when accumulate)
// dy W. Any of dx, dW, db may be NULL.
void ama_linear_backward(float* dx, float* dW, float* db, const float* dy, const float* x,
                         const float* W, int N, int In, int O, int accumulate_dx);

//---------------------------------- recurrent cells ---------------------------------------------

typedef enum {
  AMA_CELL_MLP = 0,  // y = tanh(Wx x + bx), no state
  AMA_CELL_GRU = 1,  // PyTorch GRU equations, state h (H)
  AMA_CELL_LSTM = 2, // gates i f g o, state (h, c) (2H), output h
  AMA_CELL_RNN = 3,  // leaky rate RNN, state x (H), output r = relu(x) (or tanh(x): tanh_act)
} ama_cell_type;

const char* ama_cell_type_name(ama_cell_type t);
int ama_cell_type_parse(const char* s, ama_cell_type* out);  // "mlp","gru","lstm","rnn"; 0 or -1

typedef struct ama_cell_cfg {
  ama_cell_type type;
  int in;          // input size I
  int hidden;      // hidden / output size H
  // leaky rate RNN only: x' = (1-a) x + a (W_h r + W_x u + b) + sqrt(2a) sigma xi, a = dt/tau,
  // r = relu(x) (tanh(x) with tanh_act)
  float tau, dt;   // time constant and step (same unit)
  float noise;     // sigma of the recurrent noise (xi supplied by the caller, standard normal)
  int dale;        // 1: W_h = |W_raw| * sign(presynaptic unit); first exc_frac*H units excitatory
  float exc_frac;  // fraction of excitatory units (default 0.8)
  int tanh_act;    // rate RNN only: 1: r = tanh(x) (Miconi 2017), 0: r = relu(x)
  float gain;      // rate RNN only: recurrent weights drawn Normal(0, gain^2 / H) (0: 0.5)
} ama_cell_cfg;

// A cell: its configuration and views of its parameters / gradients in the flat buffer.
// Parameters by type (G = gates: mlp 1, gru 3, lstm 4, rnn 1):
//   Wx (G*H x I), bx (G*H), Wh (G*H x H) [not mlp], bh (G*H) [gru only].
typedef struct ama_cell {
  ama_cell_cfg cfg;
  int G;       // gates
  int S;       // state floats per env: mlp 0, gru H, lstm 2H, rnn H
  int iWx, iWh, ibx, ibh;  // tensor indices in the params (-1 when absent)
  float* Wh_eff;  // (H x H) effective recurrent weights for Dale's law (owned), else NULL
  float* sign;    // (H) +1 excitatory / -1 inhibitory presynaptic sign (owned), else NULL
} ama_cell;

// W_h (G*H x H, row-major) as the recurrence uses it: Dale's effective sign-constrained weights
// (after ama_cell_prepare) or the parameters.
const float* ama_cell_wh(const ama_cell* c, const ama_params* p);

// Dale's law: the number of excitatory units (the first ones; the rest are inhibitory) of a rate
// RNN cell with dale = 1, round(exc_frac H); 0 when the cell does not obey Dale's law.
int ama_dale_excitatory(const ama_cell_cfg* cfg);

// Registers the cell's tensors under prefix ("core" -> "core.Wx" ...). Call before alloc.
int ama_cell_init(ama_cell* c, const ama_cell_cfg* cfg, ama_params* p, const char* prefix,
                  char* err, size_t err_sz);
// Initialises the weights (after alloc): uniform(-1/sqrt(H), 1/sqrt(H)) like PyTorch for gru/lstm,
// Normal(0, 0.5^2/H) recurrent weights for rnn (absolute values under Dale's law, inhibitory columns
// rescaled to balance), LSTM forget bias 1. Draws from rng (sim's xoshiro stream).
void ama_cell_init_weights(ama_cell* c, ama_params* p, am_rng* rng);
void ama_cell_free(ama_cell* c);

// Per-sequence forward state kept for backward. Sized once for T_max x B_max.
typedef struct ama_cell_cache {
  int T_max, B_max;
  float* px;    // input projections x Wx^T + bx        (T x B x G*H)
  float* ph;    // recurrent projections h Wh^T (+ bh)  (T x B x G*H)   (gru, rnn; lstm shares px)
  float* act;   // gate activations                     (T x B x G*H)
  float* s_in;  // masked incoming state                (T x B x S)
  float* s_out; // state after the step                 (T x B x S)
  float* y;     // outputs                              (T x B x H) (gru: the same as s_out)
  float* dGx;   // d pre-activations from the input side (T x B x G*H)
  float* dGh;   // d pre-activations, recurrent side     (T x B x G*H)
  float* ds;    // d state carried back                  (B x S)
  float* hin;   // rnn: relu(x_prev) per step (T x B x H); gru, lstm: s_in (h is its first H)
  float* tmp;   // (B x G*H)
  float* pack;  // a right-hand operand packed for ama_gemm (64-byte aligned)
  // forward pass: Wx^T and Wh^T packed, the weights they were packed from, and whether valid
  float *fw_wx, *fw_wh, *src_wx, *src_wh;
  int fw_wx_ok, fw_wh_ok;
} ama_cell_cache;

int ama_cell_cache_alloc(ama_cell_cache* k, const ama_cell* c, int T_max, int B_max, char* err,
                         size_t err_sz);
void ama_cell_cache_free(ama_cell_cache* k);

// Recomputes Dale's effective weights from the raw ones; call after every parameter change
// (ama_cell_forward does it itself when prepare = 1).
void ama_cell_prepare(ama_cell* c, const ama_params* p);

// Forward over T steps for B envs. x (T x B x I); s0 (B x S) state before step 0 (NULL: zeros);
// mask (T x B) 1 = keep state, 0 = reset to zero before step t (NULL: all 1); noise (T x B x H)
// standard normal for the rnn (NULL: none). Writes k->y and, if s_final != NULL, s_final (B x S).
void ama_cell_forward(ama_cell* c, const ama_params* p, ama_cell_cache* k, int T, int B,
                      const float* x, const float* s0, const float* mask, const float* noise,
                      float* s_final);

// Backward through the T steps of the last forward. dy (T x B x H) gradient of the outputs.
// Accumulates parameter gradients into p->g; writes dx (T x B x I) if not NULL. The gradient into
// s0 is dropped (truncated BPTT).
void ama_cell_backward(ama_cell* c, ama_params* p, ama_cell_cache* k, int T, int B,
                       const float* x, const float* mask, const float* dy, float* dx);

//---------------------------------- Gaussian head ------------------------------------------------

#define AMA_LOG_2PI 1.8378770664093453f

// log N(a | mean, exp(logstd)) summed over A dims, per row (N rows).
void ama_gauss_logp(float* logp, const float* a, const float* mean, const float* logstd, int N,
                    int A);
// Entropy of the diagonal Gaussian (same for every row).
float ama_gauss_entropy(const float* logstd, int A);

#ifdef __cplusplus
}
#endif
#endif  // AMA_NN_H
