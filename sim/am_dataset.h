// am_dataset.h: animat's recorded datasets (public header, part of sim/).
//
// What it is: the writer, reader and recovery of the ".rollout" dataset format (specified byte by
// byte in docs/dataset-format.md), and a recorder that turns an env pool's batch buffers into
// dataset rows. A dataset is self-described: named channels (dtype, shape per step, group, units,
// labels), one row per (episode, control step); rows of one episode are stored in chunks, each an
// independent zstd frame with a CRC-32; an index at the end (in parts when long) gives random
// access by episode. A file whose writer died or failed is readable without it: the reader scans
// the chunks, resynchronising past damaged ones, and reports what was lost (am_ds_get_damage).
// What it is not: no printing, no exiting, no networks (network channels are just more channels
// that the caller registers and fills). Errors are return codes with a message in err.
//
// Thread safety: a writer or reader is used by one thread at a time; open one reader per thread.
// A writer compresses and writes its chunks on a background thread of its own (see
// am_ds_set_background); that is invisible to the caller except that a write error may be reported
// by a later call than the one that handed the chunk over (at the latest by am_ds_close).
#ifndef AM_DATASET_H
#define AM_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "am_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AM_DS_VERSION_MAJOR 1  // readers refuse other majors
#define AM_DS_VERSION_MINOR 4  // readers accept newer minors (1.1: index in parts, trailer flags;
                               // 1.2: per-chunk filters, lossy channels; 1.3: channel models;
                               // 1.4: model functions, a model reading its own row)
#define AM_DS_MAX_DIMS 4       // dimensions of a channel's per-step shape
#define AM_DS_MAX_CHANNELS 1024

//---------------------------------- channels ------------------------------------------------------

typedef enum am_dtype {
  AM_DT_F32 = 1,
  AM_DT_F64 = 2,
  AM_DT_I32 = 3,
  AM_DT_U8 = 4,
  AM_DT_U32 = 5,
  AM_DT_I64 = 6,
} am_dtype;

size_t am_dtype_size(am_dtype t);       // bytes per element, 0 for an unknown dtype
const char* am_dtype_name(am_dtype t);  // "f32", "f64", "i32", "u8", "u32", "i64" or "?"

#define AM_DS_CH_DELTA 1u  // smooth channel: 1.0/1.1 store differences between consecutive rows;
                           // 1.2 writers use it only until they have chosen the channel's filter
#define AM_DS_CH_LOSSY 2u  // 1.2, f32 and f64 only: stored with half the bits (f32 as IEEE
                           // binary16, f64 as binary32, rounded to nearest); read back widened

// A channel's description. Strings are copied by the writer (NULL: empty).
typedef struct am_channel_def {
  const char* name;    // unique, e.g. "qpos", "obs/proprioception", "core/h"
  const char* group;   // "time", "body", "obs", "action", "reward", "task", "network", ...
  const char* units;   // e.g. "s", "rad or m (per joint)", "" when unitless or unknown
  const char* labels;  // optional comma-separated names of the last dimension's entries
  am_dtype dtype;
  int ndim;                         // 0 (a scalar per step) .. AM_DS_MAX_DIMS
  uint32_t shape[AM_DS_MAX_DIMS];   // per-step shape
  uint32_t flags;                   // AM_DS_CH_*
} am_channel_def;

// A channel as the reader sees it (strings owned by the reader).
typedef struct am_ds_channel {
  char* name;
  char* group;
  char* units;
  char* labels;
  am_dtype dtype;
  int ndim;
  uint32_t shape[AM_DS_MAX_DIMS];
  uint32_t flags;
  size_t elems;      // elements per step (product of shape; 1 for a scalar)
  size_t row_bytes;  // bytes per step
} am_ds_channel;

//---------------------------------- writer --------------------------------------------------------

typedef struct am_ds_writer am_ds_writer;

// Creates the file. Refuses an existing path unless force (then truncates it). Nothing is written
// before am_ds_begin. Returns NULL with a message on failure.
am_ds_writer* am_ds_create(const char* path, int force, char* err, size_t err_sz);

// Adds a metadata entry (text key, text or binary value of len bytes; len < 0: strlen). Before
// am_ds_begin. Conventional keys are listed in docs/dataset-format.md ("model.xml", "task.name"...).
int am_ds_set_meta(am_ds_writer* w, const char* key, const void* value, long len);

// Before am_ds_begin: on (the default) filters, compresses and writes finished chunks on a
// background thread, in order, while the caller goes on filling rows (the caller waits only when
// a bounded number of chunks is queued); off: on the calling thread, inside am_ds_row_commit.
// The file is the same either way.
int am_ds_set_background(am_ds_writer* w, int on);

