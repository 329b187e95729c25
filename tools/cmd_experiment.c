// cmd_experiment.c: `animat experiment NAME --out DIR`: one classic experiment end to end: train
// (or reuse --run), record with the published protocol, analyse, and write DIR/report.md with the
// figures beside the published finding, its reference and the numbers measured here
// (docs/experiments.md).
//
// Every step is this animat run as a child process (cli_run_self: the same `animat train`,
// `record`, `trials` and `analyze` a user types), its output in DIR/logs/, so the report's
// command lines reproduce each step exactly. An experiment is an entry of the table `experiments`
// and a function that runs its steps (xp_step) and writes its findings (xp_measure). While it
// runs, DIR/report.incomplete.md lists the steps done so far; DIR/report.md is written only when
// every step has run, so a stopped experiment never leaves a report claiming completion.
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "am_sim.h"
#include "cli.h"

#define XP_MAX_STEPS 24

typedef struct xp_step {
  char name[48];
  char cmd[4096];   // the command line as a user types it (`animat ...`, shell-quoted)
  char log[80];     // its output, relative to DIR
  double wall;      // seconds
  int status;       // exit status; -1 not started
  int required;     // the experiment stops when it fails
} xp_step;

typedef struct xp {
  const char* name;
  const char* out;       // DIR
  const char* run;       // the trained run: --run, else DIR/run
  const char* config;    // --config (else the experiment's file in tools/)
  uint64_t steps;        // --steps (0: the config's, or the quick default)
  int episodes;          // --episodes (0: the experiment's)
  uint64_t seed;
  int quick, quiet, force, trained_here;
  double budget;         // --budget: minutes for the whole experiment (0: none)
  double after;          // minutes the experiment needs after training (experiment.after)
  char budget_arg[32];   // the training step's --budget value
  char run_buf[4096], rollout[4096];
  char outcomes[256];    // `animat trials`' outcome counts ("success 399  timeout 1")
  xp_step st[XP_MAX_STEPS];
  int n;
  am_buf findings;       // the measured section of the report (markdown)
  am_buf figures;        // the figures section
  double t0;
} xp;

typedef struct experiment {
  const char* name;
  const char* what;      // one line for --list
  const char* runtime;   // measured full run on 2 cores (docs/experiments.md)
  double after;          // minutes its recording and analyses take after training (--budget)
  const char* finding;   // the published finding and its references (markdown)
  int (*run)(xp* x);     // NULL: not available (reason in runtime)
} experiment;

//---------------------------------- steps ---------------------------------------------------------

