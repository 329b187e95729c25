// amv_live.c: a task run live inside the viewer, one env, recorded step by step into an episode
// so the same panels show it. Policies: zero, smoothed random, an untrained network (to see
// network activity before any training), or a trained checkpoint.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ama_agents.h"
#include "amt_tasks.h"
#include "amv.h"

// A run directory: its checkpoint.bin, else the newest *.ckpt or *.bin file in it (or in its
// ckpt/ or checkpoints/ subfolder).
static int resolve_checkpoint(const char* path, char* out, size_t out_sz, char* err,
                              size_t err_sz) {
  struct stat st;
  if (stat(path, &st) != 0) return am_err(err, err_sz, "checkpoint %s: no such file", path);
  if (!S_ISDIR(st.st_mode)) {
    snprintf(out, out_sz, "%s", path);
    return 0;
  }
  snprintf(out, out_sz, "%s/checkpoint.bin", path);
  if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
  static const char* subs[] = {"", "/ckpt", "/checkpoints"};
  double best = -1;
  for (int k = 0; k < 3; k++) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s%s", path, subs[k]);
    DIR* d = opendir(dir);
    if (!d) continue;
    struct dirent* de;
    while ((de = readdir(d))) {
      size_t n = strlen(de->d_name);
      if (n < 5 || (strcmp(de->d_name + n - 5, ".ckpt") != 0 && strcmp(de->d_name + n - 4, ".bin") != 0))
        continue;
      char f[1400];
      snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
      if (stat(f, &st) == 0 && (double)st.st_mtime > best) {
        best = (double)st.st_mtime;
        snprintf(out, out_sz, "%s", f);
      }
    }
    closedir(d);
  }
  return best < 0 ? am_err(err, err_sz, "run directory %s holds no checkpoint (checkpoint.bin)", path)
                  : 0;
}

static void fill_meta(const am_task* t, amv_meta* meta) {
  snprintf(meta->task, sizeof meta->task, "%s", t->name);
  meta->n_events = t->n_events;
  for (int k = 0; k < t->n_events; k++)
    snprintf(meta->events[k], AM_NAME_LEN, "%s", t->events[k]);
  meta->n_vars = t->n_vars;
  for (int k = 0; k < t->n_vars; k++) snprintf(meta->vars[k], AM_NAME_LEN, "%s", t->vars[k]);
  meta->condition_var = amv_find_condition_var(meta);
}

