// amv_analysis.c: unit ordering and principal components for the neural panels.
// PCA: covariance C (H x H) of the mean-centred samples, then power iteration with deflation
// (C <- C - lambda v v^T) for each component. Deterministic: fixed start vector, fixed iterations.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "amv.h"

const char* amv_order_name(int order) {
  switch (order) {
    case AMV_ORDER_PEAK: return "peak time";
    case AMV_ORDER_PC1: return "PC1 loading";
    default: return "index";
  }
}

int amv_pca(const float* X, int T, int H, int k, double* mean, double* comps, double* var) {
  if (T < 2 || H < 1 || k < 1) return 0;
  if (k > H) k = H;
  double* C = calloc((size_t)H * H, sizeof(double));
  double* v = malloc(sizeof(double) * H);
  double* w = malloc(sizeof(double) * H);
  if (!C || !v || !w) {
    free(C), free(v), free(w);
    return 0;
  }
  for (int j = 0; j < H; j++) mean[j] = 0;
  for (int t = 0; t < T; t++)
    for (int j = 0; j < H; j++) mean[j] += X[(size_t)t * H + j];
  for (int j = 0; j < H; j++) mean[j] /= T;
  for (int t = 0; t < T; t++) {
    const float* x = X + (size_t)t * H;
    for (int i = 0; i < H; i++) {
      double xi = x[i] - mean[i];
      if (xi == 0) continue;
      double* Ci = C + (size_t)i * H;
      for (int j = i; j < H; j++) Ci[j] += xi * (x[j] - mean[j]);
    }
  }
  for (int i = 0; i < H; i++)
    for (int j = i; j < H; j++) {
      C[(size_t)i * H + j] /= (T - 1);
      C[(size_t)j * H + i] = C[(size_t)i * H + j];
    }
  double trace = 0;
  for (int i = 0; i < H; i++) trace += C[(size_t)i * H + i];
  int found = 0;
  for (int c = 0; c < k && trace > 0; c++) {
    for (int i = 0; i < H; i++) v[i] = 1.0 + 0.01 * ((i * 7919) % 101);  // fixed, generic start
    double lambda = 0;
    for (int it = 0; it < 300; it++) {
      double nrm = 0;
      for (int i = 0; i < H; i++) {
        double s = 0;
        const double* Ci = C + (size_t)i * H;
        for (int j = 0; j < H; j++) s += Ci[j] * v[j];
        w[i] = s;
        nrm += s * s;
      }
      nrm = sqrt(nrm);
      if (nrm < 1e-12 * trace) break;
      double diff = 0;
      for (int i = 0; i < H; i++) {
        double nv = w[i] / nrm;
        diff += fabs(nv - v[i]);
        v[i] = nv;
      }
      lambda = nrm;
      if (diff < 1e-10 * H) break;
    }
    if (lambda <= 1e-12 * trace) break;
    int big = 0;
    for (int i = 1; i < H; i++)
      if (fabs(v[i]) > fabs(v[big])) big = i;
    double sgn = v[big] < 0 ? -1 : 1;
    for (int i = 0; i < H; i++) comps[(size_t)c * H + i] = sgn * v[i];
    var[c] = lambda;
    for (int i = 0; i < H; i++)
      for (int j = 0; j < H; j++) C[(size_t)i * H + j] -= lambda * v[i] * v[j];
    found++;
  }
  free(C), free(v), free(w);
  return found;
}

typedef struct key_idx {
  double key;
  int idx;
} key_idx;

static int cmp_key(const void* a, const void* b) {
  const key_idx *x = a, *y = b;
  if (x->key < y->key) return -1;
  if (x->key > y->key) return 1;
  return x->idx - y->idx;
}

void amv_order_units(const float* X, int T, int H, int how, int* order) {
  for (int i = 0; i < H; i++) order[i] = i;
  if (how == AMV_ORDER_INDEX || T < 1) return;
  key_idx* k = malloc(sizeof(key_idx) * H);
  if (!k) return;
  if (how == AMV_ORDER_PEAK) {
    for (int j = 0; j < H; j++) {
      int best = 0;
      for (int t = 1; t < T; t++)
        if (X[(size_t)t * H + j] > X[(size_t)best * H + j]) best = t;
      k[j].key = best;
      k[j].idx = j;
    }
  } else {
    double* mean = malloc(sizeof(double) * H);
    double* comp = malloc(sizeof(double) * H);
    double var;
    int ok = mean && comp && amv_pca(X, T, H, 1, mean, comp, &var) == 1;
    for (int j = 0; j < H; j++) {
      k[j].key = ok ? -comp[j] : j;
      k[j].idx = j;
    }
    free(mean), free(comp);
  }
  qsort(k, H, sizeof *k, cmp_key);
  for (int i = 0; i < H; i++) order[i] = k[i].idx;
  free(k);
}

void amv_unit_range(const float* X, int T, int H, float* lo, float* hi) {
  for (int j = 0; j < H; j++) {
    lo[j] = T > 0 ? X[j] : 0;
    hi[j] = lo[j];
  }
  for (int t = 1; t < T; t++)
    for (int j = 0; j < H; j++) {
      float x = X[(size_t)t * H + j];
      if (x < lo[j]) lo[j] = x;
      if (x > hi[j]) hi[j] = x;
    }
}

void amv_project(const float* X, int T, int H, int k, const double* mean, const double* comps,
                 float* P) {
  for (int t = 0; t < T; t++)
    for (int c = 0; c < k; c++) {
      double s = 0;
      for (int j = 0; j < H; j++) s += (X[(size_t)t * H + j] - mean[j]) * comps[(size_t)c * H + j];
      P[(size_t)t * k + c] = (float)s;
    }
}
