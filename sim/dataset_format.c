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

//---------------------------------- predictors ----------------------------------------------------
//
// One loop per width (1, 2, 4, 8 bytes) through a macro; values are loaded and stored with memcpy
// since a channel's column need not be aligned. The first row has no previous row: its prediction
// is 0 (the value is stored as is; zigzag still applies).

#define LOADER(T)                                              \
  static inline T ld_##T(const uint8_t* p, size_t k) {         \
    T v;                                                       \
    memcpy(&v, p + sizeof(T) * k, sizeof(T));                  \
    return v;                                                  \
  }
LOADER(uint8_t)
LOADER(uint16_t)
LOADER(uint32_t)
LOADER(uint64_t)
LOADER(float)
LOADER(double)
#undef LOADER
#define LD(T, p, k) ld_##T(p, k)
#define ST(T, p, k, v) do { T s_ = (T)(v); memcpy((p) + sizeof(T) * (k), &s_, sizeof(T)); } while (0)
#define ZIG(T, d) ((T)(((T)(d) << 1) ^ (T)(0 - (T)((T)(d) >> (8 * sizeof(T) - 1)))))
#define UNZIG(T, z) ((T)(((T)(z) >> 1) ^ (T)(0 - (T)((z) & 1))))

#define PRED_ENC(T)                                                                              \
  switch (f.pred) {                                                                              \
    case PRED_SUB:                                                                               \
      for (size_t k = 0; k < first; k++) ST(T, out, k, LD(T, src, k));                          \
      for (size_t k = first; k < count; k++) ST(T, out, k, LD(T, src, k) - LD(T, src, k - elems)); \
      break;                                                                                     \
    case PRED_SUBZ:                                                                              \
      for (size_t k = 0; k < first; k++) ST(T, out, k, ZIG(T, LD(T, src, k)));                   \
      for (size_t k = first; k < count; k++)                                                     \
        ST(T, out, k, ZIG(T, (T)(LD(T, src, k) - LD(T, src, k - elems))));                      \
      break;                                                                                     \
    case PRED_XOR:                                                                               \
      for (size_t k = 0; k < first; k++) ST(T, out, k, LD(T, src, k));                          \
      for (size_t k = first; k < count; k++) ST(T, out, k, LD(T, src, k) ^ LD(T, src, k - elems)); \
      break;                                                                                     \
    case PRED_REF:                                                                               \
      for (size_t k = 0; k < count; k++) ST(T, out, k, LD(T, src, k) ^ LD(T, ref, k));          \
      break;                                                                                     \
    default: memcpy(out, src, count * sizeof(T));                                                \
  }

static void predict(uint8_t* restrict out, const uint8_t* restrict src, const uint8_t* ref,
                    size_t count, size_t elems, size_t sw, am_ds_filt f) {
  size_t first = elems < count ? elems : count;
  switch (sw) {
    case 1: PRED_ENC(uint8_t) break;
    case 2: PRED_ENC(uint16_t) break;
    case 4: PRED_ENC(uint32_t) break;
    default: PRED_ENC(uint64_t) break;
  }
}
//---------------------------------- layouts -------------------------------------------------------
//
// BYTE: byte j of value k at j x count + k. BIT: bit b (0 = least significant) of byte j of value
// k is bit k % 8 of byte (8j + b) x nb + k / 8, nb = ceil(count / 8); the last byte of each plane
// is padded with zero bits. An 8 x 8 bit-matrix transpose (bytes of 8 values in, bit planes out)
// does 8 values of one byte plane at a time; it is its own inverse.

static inline uint64_t transpose8(uint64_t x) {
  uint64_t t;
  t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x ^= t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x ^= t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  x ^= t ^ (t << 28);
  return x;
}

size_t am_ds_laid_size(size_t count, size_t sw, int layout) {
  return layout == LAYOUT_BIT ? sw * 8 * ((count + 7) / 8) : count * sw;
}