// Registers a channel before am_ds_begin. Returns its index (0, 1, ...) or -1 (the message is in
// am_ds_writer_error).
int am_ds_add_channel(am_ds_writer* w, const am_channel_def* def);

// Writes the header, metadata and channel table, and allocates the row buffers of n_slots
// independent streams (e.g. one per env) of up to chunk_rows rows (0: automatic, about 1 MiB of
// raw data per chunk). n_init: doubles of initial state stored with each episode's first chunk.
int am_ds_begin(am_ds_writer* w, int n_slots, int chunk_rows, int n_init);

// Starts an episode in a slot (flushing nothing: the slot's previous episode must have ended or
// is flushed as incomplete). episode: the dataset's episode id (unique, from 0). init: n_init
// doubles (may be NULL when n_init is 0).
int am_ds_episode_begin(am_ds_writer* w, int slot, int64_t episode, const double* init);

// Where the slot's current row of channel ch goes (row_bytes bytes). Valid until the next
// am_ds_row_commit on that slot.
void* am_ds_row_ptr(am_ds_writer* w, int slot, int ch);
// The slot's current row of every channel c with src[c] != NULL copied from src[c] (row_bytes
// bytes each) in one call; the others stay as am_ds_row_ptr's callers left them.
void am_ds_row_put(am_ds_writer* w, int slot, const void* const* src);

// Ends the slot's current row. end: 0 (the episode goes on), or AM_DS_END_* bits (the episode
// ended with this row; its last chunk is written). A full chunk is compressed and written.
#define AM_DS_END 1u         // the episode ended at this row
#define AM_DS_TERMINATED 2u  // ... by the task's rules
#define AM_DS_TRUNCATED 4u   // ... by the time limit or instability
int am_ds_row_commit(am_ds_writer* w, int slot, uint32_t end);

// Writes rows still buffered (their episodes marked incomplete), the index (split over several
// INDEX blocks when it is long) and the trailer, syncs and closes. Frees w in every case. Returns 0,
// or -1 with a message (e.g. disk full, now or earlier): then the file keeps every chunk written
// whole and nothing after it (no index, no trailer: it never looks complete; readers recover the
// chunks by scanning), and the message names the file and what it keeps; a file that got no
// chunk is removed.
int am_ds_close(am_ds_writer* w, char* err, size_t err_sz);

// Closes and deletes the file, whatever it holds: for a caller that gives up before recording
// anything (after a failed am_ds_begin, say). A recording that fails later is closed with
// am_ds_close, which keeps what was written.
void am_ds_abort(am_ds_writer* w);

// Before am_ds_close: the recording stopped before it had all it was asked for (e.g. Ctrl-C); the
// trailer says so (am_ds_interrupted) and the episodes not finished are marked incomplete.
void am_ds_set_interrupted(am_ds_writer* w);

// Filters of format 1.2 (docs/dataset-format.md, "Filters"): a predictor and a layout per channel
// and chunk. A writer chooses each channel's on its first chunk of 64 rows or more.
enum { AM_DS_PRED_NONE, AM_DS_PRED_SUB, AM_DS_PRED_SUBZ, AM_DS_PRED_XOR, AM_DS_PRED_REF,
       AM_DS_PRED_MODEL };
enum { AM_DS_LAYOUT_BYTE, AM_DS_LAYOUT_BIT };
// Test hook (golden files, fuzz seeds), after am_ds_add_channel: channel ch always uses this
// predictor and layout (ref: the earlier channel that predicts it with AM_DS_PRED_REF, which must
// be allowed: see docs/dataset-format.md). 0 or -1.
int am_ds_set_filter(am_ds_writer* w, int ch, int pred, int layout, int ref);

