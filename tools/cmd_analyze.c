// cmd_analyze.c: `animat analyze METHOD FILE ...`: neural and behavioural analyses of a recorded
// dataset (docs/analysis.md). Every method selects trials (outcome, --where), a module or channel,
// an alignment and a window; reads the dataset once, episode by episode (analyze_data.c); writes
// its numbers as JSON and CSV and its figure as SVG into --out DIR; prints a summary.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ana_svg.h"
#include "analyze_data.h"
#include "cli.h"
#include "table.h"

typedef struct az_ctx {
  const char* method;
  const char* path;
  const char* out;   // output directory
  am_ds_reader* r;
  ds_trials d;
  ana_trials tab;
  az_select sel;
  const char* by;
  const char* chosen;    // psychometric: count choices toward this side variable's sign
  uint64_t seed;
  const char* path2;     // cka/rsa: a second dataset
  const char* channel2;  // cka/rsa: a second channel (module) of the same dataset
  const char** where;    // the --where texts (NULL-terminated)
  const char* targets;   // decode
  int folds;
  int k;                 // jpca / pca components
  int window_given;      // --window given (else each method's default window)
  am_buf summary;        // what the method found, a few lines of text
  char err[AM_ERR_LEN];
} az_ctx;

//---------------------------------- output helpers ------------------------------------------------

static void jnum(am_buf* b, double v) { table_json_number(b, v); }

static void jarr(am_buf* b, const double* v, int n) {
  am_buf_printf(b, "[");
  for (int i = 0; i < n; i++) {
    if (i) am_buf_printf(b, ", ");
    jnum(b, v[i]);
  }
  am_buf_printf(b, "]");
}

static void out_path(const az_ctx* c, const char* name, char* p, size_t n) {
  snprintf(p, n, "%s/%s", c->out, name);
}

// Writes the method's three outputs, METHOD.svg, METHOD.csv and METHOD.json, into --out (each
// atomically) and frees them. Returns 0 or -1 (message in c->err).
static int write_outputs(az_ctx* c, ana_fig* f, table* t, am_buf* j) {
  char p[3][4096];
  const char* ext[3] = {"svg", "csv", "json"};
  for (int k = 0; k < 3; k++) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", c->method, ext[k]);
    out_path(c, name, p[k], sizeof p[k]);
  }
  int rc = ana_fig_write(f, p[0], c->err, sizeof c->err) ||
           table_write(t, p[1], c->err, sizeof c->err) ||
           am_write_file_atomic(p[2], j->p, j->len, c->err, sizeof c->err) ? -1 : 0;
  ana_fig_free(f);
  table_free(t);
  am_buf_free(j);
  return rc;
}

// The selection as JSON fields (what was analysed).
static void json_head(const az_ctx* c, am_buf* b, const az_data* a) {
  const char* keys[6] = {"method", "file", "task", "channel", "align", "outcome"};
  const char* vals[6] = {c->method, c->path, c->d.task, c->sel.channel,
                         c->sel.align ? c->sel.align : "", c->sel.outcome ? c->sel.outcome : "success"};
  for (int k = 0; k < 6; k++) {
    am_buf_printf(b, "%s\"%s\": ", k ? ", " : "{", keys[k]);
    table_json_string(b, vals[k]);  // file names may hold quotes
  }
  am_buf_printf(b, ", \"window\": [%g, %g], \"bin_s\": %g", c->sel.w0, c->sel.w1,
                a ? a->bin_s : c->d.dt);
  if (a) am_buf_printf(b, ", \"trials\": %lld, \"units\": %d", (long long)a->ntr, a->units);
}

static double bin_time(const az_data* a, int b) { return a->t0 + (b + 0.5) * a->bin_s; }

static uint32_t cond_color(const az_data* a, int k) {
  return a->ncond > 10 ? ana_color_cycle((double)k / a->ncond) : ana_color_cat(k);
}

//---------------------------------- psth -----------------------------------------------------------

static int run_psth(az_ctx* c, az_data* a) {
  size_t cells = (size_t)a->ncond * a->T * a->units;
  double *mean = malloc(sizeof(double) * cells), *sem = malloc(sizeof(double) * cells);
  if (!mean || !sem) return free(mean), free(sem), am_err(c->err, sizeof c->err, "out of memory");
  az_cond_mean(a, 1, mean, sem);
  const char* cols[] = {"condition", "t", "unit", "mean", "sem", "trials"};
  table t;
  table_init(&t, 6, cols);
  char lab[160];
  for (int k = 0; k < a->ncond; k++) {
    az_cond_label(&c->d, &c->sel, a->keys[k], lab, sizeof lab);
    for (int b = 0; b < a->T; b++)
      for (int u = 0; u < a->units; u++) {
        size_t o = ((size_t)k * a->T + b) * a->units + u;
        table_str(&t, lab), table_num(&t, bin_time(a, b)), table_int(&t, u);
        table_num(&t, mean[o]), table_num(&t, sem[o]), table_int(&t, a->cnt[(size_t)k * a->T + b]);
      }
  }
  // units ranked by modulation: variance of the condition-averaged activity over conditions and time
  double* mod = calloc((size_t)a->units, sizeof(double));
  int* order = malloc(sizeof(int) * (size_t)a->units);
  for (int u = 0; mod && order && u < a->units; u++) {
    double s = 0, s2 = 0;
    int n = 0;
    for (size_t kb = 0; kb < (size_t)a->ncond * a->T; kb++) {
      double v = mean[kb * a->units + u];
      if (isfinite(v)) s += v, s2 += v * v, n++;
    }
    mod[u] = n > 1 ? s2 / n - (s / n) * (s / n) : 0;
    order[u] = u;
  }
  for (int i = 0; mod && order && i < a->units; i++)  // selection sort of the top few
    for (int j = i + 1; j < a->units; j++)
      if (mod[order[j]] > mod[order[i]]) { int x = order[i]; order[i] = order[j]; order[j] = x; }
  am_buf j = {0};
  json_head(c, &j, a);
  am_buf_printf(&j, ", \"conditions\": [");
  for (int k = 0; k < a->ncond; k++) {
    az_cond_label(&c->d, &c->sel, a->keys[k], lab, sizeof lab);
    int64_t n = 0;
    for (int b = 0; b < a->T; b++) n = a->cnt[(size_t)k * a->T + b] > n ? a->cnt[(size_t)k * a->T + b] : n;
    am_buf_printf(&j, "%s{\"label\": ", k ? ", " : "");
    table_json_string(&j, lab);
    am_buf_printf(&j, ", \"trials\": %lld}", (long long)n);
  }
  am_buf_printf(&j, "], \"most_modulated_units\": [");
  int top = a->units < 6 ? a->units : 6;
  for (int i = 0; order && i < top; i++) am_buf_printf(&j, "%s%d", i ? ", " : "", order[i]);
  am_buf_printf(&j, "], \"data\": \"psth.csv\"}\n");
  // figure: the 6 most modulated units, one line (mean +- sem) per condition
  int rows = (top + 2) / 3, cols_n = top < 3 ? top : 3;
  ana_fig* f = ana_fig_new(rows, cols_n, 0, 0, c->err, sizeof c->err);
  double* x = malloc(sizeof(double) * (size_t)a->T);
  double *m = malloc(sizeof(double) * (size_t)a->T), *e = malloc(sizeof(double) * (size_t)a->T);
  int rc = !f || !x || !m || !e || !order;
  if (!rc) {
    char title[300];
    snprintf(title, sizeof title, "%s: %s aligned on %s (%lld trials)", c->d.task,
             c->sel.channel, c->sel.align, (long long)a->ntr);
    ana_fig_title(f, title);
    for (int b = 0; b < a->T; b++) x[b] = bin_time(a, b);
    for (int i = 0; i < top; i++) {
      int u = order[i];
      char pt[64], xl[96];
      snprintf(pt, sizeof pt, "unit %d", u);
      snprintf(xl, sizeof xl, "time from %s (s)", c->sel.align);
      ana_fig_labels(f, i, pt, xl, "activity");
      for (int k = 0; k < a->ncond; k++) {
        for (int b = 0; b < a->T; b++) {
          size_t o = ((size_t)k * a->T + b) * a->units + u;
          m[b] = mean[o], e[b] = sem[o];
        }
        az_cond_label(&c->d, &c->sel, a->keys[k], lab, sizeof lab);
        ana_fig_errband(f, i, x, m, e, a->T,
                        &(ana_style){.color = cond_color(a, k), .label = i == 0 && a->ncond <= 10 ? lab : NULL});
      }
      ana_fig_vline(f, i, 0.0, NULL);
    }
    rc = write_outputs(c, f, &t, &j);
    f = NULL;
  }
  ana_fig_free(f);
  table_free(&t);
  am_buf_free(&j);
  am_buf_printf(&c->summary, "psth: %d conditions x %d bins x %d units from %lld trials; most modulated units:",
         a->ncond, a->T, a->units, (long long)a->ntr);
  for (int i = 0; order && i < top; i++) am_buf_printf(&c->summary, " %d", order[i]);
  am_buf_printf(&c->summary, "\n");
  free(mean), free(sem), free(mod), free(order), free(x), free(m), free(e);
  return rc ? -1 : 0;
}

//---------------------------------- tuning --------------------------------------------------------

