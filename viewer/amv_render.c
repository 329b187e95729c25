// amv_render.c: draws the composed window (OpenGL 1.x immediate mode next to MuJoCo's mjr_).
//
// Body view: mjv_updateScene + mjr_render of the recorded pose, task targets added as decor
// geoms, contact forces optional. Panels: heatmap of the selected module (units x time window,
// each unit scaled to its own range over the episode), population trajectory on the first two
// principal components, behaviour traces (reward, speed, actions, activations) with trial events
// and a timeline. Pure drawing: it reads the episode and never changes it.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <GLFW/glfw3.h>

#include "amv.h"

//---------------------------------- setup ---------------------------------------------------------

static int has_free_joint(const mjModel* m) {
  for (int j = 0; j < m->njnt; j++)
    if (m->jnt_type[j] == mjJNT_FREE) return 1;
  return 0;
}

int amv_view_init(amv_view* v, const mjModel* m, int w, int h, char* err, size_t err_sz) {
  memset(v, 0, sizeof *v);
  v->m = mj_copyModel(NULL, m);
  if (!v->m) return am_err(err, err_sz, "viewer: cannot copy the model");
  if (v->m->vis.global.offwidth < w) v->m->vis.global.offwidth = w;
  if (v->m->vis.global.offheight < h) v->m->vis.global.offheight = h;
  v->d = mj_makeData(v->m);
  if (!v->d) return am_err(err, err_sz, "viewer: cannot allocate mjData");
  {  // The headlight plus the lights may exceed full intensity on a surface facing both (a floor
     // seen from above turned white, checker and bowl gone): dim the headlight to keep 1.1.
    float lights = 0;
    for (int l = 0; l < v->m->nlight; l++) lights = fmaxf(lights, v->m->light_diffuse[3 * l]);
    mjVisual* vis = &v->m->vis;
    float head = vis->headlight.ambient[0] + vis->headlight.diffuse[0];
    if (head > 0 && head + lights > 1.1f) {
      float k = fmaxf(0.2f, 1.1f - lights) / head;
      for (int c = 0; c < 3; c++) vis->headlight.ambient[c] *= k, vis->headlight.diffuse[c] *= k;
    }
  }
  mjv_defaultOption(&v->opt);
  v->opt.flags[mjVIS_ACTIVATION] = 1;  // muscles coloured by activation
  v->opt.flags[mjVIS_RANGEFINDER] = 0;  // rays hide the body; key R shows them
  mjv_defaultScene(&v->scn);
  mjv_makeScene(v->m, &v->scn, 4000);
  // No shadows in scenes spread over more than 10 m. A directional light's shadow map covers the
  // model's extent (~100 m with run-gaps' corridor and its parked scenery): with 2048 texels the
  // rat's shadow was a 10 cm block, and the corridor's platforms, two coplanar boxes each, broke
  // into white streaks of self-shadowing; a map narrowed to a few metres kept the streaks and lost
  // the rat's shadow. Shading and the headlight show the terrain without them.
  if (v->m->stat.extent > 10) v->scn.flags[mjRND_SHADOW] = 0;
  mjr_defaultContext(&v->con);
  mjr_makeContext(v->m, &v->con, mjFONTSCALE_100);
  if (!v->con.offFBO && !v->con.offColor)
    return am_err(err, err_sz, "viewer: OpenGL context has no offscreen buffer support");
  mjv_defaultFreeCamera(v->m, &v->cam_free);
  mjv_defaultCamera(&v->cam_track);
  v->cam_track.type = mjCAMERA_TRACKING;
  v->cam_track.trackbodyid = amv_track_body(v->m);
  v->in_animal = calloc((size_t)v->m->nbody, 1);
  if (!v->in_animal) return am_err(err, err_sz, "viewer: out of memory");
  amv_animal_bodies(v->m, v->in_animal);
  // The tracking camera frames the animal: 2.2x its radius at the default pose. Not the model's
  // extent: scenery parked far away (unused platforms, bowls, walls) makes that tens of metres.
  mj_forward(v->m, v->d);
  double rad = amv_animal_radius(v->m, v->d);
  v->cam_track.distance = rad > 0 ? 3.5 * rad : 1.2 * v->m->stat.extent;
  // MuJoCo puts the near clipping plane at znear x extent (1 m for run-gaps' 100 m extent: the
  // rat, 0.5 m from the camera, vanished). Bring it to a tenth of the tracking distance at most.
  double ext = v->m->stat.extent > 0 ? v->m->stat.extent : 1;
  double near = fmin(v->m->vis.map.znear * ext, 0.1 * v->cam_track.distance);
  v->m->vis.map.znear = (float)(near / ext);
  // Steeper over scenery (maze walls 0.3 m high hid the rat from -35 deg).
  v->cam_track.elevation = v->m->nmocap > 0 ? -60 : -35;
  v->cam_track.azimuth = 60;  // from behind the left side of an animal heading +x: the path ahead shows
  if (has_free_joint(v->m)) {  // the free camera starts where the tracking camera looks
    v->cam_free = v->cam_track;
    v->cam_free.type = mjCAMERA_FREE;
    mju_copy3(v->cam_free.lookat, v->d->subtree_com + 3 * v->cam_track.trackbodyid);
  }
  mjv_defaultCamera(&v->cam_fixed);
  v->cam_mode = has_free_joint(v->m) ? AMV_CAM_TRACK : v->m->ncam > 0 ? AMV_CAM_FIXED : AMV_CAM_FREE;
  v->half_window = 100;
  v->c_module = -1;
  return 0;
}

