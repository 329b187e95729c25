// env_state.c: one env's state as bytes (checkpoints), little-endian and field by field, so that
// equal states give equal bytes whatever thread stepped them (copying MuJoCo's structs raw would
// also copy their padding, which holds whatever the stack held: mjContact has 4 bytes of it).
//
// What is written, in order (byte layout in docs/agents.md, checkpoint section ENVS):
//   u32 AM_ENV_STATE_VERSION, u32 mj_version(), u64 mjModel.nbuffer, u64 task state size;
//   the env's counters (step, episode, unstable: i64; episode_return: f64) and RNG (4 x u64);
//   (version 2) the model variant the env steps (i32; version 1 had none: variant 0);
//   mjData's info scalars (ne, nf, nefc, ncon, time, memory and solver counters; not nstack,
//   nbuffer, pstack), its warning counters, solver_fwdinv and energy;
//   every model-sized array of mjData in mjxmacro order, each element as f64 (mjtNum), i32 (int)
//   or u8 (mjtByte): the integration state (time above; qpos, qvel, act, ctrl, qacc_warmstart,
//   qfrc_applied, xfrc_applied, mocap_pos, mocap_quat, userdata) and everything the last mj_step
//   derived (poses, velocities, sensors, forces), because task hooks read some of it before the
//   next physics step (the reacher's act reads the fingertip, the arm's force field the hand);
//   the ncon active contacts, each field by field;
//   the task's state block (task->state_size bytes, as the task's C struct: tasks zero-allocate
//   it and reset it with memset, so its padding is zero).
// Not written: the constraint arrays efc_* (mj_step rebuilds them from scratch), the timer and
// solver statistics (diagnostics only), the stack. MuJoCo 2.2.2 has no plugin state, and the
// heightfields are in the shared read-only mjModel.
// What it is not: no file I/O (agents/ama_ckpt.c frames the bytes into a checkpoint).
#include <stdio.h>
#include <string.h>

#include <mujoco/mjxmacro.h>

#include "am_sim.h"

// A cursor over the bytes: writes (w != NULL, or sizing only when w is NULL) or reads (r).
typedef struct cur {
  uint8_t* w;
  const uint8_t* r;
  size_t pos, cap;
  int bad;
  const char* field;  // the field a read ran out in
} cur;

static void io_u(cur* c, uint64_t* v, int bytes, const char* field) {
  if (c->bad) return;
  if (c->r) {
    if (c->pos + (size_t)bytes > c->cap) {
      c->bad = 1;
      c->field = field;
      return;
    }
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++) x |= (uint64_t)c->r[c->pos + i] << (8 * i);
    *v = x;
  } else if (c->w && c->pos + (size_t)bytes <= c->cap) {
    for (int i = 0; i < bytes; i++) c->w[c->pos + i] = (uint8_t)(*v >> (8 * i));
  }
  c->pos += (size_t)bytes;
}

static void io_f64s(cur* c, mjtNum* x, size_t n, const char* field) {
  for (size_t i = 0; i < n && !c->bad; i++) {
    uint64_t u;
    memcpy(&u, &x[i], 8);
    io_u(c, &u, 8, field);
    if (c->r) memcpy(&x[i], &u, 8);
  }
}
static void io_i32s(cur* c, int* x, size_t n, const char* field) {
  for (size_t i = 0; i < n && !c->bad; i++) {
    uint64_t u = (uint32_t)x[i];
    io_u(c, &u, 4, field);
    if (c->r) x[i] = (int)(int32_t)(uint32_t)u;
  }
}
static void io_i64(cur* c, int64_t* x, const char* field) {
  uint64_t u = (uint64_t)*x;
  io_u(c, &u, 8, field);
  if (c->r) *x = (int64_t)u;
}
static void io_u8s(cur* c, uint8_t* x, size_t n, const char* field) {
  for (size_t i = 0; i < n && !c->bad; i++) {
    uint64_t u = x[i];
    io_u(c, &u, 1, field);
    if (c->r) x[i] = (uint8_t)u;
  }
}
static void io_skip(cur* c, void* x, size_t n, const char* field) {
  (void)c, (void)x, (void)n, (void)field;
}

// One contact, member by member (never the struct's padding).
static void io_contact(cur* c, mjContact* k) {
  io_f64s(c, &k->dist, 1, "contact.dist");
  io_f64s(c, k->pos, 3, "contact.pos");
  io_f64s(c, k->frame, 9, "contact.frame");
  io_f64s(c, &k->includemargin, 1, "contact.includemargin");
  io_f64s(c, k->friction, 5, "contact.friction");
  io_f64s(c, k->solref, mjNREF, "contact.solref");
  io_f64s(c, k->solimp, mjNIMP, "contact.solimp");
  io_f64s(c, &k->mu, 1, "contact.mu");
  io_f64s(c, k->H, 36, "contact.H");
  io_i32s(c, &k->dim, 1, "contact.dim");
  io_i32s(c, &k->geom1, 1, "contact.geom1");
  io_i32s(c, &k->geom2, 1, "contact.geom2");
  io_i32s(c, &k->exclude, 1, "contact.exclude");
  io_i32s(c, &k->efc_address, 1, "contact.efc_address");
}