static int run_tuning(az_ctx* c, az_data* a) {
  int n = (int)a->ntr, U = a->units;
  double* th = malloc(sizeof(double) * (size_t)n);
  ana_tuning* tu = malloc(sizeof *tu * (size_t)U);
  if (!th || !tu) return free(th), free(tu), am_err(c->err, sizeof c->err, "out of memory");
  int ok = 1;
  for (int i = 0; i < n; i++) {
    th[i] = c->tab.rows[a->tr[i]].target_dir;
    if (!isfinite(th[i])) ok = 0;
  }
  if (!ok) {
    free(th), free(tu);
    return am_err(c->err, sizeof c->err, "tuning needs a target direction per trial (task "
                  "variables target_x/y and start_x/y); %s has none", c->d.task);
  }
  if (ana_cosine_fit(th, a->wmean, n, U, tu, c->err, sizeof c->err)) return free(th), free(tu), -1;
  // significant units' preferred directions: Rayleigh test of their uniformity
  double* prefs = malloc(sizeof(double) * (size_t)U);
  int nsig = 0;
  for (int u = 0; u < U; u++)
    if (tu[u].p < 0.05) prefs[nsig++] = tu[u].pref;
  double R = NAN, Z = NAN, P = NAN;
  if (nsig >= 2) ana_rayleigh(prefs, nsig, &R, &Z, &P, c->err, sizeof c->err);
  // population vector per direction (trial means by direction)
  double dirs[64];
  int nd = 0;
  for (int i = 0; i < n && nd < 64; i++) {
    int seen = 0;
    for (int k = 0; k < nd; k++) seen |= fabs(dirs[k] - th[i]) < 1e-6;
    if (!seen) dirs[nd++] = th[i];
  }
  double* rates = calloc((size_t)nd * U, sizeof(double));
  int cnt[64] = {0};
  for (int i = 0; i < n; i++)
    for (int k = 0; k < nd; k++)
      if (fabs(dirs[k] - th[i]) < 1e-6) {
        for (int u = 0; u < U; u++) rates[(size_t)k * U + u] += a->wmean[(size_t)i * U + u];
        cnt[k]++;
      }
  for (int k = 0; k < nd; k++)
    for (int u = 0; u < U; u++) rates[(size_t)k * U + u] /= cnt[k];
  double pvdir[64], pvlen[64], pverr[64];
  int pv_ok = !ana_population_vector(tu, U, 0.05, rates, nd, dirs, pvdir, pvlen, pverr, c->err,
                                     sizeof c->err);
  double mean_abs_err = 0;
  for (int k = 0; pv_ok && k < nd; k++) mean_abs_err += fabs(pverr[k]) * 180 / M_PI / nd;
  double r2sum = 0;
  for (int u = 0; u < U; u++) r2sum += tu[u].r2;
  // outputs
  const char* cols[] = {"unit", "b0", "depth", "pref_deg", "r2", "F", "p"};
  table t;
  table_init(&t, 7, cols);
  for (int u = 0; u < U; u++) {
    table_int(&t, u), table_num(&t, tu[u].b0), table_num(&t, tu[u].depth);
    table_num(&t, tu[u].pref * 180 / M_PI), table_num(&t, tu[u].r2), table_num(&t, tu[u].f);
    table_num(&t, tu[u].p);
  }
  am_buf j = {0};
  json_head(c, &j, a);
  am_buf_printf(&j, ", \"tuned_units\": %d, \"mean_r2\": ", nsig);
  jnum(&j, r2sum / U);
  am_buf_printf(&j, ", \"rayleigh\": {\"R\": ");
  jnum(&j, R);
  am_buf_printf(&j, ", \"Z\": ");
  jnum(&j, Z);
  am_buf_printf(&j, ", \"p\": ");
  jnum(&j, P);
  am_buf_printf(&j, "}, \"population_vector\": {\"target_deg\": [");
  for (int k = 0; k < nd; k++) am_buf_printf(&j, "%s%.6g", k ? ", " : "", dirs[k] * 180 / M_PI);
  am_buf_printf(&j, "], \"pv_deg\": [");
  for (int k = 0; pv_ok && k < nd; k++) am_buf_printf(&j, "%s%.6g", k ? ", " : "", pvdir[k] * 180 / M_PI);
  am_buf_printf(&j, "], \"error_deg\": [");
  for (int k = 0; pv_ok && k < nd; k++) am_buf_printf(&j, "%s%.6g", k ? ", " : "", pverr[k] * 180 / M_PI);
  am_buf_printf(&j, "], \"mean_abs_error_deg\": ");
  jnum(&j, pv_ok ? mean_abs_err : NAN);
  am_buf_printf(&j, "}, \"units_table\": \"tuning.csv\"}\n");
  // figure: 4 best-fit units (rate vs direction with the cosine), histogram of preferred
  // directions, population vectors
  ana_fig* f = ana_fig_new(2, 3, 0, 0, c->err, sizeof c->err);
  int rc = !f;
  if (f) {
    char title[300];
    snprintf(title, sizeof title, "%s: cosine tuning of %s, %g..%g s from %s (%lld trials)",
             c->d.task, c->sel.channel, c->sel.w0, c->sel.w1, c->sel.align, (long long)a->ntr);
    ana_fig_title(f, title);
    int best[4] = {-1, -1, -1, -1};
    for (int q = 0; q < 4; q++)
      for (int u = 0; u < U; u++) {
        int used = 0;
        for (int z = 0; z < q; z++) used |= best[z] == u;
        if (!used && (best[q] < 0 || tu[u].r2 > tu[best[q]].r2)) best[q] = u;
      }
    for (int q = 0; q < 4 && q < U; q++) {
      int u = best[q];
      char pt[96];
      snprintf(pt, sizeof pt, "unit %d: R2 %.2f, pref %.0f deg", u, tu[u].r2, tu[u].pref * 180 / M_PI);
      ana_fig_labels(f, q, pt, "target direction (deg)", "mean activity");
      double *xs = malloc(sizeof(double) * (size_t)n), *ys = malloc(sizeof(double) * (size_t)n);
      for (int i = 0; xs && ys && i < n; i++) {
        double dg = th[i] * 180 / M_PI;
        xs[i] = dg < 0 ? dg + 360 : dg;
        ys[i] = a->wmean[(size_t)i * U + u];
      }
      if (xs && ys) ana_fig_scatter(f, q, xs, ys, n, &(ana_style){.color = ANA_GREY, .size = 2});
      double cx[181], cy[181];
      for (int z = 0; z <= 180; z++) {
        cx[z] = 2.0 * z;
        cy[z] = tu[u].b0 + tu[u].depth * cos(cx[z] * M_PI / 180 - tu[u].pref);
      }
      ana_fig_line(f, q, cx, cy, 181, &(ana_style){.color = ana_color_cat(0), .width = 2});
      ana_fig_axes(f, q, &(ana_axes){.xmin = 0, .xmax = 360});
      free(xs), free(ys);
    }
    // preferred directions of tuned units
    double bins[12] = {0}, bx[12];
    for (int u = 0; u < U; u++)
      if (tu[u].p < 0.05) {
        double dg = tu[u].pref * 180 / M_PI;
        if (dg < 0) dg += 360;
        bins[(int)(dg / 30) % 12] += 1;
      }
    for (int z = 0; z < 12; z++) bx[z] = 15 + 30 * z;
    char pt[128];
    snprintf(pt, sizeof pt, "preferred directions (%d tuned, Rayleigh p %.2g)", nsig, P);
    ana_fig_labels(f, 4, pt, "preferred direction (deg)", "units");
    ana_fig_scatter(f, 4, bx, bins, 12, &(ana_style){.marker = ANA_MARK_SQUARE});
    ana_fig_line(f, 4, bx, bins, 12, NULL);
    ana_fig_axes(f, 4, &(ana_axes){.xmin = 0, .xmax = 360});
    ana_fig_hline(f, 4, 0, NULL);  // the count axis starts at 0
    // population vectors against targets
    ana_fig_axes(f, 5, &(ana_axes){.equal = 1});
    snprintf(pt, sizeof pt, "population vectors (mean |error| %.1f deg)", mean_abs_err);
    ana_fig_labels(f, 5, pt, "x", "y");
    for (int k = 0; pv_ok && k < nd; k++) {
      double tx[2] = {0, cos(dirs[k])}, ty[2] = {0, sin(dirs[k])};
      double px[2] = {0, 0.8 * cos(pvdir[k])}, py[2] = {0, 0.8 * sin(pvdir[k])};
      uint32_t col = ana_color_cycle(dirs[k] / (2 * M_PI));
      ana_fig_line(f, 5, tx, ty, 2, &(ana_style){.color = col, .dash = ANA_DASH_DOTTED});
      ana_fig_arrow(f, 5, px, py, 2, &(ana_style){.color = col, .width = 2});
    }
    rc = write_outputs(c, f, &t, &j);
  }
  table_free(&t);
  am_buf_free(&j);
  am_buf_printf(&c->summary, "tuning (%s %g..%g s): %d of %d units cosine-tuned (p < 0.05), mean R2 %.3f; "
         "preferred directions: Rayleigh R %.3f p %.3g; population vector mean |error| %.1f deg "
         "over %d directions\n", c->sel.align, c->sel.w0, c->sel.w1, nsig, U, r2sum / U, R, P,
         mean_abs_err, nd);
  free(th), free(tu), free(prefs), free(rates);
  return rc ? -1 : 0;
}

//---------------------------------- pca / jpca ----------------------------------------------------

// Condition averages with every bin covered, as a (conds x T x units) array; *nc conditions kept.
static double* full_cond_means(const az_data* a, int* nc, int* keep) {
  size_t cells = (size_t)a->ncond * a->T * a->units;
  double* mean = malloc(sizeof(double) * cells);
  if (!mean) return NULL;
  az_cond_mean(a, 1, mean, NULL);
  int n = 0;
  for (int k = 0; k < a->ncond; k++) {
    int full = 1;
    for (int b = 0; b < a->T; b++) full &= a->cnt[(size_t)k * a->T + b] > 0;
    if (!full) continue;
    keep[n] = k;
    memmove(mean + (size_t)n * a->T * a->units, mean + (size_t)k * a->T * a->units,
            sizeof(double) * a->T * a->units);
    n++;
  }
  *nc = n;
  return mean;
}

