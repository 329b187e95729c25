// nwb.c: the NWB 2.7.0 writer on libhdf5 (see nwb.h). Text is stored as HDF5 variable-length
// UTF-8 strings (scalar attributes and datasets, 1-D arrays for colnames and file_create_date);
// numeric data keeps the recording's dtype, in chunked datasets filtered by shuffle + gzip.
#include "nwb.h"

#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NWB_GZIP_LEVEL 4
#define NWB_CHUNK_BYTES (256 * 1024)  // target bytes per chunk of a TimeSeries' data

struct nwb_file {
  hid_t file;
  hid_t str;  // variable-length UTF-8 string type
  am_rng rng;
  char path[1024];
  char err[AM_ERR_LEN];
};

// Rows are gathered into whole chunks before they reach HDF5 (appending a few rows at a time
// would recompress a partly filled chunk at every append).
struct nwb_series {
  hid_t data, stamps;
  hid_t mem;  // memory type of the rows
  int rank;   // 1 + the per-row ndim
  hsize_t dims[AM_DS_MAX_DIMS + 1];  // rows written so far, per-row shape
  size_t row_bytes;
  int64_t chunk_rows, n_buf;         // rows per chunk, rows gathered
  unsigned char* buf;                // chunk_rows rows
  double* tbuf;                      // their timestamps (series without a rate)
  char path[512];
};

__attribute__((format(printf, 2, 3))) static int fail(nwb_file* f, const char* fmt, ...) {
  if (f->err[0]) return -1;
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(f->err, sizeof f->err, "%s: ", f->path);
  if (n > 0 && (size_t)n < sizeof f->err) vsnprintf(f->err + n, sizeof f->err - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

const char* nwb_error(const nwb_file* f) { return f->err; }

static hid_t mem_type(am_dtype t) {
  switch (t) {
    case AM_DT_F32: return H5T_NATIVE_FLOAT;
    case AM_DT_F64: return H5T_NATIVE_DOUBLE;
    case AM_DT_I32: return H5T_NATIVE_INT32;
    case AM_DT_U8: return H5T_NATIVE_UINT8;
    case AM_DT_U32: return H5T_NATIVE_UINT32;
    case AM_DT_I64: return H5T_NATIVE_INT64;
  }
  return -1;
}

static hid_t file_type(am_dtype t) {
  switch (t) {
    case AM_DT_F32: return H5T_IEEE_F32LE;
    case AM_DT_F64: return H5T_IEEE_F64LE;
    case AM_DT_I32: return H5T_STD_I32LE;
    case AM_DT_U8: return H5T_STD_U8LE;
    case AM_DT_U32: return H5T_STD_U32LE;
    case AM_DT_I64: return H5T_STD_I64LE;
  }
  return -1;
}

// A version-4 UUID (RFC 4122 layout) from the file's generator: object ids are reproducible.
static void next_uuid(nwb_file* f, char out[37]) {
  unsigned char b[16];
  uint64_t a = am_rng_next(&f->rng), c = am_rng_next(&f->rng);
  for (int i = 0; i < 8; i++) {
    b[i] = (unsigned char)(a >> (8 * i));
    b[8 + i] = (unsigned char)(c >> (8 * i));
  }
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);  // variant 10
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    o += snprintf(out + o, 3, "%02x", b[i]);
  }
}

static int attr_write(nwb_file* f, const char* path, const char* name, hid_t type, hid_t mtype,
                      hid_t space, const void* value) {
  if (f->err[0]) return -1;
  hid_t a = H5Acreate_by_name(f->file, path, name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT);
  int bad = a < 0 || H5Awrite(a, mtype, value) < 0;
  if (a >= 0) H5Aclose(a);
  return bad ? fail(f, "cannot write the attribute %s of %s", name, path) : 0;
}

static int attr_scalar(nwb_file* f, const char* path, const char* name, hid_t type, hid_t mtype,
                       const void* value) {
  hid_t sp = H5Screate(H5S_SCALAR);
  int rc = attr_write(f, path, name, type, mtype, sp, value);
  H5Sclose(sp);
  return rc;
}

