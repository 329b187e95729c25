// dataset_format.c: the parts of the dataset format that the writer and the reader share: dtypes,
// the byte-shuffle/delta filters and the block header (layout in dataset_format.h and
// docs/dataset-format.md).
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define AM_F16C 1
#endif

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

// Hot loops compiled for AVX-512, AVX2 and baseline x86-64, picked at load time (integer and
// element-wise IEEE operations only: every variant gives the same bits).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AM_CLONES
#endif

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
// PRED_MODEL: a float's bits as an unsigned integer in the order of the values (negatives
// reversed below the positives), so that close values have close integers; and back.
#define TOP(T) ((T)((T)1 << (8 * sizeof(T) - 1)))
// Branch-free: a negative u (sign bit set) is flipped whole, a positive one gets the sign bit.
#define SIGNS(T, u) ((T)(0 - (T)((T)(u) >> (8 * sizeof(T) - 1))))
#define MONO(T, u) ((T)((u) ^ (SIGNS(T, u) | TOP(T))))
#define UNMONO(T, m) ((T)((m) ^ ((T)~SIGNS(T, m) | TOP(T))))

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
    case PRED_MODEL: /* count is rows x elems */                                                \
      for (size_t k0 = 0; k0 < count; k0 += elems)                                              \
        for (size_t e = 0; e < elems; e++) {                                                     \
          size_t k = k0 + e;                                                                     \
          T p = f.mask[e] ? LD(T, ref, k) : k0 ? LD(T, src, k - elems) : 0;                      \
          T x = LD(T, src, k);                                                                   \
          ST(T, out, k, ZIG(T, (T)(MONO(T, x) - MONO(T, p))));                                   \
        }                                                                                        \
      break;                                                                                     \
    default: memcpy(out, src, count * sizeof(T));                                                \
  }

AM_CLONES static void predict(uint8_t* restrict out, const uint8_t* restrict src,
                              const uint8_t* ref, size_t count, size_t elems, size_t sw,
                              am_ds_filt f) {
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

// Byte planes of n values of sw bytes: byte j of value k to dst[j x stride + k]. The widths are
// constants in each loop, which the compiler turns into shuffles; 8-byte values go through their
// two 4-byte halves, a block at a time.
#define BYTE_PLANES(SW)                                                                          \
  for (size_t k = 0; k < n; k++)                                                               \
    for (size_t j = 0; j < (SW); j++) dst[j * stride + k] = v[k * (SW) + j];
static inline void byte_planes4(uint8_t* restrict dst, size_t stride, const uint8_t* restrict v,
                                size_t n) {
  BYTE_PLANES(4)
}
static inline void byte_planes(uint8_t* restrict dst, size_t stride, const uint8_t* restrict v,
                               size_t n, size_t sw) {
  switch (sw) {
    case 1: memcpy(dst, v, n); return;
    case 2: BYTE_PLANES(2) return;
    case 4: byte_planes4(dst, stride, v, n); return;
    case 8: {
      enum { B = 256 };
      uint32_t lo[B], hi[B];
      for (size_t k0 = 0; k0 < n; k0 += B) {
        size_t m = n - k0 < B ? n - k0 : B;
        const uint8_t* w = v + 8 * k0;
        for (size_t k = 0; k < m; k++) {
          memcpy(&lo[k], w + 8 * k, 4);
          memcpy(&hi[k], w + 8 * k + 4, 4);
        }
        byte_planes4(dst + k0, stride, (const uint8_t*)lo, m);
        byte_planes4(dst + 4 * stride + k0, stride, (const uint8_t*)hi, m);
      }
      return;
    }
    default: BYTE_PLANES(sw)
  }
}
#undef BYTE_PLANES

// The 8 bit planes (nb bytes apart) of one byte plane p of n values, from byte g0 of each bit
// plane (the values from 8 g0 on): 16 values at a time where SSE2 gathers each bit's 16 bits at
// once (the top bit of each byte, then the bytes doubled), the rest 8 at a time by transpose8.
static inline void bit_planes(uint8_t* restrict dst, size_t nb, size_t g0,
                              const uint8_t* restrict p, size_t n) {
  size_t k = 0;
#ifdef __SSE2__
  for (; k + 16 <= n; k += 16) {
    __m128i x = _mm_loadu_si128((const __m128i*)(p + k));
    for (int b = 7; b >= 0; b--) {
      uint16_t m = (uint16_t)_mm_movemask_epi8(x);
      memcpy(dst + (size_t)b * nb + g0 + k / 8, &m, 2);
      x = _mm_add_epi8(x, x);
    }
  }
#endif
  for (; k < n; k += 8) {
    uint64_t x = 0;
    size_t m = n - k < 8 ? n - k : 8;
    memcpy(&x, p + k, m);  // (little-endian: byte m of x is value k + m)
    x = transpose8(x);
    for (size_t b = 0; b < 8; b++) dst[b * nb + g0 + k / 8] = (uint8_t)(x >> (8 * b));
  }
}

// Lays count values of sw bytes out as the layout says (BYTE or BIT, above). BIT goes through the
// byte planes of a block of values at a time.
AM_CLONES static void lay(uint8_t* restrict dst, const uint8_t* restrict v, size_t count, size_t sw,
                          int layout) {
  if (layout != LAYOUT_BIT) {
    byte_planes(dst, count, v, count, sw);
    return;
  }
  size_t nb = (count + 7) / 8;
  if (sw == 1) {
    bit_planes(dst, nb, 0, v, count);
    return;
  }
  enum { BLK = 512 };  // values per block: a multiple of 16
  uint8_t planes[8 * BLK];
  for (size_t k0 = 0; k0 < count; k0 += BLK) {
    size_t m = count - k0 < BLK ? count - k0 : BLK;
    byte_planes(planes, BLK, v + k0 * sw, m, sw);
    for (size_t j = 0; j < sw; j++) bit_planes(dst + 8 * j * nb, nb, k0 / 8, planes + j * BLK, m);
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

// PRED_MODEL's row: the model's prediction (pred) where mask is set, the previous row elsewhere.
#define ROW_MODEL(T)                                                                            \
  AM_CLONES static void row_model_##T(uint8_t* restrict out, const uint8_t* restrict prev,     \
                                      const uint8_t* restrict pred, const uint8_t* restrict mask, \
                                      const uint8_t* restrict src, size_t count, size_t k0,       \
                                      size_t n) {                                               \
    static const uint8_t zero[sizeof(T)];                                                      \
    size_t step = prev ? sizeof(T) : 0; /* the first row's "row before" is 0 */                \
    if (!prev) prev = zero;                                                                    \
    for (size_t e = 0; e < n; e++) {                                                           \
      T v = 0;                                                                                 \
      for (size_t j = 0; j < sizeof(T); j++) v |= (T)((T)src[j * count + k0 + e] << (8 * j));  \
      T pv, pr, mm = (T)(0 - (T)mask[e]);                                                      \
      memcpy(&pv, prev + step * e, sizeof(T));                                                 \
      memcpy(&pr, pred + sizeof(T) * e, sizeof(T));                                           \
      T p = (T)((pr & mm) | (pv & (T)~mm));                                                    \
      T m = (T)(UNZIG(T, v) + MONO(T, p));                                                     \
      ST(T, out, e, UNMONO(T, m));                                                             \
    }                                                                                          \
  }
ROW_MODEL(uint16_t)
ROW_MODEL(uint32_t)
ROW_MODEL(uint64_t)

static void byte_decode(uint8_t* restrict dst, const uint8_t* restrict src, const uint8_t* ref,
                        size_t count, size_t elems, size_t sw, am_ds_filt f) {
  void (*row)(uint8_t*, const uint8_t*, const uint8_t*, size_t, size_t, size_t, int) =
      sw == 1 ? row_dec_uint8_t : sw == 2 ? row_dec_uint16_t : sw == 4 ? row_dec_uint32_t
                                                                  : row_dec_uint64_t;
  if (f.pred == PRED_MODEL) {  // floats only: widths 2 (lossy f32), 4 and 8
    void (*rm)(uint8_t*, const uint8_t*, const uint8_t*, const uint8_t*, const uint8_t*, size_t,
               size_t, size_t) = sw == 2 ? row_model_uint16_t : sw == 4 ? row_model_uint32_t
                                                                       : row_model_uint64_t;
    for (size_t k = 0; k < count; k += elems)
      rm(dst + k * sw, k ? dst + (k - elems) * sw : NULL, ref + k * sw, f.mask, src, count, k, elems);
    return;
  }
  if (f.pred == PRED_NONE || f.pred == PRED_REF) {  // no dependence between rows: one long row
    row(dst, f.pred == PRED_REF ? ref : NULL, src, count, 0, count, PRED_XOR);
    return;
  }
  for (size_t k = 0; k < count; k += elems)
    row(dst + k * sw, k ? dst + (k - elems) * sw : NULL, src, count, k, elems, f.pred);
}

// The bit layout into the byte layout (byte plane j of count bytes at j x count): one 8 x 8
// transpose and one 8-byte store per 8 values of a plane. -1 when padding bits are set.
AM_CLONES static int bits_to_bytes(uint8_t* restrict planes, const uint8_t* restrict src,
                                   size_t count, size_t sw) {
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

// The conversions by the processor (F16C), 8 values at a time, where it has them: the same bits as
// am_f32_to_f16 and am_f16_to_f32 (rounding to nearest even, subnormals kept), except for NaN
// payloads, so a group of 8 holding an infinity or a NaN is converted by the functions above.
#ifdef AM_F16C
// CPUID leaf 1: ECX bit 29 F16C, 28 AVX, 27 OSXSAVE; XCR0 bits 1-2: the OS saves the AVX state.
static int have_f16c(void) {
  static atomic_int have = -1;  // readers on several threads may all find it unset
  int known = atomic_load_explicit(&have, memory_order_relaxed);
  if (known < 0) {
    unsigned a, b, c, d;
    int ok = __get_cpuid(1, &a, &b, &c, &d) && (c >> 27 & 7) == 7;
    if (ok) {
      unsigned lo, hi;
      __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      ok = (lo & 6) == 6;
    }
    atomic_store_explicit(&have, ok, memory_order_relaxed);
    known = ok;
  }
  return known;
}

__attribute__((target("avx,f16c"))) static size_t f32_to_f16_hw(uint8_t* dst, const uint8_t* src,
                                                                 size_t count) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 inf = _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000));
  size_t k = 0;
  for (; k + 8 <= count; k += 8) {
    __m256 x = _mm256_loadu_ps((const float*)(src + 4 * k));
    // |x| not below infinity (unordered: NaN) -> the software conversion for the group
    if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(x, magnitude), inf, _CMP_NLT_UQ))) {
      for (size_t i = k; i < k + 8; i++) ST(uint16_t, dst, i, am_f32_to_f16(LD(uint32_t, src, i)));
      continue;
    }
    __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128((__m128i*)(dst + 2 * k), h);
  }
  return k;
}

