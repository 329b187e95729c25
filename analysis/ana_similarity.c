// ana_similarity.c: representational similarity: linear CKA (Kornblith et al. 2019), RDMs and
// their comparison (Kriegeskorte et al. 2008), and the Spearman rank correlation they rely on.
#include <math.h>
#include <stdlib.h>

#include "ana.h"
#include "ana_internal.h"

static double frob2(const double* A, size_t len) {
  double s = 0;
  for (size_t i = 0; i < len; i++) s += A[i] * A[i];
  return s;
}

int ana_cka(const double* X, int n, int p1, const double* Y, int p2, double* cka, char* err,
            size_t err_sz) {
  if (!X || !Y || !cka) return am_err(err, err_sz, "CKA: NULL argument");
  if (n < 2 || p1 < 1 || p2 < 1)
    return am_err(err, err_sz,
                  "CKA: need >= 2 samples and >= 1 column (got n = %d, p1 = %d, p2 = %d)", n, p1,
                  p2);
  const int pm = p1 > p2 ? p1 : p2;
  double* Xc = malloc(sizeof(double) * (size_t)n * p1);
  double* Yc = malloc(sizeof(double) * (size_t)n * p2);
  double* mu = malloc(sizeof(double) * (size_t)pm);
  double* G = malloc(sizeof(double) * (size_t)pm * pm);
  int rc = -1;
  if (!Xc || !Yc || !mu || !G) {
    am_err(err, err_sz, "CKA: out of memory");
    goto done;
  }
  ana_center(X, n, p1, mu, Xc);
  ana_center(Y, n, p2, mu, Yc);
  ana_gemm(1, 0, p2, p1, n, 1, Yc, Xc, 0, G);
  const double hxy = frob2(G, (size_t)p1 * p2);
  ana_gemm(1, 0, p1, p1, n, 1, Xc, Xc, 0, G);
  const double hxx = sqrt(frob2(G, (size_t)p1 * p1));
  ana_gemm(1, 0, p2, p2, n, 1, Yc, Yc, 0, G);
  const double hyy = sqrt(frob2(G, (size_t)p2 * p2));
  if (!(hxx > 0) || !(hyy > 0) || !isfinite(hxy)) {
    am_err(err, err_sz, "CKA: %s is constant across samples (or not finite)", hxx > 0 ? "Y" : "X");
    goto done;
  }
  *cka = hxy / (hxx * hyy);
  rc = 0;
done:
  free(Xc), free(Yc), free(mu), free(G);
  return rc;
}

int ana_spearman(const double* x, const double* y, int n, double* rho, char* err, size_t err_sz) {
  if (!x || !y || !rho) return am_err(err, err_sz, "Spearman: NULL argument");
  if (n < 2) return am_err(err, err_sz, "Spearman: need >= 2 pairs (got %d)", n);
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i]) || !isfinite(y[i]))
      return am_err(err, err_sz, "Spearman: pair %d is not finite", i);
  double* rx = malloc(sizeof(double) * (size_t)n);
  double* ry = malloc(sizeof(double) * (size_t)n);
  int rc = -1;
  if (!rx || !ry || ana_rank(x, n, rx) || ana_rank(y, n, ry)) {
    am_err(err, err_sz, "Spearman: out of memory (n = %d)", n);
  } else {
    const double r = ana_pearson(rx, ry, n);
    if (isnan(r))
      am_err(err, err_sz, "Spearman: %s is constant", isnan(ana_pearson(rx, rx, n)) ? "x" : "y");
    else
      *rho = r, rc = 0;
  }
  free(rx), free(ry);
  return rc;
}

int ana_rdm(const double* M, int conds, int p, int metric, double* rdm, char* err, size_t err_sz) {
  if (!M || !rdm) return am_err(err, err_sz, "RDM: NULL argument");
  if (conds < 2 || p < 1)
    return am_err(err, err_sz, "RDM: need >= 2 conditions and >= 1 unit (got %d x %d)", conds, p);
  if (metric != ANA_RDM_CORR && metric != ANA_RDM_EUCLID)
    return am_err(err, err_sz, "RDM: unknown metric %d", metric);
  if (metric == ANA_RDM_CORR && p < 2)
    return am_err(err, err_sz, "RDM: correlation distance needs >= 2 units (got %d)", p);
  for (int i = 0; i < conds; i++) {
    rdm[(size_t)i * conds + i] = 0;
    for (int j = i + 1; j < conds; j++) {
      const double *a = M + (size_t)i * p, *b = M + (size_t)j * p;
      double d = 0;
      if (metric == ANA_RDM_CORR) {
        const double r = ana_pearson(a, b, p);
        if (isnan(r))
          return am_err(err, err_sz,
                        "RDM: condition %d is constant across units (correlation undefined)",
                        isnan(ana_pearson(a, a, p)) ? i : j);
        d = 1 - r;
      } else {
        for (int u = 0; u < p; u++) d += (a[u] - b[u]) * (a[u] - b[u]);
        d = sqrt(d);
      }
      rdm[(size_t)i * conds + j] = rdm[(size_t)j * conds + i] = d;
    }
  }
  return 0;
}

int ana_rdm_compare(const double* rdm1, const double* rdm2, int conds, double* rho, char* err,
                    size_t err_sz) {
  if (!rdm1 || !rdm2 || !rho) return am_err(err, err_sz, "RDM comparison: NULL argument");
  if (conds < 3) return am_err(err, err_sz, "RDM comparison: need >= 3 conditions (got %d)", conds);
  const int m = conds * (conds - 1) / 2;
  double* a = malloc(sizeof(double) * (size_t)m);
  double* b = malloc(sizeof(double) * (size_t)m);
  if (!a || !b) {
    free(a), free(b);
    return am_err(err, err_sz, "RDM comparison: out of memory");
  }
  for (int i = 0, q = 0; i < conds; i++)
    for (int j = i + 1; j < conds; j++, q++)
      a[q] = rdm1[(size_t)i * conds + j], b[q] = rdm2[(size_t)i * conds + j];
  const int rc = ana_spearman(a, b, m, rho, err, err_sz);
  free(a), free(b);
  return rc;
}