int nwb_attr_text(nwb_file* f, const char* path, const char* name, const char* value) {
  return attr_scalar(f, path, name, f->str, f->str, &value);
}
int nwb_attr_f32(nwb_file* f, const char* path, const char* name, float value) {
  return attr_scalar(f, path, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &value);
}
int nwb_attr_f64(nwb_file* f, const char* path, const char* name, double value) {
  return attr_scalar(f, path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}
int nwb_attr_i32(nwb_file* f, const char* path, const char* name, int32_t value) {
  return attr_scalar(f, path, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &value);
}

static int attr_text_array(nwb_file* f, const char* path, const char* name,
                           const char* const* values, size_t n) {
  hsize_t dim = n;
  hid_t sp = H5Screate_simple(1, &dim, NULL);
  int rc = attr_write(f, path, name, f->str, f->str, sp, values);
  H5Sclose(sp);
  return rc;
}

// The attributes every typed object carries.
static int type_attrs(nwb_file* f, const char* path, const char* type, const char* ns) {
  char id[37];
  next_uuid(f, id);
  nwb_attr_text(f, path, "neurodata_type", type);
  nwb_attr_text(f, path, "namespace", ns);
  return nwb_attr_text(f, path, "object_id", id);
}

int nwb_group(nwb_file* f, const char* path) {
  if (f->err[0]) return -1;
  if (H5Lexists(f->file, path, H5P_DEFAULT) > 0) return 0;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(f->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (g < 0) return fail(f, "cannot create the group %s", path);
  H5Gclose(g);
  return 0;
}

int nwb_typed_group(nwb_file* f, const char* path, const char* type, const char* ns,
                    const char* description) {
  if (f->err[0]) return -1;
  if (H5Lexists(f->file, path, H5P_DEFAULT) > 0) return 0;  // made by an earlier call
  if (nwb_group(f, path)) return -1;
  if (description) nwb_attr_text(f, path, "description", description);
  return type_attrs(f, path, type, ns);
}

// A dataset written whole from memory: n-D (rank 0: scalar), optionally gzip-chunked.
static int dataset_write(nwb_file* f, const char* path, hid_t ftype, hid_t mtype, int rank,
                         const hsize_t* dims, const void* data, int compress) {
  if (f->err[0]) return -1;
  hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t total = 1;
  for (int i = 0; i < rank; i++) total *= dims[i];
  if (compress && rank && total > 0) {
    hsize_t chunk[AM_DS_MAX_DIMS + 1];
    size_t row = H5Tget_size(mtype);
    for (int i = 1; i < rank; i++) row *= dims[i];
    for (int i = 0; i < rank; i++) chunk[i] = dims[i];
    hsize_t rows = NWB_CHUNK_BYTES / (row ? row : 1);
    chunk[0] = rows < 1 ? 1 : rows < dims[0] ? rows : dims[0];
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, NWB_GZIP_LEVEL);
  }
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t d = H5Dcreate2(f->file, path, ftype, sp, lcpl, dcpl, H5P_DEFAULT);
  int bad = d < 0 || (total > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0);
  if (d >= 0) H5Dclose(d);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(sp);
  return bad ? fail(f, "cannot write the dataset %s", path) : 0;
}

int nwb_text(nwb_file* f, const char* path, const char* value) {
  return dataset_write(f, path, f->str, f->str, 0, NULL, &value, 0);
}
int nwb_text_array(nwb_file* f, const char* path, const char* const* values, size_t n) {
  hsize_t dim = n;
  return dataset_write(f, path, f->str, f->str, 1, &dim, values, 0);
}
int nwb_bytes(nwb_file* f, const char* path, const void* data, size_t n) {
  hsize_t dim = n;
  return dataset_write(f, path, H5T_STD_U8LE, H5T_NATIVE_UINT8, 1, &dim, data, 1);
}
int nwb_f64(nwb_file* f, const char* path, double value) {
  return dataset_write(f, path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &value, 0);
}

nwb_file* nwb_create(const char* path, const nwb_session* s, uint64_t uuid_seed, char* err,
                     size_t err_sz) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // errors are reported through err, not printed
  nwb_file* f = calloc(1, sizeof *f);
  if (!f) return am_err(err, err_sz, "%s: out of memory", path), NULL;
  snprintf(f->path, sizeof f->path, "%s", path);
  am_rng_seed(&f->rng, uuid_seed, 0x6e7762);
  f->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f->file < 0) {
    am_err(err, err_sz, "cannot create the HDF5 file %s", path);
    free(f);
    return NULL;
  }
  f->str = H5Tcopy(H5T_C_S1);
  H5Tset_size(f->str, H5T_VARIABLE);
  H5Tset_cset(f->str, H5T_CSET_UTF8);
  // NWBFile (core/nwb.file.yaml): the root group's attributes and required members
  type_attrs(f, "/", "NWBFile", "core");
  nwb_attr_text(f, "/", "nwb_version", NWB_VERSION);
  nwb_text_array(f, "/file_create_date", &s->file_create_date, 1);
  nwb_text(f, "/identifier", s->identifier);
  nwb_text(f, "/session_description", s->session_description);
  nwb_text(f, "/session_start_time", s->session_start_time);
  nwb_text(f, "/timestamps_reference_time", s->session_start_time);
  const char* groups[] = {"/acquisition", "/analysis", "/general", "/processing",
                          "/stimulus/presentation", "/stimulus/templates"};
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) nwb_group(f, groups[i]);
  if (f->err[0]) {
    am_err(err, err_sz, "%s", f->err);
    nwb_close(f, NULL, 0);
    return NULL;
  }
  return f;
}