static void cache_free(amv_view* v) {
  free(v->c_ord), free(v->c_lo), free(v->c_hi), free(v->c_proj), free(v->c_mean),
      free(v->c_comps);
  v->c_ord = NULL, v->c_lo = v->c_hi = v->c_proj = NULL, v->c_mean = v->c_comps = NULL;
  v->c_ep = NULL;
  v->c_module = -1;
}

void amv_view_free(amv_view* v) {
  cache_free(v);
  mjr_freeContext(&v->con);
  mjv_freeScene(&v->scn);
  free(v->in_animal);
  if (v->d) mj_deleteData(v->d);
  if (v->m) mj_deleteModel(v->m);
  memset(v, 0, sizeof *v);
}

void amv_view_next_camera(amv_view* v) {
  int prev = v->cam_mode;
  v->cam_mode++;
  if (v->cam_mode >= AMV_CAM_FIXED + v->m->ncam) v->cam_mode = AMV_CAM_FREE;
  if (prev == AMV_CAM_TRACK && v->cam_mode == AMV_CAM_FREE) {  // go on from the tracking view
    v->cam_free = v->cam_track;
    v->cam_free.type = mjCAMERA_FREE;
  }
}

static mjvCamera* current_camera(amv_view* v) {
  if (v->cam_mode == AMV_CAM_TRACK) {
    // MuJoCo's tracking camera low-pass filters its look-at point, so after a jump in time (a
    // scrub, a screenshot of a late step) or on a fast animal it trails behind. Looking at the
    // tracked body's subtree centre of mass directly (d is current: mj_forward ran) never lags.
    const mjtNum* com = v->d->subtree_com + 3 * v->cam_track.trackbodyid;
    v->cam_track.type = mjCAMERA_FREE;
    for (int k = 0; k < 3; k++) v->cam_track.lookat[k] = com[k];
    return &v->cam_track;
  }
  if (v->cam_mode >= AMV_CAM_FIXED) {
    v->cam_fixed.type = mjCAMERA_FIXED;
    v->cam_fixed.fixedcamid = v->cam_mode - AMV_CAM_FIXED;
    return &v->cam_fixed;
  }
  return &v->cam_free;
}

void amv_view_move_camera(amv_view* v, int action, double dx, double dy) {
  if (v->cam_mode >= AMV_CAM_FIXED) {  // dragging a fixed camera switches to a free copy of it
    v->cam_mode = AMV_CAM_FREE;
  }
  mjv_moveCamera(v->m, action, dx, dy, &v->scn, current_camera(v));
}

//---------------------------------- analysis cache ------------------------------------------------

static void refresh_cache(amv_view* v, const amv_episode* e) {
  if (e->n_modules == 0) {
    cache_free(v);
    return;
  }
  if (v->module >= e->n_modules) v->module = 0;
  const amv_module* md = &e->modules[v->module];
  int stale = v->c_ep != e || v->c_index != e->index || v->c_module != v->module ||
              v->c_order != v->order || v->c_H != md->units ||
              (e->T != v->c_T && (e->T < v->c_T || e->T >= v->c_T + 1 + v->c_T / 10));
  if (!stale) return;
  cache_free(v);
  int H = md->units, T = e->T;
  v->c_ord = malloc(sizeof(int) * H);
  v->c_lo = malloc(sizeof(float) * H);
  v->c_hi = malloc(sizeof(float) * H);
  v->c_mean = malloc(sizeof(double) * H);
  v->c_comps = malloc(sizeof(double) * 2 * H);
  v->c_proj = malloc(sizeof(float) * 2 * (size_t)(T > 0 ? T : 1));
  if (!v->c_ord || !v->c_lo || !v->c_hi || !v->c_mean || !v->c_comps || !v->c_proj) {
    cache_free(v);
    return;
  }
  amv_order_units(md->x, T, H, v->order, v->c_ord);
  amv_unit_range(md->x, T, H, v->c_lo, v->c_hi);
  v->c_npc = amv_pca(md->x, T, H, 2, v->c_mean, v->c_comps, v->c_var);
  v->c_total_var = 0;
  if (v->c_npc > 0) {
    for (int j = 0; j < H; j++) {
      double s = 0, mu = v->c_mean[j];
      for (int t = 0; t < T; t++) {
        double x = md->x[(size_t)t * H + j] - mu;
        s += x * x;
      }
      v->c_total_var += T > 1 ? s / (T - 1) : 0;
    }
    if (v->c_npc < 2) memset(v->c_comps + H, 0, sizeof(double) * H);
    amv_project(md->x, T, H, 2, v->c_mean, v->c_comps, v->c_proj);
  }
  v->c_ep = e;
  v->c_index = e->index;
  v->c_module = v->module;
  v->c_order = v->order;
  v->c_T = T;
  v->c_H = H;
}

//---------------------------------- drawing helpers -----------------------------------------------

// Sets up a panel: viewport + scissor = rect, coordinates [0,1] x [0,1], flat 2-D drawing.
static void begin_panel(amv_rect r) {
  glViewport(r.left, r.bottom, r.width, r.height);
  glScissor(r.left, r.bottom, r.width, r.height);
  glEnable(GL_SCISSOR_TEST);
  glMatrixMode(GL_PROJECTION);
  glLoadIdentity();
  glOrtho(0, 1, 0, 1, -1, 1);
  glMatrixMode(GL_MODELVIEW);
  glLoadIdentity();
  glDisable(GL_DEPTH_TEST);
  glDisable(GL_LIGHTING);
  glDisable(GL_TEXTURE_2D);
  glDisable(GL_CULL_FACE);
  glEnable(GL_BLEND);
  glBlendFunc(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA);
  glLineWidth(1.0f);
}

