// ama_ckpt.c: checkpoints: a versioned, checksummed, little-endian binary file holding the run's
// configuration, the tensor table, parameters with Adam state, the observation normaliser, the
// learner's counters and RNG, the policy's acting state, the observation groups and every env's
// simulation state (serialised field by field by sim/env_state.c, so the bytes do not depend on
// the thread count), so a resumed run continues bit for bit. Written atomically (tmp file, fsync,
// rename). Also module reuse (ama_policy_load_module), which reads other checkpoints.
// What it is not: no printing; the format is described in docs/agents.md.
//
// Layout: "AMACKPT1" | u32 version | u32 flags | sections... | u32 CRC-32 of all bytes before.
// A section is u32 tag (4 ASCII bytes) | u64 payload length | payload. Unknown tags are skipped.
// The reader trusts nothing it reads: a section's length is checked against the file, every count,
// size and offset against its section's real length (and the policy's own sizes) before anything
// is read or copied, so an inconsistent file (even with a valid checksum) is refused naming the
// field.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ama_agents.h"
#include "ama_internal.h"

static const char MAGIC[8] = {'A', 'M', 'A', 'C', 'K', 'P', 'T', '1'};

//---------------------------------- writer --------------------------------------------------------

typedef struct wbuf {
  am_buf b;
  int oom;  // a write failed (out of memory): the file is not written
} wbuf;

static void w_bytes(wbuf* w, const void* src, size_t n) {
  if (!src || n > ((size_t)1 << 40)) w->oom = 1;  // (only a corrupt mjData could ask for this)
  if (!w->oom && am_buf_append(&w->b, src, n)) w->oom = 1;
}
static void w_u32(wbuf* w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  w_bytes(w, b, 4);
}
static void w_u64(wbuf* w, uint64_t v) {
  w_u32(w, (uint32_t)v);
  w_u32(w, (uint32_t)(v >> 32));
}
static void w_f32s(wbuf* w, const float* x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    w_u32(w, u);
  }
}
static void w_f64s(wbuf* w, const double* x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, &x[i], 8);
    w_u64(w, u);
  }
}
static size_t w_begin(wbuf* w, const char tag[4]) {
  w_bytes(w, tag, 4);
  w_u64(w, 0);
  return w->b.len;
}
static void w_end(wbuf* w, size_t start) {
  if (w->oom) return;
  uint64_t len = w->b.len - start;
  for (int i = 0; i < 8; i++) w->b.p[start - 8 + i] = (uint8_t)(len >> (8 * i));
}


// Reserves n zero bytes at the end and returns them (NULL after a failure).
static uint8_t* w_reserve(wbuf* w, size_t n) {
  size_t at = w->b.len;
  if (!w->oom && am_buf_append(&w->b, NULL, n)) w->oom = 1;
  return w->oom ? NULL : w->b.p + at;
}

static int state_S(const ama_cell* c) { return c->S ? c->S : 1; }

// The learner's counters and stream (LERN).
static void w_lern(wbuf* w, const ama_ppo* L) {
  size_t s = w_begin(w, "LERN");
  w_u64(w, (uint64_t)L->env_steps);
  w_u64(w, (uint64_t)L->iteration);
  for (int i = 0; i < 4; i++) w_u64(w, L->rng.s[i]);
  w_end(w, s);
}

// A policy's acting state for N envs and its actor's reset mask.
static void w_policy_state(wbuf* w, const ama_policy* p, const float* mask, int N) {
  w_u64(w, (uint64_t)p->t_global);
  w_f32s(w, p->core_s, (size_t)N * state_S(&p->core));
  w_f32s(w, p->motor_s, (size_t)N * state_S(&p->motor));
  w_f32s(w, p->core_y, (size_t)N * p->cfg.core_hidden);
  w_f32s(w, p->core_acc, N);
  w_f32s(w, p->prev_act, (size_t)N * p->act_dim);
  w_f32s(w, p->prev_rew, N);
  w_f32s(w, mask, N);
}

// The acting state of every env (ACTS); with an anchor, its reference's after the rest.
static void w_acts(wbuf* w, const ama_ppo* L) {
  int N = L->N;
  size_t s = w_begin(w, "ACTS");
  w_u32(w, (uint32_t)N);
  w_policy_state(w, &L->pol, L->next_mask, N);
  w_f64s(w, L->run_return, N);
  for (int b = 0; b < N; b++) w_u32(w, (uint32_t)L->run_length[b]);
  for (int b = 0; b < N; b++) w_u32(w, (uint32_t)L->run_success[b]);
  w_f64s(w, L->disc, N);
  w_f64s(w, &L->rr_count, 1);
  w_f64s(w, &L->rr_mean, 1);
  w_f64s(w, &L->rr_m2, 1);
  // action_noise_corr: the last step's action noise, which the next step's continues
  if (L->act.eps_prev) w_f32s(w, L->act.eps_prev, (size_t)N * L->act.A);
  if (L->anchored) w_policy_state(w, &L->ref, L->ref_act.mask, N);
  w_end(w, s);
}

// Every env's simulation state, serialised field by field by sim/ (ENVS).
static void w_envs(wbuf* w, const ama_ppo* L) {
  const am_task* task = am_pool_task(L->pool);
  int N = L->N;
  size_t s = w_begin(w, "ENVS");
  w_u32(w, (uint32_t)N);
  w_u32(w, (uint32_t)task->obs_dim);
  w_u64(w, task->state_size);
  for (int i = 0; i < N; i++) {
    const am_env* e = am_pool_env(L->pool, i);
    size_t len = am_env_state_write(task, e, NULL, 0);
    w_u64(w, len);
    uint8_t* at = w_reserve(w, len);
    if (at) am_env_state_write(task, e, at, len);
  }
  w_f32s(w, am_pool_batch(L->pool)->obs, (size_t)N * task->obs_dim);
  w_end(w, s);
}

// Magic, version and flags; the end: the CRC-32 of every byte before it.
static void w_head(wbuf* w) {
  w_bytes(w, MAGIC, 8);
  w_u32(w, AMA_CKPT_VERSION);
  w_u32(w, 0);
}
static void w_crc(wbuf* w) {
  if (!w->oom) w_u32(w, am_crc32(0, w->b.p, w->b.len));
}

// A rank's own state (its stream, acting state and envs) as a checkpoint container of its own:
// what section RNKS holds for every rank but 0.
static void w_rank_state(wbuf* w, const ama_ppo* L) {
  w_head(w);
  w_lern(w, L);
  w_acts(w, L);
  w_envs(w, L);
  size_t s = w_begin(w, "END ");
  w_end(w, s);
  w_crc(w);
}