static void lay(uint8_t* restrict dst, const uint8_t* restrict v, size_t count, size_t sw, int layout) {
  if (layout != LAYOUT_BIT) {
    if (sw == 1) {
      memcpy(dst, v, count);
      return;
    }
    for (size_t k = 0; k < count; k++)
      for (size_t j = 0; j < sw; j++) dst[j * count + k] = v[k * sw + j];
    return;
  }
  size_t nb = (count + 7) / 8;
  for (size_t j = 0; j < sw; j++) {
    uint8_t* plane = dst + 8 * j * nb;
    for (size_t g = 0; g < nb; g++) {
      uint64_t x = 0;
      size_t n = count - 8 * g < 8 ? count - 8 * g : 8;
      for (size_t m = 0; m < n; m++) x |= (uint64_t)v[(8 * g + m) * sw + j] << (8 * m);
      x = transpose8(x);
      for (size_t b = 0; b < 8; b++) plane[b * nb + g] = (uint8_t)(x >> (8 * b));
    }
  }
}

void am_ds_encode(uint8_t* restrict dst, const uint8_t* restrict src, const uint8_t* ref,
                  size_t rows, size_t elems, size_t sw, am_ds_filt f, uint8_t* restrict tmp) {
  size_t count = rows * elems;
  if (f.pred == PRED_NONE) {
    lay(dst, src, count, sw, f.layout);
    return;
  }
  predict(tmp, src, ref, count, elems, sw, f);
  lay(dst, tmp, count, sw, f.layout);
}

// One row of n values (from value k0 of count) out of byte planes, un-predicted against prev (the
// previous row, or the reference's values; NULL for the first row). restrict lets the compiler
// vectorise the loop over the row.
#define ROW_DEC(T)                                                                              \
  static void row_dec_##T(uint8_t* restrict out, const uint8_t* restrict prev,                 \
                          const uint8_t* restrict src, size_t count, size_t k0, size_t n,       \
                          int pred) {                                                          \
    for (size_t e = 0; e < n; e++) {                                                           \
      T v = 0;                                                                                 \
      for (size_t j = 0; j < sizeof(T); j++) v |= (T)((T)src[j * count + k0 + e] << (8 * j));  \
      T p = prev ? LD(T, prev, e) : 0;                                                         \
      T x = pred == PRED_SUB ? (T)(v + p) : pred == PRED_SUBZ ? (T)(UNZIG(T, v) + p) : (T)(v ^ p); \
      ST(T, out, e, x);                                                                        \
    }                                                                                          \
  }
ROW_DEC(uint8_t)
ROW_DEC(uint16_t)
ROW_DEC(uint32_t)
ROW_DEC(uint64_t)

static void byte_decode(uint8_t* restrict dst, const uint8_t* restrict src, const uint8_t* ref,
                        size_t count, size_t elems, size_t sw, am_ds_filt f) {
  void (*row)(uint8_t*, const uint8_t*, const uint8_t*, size_t, size_t, size_t, int) =
      sw == 1 ? row_dec_uint8_t : sw == 2 ? row_dec_uint16_t : sw == 4 ? row_dec_uint32_t
                                                                  : row_dec_uint64_t;
  if (f.pred == PRED_NONE || f.pred == PRED_REF) {  // no dependence between rows: one long row
    row(dst, f.pred == PRED_REF ? ref : NULL, src, count, 0, count, PRED_XOR);
    return;
  }
  for (size_t k = 0; k < count; k += elems)
    row(dst + k * sw, k ? dst + (k - elems) * sw : NULL, src, count, k, elems, f.pred);
}

// The bit layout into the byte layout (byte plane j of count bytes at j x count): one 8 x 8
// transpose and one 8-byte store per 8 values of a plane. -1 when padding bits are set.
static int bits_to_bytes(uint8_t* restrict planes, const uint8_t* restrict src, size_t count,
                         size_t sw) {
  size_t nb = (count + 7) / 8, full = count / 8, tail = count % 8;
  for (size_t j = 0; j < sw; j++) {
    const uint8_t* p = src + 8 * j * nb;
    uint8_t* out = planes + j * count;
    for (size_t g = 0; g < full; g++) {
      uint64_t x = (uint64_t)p[g] | (uint64_t)p[nb + g] << 8 | (uint64_t)p[2 * nb + g] << 16 |
                   (uint64_t)p[3 * nb + g] << 24 | (uint64_t)p[4 * nb + g] << 32 |
                   (uint64_t)p[5 * nb + g] << 40 | (uint64_t)p[6 * nb + g] << 48 |
                   (uint64_t)p[7 * nb + g] << 56;
      x = transpose8(x);
      memcpy(out + 8 * g, &x, 8);
    }
    if (tail) {
      uint64_t x = 0;
      for (size_t b = 0; b < 8; b++) x |= (uint64_t)p[b * nb + full] << (8 * b);
      x = transpose8(x);
      if (x >> (8 * tail)) return -1;
      for (size_t m = 0; m < tail; m++) out[8 * full + m] = (uint8_t)(x >> (8 * m));
    }
  }
  return 0;
}

