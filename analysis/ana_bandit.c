// ana_bandit.c: behavioural measures of meta-reinforcement learning (ana.h, "bandits and the
// two-step task"): regret and P(better arm) curves of two-armed bandit episodes, the Thompson
// sampling and random baselines on the same episodes (Wang et al. 2018 compare their agent with
// Thompson sampling, Gittins indices and UCB), and the two-step task's stay probabilities with the
// model-based (reward x transition) and model-free (reward) indices (Daw et al. 2011).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"

int ana_bandit_curve_init(ana_bandit_curve* c, int trials, char* err, size_t err_sz) {
  memset(c, 0, sizeof *c);
  if (trials < 1) return am_err(err, err_sz, "bandit curve: %d trials (need >= 1)", trials);
  c->trials = trials;
  c->regret = calloc((size_t)trials, sizeof(double));
  c->p_best = calloc((size_t)trials, sizeof(double));
  c->count = calloc((size_t)trials, sizeof(int64_t));
  if (!c->regret || !c->p_best || !c->count) {
    ana_bandit_curve_free(c);
    return am_err(err, err_sz, "out of memory for a bandit curve of %d trials", trials);
  }
  return 0;
}

void ana_bandit_curve_free(ana_bandit_curve* c) {
  free(c->regret), free(c->p_best), free(c->count);
  memset(c, 0, sizeof *c);
}

void ana_bandit_curve_add(ana_bandit_curve* c, int t, const double* p, int arm) {
  if (t < 0 || t >= c->trials || arm < 0 || arm > 1) return;
  double best = fmax(p[0], p[1]);
  c->regret[t] += best - p[arm];
  c->p_best[t] += p[0] == p[1] ? 0.5 : p[arm] == best;
  c->count[t]++;
}

void ana_bandit_curve_finish(ana_bandit_curve* c) {
  for (int t = 0; t < c->trials; t++) {
    double n = (double)c->count[t];
    c->regret[t] = n > 0 ? c->regret[t] / n : NAN;
    c->p_best[t] = n > 0 ? c->p_best[t] / n : NAN;
  }
}

// Gamma(a, 1) for a >= 1 (Marsaglia & Tsang 2000).
static double gamma_draw(am_rng* r, double a) {
  double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
  for (;;) {
    double x = am_rng_normal(r), v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = am_rng_uniform(r);
    if (u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
  }
}

static double beta_draw(am_rng* r, double a, double b) {
  double x = gamma_draw(r, a), y = gamma_draw(r, b);
  return x / (x + y);
}

int ana_bandit_thompson(const double* p, int n_ep, int trials, int reps, uint64_t seed,
                        ana_bandit_curve* c, char* err, size_t err_sz) {
  if (n_ep < 1 || reps < 1 || c->trials != trials)
    return am_err(err, err_sz, "thompson: %d episodes, %d runs, curve of %d trials for %d (need "
                  ">= 1 each, equal trials)", n_ep, reps, c->trials, trials);
  am_rng rng;
  am_rng_seed(&rng, seed, 0x74686f6d70736f6eULL);  // "thompson"
  for (int e = 0; e < n_ep; e++)
    for (int k = 0; k < reps; k++) {
      double a[2] = {1, 1}, b[2] = {1, 1};
      for (int t = 0; t < trials; t++) {
        double th0 = beta_draw(&rng, a[0], b[0]), th1 = beta_draw(&rng, a[1], b[1]);
        int arm = th1 > th0;
        int r = am_rng_uniform(&rng) < p[2 * e + arm];
        a[arm] += r, b[arm] += 1 - r;
        ana_bandit_curve_add(c, t, p + 2 * e, arm);
      }
    }
  ana_bandit_curve_finish(c);
  return 0;
}

void ana_bandit_random(const double* p, int n_ep, ana_bandit_curve* c) {
  for (int e = 0; e < n_ep; e++)
    for (int t = 0; t < c->trials; t++) {
      double best = fmax(p[2 * e], p[2 * e + 1]);
      c->regret[t] += best - 0.5 * (p[2 * e] + p[2 * e + 1]);
      c->p_best[t] += 0.5;
      c->count[t]++;
    }
  ana_bandit_curve_finish(c);
}

int ana_two_step_stay(const int64_t* ep, const double* choice, const int* rewarded,
                      const int* common, int64_t n, ana_stay* out, char* err, size_t err_sz) {
  memset(out, 0, sizeof *out);
  int64_t stay[2][2] = {{0}};
  for (int64_t i = 0; i + 1 < n; i++) {
    if (ep[i + 1] != ep[i] || isnan(choice[i]) || isnan(choice[i + 1])) continue;
    int r = rewarded[i] != 0, c = common[i] != 0;
    out->n[r][c]++;
    stay[r][c] += choice[i + 1] == choice[i];
  }
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 2; c++) {
      if (!out->n[r][c])
        return am_err(err, err_sz, "two-step: no trial pairs after %s %s trials (need every "
                      "outcome x transition)", r ? "rewarded" : "unrewarded", c ? "common" : "rare");
      double q = (double)stay[r][c] / out->n[r][c];
      out->p[r][c] = q;
      out->se[r][c] = sqrt(q * (1 - q) / out->n[r][c]);
    }
  const double(*P)[2] = out->p, (*S)[2] = out->se;
  double var = S[1][1] * S[1][1] + S[1][0] * S[1][0] + S[0][1] * S[0][1] + S[0][0] * S[0][0];
  out->mb = (P[1][1] - P[1][0]) - (P[0][1] - P[0][0]);
  out->mf = (P[1][1] + P[1][0] - P[0][1] - P[0][0]) / 2;
  out->mb_se = sqrt(var);
  out->mf_se = sqrt(var) / 2;
  return 0;
}
