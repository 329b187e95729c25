// dataset_record.c: the recorder (env pool batch -> dataset rows).
//
// What it is: the standard channels of a task's pool, the model/task metadata and the initial
// state of each episode.
// What it is not: the byte format (dataset_write.c); replay (dataset_resim.c); the network
// channels (the caller adds them with am_rec_add_channel); printing.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "am_dataset.h"

typedef struct rec_src {  // a channel filled from a batch array of num_envs rows
  int ch;
  const void* src;
  size_t row_bytes;
  int kind;  // 0 plain copy; 1 f64 copy of the pool's exported double state
} rec_src;

struct am_rec {
  am_pool* pool;
  const am_task* t;
  am_ds_writer* w;
  am_rec_config cfg;
  int n;
  int64_t next_id, done, rows;
  int64_t* ep_id;   // per env: the dataset episode it is recording, -1: none
  int64_t* env_eps; // per env: episodes it started recording (cfg.per_env)
  double* t0;       // per env: episode start time
  float* prev_obs;  // the observation each env's policy saw before the step
  double dt;        // control step (s)
  int c_step, c_time, c_action, c_reward, c_terms, c_term, c_trunc, c_unst, c_events, c_vars;
  int c_obs[AM_MAX_GROUPS];
  int n_src;
  rec_src src[AM_DS_MAX_CHANNELS];
  const void* put[AM_DS_MAX_CHANNELS];  // am_rec_step: each channel's values of an env (or NULL)
  int n_init;
  double* init;
  int begun;
};

// The flags a channel gets: with cfg.lossy, the lossy flag on the float channels that are
// observations, sensor readings or network activity; never on the body state a re-simulation
// needs (qpos, qvel, act, ctrl, qfrc_applied, mocap_pos) nor on time, actions, rewards or events.
static uint32_t rec_flags(const am_rec* r, const am_channel_def* d) {
  int float_ch = d->dtype == AM_DT_F32 || d->dtype == AM_DT_F64;
  int kind = (d->group && (!strcmp(d->group, "obs") || !strcmp(d->group, "network"))) ||
             !strcmp(d->name, "sensordata");
  return d->flags | (r->cfg.lossy && float_ch && kind ? AM_DS_CH_LOSSY : 0u);
}

static int add(am_rec* r, const char* name, const char* group, const char* units,
               const char* labels, am_dtype dt, int n, uint32_t flags, char* err, size_t err_sz) {
  am_channel_def d = {name, group, units, labels, dt, n < 0 ? 0 : 1, {n < 0 ? 0u : (uint32_t)n}, flags};
  d.flags = rec_flags(r, &d);
  int c = am_ds_add_channel(r->w, &d);
  if (c < 0) am_err(err, err_sz, "%s", am_ds_writer_error(r->w));
  return c;
}

// Joins names (n of them, stride AM_NAME_LEN) or MuJoCo object names with commas.
static char* join_names(const char (*names)[AM_NAME_LEN], int n) {
  size_t len = 1;
  for (int i = 0; i < n; i++) len += strlen(names[i]) + 1;
  char* s = calloc(len, 1);
  if (!s) return NULL;
  for (int i = 0; i < n; i++) {
    if (i) strcat(s, ",");
    strcat(s, names[i]);
  }
  return s;
}
static char* join_obj_names(const mjModel* m, int type, int n) {
  size_t len = 1;
  for (int i = 0; i < n; i++) {
    const char* nm = mj_id2name(m, type, i);
    len += (nm ? strlen(nm) : 12) + 1;
  }
  char* s = calloc(len, 1);
  if (!s) return NULL;
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    const char* nm = mj_id2name(m, type, i);
    o += (size_t)snprintf(s + o, len - o, "%s%s", i ? "," : "", nm ? nm : "");
    if (!nm) o += (size_t)snprintf(s + o, len - o, "#%d", i);
  }
  return s;
}

