// amv.h: animat-view internals (viewer/ only; not a public library header).
//
// What it is: the in-memory episode the viewer shows (whatever its origin: a dataset file or a
// live task run), the analyses behind the panels (unit ordering, PCA by power iteration), the
// composed renderer (body view + neural heatmap + population + behaviour traces + timeline) and
// a dependency-free PNG writer. Everything except amv_render_* and main.c is plain C without
// OpenGL, so it can be unit-tested.
// What it is not: a dataset reader (sim/ owns the format) or a policy (agents/ owns it).
//
// Prefix amv_. Errors: functions that can fail return 0 / -1 and write a message to err.
#ifndef AMV_H
#define AMV_H

#include <stddef.h>
#include <stdint.h>

#include <mujoco/mujoco.h>

#include "am_sim.h"

#define AMV_MAX_MODULES 8
#define AMV_MAX_CHANNELS 16

//---------------------------------- episodes ------------------------------------------------------

// The activity of one network module over an episode.
typedef struct amv_module {
  char name[AM_NAME_LEN];  // "core", "motor", ...
  int units;               // H
  float* x;                // activity (T x H), row t = after control step t
} amv_module;

// One named trace of the behaviour panel (actions, muscle activations...).
typedef struct amv_channel {
  char name[AM_NAME_LEN];
  int width;               // values per step
  float* x;                // (T x width)
} amv_channel;

// One episode, everything per control step t = 0..T-1 (state after the step).
typedef struct amv_episode {
  int64_t index;           // episode number in its source
  int T, cap;              // steps held, steps allocated
  int nq, na, n_vars;
  double dt;               // seconds per control step
  double* qpos;            // (cap x nq) body pose
  double* act;             // (cap x na) actuator activations (muscles), NULL when not recorded
  float* reward;           // (cap)
  uint32_t* events;        // (cap) bit k = event code k
  float* vars;             // (cap x n_vars) task variables
  float* speed;            // (cap) speed of the tracked body (m/s), from qpos (amv_episode_derive)
  // Scenery: the poses of the model's mocap bodies (maze walls, targets, platforms, terrain, orbs
  // that tasks place per episode), as keys: key k holds from step scene_step[k] until the next
  // key. Empty (n_scene 0): the model's default poses.
  int nmocap;              // mocap bodies (0: no scenery)
  int n_scene, scene_cap;
  int* scene_step;         // (n_scene) ascending, the first is 0
  double* scene;           // (n_scene x 7 nmocap) mocap_pos (3 nmocap) then mocap_quat (4 nmocap)
  int n_modules;
  amv_module modules[AMV_MAX_MODULES];
  int n_channels;
  amv_channel channels[AMV_MAX_CHANNELS];
} amv_episode;

// Names shared by every episode of a source: task events and variables.
typedef struct amv_meta {
  char task[64];
  char origin[1100];        // "live task reacher (random policy)", "file.rollout", ...
  char policy[128];         // what drives the body ("random", "zero", checkpoint path...)
  int n_events;
  char events[AM_MAX_EVENTS][AM_NAME_LEN];
  int n_vars;
  char vars[AM_MAX_VARS][AM_NAME_LEN];
  int condition_var;        // index of a task variable that names the trial condition, or -1
} amv_meta;

// Allocates an episode for up to cap steps (grows with amv_episode_reserve).
int amv_episode_init(amv_episode* e, int cap, int nq, int na, int n_vars, char* err, size_t err_sz);
int amv_episode_reserve(amv_episode* e, int cap, char* err, size_t err_sz);
// Adds a module / channel (x allocated for cap steps, zeroed). Returns its index or -1.
int amv_episode_add_module(amv_episode* e, const char* name, int units, char* err, size_t err_sz);
int amv_episode_add_channel(amv_episode* e, const char* name, int width, char* err, size_t err_sz);
void amv_episode_free(amv_episode* e);
// Records the scenery (pos: 3 nmocap, quat: 4 nmocap) from step on (replacing keys at or after
// step). Nothing is added when it equals the scenery already in force. Returns 0 or -1.
int amv_episode_set_scene(amv_episode* e, int step, const double* pos, const double* quat,
                          char* err, size_t err_sz);
// The scenery in force at step t (7 nmocap doubles), or NULL when none was recorded.
const double* amv_episode_scene(const amv_episode* e, int t);
// Drops the scenery keys (a new episode starts).
void amv_episode_clear_scene(amv_episode* e);
// The body tracked by the camera and the speed trace: the body of the first free joint, else the
// last body of the tree (the hand of an arm).
int amv_track_body(const mjModel* m);
// Computes speed[] from qpos with forward kinematics (d is scratch).
void amv_episode_derive(amv_episode* e, const mjModel* m, mjData* d);
// Finds a task variable that gives the trial condition ("condition", "cond", "target_index"...).
int amv_find_condition_var(const amv_meta* meta);