// The whole checkpoint into w. ranks: the other ranks' state containers (RNKS: u32 rank count,
// then per rank 1.. u64 length and the container), NULL for a single process.
static int build(wbuf* w, ama_ppo* L, const uint8_t* ranks, const uint64_t* rank_len, int n_ranks,
                 const char* path, char* err, size_t err_sz) {
  ama_policy* p = &L->pol;
  w_head(w);
  // configuration text
  char* conf = malloc(16384);
  if (!conf) {
    snprintf(err, err_sz, "%s: out of memory", path);
    return -1;
  }
  int cl = ama_config_write(&L->cfg, conf, 16384);
  size_t s = w_begin(w, "CONF");
  w_bytes(w, conf, (size_t)cl < 16384 ? (size_t)cl : 16383);
  w_end(w, s);
  free(conf);
  // tensor table
  s = w_begin(w, "TENS");
  w_u32(w, (uint32_t)p->params.n_tensors);
  for (int i = 0; i < p->params.n_tensors; i++) {
    const ama_tensor* t = &p->params.t[i];
    uint32_t nl = (uint32_t)strlen(t->name);
    w_u32(w, nl);
    w_bytes(w, t->name, nl);
    w_u32(w, (uint32_t)t->rows);
    w_u32(w, (uint32_t)t->cols);
    w_u64(w, t->offset);
    w_u32(w, (uint32_t)t->frozen);
  }
  w_end(w, s);
  // parameters and Adam
  s = w_begin(w, "PARM");
  w_u64(w, p->params.count);
  w_f32s(w, p->params.w, p->params.count);
  w_f32s(w, p->params.m, p->params.count);
  w_f32s(w, p->params.v, p->params.count);
  w_u64(w, (uint64_t)p->params.adam_t);
  w_end(w, s);
  // recurrent connectivity (only when a module is masked): u32 modules (2), per module u32 H and
  // u8 present, then H*H bytes 0/1 when present (row: receiving unit)
  if (p->conn[0] || p->conn[1]) {
    s = w_begin(w, "CONN");
    w_u32(w, 2);
    for (int m = 0; m < 2; m++) {
      int H = m ? p->cfg.motor_hidden : p->cfg.core_hidden;
      w_u32(w, (uint32_t)H);
      uint8_t present = p->conn[m] != NULL;
      w_bytes(w, &present, 1);
      if (present) w_bytes(w, p->conn[m], (size_t)H * H);
    }
    w_end(w, s);
  }
  // normaliser
  s = w_begin(w, "NORM");
  w_u32(w, (uint32_t)p->norm.n);
  w_f64s(w, &p->norm.count, 1);
  w_f64s(w, p->norm.mean, p->norm.n);
  w_f64s(w, p->norm.m2, p->norm.n);
  w_f64s(w, p->norm.counts, p->norm.n);
  w_end(w, s);
  w_lern(w, L);
  w_acts(w, L);
  // observation groups (so that load_module can match normaliser entries by group name)
  const am_task* task = am_pool_task(L->pool);
  s = w_begin(w, "OGRP");
  w_u32(w, (uint32_t)task->n_groups);
  for (int g = 0; g < task->n_groups; g++) {
    uint32_t nl = (uint32_t)strlen(task->groups[g].name);
    w_u32(w, nl);
    w_bytes(w, task->groups[g].name, nl);
    w_u32(w, (uint32_t)task->groups[g].offset);
    w_u32(w, (uint32_t)task->groups[g].size);
  }
  w_end(w, s);
  w_envs(w, L);
  if (L->hebb) {  // node perturbation's traces and running means: u64 count, count doubles
    size_t n;
    const double* hs = ama_hebb_state(L->hebb, &n);
    s = w_begin(w, "HEBB");
    w_u64(w, n);
    w_f64s(w, hs, n);
    w_end(w, s);
  }
  if (ranks) {
    s = w_begin(w, "RNKS");
    w_u32(w, (uint32_t)n_ranks);
    for (int r = 1; r < n_ranks; r++) {
      w_u64(w, rank_len[r]);
      w_bytes(w, ranks + (size_t)r * rank_len[0], rank_len[r]);  // rank_len[0]: the stride
    }
    w_end(w, s);
  }
  s = w_begin(w, "END ");
  w_end(w, s);
  if (w->oom) {
    snprintf(err, err_sz, "%s: out of memory building the checkpoint", path);
    return -1;
  }
  w_crc(w);
  return 0;
}

// Collective save (L->comm): every rank's state container to every rank, rank 0 writes, and its
// outcome goes to every rank.
static int save_dist(ama_ppo* L, const char* path, char* err, size_t err_sz) {
  const ama_comm* c = L->comm;
  wbuf mine = {0};
  if (c->rank) w_rank_state(&mine, L);
  uint64_t len = mine.oom ? UINT64_MAX : mine.b.len, stride = 0;
  uint64_t* lens = calloc((size_t)c->size, sizeof(uint64_t));
  uint8_t* all = NULL;
  char msg[400] = "";
  int rc = -1;
  if (!lens || c->allgather(c->ctx, &len, lens, sizeof len, err, err_sz)) goto out;
  for (int r = 0; r < c->size; r++) {
    if (lens[r] == UINT64_MAX) {
      snprintf(err, err_sz, "%s: rank %d ran out of memory building its state", path, r);
      goto out;
    }
    if (lens[r] > stride) stride = lens[r];
  }
  all = malloc((size_t)stride * (size_t)c->size + 1);
  if (!all || am_buf_append(&mine.b, NULL, (size_t)(stride - len))) {
    snprintf(err, err_sz, "%s: out of memory gathering the ranks' states", path);
    goto out;  // (the other ranks then fail in the exchange: the job ends)
  }
  if (c->allgather(c->ctx, mine.b.p ? mine.b.p : all, all, (size_t)stride, err, err_sz)) goto out;
  if (c->rank == 0) {
    lens[0] = stride;
    wbuf w = {0};
    if (build(&w, L, all, lens, c->size, path, msg, sizeof msg) == 0)
      am_write_file_atomic(path, w.b.p, w.b.len, msg, sizeof msg);
    am_buf_free(&w.b);
  }
  if (c->bcast(c->ctx, msg, sizeof msg, err, err_sz)) goto out;
  if (msg[0]) {
    snprintf(err, err_sz, "rank 0: %s", msg);
    goto out;
  }
  rc = 0;
out:
  am_buf_free(&mine.b);
  free(lens);
  free(all);
  return rc;
}

int ama_ckpt_save(ama_ppo* L, const char* path, char* err, size_t err_sz) {
  if (L->comm) return save_dist(L, path, err, err_sz);
  wbuf w = {0};
  int rc = build(&w, L, NULL, NULL, 0, path, err, err_sz);
  if (!rc) rc = am_write_file_atomic(path, w.b.p, w.b.len, err, err_sz);
  am_buf_free(&w.b);
  return rc;
}

//---------------------------------- reader --------------------------------------------------------

typedef struct rfile {
  uint8_t* p;
  size_t n;
  const char* path;
  uint32_t version;  // 1 or AMA_CKPT_VERSION
} rfile;

typedef struct rsec {
  const uint8_t* p;
  size_t n, pos;
  int bad;
} rsec;