// Channel models (format 1.3): what the recorder knows of how channels follow from each other,
// for the writer to use where it compresses better. An observation of the body is the float of a
// sensor reading (or activation, or joint coordinate) at the end of the step before; a joint's
// position sensor reads the position before the last physics step (Euler: qpos - h qvel); a
// velocity sensor nearly the velocity; an actuator-force sensor the actuator's force.
static int add_models(am_rec* r, const int* c_body, char* err, size_t err_sz) {
  const mjModel* m = r->t->model->m;
  const am_task* t = r->t;
  int c_qpos = c_body[0], c_qvel = c_body[1], c_act = c_body[2], c_frc = c_body[4], c_sd = c_body[5];
  const double inf = 1.0 / 0.0;
  am_obs_group bg[AM_MAX_GROUPS];
  int dim = 0, nb = am_body_obs_groups(m, bg, &dim);
  int* kind = malloc(sizeof(int) * (size_t)(dim + 1));
  int* idx = malloc(sizeof(int) * (size_t)(dim + 1));
  if (!kind || !idx) {
    free(kind);
    free(idx);
    return am_err(err, err_sz, "out of memory");
  }
  am_body_obs_sources(m, kind, idx);
  int rc = 0;
  for (int g = 0; g < t->n_groups && !rc; g++)
    for (int k = 0; k < nb && !rc; k++) {
      if (strcmp(t->groups[g].name, bg[k].name) || t->groups[g].offset != bg[k].offset ||
          t->groups[g].size != bg[k].size)
        continue;
      for (int e = 0; e < bg[k].size && !rc; e++) {
        int o = bg[k].offset + e;
        int src = kind[o] == AM_OBS_FROM_SENSOR ? c_sd : kind[o] == AM_OBS_FROM_ACT ? c_act
                  : kind[o] == AM_OBS_FROM_QPOS ? c_qpos : c_qvel;
        if (src < 0) continue;
        rc = am_ds_model_elem(r->w, r->c_obs[g], (uint32_t)e, 0.0, -inf, inf) ||
             am_ds_model_term(r->w, r->c_obs[g], src, 1, (uint32_t)idx[o], 1.0);
      }
    }
  free(kind);
  free(idx);
  if (rc) return am_err(err, err_sz, "%s", am_ds_writer_error(r->w));
  if (c_sd < 0) return 0;
  for (int s = 0; s < m->nsensor && !rc; s++) {
    int ty = m->sensor_type[s], obj = m->sensor_objid[s], adr = m->sensor_adr[s];
    int hinge = (ty == mjSENS_JOINTPOS || ty == mjSENS_JOINTVEL) &&
                (m->jnt_type[obj] == mjJNT_HINGE || m->jnt_type[obj] == mjJNT_SLIDE);
    if (ty == mjSENS_JOINTPOS && hinge && c_qpos >= 0 && c_qvel >= 0)
      rc = am_ds_model_elem(r->w, c_sd, (uint32_t)adr, 0.0, -inf, inf) ||
           am_ds_model_term(r->w, c_sd, c_qpos, 0, (uint32_t)m->jnt_qposadr[obj], 1.0) ||
           am_ds_model_term(r->w, c_sd, c_qvel, 0, (uint32_t)m->jnt_dofadr[obj], -m->opt.timestep);
    else if (ty == mjSENS_JOINTVEL && hinge && c_qvel >= 0)
      rc = am_ds_model_elem(r->w, c_sd, (uint32_t)adr, 0.0, -inf, inf) ||
           am_ds_model_term(r->w, c_sd, c_qvel, 0, (uint32_t)m->jnt_dofadr[obj], 1.0);
    else if (ty == mjSENS_ACTUATORFRC && c_frc >= 0)
      rc = am_ds_model_elem(r->w, c_sd, (uint32_t)adr, 0.0, -inf, inf) ||
           am_ds_model_term(r->w, c_sd, c_frc, 0, (uint32_t)obj, 1.0);
  }
  return rc ? am_err(err, err_sz, "%s", am_ds_writer_error(r->w)) : 0;
}

