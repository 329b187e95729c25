// test_analyze_cli.c: `animat trials` and `animat analyze` end to end on datasets with planted
// answers, written here with the dataset writer: a center-out recording whose cursor follows a
// minimum-jerk reach with a known sideways bump and whose "core" units are cosine-tuned with known
// preferred directions; a decision recording whose choices come from a logistic observer with
// known bias and slope and whose reaction times fall with |coherence|. Plus the error paths.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "am_dataset.h"
#include "cli_test_util.h"

enum { STEPS = 70, GO = 20, MOVE0 = 25, MOVE_N = 20, UNITS = 16 };
static const double DT = 0.01, DIST = 0.1, BUMP = 0.01;
static char reach_path[400], decision_path[400], decision_ev_path[400];
// The files written with a movement_onset event (code 4) have it at row onset_row of each episode.
static int onset_event, onset_row = -1;

// Minimum-jerk fraction of the path at tau in [0, 1].
static double minjerk(double tau) {
  tau = tau < 0 ? 0 : tau > 1 ? 1 : tau;
  return tau * tau * tau * (10 - 15 * tau + 6 * tau * tau);
}

static void put_meta(am_ds_writer* w, const char* task, const char* conds) {
  am_ds_set_meta(w, "task.name", task, -1);
  am_ds_set_meta(w, "control_dt", "0.01", -1);
  am_ds_set_meta(w, "task.trial_events",
                 "trial_start=trial_start,success=hold_complete,trial_end=trial_end", -1);
  am_ds_set_meta(w, "task.conditions", conds, -1);
}

static const char* VARS = "target_x,target_y,start_x,start_y,cursor_x,cursor_y,condition,"
                          "coherence,choice";
enum { V_TX, V_TY, V_SX, V_SY, V_CX, V_CY, V_COND, V_COH, V_CHOICE, NV };

// Writes one episode of a reach from the origin in direction th: movement starts at row m0.
static void write_reach(am_ds_writer* w, int64_t id, double th, int m0, float cond, float coh,
                        float choice, double bump, am_rng* rng, int ch_ev, int ch_v, int ch_c) {
  assert_int_equal(am_ds_episode_begin(w, 0, id, NULL), 0);
  for (int t = 0; t < STEPS; t++) {
    uint32_t ev = 0;
    if (t == 0) ev |= 1u;               // trial_start
    if (t == GO) ev |= 2u;              // go_cue
    if (t == STEPS - 1) ev |= 4u | 8u;  // hold_complete, trial_end
    if (onset_event && t == onset_row) ev |= 16u;  // movement_onset
    memcpy(am_ds_row_ptr(w, 0, ch_ev), &ev, 4);
    double tau = (t - m0) / (double)MOVE_N;
    double along = DIST * minjerk(tau), side = tau > 0 && tau < 1 ? bump * sin(M_PI * tau) : 0;
    float* v = am_ds_row_ptr(w, 0, ch_v);
    v[V_TX] = (float)(DIST * cos(th)), v[V_TY] = (float)(DIST * sin(th));
    v[V_SX] = v[V_SY] = 0;
    v[V_CX] = (float)(along * cos(th) - side * sin(th));
    v[V_CY] = (float)(along * sin(th) + side * cos(th));
    v[V_COND] = cond, v[V_COH] = coh, v[V_CHOICE] = choice;
    float* a = am_ds_row_ptr(w, 0, ch_c);
    for (int u = 0; u < UNITS; u++) {
      double pd = 2 * M_PI * u / UNITS, on = t >= MOVE0 ? 1 : 0;
      a[u] = (float)(0.2 + on * 0.5 * cos(th - pd) + 0.05 * am_rng_normal(rng));
    }
    assert_int_equal(am_ds_row_commit(w, 0, t == STEPS - 1 ? AM_DS_END | AM_DS_TERMINATED : 0), 0);
  }
}

static am_ds_writer* open_writer(const char* path, const char* task, const char* conds, int* ev,
                                 int* vars, int* core) {
  char err[AM_ERR_LEN];
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_non_null(w);
  put_meta(w, task, conds);
  am_channel_def e = {.name = "events", .group = "task", .dtype = AM_DT_U32, .ndim = 0,
                      .labels = onset_event ? "trial_start,go_cue,hold_complete,trial_end,"
                                              "movement_onset"
                                            : "trial_start,go_cue,hold_complete,trial_end"};
  am_channel_def v = {.name = "task_vars", .group = "task", .dtype = AM_DT_F32, .ndim = 1,
                      .shape = {NV}, .labels = VARS};
  am_channel_def c = {.name = "core/output", .group = "network", .dtype = AM_DT_F32, .ndim = 1,
                      .shape = {UNITS}};
  *ev = am_ds_add_channel(w, &e);
  *vars = am_ds_add_channel(w, &v);
  *core = am_ds_add_channel(w, &c);
  assert_true(*ev >= 0 && *vars >= 0 && *core >= 0);
  assert_int_equal(am_ds_begin(w, 1, 0, 0), 0);
  return w;
}

