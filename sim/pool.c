// pool.c: the env pool. N envs, each with its own mjData and RNG stream, stepped by T threads.
//
// The caller's thread is worker 0. Each thread owns a contiguous block of envs and steps them in
// order; a thread that finishes its block takes the next untaken envs of the others' blocks, so a
// thread whose envs stepped cheaply takes more (a rat's step costs more when its body touches
// more), while on even steps each env stays on its thread and in that core's cache. Envs never
// share mutable state, so which thread steps an env changes nothing in it: results are bitwise
// identical for any thread count. A step is one "generation": the caller publishes it, workers
// spin briefly then sleep on a condition variable, and the last worker to finish wakes the caller.
// Nothing is allocated after creation.
// The same threads run other work between steps (am_pool_run: the learner's), so a caller that
// alternates steps with such work needs no threads of its own and wakes none from sleep.
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "am_sim.h"

#define SPIN_ITERS 20000

// One iteration of a spin-wait: tells the CPU (x86 `pause`, Arm `yield`) that this is a busy loop,
// which saves power and frees the core's resources for its sibling hyper-thread; nothing elsewhere.
static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

enum { CMD_STEP, CMD_RESET, CMD_RUN, CMD_QUIT };

typedef struct env_slot {
  am_env e;
  int64_t steps, physics_steps, episodes_done, length_sum, unstable;
  double return_sum;
  char pad[64];  // keeps neighbouring slots' counters off each other's cache lines
} env_slot;

struct am_pool;
typedef struct worker {
  _Alignas(64) atomic_int next;  // the next env of this block to take (CMD_STEP, CMD_RESET)
  int begin, end;                // the block: envs [begin, end)
  struct am_pool* p;
  int id;
  pthread_t thread;
} worker;

struct am_pool {
  const am_task* task;
  // The same model with sensors disabled, for the physics steps of a control step whose sensor
  // values nobody reads (all but the last); NULL when there is nothing to save. Sensors never feed
  // back into the dynamics, so the trajectory is identical. One per model variant of the task
  // (m_nosensor[v] for am_env.variant v; see am_task.variants).
  mjModel** m_nosensor;
  int n, nthreads, started, export_state;  // started: threads running, caller included
  int n_push;
  am_push_point push[AM_MAX_PUSH];
  env_slot* slots;
  worker* workers;
  am_batch b;
  int nq, nv, na, nu, ns, nmocap;

  atomic_int generation;
  atomic_int remaining;
  int command;
  void (*run_fn)(void* arg, int thread);  // CMD_RUN's work (am_pool_run)
  void* run_arg;
  pthread_mutex_t mu;
  pthread_cond_t cv_start, cv_done;
  int sleepers, caller_sleeping;
};

static void* zalloc(size_t n) {
  size_t sz = (n + 63) / 64 * 64;
  if (!sz) sz = 64;
  void* q = aligned_alloc(64, sz);
  if (q) memset(q, 0, sz);
  return q;
}

// Replaces non-finite values so that no NaN/Inf ever reaches the batch. Returns 1 if any was found.
static int sanitize(float* v, int n) {
  int bad = 0;
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i])) {
      v[i] = 0;
      bad = 1;
    }
  return bad;
}

static void export_state(struct am_pool* p, int i, const mjData* d) {
  am_batch* b = &p->b;
  struct { double* dst; const mjtNum* src; int n; } s[7] = {
      {b->qpos + (size_t)i * p->nq, d->qpos, p->nq},
      {b->qvel + (size_t)i * p->nv, d->qvel, p->nv},
      {b->act + (size_t)i * p->na, d->act, p->na},
      {b->ctrl + (size_t)i * p->nu, d->ctrl, p->nu},
      {b->actuator_force + (size_t)i * p->nu, d->actuator_force, p->nu},
      {b->sensordata + (size_t)i * p->ns, d->sensordata, p->ns},
      {b->mocap_pos ? b->mocap_pos + (size_t)i * 3 * p->nmocap : NULL, d->mocap_pos,
       b->mocap_pos ? 3 * p->nmocap : 0}};
  for (int k = 0; k < 7; k++)
    for (int j = 0; j < s[k].n; j++) s[k].dst[j] = isfinite(s[k].src[j]) ? s[k].src[j] : 0;
}