__attribute__((target("avx,f16c"))) static size_t f16_to_f32_hw(uint8_t* dst, const uint8_t* src,
                                                                 size_t count) {
  const __m128i expo = _mm_set1_epi16(0x7c00);
  size_t k = 0;
  for (; k + 8 <= count; k += 8) {
    __m128i h = _mm_loadu_si128((const __m128i*)(src + 2 * k));
    if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, expo), expo))) {
      for (size_t i = k; i < k + 8; i++) ST(uint32_t, dst, i, am_f16_to_f32(LD(uint16_t, src, i)));
      continue;
    }
    _mm256_storeu_ps((float*)(dst + 4 * k), _mm256_cvtph_ps(h));
  }
  return k;
}
#endif

void am_ds_lossy_pack(uint8_t* dst, const uint8_t* src, size_t count, size_t w) {
  if (w == 4) {
    size_t k = 0;
#ifdef AM_F16C
    if (have_f16c()) k = f32_to_f16_hw(dst, src, count);
#endif
    for (; k < count; k++) ST(uint16_t, dst, k, am_f32_to_f16(LD(uint32_t, src, k)));
  } else {
    for (size_t k = 0; k < count; k++) ST(float, dst, k, (float)LD(double, src, k));
  }
}

void am_ds_lossy_unpack(uint8_t* dst, const uint8_t* src, size_t count, size_t w) {
  if (w == 8) {  // binary32 -> binary64, exactly
    am_ds_ref_convert(dst, src, count, 4, 8);
    return;
  }
  size_t k = 0;
#ifdef AM_F16C
  if (have_f16c()) k = f16_to_f32_hw(dst, src, count);
#endif
  for (; k < count; k++) ST(uint32_t, dst, k, am_f16_to_f32(LD(uint16_t, src, k)));
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

//---------------------------------- models (1.3) -------------------------------------------------

static int float_dtype(int dt) { return dt == AM_DT_F32 || dt == AM_DT_F64; }

// A term that reads the model's own channel (from it on, an entry's sum waits for the row before
// or for the earlier elements of its row).
static int own_term(const am_ds_model* m, const am_ds_term* t) {
  return t->src == m->ch || t->src2 == m->ch;
}

// How model m reads its own channel: SELF_ROW in the same row (then its elements decode one after
// the other), SELF_BEFORE in the row before (then its rows decode one after the other), both, or
// neither (0).
enum { SELF_ROW = 1, SELF_BEFORE = 2 };
static int model_self(const am_ds_model* m) {
  int self = 0;
  for (uint32_t k = 0; k < m->n_terms; k++) {
    const am_ds_term* t = &m->t[k];
    for (int f = 0; f < 2; f++)
      if ((f ? t->src2 : t->src) == m->ch) self |= (f ? t->lag2 : t->lag) ? SELF_BEFORE : SELF_ROW;
  }
  return self;
}

// Whether element se has an entry among entries k0 .. k1 - 1 (in increasing element order).
static int entry_of(const am_ds_model* m, uint32_t se, uint32_t k0, uint32_t k1) {
  while (k0 < k1) {
    uint32_t h = k0 + (k1 - k0) / 2;
    if (m->e[h].elem == se) return 1;
    if (m->e[h].elem < se) k0 = h + 1;
    else k1 = h;
  }
  return 0;
}

#define PLAN_TILE 8       // entries summed together where their terms read the same factors
#define PLAN_TILE_MIN 8   // fewer shared terms: each entry on its own

// The index of factor f (0 or 1) of term j of entry k, from its plan.
#define TVAR(m, k, j, f) ((m)->tvar[2 * ((size_t)(m)->e[k].term0 + (j)) + (f)])

// The run of products after the shared terms of the tile at entry k (m->prod0, prod1): terms of
// the same count in its PLAN_TILE entries, the first factor the same for all the run within an
// entry, the second factor the same across the tile's entries.
static void plan_products(am_ds_model* m, uint32_t k) {
  uint32_t n = m->e[k].n_terms;
  for (uint32_t g = 1; g < PLAN_TILE; g++)
    if (m->e[k + g].n_terms != n) return;
  for (uint32_t a = m->tile[k]; a < n; a++) {
    uint32_t b = a;
    for (; b < n; b++) {
      int ok = 1;
      for (uint32_t g = 0; g < PLAN_TILE && ok; g++) {
        const am_ds_term *t = &m->t[m->e[k + g].term0 + b], *t0 = &m->t[m->e[k + g].term0 + a];
        const am_ds_term* u = &m->t[m->e[k].term0 + b];
        ok = t->src2 != MODEL_NO_SRC && TVAR(m, k + g, b, 0) == TVAR(m, k + g, a, 0) &&
             t->lag == t0->lag && TVAR(m, k + g, b, 1) == TVAR(m, k, b, 1) && t->lag2 == u->lag2;
      }
      if (!ok) break;
    }
    if (b - a >= PLAN_TILE_MIN) {
      m->prod0[k] = a;
      m->prod1[k] = b;
      return;
    }
  }
}

// Frees model m's evaluation plan (not xv, its values).
static void plan_free(am_ds_model* m) {
  uint32_t** a[] = {&m->var_elem, &m->tvar, &m->own0, &m->tile, &m->prod0, &m->prod1,
                    &m->own_var, &m->wave0};
  for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
    free(*a[i]);
    *a[i] = NULL;
  }
  free(m->var_src);
  m->var_src = NULL;
}

