// rat_common.c: what the rat tasks share (see rat_common.h).
#include "rat_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rat_sb_add(rat_sbuf* b, const char* fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (k < 0 || am_buf_reserve(&b->b, b->b.len + (size_t)k + 1)) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf((char*)b->b.p + b->b.len, (size_t)k + 1, fmt, ap);
  va_end(ap);
  b->b.len += (size_t)k;
}

const char* rat_sb_str(const rat_sbuf* b) { return b->b.p ? (const char*)b->b.p : ""; }

void rat_sb_free(rat_sbuf* b) {
  am_buf_free(&b->b);
  b->oom = 0;
}

int rat_read_common(const amt_info* info, const amt_params* params, rat_body* b,
                    double* episode_time, char* err, size_t err_sz) {
  if (amt_opts_read(info, params, &b->opts, err, err_sz)) return -1;
  if (amt_param_double(info, params, "episode_time", episode_time, err, err_sz) ||
      amt_param_double(info, params, "init_noise", &b->init_noise, err, err_sz) ||
      rat_push_read(info, params, &b->push, err, err_sz) ||
      rat_read_paw(info, params, b, err, err_sz))
    return -1;
  if (!(*episode_time > 0 && *episode_time <= 3600))
    return am_err(err, err_sz, "task %s: parameter episode_time: '%g' must be in (0, 3600] s",
                  info->name, *episode_time);
  if (b->init_noise < 0 || b->init_noise > 0.5)
    return am_err(err, err_sz, "task %s: parameter init_noise: '%g' must be in [0, 0.5] rad",
                  info->name, b->init_noise);
  return 0;
}

int rat_read_paw(const amt_info* info, const amt_params* params, rat_body* b, char* err,
                 size_t err_sz) {
  if (amt_param_double(info, params, "paw_friction", &b->paw_friction, err, err_sz)) return -1;
  if (!(b->paw_friction >= 0.1 && b->paw_friction <= 5))
    return am_err(err, err_sz, "task %s: parameter paw_friction: '%g' must be in [0.1, 5]",
                  info->name, b->paw_friction);
  return 0;
}

// A push in progress: its force (world frame) and the control steps it has left, counting the
// current one (0: none; rat_push.steps: it starts in this control step).
typedef struct push_state {
  double force[3];
  int left;
} push_state;

int rat_push_read(const amt_info* info, const amt_params* params, rat_push* p, char* err,
                  size_t err_sz) {
  memset(p, 0, sizeof *p);
  p->event = -1;
  if (amt_param_double(info, params, "push_force", &p->force, err, err_sz) ||
      amt_param_double(info, params, "push_rate", &p->rate, err, err_sz) ||
      amt_param_double(info, params, "push_time", &p->time, err, err_sz))
    return -1;
  if (!(p->force >= 0 && p->force <= 100))
    return am_err(err, err_sz, "task %s: parameter push_force: '%g' must be in [0, 100] N",
                  info->name, p->force);
  if (!(p->rate > 0 && p->rate <= 50))
    return am_err(err, err_sz, "task %s: parameter push_rate: '%g' must be in (0, 50] per second",
                  info->name, p->rate);
  if (!(p->time > 0 && p->time <= 10))
    return am_err(err, err_sz, "task %s: parameter push_time: '%g' must be in (0, 10] s",
                  info->name, p->time);
  return 0;
}

void rat_add_round_wall(rat_sbuf* a, double R) {
  const double half = (R + 0.03) * tan(M_PI / RAT_ROUND_WALL_N) + 0.02;
  for (int k = 0; k < RAT_ROUND_WALL_N; k++) {
    double th = 2 * M_PI * k / RAT_ROUND_WALL_N;
    rat_sb_add(a, "<geom name=\"wall%d\" type=\"box\" pos=\"%.6f %.6f 0.15\" "
                  "quat=\"%.6f 0 0 %.6f\" size=\"0.03 %.6f 0.15\" rgba=\"0.45 0.55 0.65 1\"/>", k,
               (R + 0.03) * cos(th), (R + 0.03) * sin(th), cos(th / 2), sin(th / 2), half);
  }
}

