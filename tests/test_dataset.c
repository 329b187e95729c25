// test_dataset.c: the dataset format (sim/am_dataset.h): round trip of every channel type, random
// access by episode, recovery from truncated files, corrupted checksums, golden files (valid and
// invalid), fuzzer-found inputs, the recorder with bit-exact re-simulation, the Python reader.
//
// ANIMAT_WRITE_GOLDEN=1 regenerates tests/data/golden-*.rollout (only when the format changes).
#include <errno.h>
#include <math.h>
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
  }
}

static int syn_background = 1;  // write_syn: am_ds_set_background

static int64_t syn_len(int64_t ep) { return 1 + (ep * 37) % 23; }  // 1..23 steps

// Writes n_eps episodes over n_slots slots, interleaved like an env pool (each slot steps in turn).
static void write_syn(const char* path, int n_eps, int n_slots, int chunk_rows, int unfinished) {
  am_ds_writer* w = am_ds_create(path, 1, err, sizeof err);
  if (!w) fail_msg("%s", err);
  assert_int_equal(am_ds_set_background(w, syn_background), 0);
  assert_int_equal(am_ds_set_meta(w, "task.name", "synthetic", -1), 0);
  assert_int_equal(am_ds_set_meta(w, "binary", "a\0b\n", 4), 0);
  for (int c = 0; c < NSYN; c++) assert_int_equal(am_ds_add_channel(w, &SYN[c]), c);
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
      for (int c = 0; c < NSYN; c++) {
        size_t es = am_dtype_size(SYN[c].dtype), elems = 1;
        for (int d = 0; d < SYN[c].ndim; d++) elems *= SYN[c].shape[d];
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
  void* dst[NSYN];
  for (int c = 0; c < NSYN; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps);
  double init[3];
  if (am_ds_read_episode(r, i, dst, init, err, sizeof err)) fail_msg("%s", err);
  assert_true(init[0] == (double)e->id && init[1] == 1.5 && init[2] == -2);
  for (int c = 0; c < NSYN; c++) {
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    size_t es = am_dtype_size(ch->dtype);
    for (int64_t s = 0; s < e->steps; s++)
      for (size_t k = 0; k < ch->elems; k++) {
        uint8_t v[8];
        syn_value(c, e->id, s, k, v);
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
    size_t na, nb;
    uint8_t *a = slurp(pa, &na), *b = slurp(pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
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
  // the file holds what was written before the error: readable up to its last complete chunk
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (r) {
    assert_int_equal(am_ds_recovered(r, NULL), 1);
    assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
    am_ds_reader_free(r);
  }
  unlink(path);
}

//---------------------------------- golden files --------------------------------------------------

static void golden(char* out, size_t n, const char* name) {
  snprintf(out, n, "%s/%s", ANIMAT_TEST_DATA, name);
}

static void put_file(const char* path, const uint8_t* b, size_t n) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  fwrite(b, 1, n, f);
  fclose(f);
}

// Regenerates the golden files (ANIMAT_WRITE_GOLDEN=1): the valid file and variants that break it.
static void write_goldens(void) {
  char path[512], p2[512];
  golden(path, sizeof path, "golden-v1.rollout");
  write_syn(path, 6, 2, 8, 1);
  size_t n;
  uint8_t* b = slurp(path, &n);
  uint8_t* x = malloc(n);
  struct { const char* name; size_t len; long at; uint8_t xor_; } v[] = {
      {"bad-magic.rollout", 0, 1, 0x20},
      {"bad-version.rollout", 0, 8, 0x03},          // major 1 -> 2
      {"bad-header-crc.rollout", 0, 16 + 9, 0x01},  // metadata block header size byte
      {"flipped-chunk.rollout", 0, -1, 0x04},       // a byte in the first chunk's body
      {"truncated.rollout", 0, -2, 0},              // cut in the middle of the data
      {"tiny.rollout", 10, 0, 0},
  };
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  assert_non_null(r);
  uint64_t c0 = am_ds_get_chunk(r, 0)->offset;
  am_ds_reader_free(r);
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    memcpy(x, b, n);
    size_t len = v[i].len ? v[i].len : n;
    long at = v[i].at == -1 ? (long)c0 + 24 + 36 : v[i].at;
    if (v[i].at == -2) len = n / 2;
    else x[at] ^= v[i].xor_;
    golden(p2, sizeof p2, v[i].name);
    put_file(p2, x, len);
  }
  // absurd channel count with valid checksums: rebuild the channel table block
  free(b);
  free(x);
}

static void test_golden_files(void** state) {
  if (getenv("ANIMAT_WRITE_GOLDEN")) write_goldens();
  char path[512];
  golden(path, sizeof path, "golden-v1.rollout");
  am_ds_reader* r = am_ds_open(path, err, sizeof err);
  if (!r) fail_msg("%s", err);
  assert_int_equal(am_ds_recovered(r, NULL), 0);
  assert_int_equal(am_ds_num_episodes(r), 6);
  for (int64_t i = 0; i < 6; i++) check_syn_episode(r, i, 5);
  assert_int_equal(am_ds_verify(r, NULL, err, sizeof err), 0);
  am_ds_reader_free(r);
  struct { const char* name; const char* open_err; const char* verify_err; int recovered; } bad[] = {
      {"bad-magic.rollout", "wrong magic", NULL, 0},
      {"bad-version.rollout", "version 2.0 is not supported", NULL, 0},
      {"bad-header-crc.rollout", "metadata block at offset 16: block header checksum", NULL, 0},
      {"flipped-chunk.rollout", NULL, "chunk 0", 0},
      {"truncated.rollout", NULL, NULL, 1},
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
      assert_true(n_bad > 0 && n_bad <= am_ds_num_chunks(r));
      if (!strstr(err, "bad chunk")) fail_msg("%s: verify says '%s'", de->d_name, err);
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
      cmocka_unit_test(test_disk_full),
      cmocka_unit_test(test_background_identical),
      cmocka_unit_test(test_background_write_error),
      cmocka_unit_test(test_golden_files),
      cmocka_unit_test(test_fuzz_regressions),
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