static int run_pca(az_ctx* c, az_data* a) {
  int nc, *keep = malloc(sizeof(int) * (size_t)a->ncond);
  double* X = keep ? full_cond_means(a, &nc, keep) : NULL;
  if (!X) return free(keep), am_err(c->err, sizeof c->err, "out of memory");
  int U = a->units, n = nc * a->T, k = c->k > 0 ? c->k : 3;
  if (k > U) k = U;
  if (nc < 1 || n < 2) {
    free(X), free(keep);
    return am_err(c->err, sizeof c->err, "pca: no condition covers the whole window");
  }
  double *var = malloc(sizeof(double) * U), *ex = malloc(sizeof(double) * U);
  double *comps = malloc(sizeof(double) * k * U), *mean = malloc(sizeof(double) * U);
  double* sc = malloc(sizeof(double) * (size_t)n * k);
  int rc = -1;
  if (var && ex && comps && mean && sc &&
      !ana_pca(X, n, U, k, mean, comps, var, ex, c->err, sizeof c->err) &&
      !ana_pca_project(X, n, U, mean, comps, k, sc, c->err, sizeof c->err)) {
    double cum = 0;
    int n90 = 0;
    for (int i = 0; i < U; i++) {
      cum += ex[i];
      if (cum < 0.9) n90 = i + 2;
    }
    if (n90 > U) n90 = U;
    const char* cols[] = {"condition", "t", "pc", "score"};
    table t;
    table_init(&t, 4, cols);
    char lab[160];
    for (int q = 0; q < nc; q++) {
      az_cond_label(&c->d, &c->sel, a->keys[keep[q]], lab, sizeof lab);
      for (int b = 0; b < a->T; b++)
        for (int p = 0; p < k; p++)
          table_str(&t, lab), table_num(&t, bin_time(a, b)), table_int(&t, p + 1),
              table_num(&t, sc[((size_t)q * a->T + b) * k + p]);
    }
    am_buf j = {0};
    json_head(c, &j, a);
    am_buf_printf(&j, ", \"conditions\": %d, \"explained\": ", nc);
    jarr(&j, ex, U < 20 ? U : 20);
    am_buf_printf(&j, ", \"components_for_90pct\": %d, \"scores\": \"pca.csv\"}\n", n90);
    ana_fig* f = ana_fig_new(1, 2, 0, 0, c->err, sizeof c->err);
    if (f) {
      char title[300];
      snprintf(title, sizeof title, "%s: PCA of condition-averaged %s, %g..%g s from %s",
               c->d.task, c->sel.channel, c->sel.w0, c->sel.w1, c->sel.align);
      ana_fig_title(f, title);
      double xs[20], cumv[20];
      int m = U < 20 ? U : 20;
      cum = 0;
      for (int i = 0; i < m; i++) xs[i] = i + 1, cum += ex[i], cumv[i] = cum;
      ana_fig_labels(f, 0, "variance explained", "component", "fraction");
      ana_fig_line(f, 0, xs, ex, m, &(ana_style){.label = "each"});
      ana_fig_line(f, 0, xs, cumv, m, &(ana_style){.label = "cumulative"});
      ana_fig_axes(f, 0, &(ana_axes){.ymin = 0, .ymax = 1, .legend = ANA_LEGEND_LR});
      ana_fig_labels(f, 1, "condition-averaged trajectories", "PC1", "PC2");
      double* px = malloc(sizeof(double) * a->T);
      double* py = malloc(sizeof(double) * a->T);
      for (int q = 0; px && py && q < nc && k >= 2; q++) {
        for (int b = 0; b < a->T; b++)
          px[b] = sc[((size_t)q * a->T + b) * k], py[b] = sc[((size_t)q * a->T + b) * k + 1];
        ana_fig_arrow(f, 1, px, py, a->T, &(ana_style){.color = cond_color(a, keep[q])});
        ana_fig_scatter(f, 1, px, py, 1, &(ana_style){.color = cond_color(a, keep[q])});
      }
      free(px), free(py);
      rc = write_outputs(c, f, &t, &j) ? -1 : 0;
    }
    table_free(&t);
    am_buf_free(&j);
    am_buf_printf(&c->summary, "pca: %d conditions x %d bins x %d units; PC1-3 explain %.1f %%, %.1f %%, %.1f %%; "
           "%d components for 90 %%\n", nc, a->T, U, 100 * ex[0], U > 1 ? 100 * ex[1] : 0,
           U > 2 ? 100 * ex[2] : 0, n90);
  }
  free(X), free(keep), free(var), free(ex), free(comps), free(mean), free(sc);
  return rc;
}

static int run_jpca(az_ctx* c, az_data* a) {
  int nc, *keep = malloc(sizeof(int) * (size_t)a->ncond);
  double* X = keep ? full_cond_means(a, &nc, keep) : NULL;
  if (!X) return free(keep), am_err(c->err, sizeof c->err, "out of memory");
  int k = c->k > 0 ? c->k : 6;
  ana_jpca_result res;
  double* jp = malloc(sizeof(double) * (size_t)k * a->units);
  int rc = -1;
  if (nc < 2) {
    am_err(c->err, sizeof c->err, "jpca: needs at least 2 conditions covering the window (%d)", nc);
  } else if (jp && !ana_jpca(X, nc, a->T, a->units, a->bin_s, k, &res, jp, c->err, sizeof c->err)) {
    // projections on the first plane
    int U = a->units;
    double* cm = calloc((size_t)a->T * U, sizeof(double));  // cross-condition mean per time
    for (int q = 0; cm && q < nc; q++)
      for (size_t z = 0; z < (size_t)a->T * U; z++) cm[z] += X[(size_t)q * a->T * U + z] / nc;
    const char* cols[] = {"condition", "t", "jpc1", "jpc2"};
    table t;
    table_init(&t, 4, cols);
    double* px = malloc(sizeof(double) * (size_t)nc * a->T);
    double* py = malloc(sizeof(double) * (size_t)nc * a->T);
    char lab[160];
    for (int q = 0; cm && px && py && q < nc; q++) {
      az_cond_label(&c->d, &c->sel, a->keys[keep[q]], lab, sizeof lab);
      for (int b = 0; b < a->T; b++) {
        double s1 = 0, s2 = 0;
        for (int u = 0; u < U; u++) {
          double v = X[((size_t)q * a->T + b) * U + u] - cm[(size_t)b * U + u];
          s1 += jp[u] * v, s2 += jp[U + u] * v;
        }
        px[(size_t)q * a->T + b] = s1, py[(size_t)q * a->T + b] = s2;
        table_str(&t, lab), table_num(&t, bin_time(a, b)), table_num(&t, s1), table_num(&t, s2);
      }
    }
    am_buf j = {0};
    json_head(c, &j, a);
    am_buf_printf(&j, ", \"conditions\": %d, \"k\": %d, \"pca_explained\": %.6g, \"r2_full\": "
                  "%.6g, \"r2_skew\": %.6g, \"r2_ratio\": %.6g, \"freq_hz\": ", nc, res.k,
                  res.pca_explained, res.r2_full, res.r2_skew,
                  res.r2_full > 0 ? res.r2_skew / res.r2_full : NAN);
    jarr(&j, res.freq_hz, res.k / 2);
    am_buf_printf(&j, ", \"plane_var\": ");
    jarr(&j, res.plane_var, res.k / 2);
    am_buf_printf(&j, ", \"projections\": \"jpca.csv\"}\n");
    ana_fig* f = ana_fig_new(1, 1, 480, 420, c->err, sizeof c->err);
    if (f && px && py) {
      char title[300];
      snprintf(title, sizeof title, "jPCA plane 1 (%.2f Hz): R2 skew %.2f / full %.2f",
               res.freq_hz[0], res.r2_skew, res.r2_full);
      ana_fig_title(f, title);
      ana_fig_labels(f, 0, NULL, "jPC1", "jPC2");
      ana_fig_axes(f, 0, &(ana_axes){.equal = 1});
      for (int q = 0; q < nc; q++) {
        ana_fig_arrow(f, 0, px + (size_t)q * a->T, py + (size_t)q * a->T, a->T,
                      &(ana_style){.color = cond_color(a, keep[q])});
        ana_fig_scatter(f, 0, px + (size_t)q * a->T, py + (size_t)q * a->T, 1,
                        &(ana_style){.color = cond_color(a, keep[q])});
      }
      rc = write_outputs(c, f, &t, &j) ? -1 : 0;
      f = NULL;
    }
    ana_fig_free(f);
    table_free(&t);
    am_buf_free(&j);
    free(cm), free(px), free(py);
    am_buf_printf(&c->summary, "jpca: %d conditions, %d bins (%g s), k = %d PCs (%.1f %% of variance): R2 full %.3f, "
           "skew-symmetric %.3f (ratio %.2f); plane 1 rotates at %.2f Hz and holds %.1f %%\n", nc,
           a->T, a->bin_s, res.k, 100 * res.pca_explained, res.r2_full, res.r2_skew,
           res.r2_full > 0 ? res.r2_skew / res.r2_full : NAN, res.freq_hz[0],
           100 * res.plane_var[0]);
  }
  free(X), free(keep), free(jp);
  return rc;
}

//---------------------------------- psychometric / adaptation (trial table only) ------------------