int amv_live_open(amv_live* L, const char* task, const void* params_v, const char* policy,
                  uint64_t seed, int deterministic, amv_meta* meta, amv_episode* ep, char* err,
                  size_t err_sz) {
  memset(L, 0, sizeof *L);
  memset(meta, 0, sizeof *meta);
  const amt_params* params = params_v;
  amt_params ck_params = {0};
  char ckpt[1400] = "";
  char ck_task[64] = "";
  if (!policy || !*policy) policy = "untrained";
  if (!strcmp(policy, "zero")) L->kind = AMV_POLICY_ZERO;
  else if (!strcmp(policy, "random")) L->kind = AMV_POLICY_RANDOM;
  else {
    L->kind = AMV_POLICY_NET;
    if (strcmp(policy, "untrained") != 0) {
      if (resolve_checkpoint(policy, ckpt, sizeof ckpt, err, err_sz)) return -1;
      char* text = ama_ckpt_read_config(ckpt, err, err_sz);
      if (!text) return -1;
      ama_config cfg;
      ama_config_default(&cfg);
      int rc = ama_config_parse(&cfg, text, ckpt, err, err_sz);
      free(text);
      if (rc) return -1;
      snprintf(ck_task, sizeof ck_task, "%s", cfg.task);
      if (!task || !*task) {  // the checkpoint's own task and parameters
        if (amt_params_add_list(&ck_params, cfg.task_params, err, err_sz)) return -1;
        params = &ck_params;
        task = ck_task;
      }
    }
  }
  if (!task || !*task) return am_err(err, err_sz, "no task given (use --task NAME)");
  if (amt_create(&L->task, task, params, err, err_sz)) return -1;
  L->have_task = 1;
  const am_task* t = &L->task;
  am_pool_config pc = {.num_envs = 1, .num_threads = 1, .seed = seed, .export_state = 1};
  L->pool = am_pool_create(t, &pc, err, err_sz);
  if (!L->pool) return amv_live_close(L), -1;
  if (L->kind == AMV_POLICY_NET) {
    ama_policy* p = calloc(1, sizeof *p);
    if (!p) return amv_live_close(L), am_err(err, err_sz, "out of memory");
    int rc;
    if (ckpt[0]) {
      rc = ama_ckpt_load_policy(p, ckpt, t->groups, t->n_groups, t->obs_dim, t->act_dim, 1, err,
                                err_sz);
    } else {
      ama_policy_cfg pcfg;
      ama_policy_cfg_default(&pcfg);
      rc = ama_policy_init(p, &pcfg, t->groups, t->n_groups, t->obs_dim, t->act_dim, 1, 1, 1, seed,
                           err, err_sz);
    }
    if (rc) {
      free(p);
      return amv_live_close(L), -1;
    }
    L->net = p;
  }
  ama_actor* ac = calloc(1, sizeof *ac);
  if (!ac) return amv_live_close(L), am_err(err, err_sz, "out of memory");
  ama_actor_cfg acfg = {.kind = L->kind == AMV_POLICY_ZERO     ? AMA_ACT_ZERO
                                : L->kind == AMV_POLICY_RANDOM ? AMA_ACT_RANDOM
                                                               : AMA_ACT_POLICY,
                        .deterministic = deterministic, .seed = seed};
  if (ama_actor_init(ac, &acfg, L->net, t, 1, err, err_sz)) {
    free(ac);
    return amv_live_close(L), -1;
  }
  L->actor = ac;
  const mjModel* m = t->model->m;
  fill_meta(t, meta);
  if (ckpt[0]) {
    snprintf(meta->policy, sizeof meta->policy, "checkpoint %s", ckpt);
    if (ck_task[0] && strcmp(ck_task, t->name) != 0)
      snprintf(meta->policy, sizeof meta->policy, "checkpoint %s (trained on %s)", ckpt, ck_task);
  } else
    snprintf(meta->policy, sizeof meta->policy, "%s",
             L->kind == AMV_POLICY_ZERO     ? "zero policy"
             : L->kind == AMV_POLICY_RANDOM ? "random policy"
                                            : "untrained network (random weights)");
  snprintf(meta->origin, sizeof meta->origin, "live: task %s, %s", t->name, meta->policy);
  int cap = t->max_steps > 0 ? t->max_steps : 1000;
  if (amv_episode_init(ep, cap, m->nq, m->na, t->n_vars, err, err_sz))
    return amv_live_close(L), -1;
  ep->dt = m->opt.timestep * t->frame_skip;
  ep->index = 0;
  L->ch_action = amv_episode_add_channel(ep, "action", t->act_dim, err, err_sz);
  L->ch_act = m->na > 0 ? amv_episode_add_channel(ep, "activation", m->na, err, err_sz) : -1;
  if (L->net) {
    ama_policy* p = L->net;
    if (amv_episode_add_module(ep, "core", p->cfg.core_hidden, err, err_sz) < 0 ||
        amv_episode_add_module(ep, "motor", p->motor.cfg.hidden, err, err_sz) < 0)
      return amv_live_close(L), -1;
  }
  L->kin = mj_makeData(m);
  if (!L->kin) return amv_live_close(L), am_err(err, err_sz, "out of memory");
  ep->nmocap = m->nmocap;
  const mjData* d = am_pool_env(L->pool, 0)->d;  // reset by the pool: the first episode's scenery
  if (amv_episode_set_scene(ep, 0, d->mocap_pos, d->mocap_quat, err, err_sz))
    return amv_live_close(L), -1;
  return 0;
}

const mjModel* amv_live_model(const amv_live* L) { return L->task.model->m; }

