// test_agents_gemm.c: the cells' packed matrix products (agents/ama_gemm.c) against a double
// precision reference, over the edge cases of the blocking (rows not a multiple of the 6-row tile,
// columns not a multiple of the 32-column panel, k across the 128-value blocks), both packings,
// A read in place or transposed, beta 0 (C never read) and 1, and a row stride wider than the
// matrix (the padding must stay untouched). Also: splitting the rows gives the same bits.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ama_gemm.h"

static uint64_t rs = 88172645463325252ull;
static float frand(void) {  // xorshift64, uniform [-1, 1)
  rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
  return (float)((rs >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
}

static float* packed_alloc(int K, int N) {
  size_t n = ama_gemm_pack_size(K, N);
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  float* p = aligned_alloc(64, bytes ? bytes : 64);
  assert_non_null(p);
  return p;
}

// C = beta C + A B for one shape and layout, checked element by element.
static void check_shape(int M, int N, int K, int b_trans, int a_trans, float beta) {
  const size_t ldc = (size_t)N + 3;
  // A (M x K): a_trans = 0: row-major M x K; 1: stored as K x M (read transposed)
  float* a = malloc(sizeof(float) * ((size_t)M * K + 1));
  // B (K x N): b_trans = 0: row-major K x N (ldb N + 2); 1: stored as N x K (ldb K + 1)
  size_t ldb = b_trans ? (size_t)K + 1 : (size_t)N + 2;
  size_t bn = b_trans ? (size_t)N * ldb : (size_t)K * ldb;
  float* b = malloc(sizeof(float) * (bn + 1));
  float* c = malloc(sizeof(float) * (size_t)M * ldc);
  float* c0 = malloc(sizeof(float) * (size_t)M * ldc);
  for (size_t i = 0; i < (size_t)M * K; i++) a[i] = frand();
  for (size_t i = 0; i < bn; i++) b[i] = frand();
  for (size_t i = 0; i < (size_t)M * ldc; i++) c0[i] = beta != 0 ? frand() : NAN;
  for (int i = 0; i < M; i++)
    for (size_t j = (size_t)N; j < ldc; j++) c0[i * ldc + j] = 12345.0f;  // padding
  memcpy(c, c0, sizeof(float) * (size_t)M * ldc);
  float* bp = packed_alloc(K, N);
  ama_gemm_pack(K, N, b, ldb, b_trans, bp);
  size_t rsa = a_trans ? 1 : (size_t)K, csa = a_trans ? (size_t)M : 1;
  ama_gemm(M, N, K, a, rsa, csa, bp, beta, c, ldc);
  // bias rows: the same bits as copying the bias into C and adding with beta 1
  if (beta != 0) {
    float* c3 = malloc(sizeof(float) * (size_t)M * ldc);
    for (size_t i = 0; i < (size_t)M * ldc; i++) c3[i] = NAN;
    for (int i = 0; i < M; i++)
      for (size_t j = (size_t)N; j < ldc; j++) c3[i * ldc + j] = 12345.0f;
    const float* bias = c0;  // row 0 of the old C, added to every row
    float* want = malloc(sizeof(float) * (size_t)M * ldc);
    for (int i = 0; i < M; i++) memcpy(want + i * ldc, c0, sizeof(float) * ldc);
    ama_gemm(M, N, K, a, rsa, csa, bp, 1.0f, want, ldc);
    ama_gemm_bias(M, N, K, a, rsa, csa, bp, bias, c3, ldc);
    for (int i = 0; i < M; i++) assert_memory_equal(c3 + i * ldc, want + i * ldc, sizeof(float) * N);
    for (int i = 0; i < M; i++)
      for (size_t j = (size_t)N; j < ldc; j++) assert_true(c3[i * ldc + j] == 12345.0f);
    free(c3), free(want);
  }
  // B read in place: the same bits when N is a multiple of the panel width, refused otherwise
  if (!b_trans) {
    float* c2 = malloc(sizeof(float) * (size_t)M * ldc);
    memcpy(c2, c0, sizeof(float) * (size_t)M * ldc);
    int rc = ama_gemm_direct(M, N, K, a, rsa, csa, b, ldb, beta, c2, ldc);
    if (N % AMA_GEMM_NR == 0) {
      assert_int_equal(rc, 0);
      assert_memory_equal(c2, c, sizeof(float) * (size_t)M * ldc);
    } else {
      assert_int_equal(rc, -1);
      assert_memory_equal(c2, c0, sizeof(float) * (size_t)M * ldc);  // untouched
    }
    free(c2);
  }
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      double want = beta != 0 ? c0[i * ldc + j] : 0.0, mag = fabs(want);
      for (int k = 0; k < K; k++) {
        double av = a[i * rsa + k * csa];
        double bv = b_trans ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j];
        want += av * bv;
        mag += fabs(av * bv);
      }
      double got = c[i * ldc + j];
      if (!(fabs(got - want) <= 1e-6 * mag + 1e-30))
        fail_msg("M %d N %d K %d btrans %d atrans %d beta %g: C[%d][%d] = %.9g, want %.9g", M, N,
                 K, b_trans, a_trans, beta, i, j, got, want);
    }
    for (size_t j = (size_t)N; j < ldc; j++) assert_true(c[i * ldc + j] == 12345.0f);
  }
  free(a), free(b), free(c), free(c0), free(bp);
}

static void test_gemm_shapes(void** state) {
  (void)state;
  const int Ms[] = {1, 2, 5, 6, 7, 13, 64};
  const int Ns[] = {1, 5, 31, 32, 33, 64, 70, 192};
  const int Ks[] = {0, 1, 7, 128, 129, 300};
  int n = 0;
  for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
      for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
        int v = (int)(mi + ni + ki);  // vary the layout across shapes
        check_shape(Ms[mi], Ns[ni], Ks[ki], v & 1, (v >> 1) & 1, (v >> 2) & 1 ? 1.0f : 0.0f);
        n++;
      }
  // every layout on one awkward shape
  for (int v = 0; v < 8; v++) check_shape(11, 45, 257, v & 1, (v >> 1) & 1, v >> 2 ? 1.0f : 0.0f);
  assert_int_equal(n, 7 * 8 * 6);
}

// The rows computed in two calls (a split batch, as the learner's two threads do) are the same
// bits as in one call, wherever the split falls relative to the 6-row tiles.
static void test_gemm_split_rows(void** state) {
  (void)state;
  const int M = 64, N = 70, K = 300;
  float* a = malloc(sizeof(float) * M * K);
  float* b = malloc(sizeof(float) * K * N);
  float* whole = malloc(sizeof(float) * M * N);
  float* parts = malloc(sizeof(float) * M * N);
  for (int i = 0; i < M * K; i++) a[i] = frand();
  for (int i = 0; i < K * N; i++) b[i] = frand();
  float* bp = packed_alloc(K, N);
  ama_gemm_pack(K, N, b, N, 0, bp);
  ama_gemm(M, N, K, a, K, 1, bp, 0.0f, whole, N);
  const int splits[] = {1, 5, 6, 29, 32, 63};
  for (int s = 0; s < 6; s++) {
    int m1 = splits[s];
    ama_gemm(m1, N, K, a, K, 1, bp, 0.0f, parts, N);
    ama_gemm(M - m1, N, K, a + (size_t)m1 * K, K, 1, bp, 0.0f, parts + (size_t)m1 * N, N);
    assert_memory_equal(whole, parts, sizeof(float) * M * N);
  }
  free(a), free(b), free(whole), free(parts), free(bp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_shapes),
      cmocka_unit_test(test_gemm_split_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
