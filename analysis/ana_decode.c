// ana_decode.c: cross-validated ridge regression (linear decoding of targets from unit
// activity), with the ridge parameter picked per outer fold by an inner cross-validation. Each
// training set's Gram matrix is eigen-decomposed once (LAPACK dsyev), so every lambda of the grid
// costs one p x q product.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"
#include "ana_internal.h"

static const double default_lambdas[] = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000};

// One training set's ridge solution for any lambda: W = V^T diag(1 / (s + lambda)) Z.
typedef struct ridge_fit {
  int p, q;
  double *mx, *my, *V, *s, *Z, *W, *Xc, *C;
  double scale;  // trace(Xc^T Xc) / p: relative lambdas are multiplied by it
} ridge_fit;

static int ridge_alloc(ridge_fit* f, int n, int p, int q) {
  f->p = p, f->q = q;
  f->mx = malloc(sizeof(double) * p), f->my = malloc(sizeof(double) * q);
  f->V = malloc(sizeof(double) * (size_t)p * p), f->s = malloc(sizeof(double) * p);
  f->Z = malloc(sizeof(double) * (size_t)p * q), f->W = malloc(sizeof(double) * (size_t)p * q);
  f->Xc = malloc(sizeof(double) * (size_t)n * p);
  f->C = malloc(sizeof(double) * (size_t)p * (p > q ? p : q));
  return f->mx && f->my && f->V && f->s && f->Z && f->W && f->Xc && f->C ? 0 : -1;
}

static void ridge_free(ridge_fit* f) {
  free(f->mx), free(f->my), free(f->V), free(f->s), free(f->Z), free(f->W), free(f->Xc), free(f->C);
}

// Fits on the rows idx[0..m) of X (n x p) and Y (n x q).
static int ridge_train(ridge_fit* f, const double* X, const double* Y, const int* idx, int m,
                       char* err, size_t err_sz) {
  const int p = f->p, q = f->q;
  for (int j = 0; j < p; j++) f->mx[j] = 0;
  for (int j = 0; j < q; j++) f->my[j] = 0;
  for (int r = 0; r < m; r++) {
    for (int j = 0; j < p; j++) f->mx[j] += X[(size_t)idx[r] * p + j];
    for (int j = 0; j < q; j++) f->my[j] += Y[(size_t)idx[r] * q + j];
  }
  for (int j = 0; j < p; j++) f->mx[j] /= m;
  for (int j = 0; j < q; j++) f->my[j] /= m;
  // Gram matrix of the centred rows.
  for (int r = 0; r < m; r++)
    for (int j = 0; j < p; j++) f->Xc[(size_t)r * p + j] = X[(size_t)idx[r] * p + j] - f->mx[j];
  ana_gemm(1, 0, p, p, m, 1, f->Xc, f->Xc, 0, f->C);
  f->scale = 0;
  for (int j = 0; j < p; j++) f->scale += f->C[(size_t)j * p + j];
  f->scale /= p;
  if (ana_symeig(f->C, p, f->s, f->V, err, err_sz)) return -1;
  // C = Xc^T Yc, the targets centred on the fly.
  for (int j = 0; j < p; j++)
    for (int o = 0; o < q; o++) {
      double acc = 0;
      for (int r = 0; r < m; r++)
        acc += f->Xc[(size_t)r * p + j] * (Y[(size_t)idx[r] * q + o] - f->my[o]);
      f->C[(size_t)j * q + o] = acc;
    }
  ana_gemm(0, 0, p, q, p, 1, f->V, f->C, 0, f->Z);  // Z = V (Xc^T Yc)
  return 0;
}

// W for the relative lambda lam, then the squared errors on rows idx[0..m) added to sse (q) and,
// when pred is given, the predictions written to pred rows idx[r].
static void ridge_test(ridge_fit* f, double lam, const double* X, const double* Y, const int* idx,
                       int m, double* sse, double* pred) {
  const int p = f->p, q = f->q;
  const double la = lam * f->scale, smax = f->s[0] > 0 ? f->s[0] : 0;
  for (int i = 0; i < p; i++) {
    const double d = f->s[i] + la;
    // Without a penalty, directions with no variance get no weight (minimum-norm solution).
    const double inv = d > 1e-12 * smax && d > 0 ? 1 / d : 0;
    for (int o = 0; o < q; o++) f->C[(size_t)i * q + o] = f->Z[(size_t)i * q + o] * inv;
  }
  ana_gemm(1, 0, p, q, p, 1, f->V, f->C, 0, f->W);
  for (int r = 0; r < m; r++) {
    const double* x = X + (size_t)idx[r] * p;
    for (int o = 0; o < q; o++) {
      double yh = f->my[o];
      for (int j = 0; j < p; j++) yh += (x[j] - f->mx[j]) * f->W[(size_t)j * q + o];
      const double e = Y[(size_t)idx[r] * q + o] - yh;
      sse[o] += e * e;
      if (pred) pred[(size_t)idx[r] * q + o] = yh;
    }
  }
}