// Appends arg to b, single-quoted when it holds anything a shell would interpret.
static void shell_word(am_buf* b, const char* arg) {
  int plain = *arg != 0;
  for (const char* p = arg; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,/:+@%", *p))
      plain = 0;
  if (plain) {
    am_buf_printf(b, "%s", arg);
    return;
  }
  am_buf_printf(b, "'");
  for (const char* p = arg; *p; p++) am_buf_printf(b, *p == '\'' ? "'\\''" : "%c", *p);
  am_buf_printf(b, "'");
}

static void report_write(xp* x, int complete, const char* why);

// Runs `animat ARGS...` (args NULL-terminated, without "animat"), its output into
// DIR/logs/NN-name.log; records it and rewrites the incomplete report. Returns its exit status.
static int xp_step_run(xp* x, const char* name, int required, const char* const* args) {
  if (x->n == XP_MAX_STEPS) return -1;
  xp_step* s = &x->st[x->n++];
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  snprintf(s->log, sizeof s->log, "logs/%02d-%s.log", x->n, name);
  s->required = required;
  s->status = -1;
  char* argv[64] = {"animat"};
  int na = 1;
  am_buf cmd = {0};
  am_buf_printf(&cmd, "animat");
  for (int i = 0; args[i] && na < 63; i++) {
    argv[na++] = (char*)args[i];
    am_buf_printf(&cmd, " ");
    shell_word(&cmd, args[i]);
  }
  argv[na] = NULL;
  snprintf(s->cmd, sizeof s->cmd, "%.*s", (int)cmd.len, cmd.p ? (char*)cmd.p : "");
  am_buf_free(&cmd);
  char log[4200];
  snprintf(log, sizeof log, "%s/%s", x->out, s->log);
  if (!x->quiet) fprintf(stderr, "[%d] %s: %s\n", x->n, name, s->cmd);
  s->status = cli_interrupted ? 130 : cli_run_self(argv, log, &s->wall, NULL);
  if (cli_interrupted && s->status == 0) s->status = 130;  // it stopped early (train saves and exits 0)
  if (!x->quiet)
    fprintf(stderr, "    %s in %.1f s%s%s\n", s->status == 0 ? "done" : "FAILED", s->wall,
            s->status ? ": see " : "", s->status ? log : "");
  report_write(x, 0, "running");
  return s->status;
}
#define XP_STEP(x, name, required, ...) \
  xp_step_run((x), (name), (required), (const char* const[]){__VA_ARGS__, NULL})

// What step s printed (NUL-terminated, malloc'd), or NULL.
static char* step_log(const xp* x, const xp_step* s) {
  char p[4200], err[AM_ERR_LEN];
  snprintf(p, sizeof p, "%s/%s", x->out, s->log);
  return am_read_text(p, NULL, err, sizeof err);
}

// The text of DIR/file (malloc'd), or NULL.
static char* json_text(const xp* x, const char* file) {
  char p[4200], err[AM_ERR_LEN];
  snprintf(p, sizeof p, "%s/%s", x->out, file);
  return am_read_text(p, NULL, err, sizeof err);
}

// A number from a JSON file the analyses wrote: key is "name" or "object.name" (the first
// occurrence of each part, in order); null, a missing file or key give NAN.
static double json_number(const xp* x, const char* file, const char* key) {
  char part[64];
  char* text = json_text(x, file);
  if (!text) return NAN;
  const char* at = text;
  double v = NAN;
  for (const char* k = key; at && *k;) {
    size_t n = strcspn(k, ".");
    snprintf(part, sizeof part, "\"%.*s\":", (int)n, k);
    at = strstr(at, part);
    if (at) at += strlen(part);
    k += n + (k[n] == '.');
  }
  if (at) {
    char* end;
    double d = strtod(at, &end);
    if (end != at) v = d;
  }
  free(text);
  return v;
}

// A number of json_number's array "key": its element i.
static double json_element(const xp* x, const char* file, const char* key, int i) {
  char pat[64];
  char* text = json_text(x, file);
  if (!text) return NAN;
  snprintf(pat, sizeof pat, "\"%s\": [", key);
  const char* at = strstr(text, pat);
  double v = NAN;
  if (at) {
    at += strlen(pat);
    for (int k = 0; k <= i && at; k++) {
      char* end;
      double d = strtod(at, &end);
      if (end == at) break;
      if (k == i) v = d;
      at = strchr(end, ',');
      if (at) at++;
    }
  }
  free(text);
  return v;
}

// The lines a step printed, without the progress lines ("...: 12/400 episodes") and the list of
// written files, into the report as a code block.
static void quote_log(xp* x, am_buf* b, const xp_step* s) {
  char* t = step_log(x, s);
  if (!t) return;
  am_buf_printf(b, "\n```\n$ %s\n", s->cmd);
  for (char* line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
    const char* p = line;  // "[name: ]N/M ...": a progress line
    const char* colon = strstr(line, ": ");
    if (colon && colon < line + 24) p = colon + 2;
    int a, c;
    if (sscanf(p, "%d/%d", &a, &c) == 2) continue;
    if (!strncmp(line, "wrote ", 5)) continue;
    am_buf_printf(b, "%s\n", line);
  }
  am_buf_printf(b, "```\n");
  free(t);
}

static const xp_step* find_step(const xp* x, const char* name) {
  for (int i = 0; i < x->n; i++)
    if (!strcmp(x->st[i].name, name)) return &x->st[i];
  return NULL;
}

// A measured row of the findings table: text, or why it is missing (text NULL: not a number).
static void row_text(xp* x, const char* what, const char* published, const char* step,
                     const char* text) {
  const xp_step* s = find_step(x, step);
  am_buf_printf(&x->findings, "| %s | %s | ", what, published);
  if (!s || s->status)
    am_buf_printf(&x->findings, "not measured (`%s` %s) |\n", step,
                  s ? "did not apply: its output is below" : "did not run");
  else am_buf_printf(&x->findings, "%s |\n", text ? text : "n/a");
}

static void row(xp* x, const char* what, const char* published, const char* step, double v,
                const char* fmt) {
  char t[128];
  snprintf(t, sizeof t, fmt, v);
  row_text(x, what, published, step, isfinite(v) ? t : NULL);
}

// Adds DIR/analysis/LABEL/METHOD.svg to the figures (when the step produced it).
static void figure(xp* x, const char* label, const char* method, const char* caption) {
  char rel[256], p[4400];
  snprintf(rel, sizeof rel, "analysis/%s/%s.svg", label, method);
  snprintf(p, sizeof p, "%s/%s", x->out, rel);
  if (access(p, R_OK)) return;
  am_buf_printf(&x->figures, "\n**%s** (`%s`)\n\n![%s](%s)\n", caption, rel, caption, rel);
}

// `animat analyze METHOD ROLLOUT --outcome O --out DIR/analysis/LABEL [extra...]`: never required
// (an analysis that does not apply to what the agent did is reported as not measured).
static int xp_analyze(xp* x, const char* label, const char* method, const char* outcome,
                      const char* const* extra) {
  char out[4200];
  snprintf(out, sizeof out, "%s/analysis/%s", x->out, label);
  const char* args[40] = {"analyze", method, x->rollout, "--outcome", outcome, "--out", out};
  int n = 7;
  for (int i = 0; extra && extra[i] && n < 39; i++) args[n++] = extra[i];
  args[n] = NULL;
  return xp_step_run(x, label, 0, args);
}
#define XP_ANALYZE(x, label, method, outcome, ...) \
  xp_analyze((x), (label), (method), (outcome), (const char* const[]){__VA_ARGS__ NULL})

//---------------------------------- shared steps ---------------------------------------------------

// A training configuration shipped in tools/ (beside bodies/, as am_bodies_dir finds it).
static int config_path(const char* file, char* out, size_t n) {
  char p[PATH_MAX], real[PATH_MAX];
  snprintf(p, sizeof p, "%s/../tools/%s", am_bodies_dir(), file);
  snprintf(out, n, "%.*s", (int)n - 1, realpath(p, real) ? real : p);
  return access(out, R_OK) ? -1 : 0;
}

// --budget: the minutes a training step may take, `share` of what is left of the budget once the
// experiment's time after training is kept aside (--budget of `animat train`); NULL without a
// budget (at least 0.01 min: a step that starts late trains one iteration).
static const char* train_budget(xp* x, double share) {
  if (x->budget <= 0) return NULL;
  double left = (x->budget - x->after - (am_now() - x->t0) / 60) * share;
  if (left < 0.01) left = 0.01;
  snprintf(x->budget_arg, sizeof x->budget_arg, "%.2f", left);
  return x->budget_arg;
}

// Trains DIR/run with config (plus extra flags) unless --run gave a trained run. quick_steps:
// the training length of --quick.
static int xp_train(xp* x, const char* config, uint64_t quick_steps, const char* const* extra) {
  if (!x->trained_here) return 0;
  char steps[32] = "";
  uint64_t n = x->steps ? x->steps : x->quick ? quick_steps : 0;
  if (n) snprintf(steps, sizeof steps, "%llu", (unsigned long long)n);
  char seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)x->seed);
  const char* args[40] = {"train", "--config", config, "--out", x->run, "--seed", seed};
  int k = 7;
  if (n) args[k++] = "--steps", args[k++] = steps;
  const char* b = train_budget(x, 1);
  if (b) args[k++] = "--budget", args[k++] = b;
  for (int i = 0; extra && extra[i] && k < 39; i++) args[k++] = extra[i];
  args[k] = NULL;
  return xp_step_run(x, "train", 1, args);
}

// The trial table (DIR/trials.csv) and its success rate (from `animat trials`' summary).
static int xp_trials(xp* x, double* success_pct) {
  char out[4200];
  snprintf(out, sizeof out, "%s/trials.csv", x->out);
  int rc = XP_STEP(x, "trials", 1, "trials", x->rollout, "--out", out);
  *success_pct = NAN;
  char* t = rc ? NULL : step_log(x, &x->st[x->n - 1]);
  for (char* line = t ? strtok(t, "\n") : NULL; line; line = strtok(NULL, "\n")) {
    long long n, c;
    double pct;
    if (sscanf(line, "%lld trials (%lld complete), %lf %% successful", &n, &c, &pct) == 3)
      *success_pct = pct;
    if (!strncmp(line, "outcomes:", 9))
      snprintf(x->outcomes, sizeof x->outcomes, "%s", line + 9 + strspn(line + 9, " "));
  }
  free(t);
  return rc;
}