static void fill(float x0, float y0, float x1, float y1, float r, float g, float b, float a) {
  glColor4f(r, g, b, a);
  glBegin(GL_QUADS);
  glVertex2f(x0, y0);
  glVertex2f(x1, y0);
  glVertex2f(x1, y1);
  glVertex2f(x0, y1);
  glEnd();
}

static void frame_box(float x0, float y0, float x1, float y1, float r, float g, float b) {
  glColor4f(r, g, b, 1);
  glBegin(GL_LINE_LOOP);
  glVertex2f(x0, y0);
  glVertex2f(x1, y0);
  glVertex2f(x1, y1);
  glVertex2f(x0, y1);
  glEnd();
}

static void text(const amv_view* v, amv_rect r, float x, float y, const char* s, float cr,
                 float cg, float cb) {
  begin_panel(r);
  mjr_text(mjFONT_NORMAL, s, &v->con, x, y, cr, cg, cb);
}

// Relative height of one text line in a panel of height px.
static float line_h(const amv_view* v, amv_rect r) {
  float px = v->con.charHeight > 0 ? v->con.charHeight + 4 : 18;
  return px / (r.height > 1 ? r.height : 1);
}

// Colour map for the heatmap (dark blue -> purple -> orange -> light yellow), u in [0,1].
static void heat_colour(float u, float* c) {
  static const float k[5][3] = {
      {0.05f, 0.03f, 0.18f}, {0.35f, 0.07f, 0.45f}, {0.78f, 0.22f, 0.33f}, {0.98f, 0.58f, 0.15f},
      {0.99f, 0.96f, 0.62f}};
  if (!(u > 0)) u = 0;
  if (u > 1) u = 1;
  float s = u * 4;
  int i = (int)s;
  if (i > 3) i = 3;
  float f = s - i;
  for (int j = 0; j < 3; j++) c[j] = k[i][j] * (1 - f) + k[i + 1][j] * f;
}

// Distinct colours for lines, events and trial conditions.
static void palette(int i, float* c) {
  static const float p[10][3] = {{0.35f, 0.7f, 1.0f}, {1.0f, 0.6f, 0.2f}, {0.4f, 0.85f, 0.4f},
                                 {0.95f, 0.35f, 0.4f}, {0.7f, 0.55f, 0.95f}, {0.9f, 0.85f, 0.3f},
                                 {0.3f, 0.85f, 0.85f}, {0.95f, 0.5f, 0.8f}, {0.65f, 0.65f, 0.65f},
                                 {0.6f, 0.4f, 0.25f}};
  i = ((i % 10) + 10) % 10;
  memcpy(c, p[i], sizeof(float) * 3);
}

static int first_bit(uint32_t x) {
  for (int k = 0; k < 32; k++)
    if (x & (1u << k)) return k;
  return -1;
}

// Copies s into out shortened with ".." to fit width pixels.
static void ellipsize(const amv_view* v, const char* s, int width, char* out, size_t out_sz) {
  snprintf(out, out_sz, "%s", s);
  size_t n = strlen(out);
  while (n > 0 && amv_text_width(v->con.charWidth, out) > width) {
    n--;
    snprintf(out + n, out_sz - n, "..");
  }
}

// Text at (x, y) in a panel: the first of n texts (most to least detailed) that fits before the
// panel's right edge, else the last one shortened.
static void text_fit(const amv_view* v, amv_rect r, float x, float y, const char* const* texts,
                     int n, float cr, float cg, float cb) {
  int width = (int)((1 - x) * r.width) - 6;
  int i = amv_fit(v->con.charWidth, texts, n, width);
  char s[512];
  ellipsize(v, texts[i >= 0 ? i : n - 1], width, s, sizeof s);
  text(v, r, x, y, s, cr, cg, cb);
}

// The title line of a panel (text_fit).
static void panel_title(const amv_view* v, amv_rect r, const char* const* texts, int n) {
  text_fit(v, r, 6.0f / (r.width > 1 ? r.width : 1), 1 - line_h(v, r) + 0.15f * line_h(v, r), texts,
           n, 0.9f, 0.9f, 0.9f);
}

//---------------------------------- body view -----------------------------------------------------

// Task variables that are points (amv_var_points): a mocap body's variables place it (before the
// scene is built, see place_scenery); the others become labelled marker spheres: targets, goals,
// cues.
static void add_var_markers(amv_view* v, const amv_meta* meta, const amv_episode* e, int t) {
  if (!e->n_vars || !e->vars || meta->n_vars > e->n_vars) return;
  const float* vars = e->vars + (size_t)t * e->n_vars;
  amv_var_point pts[AM_MAX_VARS];
  int np = amv_var_points(v->m, meta, pts, AM_MAX_VARS), marker = 0;
  for (int k = 0; k < np; k++) {
    const amv_var_point* p = &pts[k];
    if (p->mocap >= 0 || v->scn.ngeom >= v->scn.maxgeom) continue;
    mjtNum pos[3] = {vars[p->ix], vars[p->iy], p->iz >= 0 ? vars[p->iz] : 0};
    // 1-2 cm: the scene's extent is the arena's (a 100 m run plane), not the animal's.
    double ext = v->m->stat.extent < 0.5 ? 0.5 : v->m->stat.extent > 1 ? 1 : v->m->stat.extent;
    mjtNum size[3] = {0.02 * ext, 0, 0};
    float c[4];
    palette(3 + marker++, c);
    c[3] = 0.6f;
    mjvGeom* g = &v->scn.geoms[v->scn.ngeom++];
    mjv_initGeom(g, mjGEOM_SPHERE, size, pos, NULL, c);
    g->category = mjCAT_DECOR;
    snprintf(g->label, sizeof g->label, "%.*s", (int)sizeof g->label - 1, p->name);
  }
}

