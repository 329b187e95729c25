// ama_gemm.c: packed-panel matrix products for the recurrent cells. See ama_gemm.h.
//
// A register-blocked micro-kernel computes an MR x NR tile of C (MR = 8 rows with AVX-512, else
// 6; NR = 32 columns: 16 or 12 accumulators of 16 floats) over a block of KC values of k,
// broadcasting one element of A per row and reading two vectors of the B panel per k. The k loop
// is cut into blocks of KC so that the panel's block (KC x NR floats, 16 KiB) stays in L1 while the
// kernel walks down the rows of A.
// Written with GCC's vector extensions and compiled for AVX-512, AVX2+FMA and baseline x86-64
// (picked at load time); the file is compiled with FMA contraction on, so machines with and without
// FMA round differently, but on one machine the bits depend only on the inputs.
#include "ama_gemm.h"

#include <string.h>

#define NR AMA_GEMM_NR
#define MR 8  // rows per tile with AVX-512 (16 accumulators of its 32 vector registers); 6 else
#define KC 128

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GEMM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GEMM_CLONES
#endif

size_t ama_gemm_pack_size(int K, int N) {
  size_t panels = (size_t)(N + NR - 1) / NR;
  return panels * NR * (size_t)(K > 0 ? K : 0);
}

void ama_gemm_pack(int K, int N, const float* b, size_t ldb, int trans, float* dst) {
  for (int j0 = 0; j0 < N; j0 += NR) {
    float* p = dst + (size_t)(j0 / NR) * K * NR;
    int nc = N - j0 < NR ? N - j0 : NR;
    if (!trans) {
      for (int k = 0; k < K; k++) {
        memcpy(p + (size_t)k * NR, b + (size_t)k * ldb + j0, sizeof(float) * nc);
        if (nc < NR) memset(p + (size_t)k * NR + nc, 0, sizeof(float) * (NR - nc));
      }
    } else {
      if (nc < NR) memset(p, 0, sizeof(float) * (size_t)K * NR);
      for (int j = 0; j < nc; j++) {
        const float* row = b + (size_t)(j0 + j) * ldb;
        for (int k = 0; k < K; k++) p[(size_t)k * NR + j] = row[k];
      }
    }
  }
}