// Model m's evaluation plan: its distinct source elements, each term's factors as their indices,
// each entry's first own-channel term and the tiles of entries summed together.
static int plan_model(am_ds_model* m, const size_t* elems) {
  plan_free(m);
  m->n_vars = 0;
  m->var_src = malloc(sizeof(uint16_t) * (2 * (size_t)m->n_terms + 1));
  m->var_elem = malloc(sizeof(uint32_t) * (2 * (size_t)m->n_terms + 1));
  m->tvar = malloc(sizeof(uint32_t) * (2 * (size_t)m->n_terms + 1));
  int32_t* at[AM_DS_MAX_CHANNELS] = {0};  // per source channel: element -> var + 1 (0: none yet)
  int rc = m->var_src && m->var_elem && m->tvar ? 0 : -1;
  for (uint32_t k = 0; k < 2 * m->n_terms && !rc; k++) {
    const am_ds_term* t = &m->t[k / 2];
    unsigned src = k % 2 ? t->src2 : t->src;
    uint32_t se = k % 2 ? t->src_elem2 : t->src_elem;
    m->tvar[k] = UINT32_MAX;
    if (src == MODEL_NO_SRC) continue;
    if (!at[src] && !(at[src] = calloc(elems[src], sizeof(int32_t)))) rc = -1;
    else if (!at[src][se]) {
      m->var_src[m->n_vars] = (uint16_t)src;
      m->var_elem[m->n_vars] = se;
      at[src][se] = (int32_t)++m->n_vars;
    }
    if (!rc) m->tvar[k] = (uint32_t)at[src][se] - 1;
  }
  for (int c = 0; c < AM_DS_MAX_CHANNELS; c++) free(at[c]);
  m->own0 = malloc(sizeof(uint32_t) * ((size_t)m->n_entries + 1));
  m->tile = calloc((size_t)m->n_entries + 1, sizeof(uint32_t));
  m->prod0 = calloc((size_t)m->n_entries + 1, sizeof(uint32_t));
  m->prod1 = calloc((size_t)m->n_entries + 1, sizeof(uint32_t));
  m->own_var = malloc(sizeof(uint32_t) * (elems[m->ch] + 1));
  if (rc || !m->own0 || !m->tile || !m->prod0 || !m->prod1 || !m->own_var) return -1;
  m->self = model_self(m);
  for (size_t e = 0; e < elems[m->ch]; e++) m->own_var[e] = UINT32_MAX;
  for (uint32_t v = 0; v < m->n_vars; v++)
    if (m->var_src[v] == (uint16_t)m->ch) m->own_var[m->var_elem[v]] = v;
  for (uint32_t k = 0; k < m->n_entries; k++) {
    const am_ds_mentry* e = &m->e[k];
    uint32_t j = 0;
    while (j < e->n_terms && !own_term(m, &m->t[e->term0 + j])) j++;
    m->own0[k] = j;
  }
  m->n_waves = 0;
  if (!(m->wave0 = malloc(sizeof(uint32_t) * ((size_t)m->n_entries + 2)))) return -1;
  m->wave0[0] = 0;
  for (uint32_t k = 0; k < m->n_entries; k++) {  // a new wave at an entry reading its wave
    const am_ds_mentry* e = &m->e[k];
    uint32_t first = m->e[m->wave0[m->n_waves]].elem;
    int reads = 0;
    for (uint32_t j = m->own0[k]; j < e->n_terms && !reads; j++) {
      const am_ds_term* t = &m->t[e->term0 + j];
      for (int f = 0; f < 2; f++) {
        uint32_t se = f ? t->src_elem2 : t->src_elem;
        if ((f ? t->src2 : t->src) == m->ch && !(f ? t->lag2 : t->lag) && se >= first)
          reads |= entry_of(m, se, m->wave0[m->n_waves], k);
      }
    }
    if (reads) m->wave0[++m->n_waves] = k;
  }
  if (m->n_entries) m->wave0[++m->n_waves] = m->n_entries;
  for (uint32_t k = 0, w = 0; k + PLAN_TILE <= m->n_entries;) {  // greedy: tiles of 8 entries in
    while (m->wave0[w + 1] <= k) w++;                                 // order, each in one wave
    uint32_t n = m->wave0[w + 1] < k + PLAN_TILE ? 0 : m->own0[k];
    for (uint32_t g = 1; g < PLAN_TILE; g++) {
      const am_ds_mentry *a = &m->e[k], *b = &m->e[k + g];
      if (m->own0[k + g] < n) n = m->own0[k + g];
      for (uint32_t j = 0; j < n; j++) {
        const am_ds_term *s = &m->t[a->term0 + j], *u = &m->t[b->term0 + j];
        if (TVAR(m, k, j, 0) != TVAR(m, k + g, j, 0) || TVAR(m, k, j, 1) != TVAR(m, k + g, j, 1) ||
            s->lag != u->lag || s->lag2 != u->lag2)
          n = j;
      }
    }
    if (n < PLAN_TILE_MIN) {
      k++;
      continue;
    }
    m->tile[k] = n;
    plan_products(m, k);
    k += PLAN_TILE;
  }
  return 0;
}

