// test_analysis.c: the analysis library (analysis/ana.h) against planted answers: cosine tuning
// with known preferred directions, depths and noise; the population vector; the Rayleigh test on
// uniform and clustered directions; PCA of low-rank data plus noise; jPCA of planted rotations of
// known frequencies in a random subspace (and of the same data shuffled in time); CKA under
// rotation and scaling and for independent data; RDMs and Spearman correlations with ties; ridge
// decoding of a planted linear readout (and of shuffled targets); a simulated logistic observer
// with lapses; the chronometric rank correlation. Error paths name the bad argument. Finally
// tests/analysis_numpy_check.py recomputes PCA, CKA, the jPCA fits and the psychometric optimum
// with numpy from data this test writes (skipped when /usr/bin/python3 has no numpy).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ana.h"

static double angdiff(double a, double b) {
  return fabs(remainder(a - b, 2 * M_PI));
}

// k orthonormal rows of length n (Gram-Schmidt of Gaussian vectors).
static void random_basis(am_rng* rng, int k, int n, double* Q) {
  for (int i = 0; i < k; i++) {
    double* q = Q + (size_t)i * n;
    for (int j = 0; j < n; j++) q[j] = am_rng_normal(rng);
    for (int pass = 0; pass < 2; pass++)
      for (int r = 0; r < i; r++) {
        double d = 0;
        for (int j = 0; j < n; j++) d += q[j] * Q[(size_t)r * n + j];
        for (int j = 0; j < n; j++) q[j] -= d * Q[(size_t)r * n + j];
      }
    double nn = 0;
    for (int j = 0; j < n; j++) nn += q[j] * q[j];
    for (int j = 0; j < n; j++) q[j] /= sqrt(nn);
  }
}

//---------------------------------- tuning --------------------------------------------------------

enum {
  TUNED = 40,
  UNTUNED = 40,
  UNITS = TUNED + UNTUNED,
  DIRS = 8,
  REPS = 20,
  SAMPLES = DIRS * REPS
};

typedef struct planted_tuning {
  double theta[SAMPLES], rates[SAMPLES * UNITS];
  double b0[UNITS], depth[UNITS], pref[UNITS];
} planted_tuning;

static const double NOISE = 3.0;

static void plant_tuning(planted_tuning* P) {
  am_rng rng;
  am_rng_seed(&rng, 13, 1);
  for (int u = 0; u < UNITS; u++) {
    P->b0[u] = am_rng_range(&rng, 10, 30);
    P->depth[u] = u < TUNED ? am_rng_range(&rng, 8, 20) : 0;
    P->pref[u] = am_rng_range(&rng, -M_PI, M_PI);
  }
  for (int s = 0; s < SAMPLES; s++) {
    P->theta[s] = 2 * M_PI * (s % DIRS) / DIRS;
    for (int u = 0; u < UNITS; u++)
      P->rates[s * UNITS + u] =
          P->b0[u] + P->depth[u] * cos(P->theta[s] - P->pref[u]) + NOISE * am_rng_normal(&rng);
  }
}

static void test_cosine_recovery(void** state) {
  static planted_tuning P;
  plant_tuning(&P);
  ana_tuning t[UNITS];
  char err[AM_ERR_LEN];
  assert_int_equal(ana_cosine_fit(P.theta, P.rates, SAMPLES, UNITS, t, err, sizeof err), 0);
  double worst_pref = 0, worst_depth = 0, worst_b0 = 0, worst_r2 = 0, max_p = 0;
  for (int u = 0; u < TUNED; u++) {
    // Standard errors (n = 160, sigma = 3, depth >= 8): pref 0.04 rad, depth 0.34, b0 0.24.
    worst_pref = fmax(worst_pref, angdiff(t[u].pref, P.pref[u]));
    worst_depth = fmax(worst_depth, fabs(t[u].depth - P.depth[u]));
    worst_b0 = fmax(worst_b0, fabs(t[u].b0 - P.b0[u]));
    // Planted R^2: signal variance depth^2 / 2 (8 evenly spaced directions) over the total.
    const double r2 =
        0.5 * P.depth[u] * P.depth[u] / (0.5 * P.depth[u] * P.depth[u] + NOISE * NOISE);
    worst_r2 = fmax(worst_r2, fabs(t[u].r2 - r2));
    max_p = fmax(max_p, t[u].p);
  }
  print_message(
      "cosine: worst |pref err| %.3f rad, |depth err| %.2f, |b0 err| %.2f, |R2 err| %.3f, "
      "max p (tuned) %.1e\n",
      worst_pref, worst_depth, worst_b0, worst_r2, max_p);
  assert_true(worst_pref < 0.15);
  assert_true(worst_depth < 1.2);
  assert_true(worst_b0 < 1.0);
  assert_true(worst_r2 < 0.06);
  assert_true(max_p < 1e-10);
  int sig = 0;
  for (int u = TUNED; u < UNITS; u++) {
    assert_true(t[u].r2 < 0.1);
    sig += t[u].p < 0.05;
  }
  print_message("cosine: %d of %d untuned units with p < 0.05\n", sig, UNTUNED);
  assert_true(sig <= 6);  // expected 2 of 40
  // Mean rate per direction (8 samples, dof 5) recovers the same preferred directions.
  double means[DIRS * UNITS] = {0}, dirs[DIRS];
  for (int s = 0; s < SAMPLES; s++)
    for (int u = 0; u < UNITS; u++) means[(s % DIRS) * UNITS + u] += P.rates[s * UNITS + u] / REPS;
  for (int d = 0; d < DIRS; d++) dirs[d] = P.theta[d];
  ana_tuning tm[UNITS];
  assert_int_equal(ana_cosine_fit(dirs, means, DIRS, UNITS, tm, err, sizeof err), 0);
  for (int u = 0; u < TUNED; u++) {
    assert_true(fabs(tm[u].pref - t[u].pref) <
                1e-9);  // same least-squares problem (balanced design)
    assert_true(fabs(tm[u].depth - t[u].depth) < 1e-9);
  }
  // A pure cosine is fitted exactly: R^2 = 1, p = 0.
  double pure[DIRS];
  for (int d = 0; d < DIRS; d++) pure[d] = 5 + 2 * cos(dirs[d] - 1.0);
  assert_int_equal(ana_cosine_fit(dirs, pure, DIRS, 1, tm, err, sizeof err), 0);
  assert_true(fabs(tm[0].r2 - 1) < 1e-12 && tm[0].p < 1e-12 && fabs(tm[0].pref - 1.0) < 1e-12);
  // Errors: too few directions, non-finite rates.
  const double two[4] = {0, M_PI, 2 * M_PI, -M_PI};
  assert_int_equal(ana_cosine_fit(two, pure, 4, 1, tm, err, sizeof err), -1);
  assert_non_null(strstr(err, "distinct directions"));
  pure[3] = NAN;
  assert_int_equal(ana_cosine_fit(dirs, pure, DIRS, 1, tm, err, sizeof err), -1);
  assert_non_null(strstr(err, "sample 3, unit 0"));
}

