// dataset_read.c: the dataset format's reader, including recovery without the index
// (docs/dataset-format.md).
//
// What it is: am_ds_open .. am_ds_reader_free: checks the header, metadata and channel table,
// reads the index (or scans the chunks when it is missing or damaged, resynchronising past a
// damaged block and recording what was lost), decodes episodes, and verifies a file (every chunk,
// and the index against the blocks actually present).
// Every size read from a file is checked against the file's size and fixed limits before it is
// used. The layout constants and helpers it shares with the writer are in dataset_format.h.
// What it is not: writing (dataset_write.c), replay (dataset_resim.c), printing.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "dataset_format.h"

//---------------------------------- reader --------------------------------------------------------

// What a block walk could not keep (see am_ds_damage).
typedef struct damage {
  int gaps, dropped, lines;
  uint64_t gap_bytes;
  char text[32 * 220];
} damage;

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
  int recovered, interrupted;
  char note[3 * AM_ERR_LEN];
  damage dmg;            // of a recovery
  uint64_t data_start;
  uint64_t index_start;  // offset of the first INDEX block (0 when recovered)
  am_buf zb;         // the last payload read (prefix + stored body)
  am_buf rb;         // its decoded body
  am_buf chunk_buf;  // owns chunks
  am_buf ftmp, fstage, fref, fcols;  // decoding scratch: residuals, lossy values, references,
                                     // columns decoded only as another's reference
  am_buf facc;       // a model's partial sums (entries x rows doubles)
  ZSTD_DCtx* dctx;
  // channel models (1.3): the MODELS block, the order they decode in, each channel's model
  am_ds_model* models;
  int n_models;
  int* model_order;
  int* model_of;     // per channel: index into models, -1: none
  int* mdtype;       // per channel: dtype and elems, as am_ds_model_predict reads them
  size_t* melems;
  uint8_t* mmask;
  // a reader from am_ds_reader_dup: the parent's file, tables and model plans, read only; its
  // own buffers, zstd context, mask and models (copies whose xv, the values a decode writes,
  // are its own)
  const am_ds_reader* parent;
};

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
    case BT_MODELS: return "models";
  }
  return "block";
}

// Reads and checks a block header at off. what names the block in messages.
static int read_bhdr(am_ds_reader* r, uint64_t off, am_ds_bhdr* h, const char* what, char* err,
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

// Room for n bytes in one of the reader's scratch buffers, whose contents are not kept: one too
// small is dropped and made again rather than grown by realloc, which would copy it.
static int scratch(am_buf* b, size_t n) {
  if (b->cap < n) am_buf_free(b);
  return am_buf_reserve(b, n);
}

// Reads the payload of a checked header: the prefix into r->zb.p, the body decompressed into
// r->rb.p (h->raw bytes). Checks the CRC and the frame.
static int read_payload(am_ds_reader* r, uint64_t off, const am_ds_bhdr* h, const char* what, char* err,
                        size_t err_sz) {
  if (scratch(&r->zb, (size_t)h->payload + 1))
    return am_err(err, err_sz, "%s: %s at offset %llu: out of memory", r->name, what,
                  (unsigned long long)off);
  if (read_at(r, off + BLOCK_HDR, r->zb.p, h->payload))
    return am_err(err, err_sz, "%s: %s at offset %llu: cannot read payload", r->name, what,
                  (unsigned long long)off);
  if (CRC_BAD(am_crc32(0, r->zb.p, h->payload), h->crc))
    return am_err(err, err_sz, "%s: %s at offset %llu: payload checksum mismatch (data corrupted)",
                  r->name, what, (unsigned long long)off);
  const uint8_t* body = r->zb.p + h->prefix;
  size_t stored = h->payload - h->prefix;
  if (h->codec == CODEC_ZSTD && ZSTD_getFrameContentSize(body, stored) != h->raw)
    return am_err(err, err_sz, "%s: %s at offset %llu: zstd frame size %lld != declared %u",
                  r->name, what, (unsigned long long)off,
                  (long long)ZSTD_getFrameContentSize(body, stored), h->raw);
  if (scratch(&r->rb, (size_t)h->raw + 1))
    return am_err(err, err_sz, "%s: %s at offset %llu: out of memory", r->name, what,
                  (unsigned long long)off);
  if (h->codec == CODEC_RAW) {
    memcpy(r->rb.p, body, stored);
    return 0;
  }
  unsigned long long fcs = ZSTD_getFrameContentSize(body, stored);
  if (fcs != h->raw)
    return am_err(err, err_sz, "%s: %s at offset %llu: zstd frame size %lld != declared %u",
                  r->name, what, (unsigned long long)off, (long long)fcs, h->raw);
  if (!r->dctx && !(r->dctx = ZSTD_createDCtx()))
    return am_err(err, err_sz, "%s: out of memory (zstd)", r->name);
  size_t n = ZSTD_decompressDCtx(r->dctx, r->rb.p, h->raw, body, stored);
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
  cur c = {r->rb.p, 0, 0, 0};
  am_ds_bhdr h;
  uint64_t off = FILE_HDR;
  if (read_bhdr(r, off, &h, "metadata block", err, err_sz)) return -1;
  if (h.type != BT_META)
    return am_err(err, err_sz, "%s: first block is a %s (type %d), expected metadata", r->name,
                  block_name(h.type), h.type);
  if (read_payload(r, off, &h, "metadata block", err, err_sz)) return -1;
  c.p = r->rb.p;
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
  am_ds_bhdr h;
  uint64_t off = r->data_start;
  if (read_bhdr(r, off, &h, "channel table", err, err_sz)) return -1;
  if (h.type != BT_CHANNELS)
    return am_err(err, err_sz, "%s: second block is a %s (type %d), expected the channel table",
                  r->name, block_name(h.type), h.type);
  if (read_payload(r, off, &h, "channel table", err, err_sz)) return -1;
  cur c = {r->rb.p, h.raw, 0, 0};
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
    if ((ch->flags & AM_DS_CH_LOSSY) &&
        (r->minor < 2 || (ch->dtype != AM_DT_F32 && ch->dtype != AM_DT_F64)))
      return am_err(err, err_sz, "%s: channel %u: lossy flag on a %s channel of a %d.%d file",
                    r->name, i, am_dtype_name(ch->dtype), r->major, r->minor);
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
    for (uint32_t k = 0; k < i; k++)
      if (!strcmp(r->ch[k].name, ch->name))
        return am_err(err, err_sz, "%s: channel table: channels %u and %u are both named '%s'",
                      r->name, k, i, ch->name);
  }
  r->data_start = off + BLOCK_HDR + h.payload;
  return 0;
}