void rat_add_floor(rat_sbuf* a, double half, int out_of_the_way, const char* movable) {
  if (movable) {
    rat_sb_add(a, "<body name=\"%s.floor\" mocap=\"true\" pos=\"0 0 %g\"><geom name=\"%s.floor\" "
                  "type=\"plane\" size=\"%g %g 0.05\" material=\"grid\" contype=\"0\" "
                  "conaffinity=\"1\"/></body>", movable, out_of_the_way ? -100.0 : 0.0, movable,
               half, half);
    return;
  }
  rat_sb_add(a, "<geom name=\"floor\" type=\"plane\" size=\"%g %g 0.05\" material=\"grid\" "
                "contype=\"0\" conaffinity=\"1\"%s/>",
             half, half, out_of_the_way ? " pos=\"0 0 -100\"" : "");
}

// Finds the rat's root joint, torso/pelvis/head bodies and paw sites in m.
static int rat_bind(const mjModel* m, const char* task, rat_body* b, char* err, size_t err_sz) {
  int root = mj_name2id(m, mjOBJ_JOINT, "root");
  b->torso = mj_name2id(m, mjOBJ_BODY, "torso");
  b->pelvis = mj_name2id(m, mjOBJ_BODY, "pelvis");
  b->head = mj_name2id(m, mjOBJ_BODY, "head");
  const char* paws[4] = {"hand_L", "hand_R", "foot_L", "foot_R"};
  int ok = root >= 0 && b->torso >= 0 && b->pelvis >= 0 && b->head >= 0;
  for (int p = 0; p < 4; p++) ok &= (b->paws[p] = mj_name2id(m, mjOBJ_SITE, paws[p])) >= 0;
  if (!ok)
    return am_err(err, err_sz, "task %s: body 'rat' lacks joint root, bodies torso/pelvis/head or "
                  "paw sites hand_L/hand_R/foot_L/foot_R", task);
  b->hands[0] = b->paws[0];
  b->hands[1] = b->paws[1];
  b->root_q = m->jnt_qposadr[root];
  b->root_v = m->jnt_dofadr[root];
  return 0;
}