static void test_population_vector(void** state) {
  static planted_tuning P;
  plant_tuning(&P);
  ana_tuning t[UNITS];
  char err[AM_ERR_LEN];
  assert_int_equal(ana_cosine_fit(P.theta, P.rates, SAMPLES, UNITS, t, err, sizeof err), 0);
  double means[DIRS * UNITS] = {0}, target[DIRS], dir[DIRS], len[DIRS], aerr[DIRS];
  for (int s = 0; s < SAMPLES; s++)
    for (int u = 0; u < UNITS; u++) means[(s % DIRS) * UNITS + u] += P.rates[s * UNITS + u] / REPS;
  for (int d = 0; d < DIRS; d++)
    target[d] = P.theta[d] + 2 * M_PI;  // wrapping is the function's job
  assert_int_equal(
      ana_population_vector(t, UNITS, 0.01, means, DIRS, target, dir, len, aerr, err, sizeof err),
      0);
  double worst = 0;
  for (int d = 0; d < DIRS; d++) {
    worst = fmax(worst, fabs(aerr[d]));
    assert_true(fabs(aerr[d] - remainder(dir[d] - P.theta[d], 2 * M_PI)) < 1e-12);
    assert_true(len[d] > 0.2);
  }
  print_message("population vector: worst angular error %.3f rad over %d directions\n", worst,
                DIRS);
  // 40 tuned units with random preferred directions: the bias of the vector sum is the PDs'
  // non-uniformity, well under 0.25 rad here.
  assert_true(worst < 0.25);
  // No tuned unit left after the significance filter: an error.
  ana_tuning flat[2] = {{.b0 = 1, .depth = 0, .p = 1}, {.b0 = 1, .depth = 1, .p = 0.5}};
  assert_int_equal(
      ana_population_vector(flat, 2, 0.05, means, 1, NULL, dir, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "no unit is tuned"));
}

static void test_rayleigh(void** state) {
  char err[AM_ERR_LEN];
  double th[200], R, Z, p;
  am_rng rng;
  am_rng_seed(&rng, 7, 0);
  for (int i = 0; i < 200; i++) th[i] = am_rng_range(&rng, -M_PI, M_PI);
  assert_int_equal(ana_rayleigh(th, 200, &R, &Z, &p, err, sizeof err), 0);
  print_message("Rayleigh: uniform n=200 R %.3f p %.3f\n", R, p);
  assert_true(p > 0.05 && R < 0.15);
  for (int i = 0; i < 12; i++) th[i] = 2 * M_PI * i / 12;  // evenly spaced: R = 0, p = 1
  assert_int_equal(ana_rayleigh(th, 12, &R, &Z, &p, err, sizeof err), 0);
  assert_true(R < 1e-12 && fabs(p - 1) < 1e-9);
  for (int i = 0; i < 30; i++) th[i] = 1.0 + 0.5 * am_rng_normal(&rng);  // clustered
  assert_int_equal(ana_rayleigh(th, 30, &R, &Z, &p, err, sizeof err), 0);
  print_message("Rayleigh: clustered n=30 (sd 0.5 rad) R %.3f p %.1e\n", R, p);
  assert_true(R > 0.8 && p < 1e-6);
  // The formula by hand: 10 identical angles, R = 1, Z = 10, p = exp(sqrt(41) - 21).
  for (int i = 0; i < 10; i++) th[i] = 0.3;
  assert_int_equal(ana_rayleigh(th, 10, &R, &Z, &p, err, sizeof err), 0);
  assert_true(fabs(Z - 10) < 1e-12 && fabs(p / exp(sqrt(41.0) - 21) - 1) < 1e-9);
  assert_int_equal(ana_rayleigh(th, 1, &R, &Z, &p, err, sizeof err), -1);
  assert_non_null(strstr(err, ">= 2 angles"));
}

//---------------------------------- PCA -----------------------------------------------------------

enum { PCA_N = 500, PCA_P = 20, PCA_R = 3 };
static const double PCA_SD[PCA_R] = {5, 3, 2}, PCA_NOISE = 0.3;

static void plant_lowrank(double* X, double* Q) {
  am_rng rng;
  am_rng_seed(&rng, 21, 0);
  random_basis(&rng, PCA_R, PCA_P, Q);
  for (int i = 0; i < PCA_N; i++)
    for (int j = 0; j < PCA_P; j++)
      X[i * PCA_P + j] = 1.5 + PCA_NOISE * am_rng_normal(&rng);  // offset: centring
  for (int i = 0; i < PCA_N; i++)
    for (int r = 0; r < PCA_R; r++) {
      const double z = PCA_SD[r] * am_rng_normal(&rng);
      for (int j = 0; j < PCA_P; j++) X[i * PCA_P + j] += z * Q[r * PCA_P + j];
    }
}

