// test_cli.c: the `animat` command as a user meets it: exit codes and messages for bad input,
// every configuration key's range and the rules between keys, train's protection of existing runs,
// --task-param merged into a config file's task_params, --resume refusing a total already reached,
// progress output without carriage returns off a terminal, evaluation recordings during
// training that leave the training run bit-identical, and train's faults: unstable episodes
// counted (not a perfect return), a resume with another run's checkpoint, a second writer, kill -9
// and a torn metrics row.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "ama_agents.h"
#include "dataset_format.h"  // BLOCK_HDR, to damage a chunk
#include "cli_test_util.h"

// Every configuration key refuses values outside its range with a message naming the key, the
// whole value and the valid range; the config is left unchanged.
static void test_config_ranges(void** state) {
  struct {
    const char *key, *value, *message;
  } bad[] = {
      {"lr", "-1", "'lr': -1 is out of range (valid: 0 < lr <= 1)"},
      {"lr", "0", "valid: 0 < lr <= 1"},
      {"gamma", "2", "'gamma': 2 is out of range (valid: 0 <= gamma <= 1)"},
      {"lambda", "-1", "valid: 0 <= lambda <= 1"},
      {"clip", "-1", "'clip': -1 is out of range (valid: clip > 0)"},
      {"ent_coef", "-1", "valid: ent_coef >= 0"},
      {"vf_coef", "-0.5", "valid: vf_coef >= 0"},
      {"max_grad_norm", "-1", "valid: max_grad_norm >= 0"},
      {"obs_clip", "0", "valid: obs_clip > 0"},
      {"adam_eps", "0", "valid: adam_eps > 0"},
      {"adam_eps", "1e-50", "valid: adam_eps > 0"},  // 0 as a float
      {"activity_reg", "-5", "valid: activity_reg >= 0"},
      {"action_cost", "-1", "valid: action_cost >= 0"},
      {"rnn_noise", "-0.1", "valid: rnn_noise >= 0"},
      {"tau", "0", "valid: tau > 0"},
      {"dt", "-0.02", "valid: dt > 0"},
      {"exc_frac", "1", "valid: 0 < exc_frac < 1"},
      {"init_logstd", "40", "valid: -20 <= init_logstd <= 5"},
      {"dale", "2", "'dale': 2 is out of range (valid: 0 or 1)"},
      {"prev_action", "-1", "valid: 0 or 1"},
      {"prev_reward", "3", "valid: 0 or 1"},
      {"stop_grad_core", "2", "valid: 0 or 1"},
      {"norm_adv", "2", "valid: 0 or 1"},
      {"norm_reward", "yes", "'yes' is not an integer (valid: 0 or 1)"},
      {"seed", "-1", "'seed': '-1' is not a non-negative integer (valid: 0 <= seed <= "
                     "18446744073709551615)"},
      {"seed", "1.5", "not a non-negative integer"},
      {"total_steps", "0", "valid: 1 <= total_steps <= 10000000000000"},
      {"total_steps", "1.5", "'1.5' is not an integer"},
      {"num_envs", "0", "valid: 1 <= num_envs <= 4096"},
      {"num_envs", "99999999999", "99999999999 is out of range"},
      {"core_hidden", "0", "valid: 1 <= core_hidden <= 16384"},
      {"motor_hidden", "-4", "valid: 1 <= motor_hidden <= 16384"},
      {"core_tick", "0", "valid: 1 <= core_tick <= 1000"},
      {"horizon", "abc", "'abc' is not an integer (valid: 1 <= horizon <= 100000)"},
      {"epochs", "0", "valid: 1 <= epochs <= 1000"},
      {"minibatches", "0", "valid: 1 <= minibatches <= 4096"},
      {"gamma", "nan", "'nan' is not a number"},
      {"lr", "1e99", "'1e99' is not a number"},
      {"core", "transformer", "'core': 'transformer' is not valid (valid: one of gru, lstm, rnn, "
                              "mlp)"},
      {"motor", "", "'motor': '' is not valid (valid: one of gru, lstm, rnn, mlp)"},
      {"lr_schedule", "cosine", "valid: one of constant, linear"},
      {"load_module", "brain",
       "valid: a comma list of core, motor, head, critic, command, or empty"},
      {"freeze", "core,brain", "'core,brain' is not valid (valid: a comma list of core, motor, "
                               "head, critic, command, or empty)"},
      {"task", "", "valid: non-empty text"},
      {"core_groups", "", "valid: non-empty text"},
      {"no_such_key", "1", "unknown config key 'no_such_key'"},
      {"critic_heads", "0", "valid: 1 <= critic_heads <= 64"},
      {"critic_heads", "65", "valid: 1 <= critic_heads <= 64"},
      {"critic_tau", "1", "1 (in '1') is out of range (each tau must lie in (0, 1))"},
      {"critic_tau", "0.2,0,0.5", "0 (in '0.2,0,0.5') is out of range"},
      {"critic_tau", "wide", "'critic_tau': 'wide' is not valid (valid: spread, one number"},
      {"critic_tau", "0.2,,0.4", "'0.2,,0.4' is not valid"},
  };
  char err[2048], before[16384], after[16384];
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    ama_config c;
    ama_config_default(&c);
    ama_config_write(&c, before, sizeof before);
    if (ama_config_set(&c, bad[k].key, bad[k].value, err, sizeof err) == 0)
      fail_msg("%s = %s was accepted", bad[k].key, bad[k].value);
    if (!strstr(err, bad[k].message))
      fail_msg("%s = %s: expected '%s' in '%s'", bad[k].key, bad[k].value, bad[k].message, err);
    ama_config_write(&c, after, sizeof after);
    assert_string_equal(before, after);
  }
  // the edges of the ranges are valid, and a long value is named whole
  ama_config c;
  ama_config_default(&c);
  const char* good[][2] = {{"gamma", "1"}, {"gamma", "0"}, {"lr", "1"}, {"max_grad_norm", "0"},
                           {"seed", "18446744073709551615"}, {"freeze", "core,motor"},
                           {"freeze", ""}, {"load_module", "core"}, {"total_steps", "1e6"}};
  for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
    if (ama_config_set(&c, good[k][0], good[k][1], err, sizeof err))
      fail_msg("%s = %s: %s", good[k][0], good[k][1], err);
  assert_int_equal(ama_config_set(&c, "core", "transformer-xl-with-memory", err, sizeof err), -1);
  assert_non_null(strstr(err, "'transformer-xl-with-memory'"));
  // the help lists the ranges
  char help[8192];
  ama_config_help(help, sizeof help);
  assert_non_null(strstr(help, "[0 <= gamma <= 1]"));
  assert_non_null(strstr(help, "[one of gru, lstm, rnn, mlp]"));
  // through the command line: --set, a config file (file and line named), --core
  assert_int_equal(animat("train --set gamma=2"), 1);
  expect_out("animat train: --set gamma=2: config key 'gamma': 2 is out of range (valid: 0 <= "
             "gamma <= 1)");
  char cfg[600];
  snprintf(cfg, sizeof cfg, "%s/bad.cfg", tmpdir);
  FILE* f = fopen(cfg, "w");
  assert_non_null(f);
  fprintf(f, "# a comment\nlr = 3e-4\nlambda = -1\n");
  fclose(f);
  assert_int_equal(animat("train --config '%s'", cfg), 1);
  expect_out("bad.cfg:3: config key 'lambda': -1 is out of range");
  assert_int_equal(animat("train --core transformer"), 1);
  expect_out("'transformer' is not valid (valid: one of gru, lstm, rnn, mlp)");
  assert_int_equal(animat("train --task a-task-name-longer-than-sixty-three-characters-is-never-cut-"
                          "short"), 1);
  expect_out("'a-task-name-longer-than-sixty-three-characters-is-never-cut-short'");
}