int amv_live_step(amv_live* L, amv_episode* ep, char* err, size_t err_sz) {
  const am_task* t = &L->task;
  am_batch* b = am_pool_batch(L->pool);
  int A = t->act_dim;
  if (ep->T >= ep->cap && amv_episode_reserve(ep, ep->cap * 2, err, err_sz)) return -1;
  ama_actor_act(L->actor, b->obs, b->actions);
  am_pool_step(L->pool);
  const mjModel* m = t->model->m;
  int s = ep->T;
  memcpy(ep->qpos + (size_t)s * m->nq, b->qpos, sizeof(double) * m->nq);
  if (m->na) memcpy(ep->act + (size_t)s * m->na, b->act, sizeof(double) * m->na);
  ep->reward[s] = b->rewards[0];
  ep->events[s] = b->events[0];
  if (t->n_vars) memcpy(ep->vars + (size_t)s * t->n_vars, b->vars, sizeof(float) * t->n_vars);
  if (L->ch_action >= 0) memcpy(ep->channels[L->ch_action].x + (size_t)s * A, b->actions, sizeof(float) * A);
  if (L->ch_act >= 0)
    for (int k = 0; k < m->na; k++) ep->channels[L->ch_act].x[(size_t)s * m->na + k] = (float)b->act[k];
  if (L->net) {
    ama_policy* p = L->net;
    int Hc = ep->modules[0].units, Hm = ep->modules[1].units;
    memcpy(ep->modules[0].x + (size_t)s * Hc, p->core_y, sizeof(float) * Hc);
    memcpy(ep->modules[1].x + (size_t)s * Hm, p->a_motor_k.y, sizeof(float) * Hm);
  }
  ama_actor_observe(L->actor, b);
  // speed of the tracked body by finite difference of its position (kinematics on scratch data)
  ep->T = s + 1;
  ep->speed[s] = 0;
  if (s > 0) {
    int tb = amv_track_body(m);
    mjData* d = L->kin;
    double p0[3], p1[3];
    memcpy(d->qpos, ep->qpos + (size_t)(s - 1) * m->nq, sizeof(double) * m->nq);
    mj_kinematics(m, d);
    memcpy(p0, d->xpos + 3 * tb, sizeof p0);
    memcpy(d->qpos, ep->qpos + (size_t)s * m->nq, sizeof(double) * m->nq);
    mj_kinematics(m, d);
    memcpy(p1, d->xpos + 3 * tb, sizeof p1);
    double dx = p1[0] - p0[0], dy = p1[1] - p0[1], dz = p1[2] - p0[2];
    ep->speed[s] = (float)(sqrt(dx * dx + dy * dy + dz * dz) / ep->dt);
    if (s == 1) ep->speed[0] = ep->speed[1];
  }
  int ended = b->terminated[0] || b->truncated[0];
  // The scenery after the step (targets taken, an orb moved), as the pool exported it before any
  // reset, so an episode's last step shows its own scenery too (what a recording stores). Tasks
  // move mocap bodies by position only: the orientations are those in force.
  const double* cur = amv_episode_scene(ep, s);
  if (b->mocap_pos && cur) {
    size_t nq = 4 * (size_t)m->nmocap;
    double* quat = malloc(sizeof(double) * nq);  // cur may move when a key is added
    if (!quat) return am_err(err, err_sz, "out of memory");
    memcpy(quat, cur + 3 * (size_t)m->nmocap, sizeof(double) * nq);
    int rc = amv_episode_set_scene(ep, s, b->mocap_pos, quat, err, err_sz);
    free(quat);
    if (rc) return -1;
  }
  int done = ended;
  if (t->max_steps <= 0 && ep->T >= 100000) done = 1;  // no time limit: keep memory bounded
  return done;
}

void amv_live_next_episode(amv_live* L, amv_episode* ep) {
  ep->T = 0;
  ep->index++;
  // (the actor already started the policy's next episode: ama_actor_observe)
  amv_episode_clear_scene(ep);
  const mjData* d = am_pool_env(L->pool, 0)->d;
  char err[AM_ERR_LEN];  // cannot fail: the first key fits the storage already allocated
  (void)amv_episode_set_scene(ep, 0, d->mocap_pos, d->mocap_quat, err, sizeof err);
}

void amv_live_close(amv_live* L) {
  if (L->actor) {
    ama_actor_free(L->actor);
    free(L->actor);
  }
  if (L->net) {
    ama_policy_free(L->net);
    free(L->net);
  }
  if (L->kin) mj_deleteData(L->kin);
  if (L->pool) am_pool_free(L->pool);
  if (L->have_task) amt_destroy(&L->task);
  memset(L, 0, sizeof *L);
}
