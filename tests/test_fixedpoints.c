// test_fixedpoints.c: the fixed/slow point search (agents/ama_fixedpoints.h) against planted
// answers. A 2-unit rate RNN with mutual inhibition has exactly three fixed points, known in closed
// form: two stable ones and a saddle between them (one eigenvalue 1 + a); the search finds all three
// at the right places with the right stability. A rate RNN whose recurrence has eigenvalue 1 along
// a direction has a line attractor: every point found is on the line, with an eigenvalue of 1. GRU
// and LSTM cells without recurrent weights have one fixed point each, with known eigenvalues. The
// closed-form Jacobians of the rate RNN (with and without Dale's law), GRU and LSTM maps match
// central finite differences at random weights and states, and the maps match the network's own
// float forward step. Same starts and seed give the same bytes; bad settings are errors.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_fixedpoints.h"

// A standalone cell with its own parameter buffer.
typedef struct test_cell {
  ama_params P;
  ama_cell c;
} test_cell;

static int g_tanh;  // 1: rate RNN cells with rnn_act = tanh

static void make_cell(test_cell* t, ama_cell_type type, int in, int hidden, float dt, float tau,
                      int dale) {
  memset(t, 0, sizeof(*t));
  ama_cell_cfg cfg = {.type = type, .in = in, .hidden = hidden, .tau = tau, .dt = dt, .dale = dale,
                      .exc_frac = 0.5f, .tanh_act = g_tanh};
  char err[AM_ERR_LEN];
  assert_int_equal(ama_cell_init(&t->c, &cfg, &t->P, "core", err, sizeof err), 0);
  assert_int_equal(ama_params_alloc(&t->P, err, sizeof err), 0);
}

static void free_cell(test_cell* t) {
  ama_cell_free(&t->c);
  ama_params_free(&t->P);
}

static float* W(test_cell* t, int idx) { return t->P.w + t->P.t[idx].offset; }

// Random weights of scale `scale` in every tensor of the cell.
static void random_weights(test_cell* t, am_rng* rng, double scale) {
  for (size_t i = 0; i < t->P.count; i++) t->P.w[i] = (float)(scale * am_rng_normal(rng));
}

//---------------------------------- planted fixed points ------------------------------------------