// The scenery of step t: the recorded mocap poses in force, then mocap bodies placed by task
// variables (the two-tap orb moves within an episode; its variables say where).
static void place_scenery(amv_view* v, const amv_meta* meta, const amv_episode* e, int t) {
  mjModel* m = v->m;
  mjData* d = v->d;
  const double* sc = e->nmocap == m->nmocap ? amv_episode_scene(e, t) : NULL;
  if (sc) {
    memcpy(d->mocap_pos, sc, sizeof(double) * 3 * m->nmocap);
    memcpy(d->mocap_quat, sc + 3 * m->nmocap, sizeof(double) * 4 * m->nmocap);
  } else {  // nothing recorded: the model's poses
    for (int b = 0; b < m->nbody; b++)
      if (m->body_mocapid[b] >= 0) {
        mju_copy3(d->mocap_pos + 3 * m->body_mocapid[b], m->body_pos + 3 * b);
        mju_copy4(d->mocap_quat + 4 * m->body_mocapid[b], m->body_quat + 4 * b);
      }
  }
  if (e->T < 1 || !e->n_vars || !e->vars || meta->n_vars > e->n_vars) return;
  const float* vars = e->vars + (size_t)t * e->n_vars;
  amv_var_point pts[AM_MAX_VARS];
  int np = amv_var_points(m, meta, pts, AM_MAX_VARS);
  for (int k = 0; k < np; k++) {
    if (pts[k].mocap < 0) continue;
    mjtNum* p = d->mocap_pos + 3 * pts[k].mocap;
    p[0] = vars[pts[k].ix];
    p[1] = vars[pts[k].iy];
    if (pts[k].iz >= 0) p[2] = vars[pts[k].iz];
  }
}

// Leaves the animal or the scenery out of the scene (hide_body, hide_scenery).
static void hide_geoms(amv_view* v) {
  if (!v->hide_body && !v->hide_scenery) return;
  const mjModel* m = v->m;
  int n = 0;
  for (int i = 0; i < v->scn.ngeom; i++) {
    const mjvGeom* g = &v->scn.geoms[i];
    int b = -1;
    if (g->objtype == mjOBJ_GEOM) b = m->geom_bodyid[g->objid];
    else if (g->objtype == mjOBJ_SITE) b = m->site_bodyid[g->objid];
    int drop = (b >= 0 && v->hide_body && v->in_animal[b]) ||
               (b >= 0 && v->hide_scenery && m->body_mocapid[b] >= 0) ||
               (g->objtype == mjOBJ_TENDON && v->hide_body);
    if (!drop) v->scn.geoms[n++] = *g;
  }
  v->scn.ngeom = n;
}

// Index of the task variable called name, or -1.
static int var_index(const amv_meta* meta, const amv_episode* e, const char* name) {
  for (int j = 0; j < meta->n_vars && j < e->n_vars; j++)
    if (strcmp(meta->vars[j], name) == 0) return j;
  return -1;
}

// Task variables "<name>_fx", "<name>_fy" (optionally "_fz") are a force in newtons applied where
// "<name>_x/_y(/_z)" says, or else at the model's site <name> (e.g. a force field at the hand):
// drawn as an arrow of 3 cm per newton (at most 0.5 m) pointing along the force, 5 cm above the
// point so that the limb it pushes does not hide it.
static void add_var_forces(amv_view* v, const amv_meta* meta, const amv_episode* e, int t) {
  if (!e->n_vars || !e->vars) return;
  const float* vars = e->vars + (size_t)t * e->n_vars;
  for (int i = 0; i < meta->n_vars && i < e->n_vars; i++) {
    const char* nm = meta->vars[i];
    size_t n = strlen(nm);
    if (n < 4 || strcmp(nm + n - 3, "_fx") != 0) continue;
    char stem[AM_NAME_LEN], key[AM_NAME_LEN + 4];
    snprintf(stem, sizeof stem, "%.*s", (int)(n - 3), nm);
    snprintf(key, sizeof key, "%s_fy", stem);
    int iy = var_index(meta, e, key);
    snprintf(key, sizeof key, "%s_fz", stem);
    int iz = var_index(meta, e, key);
    if (iy < 0 || v->scn.ngeom >= v->scn.maxgeom) continue;
    mjtNum f[3] = {vars[i], vars[iy], iz >= 0 ? vars[iz] : 0}, at[3] = {0, 0, 0};
    snprintf(key, sizeof key, "%s_x", stem);
    int px = var_index(meta, e, key);
    snprintf(key, sizeof key, "%s_y", stem);
    int py = var_index(meta, e, key);
    int site = mj_name2id(v->m, mjOBJ_SITE, stem);
    if (px >= 0 && py >= 0) {
      at[0] = vars[px];
      at[1] = vars[py];
    } else if (site >= 0) {
      mju_copy3(at, v->d->site_xpos + 3 * site);
    } else {
      continue;
    }
    mjtNum len = mju_norm3(f);
    if (len < 1e-6) continue;
    at[2] += 0.05;  // just above the point, so that the limb it pushes does not hide it
    mjtNum scale = (len * 0.03 > 0.5 ? 0.5 : len * 0.03) / len;
    float c[4] = {1.0f, 0.35f, 0.1f, 1.0f};
    mjvGeom* g = &v->scn.geoms[v->scn.ngeom++];
    mjtNum unit[3] = {1, 1, 1};
    mjv_initGeom(g, mjGEOM_ARROW, unit, at, NULL, c);
    mjv_makeConnector(g, mjGEOM_ARROW, 0.01, at[0], at[1], at[2], at[0] + scale * f[0],
                      at[1] + scale * f[1], at[2] + scale * f[2]);
    g->category = mjCAT_DECOR;
  }
}

