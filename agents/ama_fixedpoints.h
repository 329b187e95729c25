// ama_fixedpoints.h: fixed and slow points of a recurrent module (part of agents/, prefix ama_).
//
// What it is: a recurrent cell (rate RNN, GRU, LSTM) as a map of its state under a constant input,
// F(s; x), evaluated in double precision without noise, with its Jacobian dF/ds in closed form;
// and the search of Sussillo & Barak (2013, Neural Computation 25:626): from many starting states,
// minimise q(s) = 1/2 |F(s) - s|^2 (Levenberg-Marquardt on the residual F(s) - s), keep the points
// where q is (nearly) zero (fixed points) or small (slow points), merge the ones that coincide and
// give the eigenvalues of dF/ds at each (LAPACK dgeev): |lambda| < 1 for every eigenvalue is a
// stable fixed point of the discrete-time map, one above 1 an unstable direction, one at 1 a
// direction along which the state persists.
// What it is not: no dataset reading or choice of inputs (tools/cmd_fixedpoints.c), no printing.
//
// The state s is the cell's recurrent state as the network carries it (ama_cell.S floats): GRU h;
// LSTM h then c (2H); rate RNN x (the rate is relu(x)). Matrices are row-major doubles. The search
// keeps GRU and LSTM h inside [-1, 1], the set the cell can reach (every step and start is clamped
// to it): outside it the gates saturate and the map has fixed points no trajectory can visit.
#ifndef AMA_FIXEDPOINTS_H
#define AMA_FIXEDPOINTS_H

#include <stddef.h>
#include <stdint.h>

#include "ama_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

// A cell as a map of its state, its weights copied to double (Dale's law applied).
typedef struct ama_cellmap {
  ama_cell_type type;
  int I, H, G, S;     // input size, units, gates, state size
  double alpha;       // rate RNN: dt / tau
  int tanh_act;       // rate RNN: 1 when r = tanh(x) (rnn_act = tanh), else relu(x)
  double* Wx;         // (G*H x I)
  double* bx;         // (G*H)
  double* Wh;         // (G*H x H) recurrent weights as the recurrence uses them
  double* bh;         // (G*H) GRU's recurrent bias; zeros for the others
  double* px;         // (G*H) Wx x + bx for the input set by ama_cellmap_set_input
  double* pre;        // (G*H) scratch
  double* act;        // (G*H) scratch: gate activations
} ama_cellmap;

// Builds the map of cell c (weights in p). The input starts at zero. An mlp cell has no state: an
// error. Returns 0 or -1 with a message.
int ama_cellmap_init(ama_cellmap* m, const ama_cell* c, const ama_params* p, char* err,
                     size_t err_sz);
void ama_cellmap_free(ama_cellmap* m);
// Sets the constant input x (I).
void ama_cellmap_set_input(ama_cellmap* m, const double* x);
// One noise-free step from state s (S): f (S) = F(s; x); J (S x S, may be NULL): J[i][j] =
// dF_i/ds_j. The rate RNN's relu has derivative 0 at 0. Uses m's scratch: one thread per map.
void ama_cellmap_step(ama_cellmap* m, const double* s, double* f, double* J);

// Eigenvalues of the general n x n matrix A (row-major; LAPACK dgeev), sorted by magnitude
// descending (ties: real part descending, then imaginary part descending). re, im: (n).
int ama_eig_general(const double* A, int n, double* re, double* im, char* err, size_t err_sz);

// Settings of the search. ama_fp_config_default gives the values in brackets.
typedef struct ama_fp_config {
  int max_iter;        // evaluations of F per start, accepted or rejected steps (200)
  double tol_q;        // a start stops when q < tol_q (1e-24)
  double tol_step;     // ... or when an accepted step has |ds| <= tol_step * (1 + |s|) (1e-12)
  double tol_fixed;    // q < tol_fixed: a fixed point (1e-12)
  double tol_slow;     // else q < tol_slow: a slow point; else rejected (1e-5)
  double dedup;        // optimised points within this Euclidean distance are one point (1e-3)
  double eig_tol;      // |lambda| > 1 + eig_tol: unstable; within eig_tol of 1: marginal (1e-3)
  double start_noise;  // standard deviation of Gaussian noise added to every start (0)
  uint64_t seed;       // that noise's stream (am_rng(seed, 0))
} ama_fp_config;
void ama_fp_config_default(ama_fp_config* c);

enum { AMA_FP_REJECTED = 0, AMA_FP_SLOW = 1, AMA_FP_FIXED = 2 };
const char* ama_fp_kind_name(int kind);  // "rejected", "slow", "fixed"

// A distinct fixed or slow point.
typedef struct ama_fp_point {
  double* s;          // (S) the point
  double q;           // 1/2 |F(s) - s|^2 there
  int kind;           // AMA_FP_FIXED or AMA_FP_SLOW
  int start;          // the start that reached it (the lowest q among those merged into it)
  int count;          // starts that ended within `dedup` of it
  double dist_start;  // Euclidean distance to the nearest start (as given, before noise): how far
                      // the point lies from the states the starts came from
  double* eig_re;     // (S) eigenvalues of dF/ds at s, |lambda| descending
  double* eig_im;     // (S)
  double max_abs;     // largest |lambda|
  int n_unstable;     // eigenvalues with |lambda| > 1 + eig_tol (directions that grow)
  int n_marginal;     // eigenvalues with ||lambda| - 1| <= eig_tol (directions that persist: a line
                      // or manifold of fixed points, or saturated gates)
} ama_fp_point;

typedef struct ama_fp_result {
  int S, n_starts;
  int n_points;         // distinct points: fixed ones first, then slow, each by q ascending
  ama_fp_point* points; // (n_points)
  int n_fixed, n_slow;  // of those
  int n_rejected;       // starts that ended with q >= tol_slow
  double* start_q;      // (n_starts) q where each start's optimisation ended
  int* start_iters;     // (n_starts) evaluations it used
  int* start_point;     // (n_starts) index into points, -1 when rejected
} ama_fp_result;

// Searches from n_starts states (n_starts x S, row-major) under m's current input. The answer
// depends only on the map, the starts and cfg (NULL: defaults). out is zeroed first and owned by
// the caller (ama_fp_result_free). Returns 0 or -1 with a message (bad settings, no memory, LAPACK
// failure).
int ama_fixedpoints(ama_cellmap* m, const double* starts, int n_starts, const ama_fp_config* cfg,
                    ama_fp_result* out, char* err, size_t err_sz);
void ama_fp_result_free(ama_fp_result* r);

#ifdef __cplusplus
}
#endif
#endif  // AMA_FIXEDPOINTS_H
