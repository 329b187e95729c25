// dataset_write.c: the dataset format's writer (docs/dataset-format.md).
//
// What it is: am_ds_create .. am_ds_close: the file header, metadata and channel table, chunks of
// rows (filtered, zstd-compressed, CRC-32'd, on a background thread by default), the index (in
// parts of at most one 64 MiB block) and the trailer. On an error it keeps the chunks written
// whole and cuts off anything after them, so that the file never looks complete. The layout constants and helpers it shares with the reader are in dataset_format.h.
// What it is not: reading (dataset_read.c), the mapping from an env pool to channels
// (dataset_record.c), replay (dataset_resim.c), printing.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dataset_format.h"

//---------------------------------- writer --------------------------------------------------------
//
// The stepping thread only copies rows into the current chunk buffer of their slot. A full (or
// ended) chunk is handed to a background thread through a FIFO queue; that thread filters,
// compresses and writes chunks one after the other, in the order they were handed over, so the
// file is byte for byte the one a synchronous writer makes. The buffers are allocated once by
// am_ds_begin: one per slot plus a few spare ones; when no spare buffer is free, the stepping
// thread waits (the queue is bounded). The background thread is woken when half the spares are
// queued (each wake-up is a system call on the stepping thread), and at close. An error met by
// the background thread is kept and reported by the next call on the stepping thread (or by
// am_ds_close); later chunks are dropped.

typedef struct wchan {
  am_channel_def d;  // strings point into owned copies below
  char* s[4];        // name, group, units, labels
  size_t elems, w, row_bytes;
  size_t sw;         // stored width: w, or w / 2 for a lossy channel
  size_t row_off;    // offset of its values in a row of a chunk buffer
  size_t col_off;    // offset of its column in w->cols (chunk_rows x row_bytes each)
  am_ds_filt filt;   // the filter its chunks use (chosen on the first chunk of CHOOSE_ROWS rows)
  int chosen;
  int model;         // index of its model in w->models, -1: none
} wchan;

// A channel's filter is chosen by trying every candidate on the first chunk of at least this many
// rows, or on the first chunk that holds a whole episode of at least CHOOSE_MIN rows (tasks with
// short episodes never fill 64 rows); before that: SUBZ for a DELTA channel, else NONE, byte layout.
#define CHOOSE_ROWS 64
#define CHOOSE_MIN 16

typedef struct wjob {  // a chunk buffer and, once handed over, what the chunk is
  uint8_t* buf;        // its rows, w->row_stride bytes apart (channel c at ch[c].row_off)
  double* init;        // n_init (+1) doubles
  int64_t episode;
  uint32_t env, first_step, rows, flags;
  int has_init;
} wjob;

typedef struct wslot {
  wjob* cur;         // the chunk buffer being filled
  int64_t episode;
  uint32_t first_step, rows;
  int active, has_init;  // has_init: the next chunk is the episode's first
} wslot;

typedef struct wchunk {
  uint64_t offset;
  int64_t episode;
  uint32_t env, first_step, rows, flags, stored, raw;
} wchunk;

struct am_ds_writer {
  int fd;
  char path[1024];
  char error[AM_ERR_LEN];  // the stepping thread's error (what calls report)
  int begun;
  int n_meta;
  char** meta_key;
  uint8_t** meta_val;
  size_t* meta_len;
  int n_ch;
  wchan* ch;
  size_t row_bytes;
  size_t row_stride;  // row_bytes rounded up to whole cache lines (a chunk buffer's rows)
  uint8_t* row_stage; // am_ds_row_put's row (row_stride bytes, 64-byte aligned)
  int n_slots, chunk_rows, n_init;
  wslot* slots;
  // Owned by whichever thread writes blocks: the stepping thread before the background thread
  // starts and after it has been joined, the background thread in between.
  am_buf cols;       // the chunk being written as columns (channel c at ch[c].col_off)
  am_buf scratch;    // filtered body
  am_buf tmp, stage, refv, trial;  // filter scratch: residuals, lossy values, references, trials
  am_buf out;        // block header + prefix + compressed body
  ZSTD_CCtx* cctx;
  am_buf index;      // wchunk entries, one per chunk written
  uint64_t good_end; // end of the last block written whole (what a failed close keeps)
  char io_error[AM_ERR_LEN];  // first error of a block write; published by io_failed
  atomic_int io_failed;
  _Atomic uint64_t written, raw_written;
  // chunk buffers and the queue (under mu)
  int background;    // use a background thread (am_ds_set_background; default 1)
  int threaded;      // the thread is running
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_free;
  int n_jobs;
  wjob* jobs;
  uint8_t* arena;    // the jobs' buffers
  wjob** free_list;  // n_free of them
  int n_free;
  wjob** queue;      // ring of n_jobs: q_head, q_len
  int q_head, q_len;
  int wake_at;       // queued chunks that wake the background thread (waking it costs a system
                     // call; it then writes everything queued)
  int stop, discard;
  uint32_t index_part;  // index entries per INDEX block (am_ds_set_index_part)
  int interrupted;      // am_ds_set_interrupted: the trailer says the recording stopped early
  // channel models (1.3): built by am_ds_model_elem/_term, written once after the channel table
  am_ds_model* models;
  int n_models;
  int* mdtype;          // per channel: dtype, elems (am_ds_model_predict's view of the table)
  size_t* melems;
  am_buf rt;            // lossy sources of models as a reader decodes them (per chunk)
  size_t* rt_off;       // per channel: where in rt its rounded column goes (SIZE_MAX: not one)
  uint8_t* rt_done;     // per channel: rounded for the chunk being written
  uint8_t* mmask;       // per element of the widest channel
};

static int werr(am_ds_writer* w, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static int werr(am_ds_writer* w, const char* fmt, ...) {
  if (!w->error[0]) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
  }
  return -1;
}

// An error of the block-writing side (either thread); the stepping thread reports it with
// io_report once it sees io_failed.
static int ioerr(am_ds_writer* w, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static int ioerr(am_ds_writer* w, const char* fmt, ...) {
  if (!atomic_load_explicit(&w->io_failed, memory_order_relaxed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->io_error, sizeof w->io_error, fmt, ap);
    va_end(ap);
    atomic_store_explicit(&w->io_failed, 1, memory_order_release);
  }
  return -1;
}
static int io_report(am_ds_writer* w) {
  if (!atomic_load_explicit(&w->io_failed, memory_order_acquire)) return 0;
  return werr(w, "%s", w->io_error);
}

am_ds_writer* am_ds_create(const char* path, int force, char* err, size_t err_sz) {
  if (!path || !path[0]) return am_err(err, err_sz, "no output path given"), NULL;
  // Not truncated before it is locked: a file another writer holds is never touched.
  int fd = open(path, O_WRONLY | O_CREAT | (force ? 0 : O_EXCL), 0644);
  if (fd < 0) {
    if (errno == EEXIST)
      am_err(err, err_sz, "%s already exists (use --force to overwrite it)", path);
    else
      am_err(err, err_sz, "cannot create %s: %s", path, strerror(errno));
    return NULL;
  }
  // One writer per file: the lock lives as long as the descriptor (the kernel drops it when the
  // process dies, even by kill -9).
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    if (e == EWOULDBLOCK)
      return am_err(err, err_sz, "%s is being written by another process (it holds the file's lock)",
                    path), NULL;
    return am_err(err, err_sz, "cannot lock %s: %s", path, strerror(e)), NULL;
  }
  struct stat st;
  if (force && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
    int e = errno;
    close(fd);
    return am_err(err, err_sz, "cannot truncate %s: %s", path, strerror(e)), NULL;
  }
  am_ds_writer* w = calloc(1, sizeof *w);
  if (!w) {
    close(fd);
    unlink(path);
    return am_err(err, err_sz, "out of memory"), NULL;
  }
  w->fd = fd;
  w->background = 1;
  w->index_part = INDEX_PART_MAX;
  atomic_init(&w->io_failed, 0);
  atomic_init(&w->written, 0);
  atomic_init(&w->raw_written, 0);
  snprintf(w->path, sizeof w->path, "%s", path);
  return w;
}