// P(right) against a signed condition variable x: `--by VAR` (one variable), else coherence
// (decision-reach; romo-reach: --by df). A choice is correct when its sign is x's (x != 0).
// `--chosen SIDE` counts choices of the option on side SIDE (a condition variable, -1 left, +1
// right) instead of rightward ones (value-reach: --by log_ratio --chosen b_side, P(choose B)).
static int run_psychometric(az_ctx* c) {
  const char* xname = c->by ? c->by : "coherence";
  int kc = az_cond_slot(&c->d, xname);
  int kside = c->chosen ? az_cond_slot(&c->d, c->chosen) : -1;
  if (c->chosen && kside < 0)
    return am_err(c->err, sizeof c->err, "psychometric: --chosen %s is not a condition variable "
                  "of task %s", c->chosen, c->d.task);
  if (strchr(xname, ',') || kc < 0 || c->d.schema.choice < 0)
    return am_err(c->err, sizeof c->err, "psychometric needs a %s condition variable (--by VAR: "
                  "one signed condition variable) and a choice variable (decision-reach, "
                  "romo-reach...); %s has none", xname, c->d.task);
  int64_t N = c->tab.n;
  double *coh = calloc((size_t)N + 1, sizeof(double)), *rt = calloc((size_t)N + 1, sizeof(double));
  int* ch = calloc((size_t)N + 1, sizeof(int));
  double *rcoh = malloc(sizeof(double) * (N + 1)), *rrt = malloc(sizeof(double) * (N + 1));
  if (!coh || !rt || !ch || !rcoh || !rrt)
    return free(coh), free(rt), free(ch), free(rcoh), free(rrt),
           am_err(c->err, sizeof c->err, "out of memory");
  int by_event;
  int n = az_choices(&c->d, &c->tab, &c->sel, kc, kside, coh, ch, rt, NULL, &by_event), nrt = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(rt[i])) rcoh[nrt] = coh[i], rrt[nrt++] = rt[i];
  ana_psych ps;
  int rc = ana_psychometric_fit(coh, ch, n, &ps, c->err, sizeof c->err);
  double rho = NAN;
  if (!rc && nrt >= 3) {
    char e2[AM_ERR_LEN];
    if (ana_chronometric(rcoh, rrt, nrt, &rho, e2, sizeof e2)) rho = NAN;
  }
  if (!rc) {
    // per coherence: P(right), mean RT
    az_level lev[64];
    int nl = az_choice_levels(coh, ch, rt, n, lev, 64);
    double lv[64], pr[64], se[64], mrt[64], srt[64];
    // p_right: the fraction choosing right (with --chosen: the option on that side)
    const char* cols[] = {xname, "trials", "p_right", "sem", "mean_rt", "sem_rt", "p_correct"};
    table t;
    table_init(&t, 7, cols);
    for (int x = 0; x < nl; x++) {
      lv[x] = lev[x].x, pr[x] = lev[x].p, se[x] = lev[x].sem, mrt[x] = lev[x].rt;
      srt[x] = lev[x].sem_rt;
      table_num(&t, lv[x]), table_int(&t, lev[x].n), table_num(&t, pr[x]), table_num(&t, se[x]);
      table_num(&t, mrt[x]), table_num(&t, srt[x]);
      table_num(&t, c->chosen ? NAN : lv[x] > 0 ? pr[x] : lv[x] < 0 ? 1 - pr[x] : NAN);
    }
    am_buf j = {0};
    json_head(c, &j, NULL);
    // standard errors are NaN when the information is singular (a step: JSON null)
    const char* keys[6] = {"bias", "slope", "lapse", "se_bias", "se_slope", "se_lapse"};
    const double vals[6] = {ps.bias, ps.slope, ps.lapse, ps.se_bias, ps.se_slope, ps.se_lapse};
    am_buf_printf(&j, ", \"trials\": %d", n);
    for (int k = 0; k < 6; k++) am_buf_printf(&j, ", \"%s\": ", keys[k]), jnum(&j, vals[k]);
    am_buf_printf(&j, ", \"chronometric_rho\": ");
    jnum(&j, rho);
    am_buf_printf(&j, ", \"rt_from\": \"%s\", \"x\": \"%s\", \"by_coherence\": "
                  "\"psychometric.csv\"}\n", by_event ? "go_cue to movement_onset" : "kinematic onset",
                  xname);
    // a task without reaction times (a fixed-duration body-less task): no chronometric panel
    ana_fig* f = ana_fig_new(1, nrt > 0 ? 2 : 1, 0, 0, c->err, sizeof c->err);
    if (f) {
      ana_fig_title(f, c->d.task);
      char xl[AM_NAME_LEN + 8];
      snprintf(xl, sizeof xl, "%s", kc >= 0 && !c->by ? "signed coherence" : xname);
      char yl[AM_NAME_LEN + 16];
      snprintf(yl, sizeof yl, c->chosen ? "P(choose %s)" : "P(right)", c->chosen);
      ana_fig_labels(f, 0, "psychometric", xl, yl);
      ana_fig_errbars(f, 0, lv, pr, se, nl, NULL);
      double fx[201], fy[201];
      for (int z = 0; z <= 200; z++) {
        fx[z] = lv[0] + (lv[nl - 1] - lv[0]) * z / 200.0;
        fy[z] = ps.lapse / 2 + (1 - ps.lapse) / (1 + exp(-(fx[z] - ps.bias) / ps.slope));
      }
      ana_fig_line(f, 0, fx, fy, 201, NULL);
      ana_fig_axes(f, 0, &(ana_axes){.ymin = 0, .ymax = 1});
      ana_fig_hline(f, 0, 0.5, NULL);
      if (nrt > 0) {
        ana_fig_labels(f, 1, "chronometric", xl, "reaction time (s)");
        ana_fig_errbars(f, 1, lv, mrt, srt, nl, NULL);
      }
      rc = write_outputs(c, f, &t, &j) ? -1 : 0;
    }
    table_free(&t);
    am_buf_free(&j);
    am_buf_printf(&c->summary, "psychometric: %d trials with a choice (x = %s); bias %.4f, slope %.4f, "
           "lapse %.3f; ", n, xname, ps.bias, ps.slope, ps.lapse);
    if (nrt > 0)
      am_buf_printf(&c->summary, "chronometric Spearman rho(RT, |%s|) %.3f over %d trials (RT: %s)\n",
                    xname, rho, nrt, by_event ? "go_cue to movement_onset" : "kinematic onset");
    else
      am_buf_printf(&c->summary, "no reaction times (no movement onset in these trials)\n");
  }
  free(coh), free(rt), free(ch), free(rcoh), free(rrt);
  return rc;
}

// Adaptation across a block protocol (force-field: the signed maximum deviation; visuomotor
// rotation: the signed direction error): per env the trials in order, each block's error curve
// (mean over envs by position in the block), and per block its first trial, the mean of its first
// 3 and last 10, the error reduction of perturbation blocks, the after-effect of the null blocks
// that follow one, and the savings of a repeated exposure. A block's perturbation is the largest
// |field_gain| (or |rotation|) of its trials; recordings without those variables use the three
// classic blocks (0 baseline, 1 field, 2 washout). Block names: metadata session.blocks.
#define AD_MAXB 32
#define AD_MAXP 1024
typedef struct ad_block {
  double value;          // the perturbation (field gain, rotation in deg; 0: null)
  int len;               // positions with a trial in some env
  double* curve;         // (AD_MAXP) mean error by position
  int* cnt;
  double first, first3, last10, mean_abs10;  // mean_abs10: mean |error - baseline| of the first 10
  char name[32];
} ad_block;

static double ad_mean(const double* v, int a, int b) {
  double s = 0;
  int n = 0;
  for (int i = a; i < b; i++)
    if (isfinite(v[i])) s += v[i], n++;
  return n ? s / n : NAN;
}