static void fill_init(am_rec* r, int i) {
  const mjModel* m = r->t->model->m;
  const mjData* d = am_pool_env(r->pool, i)->d;
  double* x = r->init;
  *x++ = d->time;
  for (int k = 0; k < m->nq; k++) *x++ = d->qpos[k];
  for (int k = 0; k < m->nv; k++) *x++ = d->qvel[k];
  for (int k = 0; k < m->na; k++) *x++ = d->act[k];
  // Tasks place scenery per episode with mocap bodies (platforms, walls, orbs, bowls).
  for (int k = 0; k < 3 * m->nmocap; k++) *x++ = d->mocap_pos[k];
  for (int k = 0; k < 4 * m->nmocap; k++) *x++ = d->mocap_quat[k];
  // The constraint solver starts from the last step's accelerations: part of the exact state.
  for (int k = 0; k < m->nv; k++) *x++ = d->qacc_warmstart[k];
  r->t0[i] = d->time;
}

am_rec* am_rec_create(am_pool* pool, const am_rec_config* cfg, char* err, size_t err_sz) {
  am_rec* r = calloc(1, sizeof *r);
  if (!r) return am_err(err, err_sz, "out of memory"), NULL;
  r->pool = pool;
  r->t = am_pool_task(pool);
  r->cfg = *cfg;
  r->n = am_pool_num_envs(pool);
  if (cfg->episodes < 1) {
    free(r);
    return am_err(err, err_sz, "episodes to record must be >= 1"), NULL;
  }
  if (cfg->per_env > 0 && cfg->episodes != cfg->per_env * r->n) {
    int n = r->n;
    free(r);
    return am_err(err, err_sz, "episodes to record (%lld) must be %d envs x %lld per env",
                  (long long)cfg->episodes, n, (long long)cfg->per_env), NULL;
  }
  if (!(r->w = am_ds_create(cfg->path, cfg->force, err, err_sz))) {
    free(r);
    return NULL;
  }
  const am_task* t = r->t;
  const mjModel* m = t->model->m;
  am_batch* b = am_pool_batch(pool);
  r->dt = m->opt.timestep * t->frame_skip;
  r->ep_id = calloc((size_t)r->n, sizeof(int64_t));
  r->env_eps = calloc((size_t)r->n, sizeof(int64_t));
  r->t0 = calloc((size_t)r->n, sizeof(double));
  r->prev_obs = calloc((size_t)r->n * (size_t)(t->obs_dim ? t->obs_dim : 1), sizeof(float));
  r->n_init = 1 + m->nq + 2 * m->nv + m->na + 7 * m->nmocap;
  r->init = calloc((size_t)r->n_init, sizeof(double));
  if (!r->ep_id || !r->env_eps || !r->t0 || !r->prev_obs || !r->init) {
    am_err(err, err_sz, "out of memory");
    goto fail;
  }
  // metadata
  char buf[256];
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  am_ds_set_meta(r->w, "created", buf, -1);
  am_ds_set_meta(r->w, "animat.version", ANIMAT_VERSION, -1);
  snprintf(buf, sizeof buf, "%d", mj_version());
  am_ds_set_meta(r->w, "mujoco.version", buf, -1);
  am_ds_set_meta(r->w, "model.name", t->model->name, -1);
  am_ds_set_meta(r->w, "model.xml", t->model->xml ? t->model->xml : "", -1);
  {
    // The compiled model, exactly: the XML above round-trips numbers with MuJoCo's printing
    // precision (a rat's inertias move by ~4e-6), enough for a re-simulation to drift.
    size_t mjb_n = 0;
    void* mjb = am_model_to_mjb(t->model, &mjb_n, err, err_sz);
    if (!mjb) goto fail;
    int rc = am_ds_set_meta(r->w, "model.mjb", mjb, (long)mjb_n);
    free(mjb);
    if (rc) {
      am_err(err, err_sz, "cannot store the binary model (%zu bytes) in the metadata", mjb_n);
      goto fail;
    }
  }
  if (m->nhfielddata > 0) {
    // Heightfields that tasks generate in code are not in the XML: store their samples too, as
    // little-endian float32, so the model can be rebuilt exactly from the file alone.
    size_t nb = (size_t)m->nhfielddata * 4;
    unsigned char* hf = malloc(nb);
    if (!hf) {
      am_err(err, err_sz, "out of memory");
      goto fail;
    }
    for (int i = 0; i < m->nhfielddata; i++) {
      uint32_t u;
      memcpy(&u, &m->hfield_data[i], 4);
      for (int k = 0; k < 4; k++) hf[4 * (size_t)i + k] = (unsigned char)(u >> (8 * k));
    }
    int rc = am_ds_set_meta(r->w, "model.hfield_data", hf, (long)nb);
    free(hf);
    if (rc) {
      am_err(err, err_sz, "cannot store the heightfield data (%zu bytes) in the metadata", nb);
      goto fail;
    }
  }
  am_ds_set_meta(r->w, "task.name", t->name, -1);
  am_ds_set_meta(r->w, "task.params", cfg->task_params ? cfg->task_params : "", -1);
  struct { const char* k; double v; } nums[] = {
      {"task.frame_skip", t->frame_skip}, {"task.max_steps", t->max_steps},
      {"model.nq", m->nq}, {"model.nv", m->nv}, {"model.na", m->na}, {"model.nu", m->nu},
      {"envs", r->n}, {"episodes.requested", (double)cfg->episodes},
      {"policy.step", (double)cfg->policy_step}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    snprintf(buf, sizeof buf, "%.17g", nums[i].v);
    am_ds_set_meta(r->w, nums[i].k, buf, -1);
  }
  snprintf(buf, sizeof buf, "%.17g", m->opt.timestep);
  am_ds_set_meta(r->w, "model.timestep", buf, -1);
  snprintf(buf, sizeof buf, "%.17g", r->dt);
  am_ds_set_meta(r->w, "control_dt", buf, -1);
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)cfg->seed);
  am_ds_set_meta(r->w, "seed", buf, -1);
  am_ds_set_meta(r->w, "policy", cfg->policy ? cfg->policy : "unknown", -1);
  if (cfg->policy_hash) am_ds_set_meta(r->w, "policy.hash", cfg->policy_hash, -1);
  // The trial schema (analyses find trials and conditions from it): event names, "" for none.
  {
    const int codes[3] = {t->trial_start_event, t->success_event, t->trial_end_event};
    const char* nm[3];
    for (int k = 0; k < 3; k++)
      nm[k] = codes[k] >= 0 && codes[k] < t->n_events ? t->events[codes[k]] : "";
    char tb[3 * AM_NAME_LEN + 48];
    snprintf(tb, sizeof tb, "trial_start=%s,success=%s,trial_end=%s", nm[0], nm[1], nm[2]);
    am_ds_set_meta(r->w, "task.trial_events", tb, -1);
    char cb[AM_MAX_CONDITIONS * (AM_NAME_LEN + 1) + 1] = "";
    for (int k = 0; k < t->n_conditions; k++)
      if (t->conditions[k] >= 0 && t->conditions[k] < t->n_vars) {
        if (cb[0]) strcat(cb, ",");
        strcat(cb, t->vars[t->conditions[k]]);
      }
    am_ds_set_meta(r->w, "task.conditions", cb, -1);
  }
  am_ds_set_meta(r->w, "init.layout", "time,qpos,qvel,act,mocap_pos,mocap_quat,qacc_warmstart",
                 -1);
  am_ds_set_meta(r->w, "row.convention",
                 "row t: obs seen before control step t, the action taken, then the reward, "
                 "flags, events, task variables and body state at the end of step t", -1);

  // channels
  const uint32_t D = AM_DS_CH_DELTA;
  if ((r->c_step = add(r, "step", "time", "control steps", NULL, AM_DT_I32, -1, D, err, err_sz)) < 0 ||
      (r->c_time = add(r, "time", "time", "s", NULL, AM_DT_F64, -1, D, err, err_sz)) < 0)
    goto fail;
  for (int g = 0; g < t->n_groups; g++) {
    char name[64];
    snprintf(name, sizeof name, "obs/%s", t->groups[g].name);
    if ((r->c_obs[g] = add(r, name, "obs", "", NULL, AM_DT_F32, t->groups[g].size, D, err, err_sz)) < 0)
      goto fail;
  }
  if ((r->c_action = add(r, "action", "action", "", NULL, AM_DT_F32, t->act_dim, 0, err, err_sz)) < 0 ||
      (r->c_reward = add(r, "reward", "reward", "", NULL, AM_DT_F32, -1, 0, err, err_sz)) < 0)
    goto fail;
  r->c_terms = r->c_vars = -1;
  if (t->n_terms) {
    char* l = join_names(t->terms, t->n_terms);
    r->c_terms = add(r, "reward_terms", "reward", "", l, AM_DT_F32, t->n_terms, 0, err, err_sz);
    free(l);
    if (r->c_terms < 0) goto fail;
  }
  if ((r->c_term = add(r, "terminated", "reward", "", NULL, AM_DT_U8, -1, 0, err, err_sz)) < 0 ||
      (r->c_trunc = add(r, "truncated", "reward", "", NULL, AM_DT_U8, -1, 0, err, err_sz)) < 0 ||
      (r->c_unst = add(r, "unstable", "reward", "", NULL, AM_DT_U8, -1, 0, err, err_sz)) < 0)
    goto fail;
  {
    char* l = join_names(t->events, t->n_events);
    r->c_events = add(r, "events", "task", "bit k = event k", l, AM_DT_U32, -1, 0, err, err_sz);
    free(l);
    if (r->c_events < 0) goto fail;
  }
  if (t->n_vars) {
    char* l = join_names(t->vars, t->n_vars);
    r->c_vars = add(r, "task_vars", "task", "", l, AM_DT_F32, t->n_vars, D, err, err_sz);
    free(l);
    if (r->c_vars < 0) goto fail;
  }
  int c_body[6] = {-1, -1, -1, -1, -1, -1};  // qpos, qvel, act, ctrl, actuator_force, sensordata
  if (b->qpos) {
    struct { const char* name; const char* units; const double* src; int n; int obj; } st[] = {
        {"qpos", "rad or m per coordinate (MuJoCo qpos)", b->qpos, m->nq, -1},
        {"qvel", "rad/s or m/s per dof", b->qvel, m->nv, -1},
        {"act", "actuator activation (muscles: 0..1)", b->act, m->na, -1},
        {"ctrl", "actuator control", b->ctrl, m->nu, mjOBJ_ACTUATOR},
        {"actuator_force", "N or N m", b->actuator_force, m->nu, mjOBJ_ACTUATOR},
        {"sensordata", "per sensor (MuJoCo units)", b->sensordata, m->nsensordata, -1}};
    for (int k = 0; k < 6; k++) {
      if (!st[k].n) continue;
      char* l = st[k].obj >= 0 ? join_obj_names(m, st[k].obj, st[k].n) : NULL;
      int c = add(r, st[k].name, "body", st[k].units, l, AM_DT_F64, st[k].n, D, err, err_sz);
      free(l);
      if (c < 0) goto fail;
      r->src[r->n_src++] = (rec_src){c, st[k].src, sizeof(double) * (size_t)st[k].n, 0};
      c_body[k] = c;
    }
    if (add_models(r, c_body, err, err_sz)) goto fail;
  }
  if (b->qfrc_applied && m->nv) {
    // What the task's substep hook applied in each physics step (force fields) plus the caller's
    // pushes: a replay re-applies it, so the dataset alone re-simulates the episode exactly.
    am_channel_def d = {"qfrc_applied", "body", "N or N m per dof, per physics step", NULL,
                        AM_DT_F64, 2, {(uint32_t)t->frame_skip, (uint32_t)m->nv}, D};
    if (am_rec_add_channel(r, &d, b->qfrc_applied, err, err_sz) < 0) goto fail;
  }
  if (b->push) {
    // The caller's external forces (mechanical perturbations), per push point, applied in every
    // physics step of the control step; qfrc_applied holds them as generalized forces too.
    const am_push_point* pts;
    int np = am_pool_push_points(pool, &pts);
    char names[AM_MAX_PUSH * 80] = "";
    for (int k = 0; k < np; k++) {
      const char* nm = mj_id2name(m, pts[k].type, pts[k].id);
      size_t o = strlen(names);
      snprintf(names + o, sizeof names - o, "%s%s:%s", k ? "," : "",
               pts[k].type == mjOBJ_SITE ? "site" : "body", nm ? nm : "?");
    }
    am_ds_set_meta(r->w, "push.points", names, -1);
    am_channel_def d = {"push", "body",
                        "N (fx fy fz) and N m (tx ty tz), world frame; rows: metadata push.points",
                        "fx,fy,fz,tx,ty,tz", AM_DT_F64, 2, {(uint32_t)np, 6u}, D};
    if (am_rec_add_channel(r, &d, b->push, err, err_sz) < 0) goto fail;
  }
  if (b->mocap_pos) {
    // The scenery at the end of each step (targets taken, pieces moved): replays and the viewer
    // show it as it was; constant poses cost almost nothing after the delta filter.
    am_channel_def d = {"mocap_pos", "body", "m, per mocap body (x, y, z)", NULL, AM_DT_F64, 2,
                        {(uint32_t)m->nmocap, 3u}, D};
    if (am_rec_add_channel(r, &d, b->mocap_pos, err, err_sz) < 0) goto fail;
  }
  return r;
