// test_dataset.c: the dataset format (sim/am_dataset.h): round trip of every channel type, random
// access by episode, recovery from truncated files, corrupted checksums, golden files (valid and
// invalid), fuzzer-found inputs, the recorder with bit-exact re-simulation, the Python reader.
//
// ANIMAT_WRITE_GOLDEN=1 regenerates tests/data/golden-v1.2.rollout (only when the format
// changes); the 1.0 files (golden-v1.rollout and its broken variants) and the 1.1 file
// (golden-v1.1-split.rollout) are frozen: they were written by the 1.0 and 1.1 writers, and must
// go on reading.
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "amt_tasks.h"
#include "dataset_format.h"  // the filters and lossy conversions, tested directly

static char err[AM_ERR_LEN];
static char tmpdir[256];

static void tmp_path(char* out, size_t n, const char* name) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/animat-test-dataset-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
  }
  snprintf(out, n, "%s/%s", tmpdir, name);
  unlink(out);
}

//---------------------------------- a synthetic dataset -------------------------------------------

// Channels of every dtype and rank; the value of element k at (episode, step) is a formula.
static const am_channel_def SYN[] = {
    {"f32", "a", "m", "x,y,z", AM_DT_F32, 1, {3}, AM_DS_CH_DELTA},
    {"f64", "a", "s", NULL, AM_DT_F64, 2, {2, 2}, AM_DS_CH_DELTA},
    {"f64_raw", "a", "", NULL, AM_DT_F64, 0, {0}, 0},
    {"i32", "b", "", NULL, AM_DT_I32, 1, {2}, AM_DS_CH_DELTA},
    {"u8", "b", "", NULL, AM_DT_U8, 1, {5}, 0},
    {"u32", "b", "", "e0,e1", AM_DT_U32, 0, {0}, 0},
    {"i64", "b", "", NULL, AM_DT_I64, 3, {1, 2, 1}, AM_DS_CH_DELTA},
};
#define NSYN ((int)(sizeof SYN / sizeof SYN[0]))
// Format 1.2's additions, written when syn_v12 is set: a copy of channel "f64" (predicted from it),
// f64 values of channel "f32" (predicted from it across dtypes), lossy f32 and f64 channels whose
// values are exact in their stored forms (binary16, binary32).
static const am_channel_def SYN12[] = {
    {"f64_copy", "c", "", NULL, AM_DT_F64, 2, {2, 2}, 0},
    {"f32_as_f64", "c", "", NULL, AM_DT_F64, 1, {3}, 0},
    {"f32_lossy", "c", "", NULL, AM_DT_F32, 1, {3}, AM_DS_CH_LOSSY},
    {"f64_lossy", "c", "", NULL, AM_DT_F64, 0, {0}, AM_DS_CH_LOSSY | AM_DS_CH_DELTA},
};
#define NSYN_ALL (NSYN + 4)
// Format 1.3's additions, written when syn_v13 is set (with syn_v12): channels predicted by models
// (docs/dataset-format.md, "Models"): exactly (the float of channel "f64" the row before), from
// two sources with a clamp, through another model (a chain), lossy f64 and f32 targets, and an
// element left to the row before.
static const am_channel_def SYN13[] = {
    {"m_f32", "d", "", NULL, AM_DT_F32, 1, {3}, 0},
    {"m_f64_lossy", "d", "", NULL, AM_DT_F64, 1, {2}, AM_DS_CH_LOSSY},
    {"m_f32_lossy", "d", "", NULL, AM_DT_F32, 1, {2}, AM_DS_CH_LOSSY},
};
#define NSYN_13 (NSYN_ALL + 3)
// Format 1.4's additions, written when syn_v14 is set (with syn_v13): models with functions
// (logistic, tanh) that read earlier elements of their own row, one of them also its row before
// (lossy), and an element left to the row before.
static const am_channel_def SYN14[] = {
    {"m_gate", "e", "", NULL, AM_DT_F32, 1, {4}, 0},
    {"m_gate_lossy", "e", "", NULL, AM_DT_F32, 1, {3}, AM_DS_CH_LOSSY},
};
#define NSYN_14 (NSYN_13 + 2)
static int syn_v12;  // write_syn: add SYN12 and give every channel a fixed filter (all kinds)
static int syn_v13;  // write_syn: add SYN13 and their models too
static int syn_v14;  // write_syn: add SYN14 and their models too
static const am_channel_def* syn_def(int c) {
  return c < NSYN ? &SYN[c] : c < NSYN_ALL ? &SYN12[c - NSYN] : c < NSYN_13 ? &SYN13[c - NSYN_ALL]
                                                                          : &SYN14[c - NSYN_13];
}

static void syn_value(int ch, int64_t ep, int64_t step, size_t k, void* out) {
  double x = ep * 1000.0 + step + 0.25 * (double)k;
  switch (ch) {
    case 0: { float v = (float)sin(x * 0.01) * 3.5f; if (ep == 2 && step == 3) v = k == 0 ? NAN : k == 1 ? INFINITY : -0.0f; memcpy(out, &v, 4); break; }
    case 1: { double v = cos(x * 0.001) * 1e3 + (double)k; if (ep == 1 && step == 0 && k == 3) v = -INFINITY; memcpy(out, &v, 8); break; }
    case 2: { double v = x * 1e-7 - 1e300 * (step % 2); memcpy(out, &v, 8); break; }
    case 3: { int32_t v = (int32_t)(step * 7 - 1000 * (int64_t)k) ^ (ep == 3 ? INT32_MIN : 0); memcpy(out, &v, 4); break; }
    case 4: { uint8_t v = (uint8_t)(step * 31 + k + ep); memcpy(out, &v, 1); break; }
    case 5: { uint32_t v = (uint32_t)(1u << (step % 32)) | (uint32_t)ep; memcpy(out, &v, 4); break; }
    case 6: { uint64_t v = (uint64_t)(step * step) - (uint64_t)k * UINT64_C(4000000000000) + (ep == 4 ? UINT64_C(1) << 63 : 0); memcpy(out, &v, 8); break; }  // i64 bits, wrapping
    case 7: syn_value(1, ep, step, k, out); break;
    case 8: { float f; syn_value(0, ep, step, k, &f); double v = f; memcpy(out, &v, 8); break; }
    case 9: { float v = ((float)(step % 50) * 0.125f + (float)k * 8 + (float)ep) * (k % 2 ? -1 : 1); memcpy(out, &v, 4); break; }
    case 10: { double v = (double)(float)(x * 1e-3) * (step % 3 ? 1 : -1); memcpy(out, &v, 8); break; }
    case 11: {  // the float of f64[k] the row before (step 0: the model predicts 0.0), k < 2; then free
      double y = 0.0;
      if (k < 2 && step > 0) syn_value(1, ep, step - 1, k, &y);
      float v = k < 2 ? (float)y : (float)(x * 0.5);
      if (k == 1 && step % 5 == 2) v = nextafterf(v, INFINITY);  // off by one ulp
      memcpy(out, &v, 4);
      break;
    }
    case 12: { double v = cos(x * 0.003) * (k ? 2.0 : 700.0); memcpy(out, &v, 8); break; }
    case 13: { float v = (float)tanh(sin(x * 0.02)) * (k ? 1.0f : 3.0f); memcpy(out, &v, 4); break; }
    case 14: { float v = k == 2 ? (float)(x * 0.1) : (float)(1.0 / (1.0 + exp(-sin(x * 0.03)))); memcpy(out, &v, 4); break; }
    case 15: { float v = (float)tanh(cos(x * 0.05)) * (k == 1 ? 2.0f : 1.0f); memcpy(out, &v, 4); break; }
  }
}

// The models of the SYN13 channels (after they are added).
static void syn_models(am_ds_writer* w) {
  const double inf = INFINITY;
  int c11 = NSYN_ALL, c12 = NSYN_ALL + 1, c13 = NSYN_ALL + 2;
  int rc = am_ds_model_elem(w, c11, 0, 0.0, -inf, inf) || am_ds_model_term(w, c11, 1, 1, 0, 1.0) ||
           am_ds_model_elem(w, c11, 1, 0.0, -inf, inf) || am_ds_model_term(w, c11, 1, 1, 1, 1.0) ||
           // element 2 has none: the row before predicts it
           am_ds_model_elem(w, c12, 0, 0.5, -650.0, 650.0) || am_ds_model_term(w, c12, 2, 0, 0, 3.0) ||
           am_ds_model_term(w, c12, 0, 1, 2, -0.25) ||
           am_ds_model_elem(w, c12, 1, 0.0, -inf, inf) || am_ds_model_term(w, c12, c11, 0, 2, 1e-3) ||
           am_ds_model_product(w, c12, c11, 0, 2, 0, 0, 1, 0.5) ||  // a product of two channels
           am_ds_model_elem(w, c13, 1, 0.0, -1.0, 1.0) || am_ds_model_term(w, c13, 0, 0, 1, 0.9) ||
           am_ds_model_product(w, c13, c13, 1, 1, 0, 1, 0, 0.1);  // its own row before x f32's
  if (rc) fail_msg("%s", am_ds_writer_error(w));
}

// The models of the SYN14 channels (1.4).
static void syn_models_14(am_ds_writer* w) {
  int g = NSYN_13, gl = NSYN_13 + 1;
  int rc =
      am_ds_model_elem(w, g, 0, 0.1, 0.0, 1.0) || am_ds_model_func(w, g, AM_DS_FUNC_LOGISTIC) ||
      am_ds_model_term(w, g, 0, 0, 0, 0.3) ||  // f32[0]: NaN and infinity in episode 2
      am_ds_model_elem(w, g, 1, 0.0, 0.0, 1.0) || am_ds_model_func(w, g, AM_DS_FUNC_LOGISTIC) ||
      am_ds_model_product(w, g, 0, 0, 1, 1, 1, 0, 1e-3) ||
      // element 2 has none; element 3 reads elements 0 and 1 of its own row
      am_ds_model_elem(w, g, 3, -0.2, -1.0, 1.0) || am_ds_model_func(w, g, AM_DS_FUNC_TANH) ||
      am_ds_model_term(w, g, g, 0, 0, 0.5) || am_ds_model_product(w, g, g, 0, 1, 0, 0, 2, 0.2) ||
      am_ds_model_elem(w, gl, 0, 0.0, -1.0, 1.0) || am_ds_model_func(w, gl, AM_DS_FUNC_TANH) ||
      am_ds_model_term(w, gl, 0, 0, 0, 0.7) ||
      // lossy, its own element 0 of the same row and element 2 of the row before
      am_ds_model_elem(w, gl, 2, 0.0, -1.0, 1.0) || am_ds_model_func(w, gl, AM_DS_FUNC_LOGISTIC) ||
      am_ds_model_term(w, gl, gl, 0, 0, 1.5) || am_ds_model_term(w, gl, gl, 1, 2, -0.5);
  if (rc) fail_msg("%s", am_ds_writer_error(w));
}

static int syn_background = 1;  // write_syn: am_ds_set_background
static uint32_t syn_index_part;  // write_syn: am_ds_set_index_part when not 0
static int syn_interrupted;      // write_syn: am_ds_set_interrupted

static int64_t syn_len(int64_t ep) { return 1 + (ep * 37) % 23; }  // 1..23 steps

// Writes n_eps episodes over n_slots slots, interleaved like an env pool (each slot steps in turn).
static void write_syn(const char* path, int n_eps, int n_slots, int chunk_rows, int unfinished) {
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  if (!w) fail_msg("%s", err);
  assert_int_equal(am_ds_set_background(w, syn_background), 0);
  if (syn_index_part) assert_int_equal(am_ds_set_index_part(w, syn_index_part), 0);
  if (syn_interrupted) am_ds_set_interrupted(w);
  assert_int_equal(am_ds_set_meta(w, "task.name", "synthetic", -1), 0);
  assert_int_equal(am_ds_set_meta(w, "binary", "a\0b\n", 4), 0);
  int n_ch = syn_v14 ? NSYN_14 : syn_v13 ? NSYN_13 : syn_v12 ? NSYN_ALL : NSYN;
  for (int c = 0; c < n_ch; c++) assert_int_equal(am_ds_add_channel(w, syn_def(c)), c);
  if (syn_v13) syn_models(w);
  if (syn_v14) syn_models_14(w);
  if (syn_v12) {  // every predictor and layout, on every width
    static const int f[NSYN_14][3] = {
        {AM_DS_PRED_SUBZ, AM_DS_LAYOUT_BIT, 0}, {AM_DS_PRED_XOR, AM_DS_LAYOUT_BYTE, 0},
        {AM_DS_PRED_NONE, AM_DS_LAYOUT_BIT, 0}, {AM_DS_PRED_SUB, AM_DS_LAYOUT_BYTE, 0},
        {AM_DS_PRED_XOR, AM_DS_LAYOUT_BIT, 0},  {AM_DS_PRED_SUBZ, AM_DS_LAYOUT_BYTE, 0},
        {AM_DS_PRED_SUB, AM_DS_LAYOUT_BIT, 0},  {AM_DS_PRED_REF, AM_DS_LAYOUT_BYTE, 1},
        {AM_DS_PRED_REF, AM_DS_LAYOUT_BIT, 0},  {AM_DS_PRED_SUBZ, AM_DS_LAYOUT_BIT, 0},
        {AM_DS_PRED_XOR, AM_DS_LAYOUT_BYTE, 0}, {AM_DS_PRED_MODEL, AM_DS_LAYOUT_BYTE, 0},
        {AM_DS_PRED_MODEL, AM_DS_LAYOUT_BIT, 0}, {AM_DS_PRED_MODEL, AM_DS_LAYOUT_BIT, 0},
        {AM_DS_PRED_MODEL, AM_DS_LAYOUT_BYTE, 0}, {AM_DS_PRED_MODEL, AM_DS_LAYOUT_BIT, 0}};
    for (int c = 0; c < n_ch; c++)
      if (am_ds_set_filter(w, c, f[c][0], f[c][1], f[c][2])) fail_msg("%s", am_ds_writer_error(w));
  }
  assert_int_equal(am_ds_begin(w, n_slots, chunk_rows, 3), 0);
  int64_t next = 0, ep[64], step[64];
  for (int s = 0; s < n_slots; s++) {
    ep[s] = next < n_eps ? next++ : -1;
    step[s] = 0;
    double init[3] = {(double)ep[s], 1.5, -2};
    if (ep[s] >= 0) assert_int_equal(am_ds_episode_begin(w, s, ep[s], init), 0);
  }
  for (;;) {
    int any = 0;
    for (int s = 0; s < n_slots; s++) {
      if (ep[s] < 0) continue;
      any = 1;
      for (int c = 0; c < n_ch; c++) {
        const am_channel_def* def = syn_def(c);
        size_t es = am_dtype_size(def->dtype), elems = 1;
        for (int d = 0; d < def->ndim; d++) elems *= def->shape[d];
        uint8_t* p = am_ds_row_ptr(w, s, c);
        for (size_t k = 0; k < elems; k++) syn_value(c, ep[s], step[s], k, p + k * es);
      }
      step[s]++;
      int last = step[s] == syn_len(ep[s]);
      if (unfinished && ep[s] == n_eps - 1) last = 0;  // never ends: flushed as incomplete
      assert_int_equal(am_ds_row_commit(w, s, last ? AM_DS_END | (ep[s] % 2 ? AM_DS_TERMINATED : AM_DS_TRUNCATED) : 0), 0);
      if (unfinished && ep[s] == n_eps - 1 && step[s] == 5) ep[s] = -1;
      if (last) {
        ep[s] = next < n_eps ? next++ : -1;
        step[s] = 0;
        double init[3] = {(double)ep[s], 1.5, -2};
        if (ep[s] >= 0) assert_int_equal(am_ds_episode_begin(w, s, ep[s], init), 0);
      }
    }
    if (!any) break;
  }
  if (am_ds_close(w, err, sizeof err)) fail_msg("%s", err);
}