static void free_nosensor(mjModel** ms, int n_variants) {
  if (!ms) return;
  for (int v = 0; v <= n_variants; v++)
    if (ms[v]) mj_deleteModel(ms[v]);
  free(ms);
}

void am_env_use_variant(const am_task* t, am_env* e, int v) {
  e->variant = v > 0 && v <= t->n_variants ? v : 0;
  e->m = e->variant ? t->variants[e->variant - 1] : t->model->m;
}

// Starts a new episode in env i and writes its first observation.
static void env_reset(struct am_pool* p, int i) {
  const am_task* t = p->task;
  am_env* e = &p->slots[i].e;
  mj_resetData(e->m, e->d);
  e->step = 0;
  e->episode++;
  e->episode_return = 0;
  t->reset(t, e);
  float* obs = p->b.obs + (size_t)i * t->obs_dim;
  t->observe(t, e, obs);
  sanitize(obs, t->obs_dim);
}

// The caller's pushes of env i (ft: n_push x 6), added to d->qfrc_applied as generalized forces
// (mj_applyFT at each point, with the kinematics of the current state; mj_step recomputes the
// same from qpos, so only the force changes the trajectory and a replay of the recorded
// qfrc_applied is exact). A substep hook rewrites qfrc_applied in every physics step (the force
// field zeroes it first); without one the pool zeroes it, so the pushes never accumulate.
static void apply_push(const struct am_pool* p, const am_task* t, am_env* e, const double* ft) {
  const mjModel* m = e->m;
  mjData* d = e->d;
  if (!t->substep) mju_zero(d->qfrc_applied, m->nv);
  int any = 0;
  for (int k = 0; k < 6 * p->n_push; k++) any |= ft[k] != 0;
  if (!any) return;
  // mj_kinematics normalises free and ball joints' quaternions in qpos in place; mj_step will
  // normalise them once, as a replay does, so qpos is put back bit for bit afterwards
  int mark = d->pstack;
  mjtNum* qpos = mj_stackAlloc(d, m->nq);
  mju_copy(qpos, d->qpos, m->nq);
  mj_kinematics(m, d);
  mj_comPos(m, d);
  for (int k = 0; k < p->n_push; k++) {
    const double* f = ft + 6 * k;
    if (!f[0] && !f[1] && !f[2] && !f[3] && !f[4] && !f[5]) continue;
    const am_push_point* pt = &p->push[k];
    int site = pt->type == mjOBJ_SITE;
    int body = site ? m->site_bodyid[pt->id] : pt->id;
    mjtNum force[3] = {f[0], f[1], f[2]}, torque[3] = {f[3], f[4], f[5]}, point[3];
    mju_copy3(point, site ? d->site_xpos + 3 * pt->id : d->xipos + 3 * body);
    mj_applyFT(m, d, force, torque, point, body, d->qfrc_applied);
  }
  mju_copy(d->qpos, qpos, m->nq);
  d->pstack = mark;
}