int am_ds_models_check(am_ds_model* m, int n_models, const int* dtype, const size_t* elems,
                       int n_ch, int minor, int* order, char* why, size_t why_sz) {
  int model_of[AM_DS_MAX_CHANNELS];
  for (int c = 0; c < AM_DS_MAX_CHANNELS; c++) model_of[c] = -1;
  for (int i = 0; i < n_models; i++) {
    const am_ds_model* x = &m[i];
    if (x->ch < 0 || x->ch >= n_ch)
      return am_err(why, why_sz, "model %d predicts channel %d of %d", i, x->ch, n_ch);
    if (!float_dtype(dtype[x->ch]))
      return am_err(why, why_sz, "model of channel %d: only f32 and f64 channels have models", x->ch);
    if (model_of[x->ch] >= 0) return am_err(why, why_sz, "channel %d has two models", x->ch);
    model_of[x->ch] = i;
    for (uint32_t k = 0; k < x->n_entries; k++) {
      const am_ds_mentry* e = &x->e[k];
      if (e->elem >= elems[x->ch] || (k && e->elem <= x->e[k - 1].elem))
        return am_err(why, why_sz, "model of channel %d: element %u out of order or range (%zu)",
                      x->ch, e->elem, elems[x->ch]);
      if (e->term0 > x->n_terms || e->n_terms > x->n_terms - e->term0)
        return am_err(why, why_sz, "model of channel %d: element %u's terms out of range", x->ch,
                      e->elem);
      if (e->func >= MODEL_FUNC_COUNT || (e->func && minor < 4))
        return am_err(why, why_sz, "model of channel %d, element %u: function %u unknown in 1.%d",
                      x->ch, e->elem, e->func, minor);
      for (uint32_t j = 0; j < e->n_terms; j++) {
        const am_ds_term* t = &x->t[e->term0 + j];
        for (int f = 0; f < 2; f++) {
          unsigned src = f ? t->src2 : t->src, lag = f ? t->lag2 : t->lag;
          uint32_t se = f ? t->src_elem2 : t->src_elem;
          if (f && src == MODEL_NO_SRC) {
            if (lag || se)
              return am_err(why, why_sz, "model of channel %d, element %u: a term without a second "
                            "factor names its lag or element", x->ch, e->elem);
            continue;
          }
          // its own channel: the row before, or (1.4) an element decoded before this one
          int own_ok = lag == 1 || (minor >= 4 && se < e->elem);
          if (src >= (unsigned)n_ch || !float_dtype(dtype[src]) || lag > 1 || se >= elems[src] ||
              ((int)src == x->ch && !own_ok))
            return am_err(why, why_sz,
                          "model of channel %d, element %u: bad source (channel %u, element %u, lag %u)",
                          x->ch, e->elem, src, se, lag);
        }
      }
    }
  }
  // order: repeatedly take a model whose sources with models are all placed (Kahn, n^2 is fine)
  uint8_t placed[AM_DS_MAX_CHANNELS] = {0};
  for (int n = 0; n < n_models; n++) {
    int pick = -1;
    for (int i = 0; i < n_models && pick < 0; i++) {
      if (placed[m[i].ch]) continue;
      int ready = 1;
      for (uint32_t j = 0; j < m[i].n_terms && ready; j++)
        for (int f = 0; f < 2 && ready; f++) {
          int s = f ? m[i].t[j].src2 : m[i].t[j].src;
          if (s == (int)MODEL_NO_SRC || s == m[i].ch) continue;
          ready = model_of[s] < 0 || placed[s];
        }
      if (ready) pick = i;
    }
    if (pick < 0) return am_err(why, why_sz, "the channel models form a cycle");
    placed[m[pick].ch] = 1;
    order[n] = pick;
  }
  for (int i = 0; i < n_models; i++)
    if (plan_model(&m[i], elems)) return am_err(why, why_sz, "out of memory");
  return 0;
}

size_t am_ds_models_size(const am_ds_model* m, int n_models) {
  size_t n = 4;
  for (int i = 0; i < n_models; i++)
    n += 8 + (size_t)m[i].n_entries * MODEL_ENTRY + (size_t)m[i].n_terms * MODEL_TERM;
  return n;
}

static void put_f64(uint8_t* p, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put64(p, u);
}
static double get_f64(const uint8_t* p) {
  uint64_t u = get64(p);
  double v;
  memcpy(&v, &u, 8);
  return v;
}

void am_ds_models_put(uint8_t* b, const am_ds_model* m, int n_models) {
  put32(b, (uint32_t)n_models);
  size_t o = 4;
  for (int i = 0; i < n_models; i++) {
    put16(b + o, (uint16_t)m[i].ch);
    put16(b + o + 2, 0);
    put32(b + o + 4, m[i].n_entries);
    o += 8;
    for (uint32_t k = 0; k < m[i].n_entries; k++) {
      const am_ds_mentry* e = &m[i].e[k];
      put32(b + o, e->elem);
      put16(b + o + 4, (uint16_t)e->n_terms);
      put16(b + o + 6, e->func);
      put_f64(b + o + 8, e->bias);
      put_f64(b + o + 16, e->lo);
      put_f64(b + o + 24, e->hi);
      o += MODEL_ENTRY;
      for (uint32_t j = 0; j < e->n_terms; j++) {
        const am_ds_term* t = &m[i].t[e->term0 + j];
        put16(b + o, t->src);
        b[o + 2] = t->lag;
        b[o + 3] = t->lag2;
        put32(b + o + 4, t->src_elem);
        put16(b + o + 8, t->src2);
        put16(b + o + 10, 0);
        put32(b + o + 12, t->src_elem2);
        put_f64(b + o + 16, t->coef);
        o += MODEL_TERM;
      }
    }
  }
}

void am_ds_models_free(am_ds_model* m, int n_models) {
  for (int i = 0; m && i < n_models; i++) {
    free(m[i].e);
    free(m[i].t);
    plan_free(&m[i]);
    free(m[i].xv);
  }
  free(m);
}