// Checks every value of episode index i against the formula.
static void check_syn_episode(am_ds_reader* r, int64_t i, int unfinished_id) {
  const am_ds_episode* e = am_ds_get_episode(r, i);
  assert_non_null(e);
  int64_t want = e->id == unfinished_id ? 5 : syn_len(e->id);
  assert_int_equal(e->steps, want);
  assert_int_equal(e->complete, e->id != unfinished_id);
  if (e->complete) assert_int_equal(e->terminated, (int)(e->id % 2));
  void* dst[NSYN_14];
  int n_ch = am_ds_num_channels(r);
  assert_true(n_ch == NSYN || n_ch == NSYN_ALL || n_ch == NSYN_13 || n_ch == NSYN_14);
  for (int c = 0; c < n_ch; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps);
  double init[3];
  if (am_ds_read_episode(r, i, dst, init, err, sizeof err)) fail_msg("%s", err);
  assert_true(init[0] == (double)e->id && init[1] == 1.5 && init[2] == -2);
  for (int c = 0; c < n_ch; c++) {
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    size_t es = am_dtype_size(ch->dtype);
    for (int64_t s = 0; s < e->steps; s++)
      for (size_t k = 0; k < ch->elems; k++) {
        uint8_t v[8];
        syn_value(c, e->id, s, k, v);
        if (ch->flags & AM_DS_CH_LOSSY) {  // what the stored form keeps
          if (ch->dtype == AM_DT_F64) {
            double d;
            memcpy(&d, v, 8);
            d = (double)(float)d;
            memcpy(v, &d, 8);
          } else {
            float f;
            memcpy(&f, v, 4);
            f = (float)(_Float16)f;
            memcpy(v, &f, 4);
          }
        }
        if (memcmp(v, (uint8_t*)dst[c] + ((size_t)s * ch->elems + k) * es, es))
          fail_msg("channel %s episode %lld step %lld elem %zu differs", ch->name, (long long)e->id,
                   (long long)s, k);
      }
    free(dst[c]);
  }
}

//---------------------------------- tests ---------------------------------------------------------

static void test_roundtrip_all_types(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "rt.rollout");
  write_syn(path, 12, 3, 4, 0);  // chunks of 4 rows: episodes span several chunks
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_recovered(r, NULL), 0);
  assert_int_equal(am_ds_num_channels(r), NSYN);
  for (int c = 0; c < NSYN; c++) {
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    assert_string_equal(ch->name, SYN[c].name);
    assert_int_equal(ch->dtype, SYN[c].dtype);
    assert_int_equal(ch->ndim, SYN[c].ndim);
    assert_int_equal(ch->flags, SYN[c].flags);
    assert_string_equal(ch->labels, SYN[c].labels ? SYN[c].labels : "");
  }
  size_t len;
  const char* b = am_ds_meta(r, "binary", &len);
  assert_int_equal(len, 4);
  assert_memory_equal(b, "a\0b\n", 4);
  assert_string_equal(am_ds_meta(r, "task.name", NULL), "synthetic");
  assert_int_equal(am_ds_num_episodes(r), 12);
  for (int64_t i = 0; i < 12; i++) check_syn_episode(r, i, -1);
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
  uint64_t fb, sb, rb;
  am_ds_sizes(r, &fb, &sb, &rb);
  assert_true(sb > 0 && rb > 0 && fb > sb);
  am_ds_reader_free(r);
}

static void test_random_access_by_episode(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "ra.rollout");
  write_syn(path, 40, 5, 0, 0);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_num_episodes(r), 40);
  int64_t order[] = {39, 0, 17, 17, 3, 28, 1};
  for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
    int64_t i = am_ds_find_episode(r, order[k]);
    assert_int_equal(i, order[k]);
    check_syn_episode(r, i, -1);
  }
  assert_int_equal(am_ds_find_episode(r, 40), -1);
  assert_int_equal(am_ds_read_channel(r, 40, 0, NULL, err, sizeof err), -1);
  am_ds_reader_free(r);
}

static uint8_t* slurp(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* b = malloc((size_t)sz + 1);
  *n = fread(b, 1, (size_t)sz, f);
  fclose(f);
  return b;
}

// The two files hold the same bytes.
static void expect_same_files(const char* pa, const char* pb) {
  size_t na, nb;
  uint8_t *a = slurp(pa, &na), *b = slurp(pb, &nb);
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(na, nb);
  assert_memory_equal(a, b, na);
  free(a);
  free(b);
}

static void test_recovery_truncated(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "tr.rollout");
  write_syn(path, 10, 2, 6, 1);  // the last episode is unfinished (flushed as incomplete)
  size_t n;
  uint8_t* b = slurp(path, &n);
  assert_non_null(b);
  // the whole file: the index works and the unfinished episode is marked incomplete
  am_ds_reader* r = am_ds_open_memory(b, n, "whole", err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_num_episodes(r), 10);
  check_syn_episode(r, 9, 9);
  am_ds_reader_free(r);
  // every truncation point: either a clean error (header/metadata/channels cut) or a recovered
  // file whose episodes all read back correctly
  int recovered = 0, refused = 0;
  int64_t prev_steps = -1;
  for (size_t cut = 0; cut < n - 24; cut += (cut < 2000 ? 7 : 61)) {
    r = am_ds_open_memory(b, cut, "cut", err, sizeof err);
    if (!r) {
      refused++;
      assert_true(strlen(err) > 0);
      continue;
    }
    const char* note;
    assert_int_equal(am_ds_recovered(r, &note), 1);
    assert_non_null(strstr(note, "recovered"));
    int64_t steps = 0;
    for (int64_t i = 0; i < am_ds_num_episodes(r); i++) {
      const am_ds_episode* e = am_ds_get_episode(r, i);
      steps += e->steps;
      void* dst[NSYN];
      for (int c = 0; c < NSYN; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps + 1);
      if (am_ds_read_episode(r, i, dst, NULL, err, sizeof err)) fail_msg("cut %zu: %s", cut, err);
      for (int c = 0; c < NSYN; c++) free(dst[c]);
      if (e->complete) check_syn_episode(r, i, -1);
    }
    assert_true(steps >= prev_steps);  // a longer file never recovers less
    prev_steps = steps;
    recovered++;
    am_ds_reader_free(r);
  }
  assert_true(recovered > 10 && refused > 10);
  free(b);
}

static void test_corrupted_checksum(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "cs.rollout");
  write_syn(path, 6, 2, 0, 0);
  size_t n;
  uint8_t* b = slurp(path, &n);
  am_ds_reader* r = am_ds_open_memory(b, n, "good", err, sizeof err);
  if (!r) fail_msg("%s", err);
  const am_ds_chunk* c = am_ds_get_chunk(r, 2);
  uint64_t at = c->offset + 24 + 40;  // inside the compressed body of chunk 2
  int64_t ep = c->episode;
  am_ds_reader_free(r);
  b[at] ^= 0x10;
  r = am_ds_open_memory(b, n, "flipped", err, sizeof err);
  if (!r) fail_msg("%s", err);
  int bad = 0;
  assert_int_equal(am_ds_verify(r, &bad, err, sizeof err), -1);
  assert_int_equal(bad, 1);
  assert_non_null(strstr(err, "checksum mismatch"));
  assert_non_null(strstr(err, "chunk 2"));
  void* dst[NSYN] = {0};
  assert_int_equal(am_ds_read_episode(r, am_ds_find_episode(r, ep), dst, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "checksum"));
  am_ds_reader_free(r);
  free(b);
}

static void test_never_overwrite(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "exists.rollout");
  FILE* f = fopen(path, "w");
  fputs("precious", f);
  fclose(f);
  assert_null(am_ds_create(path, 0, err, sizeof err));
  assert_non_null(strstr(err, "already exists"));
  size_t n;
  uint8_t* b = slurp(path, &n);
  assert_int_equal(n, 8);
  free(b);
  assert_null(am_ds_create("/nonexistent-dir/x.rollout", 0, err, sizeof err));
  assert_non_null(strstr(err, "/nonexistent-dir/x.rollout"));
}

// One writer per file: a second writer (even with force) is refused while the first holds the
// file, and the first one's bytes are not touched; once it is closed, force may replace it.
static void test_one_writer_per_file(void** state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "locked.rollout");
  am_ds_writer* a = am_ds_create(path, 1, err, sizeof err);
  if (!a) fail_msg("%s", err);
  int fd = open(path, O_WRONLY | O_APPEND);  // stand-in content of the first writer
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "bytes", 5), 5);
  close(fd);
  assert_null(am_ds_create(path, 1, err, sizeof err));
  assert_non_null(strstr(err, "is being written by another process"));
  size_t n;
  uint8_t* b = slurp(path, &n);
  assert_int_equal(n, 5);
  free(b);
  am_ds_abort(a);
  am_ds_writer* c = am_ds_create(path, 1, err, sizeof err);
  if (!c) fail_msg("%s", err);
  am_ds_abort(c);
}

static void test_disk_full(void** state) {
  if (access("/dev/full", W_OK)) skip();
  am_ds_writer* w = am_ds_create("/dev/full", 1, err, sizeof err);
  if (!w) skip();
  assert_int_equal(am_ds_add_channel(w, &SYN[0]), 0);
  assert_int_equal(am_ds_begin(w, 1, 0, 0), -1);
  assert_non_null(strstr(am_ds_writer_error(w), "No space left"));
  assert_int_equal(am_ds_close(w, err, sizeof err), -1);
  assert_non_null(strstr(err, "/dev/full"));
  assert_int_equal(access("/dev/full", F_OK), 0);
}

// The background writer thread writes exactly the file the synchronous path writes, with many
// slots and tiny chunks so that the stepping thread often waits for a free chunk buffer.
static void test_background_identical(void** state) {
  struct { int eps, slots, chunk_rows, unfinished; } cases[] = {{12, 3, 4, 0}, {60, 40, 1, 1}, {30, 7, 0, 1}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char pa[512], pb[512];
    tmp_path(pa, sizeof pa, "bg.rollout");
    tmp_path(pb, sizeof pb, "sync.rollout");
    syn_background = 1;
    write_syn(pa, cases[k].eps, cases[k].slots, cases[k].chunk_rows, cases[k].unfinished);
    syn_background = 0;
    write_syn(pb, cases[k].eps, cases[k].slots, cases[k].chunk_rows, cases[k].unfinished);
    syn_background = 1;
    expect_same_files(pa, pb);
    am_ds_reader* r = am_ds_open(pa, err, sizeof err);
    if (!r) fail_msg("%s", err);
    assert_int_equal(am_ds_recovered(r, NULL), 0);
    assert_int_equal(am_ds_num_episodes(r), cases[k].eps);
    for (int64_t i = 0; i < cases[k].eps; i++)
      check_syn_episode(r, i, cases[k].unfinished ? cases[k].eps - 1 : -1);
    am_ds_reader_free(r);
  }
}

// A write error met by the background thread (here: the file size limit, as a full disk would)
// is reported by a later am_ds_row_commit and by am_ds_close, never lost.
static void test_background_write_error(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "fsize.rollout");
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  if (!w) fail_msg("%s", err);
  am_channel_def d = {"noise", "x", "", NULL, AM_DT_U32, 1, {1024}, 0};
  assert_int_equal(am_ds_add_channel(w, &d), 0);
  assert_int_equal(am_ds_begin(w, 1, 4, 0), 0);
  lim = old;
  lim.rlim_cur = 64 << 10;  // a few chunks of 16 KiB of incompressible data
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  assert_int_equal(am_ds_episode_begin(w, 0, 0, NULL), 0);
  uint32_t x = 12345;
  int failed_at = -1;
  for (int row = 0; row < 4000 && failed_at < 0; row++) {
    uint32_t* p = am_ds_row_ptr(w, 0, 0);
    for (int k = 0; k < 1024; k++) p[k] = (x = x * 1664525u + 1013904223u);
    if (am_ds_row_commit(w, 0, 0)) failed_at = row;
  }
  assert_true(failed_at > 0);
  assert_non_null(strstr(am_ds_writer_error(w), "cannot write"));
  assert_non_null(strstr(am_ds_writer_error(w), path));
  assert_int_equal(am_ds_row_commit(w, 0, 0), -1);  // every later call fails
  assert_int_equal(am_ds_close(w, err, sizeof err), -1);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_sig);
  assert_non_null(strstr(err, "cannot write"));
  assert_non_null(strstr(err, "keeps the"));
  assert_non_null(strstr(err, "recoverable"));
  // the file keeps every chunk written whole and nothing after it (no partial block, no trailer)
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_recovered(r, NULL), 1);
  am_ds_damage dmg;
  am_ds_get_damage(r, &dmg);
  assert_int_equal(dmg.gaps, 0);
  assert_true(am_ds_num_chunks(r) >= 2);
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
  am_ds_reader_free(r);
  unlink(path);
}