// The rules between keys, checked before anything is built.
static void test_config_rules(void** state) {
  struct {
    const char* sets[3];
    const char* message;
  } bad[] = {
      {{"dale=1"}, "Dale's law is implemented by the rate RNN cell only, but the core module is a "
                   "gru cell (core = gru): its output h is signed"},
      {{"dale=1", "core=rnn", "motor=lstm"}, "the motor module is a lstm cell (motor = lstm)"},
      {{"core=rnn", "dt=0.5"}, "dt = 0.5 must not exceed tau = 0.1: the core module is a rate RNN"},
      {{"core_tick=2", "horizon=63"}, "horizon = 63 must be a multiple of core_tick = 2"},
      {{"minibatches=7"}, "minibatches = 7 must divide num_envs = 64"},
      {{"load_module=core"}, "load_module = core needs load_path"},
      {{"critic_heads=4", "critic_tau=0.1,0.9"}, "critic_tau = 0.1,0.9 has 2 values but "
                                                  "critic_heads = 4 (give one number, 4 numbers, "
                                                  "or spread)"},
  };
  char err[1024];
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    ama_config c;
    ama_config_default(&c);
    for (int j = 0; j < 3 && bad[k].sets[j]; j++)
      if (ama_config_set_line(&c, bad[k].sets[j], err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ama_config_check(&c, err, sizeof err), -1);
    if (!strstr(err, bad[k].message)) fail_msg("expected '%s' in '%s'", bad[k].message, err);
  }
  ama_config c;
  ama_config_default(&c);
  assert_int_equal(ama_config_check(&c, err, sizeof err), 0);
  // the critic's asymmetries: spread, one for all, or one per head
  float tau[AMA_MAX_HEADS];
  c.policy.critic_heads = 4;
  assert_int_equal(ama_critic_taus(&c.policy, tau, err, sizeof err), 0);
  assert_true(tau[0] == 0.125f && tau[3] == 0.875f);
  assert_int_equal(ama_config_set(&c, "critic_tau", "0.3", err, sizeof err), 0);
  assert_int_equal(ama_critic_taus(&c.policy, tau, err, sizeof err), 0);
  assert_true(tau[0] == 0.3f && tau[3] == 0.3f);
  assert_int_equal(ama_config_set(&c, "critic_tau", "0.1, 0.2,0.7,0.95", err, sizeof err), 0);
  assert_int_equal(ama_critic_taus(&c.policy, tau, err, sizeof err), 0);
  assert_true(tau[1] == 0.2f && tau[3] == 0.95f);
  ama_config_default(&c);
  for (const char* const* s = (const char* const[]){"dale=1", "core=rnn", "motor=rnn", NULL}; *s;
       s++)
    assert_int_equal(ama_config_set_line(&c, *s, err, sizeof err), 0);
  assert_int_equal(ama_config_check(&c, err, sizeof err), 0);
  // the command refuses before building anything
  char run[600];
  snprintf(run, sizeof run, "%s/dale", tmpdir);
  assert_int_equal(animat("train --set dale=1 --core rnn --out '%s'", run), 1);
  expect_out("animat train: dale = 1: Dale's law is implemented by the rate RNN cell only, but "
             "the motor module is a gru cell (motor = gru)");
  assert_false(file_exists(run));
}

