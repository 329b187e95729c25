// dataset_format.h: what the dataset writer (dataset_write.c) and reader (dataset_read.c) share;
// private to sim/ (not installed, not included by callers).
//
// What it is: the format's constants and magic numbers (docs/dataset-format.md), the block header
// layout, little-endian helpers, and the byte-shuffle/delta filters. CRC-32 is am_crc32 (am_sim.h).
// What it is not: any I/O.
#ifndef AM_DATASET_FORMAT_H
#define AM_DATASET_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "am_dataset.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the dataset code stores channel data in host order, which must be little-endian"
#endif

//---------------------------------- format constants ---------------------------------------------

static const uint8_t FILE_MAGIC[8] = {0x89, 'A', 'M', 'D', 'S', '\r', '\n', 0x1a};
static const uint8_t BLOCK_MAGIC[4] = {'A', 'M', 'B', 'K'};
static const uint8_t TRAILER_MAGIC[8] = {'A', 'M', 'D', 'S', 'I', 'D', 'X', '\n'};
enum { FILE_HDR = 16, BLOCK_HDR = 24, TRAILER = 24, CHUNK_PREFIX = 32, INDEX_ENTRY = 40 };
enum { BT_META = 1, BT_CHANNELS = 2, BT_CHUNK = 3, BT_INDEX = 4, BT_MODELS = 5 };
enum { CODEC_RAW = 0, CODEC_ZSTD = 1 };
#define MAX_PAYLOAD (64u << 20)    // stored payload and raw body limits (64 MiB)
#define MAX_ROW_BYTES (16u << 20)  // sum of the channels' row sizes
#define MAX_META 65536
// Entries of one INDEX block: as many as fit in MAX_PAYLOAD (8-byte header, 40 bytes each). A
// longer index is split over consecutive INDEX blocks (format 1.1).
#define INDEX_PART_MAX ((MAX_PAYLOAD - 8u) / INDEX_ENTRY)
#define TRAILER_INTERRUPTED 1u  // trailer flags (bytes 8..11): the recording stopped early
#define MAX_INIT (1u << 24)
#ifndef ZSTD_LEVEL
#define ZSTD_LEVEL 1  // fast: recording must cost little next to the rollout (docs/benchmarks.md)
#endif
// The level's hash table narrowed to 2^12 entries (the level's: 2^13-2^15 by the chunk's size,
// cleared for every chunk): on filtered chunks zstd compresses 1.25-1.35x as fast, to files within
// 0.3 % of the size, and decompresses as fast (docs/benchmarks.md).
#define ZSTD_HASH_LOG 12

// The fuzzing build (tests/fuzz/run.sh) ignores checksum mismatches so that the fuzzer reaches
// the parsing behind them; every other check still applies.
#ifdef AM_DS_FUZZING
#define CRC_BAD(got, want) ((void)(got), (void)(want), 0)
#else
#define CRC_BAD(got, want) ((got) != (want))
#endif

//---------------------------------- little-endian helpers -----------------------------------------

