// test_cli_fixedpoints.c: `animat fixedpoints` end to end on a tiny reach-center-out run (GRU core
// and motor; and an LSTM core fed the previous action and reward with a rate RNN motor): it runs,
// rebuilds each module's input so that the map F reproduces the recorded states step by step (the
// replay check), writes JSON that parses with the fields documented in docs/analysis.md and a CSV
// with one row per point, gives the same bytes for the same seed; and its error paths: an unknown
// module, an mlp module, no such condition variable, an epoch that never occurs, a recording
// without network channels, another architecture's recording, no checkpoint, a missing --data.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_test_util.h"

// Checks DIR/fixedpoints.json with Python's json module: the fields, kinds, q below the slow
// tolerance, counts adding up to the starts, 3 PC coordinates, the state size, a replay error
// below max_replay. Returns the script's exit status.
static int check_json(const char* dir, int state_size, double max_replay) {
  char py[512], cmd[1400];
  snprintf(py, sizeof py, "%s/check.py", tmpdir);
  FILE* f = fopen(py, "w");
  assert_non_null(f);
  fprintf(f,
          "import json, sys\n"
          "d = json.load(open(sys.argv[1] + '/fixedpoints.json'))\n"
          "S, maxr = int(sys.argv[2]), float(sys.argv[3])\n"
          "assert d['state_size'] == S, d['state_size']\n"
          "assert d['replay_max_error'] is not None and d['replay_max_error'] < maxr, d['replay_max_error']\n"
          "assert len(d['pca']['explained']) == 3\n"
          "assert len(d['conditions']) >= 2, len(d['conditions'])\n"
          "rows = 0\n"
          "for c in d['conditions']:\n"
          "    assert c['steps'] > 0 and c['min_q'] <= min([p['q'] for p in c['points']] + [1e300])\n"
          "    assert c['fixed'] + c['slow'] == len(c['points'])\n"
          "    assert sum(p['count'] for p in c['points']) + c['rejected'] == d['starts']\n"
          "    for p in c['points']:\n"
          "        assert p['kind'] in ('fixed', 'slow')\n"
          "        assert p['q'] < d['tol_slow']\n"
          "        assert (p['kind'] == 'fixed') == (p['q'] < d['tol_fixed'])\n"
          "        assert len(p['pc']) == 3 and len(p['state']) == S and p['dist_start'] >= 0\n"
          "        assert abs(p['max_abs_eig'] - abs(complex(*p['eig'][0]))) < 1e-9\n"
          "        rows += 1\n"
          "csv = open(sys.argv[1] + '/fixedpoints.csv').read().splitlines()\n"
          "assert csv[0].startswith('condition,point,kind,q,count,dist_start,n_unstable,n_marginal,max_abs_eig,pc1,pc2,pc3,eig1_re')\n"
          "assert len(csv) == rows + 1, (len(csv), rows)\n");
  fclose(f);
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' %d %g", py, dir, state_size, max_replay);
  return system(cmd);
}