// A model's mask (am_ds_decode_model): one byte per element of the widest channel. NULL when out
// of memory.
static uint8_t* model_mask(const am_ds_reader* r) {
  size_t widest = 1;
  for (int c = 0; c < r->n_ch; c++)
    if (r->ch[c].elems > widest) widest = r->ch[c].elems;
  return malloc(widest);
}

// The MODELS block (1.3), when the block after the channel table is one: parsed and checked
// against the channel table (a bad one is fatal, as a bad channel table is).
static int parse_models(am_ds_reader* r, char* err, size_t err_sz) {
  r->model_of = malloc(sizeof(int) * (size_t)r->n_ch);
  r->mdtype = malloc(sizeof(int) * (size_t)r->n_ch);
  r->melems = malloc(sizeof(size_t) * (size_t)r->n_ch);
  if (!r->model_of || !r->mdtype || !r->melems) return am_err(err, err_sz, "out of memory");
  for (int c = 0; c < r->n_ch; c++) {
    r->model_of[c] = -1;
    r->mdtype[c] = r->ch[c].dtype;
    r->melems[c] = r->ch[c].elems;
  }
  if (!(r->mmask = model_mask(r))) return am_err(err, err_sz, "out of memory");
  am_ds_bhdr h;
  uint8_t hb[BLOCK_HDR];
  if (r->minor < 3 || read_at(r, r->data_start, hb, BLOCK_HDR) || memcmp(hb, BLOCK_MAGIC, 4) ||
      hb[4] != BT_MODELS)
    return 0;
  if (read_bhdr(r, r->data_start, &h, "models block", err, err_sz) ||
      read_payload(r, r->data_start, &h, "models block", err, err_sz))
    return -1;
  char why[AM_ERR_LEN];
  if (am_ds_models_parse(r->rb.p, h.raw, &r->models, &r->n_models, why, sizeof why))
    return am_err(err, err_sz, "%s: %s", r->name, why);
  if (!(r->model_order = malloc(sizeof(int) * (size_t)(r->n_models + 1))))
    return am_err(err, err_sz, "out of memory");
  if (am_ds_models_check(r->models, r->n_models, r->mdtype, r->melems, r->n_ch, r->minor,
                         r->model_order, why, sizeof why))
    return am_err(err, err_sz, "%s: models block: %s", r->name, why);
  for (int i = 0; i < r->n_models; i++) r->model_of[r->models[i].ch] = i;
  r->data_start += BLOCK_HDR + h.payload;
  return 0;
}

