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
enum { BT_META = 1, BT_CHANNELS = 2, BT_CHUNK = 3, BT_INDEX = 4 };
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

// Filters rows x elems values of width w from src into dst: optional delta (each row minus the
// previous one, as unsigned integers of width w, wrapping), then byte shuffle (byte j of value k
// goes to dst[j * count + k]).
void am_ds_filter(uint8_t* restrict dst, const uint8_t* restrict src, size_t rows, size_t elems,
                  size_t w, int delta);
// Inverse of am_ds_filter.
void am_ds_unfilter(uint8_t* dst, const uint8_t* src, size_t rows, size_t elems, size_t w,
                    int delta);

#endif  // AM_DATASET_FORMAT_H