// Channel models (format 1.3, docs/dataset-format.md "Models"): what the caller knows of how a
// channel follows from others (an observation is the float of a sensor reading of the step
// before; a joint sensor is qpos - h qvel), stated per element, before am_ds_begin. The writer
// stores the models once and, per channel, uses its model only where it compresses better than
// the other predictors; a wrong model costs nothing but the search. Element elem of channel ch
// (f32 or f64) is predicted as clamp(f(bias + sum of the terms' coef x value), lo, hi) (lo = -inf,
// hi = +inf for none; f the identity unless am_ds_model_func says otherwise); am_ds_model_elem
// starts an element (elements of a channel in increasing order), am_ds_model_term adds a term to
// the element started last: element src_elem of channel src (f32 or f64; ch itself in the row
// before, or in the same row at an element before elem) in the same row (lag 0) or the row before
// (lag 1), times coef; am_ds_model_product a term coef x value x value2 (a second factor, the
// same rules); am_ds_model_func sets f of the element started last (AM_DS_FUNC_*). Models must not
// form a cycle (checked by am_ds_begin). 0, or -1 with the message in am_ds_writer_error.
enum { AM_DS_FUNC_NONE = 0, AM_DS_FUNC_LOGISTIC = 1, AM_DS_FUNC_TANH = 2 };
int am_ds_model_elem(am_ds_writer* w, int ch, uint32_t elem, double bias, double lo, double hi);
int am_ds_model_func(am_ds_writer* w, int ch, int func);
int am_ds_model_term(am_ds_writer* w, int ch, int src, int lag, uint32_t src_elem, double coef);
int am_ds_model_product(am_ds_writer* w, int ch, int src, int lag, uint32_t src_elem, int src2,
                        int lag2, uint32_t src_elem2, double coef);
// Models added to channel ch so far (elements predicted), for callers that check what they built.
int am_ds_model_count(const am_ds_writer* w, int ch);
// A channel's index by name, -1 when there is none.
int am_ds_writer_find_channel(const am_ds_writer* w, const char* name);

// Test hook: index entries per INDEX block (default and maximum: as many as fit in one 64 MiB
// block, about 1.68 million chunks), so that a test writes an index in several parts.
int am_ds_set_index_part(am_ds_writer* w, uint32_t entries);

// The first error the writer met ("" when none). Once set, every call fails.
const char* am_ds_writer_error(const am_ds_writer* w);

// Bytes written so far, raw bytes of rows written so far.
uint64_t am_ds_writer_bytes(const am_ds_writer* w);
uint64_t am_ds_writer_raw_bytes(const am_ds_writer* w);

//---------------------------------- reader --------------------------------------------------------

typedef struct am_ds_reader am_ds_reader;

typedef struct am_ds_episode {
  int64_t id;         // episode id given by the writer
  int env;            // slot (env) that ran it
  int64_t steps;      // rows recorded
  int first_chunk;    // index into the chunk table; its chunks are consecutive there
  int n_chunks;
  int complete;       // the episode's end was recorded
  int terminated;     // ended by the task's rules
  int truncated;      // ended by the time limit or instability
} am_ds_episode;

typedef struct am_ds_chunk {
  uint64_t offset;       // of the chunk's block header in the file
  int64_t episode;       // episode id
  uint32_t env, first_step, rows, flags;  // flags: AM_DS_CHUNK_*
  uint32_t stored_bytes; // payload bytes in the file
  uint32_t raw_bytes;    // decompressed body bytes
} am_ds_chunk;
#define AM_DS_CHUNK_FIRST 1u       // first chunk of its episode (holds the initial state)
#define AM_DS_CHUNK_LAST 2u        // the episode ended in this chunk
#define AM_DS_CHUNK_TERMINATED 4u
#define AM_DS_CHUNK_TRUNCATED 8u

// How chunk k stores channel ch: the predictor ("none", "sub", "subz", "xor", "ref") and layout
// ("byte", "bit") names, and the channel it refers to (ref, -1 when none). For 1.0/1.1 files, from
// the channel's DELTA flag; for 1.2, from the chunk's filter table (the chunk is read). 0 or -1.
int am_ds_chunk_filter(am_ds_reader* r, int k, int ch, const char** pred, const char** layout,
                       int* ref, char* err, size_t err_sz);

// Opens a dataset: checks the header, metadata and channel table, then reads the index; when the
// index is missing or damaged, scans the chunks instead (am_ds_recovered says so and why).
// Returns NULL with a message naming the field or block at fault.
am_ds_reader* am_ds_open(const char* path, char* err, size_t err_sz);
// The same over a memory buffer (not copied; must outlive the reader). name is used in messages.
am_ds_reader* am_ds_open_memory(const void* data, size_t size, const char* name, char* err,
                                size_t err_sz);
void am_ds_reader_free(am_ds_reader* r);
// A second reader of r's file for another thread: it shares r's file, metadata, channel, chunk and
// episode tables and model plans (r must outlive it) and has its own buffers and decoding state,
// so r and its dups may read episodes (am_ds_read_episode, am_ds_read_channel) at the same time,
// one thread each. Nothing is read from the file. Freed with am_ds_reader_free. NULL when out of
// memory.
am_ds_reader* am_ds_reader_dup(const am_ds_reader* r, char* err, size_t err_sz);
// Runs fn(rd, t, ctx) for t = 0 .. n - 1 at once, each on a thread of its own with a reader of its
// own: t = 0 on the calling thread with r itself, the others with dups of r, freed when they
// return. n is threads (at most AM_DS_MAX_THREADS), fewer when dups or threads cannot be made; how
// the work is shared out is fn's (e.g. an atomic counter in ctx). Returns n once all have returned.
#define AM_DS_MAX_THREADS 64
int am_ds_run_threads(am_ds_reader* r, int threads, void (*fn)(am_ds_reader* rd, int t, void* ctx),
                      void* ctx);