static void test_pca_planted(void** state) {
  static double X[PCA_N * PCA_P], Q[PCA_R * PCA_P], scores[PCA_N * PCA_R];
  plant_lowrank(X, Q);
  double mean[PCA_P], comps[PCA_R * PCA_P], var[PCA_P], expl[PCA_P];
  char err[AM_ERR_LEN];
  assert_int_equal(ana_pca(X, PCA_N, PCA_P, PCA_R, mean, comps, var, expl, err, sizeof err), 0);
  double top = 0;
  for (int r = 0; r < PCA_R; r++) {
    const double planted = PCA_SD[r] * PCA_SD[r] + PCA_NOISE * PCA_NOISE;
    print_message("PCA: component %d variance %.2f (planted %.2f)\n", r, var[r], planted);
    assert_true(fabs(var[r] / planted - 1) < 0.15);
    top += expl[r];
    // The planted direction lies in the recovered component (|cos| near 1).
    double d = 0;
    for (int j = 0; j < PCA_P; j++) d += comps[r * PCA_P + j] * Q[r * PCA_P + j];
    assert_true(fabs(d) > 0.99);
  }
  for (int j = PCA_R; j < PCA_P; j++) assert_true(var[j] < 2 * PCA_NOISE * PCA_NOISE);
  for (int j = 1; j < PCA_P; j++) assert_true(var[j] <= var[j - 1]);
  double signal = 0;
  for (int r = 0; r < PCA_R; r++) signal += PCA_SD[r] * PCA_SD[r];
  const double planted_top =
      (signal + PCA_R * PCA_NOISE * PCA_NOISE) / (signal + PCA_P * PCA_NOISE * PCA_NOISE);
  print_message("PCA: top %d explain %.4f (planted %.4f)\n", PCA_R, top, planted_top);
  assert_true(fabs(top - planted_top) < 0.01);
  for (int j = 0; j < PCA_P; j++) assert_true(fabs(mean[j] - 1.5) < 0.5);
  // Scores: their variances are the eigenvalues, and they are uncorrelated.
  assert_int_equal(ana_pca_project(X, PCA_N, PCA_P, mean, comps, PCA_R, scores, err, sizeof err),
                   0);
  for (int a = 0; a < PCA_R; a++)
    for (int b = 0; b < PCA_R; b++) {
      double c = 0;
      for (int i = 0; i < PCA_N; i++) c += scores[i * PCA_R + a] * scores[i * PCA_R + b];
      c /= PCA_N - 1;
      assert_true(fabs(c - (a == b ? var[a] : 0)) < 1e-9 * var[0]);
    }
  assert_int_equal(ana_pca(X, PCA_N, PCA_P, PCA_P + 1, NULL, comps, NULL, NULL, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "k = 21"));
}

//---------------------------------- jPCA ----------------------------------------------------------

enum { JC = 8, JT = 61, JN = 50, JK = 6 };
static const double JDT = 0.01, JFREQ[JK / 2] = {3.0, 1.5, 0.7}, JAMP[JK / 2] = {3, 2, 1.5};

// Condition c's trajectory: in plane j (rows 2j, 2j+1 of Q), the point rotates counterclockwise at
// JFREQ[j] Hz from a random phase, plus a condition-independent drift and unit noise.
static void plant_rotations(double* X, double* Q, double noise) {
  am_rng rng;
  am_rng_seed(&rng, 31, 0);
  random_basis(&rng, JK + 1, JN, Q);  // row JK: the drift direction
  for (int c = 0; c < JC; c++) {
    double ph[JK / 2];
    for (int j = 0; j < JK / 2; j++) ph[j] = am_rng_range(&rng, 0, 2 * M_PI);
    for (int t = 0; t < JT; t++) {
      double* x = X + ((size_t)c * JT + t) * JN;
      for (int u = 0; u < JN; u++)
        x[u] = 4.0 * t * JDT * Q[JK * JN + u] + noise * am_rng_normal(&rng);
      for (int j = 0; j < JK / 2; j++) {
        const double a = ph[j] + 2 * M_PI * JFREQ[j] * t * JDT;
        for (int u = 0; u < JN; u++)
          x[u] += JAMP[j] * (cos(a) * Q[2 * j * JN + u] + sin(a) * Q[(2 * j + 1) * JN + u]);
      }
    }
  }
}

static void test_jpca_planted(void** state) {
  static double X[JC * JT * JN], Q[(JK + 1) * JN], jpcs[JK * JN];
  plant_rotations(X, Q, 0.02);
  ana_jpca_result r;
  char err[AM_ERR_LEN];
  assert_int_equal(ana_jpca(X, JC, JT, JN, JDT, 0, &r, jpcs, err, sizeof err), 0);
  assert_int_equal(r.k, JK);
  print_message(
      "jPCA: R2 full %.4f skew %.4f, PCs explain %.4f; freq %.3f %.3f %.3f Hz (planted 3, 1.5, "
      "0.7); "
      "plane var %.3f %.3f %.3f\n",
      r.r2_full, r.r2_skew, r.pca_explained, r.freq_hz[0], r.freq_hz[1], r.freq_hz[2],
      r.plane_var[0], r.plane_var[1], r.plane_var[2]);
  assert_true(r.r2_skew > 0.97);
  assert_true(r.r2_full - r.r2_skew < 0.01 && r.r2_full >= r.r2_skew - 1e-12);
  for (int j = 0; j < JK / 2; j++) {
    assert_true(fabs(r.freq_hz[j] / JFREQ[j] - 1) < 0.03);
    // Plane j of jPCA spans planted plane j: both planted vectors lie in it.
    for (int v = 0; v < 2; v++) {
      double in = 0;
      for (int row = 0; row < 2; row++) {
        double d = 0;
        for (int u = 0; u < JN; u++) d += jpcs[(2 * j + row) * JN + u] * Q[(2 * j + v) * JN + u];
        in += d * d;
      }
      assert_true(in > 0.98);
    }
    // Orientation: the planted rotation is counterclockwise from the plane's first row to its
    // second, so (u1 . q1)(u2 . q2) - (u1 . q2)(u2 . q1) (the orientation of the map) is +1.
    double m[2][2];
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++) {
        m[a][b] = 0;
        for (int u = 0; u < JN; u++)
          m[a][b] += jpcs[(2 * j + a) * JN + u] * Q[(2 * j + b) * JN + u];
      }
    assert_true(m[0][0] * m[1][1] - m[0][1] * m[1][0] > 0.95);
  }
  // M_skew is skew-symmetric and its planes orthonormal.
  for (int a = 0; a < JK; a++)
    for (int b = 0; b < JK; b++) {
      assert_true(r.M_skew[a * JK + b] == -r.M_skew[b * JK + a]);
      double d = 0;
      for (int i = 0; i < JK; i++) d += r.planes[a * JK + i] * r.planes[b * JK + i];
      assert_true(fabs(d - (a == b)) < 1e-9);
    }
  // Shuffled in time (within each condition): no rotational dynamics left.
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  for (int c = 0; c < JC; c++)
    for (int t = JT - 1; t > 0; t--) {
      const int s = (int)(am_rng_next(&rng) % (uint64_t)(t + 1));
      double tmp[JN];
      double *x = X + ((size_t)c * JT + t) * JN, *y = X + ((size_t)c * JT + s) * JN;
      memcpy(tmp, x, sizeof tmp), memcpy(x, y, sizeof tmp), memcpy(y, tmp, sizeof tmp);
    }
  assert_int_equal(ana_jpca(X, JC, JT, JN, JDT, JK, &r, NULL, err, sizeof err), 0);
  print_message("jPCA shuffled in time: R2 full %.4f skew %.4f\n", r.r2_full, r.r2_skew);
  assert_true(r.r2_skew < 0.1);
  assert_int_equal(ana_jpca(X, JC, JT, JN, JDT, 5, &r, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "k = 5 must be even"));
}

