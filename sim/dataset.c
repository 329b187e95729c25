// dataset.c: the dataset format's writer and reader, including recovery without the index.
//
// What it is: the byte layout of docs/dataset-format.md (file header, self-delimiting blocks with
// CRC-32s, zstd-compressed bodies, byte-shuffle and delta filters, index and trailer), written with
// explicit little-endian helpers. Every size read from a file is checked against the file's size
// and fixed limits before it is used.
// What it is not: the mapping from an env pool to channels (dataset_record.c), replay
// (dataset_record.c), printing.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zstd.h>

#include "am_dataset.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dataset.c stores channel data in host order, which must be little-endian"
#endif

//---------------------------------- format constants ---------------------------------------------

static const uint8_t FILE_MAGIC[8] = {0x89, 'A', 'M', 'D', 'S', '\r', '\n', 0x1a};
static const uint8_t BLOCK_MAGIC[4] = {'A', 'M', 'B', 'K'};
static const uint8_t TRAILER_MAGIC[8] = {'A', 'M', 'D', 'S', 'I', 'D', 'X', '\n'};
enum { FILE_HDR = 16, BLOCK_HDR = 24, TRAILER = 24, CHUNK_PREFIX = 32, INDEX_ENTRY = 40 };
enum { BT_META = 1, BT_CHANNELS = 2, BT_CHUNK = 3, BT_INDEX = 4 };
enum { CODEC_RAW = 0, CODEC_ZSTD = 1 };
#define MAX_PAYLOAD (64u << 20)    // stored payload and raw body limits (64 MiB)
#define MAX_ROW_BYTES (16u << 20)  // sum of the channels' row sizes
#define MAX_META 65536
#define MAX_INIT (1u << 24)
#ifndef ZSTD_LEVEL
#define ZSTD_LEVEL 1  // fast: recording must cost little next to the rollout (docs/benchmarks.md)
#endif

// The fuzzing build (tests/fuzz/run.sh) ignores checksum mismatches so that the fuzzer reaches
// the parsing behind them; every other check still applies.
#ifdef AM_DS_FUZZING
#define CRC_BAD(got, want) ((void)(got), (void)(want), 0)
#else
#define CRC_BAD(got, want) ((got) != (want))
#endif

//---------------------------------- little-endian helpers -----------------------------------------