//---------------------------------- filters (format 1.2) ------------------------------------------

// Every predictor and layout on every width, for row counts whose values do and do not fill the
// bit layout's groups of 8: decoding gives back the bits; a bit layout's padding must be zero.
static void test_filters_roundtrip(void** state) {
  am_rng rng;
  am_rng_seed(&rng, 7, 1);
  size_t widths[] = {1, 2, 4, 8}, shapes[][2] = {{1, 1}, {3, 5}, {9, 3}, {64, 7}, {40, 1}};
  uint8_t src[64 * 7 * 8], ref[64 * 7 * 8], enc[64 * 7 * 8 + 64], dec[64 * 7 * 8], tmp[64 * 7 * 8];
  for (size_t wi = 0; wi < 4; wi++)
    for (size_t si = 0; si < 5; si++)
      for (int smooth = 0; smooth < 2; smooth++) {
        size_t w = widths[wi], rows = shapes[si][0], elems = shapes[si][1], n = rows * elems * w;
        for (size_t k = 0; k < n; k++) {
          src[k] = smooth ? (uint8_t)(k / w % 3 + (k % w == w - 1 ? 0x40 : 0)) : (uint8_t)(uint32_t)am_rng_next(&rng);
          ref[k] = (uint8_t)(src[k] ^ (k % 5 == 0));
        }
        uint8_t mask[7];  // PRED_MODEL (floats: widths 2, 4, 8): some elements from ref, the
        for (size_t e = 0; e < elems; e++) mask[e] = (uint8_t)(e % 2 == 0);  // others the row before
        for (int p = 0; p < PRED_COUNT; p++)
          for (int l = 0; l < LAYOUT_COUNT; l++) {
            if (p == PRED_MODEL && w == 1) continue;
            am_ds_filt f = {(uint8_t)p, (uint8_t)l, 0, p == PRED_MODEL ? mask : NULL};
            size_t laid = am_ds_laid_size(rows * elems, w, l);
            memset(enc, 0xEE, sizeof enc);
            am_ds_encode(enc, src, ref, rows, elems, w, f, tmp);
            assert_int_equal(enc[laid], 0xEE);  // nothing written past the laid size
            memset(dec, 0, sizeof dec);
            assert_int_equal(am_ds_decode(dec, enc, ref, rows, elems, w, f, tmp), 0);
            if (memcmp(dec, src, n))
              fail_msg("width %zu, %zu x %zu, predictor %d, layout %d: decoded differs", w, rows,
                       elems, p, l);
            if (l == LAYOUT_BIT && (rows * elems) % 8) {  // set the last padding bit of plane 0
              enc[(rows * elems + 7) / 8 - 1] |= 0x80;
              assert_int_equal(am_ds_decode(dec, enc, ref, rows, elems, w, f, tmp), -1);
            }
          }
        // the 1.0/1.1 filters are {SUB, BYTE} and {NONE, BYTE}: byte j of value k at j x count + k
        am_ds_encode(enc, src, NULL, rows, elems, w, (am_ds_filt){PRED_NONE, LAYOUT_BYTE, 0}, tmp);
        for (size_t k = 0; k < rows * elems; k++)
          for (size_t j = 0; j < w; j++) assert_int_equal(enc[j * rows * elems + k], src[k * w + j]);
      }
  // both layouts, from their definitions, over counts that end inside and on groups of 8 and 16
  // values and cross the encoder's blocks of 256 and 512 values. BYTE: byte j of value k at
  // j x count + k. BIT: bit b of byte j of value k at plane 8j + b, bit k % 8, planes of
  // ceil(count / 8) bytes padded with zeros.
  enum { NV = 1100 };
  static uint8_t v[NV * 8], laid[NV * 8 + 64], scratch[NV * 8];
  for (size_t k = 0; k < sizeof v; k++) v[k] = (uint8_t)(uint32_t)am_rng_next(&rng);
  size_t counts[] = {11, 16, 37, 256, 257, 512, 513, 1100};
  for (size_t wi = 0; wi < 4; wi++)
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
      size_t w = widths[wi], n = counts[ci], nb = (n + 7) / 8;
      am_ds_encode(laid, v, NULL, n, 1, w, (am_ds_filt){PRED_NONE, LAYOUT_BYTE, 0}, scratch);
      for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < w; j++)
          if (laid[j * n + k] != v[k * w + j])
            fail_msg("byte layout, width %zu, %zu values: value %zu byte %zu", w, n, k, j);
      am_ds_encode(laid, v, NULL, n, 1, w, (am_ds_filt){PRED_NONE, LAYOUT_BIT, 0}, scratch);
      for (size_t j = 0; j < w; j++)
        for (size_t b = 0; b < 8; b++)
          for (size_t k = 0; k < 8 * nb; k++) {
            int want = k < n ? (v[k * w + j] >> b) & 1 : 0;
            if (((laid[(8 * j + b) * nb + k / 8] >> (k % 8)) & 1) != want)
              fail_msg("bit layout, width %zu, %zu values: value %zu byte %zu bit %zu", w, n, k,
                       j, b);
          }
    }
  // SUBZ: zigzag of the wrapped difference (0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3)
  uint16_t z[4] = {0, 0xFFFF, 0, 2}, ze[8];  // one element: differences 0, -1, 1, 2 (the bit
                                             // layout pads each of its 16 planes to a byte)
  am_ds_encode((uint8_t*)ze, (const uint8_t*)z, NULL, 4, 1, 2, (am_ds_filt){PRED_SUBZ, LAYOUT_BIT, 0}, tmp);
  am_ds_encode((uint8_t*)ze, (const uint8_t*)z, NULL, 4, 1, 2, (am_ds_filt){PRED_SUBZ, LAYOUT_BYTE, 0}, tmp);
  uint8_t want[8] = {0, 1, 2, 4, 0, 0, 0, 0};  // low bytes of 0, 1, 2, 4, then the high bytes
  assert_memory_equal(ze, want, 8);
}

// binary16: every half round-trips through binary32; rounding to nearest even against the
// compiler's _Float16 on planted and random values; overflow, underflow, NaN.
static void test_f16(void** state) {
  for (uint32_t h = 0; h < 65536; h++) {
    uint32_t f = am_f16_to_f32((uint16_t)h);
    int nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (nan) {
      assert_true((f & 0x7f800000u) == 0x7f800000u && (f & 0x7fffffu));
      continue;
    }
    assert_int_equal(am_f32_to_f16(f), h);
    float x;
    memcpy(&x, &f, 4);
    _Float16 y;
    uint16_t hb = (uint16_t)h;
    memcpy(&y, &hb, 2);
    assert_true(x == (float)y || (x != x && y != y));
  }
  am_rng rng;
  am_rng_seed(&rng, 3, 4);
  float planted[] = {65504.0f, 65519.99f, 65520.0f, 1e9f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f,
                     0x1p-24f, 0x1p-25f, 1.5f * 0x1p-25f, 0x1p-26f, -0.0f, 1e-40f, 3.14159f};
  for (int i = 0; i < 200000; i++) {
    float x;
    if (i < (int)(sizeof planted / sizeof planted[0])) {
      x = planted[i];
    } else {
      uint32_t b = (uint32_t)am_rng_next(&rng);
      b = (b & 0x807fffffu) | ((96u + b % 60u) << 23);  // exponents around binary16's range
      memcpy(&x, &b, 4);
    }
    _Float16 y = (_Float16)x;
    uint16_t want;
    memcpy(&want, &y, 2);
    uint32_t xb;
    memcpy(&xb, &x, 4);
    if (am_f32_to_f16(xb) != want) fail_msg("%a: got 0x%04x, want 0x%04x", x, am_f32_to_f16(xb), want);
  }
  uint32_t nan = 0x7fc01234u;
  uint16_t hn = am_f32_to_f16(nan);
  assert_true((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff));
}

// The writer chooses: a channel equal to an earlier one refers to it (same dtype, or the f64 of
// an f32); a constant channel is not stored as noise; the choice is made on the first chunk of 64
// rows and the file reads back bit for bit.
static void test_filter_choice(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "choice.rollout");
  am_channel_def defs[] = {
      {"a", "x", "", NULL, AM_DT_F32, 1, {4}, AM_DS_CH_DELTA},
      {"a_copy", "x", "", NULL, AM_DT_F32, 1, {4}, 0},
      {"a_f64", "x", "", NULL, AM_DT_F64, 1, {4}, 0},
      {"noise", "x", "", NULL, AM_DT_F64, 1, {4}, AM_DS_CH_DELTA},
      {"lossy", "x", "", NULL, AM_DT_F32, 1, {4}, AM_DS_CH_LOSSY},
  };
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_non_null(w);
  for (int c = 0; c < 5; c++) assert_int_equal(am_ds_add_channel(w, &defs[c]), c);
  am_channel_def bad = {"i", "x", "", NULL, AM_DT_I32, 0, {0}, AM_DS_CH_LOSSY};
  assert_int_equal(am_ds_add_channel(w, &bad), -1);
  assert_non_null(strstr(am_ds_writer_error(w), "only f32 and f64 channels can be lossy"));
  am_ds_abort(w);
  w = am_ds_create(path, 1, err, sizeof err);
  for (int c = 0; c < 5; c++) assert_int_equal(am_ds_add_channel(w, &defs[c]), c);
  assert_int_equal(am_ds_begin(w, 1, 100, 0), 0);
  assert_int_equal(am_ds_episode_begin(w, 0, 0, NULL), 0);
  am_rng rng;
  am_rng_seed(&rng, 5, 6);
  enum { STEPS = 250 };
  static float a[STEPS][4], l[STEPS][4];
  static double nz[STEPS][4];
  for (int s = 0; s < STEPS; s++) {
    for (int k = 0; k < 4; k++) {
      a[s][k] = sinf(0.01f * (float)s + (float)k);
      nz[s][k] = am_rng_normal(&rng);
      l[s][k] = (float)am_rng_normal(&rng);
    }
    double af[4];
    for (int k = 0; k < 4; k++) af[k] = a[s][k];
    memcpy(am_ds_row_ptr(w, 0, 0), a[s], sizeof a[s]);
    memcpy(am_ds_row_ptr(w, 0, 1), a[s], sizeof a[s]);
    memcpy(am_ds_row_ptr(w, 0, 2), af, sizeof af);
    memcpy(am_ds_row_ptr(w, 0, 3), nz[s], sizeof nz[s]);
    memcpy(am_ds_row_ptr(w, 0, 4), l[s], sizeof l[s]);
    assert_int_equal(am_ds_row_commit(w, 0, s == STEPS - 1 ? AM_DS_END : 0), 0);
  }
  if (am_ds_close(w, err, sizeof err)) fail_msg("%s", err);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_num_chunks(r), 3);
  const char *pred, *lay;
  int ref;
  assert_int_equal(am_ds_chunk_filter(r, 1, 1, &pred, &lay, &ref, err, sizeof err), 0);
  assert_true(!strcmp(pred, "ref") && ref == 0);
  assert_int_equal(am_ds_chunk_filter(r, 2, 2, &pred, &lay, &ref, err, sizeof err), 0);
  assert_true(!strcmp(pred, "ref") && ref == 0);
  assert_int_equal(am_ds_chunk_filter(r, 0, 3, &pred, &lay, &ref, err, sizeof err), 0);
  assert_true(ref == -1);
  static float ga[STEPS][4], gc[STEPS][4], gl[STEPS][4];
  static double gf[STEPS][4], gn[STEPS][4];
  void* dst[5] = {ga, gc, gf, gn, gl};
  if (am_ds_read_episode(r, 0, dst, NULL, err, sizeof err)) fail_msg("%s", err);
  assert_memory_equal(ga, a, sizeof a);
  assert_memory_equal(gc, a, sizeof a);
  assert_memory_equal(gn, nz, sizeof nz);
  for (int s = 0; s < STEPS; s++)
    for (int k = 0; k < 4; k++) {
      assert_true(gf[s][k] == (double)a[s][k]);
      assert_true(gl[s][k] == (float)(_Float16)l[s][k]);  // the lossy channel: binary16 values
    }
  // a reference decoded alone: the channel it refers to is decoded on the side
  memset(gc, 0, sizeof gc);
  assert_int_equal(am_ds_read_channel(r, 0, 1, gc, err, sizeof err), 0);
  assert_memory_equal(gc, a, sizeof a);
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
  am_ds_reader_free(r);
  unlink(path);
}

// The lossy forms' array conversions (by the processor where it can: F16C) give the bits of the
// scalar conversions: every binary16 value, and binary32 values across the whole range (a stride
// through the bit patterns, groups of 8 with and without infinities and NaNs).
static void test_lossy_conversions(void** state) {
  enum { N = 4096 };
  static uint8_t in[4 * N], out[4 * N];
  for (uint32_t h = 0; h < 65536; h += N) {
    for (uint32_t i = 0; i < N; i++) memcpy(in + 2 * i, &(uint16_t){(uint16_t)(h + i)}, 2);
    am_ds_lossy_unpack(out, in, N, 4);
    for (uint32_t i = 0; i < N; i++) {
      uint32_t got;
      memcpy(&got, out + 4 * i, 4);
      if (got != am_f16_to_f32((uint16_t)(h + i))) fail_msg("binary16 %#x: %#x", h + i, got);
    }
  }
  uint64_t u = 0;
  for (int round = 0; u < (UINT64_C(1) << 32); round++) {
    uint32_t x[N];
    for (uint32_t i = 0; i < N; i++, u += 251) x[i] = (uint32_t)u;
    if (round % 3 == 0) x[round % N] = 0x7fc00001u;  // a NaN in one group
    memcpy(in, x, sizeof x);
    uint32_t n = N - (uint32_t)(round % 7);  // lengths not a multiple of 8
    am_ds_lossy_pack(out, in, n, 4);
    for (uint32_t i = 0; i < n; i++) {
      uint16_t got;
      memcpy(&got, out + 2 * i, 2);
      if (got != am_f32_to_f16(x[i])) fail_msg("binary32 %#x: %#x", x[i], got);
    }
  }
}