static int run_adaptation(az_ctx* c) {
  int kb = az_cond_slot(&c->d, "block");
  if (kb < 0 || c->d.schema.eff_x < 0)
    return am_err(c->err, sizeof c->err, "adaptation needs a block condition variable and the "
                  "effector's kinematics (force-field, visuomotor-rotation); %s has none", c->d.task);
  int kg = az_cond_slot(&c->d, "field_gain"), kr = az_cond_slot(&c->d, "rotation");
  int kf = az_cond_slot(&c->d, "field_on");
  int rot = kr >= 0 && kg < 0;  // the error measure: direction error (deg) or deviation (m)
  const char* unit = rot ? "deg" : "m";
  int64_t N = c->tab.n;
  const char* cols[] = {"env", "episode", "trial", "block", "position", "max_dev", "dir_err",
                        "success", "catch"};
  table t;
  table_init(&t, 9, cols);
  ad_block B[AD_MAXB];
  memset(B, 0, sizeof B);
  int nb = 0, envs = 0, rc = 0;
  double* mem = calloc((size_t)AD_MAXB * AD_MAXP, sizeof(double));
  int* cmem = calloc((size_t)AD_MAXB * AD_MAXP, sizeof(int));
  if (!mem || !cmem) {
    free(mem), free(cmem), table_free(&t);
    return am_err(c->err, sizeof c->err, "out of memory");
  }
  for (int b = 0; b < AD_MAXB; b++) B[b].curve = mem + (size_t)b * AD_MAXP, B[b].cnt = cmem + (size_t)b * AD_MAXP;
  for (int64_t i = 0; i < N; i++) {
    const ana_trial* tr = &c->tab.rows[i];
    envs = tr->env + 1 > envs ? tr->env + 1 : envs;
    int b = (int)tr->cond[kb];
    if (b < 0 || b >= AD_MAXB) continue;
    nb = b + 1 > nb ? b + 1 : nb;
    double v = kg >= 0 ? tr->cond[kg] : kr >= 0 ? tr->cond[kr] : b == 1;
    if (fabs(v) > fabs(B[b].value)) B[b].value = v;
  }
  // catch trials: a perturbation block's trials without the perturbation (force-field field off)
  int catch_n = 0;
  double catch_sum = 0;
  for (int e = 0; e < envs; e++) {
    int pos = 0, last = -1;
    for (int64_t i = 0; i < N; i++) {
      const ana_trial* tr = &c->tab.rows[i];
      double err = rot ? tr->dir_err : tr->max_dev;
      if (tr->env != e || !tr->complete || !isfinite(err)) continue;
      int b = (int)tr->cond[kb];
      if (b < 0 || b >= AD_MAXB) continue;
      pos = b == last ? pos + 1 : 0;
      last = b;
      int is_catch = !rot && kf >= 0 && B[b].value != 0 && tr->cond[kf] == 0;
      table_int(&t, e), table_int(&t, tr->episode), table_int(&t, tr->trial), table_int(&t, b);
      table_int(&t, pos), table_num(&t, tr->max_dev), table_num(&t, tr->dir_err);
      table_int(&t, tr->success), table_int(&t, is_catch);
      if (is_catch) {
        catch_sum += err, catch_n++;
        continue;
      }
      if (pos < AD_MAXP) B[b].curve[pos] += err, B[b].cnt[pos]++;
    }
  }
  // block names: the session's, else the classic three
  const char* names = am_ds_meta(c->r, "session.blocks", NULL);
  for (int b = 0; b < nb; b++) {
    static const char* classic[3] = {"baseline", "field", "washout"};
    snprintf(B[b].name, sizeof B[b].name, "%s", b < 3 && !names ? classic[b] : "");
    if (!names) continue;
    const char* q = names;
    for (int k = 0; k < b && q; k++) q = strchr(q, ','), q = q ? q + 1 : NULL;
    if (q) snprintf(B[b].name, sizeof B[b].name, "%.*s", (int)strcspn(q, ","), q);
  }
  for (int b = 0; b < nb; b++) {
    ad_block* k = &B[b];
    for (int p = 0; p < AD_MAXP; p++) {
      if (!k->cnt[p]) {
        k->curve[p] = NAN;
        continue;
      }
      k->curve[p] /= k->cnt[p];
      k->len = p + 1;
    }
    k->first = k->len ? k->curve[0] : NAN;
    k->first3 = ad_mean(k->curve, 0, k->len < 3 ? k->len : 3);
    k->last10 = ad_mean(k->curve, k->len > 10 ? k->len - 10 : 0, k->len);
  }
  double base = nb ? ad_mean(B[0].curve, 0, B[0].len) : NAN;
  for (int b = 0; b < nb; b++) {
    double s = 0;
    int n = 0;
    for (int p = 0; p < B[b].len && p < 10; p++)
      if (isfinite(B[b].curve[p])) s += fabs(B[b].curve[p] - base), n++;
    B[b].mean_abs10 = n ? s / n : NAN;
  }
  am_buf j = {0};
  json_head(c, &j, NULL);
  am_buf_printf(&j, ", \"measure\": \"%s\", \"unit\": \"%s\", \"baseline\": ",
                rot ? "dir_err" : "max_dev", unit);
  jnum(&j, base);
  am_buf_printf(&j, ", \"catch_trials\": %d, \"catch_mean\": ", catch_n);
  jnum(&j, catch_n ? catch_sum / catch_n : NAN);
  am_buf_printf(&j, ", \"blocks\": [");
  am_buf_printf(&c->summary, "adaptation (%s, %s; baseline %.4g):\n", rot ? "direction error" :
                "signed maximum deviation", unit, base);
  int first_pert = -1;  // the first perturbation block: its initial error is the reference
  for (int b = 0; b < nb; b++) {
    ad_block* k = &B[b];
    double reduction = NAN, after = NAN, savings = NAN;
    int prev = -1;  // the last perturbation block before this one
    for (int q = 0; q < b; q++)
      if (B[q].value != 0) prev = q;
    if (k->value != 0) {
      if (first_pert < 0) first_pert = b;
      reduction = (k->first3 - k->last10) / (k->first3 - base);
      for (int q = 0; q < b; q++)  // an earlier exposure to the same perturbation
        if (B[q].value == k->value && isfinite(B[q].mean_abs10) && B[q].mean_abs10 > 0) {
          savings = 1 - k->mean_abs10 / B[q].mean_abs10;
          break;
        }
    } else if (prev >= 0) {
      after = (k->first3 - base) / (B[prev].first3 - base);
    }
    am_buf_printf(&j, "%s{\"block\": %d, \"name\": ", b ? ", " : "", b);
    table_json_string(&j, k->name);
    am_buf_printf(&j, ", \"value\": ");
    jnum(&j, k->value);
    am_buf_printf(&j, ", \"trials\": %d, \"first\": ", k->len);
    jnum(&j, k->first);
    am_buf_printf(&j, ", \"first3\": ");
    jnum(&j, k->first3);
    am_buf_printf(&j, ", \"last10\": ");
    jnum(&j, k->last10);
    am_buf_printf(&j, ", \"error_reduction\": ");
    jnum(&j, reduction);
    am_buf_printf(&j, ", \"aftereffect_ratio\": ");
    jnum(&j, after);
    am_buf_printf(&j, ", \"savings\": ");
    jnum(&j, savings);
    am_buf_printf(&j, "}");
    am_buf_printf(&c->summary, "  block %d %-10s value %-6g %4d trials: first %.4g, first 3 %.4g, "
                  "last 10 %.4g", b, k->name, k->value, k->len, k->first, k->first3, k->last10);
    if (isfinite(reduction)) am_buf_printf(&c->summary, "; error reduction %.2f", reduction);
    if (isfinite(after)) am_buf_printf(&c->summary, "; after-effect ratio %.2f", after);
    if (isfinite(savings)) am_buf_printf(&c->summary, "; savings %.2f", savings);
    am_buf_printf(&c->summary, "\n");
  }
  am_buf_printf(&j, "], \"per_trial\": \"adaptation.csv\"}\n");
  if (catch_n)
    am_buf_printf(&c->summary, "  catch trials (perturbation off in a perturbation block): %d, "
                  "mean %.4g\n", catch_n, catch_sum / catch_n);
  ana_fig* f = ana_fig_new(1, 1, 720, 320, c->err, sizeof c->err);
  rc = !f;
  if (f) {
    ana_fig_title(f, rot ? "adaptation: mean signed direction error by trial"
                         : "adaptation: mean signed maximum deviation by trial");
    ana_fig_labels(f, 0, NULL, "trial (blocks in order)", rot ? "direction error (deg)"
                                                                 : "max deviation (m)");
    int off = 0;
    // the block names go at the highest point; the data's range and the trials in all
    double ytop = -INFINITY, ybot = INFINITY;
    int total = 0, prev_low = 0;
    for (int b = 0; b < nb; b++) {
      total += B[b].len;
      for (int p = 0; p < B[b].len; p++)
        if (isfinite(B[b].curve[p])) {
          if (B[b].curve[p] > ytop) ytop = B[b].curve[p];
          if (B[b].curve[p] < ybot) ybot = B[b].curve[p];
        }
    }
    if (!isfinite(ytop)) ytop = 0;
    double yspan = isfinite(ybot) && ytop > ybot ? ytop - ybot : 1;
    double* x = malloc(sizeof(double) * AD_MAXP);
    for (int b = 0; x && b < nb; b++) {
      for (int p = 0; p < B[b].len; p++) x[p] = off + p;
      // colours: null blocks, positive and negative perturbations; one legend entry each
      int col = B[b].value == 0 ? 0 : B[b].value > 0 ? 1 : 2, labelled = 0;
      for (int q = 0; q < b; q++) labelled |= B[q].value == B[b].value;
      char lab[64];
      snprintf(lab, sizeof lab, "%s", B[b].value == 0 ? "null" : rot ? "rotation" : "field");
      if (B[b].value < 0) snprintf(lab, sizeof lab, "%s (mirrored)", rot ? "rotation" : "field");
      ana_fig_line(f, 0, x, B[b].curve, B[b].len,
                   &(ana_style){.color = ana_color_cat(col), .label = labelled ? NULL : lab});
      // a name wider than the block before it goes one line lower (10 px text: about 1/90 of
      // the axis per character)
      int low = b > 0 && B[b - 1].name[0] && !prev_low &&
                B[b - 1].len < (double)strlen(B[b - 1].name) * 1.22 * total / 90;
      if (B[b].name[0])
        ana_fig_text(f, 0, off + 1, low ? ytop - 0.07 * yspan : ytop, B[b].name,
                     &(ana_style){.size = 10});
      prev_low = low;
      off += B[b].len;
      if (b < nb - 1) ana_fig_vline(f, 0, off - 0.5, NULL);
    }
    free(x);
    if (isfinite(base)) ana_fig_hline(f, 0, base, NULL);
    // room past the last trial for the legend, which would otherwise hide the last block's curve
    ana_fig_axes(f, 0, &(ana_axes){.xmin = 0, .xmax = off > 0 ? 1.22 * off : 1,
                                   .legend = ANA_LEGEND_LR});
    rc = write_outputs(c, f, &t, &j);
  }
  table_free(&t);
  am_buf_free(&j);
  free(mem), free(cmem);
  return rc ? -1 : 0;
}

//---------------------------------- decode --------------------------------------------------------

static int run_decode(az_ctx* c, az_data* a) {
  const ds_trials* d = &c->d;
  const ana_trial_schema* s = &d->schema;
  // outputs: target (x, y from start), hand position and velocity (from the binned cursor)
  const char* what = c->targets ? c->targets : "target,hand_vel";
  int want_tg = strstr(what, "target") != NULL, want_hp = strstr(what, "hand_pos") != NULL;
  int want_hv = strstr(what, "hand_vel") != NULL, want_ch = strstr(what, "choice") != NULL;
  if ((want_tg || want_hp || want_hv) && (s->eff_x < 0 || s->target_x < 0 || s->start_x < 0))
    return am_err(c->err, sizeof c->err, "decode: %s has no cursor/target variables", d->task);
  if (want_ch && s->choice < 0) return am_err(c->err, sizeof c->err, "decode: no choice variable");
  const char* names[7];
  int q = 0;
  if (want_tg) names[q++] = "target_x", names[q++] = "target_y";
  if (want_hp) names[q++] = "hand_x", names[q++] = "hand_y";
  if (want_hv) names[q++] = "hand_vx", names[q++] = "hand_vy";
  if (want_ch) names[q++] = "choice";
  if (!q) return am_err(c->err, sizeof c->err, "decode --targets '%s': none of target, "
                        "hand_pos, hand_vel, choice", what);
  int n = (int)a->ntr, U = a->units, V = d->n_vars;
  double* X = malloc(sizeof(double) * (size_t)n * U);
  double* Y = malloc(sizeof(double) * (size_t)n * q);
  double* r2 = malloc(sizeof(double) * (size_t)a->T * q);
  int* ok = malloc(sizeof(int) * (size_t)n);
  if (!X || !Y || !r2 || !ok) return free(X), free(Y), free(r2), free(ok), am_err(c->err, sizeof c->err, "out of memory");
  ana_ridge_config rc_cfg = {.folds = c->folds, .seed = c->seed};
  int rc = 0;
  for (int b = 0; b < a->T && !rc; b++) {
    int m = 0;
    for (int i = 0; i < n; i++) {
      const float* x = a->full + ((size_t)i * a->T + b) * U;
      const float* v = a->fvars + ((size_t)i * a->T + b) * V;
      const float* vp = b > 0 ? a->fvars + ((size_t)i * a->T + b - 1) * V : NULL;
      if (!isfinite(x[0]) || (want_hv && (!vp || !isfinite(vp[0])))) continue;
      for (int u = 0; u < U; u++) X[(size_t)m * U + u] = x[u];
      int z = 0;
      double *y = Y + (size_t)m * q;
      if (want_tg) y[z++] = v[s->target_x] - v[s->start_x], y[z++] = v[s->target_y] - v[s->start_y];
      if (want_hp) y[z++] = v[s->eff_x] - v[s->start_x], y[z++] = v[s->eff_y] - v[s->start_y];
      if (want_hv) y[z++] = (v[s->eff_x] - vp[s->eff_x]) / a->bin_s, y[z++] = (v[s->eff_y] - vp[s->eff_y]) / a->bin_s;
      if (want_ch) y[z++] = c->tab.rows[a->tr[i]].choice;
      m++;
    }
    int folds = c->folds > 0 ? c->folds : 5;
    if (m < 2 * folds * 5) {
      for (int z = 0; z < q; z++) r2[(size_t)b * q + z] = NAN;
      continue;
    }
    char e2[AM_ERR_LEN];
    if (ana_ridge_cv(X, m, U, Y, q, &rc_cfg, r2 + (size_t)b * q, NULL, e2, sizeof e2)) {
      // e.g. a constant output (a target on one axis only): each output on its own, NaN where
      // it cannot be decoded
      double* y1 = malloc(sizeof(double) * (size_t)m);
      for (int z = 0; z < q; z++) {
        for (int i = 0; y1 && i < m; i++) y1[i] = Y[(size_t)i * q + z];
        if (!y1 || ana_ridge_cv(X, m, U, y1, 1, &rc_cfg, r2 + (size_t)b * q + z, NULL, e2, sizeof e2))
          r2[(size_t)b * q + z] = NAN;
      }
      free(y1);
    }
  }
  const char* cols[9] = {"t"};
  for (int z = 0; z < q; z++) cols[1 + z] = names[z];
  table t;
  table_init(&t, 1 + q, cols);
  double best[7];
  for (int z = 0; z < q; z++) best[z] = NAN;
  for (int b = 0; b < a->T; b++) {
    table_num(&t, bin_time(a, b));
    for (int z = 0; z < q; z++) {
      table_num(&t, r2[(size_t)b * q + z]);
      if (r2[(size_t)b * q + z] > best[z] || (isnan(best[z]) && isfinite(r2[(size_t)b * q + z])))
        best[z] = r2[(size_t)b * q + z];
    }
  }
  am_buf j = {0};
  json_head(c, &j, a);
  am_buf_printf(&j, ", \"outputs\": [");
  for (int z = 0; z < q; z++) am_buf_printf(&j, "%s\"%s\"", z ? ", " : "", names[z]);
  am_buf_printf(&j, "], \"best_r2\": ");
  jarr(&j, best, q);
  am_buf_printf(&j, ", \"r2_by_bin\": \"decode.csv\"}\n");
  ana_fig* f = ana_fig_new(1, 1, 560, 320, c->err, sizeof c->err);
  if (f) {
    char title[200];
    snprintf(title, sizeof title, "cross-validated ridge decoding from %s", c->sel.channel);
    ana_fig_title(f, title);
    char xl[96];
    snprintf(xl, sizeof xl, "time from %s (s)", c->sel.align);
    ana_fig_labels(f, 0, NULL, xl, "R2 (held out)");
    double* x = malloc(sizeof(double) * a->T);
    double* y = malloc(sizeof(double) * a->T);
    for (int z = 0; x && y && z < q; z++) {
      for (int b = 0; b < a->T; b++) x[b] = bin_time(a, b), y[b] = r2[(size_t)b * q + z];
      ana_fig_line(f, 0, x, y, a->T, &(ana_style){.label = names[z]});
    }
    free(x), free(y);
    ana_fig_axes(f, 0, &(ana_axes){.ymax = 1, .ymin = 0, .legend = ANA_LEGEND_LR});
    ana_fig_vline(f, 0, 0, NULL);
    rc = write_outputs(c, f, &t, &j) ? -1 : 0;
  } else {
    rc = -1;
  }
  table_free(&t);
  am_buf_free(&j);
  am_buf_printf(&c->summary, "decode from %s (%d trials, %d bins): best held-out R2", c->sel.channel, n, a->T);
  for (int z = 0; z < q; z++) am_buf_printf(&c->summary, " %s %.3f", names[z], best[z]);
  am_buf_printf(&c->summary, "\n");
  free(X), free(Y), free(r2), free(ok);
  return rc;
}

