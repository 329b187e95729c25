// amv_png.c: a minimal PNG writer (8-bit RGB, no interlace) with stored deflate blocks.
// The zlib stream is header 78 01, blocks of at most 65535 raw bytes (BTYPE 00), then Adler-32;
// each chunk ends with the CRC-32 (am_crc32) of its type and data. Files are larger than compressed PNGs
// (about w*h*3 bytes) but need no library.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amv.h"

static void put32(unsigned char* b, uint32_t v) {
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
}

static int write_chunk(FILE* f, const char* type, const unsigned char* data, size_t n) {
  unsigned char hdr[8];
  put32(hdr, (uint32_t)n);
  memcpy(hdr + 4, type, 4);
  uint32_t crc = am_crc32(0, hdr + 4, 4);
  crc = am_crc32(crc, data, n);
  unsigned char tail[4];
  put32(tail, crc);
  return fwrite(hdr, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) &&
                 fwrite(tail, 1, 4, f) == 4
             ? 0
             : -1;
}

int amv_png_write(const char* path, const unsigned char* rgb, int w, int h, int flip, char* err,
                  size_t err_sz) {
  if (w <= 0 || h <= 0) return am_err(err, err_sz, "png %s: bad size %dx%d", path, w, h);
  size_t row = (size_t)w * 3 + 1, raw_n = row * (size_t)h;
  size_t nblocks = (raw_n + 65534) / 65535;
  size_t z_n = 2 + raw_n + 5 * nblocks + 4;
  unsigned char* z = malloc(z_n);
  if (!z) return am_err(err, err_sz, "png %s: out of memory", path);
  unsigned char* o = z;
  *o++ = 0x78;
  *o++ = 0x01;
  uint32_t s1 = 1, s2 = 0;  // Adler-32
  size_t left = raw_n, pos = 0;  // pos: index into the virtual raw stream (filter byte + row)
  while (left > 0) {
    size_t n = left < 65535 ? left : 65535;
    *o++ = (unsigned char)(left == n ? 1 : 0);
    *o++ = (unsigned char)(n & 0xff);
    *o++ = (unsigned char)(n >> 8);
    *o++ = (unsigned char)(~n & 0xff);
    *o++ = (unsigned char)((~n >> 8) & 0xff);
    for (size_t i = 0; i < n; i++, pos++) {
      size_t y = pos / row, x = pos % row;
      unsigned char v = 0;  // filter type 0 (none) at the start of each row
      if (x > 0) {
        size_t src_y = flip ? (size_t)h - 1 - y : y;
        v = rgb[src_y * (size_t)w * 3 + x - 1];
      }
      *o++ = v;
      s1 = (s1 + v) % 65521;
      s2 = (s2 + s1) % 65521;
    }
    left -= n;
  }
  put32(o, (s2 << 16) | s1);
  o += 4;
  FILE* f = fopen(path, "wb");
  if (!f) {
    free(z);
    return am_err(err, err_sz, "png %s: cannot open for writing", path);
  }
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char ihdr[13];
  put32(ihdr, (uint32_t)w);
  put32(ihdr + 4, (uint32_t)h);
  ihdr[8] = 8;   // bit depth
  ihdr[9] = 2;   // colour type RGB
  ihdr[10] = 0;  // deflate
  ihdr[11] = 0;  // adaptive filtering (filter bytes)
  ihdr[12] = 0;  // no interlace
  int bad = fwrite(sig, 1, 8, f) != 8 || write_chunk(f, "IHDR", ihdr, 13) ||
            write_chunk(f, "IDAT", z, (size_t)(o - z)) || write_chunk(f, "IEND", NULL, 0);
  bad |= fclose(f) != 0;
  free(z);
  return bad ? am_err(err, err_sz, "png %s: write failed (disk full?)", path) : 0;
}