// --task-param merges into the config file's task_params; --resume refuses a total already
// reached; progress off a terminal has no carriage returns; --quiet prints only the summary.
static void test_train_task_params_resume_quiet(void** state) {
  char cfg[600], run[600], path[700];
  snprintf(cfg, sizeof cfg, "%s/tp.cfg", tmpdir);
  snprintf(run, sizeof run, "%s/tp", tmpdir);
  FILE* f = fopen(cfg, "w");
  assert_non_null(f);
  fprintf(f, "task = reacher\ntask_params = episode_steps=30;target_radius=0.15\n"
             "num_envs = 2\nminibatches = 1\nhorizon = 16\n");
  fclose(f);
  const char* tiny = "--steps 32 --threads 1 --set epochs=1";
  assert_int_equal(animat("train --config '%s' --task-param episode_steps=20 --task-param "
                          "init_qpos_noise=0.05 %s --out '%s'", cfg, tiny, run), 0);
  assert_null(strchr(out, '\r'));              // stderr is a pipe here: plain lines
  expect_out("32/32 steps");                    // the progress line, once at the end at least
  expect_out("done: 32 steps");
  snprintf(path, sizeof path, "%s/config.txt", run);
  f = fopen(path, "r");
  assert_non_null(f);
  char line[2048];
  int found = 0;
  while (fgets(line, sizeof line, f))
    found += !strcmp(line, "task_params = episode_steps=20;target_radius=0.15;"
                           "init_qpos_noise=0.05\n");
  fclose(f);
  assert_int_equal(found, 1);
  // --resume: a total at or below the steps done is refused, naming them
  assert_int_equal(animat("train --resume '%s' --steps 20", run), 1);
  expect_out("--steps 20 is the new total, but the run has already done 32 env steps; give a "
             "larger total, e.g. --steps 64");
  assert_int_equal(animat("train --resume '%s' --steps 32", run), 1);
  assert_int_equal(animat("train --resume '%s'", run), 1);
  expect_out("the run has already done all its 32 env steps");
  // a larger total continues; --quiet prints the final summary only
  assert_int_equal(animat("train --resume '%s' --steps 64 --threads 1 --quiet", run), 0);
  assert_true(strncmp(out, "done: 64 steps", 14) == 0);
  assert_string_equal(strchr(out, '\n'), "\n");  // one line
}