// 1 when the index was not usable and the chunks were found by scanning; note says why, how many
// chunks were found and whether any bytes were skipped ("" otherwise).
int am_ds_recovered(const am_ds_reader* r, const char** note);

// What a recovery could not keep. Scanning resynchronises past a damaged block on the next valid
// block header (magic and header CRC), so one bad chunk loses that chunk only; the skipped byte
// ranges are gaps. Chunks found whole but left out of their episode (it lost an earlier chunk or
// its first one) are dropped. All zero for a file read through its index (am_ds_verify finds
// damage there).
typedef struct am_ds_damage {
  int gaps;               // byte ranges that held no valid block (a bad chunk, a cut-off block...)
  uint64_t gap_bytes;     // their total size
  int dropped_chunks;     // good chunks left out of the episodes
  const char* text;       // one line per gap / dropped chunk (the first 32), "" when none
} am_ds_damage;
void am_ds_get_damage(const am_ds_reader* r, am_ds_damage* d);

// 1 when the writer closed the file before the recording had all it was asked for (Ctrl-C): the
// file is intact, its unfinished episodes are marked incomplete.
int am_ds_interrupted(const am_ds_reader* r);

void am_ds_version(const am_ds_reader* r, int* major, int* minor);
int am_ds_num_meta(const am_ds_reader* r);
const char* am_ds_meta_key(const am_ds_reader* r, int i);
// A metadata value by key (NUL-terminated; *len gets its length when len is not NULL). NULL if absent.
const char* am_ds_meta(const am_ds_reader* r, const char* key, size_t* len);

int am_ds_num_channels(const am_ds_reader* r);
const am_ds_channel* am_ds_get_channel(const am_ds_reader* r, int i);
int am_ds_find_channel(const am_ds_reader* r, const char* name);  // index or -1
// Channel ch's model (format 1.3): the elements it predicts (*n_elems) and the distinct channels it
// reads (up to max_src of them into src, in order of first use); returns how many channels it
// reads, or -1 when the file has no model for ch.
int am_ds_channel_model(const am_ds_reader* r, int ch, int* n_elems, int* src, int max_src);

int64_t am_ds_num_episodes(const am_ds_reader* r);
const am_ds_episode* am_ds_get_episode(const am_ds_reader* r, int64_t i);  // sorted by id
int64_t am_ds_find_episode(const am_ds_reader* r, int64_t id);  // index or -1
int am_ds_num_chunks(const am_ds_reader* r);
const am_ds_chunk* am_ds_get_chunk(const am_ds_reader* r, int i);
int am_ds_num_init(const am_ds_reader* r);  // doubles of initial state per episode

// Reads episode i (index, not id): for every channel c with dst[c] != NULL, writes
// steps x row_bytes bytes to dst[c]. init (may be NULL) receives the initial state. Checks every
// chunk's CRC and sizes. Returns 0 or -1 naming the chunk.
int am_ds_read_episode(am_ds_reader* r, int64_t i, void* const* dst, double* init, char* err,
                       size_t err_sz);
// One channel of episode i into dst (steps x row_bytes bytes).
int am_ds_read_channel(am_ds_reader* r, int64_t i, int ch, void* dst, char* err, size_t err_sz);

// Reads and checks every chunk (header CRCs, payload CRCs, decompression, sizes, prefix against
// the index entry), walks every block of the file and cross-checks it with the index (every index
// entry is a valid chunk, every chunk in the file is indexed, no byte range holds garbage), and
// counts the gaps and dropped chunks of a recovery. Returns 0, or -1 with a message counting the
// problems and naming the first; *n_bad (may be NULL) counts the problems.
// In a 1.2 file every chunk is also decoded (filters undone, bit-layout padding checked).
int am_ds_verify(am_ds_reader* r, int* n_bad, char* err, size_t err_sz);
// The same with the chunks checked and decoded on threads threads (r and dups of it, fewer when
// they cannot be made): the same counts and the same first problem as on one.
int am_ds_verify_threads(am_ds_reader* r, int threads, int* n_bad, char* err, size_t err_sz);

// Sizes: the file, the chunks' payloads, and the raw (uncompressed, unfiltered) row data.
void am_ds_sizes(const am_ds_reader* r, uint64_t* file_bytes, uint64_t* stored_bytes,
                 uint64_t* raw_bytes);