fail:
  am_rec_abort(r);
  return NULL;
}

int am_rec_add_channel(am_rec* r, const am_channel_def* def, const void* src, char* err,
                       size_t err_sz) {
  if (r->begun) return am_err(err, err_sz, "channel '%s' added after recording began", def->name);
  if (r->n_src >= AM_DS_MAX_CHANNELS) return am_err(err, err_sz, "too many channels");
  am_channel_def d = *def;
  d.flags = rec_flags(r, def);
  int c = am_ds_add_channel(r->w, &d);
  if (c < 0) return am_err(err, err_sz, "%s", am_ds_writer_error(r->w));
  size_t rb = am_dtype_size(def->dtype);
  for (int i = 0; i < def->ndim; i++) rb *= def->shape[i];
  r->src[r->n_src++] = (rec_src){c, src, rb, 0};
  return c;
}

am_ds_writer* am_rec_writer(am_rec* r) { return r->w; }

int am_rec_obs_channel(const am_rec* r, int k, uint32_t* elem) {
  for (int g = 0; g < r->t->n_groups; g++) {
    const am_obs_group* x = &r->t->groups[g];
    if (k >= x->offset && k < x->offset + x->size) {
      *elem = (uint32_t)(k - x->offset);
      return r->c_obs[g];
    }
  }
  return -1;
}