// Channel models the writer refuses, each naming the channel or the problem (a writer that met an
// error refuses everything after it, so each case starts a new one).
static void test_model_errors(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "models-bad.rollout");
  am_channel_def defs[] = {{"a", "x", "", NULL, AM_DT_F32, 1, {2}, 0},
                           {"b", "x", "", NULL, AM_DT_F64, 1, {2}, 0},
                           {"i", "x", "", NULL, AM_DT_I32, 1, {2}, 0}};
  struct { const char* want; int kind; } cases[] = {
      {"bad model term", 0},            // its own channel in the same row
      {"bad model term", 1},            // an integer source
      {"bad model term", 2},            // a source element out of range
      {"only f32 and f64", 3},          // a model of an integer channel
      {"out of order or range", 4},     // elements not increasing
      {"no model element", 5},          // a term before any element
      {"form a cycle", 6},              // a <- b <- a, found by am_ds_begin
      {"has no model", 7},              // the model predictor set on a channel without one
      {"unknown model function", 8},    // a function beyond tanh
      {"lo > hi", 9},                   // bounds the wrong way round
      {"bad model term", 10},           // the element itself in its own row
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
    assert_non_null(w);
    for (int c = 0; c < 3; c++) assert_int_equal(am_ds_add_channel(w, &defs[c]), c);
    int rc = 0;
    switch (cases[k].kind) {
      case 0: rc = am_ds_model_elem(w, 0, 0, 0, -1, 1) || am_ds_model_term(w, 0, 0, 0, 1, 1.0); break;
      case 1: rc = am_ds_model_elem(w, 0, 0, 0, -1, 1) || am_ds_model_term(w, 0, 2, 0, 0, 1.0); break;
      case 2: rc = am_ds_model_elem(w, 0, 0, 0, -1, 1) || am_ds_model_term(w, 0, 1, 1, 2, 1.0); break;
      case 3: rc = am_ds_model_elem(w, 2, 0, 0, -1, 1); break;
      case 4: rc = am_ds_model_elem(w, 0, 1, 0, -1, 1) || am_ds_model_elem(w, 0, 0, 0, -1, 1); break;
      case 5: rc = am_ds_model_term(w, 1, 0, 0, 0, 1.0); break;
      case 6:
        rc = am_ds_model_elem(w, 0, 0, 0, -1, 1) || am_ds_model_term(w, 0, 1, 1, 0, 1.0) ||
             am_ds_model_elem(w, 1, 0, 0, -1, 1) || am_ds_model_term(w, 1, 0, 0, 0, 1.0) ||
             am_ds_begin(w, 1, 16, 0);
        break;
      case 7:
        rc = am_ds_set_filter(w, 1, AM_DS_PRED_MODEL, AM_DS_LAYOUT_BYTE, 0) || am_ds_begin(w, 1, 16, 0);
        break;
      case 8: rc = am_ds_model_elem(w, 0, 0, 0, -1, 1) || am_ds_model_func(w, 0, 3); break;
      case 9: rc = am_ds_model_elem(w, 0, 0, 0, 1, -1); break;
      case 10: rc = am_ds_model_elem(w, 0, 1, 0, -1, 1) || am_ds_model_term(w, 0, 0, 0, 1, 1.0); break;
    }
    assert_true(rc != 0);
    if (!strstr(am_ds_writer_error(w), cases[k].want))
      fail_msg("case %zu: got '%s', want '%s'", k, am_ds_writer_error(w), cases[k].want);
    am_ds_abort(w);
  }
  // allowed: a model reading its own channel's row before, times another channel (a product),
  // which predicts a[1] = 0.5 s^2 exactly from a[1]'s row before and b[1] = s ... and round trips
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  for (int c = 0; c < 3; c++) assert_int_equal(am_ds_add_channel(w, &defs[c]), c);
  assert_int_equal(am_ds_model_elem(w, 0, 1, 0, -INFINITY, INFINITY), 0);
  assert_int_equal(am_ds_model_product(w, 0, 0, 1, 1, 1, 0, 1, 0.5), 0);
  assert_int_equal(am_ds_model_count(w, 0), 1);
  assert_int_equal(am_ds_begin(w, 1, 16, 0), 0);
  assert_int_equal(am_ds_episode_begin(w, 0, 0, NULL), 0);
  for (int s = 0; s < 40; s++) {
    float a[2] = {(float)s, 0.5f * (float)s * (float)s};
    double b[2] = {s * 0.25, (double)s};
    memcpy(am_ds_row_ptr(w, 0, 0), a, sizeof a);
    memcpy(am_ds_row_ptr(w, 0, 1), b, sizeof b);
    memset(am_ds_row_ptr(w, 0, 2), 0, 8);
    assert_int_equal(am_ds_row_commit(w, 0, s == 39 ? AM_DS_END : 0), 0);
  }
  if (am_ds_close(w, err, sizeof err)) fail_msg("%s", err);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  float ga[40][2];
  assert_int_equal(am_ds_read_channel(r, 0, 0, ga, err, sizeof err), 0);
  for (int s = 0; s < 40; s++) assert_true(ga[s][0] == (float)s && ga[s][1] == 0.5f * (float)s * (float)s);
  am_ds_reader_free(r);
  unlink(path);
}

// A re-simulation refuses a file whose state channels are lossy, naming the channel.
// A GRU-like model for test_model_tiles: channel 2 (f64[24]) from channel 0 (f32[12], the same
// row) and channel 1 (f32[8], the row before). Elements 0..15 (but 3, which has none) read all of
// those (a tile of 8 entries, then 7 on their own); elements 16..23 read channel 0, then element
// e - 16 of their own row alone and times each element of channel 1 (a tile with a run of
// products); element 5 is clamped.
enum { TIX = 12, TIH = 8, TIG = 24 };
typedef struct { int src, lag; uint32_t se; int src2, lag2; uint32_t se2; double coef; } tile_term;
static int tile_terms(uint32_t e, tile_term* t) {
  int n = 0;
  for (uint32_t i = 0; i < TIX; i++, n++) t[n] = (tile_term){0, 0, i, -1, 0, 0, sin(e * 7.1 + n * 1.3)};
  if (e < 2 * TIH) {
    for (uint32_t j = 0; j < TIH; j++, n++) t[n] = (tile_term){1, 1, j, -1, 0, 0, cos(e * 2.3 + n)};
    return n;
  }
  t[n++] = (tile_term){2, 0, e - 2 * TIH, -1, 0, 0, 0.75};
  for (uint32_t j = 0; j < TIH; j++, n++) t[n] = (tile_term){2, 0, e - 2 * TIH, 1, 1, j, sin(e + n * 0.7)};
  return n;
}
static double tile_bias(uint32_t e) { return 0.1 * e - 1.0; }
static double tile_lo(uint32_t e) { return e == 5 ? -0.3 : -INFINITY; }
static double tile_hi(uint32_t e) { return e == 5 ? 0.3 : INFINITY; }
static double tile_value(int c, int64_t t, uint32_t k) {  // the channels' values at row t
  double x = (double)t * 0.37 + k * 0.11 + c;
  return c == 2 ? sin(x) * 2.0 : (float)cos(x * 1.7);
}

// The models' sums of many entries at once (tiles, runs of products) and the element-wise
// decoding in waves, against the definition evaluated term by term.
static void test_model_tiles(void** state) {
  (void)state;
  enum { ROWS = 37 };  // not a whole number of blocks
  static const int dtype[3] = {AM_DT_F32, AM_DT_F32, AM_DT_F64};
  static const size_t elems[3] = {TIX, TIH, TIG};
  am_ds_model* m = calloc(1, sizeof *m);  // freed with am_ds_models_free
  m->ch = 2;
  m->e = calloc(TIG, sizeof *m->e);
  m->t = calloc(TIG * (TIX + TIH + 1), sizeof *m->t);
  tile_term tt[TIX + TIH + 1];
  for (uint32_t e = 0; e < TIG; e++) {
    if (e == 3) continue;
    am_ds_mentry* me = &m->e[m->n_entries++];
    *me = (am_ds_mentry){.elem = e, .bias = tile_bias(e), .lo = tile_lo(e), .hi = tile_hi(e), .term0 = m->n_terms};
    int n = tile_terms(e, tt);
    for (int j = 0; j < n; j++)
      m->t[m->n_terms++] = (am_ds_term){(uint16_t)tt[j].src, (uint8_t)tt[j].lag, (uint8_t)tt[j].lag2,
                                        tt[j].se, tt[j].src2 < 0 ? MODEL_NO_SRC : (uint16_t)tt[j].src2,
                                        tt[j].se2, tt[j].coef};
    me->n_terms = (uint32_t)n;
  }
  int order[1];
  char why[200];
  if (am_ds_models_check(m, 1, dtype, elems, 3, 4, order, why, sizeof why)) fail_msg("%s", why);
  // the plan has what this test is about: two waves (the second from entry 15, element 16), a
  // tile in each, none across them (entries 8-14 on their own), a run of products
  assert_int_equal(m->n_waves, 2);
  assert_int_equal(m->wave0[1], 15);
  assert_int_equal(m->tile[0], TIX + TIH);
  for (int k = 8; k < 15; k++) assert_int_equal(m->tile[k], 0);
  assert_int_equal(m->tile[15], TIX);
  assert_int_equal(m->prod0[15], TIX + 1);
  assert_int_equal(m->prod1[15], TIX + 1 + TIH);
  float* c0 = malloc(sizeof(float) * ROWS * TIX);
  float* c1 = malloc(sizeof(float) * ROWS * TIH);
  double* c2 = malloc(sizeof(double) * ROWS * TIG);
  double* pred = malloc(sizeof(double) * ROWS * TIG);
  uint8_t mask[TIG];
  for (int t = 0; t < ROWS; t++) {
    for (uint32_t k = 0; k < TIX; k++) c0[t * TIX + k] = (float)tile_value(0, t, k);
    for (uint32_t k = 0; k < TIH; k++) c1[t * TIH + k] = (float)tile_value(1, t, k);
    for (uint32_t k = 0; k < TIG; k++) c2[t * TIG + k] = tile_value(2, t, k);
  }
  const uint8_t* cols[3] = {(uint8_t*)c0, (uint8_t*)c1, (uint8_t*)c2};
  // a tile's sums in two passes of 4 (as without AVX-512), then as this processor does them
  am_ds_model_wide_sums(0);
  assert_int_equal(am_ds_model_predict(m, cols, dtype, elems, ROWS, 0, (uint8_t*)pred, mask), 0);
  double* pred4 = malloc(sizeof(double) * ROWS * TIG);
  memcpy(pred4, pred, sizeof(double) * ROWS * TIG);
  am_ds_model_wide_sums(1);
  assert_int_equal(am_ds_model_predict(m, cols, dtype, elems, ROWS, 0, (uint8_t*)pred, mask), 0);
  assert_memory_equal(pred, pred4, sizeof(double) * ROWS * TIG);
  free(pred4);
  for (int t = 0; t < ROWS; t++)
    for (uint32_t k = 0; k < m->n_entries; k++) {
      const am_ds_mentry* e = &m->e[k];
      double s = e->bias;
      for (uint32_t j = 0; j < e->n_terms; j++) {
        const am_ds_term* x = &m->t[e->term0 + j];
        const uint8_t* f[2] = {cols[x->src], x->src2 == MODEL_NO_SRC ? NULL : cols[x->src2]};
        double v = x->coef;
        for (int i = 0; i < 2 && f[i]; i++) {
          int src = i ? x->src2 : x->src, r = t - (i ? x->lag2 : x->lag);
          uint32_t se = i ? x->src_elem2 : x->src_elem;
          double y = r < 0 ? 0.0 : src == 2 ? c2[r * TIG + se] : src ? c1[r * TIH + se] : c0[r * TIX + se];
          v = v * y;
        }
        s = s + v;
      }
      s = s < e->lo ? e->lo : s > e->hi ? e->hi : s;
      if (memcmp(&s, &pred[t * TIG + e->elem], 8))
        fail_msg("row %d element %u: predicted %.17g, defined %.17g", t, e->elem, pred[t * TIG + e->elem], s);
    }
  am_ds_models_free(m, 1);
  // the same model in a file: its elements decode in waves, each reading elements decoded before
  const char* path = "/tmp/animat_test_tiles.rollout";
  unlink(path);
  for (int layout = 0; layout < 2; layout++) {
    am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
    if (!w) fail_msg("%s", err);
    am_channel_def d[3] = {{"x", "network", "", NULL, AM_DT_F32, 1, {TIX}, 0},
                           {"h", "network", "", NULL, AM_DT_F32, 1, {TIH}, 0},
                           {"g", "network", "", NULL, AM_DT_F64, 1, {TIG}, 0}};
    for (int c = 0; c < 3; c++) assert_int_equal(am_ds_add_channel(w, &d[c]), c);
    for (uint32_t e = 0; e < TIG; e++) {
      if (e == 3) continue;
      int rc = am_ds_model_elem(w, 2, e, tile_bias(e), tile_lo(e), tile_hi(e));
      int n = tile_terms(e, tt);
      for (int j = 0; j < n && !rc; j++)
        rc = tt[j].src2 < 0 ? am_ds_model_term(w, 2, tt[j].src, tt[j].lag, tt[j].se, tt[j].coef)
                            : am_ds_model_product(w, 2, tt[j].src, tt[j].lag, tt[j].se, tt[j].src2,
                                                  tt[j].lag2, tt[j].se2, tt[j].coef);
      if (rc) fail_msg("%s", am_ds_writer_error(w));
    }
    if (am_ds_set_filter(w, 2, AM_DS_PRED_MODEL, layout ? AM_DS_LAYOUT_BIT : AM_DS_LAYOUT_BYTE, 0))
      fail_msg("%s", am_ds_writer_error(w));
    assert_int_equal(am_ds_begin(w, 1, 40, 0), 0);  // 90 rows: chunks of 40, 40 and 10
    assert_int_equal(am_ds_episode_begin(w, 0, 0, NULL), 0);
    for (int t = 0; t < 90; t++) {
      for (int c = 0; c < 3; c++)
        for (uint32_t k = 0; k < elems[c]; k++) {
          uint8_t* p = (uint8_t*)am_ds_row_ptr(w, 0, c);
          double v = tile_value(c, t, k);
          float f = (float)v;
          if (c == 2) memcpy(p + 8 * k, &v, 8);
          else memcpy(p + 4 * k, &f, 4);
        }
      assert_int_equal(am_ds_row_commit(w, 0, t == 89 ? AM_DS_END | AM_DS_TRUNCATED : 0), 0);
    }
    if (am_ds_close(w, err, sizeof err)) fail_msg("%s", err);
    am_ds_reader* r = am_ds_open(path, err, sizeof err);
    if (!r) fail_msg("%s", err);
    double* g = malloc(sizeof(double) * 90 * TIG);
    if (am_ds_read_channel(r, 0, 2, g, err, sizeof err)) fail_msg("%s", err);
    for (int t = 0; t < 90; t++)
      for (uint32_t k = 0; k < TIG; k++)
        if (g[t * TIG + k] != tile_value(2, t, k)) fail_msg("layout %d row %d element %u differs", layout, t, k);
    free(g);
    am_ds_reader_free(r);
    unlink(path);
  }
  free(c0), free(c1), free(c2), free(pred);
}