//---------------------------------- CKA, RDM, Spearman ------------------------------------------

enum { CN = 500, CP = 10 };

static void test_cka(void** state) {
  static double X[CN * CP], Y[CN * CP], Z[CN * CP];
  double Q[CP * CP], cka;
  char err[AM_ERR_LEN];
  am_rng rng;
  am_rng_seed(&rng, 41, 0);
  for (int i = 0; i < CN * CP; i++) X[i] = am_rng_normal(&rng) * (1 + i % CP);
  for (int i = 0; i < CN * CP; i++) Z[i] = am_rng_normal(&rng);
  random_basis(&rng, CP, CP, Q);
  for (int i = 0; i < CN; i++)  // Y = 3.7 X Q + offset
    for (int j = 0; j < CP; j++) {
      double s = 0;
      for (int l = 0; l < CP; l++) s += X[i * CP + l] * Q[l * CP + j];
      Y[i * CP + j] = 3.7 * s + 2.0 * j;
    }
  assert_int_equal(ana_cka(X, CN, CP, X, CP, &cka, err, sizeof err), 0);
  assert_true(fabs(cka - 1) < 1e-12);
  assert_int_equal(ana_cka(X, CN, CP, Y, CP, &cka, err, sizeof err), 0);
  assert_true(fabs(cka - 1) < 1e-10);
  assert_int_equal(ana_cka(X, CN, CP, Z, CP, &cka, err, sizeof err), 0);
  // Independent Gaussian data: E[CKA] is about sqrt(p1 p2 / ((n + p1)(n + p2))) = 0.0196 for
  // isotropic columns (the unequal column scales of X make it somewhat larger).
  print_message("CKA of independent data (n %d, p %d): %.4f\n", CN, CP, cka);
  assert_true(cka < 0.06);
  assert_int_equal(ana_cka(X, CN, 3, Z, CP, &cka, err, sizeof err), 0);  // different widths work
  for (int i = 0; i < CN * CP; i++) Z[i] = 1;
  assert_int_equal(ana_cka(X, CN, CP, Z, CP, &cka, err, sizeof err), -1);
  assert_non_null(strstr(err, "Y is constant"));
}

static void test_rdm_spearman(void** state) {
  char err[AM_ERR_LEN];
  double rho;
  // Spearman: monotone maps give +1 / -1; ties take their average rank.
  double x[20], y[20];
  for (int i = 0; i < 20; i++) x[i] = i - 7.5, y[i] = x[i] * x[i] * x[i];
  assert_int_equal(ana_spearman(x, y, 20, &rho, err, sizeof err), 0);
  assert_true(fabs(rho - 1) < 1e-12);
  for (int i = 0; i < 20; i++) y[i] = -exp(x[i]);
  assert_int_equal(ana_spearman(x, y, 20, &rho, err, sizeof err), 0);
  assert_true(fabs(rho + 1) < 1e-12);
  const double a[5] = {1, 2, 3, 4, 5}, b[5] = {1, 1, 2, 2, 3};  // ranks of b: 1.5 1.5 3.5 3.5 5
  assert_int_equal(ana_spearman(a, b, 5, &rho, err, sizeof err), 0);
  assert_true(fabs(rho - 9 / sqrt(90.0)) < 1e-12);
  assert_int_equal(ana_spearman(a, (double[5]){2, 2, 2, 2, 2}, 5, &rho, err, sizeof err), -1);
  assert_non_null(strstr(err, "y is constant"));
  // RDMs: Euclidean by hand; the correlation RDM of a scaled + shifted copy is identical; RDM
  // comparison of an RDM with a monotone transform of itself is 1.
  const double M[4 * 3] = {0, 0, 0, 3, 4, 0, 1, 2, 2, -1, 0, 5};
  double r1[36], r2[36];
  assert_int_equal(ana_rdm(M, 4, 3, ANA_RDM_EUCLID, r1, err, sizeof err), 0);
  assert_true(fabs(r1[0 * 4 + 1] - 5) < 1e-12 && fabs(r1[1 * 4 + 0] - 5) < 1e-12 && r1[5] == 0);
  assert_true(fabs(r1[0 * 4 + 2] - 3) < 1e-12);
  double r3[16];
  for (int i = 0; i < 16; i++) r3[i] = r1[i] * r1[i] + 1;
  assert_int_equal(ana_rdm_compare(r1, r3, 4, &rho, err, sizeof err), 0);
  assert_true(fabs(rho - 1) < 1e-12);
  double Mc[6 * 5], Ms[6 * 5];
  am_rng rng;
  am_rng_seed(&rng, 3, 0);
  for (int i = 0; i < 30; i++) Mc[i] = am_rng_normal(&rng), Ms[i] = 2.5 * Mc[i] + 7;
  assert_int_equal(ana_rdm(Mc, 6, 5, ANA_RDM_CORR, r1, err, sizeof err), 0);
  assert_int_equal(ana_rdm(Ms, 6, 5, ANA_RDM_CORR, r2, err, sizeof err), 0);
  for (int i = 0; i < 36; i++) assert_true(fabs(r1[i] - r2[i]) < 1e-12 && r1[i] >= 0 && r1[i] <= 2);
  assert_int_equal(ana_rdm(M, 4, 3, 9, r1, err, sizeof err), -1);
  assert_non_null(strstr(err, "unknown metric 9"));
}