// The run's training settings (its config.txt) for the report.
static void run_settings(const xp* x, am_buf* b) {
  char p[4200], err[AM_ERR_LEN];
  snprintf(p, sizeof p, "%s/config.txt", x->run);
  char* t = am_read_text(p, NULL, err, sizeof err);
  if (!t) return;
  for (char* line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
    char k[64], v[512];
    if (am_kv_split(line, k, sizeof k, v, sizeof v)) continue;
    if (!strcmp(k, "task") || !strcmp(k, "task_params") || !strcmp(k, "total_steps") ||
        !strcmp(k, "seed"))
      am_buf_printf(b, "%s`%s = %s`", strcmp(k, "task") ? ", " : "", k, v);
  }
  free(t);
}

//---------------------------------- the experiments ------------------------------------------------

static int xp_center_out(xp* x) {
  char cfg[4096];
  if (x->config) snprintf(cfg, sizeof cfg, "%s", x->config);
  else if (config_path("reach.cfg", cfg, sizeof cfg))
    return cli_fail("experiment", "cannot find the training configuration %s", cfg);
  // --quick: 400k steps, so that some fresh trials hold through the delay to the go cue (the
  // analyses align on it); at 200k whether any does depends on the CPU's rounding
  if (xp_train(x, cfg, 400000, NULL)) return 1;
  char eps[32], seed[32];
  snprintf(eps, sizeof eps, "%d", x->episodes ? x->episodes : x->quick ? 200 : 400);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)x->seed);
  // Georgopoulos et al. 1982: fresh trials to each of 8 targets; the trained policy's mean action
  if (XP_STEP(x, "record", 1, "record", x->run, "--deterministic", "--task-param", "curriculum=0",
              "--episodes", eps, "--seed", seed, "--out", x->rollout, "--force"))
    return 1;
  double success;
  if (xp_trials(x, &success)) return 1;
  // the published analyses use correct trials; a --quick agent has too few of them
  const char* oc = x->quick ? "all" : "success";
  XP_ANALYZE(x, "tuning", "tuning", oc, );
  XP_ANALYZE(x, "prep-tuning", "tuning", oc, "--align", "go_cue", "--window", "-0.1,0",);
  XP_ANALYZE(x, "prep-decode", "decode", oc, "--align", "go_cue", "--window", "-0.2,0",
             "--targets", "target",);
  XP_ANALYZE(x, "psth", "psth", oc, );
  XP_ANALYZE(x, "jpca", "jpca", oc, );

  am_buf* f = &x->findings;
  am_buf_printf(f, "| quantity | published | measured here |\n|---|---|---|\n");
  row(x, "successful trials", "trained monkeys: nearly all", "trials", success, "%.1f %%");
  row_text(x, "trial outcomes", "", "trials", x->outcomes);
  double tuned = json_number(x, "analysis/tuning/tuning.json", "tuned_units");
  double units = json_number(x, "analysis/tuning/tuning.json", "units");
  char t[128];
  snprintf(t, sizeof t, "%.0f %% (%.0f of %.0f core units)", 100 * tuned / units, tuned, units);
  row_text(x, "units cosine-tuned around movement onset (F test p < 0.05)",
           "241 of 323 arm-related M1 cells (75 %) [1]", "tuning", isfinite(tuned / units) ? t : NULL);
  row(x, "mean R² of the cosine fit", "most tuned cells fit well [1]", "tuning",
      json_number(x, "analysis/tuning/tuning.json", "mean_r2"), "%.3f");
  row(x, "preferred directions: Rayleigh p (uniform if large)",
      "spread over all directions [1]", "tuning",
      json_number(x, "analysis/tuning/tuning.json", "rayleigh.p"), "%.3g");
  row(x, "population vector: mean absolute angular error over the 8 targets",
      "points in the movement direction [2]", "tuning",
      json_number(x, "analysis/tuning/tuning.json", "mean_abs_error_deg"), "%.1f°");
  double pt = json_number(x, "analysis/prep-tuning/tuning.json", "tuned_units");
  double pu = json_number(x, "analysis/prep-tuning/tuning.json", "units");
  snprintf(t, sizeof t, "%.0f %% (%.0f of %.0f)", 100 * pt / pu, pt, pu);
  row_text(x, "units tuned in the last 100 ms before the go cue (preparatory)",
           "direction-specific delay activity [3, 4]", "prep-tuning", isfinite(pt / pu) ? t : NULL);
  const char* dj = "analysis/prep-decode/decode.json";
  double r2x = json_element(x, dj, "best_r2", 0), r2y = json_element(x, dj, "best_r2", 1);
  snprintf(t, sizeof t, "x %.3f, y %.3f", r2x, r2y);
  row_text(x, "target position decoded from core activity in the 200 ms before the go cue "
           "(best held-out R² of the bins)", "the target can be read out before movement [4]",
           "prep-decode", isfinite(r2x) && isfinite(r2y) ? t : NULL);
  double full = json_number(x, "analysis/jpca/jpca.json", "r2_full");
  double skew = json_number(x, "analysis/jpca/jpca.json", "r2_skew");
  row(x, "jPCA: R² of the skew-symmetric (rotational) fit / unconstrained fit",
      "most of it: rotations dominate in M1 and PMd [4]", "jpca", skew / full, "%.2f");
  row(x, "jPCA: R² unconstrained", "", "jpca", full, "%.3f");
  row(x, "jPCA: rotation frequency of plane 1", "about 1-2 Hz [4]", "jpca",
      json_element(x, "analysis/jpca/jpca.json", "freq_hz", 0), "%.2f Hz");
  if (x->quick)
    am_buf_printf(f, "\n--quick: a short training (the agent barely reaches), analyses over all "
                  "trials (`--outcome all`) instead of the successful ones. The numbers test the "
                  "pipeline, not the finding.\n");

  figure(x, "tuning", "tuning", "Cosine tuning around movement onset, preferred directions, population vector");
  figure(x, "prep-tuning", "tuning", "Tuning in the last 100 ms before the go cue");
  figure(x, "psth", "psth", "Activity aligned on the go cue, by target");
  figure(x, "jpca", "jpca", "Rotational dynamics: the first jPC plane");
  figure(x, "prep-decode", "decode", "Target decoded from delay activity");
  return 0;
}

