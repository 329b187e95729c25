// test_svg.c: the SVG figure library (analysis/ana_svg.h): nice axes (1-2-5 steps covering the data,
// over a sweep of random ranges), figures with every kind of element parsed back with Python's XML
// parser (well-formed, the expected number of each element), non-finite points breaking lines and
// never written, text escaping (markup characters, control characters, invalid UTF-8), images
// (one rect per run of equal cells, blank NaN cells), the colours, and the error paths: bad
// arguments recorded and reported by the write, an unwritable path leaving nothing behind.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ana_svg.h"

static char tmpdir[256];

static int setup(void** state) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/animat-test-svg-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void** state) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) ? -1 : 0;
}

static int exists(const char* path) {
  struct stat st;
  return stat(path, &st) == 0;
}

// Occurrences of s in text.
static int count(const char* text, const char* s) {
  int n = 0;
  for (const char* p = strstr(text, s); p; p = strstr(p + 1, s)) n++;
  return n;
}

// Parses path with Python's XML parser; out gets "tag=count ..." for the SVG elements (sorted by
// tag) and the text of every <text> element on one line each. Fails the test when the parse fails.
static void parse_svg(const char* path, char* out, size_t out_sz) {
  char cmd[1600];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 -c \"import sys, collections, xml.etree.ElementTree as E\n"
           "r = E.parse(sys.argv[1]).getroot()\n"
           "c = collections.Counter(e.tag.split('}')[-1] for e in r.iter())\n"
           "print(' '.join('%%s=%%d' %% kv for kv in sorted(c.items())))\n"
           "for e in r.iter('{http://www.w3.org/2000/svg}text'): print('T:' + (e.text or ''))\n"
           "\" '%s' 2>&1",
           path);
  FILE* p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, out_sz - 1, p);
  out[n] = 0;
  int st = pclose(p);
  if (st) fail_msg("python could not parse %s:\n%s", path, out);
}

// The count of tag in parse_svg's output ("polyline=3" -> 3; absent -> 0).
static int tag_count(const char* parsed, const char* tag) {
  char key[64];
  snprintf(key, sizeof key, " %s=", tag);
  char line[4096];
  snprintf(line, sizeof line, " %.*s", (int)strcspn(parsed, "\n"), parsed);
  const char* p = strstr(line, key);
  return p ? atoi(p + strlen(key)) : 0;
}

static void render(const ana_fig* f, am_buf* b) {
  char err[AM_ERR_LEN];
  b->len = 0;
  if (ana_fig_render(f, b, err, sizeof err)) fail_msg("render: %s", err);
  assert_int_equal(am_buf_append(b, "", 1), 0);  // NUL-terminated
}

//---------------------------------- nice axes -----------------------------------------------------

static void check_nice(double lo, double hi, int target) {
  double a, b, s;
  int n = ana_nice_axis(lo, hi, target, &a, &b, &s);
  assert_true(n >= 2);
  assert_true(a <= lo && b >= hi);  // the ticks cover the data
  double m = s / pow(10, floor(log10(s) + 1e-9));  // the step's mantissa: 1, 2 or 5
  assert_true(fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6);
  assert_true(fabs(a / s - round(a / s)) < 1e-6 && fabs(b / s - round(b / s)) < 1e-6);
  assert_int_equal(n, (int)lround((b - a) / s) + 1);
  int t = target ? (target < 2 ? 2 : target) : 5;  // 0: 5; at least 2
  if (lo < hi) {  // about target intervals over the data (the widest 1-2-5 gap is 2.5 x)
    double intervals = (hi - lo) / s;
    assert_true(intervals > t / 2.6 && intervals < t * 2.6);
    // rounded out by less than one step at each end
    assert_true(lo - a < s * (1 + 1e-9) && b - hi < s * (1 + 1e-9));
  }
}

