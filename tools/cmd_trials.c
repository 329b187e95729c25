// cmd_trials.c: `animat trials FILE [--out trials.csv|trials.json]`: the trial table of a
// recorded dataset (one row per trial: episode, env, trial, condition, events, outcome, choice,
// kinematics; docs/analysis.md "Trial table") and a summary by condition.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ds_trials.h"
#include "table.h"

// Per condition: trials, success rate, median RT, mean peak speed and |max deviation|.
static void print_summary(const ds_trials* d, const ana_trials* tab) {
  const ana_trial_schema* s = &d->schema;
  int64_t complete = 0, success = 0;
  for (int64_t i = 0; i < tab->n; i++) complete += tab->rows[i].complete,
                                       success += tab->rows[i].success;
  printf("%lld trials (%lld complete), %.1f %% successful\n", (long long)tab->n,
         (long long)complete, complete ? 100.0 * success / complete : 0.0);
  // outcome counts
  printf("outcomes:");
  for (int e = -1; e < d->n_events; e++) {
    int64_t k = 0;
    const char* name = NULL;
    for (int64_t i = 0; i < tab->n; i++) {
      const ana_trial* t = &tab->rows[i];
      if (t->end_event == e && (e >= 0 || t->complete)) k++, name = ds_trial_outcome(d, t);
    }
    if (k) printf("  %s %lld", name, (long long)k);
  }
  int64_t inc = 0;
  for (int64_t i = 0; i < tab->n; i++) inc += !tab->rows[i].complete;
  if (inc) printf("  incomplete %lld", (long long)inc);
  printf("\n");
  // events: mean count per trial and the share of trials with at least one (targets collected,
  // gaps crossed, falls...)
  if (tab->n && d->n_events) {
    printf("events, rows per trial (share of trials with one):");
    for (int e = 0; e < d->n_events; e++) {
      int64_t sum = 0, with = 0;
      for (int64_t i = 0; i < tab->n; i++)
        sum += tab->rows[i].ev_count[e], with += tab->rows[i].ev_count[e] > 0;
      printf("  %s %.3g (%.0f %%)", d->events[e], (double)sum / tab->n, 100.0 * with / tab->n);
    }
    printf("\n");
  }
  // a body with a free root (the rat): its speed over the trials
  if (d->root_adr >= 0 && tab->n) {
    double sf = 0, sf2 = 0, sm = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < tab->n; i++) {
      const ana_trial* t = &tab->rows[i];
      if (!isfinite(t->forward_speed) || !isfinite(t->mean_speed)) continue;
      sf += t->forward_speed, sf2 += t->forward_speed * t->forward_speed, sm += t->mean_speed, n++;
    }
    if (n)
      printf("body: forward (+x) speed %.3f m/s (sd %.3f), speed %.3f m/s, mean over %lld trials\n",
             sf / n, n > 1 ? sqrt(fmax(0, (sf2 - sf * sf / n) / (n - 1))) : 0.0, sm / n,
             (long long)n);
  }
  if (!s->n_cond) return;
  int kin = s->eff_x >= 0 && s->go_event >= 0;
  // distinct conditions, in order of first appearance (up to 64 printed)
  enum { MAXC = 64 };
  float keys[MAXC][AM_MAX_CONDITIONS];
  int nk = 0;
  for (int64_t i = 0; i < tab->n && nk < MAXC; i++) {
    int found = 0;
    for (int k = 0; k < nk && !found; k++)
      found = !memcmp(keys[k], tab->rows[i].cond, sizeof(float) * (size_t)s->n_cond);
    if (!found) memcpy(keys[nk++], tab->rows[i].cond, sizeof(float) * (size_t)s->n_cond);
  }
  // sorted by their values (lexicographic over the condition variables)
  for (int x = 1; x < nk; x++)
    for (int y = x; y > 0; y--) {
      int c = 0;
      for (int k = 0; k < s->n_cond && !c; k++)
        c = (keys[y][k] > keys[y - 1][k]) - (keys[y][k] < keys[y - 1][k]);
      if (c >= 0) break;
      float tmp[AM_MAX_CONDITIONS];
      memcpy(tmp, keys[y], sizeof tmp), memcpy(keys[y], keys[y - 1], sizeof tmp);
      memcpy(keys[y - 1], tmp, sizeof tmp);
    }
  printf("%-28s %7s %9s", "condition", "trials", "success");
  // tasks without a reach: the mean length of the complete trials (a search's latency)
  if (kin) printf(" %9s %11s %12s", "RT (ms)", "peak (m/s)", "|dev| (mm)");
  else printf(" %11s", "length (s)");
  printf("\n");
  double* rt = malloc(sizeof(double) * (size_t)(tab->n + 1));
  for (int k = 0; k < nk && rt; k++) {
    char name[160] = "";
    size_t o = 0;
    for (int c = 0; c < s->n_cond && o < sizeof name; c++)
      o += (size_t)snprintf(name + o, sizeof name - o, "%s%s=%g", c ? " " : "",
                            d->vars[s->cond[c]], keys[k][c]);
    int64_t n = 0, ok = 0, nrt = 0, nk2 = 0;
    double peak = 0, dev = 0, len = 0;
    for (int64_t i = 0; i < tab->n; i++) {
      const ana_trial* t = &tab->rows[i];
      if (!t->complete || memcmp(keys[k], t->cond, sizeof(float) * (size_t)s->n_cond)) continue;
      n++, ok += t->success, len += ds_trial_length(d, t);
      if (t->success && isfinite(t->rt)) rt[nrt++] = t->rt;
      if (t->success && isfinite(t->peak_speed) && isfinite(t->max_dev))
        peak += t->peak_speed, dev += fabs(t->max_dev), nk2++;
    }
    printf("%-28s %7lld %8.1f%%", name, (long long)n, n ? 100.0 * ok / n : 0.0);
    if (kin)
      printf(" %9.0f %11.3f %12.1f", 1000 * ana_median(rt, (int)nrt), nk2 ? peak / nk2 : NAN,
             nk2 ? 1000 * dev / nk2 : NAN);
    else
      printf(" %11.2f", n ? len / n : NAN);
    printf("\n");
  }
  free(rt);
  if (nk == MAXC) printf("(only the first %d conditions are listed)\n", MAXC);
}