static uint32_t rd_u32(rsec* r) {
  if (r->pos + 4 > r->n) {
    r->bad = 1;
    return 0;
  }
  const uint8_t* b = r->p + r->pos;
  r->pos += 4;
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t rd_u64(rsec* r) {
  uint64_t lo = rd_u32(r);
  return lo | (uint64_t)rd_u32(r) << 32;
}
static void rd_f32s(rsec* r, float* x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u = rd_u32(r);
    memcpy(&x[i], &u, 4);
  }
}
static void rd_f64s(rsec* r, double* x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint64_t u = rd_u64(r);
    memcpy(&x[i], &u, 8);
  }
}
// 1 when count items of elem bytes fit in what is left of the section (no overflow).
static int rd_fits(const rsec* r, uint64_t count, size_t elem) {
  return !r->bad && count <= (r->n - r->pos) / elem;
}
static void rd_bytes(rsec* r, void* dst, size_t n) {
  if (r->bad || n > r->n - r->pos) {
    r->bad = 1;
    return;
  }
  memcpy(dst, r->p + r->pos, n);
  r->pos += n;
}

static int rf_check(rfile* f, char* err, size_t err_sz);

// Reads and validates the whole file (magic, version, checksum, section framing).
static int rf_open(rfile* f, const char* path, char* err, size_t err_sz) {
  memset(f, 0, sizeof(*f));
  f->path = path;
  FILE* fp = fopen(path, "rb");
  if (!fp) {
    snprintf(err, err_sz, "%s: cannot open checkpoint: %s", path, strerror(errno));
    return -1;
  }
  fseek(fp, 0, SEEK_END);
  long sz = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  if (sz < 20) {
    fclose(fp);
    snprintf(err, err_sz, "%s: not an animat checkpoint (only %ld bytes)", path, sz);
    return -1;
  }
  f->p = malloc((size_t)sz);
  if (!f->p || fread(f->p, 1, (size_t)sz, fp) != (size_t)sz) {
    fclose(fp);
    free(f->p);
    snprintf(err, err_sz, "%s: read failed", path);
    return -1;
  }
  fclose(fp);
  f->n = (size_t)sz;
  return rf_check(f, err, err_sz);
}

// Validates a file held in f->p (magic, version, checksum); frees f->p on failure.
static int rf_check(rfile* f, char* err, size_t err_sz) {
  const char* path = f->path;
  if (f->n < 20) {
    snprintf(err, err_sz, "%s: not an animat checkpoint (only %zu bytes)", path, f->n);
    goto fail;
  }
  if (memcmp(f->p, MAGIC, 8) != 0) {
    snprintf(err, err_sz, "%s: field 'magic': not an animat checkpoint (expected AMACKPT1)", path);
    goto fail;
  }
  rsec h = {f->p + 8, 8, 0, 0};
  uint32_t ver = rd_u32(&h);
  if (ver < 1 || ver > AMA_CKPT_VERSION) {
    snprintf(err, err_sz,
             "%s: field 'version': checkpoint version %u, this build reads versions 1 to %d",
             path, ver, AMA_CKPT_VERSION);
    goto fail;
  }
  f->version = ver;
  rsec c = {f->p + f->n - 4, 4, 0, 0};
  uint32_t stored = rd_u32(&c), crc = am_crc32(0, f->p, f->n - 4);
  if (stored != crc) {
    snprintf(err, err_sz,
             "%s: field 'crc32': checksum mismatch (stored %08x, computed %08x): the file is "
             "corrupt or truncated",
             path, stored, crc);
    goto fail;
  }
  return 0;
fail:
  free(f->p);
  f->p = NULL;
  return -1;
}

// Finds a section by tag. Returns 0 and fills s, or -1 with a message.
static int rf_section(const rfile* f, const char tag[4], rsec* s, char* err, size_t err_sz) {
  size_t pos = 16, end = f->n - 4;
  while (pos + 12 <= end) {
    rsec h = {f->p + pos + 4, 8, 0, 0};
    uint64_t len = rd_u64(&h);
    if (len > end - pos - 12) {
      snprintf(err, err_sz,
               "%s: field 'section %.4s length': %llu bytes, but only %zu bytes follow it in the "
               "file",
               f->path, (const char*)(f->p + pos), (unsigned long long)len, end - pos - 12);
      return -1;
    }
    if (memcmp(f->p + pos, tag, 4) == 0) {
      s->p = f->p + pos + 12;
      s->n = (size_t)len;
      s->pos = 0;
      s->bad = 0;
      return 0;
    }
    pos += 12 + (size_t)len;
  }
  snprintf(err, err_sz, "%s: section '%.4s' missing or malformed", f->path, tag);
  return -1;
}

char* ama_ckpt_read_config(const char* path, char* err, size_t err_sz) {
  rfile f;
  if (rf_open(&f, path, err, err_sz)) return NULL;
  rsec s;
  char* out = NULL;
  if (rf_section(&f, "CONF", &s, err, err_sz) == 0) {
    out = malloc(s.n + 1);
    if (out) {
      memcpy(out, s.p, s.n);
      out[s.n] = 0;
    }
  }
  free(f.p);
  return out;
}

int ama_ckpt_read_steps(const char* path, int64_t* env_steps, char* err, size_t err_sz) {
  rfile f;
  if (rf_open(&f, path, err, err_sz)) return -1;
  rsec s;
  int rc = rf_section(&f, "LERN", &s, err, err_sz);
  if (!rc) {
    uint64_t n = rd_u64(&s);
    if (s.bad) rc = -1, snprintf(err, err_sz, "%s: field 'LERN': truncated", path);
    else *env_steps = (int64_t)n;
  }
  free(f.p);
  return rc;
}

// Checks the stored tensor table against the policy's (names and shapes).
static int check_tensors(const rfile* f, const ama_policy* p, char* err, size_t err_sz) {
  rsec s;
  if (rf_section(f, "TENS", &s, err, err_sz)) return -1;
  uint32_t n = rd_u32(&s);
  if (!rd_fits(&s, n, 24)) {  // an entry takes at least 24 bytes (name length, shape, offset)
    snprintf(err, err_sz,
             "%s: field 'tensors': %u tensors do not fit in the table's %zu bytes", f->path, n,
             s.n);
    return -1;
  }
  if (n != (uint32_t)p->params.n_tensors) {
    snprintf(err, err_sz,
             "%s: field 'tensors': %u tensors in the file, %d in this policy (the architecture "
             "differs)",
             f->path, n, p->params.n_tensors);
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    char name[AMA_TNAME_LEN] = {0};
    uint32_t nl = rd_u32(&s);
    if (nl >= AMA_TNAME_LEN) {
      snprintf(err, err_sz, "%s: field 'tensor %u name length': %u (at most %d)", f->path, i, nl,
               AMA_TNAME_LEN - 1);
      return -1;
    }
    rd_bytes(&s, name, nl);
    uint32_t rows = rd_u32(&s), cols = rd_u32(&s);
    uint64_t off = rd_u64(&s);
    rd_u32(&s);
    if (s.bad) {
      snprintf(err, err_sz, "%s: field 'tensors': table truncated at tensor %u", f->path, i);
      return -1;
    }
    const ama_tensor* t = &p->params.t[i];
    if (off != t->offset) {
      snprintf(err, err_sz,
               "%s: field 'tensor %u offset': %llu, this policy's %s starts at %zu", f->path, i,
               (unsigned long long)off, t->name, (size_t)t->offset);
      return -1;
    }
    if (strcmp(name, t->name) != 0 || rows != (uint32_t)t->rows || cols != (uint32_t)t->cols) {
      snprintf(err, err_sz,
               "%s: field 'tensor %u': file has %s (%ux%u), this policy has %s (%dx%d): the "
               "architecture differs",
               f->path, i, name, rows, cols, t->name, t->rows, t->cols);
      return -1;
    }
  }
  return 0;
}

