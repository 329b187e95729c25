// ana_svg.h: animat's figures: a small SVG plotting library (issue 13: analyses write their figures
// as SVG written by animat itself, with no plotting dependency).
//
// What it is: a figure is a grid of panels (rows x cols, numbered row by row from 0). Each panel has
// a title, axis labels and linear axes, automatic (limits and ticks at 1-2-5 steps covering the
// data) or fixed; it holds elements drawn in the order they were added: lines, scatter points,
// shaded bands, error bars, reference lines, text, arrows and one heatmap (matrix -> colour map,
// with a colour bar). The figure is rendered to a standalone SVG document, in memory or to a file
// written atomically. Data are copied when added, so the caller's arrays may be freed at once.
// What it is not: no log axes, no 3-D, no interactive output, no raster formats.
//
// Errors: every function that adds to a figure returns 0, or -1 for a bad argument or a failed
// allocation; the figure keeps the first such message (ana_fig_error) and ana_fig_write /
// ana_fig_render then fail with it, so a figure built by many calls can be checked once at the end.
// Nothing prints.
//
// Numbers: non-finite points (NaN, Inf) are never written: they break a line or band in two and are
// left out of scatter plots and of the automatic limits. Coordinates are written with 2 decimals.
// Text is XML-escaped (control characters and invalid UTF-8 become '?').
//
// Example:
//   char err[AM_ERR_LEN];
//   ana_fig* f = ana_fig_new(1, 2, 0, 0, err, sizeof err);   // two 360 x 270 px panels
//   ana_fig_labels(f, 0, "speed", "time from go (s)", "speed (m/s)");
//   for (int d = 0; d < 8; d++)
//     ana_fig_errband(f, 0, t, mean[d], sem[d], T, &(ana_style){.color = ana_color_cycle(d / 8.0)});
//   ana_fig_vline(f, 0, 0.0, NULL);                              // the event at t = 0
//   ana_fig_axes(f, 1, &(ana_axes){.equal = 1, .ydown = 1});
//   ana_fig_image(f, 1, &(ana_image){.z = rdm, .rows = 8, .cols = 8, .label = "1 - r"});
//   if (ana_fig_write(f, "fig.svg", err, sizeof err)) ... err names the problem ...
//   ana_fig_free(f);
//
// Prefix: ana_fig_ (figures), ana_color_ (colours). docs/analysis.md, "Figures (SVG)".
#ifndef ANA_SVG_H
#define ANA_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "am_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

//---------------------------------- colours -------------------------------------------------------

// Colours are 0xRRGGBB. In a style, 0 means "automatic": the panel's next categorical colour
// (ana_color_cat(k) for its k-th element that takes one); pure black is ANA_BLACK.
#define ANA_BLACK 0x1000000u
#define ANA_GREY 0x808080u

enum {
  ANA_CMAP_VIRIDIS = 0,  // sequential, perceptually uniform (dark blue -> yellow)
  ANA_CMAP_DIVERGING,    // blue -> white (0.5) -> red, for signed values
  ANA_CMAP_GREY,         // white -> black
  ANA_CMAP_CYCLIC,       // hue circle (ana_color_cycle)
};

// The i-th of ANA_N_CAT distinguishable categorical colours (i wraps around; negative i too).
#define ANA_N_CAT 10
uint32_t ana_color_cat(int i);
// Colour map cmap at t in [0, 1] (clamped; NaN gives grey), interpolated between control points.
uint32_t ana_color_map(int cmap, double t);
// A hue circle at constant lightness and chroma in the OKLab space (so no hue looks brighter than
// another): t in [0, 1) is the angle / 2 pi; t and t + 1 give the same colour. For directions:
// ana_color_cycle(theta / (2 * M_PI)) or ana_color_cycle(k / 8.0) for the 8 reach targets.
uint32_t ana_color_cycle(double t);

//---------------------------------- figures -------------------------------------------------------

typedef struct ana_fig ana_fig;  // opaque

// A figure of rows x cols panels (each 1..16), each panel_w x panel_h pixels including its margins
// (0 = 360 x 270; at least 120 x 90, at most 4000). NULL with a message on bad sizes or no memory.
ana_fig* ana_fig_new(int rows, int cols, double panel_w, double panel_h, char* err,
                     size_t err_sz);
void ana_fig_free(ana_fig* f);  // NULL is fine
// The figure's title, above the panels (NULL or "": none).
int ana_fig_title(ana_fig* f, const char* title);
// The first error of any call on f ("" when none).
const char* ana_fig_error(const ana_fig* f);

// Panel title and axis labels (each may be NULL: none).
int ana_fig_labels(ana_fig* f, int panel, const char* title, const char* xlabel,
                   const char* ylabel);

enum { ANA_LEGEND_UR = 0, ANA_LEGEND_UL, ANA_LEGEND_LR, ANA_LEGEND_LL, ANA_LEGEND_NONE };

// Axis options of a panel. A zero struct is the default: automatic limits, no grid.
typedef struct ana_axes {
  // Fixed limits when min < max, else automatic: the data range (with the reference lines) widened
  // to the enclosing multiples of a 1-2-5 tick step (ana_nice_axis). Fixed limits clip the data.
  double xmin, xmax, ymin, ymax;
  int equal;   // one data unit is as long on x as on y (the plot area shrinks on one axis)
  int ydown;   // y grows downwards (matrix displays: row 0 at the top)
  int grid;    // light grid lines at the ticks
  int legend;  // ANA_LEGEND_*: the corner of the legend of labelled elements (NONE: no legend)
  int no_xticks, no_yticks;  // hide an axis's ticks and tick labels (e.g. for PC planes)
} ana_axes;
int ana_fig_axes(ana_fig* f, int panel, const ana_axes* ax);