int nwb_close(nwb_file* f, char* err, size_t err_sz) {
  if (f->str >= 0) H5Tclose(f->str);
  if (H5Fclose(f->file) < 0) fail(f, "cannot finish the file (write error: disk full?)");
  int rc = f->err[0] ? am_err(err, err_sz, "%s", f->err) : 0;
  free(f);
  return rc;
}

//---------------------------------- TimeSeries ----------------------------------------------------

// An empty extendible dataset of rank dims (dims[0] = 0 rows), chunked and gzip-compressed.
static hsize_t chunk_rows(size_t row_bytes) {
  hsize_t rows = NWB_CHUNK_BYTES / (row_bytes ? row_bytes : 1);
  return rows < 1 ? 1 : rows;
}

static hid_t extendible(nwb_file* f, const char* path, hid_t ftype, size_t elem, int rank,
                        const hsize_t* dims) {
  hsize_t maxd[AM_DS_MAX_DIMS + 1], chunk[AM_DS_MAX_DIMS + 1];
  size_t row = elem;
  for (int i = 0; i < rank; i++) {
    maxd[i] = i ? dims[i] : H5S_UNLIMITED;
    chunk[i] = dims[i] ? dims[i] : 1;
    if (i) row *= dims[i];
  }
  chunk[0] = chunk_rows(row);
  hid_t sp = H5Screate_simple(rank, dims, maxd);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, rank, chunk);
  H5Pset_shuffle(dcpl);
  H5Pset_deflate(dcpl, NWB_GZIP_LEVEL);
  hid_t d = H5Dcreate2(f->file, path, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(sp);
  if (d < 0) fail(f, "cannot create the dataset %s", path);
  return d;
}