static int xp_decision(xp* x) {
  char cfg[4096], fine[4096];
  const char* extra[8] = {NULL};
  const char* how = "the configuration given with --config";
  int two_stage = 0;
  if (x->config) snprintf(cfg, sizeof cfg, "%s", x->config);
  else if (!config_path("decision.cfg", cfg, sizeof cfg)) {
    how = "tools/decision.cfg, then tools/decision-finetune.cfg (docs/tasks.md, decision-reach)";
    two_stage = !config_path("decision-finetune.cfg", fine, sizeof fine);
  } else {
    how = "tools/reach.cfg on decision-reach's default parameters (there is no tools/decision.cfg "
          "yet)";
    // no tuned configuration yet: the reach settings on decision-reach's own defaults
    if (config_path("reach.cfg", cfg, sizeof cfg))
      return cli_fail("experiment", "cannot find the training configuration %s", cfg);
    extra[0] = "--task", extra[1] = "decision-reach";
    if (!x->steps && !x->quick) extra[2] = "--steps", extra[3] = "2000000";
  }
  char eps[32], seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)x->seed);
  if (two_stage && x->trained_here) {  // stage 1 into DIR/run-1, stage 2 from it into DIR/run
    char run1[4200], load[4300], steps[32];
    snprintf(run1, sizeof run1, "%s/run-1", x->out);
    snprintf(load, sizeof load, "load_path=%s/checkpoint.bin", run1);
    uint64_t n = x->steps ? x->steps : x->quick ? 200000 : 0;
    snprintf(steps, sizeof steps, "%llu", (unsigned long long)n);
    const char* a1[16] = {"train", "--config", cfg, "--out", run1, "--seed", seed, "--force"};
    const char* a2[16] = {"train", "--config", fine, "--set", load, "--out", x->run, "--seed", seed};
    int k1 = 8, k2 = 9;
    if (n) a1[k1++] = "--steps", a1[k1++] = steps, a2[k2++] = "--steps", a2[k2++] = steps;
    const char* b = train_budget(x, 2.0 / 3);  // stage 1 takes 6M of the 9M steps
    if (b) a1[k1++] = "--budget", a1[k1++] = b;
    if (xp_step_run(x, "train-1", 1, a1)) return 1;
    if ((b = train_budget(x, 1))) a2[k2++] = "--budget", a2[k2++] = b;
    if (xp_step_run(x, "train", 1, a2)) return 1;
  } else if (xp_train(x, cfg, 200000, extra)) {
    return 1;
  }
  snprintf(eps, sizeof eps, "%d", x->episodes ? x->episodes : x->quick ? 200 : 2000);
  // the run's own task parameters (variant, coherences), without the training curriculum, with
  // the policy's mean action (2000 fresh trials, as in docs/tasks.md)
  if (XP_STEP(x, "record", 1, "record", x->run, "--deterministic", "--task-param", "curriculum=0",
              "--episodes", eps, "--seed", seed, "--out", x->rollout, "--force"))
    return 1;
  double success;
  if (xp_trials(x, &success)) return 1;
  XP_ANALYZE(x, "psychometric", "psychometric", "all", );
  XP_ANALYZE(x, "psth", "psth", "all", "--align", "stim_on", "--window", "-0.1,0.8", "--by",
             "coherence",);

  am_buf* f = &x->findings;
  if (x->trained_here) am_buf_printf(f, "Trained with %s.\n\n", how);
  const char* pj = "analysis/psychometric/psychometric.json";
  am_buf_printf(f, "| quantity | published | measured here |\n|---|---|---|\n");
  row(x, "successful trials", "monkeys: ~50 % correct at 0 % coherence, ~100 % at 51.2 % [5]",
      "trials", success, "%.1f %%");
  row_text(x, "trial outcomes", "", "trials", x->outcomes);
  row(x, "trials with a choice", "every trial", "psychometric", json_number(x, pj, "trials"),
      "%.0f");
  row(x, "psychometric slope (logistic scale, coherence units; smaller is steeper)",
      "accuracy rises with coherence [5]", "psychometric", json_number(x, pj, "slope"), "%.3g");
  row(x, "bias", "about 0", "psychometric", json_number(x, pj, "bias"), "%.3g");
  row(x, "lapse", "small", "psychometric", json_number(x, pj, "lapse"), "%.3f");
  row(x, "Spearman ρ(RT, \\|coherence\\|)", "negative: RT falls as coherence rises [5]",
      "psychometric", json_number(x, pj, "chronometric_rho"), "%.3f");
  const xp_step* ps = find_step(x, "psychometric");
  if (ps && ps->status)
    am_buf_printf(f, "\n**What the agent does.** The psychometric analysis did not apply (its "
                  "output is below): the agent does not perform the task (%.1f %% of trials "
                  "successful; outcomes: %s), so there are no psychometric or chronometric curves "
                  "to compare with the published ones.\n", success, x->outcomes);
  else if (isfinite(success) && success < 60)
    am_buf_printf(f, "\n**What the agent does.** %.1f %% of trials successful: near chance or "
                  "below; the curves describe an agent that has not learned the task.\n", success);
  figure(x, "psychometric", "psychometric", "Psychometric and chronometric curves");
  figure(x, "psth", "psth", "Activity aligned on stimulus onset, by signed coherence");
  return 0;
}

// A number of block b in an adaptation.json (`animat analyze adaptation`): key of the object
// {"block": b, ...}; NAN when missing or null.
static double json_block(const xp* x, const char* file, int b, const char* key) {
  char pat[64];
  char* text = json_text(x, file);
  if (!text) return NAN;
  snprintf(pat, sizeof pat, "{\"block\": %d,", b);
  const char* at = strstr(text, pat);
  const char* end = at ? strchr(at, '}') : NULL;
  double v = NAN;
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  at = at ? strstr(at, pat) : NULL;
  if (at && at < end) {
    char* e;
    double d = strtod(at + strlen(pat), &e);
    if (e != at + strlen(pat)) v = d;
  }
  free(text);
  return v;
}