static void draw_body(amv_view* v, const amv_meta* meta, const amv_episode* e, int t,
                      amv_rect r) {
  mjModel* m = v->m;
  mjData* d = v->d;
  if (e->T > 0) {
    memcpy(d->qpos, e->qpos + (size_t)t * e->nq, sizeof(double) * m->nq);
    if (e->act && e->na == m->na && m->na > 0)
      memcpy(d->act, e->act + (size_t)t * e->na, sizeof(double) * m->na);
    mju_zero(d->qvel, m->nv);
    d->time = t * e->dt;
  }
  place_scenery(v, meta, e, e->T > 0 ? t : 0);
  mj_forward(m, d);
  v->opt.flags[mjVIS_CONTACTFORCE] = v->show_forces;
  v->opt.flags[mjVIS_PERTFORCE] = 1;
  mjv_updateScene(m, d, &v->opt, NULL, current_camera(v), mjCAT_ALL, &v->scn);
  hide_geoms(v);
  if (e->T > 0) {
    add_var_markers(v, meta, e, t);
    add_var_forces(v, meta, e, t);
  }
  mjrRect rr = {r.left, r.bottom, r.width, r.height};
  mjr_render(rr, &v->scn, &v->con);
  static const char* cams[] = {"free", "tracking"};
  char cam[80];
  if (v->cam_mode < AMV_CAM_FIXED) snprintf(cam, sizeof cam, "%s", cams[v->cam_mode]);
  else {
    const char* nm = mj_id2name(m, mjOBJ_CAMERA, v->cam_mode - AMV_CAM_FIXED);
    snprintf(cam, sizeof cam, "model camera %s", nm ? nm : "?");
  }
  char left[512], right[512];
  snprintf(left, sizeof left, "%s\nEpisode\nStep\nTime\nCamera", meta->task[0] ? "Task" : "");
  snprintf(right, sizeof right, "%s\n%lld\n%d / %d\n%.2f s\n%s", meta->task,
           (long long)e->index, t, e->T > 0 ? e->T - 1 : 0, t * e->dt, cam);
  mjr_overlay(mjFONT_NORMAL, mjGRID_TOPLEFT, rr, left, right, &v->con);
  char src[1400];
  int status_w = v->status[0] ? amv_text_width(v->con.charWidth, v->status) + 30 : 0;
  ellipsize(v, meta->origin, r.width - 30 - status_w, src, sizeof src);
  mjr_overlay(mjFONT_NORMAL, mjGRID_BOTTOMLEFT, rr, src, v->status, &v->con);
  if (!v->show_help) mjr_overlay(mjFONT_NORMAL, mjGRID_TOPRIGHT, rr, "h / F1: help", NULL, &v->con);
}

//---------------------------------- neural heatmap ------------------------------------------------

static void draw_heatmap(amv_view* v, const amv_episode* e, int t, amv_rect r) {
  begin_panel(r);
  fill(0, 0, 1, 1, 0.08f, 0.08f, 0.1f, 1);
  float lh = line_h(v, r);
  if (e->n_modules == 0 || !v->c_ord) {
    panel_title(v, r, (const char*[]){"Neural activity"}, 1);
    text_fit(v, r, 0.05f, 0.5f, (const char*[]){"no neural activity in this episode",
                                                  "no neural activity"}, 2, 0.7f, 0.7f, 0.7f);
    text_fit(v, r, 0.05f, 0.5f - lh,
             (const char*[]){"(run with --checkpoint, or a dataset that recorded units)",
                             "(--checkpoint, or a dataset with units)"}, 2, 0.6f, 0.6f, 0.6f);
    return;
  }
  const amv_module* md = &e->modules[v->module];
  int H = md->units, W = v->half_window;
  int t0 = t - W, t1 = t + W;
  if (e->T <= 2 * W + 1) t0 = 0, t1 = e->T - 1 > 0 ? e->T - 1 : 1;  // short episode: all of it
  float x0 = 0.02f, x1 = 0.98f, y0 = 0.04f, y1 = 1 - 1.4f * lh;
  begin_panel(r);
  float dx = (x1 - x0) / (t1 - t0 + 1), dy = (y1 - y0) / H;
  glBegin(GL_QUADS);
  for (int i = 0; i < H; i++) {
    int j = v->c_ord[i];
    float lo = v->c_lo[j], span = v->c_hi[j] - lo;
    float ya = y1 - (i + 1) * dy, yb = y1 - i * dy;
    for (int s = t0; s <= t1; s++) {
      if (s < 0 || s >= e->T) continue;
      float u = span > 1e-9f ? (md->x[(size_t)s * H + j] - lo) / span : 0.5f, c[3];
      heat_colour(u, c);
      glColor4f(c[0], c[1], c[2], 1);
      float xa = x0 + (s - t0) * dx;
      glVertex2f(xa, ya);
      glVertex2f(xa + dx, ya);
      glVertex2f(xa + dx, yb);
      glVertex2f(xa, yb);
    }
  }
  glEnd();
  float xc = x0 + (t - t0 + 0.5f) * dx;
  glLineWidth(2);
  glColor4f(0.3f, 1, 0.5f, 0.9f);
  glBegin(GL_LINES);
  glVertex2f(xc, y0);
  glVertex2f(xc, y1);
  glEnd();
  frame_box(x0, y0, x1, y1, 0.5f, 0.5f, 0.55f);
  char s[3][256];
  snprintf(s[0], sizeof s[0], "Neural: %s  %d units  (module %d/%d)  order: %s  +-%d steps",
           md->name, H, v->module + 1, e->n_modules, amv_order_name(v->order), W);
  snprintf(s[1], sizeof s[1], "%s  %d units  (%d/%d)  %s  +-%d", md->name, H, v->module + 1,
           e->n_modules, amv_order_name(v->order), W);
  snprintf(s[2], sizeof s[2], "%s  %d units", md->name, H);
  panel_title(v, r, (const char*[]){s[0], s[1], s[2]}, 3);
}