//---------------------------------- cka / rsa -----------------------------------------------------

// Condition x time means of a second source with the same selection: another channel of this
// dataset (channel2) or the same channel of path2.
static int second_source(az_ctx* c, az_data* b2, ds_trials* d2, ana_trials* tab2,
                         am_ds_reader** r2) {
  az_select s2 = c->sel;
  if (c->channel2) {  // another channel of the same dataset: a second pass
    s2.channel = c->channel2;
    return az_gather(&c->d, tab2, &s2, b2, c->err, sizeof c->err);
  }
  if (!c->path2)
    return am_err(c->err, sizeof c->err, "%s needs a second source: --module2/--channel2 (another "
                  "module of FILE) or a second dataset FILE2", c->method);
  *r2 = am_ds_open(c->path2, c->err, sizeof c->err);
  if (!*r2 || ds_trials_open(d2, *r2, c->path2, c->d.schema.onset_frac, c->err, sizeof c->err))
    return -1;
  s2.n_where = 0;  // the filters name this dataset's condition variables: parse them again
  for (int i = 0; c->where[i]; i++)
    if (az_parse_where(&s2, d2, c->where[i], c->err, sizeof c->err)) return -1;
  if (az_parse_by(&s2, d2, c->by, c->err, sizeof c->err)) return -1;
  return az_gather(d2, tab2, &s2, b2, c->err, sizeof c->err);
}

static double mean_offdiag(const double* m, int n) {
  double s = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) s += i != j ? m[i * n + j] : 0;
  return n > 1 ? s / (n * (n - 1)) : NAN;
}

static int run_similarity(az_ctx* c, az_data* a) {
  az_data b2 = {0};
  ds_trials d2 = {0};
  ana_trials tab2 = {0};
  am_ds_reader* r2 = NULL;
  // rsa of one source: its RDM alone (the second source is the first: nothing compared)
  int single = !c->channel2 && !c->path2 && !strcmp(c->method, "rsa");
  int rc = single ? 0 : second_source(c, &b2, &d2, &tab2, &r2);
  az_data* bp = single ? a : &b2;
#define b (*bp)
  // conditions present in both, with every bin covered
  int *ka = malloc(sizeof(int) * (size_t)a->ncond), *kb = NULL, nc = 0;
  if (!rc) kb = malloc(sizeof(int) * (size_t)(b.ncond + 1));
  double *ma = NULL, *mb = NULL;
  if (!rc && ka && kb) {
    ma = malloc(sizeof(double) * (size_t)a->ncond * a->T * a->units);
    mb = malloc(sizeof(double) * (size_t)b.ncond * b.T * b.units);
    if (ma && mb) {
      az_cond_mean(a, 1, ma, NULL);
      az_cond_mean(&b, 1, mb, NULL);
      for (int i = 0; i < a->ncond; i++)
        for (int j = 0; j < b.ncond; j++) {
          if (memcmp(a->keys[i], b.keys[j], sizeof(float) * AM_MAX_CONDITIONS)) continue;
          int full = 1;
          for (int t = 0; t < a->T; t++)
            full &= a->cnt[(size_t)i * a->T + t] > 0 && b.cnt[(size_t)j * b.T + t] > 0;
          if (full) ka[nc] = i, kb[nc++] = j;
        }
    }
  }
  if (!rc && nc < 3) rc = am_err(c->err, sizeof c->err, "%s: fewer than 3 conditions (%d) "
                                 "cover the window in both sources", c->method, nc);
  if (!rc && (!ma || !mb)) rc = am_err(c->err, sizeof c->err, "out of memory");
  if (!rc) {
    int T = a->T, Ua = a->units, Ub = b.units;
    double* X = malloc(sizeof(double) * (size_t)nc * T * Ua);
    double* Y = malloc(sizeof(double) * (size_t)nc * T * Ub);
    double* wa = calloc((size_t)nc * Ua, sizeof(double));  // window means per condition
    double* wb = calloc((size_t)nc * Ub, sizeof(double));
    double *rdma = malloc(sizeof(double) * nc * nc), *rdmb = malloc(sizeof(double) * nc * nc);
    double cka = NAN, rho = NAN;
    if (!X || !Y || !wa || !wb || !rdma || !rdmb) rc = am_err(c->err, sizeof c->err, "out of memory");
    for (int q = 0; !rc && q < nc; q++)
      for (int t = 0; t < T; t++) {
        memcpy(X + ((size_t)q * T + t) * Ua, ma + ((size_t)ka[q] * T + t) * Ua, sizeof(double) * Ua);
        memcpy(Y + ((size_t)q * T + t) * Ub, mb + ((size_t)kb[q] * T + t) * Ub, sizeof(double) * Ub);
        for (int u = 0; u < Ua; u++) wa[(size_t)q * Ua + u] += X[((size_t)q * T + t) * Ua + u] / T;
        for (int u = 0; u < Ub; u++) wb[(size_t)q * Ub + u] += Y[((size_t)q * T + t) * Ub + u] / T;
      }
    if (!rc && !single) rc = ana_cka(X, nc * T, Ua, Y, Ub, &cka, c->err, sizeof c->err);
    if (!rc) rc = ana_rdm(wa, nc, Ua, ANA_RDM_CORR, rdma, c->err, sizeof c->err) ||
                  ana_rdm(wb, nc, Ub, ANA_RDM_CORR, rdmb, c->err, sizeof c->err) ||
                  (!single && ana_rdm_compare(rdma, rdmb, nc, &rho, c->err, sizeof c->err)) ? -1 : 0;
    const char* src2 = c->channel2 ? c->channel2 : c->path2 ? c->path2 : "none";
    int ns = single ? 1 : 2;  // sources
    if (!rc) {
      const char* cols[] = {"source", "row", "col", "dissimilarity"};
      table t;
      table_init(&t, 4, cols);
      for (int s = 0; s < ns; s++)
        for (int i = 0; i < nc; i++)
          for (int j = 0; j < nc; j++)
            table_str(&t, s ? src2 : c->sel.channel), table_int(&t, i), table_int(&t, j),
                table_num(&t, (s ? rdmb : rdma)[i * nc + j]);
      am_buf jb = {0};
      json_head(c, &jb, a);
      am_buf_printf(&jb, ", \"second\": ");
      table_json_string(&jb, src2);
      am_buf_printf(&jb, ", \"conditions\": %d, \"cka\": ", nc);
      jnum(&jb, cka);
      am_buf_printf(&jb, ", \"rdm_spearman\": ");
      jnum(&jb, rho);
      am_buf_printf(&jb, ", \"rdm\": \"%s.csv\"}\n", c->method);
      ana_fig* f = ana_fig_new(1, ns, 380, 340, c->err, sizeof c->err);
      if (f) {
        char title[400];
        if (single)
          snprintf(title, sizeof title, "RDM (1 - r) by condition of %s", c->sel.channel);
        else
          snprintf(title, sizeof title, "RDMs (1 - r) by condition: Spearman %.2f; linear CKA %.2f",
                   rho, cka);
        ana_fig_title(f, title);
        for (int s = 0; s < ns; s++) {
          ana_fig_axes(f, s, &(ana_axes){.equal = 1, .ydown = 1});
          ana_fig_labels(f, s, s ? src2 : c->sel.channel, "condition", "condition");
          ana_fig_image(f, s, &(ana_image){.z = s ? rdmb : rdma, .rows = nc, .cols = nc,
                                           .label = "1 - r"});
          double at[64];
          char tl[64][16];
          const char* tp[64];
          int nt = nc < 64 ? nc : 64;
          for (int q = 0; q < nt; q++) {  // cell centres, labelled with the first condition value
            at[q] = q + 0.5;
            snprintf(tl[q], sizeof tl[q], "%g", a->keys[ka[q]][0]);
            tp[q] = tl[q];
          }
          ana_fig_ticks(f, s, 0, at, tp, nt);
          ana_fig_ticks(f, s, 1, at, tp, nt);
        }
        rc = write_outputs(c, f, &t, &jb);
      } else {
        rc = -1;
      }
      table_free(&t);
      am_buf_free(&jb);
      if (single)
        am_buf_printf(&c->summary, "%s: RDM of %s over %d conditions (window means of %d bins); "
                      "mean dissimilarity %.3f\n", c->method, c->sel.channel, nc, T,
                      mean_offdiag(rdma, nc));
      else
        am_buf_printf(&c->summary, "%s: %s vs %s over %d conditions x %d bins: linear CKA %.3f; "
                      "RDM Spearman %.3f\n", c->method, c->sel.channel, src2, nc, T, cka, rho);
    }
    free(X), free(Y), free(wa), free(wb), free(rdma), free(rdmb);
  }
  free(ka), free(kb), free(ma), free(mb);
#undef b
  az_data_free(&b2);
  ana_trials_free(&tab2);
  ds_trials_close(&d2);
  if (r2) am_ds_reader_free(r2);
  return rc;
}

