// dataset_format.c: the parts of the dataset format that the writer and the reader share: dtypes,
// the byte-shuffle/delta filters and the block header (layout in dataset_format.h and
// docs/dataset-format.md).
#include <string.h>

#include "dataset_format.h"

void am_ds_put_bhdr(uint8_t* h, int type, int codec, uint16_t prefix, uint32_t payload,
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

// am_ds_filter: the loops for widths 4 and 8 have no branch in their bodies (the
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
void am_ds_filter(uint8_t* restrict dst, const uint8_t* restrict src, size_t rows, size_t elems,
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

void am_ds_unfilter(uint8_t* dst, const uint8_t* src, size_t rows, size_t elems, size_t w,
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