static int setup(void** state) {
  if (make_tmpdir("analyze")) return -1;
  char err[AM_ERR_LEN];
  int ev, vars, core;
  am_rng rng;
  am_rng_seed(&rng, 5, 0);
  // center-out: 8 directions x 12 trials
  snprintf(reach_path, sizeof reach_path, "%s/reach.rollout", tmpdir);
  am_ds_writer* w = open_writer(reach_path, "reach-center-out", "condition", &ev, &vars, &core);
  for (int i = 0; i < 96; i++)
    write_reach(w, i, 2 * M_PI * (i % 8) / 8, MOVE0, (float)(i % 8), 0, 0, BUMP, &rng, ev, vars,
                core);
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  // decision: a logistic observer (bias 0.05, slope 0.1, no lapse); the reach starts later when
  // the evidence is weak
  snprintf(decision_path, sizeof decision_path, "%s/decision.rollout", tmpdir);
  w = open_writer(decision_path, "decision-reach", "coherence", &ev, &vars, &core);
  const double cohs[] = {-0.4, -0.2, -0.1, -0.05, 0, 0.05, 0.1, 0.2, 0.4};
  for (int i = 0; i < 900; i++) {
    double coh = cohs[i % 9];
    double p = 1 / (1 + exp(-(coh - 0.05) / 0.1));
    int right = am_rng_uniform(&rng) < p;
    int m0 = GO + 2 + (int)lround(12 * (1 - fabs(coh) / 0.4)) + (int)(am_rng_uniform(&rng) * 3);
    write_reach(w, i, right ? 0 : M_PI, m0, (float)(i % 9), (float)coh, right ? 1.0f : -1.0f, 0,
                &rng, ev, vars, core);
  }
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  // decision with the task's movement_onset event (the commitment): at GO + 30 - 50 |coh| rows
  // while the kinematic onset stays at MOVE0; the psychometric RT must follow the event
  snprintf(decision_ev_path, sizeof decision_ev_path, "%s/decision_ev.rollout", tmpdir);
  onset_event = 1;
  w = open_writer(decision_ev_path, "decision-reach", "coherence", &ev, &vars, &core);
  for (int i = 0; i < 90; i++) {
    double coh = cohs[i % 9];
    onset_row = GO + 30 - (int)lround(50 * fabs(coh));
    write_reach(w, i, coh >= 0 ? 0 : M_PI, MOVE0, (float)(i % 9), (float)coh,
                coh >= 0 ? 1.0f : -1.0f, 0, &rng, ev, vars, core);
  }
  assert_int_equal(am_ds_close(w, err, sizeof err), 0);
  onset_event = 0;
  return 0;
}

static int teardown(void** state) {
  remove_tmpdir();
  return 0;
}

static void test_trials_kinematics(void** state) {
  char csv[600], json[600];
  snprintf(csv, sizeof csv, "%s/trials.csv", tmpdir);
  snprintf(json, sizeof json, "%s/trials.json", tmpdir);
  assert_int_equal(animat("trials '%s' --out '%s' --quiet", reach_path, csv), 0);
  expect_out("96 trials (96 complete), 100.0 % successful");
  // every trial has one row of each planted event
  expect_out("events, rows per trial (share of trials with one):  trial_start 1 (100 %)  go_cue 1 "
             "(100 %)  hold_complete 1 (100 %)  trial_end 1 (100 %)\n");
  expect_out("condition=3");
  // planted: movement from row 25 over 20 rows (peak of a min-jerk profile: 1.875 x 0.1 m / 0.2 s)
  // with a 10 mm bump to the left; onset at 20 % of peak speed: tau = 0.128 -> row 28
  for (int r = 0; r < 8; r++) {
    assert_float_equal(csv_value(csv, r, "condition"), r, 0);
    assert_float_equal(csv_value(csv, r, "go"), GO * DT, 1e-9);
    assert_float_equal(csv_value(csv, r, "rt"), 0.08, 0.0101);
    assert_float_equal(csv_value(csv, r, "peak_speed"), 0.9375, 0.03);
    assert_float_equal(csv_value(csv, r, "max_dev"), BUMP, 0.001);
    assert_float_equal(csv_value(csv, r, "path_length"), 0.1, 0.006);
    assert_true(csv_value(csv, r, "end_err") < 0.003);
    assert_float_equal(csv_value(csv, r, "t_go_cue"), GO * DT, 1e-9);
    assert_float_equal(csv_value(csv, r, "step_trial_end"), STEPS - 1, 0);
  }
  assert_int_equal(animat("trials '%s' --out '%s' --quiet", reach_path, json), 0);
  FILE* f = fopen(json, "r");
  assert_non_null(f);
  char head[64] = "";
  assert_non_null(fgets(head, sizeof head, f));
  fclose(f);
  assert_non_null(strstr(head, "{\"columns\": [\"episode\""));
}