// Task variables that are positions: "<name>_x", "<name>_y" (optionally "<name>_z"). When <name>
// is a mocap body of the model the variables place it (the two-tap orb moves with its variables
// within an episode); when it is another body or a joint it is drawn anyway (a rat's root_x/_y is
// the rat) and the point is skipped; otherwise it is a marker (targets, start, cursor). A
// composite's member variable "TASK.<name>_x" stands for <name> when there is no body "TASK.<name>"
// (rat-multi's "two-tap.orb_x" places the orb).
typedef struct amv_var_point {
  char name[AM_NAME_LEN];
  int ix, iy, iz;          // variable indices (iz -1: none)
  int mocap;               // mocap index the point places, or -1 for a marker
} amv_var_point;
// Fills up to max points; returns their number.
int amv_var_points(const mjModel* m, const amv_meta* meta, amv_var_point* out, int max);

// The bodies of the animal: the tree (children of the world) holding the tracked body. Sets
// in_animal[b] (nbody entries) to 1 for them; returns their number.
int amv_animal_bodies(const mjModel* m, unsigned char* in_animal);
// Radius of the animal around the tracked body at the pose in d (after kinematics): the largest
// distance from the tracked body to a point of one of its geoms (planes excluded).
double amv_animal_radius(const mjModel* m, const mjData* d);

//---------------------------------- analyses ------------------------------------------------------

enum { AMV_ORDER_INDEX = 0, AMV_ORDER_PEAK = 1, AMV_ORDER_PC1 = 2, AMV_ORDER_COUNT = 3 };
const char* amv_order_name(int order);

// Top k principal components of X (T x H, rows = samples): mean (H), comps (k x H, unit norm,
// deterministic sign: largest |entry| positive), var (k) eigenvalues of the covariance. Power
// iteration with deflation on the H x H covariance. Returns the number of components found (<= k).
int amv_pca(const float* X, int T, int H, int k, double* mean, double* comps, double* var);

// Orders H units of X (T x H): order[i] = unit shown in row i. By index, by time of peak activity,
// or by loading on the first principal component.
void amv_order_units(const float* X, int T, int H, int how, int* order);

// Per-unit min and max over the episode (for the heatmap's colour scale).
void amv_unit_range(const float* X, int T, int H, float* lo, float* hi);

// Projects X (T x H) on k components: P (T x k) = (X - mean) comps^T.
void amv_project(const float* X, int T, int H, int k, const double* mean, const double* comps,
                 float* P);

//---------------------------------- layout --------------------------------------------------------

// The composed window: the body view, the neural heatmap, the population panel and the behaviour
// traces (with the timeline along their bottom). Rectangles in pixels, origin bottom-left.
enum { AMV_RECT_BODY = 0, AMV_RECT_HEAT = 1, AMV_RECT_POP = 2, AMV_RECT_TRACE = 3, AMV_NRECT = 4 };
typedef struct amv_rect {
  int left, bottom, width, height;
} amv_rect;
void amv_layout(int w, int h, amv_rect rects[AMV_NRECT]);
extern const char* const amv_rect_names[AMV_NRECT];

// Width in pixels of s in a font whose character widths are charw[0..126] (mjrContext.charWidth;
// other bytes count as 'x').
int amv_text_width(const int* charw, const char* s);
// Flows n labels of widths w[i] left to right: the first line from x_first, the next ones from
// x_left, none past x_right, gap pixels between labels, at most max_lines lines. Writes each
// placed label's x and line (0 = first). Returns how many were placed (a prefix of the labels).
int amv_flow(const int* w, int n, int x_first, int x_left, int x_right, int gap, int max_lines,
             int* x, int* line);
// Index of the first of n texts no wider than width pixels, or -1 when none is.
int amv_fit(const int* charw, const char* const* texts, int n, int width);

//---------------------------------- live source (a task run in the viewer) -----------------------

enum { AMV_POLICY_ZERO = 0, AMV_POLICY_RANDOM = 1, AMV_POLICY_NET = 2 };

typedef struct amv_live {
  am_task task;
  int have_task;
  am_pool* pool;
  int kind;                  // AMV_POLICY_*
  void* net;                 // ama_policy* for AMV_POLICY_NET (untrained or from a checkpoint)
  void* actor;               // ama_actor*: agents' one acting path, as `animat record` acts
  int ch_action, ch_act;     // channel indices in the episode (-1: none)
  mjData* kin;               // scratch for the speed trace
} amv_live;