//---------------------------------- population panel ----------------------------------------------

static void draw_population(amv_view* v, const amv_meta* meta, const amv_episode* e, int t,
                            amv_rect r) {
  begin_panel(r);
  fill(0, 0, 1, 1, 0.1f, 0.1f, 0.12f, 1);
  float lh = line_h(v, r);
  if (e->n_modules == 0 || !v->c_ord || v->c_npc < 1 || e->T < 2) {
    panel_title(v, r, (const char*[]){"Population (PCA)"}, 1);
    text(v, r, 0.05f, 0.5f, e->n_modules ? "too few steps for PCA" : "no neural activity",
         0.7f, 0.7f, 0.7f);
    return;
  }
  const float* P = v->c_proj;
  int T = v->c_T < e->T ? v->c_T : e->T;
  if (t >= T) t = T - 1;
  float mn[2] = {P[0], P[1]}, mx[2] = {P[0], P[1]};
  for (int s = 1; s < T; s++)
    for (int c = 0; c < 2; c++) {
      if (P[2 * s + c] < mn[c]) mn[c] = P[2 * s + c];
      if (P[2 * s + c] > mx[c]) mx[c] = P[2 * s + c];
    }
  float x0 = 0.08f, x1 = 0.97f, y0 = 0.1f, y1 = 1 - 1.6f * lh;
  float sx = mx[0] - mn[0] > 1e-9f ? (x1 - x0) / (mx[0] - mn[0]) : 1;
  float sy = mx[1] - mn[1] > 1e-9f ? (y1 - y0) / (mx[1] - mn[1]) : 1;
#define PX(s) (x0 + (P[2 * (s)] - mn[0]) * sx)
#define PY(s) (y0 + (P[2 * (s) + 1] - mn[1]) * sy)
  begin_panel(r);
  frame_box(x0, y0, x1, y1, 0.4f, 0.4f, 0.45f);
  glColor4f(0.6f, 0.6f, 0.65f, 0.25f);  // the whole episode, faint
  glBegin(GL_LINE_STRIP);
  for (int s = 0; s < T; s++) glVertex2f(PX(s), PY(s));
  glEnd();
  int cv = meta->condition_var;
  glLineWidth(2);
  glBegin(GL_LINE_STRIP);  // the trajectory so far: colour by condition, else by time
  for (int s = 0; s <= t; s++) {
    float c[3];
    if (cv >= 0 && cv < e->n_vars) palette((int)lrintf(e->vars[(size_t)s * e->n_vars + cv]), c);
    else {
      float u = (float)s / (T - 1);
      c[0] = 0.3f + 0.7f * u, c[1] = 0.6f, c[2] = 1.0f - 0.7f * u;
    }
    glColor4f(c[0], c[1], c[2], 1);
    glVertex2f(PX(s), PY(s));
  }
  glEnd();
  glPointSize(10);
  glColor4f(1, 1, 1, 1);
  glBegin(GL_POINTS);
  glVertex2f(PX(t), PY(t));
  glEnd();
  glPointSize(6);
  glColor4f(0.95f, 0.2f, 0.2f, 1);
  glBegin(GL_POINTS);
  glVertex2f(PX(t), PY(t));
  glEnd();
#undef PX
#undef PY
  char s[256], ts[3][256];
  double tv = v->c_total_var > 0 ? v->c_total_var : 1;
  const char* name = e->modules[v->module].name;
  double pc1 = 100 * v->c_var[0] / tv, pc2 = v->c_npc > 1 ? 100 * v->c_var[1] / tv : 0.0;
  snprintf(ts[0], sizeof ts[0], "Population: %s  PC1 %.0f%%  PC2 %.0f%%  %s", name, pc1, pc2,
           cv >= 0 ? "colour: condition" : "colour: time (blue to orange)");
  snprintf(ts[1], sizeof ts[1], "%s  PC1 %.0f%%  PC2 %.0f%%  %s", name, pc1, pc2,
           cv >= 0 ? "colour: condition" : "colour: time");
  snprintf(ts[2], sizeof ts[2], "%s  PC1 %.0f%%  PC2 %.0f%%", name, pc1, pc2);
  panel_title(v, r, (const char*[]){ts[0], ts[1], ts[2]}, 3);
  if (cv >= 0) {
    snprintf(s, sizeof s, "%s = %g", meta->vars[cv], e->vars[(size_t)t * e->n_vars + cv]);
    text(v, r, 0.09f, y0 + 0.02f, s, 0.8f, 0.8f, 0.8f);
  }
  text(v, r, 0.5f, 0.02f, "PC1", 0.7f, 0.7f, 0.7f);
  text(v, r, 0.005f, 0.5f, "PC2", 0.7f, 0.7f, 0.7f);
}

