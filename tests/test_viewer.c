// test_viewer.c: animat-view. Pure parts (PNG writer, PCA, unit ordering, layout) always run; the
// rendering tests run animat-view headless and need an X display (ctest runs this under
// `xvfb-run -a`; without a display they are skipped with a message and exit code 77 = SKIP).
// Rendering checks: a valid PNG of the requested size, the body region and every panel region
// not blank, two different steps give different images, a bad file gives a clear error.
#include <math.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "amt_tasks.h"
#include "amv.h"

#ifndef ANIMAT_VIEW_EXE
#define ANIMAT_VIEW_EXE "animat-view"
#endif

static char tmpdir[256];
static int have_display;

//---------------------------------- a PNG reader for what amv_png_write writes ---------------------

typedef struct image {
  int w, h;
  unsigned char* rgb;  // top-down rows
} image;

static uint32_t be32(const unsigned char* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Decodes an 8-bit RGB PNG made of stored deflate blocks; checks every CRC and the Adler-32.
// Returns 0 or a negative code naming the failure.
static int png_read(const char* path, image* im) {
  FILE* f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* d = malloc((size_t)n);
  if (!d || fread(d, 1, (size_t)n, f) != (size_t)n) return fclose(f), free(d), -2;
  fclose(f);
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n < 8 || memcmp(d, sig, 8)) return free(d), -3;
  unsigned char* z = malloc((size_t)n);
  size_t zn = 0;
  long p = 8;
  int seen_end = 0;
  memset(im, 0, sizeof *im);
  while (p + 12 <= n) {
    uint32_t len = be32(d + p);
    if (p + 12 + (long)len > n) return free(d), free(z), -4;
    const unsigned char* type = d + p + 4;
    if (am_crc32(0, type, 4 + len) != be32(d + p + 8 + len)) return free(d), free(z), -5;
    if (!memcmp(type, "IHDR", 4)) {
      im->w = (int)be32(type + 4);
      im->h = (int)be32(type + 8);
      if (type[12] != 8 || type[13] != 2) return free(d), free(z), -6;
    } else if (!memcmp(type, "IDAT", 4)) {
      memcpy(z + zn, type + 4, len);
      zn += len;
    } else if (!memcmp(type, "IEND", 4)) {
      seen_end = 1;
      break;
    }
    p += 12 + len;
  }
  if (!seen_end || im->w <= 0 || im->h <= 0 || zn < 6 || z[0] != 0x78) return free(d), free(z), -7;
  size_t row = (size_t)im->w * 3 + 1, raw_n = row * im->h, o = 0, q = 2;
  unsigned char* raw = malloc(raw_n);
  int final = 0;
  while (!final) {
    if (q + 5 > zn) return free(d), free(z), free(raw), -8;
    final = z[q] & 1;
    if ((z[q] >> 1) & 3) return free(d), free(z), free(raw), -9;  // only stored blocks expected
    size_t len = z[q + 1] | z[q + 2] << 8, nlen = z[q + 3] | z[q + 4] << 8;
    if ((len ^ 0xffff) != nlen || q + 5 + len > zn || o + len > raw_n)
      return free(d), free(z), free(raw), -10;
    memcpy(raw + o, z + q + 5, len);
    o += len;
    q += 5 + len;
  }
  uint32_t s1 = 1, s2 = 0;
  for (size_t i = 0; i < o; i++) s1 = (s1 + raw[i]) % 65521, s2 = (s2 + s1) % 65521;
  if (o != raw_n || q + 4 > zn || be32(z + q) != ((s2 << 16) | s1))
    return free(d), free(z), free(raw), -11;
  im->rgb = malloc((size_t)im->w * im->h * 3);
  for (int y = 0; y < im->h; y++) {
    if (raw[y * row] != 0) return free(d), free(z), free(raw), -12;
    memcpy(im->rgb + (size_t)y * im->w * 3, raw + y * row + 1, row - 1);
  }
  free(d), free(z), free(raw);
  return 0;
}

