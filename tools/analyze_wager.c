// analyze_wager.c: `animat analyze wager FILE`: the post-decision wager (Kiani & Shadlen 2009,
// Science 324:759) from the trial table of a recorded dataset of the wager task. Over the trials
// that ended in a choice (left, right or sure; aborts and misses left out):
//   - P(sure | sure offered) by |coherence| and by stimulus duration (low coherences |c| < 0.1 and
//     high ones apart): the sure target is chosen more when the evidence is weak or short;
//   - accuracy of the left/right choices by |coherence| on trials where the sure target was
//     offered but waived and on trials without it: if the agent waives only when confident, the
//     waived trials are more accurate at the same coherence;
//   - the difference of the two accuracies averaged over the coherences with both (weighted by
//     the waived trials), and the trial-level Spearman correlation of choosing sure with |c| and
//     with the duration.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_svg.h"
#include "analyze_data.h"
#include "table.h"

#define WG_MAXL 64  // distinct |coherence| or duration values

typedef struct wg_cell {  // one level of |coherence| or duration
  double x;
  int offered, sure;      // sure offered; of them chose sure
  int waived, waived_ok;  // offered, chose left/right; of them correct
  int none, none_ok;      // not offered, chose left/right; of them correct
} wg_cell;

static wg_cell* level(wg_cell* cells, int* n, double x) {
  for (int k = 0; k < *n; k++)
    if (cells[k].x == x) return &cells[k];
  if (*n >= WG_MAXL) return NULL;
  cells[*n] = (wg_cell){.x = x};
  return &cells[(*n)++];
}

static int by_x(const void* a, const void* b) {
  double x = ((const wg_cell*)a)->x, y = ((const wg_cell*)b)->x;
  return x < y ? -1 : x > y;
}

static double frac(int k, int n) { return n ? (double)k / n : NAN; }
static double sem(int k, int n) { return n ? sqrt(frac(k, n) * (1 - frac(k, n)) / n) : NAN; }

static void add(wg_cell* c, int offered, int outcome) {
  if (offered) {
    c->offered++;
    c->sure += outcome == 2;
    if (outcome != 2) c->waived++, c->waived_ok += outcome == 1;
  } else {
    c->none++, c->none_ok += outcome == 1;
  }
}

// One table row per cell: by (coherence / duration_low / duration_high), the level, the counts
// and fractions.
static void rows(table* t, const char* by, const wg_cell* c, int n) {
  for (int k = 0; k < n; k++) {
    table_str(t, by), table_num(t, c[k].x);
    table_int(t, c[k].offered), table_num(t, frac(c[k].sure, c[k].offered));
    table_num(t, sem(c[k].sure, c[k].offered));
    table_int(t, c[k].waived), table_num(t, frac(c[k].waived_ok, c[k].waived));
    table_num(t, sem(c[k].waived_ok, c[k].waived));
    table_int(t, c[k].none), table_num(t, frac(c[k].none_ok, c[k].none));
    table_num(t, sem(c[k].none_ok, c[k].none));
  }
}

// Plots P(sure) (what 0) or an accuracy (1 waived, 2 no sure target) of n cells in panel p.
static void plot(ana_fig* f, int p, const wg_cell* c, int n, int what, int color, int mark,
                 const char* label) {
  double x[WG_MAXL], y[WG_MAXL], e[WG_MAXL];
  for (int k = 0; k < n; k++) {
    int a = what == 0 ? c[k].sure : what == 1 ? c[k].waived_ok : c[k].none_ok;
    int m = what == 0 ? c[k].offered : what == 1 ? c[k].waived : c[k].none;
    x[k] = c[k].x, y[k] = frac(a, m), e[k] = sem(a, m);
  }
  ana_style st = {.color = ana_color_cat(color), .marker = mark, .size = 4, .label = label};
  ana_fig_errbars(f, p, x, y, e, n, &st);
  st.label = NULL;
  ana_fig_line(f, p, x, y, n, &st);
}