static void test_tuning_recovers_planted_directions(void** state) {
  char dir[600], csv[700];
  snprintf(dir, sizeof dir, "%s/tuning", tmpdir);
  assert_int_equal(animat("analyze tuning '%s' --out '%s'", reach_path, dir), 0);
  expect_out("16 of 16 units cosine-tuned");
  snprintf(csv, sizeof csv, "%s/tuning.csv", dir);
  for (int u = 0; u < UNITS; u++) {
    double pd = 360.0 * u / UNITS, got = csv_value(csv, u, "pref_deg");
    double d = fmod(got - pd + 540, 360) - 180;
    assert_true(fabs(d) < 3);
    assert_true(csv_value(csv, u, "r2") > 0.9);
  }
  for (const char* m = "psth pca jpca decode rsa"; *m;) {
    char name[16];
    int n = 0;
    while (*m && *m != ' ') name[n++] = *m++;
    name[n] = 0;
    while (*m == ' ') m++;
    assert_int_equal(animat("analyze %s '%s' --out '%s'", name, reach_path, dir), 0);
    char svg[800];
    snprintf(svg, sizeof svg, "%s/%s.svg", dir, name);
    assert_true(file_exists(svg));
  }
}

static void test_psychometric_recovers_observer(void** state) {
  char dir[600], js[700];
  snprintf(dir, sizeof dir, "%s/psy", tmpdir);
  assert_int_equal(animat("analyze psychometric '%s' --out '%s'", decision_path, dir), 0);
  snprintf(js, sizeof js, "%s/psychometric.json", dir);
  char* text = am_read_text(js, NULL, NULL, 0);
  assert_non_null(text);
  double bias = strtod(strstr(text, "\"bias\": ") + 8, NULL);
  double slope = strtod(strstr(text, "\"slope\": ") + 9, NULL);
  double rho = strtod(strstr(text, "\"chronometric_rho\": ") + 20, NULL);
  double se_bias = strtod(strstr(text, "\"se_bias\": ") + 11, NULL);
  double se_slope = strtod(strstr(text, "\"se_slope\": ") + 12, NULL);
  free(text);
  // within 3 standard errors of the planted observer (900 trials), and the errors are small
  assert_true(se_bias < 0.02 && se_slope < 0.02);
  assert_float_equal(bias, 0.05, 3 * se_bias);
  assert_float_equal(slope, 0.1, 3 * se_slope);
  assert_true(rho < -0.5);  // reaction times fall with |coherence|
}

// With a movement_onset event the RT runs from the go cue to it (decision-reach: leaving the start
// zone, the commitment), not to the kinematic onset (here the same row in every trial).
static void test_psychometric_rt_from_event(void** state) {
  char dir[600], js[700], csv[700];
  snprintf(dir, sizeof dir, "%s/psy_ev", tmpdir);
  assert_int_equal(animat("analyze psychometric '%s' --out '%s'", decision_ev_path, dir), 0);
  expect_out("(RT: go_cue to movement_onset)");
  snprintf(js, sizeof js, "%s/psychometric.json", dir);
  char* text = am_read_text(js, NULL, NULL, 0);
  assert_non_null(text);
  assert_non_null(strstr(text, "\"rt_from\": \"go_cue to movement_onset\""));
  double rho = strtod(strstr(text, "\"chronometric_rho\": ") + 20, NULL);
  free(text);
  assert_true(rho < -0.9);
  snprintf(csv, sizeof csv, "%s/psychometric.csv", dir);
  // rows by signed coherence: -0.4 first (onset at GO + 10: 0.1 s), 0 fifth (GO + 30: 0.3 s)
  assert_float_equal(csv_value(csv, 0, "mean_rt"), 0.1, 1e-9);
  assert_float_equal(csv_value(csv, 4, "mean_rt"), 0.3, 1e-9);
}