// Force-field adaptation (Shadmehr & Mussa-Ivaldi 1994) and visuomotor rotation (Krakauer et al.
// 2000): the trained reacher runs the shipped protocol (baseline, perturbation, washout, a second
// exposure, washout) learning in session (`animat session`), then again with fixed weights as the
// control. --quick: 4 envs and blocks of 3/6/3/6/3 trials.
static int xp_adaptation(xp* x, const char* protocol, int rotation) {
  char cfg[4096], proto[4300];
  if (x->config) snprintf(cfg, sizeof cfg, "%s", x->config);
  else if (config_path("reach.cfg", cfg, sizeof cfg))
    return cli_fail("experiment", "cannot find the training configuration %s", cfg);
  char rel[128];
  snprintf(rel, sizeof rel, "protocols/%s", protocol);
  if (config_path(rel, proto, sizeof proto))
    return cli_fail("experiment", "cannot find the protocol %s", proto);
  if (x->quick) {  // the protocol's keys with short blocks and 4 envs
    char err[AM_ERR_LEN], qp[4200];
    char* text = am_read_text(proto, NULL, err, sizeof err);
    if (!text) return cli_fail("experiment", "%s", err);
    am_buf q = {0};
    const int len[5] = {3, 6, 3, 6, 3};
    int k = 0;
    for (char* line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
      char key[64], v[512];
      int kv = am_kv_split(line, key, sizeof key, v, sizeof v);
      if (!kv && !strcmp(key, "block") && k < 5) {
        char name[64];
        double val;
        if (sscanf(v, "%63s %*d %lf", name, &val) == 2)
          am_buf_printf(&q, "block = %s %d %g\n", name, len[k++], val);
      } else if (kv || strcmp(key, "envs")) {
        am_buf_printf(&q, "%s\n", line);
      }
    }
    am_buf_printf(&q, "envs = 4\n");
    free(text);
    snprintf(qp, sizeof qp, "%s/quick.protocol", x->out);
    int rc = am_write_file_atomic(qp, q.p, q.len, err, sizeof err);
    am_buf_free(&q);
    if (rc) return cli_fail("experiment", "%s", err);
    snprintf(proto, sizeof proto, "%s", qp);
  }
  if (xp_train(x, cfg, 200000, NULL)) return 1;
  char seed[48], learn[4000], fixed[4000];
  snprintf(seed, sizeof seed, "seed=%llu", (unsigned long long)x->seed);
  snprintf(learn, sizeof learn, "%s/analysis/session", x->out);
  snprintf(fixed, sizeof fixed, "%s/analysis/session-fixed", x->out);
  snprintf(x->rollout, sizeof x->rollout, "%s/session.rollout", learn);
  if (XP_STEP(x, "session", 1, "session", x->run, "--protocol", proto, "--out", learn, "--set",
              seed, "--force", "--quiet"))
    return 1;
  double success;
  if (xp_trials(x, &success)) return 1;
  XP_STEP(x, "session-fixed", 0, "session", x->run, "--protocol", proto, "--out", fixed, "--set",
          seed, "--set", "learning=none", "--set", "record=behaviour", "--force", "--quiet");
  const char* lj = "analysis/session/adaptation/adaptation.json";
  const char* fj = "analysis/session-fixed/adaptation/adaptation.json";
  double sc = rotation ? 1 : 1000;  // deviation in mm, direction error in deg
  const char* unit = rotation ? "°" : " mm";
  const char* what = rotation ? "direction error" : "signed maximum deviation";
  am_buf* f = &x->findings;
  am_buf_printf(f, "Measure: the %s of each trial (mean over the session's envs; "
                "`animat analyze adaptation`). Learning: PPO on the session's own experience "
                "(the protocol's learner keys); control: the same protocol and seed with fixed "
                "weights.\n\n", what);
  am_buf_printf(f, "| quantity | published | learning in session | fixed weights |\n"
                "|---|---|---|---|\n");
  const char* L = "session";
  const char* F = "session-fixed";
  const xp_step* sl = find_step(x, L);
  const xp_step* sf = find_step(x, F);
  struct { const char* q; const char* pub; int block; const char* key; double scale; const char* u; } rows[] = {
      {"baseline (mean of block 0)", "near 0", -1, "baseline", sc, unit},
      {"first 3 trials of the first exposure", "large, in the perturbation's direction", 1,
       "first3", sc, unit},
      {"last 10 trials of the first exposure", "small: the error is compensated", 1, "last10", sc,
       unit},
      {"error reduction (first 3 - last 10) / (first 3 - baseline)", "close to 1", 1,
       "error_reduction", 1, ""},
      {"first 3 washout trials", "opposite to the first exposure's error (after-effect)", 2,
       "first3", sc, unit},
      {"after-effect ratio (washout - baseline) / (first exposure - baseline)",
       "negative (opposite side)", 2, "aftereffect_ratio", 1, ""},
      {"last 10 washout trials", "back near baseline", 2, "last10", sc, unit},
      {"savings (1 - mean \\|error\\| of the second exposure's first 10 / the first's)",
       "positive: faster relearning", 3, "savings", 1, ""}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    double v[2];
    const char* file[2] = {lj, fj};
    for (int k = 0; k < 2; k++)
      v[k] = rows[i].block < 0 ? json_number(x, file[k], rows[i].key)
                               : json_block(x, file[k], rows[i].block, rows[i].key);
    am_buf_printf(f, "| %s | %s |", rows[i].q, rows[i].pub);
    const xp_step* st[2] = {sl, sf};
    for (int k = 0; k < 2; k++) {
      if (!st[k] || st[k]->status || !isfinite(v[k])) am_buf_printf(f, " n/a |");
      else am_buf_printf(f, " %.2f%s |", v[k] * rows[i].scale, rows[i].u);
    }
    am_buf_printf(f, "\n");
  }
  if (isfinite(success))  // a row of the four-column table (the fixed session's cell is empty)
    am_buf_printf(f, "| successful trials in the learning session | | %.1f %% | |\n", success);
  else
    am_buf_printf(f, "| successful trials in the learning session | | n/a | |\n");
  if (x->quick)
    am_buf_printf(f, "\n--quick: a short training and blocks of 3/6/3/6/3 trials on 4 envs; the "
                  "numbers test the pipeline, not the finding.\n");
  figure(x, "session/adaptation", "adaptation", "Error by trial, learning in session");
  figure(x, "session-fixed/adaptation", "adaptation", "Error by trial, fixed weights (control)");
  return 0;
}
static int xp_force_field(xp* x) { return xp_adaptation(x, "force-field.protocol", 0); }
static int xp_rotation(xp* x) { return xp_adaptation(x, "rotation.protocol", 1); }