int am_ds_models_parse(const uint8_t* b, size_t n, am_ds_model** out, int* n_out, char* why,
                       size_t why_sz) {
  *out = NULL;
  *n_out = 0;
  if (n < 4) return am_err(why, why_sz, "models block of %zu bytes", n);
  uint32_t nm = get32(b);
  if (nm > AM_DS_MAX_CHANNELS) return am_err(why, why_sz, "models block: %u models (at most one per channel)", nm);
  am_ds_model* m = calloc(nm ? nm : 1, sizeof *m);
  if (!m) return am_err(why, why_sz, "out of memory");
  size_t o = 4;
  for (uint32_t i = 0; i < nm; i++) {
    if (n - o < 8) goto short_body;
    m[i].ch = get16(b + o);
    if (get16(b + o + 2)) goto reserved;
    uint32_t ne = get32(b + o + 4);
    o += 8;
    if (ne > (n - o) / MODEL_ENTRY) goto short_body;
    m[i].n_entries = ne;
    // terms: count them first (each entry says how many follow it)
    size_t p = o, nt = 0;
    for (uint32_t k = 0; k < ne; k++) {
      if (n - p < MODEL_ENTRY) goto short_body;
      size_t t = get16(b + p + 4);
      p += MODEL_ENTRY;
      if (t > (n - p) / MODEL_TERM) goto short_body;
      p += t * MODEL_TERM;
      nt += t;
    }
    m[i].n_terms = (uint32_t)nt;
    m[i].e = calloc(ne ? ne : 1, sizeof *m[i].e);
    m[i].t = calloc(nt ? nt : 1, sizeof *m[i].t);
    if (!m[i].e || !m[i].t) {
      am_ds_models_free(m, (int)nm);
      return am_err(why, why_sz, "out of memory");
    }
    uint32_t tk = 0;
    for (uint32_t k = 0; k < ne; k++) {
      am_ds_mentry* e = &m[i].e[k];
      e->elem = get32(b + o);
      e->n_terms = get16(b + o + 4);
      e->func = get16(b + o + 6);  // checked by am_ds_models_check (0 before 1.4)
      e->bias = get_f64(b + o + 8);
      e->lo = get_f64(b + o + 16);
      e->hi = get_f64(b + o + 24);
      e->term0 = tk;
      o += MODEL_ENTRY;
      for (uint32_t j = 0; j < e->n_terms; j++, tk++) {
        am_ds_term* t = &m[i].t[tk];
        t->src = get16(b + o);
        t->lag = b[o + 2];
        t->lag2 = b[o + 3];
        t->src_elem = get32(b + o + 4);
        t->src2 = get16(b + o + 8);
        if (get16(b + o + 10)) goto reserved;
        t->src_elem2 = get32(b + o + 12);
        t->coef = get_f64(b + o + 16);
        o += MODEL_TERM;
      }
    }
  }
  if (o != n) {
    am_ds_models_free(m, (int)nm);
    return am_err(why, why_sz, "models block has %zu bytes after its last model", n - o);
  }
  *out = m;
  *n_out = (int)nm;
  return 0;
short_body:
  am_ds_models_free(m, (int)nm);
  return am_err(why, why_sz, "models block ends inside a model");
reserved:
  am_ds_models_free(m, (int)nm);
  return am_err(why, why_sz, "models block: a reserved field is not 0");
}


// Element se of row r - lag of a column of f32 (4) or f64 (8) values, as binary64; 0.0 before the
// chunk's first row.
static inline double col_value(const uint8_t* col, size_t width, size_t ne, size_t se, size_t r,
                               unsigned lag) {
  if (r < lag) return 0.0;
  size_t k = (r - lag) * ne + se;
  if (width == 4) {
    float x;
    memcpy(&x, col + 4 * k, 4);
    return x;
  }
  double v;
  memcpy(&v, col + 8 * k, 8);
  return v;
}

// A plan's source elements over rows rows take PLAN_STRIDE(rows) doubles each: the row before,
// the rows, then zeros up to a whole block of rows (plan_sum reads whole blocks).
#define PLAN_BLOCK 32
#define PLAN_STRIDE(rows) (((rows) + PLAN_BLOCK - 1) / PLAN_BLOCK * PLAN_BLOCK + 1)

size_t am_ds_model_acc_size(size_t n_entries, size_t rows) { return n_entries * PLAN_STRIDE(rows); }

// Room in m->xv for its source elements over rows rows, then a tile's rows of sums and one for
// store_preds.
int am_ds_model_reserve(am_ds_model* m, size_t rows) {
  size_t n = ((size_t)m->n_vars + PLAN_TILE + 1) * PLAN_STRIDE(rows);
  if (m->xv && m->xv_rows >= rows) return 0;
  double* x = realloc(m->xv, sizeof(double) * n);
  if (!x) return -1;
  m->xv = x;
  m->xv_rows = rows;
  return 0;
}

// Source element v's values over the chunk's rows, as binary64, after a 0.0 for the row before.
static void plan_gather(am_ds_model* m, uint32_t v, const uint8_t* const* cols, const int* dtype,
                        const size_t* elems, size_t rows) {
  double* x = m->xv + (size_t)v * PLAN_STRIDE(rows);
  size_t ne = elems[m->var_src[v]];
  for (size_t r = rows + 1; r < PLAN_STRIDE(rows); r++) x[r] = 0.0;
  const uint8_t* p = cols[m->var_src[v]];
  x[0] = 0.0;
  if (dtype[m->var_src[v]] == AM_DT_F32) {
    p += 4 * (size_t)m->var_elem[v];
    for (size_t r = 0; r < rows; r++, p += 4 * ne) {
      float f;
      memcpy(&f, p, 4);
      x[r + 1] = f;
    }
  } else {
    p += 8 * (size_t)m->var_elem[v];
    for (size_t r = 0; r < rows; r++, p += 8 * ne) memcpy(&x[r + 1], p, 8);
  }
}

// Every source element of m (own: its own channel's too) gathered.
static void plan_gather_all(am_ds_model* m, const uint8_t* const* cols, const int* dtype,
                            const size_t* elems, size_t rows, int own) {
  for (uint32_t v = 0; v < m->n_vars; v++)
    if (own || m->var_src[v] != (uint16_t)m->ch) plan_gather(m, v, cols, dtype, elems, rows);
}

// acc[r] += terms j0 .. n - 1 of entry e (j0 = 0: acc[r] = its bias + its first n terms), for
// every row: each row's sum adds the terms in their order, in blocks of 32 rows held in vectors
// (GCC's vector extensions: element-wise IEEE operations, so every variant below (AM_CLONES)
// gives the same bits).
typedef double v8d __attribute__((vector_size(64)));
#define V8(x) ((v8d){(x), (x), (x), (x), (x), (x), (x), (x)})  // x in every lane (-0.0 too)

// Source element v's values from row r0 on, lag rows before (m->xv: the row before first).
static inline const double* var_rows(const am_ds_model* m, uint32_t v, unsigned lag,
                                     size_t stride, size_t r0) {
  return m->xv + (size_t)v * stride + 1 - lag + r0;
}
// 16 values (half a block of rows) into two vectors, and back.
static inline void ld16(v8d* v, const double* p) {
  memcpy(&v[0], p, 64);
  memcpy(&v[1], p + 8, 64);
}
static inline void st16(double* p, const v8d* v) {
  memcpy(p, &v[0], 64);
  memcpy(p + 8, &v[1], 64);
}
AM_CLONES static void plan_sum(const am_ds_model* m, const am_ds_mentry* e, uint32_t j0,
                               uint32_t n, size_t rows, double* restrict acc) {
  const size_t stride = PLAN_STRIDE(rows);
  const uint32_t* tv = m->tvar + 2 * (size_t)e->term0;
  const am_ds_term* t = m->t + e->term0;
  for (size_t r0 = 0; r0 < rows; r0 += PLAN_BLOCK) {  // acc has room for whole blocks
    v8d a[4] = {{0}};  // (set here only to quiet GCC's -Wmaybe-uninitialized)
    if (j0) ld16(a, acc + r0), ld16(a + 2, acc + r0 + 16);
    else a[0] = a[1] = a[2] = a[3] = V8(e->bias);
    for (uint32_t j = j0; j < n; j++) {
      v8d x[4], y[4], c = V8(t[j].coef);
      const double* p = var_rows(m, tv[2 * j], t[j].lag, stride, r0);
      ld16(x, p), ld16(x + 2, p + 16);
      for (int i = 0; i < 4; i++) x[i] = c * x[i];
      if (tv[2 * j + 1] != UINT32_MAX) {
        p = var_rows(m, tv[2 * j + 1], t[j].lag2, stride, r0);
        ld16(y, p), ld16(y + 2, p + 16);
        for (int i = 0; i < 4; i++) x[i] = x[i] * y[i];
      }
      for (int i = 0; i < 4; i++) a[i] = a[i] + x[i];
    }
    st16(acc + r0, a), st16(acc + r0 + 16, a + 2);
  }
}