// Splits the rows list[0..m) into test = those at positions pos with pos % folds == f.
static void split(const int* list, int m, int folds, int f, int* tr, int* ntr, int* te, int* nte) {
  *ntr = *nte = 0;
  for (int r = 0; r < m; r++) {
    if (r % folds == f)
      te[(*nte)++] = list[r];
    else
      tr[(*ntr)++] = list[r];
  }
}

// With groups: the rows list[0..m) whose group has rank k (its position in the permutation of
// groups) with (k / div) % folds == f are the test set (div 1: the outer folds; div = the outer
// folds' count: the inner folds within an outer training set, whose ranks share k % outer).
static void split_groups(const int* list, int m, const int* groups, const int* rank, int div,
                         int folds, int f, int* tr, int* ntr, int* te, int* nte) {
  *ntr = *nte = 0;
  for (int r = 0; r < m; r++) {
    if ((rank[groups[list[r]]] / div) % folds == f)
      te[(*nte)++] = list[r];
    else
      tr[(*ntr)++] = list[r];
  }
}

int ana_ridge_cv(const double* X, int n, int p, const double* Y, int q, const ana_ridge_config* cfg,
                 double* r2, double* lambda_used, char* err, size_t err_sz) {
  if (!X || !Y || !cfg || !r2) return am_err(err, err_sz, "ridge: NULL argument");
  const int folds = cfg->folds ? cfg->folds : 5, inner = cfg->inner_folds ? cfg->inner_folds : 5;
  const double* lams = cfg->lambdas ? cfg->lambdas : default_lambdas;
  const int nl =
      cfg->lambdas ? cfg->n_lambdas : (int)(sizeof default_lambdas / sizeof *default_lambdas);
  if (p < 1 || q < 1)
    return am_err(err, err_sz, "ridge: need >= 1 unit and output (got %d, %d)", p, q);
  if (folds < 2 || inner < 2)
    return am_err(err, err_sz, "ridge: folds (%d) and inner folds (%d) must be >= 2", folds, inner);
  if (n < 2 * folds || (nl > 1 && n < 2 * folds * inner))
    return am_err(err, err_sz, "ridge: %d samples are too few for %d x %d folds", n, folds,
                  nl > 1 ? inner : 1);
  if (nl < 1) return am_err(err, err_sz, "ridge: empty lambda grid");
  for (int i = 0; i < nl; i++)
    if (!(lams[i] >= 0) || !isfinite(lams[i]))
      return am_err(err, err_sz, "ridge: lambda %d = %g must be finite and >= 0", i, lams[i]);
  for (size_t i = 0; i < (size_t)n * p; i++)
    if (!isfinite(X[i]))
      return am_err(err, err_sz, "ridge: X[%zu][%zu] is not finite", i / p, i % p);
  for (size_t i = 0; i < (size_t)n * q; i++)
    if (!isfinite(Y[i]))
      return am_err(err, err_sz, "ridge: Y[%zu][%zu] is not finite", i / q, i % q);
  int* perm = malloc(sizeof(int) * n);
  int* rank = NULL;  // with groups: each group's position in the permutation (+ scratch)
  int* tr = malloc(sizeof(int) * n);
  int* te = malloc(sizeof(int) * n);
  int* itr = malloc(sizeof(int) * n);
  int* ite = malloc(sizeof(int) * n);
  double* pred = malloc(sizeof(double) * (size_t)n * q);
  double* sse = calloc((size_t)nl * q, sizeof(double));
  double* ym = malloc(sizeof(double) * q);
  double* sst = malloc(sizeof(double) * q);
  ridge_fit f = {0};
  int rc = -1;
  if (!perm || !tr || !te || !itr || !ite || !pred || !sse || !ym || !sst ||
      ridge_alloc(&f, n, p, q)) {
    am_err(err, err_sz, "ridge: out of memory (%d x %d -> %d)", n, p, q);
    goto done;
  }
  // Deterministic folds: the samples (or the groups) in the order of a seeded random permutation.
  int n_groups = 0;
  if (cfg->groups) {
    for (int i = 0; i < n; i++) {
      if (cfg->groups[i] < 0) {
        am_err(err, err_sz, "ridge: group of sample %d is %d (must be >= 0)", i, cfg->groups[i]);
        goto done;
      }
      if (cfg->groups[i] >= n_groups) n_groups = cfg->groups[i] + 1;
    }
    if (n_groups < folds || (nl > 1 && n_groups < folds * inner)) {
      am_err(err, err_sz, "ridge: %d groups are too few for %d x %d folds", n_groups, folds,
             nl > 1 ? inner : 1);
      goto done;
    }
    if (!(rank = malloc(sizeof(int) * 2 * (size_t)n_groups))) {
      am_err(err, err_sz, "ridge: out of memory (%d groups)", n_groups);
      goto done;
    }
  }
  const int units = cfg->groups ? n_groups : n;
  int* order = cfg->groups ? rank + n_groups : perm;
  am_rng rng;
  am_rng_seed(&rng, cfg->seed, 0);
  for (int i = 0; i < units; i++) order[i] = i;
  for (int i = units - 1; i > 0; i--) {
    const int j = (int)(am_rng_next(&rng) % (uint64_t)(i + 1));
    const int t = order[i];
    order[i] = order[j], order[j] = t;
  }
  if (cfg->groups) {  // rank[g]: the group's position in the permutation; samples in index order
    for (int i = 0; i < n_groups; i++) rank[order[i]] = i;
    for (int i = 0; i < n; i++) perm[i] = i;
  }
  for (int fo = 0; fo < folds; fo++) {
    int ntr, nte;
    if (cfg->groups)
      split_groups(perm, n, cfg->groups, rank, 1, folds, fo, tr, &ntr, te, &nte);
    else
      split(perm, n, folds, fo, tr, &ntr, te, &nte);
    int best = 0;
    if (nl > 1) {
      memset(sse, 0, sizeof(double) * (size_t)nl * q);
      for (int o = 0; o < q; o++) ym[o] = sst[o] = 0;
      for (int r = 0; r < ntr; r++)
        for (int o = 0; o < q; o++) ym[o] += Y[(size_t)tr[r] * q + o] / ntr;
      for (int r = 0; r < ntr; r++)
        for (int o = 0; o < q; o++) {
          const double d = Y[(size_t)tr[r] * q + o] - ym[o];
          sst[o] += d * d;
        }
      for (int fi = 0; fi < inner; fi++) {
        int nitr, nite;
        if (cfg->groups)
          split_groups(tr, ntr, cfg->groups, rank, folds, inner, fi, itr, &nitr, ite, &nite);
        else
          split(tr, ntr, inner, fi, itr, &nitr, ite, &nite);
        if (ridge_train(&f, X, Y, itr, nitr, err, err_sz)) goto done;
        for (int l = 0; l < nl; l++)
          ridge_test(&f, lams[l], X, Y, ite, nite, sse + (size_t)l * q, NULL);
      }
      double best_score = -INFINITY;
      for (int l = 0; l < nl; l++) {
        double score = 0;  // inner-CV R^2 summed over outputs
        for (int o = 0; o < q; o++) score += sst[o] > 0 ? 1 - sse[(size_t)l * q + o] / sst[o] : 0;
        if (score > best_score) best_score = score, best = l;
      }
    }
    if (ridge_train(&f, X, Y, tr, ntr, err, err_sz)) goto done;
    memset(sse, 0, sizeof(double) * q);
    ridge_test(&f, lams[best], X, Y, te, nte, sse, pred);
    if (lambda_used) lambda_used[fo] = lams[best];
  }
  for (int o = 0; o < q; o++) {
    double m = 0, st = 0, se = 0;
    for (int i = 0; i < n; i++) m += Y[(size_t)i * q + o];
    m /= n;
    for (int i = 0; i < n; i++) {
      const double y = Y[(size_t)i * q + o], d = y - m, e = y - pred[(size_t)i * q + o];
      st += d * d, se += e * e;
    }
    if (!(st > 0)) {
      am_err(err, err_sz, "ridge: output %d is constant (R^2 undefined)", o);
      goto done;
    }
    r2[o] = 1 - se / st;
  }
  if (cfg->pred) memcpy(cfg->pred, pred, sizeof(double) * (size_t)n * q);
  rc = 0;
done:
  free(perm), free(rank), free(tr), free(te), free(itr), free(ite), free(pred), free(sse), free(ym), free(sst);
  ridge_free(&f);
  return rc;
}
