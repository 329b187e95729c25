// analyze_bandit.c: `animat analyze bandit FILE` and `animat analyze two-step FILE`: meta-RL
// behaviour from the trial table of a recorded dataset (tasks bandit and two-step; the numerics
// are analysis/ana_bandit.c).
//   bandit: per trial of the episode, the agent's mean expected regret (max(p) - p of the chosen
//   arm) and P(better arm), and the same for Thompson sampling (Beta(1,1) priors, `reps` runs on
//   each recorded episode's probabilities) and a random chooser on the same episodes; cumulative
//   regret over the episode (Wang et al. 2018, Fig. 1). The agent acts with its weights fixed, so a
//   P(better arm) rising within the episode is adaptation by its recurrent activity alone.
//   two-step: P(stay with the first-stage choice) after rewarded / unrewarded x common / rare
//   trials, the model-based (reward x transition) and model-free (reward) indices (Daw et al. 2011).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_svg.h"
#include "analyze_data.h"
#include "table.h"

#define BANDIT_REPS 20  // Thompson runs per recorded episode

static double cum_at(const ana_bandit_curve* c, int t) {  // expected regret over trials 0..t
  double s = 0;
  for (int k = 0; k <= t && k < c->trials; k++) s += isfinite(c->regret[k]) ? c->regret[k] : 0;
  return s;
}