// Opens a live run of a task: policy "zero", "random", "untrained" (a freshly initialised network,
// activity shown) or a checkpoint file/run directory (then task may be NULL: the checkpoint's).
// The policy acts exactly as `animat record --envs 1 --seed SEED [--deterministic]` would: the same
// acting path (agents' ama_actor), noise and clipping. Fills meta and initialises ep for the first
// episode. Returns 0 or -1.
int amv_live_open(amv_live* L, const char* task, const void* params, const char* policy,
                  uint64_t seed, int deterministic, amv_meta* meta, amv_episode* ep, char* err,
                  size_t err_sz);
// Takes one control step and appends it to ep. Returns 1 when the episode ended with this step,
// 0 otherwise, -1 on error. After 1, call amv_live_next_episode before stepping on.
int amv_live_step(amv_live* L, amv_episode* ep, char* err, size_t err_sz);
void amv_live_next_episode(amv_live* L, amv_episode* ep);
const mjModel* amv_live_model(const amv_live* L);
void amv_live_close(amv_live* L);

//---------------------------------- dataset source ------------------------------------------------

typedef struct amv_ds {
  void* reader;              // am_ds_reader*
  am_model* model;           // rebuilt from the file's embedded MJCF
  int64_t n_episodes;
  char path[1024];
} amv_ds;

// Opens a dataset, checks it is an animat dataset with a body, rebuilds the model and fills meta.
// A bad or foreign file is an error with a message naming the file and what is wrong.
int amv_ds_open(amv_ds* D, const char* path, amv_meta* meta, char* err, size_t err_sz);
// Loads episode i (0 .. n_episodes-1) into ep (re-initialised).
int amv_ds_load(amv_ds* D, const amv_meta* meta, int64_t i, amv_episode* ep, mjData* scratch,
                char* err, size_t err_sz);
void amv_ds_close(amv_ds* D);

//---------------------------------- renderer (needs a current OpenGL context) ---------------------

enum { AMV_CAM_FREE = 0, AMV_CAM_TRACK = 1, AMV_CAM_FIXED = 2 };  // fixed: model camera cam_mode-2

typedef struct amv_view {
  mjModel* m;               // the viewer's own copy (offscreen size set on it)
  mjData* d;                // scratch pose
  mjvScene scn;
  mjvCamera cam_free, cam_track, cam_fixed;
  mjvOption opt;
  mjrContext con;
  int cam_mode;             // AMV_CAM_* (+ k for the k-th model camera)
  int module;               // selected module
  int order;                // AMV_ORDER_*
  int half_window;          // heatmap shows steps t-half_window .. t+half_window
  int show_help;
  int show_forces;          // contact forces
  int hide_body;            // leave the animal out (its geoms, sites and tendons)
  int hide_scenery;         // leave the mocap bodies out (walls, targets, platforms, terrain, orb)
  unsigned char* in_animal; // (nbody) amv_animal_bodies
  const char* help_text;    // key list (main.c)
  char status[256];         // bottom-line message (playback state, last action)
  // analysis cache for (episode, module, T)
  const amv_episode* c_ep;
  int64_t c_index;
  int c_module, c_T, c_order, c_H;
  int* c_ord;
  float *c_lo, *c_hi, *c_proj;   // (H), (H), (T x 2)
  double *c_mean, *c_comps, c_var[2], c_total_var;
  int c_npc;
} amv_view;

// Creates the view over a copy of m, with an offscreen buffer of at least w x h. The GL context
// must be current. Returns 0 or -1.
int amv_view_init(amv_view* v, const mjModel* m, int w, int h, char* err, size_t err_sz);
void amv_view_free(amv_view* v);
// Draws the composed window for step t of episode e into the current buffer (viewport w x h).
void amv_view_render(amv_view* v, const amv_meta* meta, const amv_episode* e, int t, int w, int h);
// Camera cycling and mouse motion in the body view (action: mjMOUSE_*; dx, dy relative to height).
void amv_view_next_camera(amv_view* v);
void amv_view_move_camera(amv_view* v, int action, double dx, double dy);
// Maps a window x (pixels from the left) in the traces panel to a step, or -1 outside it.
int amv_view_step_at(const amv_view* v, const amv_episode* e, int x, int y, int w, int h);

//---------------------------------- PNG -----------------------------------------------------------

// Writes 8-bit RGB pixels (h rows of w*3 bytes). flip: rows are bottom-up (OpenGL order).
// Stored (uncompressed) deflate blocks, Adler-32 computed here, CRC-32 by am_crc32: no zlib.
int amv_png_write(const char* path, const unsigned char* rgb, int w, int h, int flip, char* err,
                  size_t err_sz);

#endif  // AMV_H