static inline void put16(uint8_t* p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t get16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t get32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t get64(const uint8_t* p) { return get32(p) | ((uint64_t)get32(p + 4) << 32); }

//---------------------------------- block header --------------------------------------------------
//
// BLOCK_HDR bytes: magic "AMBK", type (u8), codec (u8), prefix bytes (u16), payload bytes (u32),
// raw body bytes (u32), payload CRC-32 (u32), CRC-32 of the 20 bytes before it (u32).

typedef struct am_ds_bhdr {
  int type, codec;
  uint32_t prefix, payload, raw, crc;
} am_ds_bhdr;

// Writes a block header (its own CRC included) into h (BLOCK_HDR bytes).
void am_ds_put_bhdr(uint8_t* h, int type, int codec, uint16_t prefix, uint32_t payload,
                    uint32_t raw, uint32_t payload_crc);

//---------------------------------- filters -------------------------------------------------------
//
// A channel's column of a chunk (rows x elems values, row-major) is stored as: the values in
// their stored form (the dtype's bits; a LOSSY channel: f32 as binary16, f64 as binary32), then a
// predictor (each value replaced by its residual against a prediction), then a layout (the
// residuals' bytes or bits regrouped into planes). Format 1.0/1.1 files use {SUB or NONE, BYTE}
// for every chunk (from the channel's DELTA flag); 1.2 files name the filter of each channel in
// each chunk (docs/dataset-format.md, "Filters").

enum {
  PRED_NONE = AM_DS_PRED_NONE,  // the value itself
  PRED_SUB = AM_DS_PRED_SUB,    // minus the same element of the previous row (unsigned, wrapping)
  PRED_SUBZ = AM_DS_PRED_SUBZ,  // the same difference, zigzag-mapped (small negative -> small positive)
  PRED_XOR = AM_DS_PRED_XOR,    // XOR the same element of the previous row
  PRED_REF = AM_DS_PRED_REF,    // XOR the same element of another channel (filter.ref)
  PRED_MODEL = AM_DS_PRED_MODEL,  // 1.3: the channel's linear model of other channels (MODELS block)
  PRED_COUNT
};
enum { LAYOUT_BYTE = AM_DS_LAYOUT_BYTE, LAYOUT_BIT = AM_DS_LAYOUT_BIT, LAYOUT_COUNT };
#define FILTER_ENTRY 4  // bytes per channel in a 1.2 chunk's filter table: pred, layout, u16 ref

typedef struct am_ds_filt {
  uint8_t pred, layout;
  uint16_t ref;  // PRED_REF: the channel whose values predict this one's (an earlier one)
  const uint8_t* mask;  // PRED_MODEL: per element, 1 where the model predicts it (the prediction
                        // is passed as ref), 0 where the previous row does
} am_ds_filt;

// Bytes that count values of width sw take once laid out (BIT pads each bit plane to whole bytes).
size_t am_ds_laid_size(size_t count, size_t sw, int layout);

// Encodes rows x elems values of width sw (src; ref: the PRED_REF prediction, count values of
// width sw, else NULL) into dst (am_ds_laid_size bytes), using tmp (count x sw bytes).
void am_ds_encode(uint8_t* restrict dst, const uint8_t* restrict src, const uint8_t* ref,
                  size_t rows, size_t elems, size_t sw, am_ds_filt f, uint8_t* restrict tmp);
// Inverse of am_ds_encode: src (am_ds_laid_size bytes) into dst (count x sw bytes), with tmp of
// count x sw bytes. A BIT layout's padding bits must be zero: returns -1 when they are not.
int am_ds_decode(uint8_t* restrict dst, const uint8_t* restrict src, const uint8_t* ref,
                 size_t rows, size_t elems, size_t sw, am_ds_filt f, uint8_t* restrict tmp);

// Lossy stored forms (channel flag AM_DS_CH_LOSSY): IEEE binary32 <-> binary16 with rounding to
// nearest, ties to even (overflow to infinity, NaN kept NaN), and binary64 -> binary32 (C's
// conversion, round to nearest).
uint16_t am_f32_to_f16(uint32_t bits);
uint32_t am_f16_to_f32(uint16_t bits);
// Converts count values of dtype dt (width w) into their lossy stored form (width w / 2), and back.
void am_ds_lossy_pack(uint8_t* dst, const uint8_t* src, size_t count, size_t w);
void am_ds_lossy_unpack(uint8_t* dst, const uint8_t* src, size_t count, size_t w);
// PRED_REF: converts count values of a reference channel of width rw into the bits of the
// predicted channel's dtype (width w): the same bits when rw == w, f32 -> f64 when 4 -> 8.
void am_ds_ref_convert(uint8_t* dst, const uint8_t* src, size_t count, size_t rw, size_t w);
// Whether channel x (dtype xt, lossy xl) can predict channel c by PRED_REF: both exact, of the same
// dtype or f32 predicting f64; or both lossy of the same dtype (the prediction is then x's stored
// form). Shapes must match too (the caller checks).
int am_ds_ref_ok(int xt, int xl, int ct, int cl);

//---------------------------------- models (1.3, 1.4) --------------------------------------------
//
// A channel's model predicts some of its elements from values of the same chunk (other channels'
// in the same row or the row before, its own in the row before or, 1.4, an earlier element of the
// same row): prediction = clamp(f(bias + sum of coef x source value [x a second source value]),
// lo, hi) with f the identity or (1.4) the logistic function or tanh,
// in binary64 with every operation rounded (no fused multiply-add; dataset_format.c is compiled
// with -ffp-contract=off), then converted to the channel's stored form. The residual is the
// zigzagged difference of the two values' order-preserving integers (PRED_MODEL). Writer and reader
// hold the same structures; the MODELS block serialises them (docs/dataset-format.md).

typedef struct am_ds_term {
  uint16_t src;       // source channel (f32 or f64; its own: lag 1, or 1.4 an earlier element)
  uint8_t lag;        // 0: the same row; 1: the row before (0.0 for a chunk's first row)
  uint8_t lag2;       // the second factor's lag
  uint32_t src_elem;  // element of the source's row
  uint16_t src2;      // a second factor's channel (MODEL_NO_SRC: none)
  uint32_t src_elem2;
  double coef;
} am_ds_term;
#define MODEL_NO_SRC 0xFFFFu

typedef struct am_ds_mentry {  // one predicted element
  uint32_t elem;
  double bias, lo, hi;
  uint32_t term0, n_terms;  // its terms in the model's term array
  uint16_t func;            // 1.4: AM_DS_FUNC_* applied to the sum before the clamp
} am_ds_mentry;
#define MODEL_FUNC_COUNT 3  // AM_DS_FUNC_NONE, _LOGISTIC, _TANH

typedef struct am_ds_model {
  int ch;                 // the channel predicted
  uint32_t n_entries, n_terms;
  am_ds_mentry* e;        // increasing elem
  am_ds_term* t;
  // evaluation plan (am_ds_models_check): the distinct source elements (channel, element) the
  // terms read, and per term the index of each factor's (second: UINT32_MAX when none); xv holds
  // each source element's values over a chunk's rows as doubles, after a 0.0 for the row before
  uint32_t n_vars;
  uint16_t* var_src;
  uint32_t *var_elem, *tvar;
  // per entry: own0, how many of its terms come before its first term reading its own channel;
  // tile, at the first of 4 consecutive entries whose first tile terms read the same factors at
  // the same lags (tile <= each one's own0), the number of those terms (0 elsewhere)
  uint32_t *own0, *tile;
  // at a tile, terms prod0 .. prod1 - 1 of its 4 entries (0, 0: none) are products whose first
  // factor is one source element per entry and whose second is the same for all 4
  uint32_t *prod0, *prod1;
  int self;           // how it reads its own channel: SELF_ROW | SELF_BEFORE (dataset_format.c)
  uint32_t* own_var;  // per element of its own channel: its source element's index, or UINT32_MAX
  // SELF_ROW only: waves of entries, wave w being entries wave0[w] .. wave0[w + 1] - 1, none of
  // which reads an element with an entry of its own wave (n_waves + 1 starts)
  uint32_t n_waves, *wave0;
  double* xv;
  size_t xv_rows;
} am_ds_model;

#define MODEL_ENTRY 32  // serialised sizes: an entry (u32 elem, u16 n_terms, u16 func, 3 f64)
#define MODEL_TERM 24   // a term (u16 src, u8 lag, u8 lag2, u32 src_elem, u16 src2, u16 0,
                        // u32 src_elem2, f64 coef)

// Checks a set of models against a channel table (dtype[c], elems[c] for n_ch channels): targets
// and sources f32 or f64, elements in range and increasing, lags 0 or 1, at most one model per
// channel, its own channel read only in the row before (or, minor >= 4, at an earlier element of
// the same row), functions only from 1.4, and no cycle among models. On success writes into
// order[] the models' indices in an order where every model comes after the models of its
// sources. Returns 0 or -1 with a reason naming the channel.
// Also prepares each model's evaluation plan (freed by am_ds_models_free).
int am_ds_models_check(am_ds_model* m, int n_models, const int* dtype, const size_t* elems,
                       int n_ch, int minor, int* order, char* why, size_t why_sz);
// Serialised size and serialisation of the models (the MODELS block body), and parsing of a body
// into models (allocated: free with am_ds_models_free). Parsing checks sizes only; the caller
// runs am_ds_models_check.
size_t am_ds_models_size(const am_ds_model* m, int n_models);
void am_ds_models_put(uint8_t* b, const am_ds_model* m, int n_models);
int am_ds_models_parse(const uint8_t* b, size_t n, am_ds_model** out, int* n_out, char* why,
                       size_t why_sz);
void am_ds_models_free(am_ds_model* m, int n_models);
// The prediction of model m's channel for the rows of a chunk: cols[c] holds channel c's decoded
// values (row-major, elems[c] per row; its own channel's too). Writes the values (elems of the
// channel per row, of the stored width: the dtype's, halved when lossy) at their place in pred,
// and mask[e] = 1 for the elements the model predicts (0 elsewhere: pred left as it was). -1 when
// out of memory.
// Room in the model's plan for chunks of up to rows rows (am_ds_model_predict and
// am_ds_decode_model make it as needed; a writer makes it once up front). 0 or -1.
int am_ds_model_reserve(am_ds_model* m, size_t rows);
int am_ds_model_predict(am_ds_model* m, const uint8_t* const* cols, const int* dtype,
                        const size_t* elems, size_t rows, int lossy, uint8_t* pred, uint8_t* mask);
// Where the processor has AVX-512 a tile's 8 sums run in one pass, else in two of 4 (the same
// bits either way). on = 0 forces two passes (for tests of that path; 1 by default).
void am_ds_model_wide_sums(int on);
// PRED_MODEL's decoding of a chunk's column (laid bytes in src) into out (stored form, rows x
// elems): each prediction from cols (cols[m->ch] = the channel's decoded values, filled as they
// are decoded: by element for a model reading its own row, by row for one reading its row before;
// when lossy, widened from out into it).
// pred: rows x elems values of width sw; acc: am_ds_model_acc_size doubles (used when the model
// reads its own channel); tmp: rows x elems x sw bytes. -1 when bit padding is set, -2 out of memory.
size_t am_ds_model_acc_size(size_t n_entries, size_t rows);
int am_ds_decode_model(uint8_t* out, const uint8_t* src, size_t rows, size_t elems, size_t sw,
                       int layout, am_ds_model* m, const uint8_t** cols, const int* dtype,
                       const size_t* all_elems, int lossy, uint8_t* pred, uint8_t* mask,
                       double* acc, uint8_t* tmp);

#endif  // AM_DATASET_FORMAT_H