nwb_series* nwb_series_create(nwb_file* f, const nwb_series_def* d) {
  if (f->err[0]) return NULL;
  nwb_series* s = calloc(1, sizeof *s);
  if (!s) return fail(f, "out of memory"), NULL;
  s->data = s->stamps = -1;
  snprintf(s->path, sizeof s->path, "%s", d->path);
  s->mem = mem_type(d->dtype);
  s->rank = 1 + d->ndim;
  s->row_bytes = am_dtype_size(d->dtype);
  for (int i = 0; i < d->ndim; i++) {
    s->dims[1 + i] = d->shape[i];
    s->row_bytes *= d->shape[i];
  }
  s->chunk_rows = (int64_t)chunk_rows(s->row_bytes);
  s->buf = malloc((size_t)s->chunk_rows * s->row_bytes + 1);
  s->tbuf = d->rate > 0 ? NULL : malloc((size_t)s->chunk_rows * sizeof(double));
  if (!s->buf || (d->rate <= 0 && !s->tbuf)) {
    fail(f, "out of memory");
    nwb_series_free(s);
    return NULL;
  }
  char p[600];
  nwb_typed_group(f, d->path, d->type, "core", d->description);
  if (d->comments) nwb_attr_text(f, d->path, "comments", d->comments);
  snprintf(p, sizeof p, "%s/data", d->path);
  s->data = extendible(f, p, file_type(d->dtype), am_dtype_size(d->dtype), s->rank, s->dims);
  if (s->data >= 0) {
    nwb_attr_text(f, p, "unit", d->unit && *d->unit ? d->unit : "n/a");
    nwb_attr_f32(f, p, "conversion", 1.0f);
    nwb_attr_f32(f, p, "offset", 0.0f);
    nwb_attr_f32(f, p, "resolution", -1.0f);
    if (d->continuity) nwb_attr_text(f, p, "continuity", d->continuity);
  }
  if (d->rate > 0) {
    snprintf(p, sizeof p, "%s/starting_time", d->path);
    nwb_f64(f, p, d->starting_time);
    nwb_attr_f32(f, p, "rate", (float)d->rate);
    nwb_attr_text(f, p, "unit", "seconds");
  } else {
    snprintf(p, sizeof p, "%s/timestamps", d->path);
    hsize_t zero = 0;
    s->stamps = extendible(f, p, H5T_IEEE_F64LE, 8, 1, &zero);
    if (s->stamps >= 0) {
      nwb_attr_i32(f, p, "interval", 1);
      nwb_attr_text(f, p, "unit", "seconds");
    }
  }
  if (f->err[0]) {
    nwb_series_free(s);
    return NULL;
  }
  return s;
}

static int append(nwb_file* f, hid_t d, hid_t mem, int rank, hsize_t* dims, const void* rows,
                  int64_t n, const char* what) {
  hsize_t start[AM_DS_MAX_DIMS + 1] = {0}, count[AM_DS_MAX_DIMS + 1];
  for (int i = 0; i < rank; i++) count[i] = dims[i];
  start[0] = dims[0];
  count[0] = (hsize_t)n;
  dims[0] += (hsize_t)n;
  if (H5Dset_extent(d, dims) < 0) return fail(f, "cannot extend %s", what);
  hid_t fs = H5Dget_space(d);
  hid_t ms = H5Screate_simple(rank, count, NULL);
  int bad = fs < 0 || ms < 0 ||
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(d, mem, ms, fs, H5P_DEFAULT, rows) < 0;
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return bad ? fail(f, "cannot write %lld rows to %s (disk full?)", (long long)n, what) : 0;
}

static int flush(nwb_file* f, nwb_series* s) {
  if (f->err[0] || s->n_buf == 0) return f->err[0] ? -1 : 0;
  int64_t n = s->n_buf;
  s->n_buf = 0;
  hsize_t tdims[1] = {s->dims[0]};
  if (append(f, s->data, s->mem, s->rank, s->dims, s->buf, n, s->path)) return -1;
  return s->tbuf ? append(f, s->stamps, H5T_NATIVE_DOUBLE, 1, tdims, s->tbuf, n, s->path) : 0;
}

int nwb_series_append(nwb_file* f, nwb_series* s, const void* rows, int64_t n,
                      const double* times) {
  if (f->err[0]) return -1;
  if (s->tbuf && !times) return fail(f, "%s: timestamps missing", s->path);
  const unsigned char* p = rows;
  while (n > 0) {
    int64_t k = s->chunk_rows - s->n_buf < n ? s->chunk_rows - s->n_buf : n;
    memcpy(s->buf + (size_t)s->n_buf * s->row_bytes, p, (size_t)k * s->row_bytes);
    if (s->tbuf) {
      memcpy(s->tbuf + s->n_buf, times, (size_t)k * sizeof(double));
      times += k;
    }
    s->n_buf += k;
    p += (size_t)k * s->row_bytes;
    n -= k;
    if (s->n_buf == s->chunk_rows && flush(f, s)) return -1;
  }
  return 0;
}