int am_ds_set_background(am_ds_writer* w, int on) {
  if (w->error[0]) return -1;
  if (w->begun) return werr(w, "am_ds_set_background called after am_ds_begin");
  w->background = on != 0;
  return 0;
}

int am_ds_set_index_part(am_ds_writer* w, uint32_t entries) {
  if (w->error[0]) return -1;
  if (entries < 1 || entries > INDEX_PART_MAX)
    return werr(w, "index part of %u entries out of 1..%u", entries, (unsigned)INDEX_PART_MAX);
  w->index_part = entries;
  return 0;
}

void am_ds_set_interrupted(am_ds_writer* w) { w->interrupted = 1; }

int am_ds_set_filter(am_ds_writer* w, int ch, int pred, int layout, int ref) {
  if (w->error[0]) return -1;
  if (w->begun || ch < 0 || ch >= w->n_ch || pred < 0 || pred >= PRED_COUNT || layout < 0 ||
      layout >= LAYOUT_COUNT)
    return werr(w, "am_ds_set_filter: bad channel %d, predictor %d or layout %d", ch, pred, layout);
  wchan* c = &w->ch[ch];
  if (pred == PRED_REF) {
    const wchan* x = ref >= 0 && ref < ch ? &w->ch[ref] : NULL;
    int referred = 0;  // a later channel refers to this one: no chains
    for (int d = ch + 1; d < w->n_ch; d++)
      referred |= w->ch[d].filt.pred == PRED_REF && w->ch[d].filt.ref == ch;
    if (!x || referred || x->elems != c->elems || x->filt.pred == PRED_REF ||
        x->filt.pred == PRED_MODEL ||
        !am_ds_ref_ok(x->d.dtype, x->sw != x->w, c->d.dtype, c->sw != c->w))
      return werr(w, "am_ds_set_filter: channel %d cannot refer to channel %d", ch, ref);
  }
  if (pred == PRED_MODEL)  // a channel another refers to cannot be predicted from others
    for (int d = ch + 1; d < w->n_ch; d++)
      if (w->ch[d].filt.pred == PRED_REF && w->ch[d].filt.ref == ch)
        return werr(w, "am_ds_set_filter: channel %d is referred to by channel %d", ch, d);
  c->filt = (am_ds_filt){(uint8_t)pred, (uint8_t)layout, (uint16_t)(pred == PRED_REF ? ref : 0)};
  c->chosen = 1;
  return 0;
}

int am_ds_model_elem(am_ds_writer* w, int ch, uint32_t elem, double bias, double lo, double hi) {
  if (w->error[0]) return -1;
  if (w->begun || ch < 0 || ch >= w->n_ch)
    return werr(w, "am_ds_model_elem: channel %d out of range or data begun", ch);
  if (bias != bias || lo != lo || hi != hi || lo > hi)
    return werr(w, "channel '%s': model element %u's bias or bounds are NaN or lo > hi",
                w->ch[ch].s[0], elem);
  wchan* c = &w->ch[ch];
  if (c->d.dtype != AM_DT_F32 && c->d.dtype != AM_DT_F64)
    return werr(w, "channel '%s': only f32 and f64 channels have models", c->s[0]);
  if (c->model < 0) {
    am_ds_model* m = realloc(w->models, sizeof *m * (size_t)(w->n_models + 1));
    if (!m) return werr(w, "out of memory");
    w->models = m;
    memset(&m[w->n_models], 0, sizeof *m);
    m[w->n_models].ch = ch;
    c->model = w->n_models++;
  }
  am_ds_model* m = &w->models[c->model];
  if (elem >= c->elems || (m->n_entries && elem <= m->e[m->n_entries - 1].elem))
    return werr(w, "channel '%s': model element %u out of order or range (%zu)", c->s[0], elem,
                c->elems);
  am_ds_mentry* e = realloc(m->e, sizeof *e * (m->n_entries + 1));
  if (!e) return werr(w, "out of memory");
  m->e = e;
  e[m->n_entries++] = (am_ds_mentry){elem, bias, lo, hi, m->n_terms, 0, AM_DS_FUNC_NONE};
  return 0;
}

// The model of channel ch and its element started last (NULL: none, with the error set).
static am_ds_mentry* last_entry(am_ds_writer* w, int ch, const char* what) {
  if (w->error[0]) return NULL;
  if (w->begun || ch < 0 || ch >= w->n_ch || w->ch[ch].model < 0 ||
      !w->models[w->ch[ch].model].n_entries) {
    werr(w, "%s: channel %d has no model element to add to", what, ch);
    return NULL;
  }
  am_ds_model* m = &w->models[w->ch[ch].model];
  return &m->e[m->n_entries - 1];
}

int am_ds_model_func(am_ds_writer* w, int ch, int func) {
  am_ds_mentry* e = last_entry(w, ch, "am_ds_model_func");
  if (!e) return -1;
  if (func < 0 || func >= MODEL_FUNC_COUNT)
    return werr(w, "channel '%s': unknown model function %d", w->ch[ch].s[0], func);
  e->func = (uint16_t)func;
  return 0;
}

// A source of the element elem of channel ch's model: its own channel only in the row before or
// at an element decoded before elem.
static int model_src_ok(const am_ds_writer* w, int ch, uint32_t elem, int src, int lag,
                        uint32_t se) {
  return src >= 0 && src < w->n_ch && (lag == 0 || lag == 1) &&
         (src != ch || lag == 1 || se < elem) &&
         (w->ch[src].d.dtype == AM_DT_F32 || w->ch[src].d.dtype == AM_DT_F64) &&
         se < w->ch[src].elems;
}

