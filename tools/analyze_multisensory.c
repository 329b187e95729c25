// analyze_multisensory.c: `animat analyze multisensory FILE`: multisensory integration (Raposo et
// al. 2012, J Neurosci 32:3726) from the trial table of a recorded dataset with condition variables
// coherence (signed evidence) and modality (0 visual, 1 auditory, 2 both), e.g. multisensory-reach.
// Over the trials that ended in a left or right choice, per modality: P(right) by coherence, a
// logistic fit (bias, slope: the logistic scale in coherence units, smaller is steeper; lapse) and
// the mean reaction time. An observer that weighs two independent Gaussian cues by their
// reliabilities has a multisensory scale s_vs_a / sqrt(s_v^2 + s_a^2) (the noise of the
// combination; the logistic scale is proportional to the noise's standard deviation): the
// analysis reports that prediction (s.e. by the delta method) beside the measured scale, their
// ratio (1: optimal, > 1: below optimal) and the ratio to the better single modality (< 1: a
// multisensory benefit).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana.h"
#include "ana_svg.h"
#include "analyze_data.h"
#include "table.h"

#define MS_MAXL 64
static const char* ms_name[3] = {"visual", "auditory", "multisensory"};

typedef struct ms_mod {
  int n, ok, nonzero;  // trials with a choice; correct; with coherence != 0
  ana_psych fit;
  int fitted;
  double rt;           // mean RT over the trials with one
  az_level lev[MS_MAXL];
  int nl;
} ms_mod;