// Standard deviation of the pixel values in a layout rectangle (bottom-left origin).
static double region_std(const image* im, amv_rect r) {
  double s = 0, s2 = 0;
  long cnt = 0;
  for (int y = r.bottom; y < r.bottom + r.height; y++)
    for (int x = r.left; x < r.left + r.width; x++) {
      const unsigned char* px = im->rgb + ((size_t)(im->h - 1 - y) * im->w + x) * 3;
      for (int c = 0; c < 3; c++) s += px[c], s2 += (double)px[c] * px[c], cnt++;
    }
  double m = s / cnt;
  return sqrt(s2 / cnt - m * m);
}

static long region_diff(const image* a, const image* b, amv_rect r) {
  long n = 0;
  for (int y = r.bottom; y < r.bottom + r.height; y++)
    for (int x = r.left; x < r.left + r.width; x++) {
      size_t i = ((size_t)(a->h - 1 - y) * a->w + x) * 3;
      n += memcmp(a->rgb + i, b->rgb + i, 3) != 0;
    }
  return n;
}

//---------------------------------- pure tests ----------------------------------------------------

static void test_png_roundtrip(void** state) {
  int w = 300, h = 257;  // > 65535 raw bytes: several stored blocks
  unsigned char* rgb = malloc((size_t)w * h * 3);
  for (int i = 0; i < w * h * 3; i++) rgb[i] = (unsigned char)(i * 7 + i / 13);
  char path[512], err[AM_ERR_LEN];
  snprintf(path, sizeof path, "%s/rt.png", tmpdir);
  assert_int_equal(amv_png_write(path, rgb, w, h, 1, err, sizeof err), 0);
  image im;
  assert_int_equal(png_read(path, &im), 0);
  assert_int_equal(im.w, w);
  assert_int_equal(im.h, h);
  for (int y = 0; y < h; y++)  // flip = 1: first input row is the bottom row
    assert_memory_equal(im.rgb + (size_t)y * w * 3, rgb + (size_t)(h - 1 - y) * w * 3, w * 3);
  assert_int_not_equal(amv_png_write("/nonexistent-dir/x.png", rgb, w, h, 0, err, sizeof err), 0);
  assert_non_null(strstr(err, "/nonexistent-dir/x.png"));
  free(im.rgb);
  free(rgb);
}

static void test_pca_and_order(void** state) {
  // 3 units: unit 0 = 2 sin, unit 1 = -sin (both on PC1), unit 2 = small cos (PC2).
  enum { T = 400, H = 3 };
  float X[T * H];
  for (int t = 0; t < T; t++) {
    double a = 6.283185307 * t / T;
    X[t * H + 0] = (float)(2 * sin(a) + 1);
    X[t * H + 1] = (float)(-sin(a));
    X[t * H + 2] = (float)(0.3 * cos(a));
  }
  double mean[H], comps[2 * H], var[2];
  assert_int_equal(amv_pca(X, T, H, 2, mean, comps, var), 2);
  assert_true(fabs(mean[0] - 1) < 1e-3);
  double n5 = sqrt(5.0);
  assert_true(fabs(comps[0] - 2 / n5) < 1e-4);  // sign rule: largest entry positive
  assert_true(fabs(comps[1] + 1 / n5) < 1e-4);
  assert_true(fabs(comps[2]) < 1e-4);
  assert_true(fabs(fabs(comps[H + 2]) - 1) < 1e-4);
  assert_true(fabs(var[0] - 5 * 0.5 * T / (T - 1)) < 1e-2);  // var of sin = 1/2
  assert_true(var[1] < var[0]);
  int order[H];
  amv_order_units(X, T, H, AMV_ORDER_PEAK, order);
  // peaks: unit 0 at T/4, unit 1 at 3T/4, unit 2 at 0
  assert_int_equal(order[0], 2);
  assert_int_equal(order[1], 0);
  assert_int_equal(order[2], 1);
  amv_order_units(X, T, H, AMV_ORDER_PC1, order);
  assert_int_equal(order[0], 0);  // loading 2/sqrt5 first, -1/sqrt5 last
  assert_int_equal(order[2], 1);
  amv_order_units(X, T, H, AMV_ORDER_INDEX, order);
  for (int i = 0; i < H; i++) assert_int_equal(order[i], i);
  float P[T * 2];
  amv_project(X, T, H, 2, mean, comps, P);
  assert_true(fabs(P[T / 4 * 2] - n5) < 1e-3);  // peak of sin projects to sqrt5
}