int am_ds_model_product(am_ds_writer* w, int ch, int src, int lag, uint32_t src_elem, int src2,
                        int lag2, uint32_t src_elem2, double coef) {
  am_ds_mentry* e = last_entry(w, ch, "am_ds_model_term");
  if (!e) return -1;
  am_ds_model* m = &w->models[w->ch[ch].model];
  if (!model_src_ok(w, ch, e->elem, src, lag, src_elem) ||
      (src2 >= 0 && !model_src_ok(w, ch, e->elem, src2, lag2, src_elem2)))
    return werr(w, "channel '%s': bad model term (channel %d, element %u, lag %d; channel %d, "
                "element %u, lag %d)", w->ch[ch].s[0], src, src_elem, lag, src2, src_elem2, lag2);
  if (e->n_terms >= 65535) return werr(w, "channel '%s': too many terms", w->ch[ch].s[0]);
  am_ds_term* t = realloc(m->t, sizeof *t * (m->n_terms + 1));
  if (!t) return werr(w, "out of memory");
  m->t = t;
  int two = src2 >= 0;
  t[m->n_terms++] = (am_ds_term){(uint16_t)src, (uint8_t)lag, (uint8_t)(two ? lag2 : 0), src_elem,
                                 (uint16_t)(two ? src2 : (int)MODEL_NO_SRC), two ? src_elem2 : 0,
                                 coef};
  e->n_terms++;
  return 0;
}

int am_ds_model_term(am_ds_writer* w, int ch, int src, int lag, uint32_t src_elem, double coef) {
  return am_ds_model_product(w, ch, src, lag, src_elem, -1, 0, 0, coef);
}

int am_ds_writer_find_channel(const am_ds_writer* w, const char* name) {
  for (int c = 0; c < w->n_ch; c++)
    if (!strcmp(w->ch[c].s[0], name)) return c;
  return -1;
}

int am_ds_model_count(const am_ds_writer* w, int ch) {
  if (ch < 0 || ch >= w->n_ch || w->ch[ch].model < 0) return 0;
  return (int)w->models[w->ch[ch].model].n_entries;
}

const char* am_ds_writer_error(const am_ds_writer* w) {
  if (w->error[0]) return w->error;
  if (atomic_load_explicit(&w->io_failed, memory_order_acquire)) return w->io_error;
  return "";
}
uint64_t am_ds_writer_bytes(const am_ds_writer* w) {
  return atomic_load_explicit(&w->written, memory_order_relaxed);
}
uint64_t am_ds_writer_raw_bytes(const am_ds_writer* w) {
  return atomic_load_explicit(&w->raw_written, memory_order_relaxed);
}

static char* dupstr(const char* s) {
  s = s ? s : "";
  size_t n = strlen(s);
  char* c = malloc(n + 1);
  if (c) memcpy(c, s, n + 1);
  return c;
}

int am_ds_set_meta(am_ds_writer* w, const char* key, const void* value, long len) {
  if (w->error[0]) return -1;
  if (w->begun) return werr(w, "metadata '%s' set after the data began", key);
  if (!key || !key[0] || strlen(key) > 65535) return werr(w, "bad metadata key");
  if (len < 0) len = value ? (long)strlen(value) : 0;
  if ((unsigned long)len > MAX_PAYLOAD / 2) return werr(w, "metadata '%s' too large", key);
  for (int i = 0; i < w->n_meta; i++)
    if (!strcmp(w->meta_key[i], key)) {  // replace
      uint8_t* v = malloc((size_t)len + 1);
      if (!v) return werr(w, "out of memory");
      if (len) memcpy(v, value, (size_t)len);
      free(w->meta_val[i]);
      w->meta_val[i] = v;
      w->meta_len[i] = (size_t)len;
      return 0;
    }
  if (w->n_meta >= MAX_META) return werr(w, "too many metadata entries");
  char** k = realloc(w->meta_key, sizeof(char*) * (w->n_meta + 1));
  if (k) w->meta_key = k;
  uint8_t** v = realloc(w->meta_val, sizeof(uint8_t*) * (w->n_meta + 1));
  if (v) w->meta_val = v;
  size_t* l = realloc(w->meta_len, sizeof(size_t) * (w->n_meta + 1));
  if (l) w->meta_len = l;
  if (!k || !v || !l) return werr(w, "out of memory");
  w->meta_key[w->n_meta] = dupstr(key);
  w->meta_val[w->n_meta] = malloc((size_t)len + 1);
  if (!w->meta_key[w->n_meta] || !w->meta_val[w->n_meta]) return werr(w, "out of memory");
  if (len) memcpy(w->meta_val[w->n_meta], value, (size_t)len);
  w->meta_len[w->n_meta] = (size_t)len;
  w->n_meta++;
  return 0;
}

int am_ds_add_channel(am_ds_writer* w, const am_channel_def* def) {
  if (w->error[0]) return -1;
  if (w->begun) return werr(w, "channel '%s' added after the data began", def->name);
  if (!def->name || !def->name[0]) return werr(w, "a channel needs a name");
  if (w->n_ch >= AM_DS_MAX_CHANNELS) return werr(w, "too many channels");
  size_t es = am_dtype_size(def->dtype);
  if (!es) return werr(w, "channel '%s': unknown dtype %d", def->name, (int)def->dtype);
  if (def->flags & ~(AM_DS_CH_DELTA | AM_DS_CH_LOSSY))
    return werr(w, "channel '%s': unknown flags 0x%x", def->name, def->flags);
  if ((def->flags & AM_DS_CH_LOSSY) && def->dtype != AM_DT_F32 && def->dtype != AM_DT_F64)
    return werr(w, "channel '%s': only f32 and f64 channels can be lossy", def->name);
  if (def->ndim < 0 || def->ndim > AM_DS_MAX_DIMS)
    return werr(w, "channel '%s': ndim %d out of 0..%d", def->name, def->ndim, AM_DS_MAX_DIMS);
  size_t elems = 1;
  for (int i = 0; i < def->ndim; i++) {
    elems *= def->shape[i];
    if (elems > MAX_ROW_BYTES) return werr(w, "channel '%s': shape too large", def->name);
  }
  if (w->row_bytes + elems * es > MAX_ROW_BYTES) return werr(w, "rows too large");
  const char* strs[4] = {def->name, def->group, def->units, def->labels};
  for (int i = 0; i < 4; i++)
    if (strs[i] && strlen(strs[i]) > 65535) return werr(w, "channel '%s': string too long", def->name);
  for (int i = 0; i < w->n_ch; i++)
    if (!strcmp(w->ch[i].s[0], def->name)) return werr(w, "channel '%s' added twice", def->name);
  wchan* c = realloc(w->ch, sizeof(wchan) * (w->n_ch + 1));
  if (!c) return werr(w, "out of memory");
  w->ch = c;
  wchan* x = &w->ch[w->n_ch];
  memset(x, 0, sizeof *x);
  x->d = *def;
  for (int i = 0; i < 4; i++)
    if (!(x->s[i] = dupstr(strs[i]))) return werr(w, "out of memory");
  x->elems = elems;
  x->w = es;
  x->sw = def->flags & AM_DS_CH_LOSSY ? es / 2 : es;
  x->filt = (am_ds_filt){def->flags & AM_DS_CH_DELTA ? PRED_SUBZ : PRED_NONE, LAYOUT_BYTE, 0};
  x->model = -1;
  x->row_bytes = elems * es;
  w->row_bytes += x->row_bytes;
  return w->n_ch++;
}