// The whole traversal; the same code reads and writes, so the two cannot disagree.
static void io_env(cur* c, const am_task* t, am_env* e, char* err, size_t err_sz) {
  const mjModel* m = t->model->m;
  mjData* d = e->d;
  // signature: what the rest of the bytes assume
  uint64_t ver = AM_ENV_STATE_VERSION, mjv = (uint64_t)mj_version(), nbuf = (uint64_t)m->nbuffer;
  uint64_t tss = t->state_size;
  io_u(c, &ver, 4, "version");
  io_u(c, &mjv, 4, "mj_version");
  io_u(c, &nbuf, 8, "nbuffer");
  io_u(c, &tss, 8, "task_state_size");
  if (c->bad) return;
  if (c->r) {
    if (ver != 1 && ver != AM_ENV_STATE_VERSION) {
      c->bad = 2;
      am_err(err, err_sz, "env state: field 'version': %llu, this build reads 1 to %d",
             (unsigned long long)ver, AM_ENV_STATE_VERSION);
      return;
    }
    if (mjv != (uint64_t)mj_version() || nbuf != (uint64_t)m->nbuffer) {
      c->bad = 2;
      am_err(err, err_sz,
             "env state: field 'nbuffer': written by MuJoCo %llu for a model of %llu data bytes; "
             "this build has MuJoCo %d and %d bytes for '%s' (a different body or MuJoCo?)",
             (unsigned long long)mjv, (unsigned long long)nbuf, mj_version(), m->nbuffer,
             t->model->name);
      return;
    }
    if (tss != t->state_size) {
      c->bad = 2;
      am_err(err, err_sz,
             "env state: field 'task_state_size': %llu bytes, task '%s' has %zu (a different "
             "task, or a build whose task keeps other state?)",
             (unsigned long long)tss, t->name, t->state_size);
      return;
    }
  }
  // the env's counters and RNG stream
  io_i64(c, &e->step, "step");
  io_i64(c, &e->episode, "episode");
  io_i64(c, &e->unstable, "unstable");
  io_f64s(c, &e->episode_return, 1, "episode_return");
  for (int k = 0; k < 4; k++) {
    uint64_t s = e->rng.s[k];
    io_u(c, &s, 8, "rng");
    if (c->r) e->rng.s[k] = s;
  }
  int variant = e->variant;
  if (ver >= 2) io_i32s(c, &variant, 1, "variant");
  else variant = 0;
  if (c->bad) return;
  if (c->r) {
    if (variant < 0 || variant > t->n_variants) {
      c->bad = 2;
      am_err(err, err_sz, "env state: field 'variant': %d, task '%s' has model variants 0 to %d",
             variant, t->name, t->n_variants);
      return;
    }
    am_env_use_variant(t, e, variant);
  }
  // mjData's info header
#define X(type, name)                                                                   \
  if (strcmp(#name, "nstack") != 0 && strcmp(#name, "nbuffer") != 0 &&                  \
      strcmp(#name, "pstack") != 0)                                                     \
    _Generic(d->name, int: io_i32s, mjtNum: io_f64s)(c, &d->name, 1, #name);
  MJDATA_SCALAR
#undef X
  for (int k = 0; k < mjNWARNING; k++) {
    io_i32s(c, &d->warning[k].lastinfo, 1, "warning.lastinfo");
    io_i32s(c, &d->warning[k].number, 1, "warning.number");
  }
  io_f64s(c, d->solver_fwdinv, 2, "solver_fwdinv");
  io_f64s(c, d->energy, 2, "energy");
  // the model-sized arrays (contacts below: only ncon of the nconmax slots are live)
  {
    MJDATA_POINTERS_PREAMBLE(m)
    (void)njmax;
#define X(type, name, nr, nc)                                                                 \
  if (strncmp(#name, "efc_", 4) != 0)                                                         \
    _Generic(d->name, mjtNum*: io_f64s, int*: io_i32s, mjtByte*: io_u8s, mjContact*: io_skip)( \
        c, d->name, (size_t)m->nr * (size_t)(nc), #name);
    MJDATA_POINTERS
#undef X
  }
  if (c->bad) return;
  if (d->ncon < 0 || d->ncon > m->nconmax) {  // only corrupt bytes can say so
    c->bad = 2;
    am_err(err, err_sz, "env state: field 'ncon': %d contacts, the model has room for %d", d->ncon,
           m->nconmax);
    d->ncon = 0;
    return;
  }
  for (int k = 0; k < d->ncon && !c->bad; k++) io_contact(c, &d->contact[k]);
  if (t->state_size) io_u8s(c, e->task_state, t->state_size, "task_state");
}

size_t am_env_state_write(const am_task* t, const am_env* e, uint8_t* buf, size_t cap) {
  cur c = {.w = buf, .cap = buf ? cap : 0};
  io_env(&c, t, (am_env*)e, NULL, 0);  // writing reads e and its mjData only
  return c.pos;
}

int64_t am_env_state_read(const am_task* t, am_env* e, const uint8_t* buf, size_t n, char* err,
                          size_t err_sz) {
  cur c = {.r = buf, .cap = n};
  io_env(&c, t, e, err, err_sz);
  if (c.bad == 1)
    am_err(err, err_sz, "env state: truncated in field '%s' (%zu bytes)", c.field, n);
  if (c.bad) {
    // leave no half-restored simulation behind: a fresh episode's data (counters as they were read
    // are harmless, the caller refuses the whole file)
    mj_resetData(t->model->m, e->d);
    return -1;
  }
  return (int64_t)c.pos;
}
