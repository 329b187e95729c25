// amv_analysis.c: unit ordering and principal components for the neural panels. The PCA is the
// analysis library's (ana_pca: LAPACK on the covariance of the mean-centred samples), the same
// one `animat analyze` uses.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"
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
  double* Xd = malloc(sizeof(double) * (size_t)T * H);
  double* all = malloc(sizeof(double) * H);  // every component's variance, descending
  char err[AM_ERR_LEN];
  int found = 0;
  if (Xd && all) {
    for (size_t i = 0; i < (size_t)T * H; i++) Xd[i] = X[i];
    if (ana_pca(Xd, T, H, k, mean, comps, all, NULL, err, sizeof err) == 0) {
      double trace = 0;
      for (int j = 0; j < H; j++) trace += all[j];
      while (found < k && trace > 0 && all[found] > 1e-12 * trace) {
        var[found] = all[found];
        found++;
      }
    }
  }
  free(Xd), free(all);
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