int az_multisensory(ds_trials* d, const ana_trials* tab, const az_select* sel, const char* by,
                    ana_fig** fig, table* t, am_buf* json, am_buf* summary, char* err,
                    size_t err_sz) {
  const char* xname = by ? by : "coherence";
  int kc = az_cond_slot(d, xname), km = az_cond_slot(d, "modality");
  if (kc < 0 || km < 0 || d->schema.choice < 0)
    return am_err(err, err_sz, "multisensory needs the condition variables %s and modality and a "
                  "choice variable (multisensory-reach); %s has no %s", xname, d->task,
                  kc < 0 ? xname : km < 0 ? "modality" : "choice variable");
  int64_t N = tab->n;
  double *x = malloc(sizeof(double) * (N + 1)), *rt = malloc(sizeof(double) * (N + 1));
  double *xm = malloc(sizeof(double) * (N + 1)), *rtm = malloc(sizeof(double) * (N + 1));
  int *ch = malloc(sizeof(int) * (N + 1)), *chm = malloc(sizeof(int) * (N + 1));
  int64_t* row = malloc(sizeof(int64_t) * (N + 1));
  int rc = 0;
  if (!x || !rt || !xm || !rtm || !ch || !chm || !row) {
    rc = am_err(err, err_sz, "out of memory");
    goto done;
  }
  int by_event, n = az_choices(d, tab, sel, kc, -1, x, ch, rt, row, &by_event);
  ms_mod m[3];
  memset(m, 0, sizeof m);
  for (int a = 0; a < 3; a++) {
    int nm = 0, nrt = 0;
    double srt = 0;
    for (int i = 0; i < n; i++) {
      if (tab->rows[row[i]].cond[km] != (float)a) continue;
      xm[nm] = x[i], chm[nm] = ch[i], rtm[nm] = rt[i];
      if (x[i] != 0) m[a].nonzero++, m[a].ok += (x[i] > 0) == (ch[i] == 1);
      if (isfinite(rt[i])) nrt++, srt += rt[i];
      nm++;
    }
    m[a].n = nm;
    m[a].rt = nrt ? srt / nrt : NAN;
    m[a].nl = az_choice_levels(xm, chm, rtm, nm, m[a].lev, MS_MAXL);
    char e2[AM_ERR_LEN];
    m[a].fitted = ana_psychometric_fit(xm, chm, nm, &m[a].fit, e2, sizeof e2) == 0;
    if (!m[a].fitted)
      am_buf_printf(summary, "multisensory: no fit for the %s trials (%s)\n", ms_name[a], e2);
  }
  if (!m[0].fitted || !m[1].fitted || !m[2].fitted) {
    rc = am_err(err, err_sz, "multisensory: each modality needs a psychometric fit (%d visual, %d "
                "auditory, %d multisensory trials with a choice)", m[0].n, m[1].n, m[2].n);
    goto done;
  }
  double sv = m[0].fit.slope, sa = m[1].fit.slope, sm = m[2].fit.slope;
  double q = sv * sv + sa * sa, pred = sv * sa / sqrt(q);
  double dv = sa * sa * sa / (q * sqrt(q)), da = sv * sv * sv / (q * sqrt(q));
  double se_pred = sqrt(dv * dv * m[0].fit.se_slope * m[0].fit.se_slope +
                        da * da * m[1].fit.se_slope * m[1].fit.se_slope);
  double ratio = sm / pred, benefit = sm / fmin(sv, sa);

  const char* cols[] = {"modality", xname, "trials", "p_right", "sem", "mean_rt", "sem_rt"};
  table_init(t, 7, cols);
  for (int a = 0; a < 3; a++)
    for (int l = 0; l < m[a].nl; l++) {
      const az_level* v = &m[a].lev[l];
      table_str(t, ms_name[a]), table_num(t, v->x), table_int(t, v->n), table_num(t, v->p);
      table_num(t, v->sem), table_num(t, v->rt), table_num(t, v->sem_rt);
    }
  am_buf_printf(json, ", \"x\": \"%s\", \"rt_from\": \"%s\"", xname,
                by_event ? "go_cue to movement_onset" : "kinematic onset");
  for (int a = 0; a < 3; a++) {
    const ana_psych* f = &m[a].fit;
    am_buf_printf(json, ", \"%s\": {\"trials\": %d, \"accuracy\": ", ms_name[a], m[a].n);
    table_json_number(json, m[a].nonzero ? (double)m[a].ok / m[a].nonzero : NAN);
    const char* keys[6] = {"bias", "slope", "lapse", "se_bias", "se_slope", "se_lapse"};
    const double vals[6] = {f->bias, f->slope, f->lapse, f->se_bias, f->se_slope, f->se_lapse};
    for (int i = 0; i < 6; i++)
      am_buf_printf(json, ", \"%s\": ", keys[i]), table_json_number(json, vals[i]);
    am_buf_printf(json, ", \"mean_rt\": ");
    table_json_number(json, m[a].rt);
    am_buf_printf(json, "}");
  }
  am_buf_printf(json, ", \"predicted_slope\": ");
  table_json_number(json, pred);
  am_buf_printf(json, ", \"se_predicted_slope\": ");
  table_json_number(json, se_pred);
  am_buf_printf(json, ", \"slope_ratio\": ");
  table_json_number(json, ratio);
  am_buf_printf(json, ", \"benefit\": ");
  table_json_number(json, benefit);
  am_buf_printf(json, ", \"table\": \"multisensory.csv\"}\n");

  ana_fig* f = ana_fig_new(1, 2, 0, 0, err, err_sz);
  if (!f) {
    rc = -1;
    goto done;
  }
  *fig = f;
  ana_fig_title(f, d->task);
  ana_fig_labels(f, 0, "choices by modality", by ? xname : "signed coherence", "P(right)");
  double lo = INFINITY, hi = -INFINITY;
  for (int a = 0; a < 3; a++)
    for (int l = 0; l < m[a].nl; l++) lo = fmin(lo, m[a].lev[l].x), hi = fmax(hi, m[a].lev[l].x);
  for (int a = 0; a < 3; a++) {
    double px[MS_MAXL], py[MS_MAXL], pe[MS_MAXL], fx[201], fy[201];
    for (int l = 0; l < m[a].nl; l++)
      px[l] = m[a].lev[l].x, py[l] = m[a].lev[l].p, pe[l] = m[a].lev[l].sem;
    const ana_psych* p = &m[a].fit;
    for (int z = 0; z <= 200; z++) {
      fx[z] = lo + (hi - lo) * z / 200.0;
      fy[z] = p->lapse / 2 + (1 - p->lapse) / (1 + exp(-(fx[z] - p->bias) / p->slope));
    }
    char label[64];
    snprintf(label, sizeof label, "%s (scale %.3f)", ms_name[a], p->slope);
    ana_style st = {.color = ana_color_cat(a), .marker = a, .size = 3.5, .label = label};
    ana_fig_errbars(f, 0, px, py, pe, m[a].nl, &st);
    ana_style ln = {.color = ana_color_cat(a)};
    ana_fig_line(f, 0, fx, fy, 201, &ln);
  }
  ana_fig_axes(f, 0, &(ana_axes){.ymin = 0, .ymax = 1, .legend = ANA_LEGEND_UL});
  ana_fig_hline(f, 0, 0.5, NULL);
  // the fitted scales, and the optimal observer's prediction for the multisensory one
  ana_fig_labels(f, 1, "logistic scale (smaller: steeper)", NULL, "scale");
  double bx[3] = {0, 1, 2}, by3[3] = {sv, sa, sm};
  double be[3] = {m[0].fit.se_slope, m[1].fit.se_slope, m[2].fit.se_slope};
  ana_fig_errbars(f, 1, bx, by3, be, 3, &(ana_style){.color = 0x333333, .size = 4,
                                                      .label = "fitted"});
  double px1[1] = {3}, py1[1] = {pred}, pe1[1] = {se_pred};
  ana_fig_errbars(f, 1, px1, py1, pe1, 1, &(ana_style){.color = ana_color_cat(2),
                  .marker = ANA_MARK_DIAMOND, .size = 4, .label = "optimal prediction"});
  static const char* const ticks[4] = {"vis", "aud", "both", "pred"};
  double at[4] = {0, 1, 2, 3};
  ana_fig_ticks(f, 1, 0, at, ticks, 4);
  const double top = 1.2 * fmax(fmax(sv, sa), fmax(sm, pred)) + 1e-9;
  ana_fig_axes(f, 1, &(ana_axes){.xmin = -0.5, .xmax = 3.5, .ymin = 0, .ymax = top,
                                 .legend = ANA_LEGEND_LR});
  char note[96];
  snprintf(note, sizeof note, "measured / predicted %.2f", ratio);
  ana_fig_note(f, 1, note, NULL);
  if (ana_fig_error(f)[0]) rc = am_err(err, err_sz, "%s", ana_fig_error(f));

  am_buf_printf(summary, "multisensory: %d trials with a choice; logistic scale visual %.4f, "
                "auditory %.4f, multisensory %.4f (optimal prediction %.4f +- %.4f; ratio %.2f; "
                "vs the better single modality %.2f); accuracy %.3f / %.3f / %.3f; mean RT %.3f / "
                "%.3f / %.3f s\n", n, sv, sa, sm, pred, se_pred, ratio, benefit,
                m[0].nonzero ? (double)m[0].ok / m[0].nonzero : NAN,
                m[1].nonzero ? (double)m[1].ok / m[1].nonzero : NAN,
                m[2].nonzero ? (double)m[2].ok / m[2].nonzero : NAN, m[0].rt, m[1].rt, m[2].rt);
done:
  free(x), free(rt), free(xm), free(rtm), free(ch), free(chm), free(row);
  return rc;
}