//---------------------------------- recorder: env pool -> dataset ---------------------------------

// The recorder registers the standard channels of a pool's task (step, time, obs per group,
// action, reward and terms, terminated/truncated/unstable, events, task variables, and with
// export_state the body: qpos, qvel, act, ctrl, actuator_force, sensordata), the metadata of the
// model and task, and records the initial state (time, qpos, qvel, act) of every episode.
// Usage: am_rec_create; am_rec_add_channel for extra per-env channels (e.g. the network's);
// am_rec_begin; then after every am_pool_step, am_rec_step; then am_rec_close.
typedef struct am_rec am_rec;

typedef struct am_rec_config {
  const char* path;
  int force;            // overwrite an existing file
  int64_t episodes;     // episodes to record (ids 0..episodes-1, in the order they start)
  int64_t per_env;      // > 0: each env records its first per_env episodes (episodes must then be
                        // num_envs x per_env): a fixed protocol per env (animat session)
  int chunk_rows;       // 0: automatic
  const char* task_params;  // the task's key=value overrides, one per line (metadata)
  uint64_t seed;
  const char* policy;       // "random", or the checkpoint's path
  const char* policy_hash;  // identity of the checkpoint (e.g. its hash), or NULL
  int64_t policy_step;      // training step of the checkpoint (-1: none)
  int lossy;  // store observations, sensordata and network activity with half the bits
              // (AM_DS_CH_LOSSY); the body state a re-simulation needs stays exact
} am_rec_config;

// The pool must have been created with export_state = 1 (else the body channels are absent) and
// must not have been stepped yet (the first episodes' initial states are taken from its envs).
am_rec* am_rec_create(am_pool* pool, const am_rec_config* cfg, char* err, size_t err_sz);
// An extra per-env channel read from src (num_envs x row_bytes contiguous, valid whenever
// am_rec_step runs). Returns the channel index or -1.
int am_rec_add_channel(am_rec* rec, const am_channel_def* def, const void* src, char* err,
                       size_t err_sz);
// The recording's writer, for what the recorder does not do itself (e.g. channel models of the
// caller's channels, am_ds_model_elem) before am_rec_begin.
am_ds_writer* am_rec_writer(am_rec* rec);
// The channel holding entry k of the task's observation vector (its element there in *elem), or -1.
int am_rec_obs_channel(const am_rec* rec, int k, uint32_t* elem);
// Adds metadata (before am_rec_begin).
int am_rec_set_meta(am_rec* rec, const char* key, const char* value);
int am_rec_begin(am_rec* rec, char* err, size_t err_sz);
// Records the step the pool just took. Returns 1 when every requested episode is complete,
// 0 to go on, -1 on a write error (message in err).
int am_rec_step(am_rec* rec, char* err, size_t err_sz);
int64_t am_rec_episodes_done(const am_rec* rec);
int64_t am_rec_rows(const am_rec* rec);
// Finishes the file (episodes not complete are kept and marked incomplete; fewer complete episodes
// than asked for mark the file interrupted). Frees rec. On an error (now or met earlier by
// am_rec_step) the file keeps what was written whole, as am_ds_close says.
int am_rec_close(am_rec* rec, char* err, size_t err_sz);
void am_rec_abort(am_rec* rec);  // deletes the file, frees rec (before recording began)

//---------------------------------- replay --------------------------------------------------------

// Re-simulates episode i of a dataset from its recorded initial state and controls on model
// (e.g. from am_ds_load_model), and writes the largest |qpos - recorded qpos| over its steps (0
// when the replay is exact). Needs the qpos and ctrl channels; when the dataset has the
// qfrc_applied channel (tasks that push the body in each physics step, e.g. force fields), the
// recorded force is applied in each physics step, as the task did. Returns 0 or -1.
int am_ds_resim_episode(am_ds_reader* r, const am_model* model, int64_t i, double* max_dev,
                        char* err, size_t err_sz);

// Rebuilds the recorded model from the file alone: the exact compiled model of metadata model.mjb
// when this MuJoCo version wrote it; else (the MJCF fallback) compiles metadata model.xml and
// restores the heightfield samples of model.hfield_data (terrain that tasks generate in code).
// source (may be NULL) receives which of the two was used, and why the fallback was taken.
// Returns NULL with a message naming the metadata field on failure.
am_model* am_ds_load_model(am_ds_reader* r, char* source, size_t source_sz, char* err,
                           size_t err_sz);

#ifdef __cplusplus
}
#endif
#endif  // AM_DATASET_H