static int cmp_chunk(const void* a, const void* b) {
  const am_ds_chunk *x = a, *y = b;
  if (x->episode != y->episode) return x->episode < y->episode ? -1 : 1;
  if (x->first_step != y->first_step) return x->first_step < y->first_step ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static size_t stored_width(const am_ds_channel* ch) {
  size_t w = am_dtype_size(ch->dtype);
  return ch->flags & AM_DS_CH_LOSSY ? w / 2 : w;
}

// Reads and checks channel k's entry of a 1.2 chunk's filter table (at t).
static int chunk_filter(const am_ds_reader* r, const uint8_t* t, int k, am_ds_filt* f, char* why,
                        size_t why_sz) {
  const uint8_t* e = t + (size_t)k * FILTER_ENTRY;
  *f = (am_ds_filt){e[0], e[1], get16(e + 2)};
  const am_ds_channel* ch = &r->ch[k];
  if (f->pred >= PRED_COUNT || f->layout >= LAYOUT_COUNT)
    return am_err(why, why_sz, "channel '%s': unknown filter (predictor %d, layout %d)", ch->name,
                  f->pred, f->layout);
  if (f->pred == PRED_MODEL && r->model_of[k] < 0)
    return am_err(why, why_sz, "channel '%s': model predictor, but the file has no model for it",
                  ch->name);
  if (f->pred != PRED_REF) {
    if (f->ref) return am_err(why, why_sz, "channel '%s': reference %u without the reference predictor",
                               ch->name, f->ref);
    return 0;
  }
  if (f->ref >= k)
    return am_err(why, why_sz, "channel '%s' refers to channel %u, not an earlier one", ch->name, f->ref);
  const am_ds_channel* x = &r->ch[f->ref];
  if (x->elems != ch->elems || !am_ds_ref_ok(x->dtype, (x->flags & AM_DS_CH_LOSSY) != 0, ch->dtype,
                                              (ch->flags & AM_DS_CH_LOSSY) != 0))
    return am_err(why, why_sz, "channel '%s' cannot refer to channel '%s' (lossy, shape or dtype)",
                  ch->name, x->name);
  if (t[(size_t)f->ref * FILTER_ENTRY] == PRED_REF || t[(size_t)f->ref * FILTER_ENTRY] == PRED_MODEL)
    return am_err(why, why_sz, "channel '%s' refers to '%s', which is itself predicted from others",
                  ch->name, x->name);
  return 0;
}

// Checks a chunk prefix against the channel table (for a 1.2 file also the filter table of the
// decoded body in r->rb). Returns 0 or -1 with a reason.
static int check_prefix(const am_ds_reader* r, const uint8_t* p, const am_ds_bhdr* h, am_ds_chunk* c,
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
  if (r->minor < 2) {
    if ((uint64_t)c->rows * r->row_bytes + (uint64_t)n_init * 8 != h->raw)
      return am_err(why, why_sz, "%u rows x %zu bytes + %u initial values != body size %u", c->rows,
                    r->row_bytes, n_init, h->raw);
    return 0;
  }
  // 1.2: the decoded body (r->rb) starts with the filter table, which sets the columns' sizes
  uint64_t want = (uint64_t)r->n_ch * FILTER_ENTRY + (uint64_t)n_init * 8;
  if (h->raw < want)
    return am_err(why, why_sz, "body of %u bytes has no room for the filter table", h->raw);
  for (int k = 0; k < r->n_ch; k++) {
    am_ds_filt f;
    if (chunk_filter(r, r->rb.p, k, &f, why, why_sz)) return -1;
    want += am_ds_laid_size((size_t)c->rows * r->ch[k].elems, stored_width(&r->ch[k]), f.layout);
  }
  if (want != h->raw)
    return am_err(why, why_sz, "%u rows of the channels as filtered + %u initial values + filter "
                  "table = %llu bytes != body size %u", c->rows, n_init, (unsigned long long)want,
                  h->raw);
  return 0;
}

static void damage_line(damage* d, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void damage_line(damage* d, const char* fmt, ...) {
  size_t o = strlen(d->text);
  if (d->lines >= 32 || o + 2 >= sizeof d->text) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->text + o, sizeof d->text - o - 1, fmt, ap);
  va_end(ap);
  o = strlen(d->text);
  d->text[o] = '\n';
  d->text[o + 1] = 0;
  d->lines++;
}

// A byte range [from, to) that holds no valid block.
static void damage_gap(am_ds_reader* r, damage* d, uint64_t from, uint64_t to, const char* why) {
  size_t nl = strlen(r->name);  // messages start with "name: "
  if (!strncmp(why, r->name, nl) && !strncmp(why + nl, ": ", 2)) why += nl + 2;
  d->gaps++;
  d->gap_bytes += to - from;
  damage_line(d, "bytes %llu..%llu (%llu bytes): %s", (unsigned long long)from,
              (unsigned long long)to, (unsigned long long)(to - from), why);
}

// Reads a block header at off that must also end by end. Returns 0 or -1 with a reason.
static int block_at(am_ds_reader* r, uint64_t off, uint64_t end, am_ds_bhdr* h, char* msg,
                    size_t msg_sz) {
  if (read_bhdr(r, off, h, "block", msg, msg_sz)) return -1;
  if (off + BLOCK_HDR + h->payload > end)
    return am_err(msg, msg_sz, "%s: block at offset %llu runs past offset %llu", r->name,
                  (unsigned long long)off, (unsigned long long)end);
  return 0;
}

// Resynchronisation: the first offset in [from, end) holding a valid block header (magic and
// header CRC) whose block ends by end. Returns 0 (*at set) or -1 when there is none.
static int find_block(am_ds_reader* r, uint64_t from, uint64_t end, uint64_t* at) {
  enum { WIN = 1 << 16 };
  static const size_t over = sizeof BLOCK_MAGIC - 1;
  uint8_t* buf = malloc(WIN + over);
  if (!buf) return -1;
  int rc = -1;
  for (uint64_t base = from; base + BLOCK_HDR <= end && rc; base += WIN) {
    size_t n = end - base < WIN + over ? (size_t)(end - base) : WIN + over;
    if (read_at(r, base, buf, n)) break;
    for (size_t i = 0; i + sizeof BLOCK_MAGIC <= n && i < WIN; i++) {
      if (buf[i] != BLOCK_MAGIC[0] || memcmp(buf + i, BLOCK_MAGIC, sizeof BLOCK_MAGIC)) continue;
      am_ds_bhdr h;
      char msg[AM_ERR_LEN];
      if (!block_at(r, base + i, end, &h, msg, sizeof msg)) {
        *at = base + i;
        rc = 0;
        break;
      }
    }
  }
  free(buf);
  return rc;
}

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

// Walks the blocks in [start, end), appending every good chunk to out (am_ds_chunk). A bad block
// does not stop the walk: a block whose header is good is skipped by its size, a bad header by
// searching for the next valid one; the bytes skipped go to d as gaps. Chunk blocks at the n_skip
// sorted offsets skip[] are passed over unread (verify checks those through the index).
static int walk_blocks(am_ds_reader* r, uint64_t start, uint64_t end, am_buf* out, damage* d,
                       const uint64_t* skip, size_t n_skip) {
  uint64_t off = start;
  while (off < end) {
    am_ds_bhdr h;
    char msg[AM_ERR_LEN];
    if (block_at(r, off, end, &h, msg, sizeof msg)) {
      uint64_t next = end;
      find_block(r, off + 1, end, &next);
      damage_gap(r, d, off, next, msg);
      off = next;
      continue;
    }
    uint64_t next = off + BLOCK_HDR + h.payload;
    if (h.type == BT_CHUNK && !(n_skip && bsearch(&off, skip, n_skip, sizeof *skip, cmp_u64))) {
      uint8_t p[CHUNK_PREFIX];
      am_ds_chunk c = {.offset = off};
      char why[256];
      if (h.prefix != CHUNK_PREFIX || read_at(r, off + BLOCK_HDR, p, sizeof p)) {
        am_err(msg, sizeof msg, "chunk at offset %llu: bad prefix size %u", (unsigned long long)off,
               h.prefix);
        damage_gap(r, d, off, next, msg);
      } else if (read_payload(r, off, &h, "chunk", msg, sizeof msg)) {
        damage_gap(r, d, off, next, msg);
      } else if (check_prefix(r, p, &h, &c, why, sizeof why)) {
        am_err(msg, sizeof msg, "chunk at offset %llu: %s", (unsigned long long)off, why);
        damage_gap(r, d, off, next, msg);
      } else if (am_buf_append(out, &c, sizeof c)) {
        return -1;
      }
    }
    off = next;
  }
  return 0;
}

// Finds the chunks by walking every block after the channel table (the index is not usable).
static int scan_chunks(am_ds_reader* r, const char* why_no_index, char* err, size_t err_sz) {
  r->chunk_buf.len = 0;
  memset(&r->dmg, 0, sizeof r->dmg);
  if (walk_blocks(r, r->data_start, r->size, &r->chunk_buf, &r->dmg, NULL, 0))
    return am_err(err, err_sz, "%s: out of memory", r->name);
  r->chunks = (am_ds_chunk*)r->chunk_buf.p;
  r->n_chunks = (int)(r->chunk_buf.len / sizeof(am_ds_chunk));
  r->recovered = 1;
  r->index_start = 0;
  int o = snprintf(r->note, sizeof r->note, "%s; recovered %d chunks by scanning to the end of the file",
                   why_no_index, r->n_chunks);
  if (o > 0 && (size_t)o < sizeof r->note)
    snprintf(r->note + o, sizeof r->note - (size_t)o, r->dmg.gaps ? "; %d damaged byte range(s) skipped (%llu bytes)"
             : "; every byte after the channel table is in a whole block", r->dmg.gaps,
             (unsigned long long)r->dmg.gap_bytes);
  return 0;
}

// Reads the index through the trailer: the INDEX blocks from the trailer's offset up to the
// trailer, in order (part k says k). Returns 0, or -1 with the reason in why (not fatal).
static int read_index(am_ds_reader* r, char* why, size_t why_sz) {
  uint8_t t[TRAILER];
  if (r->size < r->data_start + TRAILER || read_at(r, r->size - TRAILER, t, TRAILER))
    return am_err(why, why_sz, "no trailer (file ends at %llu bytes)", (unsigned long long)r->size);
  if (memcmp(t + 16, TRAILER_MAGIC, 8))
    return am_err(why, why_sz, "no trailer (the writer did not finish: killed, or it failed)");
  if (CRC_BAD(get32(t + 12), am_crc32(0, t, 12))) return am_err(why, why_sz, "trailer checksum mismatch");
  uint64_t off = get64(t), end = r->size - TRAILER;
  if (off < r->data_start || off >= end)
    return am_err(why, why_sz, "trailer: index offset %llu out of range", (unsigned long long)off);
  r->index_start = off;
  r->chunk_buf.len = 0;
  uint64_t prev_end = r->data_start;  // entries are in file order, blocks do not overlap
  for (uint32_t part = 0; off < end; part++) {
    am_ds_bhdr h;
    char msg[AM_ERR_LEN];
    if (read_bhdr(r, off, &h, "index", msg, sizeof msg)) return am_err(why, why_sz, "%s", msg);
    if (h.type != BT_INDEX || off + BLOCK_HDR + h.payload > end)
      return am_err(why, why_sz, "index part %u at offset %llu: not an index block ending by the trailer",
                    part, (unsigned long long)off);
    if (read_payload(r, off, &h, "index", msg, sizeof msg)) return am_err(why, why_sz, "%s", msg);
    if (h.raw < 8) return am_err(why, why_sz, "index part %u: too short", part);
    uint32_t n = get32(r->rb.p);
    if ((uint64_t)n * INDEX_ENTRY + 8 != h.raw)
      return am_err(why, why_sz, "index part %u: %u entries do not fill its %u bytes", part, n, h.raw);
    if (get32(r->rb.p + 4) != part)
      return am_err(why, why_sz, "index part %u says it is part %u", part, get32(r->rb.p + 4));
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t* e = r->rb.p + 8 + (size_t)i * INDEX_ENTRY;
      am_ds_chunk c = {.offset = get64(e), .episode = (int64_t)get64(e + 8), .env = get32(e + 16),
                       .first_step = get32(e + 20), .rows = get32(e + 24), .flags = get32(e + 28),
                       .stored_bytes = get32(e + 32), .raw_bytes = get32(e + 36)};
      if (c.offset < prev_end || c.offset >= r->index_start || c.episode < 0 ||
          (uint64_t)c.rows * r->row_bytes > MAX_PAYLOAD || c.stored_bytes > MAX_PAYLOAD ||
          c.offset + BLOCK_HDR + c.stored_bytes > r->index_start)
        return am_err(why, why_sz, "index part %u entry %u: bad offset, size or episode", part, i);
      prev_end = c.offset + BLOCK_HDR + c.stored_bytes;
      if (am_buf_append(&r->chunk_buf, &c, sizeof c)) return am_err(why, why_sz, "out of memory");
    }
    off += BLOCK_HDR + h.payload;
  }
  r->chunks = (am_ds_chunk*)r->chunk_buf.p;
  r->n_chunks = (int)(r->chunk_buf.len / sizeof(am_ds_chunk));
  r->interrupted = (get32(t + 8) & TRAILER_INTERRUPTED) != 0;
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
        r->dmg.dropped++;
        damage_line(&r->dmg, "chunk at offset %llu (episode %lld, steps %u..%llu) dropped: its "
                    "episode ends at step %lld (%s)", (unsigned long long)c.offset,
                    (long long)c.episode, c.first_step, (unsigned long long)c.first_step + c.rows,
                    (long long)e->steps, e->complete ? "complete" : "a chunk before it was lost");
        continue;
      }
    } else {
      if (!(c.flags & AM_DS_CHUNK_FIRST) || c.first_step) {
        if (!r->recovered)
          return am_err(err, err_sz, "%s: index: episode %lld does not start with its first chunk",
                        r->name, (long long)c.episode);
        r->dmg.dropped++;
        damage_line(&r->dmg, "chunk at offset %llu (episode %lld, steps %u..%llu) dropped: the "
                    "episode's first chunk was lost", (unsigned long long)c.offset,
                    (long long)c.episode, c.first_step, (unsigned long long)c.first_step + c.rows);
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
  if (parse_meta(r, err, err_sz) || parse_channels(r, err, err_sz) || parse_models(r, err, err_sz))
    goto fail;
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

// The decoding state every reader owns, dup or not.
static void free_decoding(am_ds_reader* r) {
  am_buf_free(&r->zb);
  am_buf_free(&r->rb);
  am_buf_free(&r->ftmp);
  am_buf_free(&r->fstage);
  am_buf_free(&r->fref);
  am_buf_free(&r->fcols);
  am_buf_free(&r->facc);
  ZSTD_freeDCtx(r->dctx);
  free(r->mmask);
}

am_ds_reader* am_ds_reader_dup(const am_ds_reader* r, char* err, size_t err_sz) {
  if (r->parent) r = r->parent;
  am_ds_reader* d = malloc(sizeof *d);
  if (!d) return am_err(err, err_sz, "out of memory"), NULL;
  *d = *r;
  d->parent = r;
  d->zb = d->rb = d->ftmp = d->fstage = d->fref = d->fcols = d->facc = (am_buf){0};
  d->dctx = NULL;
  d->models = NULL;
  d->mmask = model_mask(r);
  if (r->n_models) d->models = malloc(sizeof *d->models * (size_t)r->n_models);
  if (!d->mmask || (r->n_models && !d->models)) {
    free(d->mmask);
    free(d->models);
    free(d);
    return am_err(err, err_sz, "out of memory"), NULL;
  }
  for (int i = 0; i < r->n_models; i++) {
    d->models[i] = r->models[i];
    d->models[i].xv = NULL;
    d->models[i].xv_rows = 0;
  }
  return d;
}

void am_ds_reader_free(am_ds_reader* r) {
  if (!r) return;
  if (r->parent) {
    free_decoding(r);
    for (int i = 0; i < r->n_models; i++) free(r->models[i].xv);
    free(r->models);
    free(r);
    return;
  }
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
  am_buf_free(&r->chunk_buf);
  free(r->eps);
  free_decoding(r);
  am_ds_models_free(r->models, r->n_models);
  free(r->model_order);
  free(r->model_of);
  free(r->mdtype);
  free(r->melems);
  free(r);
}

int am_ds_recovered(const am_ds_reader* r, const char** note) {
  if (note) *note = r->note;
  return r->recovered;
}
void am_ds_get_damage(const am_ds_reader* r, am_ds_damage* d) {
  d->gaps = r->dmg.gaps;
  d->gap_bytes = r->dmg.gap_bytes;
  d->dropped_chunks = r->dmg.dropped;
  d->text = r->dmg.text;
}
int am_ds_interrupted(const am_ds_reader* r) { return r->interrupted; }
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

int am_ds_channel_model(const am_ds_reader* r, int ch, int* n_elems, int* src, int max_src) {
  if (ch < 0 || ch >= r->n_ch || r->model_of[ch] < 0) return -1;
  const am_ds_model* m = &r->models[r->model_of[ch]];
  uint8_t seen[AM_DS_MAX_CHANNELS] = {0};
  int n = 0;
  for (uint32_t k = 0; k < 2 * m->n_terms; k++) {
    unsigned s = k % 2 ? m->t[k / 2].src2 : m->t[k / 2].src;
    if (s == MODEL_NO_SRC || seen[s]) continue;
    seen[s] = 1;
    if (n < max_src) src[n] = (int)s;
    n++;
  }
  *n_elems = (int)m->n_entries;
  return n;
}

// Loads chunk k into r->rb.p, checking it against its table entry.
static int load_chunk(am_ds_reader* r, int k, char* err, size_t err_sz) {
  am_ds_chunk* c = &r->chunks[k];
  char what[96];
  snprintf(what, sizeof what, "chunk %d (episode %lld, step %u)", k, (long long)c->episode,
           c->first_step);
  am_ds_bhdr h;
  if (read_bhdr(r, c->offset, &h, what, err, err_sz)) return -1;
  if (h.type != BT_CHUNK || h.prefix != CHUNK_PREFIX)
    return am_err(err, err_sz, "%s: %s at offset %llu: not a chunk block", r->name, what,
                  (unsigned long long)c->offset);
  if (read_payload(r, c->offset, &h, what, err, err_sz)) return -1;
  am_ds_chunk got = {.offset = c->offset};
  char why[256];
  if (check_prefix(r, r->zb.p, &h, &got, why, sizeof why))
    return am_err(err, err_sz, "%s: %s at offset %llu: %s", r->name, what,
                  (unsigned long long)c->offset, why);
  if (got.episode != c->episode || got.env != c->env || got.first_step != c->first_step ||
      got.rows != c->rows || got.flags != c->flags)
    return am_err(err, err_sz, "%s: %s at offset %llu: does not match the index", r->name, what,
                  (unsigned long long)c->offset);
  if (!r->parent) {  // a dup leaves the shared table alone (its parent's reads keep it)
    c->stored_bytes = got.stored_bytes;
    c->raw_bytes = got.raw_bytes;
  }
  return 0;
}

// Decodes the rows of chunk c (body in r->rb) into dst (channels with dst[ch] != NULL, at row
// row0). 1.0/1.1: {SUB or NONE, BYTE} from the DELTA flag; 1.2: the chunk's filter table.
static int decode_chunk(am_ds_reader* r, const am_ds_chunk* c, void* const* dst, size_t row0,
                        double* init, const char* what, char* err, size_t err_sz) {
  const uint8_t* body = r->rb.p;
  int v12 = r->minor >= 2;
  size_t o = v12 ? (size_t)r->n_ch * FILTER_ENTRY : 0;
  if (c->flags & AM_DS_CHUNK_FIRST) {
    if (init)
      for (int j = 0; j < r->n_init; j++) {
        uint64_t bits = get64(body + o + 8 * (size_t)j);
        memcpy(&init[j], &bits, 8);
      }
    o += 8 * (size_t)r->n_init;
  }
  // each channel's filter and column offset
  size_t rows = c->rows;
  am_ds_filt fl[AM_DS_MAX_CHANNELS];
  size_t at[AM_DS_MAX_CHANNELS];
  for (int ch = 0; ch < r->n_ch; ch++) {
    const am_ds_channel* x = &r->ch[ch];
    fl[ch] = (am_ds_filt){x->flags & AM_DS_CH_DELTA ? PRED_SUB : PRED_NONE, LAYOUT_BYTE, 0};
    if (v12) fl[ch] = (am_ds_filt){body[(size_t)ch * FILTER_ENTRY], body[(size_t)ch * FILTER_ENTRY + 1],
                                   get16(body + (size_t)ch * FILTER_ENTRY + 2)};
    at[ch] = o;
    o += am_ds_laid_size(rows * x->elems, stored_width(x), fl[ch].layout);
  }
  // which channels to decode: those asked for, and what they are predicted from (the channel a
  // reference names, the sources of a model), transitively
  size_t need_cols = 0;
  uint8_t need[AM_DS_MAX_CHANNELS] = {0};
  for (int ch = 0; ch < r->n_ch; ch++) need[ch] = dst && dst[ch];
  for (int changed = 1; changed;) {
    changed = 0;
    for (int ch = 0; ch < r->n_ch; ch++) {
      if (!need[ch]) continue;
      if (fl[ch].pred == PRED_REF && !need[fl[ch].ref]) need[fl[ch].ref] = changed = 1;
      if (fl[ch].pred != PRED_MODEL) continue;
      const am_ds_model* m = &r->models[r->model_of[ch]];
      for (uint32_t v = 0; v < m->n_vars; v++)  // its distinct source elements (its plan)
        if (!need[m->var_src[v]]) need[m->var_src[v]] = changed = 1;
    }
  }
  for (int ch = 0; ch < r->n_ch; ch++)
    if (need[ch] && !(dst && dst[ch])) need_cols += rows * r->ch[ch].row_bytes;
  size_t big = 0;
  for (int ch = 0; ch < r->n_ch; ch++)
    if (rows * r->ch[ch].row_bytes > big) big = rows * r->ch[ch].row_bytes;
  if (scratch(&r->ftmp, big + 1) || scratch(&r->fstage, big + 1) ||
      scratch(&r->fref, big + 1) || scratch(&r->fcols, need_cols + 1))
    return am_err(err, err_sz, "%s: out of memory", r->name);
  uint8_t* col_at[AM_DS_MAX_CHANNELS];  // where each decoded channel's rows of this chunk are
  size_t cols_o = 0;
  for (int ch = 0; ch < r->n_ch; ch++) {
    col_at[ch] = NULL;
    if (dst && dst[ch]) col_at[ch] = (uint8_t*)dst[ch] + row0 * r->ch[ch].row_bytes;
    else if (need[ch]) col_at[ch] = r->fcols.p + cols_o, cols_o += rows * r->ch[ch].row_bytes;
  }
  // channels predicted by models last, in the models' order (their sources first)
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < (pass ? r->n_models : r->n_ch); i++) {
      int ch = pass ? r->models[r->model_order[i]].ch : i;
      am_ds_filt f = fl[ch];
      if (!col_at[ch] || (f.pred == PRED_MODEL) != pass) continue;
      const am_ds_channel* x = &r->ch[ch];
      size_t w = am_dtype_size(x->dtype), sw = stored_width(x), count = rows * x->elems;
      const uint8_t* ref = NULL;
      if (f.pred == PRED_REF) {
        const am_ds_channel* y = &r->ch[f.ref];
        if (y->flags & AM_DS_CH_LOSSY)  // its stored form again (exact: it was widened from it)
          am_ds_lossy_pack(r->fref.p, col_at[f.ref], count, w);
        else
          am_ds_ref_convert(r->fref.p, col_at[f.ref], count, am_dtype_size(y->dtype), w);
        ref = r->fref.p;
      }
      uint8_t* out = sw == w ? col_at[ch] : r->fstage.p;
      if (f.pred == PRED_MODEL) {  // row by row, widened into col_at[ch] as it goes
        am_ds_model* m = &r->models[r->model_of[ch]];
        if (scratch(&r->facc, sizeof(double) * am_ds_model_acc_size(m->n_entries, rows) + 1))
          return am_err(err, err_sz, "%s: out of memory", r->name);
        int rc = am_ds_decode_model(out, body + at[ch], rows, x->elems, sw, f.layout, m,
                                    (const uint8_t**)col_at, r->mdtype, r->melems, sw != w,
                                    r->fref.p, r->mmask, (double*)r->facc.p, r->ftmp.p);
        if (rc == -2) return am_err(err, err_sz, "%s: out of memory", r->name);
        if (rc)
          return am_err(err, err_sz, "%s: %s at offset %llu: channel '%s': bit-plane padding is not zero",
                        r->name, what, (unsigned long long)c->offset, x->name);
        continue;
      }
      if (am_ds_decode(out, body + at[ch], ref, rows, x->elems, sw, f, r->ftmp.p))
        return am_err(err, err_sz, "%s: %s at offset %llu: channel '%s': bit-plane padding is not zero",
                      r->name, what, (unsigned long long)c->offset, x->name);
      if (sw != w) am_ds_lossy_unpack(col_at[ch], out, count, w);
    }
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
    char what[96];
    snprintf(what, sizeof what, "chunk %d (episode %lld, step %u)", k,
             (long long)r->chunks[k].episode, r->chunks[k].first_step);
    if (decode_chunk(r, &r->chunks[k], dst, r->chunks[k].first_step, init, what, err, err_sz))
      return -1;
  }
  return 0;
}

