// cmd_plot.c: `animat plot RUN`: a training run's curves from RUN/metrics.csv (written by
// `animat train`, one row per PPO iteration) drawn against env steps as an SVG figure (the analysis
// library's ana_svg), with a short summary on stdout: the final values and the best return.
//
// metrics.csv is read strictly: a header of column names, then rows of as many numbers ("nan" is a
// number: train writes it for a return without stable episodes or a task without success). A row
// that is not (a wrong field count, a field that is not a number) is an error naming the file, the
// line and the column. Only a last line without its newline is left out, with a note: the row a
// running `train` is writing.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ana_svg.h"
#include "cli.h"

static const char* USAGE =
    "usage: animat plot RUN [--out FILE.svg] [--columns a,b,...] [--smooth K]\n"
    "  Draws a training run's curves from RUN/metrics.csv against env steps as an SVG figure and\n"
    "  prints the final values and the best return. RUN is a run directory of `animat train` (or\n"
    "  a metrics.csv file itself).\n"
    "  --out FILE.svg     the figure (default RUN/training.svg)\n"
    "  --columns a,b,...  metrics.csv columns to draw, one panel each (default\n"
    "                     mean_return,success,pg_loss,v_loss,entropy,steps_per_s)\n"
    "  --smooth K         also draw a centred moving average over K iterations (default 0: off)\n";

#define MAX_COLS 64
#define MAX_PANELS 12

typedef struct csv_table {
  int cols, rows;
  char name[MAX_COLS][64];
  double* v;  // rows x cols
} csv_table;

static int col_index(const csv_table* t, const char* name) {
  for (int c = 0; c < t->cols; c++)
    if (!strcmp(t->name[c], name)) return c;
  return -1;
}

static void col_list(const csv_table* t, char* s, size_t n) {
  size_t o = 0;
  s[0] = 0;
  for (int c = 0; c < t->cols && o < n; c++)
    o += (size_t)snprintf(s + o, n - o, "%s%s", c ? ", " : "", t->name[c]);
}

// Reads a CSV of numbers with a header line. Returns 0, or 1 after printing the error. *torn is set
// when a last line without a newline was left out.
static int read_table(const char* path, csv_table* t, int* torn) {
  char err[AM_ERR_LEN + 64];
  size_t n = 0;
  char* text = am_read_text(path, &n, err, sizeof err);
  if (!text) return cli_fail("plot", "%s", err);
  memset(t, 0, sizeof *t);
  *torn = 0;
  int status = 1, line_no = 2;  // the first row is line 2
  am_buf rows = {0};
  const char* hdr_end = memchr(text, '\n', n);
  if (!n || !hdr_end) {
    cli_fail("plot", "%s: %s", path, n ? "no complete header line" : "empty file (no header)");
    goto done;
  }
  for (const char* h = text; h < hdr_end;) {
    size_t k = strcspn(h, ",\n\r");
    if (t->cols == MAX_COLS) {
      cli_fail("plot", "%s line 1: more than %d columns", path, MAX_COLS);
      goto done;
    }
    if (k == 0 || k >= sizeof t->name[0]) {
      cli_fail("plot", "%s line 1, column %d: %s column name", path, t->cols + 1,
               k ? "too long a" : "an empty");
      goto done;
    }
    memcpy(t->name[t->cols], h, k);
    t->name[t->cols++][k] = 0;
    h += k;
    if (*h == '\r') h++;
    if (*h == ',') h++;
  }
  for (const char* line = hdr_end + 1; line < text + n; line_no++) {
    const char* nl = memchr(line, '\n', (size_t)(text + n - line));
    if (!nl) {  // the row a running train is writing
      *torn = 1;
      break;
    }
    const char* f = line;
    double row[MAX_COLS];
    for (int c = 0; c < t->cols; c++) {
      size_t k = strcspn(f, ",\n\r");
      char field[64];
      snprintf(field, sizeof field, "%.*s", (int)(k < 63 ? k : 63), f);
      char* end = NULL;
      row[c] = strtod(field, &end);
      if (!k || *end || k >= sizeof field) {
        cli_fail("plot", "%s line %d, column %d (%s): '%s' is not a number", path, line_no, c + 1,
                 t->name[c], field);
        goto done;
      }
      f += k;
      if (*f == '\r') f++;
      int last = c == t->cols - 1;
      if (last ? *f != '\n' : *f != ',') {
        int fields = 1;
        for (const char* p = line; p < nl; p++) fields += *p == ',';
        cli_fail("plot", "%s line %d: %d fields, the header has %d", path, line_no, fields,
                 t->cols);
        goto done;
      }
      f++;
    }
    if (am_buf_append(&rows, row, sizeof(double) * (size_t)t->cols)) {
      cli_fail("plot", "%s: out of memory", path);
      goto done;
    }
    t->rows++;
    line = nl + 1;
  }
  t->v = (double*)rows.p;
  rows.p = NULL;
  status = 0;
done:
  am_buf_free(&rows);
  free(text);
  return status;
}