int az_bandit(ds_trials* d, const ana_trials* tab, uint64_t seed, ana_fig** fig, table* t,
              am_buf* json, am_buf* summary, char* err, size_t err_sz) {
  int k1 = az_cond_slot(d, "p_left"), k2 = az_cond_slot(d, "p_right");
  if (k1 < 0 || k2 < 0 || d->schema.choice < 0)
    return am_err(err, err_sz, "bandit: the dataset's task (%s) has no condition variables "
                  "p_left, p_right or no choice variable (record the bandit task)", d->task);
  // episodes: their probabilities (first trial) and the trials per episode
  int trials = 0;
  int64_t n_ep = 0;
  double* p = malloc(sizeof(double) * 2 * (size_t)(tab->n + 1));
  double* ep_cum = calloc((size_t)tab->n + 1, sizeof(double));  // the agent's regret per episode
  if (!p || !ep_cum) return free(p), free(ep_cum), am_err(err, err_sz, "out of memory");
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* r = &tab->rows[i];
    if (i == 0 || r->episode != tab->rows[i - 1].episode) {
      p[2 * n_ep] = r->cond[k1], p[2 * n_ep + 1] = r->cond[k2];
      n_ep++;
    }
    if (r->trial + 1 > trials) trials = r->trial + 1;
  }
  ana_bandit_curve ag = {0}, th = {0}, rn = {0};
  int rc = -1;
  if (!n_ep) {
    am_err(err, err_sz, "bandit: the dataset has no trials");
    goto done;
  }
  if (ana_bandit_curve_init(&ag, trials, err, err_sz) ||
      ana_bandit_curve_init(&th, trials, err, err_sz) ||
      ana_bandit_curve_init(&rn, trials, err, err_sz))
    goto done;
  int64_t e = -1, chosen = 0;
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* r = &tab->rows[i];
    if (i == 0 || r->episode != tab->rows[i - 1].episode) e++;
    if (!r->complete || !(r->choice == 1 || r->choice == -1)) continue;
    double q[2] = {r->cond[k1], r->cond[k2]};
    int arm = r->choice > 0;
    ana_bandit_curve_add(&ag, r->trial, q, arm);
    ep_cum[e] += fmax(q[0], q[1]) - q[arm];
    chosen++;
  }
  ana_bandit_curve_finish(&ag);
  if (ana_bandit_thompson(p, (int)n_ep, trials, BANDIT_REPS, seed, &th, err, err_sz)) goto done;
  ana_bandit_random(p, (int)n_ep, &rn);
  double s = 0, s2 = 0;  // the agent's cumulative regret per episode: mean and its sem
  for (int64_t k = 0; k < n_ep; k++) s += ep_cum[k], s2 += ep_cum[k] * ep_cum[k];
  double sem = n_ep > 1 ? sqrt((s2 - s * s / n_ep) / (n_ep - 1) / n_ep) : NAN;
  const char* cols[] = {"trial", "episodes", "agent_regret", "agent_cum_regret", "agent_p_best",
                        "thompson_regret", "thompson_cum_regret", "thompson_p_best",
                        "random_cum_regret"};
  if (table_init(t, 9, cols)) goto oom;
  double* x = malloc(sizeof(double) * 7 * (size_t)trials);
  if (!x) goto oom;
  double *ca = x + trials, *ct = x + 2 * trials, *cr = x + 3 * trials;
  double *pa = x + 4 * trials, *pt = x + 5 * trials, *half = x + 6 * trials;
  for (int k = 0; k < trials; k++) {
    x[k] = k + 1;
    ca[k] = cum_at(&ag, k), ct[k] = cum_at(&th, k), cr[k] = cum_at(&rn, k);
    pa[k] = ag.p_best[k], pt[k] = th.p_best[k], half[k] = 0.5;
    table_int(t, k), table_int(t, (long long)ag.count[k]);
    table_num(t, ag.regret[k]), table_num(t, ca[k]), table_num(t, pa[k]);
    table_num(t, th.regret[k]), table_num(t, ct[k]), table_num(t, pt[k]);
    table_num(t, cr[k]);
  }
  const int L = trials - 1, q10 = trials >= 10 ? 9 : L;
  am_buf_printf(json, ", \"episodes\": %lld, \"trials_per_episode\": %d, \"choices\": %lld, "
                "\"thompson_runs_per_episode\": %d, \"cum_regret\": {\"agent\": ",
                (long long)n_ep, trials, (long long)chosen, BANDIT_REPS);
  table_json_number(json, ca[L]);
  am_buf_printf(json, ", \"agent_sem\": ");
  table_json_number(json, sem);
  am_buf_printf(json, ", \"thompson\": ");
  table_json_number(json, ct[L]);
  am_buf_printf(json, ", \"random\": ");
  table_json_number(json, cr[L]);
  am_buf_printf(json, "}, \"p_best\": {\"agent_first10\": ");
  double a10 = 0, a_last = 0, t10 = 0, t_last = 0;
  int n10 = q10 + 1, nl = trials >= 20 ? 10 : trials;
  for (int k = 0; k < n10; k++) a10 += pa[k] / n10, t10 += pt[k] / n10;
  for (int k = trials - nl; k < trials; k++) a_last += pa[k] / nl, t_last += pt[k] / nl;
  table_json_number(json, a10);
  am_buf_printf(json, ", \"agent_last10\": ");
  table_json_number(json, a_last);
  am_buf_printf(json, ", \"thompson_first10\": ");
  table_json_number(json, t10);
  am_buf_printf(json, ", \"thompson_last10\": ");
  table_json_number(json, t_last);
  am_buf_printf(json, "}, \"by_trial\": \"bandit.csv\"}\n");
  *fig = ana_fig_new(1, 2, 0, 0, err, err_sz);
  if (!*fig) {
    free(x);
    goto done;
  }
  ana_fig_title(*fig, d->task);
  ana_fig_labels(*fig, 0, "cumulative regret", "trial", "expected regret");
  ana_fig_line(*fig, 0, x, ca, trials, &(ana_style){.color = ana_color_cat(0), .label = "agent"});
  ana_fig_line(*fig, 0, x, ct, trials, &(ana_style){.color = ana_color_cat(1), .label = "Thompson"});
  ana_fig_line(*fig, 0, x, cr, trials, &(ana_style){.color = ana_color_cat(7), .label = "random"});
  ana_fig_axes(*fig, 0, &(ana_axes){.legend = ANA_LEGEND_UL});
  ana_fig_labels(*fig, 1, "within-episode adaptation (weights fixed)", "trial",
                 "P(better arm)");
  ana_fig_line(*fig, 1, x, pa, trials, &(ana_style){.color = ana_color_cat(0), .label = "agent"});
  ana_fig_line(*fig, 1, x, pt, trials, &(ana_style){.color = ana_color_cat(1), .label = "Thompson"});
  ana_fig_hline(*fig, 1, 0.5, NULL);
  ana_fig_axes(*fig, 1, &(ana_axes){.ymin = 0.4, .ymax = 1, .legend = ANA_LEGEND_LR});
  am_buf_printf(summary, "bandit: %lld episodes of %d trials; cumulative regret at trial %d: "
                "agent %.3f (sem %.3f), Thompson %.3f, random %.3f; P(better arm) trials 1-%d: "
                "agent %.3f, Thompson %.3f; last %d: agent %.3f, Thompson %.3f\n",
                (long long)n_ep, trials, trials, ca[L], sem, ct[L], cr[L], n10, a10, t10, nl,
                a_last, t_last);
  free(x);
  rc = 0;
  goto done;
oom:
  am_err(err, err_sz, "out of memory");
done:
  ana_bandit_curve_free(&ag), ana_bandit_curve_free(&th), ana_bandit_curve_free(&rn);
  free(p), free(ep_cum);
  return rc;
}