// plan_sum's sums of the first n terms of G entries from e, entry g's into acc + g x astride,
// where those terms read the same factors (a tile): each factor's values loaded once for all of
// them, each entry's operations as plan_sum's, so the same bits whatever G.
static inline __attribute__((always_inline)) void sum_tile(const am_ds_model* m,
                                                           const am_ds_mentry* e, uint32_t n,
                                                           size_t rows, double* restrict acc,
                                                           size_t astride, const int G) {
  const size_t stride = PLAN_STRIDE(rows);
  const uint32_t* tv = m->tvar + 2 * (size_t)e->term0;
  const am_ds_term* t[PLAN_TILE];
  for (int g = 0; g < G; g++) t[g] = m->t + e[g].term0;
  for (size_t r0 = 0; r0 < rows; r0 += PLAN_BLOCK / 2) {
    v8d a[PLAN_TILE][2] = {{{0}}};  // (set here only to quiet GCC's -Wmaybe-uninitialized)
    for (int g = 0; g < G; g++) a[g][0] = a[g][1] = V8(e[g].bias);
    for (uint32_t j = 0; j < n; j++) {
      v8d x[2], y[2];
      ld16(x, var_rows(m, tv[2 * j], t[0][j].lag, stride, r0));
      if (tv[2 * j + 1] == UINT32_MAX) {
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
          v8d c = V8(t[g][j].coef);
          a[g][0] = a[g][0] + c * x[0], a[g][1] = a[g][1] + c * x[1];
        }
        continue;
      }
      ld16(y, var_rows(m, tv[2 * j + 1], t[0][j].lag2, stride, r0));
#pragma GCC unroll 8
      for (int g = 0; g < G; g++) {
        v8d c = V8(t[g][j].coef);
        a[g][0] = a[g][0] + c * x[0] * y[0], a[g][1] = a[g][1] + c * x[1] * y[1];
      }
    }
    for (int g = 0; g < G; g++) st16(acc + g * astride + r0, a[g]);
  }
}
// A tile's 8 entries at once where the processor has AVX-512's 32 vector registers (their 16
// sums stay in registers: 10 % faster reading of a compact arm file than two passes), else in
// two passes of 4.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("arch=x86-64-v4"))) static void plan_sum_tile8(
    const am_ds_model* m, const am_ds_mentry* e, uint32_t n, size_t rows, double* restrict acc,
    size_t astride) {
  sum_tile(m, e, n, rows, acc, astride, PLAN_TILE);
}
#endif
AM_CLONES static void plan_sum_tile4(const am_ds_model* m, const am_ds_mentry* e, uint32_t n,
                                     size_t rows, double* restrict acc, size_t astride) {
  sum_tile(m, e, n, rows, acc, astride, PLAN_TILE / 2);
}
static atomic_int wide_sums = 1;
void am_ds_model_wide_sums(int on) { atomic_store_explicit(&wide_sums, on, memory_order_relaxed); }
static void plan_sum_tile(const am_ds_model* m, const am_ds_mentry* e, uint32_t n, size_t rows,
                          double* acc, size_t astride) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (atomic_load_explicit(&wide_sums, memory_order_relaxed) &&
      __builtin_cpu_supports("x86-64-v4")) {
    plan_sum_tile8(m, e, n, rows, acc, astride);
    return;
  }
#endif
  plan_sum_tile4(m, e, n, rows, acc, astride);
  plan_sum_tile4(m, e + PLAN_TILE / 2, n, rows, acc + PLAN_TILE / 2 * astride, astride);
}

// plan_sum's sums of terms m->prod0[k] .. prod1[k] - 1 of the PLAN_TILE / 2 entries from k0
// (within the tile at entry k) added to acc + g x astride: each entry's first factor loaded once,
// the second once for all of them.
AM_CLONES static void plan_sum_products(const am_ds_model* m, uint32_t k, uint32_t k0, size_t rows,
                                        double* restrict acc, size_t astride) {
  enum { G = PLAN_TILE / 2 };
  const size_t stride = PLAN_STRIDE(rows);
  const uint32_t j0 = m->prod0[k], j1 = m->prod1[k];
  const uint32_t* tv = m->tvar + 2 * (size_t)m->e[k].term0;
  const am_ds_term* t[G];
  for (int g = 0; g < G; g++) t[g] = m->t + m->e[k0 + g].term0;
  for (size_t r0 = 0; r0 < rows; r0 += PLAN_BLOCK / 2) {
    v8d a[G][2] = {{{0}}}, x[G][2] = {{{0}}};
    for (int g = 0; g < G; g++) {
      ld16(a[g], acc + g * astride + r0);
      ld16(x[g], var_rows(m, TVAR(m, k0 + g, j0, 0), t[g][j0].lag, stride, r0));
    }
    for (uint32_t j = j0; j < j1; j++) {
      v8d y[2];
      ld16(y, var_rows(m, tv[2 * j + 1], t[0][j].lag2, stride, r0));
#pragma GCC unroll 4
      for (int g = 0; g < G; g++) {
        v8d c = V8(t[g][j].coef);
        a[g][0] = a[g][0] + c * x[g][0] * y[0], a[g][1] = a[g][1] + c * x[g][1] * y[1];
      }
    }
    for (int g = 0; g < G; g++) st16(acc + g * astride + r0, a[g]);
  }
}

// The sums of entry k and, at a tile, the PLAN_TILE - 1 after it (entry k + g's in acc + g x
// astride), of their terms up to their first reading their own channel (all of them when upto_own
// is 0).
// Returns the number of entries summed.
static uint32_t plan_sums(const am_ds_model* m, uint32_t k, size_t rows, double* acc,
                          size_t astride, int upto_own) {
  uint32_t n = m->tile[k], g = n ? PLAN_TILE : 1;
  if (n) plan_sum_tile(m, &m->e[k], n, rows, acc, astride);
  uint32_t p0 = m->prod0[k], p1 = m->prod1[k];
  if (!n || upto_own || p1 <= p0) {  // each entry on its own after the shared terms
    for (uint32_t i = 0; i < g; i++) {
      const am_ds_mentry* e = &m->e[k + i];
      uint32_t end = upto_own ? m->own0[k + i] : e->n_terms;
      if (!n || end > n) plan_sum(m, e, n, end, rows, acc + i * astride);
    }
    return g;
  }
  for (uint32_t i = 0; i < g; i++)  // the terms before the products
    if (p0 > n) plan_sum(m, &m->e[k + i], n, p0, rows, acc + i * astride);
  for (uint32_t h = 0; h < PLAN_TILE; h += PLAN_TILE / 2)
    plan_sum_products(m, k, k + h, rows, acc + h * astride, astride);
  for (uint32_t i = 0; i < g; i++)  // and after them
    if (m->e[k + i].n_terms > p1)
      plan_sum(m, &m->e[k + i], p1, m->e[k + i].n_terms, rows, acc + i * astride);
  return g;
}