static void test_layout(void** state) {
  amv_rect r[AMV_NRECT];
  amv_layout(1000, 600, r);
  long area = 0;
  for (int i = 0; i < AMV_NRECT; i++) {
    assert_true(r[i].width > 100 && r[i].height > 100);
    area += (long)r[i].width * r[i].height;
  }
  assert_int_equal(area, 1000L * 600);  // the panels tile the window
}

// Scenery keys: a key per change, lookup by step, a later key replaces what follows it.
static void test_scene_keys(void** state) {
  char err[AM_ERR_LEN];
  amv_episode e;
  assert_int_equal(amv_episode_init(&e, 16, 1, 0, 0, err, sizeof err), 0);
  e.nmocap = 2;
  assert_null(amv_episode_scene(&e, 0));
  double pos[6] = {1, 2, 3, 4, 5, 6}, quat[8] = {1, 0, 0, 0, 1, 0, 0, 0};
  assert_int_equal(amv_episode_set_scene(&e, 0, pos, quat, err, sizeof err), 0);
  assert_int_equal(amv_episode_set_scene(&e, 3, pos, quat, err, sizeof err), 0);  // unchanged
  assert_int_equal(e.n_scene, 1);
  pos[5] = -20;  // the second body parked at step 7 (a target taken)
  for (int k = 0; k < 6; k++) assert_int_equal(amv_episode_set_scene(&e, 7 + k, pos, quat, err, sizeof err), 0);
  assert_int_equal(e.n_scene, 2);
  assert_true(amv_episode_scene(&e, 6)[5] == 6);
  assert_true(amv_episode_scene(&e, 7)[5] == -20);
  assert_true(amv_episode_scene(&e, 1000)[5] == -20);
  assert_true(amv_episode_scene(&e, 7)[6] == 1);  // quaternions follow the positions
  pos[0] = 9;
  assert_int_equal(amv_episode_set_scene(&e, 5, pos, quat, err, sizeof err), 0);  // rewrites 5..
  assert_int_equal(e.n_scene, 2);
  assert_true(amv_episode_scene(&e, 4)[0] == 1 && amv_episode_scene(&e, 9)[0] == 9);
  amv_episode_clear_scene(&e);
  assert_null(amv_episode_scene(&e, 0));
  amv_episode_free(&e);
}