// A reacher run of one short iteration per 32 steps, for the tests of train's own behaviour.
#define TINY_REACHER \
  "--task reacher --envs 2 --threads 1 --set minibatches=1 --set horizon=16 --set epochs=1"

// --budget: the run stops at the end of the first iteration past the wall time, with a checkpoint
// that --resume continues.
static void test_train_budget(void** state) {
  (void)state;
  char run[600], a[700];
  snprintf(run, sizeof run, "%s/budget", tmpdir);
  const char* tiny = TINY_REACHER;
  assert_int_equal(animat("train %s --steps 1e9 --budget 0.01 --quiet --out '%s'", tiny, run), 0);
  expect_out("budget: stopped after");
  expect_out("of 1000000000 steps");
  long long done = 0;
  const char* at = strstr(out, "min at ");
  assert_non_null(at);
  assert_int_equal(sscanf(at, "min at %lld", &done), 1);
  assert_true(done > 0 && done < 1000000000LL && done % 32 == 0);
  snprintf(a, sizeof a, "%s/checkpoint.bin", run);
  assert_true(file_exists(a));
  assert_int_equal(animat("train --resume '%s' --steps %lld --quiet", run, done + 64), 0);
  expect_out("done: ");
  assert_int_not_equal(animat("train %s --budget 0 --out '%s/b0'", tiny, tmpdir), 0);
  expect_out("--budget");
}

// A relative load_path is stored absolute, so the run resumes from any working directory (the
// resume loads it again: with an anchor it is the reference policy).
static void test_train_relative_load_path(void** state) {
  (void)state;
  char src[600], run[600], cwd[4096], line[PATH_MAX + 32], want[PATH_MAX + 32];
  snprintf(src, sizeof src, "%s/lp-src", tmpdir);
  snprintf(run, sizeof run, "%s/lp-run", tmpdir);
  const char* tiny = TINY_REACHER " --quiet";
  assert_int_equal(animat("train %s --steps 32 --out '%s'", tiny, src), 0);
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(tmpdir), 0);
  int rc = animat("train %s --steps 32 --set load_module=core,motor --set anchor=1 --set "
                  "load_path=lp-src/checkpoint.bin --out lp-run", tiny);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(rc, 0);
  char path[700];
  snprintf(path, sizeof path, "%s/config.txt", run);
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  char ck[700], ck_real[PATH_MAX];
  snprintf(ck, sizeof ck, "%s/checkpoint.bin", src);
  assert_non_null(realpath(ck, ck_real));  // tmpdir may lie under a symbolic link
  snprintf(want, sizeof want, "load_path = %s\n", ck_real);
  int found = 0;
  while (fgets(line, sizeof line, f)) found += !strcmp(line, want);
  fclose(f);
  assert_int_equal(found, 1);
  assert_int_equal(animat("train --resume '%s' --steps 64 --threads 1 --quiet", run), 0);
  expect_out("done: 64 steps");
  // a path that does not resolve stays as given, and the learner's error names it
  assert_int_equal(animat("train %s --steps 32 --set load_module=core --set "
                          "load_path=no-such-dir/checkpoint.bin --out '%s/lp-bad'", tiny, tmpdir),
                   1);
  expect_out("no-such-dir/checkpoint.bin");
}

static void test_bad_input(void** state) {
  assert_int_equal(animat("no-such-command"), 2);
  assert_non_null(strstr(out, "unknown command 'no-such-command'"));
  assert_int_equal(animat("bench physics --envs x"), 2);
  assert_non_null(strstr(out, "--envs: 'x' is not an integer"));
  assert_non_null(strstr(out, "usage: animat bench physics"));
  assert_int_equal(animat("bench physics --threads 0"), 2);
  assert_non_null(strstr(out, "out of range"));
  assert_int_equal(animat("train --steps"), 2);
  assert_non_null(strstr(out, "--steps needs a value"));
  assert_int_equal(animat("bodies no-such-body"), 1);
  assert_non_null(strstr(out, "unknown body 'no-such-body'"));
  assert_int_equal(animat("tasks reacher --task-param nope=1"), 1);
  assert_non_null(strstr(out, "valid: episode_steps"));
  assert_int_equal(animat("version"), 0);
  assert_non_null(strstr(out, "MuJoCo 2.2"));
  for (const char* c = "demo bodies tasks bench train record inspect verify export version"; *c;) {
    char name[32];
    int n = 0;
    while (*c && *c != ' ') name[n++] = *c++;
    name[n] = 0;
    while (*c == ' ') c++;
    assert_int_equal(animat("%s --help", name), 0);
    assert_non_null(strstr(out, "usage: animat"));
  }
}