int am_rec_set_meta(am_rec* r, const char* key, const char* value) {
  return am_ds_set_meta(r->w, key, value, -1);
}

static int start_episode(am_rec* r, int i, char* err, size_t err_sz) {
  if (r->next_id >= r->cfg.episodes || (r->cfg.per_env > 0 && r->env_eps[i] >= r->cfg.per_env)) {
    r->ep_id[i] = -1;
    return 0;
  }
  r->env_eps[i]++;
  r->ep_id[i] = r->next_id++;
  fill_init(r, i);
  if (am_ds_episode_begin(r->w, i, r->ep_id[i], r->init))
    return am_err(err, err_sz, "%s", am_ds_writer_error(r->w));
  return 0;
}

int am_rec_begin(am_rec* r, char* err, size_t err_sz) {
  if (am_ds_begin(r->w, r->n, r->cfg.chunk_rows, r->n_init))
    return am_err(err, err_sz, "%s", am_ds_writer_error(r->w));
  r->begun = 1;
  for (int i = 0; i < r->n; i++)
    if (start_episode(r, i, err, err_sz)) return -1;
  const am_batch* b = am_pool_batch(r->pool);
  memcpy(r->prev_obs, b->obs, sizeof(float) * (size_t)r->n * (size_t)r->t->obs_dim);
  return 0;
}