static void test_chronometric(void** state) {
  double coh[60], rt[60], rho;
  char err[AM_ERR_LEN];
  static const double levels[6] = {0, 0.032, 0.064, 0.128, 0.256, 0.512};
  for (int i = 0; i < 60; i++) {
    coh[i] = (i % 2 ? 1 : -1) * levels[i % 6];
    rt[i] = 0.3 + 0.5 / (1 + 10 * fabs(coh[i]));  // faster with stronger evidence; ties in both
  }
  assert_int_equal(ana_chronometric(coh, rt, 60, &rho, err, sizeof err), 0);
  assert_true(fabs(rho + 1) < 1e-12);
}

//---------------------------------- ridge ---------------------------------------------------------

enum { RN = 600, RP = 30, RQ = 2 };

static void test_ridge_planted(void** state) {
  static double X[RN * RP], Y[RN * RQ], Ys[RN * RQ];
  double w[RP * RQ], r2[RQ], r2b[RQ], lam[5];
  static const double sigma[RQ] = {1.0, 0.5};
  char err[AM_ERR_LEN];
  am_rng rng;
  am_rng_seed(&rng, 51, 0);
  for (int i = 0; i < RP * RQ; i++) w[i] = am_rng_normal(&rng) / sqrt(RP);
  double norm2[RQ] = {0};
  for (int j = 0; j < RP; j++)
    for (int o = 0; o < RQ; o++) norm2[o] += w[j * RQ + o] * w[j * RQ + o];
  for (int i = 0; i < RN * RP; i++)
    X[i] = am_rng_normal(&rng) * 5 + 1;  // scale: lambdas are relative
  for (int i = 0; i < RN; i++)
    for (int o = 0; o < RQ; o++) {
      double s = 0;
      for (int j = 0; j < RP; j++) s += (X[i * RP + j] - 1) / 5 * w[j * RQ + o];
      Y[i * RQ + o] = s + sigma[o] * am_rng_normal(&rng);
    }
  ana_ridge_config cfg = {.folds = 5, .seed = 9};
  assert_int_equal(ana_ridge_cv(X, RN, RP, Y, RQ, &cfg, r2, lam, err, sizeof err), 0);
  for (int o = 0; o < RQ; o++) {
    // The best any decoder can do on these samples: the true readout's R^2 (1 - noise / total
    // sum of squares; in the population |w|^2 / (|w|^2 + sigma^2)). Cross-validation costs the
    // estimation error of 30 weights from 480 samples: about (1 - R^2) p / (n_train - p).
    double sse = 0, sst = 0, m = 0;
    for (int i = 0; i < RN; i++) m += Y[i * RQ + o] / RN;
    for (int i = 0; i < RN; i++) {
      double s = 0;
      for (int j = 0; j < RP; j++) s += (X[i * RP + j] - 1) / 5 * w[j * RQ + o];
      sse += (Y[i * RQ + o] - s) * (Y[i * RQ + o] - s),
          sst += (Y[i * RQ + o] - m) * (Y[i * RQ + o] - m);
    }
    const double oracle = 1 - sse / sst, pop = norm2[o] / (norm2[o] + sigma[o] * sigma[o]);
    print_message(
        "ridge: output %d CV R2 %.3f, true readout %.3f (population %.3f; lambda fold 0: %g)\n", o,
        r2[o], oracle, pop, lam[0]);
    assert_true(r2[o] < oracle + 0.01 && r2[o] > oracle - 0.05);
  }
  // Same seed, same answer (to the bit); a fixed lambda skips the inner CV.
  assert_int_equal(ana_ridge_cv(X, RN, RP, Y, RQ, &cfg, r2b, NULL, err, sizeof err), 0);
  assert_memory_equal(r2, r2b, sizeof r2);
  const double one = 1e-3;
  ana_ridge_config fixed = {.folds = 4, .seed = 9, .lambdas = &one, .n_lambdas = 1};
  assert_int_equal(ana_ridge_cv(X, RN, RP, Y, RQ, &fixed, r2b, NULL, err, sizeof err), 0);
  assert_true(fabs(r2b[0] - r2[0]) < 0.05);
  // Shuffled targets: nothing to decode.
  int perm[RN];
  for (int i = 0; i < RN; i++) perm[i] = i;
  for (int i = RN - 1; i > 0; i--) {
    const int j = (int)(am_rng_next(&rng) % (uint64_t)(i + 1)), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  for (int i = 0; i < RN; i++) memcpy(Ys + i * RQ, Y + perm[i] * RQ, sizeof(double) * RQ);
  assert_int_equal(ana_ridge_cv(X, RN, RP, Ys, RQ, &cfg, r2b, NULL, err, sizeof err), 0);
  print_message("ridge: shuffled targets CV R2 %.3f %.3f\n", r2b[0], r2b[1]);
  for (int o = 0; o < RQ; o++) assert_true(r2b[o] < 0.02);
  assert_int_equal(ana_ridge_cv(X, 8, RP, Y, RQ, &cfg, r2b, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "8 samples are too few"));
}

// Grouped folds: 40 groups of 5 identical samples (60 units), targets drawn per group and unrelated
// to the activity. Folds over samples put each sample's twins in the training set, and a ridge with
// more units than groups memorises them (R^2 near 1: leakage); folds over groups hold every group
// out whole and find nothing. The held-out predictions returned give the same R^2.
static void test_ridge_groups(void** state) {
  (void)state;
  enum { G = 40, K = 5, N = G * K, P = 60 };
  static double X[N * P], Y[N], pred[N];
  int groups[N];
  char err[AM_ERR_LEN];
  am_rng rng;
  am_rng_seed(&rng, 77, 0);
  for (int g = 0; g < G; g++) {
    double x[P];
    for (int j = 0; j < P; j++) x[j] = am_rng_normal(&rng);
    const double y = am_rng_normal(&rng);
    for (int k = 0; k < K; k++) {
      memcpy(X + (size_t)(g * K + k) * P, x, sizeof x);
      Y[g * K + k] = y;
      groups[g * K + k] = 3 * g + 1;  // ids need not be dense
    }
  }
  const double tiny = 1e-6;
  ana_ridge_config by_sample = {.folds = 5, .seed = 3, .lambdas = &tiny, .n_lambdas = 1};
  ana_ridge_config by_group = by_sample;
  by_group.groups = groups;
  by_group.pred = pred;
  double r2s, r2g;
  assert_int_equal(ana_ridge_cv(X, N, P, Y, 1, &by_sample, &r2s, NULL, err, sizeof err), 0);
  assert_int_equal(ana_ridge_cv(X, N, P, Y, 1, &by_group, &r2g, NULL, err, sizeof err), 0);
  print_message("ridge: twins, folds over samples R2 %.3f, over groups %.3f\n", r2s, r2g);
  assert_true(r2s > 0.95);
  assert_true(r2g < 0.1);
  double m = 0, se = 0, st = 0;
  for (int i = 0; i < N; i++) m += Y[i] / N;
  for (int i = 0; i < N; i++) se += (Y[i] - pred[i]) * (Y[i] - pred[i]), st += (Y[i] - m) * (Y[i] - m);
  assert_true(fabs((1 - se / st) - r2g) < 1e-9);
  // every group's samples were predicted by one model (one fold): identical rows, identical output
  for (int g = 0; g < G; g++)
    for (int k = 1; k < K; k++) assert_true(pred[g * K + k] == pred[g * K]);
  // errors name the problem
  groups[7] = -2;
  assert_int_equal(ana_ridge_cv(X, N, P, Y, 1, &by_group, &r2g, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "group of sample 7 is -2"));
  for (int i = 0; i < N; i++) groups[i] = i % 3;
  assert_int_equal(ana_ridge_cv(X, N, P, Y, 1, &by_group, &r2g, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "groups are too few"));
}

//---------------------------------- psychometric --------------------------------------------------

enum { PT = 4000 };
static const double PB = 0.05, PS = 0.08, PL = 0.06;

static void simulate_observer(double bias, double slope, double lapse, uint64_t seed, double* coh,
                              int* choice) {
  static const double levels[7] = {0, 0.032, 0.064, 0.128, 0.256, 0.512, 0.8};
  am_rng rng;
  am_rng_seed(&rng, seed, 0);
  for (int i = 0; i < PT; i++) {
    coh[i] = (am_rng_uniform(&rng) < 0.5 ? -1 : 1) * levels[am_rng_next(&rng) % 7];
    const double p = lapse / 2 + (1 - lapse) / (1 + exp(-(coh[i] - bias) / slope));
    choice[i] = am_rng_uniform(&rng) < p;
  }
}

static void test_psychometric_observer(void** state) {
  static double coh[PT];
  static int choice[PT];
  char err[AM_ERR_LEN];
  ana_psych f;
  simulate_observer(PB, PS, PL, 61, coh, choice);
  assert_int_equal(ana_psychometric_fit(coh, choice, PT, &f, err, sizeof err), 0);
  print_message(
      "psychometric: bias %.4f +- %.4f (0.05), slope %.4f +- %.4f (0.08), lapse %.4f +- %.4f "
      "(0.06), %d iterations\n",
      f.bias, f.se_bias, f.slope, f.se_slope, f.lapse, f.se_lapse, f.iterations);
  assert_true(fabs(f.bias - PB) < 0.015 && fabs(f.bias - PB) < 4 * f.se_bias);
  assert_true(fabs(f.slope - PS) < 0.015 && fabs(f.slope - PS) < 4 * f.se_slope);
  assert_true(fabs(f.lapse - PL) < 0.03 && fabs(f.lapse - PL) < 4 * f.se_lapse);
  assert_true(f.se_bias > 0 && f.se_bias < 0.01 && f.se_slope > 0 && f.se_lapse > 0);
  // A lapse-free observer: the fitted lapse stays near its bound 0.
  simulate_observer(-0.1, 0.05, 0, 62, coh, choice);
  assert_int_equal(ana_psychometric_fit(coh, choice, PT, &f, err, sizeof err), 0);
  print_message("psychometric (no lapses): bias %.4f (-0.1), slope %.4f (0.05), lapse %.4f (0)\n",
                f.bias, f.slope, f.lapse);
  assert_true(fabs(f.bias + 0.1) < 0.01 && fabs(f.slope - 0.05) < 0.01 && f.lapse < 0.02);
  // A step far from 0 (a chooser's P(choose B) against log(qB/qA) with the indifference point
  // at log 3, half B there): the fit centres on it (a single start at bias 0 ended at 1.22 on
  // such data, slope 1).
  static const double lr[7] = {-0.6931, 0, 0.6931, 1.0986, 1.3863, 1.7918, 2.3026};
  for (int i = 0; i < 700; i++)
    coh[i] = lr[i % 7], choice[i] = i % 7 > 3 || (i % 7 == 3 && (i / 7) % 2);
  assert_int_equal(ana_psychometric_fit(coh, choice, 700, &f, err, sizeof err), 0);
  print_message("psychometric (step at log 3): bias %.4f (1.0986), slope %.4f\n", f.bias, f.slope);
  assert_true(fabs(f.bias - 1.0986) < 0.01 && f.slope < 0.05);
  // A shallow lapse-free curve (100 trials per level, rightward counts of a scale-0.2 observer):
  // the lapse runs to its bound 0, where the joint Newton step used to stall the scale at 0.233;
  // the maximum-likelihood scale is 0.20129 (scipy's Nelder-Mead on the same likelihood).
  static const double sc[8] = {-0.4, -0.2, -0.1, -0.05, 0.05, 0.1, 0.2, 0.4};
  static const int rights[8] = {12, 27, 38, 44, 56, 62, 73, 88};
  for (int i = 0; i < 800; i++) coh[i] = sc[i / 100], choice[i] = i % 100 < rights[i / 100];
  assert_int_equal(ana_psychometric_fit(coh, choice, 800, &f, err, sizeof err), 0);
  print_message("psychometric (shallow, no lapses): slope %.5f (0.20129), lapse %.2g\n", f.slope,
                f.lapse);
  assert_true(fabs(f.slope - 0.20129) < 2e-4 && f.lapse < 1e-3 && fabs(f.bias) < 1e-6);
  for (int i = 0; i < PT; i++) choice[i] = 1;
  assert_int_equal(ana_psychometric_fit(coh, choice, PT, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "every trial chose right"));
  choice[3] = 2;
  assert_int_equal(ana_psychometric_fit(coh, choice, PT, &f, err, sizeof err), -1);
  assert_non_null(strstr(err, "trial 3 is 2"));
}

//---------------------------------- numpy cross-check ---------------------------------------------

static void write_matrix(const char* dir, const char* name, const double* A, int rows, int cols) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.txt", dir, name);
  FILE* f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++)
      fprintf(f, "%.17g%c", A[(size_t)i * cols + j], j + 1 < cols ? ' ' : '\n');
  assert_int_equal(fclose(f), 0);
}