static int run_dopamine(az_ctx* c) {  // analyze_dopamine.c
  ana_fig* f = NULL;
  table t = {0};
  am_buf j = {0};
  json_head(c, &j, NULL);
  if (az_dopamine(&c->d, &c->tab, &c->sel, &f, &t, &j, &c->summary, c->err, sizeof c->err)) {
    ana_fig_free(f);
    table_free(&t);
    am_buf_free(&j);
    return -1;
  }
  return write_outputs(c, f, &t, &j);
}

// analyze_bandit.c (bandit, two-step), analyze_wager.c, analyze_multisensory.c, analyze_tap.c: the
// methods that read the trial table alone
static int run_trial_table(az_ctx* c) {
  ana_fig* f = NULL;
  table t = {0};
  am_buf j = {0};
  json_head(c, &j, NULL);
  int two = !strcmp(c->method, "two-step"), wager = !strcmp(c->method, "wager");
  int multi = !strcmp(c->method, "multisensory"), tap = !strcmp(c->method, "two-tap");
  if (tap ? az_two_tap(&c->d, &c->tab, &f, &t, &j, &c->summary, c->err, sizeof c->err)
      : multi ? az_multisensory(&c->d, &c->tab, &c->sel, c->by, &f, &t, &j, &c->summary, c->err,
                                sizeof c->err)
      : wager ? az_wager(&c->d, &c->tab, &f, &t, &j, &c->summary, c->err, sizeof c->err)
      : two ? az_two_step(&c->d, &c->tab, &f, &t, &j, &c->summary, c->err, sizeof c->err)
            : az_bandit(&c->d, &c->tab, c->seed, &f, &t, &j, &c->summary, c->err, sizeof c->err)) {
    ana_fig_free(f);
    table_free(&t);
    am_buf_free(&j);
    return -1;
  }
  return write_outputs(c, f, &t, &j);
}

static int run_ethology(az_ctx* c) {  // analyze_ethology.c
  ana_fig* f = NULL;
  table t = {0};
  am_buf j = {0};
  json_head(c, &j, NULL);
  if (az_ethology(&c->d, c->seed, &f, &t, &j, &c->summary, c->err, sizeof c->err)) {
    ana_fig_free(f);
    table_free(&t);
    am_buf_free(&j);
    return -1;
  }
  return write_outputs(c, f, &t, &j);
}

//---------------------------------- the command ---------------------------------------------------

typedef struct method {
  const char* name;
  const char* summary;
  int neural;            // reads a channel (else the trial table alone)
  const char* align;     // default alignment (first of the list the task has)
  double w0, w1;
  int (*run_n)(az_ctx*, az_data*);
  int (*run_t)(az_ctx*);
} method;

static const method methods[] = {
    {"psth", "event-aligned, condition-averaged activity per unit", 1, "go_cue", -0.3, 0.5, run_psth, NULL},
    {"tuning", "cosine tuning per unit, preferred directions, Rayleigh, population vector", 1, "onset", -0.05, 0.15, run_tuning, NULL},
    {"pca", "variance explained, condition-averaged trajectories in the top PCs", 1, "onset", -0.2, 0.25, run_pca, NULL},
    {"jpca", "rotational dynamics (Churchland et al. 2012)", 1, "onset", -0.05, 0.15, run_jpca, NULL},
    {"decode", "cross-validated ridge decoding of behaviour per time bin", 1, "onset", -0.2, 0.25, run_decode, NULL},
    {"cka", "linear CKA and RDMs between two modules or two datasets", 1, "onset", -0.2, 0.25, run_similarity, NULL},
    {"rsa", "representational dissimilarity matrix by condition (of two sources: compared, as cka)", 1, "onset", -0.2, 0.25, run_similarity, NULL},
    {"psychometric", "choice vs signed coherence (logistic), chronometric RT", 0, NULL, 0, 0, NULL, run_psychometric},
    {"adaptation", "error curves across a block protocol: reduction, after-effects, savings", 0, NULL, 0, 0, NULL, run_adaptation},
    {"bandit", "regret and P(better arm) by trial vs Thompson sampling and a random chooser (Wang et al. 2018)", 0, NULL, 0, 0, NULL, run_trial_table},
    {"two-step", "stay probability by reward x transition, model-based index (Daw et al. 2011)", 0, NULL, 0, 0, NULL, run_trial_table},
    {"wager", "post-decision wager: P(sure) by coherence and duration, accuracy waived vs no sure target (Kiani & Shadlen 2009)", 0, NULL, 0, 0, NULL, run_trial_table},
    {"dopamine", "value heads as a dopamine population: reversal points vs asymmetry, decoded reward distribution (Dabney et al. 2020)", 0, NULL, 0, 0, NULL, run_dopamine},
    {"two-tap", "two-tap timing: intervals from the first touch to the next, share in the counted window vs uniform timing (Kawai et al. 2015; Merel et al. 2020)", 0, NULL, 0, 0, NULL, run_trial_table},
    {"multisensory", "multisensory integration: psychometric curves per modality, the optimal combination's prediction (Raposo et al. 2012)", 0, NULL, 0, 0, NULL, run_trial_table},
    {"ethology", "rat behaviour from kinematics; per module: behaviour/task decoding, dimensionality, running dynamics (Merel et al. 2020)", 0, NULL, 0, 0, NULL, run_ethology},
};
#define N_METHODS (int)(sizeof methods / sizeof methods[0])

// Runs one method: its default alignment and window unless given, one pass (or the trial table
// alone), its outputs in c->out and its summary in c->summary.
static int run_method(az_ctx* c, const method* m) {
  az_select keep = c->sel;
  az_data a = {0};
  c->method = m->name;
  if (!c->window_given) c->sel.w0 = m->w0, c->sel.w1 = m->w1;
  if (!c->sel.align && m->neural) {  // the method's default, else the trial's start
    const ana_trial_schema* s = &c->d.schema;
    const char* start = s->trial_start >= 0 ? c->d.events[s->trial_start] : NULL;
    c->sel.align = m->align;
    if (strcmp(c->sel.align, "onset") && ds_find_name(c->d.events, c->d.n_events, c->sel.align) < 0)
      c->sel.align = "onset";
    if (!strcmp(c->sel.align, "onset") && (s->eff_x < 0 || s->go_event < 0)) c->sel.align = start;
    if (!c->sel.align)
      return am_err(c->err, sizeof c->err, "%s: task %s has no events to align on (no trial "
                    "start, go cue or kinematic onset)", m->name, c->d.task);
  }
  c->sel.keep_trials = c->sel.vars_too = !strcmp(m->name, "decode");
  ana_trials_free(&c->tab);
  int rc;
  if (m->neural)
    rc = az_gather(&c->d, &c->tab, &c->sel, &a, c->err, sizeof c->err) || m->run_n(c, &a) ? -1 : 0;
  else
    rc = ds_trials_build(&c->d, &c->tab, NULL, NULL, c->err, sizeof c->err) || m->run_t(c) ? -1 : 0;
  az_data_free(&a);
  c->sel = keep;
  return rc;
}

static void html_text(am_buf* b, const char* s, size_t n) {
  for (size_t i = 0; i < n && s[i]; i++) {
    char ch = s[i];
    if (ch == '<') am_buf_printf(b, "&lt;");
    else if (ch == '>') am_buf_printf(b, "&gt;");
    else if (ch == '&') am_buf_printf(b, "&amp;");
    else am_buf_append(b, &ch, 1);
  }
}

