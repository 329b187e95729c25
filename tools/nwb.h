// nwb.h: a small writer of Neurodata Without Borders (NWB 2.7.0) files on libhdf5, for
// `animat export FILE --nwb OUT.nwb` (tools/nwb_export.c). Built only when CMake finds HDF5
// (ANIMAT_HAVE_HDF5).
//
// What it is: the HDF5 side of the NWB core schema that the export uses: the NWBFile root (its
// attributes, required datasets and groups), typed groups (neurodata_type, namespace, object_id),
// TimeSeries with their data written in row blocks into extendible, chunked, gzip-compressed
// datasets, and DynamicTables (TimeIntervals for epochs and trials) from rows of named columns.
// What it is not: a reader, a validator, or an NWB API; it writes no schema (/specifications).
// Errors: the first failure is kept in the file's message (naming the HDF5 path) and every later
// call does nothing; nwb_close reports it. Paths are absolute HDF5 paths ("/processing/behavior").
#ifndef ANIMAT_NWB_H
#define ANIMAT_NWB_H

#include <stddef.h>
#include <stdint.h>

#include "am_dataset.h"

#define NWB_VERSION "2.7.0"

typedef struct nwb_file nwb_file;

// The session: every string is required (non-NULL); times are ISO 8601 ("2026-01-31T12:00:00Z").
typedef struct nwb_session {
  const char* identifier;           // unique text (e.g. a UUID)
  const char* session_description;
  const char* session_start_time;   // also timestamps_reference_time
  const char* file_create_date;
} nwb_session;

// Creates path (truncating it: the caller passes its own temporary file), writes the root
// attributes, its required datasets and groups (acquisition, analysis, general, processing,
// stimulus/presentation, stimulus/templates).
// object_id UUIDs come from a generator seeded with uuid_seed (the same seed, the same ids).
// Returns NULL with a message.
nwb_file* nwb_create(const char* path, const nwb_session* s, uint64_t uuid_seed, char* err,
                     size_t err_sz);
// Closes the file. Returns 0, or -1 with the first error met (by any call) in err.
int nwb_close(nwb_file* f, char* err, size_t err_sz);
const char* nwb_error(const nwb_file* f);  // "" when none

// Untyped group (and its missing parents).
int nwb_group(nwb_file* f, const char* path);
// A group of an NWB or hdmf-common type: neurodata_type, namespace ("core" or "hdmf-common"),
// object_id, and a description attribute when description is not NULL. An existing group is left
// as it is (so a module can be declared by each of its members).
int nwb_typed_group(nwb_file* f, const char* path, const char* type, const char* ns,
                    const char* description);
// Attributes on an existing object (group or dataset).
int nwb_attr_text(nwb_file* f, const char* path, const char* name, const char* value);
int nwb_attr_f32(nwb_file* f, const char* path, const char* name, float value);
int nwb_attr_f64(nwb_file* f, const char* path, const char* name, double value);
int nwb_attr_i32(nwb_file* f, const char* path, const char* name, int32_t value);
// Datasets written whole: a scalar text, a 1-D text array, raw bytes (uint8, gzip), a scalar f64.
int nwb_text(nwb_file* f, const char* path, const char* value);
int nwb_text_array(nwb_file* f, const char* path, const char* const* values, size_t n);
int nwb_bytes(nwb_file* f, const char* path, const void* data, size_t n);
int nwb_f64(nwb_file* f, const char* path, double value);

//---------------------------------- TimeSeries ----------------------------------------------------

// A TimeSeries (or a subtype such as SpatialSeries) whose data rows are appended in blocks. Its
// time base is regular (starting_time + rate) when rate > 0, else timestamps appended with the
// rows.
typedef struct nwb_series_def {
  const char* path;          // the TimeSeries group
  const char* type;          // "TimeSeries", "SpatialSeries"
  const char* description;
  const char* comments;      // NULL: none
  const char* unit;          // required by NWB ("n/a" for unitless)
  const char* continuity;    // "continuous", "step", "instantaneous" or NULL
  am_dtype dtype;
  int ndim;                  // per-row shape (0: a scalar per row)
  uint32_t shape[AM_DS_MAX_DIMS];
  double starting_time, rate;  // rate > 0: regular time base; rate 0: timestamps
} nwb_series_def;

typedef struct nwb_series nwb_series;
nwb_series* nwb_series_create(nwb_file* f, const nwb_series_def* d);
// Appends n rows (n x row bytes, the dtype's native little-endian layout); times: n timestamps
// when the series has no rate (else NULL).
int nwb_series_append(nwb_file* f, nwb_series* s, const void* rows, int64_t n, const double* times);
// Writes the rows still gathered (rows reach the file in whole chunks), closes and frees s.
int nwb_series_finish(nwb_file* f, nwb_series* s);
void nwb_series_free(nwb_series* s);  // closes and frees s, dropping rows not yet written

//---------------------------------- tables --------------------------------------------------------

typedef enum nwb_col_kind {
  NWB_COL_F64,
  NWB_COL_I64,
  NWB_COL_I32,
  NWB_COL_U8,
  NWB_COL_TEXT
} nwb_col_kind;

// A column of n_rows values: data points at n_rows x width values of kind (width 1: a plain
// column; width > 1: a 2-D column of n_rows x width), or, for NWB_COL_TEXT, n_rows strings
// (const char* const*).
typedef struct nwb_column {
  const char* name;
  const char* description;
  nwb_col_kind kind;
  int width;
  const void* data;
} nwb_column;

// A DynamicTable (type/ns: e.g. "DynamicTable", "hdmf-common") with ids (NULL: 0..n_rows-1) and
// its columns (VectorData), in order.
int nwb_table(nwb_file* f, const char* path, const char* type, const char* ns,
              const char* description, int64_t n_rows, const int64_t* ids, const nwb_column* cols,
              int n_cols);
// A TimeIntervals table (intervals/epochs, intervals/trials...): start_time and stop_time columns
// (seconds on the file's timeline) followed by the extra columns. The seam for trial tables: any
// rows of named columns go in as they are.
int nwb_intervals(nwb_file* f, const char* path, const char* description, int64_t n_rows,
                  const int64_t* ids, const double* start, const double* stop,
                  const nwb_column* extra, int n_extra);

#endif  // ANIMAT_NWB_H