static void test_numpy_crosscheck(void** state) {
  if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
    print_message(
        "numpy cross-check skipped: /usr/bin/python3 has no numpy (apt-get install "
        "python3-numpy)\n");
    skip();
  }
  char dir[] = "/tmp/animat_ana_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char err[AM_ERR_LEN];
  // PCA.
  static double X[PCA_N * PCA_P], Q[PCA_R * PCA_P];
  plant_lowrank(X, Q);
  double var[PCA_P], expl[PCA_P], comps[PCA_R * PCA_P];
  assert_int_equal(ana_pca(X, PCA_N, PCA_P, PCA_R, NULL, comps, var, expl, err, sizeof err), 0);
  write_matrix(dir, "pca_X", X, PCA_N, PCA_P);
  write_matrix(dir, "pca_var", var, 1, PCA_P);
  write_matrix(dir, "pca_explained", expl, 1, PCA_P);
  write_matrix(dir, "pca_comps", comps, PCA_R, PCA_P);
  // CKA: partially related data.
  static double A[CN * CP], B[CN * 7];
  am_rng rng;
  am_rng_seed(&rng, 71, 0);
  for (int i = 0; i < CN * CP; i++) A[i] = am_rng_normal(&rng);
  for (int i = 0; i < CN; i++)
    for (int j = 0; j < 7; j++) B[i * 7 + j] = A[i * CP + j] * (j + 1) + 2 * am_rng_normal(&rng);
  double cka;
  assert_int_equal(ana_cka(A, CN, CP, B, 7, &cka, err, sizeof err), 0);
  write_matrix(dir, "cka_X", A, CN, CP);
  write_matrix(dir, "cka_Y", B, CN, 7);
  write_matrix(dir, "cka", &cka, 1, 1);
  // jPCA with more noise (so the two fits differ).
  static double J[JC * JT * JN], JQ[(JK + 1) * JN];
  plant_rotations(J, JQ, 0.3);
  ana_jpca_result r;
  assert_int_equal(ana_jpca(J, JC, JT, JN, JDT, JK, &r, NULL, err, sizeof err), 0);
  write_matrix(dir, "jpca_X", J, JC * JT, JN);
  const double jres[5] = {r.r2_full, r.r2_skew, r.pca_explained, JDT, JC};
  write_matrix(dir, "jpca_results", jres, 1, 5);
  write_matrix(dir, "jpca_M_full", r.M_full, JK, JK);
  write_matrix(dir, "jpca_M_skew", r.M_skew, JK, JK);
  write_matrix(dir, "jpca_freq", r.freq_hz, 1, JK / 2);
  // Psychometric.
  static double coh[PT], ch[PT];
  static int choice[PT];
  simulate_observer(PB, PS, PL, 61, coh, choice);
  ana_psych f;
  assert_int_equal(ana_psychometric_fit(coh, choice, PT, &f, err, sizeof err), 0);
  for (int i = 0; i < PT; i++) ch[i] = choice[i];
  write_matrix(dir, "psy_coh", coh, 1, PT);
  write_matrix(dir, "psy_choice", ch, 1, PT);
  const double pres[7] = {f.bias, f.slope, f.lapse, f.se_bias, f.se_slope, f.se_lapse, f.loglik};
  write_matrix(dir, "psy_results", pres, 1, 7);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/../analysis_numpy_check.py %s", ANIMAT_TEST_DATA,
           dir);
  const int rc = system(cmd);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(rc, 0);
}