// The rat's MJCF with `prelude` inserted after the opening <mujoco ...> tag and its floor line
// replaced by `arena`. Returns malloc'd text or NULL with a message.
static char* rat_scene(const char* task, const char* prelude, const char* arena, char* err,
                       size_t err_sz) {
  char path[1024];
  if (am_body_path("rat", path, sizeof path, err, err_sz)) return NULL;
  char* body = am_read_text(path, NULL, err, err_sz);
  if (!body) return NULL;
  char* a = strstr(body, "<geom name=\"floor\"");
  char* e = a ? strstr(a, "/>") : NULL;
  char* gt = strstr(body, "<mujoco");
  gt = gt ? strchr(gt, '>') : NULL;
  if (!a || !e || !gt || gt > a) {
    free(body);
    am_err(err, err_sz, "task %s: %s has no <mujoco ...> tag followed by a single-line <geom "
           "name=\"floor\" .../>", task, path);
    return NULL;
  }
  rat_sbuf b = {0};
  rat_sb_add(&b, "%.*s%s%.*s%s%s", (int)(gt + 1 - body), body, prelude, (int)(a - gt - 1), gt + 1,
             arena, e + 2);
  free(body);
  if (b.oom) {
    rat_sb_free(&b);
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  return (char*)b.b.p;  // the caller frees it
}

int rat_load(am_task* t, const char* name, const rat_sbuf* prelude, const rat_sbuf* arena,
             rat_body* b, char* err, size_t err_sz) {
  if ((prelude && prelude->oom) || arena->oom) return am_err(err, err_sz, "out of memory");
  char* scene = rat_scene(name, prelude ? rat_sb_str(prelude) : "", rat_sb_str(arena),
                          err, err_sz);
  if (!scene) return -1;
  am_model* model = am_model_load_string(scene, am_bodies_dir(), name, err, err_sz);
  free(scene);
  if (!model) return -1;
  t->model = model;  // amt_create frees it on failure from here
  static const char* const paw_geoms[6] = {"hand_L", "hand_R", "foot_L", "foot_R", "toes_L",
                                           "toes_R"};
  for (int k = 0; k < 6; k++) {
    int g = mj_name2id(model->m, mjOBJ_GEOM, paw_geoms[k]);
    if (g < 0)
      return am_err(err, err_sz, "task %s: body 'rat' lacks the paw geom %s", name, paw_geoms[k]);
    model->m->geom_friction[3 * g] = b->paw_friction;
  }
  return rat_bind(model->m, name, b, err, err_sz);
}

int rat_mocap_id(const mjModel* m, const char* fmt, int k) {
  char nm[32];
  snprintf(nm, sizeof nm, fmt, k);
  return m->body_mocapid[mj_name2id(m, mjOBJ_BODY, nm)];
}

int rat_episode_steps(double episode_time, double dt) {
  int n = (int)floor(episode_time / dt + 0.5);
  return n < 1 ? 1 : n;
}

int rat_task_init(am_task* t, const char* name, rat_body* b, size_t state_size,
                  double episode_time, int task_size, char* err, size_t err_sz) {
  const char* names[RAT_MAX_OWN];
  int sizes[RAT_MAX_OWN], n = 0;
  for (int i = 0; i < RAT_MAX_OWN; i++)
    if (b->own[i].size > 0) {
      names[n] = b->own[i].name;
      sizes[n++] = b->own[i].size;
    }
  return rat_task_init_groups(t, name, b, state_size, episode_time, task_size, n, names, sizes,
                              err, err_sz);
}

int rat_task_init_groups(am_task* t, const char* name, rat_body* b, size_t state_size,
                         double episode_time, int task_size, int n_extra,
                         const char* const* names, const int* sizes, char* err, size_t err_sz) {
  const mjModel* m = t->model->m;
  b->dt = RAT_FRAME_SKIP * m->opt.timestep;
  snprintf(t->name, sizeof t->name, "%s", name);
  t->state_size = state_size;
  t->frame_skip = RAT_FRAME_SKIP;
  t->max_steps = rat_episode_steps(episode_time, b->dt);
  t->act_dim = m->nu + b->command_dims;
  t->n_groups = am_body_obs_groups(m, t->groups, &t->obs_dim);
  b->body_dim = t->obs_dim;
  am_obs_group* g = &t->groups[t->n_groups++];
  snprintf(g->name, AM_NAME_LEN, "task");
  g->offset = t->obs_dim;
  g->size = task_size;
  t->obs_dim += task_size;
  for (int i = 0; i < n_extra; i++) {
    if (t->n_groups >= AM_MAX_GROUPS)
      return am_err(err, err_sz, "task %s: more than %d observation groups", name, AM_MAX_GROUPS);
    g = &t->groups[t->n_groups++];
    snprintf(g->name, AM_NAME_LEN, "%s", names[i]);
    g->offset = t->obs_dim;
    g->size = sizes[i];
    t->obs_dim += sizes[i];
  }
  if (amt_opts_setup(t, &b->opts, err, err_sz)) return -1;
  if (b->push.force > 0) {
    b->push.offset = (t->state_size + 15) & ~(size_t)15;
    t->state_size = b->push.offset + sizeof(push_state);
    b->push.steps = rat_episode_steps(b->push.time, b->dt);
    b->push.p_start = fmin(1, b->push.rate * b->dt);
  }
  static const char* vars_common[] = {"root_x", "root_y", "root_z", "root_vx"};
  t->n_vars = 4;
  for (int k = 0; k < 4; k++) snprintf(t->vars[k], AM_NAME_LEN, "%s", vars_common[k]);
  return 0;
}

// Per control step, before the physics: the push in progress goes on or ends; without one, a new
// one starts with probability p_start, in a uniformly random horizontal direction. A push does not
// outlast its episode (the tasks' resets leave this state alone).
static void push_act(const rat_push* p, am_env* e) {
  push_state* s = (push_state*)((char*)e->task_state + p->offset);
  if (e->step == 0) memset(s, 0, sizeof *s);
  if (s->left > 0) s->left--;
  if (s->left == 0 && am_rng_uniform(&e->rng) < p->p_start) {
    double a = am_rng_range(&e->rng, -M_PI, M_PI);
    s->force[0] = p->force * cos(a);
    s->force[1] = p->force * sin(a);
    s->force[2] = 0;
    s->left = p->steps;
  }
}

// Before each physics step: the push's force at the torso's centre of mass (as the last step's
// kinematics place it) as a generalized force in qfrc_applied, which the pool records.
static void push_substep(const am_task* t, am_env* e) {
  const rat_body* b = t->cfg;
  const push_state* s = (const push_state*)((const char*)e->task_state + b->push.offset);
  mjData* d = e->d;
  mju_zero(d->qfrc_applied, e->m->nv);
  if (s->left <= 0) return;
  mjtNum torque[3] = {0, 0, 0}, point[3];
  mju_copy3(point, d->xipos + 3 * b->torso);
  mj_applyFT(e->m, d, s->force, torque, point, b->torso, d->qfrc_applied);
}

// The shared hooks: every rat task's cfg starts with a rat_body, its state with an amt_opt_state.
static void rat_act(const am_task* t, am_env* e, const float* a) {
  const rat_body* b = t->cfg;
  am_write_ctrl(e->m, e->d, a);
  if (b->command_dims > 0 && b->part && b->part->command)
    b->part->command(t->cfg, e->task_state, a + e->m->nu);
  amt_opts_act(&b->opts, (amt_opt_state*)e->task_state, a);
  if (b->push.force > 0) push_act(&b->push, e);
}

// A push's onset is an event of the step it starts in, after the task's own.
static void push_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const rat_push* p = &((const rat_body*)t->cfg)->push;
  p->evaluate(t, e, r);
  const push_state* s = (const push_state*)((const char*)e->task_state + p->offset);
  if (s->left == p->steps) r->events |= 1u << p->event;
}