// The models' exp (docs/dataset-format.md, "The prediction"): basic binary64 operations only, so
// that every reader computes the same bits; plan_finish does the same in vectors. EXP_C: 1/n! for
// n = 0..13, each the rounded quotient of 1 by the exact n!.
static const double EXP_C[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                                 1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,
                                 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
static double model_exp(double x) {
  if (x != x) return x;
  if (x < -708.0) x = -708.0;  // the result stays a normal number
  if (x > 709.0) x = 709.0;
  double k = floor(x * 1.4426950408889634 + 0.5);
  // ln 2 in two parts, the first with 21 trailing zero bits: k x ln2_hi is exact (|k| <= 1023)
  double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
  double p = EXP_C[13];
  for (int n = 12; n >= 0; n--) p = p * r + EXP_C[n];
  uint64_t bits = (uint64_t)((int64_t)k + 1023) << 52;  // 2^k, k in -1021..1023: p x 2^k is exact
  double two_k;
  memcpy(&two_k, &bits, 8);
  return p * two_k;
}

#define MODEL_NAN UINT64_C(0x7ff8000000000000)  // the NaN a function gives

// Entry e's function applied to its sum s, then its clamp.
static inline double finish_pred(double s, const am_ds_mentry* e) {
  if (e->func) {
    if (e->func == AM_DS_FUNC_LOGISTIC) s = 1.0 / (1.0 + model_exp(-s));
    else s = 1.0 - 2.0 / (model_exp(2.0 * s) + 1.0);
    if (s != s) {  // one NaN, whatever the sum's NaN was (libraries differ in the NaN they return)
      uint64_t q = MODEL_NAN;
      memcpy(&s, &q, 8);
    }
  }
  if (s < e->lo) s = e->lo;
  if (s > e->hi) s = e->hi;
  return s;
}

// A finished prediction s in the stored form at byte offset at of pred.
static inline void put_pred(uint8_t* pred, size_t at, double s, int dt, int lossy) {
  if (dt == AM_DT_F64 && !lossy) {
    memcpy(pred + at, &s, 8);
    return;
  }
  float f = (float)s;
  uint32_t u;
  memcpy(&u, &f, 4);
  if (dt == AM_DT_F64 || !lossy) {  // f32, or f64 lossy (binary32)
    memcpy(pred + at, &u, 4);
  } else {
    uint16_t h = am_f32_to_f16(u);
    memcpy(pred + at, &h, 2);
  }
}

// Applies entry e's function to its sum s, clamps it and stores it in the stored form at byte
// offset at of pred.
static inline void store_pred(uint8_t* pred, size_t at, double s, const am_ds_mentry* e, int dt,
                              int lossy) {
  put_pred(pred, at, finish_pred(s, e), dt, lossy);
}

// finish_pred over the rows of acc (whole blocks of 32: acc has room for them), in vectors: the
// same operations element-wise, so the same bits.
typedef int64_t v8l __attribute__((vector_size(64)));
#define v8_select(m, a, b) ((v8d)(((v8l)(a) & (m)) | ((v8l)(b) & ~(m))))  // a where m, else b
// -1 in the NaN lanes of x, 0 elsewhere: the sign of inf's bits less |x|'s (GCC's vector
// compares here went lane by lane)
#define v8_isnan(x) \
  (((INT64_C(0x7ff0000000000000) + (v8l){0}) - ((v8l)(x) & INT64_MAX)) >> 63)
AM_CLONES static void plan_finish(double* acc, size_t rows, const am_ds_mentry* e) {
  enum { W = 4 };  // vectors at once: their chains of operations overlap
  const v8d zero = {0}, one = V8(1.0), two = V8(2.0), lo = V8(e->lo), hi = V8(e->hi);
  const v8d qnan = (v8d)((v8l){0} + (int64_t)MODEL_NAN);
  for (size_t r0 = 0; r0 < rows; r0 += 8 * W) {
    v8d s[W];
    memcpy(s, acc + r0, sizeof s);
    if (e->func) {  // model_exp, element-wise (NaN lanes: computed on 0, then the NaN)
      v8d x[W], r[W], p[W];
      v8l nan[W], ki[W];
#pragma GCC unroll 4
      for (int i = 0; i < W; i++) {
        x[i] = e->func == AM_DS_FUNC_LOGISTIC ? -s[i] : two * s[i];
        nan[i] = v8_isnan(x[i]);
        x[i] = v8_select(nan[i], zero, x[i]);
        x[i] = v8_select(x[i] < zero - 708.0, zero - 708.0, x[i]);
        x[i] = v8_select(x[i] > zero + 709.0, zero + 709.0, x[i]);
        v8d t = x[i] * 1.4426950408889634 + 0.5;
        ki[i] = __builtin_convertvector(t, v8l);  // toward zero; |t| < 1025
        v8d k = __builtin_convertvector(ki[i], v8d);
        v8l below = k > t;  // floor: one less where truncation went up
        k = k - v8_select(below, one, zero);
        ki[i] = ki[i] + below;  // below is -1 where set
        r[i] = (x[i] - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
        p[i] = V8(EXP_C[13]);
      }
      for (int n = 12; n >= 0; n--)
#pragma GCC unroll 4
        for (int i = 0; i < W; i++) p[i] = p[i] * r[i] + EXP_C[n];
#pragma GCC unroll 4
      for (int i = 0; i < W; i++) {
        v8d ex = p[i] * (v8d)((ki[i] + 1023) << 52);
        s[i] = e->func == AM_DS_FUNC_LOGISTIC ? one / (one + ex) : one - two / (ex + one);
        s[i] = v8_select(nan[i] | v8_isnan(s[i]), qnan, s[i]);
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < W; i++) {
      s[i] = v8_select(s[i] < lo, lo, s[i]);
      s[i] = v8_select(s[i] > hi, hi, s[i]);
    }
    memcpy(acc + r0, s, sizeof s);
  }
}

// Entry e's sums acc over rows rows stored as store_pred does, the value of row r at byte offset
// r x stride + at of pred; tmp: room for rows floats (lossy f32: converted 8 at a time).
static void store_preds(uint8_t* pred, size_t stride, size_t at, double* acc, size_t rows,
                        const am_ds_mentry* e, int dt, int lossy, uint8_t* tmp) {
  plan_finish(acc, rows, e);
  if (dt == AM_DT_F64 || !lossy || rows < 8) {
    for (size_t r = 0; r < rows; r++) put_pred(pred, r * stride + at, acc[r], dt, lossy);
    return;
  }
  for (size_t r = 0; r < rows; r++) put_pred(tmp, 4 * r, acc[r], AM_DT_F32, 0);
  am_ds_lossy_pack(tmp + 4 * rows, tmp, rows, 4);  // binary32 -> binary16
  for (size_t r = 0; r < rows; r++) memcpy(pred + r * stride + at, tmp + 4 * rows + 2 * r, 2);
}

// Term j of entry e for row r, inline.
static inline double term_at(const am_ds_term* t, const uint8_t* const* cols, const int* dtype,
                             const size_t* elems, size_t r) {
  double term = t->coef * col_value(cols[t->src], dtype[t->src] == AM_DT_F32 ? 4 : 8,
                                    elems[t->src], t->src_elem, r, t->lag);
  if (t->src2 != MODEL_NO_SRC)
    term = term * col_value(cols[t->src2], dtype[t->src2] == AM_DT_F32 ? 4 : 8, elems[t->src2],
                            t->src_elem2, r, t->lag2);
  return term;
}

int am_ds_model_predict(am_ds_model* m, const uint8_t* const* cols, const int* dtype,
                        const size_t* elems, size_t rows, int lossy, uint8_t* pred, uint8_t* mask) {
  int dt = dtype[m->ch];
  size_t ne = elems[m->ch], sw = (dt == AM_DT_F32 ? 4u : 8u) / (lossy ? 2u : 1u);
  if (am_ds_model_reserve(m, rows)) return -1;
  plan_gather_all(m, cols, dtype, elems, rows, 1);
  const size_t stride = PLAN_STRIDE(rows);
  double* acc = m->xv + (size_t)m->n_vars * stride;
  memset(mask, 0, ne);
  for (uint32_t k = 0, g; k < m->n_entries; k += g) {
    g = plan_sums(m, k, rows, acc, stride, 0);
    for (uint32_t i = 0; i < g; i++) {
      const am_ds_mentry* e = &m->e[k + i];
      mask[e->elem] = 1;
      store_preds(pred, ne * sw, e->elem * sw, acc + i * stride, rows, e, dt, lossy,
                  (uint8_t*)(acc + PLAN_TILE * stride));
    }
  }
  return 0;
}

// Decoded values k .. k + n - 1 (stored form, in out) into the channel's values own: widened when
// lossy, copied when own is not out itself.
static void widen_values(uint8_t* own, const uint8_t* out, size_t k, size_t n, size_t sw,
                         int lossy) {
  if (lossy) am_ds_lossy_unpack(own + k * 2 * sw, out + k * sw, n, 2 * sw);
  else if (own != out) memcpy(own + k * sw, out + k * sw, n * sw);
}

int am_ds_decode_model(uint8_t* out, const uint8_t* src, size_t rows, size_t elems, size_t sw,
                       int layout, am_ds_model* m, const uint8_t** cols, const int* dtype,
                       const size_t* all_elems, int lossy, uint8_t* pred, uint8_t* mask,
                       double* acc, uint8_t* tmp) {
  size_t count = rows * elems;
  uint8_t* own = (uint8_t*)cols[m->ch];  // the channel's decoded values
  const uint8_t* const* cc = (const uint8_t* const*)cols;
  int self = m->self;
  if (am_ds_model_reserve(m, rows)) return -2;
  if (!self) {  // the whole chunk's prediction, then the column as any other filter
    am_ds_model_predict(m, cc, dtype, all_elems, rows, lossy, pred, mask);
    am_ds_filt f = {PRED_MODEL, (uint8_t)layout, 0, mask};
    if (am_ds_decode(out, src, pred, rows, elems, sw, f, tmp)) return -1;
    widen_values(own, out, 0, count, sw, lossy);
    return 0;
  }
  if (layout == LAYOUT_BIT) {
    if (bits_to_bytes(tmp, src, count, sw)) return -1;
    src = tmp;
  }
  void (*rm)(uint8_t*, const uint8_t*, const uint8_t*, const uint8_t*, const uint8_t*, size_t,
             size_t, size_t) = sw == 2 ? row_model_uint16_t : sw == 4 ? row_model_uint32_t
                                                                     : row_model_uint64_t;
  static const uint8_t yes = 1, no = 0;
  // value k = r x elems + e decoded (by the model's prediction or, without an entry, the row
  // before) and widened into the channel's values
#define DECODE_VALUE(r, e, has_entry)                                                          \
  do {                                                                                         \
    size_t k_ = (r) * elems + (e);                                                             \
    rm(out + k_ * sw, (r) ? out + (k_ - elems) * sw : NULL, pred + k_ * sw,                    \
       (has_entry) ? &yes : &no, src, count, k_, 1);                                           \
    widen_values(own, out, k_, 1, sw, lossy);                                                  \
  } while (0)
  int dt = dtype[m->ch];
  memset(mask, 0, elems);
  for (uint32_t k = 0; k < m->n_entries; k++) mask[m->e[k].elem] = 1;
  plan_gather_all(m, cc, dtype, all_elems, rows, 0);
  if (self == SELF_ROW) {  // the elements without an entry, then each entry over all rows
    const size_t stride = PLAN_STRIDE(rows);
    double* a = m->xv + (size_t)m->n_vars * stride;
    for (size_t e = 0; e < elems; e++)
      for (size_t r = 0; r < rows && !mask[e]; r++) DECODE_VALUE(r, e, 0);
    for (size_t e = 0; e < elems; e++)  // its own elements read, once decoded
      if (m->own_var[e] != UINT32_MAX && !mask[e])
        plan_gather(m, m->own_var[e], cc, dtype, all_elems, rows);
    // wave by wave: its entries' predictions over all rows, then its span of elements decoded
    // row by row (the elements without an entry in it again: the same values) and gathered
    for (uint32_t w = 0; w < m->n_waves; w++) {
      uint32_t k0 = m->wave0[w], k1 = m->wave0[w + 1];
      for (uint32_t k = k0, g; k < k1; k += g) {
        g = plan_sums(m, k, rows, a, stride, 0);
        for (uint32_t i = 0; i < g; i++)
          store_preds(pred, elems * sw, m->e[k + i].elem * sw, a + i * stride, rows, &m->e[k + i],
                      dt, lossy, (uint8_t*)(a + PLAN_TILE * stride));
      }
      size_t lo = m->e[k0].elem, n = m->e[k1 - 1].elem + 1 - lo;
      for (size_t r = 0, q = lo; r < rows; r++, q += elems) {
        rm(out + q * sw, r ? out + (q - elems) * sw : NULL, pred + q * sw, mask + lo, src, count,
           q, n);
        widen_values(own, out, q, n, sw, lossy);
      }
      for (uint32_t k = k0; k < k1; k++)
        if (m->own_var[m->e[k].elem] != UINT32_MAX)
          plan_gather(m, m->own_var[m->e[k].elem], cc, dtype, all_elems, rows);
    }
    return 0;
  }
  // each entry's sum up to its first term on its own channel, over all rows at once
  const size_t stride = PLAN_STRIDE(rows);
  for (uint32_t k = 0; k < m->n_entries;) k += plan_sums(m, k, rows, acc + k * stride, stride, 1);
  for (size_t r = 0; r < rows; r++) {
    for (size_t e = 0; e < elems && (self & SELF_ROW); e++)
      if (!mask[e]) DECODE_VALUE(r, e, 0);
    for (uint32_t k = 0; k < m->n_entries; k++) {  // the rest, now that the row before is decoded
      const am_ds_mentry* e = &m->e[k];
      double s = acc[(size_t)k * stride + r];
      for (uint32_t j = m->own0[k]; j < e->n_terms; j++)
        s = s + term_at(&m->t[e->term0 + j], cc, dtype, all_elems, r);
      store_pred(pred, (r * elems + e->elem) * sw, s, e, dt, lossy);
      if (self & SELF_ROW) DECODE_VALUE(r, e->elem, 1);  // read by the entries after it
    }
    if (self & SELF_ROW) continue;
    size_t k = r * elems;  // the whole row at once, widened into the channel's values for the next
    rm(out + k * sw, r ? out + (k - elems) * sw : NULL, pred + k * sw, mask, src, count, k, elems);
    widen_values(own, out, k, elems, sw, lossy);
  }
#undef DECODE_VALUE
  return 0;
}