static void progress_cb(int64_t done, int64_t total, void* ctx) {
  cli_progress(ctx, done == total, "trials: %lld/%lld episodes", (long long)done,
               (long long)total);
}

int cmd_trials(int argc, char** argv) {
  const char* usage =
      "usage: animat trials FILE [--out trials.csv|trials.json] [--onset-frac F] [--quiet]\n"
      "  The trial table of a dataset: one row per trial with its episode, env, index, condition\n"
      "  (the task's condition variables), outcome, choice, the kinematics of the effector\n"
      "  (movement onset, reaction time, movement time, peak speed, path length, maximum\n"
      "  perpendicular deviation, endpoint and direction errors) or of the body's root\n"
      "  (distance, speed), and every event's time, step and count. Prints a summary by\n"
      "  condition. docs/analysis.md describes every column.\n"
      "  --out PATH       write the table (.json: {\"columns\", \"data\"}; otherwise CSV)\n"
      "  --onset-frac F   movement onset threshold, fraction of the trial's peak speed (0.2)\n"
      "  --quiet          no progress line\n";
  const char* out = NULL;
  double frac = 0.2;
  int quiet = 0;
  cli_flag flags[] = {{"out", CLI_STRING, &out},
                      {"onset-frac", CLI_DOUBLE, &frac, 0.001, 0.999},
                      {"quiet", CLI_BOOL, &quiet}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return cli_fail("trials", "give one dataset file"), 2;
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(pos[0], err, sizeof err);
  if (!r) return cli_fail("trials", "%s", err);
  ds_trials d = {0};
  ana_trials tab = {0};
  table tb = {0};
  int ncol = -1;
  rc = 1;
  cli_progress_state pg;
  cli_progress_start(&pg, quiet);
  if (ds_trials_open(&d, r, pos[0], frac, err, sizeof err) ||
      ds_trials_build(&d, &tab, progress_cb, &pg, err, sizeof err)) {
    cli_fail("trials", "%s", err);
    goto done;
  }
  cli_progress_end(&pg);
  printf("%s: task %s, %lld episodes (trial schema from the %s)\n", pos[0], d.task,
         (long long)am_ds_num_episodes(r), d.schema_source);
  print_summary(&d, &tab);
  if (out) {
    if (ds_trials_table(&d, &tab, &tb)) {
      cli_fail("trials", "out of memory");
      goto done;
    }
    ncol = tb.ncol;
    if (table_write(&tb, out, err, sizeof err)) {
      cli_fail("trials", "%s", err);
      goto done;
    }
    printf("wrote %s (%lld trials, %d columns)\n", out, (long long)tab.n, ncol);
  }
  rc = 0;
done:
  table_free(&tb);
  ana_trials_free(&tab);
  ds_trials_close(&d);
  am_ds_reader_free(r);
  return rc;
}