// Position variables: a mocap body's place it (two-tap's orb), the rat's root_x/_y are no marker
// (the joint "root" is the rat), the arm's target/start/cursor are markers.
static void test_var_points(void** state) {
  char err[AM_ERR_LEN];
  am_task t;
  amv_meta meta = {0};
  amv_var_point p[AM_MAX_VARS];
  assert_int_equal(amt_create(&t, "two-tap", NULL, err, sizeof err), 0);
  meta.n_vars = t.n_vars;
  for (int k = 0; k < t.n_vars; k++) snprintf(meta.vars[k], AM_NAME_LEN, "%s", t.vars[k]);
  assert_int_equal(amv_var_points(t.model->m, &meta, p, AM_MAX_VARS), 1);
  assert_string_equal(p[0].name, "orb");
  assert_true(p[0].mocap >= 0 && p[0].iz == -1);
  assert_string_equal(meta.vars[p[0].ix], "orb_x");
  assert_string_equal(meta.vars[p[0].iy], "orb_y");
  unsigned char* in = calloc((size_t)t.model->m->nbody, 1);
  int n = amv_animal_bodies(t.model->m, in);  // the rat's bodies, not the orb nor the world
  assert_true(n > 10);
  assert_int_equal(in[0], 0);
  assert_int_equal(in[mj_name2id(t.model->m, mjOBJ_BODY, "orb")], 0);
  free(in);
  amt_destroy(&t);
  // the composite's member variables two-tap.orb_x/_y place the same orb (no marker)
  assert_int_equal(amt_create(&t, "rat-multi", NULL, err, sizeof err), 0);
  meta.n_vars = t.n_vars;
  for (int k = 0; k < t.n_vars; k++) snprintf(meta.vars[k], AM_NAME_LEN, "%s", t.vars[k]);
  assert_int_equal(amv_var_points(t.model->m, &meta, p, AM_MAX_VARS), 1);
  assert_string_equal(p[0].name, "two-tap.orb");
  assert_int_equal(p[0].mocap, t.model->m->body_mocapid[mj_name2id(t.model->m, mjOBJ_BODY, "orb")]);
  amt_destroy(&t);
  assert_int_equal(amt_create(&t, "reach-center-out", NULL, err, sizeof err), 0);
  meta.n_vars = t.n_vars;
  for (int k = 0; k < t.n_vars; k++) snprintf(meta.vars[k], AM_NAME_LEN, "%s", t.vars[k]);
  n = amv_var_points(t.model->m, &meta, p, AM_MAX_VARS);
  assert_int_equal(n, 3);
  const char* want[] = {"target", "start", "cursor"};
  for (int k = 0; k < 3; k++) {
    assert_string_equal(p[k].name, want[k]);
    assert_int_equal(p[k].mocap, -1);
  }
  amt_destroy(&t);
}

// Text fitting: labels flow without overlapping and never pass the right edge; the first text
// that fits is chosen.
static void test_text_fit(void** state) {
  int cw[127];
  for (int c = 0; c < 127; c++) cw[c] = 8;
  assert_int_equal(amv_text_width(cw, "trial_start"), 88);
  const char* texts[] = {"a long title that does not fit", "short", "x"};
  assert_int_equal(amv_fit(cw, texts, 3, 100), 1);
  assert_int_equal(amv_fit(cw, texts, 3, 7), -1);
  int w[9], x[9], line[9];
  for (int i = 0; i < 9; i++) w[i] = 40 + 10 * i;
  int placed = amv_flow(w, 9, 150, 80, 400, 24, 3, x, line);
  assert_true(placed >= 4 && placed < 9);  // 3 lines of 320 px cannot hold 720 px of labels
  for (int i = 0; i < placed; i++) {
    assert_true(x[i] + w[i] <= 400);
    assert_true(x[i] >= (line[i] ? 80 : 150));
    if (i && line[i] == line[i - 1]) assert_true(x[i] >= x[i - 1] + w[i - 1] + 24);
    if (i) assert_true(line[i] >= line[i - 1] && line[i] <= line[i - 1] + 1);
  }
  assert_int_equal(amv_flow(w, 9, 150, 80, 2000, 24, 1, x, line), 9);  // one wide line
}

//---------------------------------- rendering tests -----------------------------------------------

static int run(const char* args, char* out, size_t out_sz) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", ANIMAT_VIEW_EXE, args);
  FILE* p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, out_sz - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void check_screens(const char* what, const char* a_path, const char* b_path, int w, int h) {
  image a, b;
  assert_int_equal(png_read(a_path, &a), 0);
  assert_int_equal(png_read(b_path, &b), 0);
  assert_int_equal(a.w, w);
  assert_int_equal(a.h, h);
  amv_rect r[AMV_NRECT];
  amv_layout(w, h, r);
  for (int i = 0; i < AMV_NRECT; i++) {
    double s = region_std(&a, r[i]);
    if (s < 8) fail_msg("%s: region %s is blank (std %.2f)", what, amv_rect_names[i], s);
  }
  long d_body = region_diff(&a, &b, r[AMV_RECT_BODY]);
  long d_trace = region_diff(&a, &b, r[AMV_RECT_TRACE]);
  if (d_body < 200) fail_msg("%s: body view identical at two steps (%ld px differ)", what, d_body);
  if (d_trace < 20) fail_msg("%s: traces identical at two steps (%ld px differ)", what, d_trace);
  free(a.rgb), free(b.rgb);
}