static int write_all(am_ds_writer* w, const void* buf, size_t n) {
  const uint8_t* p = buf;
  while (n) {
    ssize_t k = write(w->fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return ioerr(w, "cannot write %s: %s", w->path, strerror(errno));
    }
    p += k;
    n -= (size_t)k;
    atomic_fetch_add_explicit(&w->written, (uint64_t)k, memory_order_relaxed);
  }
  return 0;
}

// The writer's zstd context, made and set up once: ZSTD_LEVEL with a smaller hash table than the
// level's own (dataset_format.h). A failure is reported as an I/O error (ioerr).
static int zstd_ready(am_ds_writer* w) {
  if (w->cctx) return 0;
  if (!(w->cctx = ZSTD_createCCtx())) return ioerr(w, "out of memory (zstd context)");
  size_t rc = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, ZSTD_LEVEL);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, ZSTD_HASH_LOG);
  if (ZSTD_isError(rc)) {
    ZSTD_freeCCtx(w->cctx);
    w->cctx = NULL;
    return ioerr(w, "zstd: level %d, hash log %d: %s", ZSTD_LEVEL, ZSTD_HASH_LOG,
                 ZSTD_getErrorName(rc));
  }
  return 0;
}

// Writes one block whose body (raw_n bytes at raw) is zstd-compressed, after a raw prefix.
// (A chunk's body is its stored form: smaller than its rows' bytes when channels are lossy.)
// Errors go to io_error (ioerr).
static int write_block(am_ds_writer* w, int type, const uint8_t* prefix, size_t prefix_n,
                       const uint8_t* raw, size_t raw_n) {
  if (raw_n > MAX_PAYLOAD) return ioerr(w, "block of %zu bytes exceeds the 64 MiB limit", raw_n);
  size_t bound = ZSTD_compressBound(raw_n);
  if (am_buf_reserve(&w->out, BLOCK_HDR + prefix_n + bound)) return ioerr(w, "out of memory");
  if (zstd_ready(w)) return -1;
  uint8_t* body = w->out.p + BLOCK_HDR + prefix_n;
  size_t z = ZSTD_compress2(w->cctx, body, bound, raw, raw_n);
  if (ZSTD_isError(z)) return ioerr(w, "zstd: %s", ZSTD_getErrorName(z));
  if (prefix_n) memcpy(w->out.p + BLOCK_HDR, prefix, prefix_n);
  uint32_t payload = (uint32_t)(prefix_n + z);
  am_ds_put_bhdr(w->out.p, type, CODEC_ZSTD, (uint16_t)prefix_n, payload, (uint32_t)raw_n,
                 am_crc32(0, w->out.p + BLOCK_HDR, payload));
  if (write_all(w, w->out.p, BLOCK_HDR + payload)) return -1;
  w->good_end = atomic_load_explicit(&w->written, memory_order_relaxed);
  return 0;
}

// The values of channel c in chunk j in their stored form (packed into w->stage when lossy).
static const uint8_t* stored_column(am_ds_writer* w, const wjob* j, int c) {
  const wchan* ch = &w->ch[c];
  const uint8_t* col = w->cols.p + ch->col_off;
  if (ch->sw == ch->w) return col;
  am_ds_lossy_pack(w->stage.p, col, j->rows * ch->elems, ch->w);
  return w->stage.p;
}

// The PRED_MODEL prediction of channel c in chunk j, into w->refv (mask into w->mmask), from the
// sources' values as a reader decodes them (a lossy source rounded through its stored form).
static void model_values(am_ds_writer* w, const wjob* j, int c) {
  am_ds_model* m = &w->models[w->ch[c].model];
  const uint8_t* cols[AM_DS_MAX_CHANNELS];
  for (uint32_t v = 0; v < m->n_vars; v++) {  // each source element the model reads (its plan)
    int s = m->var_src[v];
    const wchan* x = &w->ch[s];
    cols[s] = w->cols.p + x->col_off;
    if (x->sw == x->w) continue;
    uint8_t* d = w->rt.p + w->rt_off[s] * j->rows;  // rounded once per chunk, for every model
    if (!w->rt_done[s]) {
      size_t count = j->rows * x->elems;  // tmp is free here (the channel's own stored form may
      am_ds_lossy_pack(w->tmp.p, cols[s], count, x->w);  // be in stage)
      am_ds_lossy_unpack(d, w->tmp.p, count, x->w);
      w->rt_done[s] = 1;
    }
    cols[s] = d;
  }
  // cannot fail: am_ds_begin made the plan's room for chunk_rows
  am_ds_model_predict(m, cols, w->mdtype, w->melems, j->rows, w->ch[c].sw != w->ch[c].w, w->refv.p,
                      w->mmask);
}

// The PRED_REF prediction of channel c by channel r in chunk j, into w->refv.
static void ref_values(am_ds_writer* w, const wjob* j, int r, int c) {
  const wchan *x = &w->ch[r], *ch = &w->ch[c];
  size_t count = j->rows * ch->elems;
  if (x->sw != x->w) am_ds_lossy_pack(w->refv.p, w->cols.p + x->col_off, count, x->w);
  else am_ds_ref_convert(w->refv.p, w->cols.p + x->col_off, count, x->w, ch->w);
}

// Chooses channel c's filter on chunk j: a channel whose values equal an earlier (exact, not
// itself referencing) channel's, in its dtype, refers to it; otherwise every predictor and layout
// is tried with zstd and the smallest wins (ties: the first tried).
static void choose_filter(am_ds_writer* w, const wjob* j, int c, const uint8_t* src) {
  wchan* ch = &w->ch[c];
  size_t count = j->rows * ch->elems;
  int referred = 0;  // a later channel refers to this one (am_ds_set_filter): no chains
  for (int d = c + 1; d < w->n_ch; d++)
    referred |= w->ch[d].filt.pred == PRED_REF && w->ch[d].filt.ref == c;
  for (int r = 0; r < c && !referred; r++) {
    const wchan* x = &w->ch[r];
    if (x->elems != ch->elems || x->filt.pred == PRED_REF || x->filt.pred == PRED_MODEL ||
        !am_ds_ref_ok(x->d.dtype, x->sw != x->w, ch->d.dtype, ch->sw != ch->w))
      continue;
    ref_values(w, j, r, c);
    if (!memcmp(w->refv.p, src, count * ch->sw)) {
      ch->filt = (am_ds_filt){PRED_REF, LAYOUT_BYTE, (uint16_t)r};
      return;
    }
  }
  static const uint8_t preds[] = {PRED_NONE, PRED_SUBZ, PRED_XOR, PRED_MODEL};
  size_t best = SIZE_MAX;
  // a channel a later one refers to keeps to the predictors a reference may read
  int n_preds = ch->model >= 0 && !referred ? 4 : 3;
  if (n_preds == 4) model_values(w, j, c);
  for (int p = 0; p < n_preds; p++)
    for (int l = 0; l < LAYOUT_COUNT; l++) {
      am_ds_filt f = {preds[p], (uint8_t)l, 0, preds[p] == PRED_MODEL ? w->mmask : NULL};
      size_t n = am_ds_laid_size(count, ch->sw, l);
      uint8_t* dst = w->trial.p;
      am_ds_encode(dst, src, w->refv.p, j->rows, ch->elems, ch->sw, f, w->tmp.p);
      size_t bound = ZSTD_compressBound(n);
      size_t z = ZSTD_compress2(w->cctx, dst + n, bound, dst, n);
      if (!ZSTD_isError(z) && z < best) {
        best = z;
        ch->filt = f;
        ch->filt.mask = NULL;  // set again for each chunk
      }
    }
}