static void test_resim_refuses_lossy_state(void** state) {
  am_task t;
  if (amt_create(&t, "reacher", NULL, err, sizeof err)) fail_msg("%s", err);
  const mjModel* m = t.model->m;
  char path[512], num[32];
  tmp_path(path, sizeof path, "lossy-state.rollout");
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_non_null(w);
  const char* keys[] = {"task.frame_skip", "model.nq", "model.nv", "model.na"};
  int vals[] = {t.frame_skip, m->nq, m->nv, m->na};
  for (int k = 0; k < 4; k++) {
    snprintf(num, sizeof num, "%d", vals[k]);
    assert_int_equal(am_ds_set_meta(w, keys[k], num, -1), 0);
  }
  am_channel_def q = {"qpos", "body", "", NULL, AM_DT_F64, 1, {(uint32_t)m->nq}, AM_DS_CH_LOSSY};
  am_channel_def c = {"ctrl", "body", "", NULL, AM_DT_F64, 1, {(uint32_t)m->nu}, 0};
  assert_int_equal(am_ds_add_channel(w, &q), 0);
  assert_int_equal(am_ds_add_channel(w, &c), 1);
  int n_init = 1 + m->nq + 2 * m->nv + m->na + 7 * m->nmocap;
  assert_int_equal(am_ds_begin(w, 1, 16, n_init), 0);
  double* init = calloc((size_t)n_init, sizeof(double));
  assert_int_equal(am_ds_episode_begin(w, 0, 0, init), 0);
  for (int s = 0; s < 2; s++) {
    memset(am_ds_row_ptr(w, 0, 0), 0, sizeof(double) * (size_t)m->nq);
    memset(am_ds_row_ptr(w, 0, 1), 0, sizeof(double) * (size_t)m->nu);
    assert_int_equal(am_ds_row_commit(w, 0, s ? AM_DS_END : 0), 0);
  }
  free(init);
  if (am_ds_close(w, err, sizeof err)) fail_msg("%s", err);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  double dev;
  assert_int_equal(am_ds_resim_episode(r, t.model, 0, &dev, err, sizeof err), -1);
  if (!strstr(err, "channel 'qpos' is stored lossy")) fail_msg("got '%s'", err);
  am_ds_reader_free(r);
  unlink(path);
  amt_destroy(&t);
}

//---------------------------------- golden files --------------------------------------------------

static void golden(char* out, size_t n, const char* name) {
  snprintf(out, n, "%s/%s", ANIMAT_TEST_DATA, name);
}

// Regenerates the 1.4 golden file (ANIMAT_WRITE_GOLDEN=1): every predictor and layout, lossy
// channels, models (1.3) with functions and own-row terms (1.4), its index split over INDEX blocks
// of 4 entries, its trailer saying the recording was interrupted. The older files are frozen: the
// 1.3 file was written the same way without syn_v14, the 1.2 file without syn_v13, the 1.1 file
// without syn_v12. (The 1.0
// golden files and their broken variants were made from golden-v1.rollout by flipping or cutting
// bytes: bad magic at 1, major version at 8, the metadata header's size at 25, the first chunk's
// body at its offset + 60, the file cut in half, and its first 10 bytes.)
static void write_goldens(void) {
  char path[512];
  golden(path, sizeof path, "golden-v1.4.rollout");
  syn_index_part = 4;
  syn_interrupted = 1;
  syn_v12 = syn_v13 = syn_v14 = 1;
  write_syn(path, 6, 2, 8, 1);
  syn_index_part = 0;
  syn_interrupted = 0;
  syn_v12 = syn_v13 = syn_v14 = 0;
}

// Opens golden file name and checks what every golden file holds: format 1.minor, n_ch channels,
// read without recovery, the 6 synthetic episodes value by value, verify clean.
static am_ds_reader* open_golden(const char* name, int minor, int n_ch) {
  char path[512];
  golden(path, sizeof path, name);
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  int major, got_minor;
  am_ds_version(r, &major, &got_minor);
  assert_true(major == 1 && got_minor == minor);
  assert_int_equal(am_ds_recovered(r, NULL), 0);
  assert_int_equal(am_ds_num_channels(r), n_ch);
  assert_int_equal(am_ds_num_episodes(r), 6);
  for (int64_t i = 0; i < 6; i++) check_syn_episode(r, i, 5);
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
  return r;
}

static void test_golden_files(void** state) {
  if (getenv("ANIMAT_WRITE_GOLDEN")) write_goldens();
  char path[512];
  am_ds_reader* r = open_golden("golden-v1.rollout", 0, NSYN);
  assert_int_equal(am_ds_interrupted(r), 0);
  am_ds_reader_free(r);
  // 1.1: the same episodes, the index in parts, the trailer's interrupted flag
  r = open_golden("golden-v1.1-split.rollout", 1, NSYN);
  assert_int_equal(am_ds_interrupted(r), 1);
  assert_true(am_ds_num_chunks(r) > 8);  // more than two index parts
  am_ds_reader_free(r);
  // 1.2: the same episodes and channels plus SYN12, with every predictor and layout
  r = open_golden("golden-v1.2.rollout", 2, NSYN_ALL);
  const char *pred, *lay;
  int ref;
  assert_int_equal(am_ds_chunk_filter(r, 0, 7, &pred, &lay, &ref, err, sizeof err), 0);
  assert_true(!strcmp(pred, "ref") && !strcmp(lay, "byte") && ref == 1);
  assert_int_equal(am_ds_chunk_filter(r, 0, 0, &pred, &lay, &ref, err, sizeof err), 0);
  assert_true(!strcmp(pred, "subz") && !strcmp(lay, "bit") && ref == -1);
  assert_true(am_ds_get_channel(r, 9)->flags & AM_DS_CH_LOSSY);
  am_ds_reader_free(r);
  // 1.3: the same plus SYN13, predicted by their models (a chain, lossy targets, clamps)
  r = open_golden("golden-v1.3.rollout", 3, NSYN_13);
  for (int c = NSYN_ALL; c < NSYN_13; c++) {
    assert_int_equal(am_ds_chunk_filter(r, 1, c, &pred, &lay, &ref, err, sizeof err), 0);
    assert_true(!strcmp(pred, "model") && ref == -1);
  }
  // a model's channel read alone: its sources (and their sources) are decoded on the side
  {
    const am_ds_episode* e = am_ds_get_episode(r, 0);
    double* m = calloc((size_t)e->steps * 2, sizeof(double));
    void* dst[NSYN_13] = {0};
    for (int c = 0; c < NSYN_13; c++) dst[c] = calloc((size_t)e->steps, am_ds_get_channel(r, c)->row_bytes);
    assert_int_equal(am_ds_read_episode(r, 0, dst, NULL, err, sizeof err), 0);
    assert_int_equal(am_ds_read_channel(r, 0, NSYN_ALL + 1, m, err, sizeof err), 0);  // f64 lossy: 2 doubles
    assert_memory_equal(m, dst[NSYN_ALL + 1], (size_t)e->steps * 2 * sizeof(double));
    for (int c = 0; c < NSYN_13; c++) free(dst[c]);
    free(m);
  }
  am_ds_reader_free(r);
  // 1.4: the same plus SYN14, models with functions reading their own row
  r = open_golden("golden-v1.4.rollout", 4, NSYN_14);
  for (int c = NSYN_13; c < NSYN_14; c++) {
    assert_int_equal(am_ds_chunk_filter(r, 1, c, &pred, &lay, &ref, err, sizeof err), 0);
    assert_true(!strcmp(pred, "model") && ref == -1);
  }
  am_ds_reader_free(r);
  struct { const char* name; const char* open_err; const char* verify_err; int recovered; } bad[] = {
      {"bad-magic.rollout", "wrong magic", NULL, 0},
      {"bad-version.rollout", "version 2.0 is not supported", NULL, 0},
      {"bad-header-crc.rollout", "metadata block at offset 16: block header checksum", NULL, 0},
      {"flipped-chunk.rollout", NULL, "chunk 0", 0},
      {"truncated.rollout", NULL, "1 damaged byte range(s)", 1},
      {"tiny.rollout", "only 10 bytes", NULL, 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    golden(path, sizeof path, bad[i].name);
    r = am_ds_open(path, err, sizeof err);
    if (bad[i].open_err) {
      assert_null(r);
      if (!strstr(err, bad[i].open_err)) fail_msg("%s: got '%s'", bad[i].name, err);
      continue;
    }
    if (!r) fail_msg("%s: %s", bad[i].name, err);
    assert_int_equal(am_ds_recovered(r, NULL), bad[i].recovered);
    int rc = am_ds_verify(r, NULL, err, sizeof err);
    if (bad[i].verify_err) {
      assert_int_equal(rc, -1);
      if (!strstr(err, bad[i].verify_err)) fail_msg("%s: got '%s'", bad[i].name, err);
    } else {
      assert_int_equal(rc, 0);
    }
    am_ds_reader_free(r);
  }
}

// One thread's share of test_reader_dup: every episode of its reader, rounds times, forwards or
// backwards, each against the bytes and initial state its parent read alone.
typedef struct dup_job {
  am_ds_reader* r;
  int backwards, rounds, bad;
  void** want;         // episodes x channels
  double* want_init;   // episodes x n_init
  char err[AM_ERR_LEN];
} dup_job;

static void* dup_job_run(void* arg) {
  dup_job* j = arg;
  int nc = am_ds_num_channels(j->r), ni = am_ds_num_init(j->r);
  int64_t ne = am_ds_num_episodes(j->r);
  void* dst[AM_DS_MAX_CHANNELS];
  double init[256];
  for (int k = 0; k < j->rounds && !j->bad; k++)
    for (int64_t n = 0; n < ne && !j->bad; n++) {
      int64_t i = j->backwards ? ne - 1 - n : n;
      size_t steps = (size_t)am_ds_get_episode(j->r, i)->steps;
      for (int c = 0; c < nc; c++)
        dst[c] = malloc(steps * am_ds_get_channel(j->r, c)->row_bytes + 1);
      if (am_ds_read_episode(j->r, i, dst, init, j->err, sizeof j->err)) j->bad = 1;
      for (int c = 0; c < nc && !j->bad; c++)
        if (memcmp(dst[c], j->want[i * nc + c], steps * am_ds_get_channel(j->r, c)->row_bytes))
          j->bad = 1, snprintf(j->err, sizeof j->err, "episode %lld channel %d differs",
                               (long long)i, c);
      if (!j->bad && memcmp(init, j->want_init + i * ni, sizeof(double) * (size_t)ni))
        j->bad = 1, snprintf(j->err, sizeof j->err, "episode %lld: initial state differs",
                             (long long)i);
      for (int c = 0; c < nc; c++) free(dst[c]);
    }
  return NULL;
}

// Readers from am_ds_reader_dup share their parent's tables and read the same bytes, on threads of
// their own at the same time as the parent (the golden 1.4 file: every predictor and layout, lossy
// channels, models with their own rows and clamps, whose decoding keeps values in the model), from
// a file and from memory; a dup of a dup is a dup of the parent.
static void test_reader_dup(void** state) {
  (void)state;
  char path[512];
  golden(path, sizeof path, "golden-v1.4.rollout");
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t bytes[1 << 20];
  size_t size = fread(bytes, 1, sizeof bytes, f);
  fclose(f);
  assert_true(size > 0 && size < sizeof bytes);
  for (int mem = 0; mem < 2; mem++) {
    am_ds_reader* r = mem ? am_ds_open_memory(bytes, size, "golden", err, sizeof err)
                          : am_ds_open(path, err, sizeof err);
    if (!r) fail_msg("%s", err);
    int nc = am_ds_num_channels(r), ni = am_ds_num_init(r);
    int64_t ne = am_ds_num_episodes(r);
    assert_true(nc <= AM_DS_MAX_CHANNELS && ni <= 256 && ne == 6);
    void** want = calloc((size_t)(ne * nc), sizeof(void*));
    double* want_init = calloc((size_t)(ne * ni) + 1, sizeof(double));
    for (int64_t i = 0; i < ne; i++) {
      size_t steps = (size_t)am_ds_get_episode(r, i)->steps;
      for (int c = 0; c < nc; c++)
        want[i * nc + c] = malloc(steps * am_ds_get_channel(r, c)->row_bytes + 1);
      if (am_ds_read_episode(r, i, want + i * nc, want_init + i * ni, err, sizeof err))
        fail_msg("%s", err);
    }
    uint64_t fb0, sb0, rb0, fb, sb, rb;
    am_ds_sizes(r, &fb0, &sb0, &rb0);
    am_ds_reader* d1 = am_ds_reader_dup(r, err, sizeof err);
    if (!d1) fail_msg("%s", err);
    am_ds_reader* d2 = am_ds_reader_dup(d1, err, sizeof err);  // a dup of the dup
    if (!d2) fail_msg("%s", err);
    assert_int_equal(am_ds_num_channels(d2), nc);
    assert_int_equal(am_ds_num_episodes(d2), ne);
    assert_string_equal(am_ds_meta(d2, "task.name", NULL) ? am_ds_meta(d2, "task.name", NULL) : "",
                        am_ds_meta(r, "task.name", NULL) ? am_ds_meta(r, "task.name", NULL) : "");
    dup_job job[3] = {{r, 0, 20, 0, want, want_init, ""}, {d1, 1, 20, 0, want, want_init, ""},
                      {d2, 0, 20, 0, want, want_init, ""}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
      assert_int_equal(pthread_create(&th[t], NULL, dup_job_run, &job[t + 1]), 0);
    dup_job_run(&job[0]);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 3; t++)
      if (job[t].bad) fail_msg("%s, reader %d: %s", mem ? "memory" : "file", t, job[t].err);
    am_ds_sizes(d1, &fb, &sb, &rb);
    assert_true(fb == fb0 && sb == sb0 && rb == rb0);
    am_ds_reader_free(d1);  // the other dup reads on without it
    job[2].rounds = 1;
    dup_job_run(&job[2]);
    if (job[2].bad) fail_msg("%s", job[2].err);
    am_ds_reader_free(d2);
    for (int64_t i = 0; i < ne * nc; i++) free(want[i]);
    free(want);
    free(want_init);
    am_ds_reader_free(r);
  }
}

// am_ds_verify_threads on a file with bad chunks spread over it: the same count and the same first
// bad chunk (the lowest index, whichever thread met it) as one thread, on every try.
static void test_verify_threads(void** state) {
  (void)state;
  char path[512];
  tmp_path(path, sizeof path, "vthreads.rollout");
  write_syn(path, 40, 3, 4, 0);
  size_t n;
  uint8_t* b = slurp(path, &n);
  assert_non_null(b);
  am_ds_reader* r = am_ds_open_memory(b, n, "vthreads", err, sizeof err);
  if (!r) fail_msg("%s", err);
  int nk = am_ds_num_chunks(r);
  assert_true(nk > 100);
  uint64_t at[8];
  int nbad = 0;
  for (int k = 7; k < nk && nbad < 8; k += nk / 8) at[nbad++] = am_ds_get_chunk(r, k)->offset;
  am_ds_reader_free(r);
  for (int j = 0; j < nbad; j++) b[at[j] + BLOCK_HDR + 1] ^= 0x10;  // a payload byte
  r = am_ds_open_memory(b, n, "vthreads", err, sizeof err);
  if (!r) fail_msg("%s", err);
  char one[AM_ERR_LEN];
  int bad1 = 0;
  assert_int_equal(am_ds_verify(r, &bad1, one, sizeof one), -1);
  assert_int_equal(bad1, nbad);
  if (!strstr(one, "chunk 7 ")) fail_msg("first problem: '%s'", one);
  for (int k = 0; k < 40; k++) {
    int threads = 2 + k % 4, bad = 0;
    assert_int_equal(am_ds_verify_threads(r, threads, &bad, err, sizeof err), -1);
    assert_int_equal(bad, nbad);
    assert_string_equal(err, one);
  }
  am_ds_reader_free(r);
  free(b);
  unlink(path);
}

// Every input the fuzzer ever found interesting enough to keep (tests/data/fuzz): each is either
// rejected by am_ds_open with a message naming it, or opens and is read safely with a checked
// outcome: verify says 0 (no bad chunk; then every episode reads back) or -1 (n bad chunks, a
// message naming the first); a failed read names the dataset; the sizes add up.
static void test_fuzz_regressions(void** state) {
  char dir[512];
  golden(dir, sizeof dir, "fuzz");
  DIR* d = opendir(dir);
  if (!d) fail_msg("%s: %s", dir, strerror(errno));
  struct dirent* de;
  int files = 0, rejected = 0;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    size_t n;
    uint8_t* b = slurp(path, &n);
    assert_non_null(b);
    files++;
    err[0] = 0;
    am_ds_reader* r = am_ds_open_memory(b, n, de->d_name, err, sizeof err);
    if (!r) {
      rejected++;
      if (!strstr(err, de->d_name)) fail_msg("%s: rejected without naming it: '%s'", de->d_name, err);
      free(b);
      continue;
    }
    int n_bad = -1;
    err[0] = 0;
    int vrc = am_ds_verify(r, &n_bad, err, sizeof err);
    if (vrc == 0) {
      assert_int_equal(n_bad, 0);
    } else {
      assert_int_equal(vrc, -1);
      assert_true(n_bad > 0);
      if (!strstr(err, "problem(s)")) fail_msg("%s: verify says '%s'", de->d_name, err);
    }
    {  // on three threads: the same verdict, count and first problem
      char err3[AM_ERR_LEN] = "";
      int n_bad3 = -1;
      assert_int_equal(am_ds_verify_threads(r, 3, &n_bad3, err3, sizeof err3), vrc);
      assert_int_equal(n_bad3, n_bad);
      if (vrc) assert_string_equal(err3, err);
    }
    int nc = am_ds_num_channels(r);
    assert_true(nc >= 1 && nc <= AM_DS_MAX_CHANNELS);
    size_t row = 0;
    for (int c = 0; c < nc; c++) row += am_ds_get_channel(r, c)->row_bytes;
    int64_t steps = 0;
    for (int64_t i = 0; i < am_ds_num_episodes(r); i++) {
      const am_ds_episode* e = am_ds_get_episode(r, i);
      assert_true(e->steps >= 0 && e->n_chunks >= 1);
      steps += e->steps;
      if (i >= 64 || e->steps > 100000 || (double)e->steps * row > 16e6) continue;
      void* dst[AM_DS_MAX_CHANNELS];
      for (int c = 0; c < nc; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps + 1);
      double* init = malloc(sizeof(double) * ((size_t)am_ds_num_init(r) + 1));
      err[0] = 0;
      int rrc = am_ds_read_episode(r, i, dst, init, err, sizeof err);
      if (vrc == 0 && rrc) fail_msg("%s: verified, yet episode %lld fails: %s", de->d_name, (long long)i, err);
      if (rrc) {
        assert_int_equal(rrc, -1);
        if (!strstr(err, de->d_name)) fail_msg("%s: read error without the name: '%s'", de->d_name, err);
      }
      free(init);
      for (int c = 0; c < nc; c++) free(dst[c]);
    }
    uint64_t fb, sb, rb;
    am_ds_sizes(r, &fb, &sb, &rb);
    assert_true(fb == n);
    assert_true(rb == (uint64_t)steps * row);
    am_ds_reader_free(r);
    free(b);
  }
  closedir(d);
  assert_true(files >= 1);
  print_message("fuzz regressions: %d inputs, %d rejected at open, the others read safely\n", files,
                rejected);
}