static void env_step(struct am_pool* p, int i) {
  const am_task* t = p->task;
  env_slot* s = &p->slots[i];
  am_env* e = &s->e;
  const mjModel* m = e->m;
  mjData* d = e->d;
  am_batch* b = &p->b;

  t->act(t, e, b->actions + (size_t)i * t->act_dim);
  int bad = 0;
  double* qfrc = b->qfrc_applied ? b->qfrc_applied + (size_t)i * t->frame_skip * p->nv : NULL;
  if (qfrc) memset(qfrc, 0, sizeof(double) * (size_t)t->frame_skip * p->nv);
  for (int k = 0; k < t->frame_skip; k++) {
    if (t->substep) t->substep(t, e);
    if (p->n_push) apply_push(p, t, e, b->push + (size_t)i * 6 * p->n_push);
    if (qfrc) memcpy(qfrc + (size_t)k * p->nv, d->qfrc_applied, sizeof(double) * (size_t)p->nv);
    double t0 = d->time;
    mj_step(p->m_nosensor && k + 1 < t->frame_skip ? p->m_nosensor[e->variant] : m, d);
    s->physics_steps++;
    // MuJoCo resets the data itself on a bad qpos/qvel/qacc (time jumps back); both count as bad.
    if (d->time < t0 || am_state_is_bad(m, d)) {
      bad = 1;
      break;
    }
  }
  e->step++;
  s->steps++;

  am_step_result r;
  memset(&r, 0, sizeof r);
  if (!bad) {
    t->evaluate(t, e, &r);
    if (!isfinite(r.reward)) bad = 1;
  }
  float* obs = b->obs + (size_t)i * t->obs_dim;
  float* fin = b->final_obs + (size_t)i * t->obs_dim;
  if (!bad) {
    // Observe into final_obs first: if it is bad, obs still holds the last good observation.
    t->observe(t, e, fin);
    if (sanitize(fin, t->obs_dim)) bad = 1;
    else memcpy(obs, fin, sizeof(float) * (size_t)t->obs_dim);
  }
  if (bad) {
    memset(&r, 0, sizeof r);
    memcpy(fin, obs, sizeof(float) * (size_t)t->obs_dim);
    e->unstable++;
    s->unstable++;
  }
  int truncated = bad || r.truncated || (t->max_steps > 0 && e->step >= t->max_steps);
  int terminated = !bad && r.terminated;
  if (terminated) truncated = 0;

  b->rewards[i] = r.reward;
  for (int k = 0; k < t->n_terms; k++) b->terms[(size_t)i * t->n_terms + k] = r.terms[k];
  b->terminated[i] = (uint8_t)terminated;
  b->truncated[i] = (uint8_t)truncated;
  b->unstable[i] = (uint8_t)bad;
  b->events[i] = r.events;
  b->ep_step[i] = (int32_t)(e->step - 1);
  b->episode[i] = e->episode;
  if (t->n_vars && t->get_vars) {
    float* v = b->vars + (size_t)i * t->n_vars;
    t->get_vars(t, e, v);
    sanitize(v, t->n_vars);
  }
  if (p->export_state) export_state(p, i, d);
  e->episode_return += r.reward;

  if (terminated || truncated) {
    s->episodes_done++;
    s->return_sum += e->episode_return;
    s->length_sum += e->step;
    env_reset(p, i);
  }
}

// One thread's share of cmd: for CMD_RUN the caller's function; else envs one at a time, first
// from its own block, then from each other block in turn until none is left.
static void run_share(struct am_pool* p, int cmd, int thread) {
  if (cmd == CMD_RUN) {
    p->run_fn(p->run_arg, thread);
    return;
  }
  for (int k = 0; k < p->nthreads; k++) {
    worker* w = &p->workers[(thread + k) % p->nthreads];
    for (;;) {
      int i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
      if (i >= w->end) break;
      if (cmd == CMD_STEP) env_step(p, i);
      else env_reset(p, i);
    }
  }
}