// Meta-RL (Wang et al. 2018): the bandit and the two-step task, body-less with a categorical
// head (tools/bandit.cfg, tools/two-step.cfg). Recording samples the policy's choices (as in
// training and as the published agents act) on fresh episodes; the analysis compares the bandit
// agent's regret with Thompson sampling and a random chooser on the same episodes, and measures
// the two-step agent's stay probabilities.
static int xp_metarl(xp* x, int two_step) {
  char cfg[4096];
  const char* file = two_step ? "two-step.cfg" : "bandit.cfg";
  if (x->config) snprintf(cfg, sizeof cfg, "%s", x->config);
  else if (config_path(file, cfg, sizeof cfg))
    return cli_fail("experiment", "cannot find the training configuration %s", cfg);
  if (xp_train(x, cfg, 300000, NULL)) return 1;
  char eps[32], seed[32];
  snprintf(eps, sizeof eps, "%d", x->episodes ? x->episodes : x->quick ? 100 : 1000);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)x->seed + 1000);  // fresh episodes
  if (XP_STEP(x, "record", 1, "record", x->run, "--episodes", eps, "--seed", seed, "--out",
              x->rollout, "--force"))
    return 1;
  double success;
  if (xp_trials(x, &success)) return 1;
  const char* method = two_step ? "two-step" : "bandit";
  XP_ANALYZE(x, method, method, "all", );
  am_buf* f = &x->findings;
  char j[64], t[160];
  snprintf(j, sizeof j, "analysis/%s/%s.json", method, method);
  am_buf_printf(f, "| quantity | published | measured here |\n|---|---|---|\n");
  row(x, "rewarded trials", "", "trials", success, "%.1f %%");
  if (!two_step) {
    double a = json_number(x, j, "cum_regret.agent"), se = json_number(x, j, "agent_sem");
    snprintf(t, sizeof t, "%.2f (sem %.2f)", a, se);
    row_text(x, "cumulative expected regret over the episode: agent",
             "close to Thompson sampling and Gittins indices, far below random [8]", method,
             isfinite(a) ? t : NULL);
    row(x, "cumulative expected regret: Thompson sampling, same episodes", "", method,
        json_number(x, j, "cum_regret.thompson"), "%.2f");
    row(x, "cumulative expected regret: random chooser, same episodes", "", method,
        json_number(x, j, "cum_regret.random"), "%.2f");
    row(x, "P(better arm), first 10 trials of the episode (weights fixed)",
        "rises within the episode: learning by the recurrent activity [8]", method,
        json_number(x, j, "p_best.agent_first10"), "%.3f");
    row(x, "P(better arm), last 10 trials", "", method, json_number(x, j, "p_best.agent_last10"),
        "%.3f");
  } else {
    const char* cell[4][2] = {{"rewarded, common", "p_stay.rewarded_common"},
                              {"rewarded, rare", "p_stay.rewarded_rare"},
                              {"unrewarded, common", "p_stay.unrewarded_common"},
                              {"unrewarded, rare", "p_stay.unrewarded_rare"}};
    const char* pub[4] = {"high", "lower than after common (model-based) [9, 8]",
                          "lower than after rare (model-based) [9, 8]", "high"};
    for (int k = 0; k < 4; k++) {
      snprintf(t, sizeof t, "P(stay) after %s", cell[k][0]);
      row(x, t, pub[k], method, json_number(x, j, cell[k][1]), "%.3f");
    }
    double mb = json_number(x, j, "model_based_index"), se = json_number(x, j, "model_based_se");
    snprintf(t, sizeof t, "%.3f +- %.3f", mb, se);
    row_text(x, "model-based index (reward x transition interaction)",
             "positive: the transition structure is used [9, 8]", method, isfinite(mb) ? t : NULL);
    row(x, "model-free index (main effect of reward)", "small for a model-based agent [8]",
        method, json_number(x, j, "model_free_index"), "%.3f");
  }
  if (x->quick)
    am_buf_printf(f, "\n--quick: a short training and 100 episodes; the numbers test the "
                  "pipeline, not the finding.\n");
  figure(x, method, method, two_step ? "Stay probability by reward and transition"
                                     : "Cumulative regret and P(better arm) by trial");
  return 0;
}
static int xp_bandit(xp* x) { return xp_metarl(x, 0); }
static int xp_two_step(xp* x) { return xp_metarl(x, 1); }

static const char* const references =
    "1. Georgopoulos AP, Kalaska JF, Caminiti R, Massey JT (1982). On the relations between the "
    "direction of two-dimensional arm movements and cell discharge in primate motor cortex. "
    "J Neurosci 2:1527-1537.\n"
    "2. Georgopoulos AP, Schwartz AB, Kettner RE (1986). Neuronal population coding of movement "
    "direction. Science 233:1416-1419.\n"
    "3. Tanji J, Evarts EV (1976). Anticipatory activity of motor cortex neurons in relation to "
    "direction of an intended movement. J Neurophysiol 39:1062-1068.\n"
    "4. Churchland MM, Cunningham JP, Kaufman MT, Foster JD, Nuyujukian P, Ryu SI, Shenoy KV "
    "(2012). Neural population dynamics during reaching. Nature 487:51-56.\n"
    "5. Roitman JD, Shadlen MN (2002). Response of neurons in the lateral intraparietal area "
    "during a combined visual discrimination reaction time task. J Neurosci 22:9475-9489.\n"
    "6. Shadmehr R, Mussa-Ivaldi FA (1994). Adaptive representation of dynamics during learning "
    "of a motor task. J Neurosci 14:3208-3224.\n"
    "7. Krakauer JW, Pine ZM, Ghilardi MF, Ghez C (2000). Learning of visuomotor transformations "
    "for vectorial planning of reaching trajectories. J Neurosci 20:8916-8924.\n"
    "8. Wang JX, Kurth-Nelson Z, Kumaran D, Tirumala D, Soyer H, Leibo JZ, Hassabis D, Botvinick "
    "M (2018). Prefrontal cortex as a meta-reinforcement learning system. Nat Neurosci "
    "21:860-868.\n"
    "9. Daw ND, Gershman SJ, Seymour B, Dayan P, Dolan RJ (2011). Model-based influences on "
    "humans' choices and striatal prediction errors. Neuron 69:1204-1215.\n";