int am_rec_step(am_rec* r, char* err, size_t err_sz) {
  const am_task* t = r->t;
  const am_batch* b = am_pool_batch(r->pool);
  am_ds_writer* w = r->w;
  const void** src = r->put;  // channel -> where its values of env i are (set for every channel)
  for (int i = 0; i < r->n; i++) {
    if (r->ep_id[i] < 0) continue;
    int32_t step = b->ep_step[i];
    double time = r->t0[i] + (step + 1) * r->dt;
    src[r->c_step] = &step;
    src[r->c_time] = &time;
    const float* o = r->prev_obs + (size_t)i * t->obs_dim;
    for (int g = 0; g < t->n_groups; g++) src[r->c_obs[g]] = o + t->groups[g].offset;
    src[r->c_action] = b->actions + (size_t)i * t->act_dim;
    src[r->c_reward] = &b->rewards[i];
    if (r->c_terms >= 0) src[r->c_terms] = b->terms + (size_t)i * t->n_terms;
    src[r->c_term] = &b->terminated[i];
    src[r->c_trunc] = &b->truncated[i];
    src[r->c_unst] = &b->unstable[i];
    src[r->c_events] = &b->events[i];
    if (r->c_vars >= 0) src[r->c_vars] = b->vars + (size_t)i * t->n_vars;
    for (int k = 0; k < r->n_src; k++)
      src[r->src[k].ch] = (const uint8_t*)r->src[k].src + (size_t)i * r->src[k].row_bytes;
    am_ds_row_put(w, i, src);
    int done = b->terminated[i] || b->truncated[i];
    uint32_t end = done ? AM_DS_END | (b->terminated[i] ? AM_DS_TERMINATED : AM_DS_TRUNCATED) : 0;
    if (am_ds_row_commit(w, i, end)) return am_err(err, err_sz, "%s", am_ds_writer_error(w));
    r->rows++;
    if (done) {
      r->done++;
      if (start_episode(r, i, err, err_sz)) return -1;
    }
  }
  memcpy(r->prev_obs, b->obs, sizeof(float) * (size_t)r->n * (size_t)t->obs_dim);
  return r->done >= r->cfg.episodes;
}

int64_t am_rec_episodes_done(const am_rec* r) { return r->done; }
int64_t am_rec_rows(const am_rec* r) { return r->rows; }

static void rec_free(am_rec* r) {
  free(r->ep_id);
  free(r->env_eps);
  free(r->t0);
  free(r->prev_obs);
  free(r->init);
  free(r);
}

int am_rec_close(am_rec* r, char* err, size_t err_sz) {
  if (r->done < r->cfg.episodes) am_ds_set_interrupted(r->w);
  int rc = am_ds_close(r->w, err, err_sz);
  rec_free(r);
  return rc;
}

void am_rec_abort(am_rec* r) {
  if (r->w) am_ds_abort(r->w);
  rec_free(r);
}