static void test_nice_axis(void** state) {
  double a, b, s;
  assert_int_equal(ana_nice_axis(0, 1, 5, &a, &b, &s), 6);
  assert_true(a == 0 && b == 1 && fabs(s - 0.2) < 1e-12);
  assert_int_equal(ana_nice_axis(0.13, 9.7, 5, &a, &b, &s), 6);
  assert_true(a == 0 && b == 10 && s == 2);
  assert_int_equal(ana_nice_axis(-3.2, 0.7, 0, &a, &b, &s), 6);
  assert_true(a == -4 && b == 1 && s == 1);
  assert_int_equal(ana_nice_axis(0, 1e6, 5, &a, &b, &s), 6);
  assert_true(s == 2e5);
  ana_nice_axis(3, 3, 5, &a, &b, &s);  // a single value: widened by 10 %
  assert_true(a <= 2.7 && b >= 3.3 && a < 3 && b > 3);
  ana_nice_axis(0, 0, 5, &a, &b, &s);
  assert_true(a <= -1 && b >= 1);
  assert_int_equal(ana_nice_axis(NAN, 1, 5, &a, &b, &s), -1);
  assert_int_equal(ana_nice_axis(0, INFINITY, 5, &a, &b, &s), -1);
  assert_int_equal(ana_nice_axis(2, 1, 5, &a, &b, &s), -1);
  // a sweep of ranges from 1e-6 to 1e9 wide, offset far from 0 or not, every target
  am_rng rng;
  am_rng_seed(&rng, 7, 0);
  for (int i = 0; i < 3000; i++) {
    double w = pow(10, am_rng_range(&rng, -6, 9));
    double lo = am_rng_range(&rng, -3, 3) * w * (i % 3 == 0 ? 100 : 1);
    check_nice(lo, lo + w * am_rng_uniform(&rng), i % 21);
  }
}

//---------------------------------- figures -------------------------------------------------------

// One figure with every element: parsed back, each element counted.
static void test_elements_well_formed(void** state) {
  char err[AM_ERR_LEN], path[400], parsed[65536];
  ana_fig* f = ana_fig_new(2, 2, 0, 0, err, sizeof err);
  assert_non_null(f);
  assert_int_equal(ana_fig_title(f, "all elements"), 0);
  double x[6] = {0, 1, 2, 3, 4, 5}, y[6] = {0.13, 2, 9.7, 4, 5, 6}, e[6] = {1, 1, 1, 1, 1, 1};
  // panel 0: 3 lines (one polyline each) + an error band (polygon + polyline) + scatter (6 circles)
  assert_int_equal(ana_fig_labels(f, 0, "lines", "x", "y"), 0);
  for (int k = 0; k < 3; k++)
    assert_int_equal(ana_fig_line(f, 0, x, y, 6, &(ana_style){.label = "line"}), 0);
  assert_int_equal(ana_fig_errband(f, 0, x, y, e, 6, &(ana_style){.label = "band"}), 0);
  assert_int_equal(ana_fig_scatter(f, 0, x, y, 6, NULL), 0);
  assert_int_equal(ana_fig_vline(f, 0, 0, NULL), 0);
  assert_int_equal(ana_fig_hline(f, 0, 1, NULL), 0);
  // panel 1: an arrow (polyline + polygon head), error bars (a path + 6 squares), text
  assert_int_equal(ana_fig_arrow(f, 1, x, y, 6, NULL), 0);
  assert_int_equal(ana_fig_errbars(f, 1, NULL, y, e, 6, &(ana_style){.marker = ANA_MARK_SQUARE}), 0);
  assert_int_equal(ana_fig_text(f, 1, 2, 3, "note", &(ana_style){.anchor = 1}), 0);
  assert_int_equal(ana_fig_axes(f, 1, &(ana_axes){.legend = ANA_LEGEND_NONE, .grid = 1}), 0);
  // panel 2: a 3 x 4 image of distinct values (12 rects) with a colour bar
  double z[12];
  for (int i = 0; i < 12; i++) z[i] = i;
  assert_int_equal(ana_fig_image(f, 2, &(ana_image){.z = z, .rows = 3, .cols = 4, .label = "z"}), 0);
  // panel 3: empty (axes 0..1)
  snprintf(path, sizeof path, "%s/all.svg", tmpdir);
  if (ana_fig_write(f, path, err, sizeof err)) fail_msg("%s", err);
  parse_svg(path, parsed, sizeof parsed);
  assert_int_equal(tag_count(parsed, "svg"), 1);
  assert_int_equal(tag_count(parsed, "polyline"), 3 + 1 + 1);
  assert_int_equal(tag_count(parsed, "polygon"), 1 + 1);        // band, arrowhead
  assert_int_equal(tag_count(parsed, "circle"), 6);
  // background, 4 clip rects, 6 error-bar squares, 12 image cells, colour bar, legend box
  assert_int_equal(tag_count(parsed, "rect"), 1 + 4 + 6 + 12 + 1 + 1);
  assert_int_equal(tag_count(parsed, "clipPath"), 4);
  assert_int_equal(tag_count(parsed, "linearGradient"), 1);
  assert_non_null(strstr(parsed, "T:all elements\n"));
  assert_non_null(strstr(parsed, "T:note\n"));
  // the y ticks of panels 0 and 1 cover 0.13 - 1 .. 9.7 + 1 (band, error bars) at a step of 2
  assert_non_null(strstr(parsed, "T:-2\n"));
  assert_non_null(strstr(parsed, "T:12\n"));
  assert_null(strstr(parsed, "T:14\n"));
  assert_null(strstr(parsed, "T:-4\n"));
  ana_fig_free(f);
  snprintf(path, sizeof path, "%s/all.svg.tmp", tmpdir);
  assert_false(exists(path));
}