static void test_task_screenshot(void** state) {
  if (!have_display) skip();
  char a[512], b[512], args[1400], out[4096];
  snprintf(a, sizeof a, "%s/task_a.png", tmpdir);
  snprintf(b, sizeof b, "%s/task_b.png", tmpdir);
  snprintf(args, sizeof args, "--task reacher --size 800x500 --step 5 --screenshot %s", a);
  int rc = run(args, out, sizeof out);
  if (rc) fail_msg("animat-view exit %d: %s", rc, out);
  snprintf(args, sizeof args, "--task reacher --size 800x500 --step 45 --screenshot %s", b);
  rc = run(args, out, sizeof out);
  if (rc) fail_msg("animat-view exit %d: %s", rc, out);
  check_screens("live reacher", a, b, 800, 500);
}

// Pixels of the body view that differ between a and b: their count and centroid (pixels, bottom-
// left origin).
static long diff_centroid(const image* a, const image* b, amv_rect r, double* cx, double* cy) {
  long n = 0;
  double sx = 0, sy = 0;
  for (int y = r.bottom; y < r.bottom + r.height; y++)
    for (int x = r.left; x < r.left + r.width; x++) {
      size_t i = ((size_t)(a->h - 1 - y) * a->w + x) * 3;
      if (memcmp(a->rgb + i, b->rgb + i, 3)) n++, sx += x, sy += y;
    }
  *cx = n ? sx / n : -1;
  *cy = n ? sy / n : -1;
  return n;
}

// Every task, live: the animal is in the picture (its pixels differ from a render without it, and
// their centre lies inside the body view, away from its edges), and a task with scenery (mocap
// bodies: platforms, bowl, maze walls and targets, orb) shows it (pixels differ from a render
// without it; the maze's walls cover a good part of the view).
static void test_every_task_scene(void** state) {
  if (!have_display) skip();
  const char* tasks[] = {"reacher", "reach-center-out", "reach-random", "force-field",
                         "visuomotor-rotation", "decision-reach", "run", "run-gaps",
                         "escape-bowl", "forage-maze", "two-tap"};
  const int W = 560, H = 360;
  amv_rect rc[AMV_NRECT];
  amv_layout(W, H, rc);
  amv_rect body = rc[AMV_RECT_BODY];
  for (size_t k = 0; k < sizeof tasks / sizeof *tasks; k++) {
    char err[AM_ERR_LEN], args[2000], out[4096], shot[3][512];
    am_task t;
    if (amt_create(&t, tasks[k], NULL, err, sizeof err)) fail_msg("%s", err);
    int nmocap = t.model->m->nmocap;
    amt_destroy(&t);
    // two-tap's orb within 0.3 m of the rat's start, so that the tracking camera sees it
    const char* extra = !strcmp(tasks[k], "two-tap") ? "--task-param arena=0.3" : "";
    const char* hide[3] = {"", "--hide body", "--hide scenery"};
    image im[3];
    for (int j = 0; j < (nmocap ? 3 : 2); j++) {
      snprintf(shot[j], sizeof shot[j], "%s/%s-%d.png", tmpdir, tasks[k], j);
      snprintf(args, sizeof args, "--task %s %s --policy zero --steps 6 --step 3 --size %dx%d %s "
               "--screenshot %s", tasks[k], extra, W, H, hide[j], shot[j]);
      int rc = run(args, out, sizeof out);
      if (rc) fail_msg("%s: animat-view exit %d: %s", tasks[k], rc, out);
      assert_int_equal(png_read(shot[j], &im[j]), 0);
    }
    double cx, cy;
    long n_body = diff_centroid(&im[0], &im[1], body, &cx, &cy);
    fprintf(stderr, "test_viewer: %-20s body %6ld px at (%.0f, %.0f)", tasks[k], n_body, cx, cy);
    if (n_body < 150) fail_msg("%s: the body is not in the picture (%ld px)", tasks[k], n_body);
    if (cx < body.left + 0.1 * body.width || cx > body.left + 0.9 * body.width ||
        cy < body.bottom + 0.1 * body.height || cy > body.bottom + 0.9 * body.height)
      fail_msg("%s: the body is at the edge of the view (centre %.0f, %.0f)", tasks[k], cx, cy);
    if (nmocap) {
      long n_scene = diff_centroid(&im[0], &im[2], body, &cx, &cy);
      fprintf(stderr, "  scenery %6ld px", n_scene);
      long need = !strcmp(tasks[k], "forage-maze") ? (long)body.width * body.height / 10 : 100;
      if (n_scene < need)
        fail_msg("%s: the scenery is not drawn (%ld px differ, want %ld)", tasks[k], n_scene, need);
      free(im[2].rgb);
    }
    fprintf(stderr, "\n");
    free(im[0].rgb), free(im[1].rgb);
  }
}

