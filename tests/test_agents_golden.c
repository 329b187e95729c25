// test_agents_golden.c: the GRU and LSTM forward passes (ama_cell_forward) against reference
// values computed with PyTorch (torch.nn.GRU / torch.nn.LSTM in float64) for fixed weights,
// inputs, initial states and episode-start masks. The numbers are in data/golden_cells.h, made by
// tools/golden_cells.py, whose header explains the weight-layout mapping between animat and torch
// (same gate order and (out x in) shapes; the LSTM's one bias is torch's bias_ih + bias_hh).
// Tolerance: 1e-5 absolute on every output and final state (float32 arithmetic with animat's
// polynomial exp, relative error ~1e-7, against float64 references; the largest error seen is
// reported). The same values must come out whether the sequence runs in one call (learning) or
// one step per call carrying the state (acting). Torch is not needed to run this test.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ama_nn.h"
#include "data/golden_cells.h"

#define TOL 1e-5

typedef struct golden {
  ama_cell_type type;
  const float *Wx, *bx, *Wh, *bh, *s0;
  const double *y, *final;
} golden;

static double max_err(const float* got, const double* want, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)got[i] - want[i]));
  return e;
}

static void check(const golden* g) {
  const int T = GOLD_T, B = GOLD_B, I = GOLD_I, H = GOLD_H;
  char err[256];
  ama_params p;
  memset(&p, 0, sizeof p);
  ama_cell c;
  ama_cell_cfg cfg = {.type = g->type, .in = I, .hidden = H};
  assert_int_equal(ama_cell_init(&c, &cfg, &p, "core", err, sizeof err), 0);
  assert_int_equal(ama_params_alloc(&p, err, sizeof err), 0);
  const int G = c.G, S = c.S;
  memcpy(ama_params_view(&p, "core.Wx"), g->Wx, sizeof(float) * G * H * I);
  memcpy(ama_params_view(&p, "core.bx"), g->bx, sizeof(float) * G * H);
  memcpy(ama_params_view(&p, "core.Wh"), g->Wh, sizeof(float) * G * H * H);
  if (g->bh) memcpy(ama_params_view(&p, "core.bh"), g->bh, sizeof(float) * G * H);
  ama_cell_cache k;
  assert_int_equal(ama_cell_cache_alloc(&k, &c, T, B, err, sizeof err), 0);
  float* fin = calloc((size_t)B * S, sizeof(float));

  // the whole sequence in one call
  ama_cell_forward(&c, &p, &k, T, B, gold_x, g->s0, gold_mask, NULL, fin);
  double ey = max_err(k.y, g->y, (size_t)T * B * H), es = max_err(fin, g->final, (size_t)B * S);
  fprintf(stderr, "%s: max |error| outputs %.2e, final state %.2e (tolerance %.0e)\n",
          ama_cell_type_name(g->type), ey, es, TOL);
  assert_true(ey <= TOL);
  assert_true(es <= TOL);

  // one step per call, the state carried between calls (how the policy acts)
  ama_cell_cache k1;
  assert_int_equal(ama_cell_cache_alloc(&k1, &c, 1, B, err, sizeof err), 0);
  float* s = malloc(sizeof(float) * B * S);
  memcpy(s, g->s0, sizeof(float) * B * S);
  for (int t = 0; t < T; t++) {
    ama_cell_forward(&c, &p, &k1, 1, B, gold_x + (size_t)t * B * I, s, gold_mask + t * B, NULL, s);
    assert_true(max_err(k1.y, g->y + (size_t)t * B * H, (size_t)B * H) <= TOL);
    assert_memory_equal(k1.y, k.y + (size_t)t * B * H, sizeof(float) * B * H);
  }
  assert_memory_equal(s, fin, sizeof(float) * B * S);

  // negative control: the check has teeth (one weight off by 1e-3 is seen)
  ama_params_view(&p, "core.Wh")[0] += 1e-3f;
  ama_cell_forward(&c, &p, &k, T, B, gold_x, g->s0, gold_mask, NULL, NULL);
  assert_true(max_err(k.y, g->y, (size_t)T * B * H) > TOL);

  free(s);
  free(fin);
  ama_cell_cache_free(&k1);
  ama_cell_cache_free(&k);
  ama_cell_free(&c);
  ama_params_free(&p);
}

static void test_gru_matches_torch(void** state) {
  (void)state;
  golden g = {AMA_CELL_GRU, gold_gru_Wx, gold_gru_bx, gold_gru_Wh, gold_gru_bh, gold_gru_s0,
              gold_gru_y, gold_gru_final};
  check(&g);
}

static void test_lstm_matches_torch(void** state) {
  (void)state;
  golden g = {AMA_CELL_LSTM, gold_lstm_Wx, gold_lstm_bx, gold_lstm_Wh, NULL, gold_lstm_s0,
              gold_lstm_y, gold_lstm_final};
  check(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gru_matches_torch),
      cmocka_unit_test(test_lstm_matches_torch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