// The recurrent connectivity (section CONN, written when a module is masked): replaces the
// policy's masks (the checkpoint's are the ones the weights were trained with) and zeroes the
// absent weights. A checkpoint without the section is fully connected.
static int load_conn(const rfile* f, ama_policy* p, char* err, size_t err_sz) {
  rsec s;
  char scratch[AM_ERR_LEN];
  if (rf_section(f, "CONN", &s, scratch, sizeof scratch)) {
    if (!p->conn[0] && !p->conn[1]) return 0;
    snprintf(err, err_sz, "%s: field 'connectivity': the checkpoint has no section CONN but its "
             "configuration says conn = %s", f->path, p->cfg.conn);
    return -1;
  }
  uint32_t n = rd_u32(&s);
  if (s.bad || n != 2) {
    snprintf(err, err_sz, "%s: field 'connectivity': %u modules, expected 2", f->path, n);
    return -1;
  }
  for (int m = 0; m < 2; m++) {
    int H = m ? p->cfg.motor_hidden : p->cfg.core_hidden;
    uint32_t h = rd_u32(&s);
    uint8_t present = 0;
    rd_bytes(&s, &present, 1);
    if (s.bad || h != (uint32_t)H || present > 1 || (present && !rd_fits(&s, (uint64_t)H * H, 1))) {
      snprintf(err, err_sz, "%s: field 'connectivity' (%s): %u units, present %u; this policy "
               "has %d units", f->path, m ? "motor" : "core", h, present, H);
      return -1;
    }
    const uint8_t* M = present ? s.p + s.pos : NULL;
    for (size_t i = 0; M && i < (size_t)H * H; i++)
      if (M[i] > 1) {
        snprintf(err, err_sz, "%s: field 'connectivity' (%s): entry %zu is %u, not 0 or 1",
                 f->path, m ? "motor" : "core", i, M[i]);
        return -1;
      }
    if (present) s.pos += (size_t)H * H;
    if (ama_policy_conn_set(p, m, M, err, err_sz)) return -1;
  }
  if (s.pos != s.n) {
    snprintf(err, err_sz, "%s: field 'connectivity': %zu bytes left over", f->path, s.n - s.pos);
    return -1;
  }
  return 0;
}

static int load_params_norm(const rfile* f, ama_policy* p, char* err, size_t err_sz) {
  rsec s;
  if (check_tensors(f, p, err, err_sz) || rf_section(f, "PARM", &s, err, err_sz)) return -1;
  uint64_t count = rd_u64(&s);
  if (count != p->params.count) {
    snprintf(err, err_sz, "%s: field 'parameters': %llu floats, this policy has %zu", f->path,
             (unsigned long long)count, p->params.count);
    return -1;
  }
  if (s.n != 8 + 12 * count + 8) {  // count is the policy's here: no overflow
    snprintf(err, err_sz,
             "%s: field 'parameters': the section holds %zu bytes, %llu parameters with Adam "
             "state take %llu",
             f->path, s.n, (unsigned long long)count, (unsigned long long)(8 + 12 * count + 8));
    return -1;
  }
  rd_f32s(&s, p->params.w, count);
  rd_f32s(&s, p->params.m, count);
  rd_f32s(&s, p->params.v, count);
  p->params.adam_t = (int64_t)rd_u64(&s);
  if (load_conn(f, p, err, err_sz)) return -1;
  ama_cell_prepare(&p->core, &p->params);
  ama_cell_prepare(&p->motor, &p->params);
  if (rf_section(f, "NORM", &s, err, err_sz)) return -1;
  uint32_t n = rd_u32(&s);
  size_t per = f->version >= 2 ? 24 : 16;  // version 1 had no per-entry counts
  if (n != (uint32_t)p->norm.n) {
    snprintf(err, err_sz, "%s: field 'normaliser': size %u, this task's observations have %d",
             f->path, n, p->norm.n);
    return -1;
  }
  if (s.n != 4 + 8 + per * (size_t)n) {
    snprintf(err, err_sz, "%s: field 'normaliser': the section holds %zu bytes, %u entries take "
             "%zu", f->path, s.n, n, 4 + 8 + per * (size_t)n);
    return -1;
  }
  rd_f64s(&s, &p->norm.count, 1);
  rd_f64s(&s, p->norm.mean, n);
  rd_f64s(&s, p->norm.m2, n);
  if (f->version >= 2) rd_f64s(&s, p->norm.counts, n);
  else
    for (uint32_t i = 0; i < n; i++) p->norm.counts[i] = p->norm.count;
  ama_norm_refresh(&p->norm);
  return 0;
}

// Reads what w_policy_state wrote.
static void rd_policy_state(rsec* s, ama_policy* p, float* mask, int N) {
  p->t_global = (int64_t)rd_u64(s);
  rd_f32s(s, p->core_s, (size_t)N * state_S(&p->core));
  rd_f32s(s, p->motor_s, (size_t)N * state_S(&p->motor));
  rd_f32s(s, p->core_y, (size_t)N * p->cfg.core_hidden);
  rd_f32s(s, p->core_acc, N);
  rd_f32s(s, p->prev_act, (size_t)N * p->act_dim);
  rd_f32s(s, p->prev_rew, N);
  rd_f32s(s, mask, N);
}