static void test_train_protects_runs_and_records(void** state) {
  char a[512], b[512], ca[600], cb[600], rec[700];
  snprintf(a, sizeof a, "%s/plain", tmpdir);
  snprintf(b, sizeof b, "%s/recorded", tmpdir);
  const char* common = "train --task reacher --steps 8192 --envs 16 --quiet";
  assert_int_equal(animat("%s --out '%s'", common, a), 0);
  // A second run into the same directory is refused and names the way out.
  assert_int_equal(animat("%s --out '%s'", common, a), 1);
  assert_non_null(strstr(out, "already holds a run"));
  assert_non_null(strstr(out, "--resume"));
  // --record-param is refused without --record-every, and a bad one before any training.
  assert_int_equal(animat("%s --out '%s' --record-param episode_steps=7", common, b), 2);
  assert_non_null(strstr(out, "--record-param needs --record-every"));
  assert_int_equal(animat("%s --out '%s' --record-every 4096 --record-param nope=1", common, b), 1);
  assert_non_null(strstr(out, "--record-param: task reacher has no parameter 'nope'"));
  assert_false(file_exists(b));
  // Evaluation recordings on multiples of 4096 steps, on the task as --record-param changes it;
  // the training itself is unchanged.
  assert_int_equal(animat("%s --out '%s' --record-every 4096 --record-episodes 2 "
                          "--record-param episode_steps=7", common, b), 0);
  snprintf(ca, sizeof ca, "%s/checkpoint.bin", a);
  snprintf(cb, sizeof cb, "%s/checkpoint.bin", b);
  assert_true(same_file(ca, cb));
  snprintf(rec, sizeof rec, "%s/recordings/step-4096.rollout", b);
  assert_true(file_exists(rec));
  snprintf(rec, sizeof rec, "%s/recordings/step-8192.rollout", b);
  assert_true(file_exists(rec));
  assert_int_equal(animat("verify '%s' --resim", rec), 0);
  assert_non_null(strstr(out, "largest qpos deviation 0"));
  {  // the report is the same on one thread and on three, but for the speed
    char one[sizeof out];
    assert_int_equal(animat("verify '%s' --resim --threads 1", rec), 0);
    snprintf(one, sizeof one, "%s", out);
    assert_int_equal(animat("verify '%s' --resim --threads 3", rec), 0);
    char* a = strstr(one, "(");
    char* b = strstr(out, "(");
    assert_true(a && b && !strncmp(one, out, (size_t)(a - one)) && a - one == b - out);
    assert_string_equal(strstr(one, "\nresim"), strstr(out, "\nresim"));
    assert_int_equal(animat("verify '%s' --threads 0", rec), 2);
    // both episodes damaged: the first failure reported is episode 0's on any count of threads
    char bad[760];
    snprintf(bad, sizeof bad, "%s.bad", rec);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", rec, bad);
    assert_int_equal(system(cmd), 0);
    am_ds_reader* r = am_ds_open(bad, one, sizeof one);
    assert_non_null(r);
    assert_int_equal(am_ds_num_episodes(r), 2);
    FILE* f = fopen(bad, "r+b");
    assert_non_null(f);
    for (int64_t i = 0; i < 2; i++) {  // a payload byte of each episode's first chunk
      const am_ds_chunk* c = am_ds_get_chunk(r, am_ds_get_episode(r, i)->first_chunk);
      assert_int_equal(fseek(f, (long)(c->offset + BLOCK_HDR + 1), SEEK_SET), 0);
      int x = fgetc(f);
      assert_int_equal(fseek(f, -1, SEEK_CUR), 0);
      fputc(x ^ 0x10, f);
    }
    fclose(f);
    am_ds_reader_free(r);
    assert_int_equal(animat("verify '%s' --resim --threads 1", bad), 1);
    snprintf(one, sizeof one, "%s", out);
    assert_non_null(strstr(one, "resim: episode 0: "));
    assert_non_null(strstr(one, "resim: 0 episodes replayed"));
    assert_int_equal(animat("verify '%s' --resim --threads 3", bad), 1);
    assert_string_equal(out, one);
    unlink(bad);
  }
  assert_int_equal(animat("inspect '%s'", rec), 0);
  const char* ps = strstr(out, "policy.step");
  assert_non_null(ps);
  assert_int_equal(atoi(ps + strlen("policy.step")), 8192);  // the checkpoint's training step
  ps = strstr(out, "task.max_steps");
  assert_non_null(ps);
  assert_int_equal(atoi(ps + strlen("task.max_steps")), 7);  // --record-param's, not training's
  // --force starts over.
  assert_int_equal(animat("%s --out '%s' --force", common, a), 0);
  assert_true(same_file(ca, cb));
}