//---------------------------------- behaviour traces + timeline -----------------------------------

typedef struct trace_row {
  const char* name;
  const float* x;  // (T x width)
  int width;
} trace_row;

static float timeline_h(const amv_view* v, amv_rect r) { return 1.1f * line_h(v, r); }


// A vertical line from y0 to y1 at every step of the episode with a trial event, coloured by the
// event's code (the same colours as the legend).
static void event_lines(const amv_episode* e, int T, float x0, float x1, float span, float y0,
                        float y1, float alpha) {
  glBegin(GL_LINES);
  for (int s = 0; s < T; s++) {
    int k = first_bit(e->events[s]);
    if (k < 0) continue;
    float c[3], x = x0 + (x1 - x0) * s / span;
    palette(k + 4, c);
    glColor4f(c[0], c[1], c[2], alpha);
    glVertex2f(x, y0);
    glVertex2f(x, y1);
  }
  glEnd();
}

// The behaviour rows: reward, speed, then up to three channels.
static int trace_rows(const amv_episode* e, trace_row* rows) {
  int n = 0;
  rows[n++] = (trace_row){"reward", e->reward, 1};
  rows[n++] = (trace_row){"speed (m/s)", e->speed, 1};
  for (int i = 0; i < e->n_channels && n < 5; i++)
    rows[n++] = (trace_row){e->channels[i].name, e->channels[i].x, e->channels[i].width};
  return n;
}

// Left edge of the traces (fraction of the panel): right of the widest row label or value.
static float trace_x0(const amv_view* v, const amv_episode* e, amv_rect r) {
  trace_row rows[2 + AMV_MAX_CHANNELS];
  int n = trace_rows(e, rows), w = amv_text_width(v->con.charWidth, "-0.0000e-00");
  for (int i = 0; i < n; i++) {
    int wi = amv_text_width(v->con.charWidth, rows[i].name);
    if (wi > w) w = wi;
  }
  float x0 = (w + 10.0f) / (r.width > 1 ? r.width : 1);
  return x0 < 0.12f ? 0.12f : x0 > 0.35f ? 0.35f : x0;
}

static void draw_traces(amv_view* v, const amv_meta* meta, const amv_episode* e, int t,
                        amv_rect r) {
  begin_panel(r);
  fill(0, 0, 1, 1, 0.12f, 0.12f, 0.14f, 1);
  float lh = line_h(v, r), tl = timeline_h(v, r);
  int T = e->T;
  // title and the legend of the events that occur in this episode, flowed over up to 3 lines
  const int* cw = v->con.charWidth;
  int names[32], widths[32], lx[32], lline[32], nl = 0;
  uint32_t seen = 0;
  for (int s = 0; s < T; s++) seen |= e->events[s];
  for (int k = 0; k < 32; k++)
    if (seen & (1u << k)) {
      names[nl] = k;
      widths[nl++] = amv_text_width(cw, k < meta->n_events ? meta->events[k] : "?");
    }
  const char* title = nl ? "Behaviour    events:" : "Behaviour";
  int pad = 6, gap = amv_text_width(cw, "   "), right = r.width - pad;
  int first = pad + amv_text_width(cw, title) + gap;
  int left = pad + amv_text_width(cw, "Behaviour") + gap;
  int placed = amv_flow(widths, nl, first, left, right, gap, 3, lx, lline);
  if (placed < nl) {  // room for "+N more" at the end: drop labels until it fits
    char more[32];
    while (placed > 0) {
      snprintf(more, sizeof more, "+%d more", nl - placed);
      int mw = amv_text_width(cw, more), last = placed - 1;
      if (lx[last] + widths[last] + gap + mw <= right) break;
      placed--;
    }
  }
  int lines = 1;
  for (int i = 0; i < placed; i++)
    if (lline[i] + 1 > lines) lines = lline[i] + 1;
  float ytext = 1 - lh + 0.15f * lh;
  text(v, r, (float)pad / r.width, ytext, title, 0.9f, 0.9f, 0.9f);
  for (int i = 0; i < placed; i++) {
    float c[3];
    palette(names[i] + 4, c);
    int k = names[i];
    text(v, r, (float)lx[i] / r.width, ytext - lline[i] * lh, k < meta->n_events ? meta->events[k] : "?",
         c[0], c[1], c[2]);
  }
  if (placed < nl) {
    char more[32];
    snprintf(more, sizeof more, "+%d more", nl - placed);
    int xm = placed ? lx[placed - 1] + widths[placed - 1] + gap : first, lm = placed ? lline[placed - 1] : 0;
    text(v, r, (float)xm / r.width, ytext - lm * lh, more, 0.7f, 0.7f, 0.7f);
  }
  trace_row rows[2 + AMV_MAX_CHANNELS];
  int n = trace_rows(e, rows);
  float x0 = trace_x0(v, e, r), x1 = 0.99f, top = 1 - (lines + 0.2f) * lh, bot = tl + 0.02f;
  float rowh = (top - bot) / n;
  float span = T > 1 ? (float)(T - 1) : 1;
  // trial events: vertical lines across all rows
  if (T > 0) {
    begin_panel(r);
    glLineWidth(1);
    event_lines(e, T, x0, x1, span, bot, top, 0.7f);
  }
  for (int i = 0; i < n; i++) {
    float ya = top - (i + 1) * rowh, yb = top - i * rowh;
    trace_row* tr = &rows[i];
    begin_panel(r);
    fill(x0, ya + 0.1f * rowh, x1, yb - 0.05f * rowh, 1, 1, 1, 0.03f);
    if (T < 1 || !tr->x) continue;
    float lo = tr->x[0], hi = lo;
    for (size_t k = 0; k < (size_t)T * tr->width; k++) {
      if (tr->x[k] < lo) lo = tr->x[k];
      if (tr->x[k] > hi) hi = tr->x[k];
    }
    if (hi - lo < 1e-6f) hi = lo + 1, lo -= 0;
    int width = tr->width > 12 ? 12 : tr->width;
    for (int c = 0; c < width; c++) {
      float col[3];
      palette(tr->width == 1 ? i : c, col);
      glColor4f(col[0], col[1], col[2], 0.95f);
      glBegin(GL_LINE_STRIP);
      for (int s = 0; s < T; s++) {
        float y = (tr->x[(size_t)s * tr->width + c] - lo) / (hi - lo);
        glVertex2f(x0 + (x1 - x0) * s / span, ya + 0.12f * rowh + 0.78f * rowh * y);
      }
      glEnd();
    }
    char s[160];
    float cur = tr->x[(size_t)(t < T ? t : T - 1) * tr->width];
    if (tr->width == 1) snprintf(s, sizeof s, "%.4g", cur);
    else if (tr->width > 12) snprintf(s, sizeof s, "12 of %d", tr->width);
    else snprintf(s, sizeof s, "%d lines", tr->width);
    if (rowh >= 2 * lh) {  // name and value on two lines; a short row: the name only
      text(v, r, 0.005f, ya + 0.5f * rowh, tr->name, 0.85f, 0.85f, 0.85f);
      text(v, r, 0.005f, ya + 0.5f * rowh - lh, s, 0.6f, 0.6f, 0.6f);
    } else {
      text(v, r, 0.005f, ya + 0.5f * rowh - 0.4f * lh, tr->name, 0.85f, 0.85f, 0.85f);
    }
  }
  // cursor
  begin_panel(r);
  if (T > 0) {
    float xc = x0 + (x1 - x0) * t / span;
    glLineWidth(2);
    glColor4f(1, 1, 1, 0.9f);
    glBegin(GL_LINES);
    glVertex2f(xc, bot);
    glVertex2f(xc, top);
    glEnd();
  }
  // timeline: played part, event ticks, cursor knob
  fill(x0, 0.01f, x1, tl, 0.25f, 0.25f, 0.3f, 1);
  if (T > 0) {
    fill(x0, 0.01f, x0 + (x1 - x0) * t / span, tl, 0.3f, 0.5f, 0.8f, 1);
    event_lines(e, T, x0, x1, span, 0.01f, tl, 1);
    float xc = x0 + (x1 - x0) * t / span;
    fill(xc - 0.004f, 0.0f, xc + 0.004f, tl + 0.01f, 1, 1, 1, 1);
  }
  text(v, r, 0.005f, 0.01f + 0.1f * lh, "timeline", 0.7f, 0.7f, 0.7f);
}