int am_ds_decode(uint8_t* restrict dst, const uint8_t* restrict src, const uint8_t* ref,
                 size_t rows, size_t elems, size_t sw, am_ds_filt f, uint8_t* restrict tmp) {
  size_t count = rows * elems;
  if (f.layout == LAYOUT_BIT) {  // bits -> byte planes (in tmp), then as the byte layout
    if (bits_to_bytes(tmp, src, count, sw)) return -1;
    src = tmp;
  }
  byte_decode(dst, src, ref, count, elems, sw, f);
  return 0;
}

//---------------------------------- lossy forms and references ------------------------------------

uint16_t am_f32_to_f16(uint32_t x) {
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffffu, e = ax >> 23, mant = ax & 0x7fffffu;
  if (e == 255)  // infinity, or NaN (kept NaN: the payload's top bits, quiet bit set)
    return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
  if (e >= 143) return (uint16_t)(sign | 0x7c00);  // >= 2^16: infinity
  if (e < 102) return sign;                         // < 2^-25: zero
  uint32_t v, rem, half;
  if (e <= 112) {  // a binary16 subnormal: m x 2^-24
    uint32_t m = mant | 0x800000u, shift = 126 - e;
    v = m >> shift;
    rem = m & ((1u << shift) - 1);
    half = 1u << (shift - 1);
  } else {
    v = ((e - 112) << 10) | (mant >> 13);
    rem = mant & 0x1fffu;
    half = 0x1000u;
  }
  if (rem > half || (rem == half && (v & 1))) v++;  // a carry moves to the exponent (or to inf)
  return (uint16_t)(sign | v);
}

uint32_t am_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
  if (e == 31) return sign | 0x7f800000u | (m << 13);
  if (e) return sign | ((e + 112) << 23) | (m << 13);
  if (!m) return sign;
  uint32_t s = 0;
  while (!(m & 0x400)) {
    m <<= 1;
    s++;
  }
  return sign | ((113 - s) << 23) | ((m & 0x3ffu) << 13);
}

void am_ds_lossy_pack(uint8_t* dst, const uint8_t* src, size_t count, size_t w) {
  if (w == 4)
    for (size_t k = 0; k < count; k++) ST(uint16_t, dst, k, am_f32_to_f16(LD(uint32_t, src, k)));
  else
    for (size_t k = 0; k < count; k++) ST(float, dst, k, (float)LD(double, src, k));
}

void am_ds_lossy_unpack(uint8_t* dst, const uint8_t* src, size_t count, size_t w) {
  if (w == 8) {  // binary32 -> binary64, exactly
    am_ds_ref_convert(dst, src, count, 4, 8);
    return;
  }
  for (size_t k = 0; k < count; k++) ST(uint32_t, dst, k, am_f16_to_f32(LD(uint16_t, src, k)));
}

int am_ds_ref_ok(int xt, int xl, int ct, int cl) {
  if (xl || cl) return xl && cl && xt == ct;
  return xt == ct || (xt == AM_DT_F32 && ct == AM_DT_F64);
}

void am_ds_ref_convert(uint8_t* dst, const uint8_t* src, size_t count, size_t rw, size_t w) {
  if (rw == w) {
    memcpy(dst, src, count * w);
    return;
  }
  for (size_t k = 0; k < count; k++) {
    float x = LD(float, src, k);
    ST(double, dst, k, (double)x);
  }
}