// metrics.csv's rows: fields[r][c] for up to 64 rows; returns the row count (header excluded) and
// fails unless every line ends in a newline with the header's number of fields.
static char mrows[64][24][32];
static int read_metrics(const char* run, int* unstable_col, int* return_col) {
  char path[700], line[4096];
  snprintf(path, sizeof path, "%s/metrics.csv", run);
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  int rows = -1, cols = 0;
  while (fgets(line, sizeof line, f)) {
    size_t len = strlen(line);
    if (!len || line[len - 1] != '\n') fail_msg("%s: line without a newline: '%s'", path, line);
    line[len - 1] = 0;
    int c = 0;
    char* save = NULL;
    for (char* tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save), c++) {
      if (rows < 0) {
        if (!strcmp(tok, "unstable")) *unstable_col = c;
        if (!strcmp(tok, "mean_return")) *return_col = c;
      } else if (rows < 64 && c < 24) {
        snprintf(mrows[rows][c], sizeof mrows[0][0], "%s", tok);
      }
    }
    if (rows < 0) cols = c;
    else if (c != cols) fail_msg("%s: row %d has %d fields, the header %d", path, rows + 1, c, cols);
    rows++;
  }
  fclose(f);
  return rows;
}

// A force field of enormous gain blows the arm's physics up: those episodes are counted in
// metrics.csv's `unstable` column and the progress line, left out of the mean return (nan when no
// episode was stable, never the perfect 0), and warned about.
static void test_train_unstable_counted(void** state) {
  char run[600];
  snprintf(run, sizeof run, "%s/blowup", tmpdir);
  assert_int_equal(animat("train --task force-field --task-param curl_k=1e7 --task-param "
                          "baseline_trials=0 --steps 1024 --envs 8 --set minibatches=2 --threads 1 "
                          "--out '%s'", run), 0);
  expect_out("warning: iteration 1: 101 of 101 episodes (100 %) ended in a physics blow-up");
  expect_out("return n/a  unstable 101/101");
  expect_out("episodes unstable; checkpoint");
  int uc = -1, rc = -1;
  int rows = read_metrics(run, &uc, &rc);
  assert_int_equal(rows, 2);
  assert_int_equal(uc, 5);  // right after `episodes`
  assert_string_equal(mrows[0][4], "101");
  assert_string_equal(mrows[0][uc], "101");
  assert_string_equal(mrows[0][rc], "nan");
  assert_true(atoi(mrows[1][uc]) > 0);
  // a stable run counts none
  snprintf(run, sizeof run, "%s/stable", tmpdir);
  assert_int_equal(animat("train --task reacher --steps 1024 --envs 8 --set minibatches=2 "
                          "--threads 1 --out '%s'", run), 0);
  assert_null(strstr(out, "unstable"));
  // the header comes before the progress lines in a log of both streams (stdout is a pipe here)
  if (strncmp(out, "train reacher:", 14)) fail_msg("the header is not the first line:\n%s", out);
  rows = read_metrics(run, &uc, &rc);
  assert_int_equal(rows, 2);
  assert_string_equal(mrows[1][uc], "0");
  assert_true(atof(mrows[1][rc]) < -1);  // reacher's returns are negative
}

static pid_t spawn_animat(const char* args) {
  char cmd[2400];
  snprintf(cmd, sizeof cmd, "exec '%s/animat' %s >/dev/null 2>&1", ANIMAT_BUILD_DIR, args);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char*)NULL);
    _exit(127);
  }
  return pid;
}

