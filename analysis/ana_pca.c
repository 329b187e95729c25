// ana_pca.c: PCA from the covariance's eigen-decomposition (LAPACK dsyev) and jPCA (Churchland et
// al. 2012): rotational dynamics fitted by least squares with an unconstrained and a
// skew-symmetric dynamics matrix.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"
#include "ana_internal.h"

int ana_pca(const double* X, int n, int p, int k, double* mean, double* comps, double* var,
            double* explained, char* err, size_t err_sz) {
  if (!X || (k > 0 && !comps)) return am_err(err, err_sz, "PCA: NULL argument");
  if (n < 2 || p < 1)
    return am_err(err, err_sz, "PCA: need >= 2 samples and >= 1 unit (got %d x %d)", n, p);
  if (k < 0 || k > p) return am_err(err, err_sz, "PCA: components k = %d not in [0, %d]", k, p);
  for (size_t i = 0; i < (size_t)n * p; i++)
    if (!isfinite(X[i])) return am_err(err, err_sz, "PCA: X[%zu][%zu] is not finite", i / p, i % p);
  double* Xc = malloc(sizeof(double) * (size_t)n * p);
  double* mu = malloc(sizeof(double) * (size_t)p);
  double* C = malloc(sizeof(double) * (size_t)p * p);
  double* w = malloc(sizeof(double) * (size_t)p);
  double* V = malloc(sizeof(double) * (size_t)p * p);
  int rc = -1;
  if (!Xc || !mu || !C || !w || !V) {
    am_err(err, err_sz, "PCA: out of memory (%d x %d)", n, p);
    goto done;
  }
  ana_center(X, n, p, mu, Xc);
  ana_gemm(1, 0, p, p, n, 1.0 / (n - 1), Xc, Xc, 0, C);
  if (ana_symeig(C, p, w, V, err, err_sz)) goto done;
  double total = 0;
  for (int j = 0; j < p; j++) {
    if (w[j] < 0) w[j] = 0;  // rounding below a zero eigenvalue
    total += w[j];
  }
  for (int c = 0; c < k; c++) {
    double* v = V + (size_t)c * p;
    int big = 0;
    for (int j = 1; j < p; j++)
      if (fabs(v[j]) > fabs(v[big])) big = j;
    const double sgn = v[big] < 0 ? -1 : 1;
    for (int j = 0; j < p; j++) comps[(size_t)c * p + j] = sgn * v[j];
  }
  if (mean) memcpy(mean, mu, sizeof(double) * (size_t)p);
  if (var) memcpy(var, w, sizeof(double) * (size_t)p);
  if (explained)
    for (int j = 0; j < p; j++) explained[j] = total > 0 ? w[j] / total : 0;
  rc = 0;
done:
  free(Xc), free(mu), free(C), free(w), free(V);
  return rc;
}

int ana_pca_project(const double* X, int n, int p, const double* mean, const double* comps, int k,
                    double* out, char* err, size_t err_sz) {
  if (!X || !comps || !out) return am_err(err, err_sz, "PCA projection: NULL argument");
  if (n < 1 || p < 1 || k < 1)
    return am_err(err, err_sz, "PCA projection: bad shape (%d x %d, k = %d)", n, p, k);
  ana_gemm(0, 1, n, k, p, 1, X, comps, 0, out);
  if (mean) {  // (X - 1 mean^T) C^T = X C^T - 1 (C mean)^T
    for (int c = 0; c < k; c++) {
      double s = 0;
      for (int j = 0; j < p; j++) s += comps[(size_t)c * p + j] * mean[j];
      for (int i = 0; i < n; i++) out[(size_t)i * k + c] -= s;
    }
  }
  return 0;
}

// R^2 of dY ~ Ym M^T (S x k), uncentred as in Churchland et al.'s code.
static double fit_r2(const double* dY, const double* Ym, const double* M, int S, int k) {
  double sse = 0, sst = 0;
  for (int s = 0; s < S; s++)
    for (int a = 0; a < k; a++) {
      double pred = 0;
      for (int b = 0; b < k; b++) pred += M[a * k + b] * Ym[(size_t)s * k + b];
      const double d = dY[(size_t)s * k + a];
      sse += (d - pred) * (d - pred), sst += d * d;
    }
  return sst > 0 ? 1 - sse / sst : 0;
}

