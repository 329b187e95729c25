// ana_svg.c: the SVG figures of ana_svg.h: figure and panel state, colours, nice axes, and the
// renderer that lays the panels out and writes their elements as SVG text.
//
// Layout of a panel cell (panel_w x panel_h px): margins for the title (top), the tick labels and
// the axis labels (left, bottom), and on the right room for a colour bar when the panel has an
// image. Elements are clipped to the plot area (a clipPath whose id is a checksum of its rectangle,
// so two figures inlined in one HTML page never refer to each other's clip paths).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ana_svg.h"

#define MAX_TICKS 64

enum { EL_LINE, EL_ARROW, EL_SCATTER, EL_BAND, EL_ERRBARS, EL_VLINE, EL_HLINE, EL_TEXT };

typedef struct element {
  int type, panel, n;
  ana_style st;   // st.color resolved; st.label points to label
  char* label;    // owned copy (legend entry), or the text of EL_TEXT
  double *x, *y, *z;  // owned copies: x, y (line, mean, band lo), z (band hi, error e)
  double v, w;        // vline x / hline y; text position (v, w)
} element;

typedef struct panel {
  char *title, *xlabel, *ylabel;
  ana_axes ax;
  int n_ticks[2];  // own ticks per axis (0: automatic)
  double tick_at[2][MAX_TICKS];
  char* tick_label[2][MAX_TICKS];
  int n_auto;      // automatic colours handed out
  int has_image;
  ana_image im;    // im.z and im.label point to owned copies
} panel;

struct ana_fig {
  int rows, cols;
  double pw, ph;
  char* title;
  panel* panels;
  element* els;
  int n_els, cap_els;
  char err[AM_ERR_LEN];
};

//---------------------------------- colours -------------------------------------------------------

static const uint32_t CAT[ANA_N_CAT] = {0x4e79a7, 0xf28e2b, 0xe15759, 0x59a14f, 0xb07aa1,
                                        0x76b7b2, 0xedc948, 0xff9da7, 0x9c755f, 0x7f7f7f};

uint32_t ana_color_cat(int i) {
  int k = i % ANA_N_CAT;
  return CAT[k < 0 ? k + ANA_N_CAT : k];
}

// Control points of the sequential and diverging maps, evenly spaced over [0, 1].
static const uint32_t VIRIDIS[9] = {0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c,
                                    0x28ae80, 0x5ec962, 0xaddc30, 0xfde725};
static const uint32_t DIVERGING[7] = {0x2166ac, 0x67a9cf, 0xd1e5f0, 0xf7f7f7,
                                      0xfddbc7, 0xef8a62, 0xb2182b};

static double srgb_to_linear(double c) {
  return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}
static double linear_to_srgb(double c) {
  c = c < 0 ? 0 : c > 1 ? 1 : c;
  return c <= 0.0031308 ? 12.92 * c : 1.055 * pow(c, 1 / 2.4) - 0.055;
}
static uint32_t rgb_pack(double r, double g, double b) {  // sRGB in [0, 1]
  int R = (int)lround(255 * r), G = (int)lround(255 * g), B = (int)lround(255 * b);
  R = R < 0 ? 0 : R > 255 ? 255 : R;
  G = G < 0 ? 0 : G > 255 ? 255 : G;
  B = B < 0 ? 0 : B > 255 ? 255 : B;
  return (uint32_t)(R << 16 | G << 8 | B);
}

// Piecewise-linear interpolation between n control points, in linear light.
static uint32_t interp(const uint32_t* cp, int n, double t) {
  double s = t * (n - 1);
  int i = (int)floor(s);
  if (i >= n - 1) i = n - 2;
  double u = s - i, out[3];
  for (int ch = 0; ch < 3; ch++) {
    int sh = 16 - 8 * ch;
    double a = srgb_to_linear(((cp[i] >> sh) & 255) / 255.0);
    double b = srgb_to_linear(((cp[i + 1] >> sh) & 255) / 255.0);
    out[ch] = linear_to_srgb(a + u * (b - a));
  }
  return rgb_pack(out[0], out[1], out[2]);
}

// OKLCh (lightness L, chroma C, hue h radians) to sRGB, after Ottosson's OKLab (2020); colours
// outside the sRGB gamut are clipped per channel.
static uint32_t oklch(double L, double C, double h) {
  double a = C * cos(h), b = C * sin(h);
  double l_ = L + 0.3963377774 * a + 0.2158037573 * b;
  double m_ = L - 0.1055613458 * a - 0.0638541728 * b;
  double s_ = L - 0.0894841775 * a - 1.2914855480 * b;
  double l = l_ * l_ * l_, m = m_ * m_ * m_, s = s_ * s_ * s_;
  double r = 4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s;
  double g = -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s;
  double bl = -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s;
  return rgb_pack(linear_to_srgb(r), linear_to_srgb(g), linear_to_srgb(bl));
}

uint32_t ana_color_cycle(double t) {
  if (!isfinite(t)) return ANA_GREY;
  t -= floor(t);
  // hue 0 at t = 0 starts at a red; L and C chosen so that every hue but a little of the cyan
  // stays inside the sRGB gamut
  return oklch(0.66, 0.14, 2 * M_PI * t + 0.5);
}

uint32_t ana_color_map(int cmap, double t) {
  if (!isfinite(t)) return ANA_GREY;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  switch (cmap) {
    case ANA_CMAP_DIVERGING: return interp(DIVERGING, 7, t);
    case ANA_CMAP_GREY: return rgb_pack(1 - t, 1 - t, 1 - t);
    case ANA_CMAP_CYCLIC: return ana_color_cycle(t);
    default: return interp(VIRIDIS, 9, t);
  }
}

//---------------------------------- nice axes -----------------------------------------------------

static void widen(double* lo, double* hi) {
  if (*lo < *hi) return;
  double pad = *lo != 0 ? 0.1 * fabs(*lo) : 1;
  *lo -= pad;
  *hi += pad;
}

int ana_nice_axis(double lo, double hi, int target, double* amin, double* amax, double* step) {
  if (!isfinite(lo) || !isfinite(hi) || lo > hi) return -1;
  if (target <= 0) target = 5;
  target = target < 2 ? 2 : target > 20 ? 20 : target;
  widen(&lo, &hi);
  double raw = (hi - lo) / target, p = pow(10, floor(log10(raw))), f = raw / p;
  // the 1-2-5 step nearest to the raw one (geometric midpoints 1.41, 3.16, 7.07)
  double s = (f < 1.41 ? 1 : f < 3.16 ? 2 : f < 7.07 ? 5 : 10) * p;
  // rounding out may leave the data one step short of an end when hi - lo is tiny against |lo|
  double a = floor(lo / s + 1e-9) * s, b = ceil(hi / s - 1e-9) * s;
  if (a > lo) a -= s;
  if (b < hi) b += s;
  *amin = a;
  *amax = b;
  *step = s;
  return (int)lround((b - a) / s) + 1;
}

