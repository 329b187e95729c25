// crc32.c: the one CRC-32 of the tree (datasets, checkpoints, the viewer's PNG writer).
// IEEE 802.3 polynomial, reflected, as zlib's crc32: slicing by 8, and on x86-64 processors with
// carry-less multiplication, 64 bytes at a time folded with it (Gopal et al., "Fast CRC
// computation for generic polynomials using PCLMULQDQ instruction", Intel, 2009).
#include <pthread.h>
#include <stdint.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CRC_FOLD 1
#endif

#include "am_sim.h"

static uint32_t load32(const uint8_t* p) {  // little-endian, whatever the host
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t crc_table[8][256];
#ifdef CRC_FOLD
static int crc_have_fold;  // the processor has PCLMULQDQ and SSE4.1
#endif
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
#ifdef CRC_FOLD
  __builtin_cpu_init();
  crc_have_fold = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

#ifdef CRC_FOLD
// The state c (not inverted) after n bytes at p, n >= 64 a multiple of 16: four 128-bit lanes
// folded forward 512 bits at a time, then into one lane 128 bits at a time, then reduced to 32
// bits (a 64-bit fold, a 32-bit fold and a Barrett reduction). The constants are x^k mod P for the
// distances folded, bit-reflected, and for Barrett floor(x^64 / P) and P itself.
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_fold(uint32_t c, const uint8_t* p,
                                                                    size_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);  // 512 and 576 bits on
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);  // 128 and 192 bits on
  const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);              // 64 bits on
  const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641);  // mu, P
  const __m128i mask32 = _mm_set_epi64x(0, 0xffffffff);
  __m128i x[4];
  for (int i = 0; i < 4; i++) x[i] = _mm_loadu_si128((const __m128i*)(p + 16 * i));
  x[0] = _mm_xor_si128(x[0], _mm_cvtsi32_si128((int)c));
  p += 64, n -= 64;
  for (; n >= 64; p += 64, n -= 64)
    for (int i = 0; i < 4; i++)
      x[i] = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x[i], k1k2, 0x00),
                                         _mm_clmulepi64_si128(x[i], k1k2, 0x11)),
                           _mm_loadu_si128((const __m128i*)(p + 16 * i)));
  __m128i a = x[0];
  for (int i = 1; i < 4; i++)
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x00),
                                    _mm_clmulepi64_si128(a, k3k4, 0x11)), x[i]);
  for (; n >= 16; p += 16, n -= 16)
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x00),
                                    _mm_clmulepi64_si128(a, k3k4, 0x11)),
                      _mm_loadu_si128((const __m128i*)p));
  a = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, k3k4, 0x10));  // 128 -> 96
  a = _mm_xor_si128(_mm_srli_si128(a, 4), _mm_clmulepi64_si128(_mm_and_si128(a, mask32), k5, 0x00));
  __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(a, mask32), poly, 0x10), mask32);
  a = _mm_xor_si128(a, _mm_clmulepi64_si128(t, poly, 0x00));
  return (uint32_t)_mm_extract_epi32(a, 1);
}
#endif

uint32_t am_crc32(uint32_t crc, const void* data, size_t n) {
  pthread_once(&crc_once, crc_init);
  const uint8_t* p = data;
  uint32_t c = ~crc;
#ifdef CRC_FOLD
  if (n >= 64 && crc_have_fold) {
    size_t m = n & ~(size_t)15;
    c = crc_fold(c, p, m);
    p += m;
    n -= m;
  }
#endif
  while (n >= 8) {  // slicing by 8
    uint32_t a = c ^ load32(p), b = load32(p + 4);
    c = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff] ^ crc_table[5][(a >> 16) & 0xff] ^
        crc_table[4][a >> 24] ^ crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff] ^
        crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}