int az_two_step(ds_trials* d, const ana_trials* tab, ana_fig** fig, table* t, am_buf* json,
                am_buf* summary, char* err, size_t err_sz) {
  int kt = az_cond_slot(d, "transition");
  if (kt < 0 || d->schema.choice < 0 || d->schema.outcome < 0)
    return am_err(err, err_sz, "two-step: the dataset's task (%s) has no condition variable "
                  "transition or no choice / outcome variables (record the two-step task)", d->task);
  int64_t n = 0;
  int64_t* ep = malloc(sizeof(int64_t) * (size_t)(tab->n + 1));
  double* ch = malloc(sizeof(double) * (size_t)(tab->n + 1));
  int* rw = malloc(sizeof(int) * (size_t)(tab->n + 1));
  int* cm = malloc(sizeof(int) * (size_t)(tab->n + 1));
  if (!ep || !ch || !rw || !cm)
    return free(ep), free(ch), free(rw), free(cm), am_err(err, err_sz, "out of memory");
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* r = &tab->rows[i];
    ep[n] = r->episode;
    ch[n] = r->complete && (r->choice == 1 || r->choice == -1) ? r->choice : NAN;
    rw[n] = r->outcome == 1;
    cm[n] = r->cond[kt] == 1;
    n++;
  }
  ana_stay st;
  int rc = ana_two_step_stay(ep, ch, rw, cm, n, &st, err, err_sz);
  free(ep), free(ch), free(rw), free(cm);
  if (rc) return -1;
  const char* cols[] = {"outcome", "transition", "pairs", "p_stay", "sem"};
  if (table_init(t, 5, cols)) return am_err(err, err_sz, "out of memory");
  for (int r = 1; r >= 0; r--)
    for (int c = 1; c >= 0; c--) {
      table_str(t, r ? "rewarded" : "unrewarded"), table_str(t, c ? "common" : "rare");
      table_int(t, (long long)st.n[r][c]), table_num(t, st.p[r][c]), table_num(t, st.se[r][c]);
    }
  am_buf_printf(json, ", \"pairs\": %lld, \"p_stay\": {\"rewarded_common\": ",
                (long long)(st.n[0][0] + st.n[0][1] + st.n[1][0] + st.n[1][1]));
  table_json_number(json, st.p[1][1]);
  am_buf_printf(json, ", \"rewarded_rare\": ");
  table_json_number(json, st.p[1][0]);
  am_buf_printf(json, ", \"unrewarded_common\": ");
  table_json_number(json, st.p[0][1]);
  am_buf_printf(json, ", \"unrewarded_rare\": ");
  table_json_number(json, st.p[0][0]);
  am_buf_printf(json, "}, \"model_based_index\": ");
  table_json_number(json, st.mb);
  am_buf_printf(json, ", \"model_based_se\": ");
  table_json_number(json, st.mb_se);
  am_buf_printf(json, ", \"model_free_index\": ");
  table_json_number(json, st.mf);
  am_buf_printf(json, ", \"model_free_se\": ");
  table_json_number(json, st.mf_se);
  am_buf_printf(json, ", \"table\": \"two-step.csv\"}\n");
  *fig = ana_fig_new(1, 1, 0, 0, err, err_sz);
  if (!*fig) return -1;
  ana_fig_title(*fig, d->task);
  char title[128];
  snprintf(title, sizeof title, "P(stay); model-based index %.3f +- %.3f", st.mb, st.mb_se);
  ana_fig_labels(*fig, 0, title, NULL, "P(stay) of the first-stage choice");
  for (int c = 1; c >= 0; c--) {
    double x[2] = {c ? 0 : 0.5, c ? 2 : 2.5}, y[2] = {st.p[1][c], st.p[0][c]};
    double e[2] = {st.se[1][c], st.se[0][c]};
    ana_fig_errbars(*fig, 0, x, y, e, 2,
                    &(ana_style){.color = ana_color_cat(c ? 0 : 3), .marker = ANA_MARK_SQUARE,
                                 .size = 6, .label = c ? "common" : "rare"});
  }
  const double at[2] = {0.25, 2.25};
  const char* const lab[2] = {"rewarded", "unrewarded"};
  ana_fig_ticks(*fig, 0, 0, at, lab, 2);
  ana_fig_axes(*fig, 0, &(ana_axes){.xmin = -0.5, .xmax = 3, .ymin = 0, .ymax = 1,
                                    .legend = ANA_LEGEND_LR});
  am_buf_printf(summary, "two-step: P(stay) rewarded common %.3f, rewarded rare %.3f, unrewarded "
                "common %.3f, unrewarded rare %.3f; model-based index (reward x transition) "
                "%.3f +- %.3f, model-free index (reward) %.3f +- %.3f\n", st.p[1][1], st.p[1][0],
                st.p[0][1], st.p[0][0], st.mb, st.mb_se, st.mf, st.mf_se);
  return 0;
}
