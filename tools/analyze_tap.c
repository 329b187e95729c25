// analyze_tap.c: `animat analyze two-tap FILE`: the timing behaviour of the two-tap task (Kawai et
// al. 2015's rats, Merel et al. 2020's virtual rodent) from the trial table of a recording: for
// every trial with a first touch, the interval to the next touch (a counted second touch in the
// window, or one too soon), or none (no second touch by the window's end). Reports the intervals'
// histogram, their median, the share of first touches followed by a counted pair, and the share
// of second touches inside the window against what timing blind to the interval would give: a
// second touch at a uniformly random time before the window closes lands in it with probability
// (window width) / (window end).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amt_tasks.h"
#include "ana_svg.h"
#include "analyze_data.h"
#include "table.h"

#define TAP_BIN 0.04  // histogram bin (s): two control steps of the rat

// The task's interval and tolerance (s): the recording's task.params over the registry defaults.
static int tap_window(const ds_trials* d, double* interval, double* tol, char* err,
                      size_t err_sz) {
  const amt_info* info = amt_find("two-tap");
  if (!info) return am_err(err, err_sz, "two-tap: the task is not registered");
  amt_params p;
  int curriculum, staircase;
  if (ds_task_params(d, &p, err, err_sz) ||
      amt_param_double(info, &p, "interval", interval, err, err_sz) ||
      amt_param_double(info, &p, "tolerance", tol, err, err_sz) ||
      amt_param_int(info, &p, "curriculum", &curriculum, err, err_sz) ||
      amt_param_int(info, &p, "staircase", &staircase, err, err_sz))
    return -1;
  if (curriculum > 0)
    return am_err(err, err_sz, "two-tap: the recording was made with curriculum=%d (each env's "
                  "window moves with its pairs); record with --task-param curriculum=0",
                  curriculum);
  if (staircase)
    return am_err(err, err_sz, "two-tap: the recording was made with staircase=%d (each env's "
                  "window moves with its trials); record with --task-param staircase=0",
                  staircase);
  return 0;
}