//---------------------------------- faults: nothing lost, nothing hung ---------------------------

static void le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// Writes a raw (codec 0) block of the given type and body at out; returns its size.
static size_t raw_block(uint8_t* out, int type, const uint8_t* body, uint32_t n) {
  memcpy(out, "AMBK", 4);
  out[4] = (uint8_t)type;
  out[5] = 0;
  out[6] = out[7] = 0;
  le32(out + 8, n);
  le32(out + 12, n);
  le32(out + 16, am_crc32(0, body, n));
  le32(out + 20, am_crc32(0, out, 20));
  memcpy(out + 24, body, n);
  return 24 + n;
}

// Writes a trailer pointing at the index block at index_off; returns its size.
static size_t raw_trailer(uint8_t* out, uint64_t index_off) {
  le64(out, index_off);
  le32(out + 8, 0);
  le32(out + 12, am_crc32(0, out, 12));
  memcpy(out + 16, "AMDSIDX\n", 8);
  return 24;
}

// Offset of the first index block of a complete file (from its trailer).
static uint64_t index_offset(const uint8_t* b, size_t n) {
  uint64_t off = 0;
  for (int i = 0; i < 8; i++) off |= (uint64_t)b[n - 24 + i] << (8 * i);
  return off;
}

// Issue 12: an index longer than one block is written in parts (here 3 entries each, through the
// test hook), and the file closes and reads back every episode through its index.
static void test_index_in_parts(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "parts.rollout");
  syn_index_part = 3;
  write_syn(path, 20, 3, 4, 1);
  syn_index_part = 0;
  size_t n;
  uint8_t* b = slurp(path, &n);
  am_ds_reader* r = am_ds_open_memory(b, n, "parts", err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_recovered(r, NULL), 0);
  int chunks = am_ds_num_chunks(r);
  assert_true(chunks > 30);
  assert_int_equal(am_ds_num_episodes(r), 20);
  for (int64_t i = 0; i < 20; i++) check_syn_episode(r, i, 19);
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
  am_ds_reader_free(r);
  // the INDEX blocks follow each other from the trailer's offset up to the trailer, 3 entries
  // (part k says k) except the last
  uint64_t off = index_offset(b, n);
  int parts = 0;
  while (off < n - 24) {
    assert_memory_equal(b + off, "AMBK", 4);
    assert_int_equal(b[off + 4], 4);
    off += 24 + (b[off + 8] | b[off + 9] << 8 | b[off + 10] << 16 | (uint32_t)b[off + 11] << 24);
    parts++;
  }
  assert_int_equal(off, n - 24);
  assert_int_equal(parts, (chunks + 2) / 3);
  // a part missing (the trailer pointed at the second): not trusted, the file is recovered whole
  uint64_t first = index_offset(b, n);
  uint64_t second = first + 24 + (b[first + 8] | b[first + 9] << 8);
  raw_trailer(b + n - 24, second);
  r = am_ds_open_memory(b, n, "part0-missing", err, sizeof err);
  if (!r) fail_msg("%s", err);
  const char* note;
  assert_int_equal(am_ds_recovered(r, &note), 1);
  assert_non_null(strstr(note, "says it is part 1"));
  assert_int_equal(am_ds_num_chunks(r), chunks);
  assert_int_equal(am_ds_num_episodes(r), 20);
  am_ds_reader_free(r);
  free(b);
  // out-of-range hook values are refused
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_int_equal(am_ds_set_index_part(w, 0), -1);
  assert_int_equal(am_ds_close(w, err, sizeof err), -1);
}

// Issue 12: a failure at close (here the file size limit, as a full disk, hit by the index) keeps
// every chunk written whole and nothing after it: no index, no trailer, all episodes recoverable.
static void test_close_failure_keeps_chunks(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "closefail.rollout");
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  if (!w) fail_msg("%s", err);
  assert_int_equal(am_ds_set_background(w, 0), 0);
  am_channel_def d = {"x", "x", "", NULL, AM_DT_F64, 1, {4}, AM_DS_CH_DELTA};
  assert_int_equal(am_ds_add_channel(w, &d), 0);
  assert_int_equal(am_ds_begin(w, 1, 8, 0), 0);
  for (int ep = 0; ep < 5; ep++) {
    assert_int_equal(am_ds_episode_begin(w, 0, ep, NULL), 0);
    for (int t = 0; t < 20; t++) {
      double* p = am_ds_row_ptr(w, 0, 0);
      for (int k = 0; k < 4; k++) p[k] = ep * 100 + t + 0.5 * k;
      assert_int_equal(am_ds_row_commit(w, 0, t == 19 ? AM_DS_END | AM_DS_TRUNCATED : 0), 0);
    }
  }
  uint64_t chunks_end = am_ds_writer_bytes(w);
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = chunks_end + 10;  // the index does not fit
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  int rc = am_ds_close(w, err, sizeof err);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_sig);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(err, "cannot write"));
  assert_non_null(strstr(err, "keeps the 15 chunks written whole (5 episodes, 5 of them complete"));
  assert_non_null(strstr(err, path));
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((uint64_t)st.st_size, chunks_end);  // the partial index was cut off
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_recovered(r, NULL), 1);
  assert_int_equal(am_ds_num_episodes(r), 5);
  for (int64_t i = 0; i < 5; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    assert_true(e->complete && e->steps == 20);
    double v[20 * 4];
    if (am_ds_read_channel(r, i, 0, v, err, sizeof err)) fail_msg("%s", err);
    assert_true(v[19 * 4 + 3] == e->id * 100 + 19 + 1.5);
  }
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);  // nothing damaged, only no index
  am_ds_reader_free(r);
  unlink(path);
}

// Issue 12: recovery resynchronises past a bad chunk: one flipped bit in chunk 0 loses that chunk
// only; a damaged block header is skipped by searching for the next valid header. The gap is
// reported (byte range, reason) and chunks of a damaged episode after it are dropped, counted.
static void test_recovery_resync(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "resync.rollout");
  write_syn(path, 8, 1, 0, 0);  // one slot: episode k is chunk k, in file order
  size_t n;
  uint8_t* b = slurp(path, &n);
  am_ds_reader* r = am_ds_open_memory(b, n, "good", err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_num_chunks(r), 8);
  uint64_t off[8], ix = index_offset(b, n);
  for (int k = 0; k < 8; k++) off[k] = am_ds_get_chunk(r, k)->offset;
  am_ds_reader_free(r);
  size_t cut = (size_t)ix;  // no index: a killed writer
  b[off[0] + 24 + 40] ^= 0x01;  // chunk 0's body
  b[off[3] + 2] ^= 0x40;        // chunk 3's block magic
  r = am_ds_open_memory(b, cut, "resync", err, sizeof err);
  if (!r) fail_msg("%s", err);
  const char* note;
  assert_int_equal(am_ds_recovered(r, &note), 1);
  assert_non_null(strstr(note, "recovered 6 chunks"));
  assert_non_null(strstr(note, "2 damaged byte range(s)"));
  am_ds_damage d;
  am_ds_get_damage(r, &d);
  assert_int_equal(d.gaps, 2);
  assert_int_equal(d.gap_bytes, (off[1] - off[0]) + (off[4] - off[3]));
  char want[128];
  snprintf(want, sizeof want, "bytes %llu..%llu", (unsigned long long)off[0], (unsigned long long)off[1]);
  assert_non_null(strstr(d.text, want));
  assert_non_null(strstr(d.text, "payload checksum mismatch"));
  snprintf(want, sizeof want, "bytes %llu..%llu", (unsigned long long)off[3], (unsigned long long)off[4]);
  assert_non_null(strstr(d.text, want));
  assert_non_null(strstr(d.text, "bad block magic"));
  assert_int_equal(am_ds_num_episodes(r), 6);  // 1, 2, 4, 5, 6, 7
  for (int64_t i = 0; i < 6; i++) {
    assert_true(am_ds_get_episode(r, i)->id != 0 && am_ds_get_episode(r, i)->id != 3);
    check_syn_episode(r, i, -1);
  }
  int problems = 0;
  assert_int_equal(am_ds_verify(r, &problems, err, sizeof err), -1);
  assert_int_equal(problems, 2);
  am_ds_reader_free(r);
  free(b);
  // an episode over several chunks losing its middle one: the chunks after the gap are dropped
  write_syn(path, 2, 1, 2, 0);  // episode 0: 1 step, episode 1: 15 steps in 8 chunks
  b = slurp(path, &n);
  r = am_ds_open_memory(b, n, "good", err, sizeof err);
  if (!r) fail_msg("%s", err);
  const am_ds_episode* e = am_ds_get_episode(r, 1);
  assert_int_equal(e->n_chunks, 8);
  uint64_t mid = am_ds_get_chunk(r, e->first_chunk + 2)->offset;
  cut = (size_t)index_offset(b, n);
  am_ds_reader_free(r);
  b[mid + 24 + 33] ^= 0x80;
  r = am_ds_open_memory(b, cut, "middle", err, sizeof err);
  if (!r) fail_msg("%s", err);
  am_ds_get_damage(r, &d);
  assert_int_equal(d.gaps, 1);
  assert_int_equal(d.dropped_chunks, 5);
  assert_non_null(strstr(d.text, "dropped: its episode ends at step 4"));
  e = am_ds_get_episode(r, 1);
  assert_true(e->steps == 4 && !e->complete);
  assert_int_equal(am_ds_verify(r, &problems, err, sizeof err), -1);
  assert_int_equal(problems, 6);
  am_ds_reader_free(r);
  free(b);
}