// x' = (1-a) x + a (W relu(x) + b), W = [[0, -2], [-2, 0]], b = (1, 1): fixed points x = W relu(x)
// + b are (1, -1), (-1, 1) (J = (1-a) I + a W D with D = diag(1, 0): eigenvalues 1 - a, 1 - a:
// stable) and (1/3, 1/3) (W's eigenvalues +-2 give 1 + a and 1 - 3a: a saddle). No other: with
// both x <= 0, x = b > 0.
static void test_bistable_rnn(void** state) {
  (void)state;
  test_cell t;
  make_cell(&t, AMA_CELL_RNN, 1, 2, 0.01f, 0.1f, 0);
  float* Wh = W(&t, t.c.iWh);
  Wh[0] = 0, Wh[1] = -2, Wh[2] = -2, Wh[3] = 0;
  W(&t, t.c.ibx)[0] = 1, W(&t, t.c.ibx)[1] = 1;
  W(&t, t.c.iWx)[0] = 5, W(&t, t.c.iWx)[1] = -3;  // input weights: the input is 0 below
  char err[AM_ERR_LEN];
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  const double a = m.alpha;  // dt / tau in float, as the network computes it
  assert_true(fabs(a - 0.1) < 1e-7);
  double x0 = 0;
  ama_cellmap_set_input(&m, &x0);
  // starts on a 9 x 9 grid over [-2, 2]^2
  enum { G = 9, N = G * G };
  double starts[N * 2];
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) {
      starts[(i * G + j) * 2] = -2 + 4.0 * i / (G - 1);
      starts[(i * G + j) * 2 + 1] = -2 + 4.0 * j / (G - 1);
    }
  ama_fp_config cfg;
  ama_fp_config_default(&cfg);
  ama_fp_result r;
  assert_int_equal(ama_fixedpoints(&m, starts, N, &cfg, &r, err, sizeof err), 0);
  assert_int_equal(r.S, 2);
  assert_int_equal(r.n_fixed, 3);
  assert_int_equal(r.n_points, 3);
  const double want[3][2] = {{1, -1}, {-1, 1}, {1.0 / 3, 1.0 / 3}};
  int seen[3] = {0, 0, 0}, total = 0;
  for (int p = 0; p < r.n_points; p++) {
    const ama_fp_point* P = &r.points[p];
    assert_int_equal(P->kind, AMA_FP_FIXED);
    assert_true(P->q < 1e-20);
    total += P->count;
    int k = -1;
    for (int w = 0; w < 3; w++)
      if (fabs(P->s[0] - want[w][0]) < 1e-8 && fabs(P->s[1] - want[w][1]) < 1e-8) k = w;
    if (k < 0) {
      fail_msg("unexpected fixed point (%g, %g)", P->s[0], P->s[1]);
      return;
    }
    seen[k]++;
    if (k < 2) {  // stable: both eigenvalues 1 - a
      assert_int_equal(P->n_unstable, 0);
      assert_true(fabs(P->eig_re[0] - (1 - a)) < 1e-9 && fabs(P->eig_re[1] - (1 - a)) < 1e-9);
      assert_true(P->max_abs < 1);
    } else {  // saddle: 1 + a and 1 - 3a
      assert_int_equal(P->n_unstable, 1);
      assert_int_equal(P->n_marginal, 0);
      assert_true(fabs(P->eig_re[0] - (1 + a)) < 1e-9 && fabs(P->eig_im[0]) < 1e-12);
      assert_true(fabs(P->eig_re[1] - (1 - 3 * a)) < 1e-9);
      assert_true(fabs(P->max_abs - (1 + a)) < 1e-9);
    }
  }
  assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
  assert_int_equal(total + r.n_rejected, N);
  assert_true(total >= N - 2);  // every start (but starts on a kink, if any) ends at one of them
  for (int k = 0; k < N; k++)
    if (r.start_point[k] >= 0) assert_true(r.start_q[k] < cfg.tol_slow);
  // the points are ordered fixed first, by q
  for (int p = 1; p < r.n_points; p++) assert_true(r.points[p - 1].q <= r.points[p].q);
  ama_fp_result_free(&r);
  ama_cellmap_free(&m);
  free_cell(&t);
}

// W = [[.5, .5], [.5, .5]], b = 0: in the positive quadrant x = W x holds on the whole diagonal
// x1 = x2 = c >= 0 (a line attractor: J = (1-a) I + a W has eigenvalues 1 and 1 - a there), and
// nowhere else.
static void test_line_attractor(void** state) {
  (void)state;
  test_cell t;
  make_cell(&t, AMA_CELL_RNN, 1, 2, 0.02f, 0.1f, 0);
  float* Wh = W(&t, t.c.iWh);
  for (int i = 0; i < 4; i++) Wh[i] = 0.5f;
  char err[AM_ERR_LEN];
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  const double a = m.alpha;
  assert_true(fabs(a - 0.2) < 1e-7);
  enum { N = 40 };
  double starts[N * 2];
  am_rng rng;
  am_rng_seed(&rng, 7, 0);
  for (int i = 0; i < N * 2; i++) starts[i] = 0.2 + 2.0 * am_rng_uniform(&rng);  // positive quadrant
  ama_fp_result r;
  assert_int_equal(ama_fixedpoints(&m, starts, N, NULL, &r, err, sizeof err), 0);
  assert_true(r.n_fixed >= 10);  // a continuum: many distinct points along the line
  assert_int_equal(r.n_rejected, 0);
  for (int p = 0; p < r.n_points; p++) {
    const ama_fp_point* P = &r.points[p];
    assert_int_equal(P->kind, AMA_FP_FIXED);
    assert_true(fabs(P->s[0] - P->s[1]) < 1e-6);
    assert_true(P->s[0] > 0);
    assert_true(fabs(P->eig_re[0] - 1) < 1e-9);  // marginal direction along the line
    assert_true(fabs(P->eig_re[1] - (1 - a)) < 1e-9);
    assert_int_equal(P->n_unstable, 0);  // |1| is not > 1 + eig_tol
    assert_int_equal(P->n_marginal, 1);
  }
  ama_fp_result_free(&r);
  ama_cellmap_free(&m);
  free_cell(&t);
}