static void* worker_main(void* arg) {
  worker* w = arg;
  struct am_pool* p = w->p;
  int seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
           spins < SPIN_ITERS) {
      spin_pause();
      spins++;
    }
    if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
      pthread_mutex_lock(&p->mu);
      p->sleepers++;
      while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen)
        pthread_cond_wait(&p->cv_start, &p->mu);
      p->sleepers--;
      pthread_mutex_unlock(&p->mu);
    }
    seen = atomic_load_explicit(&p->generation, memory_order_acquire);
    int cmd = p->command;
    if (cmd == CMD_QUIT) return NULL;
    run_share(p, cmd, w->id);
    if (atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_acq_rel) == 1) {
      pthread_mutex_lock(&p->mu);
      if (p->caller_sleeping) pthread_cond_signal(&p->cv_done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

// Runs cmd on every env (or CMD_RUN on every thread), the caller taking part as worker 0.
static void dispatch(struct am_pool* p, int cmd) {
  for (int w = 0; w < p->nthreads; w++)
    atomic_store_explicit(&p->workers[w].next, p->workers[w].begin, memory_order_relaxed);
  if (p->nthreads == 1) {
    run_share(p, cmd, 0);
    return;
  }
  p->command = cmd;
  atomic_store_explicit(&p->remaining, p->nthreads - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_acq_rel);
  pthread_mutex_lock(&p->mu);
  if (p->sleepers) pthread_cond_broadcast(&p->cv_start);
  pthread_mutex_unlock(&p->mu);
  if (cmd == CMD_QUIT) return;
  run_share(p, cmd, 0);
  int spins = 0;
  while (atomic_load_explicit(&p->remaining, memory_order_acquire) > 0 && spins < SPIN_ITERS) {
    spin_pause();
    spins++;
  }
  if (atomic_load_explicit(&p->remaining, memory_order_acquire) > 0) {
    pthread_mutex_lock(&p->mu);
    p->caller_sleeping = 1;
    while (atomic_load_explicit(&p->remaining, memory_order_acquire) > 0)
      pthread_cond_wait(&p->cv_done, &p->mu);
    p->caller_sleeping = 0;
    pthread_mutex_unlock(&p->mu);
  }
}

static int check_task(const am_task* t, char* err, size_t err_sz) {
  if (!t || !t->model || !t->model->m) return am_err(err, err_sz, "env pool: task has no model");
  if (!t->reset || !t->act || !t->evaluate || !t->observe)
    return am_err(err, err_sz, "task %s: missing reset/act/evaluate/observe hook", t->name);
  if (t->frame_skip < 1) return am_err(err, err_sz, "task %s: frame_skip %d < 1", t->name,
                                       t->frame_skip);
  if (t->obs_dim < 0 || t->act_dim < 0 || t->n_terms < 0 || t->n_terms > AM_MAX_TERMS ||
      t->n_vars < 0 || t->n_vars > AM_MAX_VARS || t->n_groups < 0 || t->n_groups > AM_MAX_GROUPS)
    return am_err(err, err_sz, "task %s: bad sizes", t->name);
  int covered = 0;
  for (int g = 0; g < t->n_groups; g++) {
    const am_obs_group* gr = &t->groups[g];
    if (gr->offset != covered || gr->size < 0)
      return am_err(err, err_sz, "task %s: observation group '%s' is not contiguous (offset %d)",
                    t->name, gr->name, gr->offset);
    covered += gr->size;
  }
  if (covered != t->obs_dim)
    return am_err(err, err_sz, "task %s: observation groups cover %d of %d values", t->name,
                  covered, t->obs_dim);
  return 0;
}

am_pool* am_pool_create(const am_task* t, const am_pool_config* cfg, char* err, size_t err_sz) {
  if (check_task(t, err, err_sz)) return NULL;
  if (!cfg || cfg->num_envs < 1) {
    am_err(err, err_sz, "env pool: num_envs must be >= 1 (got %d)", cfg ? cfg->num_envs : 0);
    return NULL;
  }
  if (cfg->num_threads < 1) {
    am_err(err, err_sz, "env pool: num_threads must be >= 1 (got %d)", cfg->num_threads);
    return NULL;
  }
  if (cfg->n_push < 0 || cfg->n_push > AM_MAX_PUSH) {
    am_err(err, err_sz, "env pool: %d push points (at most %d)", cfg->n_push, AM_MAX_PUSH);
    return NULL;
  }
  for (int k = 0; k < cfg->n_push; k++) {
    const am_push_point* pt = &cfg->push[k];
    const mjModel* mm = t->model->m;
    int n = pt->type == mjOBJ_BODY ? mm->nbody : pt->type == mjOBJ_SITE ? mm->nsite : 0;
    if (!n || pt->id < (pt->type == mjOBJ_BODY) || pt->id >= n) {  // body 0 is the world
      am_err(err, err_sz, "env pool: push point %d (type %d, id %d) is not a body or site of the "
             "model", k, pt->type, pt->id);
      return NULL;
    }
  }
  struct am_pool* p = calloc(1, sizeof *p);
  if (!p) {
    am_err(err, err_sz, "out of memory");
    return NULL;
  }
  const mjModel* m = t->model->m;
  p->task = t;
  p->n = cfg->num_envs;
  p->nthreads = cfg->num_threads < cfg->num_envs ? cfg->num_threads : cfg->num_envs;
  p->export_state = cfg->export_state;
  p->n_push = cfg->n_push;
  memcpy(p->push, cfg->push, sizeof(am_push_point) * (size_t)cfg->n_push);
  p->nq = m->nq, p->nv = m->nv, p->na = m->na, p->nu = m->nu, p->ns = m->nsensordata, p->nmocap = m->nmocap;
  for (int v = 0; v < t->n_variants; v++) {
    const mjModel* mv = t->variants[v];
    if (!mv || mv->nq != m->nq || mv->nv != m->nv || mv->na != m->na || mv->nu != m->nu ||
        mv->nbody != m->nbody || mv->ngeom != m->ngeom || mv->nmocap != m->nmocap ||
        mv->nsensordata != m->nsensordata || mv->nkey != m->nkey) {
      free(p);
      am_err(err, err_sz, "env pool: task %s's model variant %d does not match its model",
             t->name, v + 1);
      return NULL;
    }
  }
  if (t->frame_skip > 1 && m->nsensor > 0 && !(m->opt.disableflags & mjDSBL_SENSOR)) {
    p->m_nosensor = calloc((size_t)t->n_variants + 1, sizeof(mjModel*));
    for (int v = 0; p->m_nosensor && v <= t->n_variants; v++) {
      if (!(p->m_nosensor[v] = mj_copyModel(NULL, v ? t->variants[v - 1] : m))) break;
      p->m_nosensor[v]->opt.disableflags |= mjDSBL_SENSOR;
    }
    if (!p->m_nosensor || !p->m_nosensor[t->n_variants]) {
      free_nosensor(p->m_nosensor, t->n_variants);
      free(p);
      am_err(err, err_sz, "env pool: out of memory copying the model");
      return NULL;
    }
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv_start, NULL);
  pthread_cond_init(&p->cv_done, NULL);

  size_t n = (size_t)p->n;
  am_batch* b = &p->b;
  b->n = p->n;
  int fail = 0;
#define ALLOC(field, count)                                 \
  do {                                                      \
    b->field = zalloc(sizeof(*b->field) * (size_t)(count)); \
    fail |= !b->field;                                      \
  } while (0)
  ALLOC(obs, n * t->obs_dim);
  ALLOC(final_obs, n * t->obs_dim);
  ALLOC(actions, n * t->act_dim);
  ALLOC(rewards, n);
  ALLOC(terms, n * t->n_terms);
  ALLOC(terminated, n);
  ALLOC(truncated, n);
  ALLOC(unstable, n);
  ALLOC(events, n);
  ALLOC(ep_step, n);
  ALLOC(episode, n);
  ALLOC(vars, n * t->n_vars);
  b->n_push = p->n_push;
  if (p->n_push) ALLOC(push, n * 6 * p->n_push);
  if (p->export_state) {
    ALLOC(qpos, n * p->nq);
    ALLOC(qvel, n * p->nv);
    ALLOC(act, n * p->na);
    ALLOC(ctrl, n * p->nu);
    ALLOC(actuator_force, n * p->nu);
    ALLOC(sensordata, n * p->ns);
    if (t->substep || p->n_push) ALLOC(qfrc_applied, n * t->frame_skip * p->nv);
    if (p->nmocap) ALLOC(mocap_pos, n * 3 * p->nmocap);
  }
#undef ALLOC
  p->slots = zalloc(sizeof(env_slot) * n);
  p->workers = zalloc(sizeof(worker) * (size_t)p->nthreads);
  if (fail || !p->slots || !p->workers) {
    am_pool_free(p);
    am_err(err, err_sz, "env pool: out of memory for %d envs", p->n);
    return NULL;
  }
  for (int i = 0; i < p->n; i++) {
    am_env* e = &p->slots[i].e;
    e->m = m;
    e->index = i;
    am_rng_seed(&e->rng, cfg->seed, (uint64_t)i);
    e->d = mj_makeData(m);
    if (t->state_size) e->task_state = zalloc(t->state_size);
    if (!e->d || (t->state_size && !e->task_state)) {
      am_pool_free(p);
      am_err(err, err_sz, "env pool: out of memory creating env %d", i);
      return NULL;
    }
  }
  for (int w = 0; w < p->nthreads; w++) {
    p->workers[w].p = p;
    p->workers[w].id = w;
    p->workers[w].begin = (int)((int64_t)p->n * w / p->nthreads);
    p->workers[w].end = (int)((int64_t)p->n * (w + 1) / p->nthreads);
  }
  p->started = 1;
  for (int w = 1; w < p->nthreads; w++) {
    if (pthread_create(&p->workers[w].thread, NULL, worker_main, &p->workers[w])) {
      am_pool_free(p);  // stops the threads already started
      am_err(err, err_sz, "env pool: cannot start worker thread %d", w);
      return NULL;
    }
    p->started = w + 1;
  }
  am_pool_reset(p);
  return p;
}

void am_pool_step(am_pool* p) { dispatch(p, CMD_STEP); }

void am_pool_run(am_pool* p, void (*fn)(void* arg, int thread), void* arg) {
  p->run_fn = fn;
  p->run_arg = arg;
  dispatch(p, CMD_RUN);
}

void am_pool_reset(am_pool* p) {
  dispatch(p, CMD_RESET);
  memset(p->b.events, 0, sizeof(uint32_t) * (size_t)p->n);
}

am_batch* am_pool_batch(am_pool* p) { return &p->b; }
const am_task* am_pool_task(const am_pool* p) { return p->task; }
am_env* am_pool_env(am_pool* p, int i) { return (i >= 0 && i < p->n) ? &p->slots[i].e : NULL; }
int am_pool_num_envs(const am_pool* p) { return p->n; }
int am_pool_num_threads(const am_pool* p) { return p->nthreads; }
int am_pool_push_points(const am_pool* p, const am_push_point** points) {
  if (points) *points = p->push;
  return p->n_push;
}

void am_pool_get_stats(const am_pool* p, am_pool_stats* s) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < p->n; i++) {
    const env_slot* e = &p->slots[i];
    s->steps += e->steps;
    s->physics_steps += e->physics_steps;
    s->episodes += e->episodes_done;
    s->unstable += e->unstable;
    s->return_sum += e->return_sum;
    s->length_sum += e->length_sum;
  }
}

void am_pool_free(am_pool* p) {
  if (!p) return;
  if (p->started > 1) {
    p->nthreads = p->started;
    dispatch(p, CMD_QUIT);
    for (int w = 1; w < p->started; w++) pthread_join(p->workers[w].thread, NULL);
  }
  if (p->slots) {
    for (int i = 0; i < p->n; i++) {
      if (p->slots[i].e.d) mj_deleteData(p->slots[i].e.d);
      free(p->slots[i].e.task_state);
    }
  }
  am_batch* b = &p->b;
  void* bufs[] = {b->obs,    b->final_obs, b->actions, b->rewards, b->terms,          b->terminated,
                  b->truncated, b->unstable, b->events, b->ep_step, b->episode,        b->vars,
                  b->qpos,   b->qvel,      b->act,     b->ctrl,    b->actuator_force, b->sensordata,
                  b->qfrc_applied, b->mocap_pos, b->push};
  for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) free(bufs[k]);
  free(p->slots);
  free(p->workers);
  free_nosensor(p->m_nosensor, p->task->n_variants);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv_start);
  pthread_cond_destroy(&p->cv_done);
  free(p);
}