// Trial segmentation: two trials with an inter-trial interval, the second aborted, then a third cut
// by the episode's end; conditions, outcome events and kinematics' absence without a go cue.
// The distributional-critic analyses (ana_dist.c) on planted answers: expectiles of the 7 reward
// sizes of Eshel et al. 2016 (tau = 0.5: the mean; the defining equation holds), a reversal
// point on an exact line and its errors, expectile imputation recovering a distribution from
// its own expectiles, and the 1-Wasserstein distance of shifted samples.
static void test_distributional(void** state) {
  (void)state;
  const double R[7] = {0.1, 0.3, 1.2, 2.5, 5, 10, 20};
  assert_float_equal(ana_expectile(R, 7, 0.5), 39.1 / 7, 1e-9);
  for (double tau = 0.05; tau < 1; tau += 0.15) {
    double e = ana_expectile(R, 7, tau), up = 0, dn = 0;
    for (int i = 0; i < 7; i++) up += R[i] > e ? R[i] - e : 0, dn += R[i] < e ? e - R[i] : 0;
    assert_float_equal(tau * up, (1 - tau) * dn, 1e-8);
  }
  assert_true(ana_expectile(R, 7, 0.1) < ana_expectile(R, 7, 0.9));
  assert_true(isnan(ana_expectile(R, 7, 1.0)));
  // reversal point: delta = 1.5 (r - 3.2) exactly
  double r[6] = {0.1, 1, 2, 4, 8, 16}, d[6], rev, slope;
  char err[256];
  for (int i = 0; i < 6; i++) d[i] = 1.5 * (r[i] - 3.2);
  assert_int_equal(ana_reversal_point(r, d, 6, &rev, &slope, err, sizeof err), 0);
  assert_float_equal(rev, 3.2, 1e-9);
  assert_float_equal(slope, 1.5, 1e-9);
  double flat[6] = {1, 1, 1, 1, 1, 1};
  assert_int_equal(ana_reversal_point(r, flat, 6, &rev, &slope, err, sizeof err), -1);
  assert_non_null(strstr(err, "does not depend on the reward's size"));
  assert_int_equal(ana_reversal_point(flat, d, 6, &rev, &slope, err, sizeof err), -1);
  assert_non_null(strstr(err, "every reward has the same size"));
  // imputation: the expectiles of R at 20 asymmetries decode back to a distribution close to R
  enum { K = 20, M = 140 };
  double tau[K], e[K], z[M], loss;
  for (int i = 0; i < K; i++) tau[i] = (i + 0.5) / K, e[i] = ana_expectile(R, 7, tau[i]);
  assert_int_equal(ana_expectile_impute(tau, e, K, M, 4000, z, &loss, err, sizeof err), 0);
  double w_dec = ana_wasserstein1(z, M, R, 7), mean = 0;
  for (int m = 0; m < M; m++) mean += z[m] / M;
  assert_float_equal(mean, 39.1 / 7, 0.05);  // the tau = 0.5-ish conditions pin the mean
  for (int i = 0; i < K; i++) {
    double ez = ana_expectile(z, M, tau[i]);
    assert_float_equal(ez, e[i], 0.05 * (1 + e[i]));
  }
  // a point mass at the mean (all heads agreeing) is much farther from R than the decoding
  double point[M];
  for (int m = 0; m < M; m++) point[m] = 39.1 / 7;
  assert_true(w_dec < 0.5 * ana_wasserstein1(point, M, R, 7));
  assert_int_equal(ana_expectile_impute(tau, e, K, M, 0, z, &loss, err, sizeof err), -1);
  // 1-Wasserstein: a sample against itself shifted by 0.7
  double x[5] = {3, 1, 4, 1, 5}, y[5];
  for (int i = 0; i < 5; i++) y[i] = x[i] + 0.7;
  assert_float_equal(ana_wasserstein1(x, 5, y, 5), 0.7, 1e-12);
  assert_float_equal(ana_wasserstein1(x, 5, x, 5), 0, 1e-12);
  // median: odd and even counts (sorted in place), none
  assert_float_equal(ana_median(x, 5), 3, 0);
  assert_float_equal(ana_median(x, 4), 2, 0);  // x sorted: 1 1 3 4 5
  assert_true(isnan(ana_median(x, 0)));
}