static void rat_destroy(am_task* t) {
  free((void*)t->cfg);
  t->cfg = NULL;
}

int rat_task_finish(am_task* t, const void* cfg, size_t size, char* err, size_t err_sz) {
  void* c = malloc(size);
  if (!c) return am_err(err, err_sz, "out of memory");
  memcpy(c, cfg, size);
  t->cfg = c;
  t->act = rat_act;
  t->destroy = rat_destroy;
  rat_push* p = &((rat_body*)c)->push;
  if (p->force > 0) {
    if (t->n_events >= AM_MAX_EVENTS)
      return am_err(err, err_sz, "task %s: no event code left for 'push' (%d events)", t->name,
                    t->n_events);
    p->event = t->n_events++;
    snprintf(t->events[p->event], AM_NAME_LEN, "push");
    p->evaluate = t->evaluate;
    t->evaluate = push_evaluate;
    t->substep = push_substep;
  }
  return 0;
}

void rat_place(const rat_body* b, am_env* e, double x, double y, double z, double heading) {
  const mjModel* m = e->m;
  mjData* d = e->d;
  if (m->nkey > 0) mj_resetDataKeyframe(m, d, 0);
  for (int j = 0; j < m->njnt; j++) {
    int type = m->jnt_type[j];
    if (type == mjJNT_HINGE || type == mjJNT_SLIDE)
      d->qpos[m->jnt_qposadr[j]] += am_rng_range(&e->rng, -b->init_noise, b->init_noise);
  }
  mjtNum* q = d->qpos + b->root_q;
  q[0] = x;
  q[1] = y;
  q[2] += z;
  q[3] = cos(heading / 2);
  q[4] = 0;
  q[5] = 0;
  q[6] = sin(heading / 2);
}

void rat_common_vars(const rat_body* b, const mjData* d, float* x) {
  x[0] = (float)d->qpos[b->root_q];
  x[1] = (float)d->qpos[b->root_q + 1];
  x[2] = (float)d->qpos[b->root_q + 2];
  x[3] = (float)d->qvel[b->root_v];
}

double rat_yaw(const rat_body* b, const mjData* d) {
  const mjtNum* R = d->xmat + 9 * b->torso;
  return atan2(R[3], R[0]);
}

void rat_to_torso(const rat_body* b, const mjData* d, const double w[3], double out[3]) {
  const mjtNum* R = d->xmat + 9 * b->torso;
  for (int k = 0; k < 3; k++) out[k] = R[k] * w[0] + R[3 + k] * w[1] + R[6 + k] * w[2];
}

void rat_set_mocap(mjData* d, int mocap, double x, double y, double z) {
  d->mocap_pos[3 * mocap] = x;
  d->mocap_pos[3 * mocap + 1] = y;
  d->mocap_pos[3 * mocap + 2] = z;
}

