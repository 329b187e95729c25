// ana_linalg.c: the analysis library's linear-algebra layer: row-major wrappers around BLAS dgemm
// and LAPACK dsyev / dgelsd (from OpenBLAS, Fortran calling convention: every argument by
// pointer, column-major storage, one hidden length per character argument), plus centring,
// ranking and correlation helpers.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"
#include "ana_internal.h"

extern void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k,
                   const double* alpha, const double* A, const int* lda, const double* B,
                   const int* ldb, const double* beta, double* C, const int* ldc, size_t, size_t);
extern void dsyev_(const char* jobz, const char* uplo, const int* n, double* A, const int* lda,
                   double* w, double* work, const int* lwork, int* info, size_t, size_t);
extern void dgelsd_(const int* m, const int* n, const int* nrhs, double* A, const int* lda,
                    double* B, const int* ldb, double* s, const double* rcond, int* rank,
                    double* work, const int* lwork, int* iwork, int* info);

void ana_gemm(int ta, int tb, int m, int n, int kk, double alpha, const double* A, const double* B,
              double beta, double* C) {
  if (m <= 0 || n <= 0) return;
  if (kk <= 0) {
    for (size_t i = 0; i < (size_t)m * n; i++) C[i] = beta == 0 ? 0 : beta * C[i];
    return;
  }
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  const char tA = ta ? 'T' : 'N', tB = tb ? 'T' : 'N';
  const int lda = ta ? m : kk, ldb = tb ? kk : n, ldc = n;
  dgemm_(&tB, &tA, &n, &m, &kk, &alpha, B, &ldb, A, &lda, &beta, C, &ldc, 1, 1);
}

int ana_symeig(const double* S, int n, double* w, double* V, char* err, size_t err_sz) {
  double* A = malloc(sizeof(double) * (size_t)n * n);
  double* wa = malloc(sizeof(double) * (size_t)n);
  if (!A || !wa) {
    free(A), free(wa);
    return am_err(err, err_sz, "eigen-decomposition: out of memory (n = %d)", n);
  }
  memcpy(A, S, sizeof(double) * (size_t)n * n);  // symmetric: row- and column-major agree
  const char jobz = V ? 'V' : 'N', uplo = 'U';
  int info = 0, lwork = -1;
  double wq = 0;
  dsyev_(&jobz, &uplo, &n, A, &n, wa, &wq, &lwork, &info, 1, 1);
  lwork = info == 0 && wq >= 1 ? (int)wq : 3 * n;
  double* work = malloc(sizeof(double) * (size_t)lwork);
  if (!work) {
    free(A), free(wa);
    return am_err(err, err_sz, "eigen-decomposition: out of memory (n = %d)", n);
  }
  dsyev_(&jobz, &uplo, &n, A, &n, wa, work, &lwork, &info, 1, 1);
  free(work);
  if (info != 0) {
    free(A), free(wa);
    return am_err(err, err_sz, "eigen-decomposition (LAPACK dsyev) failed: info = %d", info);
  }
  // dsyev: ascending eigenvalues, eigenvector j in column j (A[j*n + i], column-major).
  for (int j = 0; j < n; j++) {
    const int r = n - 1 - j;
    w[r] = wa[j];
    if (V) memcpy(V + (size_t)r * n, A + (size_t)j * n, sizeof(double) * (size_t)n);
  }
  free(A), free(wa);
  return 0;
}

int ana_lstsq(const double* A, int m, int n, const double* B, int k, double* Xs, char* err,
              size_t err_sz) {
  const int ldb = m > n ? m : n, mn = m < n ? m : n;
  double* a = malloc(sizeof(double) * (size_t)m * n);
  double* b = calloc((size_t)ldb * k, sizeof(double));
  double* s = malloc(sizeof(double) * (size_t)(mn > 0 ? mn : 1));
  if (!a || !b || !s) {
    free(a), free(b), free(s);
    return am_err(err, err_sz, "least squares: out of memory (%d x %d)", m, n);
  }
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) a[(size_t)j * m + i] = A[(size_t)i * n + j];
    for (int j = 0; j < k; j++) b[(size_t)j * ldb + i] = B[(size_t)i * k + j];
  }
  const double rcond = -1;  // machine precision
  int rank = 0, info = 0, lwork = -1, iwq = 0;
  double wq = 0;
  dgelsd_(&m, &n, &k, a, &m, b, &ldb, s, &rcond, &rank, &wq, &lwork, &iwq, &info);
  lwork = (int)wq;
  double* work = malloc(sizeof(double) * (size_t)(lwork > 1 ? lwork : 1));
  int* iwork = malloc(sizeof(int) * (size_t)(iwq > 1 ? iwq : 1));
  if (info != 0 || !work || !iwork) {
    free(a), free(b), free(s), free(work), free(iwork);
    return am_err(err, err_sz, "least squares: workspace query failed (%d x %d, info %d)", m, n,
                  info);
  }
  dgelsd_(&m, &n, &k, a, &m, b, &ldb, s, &rcond, &rank, work, &lwork, iwork, &info);
  if (info == 0)
    for (int i = 0; i < n; i++)
      for (int j = 0; j < k; j++) Xs[(size_t)i * k + j] = b[(size_t)j * ldb + i];
  free(a), free(b), free(s), free(work), free(iwork);
  if (info != 0)
    return am_err(err, err_sz, "least squares (LAPACK dgelsd) did not converge: info = %d", info);
  return 0;
}

void ana_center(const double* X, int n, int p, double* mean, double* Xc) {
  for (int j = 0; j < p; j++) mean[j] = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < p; j++) mean[j] += X[(size_t)i * p + j];
  for (int j = 0; j < p; j++) mean[j] /= n;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < p; j++) Xc[(size_t)i * p + j] = X[(size_t)i * p + j] - mean[j];
}

typedef struct {
  double v;
  int i;
} rank_item;
static int rank_cmp(const void* a, const void* b) {
  const rank_item *x = a, *y = b;
  if (x->v < y->v) return -1;
  if (x->v > y->v) return 1;
  return x->i - y->i;  // stable: the order is fully determined
}

int ana_rank(const double* x, int n, double* r) {
  rank_item* it = malloc(sizeof(rank_item) * (size_t)n);
  if (!it) return -1;
  for (int i = 0; i < n; i++) it[i] = (rank_item){x[i], i};
  qsort(it, (size_t)n, sizeof(rank_item), rank_cmp);
  for (int i = 0; i < n;) {
    int j = i + 1;
    while (j < n && it[j].v == it[i].v) j++;
    const double avg = 0.5 * (i + 1 + j);  // mean of the ranks i+1 .. j
    for (int t = i; t < j; t++) r[it[t].i] = avg;
    i = j;
  }
  free(it);
  return 0;
}

double ana_pearson(const double* x, const double* y, int n) {
  double mx = 0, my = 0;
  for (int i = 0; i < n; i++) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < n; i++) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
  }
  if (sxx <= 0 || syy <= 0) return NAN;
  return sxy / sqrt(sxx * syy);
}