// Non-finite points split lines and bands and are never written; they do not move the limits.
static void test_nonfinite_breaks_lines(void** state) {
  char err[AM_ERR_LEN];
  ana_fig* f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  double y[8] = {1, 2, NAN, 3, 4, INFINITY, 5, -INFINITY};
  double x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  assert_int_equal(ana_fig_line(f, 0, x, y, 8, NULL), 0);   // pieces {0,1} {3,4} {6}: 2 polylines
  double hi[8] = {2, 3, 4, 5, NAN, 7, 8, 9};
  assert_int_equal(ana_fig_band(f, 0, x, y, hi, 8, NULL), 0);  // pieces {0,1} {3}: 1 polygon
  double xs[3] = {NAN, 1, 2}, ys[3] = {1, 1, NAN};
  assert_int_equal(ana_fig_scatter(f, 0, xs, ys, 3, NULL), 0);  // 1 circle
  am_buf b = {0};
  render(f, &b);
  const char* s = (const char*)b.p;
  assert_int_equal(count(s, "<polyline"), 2);
  assert_int_equal(count(s, "<polygon"), 1);
  assert_int_equal(count(s, "<circle"), 1);
  for (const char* p = s; *p; p++)  // no "nan" or "inf" anywhere
    assert_false(!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3));
  // the y axis covers the finite points only: 1 .. 8 (hi[6]; hi[7] = 9 stands beside y = -inf)
  assert_non_null(strstr(s, ">8<"));
  assert_null(strstr(s, ">10<"));
  am_buf_free(&b);
  ana_fig_free(f);
}

