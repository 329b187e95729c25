// fuzz_dataset.c: libFuzzer harness for the dataset reader (sim/dataset_read.c): opens the input as a
// dataset from memory, verifies every chunk, reads every episode (format 1.2: its filters and lossy
// channels) and the filter tables of the first chunks. Any crash, sanitizer report
// or leak is a bug; run it with tests/fuzz/run.sh.
#include <stdint.h>
#include <stdlib.h>

#include "am_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open_memory(data, size, "fuzz", err, sizeof err);
  if (!r) return 0;
  am_ds_verify(r, NULL, err, sizeof err);
  int nc = am_ds_num_channels(r);
  void** dst = calloc((size_t)nc, sizeof(void*));
  for (int64_t i = 0; i < am_ds_num_episodes(r) && i < 16; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    size_t row = 0;
    for (int c = 0; c < nc; c++) row += am_ds_get_channel(r, c)->row_bytes;
    if (e->steps > (1 << 16) || (double)e->steps * row > 16e6) continue;
    for (int c = 0; c < nc; c++) dst[c] = malloc(am_ds_get_channel(r, c)->row_bytes * (size_t)e->steps + 1);
    double* init = malloc(sizeof(double) * ((size_t)am_ds_num_init(r) + 1));
    am_ds_read_episode(r, i, dst, init, err, sizeof err);
    free(init);
    for (int c = 0; c < nc; c++) free(dst[c]);
  }
  for (int k = 0; k < am_ds_num_chunks(r) && k < 4; k++)  // 1.2: the filter tables
    for (int c = 0; c < nc; c++) {
      const char *pred, *layout;
      int ref;
      if (am_ds_chunk_filter(r, k, c, &pred, &layout, &ref, err, sizeof err)) break;
    }
  for (int i = 0; i < am_ds_num_meta(r); i++) am_ds_meta(r, am_ds_meta_key(r, i), NULL);
  uint64_t a, b, c;
  am_ds_sizes(r, &a, &b, &c);
  free(dst);
  am_ds_reader_free(r);
  return 0;
}