// The chunk's rows turned into the columns the filters read (w->cols).
static void chunk_columns(am_ds_writer* w, const wjob* j) {
  for (uint32_t r = 0; r < j->rows; r++) {
    const uint8_t* row = j->buf + (size_t)r * w->row_stride;
    for (int c = 0; c < w->n_ch; c++) {
      const wchan* x = &w->ch[c];
      memcpy(w->cols.p + x->col_off + r * x->row_bytes, row + x->row_off, x->row_bytes);
    }
  }
}

// Filters, compresses and writes one chunk and adds it to the index (the block-writing side).
// The body: the filter table (FILTER_ENTRY bytes per channel), the initial state, the columns.
static int write_chunk(am_ds_writer* w, const wjob* j) {
  chunk_columns(w, j);
  if (zstd_ready(w)) return -1;
  if (w->rt_done) memset(w->rt_done, 0, (size_t)w->n_ch);
  size_t o = (size_t)w->n_ch * FILTER_ENTRY;
  uint32_t n_init = 0;
  if (j->has_init) {
    n_init = (uint32_t)w->n_init;
    for (int i = 0; i < w->n_init; i++) {
      uint64_t bits;
      memcpy(&bits, &j->init[i], 8);
      put64(w->scratch.p + o, bits);
      o += 8;
    }
  }
  for (int c = 0; c < w->n_ch; c++) {
    wchan* ch = &w->ch[c];
    const uint8_t* src = stored_column(w, j, c);
    int whole = (j->flags & AM_DS_CHUNK_FIRST) && (j->flags & AM_DS_CHUNK_LAST);
    if (!ch->chosen && (j->rows >= CHOOSE_ROWS || (whole && j->rows >= CHOOSE_MIN))) {
      choose_filter(w, j, c, src);
      ch->chosen = 1;
    }
    const uint8_t* ref = NULL;
    am_ds_filt f = ch->filt;
    if (f.pred == PRED_REF) {
      ref_values(w, j, f.ref, c);
      ref = w->refv.p;
    } else if (f.pred == PRED_MODEL) {
      model_values(w, j, c);
      ref = w->refv.p;
      f.mask = w->mmask;
    }
    uint8_t* e = w->scratch.p + (size_t)c * FILTER_ENTRY;
    e[0] = f.pred;
    e[1] = f.layout;
    put16(e + 2, f.ref);
    am_ds_encode(w->scratch.p + o, src, ref, j->rows, ch->elems, ch->sw, f, w->tmp.p);
    o += am_ds_laid_size(j->rows * ch->elems, ch->sw, ch->filt.layout);
  }
  uint8_t pre[CHUNK_PREFIX];
  put64(pre, (uint64_t)j->episode);
  put32(pre + 8, j->env);
  put32(pre + 12, j->first_step);
  put32(pre + 16, j->rows);
  put32(pre + 20, j->flags);
  put32(pre + 24, n_init);
  put32(pre + 28, 0);
  // room for the index entry first: a chunk is written only when it can be indexed
  if (am_buf_reserve(&w->index, w->index.len + sizeof(wchunk))) return ioerr(w, "out of memory");
  uint64_t before = atomic_load_explicit(&w->written, memory_order_relaxed);
  if (write_block(w, BT_CHUNK, pre, sizeof pre, w->scratch.p, o)) return -1;
  wchunk* e = (wchunk*)(w->index.p + w->index.len);
  w->index.len += sizeof(wchunk);
  e->offset = before;
  e->episode = j->episode;
  e->env = j->env;
  e->first_step = j->first_step;
  e->rows = j->rows;
  e->flags = j->flags;
  e->stored = (uint32_t)(atomic_load_explicit(&w->written, memory_order_relaxed) - before - BLOCK_HDR);
  e->raw = (uint32_t)o;
  atomic_fetch_add_explicit(&w->raw_written, (uint64_t)j->rows * w->row_bytes + 8ull * n_init,
                            memory_order_relaxed);
  return 0;
}

// The background thread: writes queued chunks in order until told to stop and the queue is empty.
static void* writer_thread(void* arg) {
  am_ds_writer* w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->q_len && !w->stop) pthread_cond_wait(&w->cv_work, &w->mu);
    if (!w->q_len) break;  // stop, and nothing left
    wjob* j = w->queue[w->q_head];
    w->q_head = (w->q_head + 1) % w->n_jobs;
    w->q_len--;
    int skip = w->discard;
    pthread_mutex_unlock(&w->mu);
    if (!skip && !atomic_load_explicit(&w->io_failed, memory_order_relaxed)) write_chunk(w, j);
    pthread_mutex_lock(&w->mu);
    w->free_list[w->n_free++] = j;
    pthread_cond_signal(&w->cv_free);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