static void test_bad_files(void** state) {
  char path[512], out[4096], args[1200];
  snprintf(path, sizeof path, "%s/foreign.rollout", tmpdir);
  FILE* f = fopen(path, "wb");
  fputs("this is not a dataset, just some text\n", f);
  fclose(f);
  snprintf(args, sizeof args, "%s --screenshot %s/x.png", path, tmpdir);
  int rc = run(args, out, sizeof out);
  assert_int_not_equal(rc, 0);
  assert_true(rc < 128);  // an exit, not a crash
  assert_non_null(strstr(out, "animat-view:"));
  assert_non_null(strstr(out, "foreign.rollout"));
  snprintf(args, sizeof args, "%s/missing.rollout --screenshot %s/x.png", tmpdir, tmpdir);
  rc = run(args, out, sizeof out);
  assert_int_not_equal(rc, 0);
  assert_true(rc < 128);
  rc = run("--task no-such-task --screenshot /dev/null", out, sizeof out);
  assert_int_not_equal(rc, 0);
  assert_true(rc < 128);
  assert_non_null(strstr(out, "no-such-task"));
}

// Records a small dataset with the recorder API: reacher, random actions, 3 episodes, plus a
// synthetic "network" channel (8 units, smooth functions of time) so the neural panels have data.
static void record_dataset(const char* path, const char* task, const char* param, int episodes) {
  char err[AM_ERR_LEN];
  am_task t;
  amt_params params = {0};
  assert_int_equal(amt_params_add(&params, param, err, sizeof err), 0);
  if (amt_create(&t, task, &params, err, sizeof err)) fail_msg("%s", err);
  am_pool_config pc = {.num_envs = 2, .num_threads = 1, .seed = 3, .export_state = 1};
  am_pool* pool = am_pool_create(&t, &pc, err, sizeof err);
  if (!pool) fail_msg("%s", err);
  am_rec_config rc = {.path = path, .force = 1, .episodes = episodes, .task_params = param,
                      .seed = 3, .policy = "random (test)", .policy_step = -1};
  am_rec* rec = am_rec_create(pool, &rc, err, sizeof err);
  if (!rec) fail_msg("%s", err);
  float units[2 * 8] = {0};
  am_channel_def def = {"core/h", "network", "", NULL, AM_DT_F32, 1, {8}, 0};
  if (am_rec_add_channel(rec, &def, units, err, sizeof err) < 0) fail_msg("%s", err);
  if (am_rec_begin(rec, err, sizeof err)) fail_msg("%s", err);
  am_batch* b = am_pool_batch(pool);
  am_rng rng;
  am_rng_seed(&rng, 3, 9);
  int done = 0;
  for (int step = 0; !done && step < 10000; step++) {
    for (int k = 0; k < 2 * t.act_dim; k++) b->actions[k] = (float)am_rng_range(&rng, -1, 1);
    am_pool_step(pool);
    for (int e = 0; e < 2; e++)
      for (int u = 0; u < 8; u++)
        units[e * 8 + u] = (float)tanh(sin(0.08 * b->ep_step[e] * (1 + 0.3 * u) + u) + 0.2 * e);
    done = am_rec_step(rec, err, sizeof err);
    if (done < 0) fail_msg("%s", err);
  }
  if (am_rec_close(rec, err, sizeof err)) fail_msg("%s", err);
  am_pool_free(pool);
  amt_destroy(&t);
}