// Issue 12: verify checks the index against the chunks in the file: an emptied index, an index
// that lost an entry, an entry pointing elsewhere are problems; "all good" only when none.
static void test_verify_cross_check(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "xcheck.rollout");
  write_syn(path, 5, 2, 0, 0);
  size_t n;
  uint8_t* b = slurp(path, &n);
  uint64_t ix = index_offset(b, n);
  uint8_t* x = malloc(n + 4096);
  // the emptied index (0 entries, valid checksums)
  memcpy(x, b, ix);
  uint8_t body[8 + 40 * 16] = {0};
  size_t m = ix + raw_block(x + ix, 4, body, 8);
  m += raw_trailer(x + m, ix);
  am_ds_reader* r = am_ds_open_memory(x, m, "emptied", err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_recovered(r, NULL), 0);
  assert_int_equal(am_ds_num_chunks(r), 0);
  int problems = 0;
  assert_int_equal(am_ds_verify(r, &problems, err, sizeof err), -1);
  assert_int_equal(problems, 5);
  assert_non_null(strstr(err, "5 chunk(s) not in the index"));
  assert_non_null(strstr(err, "is not in the index"));
  am_ds_reader_free(r);
  // the real index minus its last entry; then with an entry pointing at another chunk
  r = am_ds_open_memory(b, n, "good", err, sizeof err);
  if (!r) fail_msg("%s", err);
  int nc = am_ds_num_chunks(r);
  assert_int_equal(nc, 5);
  am_ds_chunk c[5];
  for (int k = 0; k < nc; k++) c[k] = *am_ds_get_chunk(r, k);
  am_ds_reader_free(r);
  for (int i = 0; i < nc; i++)  // file order
    for (int j = i + 1; j < nc; j++)
      if (c[j].offset < c[i].offset) {
        am_ds_chunk t = c[i];
        c[i] = c[j];
        c[j] = t;
      }
  for (int variant = 0; variant < 2; variant++) {
    int ne = variant == 0 ? nc - 1 : nc;
    le32(body, (uint32_t)ne);
    le32(body + 4, 0);
    for (int k = 0; k < ne; k++) {
      uint8_t* e = body + 8 + 40 * k;
      le64(e, c[k].offset);
      le64(e + 8, (uint64_t)c[k].episode);
      le32(e + 16, c[k].env);
      le32(e + 20, c[k].first_step);
      le32(e + 24, c[k].rows);
      le32(e + 28, c[k].flags);
      le32(e + 32, c[k].stored_bytes);
      le32(e + 36, c[k].raw_bytes);
    }
    if (variant == 1) le64(body + 8 + 8, (uint64_t)c[1].episode);  // entry 0 claims another episode
    memcpy(x, b, ix);
    m = ix + raw_block(x + ix, 4, body, 8 + 40 * (uint32_t)ne);
    m += raw_trailer(x + m, ix);
    r = am_ds_open_memory(x, m, variant ? "misdirected" : "short", err, sizeof err);
    if (!r) {  // the misdirected entry may break its episode's continuity: refused at open
      assert_int_equal(variant, 1);
      assert_non_null(strstr(err, "misdirected: index: episode"));
      continue;
    }
    assert_int_equal(am_ds_verify(r, &problems, err, sizeof err), -1);
    if (variant == 0) {
      assert_int_equal(problems, 1);
      assert_non_null(strstr(err, "1 chunk(s) not in the index"));
    } else {
      assert_true(problems >= 1);
      assert_non_null(strstr(err, "does not match the index"));
    }
    am_ds_reader_free(r);
  }
  free(x);
  free(b);
}

// A file of one empty metadata block and a channel table of two f64 scalars named a and b (raw
// blocks, valid checksums). Returns its size.
static size_t two_channel_file(uint8_t* f, const char* a, const char* b) {
  uint8_t body[256];
  memcpy(f, "\x89" "AMDS\r\n\x1a", 8);
  le32(f + 8, 1);  // version 1.0
  le32(f + 12, 0);
  size_t o = 16, k = 8;
  le32(body, 0);
  o += raw_block(f + o, 1, body, 4);  // no metadata
  le32(body, 2);
  le32(body + 4, 0);
  const char* names[2] = {a, b};
  for (int c = 0; c < 2; c++) {
    memset(body + k, 0, 8);
    body[k] = AM_DT_F64;
    k += 8;
    const char* strs[4] = {names[c], "body", "", ""};
    for (int s = 0; s < 4; s++) {
      size_t l = strlen(strs[s]);
      body[k] = (uint8_t)l;
      body[k + 1] = 0;
      memcpy(body + k + 2, strs[s], l);
      k += 2 + l;
    }
  }
  return o + raw_block(f + o, 2, body, (uint32_t)k);
}

// Issue 12: duplicate channel names are refused by the writer and by the reader.
static void test_duplicate_channel_names(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "dup.rollout");
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  assert_int_equal(am_ds_add_channel(w, &SYN[0]), 0);
  assert_int_equal(am_ds_add_channel(w, &SYN[0]), -1);
  assert_non_null(strstr(am_ds_writer_error(w), "channel 'f32' added twice"));
  am_ds_abort(w);
  // a file whose channel table names two channels "qpos"
  uint8_t f[1024];
  size_t n = two_channel_file(f, "qpos", "qpos");
  am_ds_reader* r = am_ds_open_memory(f, n, "dup", err, sizeof err);
  assert_null(r);
  assert_non_null(strstr(err, "dup: channel table: channels 0 and 1 are both named 'qpos'"));
  n = two_channel_file(f, "qpos", "qvel");  // the same file with distinct names opens (recovered:
  r = am_ds_open_memory(f, n, "distinct", err, sizeof err);  // it has no chunk and no index)
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_num_channels(r), 2);
  assert_int_equal(am_ds_num_chunks(r), 0);
  am_ds_reader_free(r);
}

// 1 when episode index i of r holds exactly the synthetic formula's values for its length.
static int syn_matches(am_ds_reader* r, int64_t i) {
  const am_ds_episode* e = am_ds_get_episode(r, i);
  void* dst[NSYN];
  for (int c = 0; c < NSYN; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps + 1);
  int ok = !am_ds_read_episode(r, i, dst, NULL, err, sizeof err);
  for (int c = 0; c < NSYN && ok; c++) {
    size_t es = am_dtype_size(SYN[c].dtype), elems = am_ds_get_channel(r, c)->elems;
    for (int64_t s = 0; s < e->steps && ok; s++)
      for (size_t k = 0; k < elems && ok; k++) {
        uint8_t v[8];
        syn_value(c, e->id, s, k, v);
        ok = !memcmp(v, (uint8_t*)dst[c] + ((size_t)s * elems + k) * es, es);
      }
  }
  for (int c = 0; c < NSYN; c++) free(dst[c]);
  return ok;
}

// Issue 12: a corruption campaign on a small dataset: one bit flipped at every offset, the file
// cut at every offset, and random overwrites of 1..8 bytes. Each variant is opened, verified and
// "exported" (what export does without --allow-damaged: refuse a recovered file, stop at the
// first unreadable episode). Counts: corruptions, detected (refused at open, recovered, or verify
// fails), and exports that would succeed (exit 0) with data lost or changed, which must be none.
// Undetected corruptions can only be harmless (the reserved header flags, a newer minor version).
static void test_corruption_campaign(void** state) {
  char path[512];
  tmp_path(path, sizeof path, "campaign.rollout");
  write_syn(path, 8, 2, 5, 0);
  size_t n;
  uint8_t* b = slurp(path, &n);
  uint8_t* x = malloc(n);
  int64_t want_steps = 0;
  for (int64_t ep = 0; ep < 8; ep++) want_steps += syn_len(ep);
  int total = 0, detected = 0, silent_loss = 0, harmless = 0, threaded = 0;
  uint32_t rng = 12345;
  int n_random = 1500;
  for (size_t v = 0; v < 2 * n + (size_t)n_random; v++) {
    size_t len = n;
    memcpy(x, b, n);
    if (v < n) {
      x[v] ^= (uint8_t)(1u << (v % 8));  // one bit at every offset
    } else if (v < 2 * n) {
      len = v - n;  // cut at every offset
    } else {
      rng = rng * 1664525u + 1013904223u;
      size_t at = (rng >> 8) % n, k = 1 + (rng & 7);
      for (size_t j = 0; j < k && at + j < n; j++) {
        rng = rng * 1664525u + 1013904223u;
        x[at + j] ^= (uint8_t)(1 + (rng >> 24) % 255);
      }
    }
    total++;
    am_ds_reader* r = am_ds_open_memory(x, len, "campaign", err, sizeof err);
    if (!r) {
      detected++;
      continue;
    }
    int problems = 0;
    int vrc = am_ds_verify(r, &problems, err, sizeof err);
    if (v >= 2 * n || v % 16 == 0) {  // on three threads: the same verdict, count and first problem
      char err3[AM_ERR_LEN] = "";
      int problems3 = -1;
      assert_int_equal(am_ds_verify_threads(r, 3, &problems3, err3, sizeof err3), vrc);
      assert_int_equal(problems3, problems);
      if (vrc) assert_string_equal(err3, err);
      threaded++;
    }
    int recovered = am_ds_recovered(r, NULL);
    if (vrc || recovered) detected++;
    if (!recovered) {  // export without --allow-damaged goes ahead
      int ok = 1;
      int64_t steps = 0;
      for (int64_t i = 0; i < am_ds_num_episodes(r) && ok; i++) {
        void* dst[NSYN] = {0};
        ok = !am_ds_read_episode(r, i, dst, NULL, err, sizeof err);  // checks every chunk
        steps += am_ds_get_episode(r, i)->steps;
      }
      if (ok) {  // exit 0: it must have every step, unchanged
        int same = am_ds_num_episodes(r) == 8 && steps == want_steps;
        for (int64_t i = 0; i < am_ds_num_episodes(r) && same; i++) same = syn_matches(r, i);
        if (!same) silent_loss++;
        else if (!vrc) harmless++;
      }
    }
    am_ds_reader_free(r);
  }
  print_message("corruption campaign: %d corruptions of a %zu-byte file, %d detected, %d harmless "
                "(undetected, data intact), %d exported with exit 0 and data lost\n",
                total, n, detected, harmless, silent_loss);
  assert_int_equal(silent_loss, 0);
  assert_int_equal(detected + harmless, total);
  assert_true(harmless <= 64);  // bytes 10..15 of the header (minor version, reserved flags)
  assert_true(threaded > n_random);
  free(x);
  free(b);
}

//---------------------------------- recorder and replay -------------------------------------------

static void test_record_resim(void** state) {
  am_task t;
  if (amt_create(&t, "reacher", NULL, err, sizeof err)) fail_msg("%s", err);
  am_pool_config pc = {.num_envs = 3, .num_threads = 2, .seed = 5, .export_state = 1};
  am_pool* p = am_pool_create(&t, &pc, err, sizeof err);
  if (!p) fail_msg("%s", err);
  char path[512];
  tmp_path(path, sizeof path, "rec.rollout");
  am_rec_config rc = {.path = path, .episodes = 5, .seed = 5, .policy = "random", .policy_step = -1};
  am_rec* rec = am_rec_create(p, &rc, err, sizeof err);
  if (!rec) fail_msg("%s", err);
  float extra[3] = {0};
  am_channel_def d = {"network/test", "network", "", NULL, AM_DT_F32, 0, {0}, 0};
  assert_true(am_rec_add_channel(rec, &d, extra, err, sizeof err) >= 0);
  if (am_rec_begin(rec, err, sizeof err)) fail_msg("%s", err);
  am_batch* b = am_pool_batch(p);
  am_rng rng;
  am_rng_seed(&rng, 1, 2);
  int r = 0, steps = 0;
  while (!r) {
    for (int k = 0; k < 3 * t.act_dim; k++) b->actions[k] = (float)am_rng_range(&rng, -1, 1);
    for (int k = 0; k < 3; k++) extra[k] = (float)(steps * 10 + k);
    am_pool_step(p);
    r = am_rec_step(rec, err, sizeof err);
    assert_true(r >= 0);
    steps++;
  }
  assert_int_equal(am_rec_episodes_done(rec), 5);
  if (am_rec_close(rec, err, sizeof err)) fail_msg("%s", err);
  am_ds_reader* rd = am_ds_open(path, err, sizeof err);
  if (!rd) fail_msg("%s", err);
  assert_int_equal(am_ds_num_episodes(rd), 5);
  assert_string_equal(am_ds_meta(rd, "task.name", NULL), "reacher");
  const char* xml = am_ds_meta(rd, "model.xml", NULL);
  assert_non_null(xml);
  am_model* m = am_model_load_string(xml, NULL, "from-dataset", err, sizeof err);
  if (!m) fail_msg("%s", err);
  for (int64_t i = 0; i < 5; i++) {
    double dev = -1;
    if (am_ds_resim_episode(rd, m, i, &dev, err, sizeof err)) fail_msg("%s", err);
    assert_true(dev == 0.0);
    assert_int_equal(am_ds_get_episode(rd, i)->steps, t.max_steps);
  }
  // the extra channel: episode 0 ran on env 0 from the first step: values 0, 10, 20, ...
  int c = am_ds_find_channel(rd, "network/test");
  assert_true(c >= 0);
  float* v = malloc(sizeof(float) * (size_t)t.max_steps);
  assert_int_equal(am_ds_read_channel(rd, 0, c, v, err, sizeof err), 0);
  for (int s = 0; s < t.max_steps; s++) assert_true(v[s] == (float)(s * 10));
  free(v);
  am_model_free(m);
  am_ds_reader_free(rd);
  am_pool_free(p);
  amt_destroy(&t);
}