// Tick positions and labels of their own on one axis (axis 0 = x, 1 = y): n (<= 64) ticks at
// data positions at[], labelled labels[] (NULL: the numbers). n = 0 restores automatic ticks.
// For categories: conditions 0..7 of an RDM, or the reach directions.
int ana_fig_ticks(ana_fig* f, int panel, int axis, const double* at, const char* const* labels,
                  int n);

enum { ANA_DASH_SOLID = 0, ANA_DASH_DASHED, ANA_DASH_DOTTED };
enum {
  ANA_MARK_CIRCLE = 0,
  ANA_MARK_SQUARE,
  ANA_MARK_TRIANGLE,
  ANA_MARK_DIAMOND,
  ANA_MARK_CROSS,
};

// How an element looks. A zero struct (or a NULL pointer) is the default of each element.
typedef struct ana_style {
  uint32_t color;      // 0xRRGGBB; 0 = automatic (see the colours above)
  double width;        // line width, px (0 = 1.5)
  int dash;            // ANA_DASH_*
  int marker;          // ANA_MARK_* (scatter points, error bars)
  double size;         // marker radius, px (0 = 3); font size of text, px (0 = 11)
  double opacity;      // 0 = the element's default (1, bands 0.25); else in (0, 1]
  const char* label;   // legend entry (NULL: none); for text: unused
  int anchor;          // text: 0 = start at (x, y), 1 = centred, 2 = end there
} ana_style;

// A line through n points (x may be NULL: 0, 1, ..., n-1). A non-finite x or y ends the line
// there and the next finite point starts a new one; each piece of 2 or more points is one SVG
// <polyline>. n = 0 adds nothing (but still counts in the legend when labelled).
int ana_fig_line(ana_fig* f, int panel, const double* x, const double* y, int n,
                 const ana_style* st);
// The same line with an arrowhead at its last finite point (trajectories in a jPC plane).
int ana_fig_arrow(ana_fig* f, int panel, const double* x, const double* y, int n,
                  const ana_style* st);
// n markers (x may be NULL: indices; non-finite points left out).
int ana_fig_scatter(ana_fig* f, int panel, const double* x, const double* y, int n,
                    const ana_style* st);
// A shaded band between lo and hi over x (x may be NULL), broken where any value is non-finite.
int ana_fig_band(ana_fig* f, int panel, const double* x, const double* lo, const double* hi, int n,
                 const ana_style* st);
// mean +- e as a band (opacity st->opacity or 0.25) under a line of the mean (e.g. e = sem).
int ana_fig_errband(ana_fig* f, int panel, const double* x, const double* mean, const double* e,
                    int n, const ana_style* st);
// mean +- e as vertical error bars with caps and a marker at the mean.
int ana_fig_errbars(ana_fig* f, int panel, const double* x, const double* mean, const double* e,
                    int n, const ana_style* st);
// Reference lines across the whole panel (default: grey, dashed, width 1): x = value (an event at
// t = 0), y = value (chance level). They count in the automatic limits.
int ana_fig_vline(ana_fig* f, int panel, double x, const ana_style* st);
int ana_fig_hline(ana_fig* f, int panel, double y, const ana_style* st);
// Text at data coordinates (x, y) (not counted in the limits; default colour black).
int ana_fig_text(ana_fig* f, int panel, double x, double y, const char* text,
                 const ana_style* st);

// A matrix as an image: cell (r, c) of z (rows x cols, row-major) fills x in [x0 + c dx, x0 + (c+1)
// dx], y in [y0 + r dy, y0 + (r+1) dy] with dx = (x1 - x0) / cols, dy = (y1 - y0) / rows, coloured
// by cmap over [zmin, zmax]; a colour bar with its own ticks stands right of the panel. For a
// matrix display with row 0 at the top, set the panel's axes .ydown = 1 (and .equal = 1).
typedef struct ana_image {
  const double* z;           // rows x cols; non-finite cells are left blank
  int rows, cols;
  double x0, x1, y0, y1;     // data extent; x0 == x1 (and y0 == y1): 0 .. cols (0 .. rows)
  double zmin, zmax;         // colour limits; zmin >= zmax: the finite data's min and max
  int cmap;                  // ANA_CMAP_*
  const char* label;         // colour bar label (may be NULL)
} ana_image;
// One image per panel (a second replaces the first). Equal neighbouring cells in a row are merged
// into one <rect>, so a large raster stays small.
int ana_fig_image(ana_fig* f, int panel, const ana_image* im);

// Renders the figure as a standalone SVG document appended to out (an am_buf from am_sim.h).
int ana_fig_render(const ana_fig* f, am_buf* out, char* err, size_t err_sz);
// Renders and writes path atomically (path.tmp, then rename): on failure path is untouched and no
// temporary is left. Returns 0 or -1 with a message naming the file.
int ana_fig_write(const ana_fig* f, const char* path, char* err, size_t err_sz);

// A "nice" axis for data in [lo, hi]: the step is 1, 2 or 5 times a power of ten giving about
// target intervals (0 = 5; 2..20), and *amin, *amax are lo and hi rounded out to multiples of the
// step. lo == hi is widened first (by 10 % of |lo|, or 1 at 0). Returns the number of ticks
// (amin, amin + step, ..., amax), or -1 when lo or hi is not finite or lo > hi.
int ana_nice_axis(double lo, double hi, int target, double* amin, double* amax, double* step);

#ifdef __cplusplus
}
#endif
#endif