// A rank's own state (LERN, ACTS, ENVS) from f, the main file or a rank's container in RNKS.
static int load_rank(const rfile* f, ama_ppo* L, char* err, size_t err_sz) {
  ama_policy* p = &L->pol;
  const char* path = f->path;
  rsec s;
  int N = L->N;
  const am_task* task = am_pool_task(L->pool);
  if (rf_section(f, "LERN", &s, err, err_sz)) return -1;
  L->env_steps = (int64_t)rd_u64(&s);
  L->iteration = (int64_t)rd_u64(&s);
  for (int i = 0; i < 4; i++) L->rng.s[i] = rd_u64(&s);
  if (s.bad || s.pos != s.n) {
    snprintf(err, err_sz, "%s: field 'learner': the section holds %zu bytes, not 48", path, s.n);
    return -1;
  }
  if (rf_section(f, "ACTS", &s, err, err_sz)) return -1;
  uint32_t n_env = rd_u32(&s);
  if (n_env != (uint32_t)N) {
    snprintf(err, err_sz, "%s: field 'num_envs': the checkpoint has %u envs, this run %d", path,
             n_env, N);
    return -1;
  }
  rd_policy_state(&s, p, L->next_mask, N);
  rd_f64s(&s, L->run_return, N);
  for (int b = 0; b < N; b++) L->run_length[b] = (int32_t)rd_u32(&s);
  for (int b = 0; b < N; b++) L->run_success[b] = (int32_t)rd_u32(&s);
  rd_f64s(&s, L->disc, N);
  rd_f64s(&s, &L->rr_count, 1);
  rd_f64s(&s, &L->rr_mean, 1);
  rd_f64s(&s, &L->rr_m2, 1);
  if (L->act.eps_prev) {
    rd_f32s(&s, L->act.eps_prev, (size_t)N * L->act.A);
    L->act.eps_started = 1;
  }
  // the anchor's reference (absent: a checkpoint written without one; it starts afresh)
  if (L->anchored && !s.bad && s.pos < s.n) rd_policy_state(&s, &L->ref, L->ref_act.mask, N);
  if (s.bad || s.pos != s.n) {
    snprintf(err, err_sz, "%s: field 'acting state': the section holds %zu bytes, this policy's "
             "acting state takes %zu", path, s.n, s.bad ? (size_t)0 : s.pos);
    return -1;
  }
  if (rf_section(f, "ENVS", &s, err, err_sz)) return -1;
  uint32_t ne = rd_u32(&s), od = rd_u32(&s);
  uint64_t tss = rd_u64(&s);
  if (ne != (uint32_t)N || od != (uint32_t)task->obs_dim || tss != task->state_size) {
    snprintf(err, err_sz,
             "%s: field 'envs': %u envs, obs %u, task state %llu bytes; this run has %d, %d, %zu "
             "(a different task?)",
             path, ne, od, (unsigned long long)tss, N, task->obs_dim, task->state_size);
    return -1;
  }
  for (int i = 0; i < N && !s.bad; i++) {
    uint64_t len = rd_u64(&s);
    if (!s.bad && !rd_fits(&s, len, 1)) {
      snprintf(err, err_sz, "%s: field 'envs' (env %d length): %llu bytes, the section has %zu "
               "left", path, i, (unsigned long long)len, s.n - s.pos);
      return -1;
    }
    char e2[AM_ERR_LEN];
    int64_t used = am_env_state_read(task, am_pool_env(L->pool, i), s.p + s.pos, (size_t)len, e2,
                                     sizeof e2);
    if (used != (int64_t)len) {
      if (used >= 0) snprintf(e2, sizeof e2, "env state: %lld of %llu bytes used", (long long)used,
                              (unsigned long long)len);
      snprintf(err, err_sz, "%s: field 'envs' (env %d): %s", path, i, e2);
      return -1;
    }
    s.pos += (size_t)len;
  }
  rd_f32s(&s, am_pool_batch(L->pool)->obs, (size_t)N * task->obs_dim);
  if (s.bad || s.pos != s.n) {
    snprintf(err, err_sz, "%s: field 'envs': wrong size for this model (a different body?)", path);
    return -1;
  }
  return 0;
}

// The rank count that wrote f (1 without section RNKS); RNKS's payload after the count into s.
static int ckpt_ranks(const rfile* f, rsec* s) {
  char scratch[AM_ERR_LEN];
  if (rf_section(f, "RNKS", s, scratch, sizeof scratch)) return 1;
  uint32_t n = rd_u32(s);
  return s->bad || n < 1 || n > 1u << 20 ? 0 : (int)n;
}

// Everything of a validated file f for this process (rank `rank` of `size`).
static int load_all(const rfile* f, ama_ppo* L, int rank, int size, char* err, size_t err_sz) {
  if (f->version < AMA_CKPT_VERSION) {
    snprintf(err, err_sz,
             "%s: field 'version': checkpoint version %u stores the simulation state in an older "
             "layout and cannot be resumed by this build (version %d); it still loads as a policy "
             "(record, eval, load_module)",
             f->path, f->version, AMA_CKPT_VERSION);
    return -1;
  }
  rsec rk;
  int written = ckpt_ranks(f, &rk);
  if (written != size) {
    if (written == 0) snprintf(err, err_sz, "%s: field 'ranks': unreadable rank table", f->path);
    else if (written > 1)
      snprintf(err, err_sz,
               "%s: field 'ranks': the checkpoint was written by %d ranks, this run has %d; resume "
               "it under the same rank count (mpirun -np %d animat train --resume, "
               "docs/distributed.md)", f->path, written, size, written);
    else
      snprintf(err, err_sz,
               "%s: field 'ranks': the checkpoint was written by one process, this run has %d "
               "ranks; resume it with `animat train --resume`, without mpirun", f->path, size);
    return -1;
  }
  if (load_params_norm(f, &L->pol, err, err_sz)) return -1;
  if (rank == 0 && L->hebb) {
    rsec hs;
    if (rf_section(f, "HEBB", &hs, err, err_sz)) return -1;
    size_t n;
    double* st = ama_hebb_state(L->hebb, &n);
    uint64_t m = rd_u64(&hs);
    if (hs.bad || m != n || !rd_fits(&hs, m, 8)) {
      snprintf(err, err_sz, "%s: field 'hebbian state': %llu values, this learner has %zu (another "
               "network size, env count or hebb_plastic_input?)", f->path, (unsigned long long)m,
               n);
      return -1;
    }
    rd_f64s(&hs, st, n);
  }
  if (rank == 0) return load_rank(f, L, err, err_sz);
  for (int r = 1; r <= rank; r++) {  // skip to this rank's container
    uint64_t len = rd_u64(&rk);
    if (rk.bad || !rd_fits(&rk, len, 1)) {
      snprintf(err, err_sz, "%s: field 'ranks' (rank %d): truncated", f->path, r);
      return -1;
    }
    if (r < rank) {
      rk.pos += (size_t)len;
      continue;
    }
    char name[1200];
    snprintf(name, sizeof name, "%s (rank %d)", f->path, rank);
    rfile sub = {malloc(len ? (size_t)len : 1), (size_t)len, name, 0};
    if (!sub.p) {
      snprintf(err, err_sz, "%s (rank %d): out of memory", f->path, rank);
      return -1;
    }
    memcpy(sub.p, rk.p + rk.pos, (size_t)len);
    if (rf_check(&sub, err, err_sz)) return -1;
    int rc = load_rank(&sub, L, err, err_sz);
    free(sub.p);
    return rc;
  }
  return -1;
}