static void make_dataset(const char* path) { record_dataset(path, "reacher", "episode_steps=80", 3); }

static void test_dataset_screenshot(void** state) {
  if (!have_display) skip();
  char ds[512], a[512], b[512], args[2000], out[4096];
  snprintf(ds, sizeof ds, "%s/reacher.rollout", tmpdir);
  make_dataset(ds);
  snprintf(a, sizeof a, "%s/ds_a.png", tmpdir);
  snprintf(b, sizeof b, "%s/ds_b.png", tmpdir);
  snprintf(args, sizeof args, "%s --episode 1 --step 10 --size 900x560 --screenshot %s", ds, a);
  int rc = run(args, out, sizeof out);
  if (rc) fail_msg("animat-view exit %d: %s", rc, out);
  snprintf(args, sizeof args, "%s --episode 1 --step 70 --size 900x560 --screenshot %s", ds, b);
  rc = run(args, out, sizeof out);
  if (rc) fail_msg("animat-view exit %d: %s", rc, out);
  check_screens("dataset replay", a, b, 900, 560);
  // frames: every 20th step of episode 2 -> 4 PNGs
  snprintf(args, sizeof args, "%s --episode 2 --size 640x400 --frames %s/frames --every 20", ds,
           tmpdir);
  rc = run(args, out, sizeof out);
  if (rc) fail_msg("animat-view exit %d: %s", rc, out);
  for (int k = 0; k < 4; k++) {
    image im;
    snprintf(a, sizeof a, "%s/frames/frame_%06d.png", tmpdir, k);
    assert_int_equal(png_read(a, &im), 0);
    assert_int_equal(im.w, 640);
    free(im.rgb);
  }
  snprintf(a, sizeof a, "%s/frames/frame_%06d.png", tmpdir, 4);
  assert_int_not_equal(access(a, F_OK), 0);
  // an episode that does not exist: a message, not a crash
  snprintf(args, sizeof args, "%s --episode 7 --screenshot %s/x.png", ds, tmpdir);
  rc = run(args, out, sizeof out);
  assert_int_not_equal(rc, 0);
  assert_true(rc < 128);
  assert_non_null(strstr(out, "episode 7"));
}

// Replay draws each episode's scenery from its recorded initial state (maze walls and targets,
// the escape bowl's heightfield on its mocap body), and two episodes of the maze differ in it.
static void test_dataset_scenery(void** state) {
  if (!have_display) skip();
  const char* tasks[] = {"forage-maze", "escape-bowl"};
  for (int k = 0; k < 2; k++) {
    char ds[512], shot[3][512], args[2000], out[4096];
    snprintf(ds, sizeof ds, "%s/%s.rollout", tmpdir, tasks[k]);
    record_dataset(ds, tasks[k], "episode_time=0.1", 2);
    const char* opt[3] = {"--episode 0", "--episode 0 --hide scenery", "--episode 1"};
    image im[3];
    for (int j = 0; j < 3; j++) {
      snprintf(shot[j], sizeof shot[j], "%s/ds-%s-%d.png", tmpdir, tasks[k], j);
      snprintf(args, sizeof args, "%s %s --step 2 --size 560x360 --screenshot %s", ds, opt[j],
               shot[j]);
      int rc = run(args, out, sizeof out);
      if (rc) fail_msg("%s: animat-view exit %d: %s", tasks[k], rc, out);
      assert_int_equal(png_read(shot[j], &im[j]), 0);
    }
    amv_rect rc[AMV_NRECT];
    amv_layout(560, 360, rc);
    amv_rect body = rc[AMV_RECT_BODY];
    double cx, cy;
    long n = diff_centroid(&im[0], &im[1], body, &cx, &cy);
    fprintf(stderr, "test_viewer: replay %s: scenery %ld px\n", tasks[k], n);
    if (n < (long)body.width * body.height / 10)
      fail_msg("%s replay: the scenery is not drawn (%ld px differ)", tasks[k], n);
    if (k == 0 && diff_centroid(&im[0], &im[2], body, &cx, &cy) < 1000)
      fail_msg("forage-maze replay: episodes 0 and 1 show the same maze");
    for (int j = 0; j < 3; j++) free(im[j].rgb);
  }
}