// --by picks the signed x variable (here the same coherence, so the same fit) and an unknown one
// is refused; p_correct is P(right) for x > 0 and P(left) for x < 0; --chosen VAR counts choices
// of the side VAR's sign points to (value-reach: b_side), so at x = -0.4 it flips P(right).
static void test_psychometric_by_chosen(void** state) {
  char dir[600], csv[700], dir2[600], csv2[700];
  snprintf(dir, sizeof dir, "%s/psy_by", tmpdir);
  assert_int_equal(animat("analyze psychometric '%s' --by coherence --out '%s'", decision_path,
                          dir), 0);
  expect_out("psychometric: 900 trials with a choice (x = coherence)");
  snprintf(csv, sizeof csv, "%s/psychometric.csv", dir);
  double p0 = csv_value(csv, 0, "p_right"), p8 = csv_value(csv, 8, "p_right");
  assert_float_equal(csv_value(csv, 0, "p_correct"), 1 - p0, 1e-12);
  assert_float_equal(csv_value(csv, 8, "p_correct"), p8, 1e-12);
  snprintf(dir2, sizeof dir2, "%s/psy_chosen", tmpdir);
  assert_int_equal(animat("analyze psychometric '%s' --chosen coherence --out '%s'",
                          decision_path, dir2), 0);
  snprintf(csv2, sizeof csv2, "%s/psychometric.csv", dir2);
  assert_float_equal(csv_value(csv2, 0, "p_right"), 1 - p0, 1e-12);  // the side coherence points to
  assert_float_equal(csv_value(csv2, 8, "p_right"), p8, 1e-12);
  assert_int_equal(animat("analyze psychometric '%s' --by nope --out '%s'", decision_path, dir),
                   1);
  expect_out("'nope' is not a condition variable");
  assert_int_equal(animat("analyze psychometric '%s' --chosen nope --out '%s'", decision_path,
                          dir), 1);
  expect_out("--chosen nope is not a condition variable");
}

static void test_report(void** state) {
  char dir[600], html[700];
  snprintf(dir, sizeof dir, "%s/report", tmpdir);
  assert_int_equal(animat("analyze report '%s' --out '%s'", decision_path, dir), 0);
  expect_out("psychometric: 900 trials with a choice");
  expect_out("adaptation    skipped: adaptation needs a block");
  snprintf(html, sizeof html, "%s/report.html", dir);
  char* text = am_read_text(html, NULL, NULL, 0);
  assert_non_null(text);
  assert_non_null(strstr(text, "<img src=\"psychometric.svg\""));
  assert_non_null(strstr(text, "<img src=\"psth.svg\""));
  assert_non_null(strstr(text, "not applicable here: adaptation needs"));
  free(text);
}

static void test_errors(void** state) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/err", tmpdir);
  assert_int_equal(animat("analyze nope '%s'", reach_path), 2);
  expect_out("unknown method 'nope'");
  assert_int_equal(animat("analyze tuning '%s' --channel nope --out '%s'", reach_path, dir), 1);
  expect_out("no channel 'nope'");
  assert_int_equal(animat("analyze tuning '%s' --align nope --out '%s'", reach_path, dir), 1);
  expect_out("--align 'nope': not an event");
  assert_int_equal(animat("analyze psth '%s' --where coherence=1 --out '%s'", reach_path, dir), 1);
  expect_out("'coherence' is not a condition variable");
  assert_int_equal(animat("analyze psth '%s' --where condition=9 --out '%s'", reach_path, dir), 1);
  expect_out("no trial matches");
  assert_int_equal(animat("analyze psth '%s' --window 1,0", reach_path), 2);
  expect_out("START < END");
  assert_int_equal(animat("analyze psychometric '%s' --out '%s'", reach_path, dir), 1);
  expect_out("psychometric needs a coherence");
  assert_int_equal(animat("trials '%s/none.rollout'", tmpdir), 1);
  assert_int_equal(animat("trials --help"), 0);
  assert_int_equal(animat("analyze --help"), 0);
  expect_out("jpca");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trials_kinematics),
      cmocka_unit_test(test_tuning_recovers_planted_directions),
      cmocka_unit_test(test_psychometric_recovers_observer),
      cmocka_unit_test(test_psychometric_rt_from_event),
      cmocka_unit_test(test_psychometric_by_chosen),
      cmocka_unit_test(test_report),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