// How each known column is titled and summarised.
static const struct {
  const char *name, *title, *ylabel;
} KNOWN[] = {
    {"mean_return", "return", "mean return per episode"},
    {"success", "success rate", "successes per trial"},
    {"pg_loss", "policy loss", "PPO clipped surrogate loss"},
    {"v_loss", "value loss", "value loss"},
    {"entropy", "entropy", "policy entropy (nats)"},
    {"steps_per_s", "speed", "env steps / s"},
    {"mean_length", "episode length", "steps per episode"},
    {"approx_kl", "approximate KL", "KL(old || new)"},
    {"clip_frac", "clip fraction", "fraction clipped"},
    {"updates", "updates", "minibatch steps per iteration"},
    {"explained_var", "explained variance", "of the returns, by the value"},
    {"action_std", "action std", "policy std"},
    {"lr", "learning rate", "learning rate"},
};

// The task named in RUN/config.txt ("" when there is none).
static void run_task(const char* dir, char* task, size_t n) {
  char path[1200], err[AM_ERR_LEN], key[64], value[256];
  task[0] = 0;
  snprintf(path, sizeof path, "%s/config.txt", dir);
  char* text = am_read_text(path, NULL, err, sizeof err);
  if (!text) return;
  for (char* line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
    if (!am_kv_split(line, key, sizeof key, value, sizeof value) && !strcmp(key, "task")) {
      snprintf(task, n, "%s", value);
      break;
    }
  free(text);
}

int cmd_plot(int argc, char** argv) {
  const char *out_path = NULL, *columns = "mean_return,success,pg_loss,v_loss,entropy,steps_per_s";
  int smooth = 0;
  cli_flag flags[] = {{"out", CLI_STRING, &out_path},
                      {"columns", CLI_STRING, &columns},
                      {"smooth", CLI_INT, &smooth, 0, 1e6}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help, USAGE);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return fprintf(stderr, "animat plot: give one run directory\n\n%s", USAGE), 2;
  const char* run = pos[0];
  // RUN: a run directory, or its metrics.csv
  char dir[1024], csv[1200], svg[1200];
  struct stat st;
  size_t rl = strlen(run);
  if (rl >= sizeof dir) return cli_fail("plot", "path too long: %s", run);
  if (!stat(run, &st) && S_ISREG(st.st_mode)) {
    snprintf(csv, sizeof csv, "%s", run);
    const char* slash = strrchr(run, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - run) : 1, slash ? run : ".");
    if (slash == run) snprintf(dir, sizeof dir, "/");
  } else {
    snprintf(dir, sizeof dir, "%s", run);
    while (rl > 1 && dir[rl - 1] == '/') dir[--rl] = 0;
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
      return cli_fail("plot", "%s: no such run directory (give the --out DIR of `animat train`)",
                      run);
    if (stat(csv, &st))
      return cli_fail("plot", "%s: no metrics.csv in this directory (is it a run directory of "
                      "`animat train`?)", csv);
  }
  snprintf(svg, sizeof svg, "%s/training.svg", dir);
  if (!out_path) out_path = svg;

  csv_table t;
  int torn = 0;
  if (read_table(csv, &t, &torn)) return 1;
  int status = 1;
  ana_fig* fig = NULL;
  double* sm = NULL;
  int xi = col_index(&t, "env_steps"), ii = col_index(&t, "iteration");
  char list[MAX_COLS * 66];
  col_list(&t, list, sizeof list);
  if (xi < 0) {
    cli_fail("plot", "%s: no column 'env_steps' (columns: %s)", csv, list);
    goto done;
  }
  if (!t.rows) {
    cli_fail("plot", "%s: no rows yet (the run has not finished an iteration)", csv);
    goto done;
  }
  // the panels
  int pc[MAX_PANELS], np = 0;
  for (const char* c = columns; *c;) {
    size_t k = strcspn(c, ",");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(k < 63 ? k : 63), c);
    int ci = col_index(&t, name);
    if (ci < 0) {
      cli_fail("plot", "--columns: no column '%s' in %s (columns: %s)", name, csv, list);
      goto done;
    }
    if (np == MAX_PANELS) {
      cli_fail("plot", "--columns: more than %d columns", MAX_PANELS);
      goto done;
    }
    pc[np++] = ci;
    c += k + (c[k] == ',');
  }
  if (!np) {
    cli_fail("plot", "--columns: no column given");
    goto done;
  }
  char err[AM_ERR_LEN], task[256], title[1400];
  int cols = np < 3 ? np : 3, rows = (np + cols - 1) / cols;
  fig = ana_fig_new(rows, cols, 0, 0, err, sizeof err);
  sm = malloc(sizeof(double) * (size_t)t.rows * 3);
  if (!fig || !sm) {
    cli_fail("plot", "%s", fig ? "out of memory" : err);
    goto done;
  }
  double *xs = sm, *ys = sm + t.rows, *ss = sm + 2 * t.rows;
  for (int r = 0; r < t.rows; r++) xs[r] = t.v[(size_t)r * t.cols + xi];
  run_task(dir, task, sizeof task);
  snprintf(title, sizeof title, "%s%s%s", run, task[0] ? ": " : "", task);
  ana_fig_title(fig, title);
  for (int p = 0; p < np; p++) {
    const char *name = t.name[pc[p]], *ptitle = name, *ylabel = name;
    for (size_t k = 0; k < sizeof KNOWN / sizeof KNOWN[0]; k++)
      if (!strcmp(KNOWN[k].name, name)) ptitle = KNOWN[k].title, ylabel = KNOWN[k].ylabel;
    ana_fig_labels(fig, p, ptitle, "env steps", ylabel);
    ana_fig_axes(fig, p, &(ana_axes){.grid = 1});
    int finite = 0;
    for (int r = 0; r < t.rows; r++) {
      ys[r] = t.v[(size_t)r * t.cols + pc[p]];
      finite += isfinite(ys[r]) != 0;
    }
    uint32_t color = ana_color_cat(p);
    if (!finite) {  // the note on the same x axis as the other panels
      double lo = INFINITY, hi = -INFINITY, a, b, step;
      for (int r = 0; r < t.rows; r++)
        if (isfinite(xs[r])) lo = fmin(lo, xs[r]), hi = fmax(hi, xs[r]);
      if (lo <= hi && ana_nice_axis(lo, hi, 4, &a, &b, &step) > 0) {
        ana_fig_axes(fig, p, &(ana_axes){.grid = 1, .xmin = a, .xmax = b});
        ana_fig_text(fig, p, (a + b) / 2, 0.5, "no values (nan)",
                     &(ana_style){.anchor = 1, .color = ANA_GREY});
        continue;
      }
      ana_fig_text(fig, p, 0.5, 0.5, "no values (nan)", &(ana_style){.anchor = 1, .color = ANA_GREY});
      continue;
    }
    if (smooth > 1) {  // centred moving average of the finite values in the window
      for (int r = 0; r < t.rows; r++) {
        double s = 0;
        int m = 0;
        for (int k = r - smooth / 2; k < r - smooth / 2 + smooth; k++)
          if (k >= 0 && k < t.rows && isfinite(ys[k])) s += ys[k], m++;
        ss[r] = m ? s / m : NAN;
      }
      ana_fig_line(fig, p, xs, ys, t.rows, &(ana_style){.color = color, .width = 1, .opacity = 0.35});
      ana_fig_line(fig, p, xs, ss, t.rows, &(ana_style){.color = color, .width = 1.8});
    } else {
      ana_fig_line(fig, p, xs, ys, t.rows, &(ana_style){.color = color, .width = 1.5});
    }
    if (t.rows == 1) ana_fig_scatter(fig, p, xs, ys, 1, &(ana_style){.color = color});
  }
  if (ana_fig_write(fig, out_path, err, sizeof err)) {
    cli_fail("plot", "%s", err);
    goto done;
  }
  // the summary
  const double* last = t.v + (size_t)(t.rows - 1) * t.cols;
  printf("plot %s: %d iterations, %.0f env steps%s\n", run, t.rows, last[xi],
         torn ? " (a last, incomplete row left out: the run is still writing)" : "");
  printf("  final:");
  for (int p = 0; p < np; p++) {  // the last finite value of each column
    double v = NAN;
    for (int r = t.rows - 1; r >= 0 && !isfinite(v); r--) v = t.v[(size_t)r * t.cols + pc[p]];
    if (isfinite(v)) printf("%s %s %.4g", p ? "," : "", t.name[pc[p]], v);
    else printf("%s %s n/a", p ? "," : "", t.name[pc[p]]);
  }
  printf("\n");
  int ri = col_index(&t, "mean_return");
  if (ri >= 0) {
    int best = -1;
    for (int r = 0; r < t.rows; r++) {
      double v = t.v[(size_t)r * t.cols + ri];
      if (isfinite(v) && (best < 0 || v > t.v[(size_t)best * t.cols + ri])) best = r;
    }
    if (best >= 0)
      printf("  best return %.4g at %.0f env steps (iteration %.0f)\n",
             t.v[(size_t)best * t.cols + ri], t.v[(size_t)best * t.cols + xi],
             ii >= 0 ? t.v[(size_t)best * t.cols + ii] : best + 1.0);
    else
      printf("  no return yet (no stable episode has ended)\n");
  }
  printf("wrote %s (%d panel%s)\n", out_path, np, np > 1 ? "s" : "");
  status = 0;
done:
  ana_fig_free(fig);
  free(sm);
  free(t.v);
  return status;
}
