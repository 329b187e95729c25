// ana_dist.c: the distributional-critic ("dopamine population") analyses of Dabney et al. 2020
// (Nature 577: 671-675): expectiles of a sample, a head's reversal point from its reward
// prediction errors at reward delivery, the expectile-imputation decoding of a reward
// distribution from (asymmetry, reversal point) pairs, and the 1-Wasserstein distance between
// two samples to compare the decoded distribution with the true one.
// What it is not: no dataset reading (tools/analyze_dopamine.c), no figures.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

double ana_expectile(const double* x, int n, double tau) {
  if (n < 1 || !(tau > 0 && tau < 1)) return NAN;
  double lo = x[0], hi = x[0];
  for (int i = 1; i < n; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
  // f(e) = tau E(x - e)+ - (1 - tau) E(e - x)+ falls strictly from >= 0 at lo to <= 0 at hi
  for (int it = 0; it < 200 && hi - lo > 1e-12 * (1 + fabs(hi)); it++) {
    double e = 0.5 * (lo + hi), f = 0;
    for (int i = 0; i < n; i++) f += x[i] > e ? tau * (x[i] - e) : -(1 - tau) * (e - x[i]);
    if (f > 0) lo = e;
    else hi = e;
  }
  return 0.5 * (lo + hi);
}

int ana_reversal_point(const double* r, const double* d, int n, double* rev, double* slope,
                       char* err, size_t err_sz) {
  if (n < 2) return am_err(err, err_sz, "reversal point: need >= 2 rewards (got %d)", n);
  double mr = 0, md = 0;
  for (int i = 0; i < n; i++) mr += r[i], md += d[i];
  mr /= n, md /= n;
  double sxy = 0, sxx = 0;
  for (int i = 0; i < n; i++) sxy += (r[i] - mr) * (d[i] - md), sxx += (r[i] - mr) * (r[i] - mr);
  if (!(sxx > 0)) return am_err(err, err_sz, "reversal point: every reward has the same size");
  double b = sxy / sxx;
  if (!(fabs(b) > 1e-12))
    return am_err(err, err_sz, "reversal point: the prediction error does not depend on the "
                  "reward's size (slope %g)", b);
  *slope = b;
  *rev = mr - md / b;  // the zero of d = md + b (r - mr)
  return 0;
}

// The expectile condition of every head for samples z: g_i = mean_m [tau_i (z_m - e_i)+ -
// (1 - tau_i) (e_i - z_m)+], zero when e_i is z's tau_i-expectile. Returns sum_i g_i^2 / K.
static double imp_loss(const double* tau, const double* e, int K, const double* z, int M,
                       double* g) {
  double L = 0;
  for (int i = 0; i < K; i++) {
    double s = 0;
    for (int m = 0; m < M; m++)
      s += z[m] > e[i] ? tau[i] * (z[m] - e[i]) : -(1 - tau[i]) * (e[i] - z[m]);
    g[i] = s / M;
    L += g[i] * g[i];
  }
  return L / K;
}

int ana_expectile_impute(const double* tau, const double* e, int K, int M, int iters, double* z,
                         double* loss, char* err, size_t err_sz) {
  if (K < 1 || M < 1 || iters < 1)
    return am_err(err, err_sz, "expectile imputation: need K >= 1 heads, M >= 1 samples and "
                  "iters >= 1 (got %d, %d, %d)", K, M, iters);
  double lo = e[0], hi = e[0];
  for (int i = 0; i < K; i++) {
    if (!(tau[i] > 0 && tau[i] < 1) || !isfinite(e[i]))
      return am_err(err, err_sz, "expectile imputation: head %d has tau %g, expectile %g (tau "
                    "must lie in (0, 1), the expectile be finite)", i, tau[i], e[i]);
    lo = fmin(lo, e[i]), hi = fmax(hi, e[i]);
  }
  double span = hi - lo > 1e-9 ? hi - lo : 1.0;
  double* g = malloc(sizeof(double) * K);
  double *m1 = calloc((size_t)M, sizeof(double)), *m2 = calloc((size_t)M, sizeof(double));
  double* best = malloc(sizeof(double) * M);
  if (!g || !m1 || !m2 || !best) {
    free(g), free(m1), free(m2), free(best);
    return am_err(err, err_sz, "out of memory");
  }
  // start: evenly spread over the expectiles' range; then Adam on sum_i g_i^2 (the conditions
  // are piecewise linear in z), the step shrinking linearly; the best samples seen are kept
  for (int m = 0; m < M; m++) z[m] = lo + span * (m + 0.5) / M;
  double Lbest = imp_loss(tau, e, K, z, M, g);
  memcpy(best, z, sizeof(double) * M);
  const double b1 = 0.9, b2 = 0.999;
  for (int it = 0; it < iters; it++) {
    imp_loss(tau, e, K, z, M, g);
    double lr = 0.05 * span * (1.0 - (double)it / iters) + 1e-4 * span;
    for (int m = 0; m < M; m++) {
      double d = 0;
      for (int i = 0; i < K; i++) d += g[i] * (z[m] > e[i] ? tau[i] : 1 - tau[i]);
      d *= 2.0 / ((double)K * M);
      m1[m] = b1 * m1[m] + (1 - b1) * d;
      m2[m] = b2 * m2[m] + (1 - b2) * d * d;
      double mh = m1[m] / (1 - pow(b1, it + 1)), vh = m2[m] / (1 - pow(b2, it + 1));
      z[m] -= lr * mh / (sqrt(vh) + 1e-12);
    }
    double L = imp_loss(tau, e, K, z, M, g);
    if (L < Lbest) Lbest = L, memcpy(best, z, sizeof(double) * M);
  }
  memcpy(z, best, sizeof(double) * M);
  *loss = Lbest;
  free(g), free(m1), free(m2), free(best);
  return 0;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

double ana_median(double* v, int n) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double ana_wasserstein1(const double* x, int nx, const double* y, int ny) {
  if (nx < 1 || ny < 1) return NAN;
  double *a = malloc(sizeof(double) * nx), *b = malloc(sizeof(double) * ny);
  if (!a || !b) {
    free(a), free(b);
    return NAN;
  }
  memcpy(a, x, sizeof(double) * nx);
  memcpy(b, y, sizeof(double) * ny);
  qsort(a, nx, sizeof(double), cmp_double);
  qsort(b, ny, sizeof(double), cmp_double);
  // integral of |F_x - F_y| over the merged breakpoints
  double w = 0, prev = fmin(a[0], b[0]);
  int i = 0, j = 0;
  while (i < nx || j < ny) {
    double next = j >= ny || (i < nx && a[i] <= b[j]) ? a[i] : b[j];
    w += fabs((double)i / nx - (double)j / ny) * (next - prev);
    while (i < nx && a[i] == next) i++;
    while (j < ny && b[j] == next) j++;
    prev = next;
  }
  free(a), free(b);
  return w;
}