static void put16(uint8_t* p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get64(const uint8_t* p) { return get32(p) | ((uint64_t)get32(p + 4) << 32); }

//---------------------------------- CRC-32 --------------------------------------------------------

static uint32_t crc_table[8][256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t am_crc32(uint32_t crc, const void* data, size_t n) {
  static int ready = 0;  // the table is a pure function of constants: a racing init is harmless
  if (!ready) {
    crc_init();
    ready = 1;
  }
  const uint8_t* p = data;
  uint32_t c = ~crc;
  while (n >= 8) {  // slicing by 8
    uint32_t a = c ^ get32(p), b = get32(p + 4);
    c = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^
        crc_table[4][a >> 24] ^ crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^
        crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

//---------------------------------- dtypes and filters --------------------------------------------

size_t am_dtype_size(am_dtype t) {
  switch (t) {
    case AM_DT_F32: case AM_DT_I32: case AM_DT_U32: return 4;
    case AM_DT_F64: case AM_DT_I64: return 8;
    case AM_DT_U8: return 1;
  }
  return 0;
}

const char* am_dtype_name(am_dtype t) {
  switch (t) {
    case AM_DT_F32: return "f32";
    case AM_DT_F64: return "f64";
    case AM_DT_I32: return "i32";
    case AM_DT_U8: return "u8";
    case AM_DT_U32: return "u32";
    case AM_DT_I64: return "i64";
  }
  return "?";
}

// Filters rows x elems values of width w from src into dst: optional delta (each row minus the
// previous one, as unsigned integers of width w, wrapping), then byte shuffle (byte j of value k
// goes to dst[j * count + k]). The loops for widths 4 and 8 have no branch in their bodies (the
// first row, which has no predecessor, is a separate loop) so that the compiler can vectorise them.
#define SHUFFLE_LOOP(W, T, DELTA)                                         \
  for (size_t k = from; k < to; k++) {                                    \
    T v, prev = 0;                                                        \
    memcpy(&v, src + (W) * k, (W));                                       \
    if (DELTA) memcpy(&prev, src + (W) * (k - lag), (W));                 \
    v -= prev;                                                            \
    for (size_t j = 0; j < (W); j++) dst[j * count + k] = (uint8_t)(v >> (8 * j)); \
  }
static void shuffle4(uint8_t* restrict dst, const uint8_t* restrict src, size_t from, size_t to,
                     size_t count, size_t lag) {
  if (lag) SHUFFLE_LOOP(4, uint32_t, 1) else SHUFFLE_LOOP(4, uint32_t, 0)
}
static void shuffle8(uint8_t* restrict dst, const uint8_t* restrict src, size_t from, size_t to,
                     size_t count, size_t lag) {
  if (lag) SHUFFLE_LOOP(8, uint64_t, 1) else SHUFFLE_LOOP(8, uint64_t, 0)
}
#undef SHUFFLE_LOOP
static void filter(uint8_t* restrict dst, const uint8_t* restrict src, size_t rows, size_t elems,
                   size_t w, int delta) {
  size_t count = rows * elems, first = delta ? (elems < count ? elems : count) : count;
  if (w == 1 && !delta) {
    memcpy(dst, src, count);
    return;
  }
  if (w == 4 || w == 8) {
    void (*sh)(uint8_t*, const uint8_t*, size_t, size_t, size_t, size_t) = w == 4 ? shuffle4 : shuffle8;
    sh(dst, src, 0, first, count, 0);  // no delta, or the first row
    if (first < count) sh(dst, src, first, count, count, elems);
    return;
  }
  for (size_t k = 0; k < count; k++) {
    uint64_t v = 0, prev = 0;
    memcpy(&v, src + k * w, w);
    if (delta && k >= elems) {
      memcpy(&prev, src + (k - elems) * w, w);
      v -= prev;
    }
    for (size_t j = 0; j < w; j++) dst[j * count + k] = (uint8_t)(v >> (8 * j));
  }
}

// Inverse of filter.
static void unfilter(uint8_t* dst, const uint8_t* src, size_t rows, size_t elems, size_t w,
                     int delta) {
  size_t count = rows * elems;
  if (w == 1 && !delta) {
    memcpy(dst, src, count);
    return;
  }
  for (size_t k = 0; k < count; k++) {
    uint64_t v = 0;
    for (size_t j = 0; j < w; j++) v |= (uint64_t)src[j * count + k] << (8 * j);
    if (delta && k >= elems) {
      uint64_t prev = 0;
      memcpy(&prev, dst + (k - elems) * w, w);
      v += prev;
    }
    memcpy(dst + k * w, &v, w);
  }
}


//---------------------------------- writer --------------------------------------------------------
//
// The stepping thread only copies rows into the current chunk buffer of their slot. A full (or
// ended) chunk is handed to a background thread through a FIFO queue; that thread filters,
// compresses and writes chunks one after the other, in the order they were handed over, so the
// file is byte for byte the one a synchronous writer makes. The buffers are allocated once by
// am_ds_begin: one per slot plus a few spare ones; when no spare buffer is free, the stepping
// thread waits (the queue is bounded). An error met by the background thread is kept and reported
// by the next call on the stepping thread (or by am_ds_close); later chunks are dropped.

typedef struct wchan {
  am_channel_def d;  // strings point into owned copies below
  char* s[4];        // name, group, units, labels
  size_t elems, w, row_bytes;
  size_t col_off;    // offset of its column in a chunk buffer (chunk_rows x row_bytes each)
} wchan;

typedef struct wjob {  // a chunk buffer and, once handed over, what the chunk is
  uint8_t* buf;        // the channels' columns, channel c at ch[c].col_off
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
  int n_slots, chunk_rows, n_init;
  wslot* slots;
  // Owned by whichever thread writes blocks: the stepping thread before the background thread
  // starts and after it has been joined, the background thread in between.
  uint8_t* scratch;  // filtered body
  size_t scratch_cap;
  uint8_t* out;      // block header + prefix + compressed body
  size_t out_cap;
  ZSTD_CCtx* cctx;
  wchunk* index;
  size_t n_index, index_cap;
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
  wjob** free_list;  // n_free of them
  int n_free;
  wjob** queue;      // ring of n_jobs: q_head, q_len
  int q_head, q_len;
  int stop, discard;
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
  int fd = open(path, O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL), 0644);
  if (fd < 0) {
    if (errno == EEXIST)
      am_err(err, err_sz, "%s already exists (use --force to overwrite it)", path);
    else
      am_err(err, err_sz, "cannot create %s: %s", path, strerror(errno));
    return NULL;
  }
  am_ds_writer* w = calloc(1, sizeof *w);
  if (!w) {
    close(fd);
    unlink(path);
    return am_err(err, err_sz, "out of memory"), NULL;
  }
  w->fd = fd;
  w->background = 1;
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
  x->row_bytes = elems * es;
  w->row_bytes += x->row_bytes;
  return w->n_ch++;
}

static void put_block_header(uint8_t* h, int type, int codec, uint16_t prefix, uint32_t payload,
                             uint32_t raw, uint32_t payload_crc) {
  memcpy(h, BLOCK_MAGIC, 4);
  h[4] = (uint8_t)type;
  h[5] = (uint8_t)codec;
  put16(h + 6, prefix);
  put32(h + 8, payload);
  put32(h + 12, raw);
  put32(h + 16, payload_crc);
  put32(h + 20, am_crc32(0, h, 20));
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

static int grow(uint8_t** buf, size_t* cap, size_t need) {
  if (*cap >= need) return 0;
  uint8_t* b = realloc(*buf, need);
  if (!b) return -1;
  *buf = b;
  *cap = need;
  return 0;
}

// Writes one block whose body (raw_n bytes at raw) is zstd-compressed, after a raw prefix.
// Errors go to io_error (ioerr).
static int write_block(am_ds_writer* w, int type, const uint8_t* prefix, size_t prefix_n,
                       const uint8_t* raw, size_t raw_n) {
  if (raw_n > MAX_PAYLOAD) return ioerr(w, "block of %zu bytes exceeds the 64 MiB limit", raw_n);
  size_t bound = ZSTD_compressBound(raw_n);
  if (grow(&w->out, &w->out_cap, BLOCK_HDR + prefix_n + bound)) return ioerr(w, "out of memory");
  if (!w->cctx && !(w->cctx = ZSTD_createCCtx())) return ioerr(w, "out of memory (zstd)");
  uint8_t* body = w->out + BLOCK_HDR + prefix_n;
  size_t z = ZSTD_compressCCtx(w->cctx, body, bound, raw, raw_n, ZSTD_LEVEL);
  if (ZSTD_isError(z)) return ioerr(w, "zstd: %s", ZSTD_getErrorName(z));
  if (prefix_n) memcpy(w->out + BLOCK_HDR, prefix, prefix_n);
  uint32_t payload = (uint32_t)(prefix_n + z);
  put_block_header(w->out, type, CODEC_ZSTD, (uint16_t)prefix_n, payload, (uint32_t)raw_n,
                   am_crc32(0, w->out + BLOCK_HDR, payload));
  return write_all(w, w->out, BLOCK_HDR + payload);
}

// Filters, compresses and writes one chunk and adds it to the index (the block-writing side).
static int write_chunk(am_ds_writer* w, const wjob* j) {
  size_t o = 0;
  uint32_t n_init = 0;
  if (j->has_init) {
    n_init = (uint32_t)w->n_init;
    for (int i = 0; i < w->n_init; i++) {
      uint64_t bits;
      memcpy(&bits, &j->init[i], 8);
      put64(w->scratch + o, bits);
      o += 8;
    }
  }
  for (int c = 0; c < w->n_ch; c++) {
    const wchan* ch = &w->ch[c];
    filter(w->scratch + o, j->buf + ch->col_off, j->rows, ch->elems, ch->w,
           (ch->d.flags & AM_DS_CH_DELTA) != 0);
    o += j->rows * ch->row_bytes;
  }
  uint8_t pre[CHUNK_PREFIX];
  put64(pre, (uint64_t)j->episode);
  put32(pre + 8, j->env);
  put32(pre + 12, j->first_step);
  put32(pre + 16, j->rows);
  put32(pre + 20, j->flags);
  put32(pre + 24, n_init);
  put32(pre + 28, 0);
  if (w->n_index == w->index_cap) {
    size_t cap = w->index_cap ? 2 * w->index_cap : 1024;
    wchunk* x = realloc(w->index, cap * sizeof(wchunk));
    if (!x) return ioerr(w, "out of memory");
    w->index = x;
    w->index_cap = cap;
  }
  uint64_t before = atomic_load_explicit(&w->written, memory_order_relaxed);
  if (write_block(w, BT_CHUNK, pre, sizeof pre, w->scratch, o)) return -1;
  wchunk* e = &w->index[w->n_index++];
  e->offset = before;
  e->episode = j->episode;
  e->env = j->env;
  e->first_step = j->first_step;
  e->rows = j->rows;
  e->flags = j->flags;
  e->stored = (uint32_t)(atomic_load_explicit(&w->written, memory_order_relaxed) - before - BLOCK_HDR);
  e->raw = (uint32_t)o;
  atomic_fetch_add_explicit(&w->raw_written, (uint64_t)o, memory_order_relaxed);
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
  // chunk buffers: one per slot, plus spares that hold chunks waiting for the background thread
  // (as many as slots, since all envs tend to fill their chunks at the same step, within 2..32 MiB)
  size_t chunk_bytes = (size_t)chunk_rows * w->row_bytes;
  size_t fit = (32u << 20) / (chunk_bytes ? chunk_bytes : 1);  // spares that fit in 32 MiB
  int spare = n_slots;
  if ((size_t)spare > fit) spare = (int)fit;
  if (spare < 2) spare = 2;
  if (!w->background) spare = 0;
  size_t off = 0;
  for (int c = 0; c < w->n_ch; c++) {
    w->ch[c].col_off = off;
    off += (size_t)chunk_rows * w->ch[c].row_bytes;
  }
  w->n_jobs = n_slots + spare;
  w->jobs = calloc((size_t)w->n_jobs, sizeof(wjob));
  w->free_list = calloc((size_t)w->n_jobs, sizeof(wjob*));
  w->queue = calloc((size_t)w->n_jobs, sizeof(wjob*));
  w->slots = calloc((size_t)n_slots, sizeof(wslot));
  if (!w->jobs || !w->free_list || !w->queue || !w->slots) return werr(w, "out of memory");
  for (int k = 0; k < w->n_jobs; k++) {
    wjob* j = &w->jobs[k];
    j->buf = malloc(chunk_bytes ? chunk_bytes : 1);
    j->init = calloc((size_t)n_init + 1, sizeof(double));
    if (!j->buf || !j->init)
      return werr(w, "out of memory for %d x %d rows of %zu bytes", w->n_jobs, chunk_rows,
                  w->row_bytes);
    memset(j->buf, 0, chunk_bytes);  // touch the pages now rather than while stepping
    if (k < n_slots) w->slots[k].cur = j;
    else w->free_list[w->n_free++] = j;
  }
  if (grow(&w->scratch, &w->scratch_cap, (size_t)n_init * 8 + chunk_bytes + 1))
    return werr(w, "out of memory");
  if (!w->background) return 0;
  // ZSTD's context is made here so that the thread does not allocate it while the stepping
  // thread is timing its first chunk.
  if (!w->cctx && !(w->cctx = ZSTD_createCCtx())) return werr(w, "out of memory (zstd)");
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
  j->flags = (sl->has_init ? AM_DS_CHUNK_FIRST : 0) | (end & AM_DS_END ? AM_DS_CHUNK_LAST : 0) |
             (end & AM_DS_TERMINATED ? AM_DS_CHUNK_TERMINATED : 0) |
             (end & AM_DS_TRUNCATED ? AM_DS_CHUNK_TRUNCATED : 0);
  if (w->threaded) {
    pthread_mutex_lock(&w->mu);
    while (!w->n_free) pthread_cond_wait(&w->cv_free, &w->mu);
    sl->cur = w->free_list[--w->n_free];
    w->queue[(w->q_head + w->q_len) % w->n_jobs] = j;
    w->q_len++;
    pthread_cond_signal(&w->cv_work);
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

void* am_ds_row_ptr(am_ds_writer* w, int slot, int ch) {
  wslot* sl = &w->slots[slot];
  return sl->cur->buf + w->ch[ch].col_off + (size_t)sl->rows * w->ch[ch].row_bytes;
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
    for (int k = 0; k < w->n_jobs; k++) {
      free(w->jobs[k].buf);
      free(w->jobs[k].init);
    }
  free(w->jobs);
  free(w->free_list);
  free(w->queue);
  for (int c = 0; c < w->n_ch; c++)
    for (int s = 0; s < 4; s++) free(w->ch[c].s[s]);
  free(w->ch);
  free(w->slots);
  free(w->scratch);
  free(w->out);
  free(w->index);
  ZSTD_freeCCtx(w->cctx);
  free(w);
}

int am_ds_close(am_ds_writer* w, char* err, size_t err_sz) {
  if (!w->error[0] && !w->begun) am_ds_begin(w, 1, 16, 0);
  if (!w->error[0])
    for (int s = 0; s < w->n_slots; s++)
      if (w->slots[s].active && (w->slots[s].rows || w->slots[s].has_init) && flush_slot(w, s, 0))
        break;
  stop_thread(w, 0);  // writes what is queued
  io_report(w);
  if (!w->error[0]) {
    size_t n = 8 + w->n_index * INDEX_ENTRY;
    uint8_t* b = malloc(n);
    if (!b) {
      werr(w, "out of memory");
    } else {
      put32(b, (uint32_t)w->n_index);
      put32(b + 4, 0);
      for (size_t i = 0; i < w->n_index; i++) {
        uint8_t* e = b + 8 + i * INDEX_ENTRY;
        put64(e, w->index[i].offset);
        put64(e + 8, (uint64_t)w->index[i].episode);
        put32(e + 16, w->index[i].env);
        put32(e + 20, w->index[i].first_step);
        put32(e + 24, w->index[i].rows);
        put32(e + 28, w->index[i].flags);
        put32(e + 32, w->index[i].stored);
        put32(e + 36, w->index[i].raw);
      }
      uint64_t off = atomic_load_explicit(&w->written, memory_order_relaxed);
      if (!write_block(w, BT_INDEX, NULL, 0, b, n)) {
        uint8_t t[TRAILER];
        put64(t, off);
        put32(t + 8, 0);
        put32(t + 12, am_crc32(0, t, 12));
        memcpy(t + 16, TRAILER_MAGIC, 8);
        write_all(w, t, sizeof t);
      }
      free(b);
      io_report(w);
    }
  }
  if (!w->error[0] && fsync(w->fd) && errno != EINVAL && errno != EROFS)
    werr(w, "cannot sync %s: %s", w->path, strerror(errno));
  if (close(w->fd) && !w->error[0]) werr(w, "cannot close %s: %s", w->path, strerror(errno));
  int rc = 0;
  if (w->error[0]) {
    rc = am_err(err, err_sz, "%s", w->error);
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

//---------------------------------- reader --------------------------------------------------------

struct am_ds_reader {
  int fd;                // -1 for a memory reader
  const uint8_t* mem;
  uint64_t size;
  char name[512];
  int major, minor;
  int n_meta;
  char** meta_key;
  char** meta_val;
  size_t* meta_len;
  int n_ch;
  am_ds_channel* ch;
  size_t row_bytes;
  int n_init;
  int n_chunks;
  am_ds_chunk* chunks;
  int64_t n_eps;
  am_ds_episode* eps;
  int recovered;
  char note[3 * AM_ERR_LEN];
  uint64_t data_start;
  uint8_t* zbuf;
  size_t zcap;
  uint8_t* raw;
  size_t rawcap;
  ZSTD_DCtx* dctx;
};

typedef struct bhdr {
  int type, codec;
  uint32_t prefix, payload, raw, crc;
} bhdr;

static int read_at(am_ds_reader* r, uint64_t off, void* buf, size_t n) {
  if (off > r->size || n > r->size - off) return -1;
  if (r->mem) {
    memcpy(buf, r->mem + off, n);
    return 0;
  }
  uint8_t* p = buf;
  while (n) {
    ssize_t k = pread(r->fd, p, n, (off_t)off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
    off += (uint64_t)k;
  }
  return 0;
}

static const char* block_name(int t) {
  switch (t) {
    case BT_META: return "metadata";
    case BT_CHANNELS: return "channel table";
    case BT_CHUNK: return "chunk";
    case BT_INDEX: return "index";
  }
  return "block";
}

// Reads and checks a block header at off. what names the block in messages.
static int read_bhdr(am_ds_reader* r, uint64_t off, bhdr* h, const char* what, char* err,
                     size_t err_sz) {
  uint8_t b[BLOCK_HDR];
  if (read_at(r, off, b, sizeof b))
    return am_err(err, err_sz, "%s: %s at offset %llu: truncated block header (file is %llu bytes)",
                  r->name, what, (unsigned long long)off, (unsigned long long)r->size);
  if (memcmp(b, BLOCK_MAGIC, 4))
    return am_err(err, err_sz, "%s: %s at offset %llu: bad block magic", r->name, what,
                  (unsigned long long)off);
  if (CRC_BAD(get32(b + 20), am_crc32(0, b, 20)))
    return am_err(err, err_sz, "%s: %s at offset %llu: block header checksum mismatch", r->name,
                  what, (unsigned long long)off);
  h->type = b[4];
  h->codec = b[5];
  h->prefix = get16(b + 6);
  h->payload = get32(b + 8);
  h->raw = get32(b + 12);
  h->crc = get32(b + 16);
  if (h->codec != CODEC_RAW && h->codec != CODEC_ZSTD)
    return am_err(err, err_sz, "%s: %s at offset %llu: unknown codec %d", r->name, what,
                  (unsigned long long)off, h->codec);
  if (h->payload > MAX_PAYLOAD || h->raw > MAX_PAYLOAD || h->prefix > h->payload)
    return am_err(err, err_sz, "%s: %s at offset %llu: absurd sizes (payload %u, raw %u, prefix %u)",
                  r->name, what, (unsigned long long)off, h->payload, h->raw, h->prefix);
  if (h->codec == CODEC_RAW && h->raw != h->payload - h->prefix)
    return am_err(err, err_sz, "%s: %s at offset %llu: raw body size %u != stored %u", r->name,
                  what, (unsigned long long)off, h->raw, h->payload - h->prefix);
  if (off + BLOCK_HDR + h->payload > r->size)
    return am_err(err, err_sz, "%s: %s at offset %llu: truncated (needs %u payload bytes, %llu left)",
                  r->name, what, (unsigned long long)off, h->payload,
                  (unsigned long long)(r->size - off - BLOCK_HDR));
  return 0;
}

// Reads the payload of a checked header: the prefix into r->zbuf, the body decompressed into
// r->raw (h->raw bytes). Checks the CRC and the frame.
static int read_payload(am_ds_reader* r, uint64_t off, const bhdr* h, const char* what, char* err,
                        size_t err_sz) {
  if (grow(&r->zbuf, &r->zcap, (size_t)h->payload + 1))
    return am_err(err, err_sz, "%s: %s at offset %llu: out of memory", r->name, what,
                  (unsigned long long)off);
  if (read_at(r, off + BLOCK_HDR, r->zbuf, h->payload))
    return am_err(err, err_sz, "%s: %s at offset %llu: cannot read payload", r->name, what,
                  (unsigned long long)off);
  if (CRC_BAD(am_crc32(0, r->zbuf, h->payload), h->crc))
    return am_err(err, err_sz, "%s: %s at offset %llu: payload checksum mismatch (data corrupted)",
                  r->name, what, (unsigned long long)off);
  const uint8_t* body = r->zbuf + h->prefix;
  size_t stored = h->payload - h->prefix;
  if (h->codec == CODEC_ZSTD && ZSTD_getFrameContentSize(body, stored) != h->raw)
    return am_err(err, err_sz, "%s: %s at offset %llu: zstd frame size %lld != declared %u",
                  r->name, what, (unsigned long long)off,
                  (long long)ZSTD_getFrameContentSize(body, stored), h->raw);
  if (grow(&r->raw, &r->rawcap, (size_t)h->raw + 1))
    return am_err(err, err_sz, "%s: %s at offset %llu: out of memory", r->name, what,
                  (unsigned long long)off);
  if (h->codec == CODEC_RAW) {
    memcpy(r->raw, body, stored);
    return 0;
  }
  unsigned long long fcs = ZSTD_getFrameContentSize(body, stored);
  if (fcs != h->raw)
    return am_err(err, err_sz, "%s: %s at offset %llu: zstd frame size %lld != declared %u",
                  r->name, what, (unsigned long long)off, (long long)fcs, h->raw);
  if (!r->dctx && !(r->dctx = ZSTD_createDCtx()))
    return am_err(err, err_sz, "%s: out of memory (zstd)", r->name);
  size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, h->raw, body, stored);
  if (ZSTD_isError(n) || n != h->raw)
    return am_err(err, err_sz, "%s: %s at offset %llu: zstd: %s", r->name, what,
                  (unsigned long long)off, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
  return 0;
}

// A bounded cursor over a decoded body.
typedef struct cur {
  const uint8_t* p;
  size_t n, o;
  int bad;
} cur;
static const uint8_t* take(cur* c, size_t n) {
  if (c->bad || n > c->n - c->o) {
    c->bad = 1;
    return NULL;
  }
  const uint8_t* p = c->p + c->o;
  c->o += n;
  return p;
}
static uint32_t take32(cur* c) {
  const uint8_t* p = take(c, 4);
  return p ? get32(p) : 0;
}
static char* take_str(cur* c, int len32) {
  const uint8_t* p = take(c, len32 ? 4 : 2);
  if (!p) return NULL;
  size_t l = len32 ? get32(p) : get16(p);
  const uint8_t* s = take(c, l);
  if (!s) return NULL;
  char* out = malloc(l + 1);
  if (!out) {
    c->bad = 1;
    return NULL;
  }
  memcpy(out, s, l);
  out[l] = 0;
  return out;
}

static int parse_meta(am_ds_reader* r, char* err, size_t err_sz) {
  cur c = {r->raw, 0, 0, 0};
  bhdr h;
  uint64_t off = FILE_HDR;
  if (read_bhdr(r, off, &h, "metadata block", err, err_sz)) return -1;
  if (h.type != BT_META)
    return am_err(err, err_sz, "%s: first block is a %s (type %d), expected metadata", r->name,
                  block_name(h.type), h.type);
  if (read_payload(r, off, &h, "metadata block", err, err_sz)) return -1;
  c.p = r->raw;
  c.n = h.raw;
  uint32_t n = take32(&c);
  if (c.bad || n > MAX_META || n > h.raw / 6)
    return am_err(err, err_sz, "%s: metadata: absurd entry count %u", r->name, n);
  r->meta_key = calloc(n + 1, sizeof(char*));
  r->meta_val = calloc(n + 1, sizeof(char*));
  r->meta_len = calloc(n + 1, sizeof(size_t));
  if (!r->meta_key || !r->meta_val || !r->meta_len) return am_err(err, err_sz, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    r->n_meta++;  // counted first: whatever was allocated is freed on failure
    r->meta_key[i] = take_str(&c, 0);
    size_t at = c.o;
    r->meta_val[i] = take_str(&c, 1);
    if (c.bad) return am_err(err, err_sz, "%s: metadata entry %u overruns its block", r->name, i);
    r->meta_len[i] = c.o - at - 4;
  }
  r->data_start = off + BLOCK_HDR + h.payload;
  return 0;
}

static int parse_channels(am_ds_reader* r, char* err, size_t err_sz) {
  bhdr h;
  uint64_t off = r->data_start;
  if (read_bhdr(r, off, &h, "channel table", err, err_sz)) return -1;
  if (h.type != BT_CHANNELS)
    return am_err(err, err_sz, "%s: second block is a %s (type %d), expected the channel table",
                  r->name, block_name(h.type), h.type);
  if (read_payload(r, off, &h, "channel table", err, err_sz)) return -1;
  cur c = {r->raw, h.raw, 0, 0};
  uint32_t n = take32(&c), n_init = take32(&c);
  if (c.bad || n == 0 || n > AM_DS_MAX_CHANNELS || n > h.raw / 16)
    return am_err(err, err_sz, "%s: channel table: absurd channel count %u", r->name, n);
  if (n_init > MAX_INIT)
    return am_err(err, err_sz, "%s: channel table: absurd initial-state size %u", r->name, n_init);
  r->n_init = (int)n_init;
  if (!(r->ch = calloc(n, sizeof(am_ds_channel)))) return am_err(err, err_sz, "out of memory");
  for (uint32_t i = 0; i < n; i++) {
    am_ds_channel* ch = &r->ch[i];
    const uint8_t* p = take(&c, 8);
    if (!p) return am_err(err, err_sz, "%s: channel %u overruns the channel table", r->name, i);
    r->n_ch++;
    ch->dtype = (am_dtype)p[0];
    ch->ndim = p[1];
    ch->flags = get32(p + 4);
    size_t es = am_dtype_size(ch->dtype);
    if (!es) return am_err(err, err_sz, "%s: channel %u: unknown dtype %d", r->name, i, p[0]);
    if (ch->ndim > AM_DS_MAX_DIMS)
      return am_err(err, err_sz, "%s: channel %u: ndim %d > %d", r->name, i, ch->ndim, AM_DS_MAX_DIMS);
    ch->elems = 1;
    for (int k = 0; k < ch->ndim; k++) {
      ch->shape[k] = take32(&c);
      ch->elems *= ch->shape[k];
      if (ch->elems > MAX_ROW_BYTES)
        return am_err(err, err_sz, "%s: channel %u: absurd shape", r->name, i);
    }
    ch->row_bytes = ch->elems * es;
    r->row_bytes += ch->row_bytes;
    if (r->row_bytes > MAX_ROW_BYTES)
      return am_err(err, err_sz, "%s: channel %u: rows larger than %u bytes", r->name, i, MAX_ROW_BYTES);
    ch->name = take_str(&c, 0);
    ch->group = take_str(&c, 0);
    ch->units = take_str(&c, 0);
    ch->labels = take_str(&c, 0);
    if (c.bad) return am_err(err, err_sz, "%s: channel %u overruns the channel table", r->name, i);
  }
  r->data_start = off + BLOCK_HDR + h.payload;
  return 0;
}

static int cmp_chunk(const void* a, const void* b) {
  const am_ds_chunk *x = a, *y = b;
  if (x->episode != y->episode) return x->episode < y->episode ? -1 : 1;
  if (x->first_step != y->first_step) return x->first_step < y->first_step ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int add_chunk(am_ds_reader* r, size_t* cap, const am_ds_chunk* c) {
  if ((size_t)r->n_chunks == *cap) {
    size_t nc = *cap ? 2 * *cap : 256;
    am_ds_chunk* x = realloc(r->chunks, nc * sizeof *x);
    if (!x) return -1;
    r->chunks = x;
    *cap = nc;
  }
  r->chunks[r->n_chunks++] = *c;
  return 0;
}

// Checks a chunk prefix against the channel table. Returns 0 or -1 with a reason.
static int check_prefix(const am_ds_reader* r, const uint8_t* p, const bhdr* h, am_ds_chunk* c,
                        char* why, size_t why_sz) {
  c->episode = (int64_t)get64(p);
  c->env = get32(p + 8);
  c->first_step = get32(p + 12);
  c->rows = get32(p + 16);
  c->flags = get32(p + 20);
  uint32_t n_init = get32(p + 24);
  c->stored_bytes = h->payload;
  c->raw_bytes = h->raw;
  if (c->episode < 0) return am_err(why, why_sz, "negative episode id");
  uint32_t want_init = (c->flags & AM_DS_CHUNK_FIRST) ? (uint32_t)r->n_init : 0;
  if (n_init != want_init)
    return am_err(why, why_sz, "initial state of %u values, expected %u", n_init, want_init);
  if ((c->flags & AM_DS_CHUNK_FIRST) && c->first_step)
    return am_err(why, why_sz, "first chunk of its episode starts at step %u", c->first_step);
  if ((uint64_t)c->rows * r->row_bytes + (uint64_t)n_init * 8 != h->raw)
    return am_err(why, why_sz, "%u rows x %zu bytes + %u initial values != body size %u", c->rows,
                  r->row_bytes, n_init, h->raw);
  return 0;
}

// Finds the chunks by walking the blocks from data_start; stops at the first bad block.
static int scan_chunks(am_ds_reader* r, const char* why_no_index, char* err, size_t err_sz) {
  size_t cap = 0;
  uint64_t off = r->data_start;
  char msg[AM_ERR_LEN] = "";
  r->n_chunks = 0;
  while (off < r->size) {
    bhdr h;
    if (read_bhdr(r, off, &h, "block", msg, sizeof msg)) break;
    if (h.type == BT_CHUNK) {
      uint8_t p[CHUNK_PREFIX];
      am_ds_chunk c = {.offset = off};
      char why[256];
      if (h.prefix != CHUNK_PREFIX || read_at(r, off + BLOCK_HDR, p, sizeof p)) {
        am_err(msg, sizeof msg, "%s: chunk at offset %llu: bad prefix size %u", r->name,
               (unsigned long long)off, h.prefix);
        break;
      }
      if (check_prefix(r, p, &h, &c, why, sizeof why)) {
        am_err(msg, sizeof msg, "%s: chunk at offset %llu: %s", r->name, (unsigned long long)off, why);
        break;
      }
      if (read_payload(r, off, &h, "chunk", msg, sizeof msg)) break;
      if (add_chunk(r, &cap, &c)) return am_err(err, err_sz, "out of memory");
    }
    off += BLOCK_HDR + h.payload;
  }
  r->recovered = 1;
  if (off >= r->size) snprintf(msg, sizeof msg, "reached the end of the file");
  snprintf(r->note, sizeof r->note, "%s; recovered %d chunks by scanning; scan stopped at offset %llu: %s",
           why_no_index, r->n_chunks, (unsigned long long)off, msg);
  return 0;
}

// Reads the index through the trailer. Returns 0, or -1 with the reason in why (not fatal).
static int read_index(am_ds_reader* r, char* why, size_t why_sz) {
  uint8_t t[TRAILER];
  if (r->size < r->data_start + TRAILER || read_at(r, r->size - TRAILER, t, TRAILER))
    return am_err(why, why_sz, "no trailer (file ends at %llu bytes)", (unsigned long long)r->size);
  if (memcmp(t + 16, TRAILER_MAGIC, 8)) return am_err(why, why_sz, "no trailer (writer did not finish)");
  if (CRC_BAD(get32(t + 12), am_crc32(0, t, 12))) return am_err(why, why_sz, "trailer checksum mismatch");
  uint64_t off = get64(t);
  if (off < r->data_start || off > r->size - TRAILER)
    return am_err(why, why_sz, "trailer: index offset %llu out of range", (unsigned long long)off);
  bhdr h;
  char msg[AM_ERR_LEN];
  if (read_bhdr(r, off, &h, "index", msg, sizeof msg)) return am_err(why, why_sz, "%s", msg);
  if (h.type != BT_INDEX || off + BLOCK_HDR + h.payload != r->size - TRAILER)
    return am_err(why, why_sz, "trailer does not point at an index block");
  if (read_payload(r, off, &h, "index", msg, sizeof msg)) return am_err(why, why_sz, "%s", msg);
  if (h.raw < 8) return am_err(why, why_sz, "index: too short");
  uint32_t n = get32(r->raw);
  if ((uint64_t)n * INDEX_ENTRY + 8 != h.raw)
    return am_err(why, why_sz, "index: %u entries do not fill its %u bytes", n, h.raw);
  size_t cap = 0;
  r->n_chunks = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t* e = r->raw + 8 + (size_t)i * INDEX_ENTRY;
    am_ds_chunk c = {.offset = get64(e), .episode = (int64_t)get64(e + 8), .env = get32(e + 16),
                     .first_step = get32(e + 20), .rows = get32(e + 24), .flags = get32(e + 28),
                     .stored_bytes = get32(e + 32), .raw_bytes = get32(e + 36)};
    if (c.offset < r->data_start || c.offset >= off || c.episode < 0 ||
        (uint64_t)c.rows * r->row_bytes > MAX_PAYLOAD || c.stored_bytes > off - c.offset)
      return am_err(why, why_sz, "index entry %u: bad offset or episode", i);
    if (add_chunk(r, &cap, &c)) return am_err(why, why_sz, "out of memory");
  }
  return 0;
}

// Sorts the chunks and groups them into episodes, checking continuity.
static int build_episodes(am_ds_reader* r, char* err, size_t err_sz) {
  if (r->n_chunks) qsort(r->chunks, (size_t)r->n_chunks, sizeof(am_ds_chunk), cmp_chunk);
  r->eps = calloc((size_t)r->n_chunks + 1, sizeof(am_ds_episode));
  if (!r->eps) return am_err(err, err_sz, "out of memory");
  int64_t ne = 0;
  int keep = 0;  // chunks kept (a recovered episode may lose chunks after a gap)
  for (int i = 0; i < r->n_chunks; i++) {
    am_ds_chunk c = r->chunks[i];
    am_ds_episode* e = ne ? &r->eps[ne - 1] : NULL;
    if (e && e->id == c.episode) {
      int gap = (int64_t)c.first_step != e->steps || e->complete || (c.flags & AM_DS_CHUNK_FIRST);
      if (gap) {
        if (!r->recovered)
          return am_err(err, err_sz, "%s: index: episode %lld has a chunk at step %u (offset %llu), expected step %lld",
                        r->name, (long long)c.episode, c.first_step, (unsigned long long)c.offset,
                        (long long)e->steps);
        continue;
      }
    } else {
      if (!(c.flags & AM_DS_CHUNK_FIRST) || c.first_step) {
        if (!r->recovered)
          return am_err(err, err_sz, "%s: index: episode %lld does not start with its first chunk",
                        r->name, (long long)c.episode);
        continue;
      }
      e = &r->eps[ne++];
      e->id = c.episode;
      e->env = (int)c.env;
      e->first_chunk = keep;
    }
    e->steps += c.rows;
    e->n_chunks++;
    if (c.flags & AM_DS_CHUNK_LAST) {
      e->complete = 1;
      e->terminated = (c.flags & AM_DS_CHUNK_TERMINATED) != 0;
      e->truncated = (c.flags & AM_DS_CHUNK_TRUNCATED) != 0;
    }
    r->chunks[keep++] = c;
  }
  r->n_chunks = keep;
  r->n_eps = ne;
  return 0;
}

static am_ds_reader* open_common(am_ds_reader* r, char* err, size_t err_sz) {
  uint8_t h[FILE_HDR];
  if (read_at(r, 0, h, FILE_HDR)) {
    am_err(err, err_sz, "%s: not an animat dataset (only %llu bytes, header needs %d)", r->name,
           (unsigned long long)r->size, FILE_HDR);
    goto fail;
  }
  if (memcmp(h, FILE_MAGIC, 8)) {
    am_err(err, err_sz, "%s: not an animat dataset (wrong magic number)", r->name);
    goto fail;
  }
  r->major = get16(h + 8);
  r->minor = get16(h + 10);
  if (r->major != AM_DS_VERSION_MAJOR) {
    am_err(err, err_sz, "%s: format version %d.%d is not supported (this reader reads %d.x)",
           r->name, r->major, r->minor, AM_DS_VERSION_MAJOR);
    goto fail;
  }
  if (parse_meta(r, err, err_sz) || parse_channels(r, err, err_sz)) goto fail;
  char why[AM_ERR_LEN];
  if (read_index(r, why, sizeof why)) {
    if (scan_chunks(r, why, err, err_sz)) goto fail;
  }
  if (build_episodes(r, err, err_sz)) goto fail;
  return r;
fail:
  am_ds_reader_free(r);
  return NULL;
}

am_ds_reader* am_ds_open(const char* path, char* err, size_t err_sz) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return am_err(err, err_sz, "cannot open %s: %s", path, strerror(errno)), NULL;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    return am_err(err, err_sz, "%s: not a regular file", path), NULL;
  }
  am_ds_reader* r = calloc(1, sizeof *r);
  if (!r) {
    close(fd);
    return am_err(err, err_sz, "out of memory"), NULL;
  }
  r->fd = fd;
  r->size = (uint64_t)st.st_size;
  snprintf(r->name, sizeof r->name, "%s", path);
  return open_common(r, err, err_sz);
}

am_ds_reader* am_ds_open_memory(const void* data, size_t size, const char* name, char* err,
                                size_t err_sz) {
  am_ds_reader* r = calloc(1, sizeof *r);
  if (!r) return am_err(err, err_sz, "out of memory"), NULL;
  r->fd = -1;
  r->mem = data ? data : (const uint8_t*)"";
  r->size = data ? size : 0;
  snprintf(r->name, sizeof r->name, "%s", name ? name : "(memory)");
  return open_common(r, err, err_sz);
}

void am_ds_reader_free(am_ds_reader* r) {
  if (!r) return;
  if (r->fd >= 0 && !r->mem) close(r->fd);
  for (int i = 0; i < r->n_meta; i++) {
    free(r->meta_key[i]);
    free(r->meta_val[i]);
  }
  free(r->meta_key);
  free(r->meta_val);
  free(r->meta_len);
  for (int i = 0; i < r->n_ch; i++) {
    free(r->ch[i].name);
    free(r->ch[i].group);
    free(r->ch[i].units);
    free(r->ch[i].labels);
  }
  free(r->ch);
  free(r->chunks);
  free(r->eps);
  free(r->zbuf);
  free(r->raw);
  ZSTD_freeDCtx(r->dctx);
  free(r);
}

int am_ds_recovered(const am_ds_reader* r, const char** note) {
  if (note) *note = r->note;
  return r->recovered;
}
void am_ds_version(const am_ds_reader* r, int* major, int* minor) {
  *major = r->major;
  *minor = r->minor;
}
int am_ds_num_meta(const am_ds_reader* r) { return r->n_meta; }
const char* am_ds_meta_key(const am_ds_reader* r, int i) {
  return i >= 0 && i < r->n_meta ? r->meta_key[i] : NULL;
}
const char* am_ds_meta(const am_ds_reader* r, const char* key, size_t* len) {
  for (int i = r->n_meta - 1; i >= 0; i--)
    if (r->meta_key[i] && !strcmp(r->meta_key[i], key)) {
      if (len) *len = r->meta_len[i];
      return r->meta_val[i];
    }
  return NULL;
}
int am_ds_num_channels(const am_ds_reader* r) { return r->n_ch; }
const am_ds_channel* am_ds_get_channel(const am_ds_reader* r, int i) {
  return i >= 0 && i < r->n_ch ? &r->ch[i] : NULL;
}
int am_ds_find_channel(const am_ds_reader* r, const char* name) {
  for (int i = 0; i < r->n_ch; i++)
    if (!strcmp(r->ch[i].name, name)) return i;
  return -1;
}
int64_t am_ds_num_episodes(const am_ds_reader* r) { return r->n_eps; }
const am_ds_episode* am_ds_get_episode(const am_ds_reader* r, int64_t i) {
  return i >= 0 && i < r->n_eps ? &r->eps[i] : NULL;
}
int64_t am_ds_find_episode(const am_ds_reader* r, int64_t id) {
  int64_t lo = 0, hi = r->n_eps - 1;
  while (lo <= hi) {
    int64_t mid = (lo + hi) / 2;
    if (r->eps[mid].id == id) return mid;
    if (r->eps[mid].id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
int am_ds_num_chunks(const am_ds_reader* r) { return r->n_chunks; }
const am_ds_chunk* am_ds_get_chunk(const am_ds_reader* r, int i) {
  return i >= 0 && i < r->n_chunks ? &r->chunks[i] : NULL;
}
int am_ds_num_init(const am_ds_reader* r) { return r->n_init; }

// Loads chunk k into r->raw, checking it against its table entry.
static int load_chunk(am_ds_reader* r, int k, char* err, size_t err_sz) {
  am_ds_chunk* c = &r->chunks[k];
  char what[96];
  snprintf(what, sizeof what, "chunk %d (episode %lld, step %u)", k, (long long)c->episode,
           c->first_step);
  bhdr h;
  if (read_bhdr(r, c->offset, &h, what, err, err_sz)) return -1;
  if (h.type != BT_CHUNK || h.prefix != CHUNK_PREFIX)
    return am_err(err, err_sz, "%s: %s at offset %llu: not a chunk block", r->name, what,
                  (unsigned long long)c->offset);
  if (read_payload(r, c->offset, &h, what, err, err_sz)) return -1;
  am_ds_chunk got = {.offset = c->offset};
  char why[256];
  if (check_prefix(r, r->zbuf, &h, &got, why, sizeof why))
    return am_err(err, err_sz, "%s: %s at offset %llu: %s", r->name, what,
                  (unsigned long long)c->offset, why);
  if (got.episode != c->episode || got.env != c->env || got.first_step != c->first_step ||
      got.rows != c->rows || got.flags != c->flags)
    return am_err(err, err_sz, "%s: %s at offset %llu: does not match the index", r->name, what,
                  (unsigned long long)c->offset);
  c->stored_bytes = got.stored_bytes;
  c->raw_bytes = got.raw_bytes;
  return 0;
}

int am_ds_read_episode(am_ds_reader* r, int64_t i, void* const* dst, double* init, char* err,
                       size_t err_sz) {
  if (i < 0 || i >= r->n_eps)
    return am_err(err, err_sz, "%s: no episode index %lld (%lld episodes)", r->name, (long long)i,
                  (long long)r->n_eps);
  const am_ds_episode* e = &r->eps[i];
  for (int k = e->first_chunk; k < e->first_chunk + e->n_chunks; k++) {
    if (load_chunk(r, k, err, err_sz)) return -1;
    const am_ds_chunk* c = &r->chunks[k];
    size_t o = 0;
    if (c->flags & AM_DS_CHUNK_FIRST) {
      if (init)
        for (int j = 0; j < r->n_init; j++) {
          uint64_t bits = get64(r->raw + 8 * (size_t)j);
          memcpy(&init[j], &bits, 8);
        }
      o = 8 * (size_t)r->n_init;
    }
    for (int ch = 0; ch < r->n_ch; ch++) {
      const am_ds_channel* x = &r->ch[ch];
      if (dst && dst[ch])
        unfilter((uint8_t*)dst[ch] + (size_t)c->first_step * x->row_bytes, r->raw + o, c->rows,
                 x->elems, am_dtype_size(x->dtype), (x->flags & AM_DS_CH_DELTA) != 0);
      o += (size_t)c->rows * x->row_bytes;
    }
  }
  return 0;
}

int am_ds_read_channel(am_ds_reader* r, int64_t i, int ch, void* dst, char* err, size_t err_sz) {
  if (ch < 0 || ch >= r->n_ch) return am_err(err, err_sz, "%s: no channel %d", r->name, ch);
  void** d = calloc((size_t)r->n_ch, sizeof(void*));
  if (!d) return am_err(err, err_sz, "out of memory");
  d[ch] = dst;
  int rc = am_ds_read_episode(r, i, d, NULL, err, err_sz);
  free(d);
  return rc;
}

int am_ds_verify(am_ds_reader* r, int* n_bad, char* err, size_t err_sz) {
  int bad = 0;
  char first[AM_ERR_LEN] = "", msg[AM_ERR_LEN];
  for (int k = 0; k < r->n_chunks; k++)
    if (load_chunk(r, k, msg, sizeof msg)) {
      if (!bad++) snprintf(first, sizeof first, "%s", msg);
    }
  if (n_bad) *n_bad = bad;
  if (bad) return am_err(err, err_sz, "%d bad chunk(s); first: %s", bad, first);
  return 0;
}

void am_ds_sizes(const am_ds_reader* r, uint64_t* file_bytes, uint64_t* stored_bytes,
                 uint64_t* raw_bytes) {
  uint64_t s = 0, w = 0;
  for (int k = 0; k < r->n_chunks; k++) {
    s += r->chunks[k].stored_bytes;
    w += (uint64_t)r->chunks[k].rows * r->row_bytes;
  }
  if (file_bytes) *file_bytes = r->size;
  if (stored_bytes) *stored_bytes = s;
  if (raw_bytes) *raw_bytes = w;
}