// Collective load: rank 0 reads the file and sends it to every rank; every rank takes its part
// and learns whether every other rank could.
static int load_dist(ama_ppo* L, const char* path, char* err, size_t err_sz) {
  const ama_comm* c = L->comm;
  rfile f = {0};
  f.path = path;
  struct {
    uint64_t len;
    char msg[400];
  } head = {0, ""};
  if (c->rank == 0) {
    if (rf_open(&f, path, head.msg, sizeof head.msg)) f.p = NULL;
    else head.len = f.n;
  }
  if (c->bcast(c->ctx, &head, sizeof head, err, err_sz)) goto fail;
  if (head.msg[0]) {  // every rank reports rank 0's failure to read the file
    snprintf(err, err_sz, "%s", head.msg);
    goto fail;
  }
  if (c->rank) {
    f.n = (size_t)head.len;
    f.p = malloc(f.n ? f.n : 1);
    if (!f.p) {
      snprintf(err, err_sz, "%s: out of memory", path);
      return -1;  // (the job ends: rank 0 waits in the broadcast)
    }
  }
  if (c->bcast(c->ctx, f.p, f.n, err, err_sz)) goto fail;
  char mine[AM_ERR_LEN] = "";
  if (c->rank && rf_check(&f, mine, sizeof mine)) f.p = NULL;  // (freed by rf_check)
  else if (load_all(&f, L, c->rank, c->size, mine, sizeof mine) && !mine[0])
    snprintf(mine, sizeof mine, "%s: failed", path);
  free(f.p);
  f.p = NULL;
  // every rank's outcome, so that all go on or all stop
  if (ama_dist_agree(c, mine, err, err_sz) != -1) return -1;
  return 0;
fail:
  free(f.p);
  return -1;
}

int ama_ckpt_load(ama_ppo* L, const char* path, char* err, size_t err_sz) {
  if (L->comm) return load_dist(L, path, err, err_sz);
  rfile f;
  if (rf_open(&f, path, err, err_sz)) return -1;
  int rc = load_all(&f, L, 0, 1, err, err_sz);
  free(f.p);
  return rc;
}

int ama_ckpt_load_policy(ama_policy* p, const char* path, const am_obs_group* groups, int n_groups,
                         int obs_dim, int act_dim, int N, char* err, size_t err_sz) {
  char* text = ama_ckpt_read_config(path, err, err_sz);
  if (!text) return -1;
  ama_config cfg;
  ama_config_default(&cfg);
  int rc = ama_config_parse(&cfg, text, path, err, err_sz);
  free(text);
  if (rc) return -1;
  // the masks come from the checkpoint (section CONN): a connectivity file need not exist here
  ama_policy_cfg pc = cfg.policy;
  if (!strcmp(pc.conn, "file")) snprintf(pc.conn, sizeof pc.conn, "full");
  if (ama_policy_init(p, &pc, groups, n_groups, obs_dim, act_dim, 1, 1, N, cfg.seed, err,
                      err_sz))
    return -1;
  p->cfg = cfg.policy;
  rfile f;
  if (rf_open(&f, path, err, err_sz)) {
    ama_policy_free(p);
    return -1;
  }
  rc = load_params_norm(&f, p, err, err_sz);
  free(f.p);
  if (rc) ama_policy_free(p);
  return rc;
}

//---------------------------------- module reuse --------------------------------------------------

static const char* const MODULES[] = {"core", "motor", "head", "critic", "command"};
#define N_MODULES ((int)(sizeof MODULES / sizeof MODULES[0]))

int ama_module_listed(const char* list, const char* name) {
  size_t n = strlen(name);
  for (const char* q = list; q && *q;) {
    while (*q == ' ' || *q == ',') q++;
    size_t k = strcspn(q, ",");
    size_t e = k;
    while (e > 0 && q[e - 1] == ' ') e--;
    if (e == n && strncmp(q, name, n) == 0) return 1;
    q += k;
  }
  return 0;
}

// Checks that every item of a comma list names a module. Returns 0 or -1.
static int check_modules(const char* what, const char* list, char* err, size_t err_sz) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", list);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
    int ok = 0;
    for (int i = 0; i < N_MODULES; i++) ok |= !strcmp(tok, MODULES[i]);
    if (!ok) {
      snprintf(err, err_sz, "%s: unknown module '%s' (core, motor, head, critic, command)", what,
               tok);
      return -1;
    }
  }
  return 0;
}

// Resolves a group list ("all", "none", "a,b") against a group table into group indices.
static int resolve_groups(const char* list, const am_obs_group* g, int n, int* out) {
  int k = 0;
  if (!strcmp(list, "none") || !list[0]) return 0;
  if (!strcmp(list, "all")) {
    for (int i = 0; i < n; i++) out[k++] = i;
    return k;
  }
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  char* save = NULL;
  for (char* tok = strtok_r(buf, ", ", &save); tok && k < AM_MAX_GROUPS;
       tok = strtok_r(NULL, ", ", &save)) {
    int i = am_find_group(g, n, tok);
    if (i < 0) return -1;
    out[k++] = i;
  }
  return k;
}

// The source checkpoint's observation layout: its group table, its config (which groups it routed
// to each module) and its normaliser section. Version-2 checkpoints only.
typedef struct src_layout {
  am_obs_group g[AM_MAX_GROUPS];
  int n;
  ama_config cfg;
  rsec norm;        // the NORM section, past its header
  uint32_t norm_n;  // its entries
} src_layout;

static int read_src_layout(const rfile* f, src_layout* L, char* err, size_t err_sz) {
  rsec s;
  memset(L, 0, sizeof *L);
  if (rf_section(f, "OGRP", &s, err, err_sz)) return -1;
  uint32_t ns = rd_u32(&s);
  if (ns > AM_MAX_GROUPS) {
    snprintf(err, err_sz, "%s: field 'groups': %u groups (at most %d)", f->path, ns,
             AM_MAX_GROUPS);
    return -1;
  }
  for (uint32_t i = 0; i < ns && !s.bad; i++) {
    uint32_t nl = rd_u32(&s);
    if (nl >= AM_NAME_LEN) {
      snprintf(err, err_sz, "%s: field 'group %u name length': %u (at most %d)", f->path, i, nl,
               AM_NAME_LEN - 1);
      return -1;
    }
    rd_bytes(&s, L->g[i].name, nl);
    uint32_t off = rd_u32(&s), size = rd_u32(&s);
    if (!s.bad && (off > (uint32_t)INT32_MAX || size > (uint32_t)INT32_MAX)) {
      snprintf(err, err_sz, "%s: field 'group %u': offset %u, size %u out of range", f->path, i,
               off, size);
      return -1;
    }
    L->g[i].offset = (int)off;
    L->g[i].size = (int)size;
  }
  if (s.bad) {
    snprintf(err, err_sz, "%s: field 'groups': table truncated", f->path);
    return -1;
  }
  L->n = (int)ns;
  ama_config_default(&L->cfg);
  char* text = ama_ckpt_read_config(f->path, err, err_sz);
  if (!text) return -1;
  int rc = ama_config_parse(&L->cfg, text, f->path, err, err_sz);
  free(text);
  if (rc || rf_section(f, "NORM", &L->norm, err, err_sz)) return -1;
  L->norm_n = rd_u32(&L->norm);
  if (L->norm.n != 4 + 8 + 24 * (size_t)L->norm_n) {
    snprintf(err, err_sz, "%s: field 'normaliser': the section holds %zu bytes, %u entries take "
             "%zu", f->path, L->norm.n, L->norm_n, 4 + 8 + 24 * (size_t)L->norm_n);
    return -1;
  }
  for (int i = 0; i < L->n; i++)
    if ((int64_t)L->g[i].offset + L->g[i].size > (int64_t)L->norm_n) {
      snprintf(err, err_sz, "%s: field 'groups': group '%s' out of range", f->path, L->g[i].name);
      return -1;
    }
  return 0;
}