// Each parked piece has its own spot (x = RAT_PARK_PITCH x its mocap id, y = RAT_PARK_Y): pieces
// piled at one point all overlap in MuJoCo's sweep-and-prune broadphase, which then tests every
// pair of them each step (about 1 M instructions per step for the maze's ~150 parked walls);
// spread out they cost nothing there.
void rat_park(mjData* d, int mocap) {
  rat_set_mocap(d, mocap, RAT_PARK_PITCH * mocap, RAT_PARK_Y, RAT_PARK_Z);
}

int rat_rays_find(const mjModel* m, rat_rays* r, const char* task, char* err, size_t err_sz) {
  r->n = 0;
  for (int i = 0; i < m->nsensor; i++) {
    if (m->sensor_type[i] != mjSENS_RANGEFINDER) continue;
    if (r->n == RAT_MAX_RAYS)
      return am_err(err, err_sz, "%s: the body has more than %d rangefinders", task, RAT_MAX_RAYS);
    r->site[r->n] = m->sensor_objid[i];
    r->adr[r->n] = m->sensor_adr[i];
    r->cutoff[r->n++] = m->sensor_cutoff[i];
  }
  return 0;
}

void rat_rays_merge(const rat_rays* r, const mjModel* m, mjData* d, rat_ray_cast cast,
                    const void* ctx) {
  for (int i = 0; i < r->n; i++) {
    const double* xm = d->site_xmat + 9 * r->site[i];
    const double v[3] = {xm[2], xm[5], xm[8]};
    double* s = d->sensordata + r->adr[i];
    double t = cast(ctx, m, d, d->site_xpos + 3 * r->site[i], v, *s);
    if (t < 0) continue;
    if (r->cutoff[i] > 0 && t > r->cutoff[i]) t = r->cutoff[i];
    if (*s < 0 || t < *s) *s = t;
  }
}

int rat_ray_clip(const double* p, const double* v, const double* lo, const double* hi, int n,
                 double* tin, double* tout) {
  *tin = 0, *tout = INFINITY;
  for (int a = 0; a < n; a++) {
    if (v[a] == 0) {
      if (p[a] < lo[a] || p[a] > hi[a]) return -1;
      continue;
    }
    double t1 = (lo[a] - p[a]) / v[a], t2 = (hi[a] - p[a]) / v[a];
    if (t1 > t2) { double x = t1; t1 = t2; t2 = x; }
    if (t1 > *tin) *tin = t1;
    if (t2 < *tout) *tout = t2;
  }
  return *tin > *tout ? -1 : 0;
}

void rat_walk_start(rat_walk* w, const double* p, const double* v, double t, const double org[2],
                    const double size[2], const int lo[2], const int hi[2]) {
  for (int a = 0; a < 2; a++) {
    int c = (int)floor((p[a] + t * v[a] - org[a]) / size[a]);
    w->cell[a] = c = c < lo[a] ? lo[a] : c > hi[a] ? hi[a] : c;
    w->step[a] = v[a] > 0 ? 1 : -1;
    w->next[a] = v[a] ? (org[a] + size[a] * (c + (v[a] > 0)) - p[a]) / v[a] : INFINITY;
    w->delta[a] = v[a] ? size[a] / fabs(v[a]) : INFINITY;
  }
}

double rat_walk_exit(const rat_walk* w) { return fmin(w->next[0], w->next[1]); }

int rat_walk_next(rat_walk* w) {
  int a = !(w->next[0] < w->next[1]);
  w->cell[a] += w->step[a];
  w->next[a] += w->delta[a];
  return a;
}

int rat_fixed_find(rat_body* b, const mjModel* m, const char* task, char* err, size_t err_sz) {
  size_t len = strlen(task);
  b->n_fixed = 0;
  for (int i = 0; i < m->nbody; i++) {
    const char* nm = mj_id2name(m, mjOBJ_BODY, i);
    if (!nm || strncmp(nm, task, len) || nm[len] != '.' || m->body_mocapid[i] < 0) continue;
    if (b->n_fixed == RAT_MAX_FIXED)
      return am_err(err, err_sz, "task %s: more than %d fixed pieces", task, RAT_MAX_FIXED);
    b->fixed_mocap[b->n_fixed] = m->body_mocapid[i];
    for (int k = 0; k < 3; k++) b->fixed_pos[b->n_fixed][k] = m->body_pos[3 * i + k];
    for (int k = 0; k < 4; k++) b->fixed_quat[b->n_fixed][k] = m->body_quat[4 * i + k];
    b->n_fixed++;
  }
  return 0;
}

