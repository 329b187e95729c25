// nwb_export.h: `animat export FILE --nwb OUT.nwb` (tools/nwb_export.c, built with HDF5 only:
// ANIMAT_HAVE_HDF5), called by cmd_export.c once it has opened the recording and resolved the
// selection; and what the two export paths share (cmd_export.c).
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

// Reads episode i (reader index) into dst[c] for every channel c with need[c] (allocated here,
// freed by the caller); init (may be NULL) receives its initial state. Returns 0 when read; 1 when
// it could not be read and allow_damaged (said on stderr, counted in *n_lost, nothing allocated);
// -1 after cli_fail (out of memory, or a damaged episode without allow_damaged).
int export_read_episode(am_ds_reader* r, int64_t i, const int* need, void** dst, double* init,
                        int allow_damaged, int64_t* n_lost);

#endif
