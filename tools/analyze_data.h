// analyze_data.h: what `animat analyze` methods share: the selection of a module or channel,
// trials (by condition values and outcome) and an alignment (an event or the kinematic onset with
// a window), and one streaming pass over a dataset that accumulates condition-averaged activity
// (sum, sum of squares, count per condition x time bin x unit) and each trial's mean over the
// window. Memory: one episode's channel at a time plus the accumulators and the trial table.
#ifndef ANIMAT_ANALYZE_DATA_H
#define ANIMAT_ANALYZE_DATA_H

#include "ana_svg.h"
#include "ds_trials.h"

#define AZ_MAX_WHERE 8
#define AZ_MAX_VALUES 32

typedef struct az_select {
  const char* channel;   // dataset channel (e.g. core/output)
  const char* align;     // event name, "onset" (kinematic) or NULL (the method's default)
  double w0, w1;         // window around the alignment (s), w0 < w1
  int bin;               // control steps per time bin (>= 1)
  double smooth;         // Gaussian smoothing sigma (s) applied along time, 0: none
  const char* outcome;   // "success" (default), "all", or an outcome name
  int by[AM_MAX_CONDITIONS], n_by;  // condition variables (indices into schema.cond) grouping
  int n_where;                      // trial filters: condition variable in a set of values
  int where_var[AZ_MAX_WHERE];
  int where_n[AZ_MAX_WHERE];
  float where_val[AZ_MAX_WHERE][AZ_MAX_VALUES];
  int keep_trials;       // also keep every selected trial's binned activity (decode)
  int vars_too;          // also keep each selected trial's binned task variables (decode)
} az_select;

typedef struct az_data {
  int units, T;            // units of the channel, time bins in the window
  double bin_s;            // seconds per bin
  double t0;               // time of bin 0's start relative to the alignment (s)
  int ncond;
  float (*keys)[AM_MAX_CONDITIONS];  // ncond condition values (the `by` variables), sorted
  double *sum, *sq;        // ncond x T x units
  int64_t* cnt;            // ncond x T: trials contributing
  int64_t ntr;             // selected trials (aligned, window at least partly inside the episode)
  int64_t* tr;             // their rows in the trial table
  int* tcond;              // their condition index
  double* wmean;           // ntr x units: mean activity over the window
  float* full;             // keep_trials: ntr x T x units (NaN outside the episode)
  float* fvars;            // vars_too: ntr x T x n_vars (NaN outside the episode)
} az_data;

// The position of the task variable `name` among the dataset's condition variables (an index
// into schema.cond and ana_trial.cond), -1 when it is not one.
int az_cond_slot(const ds_trials* d, const char* name);

// Parses "VAR=V1,V2,..." for --where against the dataset's condition variables.
int az_parse_where(az_select* s, const ds_trials* d, const char* text, char* err, size_t err_sz);
// Parses "VAR1,VAR2" for --by (default: every condition variable).
int az_parse_by(az_select* s, const ds_trials* d, const char* text, char* err, size_t err_sz);

// The alignment row of trial t (-1 when the trial has no such event / onset) for align.
int64_t az_align_row(const ds_trials* d, const ana_trial* t, const char* align);

// Whether trial t passes the selection's outcome and where filters.
int az_selected(const ds_trials* d, const az_select* s, const ana_trial* t);

// One pass over the dataset (each chunk decompressed once): builds the trial table into tab
// (zeroed by the caller) and fills out (zeroed by the caller) from the selected trials.
int az_gather(ds_trials* d, ana_trials* tab, const az_select* s, az_data* out, char* err,
              size_t err_sz);
void az_data_free(az_data* a);

// Condition-averaged activity: mean (ncond x T x units) over trials; bins where a condition has
// fewer than min_trials trials are NaN. sem may be NULL.
void az_cond_mean(const az_data* a, int64_t min_trials, double* mean, double* sem);

// A condition's label, e.g. "condition=3 catch=0".
void az_cond_label(const ds_trials* d, const az_select* s, const float* key, char* out, size_t n);

// The choices of the trials sel selects whatever their outcome (complete, left or right chosen):
// x[i] the condition in slot kc, chose[i] 1 for a rightward choice (kside >= 0: for the option on
// the side in condition slot kside), rt[i] from the go cue to the movement_onset event when the task
// has both (*by_event = 1), else the kinematic reaction time (NaN when missing); row[i] (row may be
// NULL) the trial's row in tab. The arrays hold tab->n entries. Returns the number of trials.
int az_choices(const ds_trials* d, const ana_trials* tab, const az_select* sel, int kc, int kside,
               double* x, int* chose, double* rt, int64_t* row, int* by_event);

