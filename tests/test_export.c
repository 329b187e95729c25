// test_export.c: `animat export` as a user meets it: a recorded dataset exported to .npy and CSV
// and read back against the dataset itself (am_ds_* reader), episode ranges, and the refusals
// (inverted or empty ranges, an existing directory without --force) and that a failed export
// leaves nothing behind (nor touches the earlier export it was to replace); a damaged file is
// refused unless --allow-damaged, which lists what was lost; a recording that meets a full disk
// keeps what it wrote, recoverable, and says so.
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "cli_test_util.h"

static char ds[512];  // the dataset: 4 random reacher episodes on 2 envs
static char err[AM_ERR_LEN];

static int setup(void** state) {
  (void)state;
  snprintf(ds, sizeof ds, "%s/r.rollout", tmpdir);
  return animat("record --random --task reacher --episodes 4 --envs 2 --out '%s' --quiet", ds);
}

static unsigned char* slurp(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* b = malloc((size_t)len + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
  b[len] = 0;
  fclose(f);
  *n = (size_t)len;
  return b;
}

// The export of channel c of episode index i in dir matches the dataset: the .npy header (magic,
// version 1.0, 64-byte aligned, dtype, shape) and the bytes; the CSV (header, then the values).
static void check_channel(am_ds_reader* r, int64_t i, int c, const char* dir, int csv) {
  const am_ds_channel* ch = am_ds_get_channel(r, c);
  const am_ds_episode* e = am_ds_get_episode(r, i);
  size_t bytes = (size_t)e->steps * ch->row_bytes;
  unsigned char* want = malloc(bytes + 1);
  assert_non_null(want);
  if (am_ds_read_channel(r, i, c, want, err, sizeof err)) fail_msg("%s", err);
  char name[256], path[1024];
  snprintf(name, sizeof name, "%s", ch->name);
  for (char* s = name; *s; s++)
    if (*s == '/') *s = '.';
  snprintf(path, sizeof path, "%s/episode_%06lld/%s.%s", dir, (long long)e->id, name,
           csv ? "csv" : "npy");
  size_t n;
  unsigned char* got = slurp(path, &n);
  if (!csv) {
    assert_memory_equal(got, "\x93NUMPY\x01\x00", 8);
    size_t hl = got[8] | (size_t)got[9] << 8;
    assert_int_equal((10 + hl) % 64, 0);
    assert_int_equal(got[10 + hl - 1], '\n');
    char head[512], shape[128];
    snprintf(head, sizeof head, "%.*s", (int)hl, (const char*)got + 10);
    size_t o = (size_t)snprintf(shape, sizeof shape, "'shape': (%lld,", (long long)e->steps);
    for (int k = 0; k < ch->ndim; k++)
      o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%u", k ? "," : "", ch->shape[k]);
    snprintf(shape + o, sizeof shape - o, ")");
    if (!strstr(head, shape)) fail_msg("%s: header %s lacks %s", path, head, shape);
    const char* descr = ch->dtype == AM_DT_F32   ? "'<f4'"
                        : ch->dtype == AM_DT_F64 ? "'<f8'"
                        : ch->dtype == AM_DT_I32 ? "'<i4'"
                        : ch->dtype == AM_DT_U8  ? "'|u1'"
                        : ch->dtype == AM_DT_U32 ? "'<u4'"
                                                 : "'<i8'";
    if (!strstr(head, descr)) fail_msg("%s: header %s lacks %s", path, head, descr);
    assert_int_equal(n, 10 + hl + bytes);
    assert_memory_equal(got + 10 + hl, want, bytes);
  } else {
    char* line = strchr((char*)got, '\n');  // skip the header row
    assert_non_null(line);
    const char* p = line + 1;
    size_t w = am_dtype_size(ch->dtype);
    for (size_t k = 0; k < (size_t)e->steps * ch->elems; k++) {
      char* end;
      double v = strtod(p, &end);
      assert_true(end != p);
      const unsigned char* q = want + k * w;
      double x = 0;
      switch (ch->dtype) {
        case AM_DT_F32: { float f; memcpy(&f, q, 4); x = f; v = (float)v; break; }
        case AM_DT_F64: memcpy(&x, q, 8); break;
        case AM_DT_I32: { int32_t t; memcpy(&t, q, 4); x = t; break; }
        case AM_DT_U8: x = q[0]; break;
        case AM_DT_U32: { uint32_t t; memcpy(&t, q, 4); x = t; break; }
        case AM_DT_I64: { int64_t t; memcpy(&t, q, 8); x = (double)t; break; }
      }
      if (v != x) fail_msg("%s: value %zu is %.17g, the dataset has %.17g", path, k, v, x);
      p = end;
      assert_true(*p == (k % ch->elems == ch->elems - 1 ? '\n' : ','));
      p++;
    }
    assert_int_equal(*p, 0);
  }
  free(got);
  free(want);
}

// The episode ids of dir/episodes.csv, in order; returns the count.
static int listed_ids(const char* dir, int64_t* ids, int max) {
  char path[1024];
  snprintf(path, sizeof path, "%s/episodes.csv", dir);
  size_t n;
  char* text = (char*)slurp(path, &n);
  assert_true(strncmp(text, "episode,env,steps,end\n", 22) == 0);
  int k = 0;
  for (char* s = strchr(text, '\n') + 1; *s && k < max; s = strchr(s, '\n') + 1)
    ids[k++] = atoll(s);
  free(text);
  return k;
}

// Entries of tmpdir whose name starts with prefix (leftover temporary directories).
static int count_entries(const char* prefix) {
  DIR* d = opendir(tmpdir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent* e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

static void test_npy_matches_dataset(void** state) {
  (void)state;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/npy", tmpdir);
  assert_int_equal(animat("export '%s' --out '%s'", ds, dir), 0);
  expect_out("exported 4 episodes");
  am_ds_reader* r = am_ds_open(ds, err, sizeof err);
  if (!r) fail_msg("%s", err);
  int64_t ids[16];
  assert_int_equal(listed_ids(dir, ids, 16), am_ds_num_episodes(r));
  for (int64_t i = 0; i < am_ds_num_episodes(r); i++) {
    assert_int_equal(ids[i], am_ds_get_episode(r, i)->id);
    for (int c = 0; c < am_ds_num_channels(r); c++) check_channel(r, i, c, dir, 0);
  }
  am_ds_reader_free(r);
  assert_int_equal(count_entries("npy.tmp-"), 0);
}

static void test_csv_channels_and_ranges(void** state) {
  (void)state;
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/csv", tmpdir);
  assert_int_equal(animat("export '%s' --out '%s' --csv --channels reward,qpos,task_vars,events "
                          "--episodes 0,2-3", ds, dir), 0);
  expect_out("exported 3 episodes (12 files)");
  am_ds_reader* r = am_ds_open(ds, err, sizeof err);
  if (!r) fail_msg("%s", err);
  int64_t ids[16];
  assert_int_equal(listed_ids(dir, ids, 16), 3);
  assert_int_equal(ids[0], 0);
  assert_int_equal(ids[1], 2);
  assert_int_equal(ids[2], 3);
  snprintf(path, sizeof path, "%s/episode_000001", dir);
  assert_false(file_exists(path));
  const char* names[] = {"reward", "qpos", "task_vars", "events"};
  for (int k = 0; k < 3; k++) {
    int64_t i = am_ds_find_episode(r, ids[k]);
    for (int j = 0; j < 4; j++) check_channel(r, i, am_ds_find_channel(r, names[j]), dir, 1);
    snprintf(path, sizeof path, "%s/episode_%06lld/action.csv", dir, (long long)ids[k]);
    assert_false(file_exists(path));  // not selected
  }
  am_ds_reader_free(r);
  // the header row: the channel's labels when they name every entry
  snprintf(path, sizeof path, "%s/episode_000000/task_vars.csv", dir);
  size_t n;
  char* text = (char*)slurp(path, &n);
  assert_true(strncmp(text, "target_x,target_y,fingertip_x,fingertip_y\n", 42) == 0);
  free(text);
  // meta.json describes the directory: valid JSON, the selected channels with their files, the
  // event and variable names, the metadata and the exported episodes' trial table
  snprintf(path, sizeof path, "%s/meta.json", dir);
  text = (char*)slurp(path, &n);
  assert_non_null(strstr(text, "{\"name\": \"reward\", \"file\": \"reward.csv\", \"dtype\": \"f32\""));
  assert_null(strstr(text, "\"name\": \"action\""));  // not exported
  assert_non_null(strstr(text, "\"task_vars\": [\"target_x\", \"target_y\", \"fingertip_x\""));
  assert_non_null(strstr(text, "\"task.name\": \"reacher\""));
  assert_null(strstr(text, "model.xml"));
  const char* tr = strstr(text, "\"trials\": {\"columns\": [\"episode\"");
  assert_non_null(tr);
  int rows = 0;
  for (const char* q = strstr(tr, "\"data\""); q && (q = strstr(q, "\n  [")); q++) rows++;
  assert_int_equal(rows, 3);  // reacher: one row per exported episode
  free(text);
  char cmd[900];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '%s'",
           path);
  assert_int_equal(system(cmd), 0);
}

static void test_refusals(void** state) {
  (void)state;
  char dir[600], keep[700];
  snprintf(dir, sizeof dir, "%s/refused", tmpdir);
  struct {
    const char* episodes;
    int rc;
    const char* message;
  } bad[] = {
      {"3-1", 2, "the range 3-1 is inverted (did you mean 1-3?)"},
      {"''", 2, "--episodes is empty"},
      {"1,,2", 2, "an empty item"},
      {"2,", 2, "an empty item"},
      {"x", 2, "'x' is not an episode id or range A-B"},
      {"1-", 2, "'1-' is not an episode id or range A-B"},
      {"7-9", 1, "selects none of the 4 episodes"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    assert_int_equal(animat("export '%s' --out '%s' --episodes %s", ds, dir, bad[k].episodes),
                     bad[k].rc);
    expect_out(bad[k].message);
    assert_false(file_exists(dir));
  }
  assert_int_equal(animat("export '%s' --out '%s' --channels nope", ds, dir), 1);
  expect_out("has no channel 'nope'");
  assert_false(file_exists(dir));
  // an existing directory: refused without --force, replaced with it (only an earlier export)
  assert_int_equal(animat("export '%s' --out '%s' --episodes 1", ds, dir), 0);
  assert_int_equal(animat("export '%s' --out '%s' --episodes 2", ds, dir), 1);
  expect_out("already exists");
  expect_out("--force");
  int64_t ids[16];
  assert_int_equal(listed_ids(dir, ids, 16), 1);
  assert_int_equal(ids[0], 1);
  assert_int_equal(animat("export '%s' --out '%s/' --episodes 2 --force", ds, dir), 0);
  assert_int_equal(listed_ids(dir, ids, 16), 1);
  assert_int_equal(ids[0], 2);
  snprintf(keep, sizeof keep, "%s/episode_000001", dir);
  assert_false(file_exists(keep));  // replaced, not merged
  snprintf(dir, sizeof dir, "%s/notanexport", tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(keep, sizeof keep, "%s/keep.txt", dir);
  FILE* f = fopen(keep, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(animat("export '%s' --out '%s' --force", ds, dir), 1);
  expect_out("is not an earlier export");
  assert_true(file_exists(keep));
}

static void test_failure_leaves_nothing(void** state) {
  (void)state;
  // a copy of the dataset with a flipped byte in the body of the last episode's first chunk: the
  // export fails there, after writing the other episodes
  char bad[600], dir[600], path[700];
  snprintf(bad, sizeof bad, "%s/flipped.rollout", tmpdir);
  size_t n;
  unsigned char* b = slurp(ds, &n);
  am_ds_reader* r = am_ds_open(ds, err, sizeof err);
  if (!r) fail_msg("%s", err);
  const am_ds_episode* last = am_ds_get_episode(r, am_ds_num_episodes(r) - 1);
  b[am_ds_get_chunk(r, last->first_chunk)->offset + 24 + 40] ^= 0x10;  // (as in test_dataset.c)
  am_ds_reader_free(r);
  FILE* f = fopen(bad, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
  free(b);
  snprintf(dir, sizeof dir, "%s/failed", tmpdir);
  assert_int_equal(animat("export '%s' --out '%s'", bad, dir), 1);
  expect_out("checksum");
  assert_false(file_exists(dir));
  assert_int_equal(count_entries("failed"), 0);  // nor its temporary directory
  // replacing an earlier export: the failure leaves the earlier one as it was
  assert_int_equal(animat("export '%s' --out '%s' --episodes 0", ds, dir), 0);
  assert_int_equal(animat("export '%s' --out '%s' --force", bad, dir), 1);
  int64_t ids[16];
  assert_int_equal(listed_ids(dir, ids, 16), 1);
  snprintf(path, sizeof path, "%s/episode_000000/qpos.npy", dir);
  assert_true(file_exists(path));
  assert_int_equal(count_entries("failed"), 1);
}

static void write_file(const char* path, const unsigned char* b, size_t n) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

// Issue 12: export of a truncated file (no index, a cut-off chunk) says what it lost and refuses;
// with --allow-damaged it exports what is left and lists the loss; a bad chunk in an indexed file
// loses its episode only.
static void test_damaged_refused(void** state) {
  (void)state;
  char cut[600], flipped[600], dir[600];
  snprintf(cut, sizeof cut, "%s/cut.rollout", tmpdir);
  snprintf(flipped, sizeof flipped, "%s/flipped2.rollout", tmpdir);
  snprintf(dir, sizeof dir, "%s/damaged", tmpdir);
  size_t n;
  unsigned char* b = slurp(ds, &n);
  write_file(cut, b, n - 300);  // the index, the trailer and the end of the last chunk
  assert_int_equal(animat("export '%s' --out '%s'", cut, dir), 1);
  expect_out("cut.rollout is damaged: no trailer");
  expect_out("lost: bytes ");
  expect_out("nothing exported");
  expect_out("--allow-damaged");
  assert_false(file_exists(dir));
  assert_int_equal(count_entries("damaged"), 0);
  assert_int_equal(animat("export '%s' --out '%s' --allow-damaged", cut, dir), 0);
  expect_out("lost: bytes ");
  expect_out("from a damaged file (--allow-damaged)");
  assert_true(file_exists(dir));
  // a flipped byte in an indexed file: refused; with --allow-damaged, all episodes but that one
  am_ds_reader* r = am_ds_open(ds, err, sizeof err);
  if (!r) fail_msg("%s", err);
  int64_t ne = am_ds_num_episodes(r);
  const am_ds_episode* e = am_ds_get_episode(r, 1);
  b[am_ds_get_chunk(r, e->first_chunk)->offset + 24 + 40] ^= 0x10;
  char lost[64];
  snprintf(lost, sizeof lost, "lost: episode %lld", (long long)e->id);
  am_ds_reader_free(r);
  write_file(flipped, b, n);
  free(b);
  assert_int_equal(animat("export '%s' --out '%s' --force", flipped, dir), 1);
  expect_out("checksum mismatch");
  expect_out("--allow-damaged");
  assert_int_equal(animat("export '%s' --out '%s' --force --allow-damaged", flipped, dir), 0);
  expect_out(lost);
  expect_out("1 selected episode(s) unreadable");
  int64_t ids[16];
  assert_int_equal(listed_ids(dir, ids, 16), ne - 1);
}

// Issue 12: a recording that meets a full disk (the file size limit here) keeps every chunk it
// wrote whole, says so (file, chunks, episodes, recoverable), and leaves no index claiming
// completeness: inspect says RECOVERED, verify fails without "all checksums good".
static void test_record_disk_full(void** state) {
  (void)state;
  char path[600];
  snprintf(path, sizeof path, "%s/full.rollout", tmpdir);
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);  // inherited: write fails with EFBIG
  lim = old;
  lim.rlim_cur = 200 << 10;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  int rc = animat("record --random --task reacher --episodes 400 --envs 2 --chunk-rows 16 --out '%s' "
                  "--quiet", path);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_sig);
  assert_int_equal(rc, 1);
  expect_out("cannot write");
  expect_out("keeps the");
  expect_out("without an index: it is recoverable");
  expect_out("animat inspect");
  assert_true(file_exists(path));
  assert_int_equal(animat("inspect '%s'", path), 0);
  expect_out("RECOVERED without the index");
  expect_out("every byte after the channel table is in a whole block");
  assert_int_equal(animat("verify '%s'", path), 1);
  expect_out("FAILED");
  assert_null(strstr(out, "all checksums good"));
}

int main(void) {
  if (make_tmpdir("export")) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_npy_matches_dataset),
      cmocka_unit_test(test_csv_channels_and_ranges),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_failure_leaves_nothing),
      cmocka_unit_test(test_damaged_refused),
      cmocka_unit_test(test_record_disk_full),
  };
  int rc = cmocka_run_group_tests(tests, setup, NULL);
  remove_tmpdir();
  return rc;
}
