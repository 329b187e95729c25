// amv_episode.c: the in-memory episode the viewer shows, and what is derived from it.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amv.h"

static int grow(void** p, size_t elem, size_t n) {
  if (n == 0) return 0;
  void* q = realloc(*p, elem * n);
  if (!q) return -1;
  *p = q;
  return 0;
}

int amv_episode_init(amv_episode* e, int cap, int nq, int na, int n_vars, char* err,
                     size_t err_sz) {
  memset(e, 0, sizeof *e);
  e->nq = nq;
  e->na = na;
  e->n_vars = n_vars;
  e->dt = 0.01;
  return amv_episode_reserve(e, cap < 16 ? 16 : cap, err, err_sz);
}

int amv_episode_reserve(amv_episode* e, int cap, char* err, size_t err_sz) {
  if (cap <= e->cap) return 0;
  size_t c = (size_t)cap;
  if (grow((void**)&e->qpos, sizeof(double), c * e->nq) ||
      grow((void**)&e->act, sizeof(double), c * e->na) ||
      grow((void**)&e->reward, sizeof(float), c) || grow((void**)&e->events, sizeof(uint32_t), c) ||
      grow((void**)&e->vars, sizeof(float), c * e->n_vars) ||
      grow((void**)&e->speed, sizeof(float), c))
    return am_err(err, err_sz, "viewer: out of memory for an episode of %d steps", cap);
  for (int i = 0; i < e->n_modules; i++)
    if (grow((void**)&e->modules[i].x, sizeof(float), c * e->modules[i].units))
      return am_err(err, err_sz, "viewer: out of memory for module activity");
  for (int i = 0; i < e->n_channels; i++)
    if (grow((void**)&e->channels[i].x, sizeof(float), c * e->channels[i].width))
      return am_err(err, err_sz, "viewer: out of memory for a channel");
  e->cap = cap;
  return 0;
}

int amv_episode_add_module(amv_episode* e, const char* name, int units, char* err, size_t err_sz) {
  if (e->n_modules >= AMV_MAX_MODULES || units <= 0)
    return am_err(err, err_sz, "viewer: too many modules or no units (%s)", name);
  amv_module* md = &e->modules[e->n_modules];
  memset(md, 0, sizeof *md);
  snprintf(md->name, sizeof md->name, "%s", name);
  md->units = units;
  md->x = calloc((size_t)e->cap * units, sizeof(float));
  if (!md->x) return am_err(err, err_sz, "viewer: out of memory for module %s", name);
  return e->n_modules++;
}

int amv_episode_add_channel(amv_episode* e, const char* name, int width, char* err,
                            size_t err_sz) {
  if (e->n_channels >= AMV_MAX_CHANNELS || width <= 0)
    return am_err(err, err_sz, "viewer: too many channels or empty channel (%s)", name);
  amv_channel* ch = &e->channels[e->n_channels];
  memset(ch, 0, sizeof *ch);
  snprintf(ch->name, sizeof ch->name, "%s", name);
  ch->width = width;
  ch->x = calloc((size_t)e->cap * width, sizeof(float));
  if (!ch->x) return am_err(err, err_sz, "viewer: out of memory for channel %s", name);
  return e->n_channels++;
}

void amv_episode_free(amv_episode* e) {
  free(e->qpos);
  free(e->act);
  free(e->reward);
  free(e->events);
  free(e->vars);
  free(e->speed);
  free(e->scene_step);
  free(e->scene);
  for (int i = 0; i < e->n_modules; i++) free(e->modules[i].x);
  for (int i = 0; i < e->n_channels; i++) free(e->channels[i].x);
  memset(e, 0, sizeof *e);
}

int amv_episode_set_scene(amv_episode* e, int step, const double* pos, const double* quat,
                          char* err, size_t err_sz) {
  size_t w = 7 * (size_t)e->nmocap;
  if (w == 0) return 0;
  while (e->n_scene > 0 && e->scene_step[e->n_scene - 1] >= step) e->n_scene--;
  if (e->n_scene == 0) step = 0;
  else {
    const double* last = e->scene + (e->n_scene - 1) * w;
    if (!memcmp(last, pos, sizeof(double) * 3 * e->nmocap) &&
        !memcmp(last + 3 * e->nmocap, quat, sizeof(double) * 4 * e->nmocap))
      return 0;
  }
  if (e->n_scene >= e->scene_cap) {
    int cap = e->scene_cap ? 2 * e->scene_cap : 4;
    if (grow((void**)&e->scene_step, sizeof(int), (size_t)cap) ||
        grow((void**)&e->scene, sizeof(double), w * cap))
      return am_err(err, err_sz, "viewer: out of memory for the scenery");
    e->scene_cap = cap;
  }
  e->scene_step[e->n_scene] = step;
  memcpy(e->scene + e->n_scene * w, pos, sizeof(double) * 3 * e->nmocap);
  memcpy(e->scene + e->n_scene * w + 3 * e->nmocap, quat, sizeof(double) * 4 * e->nmocap);
  e->n_scene++;
  return 0;
}

const double* amv_episode_scene(const amv_episode* e, int t) {
  if (e->n_scene < 1) return NULL;
  int k = e->n_scene - 1;
  while (k > 0 && e->scene_step[k] > t) k--;
  return e->scene + (size_t)k * 7 * e->nmocap;
}

void amv_episode_clear_scene(amv_episode* e) { e->n_scene = 0; }

int amv_track_body(const mjModel* m) {
  for (int j = 0; j < m->njnt; j++)
    if (m->jnt_type[j] == mjJNT_FREE) return m->jnt_bodyid[j];
  int best = 0, best_depth = -1;  // fixed base: the deepest body of the tree (the hand)
  for (int b = 1; b < m->nbody; b++) {
    int depth = 0;
    for (int p = b; p > 0; p = m->body_parentid[p]) depth++;
    if (depth >= best_depth) best = b, best_depth = depth;
  }
  return best;
}