static double sigm(double x) { return 1 / (1 + exp(-x)); }

// Without recurrent weights a GRU's state relaxes to its candidate: h* = n = tanh(bn), with
// eigenvalues z_i = sigmoid(bz_i) (here all below 1: stable).
static void test_gru_planted(void** state) {
  (void)state;
  enum { H = 4 };
  test_cell t;
  make_cell(&t, AMA_CELL_GRU, 2, H, 0, 0, 0);
  float* bx = W(&t, t.c.ibx);
  const float bz[H] = {-1, 0, 0.5f, 2}, bn[H] = {0.3f, -0.7f, 1.2f, 0};
  for (int i = 0; i < H; i++) bx[i] = 0.4f, bx[H + i] = bz[i], bx[2 * H + i] = bn[i];
  char err[AM_ERR_LEN];
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  double starts[3 * H] = {0};
  for (int i = 0; i < 3 * H; i++) starts[i] = 0.3 * (i % 5) - 0.6;
  ama_fp_result r;
  assert_int_equal(ama_fixedpoints(&m, starts, 3, NULL, &r, err, sizeof err), 0);
  assert_int_equal(r.n_points, 1);
  assert_int_equal(r.n_fixed, 1);
  assert_int_equal(r.points[0].count, 3);
  double z[H];
  for (int i = 0; i < H; i++) {
    assert_true(fabs(r.points[0].s[i] - tanh(bn[i])) < 1e-9);
    z[i] = sigm(bz[i]);
  }
  // eigenvalues: the z's, by magnitude descending
  double sorted[H] = {z[3], z[2], z[1], z[0]};
  for (int i = 0; i < H; i++) {
    assert_true(fabs(r.points[0].eig_re[i] - sorted[i]) < 1e-9);
    assert_true(fabs(r.points[0].eig_im[i]) < 1e-12);
  }
  assert_int_equal(r.points[0].n_unstable, 0);
  double dmin = INFINITY;  // dist_start: the distance to the nearest start
  for (int k = 0; k < 3; k++) {
    double d2 = 0;
    for (int i = 0; i < H; i++) d2 += pow(starts[k * H + i] - r.points[0].s[i], 2);
    dmin = fmin(dmin, sqrt(d2));
  }
  assert_true(dmin > 0.1 && fabs(r.points[0].dist_start - dmin) < 1e-12);
  ama_fp_result_free(&r);
  ama_cellmap_free(&m);
  free_cell(&t);
}

// An LSTM without recurrent weights: c* = i g / (1 - f), h* = o tanh(c*); dF/ds is block
// triangular with eigenvalues f_i (the cell) and 0 (h).
static void test_lstm_planted(void** state) {
  (void)state;
  enum { H = 3 };
  test_cell t;
  make_cell(&t, AMA_CELL_LSTM, 1, H, 0, 0, 0);
  float* bx = W(&t, t.c.ibx);
  const float bi[H] = {0.5f, -0.5f, 1}, bf[H] = {1, 2, -1}, bg[H] = {0.8f, -0.3f, 0.1f},
              bo[H] = {0, 1, -2};
  for (int i = 0; i < H; i++)
    bx[i] = bi[i], bx[H + i] = bf[i], bx[2 * H + i] = bg[i], bx[3 * H + i] = bo[i];
  char err[AM_ERR_LEN];
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  assert_int_equal(m.S, 2 * H);
  double starts[2 * H] = {0.1, -0.2, 0.3, 1, -1, 0.5};
  ama_fp_result r;
  assert_int_equal(ama_fixedpoints(&m, starts, 1, NULL, &r, err, sizeof err), 0);
  assert_int_equal(r.n_fixed, 1);
  const ama_fp_point* P = &r.points[0];
  double f[H];
  for (int i = 0; i < H; i++) {
    double ig = sigm(bi[i]), g = tanh(bg[i]), o = sigm(bo[i]);
    f[i] = sigm(bf[i]);
    double c = ig * g / (1 - f[i]);
    assert_true(fabs(P->s[H + i] - c) < 1e-8);
    assert_true(fabs(P->s[i] - o * tanh(c)) < 1e-8);
  }
  double sorted[H] = {f[1], f[0], f[2]};  // sigmoid(2) > sigmoid(1) > sigmoid(-1)
  for (int i = 0; i < H; i++) assert_true(fabs(P->eig_re[i] - sorted[i]) < 1e-9);
  for (int i = H; i < 2 * H; i++) assert_true(hypot(P->eig_re[i], P->eig_im[i]) < 1e-9);
  ama_fp_result_free(&r);
  ama_cellmap_free(&m);
  free_cell(&t);
}

