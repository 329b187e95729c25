// ds_trials.h: a recorded dataset seen as trials: the trial schema read from its metadata (or,
// for files written before the schema was recorded, from the task registry), the event and
// variable names, and the trial table built episode by episode (memory: one episode's event,
// variable and root channels at a time, plus the table). Used by `animat trials` and
// `animat analyze`.
#ifndef ANIMAT_DS_TRIALS_H
#define ANIMAT_DS_TRIALS_H

#include "am_dataset.h"
#include "ana.h"

typedef struct ds_trials {
  am_ds_reader* r;  // not owned
  char task[64];
  int n_events, n_vars;
  char events[AM_MAX_EVENTS][AM_NAME_LEN];
  char vars[AM_MAX_VARS][AM_NAME_LEN];
  ana_trial_schema schema;
  int ch_events, ch_vars, ch_qpos;  // channels, -1 when absent
  int root_adr;                     // qpos address of the free root joint, -1 when none
  double dt;                        // control period (s)
  const char* schema_source;        // "metadata" or "task registry"
  // scratch for one episode (ds_trials_episode)
  uint32_t* ev;
  float* vals;  // task variables (steps x n_vars)
  double *qpos, *root;
  void** dst;                       // per channel, for am_ds_read_episode
  size_t cap;                       // steps the buffers hold
} ds_trials;

// Reads the schema of an open dataset. onset_frac: the kinematic onset threshold (fraction of
// the trial's peak speed). Returns 0 or -1 with a message naming the file and field.
int ds_trials_open(ds_trials* d, am_ds_reader* r, const char* path, double onset_frac, char* err,
                   size_t err_sz);

void ds_trials_close(ds_trials* d);  // frees the scratch (not the reader)

// The recording's task parameters (metadata task.params, the overrides of the task's defaults)
// into *p (zeroed first; empty when the file has none). Returns 0 or -1 with the parser's message.
struct amt_params;
int ds_task_params(const ds_trials* d, struct amt_params* p, char* err, size_t err_sz);

// Reads episode index i (one decompression of its chunks) and appends its trials to tab. When
// extra_ch >= 0 that channel of the episode is read in the same pass into *extra (grown to
// *extra_cap bytes as needed; the caller frees it).
int ds_trials_episode(ds_trials* d, int64_t i, ana_trials* tab, int extra_ch, void** extra,
                      size_t* extra_cap, char* err, size_t err_sz);

// Builds the trial table of every episode (in id order) into tab (zeroed by the caller).
// progress (may be NULL) is called after each episode with (done, total).
int ds_trials_build(ds_trials* d, ana_trials* tab, void (*progress)(int64_t, int64_t, void*),
                    void* ctx, char* err, size_t err_sz);

// The names of a comma-separated label list: fills up to max names of AM_NAME_LEN; returns the
// count or -1 when a name is too long or there are more than max.
int ds_split_labels(const char* labels, char (*names)[AM_NAME_LEN], int max);

// Index of name in names (n), -1 when absent.
int ds_find_name(const char (*names)[AM_NAME_LEN], int n, const char* name);

// The trial table's kinematic and body column names (the trial table, the NWB trials table).
#define DS_KIN_COLS 10
#define DS_BODY_COLS 4
extern const char* const ds_kin_names[DS_KIN_COLS];
extern const char* const ds_body_names[DS_BODY_COLS];

// The trial table as a table (table.h; zeroed by the caller): the columns of `animat trials`
// (docs/analysis.md) for this dataset, one row per trial. Returns 0 or -1 (out of memory).
struct table;
int ds_trials_table(const ds_trials* d, const ana_trials* tab, struct table* tb);

// A trial's outcome as text: "success", the name of the event that ended it (abort, timeout,
// error...), "incomplete" (cut by the episode's end) or "ended".
const char* ds_trial_outcome(const ds_trials* d, const ana_trial* t);

// A trial's length (s): its rows times the control period (a search's latency in water-maze).
double ds_trial_length(const ds_trials* d, const ana_trial* t);

#endif