int az_two_tap(ds_trials* d, const ana_trials* tab, ana_fig** fig, table* t, am_buf* json,
               am_buf* summary, char* err, size_t err_sz) {
  const char* need[4] = {"touch_first", "touch_second", "too_soon", "no_second"};
  int e[4];
  for (int k = 0; k < 4; k++)
    if ((e[k] = ds_find_name(d->events, d->n_events, need[k])) < 0)
      return am_err(err, err_sz, "two-tap needs the events touch_first, touch_second, too_soon "
                    "and no_second (task two-tap); %s has no %s", d->task, need[k]);
  double interval, tol;
  if (tap_window(d, &interval, &tol, err, err_sz)) return -1;
  // the counted steps (as the task counts them) and the decision step after the window
  int lo, hi;
  amt_two_tap_window(interval, tol, d->dt, &lo, &hi);
  const double end = (hi + 1) * d->dt;
  double* iv = malloc(sizeof(double) * (size_t)(tab->n + 1));
  if (!iv) return am_err(err, err_sz, "out of memory");
  int firsts = 0, pairs = 0, soon = 0, none = 0, n = 0;
  for (int64_t i = 0; i < tab->n; i++) {
    const ana_trial* r = &tab->rows[i];
    int f = r->ev_row[e[0]];
    if (f < 0) continue;
    int s2 = r->ev_row[e[1]], s3 = r->ev_row[e[2]];
    if (s2 >= 0) pairs++, iv[n++] = (s2 - f) * d->dt;
    else if (s3 >= 0) soon++, iv[n++] = (s3 - f) * d->dt;
    else if (r->ev_row[e[3]] >= 0) none++;
    else continue;  // cut by the episode's end before its outcome
    firsts++;
  }
  double median = ana_median(iv, n);
  double in_window = n ? (double)pairs / n : NAN;
  double chance = (hi - lo + 1) * d->dt / end;  // uniform timing over (0, end]
  int nb = (int)ceil(end / TAP_BIN) + 1;
  int* count = calloc((size_t)nb, sizeof(int));
  if (!count) return free(iv), am_err(err, err_sz, "out of memory");
  for (int k = 0; k < n; k++) {
    int b = (int)floor(iv[k] / TAP_BIN + 1e-9);
    count[b < nb ? b : nb - 1]++;
  }
  const char* cols[] = {"bin_start", "bin_end", "second_touches", "in_window"};
  table_init(t, 4, cols);
  for (int b = 0; b < nb; b++) {
    double a = b * TAP_BIN, z = (b + 1) * TAP_BIN;
    table_num(t, a), table_num(t, z), table_int(t, count[b]);
    table_int(t, a >= (lo - 0.5) * d->dt && z <= (hi + 0.5) * d->dt + 1e-9);
  }
  am_buf_printf(json, ", \"interval\": %g, \"tolerance\": %g, \"first_touches\": %d, "
                "\"pairs\": %d, \"too_soon\": %d, \"no_second\": %d, \"pair_rate\": ", interval,
                tol, firsts, pairs, soon, none);
  table_json_number(json, firsts ? (double)pairs / firsts : NAN);
  am_buf_printf(json, ", \"median_interval\": ");
  table_json_number(json, median);
  am_buf_printf(json, ", \"in_window\": ");
  table_json_number(json, in_window);
  am_buf_printf(json, ", \"in_window_uniform\": %.6g, \"table\": \"two-tap.csv\"}\n", chance);

  ana_fig* f = ana_fig_new(1, 1, 480, 300, err, err_sz);
  if (!f) return free(iv), free(count), -1;
  *fig = f;
  ana_fig_title(f, d->task);
  ana_fig_labels(f, 0, "intervals from the first touch to the next", "interval (s)",
                 "second touches");
  double wx[2] = {(lo - 0.5) * d->dt, (hi + 0.5) * d->dt}, w0[2] = {0, 0}, w1[2];
  int top = 1;
  for (int b = 0; b < nb; b++) top = count[b] > top ? count[b] : top;
  w1[0] = w1[1] = top;
  ana_fig_band(f, 0, wx, w0, w1, 2, &(ana_style){.color = ana_color_cat(2), .opacity = 0.2});
  double* bx = malloc(sizeof(double) * 2 * (size_t)(nb + 1));
  double* by = malloc(sizeof(double) * 2 * (size_t)(nb + 1));
  if (bx && by) {  // the histogram as a step outline
    for (int b = 0; b < nb; b++) {
      bx[2 * b] = b * TAP_BIN, bx[2 * b + 1] = (b + 1) * TAP_BIN;
      by[2 * b] = by[2 * b + 1] = count[b];
    }
    ana_fig_line(f, 0, bx, by, 2 * nb, &(ana_style){.color = ana_color_cat(0), .width = 2});
  }
  ana_fig_vline(f, 0, interval, NULL);
  char note[128];
  snprintf(note, sizeof note, "shaded: the counted window %.2f-%.2f s", lo * d->dt, hi * d->dt);
  ana_fig_note(f, 0, note, NULL);
  snprintf(note, sizeof note, "%d pairs, %d too soon, %d no second", pairs, soon, none);
  ana_fig_note(f, 0, note, NULL);
  ana_fig_axes(f, 0, &(ana_axes){.xmin = 0, .xmax = end + TAP_BIN, .ymin = 0, .ymax = 1.3 * top,
                                 .legend = ANA_LEGEND_NONE});
  free(bx), free(by);
  int rc = ana_fig_error(f)[0] ? am_err(err, err_sz, "%s", ana_fig_error(f)) : 0;
  am_buf_printf(summary, "two-tap: %d first touches: %d counted pairs (%.1f %%), %d too soon, %d "
                "without a second; second touches in the %.2f-%.2f s window %.3f (uniform timing "
                "%.3f); median interval %.3f s\n", firsts, pairs,
                firsts ? 100.0 * pairs / firsts : 0.0, soon, none, lo * d->dt, hi * d->dt,
                in_window, chance, median);
  free(iv), free(count);
  return rc;
}