//---------------------------------- building ------------------------------------------------------

static int fail(ana_fig* f, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ana_fig* f, const char* fmt, ...) {
  if (!f->err[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof f->err, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static char* dupstr(const char* s) {
  if (!s || !*s) return NULL;
  size_t n = strlen(s) + 1;
  char* d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

// Copies src into a new allocation (NULL src: 0, 1, ..., n-1 when index is set, else NULL).
static double* dupd(const double* src, int n, int index, int* oom) {
  if (!src && !index) return NULL;
  double* d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
  if (!d) {
    *oom = 1;
    return NULL;
  }
  for (int i = 0; i < n; i++) d[i] = src ? src[i] : i;
  return d;
}

ana_fig* ana_fig_new(int rows, int cols, double panel_w, double panel_h, char* err,
                     size_t err_sz) {
  if (rows < 1 || rows > 16 || cols < 1 || cols > 16) {
    am_err(err, err_sz, "figure of %d x %d panels: rows and cols must be 1..16", rows, cols);
    return NULL;
  }
  if (panel_w == 0) panel_w = 360;
  if (panel_h == 0) panel_h = 270;
  if (!(panel_w >= 120 && panel_w <= 4000 && panel_h >= 90 && panel_h <= 4000)) {
    am_err(err, err_sz, "panel size %g x %g px: must be 120..4000 x 90..4000 (0 = 360 x 270)",
           panel_w, panel_h);
    return NULL;
  }
  ana_fig* f = calloc(1, sizeof *f);
  if (f) f->panels = calloc((size_t)(rows * cols), sizeof *f->panels);
  if (!f || !f->panels) {
    free(f);
    am_err(err, err_sz, "figure: out of memory");
    return NULL;
  }
  f->rows = rows;
  f->cols = cols;
  f->pw = panel_w;
  f->ph = panel_h;
  return f;
}

void ana_fig_free(ana_fig* f) {
  if (!f) return;
  for (int i = 0; i < f->n_els; i++) {
    free(f->els[i].label);
    free(f->els[i].x);
    free(f->els[i].y);
    free(f->els[i].z);
  }
  free(f->els);
  for (int p = 0; p < f->rows * f->cols; p++) {
    panel* P = &f->panels[p];
    free(P->title);
    free(P->xlabel);
    free(P->ylabel);
    for (int a = 0; a < 2; a++)
      for (int i = 0; i < P->n_ticks[a]; i++) free(P->tick_label[a][i]);
    free((void*)P->im.z);
    free((void*)P->im.label);
  }
  free(f->panels);
  free(f->title);
  free(f);
}

const char* ana_fig_error(const ana_fig* f) { return f ? f->err : "no figure"; }

// Replaces *dst by a copy of s; 0 or -1 (out of memory, recorded).
static int set_str(ana_fig* f, char** dst, const char* s) {
  char* d = dupstr(s);
  if (s && *s && !d) return fail(f, "figure: out of memory");
  free(*dst);
  *dst = d;
  return 0;
}

int ana_fig_title(ana_fig* f, const char* title) {
  if (!f) return -1;
  return set_str(f, &f->title, title);
}

static panel* get_panel(ana_fig* f, int p, const char* what) {
  if (!f) return NULL;
  if (p < 0 || p >= f->rows * f->cols) {
    fail(f, "%s: panel %d out of range (the figure has %d panels, 0..%d)", what, p,
         f->rows * f->cols, f->rows * f->cols - 1);
    return NULL;
  }
  return &f->panels[p];
}

int ana_fig_labels(ana_fig* f, int panel_i, const char* title, const char* xlabel,
                   const char* ylabel) {
  panel* P = get_panel(f, panel_i, "labels");
  if (!P) return -1;
  return set_str(f, &P->title, title) || set_str(f, &P->xlabel, xlabel) ||
                 set_str(f, &P->ylabel, ylabel)
             ? -1
             : 0;
}

int ana_fig_axes(ana_fig* f, int panel_i, const ana_axes* ax) {
  panel* P = get_panel(f, panel_i, "axes");
  if (!P) return -1;
  ana_axes a = ax ? *ax : (ana_axes){0};
  if (!isfinite(a.xmin) || !isfinite(a.xmax) || !isfinite(a.ymin) || !isfinite(a.ymax))
    return fail(f, "axes of panel %d: limits must be finite", panel_i);
  if (a.legend < ANA_LEGEND_UR || a.legend > ANA_LEGEND_NONE)
    return fail(f, "axes of panel %d: legend %d is not an ANA_LEGEND_* value", panel_i, a.legend);
  P->ax = a;
  return 0;
}

int ana_fig_ticks(ana_fig* f, int panel_i, int axis, const double* at, const char* const* labels,
                  int n) {
  panel* P = get_panel(f, panel_i, "ticks");
  if (!P) return -1;
  if (axis != 0 && axis != 1) return fail(f, "ticks of panel %d: axis %d (0 = x, 1 = y)", panel_i, axis);
  if (n < 0 || n > MAX_TICKS || (n && !at))
    return fail(f, "ticks of panel %d: %d ticks (0..%d, with positions)", panel_i, n, MAX_TICKS);
  for (int i = 0; i < n; i++)
    if (!isfinite(at[i])) return fail(f, "ticks of panel %d: tick %d is not finite", panel_i, i);
  for (int i = 0; i < P->n_ticks[axis]; i++) free(P->tick_label[axis][i]);
  P->n_ticks[axis] = 0;
  for (int i = 0; i < n; i++) {
    P->tick_at[axis][i] = at[i];
    P->tick_label[axis][i] = NULL;
    if (labels && labels[i] && !(P->tick_label[axis][i] = dupstr(labels[i])) && labels[i][0]) {
      P->n_ticks[axis] = i;
      return fail(f, "figure: out of memory");
    }
    P->n_ticks[axis] = i + 1;
  }
  return 0;
}

static element* add_el(ana_fig* f, int type, int panel_i, const ana_style* st, const char* what) {
  panel* P = get_panel(f, panel_i, what);
  if (!P) return NULL;
  if (f->n_els == f->cap_els) {
    int cap = f->cap_els ? 2 * f->cap_els : 16;
    element* e = realloc(f->els, (size_t)cap * sizeof *e);
    if (!e) return fail(f, "figure: out of memory"), NULL;
    f->els = e;
    f->cap_els = cap;
  }
  element* e = &f->els[f->n_els];
  memset(e, 0, sizeof *e);
  e->type = type;
  e->panel = panel_i;
  if (st) e->st = *st;
  if (!(e->st.opacity >= 0 && e->st.opacity <= 1))
    return fail(f, "%s in panel %d: opacity %g is not in [0, 1]", what, panel_i, e->st.opacity),
           NULL;
  if (!(e->st.width >= 0 && e->st.width < 1000 && e->st.size >= 0 && e->st.size < 1000))
    return fail(f, "%s in panel %d: width %g or size %g is not in [0, 1000)", what, panel_i,
                e->st.width, e->st.size),
           NULL;
  if (e->st.label && e->st.label[0] && type != EL_TEXT &&
      !(e->label = dupstr(e->st.label)))
    return fail(f, "figure: out of memory"), NULL;
  e->st.label = e->label;
  if (!e->st.color) {
    if (type == EL_VLINE || type == EL_HLINE) e->st.color = ANA_GREY;
    else if (type == EL_TEXT) e->st.color = ANA_BLACK;
    else e->st.color = ana_color_cat(P->n_auto++);
  }
  if ((type == EL_VLINE || type == EL_HLINE) && !(st && st->dash)) e->st.dash = ANA_DASH_DASHED;
  if ((type == EL_VLINE || type == EL_HLINE) && !(st && st->width)) e->st.width = 1;
  if (!e->st.width) e->st.width = 1.5;
  if (!e->st.size) e->st.size = type == EL_TEXT ? 11 : 3;
  f->n_els++;  // committed; the caller fills the data (and drops it again on failure)
  return e;
}

// Adds an element over n points with copies of up to three arrays (x may be NULL: indices).
static int add_data(ana_fig* f, int type, int panel_i, const double* x, const double* y,
                    const double* z, int n, int need_z, const ana_style* st, const char* what) {
  if (!f) return -1;
  if (n < 0 || (n > 0 && (!y || (need_z && !z))))
    return fail(f, "%s in panel %d: %d points%s", what, panel_i, n,
                n < 0 ? " (negative)" : " with a NULL array");
  element* e = add_el(f, type, panel_i, st, what);
  if (!e) return -1;
  int oom = 0;
  e->n = n;
  e->x = dupd(x, n, 1, &oom);
  e->y = dupd(y, n, 0, &oom);
  e->z = need_z ? dupd(z, n, 0, &oom) : NULL;
  if (n > 0 && !e->y) oom = 1;
  if (oom) return fail(f, "figure: out of memory");  // the element stays, freed with the figure
  return 0;
}

int ana_fig_line(ana_fig* f, int p, const double* x, const double* y, int n, const ana_style* st) {
  return add_data(f, EL_LINE, p, x, y, NULL, n, 0, st, "line");
}
int ana_fig_arrow(ana_fig* f, int p, const double* x, const double* y, int n,
                  const ana_style* st) {
  return add_data(f, EL_ARROW, p, x, y, NULL, n, 0, st, "arrow");
}
int ana_fig_scatter(ana_fig* f, int p, const double* x, const double* y, int n,
                    const ana_style* st) {
  return add_data(f, EL_SCATTER, p, x, y, NULL, n, 0, st, "scatter");
}
int ana_fig_band(ana_fig* f, int p, const double* x, const double* lo, const double* hi, int n,
                 const ana_style* st) {
  return add_data(f, EL_BAND, p, x, lo, hi, n, 1, st, "band");
}
int ana_fig_errbars(ana_fig* f, int p, const double* x, const double* mean, const double* e, int n,
                    const ana_style* st) {
  return add_data(f, EL_ERRBARS, p, x, mean, e, n, 1, st, "error bars");
}

int ana_fig_errband(ana_fig* f, int p, const double* x, const double* mean, const double* e, int n,
                    const ana_style* st) {
  if (!f) return -1;
  if (n < 0 || (n > 0 && (!mean || !e)))
    return fail(f, "error band in panel %d: %d points with a NULL array", p, n);
  ana_style s = st ? *st : (ana_style){0};
  panel* P = get_panel(f, p, "error band");
  if (!P) return -1;
  if (!s.color) s.color = ana_color_cat(P->n_auto++);
  double* lo = malloc((size_t)(n > 0 ? n : 1) * sizeof *lo);
  double* hi = malloc((size_t)(n > 0 ? n : 1) * sizeof *hi);
  int rc = -1;
  if (!lo || !hi) {
    fail(f, "figure: out of memory");
  } else {
    for (int i = 0; i < n; i++) {
      lo[i] = mean[i] - e[i];
      hi[i] = mean[i] + e[i];
    }
    ana_style b = s;
    b.label = NULL;
    rc = add_data(f, EL_BAND, p, x, lo, hi, n, 1, &b, "error band");
    b = s;
    b.opacity = 0;  // the band's opacity is not the line's
    if (!rc) rc = add_data(f, EL_LINE, p, x, mean, NULL, n, 0, &b, "error band");
  }
  free(lo);
  free(hi);
  return rc;
}

static int add_ref(ana_fig* f, int type, int p, double v, const ana_style* st, const char* what) {
  if (!f) return -1;
  if (!isfinite(v)) return fail(f, "%s in panel %d: position %g is not finite", what, p, v);
  element* e = add_el(f, type, p, st, what);
  if (!e) return -1;
  e->v = v;
  return 0;
}
int ana_fig_vline(ana_fig* f, int p, double x, const ana_style* st) {
  return add_ref(f, EL_VLINE, p, x, st, "vertical line");
}
int ana_fig_hline(ana_fig* f, int p, double y, const ana_style* st) {
  return add_ref(f, EL_HLINE, p, y, st, "horizontal line");
}

int ana_fig_text(ana_fig* f, int p, double x, double y, const char* text, const ana_style* st) {
  if (!f) return -1;
  if (!isfinite(x) || !isfinite(y))
    return fail(f, "text in panel %d: position (%g, %g) is not finite", p, x, y);
  element* e = add_el(f, EL_TEXT, p, st, "text");
  if (!e) return -1;
  e->v = x;
  e->w = y;
  if (text && *text && !(e->label = dupstr(text))) return fail(f, "figure: out of memory");
  return 0;
}

int ana_fig_image(ana_fig* f, int p, const ana_image* im) {
  panel* P = get_panel(f, p, "image");
  if (!P) return -1;
  if (!im || !im->z || im->rows < 1 || im->cols < 1 || im->rows > 100000 || im->cols > 100000 ||
      (size_t)im->rows * (size_t)im->cols > (size_t)50000000)
    return fail(f, "image in panel %d: needs a matrix of 1..100000 x 1..100000 cells (at most "
                   "5e7)", p);
  if (!isfinite(im->x0) || !isfinite(im->x1) || !isfinite(im->y0) || !isfinite(im->y1) ||
      !isfinite(im->zmin) || !isfinite(im->zmax))
    return fail(f, "image in panel %d: extent and colour limits must be finite", p);
  if (im->cmap < ANA_CMAP_VIRIDIS || im->cmap > ANA_CMAP_CYCLIC)
    return fail(f, "image in panel %d: cmap %d is not an ANA_CMAP_* value", p, im->cmap);
  size_t n = (size_t)im->rows * (size_t)im->cols;
  double* z = malloc(n * sizeof *z);
  char* label = dupstr(im->label);
  if (!z || (im->label && im->label[0] && !label)) {
    free(z);
    free(label);
    return fail(f, "figure: out of memory");
  }
  memcpy(z, im->z, n * sizeof *z);
  free((void*)P->im.z);
  free((void*)P->im.label);
  P->im = *im;
  P->im.z = z;
  P->im.label = label;
  if (P->im.x0 == P->im.x1) P->im.x0 = 0, P->im.x1 = im->cols;
  if (P->im.y0 == P->im.y1) P->im.y0 = 0, P->im.y1 = im->rows;
  if (!(P->im.zmin < P->im.zmax)) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
      if (isfinite(z[i])) {
        lo = z[i] < lo ? z[i] : lo;
        hi = z[i] > hi ? z[i] : hi;
      }
    if (lo > hi) lo = 0, hi = 1;
    widen(&lo, &hi);
    P->im.zmin = lo;
    P->im.zmax = hi;
  }
  P->has_image = 1;
  return 0;
}

//---------------------------------- rendering -----------------------------------------------------

typedef struct out {
  am_buf* b;
  int oom;
} out;

static void put(out* o, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out* o, const char* fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    if (am_buf_append(o->b, tmp, (size_t)n)) o->oom = 1;
    return;
  }
  if (am_buf_reserve(o->b, o->b->len + (size_t)n + 1)) {
    o->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf((char*)o->b->p + o->b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  o->b->len += (size_t)n;
}

// A coordinate with at most 2 decimals and no trailing zeros, clamped to +-1e6 px (points far
// outside fixed limits are clipped anyway). Uses one of 8 rotating buffers, so up to 8 may appear
// in one put().
static const char* N(double v) {
  static _Thread_local char ring[8][32];
  static _Thread_local int k;
  char* s = ring[k++ & 7];
  v = v < -1e6 ? -1e6 : v > 1e6 ? 1e6 : v;
  snprintf(s, 32, "%.2f", v);
  char* e = s + strlen(s);
  while (e[-1] == '0') *--e = 0;
  if (e[-1] == '.') *--e = 0;
  if (!strcmp(s, "-0")) strcpy(s, "0");
  return s;
}

// Appends s XML-escaped: & < > " ' as entities, control characters and invalid UTF-8 as '?'.
static void esc(out* o, const char* s) {
  if (!s) return;
  const unsigned char* p = (const unsigned char*)s;
  while (*p) {
    unsigned c = *p;
    const char* rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                    : c == '"' ? "&quot;" : c == '\'' ? "&apos;" : NULL;
    if (rep) {
      put(o, "%s", rep);
      p++;
      continue;
    }
    if (c < 0x80) {
      char ch = (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f ? '?' : (char)c;
      if (am_buf_append(o->b, &ch, 1)) o->oom = 1;
      p++;
      continue;
    }
    // a UTF-8 sequence: its length from the lead byte, the allowed range of the second byte
    // (no overlong forms, no surrogates, nothing above U+10FFFF), then continuation bytes
    int len = 0;
    unsigned lo2 = 0x80, hi2 = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) len = 3, lo2 = c == 0xe0 ? 0xa0 : 0x80, hi2 = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, lo2 = c == 0xf0 ? 0x90 : 0x80, hi2 = c == 0xf4 ? 0x8f : 0xbf;
    int ok = len > 0 && p[1] >= lo2 && p[1] <= hi2;
    for (int i = 2; ok && i < len; i++) ok = p[i] >= 0x80 && p[i] <= 0xbf;
    if (ok) {
      if (am_buf_append(o->b, p, (size_t)len)) o->oom = 1;
      p += len;
    } else {
      if (am_buf_append(o->b, "?", 1)) o->oom = 1;
      p++;
    }
  }
}

static void color_attr(char* s, uint32_t c) { snprintf(s, 8, "#%06x", c & 0xffffffu); }

// The stroke attributes of a style: colour, width, dash, opacity.
static void stroke(out* o, const ana_style* st, double opacity) {
  char c[8];
  color_attr(c, st->color);
  put(o, " fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"", c, N(st->width));
  if (st->dash == ANA_DASH_DASHED)
    put(o, " stroke-dasharray=\"%s,%s\"", N(4 * st->width + 2), N(2 * st->width + 2));
  else if (st->dash == ANA_DASH_DOTTED)
    put(o, " stroke-dasharray=\"%s,%s\" stroke-linecap=\"round\"", N(0.1), N(2 * st->width + 1));
  if (opacity < 1) put(o, " stroke-opacity=\"%s\"", N(opacity));
}

// The data -> pixel mapping of one panel.
typedef struct frame {
  double x0, y0, w, h;              // plot area, px (y0: top)
  double xmin, xmax, ymin, ymax;    // data limits
  double xstep, ystep;              // tick steps (automatic ticks)
  int ydown;
} frame;

static double X(const frame* fr, double x) {
  return fr->x0 + (x - fr->xmin) / (fr->xmax - fr->xmin) * fr->w;
}
static double Y(const frame* fr, double y) {
  double u = (y - fr->ymin) / (fr->ymax - fr->ymin) * fr->h;
  return fr->ydown ? fr->y0 + u : fr->y0 + fr->h - u;
}

static void grow(double* lo, double* hi, double v) {
  if (!isfinite(v)) return;
  if (v < *lo) *lo = v;
  if (v > *hi) *hi = v;
}

// The finite data range of a panel's elements on each axis.
static void data_range(const ana_fig* f, int p, double* xlo, double* xhi, double* ylo,
                       double* yhi) {
  *xlo = *ylo = INFINITY;
  *xhi = *yhi = -INFINITY;
  const panel* P = &f->panels[p];
  if (P->has_image) {
    grow(xlo, xhi, P->im.x0);
    grow(xlo, xhi, P->im.x1);
    grow(ylo, yhi, P->im.y0);
    grow(ylo, yhi, P->im.y1);
  }
  for (int i = 0; i < f->n_els; i++) {
    const element* e = &f->els[i];
    if (e->panel != p) continue;
    if (e->type == EL_VLINE) grow(xlo, xhi, e->v);
    if (e->type == EL_HLINE) grow(ylo, yhi, e->v);
    if (e->type == EL_TEXT || e->type == EL_VLINE || e->type == EL_HLINE) continue;
    for (int k = 0; k < e->n; k++) {
      double x = e->x[k], y = e->y[k];
      if (!isfinite(x) || !isfinite(y)) continue;
      if (e->type == EL_BAND) {
        if (!isfinite(e->z[k])) continue;
        grow(ylo, yhi, e->z[k]);
      } else if (e->type == EL_ERRBARS && isfinite(e->z[k])) {
        grow(ylo, yhi, y - e->z[k]);
        grow(ylo, yhi, y + e->z[k]);
      }
      grow(xlo, xhi, x);
      grow(ylo, yhi, y);
    }
  }
}

// Limits and step of one axis: fixed (lo < hi given), fitted to an image (not rounded out), or
// the data rounded out to nice ticks.
static void axis_limits(double fmin, double fmax, double dlo, double dhi, int image, int target,
                        double* amin, double* amax, double* step) {
  double a, b;
  if (fmin < fmax) {
    ana_nice_axis(fmin, fmax, target, &a, &b, step);
    *amin = fmin;
    *amax = fmax;
    return;
  }
  if (dlo > dhi) dlo = 0, dhi = 1;  // no data
  if (image) {
    widen(&dlo, &dhi);
    ana_nice_axis(dlo, dhi, target, &a, &b, step);
    *amin = dlo;
    *amax = dhi;
    return;
  }
  ana_nice_axis(dlo, dhi, target, amin, amax, step);
}

// A tick label: decimals from the step ("0.0", "0.5", "1.0"); when the axis reaches 1e4, each value
// in k / M / G without trailing zeros ("0", "200k", "1.2M").
static void fmt_tick(char* s, size_t n, double v, double step, double maxabs) {
  if (fabs(v) < 1e-9 * step) v = 0;
  double sc = 1, a = fabs(v);
  const char* suf = "";
  if (maxabs >= 1e4 && a >= 1e9) sc = 1e9, suf = "G";
  else if (maxabs >= 1e4 && a >= 1e6) sc = 1e6, suf = "M";
  else if (maxabs >= 1e4 && a >= 1e3) sc = 1e3, suf = "k";
  double st = step / sc;
  int d = st >= 1 ? 0 : (int)ceil(-log10(st) - 1e-9);
  if (d > 6 || (maxabs < 1e-4 && v != 0)) {
    snprintf(s, n, "%.3g", v);
    return;
  }
  snprintf(s, n, "%.*f", d, v / sc);
  if (*suf && strchr(s, '.')) {  // "1.0M" -> "1M"
    char* e = s + strlen(s);
    while (e[-1] == '0') *--e = 0;
    if (e[-1] == '.') *--e = 0;
  }
  if (s[0] == '-' && !strpbrk(s, "123456789")) memmove(s, s + 1, strlen(s));  // no "-0"
  size_t len = strlen(s);
  snprintf(s + len, n - len, "%s", suf);
}

enum { FONT = 11, TITLE_H = 30, M_LEFT = 62, M_RIGHT = 16, M_TOP = 28, M_BOTTOM = 44, CBAR_W = 84 };

// Ticks of one axis into at[] (and labels): own ticks, or the multiples of step in [lo, hi].
static int axis_ticks(const panel* P, int axis, double lo, double hi, double step, double* at,
                      char (*lab)[40]) {
  if (P->n_ticks[axis]) {
    int n = 0;
    for (int i = 0; i < P->n_ticks[axis]; i++) {
      double v = P->tick_at[axis][i];
      if (v < lo - 1e-9 * (hi - lo) || v > hi + 1e-9 * (hi - lo)) continue;
      at[n] = v;
      if (P->tick_label[axis][i]) snprintf(lab[n], 40, "%s", P->tick_label[axis][i]);
      else fmt_tick(lab[n], 40, v, step, fabs(v));
      n++;
    }
    return n;
  }
  double maxabs = fmax(fabs(lo), fabs(hi));
  int n = 0;
  for (double k = ceil(lo / step - 1e-9); n < MAX_TICKS; k++) {
    double v = k * step;
    if (v > hi + 1e-9 * step) break;
    at[n] = v;
    fmt_tick(lab[n], 40, v, step, maxabs);
    n++;
  }
  return n;
}

static void marker(out* o, int m, double x, double y, double r) {
  switch (m) {
    case ANA_MARK_SQUARE:
      put(o, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/>", N(x - r), N(y - r), N(2 * r),
          N(2 * r));
      break;
    case ANA_MARK_TRIANGLE:
      put(o, "<polygon points=\"%s,%s %s,%s %s,%s\"/>", N(x), N(y - 1.2 * r), N(x - 1.1 * r),
          N(y + 0.8 * r), N(x + 1.1 * r), N(y + 0.8 * r));
      break;
    case ANA_MARK_DIAMOND:
      put(o, "<polygon points=\"%s,%s %s,%s %s,%s %s,%s\"/>", N(x), N(y - 1.3 * r), N(x + r), N(y),
          N(x), N(y + 1.3 * r), N(x - r), N(y));
      break;
    case ANA_MARK_CROSS:
      put(o, "<path d=\"M%s %sL%s %sM%s %sL%s %s\" stroke-width=\"1.5\"/>", N(x - r), N(y - r),
          N(x + r), N(y + r), N(x - r), N(y + r), N(x + r), N(y - r));
      break;
    default: put(o, "<circle cx=\"%s\" cy=\"%s\" r=\"%s\"/>", N(x), N(y), N(r));
  }
}

// The <g> attributes that colour markers (filled; a cross is stroked).
static void marker_group(out* o, const ana_style* st) {
  char c[8];
  color_attr(c, st->color);
  double op = st->opacity > 0 ? st->opacity : 1;
  if (st->marker == ANA_MARK_CROSS) put(o, "<g fill=\"none\" stroke=\"%s\"", c);
  else put(o, "<g fill=\"%s\" stroke=\"none\"", c);
  if (op < 1) put(o, " opacity=\"%s\"", N(op));
  put(o, ">");
}

static int finite2(double a, double b) { return isfinite(a) && isfinite(b); }

static void draw_line(out* o, const frame* fr, const element* e) {
  double op = e->st.opacity > 0 ? e->st.opacity : 1;
  int last = -1, prev = -1;  // the last finite point, the one before it in the same piece
  for (int i = 0; i < e->n;) {
    while (i < e->n && !finite2(e->x[i], e->y[i])) i++;
    int j = i;
    while (j < e->n && finite2(e->x[j], e->y[j])) j++;
    if (j - i >= 2) {
      put(o, "<polyline");
      stroke(o, &e->st, op);
      put(o, " stroke-linejoin=\"round\" points=\"");
      for (int k = i; k < j; k++)
        put(o, "%s%s,%s", k > i ? " " : "", N(X(fr, e->x[k])), N(Y(fr, e->y[k])));
      put(o, "\"/>\n");
    }
    if (j > i) {
      last = j - 1;
      // the arrow's direction: the last earlier point of the piece at least 1 px away
      prev = -1;
      for (int k = j - 2; k >= i; k--)
        if (hypot(X(fr, e->x[k]) - X(fr, e->x[last]), Y(fr, e->y[k]) - Y(fr, e->y[last])) >= 1) {
          prev = k;
          break;
        }
    }
    i = j;
  }
  if (e->type != EL_ARROW || last < 0 || prev < 0) return;
  double tx = X(fr, e->x[last]), ty = Y(fr, e->y[last]);
  double dx = tx - X(fr, e->x[prev]), dy = ty - Y(fr, e->y[prev]), d = hypot(dx, dy);
  dx /= d;
  dy /= d;
  double L = 6 + 3 * e->st.width, hw = 0.45 * L;
  char c[8];
  color_attr(c, e->st.color);
  put(o, "<polygon fill=\"%s\"", c);
  if (op < 1) put(o, " opacity=\"%s\"", N(op));
  put(o, " points=\"%s,%s %s,%s %s,%s\"/>\n", N(tx), N(ty), N(tx - L * dx - hw * dy),
      N(ty - L * dy + hw * dx), N(tx - L * dx + hw * dy), N(ty - L * dy - hw * dx));
}

static void draw_band(out* o, const frame* fr, const element* e) {
  char c[8];
  color_attr(c, e->st.color);
  double op = e->st.opacity > 0 ? e->st.opacity : 0.25;
  for (int i = 0; i < e->n;) {
#define BAND_OK(k) (isfinite(e->x[k]) && isfinite(e->y[k]) && isfinite(e->z[k]))
    while (i < e->n && !BAND_OK(i)) i++;
    int j = i;
    while (j < e->n && BAND_OK(j)) j++;
#undef BAND_OK
    if (j - i >= 2) {
      put(o, "<polygon fill=\"%s\" fill-opacity=\"%s\" stroke=\"none\" points=\"", c, N(op));
      for (int k = i; k < j; k++) put(o, "%s,%s ", N(X(fr, e->x[k])), N(Y(fr, e->y[k])));
      for (int k = j - 1; k >= i; k--)
        put(o, "%s,%s%s", N(X(fr, e->x[k])), N(Y(fr, e->z[k])), k > i ? " " : "");
      put(o, "\"/>\n");
    }
    i = j;
  }
}

static void draw_errbars(out* o, const frame* fr, const element* e) {
  double cap = e->st.size + 1;
  put(o, "<path");
  stroke(o, &e->st, e->st.opacity > 0 ? e->st.opacity : 1);
  put(o, " d=\"");
  int any = 0;
  for (int k = 0; k < e->n; k++) {
    if (!finite2(e->x[k], e->y[k]) || !isfinite(e->z[k])) continue;
    double x = X(fr, e->x[k]), a = Y(fr, e->y[k] - e->z[k]), b = Y(fr, e->y[k] + e->z[k]);
    put(o, "M%s %sV%sM%s %sH%sM%s %sH%s", N(x), N(a), N(b), N(x - cap), N(a), N(x + cap),
        N(x - cap), N(b), N(x + cap));
    any = 1;
  }
  if (!any) put(o, "M0 0");
  put(o, "\"/>\n");
  marker_group(o, &e->st);
  for (int k = 0; k < e->n; k++)
    if (finite2(e->x[k], e->y[k]))
      marker(o, e->st.marker, X(fr, e->x[k]), Y(fr, e->y[k]), e->st.size);
  put(o, "</g>\n");
}

static void draw_image(out* o, const frame* fr, const ana_image* im) {
  double dx = (im->x1 - im->x0) / im->cols, dy = (im->y1 - im->y0) / im->rows;
  double span = im->zmax - im->zmin;
  put(o, "<g shape-rendering=\"crispEdges\" stroke=\"none\">\n");
  for (int r = 0; r < im->rows; r++) {
    const double* row = im->z + (size_t)r * im->cols;
    double ya = Y(fr, im->y0 + r * dy), yb = Y(fr, im->y0 + (r + 1) * dy);
    double top = fmin(ya, yb), hgt = fabs(yb - ya);
    for (int c = 0; c < im->cols;) {
      if (!isfinite(row[c])) {
        c++;
        continue;
      }
      // 256 colour levels; a run of cells of the same level is one rect
      long q = lround(255 * fmin(1, fmax(0, (row[c] - im->zmin) / span)));
      int k = c + 1;
      while (k < im->cols && isfinite(row[k]) &&
             lround(255 * fmin(1, fmax(0, (row[k] - im->zmin) / span))) == q)
        k++;
      double xa = X(fr, im->x0 + c * dx), xb = X(fr, im->x0 + k * dx);
      char col[8];
      color_attr(col, ana_color_map(im->cmap, q / 255.0));
      put(o, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"/>\n", N(fmin(xa, xb)),
          N(top), N(fabs(xb - xa)), N(hgt), col);
      c = k;
    }
  }
  put(o, "</g>\n");
}

// The colour bar right of the plot area: a gradient (id: a checksum of its colour map) with ticks.
static void draw_cbar(out* o, const frame* fr, const ana_image* im) {
  double x = fr->x0 + fr->w + 12, w = 12, y0 = fr->y0, h = fr->h;
  char id[24];
  snprintf(id, sizeof id, "cb%08x", (unsigned)am_crc32(0, &im->cmap, sizeof im->cmap));
  put(o, "<defs><linearGradient id=\"%s\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">", id);
  for (int i = 0; i <= 16; i++) {
    char c[8];
    color_attr(c, ana_color_map(im->cmap, i / 16.0));
    put(o, "<stop offset=\"%s\" stop-color=\"%s\"/>", N(i / 16.0), c);
  }
  put(o, "</linearGradient></defs>\n");
  put(o, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"url(#%s)\" stroke=\"#444\" "
         "stroke-width=\"0.5\"/>\n", N(x), N(y0), N(w), N(h), id);
  double a, b, step, at[MAX_TICKS];
  char lab[MAX_TICKS][40];
  ana_nice_axis(im->zmin, im->zmax, 5, &a, &b, &step);
  static const panel none;
  int n = axis_ticks(&none, 0, im->zmin, im->zmax, step, at, lab);
  for (int i = 0; i < n; i++) {
    double y = y0 + h - (at[i] - im->zmin) / (im->zmax - im->zmin) * h;
    put(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#444\"/>", N(x + w), N(y),
        N(x + w + 3), N(y));
    put(o, "<text x=\"%s\" y=\"%s\" dy=\"0.35em\">%s</text>\n", N(x + w + 5), N(y), lab[i]);
  }
  if (im->label) {
    double lx = x + w + 50, ly = y0 + h / 2;
    put(o, "<text transform=\"translate(%s,%s) rotate(-90)\" text-anchor=\"middle\">", N(lx),
        N(ly));
    esc(o, im->label);
    put(o, "</text>\n");
  }
}

static void draw_legend(out* o, const ana_fig* f, int p, const frame* fr, int corner) {
  int n = 0;
  size_t longest = 0;
  for (int i = 0; i < f->n_els; i++) {
    const element* e = &f->els[i];
    if (e->panel != p || e->type == EL_TEXT || !e->st.label) continue;
    n++;
    size_t len = strlen(e->st.label);
    longest = len > longest ? len : longest;
  }
  if (!n) return;
  double row = 16, sw = 22, w = 10 + sw + 6 + 0.62 * FONT * (double)longest, h = 8 + row * n;
  double x = corner == ANA_LEGEND_UL || corner == ANA_LEGEND_LL ? fr->x0 + 6 : fr->x0 + fr->w - w - 6;
  double y = corner == ANA_LEGEND_LR || corner == ANA_LEGEND_LL ? fr->y0 + fr->h - h - 6 : fr->y0 + 6;
  put(o, "<g class=\"legend\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"white\" "
         "fill-opacity=\"0.85\" stroke=\"#bbb\" stroke-width=\"0.5\"/>\n", N(x), N(y), N(w), N(h));
  int k = 0;
  for (int i = 0; i < f->n_els; i++) {
    const element* e = &f->els[i];
    if (e->panel != p || e->type == EL_TEXT || !e->st.label) continue;
    double cy = y + 4 + row * (k++ + 0.5), lx = x + 6;
    if (e->type == EL_SCATTER) {
      marker_group(o, &e->st);
      marker(o, e->st.marker, lx + sw / 2, cy, e->st.size);
      put(o, "</g>");
    } else if (e->type == EL_BAND) {
      char c[8];
      color_attr(c, e->st.color);
      put(o, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"8\" fill=\"%s\" fill-opacity=\"%s\"/>",
          N(lx), N(cy - 4), N(sw), c, N(e->st.opacity > 0 ? e->st.opacity : 0.25));
    } else {
      put(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"", N(lx), N(cy), N(lx + sw), N(cy));
      stroke(o, &e->st, e->st.opacity > 0 ? e->st.opacity : 1);
      put(o, "/>");
      if (e->type == EL_ERRBARS) {
        marker_group(o, &e->st);
        marker(o, e->st.marker, lx + sw / 2, cy, e->st.size);
        put(o, "</g>");
      }
    }
    put(o, "<text x=\"%s\" y=\"%s\" dy=\"0.35em\">", N(lx + sw + 6), N(cy));
    esc(o, e->st.label);
    put(o, "</text>\n");
  }
  put(o, "</g>\n");
}

static void draw_panel(out* o, const ana_fig* f, int p, double cx, double cy) {
  const panel* P = &f->panels[p];
  const ana_axes* ax = &P->ax;
  frame fr = {.x0 = cx + M_LEFT, .y0 = cy + M_TOP, .ydown = ax->ydown};
  fr.w = f->pw - M_LEFT - M_RIGHT - (P->has_image ? CBAR_W : 0);
  fr.h = f->ph - M_TOP - M_BOTTOM;
  double xlo, xhi, ylo, yhi;
  data_range(f, p, &xlo, &xhi, &ylo, &yhi);
  int tx = (int)(fr.w / 70), ty = (int)(fr.h / 45);
  tx = tx < 3 ? 3 : tx > 8 ? 8 : tx;
  ty = ty < 3 ? 3 : ty > 8 ? 8 : ty;
  axis_limits(ax->xmin, ax->xmax, xlo, xhi, P->has_image, tx, &fr.xmin, &fr.xmax, &fr.xstep);
  axis_limits(ax->ymin, ax->ymax, ylo, yhi, P->has_image, ty, &fr.ymin, &fr.ymax, &fr.ystep);
  if (ax->equal) {  // the same px per data unit on both axes, the plot area centred in its cell
    double sx = fr.w / (fr.xmax - fr.xmin), sy = fr.h / (fr.ymax - fr.ymin);
    if (sx > sy) {
      double w = sy * (fr.xmax - fr.xmin);
      fr.x0 += (fr.w - w) / 2;
      fr.w = w;
    } else {
      double h = sx * (fr.ymax - fr.ymin);
      fr.y0 += (fr.h - h) / 2;
      fr.h = h;
    }
  }
  put(o, "<g class=\"panel\" id=\"panel%d\">\n", p);
  // ticks and grid
  double at[MAX_TICKS];
  char lab[MAX_TICKS][40];
  for (int a = 0; a < 2; a++) {
    if (a == 0 ? ax->no_xticks : ax->no_yticks) continue;
    int n = a == 0 ? axis_ticks(P, 0, fr.xmin, fr.xmax, fr.xstep, at, lab)
                   : axis_ticks(P, 1, fr.ymin, fr.ymax, fr.ystep, at, lab);
    for (int i = 0; i < n; i++) {
      if (a == 0) {
        double x = X(&fr, at[i]), yb = fr.y0 + fr.h;
        if (ax->grid)
          put(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#e4e4e4\"/>", N(x),
              N(fr.y0), N(x), N(yb));
        put(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#444\"/>", N(x), N(yb), N(x),
            N(yb + 4));
        put(o, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">", N(x), N(yb + 16));
      } else {
        double y = Y(&fr, at[i]);
        if (ax->grid)
          put(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#e4e4e4\"/>", N(fr.x0),
              N(y), N(fr.x0 + fr.w), N(y));
        put(o, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#444\"/>", N(fr.x0 - 4),
            N(y), N(fr.x0), N(y));
        put(o, "<text x=\"%s\" y=\"%s\" dy=\"0.35em\" text-anchor=\"end\">", N(fr.x0 - 6), N(y));
      }
      esc(o, lab[i]);
      put(o, "</text>\n");
    }
  }
  // the elements, clipped to the plot area (padded by a few px so markers on the limits show)
  char clip[24], rect[128];
  snprintf(rect, sizeof rect, "%s %s %s %s", N(fr.x0 - 5), N(fr.y0 - 5), N(fr.w + 10),
           N(fr.h + 10));
  snprintf(clip, sizeof clip, "clip%08x", (unsigned)am_crc32(0, rect, strlen(rect)));
  put(o, "<defs><clipPath id=\"%s\"><rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"/>"
         "</clipPath></defs>\n<g clip-path=\"url(#%s)\">\n",
      clip, N(fr.x0 - 5), N(fr.y0 - 5), N(fr.w + 10), N(fr.h + 10), clip);
  if (P->has_image) draw_image(o, &fr, &P->im);
  for (int i = 0; i < f->n_els; i++) {
    const element* e = &f->els[i];
    if (e->panel != p) continue;
    switch (e->type) {
      case EL_LINE:
      case EL_ARROW: draw_line(o, &fr, e); break;
      case EL_BAND: draw_band(o, &fr, e); break;
      case EL_ERRBARS: draw_errbars(o, &fr, e); break;
      case EL_SCATTER:
        marker_group(o, &e->st);
        for (int k = 0; k < e->n; k++)
          if (finite2(e->x[k], e->y[k]))
            marker(o, e->st.marker, X(&fr, e->x[k]), Y(&fr, e->y[k]), e->st.size);
        put(o, "</g>\n");
        break;
      case EL_VLINE:
      case EL_HLINE: {
        int v = e->type == EL_VLINE;
        double a = v ? X(&fr, e->v) : Y(&fr, e->v);
        put(o, "<line class=\"ref\" x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"", N(v ? a : fr.x0),
            N(v ? fr.y0 : a), N(v ? a : fr.x0 + fr.w), N(v ? fr.y0 + fr.h : a));
        stroke(o, &e->st, e->st.opacity > 0 ? e->st.opacity : 1);
        put(o, "/>\n");
        break;
      }
      case EL_TEXT: {
        char c[8];
        color_attr(c, e->st.color);
        static const char* anchors[] = {"start", "middle", "end"};
        int an = e->st.anchor >= 0 && e->st.anchor <= 2 ? e->st.anchor : 0;
        put(o, "<text x=\"%s\" y=\"%s\" dy=\"0.35em\" text-anchor=\"%s\" font-size=\"%s\" "
               "fill=\"%s\"", N(X(&fr, e->v)), N(Y(&fr, e->w)), anchors[an], N(e->st.size), c);
        if (e->st.opacity > 0 && e->st.opacity < 1) put(o, " opacity=\"%s\"", N(e->st.opacity));
        put(o, ">");
        esc(o, e->label);
        put(o, "</text>\n");
        break;
      }
    }
  }
  put(o, "</g>\n");
  // axes lines (left and bottom), labels, title, legend, colour bar
  put(o, "<path d=\"M%s %sV%sH%s\" fill=\"none\" stroke=\"#444\"/>\n", N(fr.x0), N(fr.y0),
      N(fr.y0 + fr.h), N(fr.x0 + fr.w));
  if (P->xlabel) {
    put(o, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">", N(fr.x0 + fr.w / 2),
        N(cy + f->ph - 8));
    esc(o, P->xlabel);
    put(o, "</text>\n");
  }
  if (P->ylabel) {
    put(o, "<text transform=\"translate(%s,%s) rotate(-90)\" text-anchor=\"middle\">", N(cx + 14),
        N(fr.y0 + fr.h / 2));
    esc(o, P->ylabel);
    put(o, "</text>\n");
  }
  if (P->title) {
    put(o, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"12\">",
        N(fr.x0 + fr.w / 2), N(cy + 17));
    esc(o, P->title);
    put(o, "</text>\n");
  }
  if (ax->legend != ANA_LEGEND_NONE) draw_legend(o, f, p, &fr, ax->legend);
  if (P->has_image) draw_cbar(o, &fr, &P->im);
  put(o, "</g>\n");
}

int ana_fig_render(const ana_fig* f, am_buf* b, char* err, size_t err_sz) {
  if (!f || !b) return am_err(err, err_sz, "render: no figure or no buffer");
  if (f->err[0]) return am_err(err, err_sz, "%s", f->err);
  out o = {b, 0};
  double title_h = f->title ? TITLE_H : 0;
  double W = f->cols * f->pw, H = f->rows * f->ph + title_h;
  put(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%s\" height=\"%s\" "
          "viewBox=\"0 0 %s %s\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
          "font-size=\"%d\" fill=\"#222\">\n",
      N(W), N(H), N(W), N(H), FONT);
  put(&o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  if (f->title) {
    put(&o, "<text x=\"%s\" y=\"20\" text-anchor=\"middle\" font-weight=\"bold\" "
            "font-size=\"14\">", N(W / 2));
    esc(&o, f->title);
    put(&o, "</text>\n");
  }
  for (int r = 0; r < f->rows; r++)
    for (int c = 0; c < f->cols; c++)
      draw_panel(&o, f, r * f->cols + c, c * f->pw, title_h + r * f->ph);
  put(&o, "</svg>\n");
  if (o.oom) return am_err(err, err_sz, "render: out of memory");
  return 0;
}

int ana_fig_write(const ana_fig* f, const char* path, char* err, size_t err_sz) {
  if (!path || !*path) return am_err(err, err_sz, "figure: no output path");
  am_buf b = {0};
  char e[AM_ERR_LEN];
  if (ana_fig_render(f, &b, e, sizeof e)) {
    am_buf_free(&b);
    return am_err(err, err_sz, "%s: %s", path, e);
  }
  int rc = am_write_file_atomic(path, b.p, b.len, err, err_sz);
  am_buf_free(&b);
  return rc;
}