int amv_view_step_at(const amv_view* v, const amv_episode* e, int x, int y, int w, int h) {
  amv_rect rc[AMV_NRECT];
  amv_layout(w, h, rc);
  amv_rect r = rc[AMV_RECT_TRACE];
  if (x < r.left || x >= r.left + r.width || y < r.bottom || y >= r.bottom + r.height) return -1;
  float fx = (float)(x - r.left) / r.width, x0 = trace_x0(v, e, r), x1 = 0.99f;
  if (fx < x0 - 0.02f || e->T < 1) return -1;
  float u = (fx - x0) / (x1 - x0);
  if (u < 0) u = 0;
  if (u > 1) u = 1;
  return (int)lrintf(u * (e->T - 1));
}

//---------------------------------- help and composition ------------------------------------------

static void draw_help(amv_view* v, int w, int h) {
  mjrRect all = {0, 0, w, h};
  mjr_overlay(mjFONT_NORMAL, mjGRID_TOPRIGHT, all, v->help_text ? v->help_text : "", NULL, &v->con);
}

void amv_view_render(amv_view* v, const amv_meta* meta, const amv_episode* e, int t, int w,
                     int h) {
  if (e->T > 0) {
    if (t < 0) t = 0;
    if (t >= e->T) t = e->T - 1;
  } else t = 0;
  amv_rect rc[AMV_NRECT];
  amv_layout(w, h, rc);
  glDisable(GL_SCISSOR_TEST);
  glViewport(0, 0, w, h);
  glClearColor(0.05f, 0.05f, 0.06f, 1);
  glClear(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);
  refresh_cache(v, e);
  draw_body(v, meta, e, t, rc[AMV_RECT_BODY]);
  draw_heatmap(v, e, t, rc[AMV_RECT_HEAT]);
  draw_population(v, meta, e, t, rc[AMV_RECT_POP]);
  draw_traces(v, meta, e, t, rc[AMV_RECT_TRACE]);
  // thin separators between panels
  begin_panel((amv_rect){0, 0, w, h});
  glColor4f(0.3f, 0.3f, 0.35f, 1);
  glLineWidth(2);
  glBegin(GL_LINES);
  for (int i = 1; i < AMV_NRECT; i++) {
    float x = (float)rc[i].left / w, y0 = (float)rc[i].bottom / h,
          y1 = (float)(rc[i].bottom + rc[i].height) / h;
    glVertex2f(x, y0), glVertex2f(x, y1);
    float x1 = (float)(rc[i].left + rc[i].width) / w, yt = y1;
    glVertex2f(x, yt), glVertex2f(x1, yt);
  }
  glEnd();
  glDisable(GL_SCISSOR_TEST);
  if (v->show_help) draw_help(v, w, h);
}