int am_ds_chunk_filter(am_ds_reader* r, int k, int ch, const char** pred, const char** layout,
                       int* ref, char* err, size_t err_sz) {
  static const char* preds[PRED_COUNT] = {"none", "sub", "subz", "xor", "ref", "model"};
  static const char* layouts[LAYOUT_COUNT] = {"byte", "bit"};
  if (k < 0 || k >= r->n_chunks || ch < 0 || ch >= r->n_ch)
    return am_err(err, err_sz, "%s: no chunk %d or channel %d", r->name, k, ch);
  am_ds_filt f = {r->ch[ch].flags & AM_DS_CH_DELTA ? PRED_SUB : PRED_NONE, LAYOUT_BYTE, 0};
  if (r->minor >= 2) {
    if (load_chunk(r, k, err, err_sz)) return -1;  // its filter table was checked there
    const uint8_t* e = r->rb.p + (size_t)ch * FILTER_ENTRY;
    f = (am_ds_filt){e[0], e[1], get16(e + 2)};
  }
  *pred = preds[f.pred];
  *layout = layouts[f.layout];
  *ref = f.pred == PRED_REF ? f.ref : -1;
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

// Loads chunk k and, in a 1.2 file, decodes it into cols (its filters undone: a bit layout's
// padding is checked). 0 or -1 with the message in msg.
static int verify_chunk(am_ds_reader* r, int k, am_buf* cols, char* msg, size_t msg_sz) {
  int rc = load_chunk(r, k, msg, msg_sz);
  if (rc || r->minor < 2) return rc;
  const am_ds_chunk* c = &r->chunks[k];
  if (am_buf_reserve(cols, (size_t)c->rows * r->row_bytes + 1))
    return am_err(msg, msg_sz, "%s: out of memory", r->name);
  void* dst[AM_DS_MAX_CHANNELS] = {0};
  size_t o = 0;
  for (int ch = 0; ch < r->n_ch; ch++) {
    dst[ch] = cols->p + o;
    o += (size_t)c->rows * r->ch[ch].row_bytes;
  }
  char what[96];
  snprintf(what, sizeof what, "chunk %d (episode %lld, step %u)", k, (long long)c->episode,
           c->first_step);
  return decode_chunk(r, c, dst, 0, NULL, what, msg, msg_sz);
}

// A thread of am_ds_run_threads: its reader, index and the caller's function.
typedef struct run_part {
  am_ds_reader* r;
  int t;
  void (*fn)(am_ds_reader*, int, void*);
  void* ctx;
  pthread_t th;
} run_part;

static void* run_part_main(void* arg) {
  run_part* p = arg;
  p->fn(p->r, p->t, p->ctx);
  return NULL;
}

int am_ds_run_threads(am_ds_reader* r, int threads, void (*fn)(am_ds_reader* rd, int t, void* ctx),
                      void* ctx) {
  if (threads < 1) threads = 1;
  if (threads > AM_DS_MAX_THREADS) threads = AM_DS_MAX_THREADS;
  run_part part[AM_DS_MAX_THREADS];
  int n = 1;
  part[0] = (run_part){.r = r, .t = 0, .fn = fn, .ctx = ctx};
  for (; n < threads; n++) {  // out of memory or threads: fewer
    part[n] = (run_part){.r = am_ds_reader_dup(r, NULL, 0), .t = n, .fn = fn, .ctx = ctx};
    if (!part[n].r) break;
    if (pthread_create(&part[n].th, NULL, run_part_main, &part[n])) {
      am_ds_reader_free(part[n].r);
      break;
    }
  }
  fn(r, 0, ctx);
  for (int t = 1; t < n; t++) {
    pthread_join(part[t].th, NULL);
    am_ds_reader_free(part[t].r);
  }
  return n;
}

// am_ds_verify_threads' shared state: the next chunk, and per thread its bad chunks counted and
// the message of its first (lowest index).
typedef struct verify_run {
  _Atomic int next;
  int bad[AM_DS_MAX_THREADS], first_k[AM_DS_MAX_THREADS];
  char first[AM_DS_MAX_THREADS][AM_ERR_LEN];
} verify_run;

static void verify_part(am_ds_reader* r, int t, void* ctx) {
  verify_run* v = ctx;
  am_buf cols = {0};
  char msg[AM_ERR_LEN];
  for (int k; (k = atomic_fetch_add(&v->next, 1)) < r->n_chunks;)
    if (verify_chunk(r, k, &cols, msg, sizeof msg) && !v->bad[t]++) {
      v->first_k[t] = k;
      snprintf(v->first[t], sizeof v->first[t], "%s", msg);
    }
  am_buf_free(&cols);
}

int am_ds_verify(am_ds_reader* r, int* n_bad, char* err, size_t err_sz) {
  return am_ds_verify_threads(r, 1, n_bad, err, err_sz);
}

int am_ds_verify_threads(am_ds_reader* r, int threads, int* n_bad, char* err, size_t err_sz) {
  int bad = 0, unindexed = 0, problems;
  char first[AM_ERR_LEN] = "";
  // every chunk, on threads readers (r and dups of it); the first bad chunk by index, as on one
  verify_run* v = calloc(1, sizeof *v);
  if (!v) return am_err(err, err_sz, "%s: out of memory", r->name);
  int n = am_ds_run_threads(r, threads, verify_part, v), first_k = r->n_chunks;
  for (int t = 0; t < n; t++) {
    bad += v->bad[t];
    if (v->bad[t] && v->first_k[t] < first_k) {
      first_k = v->first_k[t];
      snprintf(first, sizeof first, "%s", v->first[t]);
    }
  }
  free(v);
  // the index against the blocks actually in the file (a recovery's chunks are those blocks)
  damage d = r->dmg;
  if (!r->recovered) {
    memset(&d, 0, sizeof d);
    am_buf found = {0};
    uint64_t* ix = malloc(sizeof(uint64_t) * ((size_t)r->n_chunks + 1));
    if (ix) {
      for (int k = 0; k < r->n_chunks; k++) ix[k] = r->chunks[k].offset;
      qsort(ix, (size_t)r->n_chunks, sizeof *ix, cmp_u64);
    }
    if (!ix || walk_blocks(r, r->data_start, r->index_start, &found, &d, ix, (size_t)r->n_chunks)) {
      free(ix);
      am_buf_free(&found);
      return am_err(err, err_sz, "%s: out of memory", r->name);
    }
    const am_ds_chunk* f = (const am_ds_chunk*)found.p;
    size_t nf = found.len / sizeof *f;
    for (size_t i = 0; i < nf; i++)
      if (!unindexed++ && !first[0])
        am_err(first, sizeof first,
                 "%s: chunk at offset %llu (episode %lld, steps %u..%llu) is not in the index",
                 r->name, (unsigned long long)f[i].offset, (long long)f[i].episode,
                 f[i].first_step, (unsigned long long)f[i].first_step + f[i].rows);
    free(ix);
    am_buf_free(&found);
  }
  if (!first[0] && d.lines)
    am_err(first, sizeof first, "%s: %.*s", r->name, (int)strcspn(d.text, "\n"), d.text);
  problems = bad + unindexed + d.gaps + d.dropped;
  if (n_bad) *n_bad = problems;
  if (problems)
    return am_err(err, err_sz,
                  "%d problem(s): %d bad chunk(s), %d chunk(s) not in the index, %d damaged byte "
                  "range(s), %d chunk(s) dropped from their episode; first: %s",
                  problems, bad, unindexed, d.gaps, d.dropped, first);
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
