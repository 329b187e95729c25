// ana_tuning.c: directional tuning: least-squares cosine fits with an F test (Georgopoulos et al.
// 1982), the population vector (Georgopoulos et al. 1983) and the Rayleigh test (Zar).
#include <math.h>
#include <stdlib.h>

#include "ana.h"
#include "ana_internal.h"

static double wrap_angle(double a) {  // to (-pi, pi]
  a = fmod(a, 2 * M_PI);
  if (a <= -M_PI) a += 2 * M_PI;
  if (a > M_PI) a -= 2 * M_PI;
  return a;
}

static int same_dir(double a, double b) {
  return fabs(wrap_angle(a - b)) < 1e-9;
}

int ana_cosine_fit(const double* theta, const double* rates, int n, int units, ana_tuning* out,
                   char* err, size_t err_sz) {
  if (!theta || !rates || !out) return am_err(err, err_sz, "cosine fit: NULL argument");
  if (n < 4 || units < 1)
    return am_err(err, err_sz, "cosine fit: need >= 4 samples and >= 1 unit (got %d, %d)", n,
                  units);
  int d1 = -1, d2 = -1;  // two more directions distinct from theta[0] and from each other
  for (int i = 1; i < n && d2 < 0; i++) {
    if (!isfinite(theta[i]) || same_dir(theta[i], theta[0])) continue;
    if (d1 < 0)
      d1 = i;
    else if (!same_dir(theta[i], theta[d1]))
      d2 = i;
  }
  if (d2 < 0)
    return am_err(err, err_sz, "cosine fit: need >= 3 distinct directions among the %d samples", n);
  for (size_t i = 0; i < (size_t)n * units; i++)
    if (!isfinite(rates[i]))
      return am_err(err, err_sz, "cosine fit: rate of sample %zu, unit %zu is not finite",
                    i / units, i % units);
  double* A = malloc(sizeof(double) * (size_t)n * 3);
  double* beta = malloc(sizeof(double) * 3 * (size_t)units);
  if (!A || !beta) {
    free(A), free(beta);
    return am_err(err, err_sz, "cosine fit: out of memory");
  }
  for (int i = 0; i < n; i++)
    A[i * 3] = 1, A[i * 3 + 1] = cos(theta[i]), A[i * 3 + 2] = sin(theta[i]);
  if (ana_lstsq(A, n, 3, rates, units, beta, err, err_sz)) {
    free(A), free(beta);
    return -1;
  }
  for (int u = 0; u < units; u++) {
    const double b0 = beta[u], a = beta[units + u], b = beta[2 * units + u];
    double mean = 0, sst = 0, sse = 0;
    for (int i = 0; i < n; i++) mean += rates[(size_t)i * units + u];
    mean /= n;
    for (int i = 0; i < n; i++) {
      const double r = rates[(size_t)i * units + u];
      const double e = r - (b0 + a * A[i * 3 + 1] + b * A[i * 3 + 2]);
      sst += (r - mean) * (r - mean), sse += e * e;
    }
    ana_tuning* t = &out[u];
    t->b0 = b0, t->depth = hypot(a, b), t->pref = t->depth > 0 ? atan2(b, a) : 0;
    const double dof = n - 3;
    if (sst <= 0 || sse >= sst) {
      t->r2 = 0, t->f = 0, t->p = 1;
    } else {
      t->r2 = 1 - sse / sst;
      t->f = sse > 0 ? ((sst - sse) / 2) / (sse / dof) : INFINITY;
      // Survival function of F(2, dof): (1 + 2 f / dof)^(-dof / 2).
      t->p = isfinite(t->f) ? exp(-0.5 * dof * log1p(2 * t->f / dof)) : 0;
    }
  }
  free(A), free(beta);
  return 0;
}

int ana_population_vector(const ana_tuning* tun, int units, double max_p, const double* rates,
                          int conds, const double* target, double* dir, double* len,
                          double* ang_err, char* err, size_t err_sz) {
  if (!tun || !rates || !dir || (target && !ang_err))
    return am_err(err, err_sz, "population vector: NULL argument");
  if (units < 1 || conds < 1)
    return am_err(err, err_sz, "population vector: need >= 1 unit and condition (got %d, %d)",
                  units, conds);
  int used = 0;
  for (int u = 0; u < units; u++) used += tun[u].depth > 0 && (max_p >= 1 || tun[u].p <= max_p);
  if (!used)
    return am_err(err, err_sz, "population vector: no unit is tuned (depth > 0, p <= %g)", max_p);
  for (int c = 0; c < conds; c++) {
    double x = 0, y = 0;
    for (int u = 0; u < units; u++) {
      const ana_tuning* t = &tun[u];
      if (!(t->depth > 0 && (max_p >= 1 || t->p <= max_p))) continue;
      const double w = (rates[(size_t)c * units + u] - t->b0) / t->depth;
      x += w * cos(t->pref), y += w * sin(t->pref);
    }
    dir[c] = atan2(y, x);
    if (len) len[c] = hypot(x, y) / used;
    if (target) ang_err[c] = wrap_angle(dir[c] - target[c]);
  }
  return 0;
}

int ana_rayleigh(const double* theta, int n, double* R, double* Z, double* p, char* err,
                 size_t err_sz) {
  if (!theta) return am_err(err, err_sz, "Rayleigh test: NULL argument");
  if (n < 2) return am_err(err, err_sz, "Rayleigh test: need >= 2 angles (got %d)", n);
  double c = 0, s = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(theta[i])) return am_err(err, err_sz, "Rayleigh test: angle %d is not finite", i);
    c += cos(theta[i]), s += sin(theta[i]);
  }
  const double Rn = hypot(c, s), r = Rn / n;
  double pv = exp(sqrt(1.0 + 4.0 * n + 4.0 * ((double)n * n - Rn * Rn)) - (1.0 + 2.0 * n));
  if (pv > 1) pv = 1;
  if (pv < 0) pv = 0;
  if (R) *R = r;
  if (Z) *Z = n * r * r;
  if (p) *p = pv;
  return 0;
}
