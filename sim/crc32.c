// crc32.c: the one CRC-32 of the tree (datasets, checkpoints, the viewer's PNG writer).
// IEEE 802.3 polynomial, reflected, as zlib's crc32; slicing by 8.
#include <pthread.h>
#include <stdint.h>

#include "am_sim.h"

static uint32_t load32(const uint8_t* p) {  // little-endian, whatever the host
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t crc_table[8][256];
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
}

uint32_t am_crc32(uint32_t crc, const void* data, size_t n) {
  pthread_once(&crc_once, crc_init);
  const uint8_t* p = data;
  uint32_t c = ~crc;
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