int amv_animal_bodies(const mjModel* m, unsigned char* in_animal) {
  int root = m->body_rootid[amv_track_body(m)], n = 0;
  for (int b = 0; b < m->nbody; b++) {
    in_animal[b] = b > 0 && root > 0 && m->body_rootid[b] == root;
    n += in_animal[b];
  }
  return n;
}

double amv_animal_radius(const mjModel* m, const mjData* d) {
  int tb = amv_track_body(m), root = m->body_rootid[tb];
  double rad = 0;
  for (int g = 0; g < m->ngeom; g++) {
    int b = m->geom_bodyid[g];
    if (b == 0 || root == 0 || m->body_rootid[b] != root || m->geom_type[g] == mjGEOM_PLANE)
      continue;
    double dx = d->geom_xpos[3 * g] - d->xpos[3 * tb], dy = d->geom_xpos[3 * g + 1] - d->xpos[3 * tb + 1],
           dz = d->geom_xpos[3 * g + 2] - d->xpos[3 * tb + 2];
    double r = sqrt(dx * dx + dy * dy + dz * dz) + m->geom_rbound[g];
    if (r > rad) rad = r;
  }
  return rad;
}

void amv_episode_derive(amv_episode* e, const mjModel* m, mjData* d) {
  int b = amv_track_body(m);
  double prev[3] = {0, 0, 0};
  for (int t = 0; t < e->T; t++) {
    memcpy(d->qpos, e->qpos + (size_t)t * e->nq, sizeof(double) * m->nq);
    mj_kinematics(m, d);
    const double* p = d->xpos + 3 * b;
    if (t == 0) e->speed[t] = 0;
    else {
      double dx = p[0] - prev[0], dy = p[1] - prev[1], dz = p[2] - prev[2];
      e->speed[t] = (float)(sqrt(dx * dx + dy * dy + dz * dz) / (e->dt > 0 ? e->dt : 1));
    }
    memcpy(prev, p, sizeof prev);
  }
  if (e->T > 1) e->speed[0] = e->speed[1];
}

int amv_find_condition_var(const amv_meta* meta) {
  static const char* names[] = {"condition", "cond", "target_index", "target_id", "trial_type",
                                "direction", "context", "block"};
  for (size_t k = 0; k < sizeof names / sizeof *names; k++)
    for (int i = 0; i < meta->n_vars; i++)
      if (strcmp(meta->vars[i], names[k]) == 0) return i;
  return -1;
}

int amv_var_points(const mjModel* m, const amv_meta* meta, amv_var_point* out, int max) {
  int n = 0;
  for (int i = 0; i < meta->n_vars && n < max; i++) {
    const char* nm = meta->vars[i];
    size_t len = strlen(nm);
    if (len < 3 || strcmp(nm + len - 2, "_x") != 0) continue;
    amv_var_point p = {.ix = i, .iy = -1, .iz = -1, .mocap = -1};
    snprintf(p.name, sizeof p.name, "%.*s", (int)(len - 2), nm);
    for (int j = 0; j < meta->n_vars; j++) {
      size_t lj = strlen(meta->vars[j]);
      if (lj != len || strncmp(meta->vars[j], p.name, len - 2) != 0) continue;
      if (!strcmp(meta->vars[j] + len - 2, "_y")) p.iy = j;
      if (!strcmp(meta->vars[j] + len - 2, "_z")) p.iz = j;
    }
    if (p.iy < 0 || mj_name2id(m, mjOBJ_JOINT, p.name) >= 0) continue;
    int b = mj_name2id(m, mjOBJ_BODY, p.name);
    // a composite's member variable ("two-tap.orb_x") places the member's body ("orb")
    const char* dot = strrchr(p.name, '.');
    if (b < 0 && dot) b = mj_name2id(m, mjOBJ_BODY, dot + 1);
    if (b >= 0 && m->body_mocapid[b] < 0) continue;
    if (b >= 0) p.mocap = m->body_mocapid[b];
    out[n++] = p;
  }
  return n;
}

const char* const amv_rect_names[AMV_NRECT] = {"body", "heatmap", "population", "traces"};

void amv_layout(int w, int h, amv_rect r[AMV_NRECT]) {
  int split = (int)(w * 0.58), lower = (int)(h * 0.34), right_split = (int)(h * 0.48);
  r[AMV_RECT_BODY] = (amv_rect){0, lower, split, h - lower};
  r[AMV_RECT_TRACE] = (amv_rect){0, 0, split, lower};
  r[AMV_RECT_HEAT] = (amv_rect){split, right_split, w - split, h - right_split};
  r[AMV_RECT_POP] = (amv_rect){split, 0, w - split, right_split};
}

int amv_text_width(const int* charw, const char* s) {
  int w = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\n') continue;
    w += charw[c < 127 ? c : 'x'];
  }
  return w;
}

int amv_flow(const int* w, int n, int x_first, int x_left, int x_right, int gap, int max_lines,
             int* x, int* line) {
  int cx = x_first, ln = 0;
  for (int i = 0; i < n; i++) {
    if (cx + w[i] > x_right && cx > (ln ? x_left : x_first)) {  // a new line, unless it is empty
      ln++;
      cx = x_left;
    }
    if (ln >= max_lines || cx + w[i] > x_right) return i;
    x[i] = cx;
    line[i] = ln;
    cx += w[i] + gap;
  }
  return n;
}

int amv_fit(const int* charw, const char* const* texts, int n, int width) {
  for (int i = 0; i < n; i++)
    if (amv_text_width(charw, texts[i]) <= width) return i;
  return -1;
}
