// ama_gemm.h: the matrix products of the recurrent cells, with the right-hand operand packed once
// and reused (part of agents/, prefix ama_).
//
// What it is: C (M x N) = beta C + A B for the shapes a cell meets (M = a batch of 2-64 rows per
// time step, or K = all T x B rows for weight gradients). B is packed into column panels of
// AMA_GEMM_NR floats (zero padded); a recurrent weight matrix is packed once per forward or
// backward pass and used by every time step, where a BLAS call would repack it each step. A is read
// in place through a row and a column stride, so A^T costs nothing.
// What it is not: not threaded (the learner splits the batch across its threads), no allocation
// (the caller owns the packed buffer: ama_gemm_pack_size floats, 64-byte aligned).
// Determinism: every element of C is summed over k in the same order whatever M, N or the row
// block it falls in, so splitting a batch into parts gives the same bits as the whole.
#ifndef AMA_GEMM_H
#define AMA_GEMM_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMA_GEMM_NR 32  // columns per packed panel

// Floats needed to pack a K x N right-hand operand.
size_t ama_gemm_pack_size(int K, int N);

// Packs B (K x N) into dst: trans = 0: B[k][n] = b[k * ldb + n]; trans = 1:
// B[k][n] = b[n * ldb + k] (the transpose of a row-major N x K matrix, e.g. a weight matrix
// W (out x in) for x W^T).
void ama_gemm_pack(int K, int N, const float* b, size_t ldb, int trans, float* dst);

// C (M x N, row stride ldc) = beta C + A Bp, with A's element (i, k) at a[i * rsa + k * csa] and Bp
// packed by ama_gemm_pack. beta is 0 (C is overwritten, never read) or 1.
void ama_gemm(int M, int N, int K, const float* a, size_t rsa, size_t csa, const float* bp,
              float beta, float* c, size_t ldc);

// C = bias + A Bp (bias: N floats added to every row, NULL: 0; C is never read). The same bits as
// copying bias into every row of C and calling ama_gemm with beta 1.
void ama_gemm_bias(int M, int N, int K, const float* a, size_t rsa, size_t csa, const float* bp,
                   const float* bias, float* c, size_t ldc);

// The same with B (K x N) row-major (B[k][n] = b[k * ldb + n]) read in place, without packing:
// only when N is a multiple of AMA_GEMM_NR (returns -1 and does nothing otherwise). Same bits as
// packing B and calling ama_gemm.
int ama_gemm_direct(int M, int N, int K, const float* a, size_t rsa, size_t csa, const float* b,
                    size_t ldb, float beta, float* c, size_t ldc);

#ifdef __cplusplus
}
#endif
#endif