// --resume refuses another run's checkpoint (naming the keys); a second writer is refused while
// the first holds the directory, and a writer killed with -9 releases it; the resumed run keeps
// only complete metrics rows up to its checkpoint (a torn row and rows after the checkpoint are
// dropped), so metrics.csv counts every iteration once.
static void test_train_resume_faults(void** state) {
  char a[300], b[300], ck[400], lock[400], path[2000];
  snprintf(a, sizeof a, "%s/fa", tmpdir);
  snprintf(b, sizeof b, "%s/fb", tmpdir);
  const char* tiny = "--envs 2 --set minibatches=1 --set horizon=16 --set epochs=1 --threads 1 "
                     "--quiet";
  assert_int_equal(animat("train --task reacher --steps 64 %s --out '%s'", tiny, a), 0);
  assert_int_equal(animat("train --task force-field --steps 64 %s --out '%s'", tiny, b), 0);
  // another run's checkpoint in the run directory
  snprintf(ck, sizeof ck, "%s/checkpoint.bin", a);
  snprintf(path, sizeof path, "cp '%s/checkpoint.bin' '%s.other'", b, ck);
  assert_int_equal(system(path), 0);
  snprintf(path, sizeof path, "cp '%s' '%s.mine' && cp '%s.other' '%s'", ck, ck, ck, ck);
  assert_int_equal(system(path), 0);
  assert_int_equal(animat("train --resume '%s' --steps 128", a), 1);
  expect_out("is not this run's checkpoint: 1 key differs from");
  expect_out("config.txt: task = force-field (checkpoint) vs reacher");
  snprintf(path, sizeof path, "mv '%s.mine' '%s'", ck, ck);
  assert_int_equal(system(path), 0);
  // a second writer: this test holds the lock as a running train would
  snprintf(lock, sizeof lock, "%s/.lock", a);
  int fd = open(lock, O_RDWR | O_CREAT, 0644);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(ftruncate(fd, 0), 0);
  assert_int_equal(write(fd, "12345\n", 6), 6);
  assert_int_equal(animat("train --resume '%s' --steps 128", a), 1);
  expect_out("is in use by another train (PID 12345");
  expect_out(a);
  assert_int_equal(animat("train --task reacher --steps 64 %s --out '%s' --force", tiny, a), 1);
  expect_out("is in use by another train");
  close(fd);
  // kill -9 in the middle of a run (checkpoints every second): the lock goes with the process
  char args[1200];
  snprintf(args, sizeof args, "train --resume '%s' --steps 1e9 --checkpoint-every 1 --quiet", a);
  pid_t pid = spawn_animat(args);
  char err[AM_ERR_LEN];
  int64_t steps = 64;
  for (int i = 0; i < 600 && steps <= 64; i++) {
    usleep(50000);
    if (ama_ckpt_read_steps(ck, &steps, err, sizeof err)) steps = 64;  // mid-rename: retry
  }
  usleep(300000);  // a few more rows after the checkpoint
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_true(steps > 64);
  // the crash tore a row inside its iteration number
  snprintf(path, sizeof path, "%s/metrics.csv", a);
  FILE* f = fopen(path, "a");
  assert_non_null(f);
  fputs("1", f);
  fclose(f);
  assert_int_equal(ama_ckpt_read_steps(ck, &steps, err, sizeof err), 0);
  long long total = steps + 64;
  assert_int_equal(animat("train --resume '%s' --steps %lld --threads 1", a, total), 0);
  expect_out("dropped");
  int uc, rc;
  int rows = read_metrics(a, &uc, &rc);  // every line complete
  assert_int_equal(rows, (int)(total / 32));
  if (rows > 64) rows = 64;
  for (int r = 0; r < rows; r++) assert_int_equal(atoi(mrows[r][0]), r + 1);  // once each
}

int main(void) {
  if (make_tmpdir("cli")) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_config_ranges),
      cmocka_unit_test(test_config_rules),
      cmocka_unit_test(test_train_task_params_resume_quiet),
      cmocka_unit_test(test_train_protects_runs_and_records),
      cmocka_unit_test(test_train_unstable_counted),
      cmocka_unit_test(test_train_resume_faults),
      cmocka_unit_test(test_train_budget),
      cmocka_unit_test(test_train_relative_load_path),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  remove_tmpdir();
  return rc;
}