static void test_fixedpoints_cli(void** state) {
  (void)state;
  assert_int_equal(make_tmpdir("fixedpoints"), 0);
  const char* tiny = "--steps 512 --envs 4 --set minibatches=1 --set horizon=32 --set epochs=1 "
                     "--threads 1 --quiet";
  // a start zone the untrained arm stays in, so that trials reach the delay epoch
  const char* zone = "--task-param start_radius=0.2 --task-param distance=0.25";
  char run[300], run2[300], run3[300], rec[300], rec2[300], rnd[300], o1[300], o2[300], o3[300];
  snprintf(run, sizeof run, "%s/run", tmpdir);
  snprintf(run2, sizeof run2, "%s/run2", tmpdir);
  snprintf(run3, sizeof run3, "%s/run3", tmpdir);
  snprintf(rec, sizeof rec, "%s/r.rollout", tmpdir);
  snprintf(rec2, sizeof rec2, "%s/r2.rollout", tmpdir);
  snprintf(rnd, sizeof rnd, "%s/random.rollout", tmpdir);
  snprintf(o1, sizeof o1, "%s/fp1", tmpdir);
  snprintf(o2, sizeof o2, "%s/fp2", tmpdir);
  snprintf(o3, sizeof o3, "%s/fp3", tmpdir);
  assert_int_equal(animat("train --task reach-center-out %s --out '%s'", tiny, run), 0);
  assert_int_equal(animat("record '%s' --episodes 8 --envs 4 --threads 1 --quiet %s --out '%s'",
                          run, zone, rec), 0);

  assert_int_equal(animat("fixedpoints --help"), 0);
  expect_out("usage: animat fixedpoints");
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --epoch 1 --starts 40 --out '%s' --quiet",
                          run, rec, o1), 0);
  expect_out("fixedpoints: core (gru, 64 units, state 64)");
  expect_out("inputs averaged over epoch 1");
  expect_out("replay: F(recorded state, rebuilt input) gives the next recorded state to");
  assert_int_equal(check_json(o1, 64, 1e-4), 0);
  char tmp[400];
  snprintf(tmp, sizeof tmp, "%s/fixedpoints.json.tmp", o1);
  assert_false(file_exists(tmp));
  // the same seed gives the same bytes
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --epoch 1 --starts 40 --out '%s' --quiet",
                          run, rec, o2), 0);
  char a[400], b[400];
  snprintf(a, sizeof a, "%s/fixedpoints.json", o1);
  snprintf(b, sizeof b, "%s/fixedpoints.json", o2);
  assert_true(same_file(a, b));
  snprintf(a, sizeof a, "%s/fixedpoints.csv", o1);
  snprintf(b, sizeof b, "%s/fixedpoints.csv", o2);
  assert_true(same_file(a, b));
  // the motor: its input holds the core's recorded output
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --module motor --starts 40 --out '%s' "
                          "--quiet", run, rec, o3), 0);
  expect_out("fixedpoints: motor (gru, 64 units, state 64)");
  assert_int_equal(check_json(o3, 64, 1e-4), 0);

  // LSTM core (state h, c) fed the previous action and reward; rate RNN motor
  assert_int_equal(animat("train --task reach-center-out %s --set core=lstm --set core_hidden=16 "
                          "--set motor=rnn --set motor_hidden=24 --set prev_action=1 "
                          "--set prev_reward=1 --out '%s'", tiny, run2), 0);
  assert_int_equal(animat("record '%s' --episodes 8 --envs 4 --threads 1 --quiet --deterministic "
                          "%s --out '%s'", run2, zone, rec2), 0);
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --starts 30 --out '%s' --quiet", run2, rec2,
                          o1), 0);
  expect_out("fixedpoints: core (lstm, 16 units, state 32)");
  assert_int_equal(check_json(o1, 32, 1e-4), 0);
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --module motor --starts 30 --out '%s' "
                          "--quiet", run2, rec2, o1), 0);
  expect_out("fixedpoints: motor (rnn, 24 units, state 24)");
  assert_int_equal(check_json(o1, 24, 1e-4), 0);

  // error paths
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --module cortex", run, rec), 2);
  expect_out("animat fixedpoints: --module: no module 'cortex' (core, motor)");
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --condition nope", run, rec), 1);
  expect_out("no task variable 'nope' (it has: target_x,");
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --epoch 99 --quiet", run, rec), 1);
  expect_out("no step has epoch = 99");
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --quiet", run2, rec), 1);
  expect_out("channel core/state (the module's state) has 64 values per step but the checkpoint's "
             "has 32");
  assert_int_equal(animat("record --random --task reach-center-out --episodes 2 --envs 2 --quiet "
                          "--out '%s'", rnd), 0);
  assert_int_equal(animat("fixedpoints '%s' --data '%s'", run, rnd), 1);
  expect_out("has no channel core/state");
  assert_int_equal(animat("fixedpoints '%s/no-such-run' --data '%s'", tmpdir, rec), 1);
  expect_out("cannot open");
  assert_int_equal(animat("fixedpoints '%s'", run), 2);
  expect_out("--data FILE is required");
  assert_int_equal(animat("train --task reach-center-out %s --set motor=mlp --out '%s'", tiny, run3),
                   0);
  assert_int_equal(animat("fixedpoints '%s' --data '%s' --module motor", run3, rec), 1);
  expect_out("the motor (mlp)");
  expect_out("no recurrent state");
  remove_tmpdir();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixedpoints_cli),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