// A rat scene with contacts, per-episode mocap scenery and generated heightfields: the model
// rebuilt from the file alone (am_ds_load_model) re-simulates every episode exactly, and the
// heightfield samples come back bit for bit.
static void record_resim_task(const char* task, const char* kv) {
  am_task t;
  amt_params tp = {0};
  assert_int_equal(amt_params_add_list(&tp, kv, err, sizeof err), 0);
  if (amt_create(&t, task, &tp, err, sizeof err)) fail_msg("%s", err);
  am_pool_config pc = {.num_envs = 2, .num_threads = 2, .seed = 9, .export_state = 1};
  am_pool* p = am_pool_create(&t, &pc, err, sizeof err);
  if (!p) fail_msg("%s", err);
  char path[512];
  tmp_path(path, sizeof path, "rat-scene.rollout");
  am_rec_config rc = {.path = path, .episodes = 3, .seed = 9, .policy = "random",
                      .policy_step = -1, .force = 1};
  am_rec* rec = am_rec_create(p, &rc, err, sizeof err);
  if (!rec) fail_msg("%s", err);
  if (am_rec_begin(rec, err, sizeof err)) fail_msg("%s", err);
  am_batch* b = am_pool_batch(p);
  am_rng rng;
  am_rng_seed(&rng, 3, 4);
  int r = 0;
  while (!r) {
    for (int k = 0; k < 2 * t.act_dim; k++) b->actions[k] = (float)am_rng_range(&rng, -1, 1);
    am_pool_step(p);
    r = am_rec_step(rec, err, sizeof err);
    assert_true(r >= 0);
  }
  if (am_rec_close(rec, err, sizeof err)) fail_msg("%s", err);
  am_ds_reader* rd = am_ds_open(path, err, sizeof err);
  if (!rd) fail_msg("%s", err);
  char source[1024];
  am_model* m = am_ds_load_model(rd, source, sizeof source, err, sizeof err);
  if (!m) fail_msg("%s", err);
  if (strncmp(source, "metadata model.mjb", 18)) fail_msg("model from %s", source);
  const mjModel* a = t.model->m;
  assert_int_equal(m->m->nhfielddata, a->nhfielddata);
  if (a->nhfielddata)
    assert_memory_equal(m->m->hfield_data, a->hfield_data, sizeof(float) * a->nhfielddata);
  assert_memory_equal(m->m->body_inertia, a->body_inertia, sizeof(mjtNum) * 3 * a->nbody);
  for (int64_t i = 0; i < am_ds_num_episodes(rd); i++) {
    double dev = -1;
    if (am_ds_resim_episode(rd, m, i, &dev, err, sizeof err)) fail_msg("%s", err);
    if (dev != 0.0) fail_msg("%s episode %lld: resim deviates by %g", task, (long long)i, dev);
  }
  // Channel models (format 1.3): every body observation group is modelled, whole, from what it
  // was made of; and it is: each entry is the float of its source at the end of the step before
  // (am_body_obs_sources), which the recorder's models say.
  {
    am_obs_group bg[AM_MAX_GROUPS];
    int dim = 0, nb = am_body_obs_groups(a, bg, &dim);
    int* kind = malloc(sizeof(int) * (size_t)dim);
    int* idx = malloc(sizeof(int) * (size_t)dim);
    am_body_obs_sources(a, kind, idx);
    const am_ds_episode* e = am_ds_get_episode(rd, 0);
    const char* srcname[] = {"sensordata", "act", "qpos", "qvel"};
    for (int g = 0; g < nb; g++) {
      char name[AM_NAME_LEN + 8];
      snprintf(name, sizeof name, "obs/%.31s", bg[g].name);
      int co = am_ds_find_channel(rd, name), n_el = 0, src[8];
      assert_true(co >= 0);
      assert_true(am_ds_channel_model(rd, co, &n_el, src, 8) >= 1);
      assert_int_equal(n_el, bg[g].size);
      float* o = malloc(sizeof(float) * (size_t)e->steps * (size_t)bg[g].size);
      assert_int_equal(am_ds_read_channel(rd, 0, co, o, err, sizeof err), 0);
      for (int k = 0; k < bg[g].size; k++) {
        int cs = am_ds_find_channel(rd, srcname[kind[bg[g].offset + k]]);
        assert_true(cs >= 0);
        size_t ne = am_ds_get_channel(rd, cs)->elems;
        double* sv = malloc(sizeof(double) * (size_t)e->steps * ne);
        assert_int_equal(am_ds_read_channel(rd, 0, cs, sv, err, sizeof err), 0);
        for (int64_t s = 1; s < e->steps; s++)
          if (o[s * bg[g].size + k] != (float)sv[(s - 1) * ne + (size_t)idx[bg[g].offset + k]])
            fail_msg("%s: %s[%d] at step %lld is not the float of %s[%d] the step before", task,
                     name, k, (long long)s, srcname[kind[bg[g].offset + k]], idx[bg[g].offset + k]);
        free(sv);
      }
      free(o);
    }
    free(kind);
    free(idx);
  }
  // A task with a substep hook records the force it applied in every physics step; the others
  // have no such channel.
  int cf = am_ds_find_channel(rd, "qfrc_applied");
  if (!t.substep) assert_int_equal(cf, -1);
  if (t.substep) {
    assert_true(cf >= 0);
    const am_ds_channel* ch = am_ds_get_channel(rd, cf);
    assert_int_equal(ch->ndim, 2);
    assert_int_equal(ch->shape[0], t.frame_skip);
    assert_int_equal(ch->shape[1], a->nv);
    // the field really pushed: a replay that ignored the channel would deviate
    const am_ds_episode* e = am_ds_get_episode(rd, 0);
    size_t n = (size_t)e->steps * ch->elems;
    double* f = malloc(sizeof(double) * n);
    assert_int_equal(am_ds_read_channel(rd, 0, cf, f, err, sizeof err), 0);
    double biggest = 0;
    for (size_t k = 0; k < n; k++) biggest = fabs(f[k]) > biggest ? fabs(f[k]) : biggest;
    free(f);
    if (!(biggest > 1e-3)) fail_msg("%s: the recorded force is never applied (max %g)", task, biggest);
  }
  am_model_free(m);
  am_ds_reader_free(rd);
  am_pool_free(p);
  amt_destroy(&t);
}

static void test_record_resim_rat_scenes(void** state) {
  record_resim_task("run-gaps", "episode_time=0.4");
  record_resim_task("escape-bowl", "episode_time=0.4");
  // the composite: members drawn per episode, one of them cut short (truncated) at its own length
  record_resim_task("rat-multi", "assign=episode;run-gaps.episode_time=0.4;"
                    "escape-bowl.episode_time=0.3;forage-maze.episode_time=0.4;"
                    "two-tap.episode_time=0.4");
}

// The model comes from model.mjb when this MuJoCo wrote it, else from model.xml (the MJCF
// fallback), and the caller is told which and why.
static void write_model_only(const char* path, const char* mjv, const char* mjb, long mjb_len) {
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  if (!w) fail_msg("%s", err);
  am_ds_set_meta(w, "model.name", "ball", -1);
  am_ds_set_meta(w, "model.xml", "<mujoco><worldbody><body><freejoint/><geom size='0.1'/></body>"
                                 "</worldbody></mujoco>", -1);
  if (mjv) am_ds_set_meta(w, "mujoco.version", mjv, -1);
  if (mjb) am_ds_set_meta(w, "model.mjb", mjb, mjb_len);
  am_channel_def d = {"x", "time", "", NULL, AM_DT_F32, 0, {0}, 0};
  assert_int_equal(am_ds_add_channel(w, &d), 0);
  assert_int_equal(am_ds_begin(w, 1, 4, 0), 0);
  if (am_ds_close(w, err, sizeof err)) fail_msg("%s", err);
}

static void test_load_model_source(void** state) {
  char path[512], source[1024], ours[16];
  tmp_path(path, sizeof path, "model-only.rollout");
  snprintf(ours, sizeof ours, "%d", mj_version());
  struct { const char* mjv; const char* mjb; const char* want; } cases[] = {
      {ours, NULL, "model.xml (MJCF fallback: the dataset has no model.mjb"},
      {"100", "0123456789abcdef0123", "model.xml (MJCF fallback: model.mjb was written by MuJoCo 100"},
      {ours, "0123456789abcdef0123", "model.xml (MJCF fallback: metadata model.mjb: model 'ball'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    write_model_only(path, cases[i].mjv, cases[i].mjb, 20);
    am_ds_reader* r = am_ds_open(path, err, sizeof err);
    if (!r) fail_msg("%s", err);
    am_model* m = am_ds_load_model(r, source, sizeof source, err, sizeof err);
    if (!m) fail_msg("%s", err);
    assert_int_equal(m->m->nq, 7);
    if (!strstr(source, cases[i].want)) fail_msg("case %zu: source '%s'", i, source);
    am_model_free(m);
    am_ds_reader_free(r);
  }
  unlink(path);
}

// A force field pushes the hand in every physics step (the task's substep hook): the dataset
// records that force, and the replay re-applies it, exactly.
static void test_record_resim_force_field(void** state) {
  record_resim_task("force-field", "baseline_trials=0;catch_fraction=0;move_time=0.3;"
                                   "fix_timeout=0.2;delay=0,0");
}

//---------------------------------- the Python reader ---------------------------------------------

static void test_python_reader(void** state) {
  if (system("/usr/bin/python3 -c 'import numpy, zstandard' >/dev/null 2>&1")) {
    print_message("skipped: /usr/bin/python3 with numpy and zstandard not found "
                  "(apt install python3-numpy python3-zstandard)\n");
    skip();
  }
  char path[512], cmd[2048];
  golden(path, sizeof path, "golden-v1.rollout");
  const char* chans[] = {"f32", "f64", "i32", "u8", "u32", "i64"};
  for (size_t k = 0; k < sizeof chans / sizeof chans[0]; k++) {
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/../tools/animat_dataset.py %s --sum %s",
             ANIMAT_TEST_DATA "/..", path, chans[k]);
    FILE* f = popen(cmd, "r");
    assert_non_null(f);
    char line1[256] = "", line2[256] = "";
    char* ok1 = fgets(line1, sizeof line1, f);
    char* ok2 = fgets(line2, sizeof line2, f);
    int rc = pclose(f);
    if (rc || !ok1 || !ok2) fail_msg("python reader failed (%d): %s", rc, line1);
    assert_non_null(strstr(line1, "episodes 6 "));
    // the same sum in C (the golden file has a NaN/Inf in f32/f64: compare textually then)
    am_ds_reader* r = am_ds_open(path, err, sizeof err);
    assert_non_null(r);
    int c = am_ds_find_channel(r, chans[k]);
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    double total = 0;
    for (int64_t i = 0; i < am_ds_num_episodes(r); i++) {
      const am_ds_episode* e = am_ds_get_episode(r, i);
      uint8_t* buf = malloc(ch->row_bytes * (size_t)e->steps + 1);
      assert_int_equal(am_ds_read_channel(r, i, c, buf, err, sizeof err), 0);
      for (size_t j = 0; j < ch->elems * (size_t)e->steps; j++) {
        double x = 0;
        switch (ch->dtype) {
          case AM_DT_F32: { float v; memcpy(&v, buf + 4 * j, 4); x = v; break; }
          case AM_DT_F64: { memcpy(&x, buf + 8 * j, 8); break; }
          case AM_DT_I32: { int32_t v; memcpy(&v, buf + 4 * j, 4); x = v; break; }
          case AM_DT_U8: x = buf[j]; break;
          case AM_DT_U32: { uint32_t v; memcpy(&v, buf + 4 * j, 4); x = v; break; }
          case AM_DT_I64: { int64_t v; memcpy(&v, buf + 8 * j, 8); x = (double)v; break; }
        }
        total += x;
      }
      free(buf);
    }
    am_ds_reader_free(r);
    char want[128];
    snprintf(want, sizeof want, "sum %s %.17g", chans[k], total);
    double py = strtod(strrchr(line2, ' ') + 1, NULL);
    if (isfinite(total)) {
      if (!(fabs(py - total) <= 1e-9 * (1 + fabs(total)))) fail_msg("python '%s' vs C '%s'", line2, want);
    } else {
      assert_true(!isfinite(py));
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_all_types),
      cmocka_unit_test(test_random_access_by_episode),
      cmocka_unit_test(test_recovery_truncated),
      cmocka_unit_test(test_corrupted_checksum),
      cmocka_unit_test(test_never_overwrite),
      cmocka_unit_test(test_one_writer_per_file),
      cmocka_unit_test(test_disk_full),
      cmocka_unit_test(test_background_identical),
      cmocka_unit_test(test_background_write_error),
      cmocka_unit_test(test_filters_roundtrip),
      cmocka_unit_test(test_f16),
      cmocka_unit_test(test_filter_choice),
      cmocka_unit_test(test_resim_refuses_lossy_state),
      cmocka_unit_test(test_golden_files),
      cmocka_unit_test(test_reader_dup),
      cmocka_unit_test(test_verify_threads),
      cmocka_unit_test(test_model_errors),
      cmocka_unit_test(test_model_tiles),
      cmocka_unit_test(test_lossy_conversions),
      cmocka_unit_test(test_fuzz_regressions),
      cmocka_unit_test(test_index_in_parts),
      cmocka_unit_test(test_close_failure_keeps_chunks),
      cmocka_unit_test(test_recovery_resync),
      cmocka_unit_test(test_verify_cross_check),
      cmocka_unit_test(test_duplicate_channel_names),
      cmocka_unit_test(test_corruption_campaign),
      cmocka_unit_test(test_record_resim),
      cmocka_unit_test(test_record_resim_rat_scenes),
      cmocka_unit_test(test_record_resim_force_field),
      cmocka_unit_test(test_load_model_source),
      cmocka_unit_test(test_python_reader),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  if (tmpdir[0]) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {}
  }
  return rc;
}