// Copies the normaliser statistics of source group a into this policy's entries of group b (same
// size), optionally freezing them.
static void copy_norm_group(const src_layout* L, const am_obs_group* a, ama_policy* p,
                            const am_obs_group* b, int freeze) {
  const uint8_t* base = L->norm.p + 12;  // mean (n), m2 (n), counts (n), f64 each
  size_t n = L->norm_n;
  for (int j = 0; j < b->size; j++) {
    int from = a->offset + j, to = b->offset + j;
    for (int part = 0; part < 3; part++) {
      rsec r = {base + 8 * ((size_t)part * n + (size_t)from), 8, 0, 0};
      double* dst = part == 0 ? p->norm.mean : part == 1 ? p->norm.m2 : p->norm.counts;
      rd_f64s(&r, &dst[to], 1);
    }
    if (freeze) p->norm.frozen[to] = 1;
  }
}

// A reused module's input columns, matched by observation group name. The core reads its groups
// (core_groups), then prev_action and prev_reward; the motor reads the core's output (core_hidden
// columns, which must match), then its groups (motor_groups). map[j] is the source column of this
// policy's input j, or -1 for an input the source did not have (a group it did not route to the
// module, or one of another size), whose weights start at zero so that the reused module first
// behaves as it did and learns to use the new input. Also carries the matched groups' normaliser
// statistics. A group the source's motor read and this motor does not is refused (its gait would
// lose an input); a core may drop inputs. Returns 0, or -1 (err set).
static int input_map(const rfile* f, const src_layout* L, ama_policy* p, int motor,
                     const am_obs_group* groups, int n_groups, uint32_t src_cols, int freeze,
                     int* map, char* err, size_t err_sz) {
  const char* key = motor ? "motor_groups" : "core_groups";
  const char* src_list = motor ? L->cfg.policy.motor_groups : L->cfg.policy.core_groups;
  const char* this_list = motor ? p->cfg.motor_groups : p->cfg.core_groups;
  int gs[AM_MAX_GROUPS], gt[AM_MAX_GROUPS], used[AM_MAX_GROUPS] = {0};
  int ks = resolve_groups(src_list, L->g, L->n, gs);
  int kt = resolve_groups(this_list, groups, n_groups, gt);
  if (ks < 0 || kt < 0) {
    snprintf(err, err_sz, "%s: field '%s': '%s' names a group the checkpoint lacks", f->path,
             key, src_list);
    return -1;
  }
  int lead = motor ? p->cfg.core_hidden : 0;  // the core's output, ahead of the motor's groups
  if (motor && L->cfg.policy.core_hidden != lead) {
    snprintf(err, err_sz, "%s: field 'core_hidden': the reused motor read a core of %d units, "
             "this run's core has %d", f->path, L->cfg.policy.core_hidden, lead);
    return -1;
  }
  int src_obs = 0;
  for (int i = 0; i < ks; i++) src_obs += L->g[gs[i]].size;
  int src_pr = !motor && L->cfg.policy.prev_reward ? 1 : 0;
  int src_pa = !motor && L->cfg.policy.prev_action ? (int)src_cols - src_obs - src_pr : 0;
  if ((int64_t)lead + src_obs + src_pa + src_pr != (int64_t)src_cols || src_pa < 0) {
    snprintf(err, err_sz, "%s: field 'tensor %s.Wx': %u input columns, but its %s '%s' hold %d "
             "values", f->path, motor ? "motor" : "core", src_cols, key, src_list, src_obs);
    return -1;
  }
  int j = 0;
  for (; j < lead; j++) map[j] = j;
  for (int i = 0; i < kt; i++) {
    const am_obs_group* b = &groups[gt[i]];
    int from = -1, off = lead;
    for (int k = 0; k < ks && from < 0; k++) {
      const am_obs_group* a = &L->g[gs[k]];
      if (!strcmp(a->name, b->name) && a->size == b->size) {
        from = off;
        used[k] = 1;
        copy_norm_group(L, a, p, b, freeze);
      }
      off += a->size;
    }
    for (int e = 0; e < b->size; e++) map[j++] = from < 0 ? -1 : from + e;
  }
  for (int k = 0; motor && k < ks; k++)
    if (!used[k]) {
      snprintf(err, err_sz,
               "%s: field 'motor_groups': the reused motor read '%s' (group '%s', %d values), "
               "which this run's motor_groups '%s' leave out",
               f->path, src_list, L->g[gs[k]].name, L->g[gs[k]].size, this_list);
      return -1;
    }
  if (motor) return 0;
  int A = p->act_dim;
  if (p->cfg.prev_action)
    for (int e = 0; e < A; e++) map[j++] = src_pa == A ? src_obs + e : -1;
  if (p->cfg.prev_reward) map[j++] = src_pr ? src_obs + src_pa : -1;
  return 0;
}