void rat_fixed_raise(const rat_body* b, mjData* d) {
  for (int k = 0; k < b->n_fixed; k++) {
    rat_set_mocap(d, b->fixed_mocap[k], b->fixed_pos[k][0], b->fixed_pos[k][1],
                  b->fixed_pos[k][2]);
    mju_copy4(d->mocap_quat + 4 * b->fixed_mocap[k], b->fixed_quat[k]);
  }
}

void rat_fixed_park(const rat_body* b, mjData* d) {
  static const mjtNum up[4] = {1, 0, 0, 0};  // face up: a plane's half-space then lies below
  for (int k = 0; k < b->n_fixed; k++) {
    rat_set_mocap(d, b->fixed_mocap[k], RAT_PARK_PITCH * b->fixed_mocap[k], RAT_PARK_Y,
                  RAT_PARK_DEEP_Z);
    mju_copy4(d->mocap_quat + 4 * b->fixed_mocap[k], up);
  }
}

double rat_upright(const mjData* d, int body) {
  double zz = d->xmat[9 * body + 8];
  zz = zz > 1 ? 1 : zz < -1 ? -1 : zz;
  double ang = acos(zz) * 180 / M_PI;
  return ang <= 30 ? 1 : (180 - ang) / 150;
}

double rat_speed_reward(double vx, double target_speed, double lo) {
  return fmax(lo, 1 - fabs(vx - target_speed) / target_speed);
}

int rat_read_run_reward(const amt_info* info, const amt_params* params, rat_run_reward* r,
                        char* err, size_t err_sz) {
  const char* name = info->name;
  if (amt_param_double(info, params, "target_speed", &r->target_speed, err, err_sz)) return -1;
  if (!(r->target_speed > 0 && r->target_speed < 20))
    return am_err(err, err_sz, "task %s: parameter target_speed: '%g' must be in (0, 20) m/s",
                  name, r->target_speed);
  if (amt_param_double(info, params, "reward_floor", &r->reward_floor, err, err_sz)) return -1;
  if (!(r->reward_floor >= -10 && r->reward_floor <= 0))
    return am_err(err, err_sz, "task %s: parameter reward_floor: '%g' must be in [-10, 0]", name,
                  r->reward_floor);
  if (amt_param_bool(info, params, "upright", &r->upright, err, err_sz)) return -1;
  return rat_read_fall_tilt(info, params, &r->fall_cos, err, err_sz);
}

int rat_read_fall_tilt(const amt_info* info, const amt_params* params, double* fall_cos, char* err,
                       size_t err_sz) {
  double tilt;
  if (amt_param_double(info, params, "fall_tilt", &tilt, err, err_sz)) return -1;
  if (!(tilt > 0 && tilt <= 180))
    return am_err(err, err_sz, "task %s: parameter fall_tilt: '%g' must be in (0, 180] deg",
                  info->name, tilt);
  *fall_cos = tilt >= 180 ? -2 : cos(tilt * M_PI / 180);
  return 0;
}

int rat_read_heading(const amt_info* info, const amt_params* params, const char* key, int slot,
                     rat_body* b, char* err, size_t err_sz) {
  int on;
  if (amt_param_bool(info, params, key, &on, err, err_sz)) return -1;
  b->own[slot] = (rat_group){"heading", 2 * on, key};
  return 0;
}

int rat_own_values(const rat_body* b) {
  int n = 0;
  for (int i = 0; i < RAT_MAX_OWN; i++) n += b->own[i].size;
  return n;
}

void rat_heading_write(const rat_body* b, const mjData* d, double dir, float* g) {
  double rel = dir - rat_yaw(b, d);
  g[0] = (float)cos(rel);
  g[1] = (float)sin(rel);
}

int rat_fallen(const rat_body* b, const mjData* d, double fall_cos) {
  return d->xmat[9 * b->torso + 8] < fall_cos;
}

double rat_run_reward_eval(const rat_run_reward* r, const rat_body* b, const mjData* d, double v,
                           int* fell) {
  double reward = rat_speed_reward(v, r->target_speed, r->reward_floor);
  if (r->upright && reward > 0) reward *= rat_upright(d, b->torso) * rat_upright(d, b->pelvis);
  *fell = rat_fallen(b, d, r->fall_cos);
  return reward;
}