// Titles, labels, legends and text are escaped; control characters and invalid UTF-8 become '?'.
static void test_escaping(void** state) {
  char err[AM_ERR_LEN], path[400], parsed[65536];
  ana_fig* f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  assert_int_equal(ana_fig_title(f, "a<b & \"c\" 'd'>"), 0);
  assert_int_equal(ana_fig_labels(f, 0, "ctl\x01\x1f" "end", "bad \xff\xc0\xaf utf8", "\xce\xbcm (\xe2\x86\x92)"), 0);
  double y[2] = {0, 1};
  assert_int_equal(ana_fig_line(f, 0, NULL, y, 2, &(ana_style){.label = "</text><x>"}), 0);
  assert_int_equal(ana_fig_text(f, 0, 0.5, 0.5, "]]> &amp;", NULL), 0);
  const char* ticks[2] = {"<0>", "&1"};
  assert_int_equal(ana_fig_ticks(f, 0, 0, (double[]){0, 1}, ticks, 2), 0);
  snprintf(path, sizeof path, "%s/esc.svg", tmpdir);
  if (ana_fig_write(f, path, err, sizeof err)) fail_msg("%s", err);
  parse_svg(path, parsed, sizeof parsed);
  assert_non_null(strstr(parsed, "T:a<b & \"c\" 'd'>\n"));
  assert_non_null(strstr(parsed, "T:ctl??end\n"));
  assert_non_null(strstr(parsed, "T:bad ??? utf8\n"));
  assert_non_null(strstr(parsed, "T:\xce\xbcm (\xe2\x86\x92)\n"));  // valid UTF-8 kept
  assert_non_null(strstr(parsed, "T:</text><x>\n"));
  assert_non_null(strstr(parsed, "T:]]> &amp;\n"));
  assert_non_null(strstr(parsed, "T:<0>\n"));
  assert_non_null(strstr(parsed, "T:&1\n"));
  ana_fig_free(f);
}

// Equal neighbouring cells of a row share one rect; NaN cells are blank; the colour limits
// default to the data's.
static void test_image(void** state) {
  char err[AM_ERR_LEN];
  ana_fig* f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  double z[3 * 4] = {0, 0, 0, 0,     // one run
                     1, 1, 2, 2,     // two runs
                     NAN, 3, NAN, 3};  // two cells
  assert_int_equal(ana_fig_image(f, 0, &(ana_image){.z = z, .rows = 3, .cols = 4,
                                                    .cmap = ANA_CMAP_GREY}), 0);
  am_buf b = {0};
  render(f, &b);
  const char* s = (const char*)b.p;
  // background, clip, colour bar + 5 cells
  assert_int_equal(count(s, "<rect"), 3 + 5);
  assert_int_equal(count(s, "fill=\"#ffffff\"/>"), 1);  // z = 0: the map's white end
  assert_int_equal(count(s, "fill=\"#000000\"/>"), 2);  // z = 3 (the max): black
  ana_fig_free(f);
  am_buf_free(&b);
}

static int dist2(uint32_t a, uint32_t b) {
  int d = 0;
  for (int sh = 0; sh <= 16; sh += 8) {
    int x = (int)((a >> sh) & 255) - (int)((b >> sh) & 255);
    d += x * x;
  }
  return d;
}

static void test_colors(void** state) {
  assert_int_equal(ana_color_map(ANA_CMAP_VIRIDIS, 0), 0x440154);
  assert_int_equal(ana_color_map(ANA_CMAP_VIRIDIS, 1), 0xfde725);
  assert_int_equal(ana_color_map(ANA_CMAP_VIRIDIS, -3), 0x440154);  // clamped
  assert_int_equal(ana_color_map(ANA_CMAP_DIVERGING, 0.5), 0xf7f7f7);
  assert_int_equal(ana_color_map(ANA_CMAP_GREY, 0), 0xffffff);
  assert_int_equal(ana_color_map(ANA_CMAP_GREY, NAN), ANA_GREY);
  assert_int_equal(ana_color_cycle(0.25), ana_color_cycle(1.25));
  assert_int_equal(ana_color_cycle(-0.75), ana_color_cycle(0.25));
  assert_int_equal(ana_color_cat(3), ana_color_cat(3 + ANA_N_CAT));
  assert_int_equal(ana_color_cat(-1), ana_color_cat(ANA_N_CAT - 1));
  // 8 directions and the categorical palette: all clearly distinct (RGB distance > 40)
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < i; j++) assert_true(dist2(ana_color_cycle(i / 8.0), ana_color_cycle(j / 8.0)) > 1600);
  for (int i = 0; i < ANA_N_CAT; i++)
    for (int j = 0; j < i; j++) assert_true(dist2(ana_color_cat(i), ana_color_cat(j)) > 1600);
  // viridis grows in luminance along the map
  double last = -1;
  for (int i = 0; i <= 20; i++) {
    uint32_t c = ana_color_map(ANA_CMAP_VIRIDIS, i / 20.0);
    double l = 0.2126 * (c >> 16) + 0.7152 * ((c >> 8) & 255) + 0.0722 * (c & 255);
    assert_true(l > last);
    last = l;
  }
}

