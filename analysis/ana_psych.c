// ana_psych.c: psychometric function (logistic with symmetric lapses) by maximum likelihood, and
// the chronometric rank correlation.
#include <math.h>
#include <stdlib.h>

#include "ana.h"
#include "ana_internal.h"

static double logistic(double z) {
  return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

// Inverse of a symmetric 3 x 3 matrix by cofactors; -1 when (nearly) singular.
static int inv3(const double A[9], double B[9]) {
  const double c00 = A[4] * A[8] - A[5] * A[7], c01 = A[5] * A[6] - A[3] * A[8],
               c02 = A[3] * A[7] - A[4] * A[6];
  const double det = A[0] * c00 + A[1] * c01 + A[2] * c02;
  double scale = 0;
  for (int i = 0; i < 9; i++) scale = fmax(scale, fabs(A[i]));
  if (!(fabs(det) > 1e-14 * scale * scale * scale)) return -1;
  B[0] = c00 / det, B[3] = c01 / det, B[6] = c02 / det;
  B[1] = (A[2] * A[7] - A[1] * A[8]) / det, B[4] = (A[0] * A[8] - A[2] * A[6]) / det;
  B[7] = (A[1] * A[6] - A[0] * A[7]) / det;
  B[2] = (A[1] * A[5] - A[2] * A[4]) / det, B[5] = (A[2] * A[3] - A[0] * A[5]) / det;
  B[8] = (A[0] * A[4] - A[1] * A[3]) / det;
  return 0;
}

// Log-likelihood at (bias, slope, lapse); with score / info given, also the score and the Fisher
// information with respect to (bias, slope, lapse), scaled by jac (the derivative of each of those
// with respect to the parameter actually optimised).
static double loglik(const double* c, const int* y, int n, double b, double s, double lapse,
                     const double jac[3], double score[3], double info[9]) {
  double ll = 0;
  if (score)
    for (int i = 0; i < 9; i++) info[i] = i < 3 ? (score[i] = 0) : 0;
  for (int i = 0; i < n; i++) {
    const double z = (c[i] - b) / s, sg = logistic(z);
    double p = 0.5 * lapse + (1 - lapse) * sg;
    p = fmin(fmax(p, 1e-15), 1 - 1e-15);
    ll += y[i] ? log(p) : log1p(-p);
    if (!score) continue;
    const double d = (1 - lapse) * sg * (1 - sg);
    const double g[3] = {-d / s * jac[0], -d * z / s * jac[1], (0.5 - sg) * jac[2]};
    const double v = p * (1 - p), r = (y[i] - p) / v;
    for (int a = 0; a < 3; a++) {
      score[a] += r * g[a];
      for (int bb = 0; bb < 3; bb++) info[a * 3 + bb] += g[a] * g[bb] / v;
    }
  }
  return ll;
}

// The damped Newton step info^-1 score over the first k parameters (the others: 0). Levenberg
// damping when the information is singular; no inverse at all: no step.
static void newton_step(const double info[9], const double score[3], int k, double step[3]) {
  double Iinv[9] = {0};
  for (double mu = 1e-9; mu < 1e9; mu *= 100) {
    double A[9];
    for (int i = 0; i < 9; i++) A[i] = info[i] + (i % 4 == 0 ? mu * (info[i] + 1e-12) : 0);
    if (k == 2) A[2] = A[5] = A[6] = A[7] = 0, A[8] = 1;  // (bias, slope) alone
    if (inv3(A, Iinv) == 0) break;
  }
  for (int a = 0; a < 3; a++) {
    step[a] = 0;
    for (int b = 0; b < k; b++) step[a] += Iinv[a * 3 + b] * score[b];
  }
}

// Backtracking line search along step from th: the first candidate (halving from the full step)
// whose log-likelihood is at least ll, in cand; returns its log-likelihood (-inf: none).
static double line_search(const double* coh, const int* choice, int n, const double th[3],
                          const double step[3], double ll, double cand[3]) {
  double t = 1;
  for (int h = 0; h < 40; h++, t *= 0.5) {
    for (int a = 0; a < 3; a++) cand[a] = th[a] + t * step[a];
    cand[1] = fmin(fmax(cand[1], -50), 50);
    cand[2] = fmin(fmax(cand[2], -40), 40);
    const double l =
        loglik(coh, choice, n, cand[0], exp(cand[1]), 0.5 * logistic(cand[2]), NULL, NULL, NULL);
    if (l >= ll) return l;
  }
  return -INFINITY;
}

// Fisher scoring with a backtracking line search from th (bias, log slope, u with lapse = 0.5
// logistic(u)) to the optimum in th; returns the log-likelihood there, *iters the iterations.
// Each iteration also tries the step in (bias, slope) alone with the lapse held: when the lapse
// runs to its bound 0 its direction's information vanishes, the joint step is all lapse, and the
// line search would shrink it (and with it bias and slope) to nothing.
static double fit_from(const double* coh, const int* choice, int n, double th[3], int* iters) {
  double ll = 0, score[3], info[9];
  int it = 0;
  for (; it < 500; it++) {
    const double s = exp(th[1]), lapse = 0.5 * logistic(th[2]);
    const double jac[3] = {1, s, lapse * (1 - 2 * lapse)};
    ll = loglik(coh, choice, n, th[0], s, lapse, jac, score, info);
    double step[3], cand[3], step2[3], cand2[3];
    newton_step(info, score, 3, step);
    newton_step(info, score, 2, step2);
    double ll_new = line_search(coh, choice, n, th, step, ll, cand);
    const double ll2 = line_search(coh, choice, n, th, step2, ll, cand2);
    if (ll2 > ll_new)
      for (int a = 0; a < 3; a++) cand[a] = cand2[a], ll_new = ll2;
    if (!(ll_new >= ll)) break;  // no ascent direction left: at the optimum (to rounding)
    const double gain = ll_new - ll;
    double move = 0;
    for (int a = 0; a < 3; a++) move = fmax(move, fabs(cand[a] - th[a])), th[a] = cand[a];
    ll = ll_new;
    if (gain < 1e-10 && move < 1e-7) break;
  }
  *iters = it;
  return ll;
}

int ana_psychometric_fit(const double* coh, const int* choice, int n, ana_psych* out, char* err,
                         size_t err_sz) {
  if (!coh || !choice || !out) return am_err(err, err_sz, "psychometric fit: NULL argument");
  if (n < 4) return am_err(err, err_sz, "psychometric fit: need >= 4 trials (got %d)", n);
  int rights = 0, distinct = 0;
  double cmax = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(coh[i]))
      return am_err(err, err_sz, "psychometric fit: coherence of trial %d is not finite", i);
    if (choice[i] != 0 && choice[i] != 1)
      return am_err(err, err_sz, "psychometric fit: choice of trial %d is %d (must be 0 or 1)", i,
                    choice[i]);
    rights += choice[i];
    distinct |= coh[i] != coh[0];
    cmax = fmax(cmax, fabs(coh[i]));
  }
  if (rights == 0 || rights == n)
    return am_err(err, err_sz, "psychometric fit: every trial chose %s", rights ? "right" : "left");
  if (!distinct)
    return am_err(err, err_sz, "psychometric fit: every trial has coherence %g", coh[0]);
  // Two starts: bias 0 (coherences: the unbiased observer) and halfway between the mean x of
  // the two choices (a curve centred elsewhere, e.g. an indifference point at log rho, which a
  // start at 0 can miss when the curve is a step); the better optimum is kept.
  double sx[2] = {0, 0};
  for (int i = 0; i < n; i++) sx[choice[i]] += coh[i];
  const double mid = 0.5 * (sx[0] / (n - rights) + sx[1] / rights);
  double th[3] = {0, log(0.25 * cmax), log(0.04 / 0.96)};
  int it = 0;
  double ll = fit_from(coh, choice, n, th, &it);
  double th2[3] = {mid, log(0.25 * cmax), log(0.04 / 0.96)};
  int it2 = 0;
  const double ll2 = fit_from(coh, choice, n, th2, &it2);
  if (ll2 > ll + 1e-9) {
    for (int a = 0; a < 3; a++) th[a] = th2[a];
    ll = ll2, it = it2;
  }
  double score[3], info[9], Iinv[9];
  out->bias = th[0], out->slope = exp(th[1]), out->lapse = 0.5 * logistic(th[2]);
  out->loglik = ll, out->iterations = it;
  // Standard errors: inverse Fisher information in (bias, slope, lapse).
  const double one[3] = {1, 1, 1};
  loglik(coh, choice, n, out->bias, out->slope, out->lapse, one, score, info);
  if (inv3(info, Iinv) == 0) {
    out->se_bias = sqrt(fmax(Iinv[0], 0)), out->se_slope = sqrt(fmax(Iinv[4], 0)),
    out->se_lapse = sqrt(fmax(Iinv[8], 0));
  } else {
    out->se_bias = out->se_slope = out->se_lapse = NAN;
  }
  if (!isfinite(out->bias) || !isfinite(out->slope))
    return am_err(err, err_sz, "psychometric fit did not converge (bias %g, slope %g)", out->bias,
                  out->slope);
  return 0;
}

int ana_chronometric(const double* coh, const double* rt, int n, double* rho, char* err,
                     size_t err_sz) {
  if (!coh || !rt || !rho) return am_err(err, err_sz, "chronometric: NULL argument");
  if (n < 2) return am_err(err, err_sz, "chronometric: need >= 2 trials (got %d)", n);
  double* a = malloc(sizeof(double) * (size_t)n);
  if (!a) return am_err(err, err_sz, "chronometric: out of memory");
  for (int i = 0; i < n; i++) a[i] = fabs(coh[i]);
  const int rc = ana_spearman(rt, a, n, rho, err, err_sz);
  free(a);
  return rc;
}
