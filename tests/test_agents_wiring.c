// test_agents_wiring.c: wiring constraints (agents/ama_mask.c, Dale's law in ama_nn.c): the
// connectivity rules build the matrices they promise (in-degree, ring neighbours, own block
// first), absent weights and their Adam moments stay exactly 0 through PPO updates while present
// ones learn, Dale's signs hold after training, the CSV reader refuses bad files naming file, line
// and value, masks survive a checkpoint round trip (and load without the CSV file), and the
// configuration refuses what cannot work, naming the key and cell type.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ama_agents.h"
#include "amt_tasks.h"
#include "agents_test_util.h"

static int setup(void** s) {
  (void)s;
  return test_dir_make("wiring");
}

static void set(ama_config* c, const char* k, const char* v) {
  char err[1024];
  if (ama_config_set(c, k, v, err, sizeof err)) fail_msg("%s", err);
}

// Checks that module m's W_h (every gate block) is 0 exactly where its matrix is, with zero Adam
// moments there, and returns how many present weights differ from `before` (NULL: 0).
static int check_module(const ama_policy* p, int m, const float* before) {
  const ama_cell* c = m ? &p->motor : &p->core;
  const int H = c->cfg.hidden;
  const uint8_t* M = p->conn[m];
  assert_non_null(M);
  const ama_tensor* t = &p->params.t[c->iWh];
  int changed = 0;
  for (int g = 0; g < c->G; g++)
    for (int i = 0; i < H; i++)
      for (int j = 0; j < H; j++) {
        size_t q = t->offset + ((size_t)g * H + i) * H + j;
        if (!M[(size_t)i * H + j]) {
          assert_true(p->params.w[q] == 0.0f);
          assert_true(p->params.m[q] == 0.0f);
          assert_true(p->params.v[q] == 0.0f);
          assert_int_equal(p->params.keep[q], 0);
        } else if (before && p->params.w[q] != before[q]) {
          changed++;
        }
      }
  return changed;
}

static int row_inputs(const uint8_t* M, int H, int i) {
  int k = 0;
  for (int j = 0; j < H; j++) k += M[(size_t)i * H + j];
  return k;
}

// Random masks on GRU modules: in-degree round(density H) per unit; training keeps absent weights
// at 0 while the present ones change.
static void test_random_gru_masks_hold(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  set(&cfg, "conn", "random");
  set(&cfg, "conn_density", "0.25");
  run r;
  run_open(&r, &cfg, 1);
  ama_policy* p = ama_ppo_policy(r.L);
  for (int m = 0; m < 2; m++) {
    int H = m ? 10 : 12, k = (int)lround(0.25 * H);
    for (int i = 0; i < H; i++) assert_int_equal(row_inputs(p->conn[m], H, i), k);
  }
  float* before = malloc(sizeof(float) * p->params.count);
  memcpy(before, p->params.w, sizeof(float) * p->params.count);
  check_module(p, 0, NULL);
  check_module(p, 1, NULL);
  ama_iter_stats st;
  for (int it = 0; it < 3; it++) assert_int_equal(ama_ppo_iterate(r.L, &st), 0);
  assert_true(check_module(p, 0, before) > 0);
  assert_true(check_module(p, 1, before) > 0);
  // the other tensors are not masked
  int iwx = p->core.iWx;
  for (size_t q = 0; q < (size_t)p->params.t[iwx].rows * p->params.t[iwx].cols; q++)
    assert_int_equal(p->params.keep[p->params.t[iwx].offset + q], 1);
  free(before);
  run_close(&r);
}

