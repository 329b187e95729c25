// ana_internal.h: helpers shared by the analysis sources (not part of the public API): the LAPACK
// and BLAS routines we call (declared here: Debian's OpenBLAS ships no lapacke.h), row-major
// wrappers around them, and small vector utilities.
#ifndef ANA_INTERNAL_H
#define ANA_INTERNAL_H

#include <stddef.h>

// Row-major C (m x n) = alpha op(A) op(B) + beta C, op = transpose when ta / tb is non-zero.
// A is stored m x kk (or kk x m when ta), B kk x n (or n x kk when tb).
void ana_gemm(int ta, int tb, int m, int n, int kk, double alpha, const double* A, const double* B,
              double beta, double* C);

// Eigen-decomposition of the symmetric n x n matrix S (row-major; only symmetric input makes
// sense): w (n) descending, V (n x n, may be NULL) row i = unit eigenvector of w[i].
int ana_symeig(const double* S, int n, double* w, double* V, char* err, size_t err_sz);

// Minimum-norm least squares (LAPACK dgelsd): Xs (n x k) minimising |A Xs - B|_F for A (m x n),
// B (m x k), all row-major.
int ana_lstsq(const double* A, int m, int n, const double* B, int k, double* Xs, char* err,
              size_t err_sz);

// Column means of X (n x p) into mean (p); Xc (n x p) = X - mean (Xc may equal X).
void ana_center(const double* X, int n, int p, double* mean, double* Xc);

// Ranks (1-based, ties get their average rank) of x (n) into r (n). -1 on allocation failure.
int ana_rank(const double* x, int n, double* r);

// Pearson correlation of x and y (n); NAN when either is constant.
double ana_pearson(const double* x, const double* y, int n);

#endif