int nwb_series_finish(nwb_file* f, nwb_series* s) {
  int rc = s ? flush(f, s) : 0;
  nwb_series_free(s);
  return rc;
}

void nwb_series_free(nwb_series* s) {
  if (!s) return;
  if (s->data >= 0) H5Dclose(s->data);
  if (s->stamps >= 0) H5Dclose(s->stamps);
  free(s->buf);
  free(s->tbuf);
  free(s);
}

//---------------------------------- tables --------------------------------------------------------

static int column(nwb_file* f, const char* table, const nwb_column* c, int64_t n) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", table, c->name);
  hsize_t dims[2] = {(hsize_t)n, (hsize_t)(c->width > 1 ? c->width : 1)};
  int rank = c->width > 1 ? 2 : 1;
  hid_t ft = -1, mt = -1;
  switch (c->kind) {
    case NWB_COL_F64: ft = H5T_IEEE_F64LE, mt = H5T_NATIVE_DOUBLE; break;
    case NWB_COL_I64: ft = H5T_STD_I64LE, mt = H5T_NATIVE_INT64; break;
    case NWB_COL_I32: ft = H5T_STD_I32LE, mt = H5T_NATIVE_INT32; break;
    case NWB_COL_U8: ft = H5T_STD_U8LE, mt = H5T_NATIVE_UINT8; break;
    case NWB_COL_TEXT: ft = mt = f->str; rank = 1; break;
  }
  dataset_write(f, p, ft, mt, rank, dims, c->data, c->kind != NWB_COL_TEXT);
  nwb_attr_text(f, p, "description", c->description ? c->description : "");
  return type_attrs(f, p, "VectorData", "hdmf-common");
}

int nwb_table(nwb_file* f, const char* path, const char* type, const char* ns,
              const char* description, int64_t n_rows, const int64_t* ids, const nwb_column* cols,
              int n_cols) {
  if (f->err[0]) return -1;
  nwb_typed_group(f, path, type, ns, description ? description : "");
  const char** names = calloc((size_t)(n_cols > 0 ? n_cols : 1), sizeof *names);
  int64_t* own = ids ? NULL : calloc((size_t)(n_rows > 0 ? n_rows : 1), sizeof *own);
  if (!names || (!ids && !own)) {
    free(names);
    free(own);
    return fail(f, "out of memory");
  }
  for (int i = 0; i < n_cols; i++) names[i] = cols[i].name;
  attr_text_array(f, path, "colnames", names, (size_t)n_cols);
  for (int64_t i = 0; own && i < n_rows; i++) own[i] = i;
  char p[600];
  snprintf(p, sizeof p, "%s/id", path);
  hsize_t dim = (hsize_t)n_rows;
  dataset_write(f, p, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &dim, ids ? ids : own, 0);
  type_attrs(f, p, "ElementIdentifiers", "hdmf-common");
  for (int i = 0; i < n_cols; i++) column(f, path, &cols[i], n_rows);
  free(names);
  free(own);
  return f->err[0] ? -1 : 0;
}

int nwb_intervals(nwb_file* f, const char* path, const char* description, int64_t n_rows,
                  const int64_t* ids, const double* start, const double* stop,
                  const nwb_column* extra, int n_extra) {
  nwb_column* cols = calloc((size_t)n_extra + 2, sizeof *cols);
  if (!cols) return fail(f, "out of memory");
  cols[0] = (nwb_column){"start_time", "Start time of the interval, in seconds.", NWB_COL_F64, 1,
                         start};
  cols[1] = (nwb_column){"stop_time", "Stop time of the interval, in seconds.", NWB_COL_F64, 1,
                         stop};
  for (int i = 0; i < n_extra; i++) cols[2 + i] = extra[i];
  int rc = nwb_table(f, path, "TimeIntervals", "core", description, n_rows, ids, cols, n_extra + 2);
  free(cols);
  return rc;
}