// Dale's law with module-structured masks on rate RNNs: after training, every present outgoing
// weight of an excitatory unit is >= 0 and of an inhibitory unit <= 0 (most of them nonzero),
// absent ones exactly 0; each unit draws its inputs from its own block first.
static void test_dale_modules(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  set(&cfg, "core", "rnn");
  set(&cfg, "motor", "rnn");
  set(&cfg, "dale", "1");
  set(&cfg, "core_hidden", "16");
  set(&cfg, "conn", "modules");
  set(&cfg, "conn_blocks", "4");
  set(&cfg, "conn_density", "0.375");  // 6 inputs: the own block's 4, then 2 from the others
  set(&cfg, "conn_modules", "core");
  run r;
  run_open(&r, &cfg, 1);
  ama_policy* p = ama_ppo_policy(r.L);
  assert_null(p->conn[1]);
  const uint8_t* M = p->conn[0];
  for (int i = 0; i < 16; i++) {
    int own = 0;
    for (int j = 0; j < 16; j++) own += M[i * 16 + j] && j / 4 == i / 4;
    assert_int_equal(own, 4);
    assert_int_equal(row_inputs(M, 16, i), 6);
  }
  ama_iter_stats st;
  for (int it = 0; it < 3; it++) assert_int_equal(ama_ppo_iterate(r.L, &st), 0);
  check_module(p, 0, NULL);
  ama_cell_prepare(&p->core, &p->params);
  int ne = ama_dale_excitatory(&p->core.cfg), nonzero = 0;
  assert_int_equal(ne, 13);
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 16; j++) {
      float w = p->core.Wh_eff[i * 16 + j];
      if (!M[i * 16 + j]) assert_true(w == 0.0f);
      if (j < ne) assert_true(w >= 0.0f);
      else assert_true(w <= 0.0f);
      nonzero += w != 0.0f;
    }
  assert_true(nonzero > 80);  // of 96 present
  run_close(&r);
}

// Ring: each unit receives from itself and its nearest neighbours on the ring.
static void test_ring(void** s) {
  (void)s;
  ama_config cfg;
  small_config(&cfg);
  set(&cfg, "conn", "ring");
  set(&cfg, "conn_density", "0.25");  // 3 of 12
  set(&cfg, "conn_modules", "core");
  run r;
  run_open(&r, &cfg, 1);
  const uint8_t* M = ama_ppo_policy(r.L)->conn[0];
  for (int i = 0; i < 12; i++)
    for (int j = 0; j < 12; j++) {
      int d = abs(i - j);
      d = d < 12 - d ? d : 12 - d;
      assert_int_equal(M[i * 12 + j], d <= 1);
    }
  run_close(&r);
}

static void write_file(const char* path, const char* text) {
  FILE* f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void expect_csv_error(const char* text, const char* want) {
  char path[400], err[1024];
  snprintf(path, sizeof path, "%s/bad.csv", g_dir);
  write_file(path, text);
  uint8_t M[9];
  assert_int_equal(ama_conn_read_csv(path, 3, M, err, sizeof err), -1);
  if (!strstr(err, want) || !strstr(err, path)) fail_msg("got '%s', want '%s'", err, want);
}

// The CSV reader: comments, blank lines, spaces or commas, any nonzero number; errors name the
// file, the line, the column and the value.
static void test_csv(void** s) {
  (void)s;
  char path[400], err[1024];
  snprintf(path, sizeof path, "%s/ok.csv", g_dir);
  write_file(path, "# a 3-unit chain\n1,0,0\n\n1 1 0  # unit 1 from 0 and itself\n0, 0.5, 1\n");
  uint8_t M[9];
  assert_int_equal(ama_conn_read_csv(path, 3, M, err, sizeof err), 0);
  const uint8_t want[9] = {1, 0, 0, 1, 1, 0, 0, 1, 1};
  assert_memory_equal(M, want, 9);
  expect_csv_error("1,0,0\n1,0\n0,0,1\n", "line 2: 2 values, the module has 3 units");
  expect_csv_error("1,0,0\n1,x,0\n0,0,1\n", "line 2 column 2: 'x' is not a number");
  expect_csv_error("1,0,0\n1,0,0,1\n0,0,1\n", "line 2: more than 3 values");
  expect_csv_error("1,0,0\n1,0,0\n", ": 2 rows, the module has 3 units");
  expect_csv_error("1,0,0\n1,0,0\n1,0,0\n1,0,0\n", "line 4: more than 3 rows");
  expect_csv_error("1,0,0\n1,nan,0\n0,0,1\n", "line 2 column 2: 'nan' is not a number");
  snprintf(path, sizeof path, "%s/missing.csv", g_dir);
  assert_int_equal(ama_conn_read_csv(path, 3, M, err, sizeof err), -1);
  assert_non_null(strstr(err, "missing.csv"));
}

// A .npy file as numpy writes it (format 1.0: magic, version, header length, the dict padded with
// spaces to a multiple of 64 bytes with the preamble, '\n'), then the data.
static void write_npy(const char* path, const char* descr, const char* order, const char* shape,
                      const void* data, size_t n, int version) {
  char dict[256];
  int d = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                   order, shape);
  const int pre = version == 1 ? 10 : 12;
  int total = ((pre + d + 1 + 63) / 64) * 64;
  int hl = total - pre;
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  fwrite("\x93NUMPY", 1, 6, f);
  fputc(version, f), fputc(0, f);
  for (int b = 0; b < (version == 1 ? 2 : 4); b++) fputc((hl >> (8 * b)) & 255, f);
  fwrite(dict, 1, (size_t)d, f);
  for (int k = d; k < hl - 1; k++) fputc(' ', f);
  fputc('\n', f);
  fwrite(data, 1, n, f);
  fclose(f);
}