int az_wager(ds_trials* d, const ana_trials* tab, ana_fig** fig, table* t, am_buf* json,
             am_buf* summary, char* err, size_t err_sz) {
  int kc = az_cond_slot(d, "coherence"), ko = az_cond_slot(d, "sure_offered");
  int kd = az_cond_slot(d, "stim_duration");
  if (kc < 0 || ko < 0 || kd < 0 || d->schema.outcome < 0)
    return am_err(err, err_sz, "wager: the dataset's task (%s) has no condition variables "
                  "coherence, sure_offered, stim_duration or no outcome variable (record the wager "
                  "task)", d->task);
  wg_cell coh[WG_MAXL], dur[2][WG_MAXL];
  int nc = 0, nd[2] = {0, 0}, used = 0;
  double* sx = malloc(sizeof(double) * 3 * (size_t)(tab->n + 1));  // |c|, duration, chose sure
  if (!sx) return am_err(err, err_sz, "out of memory");
  double *sd = sx + tab->n + 1, *sy = sx + 2 * (tab->n + 1);
  int ns = 0;
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* r = &tab->rows[i];
    int o = (int)r->outcome;
    if (!r->complete || !(o == 0 || o == 1 || o == 2)) continue;  // no choice: abort or miss
    double c = fabs(r->cond[kc]), du = r->cond[kd];
    int offered = r->cond[ko] > 0.5;
    wg_cell* a = level(coh, &nc, c);
    wg_cell* b = level(dur[c >= 0.1], &nd[c >= 0.1], du);
    if (!a || !b) {
      free(sx);
      return am_err(err, err_sz, "wager: more than %d coherence or duration levels", WG_MAXL);
    }
    add(a, offered, o), add(b, offered, o);
    used++;
    if (offered) sx[ns] = c, sd[ns] = du, sy[ns++] = o == 2;
  }
  if (!used) {
    free(sx);
    return am_err(err, err_sz, "wager: no trial of %s ended in a choice", d->task);
  }
  qsort(coh, (size_t)nc, sizeof *coh, by_x);
  for (int g = 0; g < 2; g++) qsort(dur[g], (size_t)nd[g], sizeof *dur[g], by_x);
  char e2[AM_ERR_LEN];
  double rho_c = NAN, rho_d = NAN;
  if (ana_spearman(sx, sy, ns, &rho_c, e2, sizeof e2)) rho_c = NAN;
  if (ana_spearman(sd, sy, ns, &rho_d, e2, sizeof e2)) rho_d = NAN;
  free(sx);
  // waived minus no-sure accuracy at the same coherence, weighted by the waived trials
  double diff = 0;
  int wsum = 0, offered = 0, sure = 0;
  for (int k = 0; k < nc; k++) {
    offered += coh[k].offered, sure += coh[k].sure;
    if (!coh[k].waived || !coh[k].none) continue;
    diff += coh[k].waived * (frac(coh[k].waived_ok, coh[k].waived) - frac(coh[k].none_ok, coh[k].none));
    wsum += coh[k].waived;
  }
  diff = wsum ? diff / wsum : NAN;
  const char* cols[] = {"by", "value", "offered", "p_sure", "sem_sure", "waived", "acc_waived",
                        "sem_waived", "no_sure", "acc_no_sure", "sem_no_sure"};
  if (table_init(t, 11, cols)) return am_err(err, err_sz, "out of memory");
  rows(t, "coherence", coh, nc);
  rows(t, "duration_low", dur[0], nd[0]);
  rows(t, "duration_high", dur[1], nd[1]);
  am_buf_printf(json, ", \"trials\": %d, \"sure_offered\": %d, \"chose_sure\": %d, "
                "\"acc_waived_minus_no_sure\": ", used, offered, sure);
  table_json_number(json, diff);
  am_buf_printf(json, ", \"rho_sure_coherence\": ");
  table_json_number(json, rho_c);
  am_buf_printf(json, ", \"rho_sure_duration\": ");
  table_json_number(json, rho_d);
  am_buf_printf(json, ", \"by_coherence\": [");
  for (int k = 0; k < nc; k++) {
    am_buf_printf(json, "%s{\"coherence\": %g, \"p_sure\": ", k ? ", " : "", coh[k].x);
    table_json_number(json, frac(coh[k].sure, coh[k].offered));
    am_buf_printf(json, ", \"acc_waived\": ");
    table_json_number(json, frac(coh[k].waived_ok, coh[k].waived));
    am_buf_printf(json, ", \"acc_no_sure\": ");
    table_json_number(json, frac(coh[k].none_ok, coh[k].none));
    am_buf_printf(json, "}");
  }
  am_buf_printf(json, "], \"table\": \"wager.csv\"}\n");
  *fig = ana_fig_new(1, 3, 0, 0, err, err_sz);
  if (!*fig) return -1;
  ana_fig_title(*fig, d->task);
  ana_fig_labels(*fig, 0, "sure target chosen", "|coherence|", "P(sure | offered)");
  plot(*fig, 0, coh, nc, 0, 0, ANA_MARK_CIRCLE, NULL);
  ana_fig_axes(*fig, 0, &(ana_axes){.ymin = 0, .ymax = 1});
  ana_fig_labels(*fig, 1, "accuracy of left/right choices", "|coherence|", "P(correct)");
  plot(*fig, 1, coh, nc, 1, 1, ANA_MARK_SQUARE, "sure offered, waived");
  plot(*fig, 1, coh, nc, 2, 7, ANA_MARK_CIRCLE, "no sure target");
  ana_fig_axes(*fig, 1, &(ana_axes){.ymin = 0.4, .ymax = 1, .legend = ANA_LEGEND_LR});
  ana_fig_labels(*fig, 2, "sure target by viewing duration", "stimulus duration (s)",
                 "P(sure | offered)");
  plot(*fig, 2, dur[0], nd[0], 0, 0, ANA_MARK_CIRCLE, "|c| < 0.1");
  plot(*fig, 2, dur[1], nd[1], 0, 3, ANA_MARK_SQUARE, "|c| >= 0.1");
  ana_fig_axes(*fig, 2, &(ana_axes){.ymin = 0, .ymax = 1, .legend = ANA_LEGEND_UR});
  am_buf_printf(summary, "wager: %d trials with a choice, sure target offered in %d, chosen in "
                "%d; P(sure | offered) %.3f at |c| = %g, %.3f at |c| = %g; accuracy waived - no "
                "sure target at the same coherence %+.3f; Spearman rho(sure, |c|) %.3f, rho(sure, "
                "duration) %.3f (offered trials)\n", used, offered, sure,
                frac(coh[0].sure, coh[0].offered), coh[0].x,
                frac(coh[nc - 1].sure, coh[nc - 1].offered), coh[nc - 1].x, diff, rho_c, rho_d);
  return 0;
}