// Per distinct value of x (sorted, at most max): the trials, P(chose), its binomial s.e., the mean
// RT over the finite ones and its s.e. Returns the number of levels.
typedef struct az_level {
  double x;
  int n, nrt;
  double p, sem, rt, sem_rt;
} az_level;
int az_choice_levels(const double* x, const int* chose, const double* rt, int n, az_level* out,
                     int max);

// `animat analyze dopamine` (analyze_dopamine.c): the distributional critic's heads as a dopamine
// population (reversal points vs asymmetry, the reward distribution decoded from them) from the
// trial table tab of d, over the rewarded trials sel selects (outcome, where). Builds the figure
// (*fig), the per-head table t (zeroed by the caller) and appends its numbers to json (an open
// object); one line to summary. Returns 0 or -1.
struct table;
int az_dopamine(ds_trials* d, const ana_trials* tab, const az_select* sel, ana_fig** fig,
                struct table* t, am_buf* json, am_buf* summary, char* err, size_t err_sz);

// `animat analyze bandit` and `animat analyze two-step` (analyze_bandit.c): meta-RL behaviour from
// the trial table tab of d: the bandit's regret and P(better arm) by trial against Thompson
// sampling (its draws from seed) and a random chooser; the two-step task's stay probabilities
// and model-based index. Build the figure (*fig), the table t (zeroed by the caller), append their
// numbers to json (an open object) and one line to summary. Return 0 or -1.
int az_bandit(ds_trials* d, const ana_trials* tab, uint64_t seed, ana_fig** fig, struct table* t,
              am_buf* json, am_buf* summary, char* err, size_t err_sz);
int az_two_step(ds_trials* d, const ana_trials* tab, ana_fig** fig, struct table* t, am_buf* json,
                am_buf* summary, char* err, size_t err_sz);

// `animat analyze ethology` (analyze_ethology.c): a recorded rat's behaviour segmented from its
// kinematics, and for every module (*/output channel) the decoding of behaviour (and of the task,
// with a task variable task_id) with episodes held out (folds from seed), its dimensionality and
// its dynamics during running (jPCA against the stride frequency). Builds the figure (*fig), the
// per-module table t (zeroed by the caller), appends its numbers to json (an open object) and a
// few lines to summary. Returns 0 or -1.
int az_ethology(ds_trials* d, uint64_t seed, ana_fig** fig, struct table* t, am_buf* json,
                am_buf* summary, char* err, size_t err_sz);

// `animat analyze wager` (analyze_wager.c): the post-decision wager (Kiani & Shadlen 2009): P(sure
// | offered) by |coherence| and by stimulus duration, the accuracy of waived and no-sure trials by
// |coherence|. Builds the figure (*fig), the table t (zeroed by the caller), appends its numbers
// to json (an open object) and one line to summary. Returns 0 or -1.
int az_wager(ds_trials* d, const ana_trials* tab, ana_fig** fig, struct table* t, am_buf* json,
             am_buf* summary, char* err, size_t err_sz);

// `animat analyze two-tap` (analyze_tap.c): the two-tap task's timing: for each trial with a first
// touch the interval to the next touch (counted second or too soon) or none; their histogram, the
// share of second touches in the counted window against uniform timing. Builds the figure (*fig),
// the table t (zeroed by the caller), appends its numbers to json (an open object) and one line to
// summary. Returns 0 or -1.
int az_two_tap(ds_trials* d, const ana_trials* tab, ana_fig** fig, struct table* t, am_buf* json,
               am_buf* summary, char* err, size_t err_sz);

// `animat analyze multisensory` (analyze_multisensory.c): multisensory integration (Raposo et al.
// 2012) over the trials sel selects (outcome ignored: every choice): per modality (condition
// variable `modality`: 0 visual, 1 auditory, 2 both) P(right) against the signed x (`by`, default
// coherence) with a logistic fit and the mean RT, and the multisensory logistic scale an optimal
// combination of the two single-modality ones predicts. Builds the figure (*fig), the table t
// (zeroed by the caller), appends its numbers to json (an open object) and one line to summary.
// Returns 0 or -1.
int az_multisensory(ds_trials* d, const ana_trials* tab, const az_select* sel, const char* by,
                    ana_fig** fig, struct table* t, am_buf* json, am_buf* summary, char* err,
                    size_t err_sz);

#endif