static const experiment experiments[] = {
    {"center-out", "delayed center-out reaching: cosine tuning, preparatory activity, jPCA",
     "11 min (training 4M steps: 651 s)", 1.5,
     "Motor cortex cells fire most for movements in one preferred direction and less the further "
     "the movement is from it, following a cosine: 75 % of arm-related M1 cells are tuned, and "
     "their preferred directions cover the circle [1]; the population vector (preferred directions "
     "weighted by the rate changes) points in the direction of movement [2]. During an instructed "
     "delay, before any movement, activity is already specific to the upcoming direction [3, 4]. "
     "Around movement onset the population state rotates: a linear dynamical system with a "
     "skew-symmetric matrix (jPCA) captures most of what an unconstrained one does, at about "
     "1-2 Hz, all conditions rotating the same way [4].",
     xp_center_out},
    {"decision", "perceptual decision on decision-reach: psychometric and chronometric curves",
     "35 min (2 stages, 9M steps: 2063 s)", 1.5,
     "Monkeys viewing random-dot motion choose its direction correctly more often the stronger "
     "the motion (~50 % at 0 % coherence, ~100 % at 51.2 %) and, in the reaction-time version, "
     "respond sooner the stronger the motion [5]: the psychometric and chronometric curves.",
     xp_decision},
    {"force-field", "force-field adaptation with after-effects and savings (animat session)",
     "train + 1.5 min (sessions: 84 s)", 3,
     "Reaches in a velocity-dependent curl field deviate, straighten over the field block, and "
     "deviate the opposite way when the field is removed (after-effects) [6]; a second exposure "
     "is learnt faster (savings).", xp_force_field},
    {"rotation", "visuomotor rotation: adaptation of the reach direction (animat session)",
     "train + 9 min (sessions 330+200 s)", 12,
     "With the visual feedback rotated (e.g. 30°), the initial direction error falls over the "
     "block and comes back opposite after it [7].", xp_rotation},
    {"bandit", "meta-RL two-armed bandit: regret vs Thompson sampling, adaptation in-episode",
     "3 min (training 3M steps: 139 s)", 1,
     "A recurrent network trained by reinforcement learning on many bandit problems (reward "
     "probabilities drawn per episode) learns, with its weights then fixed, to explore and "
     "exploit within each new episode through its activity alone: its cumulative regret is close "
     "to that of Thompson sampling and Gittins indices, and on dependent arms (p1 = 1 - p2) it "
     "exploits the structure [8].", xp_bandit},
    {"two-step", "meta-RL two-step task: stay probabilities, model-based signature",
     "7 min (training 6M steps: 370 s)", 1,
     "In the two-step task a first-stage choice leads to one of two second-stage states by a "
     "common (0.8) or rare (0.2) transition. A model-free learner repeats rewarded choices "
     "whatever the transition; a model-based one repeats a choice rewarded after a common "
     "transition but switches after a rewarded rare one (and the reverse after no reward): the "
     "reward x transition interaction of the stay probability [9]. The meta-RL agent shows the "
     "model-based pattern [8].", xp_two_step},
};
#define N_EXPERIMENTS ((int)(sizeof experiments / sizeof experiments[0]))

//---------------------------------- the report -----------------------------------------------------

// DIR/report.md when complete, else DIR/report.incomplete.md saying why (atomically, each time a
// step ends).
static void report_write(xp* x, int complete, const char* why) {
  const experiment* e = NULL;
  for (int i = 0; i < N_EXPERIMENTS; i++)
    if (!strcmp(experiments[i].name, x->name)) e = &experiments[i];
  am_buf b = {0};
  double total = 0;
  for (int i = 0; i < x->n; i++) total += x->st[i].wall;
  time_t now = time(NULL);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  am_buf_printf(&b, "# animat experiment %s\n\n", x->name);
  if (!complete)
    am_buf_printf(&b, "**INCOMPLETE** (%s): %d step%s run so far; this file is not the report "
                  "(the report is report.md, written when every step has run).\n\n", why, x->n,
                  x->n == 1 ? "" : "s");
  am_buf_printf(&b, "%s%s, animat %s, %ld cores, %.0f s of steps.\n\n",
                x->quick ? "**--quick** (a short test run: the numbers test the pipeline, not the "
                           "finding). " : "",
                when, ANIMAT_VERSION, sysconf(_SC_NPROCESSORS_ONLN), total);
  am_buf_printf(&b, "Trained run: `%s` (%s", x->run, x->trained_here ? "trained here" : "given with --run");
  am_buf settings = {0};
  run_settings(x, &settings);
  if (settings.len) am_buf_printf(&b, ": %.*s", (int)settings.len, (char*)settings.p);
  am_buf_free(&settings);
  am_buf_printf(&b, ")");
  // a training stopped by --budget: its own summary line says where
  for (int i = 0; i < x->n; i++) {
    if (strncmp(x->st[i].name, "train", 5)) continue;
    char* t = step_log(x, &x->st[i]);
    char* at = t ? strstr(t, "budget: stopped after") : NULL;
    if (at) am_buf_printf(&b, "; %s %.*s", x->st[i].name, (int)strcspn(at, ";\n"), at);
    free(t);
  }
  am_buf_printf(&b, ". Recording: `%s`; trial table: `trials.csv`.\n\n", x->rollout);
  if (e && e->finding) am_buf_printf(&b, "## Published finding\n\n%s\n\n", e->finding);
  if (complete) {
    am_buf_printf(&b, "## Measured\n\n%.*s\n", (int)x->findings.len,
                  x->findings.p ? (char*)x->findings.p : "");
    if (x->figures.len)
      am_buf_printf(&b, "## Figures\n%.*s\n", (int)x->figures.len, (char*)x->figures.p);
  }
  am_buf_printf(&b, "## Steps\n\nEach step is an animat command run from the directory this "
                "experiment was started in; its output is in the log named.\n\n"
                "| # | step | command | time (s) | status | output |\n|---|---|---|---|---|---|\n");
  for (int i = 0; i < x->n; i++) {
    const xp_step* s = &x->st[i];
    am_buf_printf(&b, "| %d | %s | `%s` | %.1f | %s | [%s](%s) |\n", i + 1, s->name, s->cmd,
                  s->wall, s->status == 0 ? "ok" : s->status == 130 || s->status == 128 + 2 ||
                  s->status == 128 + 15 ? "interrupted" : "failed", s->log, s->log);
  }
  if (complete) {
    am_buf_printf(&b, "\n## What each step printed\n");
    for (int i = 0; i < x->n; i++) quote_log(x, &b, &x->st[i]);
  }
  if (e && e->finding) am_buf_printf(&b, "\n## References\n\n%s", references);
  char p[4200], err[AM_ERR_LEN];
  snprintf(p, sizeof p, "%s/%s", x->out, complete ? "report.md" : "report.incomplete.md");
  if (am_write_file_atomic(p, b.p, b.len, err, sizeof err))
    fprintf(stderr, "animat experiment: %s\n", err);
  am_buf_free(&b);
}

//---------------------------------- the command ----------------------------------------------------

// A missing path or an empty directory.
static int dir_empty(const char* path) {
  struct stat st;
  if (stat(path, &st)) return 1;
  if (!S_ISDIR(st.st_mode)) return 0;
  DIR* d = opendir(path);
  if (!d) return 0;
  int empty = 1;
  for (struct dirent* de; (de = readdir(d));)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = 0;
  closedir(d);
  return empty;
}