// One MR x NR tile (mr rows, nc valid columns) over kc values of k; row k of the B panel starts
// at bp + k * ldp. load: start from C, else from bias (nc values; NULL: 0).
static inline __attribute__((always_inline)) void tile(int mr, int kc, const float* a, size_t rsa,
                                                       size_t csa, const float* bp, size_t ldp,
                                                       float* c, size_t ldc, int nc, int load,
                                                       const float* bias) {
  v16 acc[MR][2];
  float buf[MR][NR];
  for (int r = 0; r < mr; r++) {
    if (!load && !bias) {
      acc[r][0] = (v16){0};
      acc[r][1] = (v16){0};
    } else if (!load && nc == NR) {
      acc[r][0] = *(const v16u*)bias;
      acc[r][1] = *(const v16u*)(bias + 16);
    } else if (!load) {
      memset(buf[r], 0, sizeof buf[r]);
      memcpy(buf[r], bias, sizeof(float) * nc);
      acc[r][0] = *(const v16u*)buf[r];
      acc[r][1] = *(const v16u*)(buf[r] + 16);
    } else if (nc == NR) {
      acc[r][0] = *(const v16u*)(c + r * ldc);
      acc[r][1] = *(const v16u*)(c + r * ldc + 16);
    } else {
      memset(buf[r], 0, sizeof buf[r]);
      memcpy(buf[r], c + r * ldc, sizeof(float) * nc);
      acc[r][0] = *(const v16u*)buf[r];
      acc[r][1] = *(const v16u*)(buf[r] + 16);
    }
  }
  for (int k = 0; k < kc; k++) {
    const v16 b0 = *(const v16u*)(bp + (size_t)k * ldp);
    const v16 b1 = *(const v16u*)(bp + (size_t)k * ldp + 16);
    const float* ak = a + k * csa;
    for (int r = 0; r < mr; r++) {
      const float av = ak[r * rsa];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
  }
  for (int r = 0; r < mr; r++) {
    if (nc == NR) {
      *(v16u*)(c + r * ldc) = acc[r][0];
      *(v16u*)(c + r * ldc + 16) = acc[r][1];
    } else {
      *(v16u*)buf[r] = acc[r][0];
      *(v16u*)(buf[r] + 16) = acc[r][1];
      memcpy(c + r * ldc, buf[r], sizeof(float) * nc);
    }
  }
}

// The loops over k blocks, column panels and row tiles. Panel j of B starts at bp + j * pstride and
// its rows are ldp floats apart: packed, ldp = NR and pstride = K * NR; a row-major B whose N is a
// multiple of NR is read in place with ldp = ldb and pstride = NR.
GEMM_CLONES static void gemm(int M, int N, int K, const float* a, size_t rsa, size_t csa,
                             const float* bp, size_t ldp, size_t pstride, float beta,
                             const float* bias, float* c, size_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int i = 0; i < M && beta == 0; i++) {
      if (bias) memcpy(c + (size_t)i * ldc, bias, sizeof(float) * N);
      else memset(c + (size_t)i * ldc, 0, sizeof(float) * N);
    }
    return;
  }
  // 8-row tiles need 16 vector accumulators: AVX-512 has 32 registers, AVX2 16 (each 16-float
  // vector is two of them there), so other machines use 6-row tiles. Either way each element of C
  // is summed over k in the same order: the tile height does not change the bits.
#if defined(__x86_64__) && defined(__GNUC__)
  const int mr_max = __builtin_cpu_supports("avx512f") ? 8 : 6;
#else
  const int mr_max = 6;
#endif
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = K - k0 < KC ? K - k0 : KC;
    const int load = k0 > 0 || beta != 0;
    for (int j0 = 0; j0 < N; j0 += NR) {
      const int nc = N - j0 < NR ? N - j0 : NR;
      const float* panel = bp + (size_t)(j0 / NR) * pstride + (size_t)k0 * ldp;
      const float* bj = bias ? bias + j0 : NULL;
      for (int i0 = 0; i0 < M; i0 += mr_max) {
        const float* ai = a + i0 * rsa + k0 * csa;
        float* ci = c + i0 * ldc + j0;
        // constant row counts, so that each case is unrolled in full
        switch (M - i0 < mr_max ? M - i0 : mr_max) {
          case 8: tile(8, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          case 7: tile(7, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          case 6: tile(6, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          case 5: tile(5, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          case 4: tile(4, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          case 3: tile(3, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          case 2: tile(2, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
          default: tile(1, kc, ai, rsa, csa, panel, ldp, ci, ldc, nc, load, bj); break;
        }
      }
    }
  }
}

void ama_gemm(int M, int N, int K, const float* a, size_t rsa, size_t csa, const float* bp,
              float beta, float* c, size_t ldc) {
  gemm(M, N, K, a, rsa, csa, bp, NR, (size_t)K * NR, beta, NULL, c, ldc);
}

void ama_gemm_bias(int M, int N, int K, const float* a, size_t rsa, size_t csa, const float* bp,
                   const float* bias, float* c, size_t ldc) {
  gemm(M, N, K, a, rsa, csa, bp, NR, (size_t)K * NR, 0.0f, bias, c, ldc);
}

int ama_gemm_direct(int M, int N, int K, const float* a, size_t rsa, size_t csa, const float* b,
                    size_t ldb, float beta, float* c, size_t ldc) {
  if (N % NR != 0) return -1;
  gemm(M, N, K, a, rsa, csa, b, ldb, NR, beta, NULL, c, ldc);
  return 0;
}
