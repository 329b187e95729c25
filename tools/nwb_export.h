// nwb_export.h: `animat export FILE --nwb OUT.nwb` (tools/nwb_export.c), called by cmd_export.c
// once it has opened the recording and resolved the selection. Built with HDF5 only
// (ANIMAT_HAVE_HDF5).
#ifndef ANIMAT_NWB_EXPORT_H
#define ANIMAT_NWB_EXPORT_H

#include <stdint.h>

#include "am_dataset.h"

// Writes episodes eps[0..n_eps) (reader indices, in timeline order) and the channels c with
// sel[c] != 0 of r (opened from in_path) as one NWB file at out: written to out.tmp-XXXXXX and
// renamed when complete; an existing out is replaced only with force. Prints what it did; errors
// go through cli_fail. Returns the exit status (0, 1, or 130 for Ctrl-C).
int nwb_export(am_ds_reader* r, const char* in_path, const char* out, const int64_t* eps,
               int64_t n_eps, const int* sel, int allow_damaged, int force);

#endif