//---------------------------------- the map and its Jacobian --------------------------------------

// Closed-form Jacobian against central differences, and F against the network's float step, at
// random weights, inputs and states.
static void check_map(ama_cell_type type, int dale, uint64_t seed) {
  enum { I = 3, H = 6 };
  test_cell t;
  make_cell(&t, type, I, H, 0.05f, 0.2f, dale);
  am_rng rng;
  am_rng_seed(&rng, seed, 0);
  random_weights(&t, &rng, 0.8);
  char err[AM_ERR_LEN];
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  const int S = m.S;
  double x[I], s[2 * H], f[2 * H], J[4 * H * H], sp[2 * H], fp[2 * H], fm[2 * H];
  float xf[I], sf[2 * H], sout[2 * H];
  for (int trial = 0; trial < 5; trial++) {
    for (int i = 0; i < I; i++) xf[i] = (float)am_rng_normal(&rng), x[i] = xf[i];
    for (int i = 0; i < S; i++) sf[i] = (float)am_rng_normal(&rng), s[i] = sf[i];
    ama_cellmap_set_input(&m, x);
    ama_cellmap_step(&m, s, f, J);
    const double h = 1e-6;
    double worst = 0;
    for (int j = 0; j < S; j++) {
      memcpy(sp, s, sizeof(double) * S);
      sp[j] = s[j] + h;
      ama_cellmap_step(&m, sp, fp, NULL);
      sp[j] = s[j] - h;
      ama_cellmap_step(&m, sp, fm, NULL);
      for (int i = 0; i < S; i++) {
        double fd = (fp[i] - fm[i]) / (2 * h);
        double e = fabs(fd - J[i * S + j]);
        worst = e > worst ? e : worst;
      }
    }
    if (worst > 1e-7)
      fail_msg("%s%s: Jacobian differs from finite differences by %g", ama_cell_type_name(type),
               dale ? " (Dale)" : "", worst);
    // the network's own step (float, fast exp) from the same state and input
    ama_cell_cache k;
    assert_int_equal(ama_cell_cache_alloc(&k, &t.c, 1, 1, err, sizeof err), 0);
    ama_cell_forward(&t.c, &t.P, &k, 1, 1, xf, sf, NULL, NULL, sout);
    for (int i = 0; i < S; i++)
      if (fabs(sout[i] - f[i]) > 2e-5 * (1 + fabs(f[i])))
        fail_msg("%s: F[%d] = %.9g but the network's step gives %.9g", ama_cell_type_name(type), i,
                 f[i], (double)sout[i]);
    ama_cell_cache_free(&k);
  }
  ama_cellmap_free(&m);
  free_cell(&t);
}

static void test_jacobians(void** state) {
  (void)state;
  check_map(AMA_CELL_RNN, 0, 1);
  check_map(AMA_CELL_RNN, 1, 2);
  g_tanh = 1;
  check_map(AMA_CELL_RNN, 0, 5);  // tanh rates (rnn_act = tanh)
  g_tanh = 0;
  check_map(AMA_CELL_GRU, 0, 3);
  check_map(AMA_CELL_LSTM, 0, 4);
}

// Eigenvalues of a known non-symmetric matrix: a rotation by 0.3 rad scaled by 0.9 (0.9 e^(+-0.3i))
// beside an eigenvalue 1.5 and a -0.2, sorted by magnitude.
static void test_eig_general(void** state) {
  (void)state;
  const double c = 0.9 * cos(0.3), s = 0.9 * sin(0.3);
  double A[16] = {c, -s, 0, 0, s, c, 0, 0, 0, 0, -0.2, 7, 0, 0, 0, 1.5};
  double re[4], im[4];
  char err[AM_ERR_LEN];
  assert_int_equal(ama_eig_general(A, 4, re, im, err, sizeof err), 0);
  assert_true(fabs(re[0] - 1.5) < 1e-12 && fabs(im[0]) < 1e-12);
  assert_true(fabs(re[1] - c) < 1e-12 && fabs(im[1] - s) < 1e-12);  // +imag first
  assert_true(fabs(re[2] - c) < 1e-12 && fabs(im[2] + s) < 1e-12);
  assert_true(fabs(re[3] + 0.2) < 1e-12);
  assert_int_equal(ama_eig_general(A, 0, re, im, err, sizeof err), -1);
}