static void test_trial_segmentation(void** state) {
  enum { START = 0, GO = 1, OK = 2, ABORT = 3, END = 4 };
  uint32_t ev[20] = {0};
  float vars[20 * 2];
  ev[0] = 1u << START, ev[3] = 1u << GO, ev[6] = 1u << OK | 1u << END;  // trial 0: rows 0-6
  ev[9] = 1u << START, ev[11] = 1u << ABORT | 1u << END;                 // ITI 7-8, trial 1: 9-11
  ev[15] = 1u << START;                                                  // trial 2: 15-19, cut
  for (int t = 0; t < 20; t++) vars[2 * t] = (float)(t / 8), vars[2 * t + 1] = 0;
  ana_trial_schema s = {.n_events = 5, .trial_start = START, .success = OK, .trial_end = END,
                        .go_event = GO, .n_vars = 2, .n_cond = 1, .cond = {0}, .eff_x = -1,
                        .eff_y = -1, .start_x = -1, .start_y = -1, .target_x = -1,
                        .target_y = -1, .choice = -1, .outcome = -1, .dt = 0.01,
                        .onset_frac = 0.2};
  ana_episode_in ep = {.episode = 7, .env = 2, .steps = 20, .complete = 1, .events = ev,
                       .vars = vars};
  ana_trials tab = {0};
  char err[AM_ERR_LEN];
  assert_int_equal(ana_trials_add_episode(&s, &ep, &tab, err, sizeof err), 0);
  assert_int_equal(tab.n, 3);
  const ana_trial* r = tab.rows;
  assert_true(r[0].first == 0 && r[0].last == 6 && r[0].complete && r[0].success);
  assert_int_equal(r[0].end_event, OK);
  assert_int_equal(r[0].ev_row[GO], 3);
  assert_true(isnan(r[0].onset));  // no effector: no kinematics
  assert_true(r[1].first == 9 && r[1].last == 11 && r[1].complete && !r[1].success);
  assert_int_equal(r[1].end_event, ABORT);
  assert_float_equal(r[1].cond[0], 1, 0);  // read at the trial's last row (11 / 8)
  assert_true(r[2].first == 15 && r[2].last == 19 && !r[2].complete && r[2].trial == 2);
  assert_true(r[2].episode == 7 && r[2].env == 2);
  // a schema pointing outside the variables is refused
  s.cond[0] = 5;
  assert_int_equal(ana_trials_add_episode(&s, &ep, &tab, err, sizeof err), -1);
  assert_non_null(strstr(err, "condition"));
  ana_trials_free(&tab);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cosine_recovery),  cmocka_unit_test(test_population_vector),
      cmocka_unit_test(test_rayleigh),         cmocka_unit_test(test_pca_planted),
      cmocka_unit_test(test_jpca_planted),     cmocka_unit_test(test_cka),
      cmocka_unit_test(test_rdm_spearman),     cmocka_unit_test(test_chronometric),
      cmocka_unit_test(test_ridge_planted),    cmocka_unit_test(test_ridge_groups),    cmocka_unit_test(test_psychometric_observer),
      cmocka_unit_test(test_numpy_crosscheck), cmocka_unit_test(test_trial_segmentation),
      cmocka_unit_test(test_distributional),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