//---------------------------------- parts as single tasks -----------------------------------------

void rat_body_copy_bound(rat_body* to, const rat_body* from) {
  to->dt = from->dt;
  to->root_q = from->root_q;
  to->root_v = from->root_v;
  to->torso = from->torso;
  to->pelvis = from->pelvis;
  to->head = from->head;
  memcpy(to->paws, from->paws, sizeof to->paws);
  memcpy(to->hands, from->hands, sizeof to->hands);
  to->body_dim = from->body_dim;
}

// The single task's hooks: the part's rules on the task's cfg and state (which start with a
// rat_body and an amt_opt_state), with the observation options around them.
static void part_reset(const am_task* t, am_env* e) {
  const rat_body* b = t->cfg;
  if (t->n_variants) am_env_use_variant(t, e, 1);  // the part's hide
  b->part->reset(t->cfg, e->task_state, e);
  amt_opts_reset((amt_opt_state*)e->task_state);
}

static void part_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const rat_body* b = t->cfg;
  b->part->evaluate(t->cfg, e->task_state, e, r);
  amt_opts_reward((amt_opt_state*)e->task_state, r->reward);
}

static void part_observe(const am_task* t, am_env* e, float* o) {
  const rat_body* b = t->cfg;
  am_body_observe(e->m, e->d, o);
  b->part->observe(t->cfg, e->task_state, e->d, o + b->body_dim);
  amt_opts_observe(&b->opts, (amt_opt_state*)e->task_state, &e->rng, o);
}

static void part_vars(const am_task* t, const am_env* e, float* x) {
  const rat_body* b = t->cfg;
  rat_common_vars(b, e->d, x);
  b->part->vars(t->cfg, e->task_state, e->d, x + 4);
}

int rat_part_create(am_task* t, const rat_part* part, const amt_params* params, char* err,
                    size_t err_sz) {
  const amt_info* info = amt_find(part->name);
  rat_body* c = calloc(1, part->cfg_size);
  if (!c) return am_err(err, err_sz, "out of memory");
  c->part = part;
  double episode_time;
  rat_sbuf prelude = {0}, arena = {0};
  int rc = rat_read_common(info, params, c, &episode_time, err, err_sz) ||
           part->read(info, params, c, err, err_sz);
  if (!rc && part->build(c, &prelude, &arena, 0)) rc = am_err(err, err_sz, "out of memory");
  if (!rc) rc = rat_load(t, info->name, &prelude, &arena, c, err, err_sz);
  rat_sb_free(&prelude);
  rat_sb_free(&arena);
  if (rc || rat_task_init(t, info->name, c, part->state_size, episode_time, part->task_size, err,
                          err_sz) ||
      part->bind(c, (mjModel*)t->model->m, err, err_sz)) {
    free(c);
    return -1;
  }
  t->n_terms = part->n_terms;
  for (int k = 0; k < part->n_terms; k++) snprintf(t->terms[k], AM_NAME_LEN, "%s", part->term_names[k]);
  t->n_events = part->n_events;
  for (int k = 0; k < part->n_events; k++)
    snprintf(t->events[k], AM_NAME_LEN, "%s", part->event_names[k]);
  t->trial_start_event = part->trial_start;
  t->success_event = part->success;
  t->trial_end_event = part->trial_end;
  for (int k = 0; k < part->n_vars; k++) {
    if (part->condition && !strcmp(part->condition, part->var_names[k]))
      t->conditions[t->n_conditions++] = t->n_vars;
    snprintf(t->vars[t->n_vars++], AM_NAME_LEN, "%s", part->var_names[k]);
  }
  t->reset = part_reset;
  t->evaluate = part_evaluate;
  t->observe = part_observe;
  t->get_vars = part_vars;
  int rc2 = rat_task_finish(t, c, part->cfg_size, err, err_sz);
  free(c);
  if (!rc2 && part->hide) {  // amt_destroy frees the variant on failure, as on success
    if (!(t->variants = calloc(1, sizeof(mjModel*))) ||
        !(t->variants[0] = mj_copyModel(NULL, t->model->m)))
      return am_err(err, err_sz, "out of memory copying the model");
    t->n_variants = 1;
    part->hide(t->cfg, t->variants[0]);
  }
  return rc2;
}