//---------------------------------- determinism and errors ----------------------------------------

static void run_random_gru(uint64_t seed, ama_fp_result* r) {
  enum { H = 8, N = 30 };
  test_cell t;
  make_cell(&t, AMA_CELL_GRU, 2, H, 0, 0, 0);
  am_rng rng;
  am_rng_seed(&rng, 11, 0);
  random_weights(&t, &rng, 0.9);
  char err[AM_ERR_LEN];
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  double starts[N * H];
  for (int i = 0; i < N * H; i++) starts[i] = am_rng_normal(&rng) * 0.5;
  ama_fp_config cfg;
  ama_fp_config_default(&cfg);
  cfg.start_noise = 0.05;
  cfg.seed = seed;
  assert_int_equal(ama_fixedpoints(&m, starts, N, &cfg, r, err, sizeof err), 0);
  ama_cellmap_free(&m);
  free_cell(&t);
}

static void test_deterministic(void** state) {
  (void)state;
  ama_fp_result a, b, c;
  run_random_gru(5, &a);
  run_random_gru(5, &b);
  run_random_gru(6, &c);
  assert_true(a.n_points >= 1);
  for (int p = 0; p < a.n_points; p++)  // the search keeps a GRU's h in [-1, 1]
    for (int i = 0; i < a.S; i++) assert_true(fabs(a.points[p].s[i]) <= 1);
  assert_int_equal(a.n_points, b.n_points);
  assert_memory_equal(a.start_q, b.start_q, sizeof(double) * a.n_starts);
  assert_memory_equal(a.start_point, b.start_point, sizeof(int) * a.n_starts);
  for (int p = 0; p < a.n_points; p++) {
    assert_memory_equal(a.points[p].s, b.points[p].s, sizeof(double) * a.S);
    assert_memory_equal(a.points[p].eig_re, b.points[p].eig_re, sizeof(double) * a.S);
  }
  // another noise seed starts elsewhere
  assert_memory_not_equal(a.start_q, c.start_q, sizeof(double) * a.n_starts);
  ama_fp_result_free(&a);
  ama_fp_result_free(&b);
  ama_fp_result_free(&c);
}

static void test_errors(void** state) {
  (void)state;
  char err[AM_ERR_LEN];
  test_cell t;
  make_cell(&t, AMA_CELL_MLP, 2, 3, 0, 0, 0);
  ama_cellmap m;
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), -1);
  assert_non_null(strstr(err, "mlp"));
  free_cell(&t);
  make_cell(&t, AMA_CELL_GRU, 2, 3, 0, 0, 0);
  assert_int_equal(ama_cellmap_init(&m, &t.c, &t.P, err, sizeof err), 0);
  double starts[3] = {0};
  ama_fp_result r;
  assert_int_equal(ama_fixedpoints(&m, starts, 0, NULL, &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "n_starts = 0"));
  ama_fp_config cfg;
  ama_fp_config_default(&cfg);
  cfg.tol_slow = cfg.tol_fixed / 2;
  assert_int_equal(ama_fixedpoints(&m, starts, 1, &cfg, &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "tol_fixed <= tol_slow"));
  ama_fp_config_default(&cfg);
  cfg.max_iter = 0;
  assert_int_equal(ama_fixedpoints(&m, starts, 1, &cfg, &r, err, sizeof err), -1);
  assert_non_null(strstr(err, "max_iter"));
  ama_cellmap_free(&m);
  free_cell(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bistable_rnn),   cmocka_unit_test(test_line_attractor),
      cmocka_unit_test(test_gru_planted),    cmocka_unit_test(test_lstm_planted),
      cmocka_unit_test(test_jacobians),      cmocka_unit_test(test_eig_general),
      cmocka_unit_test(test_deterministic),  cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