static void expect_npy_error(const char* descr, const char* order, const char* shape,
                             const void* data, size_t n, const char* want) {
  char path[400], err[1024];
  snprintf(path, sizeof path, "%s/bad.npy", g_dir);
  write_npy(path, descr, order, shape, data, n, 1);
  uint8_t M[9];
  assert_int_equal(ama_conn_read_npy(path, 3, M, err, sizeof err), -1);
  if (!strstr(err, want) || !strstr(err, path)) fail_msg("got '%s', want '%s'", err, want);
}

// The .npy reader (conn_file ending in .npy): float64 C order, bool Fortran order (transposed
// back), int64, format 2.0; errors name the file and the problem.
static void test_npy(void** s) {
  (void)s;
  char path[400], err[1024];
  const uint8_t want[9] = {1, 0, 0, 1, 1, 0, 0, 1, 1};
  uint8_t M[9];
  const double f8[9] = {1, 0, 0, 1, 1, 0, 0, 0.5, 1};
  snprintf(path, sizeof path, "%s/f8.npy", g_dir);
  write_npy(path, "<f8", "False", "(3, 3)", f8, sizeof f8, 1);
  assert_int_equal(ama_conn_read_npy(path, 3, M, err, sizeof err), 0);
  assert_memory_equal(M, want, 9);
  const uint8_t b1f[9] = {1, 1, 0, 0, 1, 1, 0, 0, 1};  // column by column
  snprintf(path, sizeof path, "%s/b1.npy", g_dir);
  write_npy(path, "|b1", "True", "(3, 3)", b1f, sizeof b1f, 1);
  memset(M, 7, sizeof M);
  assert_int_equal(ama_conn_read_npy(path, 3, M, err, sizeof err), 0);
  assert_memory_equal(M, want, 9);
  const int64_t i8[9] = {1, 0, 0, 1, 1, 0, 0, -3, 1};
  snprintf(path, sizeof path, "%s/i8.npy", g_dir);
  write_npy(path, "<i8", "False", "(3, 3)", i8, sizeof i8, 2);
  memset(M, 7, sizeof M);
  assert_int_equal(ama_conn_read_npy(path, 3, M, err, sizeof err), 0);
  assert_memory_equal(M, want, 9);
  expect_npy_error("<f8", "False", "(3, 4)", f8, sizeof f8, "shape (3, 4), the module has 3 units");
  expect_npy_error(">f8", "False", "(3, 3)", f8, sizeof f8, "dtype '>f8' is not supported");
  expect_npy_error("<f8", "False", "(3, 3)", f8, 40, "40 data bytes, a (3, 3) '<f8' array needs 72");
  const double nan9[9] = {1, 0, 0, 1, NAN, 0, 0, 1, 1};
  expect_npy_error("<f8", "False", "(3, 3)", nan9, sizeof nan9, "element 4 (row 1, column 1)");
  snprintf(path, sizeof path, "%s/text.npy", g_dir);
  write_file(path, "1,0,0\n1,1,0\n0,1,1\n");
  assert_int_equal(ama_conn_read_npy(path, 3, M, err, sizeof err), -1);
  assert_non_null(strstr(err, "not a NumPy .npy file"));
}