// Bad options: an unknown module or --hide value is an error before anything renders; a video is
// reported only when ffmpeg wrote a non-empty file (a fake ffmpeg that writes nothing, then one
// that writes bytes).
static void test_options(void** state) {
  if (!have_display) skip();
  char out[4096], args[2000];
  snprintf(args, sizeof args, "--task reacher --steps 3 --module nosuch --screenshot %s/m.png",
           tmpdir);
  int rc = run(args, out, sizeof out);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "--module nosuch"));
  snprintf(args, sizeof args, "%s/m.png", tmpdir);
  assert_int_not_equal(access(args, F_OK), 0);
  snprintf(args, sizeof args, "--task reacher --steps 3 --module core --screenshot %s/m.png",
           tmpdir);
  rc = run(args, out, sizeof out);
  if (rc) fail_msg("--module core: exit %d: %s", rc, out);
  rc = run("--task reacher --hide legs --screenshot /dev/null", out, sizeof out);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(out, "--hide wants body or scenery"));
  const char* fakes[2] = {"exit 0", "for a; do o=$a; done; echo video > \"$o\""};
  for (int k = 0; k < 2; k++) {
    char bin[600], cmd[3000];
    snprintf(bin, sizeof bin, "%s/bin%d", tmpdir, k);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && printf '#!/bin/sh\n%%s\n' '%s' > %s/ffmpeg && chmod +x %s/ffmpeg",
             bin, fakes[k], bin, bin);
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "--task reacher --steps 4 --size 320x240 --frames %s/fr%d", tmpdir, k);
    snprintf(cmd, sizeof cmd, "PATH=%s:$PATH %s %s 2>&1", bin, ANIMAT_VIEW_EXE, args);
    FILE* p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    char mp4[600];
    snprintf(mp4, sizeof mp4, "%s/fr%d/episode.mp4", tmpdir, k);
    if (k == 0) {
      assert_null(strstr(out, "episode.mp4"));
      assert_non_null(strstr(out, "ffmpeg made no video"));
      assert_int_not_equal(access(mp4, F_OK), 0);
    } else {
      assert_non_null(strstr(out, "wrote"));
      assert_non_null(strstr(out, "episode.mp4 (6 bytes)"));
    }
  }
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/animat-test-viewer-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  const char* disp = getenv("DISPLAY");
  have_display = disp && *disp;
  if (!have_display)
    fprintf(stderr, "test_viewer: no X display: rendering tests SKIPPED (install xvfb; ctest runs "
                    "this test under `xvfb-run -a`)\n");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_png_roundtrip),
      cmocka_unit_test(test_pca_and_order),
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_scene_keys),
      cmocka_unit_test(test_var_points),
      cmocka_unit_test(test_text_fit),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_task_screenshot),
      cmocka_unit_test(test_every_task_scene),
      cmocka_unit_test(test_dataset_screenshot),
      cmocka_unit_test(test_dataset_scenery),
      cmocka_unit_test(test_options),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (getenv("ANIMAT_TEST_KEEP")) fprintf(stderr, "test_viewer: files kept in %s\n", tmpdir);
  else if (system(cmd)) {
  }
  if (failed) return 1;
  return have_display ? 0 : 77;
}
