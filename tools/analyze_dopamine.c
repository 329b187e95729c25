// analyze_dopamine.c: `animat analyze dopamine FILE`: the distributional critic's value heads as
// a dopamine population (Dabney et al. 2020, Nature 577: 671-675). At every rewarded trial's
// reward row it takes the reward's size (the task's "success" reward term) and each head's
// reward prediction error delta_i (channel critic/rpe) (trials as --where selects them); per head, the reversal point (the size
// at which delta_i changes sign) against its asymmetry tau_i (metadata critic.tau): Spearman
// rank correlation, the reversal points against the true distribution's tau_i-expectiles, and
// the distribution decoded from the (tau_i, reversal point) pairs by expectile imputation,
// compared with the true one. The numerics are analysis/ana_dist.c.
// Heads that all share one tau (the control: a classic critic replicated K times) are analysed
// against the labels (i + 0.5) / K that a distributional critic of K heads would have.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"
#include "ana_svg.h"
#include "analyze_data.h"
#include "table.h"

#define DA_MAX_LEVELS 32  // reward sizes shown per head in the figure
#define DA_SAMPLES 200    // samples of the decoded distribution
#define DA_ITERS 4000     // Adam steps of the decoding

static int cmp_d(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

// Empirical CDF of x (n, sorted here) as a step line (2n points) into px, py.
static int cdf_line(double* x, int n, double* px, double* py) {
  qsort(x, n, sizeof(double), cmp_d);
  for (int i = 0; i < n; i++) {
    px[2 * i] = px[2 * i + 1] = x[i];
    py[2 * i] = (double)i / n;
    py[2 * i + 1] = (double)(i + 1) / n;
  }
  return 2 * n;
}

int az_dopamine(ds_trials* d, const ana_trials* tab, const az_select* sel, ana_fig** fig,
                table* t, am_buf* json, am_buf* summary, char* err, size_t err_sz) {
  am_ds_reader* r = d->r;
  int c_rpe = am_ds_find_channel(r, "critic/rpe"), c_terms = am_ds_find_channel(r, "reward_terms");
  int c_rew = am_ds_find_channel(r, "reward");
  const char* taus = am_ds_meta(r, "critic.tau", NULL);
  if (c_rpe < 0 || !taus)
    return am_err(err, err_sz, "dopamine: the dataset has no channel critic/rpe or no metadata "
                  "critic.tau (record a policy trained with critic_heads > 1)");
  const int K = (int)am_ds_get_channel(r, c_rpe)->elems;
  double tau[AMA_MAX_HEADS], lab[AMA_MAX_HEADS];
  int nt = 0;
  for (const char* p = taus; *p && nt < AMA_MAX_HEADS;) {
    char* end;
    tau[nt++] = strtod(p, &end);
    if (end == p) break;
    p = *end == ',' ? end + 1 : end;
  }
  if (nt != K || K < 2)
    return am_err(err, err_sz, "dopamine: metadata critic.tau '%s' has %d values, channel "
                  "critic/rpe %d heads (need the same, at least 2)", taus, nt, K);
  int same = 1;
  for (int i = 0; i < K; i++) same &= tau[i] == tau[0];
  for (int i = 0; i < K; i++) lab[i] = same ? (i + 0.5) / K : tau[i];
  int ev_rew = ds_find_name(d->events, d->n_events, "reward");
  if (ev_rew < 0) return am_err(err, err_sz, "dopamine: task %s has no reward event", d->task);
  int s_col = -1, n_terms = 0;
  if (c_terms >= 0) {
    const am_ds_channel* ch = am_ds_get_channel(r, c_terms);
    char names[64][AM_NAME_LEN];
    int nl = ch->labels ? ds_split_labels(ch->labels, names, 64) : -1;
    n_terms = (int)ch->elems;
    s_col = nl > 0 ? ds_find_name(names, nl, "success") : -1;
  }
  if (s_col < 0 && c_rew < 0)
    return am_err(err, err_sz, "dopamine: the dataset has neither a success reward term nor a "
                  "reward channel");
  // one pass: every rewarded trial's size and prediction errors at its reward row
  int64_t cap = 0, n = 0;
  double *size = NULL, *rpe = NULL;
  float *buf_rpe = NULL, *buf_terms = NULL;
  size_t cap_rows = 0;
  int nch = am_ds_num_channels(r), rc = -1;
  void** dst = calloc((size_t)nch, sizeof(void*));
  if (!dst) return am_err(err, err_sz, "out of memory");
  int64_t k = 0;
  for (int64_t e = 0; e < am_ds_num_episodes(r) && k < tab->n; e++) {
    const am_ds_episode* ep = am_ds_get_episode(r, e);
    if ((size_t)ep->steps > cap_rows) {
      cap_rows = (size_t)ep->steps;
      free(buf_rpe), free(buf_terms);
      buf_rpe = malloc(cap_rows * K * sizeof(float));
      buf_terms = malloc(cap_rows * (n_terms > 1 ? n_terms : 1) * sizeof(float));
      if (!buf_rpe || !buf_terms) {
        am_err(err, err_sz, "out of memory for an episode of %zu steps", cap_rows);
        goto out;
      }
    }
    for (int c = 0; c < nch; c++) dst[c] = NULL;
    dst[c_rpe] = buf_rpe;
    int cs = s_col >= 0 ? c_terms : c_rew;
    dst[cs] = buf_terms;
    if (am_ds_read_episode(r, e, dst, NULL, err, err_sz)) goto out;
    int stride = s_col >= 0 ? n_terms : 1, col = s_col >= 0 ? s_col : 0;
    for (; k < tab->n && tab->rows[k].episode == ep->id; k++) {
      const ana_trial* tr = &tab->rows[k];
      if (tr->ev_row[ev_rew] < 0 || !az_selected(d, sel, tr)) continue;
      int64_t row = tr->first + tr->ev_row[ev_rew];
      if (row < 0 || row >= ep->steps) continue;
      if (n == cap) {
        cap = cap ? 2 * cap : 1024;
        double* a = realloc(size, sizeof(double) * cap);
        if (a) size = a;
        double* b = realloc(rpe, sizeof(double) * cap * K);
        if (b) rpe = b;
        if (!a || !b) {
          am_err(err, err_sz, "out of memory");
          goto out;
        }
      }
      size[n] = buf_terms[row * stride + col];
      for (int i = 0; i < K; i++) rpe[n * K + i] = buf_rpe[row * K + i];
      n++;
    }
  }
  if (n < 10) {
    am_err(err, err_sz, "dopamine: %lld rewarded trials in the dataset (need >= 10)", (long long)n);
    goto out;
  }
  {
    // per head: reversal point (zero of the least-squares line of delta_i on the size)
    double rev[AMA_MAX_HEADS], slope[AMA_MAX_HEADS], etrue[AMA_MAX_HEADS];
    double* col = malloc(sizeof(double) * n);
    double z[DA_SAMPLES];
    if (!col) {
      am_err(err, err_sz, "out of memory");
      goto out;
    }
    for (int i = 0; i < K; i++) {
      for (int64_t j = 0; j < n; j++) col[j] = rpe[j * K + i];
      if (ana_reversal_point(size, col, (int)n, &rev[i], &slope[i], err, err_sz)) {
        free(col);
        goto out;
      }
      etrue[i] = ana_expectile(size, (int)n, lab[i]);
    }
    free(col);
    double rho = NAN, rms = 0, loss = NAN;
    char e2[256];
    if (ana_spearman(lab, rev, K, &rho, e2, sizeof e2)) rho = NAN;
    for (int i = 0; i < K; i++) rms += (rev[i] - etrue[i]) * (rev[i] - etrue[i]) / K;
    rms = sqrt(rms);
    if (ana_expectile_impute(lab, rev, K, DA_SAMPLES, DA_ITERS, z, &loss, err, err_sz)) goto out;
    double w1 = ana_wasserstein1(z, DA_SAMPLES, size, (int)n);
    double mt = 0, st = 0, mz = 0, sz = 0, rmin = rev[0], rmax = rev[0];
    for (int64_t j = 0; j < n; j++) mt += size[j] / n;
    for (int64_t j = 0; j < n; j++) st += (size[j] - mt) * (size[j] - mt) / n;
    for (int m = 0; m < DA_SAMPLES; m++) mz += z[m] / DA_SAMPLES;
    for (int m = 0; m < DA_SAMPLES; m++) sz += (z[m] - mz) * (z[m] - mz) / DA_SAMPLES;
    for (int i = 0; i < K; i++) rmin = fmin(rmin, rev[i]), rmax = fmax(rmax, rev[i]);
    // the reward sizes (levels) and each head's mean delta per level
    double lev[DA_MAX_LEVELS];
    int nl = 0;
    for (int64_t j = 0; j < n && nl <= DA_MAX_LEVELS; j++) {
      int seen = 0;
      for (int q = 0; q < nl && !seen; q++) seen = lev[q] == size[j];
      if (!seen && nl < DA_MAX_LEVELS) lev[nl++] = size[j];
      else if (!seen) nl = DA_MAX_LEVELS + 1;
    }
    if (nl > DA_MAX_LEVELS) nl = 0;  // sizes from a continuous distribution: no per-level panel
    qsort(lev, nl, sizeof(double), cmp_d);
    // outputs: the table (per head), the JSON, the figure
    const char* cols[] = {"head", "tau", "reversal_point", "slope", "true_expectile"};
    table_init(t, 5, cols);
    for (int i = 0; i < K; i++) {
      table_int(t, i), table_num(t, lab[i]), table_num(t, rev[i]), table_num(t, slope[i]);
      table_num(t, etrue[i]);
    }
    am_buf_printf(json, ", \"rewarded_trials\": %lld, \"heads\": %d, \"tau_from\": \"%s\", "
                  "\"spearman_tau_reversal\": ", (long long)n, K,
                  same ? "labels (i+0.5)/K: every head has the same tau" : "metadata critic.tau");
    table_json_number(json, rho);
    am_buf_printf(json, ", \"reversal_range\": [%.6g, %.6g], \"rms_reversal_vs_true_expectile\": "
                  "%.6g, \"true_mean\": %.6g, \"true_sd\": %.6g, \"decoded_mean\": %.6g, "
                  "\"decoded_sd\": %.6g, \"decoding_loss\": %.6g, \"wasserstein1\": %.6g, "
                  "\"heads_table\": \"dopamine.csv\"}\n", rmin, rmax, rms, mt, sqrt(st), mz,
                  sqrt(sz), loss, w1);
    am_buf_printf(summary, "dopamine: %d heads (tau %s), %lld rewarded trials; Spearman "
                  "rho(tau, reversal point) %.3f; reversal points %.3g..%.3g, RMS from the true "
                  "expectiles %.3g; decoded distribution mean %.3g sd %.3g (true %.3g, %.3g), "
                  "1-Wasserstein %.3g\n", K, same ? "all equal: labels (i+0.5)/K" : "from "
                  "critic.tau", (long long)n, rho, rmin, rmax, rms, mz, sqrt(sz), mt, sqrt(st), w1);
    ana_fig* f = *fig = ana_fig_new(1, 3, 0, 0, err, err_sz);
    if (!f) goto out;
    char title[160];
    snprintf(title, sizeof title, "%s: %d value heads as a dopamine population%s", d->task, K,
             same ? " (control: one tau, labels (i+0.5)/K)" : "");
    ana_fig_title(f, title);
    // panel 0: delta_i vs reward size, one line per head coloured by tau
    ana_fig_labels(f, 0, "prediction error at reward", "reward size", "delta_i");
    if (nl > 1) {
      double mean[DA_MAX_LEVELS];
      for (int i = 0; i < K; i++) {
        for (int q = 0; q < nl; q++) {
          double s = 0;
          int64_t m = 0;
          for (int64_t j = 0; j < n; j++)
            if (size[j] == lev[q]) s += rpe[j * K + i], m++;
          mean[q] = m ? s / m : NAN;
        }
        char lt[48];
        snprintf(lt, sizeof lt, "%s %.3g", same ? "label" : "tau", lab[i]);
        ana_style ls = {.color = ana_color_map(ANA_CMAP_VIRIDIS, (lab[i] - lab[0]) /
                                               (lab[K - 1] - lab[0] + 1e-12)), .width = 1.2,
                        .label = i == 0 || i == K - 1 ? lt : NULL};
        ana_fig_line(f, 0, lev, mean, nl, &ls);
      }
    }
    ana_fig_hline(f, 0, 0, NULL);
    // panel 1: reversal point vs tau, with the true distribution's expectiles
    char ptitle[96];
    snprintf(ptitle, sizeof ptitle, "reversal point vs asymmetry: Spearman %.3f", rho);
    ana_fig_labels(f, 1, ptitle, same ? "tau label (i+0.5)/K" : "tau_i",
                   "reversal point (reward size)");
    double tg[99], eg[99];
    for (int q = 0; q < 99; q++) tg[q] = (q + 1) / 100.0, eg[q] = ana_expectile(size, (int)n, tg[q]);
    ana_fig_line(f, 1, tg, eg, 99, &(ana_style){.color = 0x888888, .dash = ANA_DASH_DASHED,
                                                .label = "true distribution's expectiles"});
    ana_fig_scatter(f, 1, lab, rev, K, &(ana_style){.color = 0x1f77b4, .label = "heads"});
    // panel 2: decoded vs true distribution (CDFs)
    snprintf(ptitle, sizeof ptitle, "decoded vs true distribution: W1 %.3g", w1);
    ana_fig_labels(f, 2, ptitle, "reward size", "cumulative probability");
    double* px = malloc(sizeof(double) * 2 * (n > DA_SAMPLES ? n : DA_SAMPLES));
    double* py = malloc(sizeof(double) * 2 * (n > DA_SAMPLES ? n : DA_SAMPLES));
    double* sc = malloc(sizeof(double) * n);
    if (!px || !py || !sc) {
      free(px), free(py), free(sc);
      am_err(err, err_sz, "out of memory");
      goto out;
    }
    memcpy(sc, size, sizeof(double) * n);
    int m1 = cdf_line(sc, (int)n, px, py);
    ana_fig_line(f, 2, px, py, m1, &(ana_style){.color = 0x222222, .label = "true"});
    int m2 = cdf_line(z, DA_SAMPLES, px, py);
    ana_fig_line(f, 2, px, py, m2, &(ana_style){.color = 0xd62728, .label = "decoded"});
    free(px), free(py), free(sc);
    rc = 0;
  }
out:
  free(dst), free(size), free(rpe), free(buf_rpe), free(buf_terms);
  return rc;
}