// Every method that applies to the dataset, in one HTML page (report.html) beside their files.
static int run_report(az_ctx* c, int window_given) {
  am_buf h = {0};
  const char* policy = am_ds_meta(c->r, "policy", NULL);
  am_buf_printf(&h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>animat report: ");
  html_text(&h, c->path, strlen(c->path));
  am_buf_printf(&h, "</title><style>body{font-family:sans-serif;max-width:1150px;margin:auto}"
                "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}img{max-width:100%%}"
                "</style></head><body>\n<h1>animat analyze report</h1>\n<p>");
  html_text(&h, c->path, strlen(c->path));
  am_buf_printf(&h, ": task <b>%s</b>, %lld episodes, policy ", c->d.task,
                (long long)am_ds_num_episodes(c->r));
  html_text(&h, policy ? policy : "unknown", 4096);
  am_buf_printf(&h, "; channel %s; trials: outcome %s</p>\n", c->sel.channel,
                c->sel.outcome ? c->sel.outcome : "success");
  int done = 0;
  for (int i = 0; i < N_METHODS; i++) {
    const method* m = &methods[i];
    if (!strcmp(m->name, "rsa")) continue;  // cka writes the RDMs too
    int cka_same = !strcmp(m->name, "cka") && !c->path2 && !c->channel2;
    char ch2[128];
    if (cka_same) {  // the other module of the same dataset
      const char* other = strncmp(c->sel.channel, "motor/", 6) ? "motor/output" : "core/output";
      if (am_ds_find_channel(c->r, other) < 0) continue;
      snprintf(ch2, sizeof ch2, "%s", other);
      c->channel2 = ch2;
    }
    c->window_given = window_given;
    c->summary.len = 0;
    c->err[0] = 0;
    int rc = run_method(c, m);
    const ana_trial_schema* sc = &c->d.schema;
    if (rc && m->neural && !c->sel.align && !window_given && sc->trial_start >= 0 &&
        (strstr(c->err, "no trial matches") || strstr(c->err, "cover"))) {
      // too few trials reached the method's alignment (e.g. no go cue ever came): the same
      // window's length from the trials' start
      char why[AM_ERR_LEN];
      snprintf(why, sizeof why, "%s", c->err);
      c->summary.len = 0;
      am_buf_printf(&c->summary, "(with its default alignment: %s; aligned on %s instead)\n", why,
                    c->d.events[sc->trial_start]);
      c->sel.align = c->d.events[sc->trial_start];
      c->window_given = 1;
      c->sel.w0 = 0, c->sel.w1 = m->w1 - m->w0;
      rc = run_method(c, m);
      c->sel.align = NULL;
      c->window_given = 0;
    }
    if (cka_same) c->channel2 = NULL;
    am_buf_printf(&h, "<h2>%s</h2>\n", m->name);
    if (rc) {
      am_buf_printf(&h, "<p>not applicable here: ");
      html_text(&h, c->err, sizeof c->err);
      am_buf_printf(&h, "</p>\n");
      printf("%-13s skipped: %s\n", m->name, c->err);
      continue;
    }
    done++;
    am_buf_printf(&h, "<pre>");
    html_text(&h, (const char*)c->summary.p, c->summary.len);
    am_buf_printf(&h, "</pre>\n<p><img src=\"%s.svg\" alt=\"%s\"></p>\n<p>numbers: <a href=\""
                  "%s.json\">%s.json</a>, <a href=\"%s.csv\">%s.csv</a></p>\n", m->name, m->name,
                  m->name, m->name, m->name, m->name);
    fwrite(c->summary.p, 1, c->summary.len, stdout);
  }
  am_buf_printf(&h, "</body></html>\n");
  char p[4096];
  snprintf(p, sizeof p, "%s/report.html", c->out);
  int rc = am_write_file_atomic(p, h.p, h.len, c->err, sizeof c->err);
  am_buf_free(&h);
  if (rc) return cli_fail("analyze", "%s", c->err);
  if (!done) return cli_fail("analyze", "report: no method applies to %s", c->path);
  printf("wrote %s (%d methods)\n", p, done);
  return 0;
}

static void usage_text(char* b, size_t n) {
  size_t o = (size_t)snprintf(
      b, n,
      "usage: animat analyze METHOD FILE [FILE2] [flags]\n"
      "  Analyses of a recorded dataset; numbers as JSON and CSV, figures as SVG in --out DIR.\n"
      "  animat analyze report FILE: every method that applies, in DIR/report.html.\n"
      "  animat analyze fixedpoints RUN --data FILE ...: fixed and slow points (animat fixedpoints)\n"
      "methods:\n");
  for (int i = 0; i < N_METHODS && o < n; i++)
    o += (size_t)snprintf(b + o, n - o, "  %-13s %s\n", methods[i].name, methods[i].summary);
  if (o < n)
    snprintf(b + o, n - o,
             "flags:\n"
             "  --out DIR          output directory (default: FILE without .rollout + .METHOD)\n"
             "  --module NAME      core, motor, ... (the channel NAME/output); or --channel CH\n"
             "  --channel CH       any recorded channel with f32/f64 values (e.g. core/state)\n"
             "  --module2 / --channel2   cka, rsa: the second module of FILE (else FILE2)\n"
             "  --align EV         an event name (go_cue, target_on...) or onset (kinematic)\n"
             "  --window A,B       seconds around the alignment (defaults per method)\n"
             "  --bin N            control steps per time bin (1)\n"
             "  --smooth S         Gaussian smoothing sigma in seconds (0)\n"
             "  --outcome O        success (default), all, or an outcome (abort, timeout...)\n"
             "  --where VAR=V,...  keep trials whose condition variable VAR is one of the values\n"
             "  --by VAR,...       group conditions by these condition variables (default: all);\n"
             "                     psychometric: the signed x variable (default coherence)\n"
             "  --chosen SIDE      psychometric: P(choosing the option on side variable SIDE)\n"
             "  --onset-frac F     kinematic onset threshold, fraction of peak speed (0.2)\n"
             "  --targets LIST     decode: target, hand_pos, hand_vel, choice (target,hand_vel)\n"
             "  --folds N          decode: cross-validation folds (5)\n"
             "  -k N               pca / jpca: components (3 / 6)\n"
             "  --seed N           decode, ethology: fold assignment; bandit: Thompson draws (1)\n");
}

int cmd_analyze(int argc, char** argv) {
  char usage[4096];
  usage_text(usage, sizeof usage);
  // fixed points need the checkpoint beside the recording: its own flags (animat fixedpoints)
  if (argc >= 2 && !strcmp(argv[1], "fixedpoints")) return cmd_fixedpoints(argc - 1, argv + 1);
  az_ctx c;
  memset(&c, 0, sizeof c);
  const char *module = NULL, *channel = NULL, *module2 = NULL, *channel2 = NULL, *window = NULL;
  const char* where[AZ_MAX_WHERE + 1] = {0};
  cli_strings where_list = {where, AZ_MAX_WHERE, "--where"};
  double frac = 0.2;
  c.seed = 1;
  c.sel.bin = 1;
  cli_flag flags[] = {{"out", CLI_STRING, &c.out},
                      {"module", CLI_STRING, &module},
                      {"channel", CLI_STRING, &channel},
                      {"module2", CLI_STRING, &module2},
                      {"channel2", CLI_STRING, &channel2},
                      {"align", CLI_STRING, &c.sel.align},
                      {"window", CLI_STRING, &window},
                      {"bin", CLI_INT, &c.sel.bin, 1, 1000},
                      {"smooth", CLI_DOUBLE, &c.sel.smooth, 0, 100},
                      {"outcome", CLI_STRING, &c.sel.outcome},
                      {"where", CLI_EACH, NULL, 0, 0, cli_collect, &where_list},
                      {"by", CLI_STRING, &c.by},
                      {"chosen", CLI_STRING, &c.chosen},
                      {"onset-frac", CLI_DOUBLE, &frac, 0.001, 0.999},
                      {"targets", CLI_STRING, &c.targets},
                      {"folds", CLI_INT, &c.folds, 2, 100},
                      {"k", CLI_INT, &c.k, 1, ANA_JPCA_MAX_K},
                      {"seed", CLI_U64, &c.seed}};
  const char* pos[4];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 4, &npos,
                     &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos < 2 || npos > 3) return cli_fail("analyze", "give a METHOD and a dataset FILE (animat analyze --help)"), 2;
  const method* m = NULL;
  for (int i = 0; i < N_METHODS; i++)
    if (!strcmp(pos[0], methods[i].name)) m = &methods[i];
  if (!m && strcmp(pos[0], "report")) {
    char names[256] = "";
    for (int i = 0; i < N_METHODS; i++) strcat(strcat(names, " "), methods[i].name);
    return cli_fail("analyze", "unknown method '%s' (methods:%s, report, fixedpoints)", pos[0],
                    names), 2;
  }
  c.method = m ? m->name : "report";
  c.path = pos[1];
  c.path2 = npos == 3 ? pos[2] : NULL;
  char chbuf[128], ch2buf[128], outbuf[4096];
  if (module && channel) return cli_fail("analyze", "give --module or --channel, not both"), 2;
  snprintf(chbuf, sizeof chbuf, "%s/output", module ? module : "core");
  c.sel.channel = channel ? channel : chbuf;
  if (module2) snprintf(ch2buf, sizeof ch2buf, "%s/output", module2), c.channel2 = ch2buf;
  if (channel2) c.channel2 = channel2;
  c.window_given = window != NULL;
  if (window) {
    char* end;
    c.sel.w0 = strtod(window, &end);
    if (*end != ',' || (c.sel.w1 = strtod(end + 1, &end), *end) || !(c.sel.w1 > c.sel.w0))
      return cli_fail("analyze", "--window '%s': expected START,END in seconds with START < END",
                      window), 2;
  }
  if (!c.out) {
    size_t n = strlen(c.path);
    int strip = n > 8 && !strcmp(c.path + n - 8, ".rollout");
    snprintf(outbuf, sizeof outbuf, "%.*s.%s", (int)(strip ? n - 8 : n), c.path, c.method);
    c.out = outbuf;
  }
  c.where = where;
  c.r = am_ds_open(c.path, c.err, sizeof c.err);
  if (!c.r) return cli_fail("analyze", "%s", c.err);
  rc = 1;
  if (ds_trials_open(&c.d, c.r, c.path, frac, c.err, sizeof c.err) ||
      az_parse_by(&c.sel, &c.d, c.by, c.err, sizeof c.err)) {
    cli_fail("analyze", "%s", c.err);
    goto done;
  }
  for (int i = 0; where[i]; i++)
    if (az_parse_where(&c.sel, &c.d, where[i], c.err, sizeof c.err)) {
      cli_fail("analyze", "%s", c.err);
      goto done;
    }
  if (c.sel.align && strcmp(c.sel.align, "onset") &&
      ds_find_name(c.d.events, c.d.n_events, c.sel.align) < 0) {
    cli_fail("analyze", "--align '%s': not an event of %s (events: %s) nor onset", c.sel.align,
             c.d.task, c.d.ch_events >= 0 ? am_ds_get_channel(c.r, c.d.ch_events)->labels : "none");
    goto done;
  }
  if (mkdir(c.out, 0777) && errno != EEXIST) {
    cli_fail("analyze", "cannot create the output directory %s: %s", c.out, strerror(errno));
    goto done;
  }
  if (!m) {
    rc = run_report(&c, window != NULL);
    goto done;
  }
  if (run_method(&c, m)) {
    cli_fail("analyze", "%s", c.err);
    goto done;
  }
  fwrite(c.summary.p, 1, c.summary.len, stdout);
  printf("wrote %s/%s.json, .csv and .svg\n", c.out, m->name);
  rc = 0;
done:
  am_buf_free(&c.summary);
  ana_trials_free(&c.tab);
  ds_trials_close(&c.d);
  am_ds_reader_free(c.r);
  return rc;
}