static void list(FILE* f) {
  fprintf(f, "%-12s %-36s %s\n", "experiment", "full run on 2 cores", "what");
  for (int i = 0; i < N_EXPERIMENTS; i++) {
    const experiment* e = &experiments[i];
    fprintf(f, "%-12s %-36s %s\n", e->name, e->runtime, e->what);
  }
}

int cmd_experiment(int argc, char** argv) {
  const char* usage =
      "usage: animat experiment NAME --out DIR [--run RUN] [--quick] [FLAGS]\n"
      "       animat experiment --list\n"
      "  Runs one classic experiment end to end: trains the agent (or uses --run), records it\n"
      "  with the published protocol, analyses the recording (animat trials, animat analyze)\n"
      "  and writes DIR/report.md: the published finding and its references, the numbers\n"
      "  measured here beside it, the figures, and every step's command line, run time and\n"
      "  output (DIR/logs/). Until every step has run the report is DIR/report.incomplete.md.\n"
      "  --out DIR        the experiment's directory: created, refused when it exists and is not\n"
      "                   empty (unless --force)\n"
      "  --run RUN        a trained run (directory or checkpoint) to record instead of training\n"
      "  --quick          a short training and recording (tests the pipeline in about a minute)\n"
      "  --config FILE    training configuration (default: the experiment's file in tools/)\n"
      "  --steps N        training steps (default: the configuration's; --quick 200k-400k)\n"
      "  --budget MIN     minutes for the whole experiment: training stops early (at the end\n"
      "                   of an iteration, with a checkpoint) to leave the recording and the\n"
      "                   analyses their time (--list); the report states the steps reached\n"
      "  --episodes N     episodes recorded (default: the experiment's protocol)\n"
      "  --seed S         seed of the training and the recording (default 1)\n"
      "  --force          use DIR even if it is not empty (its run/, logs/ and analysis/ are\n"
      "                   replaced)\n"
      "  --quiet          no progress lines\n"
      "  --list           the experiments, their run time and what they show\n";
  const char* out = NULL;
  xp x;
  memset(&x, 0, sizeof x);
  x.seed = 1;
  int show_list = 0;
  cli_flag flags[] = {
      {"out", CLI_STRING, &out},
      {"run", CLI_STRING, &x.run},
      {"quick", CLI_BOOL, &x.quick},
      {"config", CLI_STRING, &x.config},
      {"steps", CLI_U64, &x.steps, 1, 1e13},
      {"budget", CLI_DOUBLE, &x.budget, 0.1, 1e7},
      {"episodes", CLI_INT, &x.episodes, 1, 1e8},
      {"seed", CLI_U64, &x.seed},
      {"force", CLI_BOOL, &x.force},
      {"quiet", CLI_BOOL, &x.quiet},
      {"list", CLI_BOOL, &show_list},
  };
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos,
                     &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (show_list) return list(stdout), 0;
  if (npos != 1) return cli_fail("experiment", "give one experiment NAME (animat experiment --list)"), 2;
  const experiment* e = NULL;
  for (int i = 0; i < N_EXPERIMENTS; i++)
    if (!strcmp(experiments[i].name, pos[0])) e = &experiments[i];
  if (!e) {
    cli_fail("experiment", "unknown experiment '%s'; the experiments:", pos[0]);
    list(stderr);
    return 2;
  }
  if (!e->run) return cli_fail("experiment", "%s: %s", e->name, e->runtime);
  if (!out) return cli_fail("experiment", "give --out DIR"), 2;
  if (!dir_empty(out) && !x.force)
    return cli_fail("experiment", "%s exists and is not empty (another experiment's? give a new "
                    "--out DIR, or --force to replace its results)", out), 2;
  x.name = e->name;
  x.out = out;
  x.after = e->after;
  if (x.budget > 0 && x.run == NULL && x.budget < x.after + 0.5)
    return cli_fail("experiment", "--budget %g: too short for %s, whose recording and analyses "
                    "take about %g min after training; give at least %g, or --run a trained "
                    "agent", x.budget, e->name, e->after, e->after + 0.5), 2;
  x.trained_here = x.run == NULL;
  if (x.trained_here) {
    snprintf(x.run_buf, sizeof x.run_buf, "%s/run", out);
    x.run = x.run_buf;
  }
  snprintf(x.rollout, sizeof x.rollout, "%s/eval.rollout", out);
  char p[4200];
  const char* sub[] = {"logs", "analysis", x.trained_here ? "run" : NULL};
  for (int i = 0; i < 3; i++) {
    if (!sub[i]) continue;
    snprintf(p, sizeof p, "%s/%s", out, sub[i]);
    if (x.force && cli_remove_tree(p))
      return cli_fail("experiment", "cannot remove %s: %s", p, strerror(errno));
  }
  snprintf(p, sizeof p, "%s/report.md", out);
  if (x.force && remove(p) && errno != ENOENT)
    return cli_fail("experiment", "cannot remove %s: %s", p, strerror(errno));
  if (mkdir(out, 0777) && errno != EEXIST)
    return cli_fail("experiment", "cannot create %s: %s", out, strerror(errno));
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", out, sub[i]);
    if (mkdir(p, 0777) && errno != EEXIST)
      return cli_fail("experiment", "cannot create %s: %s", p, strerror(errno));
  }
  cli_install_interrupt();
  x.t0 = am_now();
  report_write(&x, 0, "running");
  rc = e->run(&x);
  if (rc || cli_interrupted) {
    char why[160];
    if (cli_interrupted) snprintf(why, sizeof why, "interrupted");
    else if (x.n) snprintf(why, sizeof why, "stopped: step %d (%s) failed", x.n, x.st[x.n - 1].name);
    else snprintf(why, sizeof why, "stopped before its first step");
    report_write(&x, 0, why);
    am_buf_free(&x.findings), am_buf_free(&x.figures);
    if (cli_interrupted) cli_fail("experiment", "interrupted");
    return cli_fail("experiment", "%s stopped after %d step%s; what it did is in %s/report."
                    "incomplete.md and %s/logs/", e->name, x.n, x.n == 1 ? "" : "s", out, out);
  }
  report_write(&x, 1, NULL);
  snprintf(p, sizeof p, "%s/report.incomplete.md", out);
  remove(p);
  am_buf_free(&x.findings), am_buf_free(&x.figures);
  int failed = 0;
  for (int i = 0; i < x.n; i++) failed += x.st[i].status != 0;
  printf("experiment %s: %d steps in %.0f s", e->name, x.n, am_now() - x.t0);
  if (failed) printf(" (%d analys%s did not apply: see the report)", failed, failed == 1 ? "is" : "es");
  printf("; report: %s/report.md\n", out);
  return 0;
}