// Stops the background thread after it has written the queue (discard: drops the queue).
static void stop_thread(am_ds_writer* w, int discard) {
  if (!w->threaded) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  w->discard |= discard;
  pthread_cond_signal(&w->cv_work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  w->threaded = 0;
  pthread_cond_destroy(&w->cv_work);
  pthread_cond_destroy(&w->cv_free);
  pthread_mutex_destroy(&w->mu);
}

int am_ds_begin(am_ds_writer* w, int n_slots, int chunk_rows, int n_init) {
  if (w->error[0]) return -1;
  if (w->begun) return werr(w, "am_ds_begin called twice");
  if (n_slots < 1 || n_init < 0 || (unsigned)n_init > MAX_INIT || chunk_rows < 0)
    return werr(w, "am_ds_begin: bad arguments");
  if (!w->n_ch) return werr(w, "a dataset needs at least one channel");
  w->mdtype = malloc(sizeof(int) * (size_t)w->n_ch);
  w->melems = malloc(sizeof(size_t) * (size_t)w->n_ch);
  if (!w->mdtype || !w->melems) return werr(w, "out of memory");
  size_t widest = 1, model_rt = 0;
  for (int c = 0; c < w->n_ch; c++) {
    w->mdtype[c] = w->ch[c].d.dtype;
    w->melems[c] = w->ch[c].elems;
    if (w->ch[c].elems > widest) widest = w->ch[c].elems;
    if (w->ch[c].filt.pred == PRED_MODEL && w->ch[c].model < 0)
      return werr(w, "channel '%s' is set to its model's predictor but has no model", w->ch[c].s[0]);
  }
  {  // room for the lossy sources' rounded values (each lossy source once)
    uint8_t src[AM_DS_MAX_CHANNELS] = {0};
    for (int i = 0; i < w->n_models; i++)
      for (uint32_t k = 0; k < w->models[i].n_terms; k++) {
        src[w->models[i].t[k].src] = 1;
        if (w->models[i].t[k].src2 != MODEL_NO_SRC) src[w->models[i].t[k].src2] = 1;
      }
    if (!(w->rt_off = malloc(sizeof(size_t) * (size_t)w->n_ch)) || !(w->rt_done = calloc((size_t)w->n_ch, 1)))
      return werr(w, "out of memory");
    for (int c = 0; c < w->n_ch; c++) {
      w->rt_off[c] = SIZE_MAX;
      if (src[c] && w->ch[c].sw != w->ch[c].w) w->rt_off[c] = model_rt, model_rt += w->ch[c].row_bytes;
    }
  }
  if (!(w->mmask = malloc(widest))) return werr(w, "out of memory");
  if (!chunk_rows) {
    chunk_rows = (int)((512u << 10) / (w->row_bytes ? w->row_bytes : 1));
    if (chunk_rows < 16) chunk_rows = 16;
    if (chunk_rows > 4096) chunk_rows = 4096;
  }
  if ((uint64_t)chunk_rows * w->row_bytes + (uint64_t)n_init * 8 > MAX_PAYLOAD / 2)
    return werr(w, "chunks of %d rows of %zu bytes are too large", chunk_rows, w->row_bytes);
  w->n_slots = n_slots;
  w->chunk_rows = chunk_rows;
  w->n_init = n_init;
  w->begun = 1;
  // header
  uint8_t h[FILE_HDR];
  memcpy(h, FILE_MAGIC, 8);
  put16(h + 8, AM_DS_VERSION_MAJOR);
  put16(h + 10, AM_DS_VERSION_MINOR);
  put32(h + 12, 0);
  if (write_all(w, h, sizeof h)) return io_report(w);
  // metadata
  size_t n = 4;
  for (int i = 0; i < w->n_meta; i++) n += 2 + strlen(w->meta_key[i]) + 4 + w->meta_len[i];
  uint8_t* b = malloc(n);
  if (!b) return werr(w, "out of memory");
  put32(b, (uint32_t)w->n_meta);
  size_t o = 4;
  for (int i = 0; i < w->n_meta; i++) {
    size_t kl = strlen(w->meta_key[i]);
    put16(b + o, (uint16_t)kl);
    memcpy(b + o + 2, w->meta_key[i], kl);
    o += 2 + kl;
    put32(b + o, (uint32_t)w->meta_len[i]);
    memcpy(b + o + 4, w->meta_val[i], w->meta_len[i]);
    o += 4 + w->meta_len[i];
  }
  int rc = write_block(w, BT_META, NULL, 0, b, n);
  free(b);
  if (rc) return io_report(w);
  // channel table
  n = 8;
  for (int i = 0; i < w->n_ch; i++) {
    n += 8 + 4 * (size_t)w->ch[i].d.ndim;
    for (int s = 0; s < 4; s++) n += 2 + strlen(w->ch[i].s[s]);
  }
  if (!(b = malloc(n))) return werr(w, "out of memory");
  put32(b, (uint32_t)w->n_ch);
  put32(b + 4, (uint32_t)n_init);
  o = 8;
  for (int i = 0; i < w->n_ch; i++) {
    const wchan* c = &w->ch[i];
    b[o] = (uint8_t)c->d.dtype;
    b[o + 1] = (uint8_t)c->d.ndim;
    put16(b + o + 2, 0);
    put32(b + o + 4, c->d.flags);
    o += 8;
    for (int k = 0; k < c->d.ndim; k++, o += 4) put32(b + o, c->d.shape[k]);
    for (int s = 0; s < 4; s++) {
      size_t l = strlen(c->s[s]);
      put16(b + o, (uint16_t)l);
      memcpy(b + o + 2, c->s[s], l);
      o += 2 + l;
    }
  }
  rc = write_block(w, BT_CHANNELS, NULL, 0, b, n);
  free(b);
  if (rc) return io_report(w);
  if (w->n_models) {  // channel models (1.3): checked, then one MODELS block
    int* order = malloc(sizeof(int) * (size_t)w->n_models);
    char why[AM_ERR_LEN];
    if (!order) return werr(w, "out of memory");
    rc = am_ds_models_check(w->models, w->n_models, w->mdtype, w->melems, w->n_ch,
                            AM_DS_VERSION_MINOR, order, why, sizeof why);
    free(order);
    if (rc) return werr(w, "%s", why);
    for (int i = 0; i < w->n_models; i++)
      if (am_ds_model_reserve(&w->models[i], (size_t)chunk_rows))
        return werr(w, "out of memory for the channel models");
    n = am_ds_models_size(w->models, w->n_models);
    if (n > MAX_PAYLOAD / 2) return werr(w, "channel models too large (%zu bytes)", n);
    if (!(b = malloc(n))) return werr(w, "out of memory");
    am_ds_models_put(b, w->models, w->n_models);
    rc = write_block(w, BT_MODELS, NULL, 0, b, n);
    free(b);
    if (rc) return io_report(w);
  }
  // chunk buffers: one per slot, plus spares that hold chunks waiting for the background thread
  // (as many as slots, since all envs tend to fill their chunks at the same step, within 2..32 MiB)
  size_t chunk_bytes = (size_t)chunk_rows * w->row_bytes;
  size_t fit = (32u << 20) / (chunk_bytes ? chunk_bytes : 1);  // spares that fit in 32 MiB
  int spare = n_slots;
  if ((size_t)spare > fit) spare = (int)fit;
  if (spare < 2) spare = 2;
  if (!w->background) spare = 0;
  size_t off = 0, row_off = 0;
  for (int c = 0; c < w->n_ch; c++) {  // each column on a cache line of its own
    w->ch[c].col_off = off;
    off = (off + (size_t)chunk_rows * w->ch[c].row_bytes + 63) & ~(size_t)63;
    w->ch[c].row_off = row_off;
    row_off += w->ch[c].row_bytes;
  }
  w->row_stride = (w->row_bytes + 63) & ~(size_t)63;
  size_t buf_bytes = (size_t)chunk_rows * w->row_stride;
  if (!buf_bytes) buf_bytes = 64;
  if (am_buf_reserve(&w->cols, off + 64) ||
      !(w->row_stage = aligned_alloc(64, w->row_stride ? w->row_stride : 64)))
    return werr(w, "out of memory");
  memset(w->row_stage, 0, w->row_stride);  // (its padding is streamed too)
  w->n_jobs = n_slots + spare;
  w->wake_at = spare / 2 > 1 ? spare / 2 : 1;
  w->jobs = calloc((size_t)w->n_jobs, sizeof(wjob));
  w->free_list = calloc((size_t)w->n_jobs, sizeof(wjob*));
  w->queue = calloc((size_t)w->n_jobs, sizeof(wjob*));
  w->slots = calloc((size_t)n_slots, sizeof(wslot));
  if (!w->jobs || !w->free_list || !w->queue || !w->slots) return werr(w, "out of memory");
  // one arena for all of them, in huge pages where the system gives them and the arena fills at
  // least one (the stepping thread writes rows to a different buffer for each slot: fewer TLB
  // misses); a smaller arena is not rounded up to one
  size_t huge = 2u << 20, arena = (size_t)w->n_jobs * buf_bytes;
  size_t align = arena >= huge ? huge : 64;
  arena = (arena + align - 1) & ~(align - 1);
  if (!(w->arena = aligned_alloc(align, arena)))
    return werr(w, "out of memory for %d x %d rows of %zu bytes", w->n_jobs, chunk_rows,
                w->row_bytes);
#ifdef MADV_HUGEPAGE
  if (align == huge) madvise(w->arena, arena, MADV_HUGEPAGE);  // (a hint: failing is harmless)
#endif
  memset(w->arena, 0, arena);  // touch the pages now rather than while stepping
  for (int k = 0; k < w->n_jobs; k++) {
    wjob* j = &w->jobs[k];
    j->buf = w->arena + (size_t)k * buf_bytes;
    if (!(j->init = calloc((size_t)n_init + 1, sizeof(double)))) return werr(w, "out of memory");
    if (k < n_slots) w->slots[k].cur = j;
    else w->free_list[w->n_free++] = j;
  }
  // the body: filter table, initial state, columns (a BIT layout pads each of its <= 64 bit
  // planes to whole bytes); filter scratch for the largest column; trials need room for the
  // column and its compressed form
  size_t col_max = 0;
  for (int c = 0; c < w->n_ch; c++)
    if ((size_t)chunk_rows * w->ch[c].row_bytes > col_max) col_max = (size_t)chunk_rows * w->ch[c].row_bytes;
  col_max += 64;
  if (am_buf_reserve(&w->scratch, (size_t)w->n_ch * (FILTER_ENTRY + 64) + (size_t)n_init * 8 +
                                      chunk_bytes + 1) ||
      am_buf_reserve(&w->tmp, col_max) || am_buf_reserve(&w->stage, col_max) ||
      am_buf_reserve(&w->refv, col_max) || am_buf_reserve(&w->rt, model_rt * (size_t)chunk_rows + 1) ||
      am_buf_reserve(&w->trial, col_max + ZSTD_compressBound(col_max)))
    return werr(w, "out of memory");
  if (!w->background) return 0;
  // ZSTD's context is made here so that the thread does not allocate it while the stepping
  // thread is timing its first chunk.
  if (zstd_ready(w)) return werr(w, "%s", w->io_error);
  if (pthread_mutex_init(&w->mu, NULL)) return werr(w, "cannot create a mutex");
  if (pthread_cond_init(&w->cv_work, NULL)) {
    pthread_mutex_destroy(&w->mu);
    return werr(w, "cannot create a condition variable");
  }
  if (pthread_cond_init(&w->cv_free, NULL)) {
    pthread_cond_destroy(&w->cv_work);
    pthread_mutex_destroy(&w->mu);
    return werr(w, "cannot create a condition variable");
  }
  if (pthread_create(&w->thread, NULL, writer_thread, w)) {
    pthread_cond_destroy(&w->cv_free);
    pthread_cond_destroy(&w->cv_work);
    pthread_mutex_destroy(&w->mu);
    return 0;  // the spare buffers go unused; chunks are written on this thread
  }
  w->threaded = 1;
  return 0;
}

// Hands the slot's buffered rows over as one chunk (written now without a background thread).
static int flush_slot(am_ds_writer* w, int s, uint32_t end) {
  wslot* sl = &w->slots[s];
  if (!sl->rows && !(end & AM_DS_END) && !sl->has_init) return 0;
  wjob* j = sl->cur;
  j->episode = sl->episode;
  j->env = (uint32_t)s;
  j->first_step = sl->first_step;
  j->rows = sl->rows;
  j->has_init = sl->has_init;
#ifdef __SSE2__
  _mm_sfence();  // the streamed rows (am_ds_row_put) visible before the buffer is handed over
#endif
  j->flags = (sl->has_init ? AM_DS_CHUNK_FIRST : 0) | (end & AM_DS_END ? AM_DS_CHUNK_LAST : 0) |
             (end & AM_DS_TERMINATED ? AM_DS_CHUNK_TERMINATED : 0) |
             (end & AM_DS_TRUNCATED ? AM_DS_CHUNK_TRUNCATED : 0);
  if (w->threaded) {
    pthread_mutex_lock(&w->mu);
    if (!w->n_free) pthread_cond_signal(&w->cv_work);  // (it was woken: the spares are queued)
    while (!w->n_free) pthread_cond_wait(&w->cv_free, &w->mu);
    sl->cur = w->free_list[--w->n_free];
    w->queue[(w->q_head + w->q_len) % w->n_jobs] = j;
    w->q_len++;
    if (w->q_len >= w->wake_at) pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
  } else if (!atomic_load_explicit(&w->io_failed, memory_order_relaxed)) {
    write_chunk(w, j);
  }
  sl->first_step += sl->rows;
  sl->rows = 0;
  sl->has_init = 0;
  return io_report(w);
}

int am_ds_episode_begin(am_ds_writer* w, int slot, int64_t episode, const double* init) {
  if (w->error[0] || io_report(w)) return -1;
  if (!w->begun || slot < 0 || slot >= w->n_slots || episode < 0)
    return werr(w, "am_ds_episode_begin: bad slot %d or episode %lld", slot, (long long)episode);
  wslot* sl = &w->slots[slot];
  if (sl->active && flush_slot(w, slot, 0)) return -1;
  sl->active = 1;
  sl->episode = episode;
  sl->first_step = 0;
  sl->rows = 0;
  sl->has_init = 1;
  if (w->n_init) {
    if (!init) return werr(w, "episode %lld: no initial state given", (long long)episode);
    memcpy(sl->cur->init, init, sizeof(double) * (size_t)w->n_init);
  }
  return 0;
}

static uint8_t* row_at(am_ds_writer* w, int slot) {
  wslot* sl = &w->slots[slot];
  return sl->cur->buf + (size_t)sl->rows * w->row_stride;
}

void* am_ds_row_ptr(am_ds_writer* w, int slot, int ch) {
  return row_at(w, slot) + w->ch[ch].row_off;
}

// A whole row is gathered in a small buffer that stays in the cache, then streamed to the chunk
// buffer past the cache in 16-byte blocks: rows are whole cache lines, one after the other, so
// the processor writes whole lines without reading them first (the chunk buffer is next read by
// the writer's thread, after the slot's other rows). Channels given one by one (a NULL among
// src) are copied in place.
void am_ds_row_put(am_ds_writer* w, int slot, const void* const* src) {
  int all = 1;
  for (int c = 0; c < w->n_ch; c++) all &= src[c] != NULL;
  if (!all) {
    for (int c = 0; c < w->n_ch; c++)
      if (src[c]) memcpy(am_ds_row_ptr(w, slot, c), src[c], w->ch[c].row_bytes);
    return;
  }
  uint8_t* stage = w->row_stage;
  for (int c = 0; c < w->n_ch; c++) {
    uint8_t* restrict d = stage + w->ch[c].row_off;
    const uint8_t* restrict s = src[c];
    switch (w->ch[c].row_bytes) {  // most channels of a row are 1 to 24 bytes
      case 1: *d = *s; break;
      case 4: memcpy(d, s, 4); break;
      case 8: memcpy(d, s, 8); break;
      case 12: memcpy(d, s, 12); break;
      case 16: memcpy(d, s, 16); break;
      case 24: memcpy(d, s, 24); break;
      default: memcpy(d, s, w->ch[c].row_bytes);
    }
  }
  uint8_t* row = row_at(w, slot);
#ifdef __SSE2__
  for (size_t k = 0; k < w->row_stride; k += 16)
    _mm_stream_si128((__m128i*)(row + k), _mm_load_si128((const __m128i*)(stage + k)));
#else
  memcpy(row, stage, w->row_bytes);
#endif
}

int am_ds_row_commit(am_ds_writer* w, int slot, uint32_t end) {
  if (w->error[0] || io_report(w)) return -1;
  wslot* sl = &w->slots[slot];
  if (!sl->active) return werr(w, "slot %d: a row without an episode", slot);
  sl->rows++;
  if ((end & AM_DS_END) || sl->rows == (uint32_t)w->chunk_rows) {
    if (end & AM_DS_END) sl->active = 0;
    if (flush_slot(w, slot, end)) return -1;
  }
  return 0;
}

static void writer_free(am_ds_writer* w) {
  stop_thread(w, 1);
  for (int i = 0; i < w->n_meta; i++) {
    free(w->meta_key[i]);
    free(w->meta_val[i]);
  }
  free(w->meta_key);
  free(w->meta_val);
  free(w->meta_len);
  if (w->jobs)
    for (int k = 0; k < w->n_jobs; k++) free(w->jobs[k].init);
  free(w->arena);
  free(w->jobs);
  free(w->free_list);
  free(w->queue);
  for (int c = 0; c < w->n_ch; c++)
    for (int s = 0; s < 4; s++) free(w->ch[c].s[s]);
  free(w->ch);
  free(w->slots);
  am_buf_free(&w->scratch);
  am_buf_free(&w->tmp);
  am_buf_free(&w->stage);
  am_buf_free(&w->refv);
  am_buf_free(&w->trial);
  am_buf_free(&w->rt);
  free(w->rt_off);
  free(w->rt_done);
  am_ds_models_free(w->models, w->n_models);
  free(w->mdtype);
  free(w->melems);
  free(w->mmask);
  am_buf_free(&w->out);
  am_buf_free(&w->cols);
  free(w->row_stage);
  am_buf_free(&w->index);
  ZSTD_freeCCtx(w->cctx);
  free(w);
}

// Writes the index, split over as many INDEX blocks as needed (w->index_part entries each; part k
// holds k in its body's second word), then the trailer pointing at the first part.
static void write_index(am_ds_writer* w) {
  const wchunk* ix = (const wchunk*)w->index.p;
  size_t n_index = w->index.len / sizeof(wchunk), per = w->index_part;
  size_t max = n_index < per ? n_index : per;
  uint8_t* b = malloc(8 + max * INDEX_ENTRY);
  if (!b) {
    werr(w, "out of memory for the index of %zu chunks", n_index);
    return;
  }
  uint64_t first = atomic_load_explicit(&w->written, memory_order_relaxed);
  size_t done = 0;
  uint32_t part = 0;
  do {
    size_t n = n_index - done < per ? n_index - done : per;
    put32(b, (uint32_t)n);
    put32(b + 4, part++);
    for (size_t i = 0; i < n; i++) {
      const wchunk* c = &ix[done + i];
      uint8_t* e = b + 8 + i * INDEX_ENTRY;
      put64(e, c->offset);
      put64(e + 8, (uint64_t)c->episode);
      put32(e + 16, c->env);
      put32(e + 20, c->first_step);
      put32(e + 24, c->rows);
      put32(e + 28, c->flags);
      put32(e + 32, c->stored);
      put32(e + 36, c->raw);
    }
    if (write_block(w, BT_INDEX, NULL, 0, b, 8 + n * INDEX_ENTRY)) break;
    done += n;
  } while (done < n_index);
  free(b);
  if (io_report(w)) return;
  uint8_t t[TRAILER];
  put64(t, first);
  put32(t + 8, w->interrupted ? TRAILER_INTERRUPTED : 0);
  put32(t + 12, am_crc32(0, t, 12));
  memcpy(t + 16, TRAILER_MAGIC, 8);
  write_all(w, t, sizeof t);
  io_report(w);
}

int am_ds_close(am_ds_writer* w, char* err, size_t err_sz) {
  if (!w->error[0] && !w->begun) am_ds_begin(w, 1, 16, 0);
  if (!w->error[0])
    for (int s = 0; s < w->n_slots; s++)
      if (w->slots[s].active && (w->slots[s].rows || w->slots[s].has_init) && flush_slot(w, s, 0))
        break;
  stop_thread(w, 0);  // writes what is queued
  io_report(w);
  uint64_t chunks_end = w->good_end;  // every chunk written whole ends here
  if (!w->error[0]) write_index(w);
  if (!w->error[0] && fsync(w->fd) && errno != EINVAL && errno != EROFS)
    werr(w, "cannot sync %s: %s", w->path, strerror(errno));
  struct stat st;
  int regular = !fstat(w->fd, &st) && S_ISREG(st.st_mode);  // never truncate a device (/dev/full)
  const wchunk* ix = (const wchunk*)w->index.p;
  size_t n_chunks = w->index.len / sizeof(wchunk);
  if (w->error[0] && regular) {
    // Keep every chunk written whole and nothing after it (no partial block, no index, no
    // trailer), so that the file never looks complete and readers recover it by scanning. With no
    // chunk, nothing was recorded: the file goes.
    if (n_chunks) {
      if (ftruncate(w->fd, (off_t)chunks_end) == 0) fsync(w->fd);
    } else {
      unlink(w->path);
    }
  }
  if (close(w->fd) && !w->error[0]) werr(w, "cannot close %s: %s", w->path, strerror(errno));
  int rc = 0;
  if (w->error[0]) {
    if (regular && n_chunks) {
      long long eps = 0, complete = 0, rows = 0;
      for (size_t i = 0; i < n_chunks; i++) {
        eps += (ix[i].flags & AM_DS_CHUNK_FIRST) != 0;
        complete += (ix[i].flags & AM_DS_CHUNK_LAST) != 0;
        rows += ix[i].rows;
      }
      rc = am_err(err, err_sz,
                  "%s; %s keeps the %zu chunks written whole (%lld episodes, %lld of them complete; "
                  "%lld steps; %llu bytes) without an index: it is recoverable (readers find the "
                  "chunks by scanning)",
                  w->error, w->path, n_chunks, eps, complete, rows, (unsigned long long)chunks_end);
    } else {
      rc = am_err(err, err_sz, "%s%s", w->error,
                  regular ? "; no chunk had been written, the file was removed" : "");
    }
  }
  writer_free(w);
  return rc;
}

void am_ds_abort(am_ds_writer* w) {
  stop_thread(w, 1);
  struct stat st;
  int regular = !fstat(w->fd, &st) && S_ISREG(st.st_mode);  // never unlink a device (/dev/full)
  close(w->fd);
  if (regular) unlink(w->path);
  writer_free(w);
}