// A file mask through training, a checkpoint and back: the resumed learner and a policy loaded
// for recording (after the CSV file is gone) have the same matrix and weights.
static void test_file_checkpoint(void** s) {
  (void)s;
  char csv[400], ck[400], err[1024];
  snprintf(csv, sizeof csv, "%s/core.csv", g_dir);
  snprintf(ck, sizeof ck, "%s/ck.bin", g_dir);
  FILE* f = fopen(csv, "w");
  assert_non_null(f);
  for (int i = 0; i < 12; i++)
    for (int j = 0; j < 12; j++) fprintf(f, "%d%c", (i + 2 * j) % 3 == 0, j == 11 ? '\n' : ',');
  fclose(f);
  ama_config cfg;
  small_config(&cfg);
  set(&cfg, "conn", "file");
  set(&cfg, "conn_file", csv);
  set(&cfg, "conn_modules", "core");
  run a, b;
  run_open(&a, &cfg, 1);
  ama_iter_stats st;
  assert_int_equal(ama_ppo_iterate(a.L, &st), 0);
  ama_policy* pa = ama_ppo_policy(a.L);
  for (int i = 0; i < 12; i++)
    for (int j = 0; j < 12; j++) assert_int_equal(pa->conn[0][i * 12 + j], (i + 2 * j) % 3 == 0);
  check_module(pa, 0, NULL);
  assert_int_equal(ama_ckpt_save(a.L, ck, err, sizeof err), 0);
  run_open(&b, &cfg, 1);
  assert_int_equal(ama_ckpt_load(b.L, ck, err, sizeof err), 0);
  ama_policy* pb = ama_ppo_policy(b.L);
  assert_memory_equal(pa->conn[0], pb->conn[0], 144);
  assert_memory_equal(pa->params.w, pb->params.w, sizeof(float) * pa->params.count);
  assert_int_equal(ama_ppo_iterate(a.L, &st), 0);  // resumed runs go on identically
  assert_int_equal(ama_ppo_iterate(b.L, &st), 0);
  assert_memory_equal(pa->params.w, pb->params.w, sizeof(float) * pa->params.count);
  check_module(pb, 0, NULL);
  unlink(csv);
  ama_policy p;
  const am_task* t = &a.task;
  assert_int_equal(ama_ckpt_load_policy(&p, ck, t->groups, t->n_groups, t->obs_dim, t->act_dim,
                                        2, err, sizeof err), 0);
  assert_non_null(p.conn[0]);
  assert_null(p.conn[1]);
  assert_memory_equal(p.conn[0], ama_ppo_policy(b.L)->conn[0], 144);
  char desc[700];
  ama_conn_describe(&p, 0, desc, sizeof desc);
  assert_non_null(strstr(desc, "48 of 12 x 12 connections"));
  ama_policy_free(&p);
  run_close(&a);
  run_close(&b);
}

static void expect_check_error(ama_config* c, const char* want) {
  char err[1024];
  assert_int_equal(ama_config_check(c, err, sizeof err), -1);
  if (!strstr(err, want)) fail_msg("got '%s', want '%s'", err, want);
}

// What the configuration refuses, naming keys and cell types.
static void test_refusals(void** s) {
  (void)s;
  ama_config c;
  small_config(&c);
  set(&c, "conn_density", "0.5");
  expect_check_error(&c, "conn_density = 0.5 has no effect with conn = full");
  small_config(&c);
  set(&c, "conn", "file");
  expect_check_error(&c, "conn = file needs conn_file");
  small_config(&c);
  set(&c, "dale", "1");
  set(&c, "core", "rnn");
  expect_check_error(&c, "the motor module is a gru cell (motor = gru): its output h is signed");
  set(&c, "motor", "lstm");
  expect_check_error(&c, "the motor module is a lstm cell");
  set(&c, "motor", "mlp");
  expect_check_error(&c, "an mlp has no recurrent weights to sign");
  char err[1024];
  assert_int_equal(ama_config_set(&c, "conn", "sparse", err, sizeof err), -1);
  assert_non_null(strstr(err, "full, random, ring, modules, file"));
  assert_int_equal(ama_config_set(&c, "conn_density", "0", err, sizeof err), -1);
  // an mlp module named in conn_modules
  small_config(&c);
  set(&c, "motor", "mlp");
  set(&c, "conn", "random");
  set(&c, "conn_density", "0.5");
  amt_params params = {0};
  am_task task;
  assert_int_equal(amt_create(&task, c.task, &params, err, sizeof(err)), 0);
  am_pool_config pc = {.num_envs = c.num_envs, .num_threads = 1, .seed = 1};
  am_pool* pool = am_pool_create(&task, &pc, err, sizeof(err));
  assert_null(ama_ppo_create(&c, pool, err, sizeof err));
  assert_non_null(strstr(err, "the motor module is an mlp and has no recurrent weights"));
  am_pool_free(pool);
  amt_destroy(&task);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_gru_masks_hold), cmocka_unit_test(test_dale_modules),
      cmocka_unit_test(test_ring),                  cmocka_unit_test(test_csv), cmocka_unit_test(test_npy),
      cmocka_unit_test(test_file_checkpoint),       cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, test_dir_remove);
}