// v -= sum over the chosen rows u_i of (u_i . v) u_i (twice, for rounding); returns |v|.
static double orthogonalise(double* v, const double* U, int chosen, int k) {
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < chosen; i++) {
      double d = 0;
      for (int a = 0; a < k; a++) d += U[i * k + a] * v[a];
      for (int a = 0; a < k; a++) v[a] -= d * U[i * k + a];
    }
  double nn = 0;
  for (int a = 0; a < k; a++) nn += v[a] * v[a];
  return sqrt(nn);
}

int ana_jpca(const double* X, int conds, int T, int units, double dt, int k, ana_jpca_result* out,
             double* jpcs, char* err, size_t err_sz) {
  if (!X || !out) return am_err(err, err_sz, "jPCA: NULL argument");
  if (k == 0) k = 6;
  if (conds < 1 || T < 2 || units < 2)
    return am_err(err, err_sz,
                  "jPCA: need >= 1 condition, >= 2 times, >= 2 units (got %d x %d x %d)", conds, T,
                  units);
  if (k < 2 || k % 2 || k > ANA_JPCA_MAX_K || k > units)
    return am_err(err, err_sz, "jPCA: k = %d must be even, in [2, %d] and <= units (%d)", k,
                  ANA_JPCA_MAX_K, units);
  if (!(dt > 0) || !isfinite(dt))
    return am_err(err, err_sz, "jPCA: time step dt = %g must be > 0", dt);
  const int N = conds * T, S = conds * (T - 1), P = k * (k - 1) / 2;
  if (S < k) return am_err(err, err_sz, "jPCA: %d time steps in all, fewer than k = %d", S, k);
  memset(out, 0, sizeof *out);
  out->k = k;
  double* Xr = malloc(sizeof(double) * (size_t)N * units);
  double* comps = malloc(sizeof(double) * (size_t)k * units);
  double* var = malloc(sizeof(double) * (size_t)units);
  double* mean = malloc(sizeof(double) * (size_t)units);
  double* Y = malloc(sizeof(double) * (size_t)N * k);
  double* dY = malloc(sizeof(double) * (size_t)S * k);
  double* Ym = malloc(sizeof(double) * (size_t)S * k);
  double* D = calloc((size_t)S * k * P, sizeof(double));
  double* m = malloc(sizeof(double) * (size_t)P);
  double B[ANA_JPCA_MAX_K * ANA_JPCA_MAX_K];
  int rc = -1;
  if (!Xr || !comps || !var || !mean || !Y || !dY || !Ym || !D || !m) {
    am_err(err, err_sz, "jPCA: out of memory (%d x %d x %d)", conds, T, units);
    goto done;
  }
  // Cross-condition mean at each time removed.
  memcpy(Xr, X, sizeof(double) * (size_t)N * units);
  for (int t = 0; t < T; t++)
    for (int u = 0; u < units; u++) {
      double mu = 0;
      for (int c = 0; c < conds; c++) mu += X[((size_t)c * T + t) * units + u];
      mu /= conds;
      for (int c = 0; c < conds; c++) Xr[((size_t)c * T + t) * units + u] -= mu;
    }
  if (ana_pca(Xr, N, units, k, mean, comps, var, NULL, err, err_sz)) goto done;
  double total = 0, kept = 0;
  for (int j = 0; j < units; j++) total += var[j], kept += j < k ? var[j] : 0;
  out->pca_explained = total > 0 ? kept / total : 0;
  if (!(total > 0)) {
    am_err(err, err_sz, "jPCA: the trajectories do not vary across conditions");
    goto done;
  }
  ana_pca_project(Xr, N, units, mean, comps, k, Y, err, err_sz);
  for (int c = 0; c < conds; c++)
    for (int t = 0; t + 1 < T; t++) {
      const double* y0 = Y + ((size_t)c * T + t) * k;
      const double* y1 = y0 + k;
      const size_t s = (size_t)c * (T - 1) + t;
      for (int a = 0; a < k; a++) {
        dY[s * k + a] = (y1[a] - y0[a]) / dt;
        Ym[s * k + a] = 0.5 * (y1[a] + y0[a]);
      }
    }
  // Unconstrained: dY = Ym B with B = M^T.
  if (ana_lstsq(Ym, S, k, dY, k, B, err, err_sz)) goto done;
  for (int a = 0; a < k; a++)
    for (int b = 0; b < k; b++) out->M_full[a * k + b] = B[b * k + a];
  // Skew-symmetric: parameter (i < j) is M[i][j] = -M[j][i]; row (s, a) of the stacked system is
  // dY[s][a] = sum_b M[a][b] Ym[s][b].
  for (int s = 0, q; s < S; s++) {
    q = 0;
    for (int i = 0; i < k; i++)
      for (int j = i + 1; j < k; j++, q++) {
        D[((size_t)s * k + i) * P + q] = Ym[(size_t)s * k + j];
        D[((size_t)s * k + j) * P + q] = -Ym[(size_t)s * k + i];
      }
  }
  if (ana_lstsq(D, S * k, P, dY, 1, m, err, err_sz)) goto done;
  for (int i = 0, q = 0; i < k; i++)
    for (int j = i + 1; j < k; j++, q++)
      out->M_skew[i * k + j] = m[q], out->M_skew[j * k + i] = -m[q];
  out->r2_full = fit_r2(dY, Ym, out->M_full, S, k);
  out->r2_skew = fit_r2(dY, Ym, out->M_skew, S, k);
  // Invariant planes: M^T M = -M^2 has eigenvalue w_j^2 twice for plane j; take its eigenvectors
  // in descending order, u1 = the next one orthogonal to the planes so far, u2 = M u1 / |M u1|
  // (then M u1 = w u2 and M u2 = -w u1: counterclockwise rotation in (u1, u2)).
  double G[ANA_JPCA_MAX_K * ANA_JPCA_MAX_K], ev[ANA_JPCA_MAX_K],
      EV[ANA_JPCA_MAX_K * ANA_JPCA_MAX_K];
  ana_gemm(1, 0, k, k, k, 1, out->M_skew, out->M_skew, 0, G);
  if (ana_symeig(G, k, ev, EV, err, err_sz)) goto done;
  int chosen = 0;
  for (int e = 0; e < k && chosen < k; e++) {
    double* u1 = out->planes + chosen * k;
    memcpy(u1, EV + e * k, sizeof(double) * k);
    double nv = orthogonalise(u1, out->planes, chosen, k);
    if (nv < 1e-6) continue;
    for (int a = 0; a < k; a++) u1[a] /= nv;
    double* u2 = u1 + k;
    for (int a = 0; a < k; a++) {
      u2[a] = 0;
      for (int b = 0; b < k; b++) u2[a] += out->M_skew[a * k + b] * u1[b];
    }
    double w = orthogonalise(u2, out->planes, chosen + 1, k);
    if (w < 1e-12 * (1 + sqrt(fabs(ev[0])))) {  // no rotation left: complete with eigenvectors
      w = 0;
      for (int f = e + 1; f < k; f++) {
        memcpy(u2, EV + f * k, sizeof(double) * k);
        const double nf = orthogonalise(u2, out->planes, chosen + 1, k);
        if (nf > 1e-6) {
          for (int a = 0; a < k; a++) u2[a] /= nf;
          break;
        }
      }
    } else {
      for (int a = 0; a < k; a++) u2[a] /= w;
    }
    out->freq_hz[chosen / 2] = w / (2 * M_PI);
    chosen += 2;
  }
  // Variance of the (mean-removed) data in each plane: |Y u1|^2 + |Y u2|^2 over the total.
  double ssq_total = total * (N - 1);
  for (int j = 0; j < k / 2; j++) {
    double v = 0;
    for (int r = 0; r < 2; r++) {
      const double* u = out->planes + (2 * j + r) * k;
      for (int s = 0; s < N; s++) {
        double d = 0;
        for (int a = 0; a < k; a++) d += Y[(size_t)s * k + a] * u[a];
        v += d * d;
      }
    }
    out->plane_var[j] = v / ssq_total;
  }
  if (jpcs) ana_gemm(0, 0, k, units, k, 1, out->planes, comps, 0, jpcs);
  rc = 0;
done:
  free(Xr), free(comps), free(var), free(mean), free(Y), free(dY), free(Ym), free(D), free(m);
  return rc;
}
