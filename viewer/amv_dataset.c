// amv_dataset.c: a dataset file as the viewer's source (placeholder until sim/'s reader lands).
#include <string.h>

#include "amv.h"

int amv_ds_open(amv_ds* D, const char* path, amv_meta* meta, char* err, size_t err_sz) {
  memset(D, 0, sizeof *D);
  return am_err(err, err_sz, "%s: this build cannot read datasets yet (sim/ has no reader)", path);
}

int amv_ds_load(amv_ds* D, const amv_meta* meta, int64_t i, amv_episode* ep, mjData* scratch,
                char* err, size_t err_sz) {
  return am_err(err, err_sz, "no dataset open");
}

void amv_ds_close(amv_ds* D) { memset(D, 0, sizeof *D); }