int ama_policy_load_module(ama_policy* p, const am_obs_group* groups, int n_groups,
                           const char* ckpt_path, const char* modules, const char* freeze,
                           char* err, size_t err_sz) {
  if (check_modules("load_module", modules, err, err_sz) ||
      (freeze && check_modules("freeze", freeze, err, err_sz)))
    return -1;
  if (!ckpt_path || !ckpt_path[0]) {
    snprintf(err, err_sz,
             "load_module = %s needs load_path (the checkpoint to copy the module from)", modules);
    return -1;
  }
  rfile f;
  if (rf_open(&f, ckpt_path, err, err_sz)) return -1;
  rsec s, ps;
  int rc = -1, copied[N_MODULES] = {0};
  int* map = NULL;
  float* tmp = NULL;
  src_layout* L = NULL;  // the source's groups (version 2): module inputs matched by name
  if (rf_section(&f, "TENS", &s, err, err_sz) || rf_section(&f, "PARM", &ps, err, err_sz))
    goto out;
  if (f.version >= 2 &&
      (ama_module_listed(modules, "core") || ama_module_listed(modules, "motor"))) {
    L = malloc(sizeof *L);
    if (!L) {
      snprintf(err, err_sz, "out of memory");
      goto out;
    }
    if (read_src_layout(&f, L, err, err_sz)) goto out;
  } else if (ama_module_listed(modules, "motor")) {
    snprintf(err, err_sz,
             "%s: field 'version': a version-1 checkpoint has no observation group table, so the "
             "motor's input normaliser cannot be matched to this task (load core, head, critic "
             "only, or a checkpoint written by this build)",
             ckpt_path);
    goto out;
  }
  uint32_t n = rd_u32(&s);
  uint64_t count = rd_u64(&ps);
  if (!rd_fits(&s, n, 24)) {  // an entry takes at least 24 bytes
    snprintf(err, err_sz, "%s: field 'tensors': %u tensors do not fit in the table's %zu bytes",
             ckpt_path, n, s.n);
    goto out;
  }
  // weights, Adam m and v (count floats each), then the Adam step
  if (ps.bad || count > (ps.n - 16) / 12 || ps.n != 8 + 12 * count + 8) {
    snprintf(err, err_sz, "%s: field 'parameters': %llu floats do not match the section's %zu "
             "bytes", ckpt_path, (unsigned long long)count, ps.n);
    goto out;
  }
  for (uint32_t i = 0; i < n && !s.bad; i++) {
    char name[AMA_TNAME_LEN] = {0};
    uint32_t nl = rd_u32(&s);
    if (nl >= AMA_TNAME_LEN) {
      snprintf(err, err_sz, "%s: field 'tensor %u name length': %u (at most %d)", ckpt_path, i,
               nl, AMA_TNAME_LEN - 1);
      goto out;
    }
    rd_bytes(&s, name, nl);
    uint32_t rows = rd_u32(&s), cols = rd_u32(&s);
    uint64_t off = rd_u64(&s);
    rd_u32(&s);
    if (s.bad) break;
    int mod = -1;
    for (int k = 0; k < N_MODULES; k++) {
      size_t ml = strlen(MODULES[k]);
      if (!strncmp(name, MODULES[k], ml) && name[ml] == '.' &&
          ama_module_listed(modules, MODULES[k]))
        mod = k;
    }
    if (mod < 0) continue;
    int ti = ama_params_find(&p->params, name);
    // the core's and the motor's input weights: columns matched by observation group (new inputs
    // start at 0)
    int motor_wx = !strcmp(name, "motor.Wx");
    int remap = L && (motor_wx || !strcmp(name, "core.Wx")) && ti >= 0 &&
                p->params.t[ti].rows == (int)rows &&
                cols >= 1 && cols <= (uint32_t)INT32_MAX / (rows ? rows : 1);
    if (ti < 0 || p->params.t[ti].rows != (int)rows ||
        (!remap && p->params.t[ti].cols != (int)cols)) {
      snprintf(err, err_sz,
               "%s: field 'tensor %s': shape %ux%u does not fit this policy's module '%s'",
               ckpt_path, name, rows, cols, MODULES[mod]);
      goto out;
    }
    uint64_t size = (uint64_t)rows * cols;  // rows fit this policy, cols checked: no overflow
    if (off > count || size > count - off) {
      snprintf(err, err_sz, "%s: field 'tensor %s offset': %llu + %llu floats is beyond the %llu "
               "parameters", ckpt_path, name, (unsigned long long)off, (unsigned long long)size,
               (unsigned long long)count);
      goto out;
    }
    rsec w = {ps.p + 8 + 4 * off, 4 * (size_t)size, 0, 0};
    float* dst = p->params.w + p->params.t[ti].offset;
    if (!remap) {
      rd_f32s(&w, dst, (size_t)size);
    } else {
      int in = p->params.t[ti].cols;
      free(map);  // a table naming a Wx twice: the last entry wins, as for other tensors
      free(tmp);
      map = malloc(sizeof(int) * (size_t)in);
      tmp = malloc(sizeof(float) * (size_t)size);
      if (!map || !tmp) {
        snprintf(err, err_sz, "out of memory");
        goto out;
      }
      int fr = freeze && ama_module_listed(freeze, motor_wx ? "motor" : "core");
      if (input_map(&f, L, p, motor_wx, groups, n_groups, cols, fr, map, err, err_sz)) goto out;
      rd_f32s(&w, tmp, (size_t)size);
      for (uint32_t r = 0; r < rows; r++)
        for (int j = 0; j < in; j++)
          dst[(size_t)r * in + j] = map[j] < 0 ? 0.0f : tmp[(size_t)r * cols + map[j]];
    }
    copied[mod]++;
  }
  if (s.bad) {
    snprintf(err, err_sz, "%s: field 'tensors': table truncated", ckpt_path);
    goto out;
  }
  for (int k = 0; k < N_MODULES; k++)
    if (ama_module_listed(modules, MODULES[k]) && !copied[k]) {
      snprintf(err, err_sz, "%s: no tensors of module '%s' in the checkpoint", ckpt_path,
               MODULES[k]);
      goto out;
    }
  ama_norm_refresh(&p->norm);
  for (int k = 0; k < N_MODULES; k++)
    if (freeze && ama_module_listed(modules, MODULES[k]) && ama_module_listed(freeze, MODULES[k]) &&
        ama_policy_freeze(p, MODULES[k], 1, err, err_sz))
      goto out;
  // absent connections stay absent; the module's cells may need their derived weights refreshed
  // (Dale)
  ama_params_mask_apply(&p->params);
  ama_cell_prepare(&p->core, &p->params);
  ama_cell_prepare(&p->motor, &p->params);
  rc = 0;
out:
  free(map);
  free(tmp);
  free(L);
  free(f.p);
  return rc;
}

//---------------------------------- starting from a trained policy --------------------------------

int ama_ppo_start_from(ama_ppo* L, const char* path, int keep_adam, char* err, size_t err_sz) {
  rfile f;
  if (rf_open(&f, path, err, err_sz)) return -1;
  ama_policy* p = &L->pol;
  int rc = load_params_norm(&f, p, err, err_sz);
  rsec s;
  // the reward normaliser's running statistics: the last three doubles of the acting state
  if (!rc && !(rc = rf_section(&f, "ACTS", &s, err, err_sz))) {
    if (s.n < 24) {
      snprintf(err, err_sz, "%s: field 'acting state': %zu bytes, too short", path, s.n);
      rc = -1;
    } else {
      s.pos = s.n - 24;
      rd_f64s(&s, &L->rr_count, 1);
      rd_f64s(&s, &L->rr_mean, 1);
      rd_f64s(&s, &L->rr_m2, 1);
    }
  }
  free(f.p);
  if (rc) return -1;
  if (keep_adam) return 0;
  size_t n = p->params.count;
  memset(p->params.m, 0, n * sizeof(float));
  memset(p->params.v, 0, n * sizeof(float));
  p->params.adam_t = 0;
  return 0;
}