// Bad arguments are recorded (the first one wins) and reported by the write, which then writes
// nothing; an unwritable path fails with its name and leaves no temporary behind.
static void test_errors(void** state) {
  char err[AM_ERR_LEN], path[400];
  assert_null(ana_fig_new(0, 2, 0, 0, err, sizeof err));
  assert_non_null(strstr(err, "rows and cols must be 1..16"));
  assert_null(ana_fig_new(1, 1, 50, 0, err, sizeof err));
  assert_non_null(strstr(err, "panel size"));
  ana_fig* f = ana_fig_new(1, 2, 0, 0, err, sizeof err);
  assert_string_equal(ana_fig_error(f), "");
  double y[3] = {1, 2, 3};
  assert_int_equal(ana_fig_line(f, 2, NULL, y, 3, NULL), -1);
  assert_int_equal(ana_fig_line(f, 0, NULL, NULL, 3, NULL), -1);  // not the first error
  assert_non_null(strstr(ana_fig_error(f), "line: panel 2 out of range (the figure has 2 panels"));
  snprintf(path, sizeof path, "%s/bad.svg", tmpdir);
  assert_int_equal(ana_fig_write(f, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "bad.svg: line: panel 2 out of range"));
  assert_false(exists(path));
  ana_fig_free(f);

  f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  assert_int_equal(ana_fig_vline(f, 0, NAN, NULL), -1);
  assert_non_null(strstr(ana_fig_error(f), "not finite"));
  ana_fig_free(f);
  f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  assert_int_equal(ana_fig_scatter(f, 0, NULL, y, 3, &(ana_style){.opacity = 2}), -1);
  assert_non_null(strstr(ana_fig_error(f), "opacity 2"));
  ana_fig_free(f);
  f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  assert_int_equal(ana_fig_image(f, 0, &(ana_image){.z = y, .rows = 0, .cols = 3}), -1);
  assert_int_equal(ana_fig_ticks(f, 0, 2, NULL, NULL, 0), -1);
  ana_fig_free(f);

  // unwritable: a missing directory, and a path that is a directory (the rename fails)
  f = ana_fig_new(1, 1, 0, 0, err, sizeof err);
  assert_int_equal(ana_fig_line(f, 0, NULL, y, 3, NULL), 0);
  snprintf(path, sizeof path, "%s/no-such-dir/fig.svg", tmpdir);
  assert_int_equal(ana_fig_write(f, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "no-such-dir/fig.svg"));
  assert_non_null(strstr(err, "No such file or directory"));
  snprintf(path, sizeof path, "%s/adir", tmpdir);
  assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(ana_fig_write(f, path, err, sizeof err), -1);
  assert_non_null(strstr(err, "adir"));
  snprintf(path, sizeof path, "%s/adir.tmp", tmpdir);
  assert_false(exists(path));
  // a good write replaces an existing file whole
  snprintf(path, sizeof path, "%s/fig.svg", tmpdir);
  FILE* old = fopen(path, "w");
  fputs("old contents", old);
  fclose(old);
  assert_int_equal(ana_fig_write(f, path, err, sizeof err), 0);
  char parsed[65536];
  parse_svg(path, parsed, sizeof parsed);
  assert_int_equal(tag_count(parsed, "polyline"), 1);
  ana_fig_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nice_axis),
      cmocka_unit_test(test_elements_well_formed),
      cmocka_unit_test(test_nonfinite_breaks_lines),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_image),
      cmocka_unit_test(test_colors),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
