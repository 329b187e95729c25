// ana.h: animat's analysis library (public header): the numerical core of the neural and
// behavioural analyses (issue 13, "the science instruments").
//
// What it is: plain C functions over arrays. Matrices are row-major doubles; each function's
// comment gives the shapes. Every function returns 0 on success or -1 with a message in a
// caller-supplied buffer (AM_ERR_LEN bytes is enough); none prints. Outputs go into buffers the
// caller allocates with the documented sizes; scratch space is malloc'ed inside a call and freed
// before it returns (an allocation failure is an error like any other). Random choices (ridge
// folds) come from sim's am_rng seeded by the caller, so one seed gives one answer.
// What it is not: no file reading (datasets arrive through sim's reader, in tools); figures are
// ana_svg.h's.
// Linear algebra is LAPACK's (OpenBLAS): dsyev (symmetric eigenproblems), dgelsd (least squares).
//
// Prefix: ana_. docs/analysis.md gives each method's formula, source and tests.
#ifndef ANA_H
#define ANA_H

#include <stddef.h>
#include <stdint.h>

#include "am_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

//---------------------------------- cosine tuning (Georgopoulos et al. 1982) ----------------------

// One unit's fit of r = b0 + depth * cos(theta - pref).
typedef struct ana_tuning {
  double b0;     // baseline rate
  double depth;  // modulation depth c1 (>= 0)
  double pref;   // preferred direction, radians in (-pi, pi]
  double r2;     // 1 - SSE / SST of the cosine model (0 when the unit's rate is constant)
  double f;      // F statistic of the cosine model against the constant model, (2, n - 3) dof
  double p;      // its p-value: P(F(2, n-3) > f) = (1 + 2 f / (n - 3))^(-(n - 3) / 2)
} ana_tuning;

// Least-squares cosine fit per unit. theta: n directions (radians); rates: n x units (one row per
// sample: a trial, or a direction's mean rate). Needs n >= 4 and at least 3 distinct directions
// (mod 2 pi). out: units entries.
int ana_cosine_fit(const double* theta, const double* rates, int n, int units, ana_tuning* out,
                   char* err, size_t err_sz);

// Population vector (Georgopoulos et al. 1983): for each condition c,
//   P_c = sum_i w_ci (cos pref_i, sin pref_i),  w_ci = (rates[c, i] - b0_i) / depth_i,
// over the units with depth_i > 0 (and p_i <= max_p when max_p < 1; max_p >= 1 keeps all).
// rates: conds x units. dir (conds): atan2 of P_c; len (conds, may be NULL): |P_c| / units used.
// When target (conds) is given, ang_err (conds) gets dir - target wrapped to (-pi, pi].
int ana_population_vector(const ana_tuning* tun, int units, double max_p, const double* rates,
                          int conds, const double* target, double* dir, double* len,
                          double* ang_err, char* err, size_t err_sz);

// Rayleigh test of uniformity for n angles (radians): R = |mean exp(i theta)|, Z = n R^2 and
// p = exp(sqrt(1 + 4n + 4(n^2 - Rn^2)) - (1 + 2n)), Rn = n R (Zar, Biostatistical Analysis),
// clamped to [0, 1]. Any of R, Z, p may be NULL. Needs n >= 2.
int ana_rayleigh(const double* theta, int n, double* R, double* Z, double* p, char* err,
                 size_t err_sz);

//---------------------------------- PCA -----------------------------------------------------------

// PCA of X (n samples x p units), mean-centred by column, from the covariance (divided by n - 1)
// via LAPACK dsyev. mean (p, may be NULL): the column means. var (p, may be NULL): all the
// covariance eigenvalues, descending (the variance along each component). explained (p, may be
// NULL): var / sum(var). comps (k x p, may be NULL when k = 0): the top k unit-norm components,
// each with its largest-magnitude entry positive (so the sign is deterministic). 1 <= k <= p.
int ana_pca(const double* X, int n, int p, int k, double* mean, double* comps, double* var,
            double* explained, char* err, size_t err_sz);

// Scores: out (n x k) = (X - mean) comps^T for X (n x p), mean (p, NULL = no centring),
// comps (k x p).
int ana_pca_project(const double* X, int n, int p, const double* mean, const double* comps, int k,
                    double* out, char* err, size_t err_sz);

//---------------------------------- jPCA (Churchland et al. 2012) --------------------------------

#define ANA_JPCA_MAX_K 16

typedef struct ana_jpca {
  int k;                    // PCs kept (even)
  double pca_explained;     // fraction of the (mean-removed) variance in the k PCs
  double r2_full, r2_skew;  // fits of dX/dt = M X, M unconstrained / skew-symmetric
  double M_full[ANA_JPCA_MAX_K * ANA_JPCA_MAX_K];  // k x k, row-major, in PC coordinates
  double M_skew[ANA_JPCA_MAX_K * ANA_JPCA_MAX_K];
  double freq_hz[ANA_JPCA_MAX_K / 2];    // rotation frequency of each plane (|imag eig| / 2 pi)
  double plane_var[ANA_JPCA_MAX_K / 2];  // fraction of the (mean-removed) variance in each plane
  // k x k: rows 2j, 2j+1 span plane j, in PC coordinates
  double planes[ANA_JPCA_MAX_K * ANA_JPCA_MAX_K];
} ana_jpca_result;

// jPCA of condition-averaged trajectories X (conds x T x units, row-major: X[(c*T + t)*units + u]),
// sampled every dt seconds, already cut to the window around the alignment time. Steps: subtract
// the cross-condition mean at each time; PCA of the (conds*T) x units matrix, keep k PCs (k even,
// 2 <= k <= min(ANA_JPCA_MAX_K, units); 0 = 6); per condition dX = (X[t+1] - X[t]) / dt and
// Xm = (X[t+1] + X[t]) / 2 (midpoint, so a pure rotation fits exactly up to tan(w dt / 2) / (dt /
// 2) versus w); fit dX = M Xm by least squares (LAPACK dgelsd) with M unconstrained and with M =
// -M^T (k(k-1)/2 free parameters); R^2 = 1 - |dX - M Xm|^2 / |dX|^2 (as Churchland's code). The
// planes are the invariant planes of M_skew, ordered by frequency (largest first), each oriented so
// the trajectory rotates from its first row towards its second (counterclockwise). jpcs (k x units,
// may be NULL): the planes mapped back to unit space (orthonormal rows).
int ana_jpca(const double* X, int conds, int T, int units, double dt, int k, ana_jpca_result* out,
             double* jpcs, char* err, size_t err_sz);

//---------------------------------- representational similarity ----------------------------------

// Linear CKA (Kornblith et al. 2019) of X (n x p1) and Y (n x p2), both column-centred inside:
// |Y^T X|_F^2 / (|X^T X|_F |Y^T Y|_F), in [0, 1]. Error when either centred matrix is all zero.
int ana_cka(const double* X, int n, int p1, const double* Y, int p2, double* cka, char* err,
            size_t err_sz);

enum { ANA_RDM_CORR = 0, ANA_RDM_EUCLID = 1 };

// Representational dissimilarity matrix of condition means M (conds x p): rdm (conds x conds)
// with rdm[i][j] = 1 - Pearson r(M_i, M_j) (ANA_RDM_CORR; error when a row is constant) or the
// Euclidean distance |M_i - M_j| (ANA_RDM_EUCLID). Zero diagonal, symmetric.
int ana_rdm(const double* M, int conds, int p, int metric, double* rdm, char* err, size_t err_sz);

// Spearman correlation between the upper triangles (i < j) of two conds x conds RDMs.
int ana_rdm_compare(const double* rdm1, const double* rdm2, int conds, double* rho, char* err,
                    size_t err_sz);

// Spearman rank correlation of x and y (n each): Pearson correlation of the ranks, ties given
// their average rank. Error when n < 2 or either variable is constant.
int ana_spearman(const double* x, const double* y, int n, double* rho, char* err, size_t err_sz);

//---------------------------------- distributional critic (ana_dist.c) ---------------------------

// The tau-expectile of a sample x (n values), tau in (0, 1): the e with tau E(x - e)+ =
// (1 - tau) E(e - x)+ (tau = 0.5: the mean). NaN when n < 1 or tau is outside (0, 1).
double ana_expectile(const double* x, int n, double tau);
// A value head's reversal point (Dabney et al. 2020): the reward size at which its prediction
// error at reward delivery changes sign, from n (reward r, error d) pairs: the zero of the
// least-squares line d = a + b r (*slope = b). Error when n < 2 or the line is flat.
int ana_reversal_point(const double* r, const double* d, int n, double* rev, double* slope,
                       char* err, size_t err_sz);
// Expectile imputation (Dabney et al. 2020, Methods): M samples z (out) whose tau_i-expectiles
// are as close as possible to e_i (K heads): minimises sum_i g_i(z)^2 / K with g_i = mean_m
// [tau_i (z_m - e_i)+ - (1 - tau_i)(e_i - z_m)+] by iters Adam steps from samples spread evenly
// over the range of e. *loss: the minimum reached. Deterministic.
int ana_expectile_impute(const double* tau, const double* e, int K, int M, int iters, double* z,
                         double* loss, char* err, size_t err_sz);
// The 1-Wasserstein (earth mover's) distance between the empirical distributions of x (nx) and
// y (ny): the integral of |F_x - F_y|. NaN when either is empty.
double ana_wasserstein1(const double* x, int nx, const double* y, int ny);
// The median of v (n values; sorts v in place). NaN when n is 0.
double ana_median(double* v, int n);

//---------------------------------- spectra (ana_spectrum.c) --------------------------------------

// Power spectral density of x (T samples every dt seconds, mean removed, Hann window) at the nf
// frequencies freqs (Hz, in [0, Nyquist]) by a direct Fourier sum: power[k] = |sum_t w_t (x_t -
// mean) e^(-2 pi i f_k t dt)|^2 dt / sum_t w_t^2 (a sinusoid's peak sits at its frequency, with a
// main lobe 4 / (T dt) Hz wide). Needs T >= 4.
int ana_periodogram(const double* x, int T, double dt, const double* freqs, int nf, double* power,
                    char* err, size_t err_sz);

//---------------------------------- ridge decoding ------------------------------------------------

typedef struct ana_ridge_config {
  int folds;        // outer cross-validation folds (>= 2; 0 = 5)
  int inner_folds;  // folds of the inner CV that picks lambda (>= 2; 0 = 5); unused if 1 lambda
  uint64_t seed;    // fold assignment: a permutation of the samples drawn from am_rng(seed, 0)
  const double* lambdas;  // relative ridge grid (NULL = 10^-6 .. 10^3, one per decade)
  int n_lambdas;          // entries in lambdas
  // Optional: the group of each sample (n values >= 0, e.g. its episode), so that samples of one
  // group are always held out together (time series: neighbouring steps are nearly equal, and
  // splitting them between training and test sets inflates the score). The folds are then drawn
  // over the groups (a seeded permutation of the group ids; group rank % folds, and for the inner
  // CV (rank / folds) % inner_folds). NULL: every sample is its own group (the permutation of
  // samples above).
  const int* groups;
  // Optional output: the held-out prediction of every sample (n x q), e.g. for classification
  // by the largest of one-hot outputs. NULL: not returned.
  double* pred;
} ana_ridge_config;

// Cross-validated ridge regression from X (n x p) to Y (n x q). Each training set is centred (an
// intercept) and the penalty is lambda * trace(Xc^T Xc) / p, so lambdas are relative to the mean
// eigenvalue of the training Gram matrix and the grid does not depend on the units' scale. With
// several lambdas, each outer fold picks the one with the best inner-CV R^2 (summed over outputs).
// Sample s is in outer fold perm[s] % folds. r2 (q): per output, 1 - sum (y - yhat)^2 /
// sum (y - mean y)^2 over the held-out predictions of all folds. lambda_used (folds, may be NULL):
// the relative lambda chosen in each fold. Needs n >= 2 * folds, and with a grid
// n >= 2 * folds * inner_folds.
int ana_ridge_cv(const double* X, int n, int p, const double* Y, int q, const ana_ridge_config* cfg,
                 double* r2, double* lambda_used, char* err, size_t err_sz);

//---------------------------------- psychometric / chronometric -----------------------------------

typedef struct ana_psych {
  double bias, slope, lapse;  // P(right) = lapse/2 + (1 - lapse) / (1 + exp(-(c - bias) / slope))
  double se_bias, se_slope, se_lapse;  // from the inverse Fisher information at the optimum
  double loglik;                       // log-likelihood at the optimum
  int iterations;                      // Fisher-scoring iterations used
} ana_psych;

// Maximum-likelihood fit over n trials of signed coherence coh and choice (1 = right, 0 = left).
// slope > 0 and lapse in [0, 0.5) are enforced by the parametrisation (log slope, lapse =
// 0.5 logistic(u)); Fisher scoring with a backtracking line search from two starts (bias 0 and
// the midpoint of the two choices' mean coherence; the better optimum). A lapse fitted near 0 has an
// unreliable se_lapse (the bound). Needs n >= 4, both choices present and two distinct coherences.
int ana_psychometric_fit(const double* coh, const int* choice, int n, ana_psych* out, char* err,
                         size_t err_sz);

// Chronometric summary: Spearman correlation between reaction time and |coherence| (n trials).
int ana_chronometric(const double* coh, const double* rt, int n, double* rho, char* err,
                     size_t err_sz);

//---------------------------------- bandits and the two-step task (meta-RL) -----------------------

// Per-trial curves of two-armed bandit episodes: regret[t] = mean over episodes of the expected
// regret of trial t (max(p) - p of the arm chosen), p_best[t] = the fraction of trials t that chose
// the better arm (episodes with p_left = p_right count 1/2), count[t] = the episodes with a trial t.
typedef struct ana_bandit_curve {
  int trials;
  double* regret;   // (trials)
  double* p_best;   // (trials)
  int64_t* count;   // (trials)
} ana_bandit_curve;

int ana_bandit_curve_init(ana_bandit_curve* c, int trials, char* err, size_t err_sz);
void ana_bandit_curve_free(ana_bandit_curve* c);
// Adds one trial: its index t in the episode (ignored unless 0 <= t < trials), the arms'
// probabilities p (2) and the chosen arm (0 or 1).
void ana_bandit_curve_add(ana_bandit_curve* c, int t, const double* p, int arm);
// Turns the sums into means (after the last add).
void ana_bandit_curve_finish(ana_bandit_curve* c);

// Thompson sampling (Beta(1, 1) priors, Bernoulli rewards; Thompson 1933) on n_ep episodes of
// `trials` trials with the arms' probabilities p (n_ep x 2), `reps` runs per episode with rewards
// and samples from am_rng stream (seed, 0x7473..): the curves of its choices (c, initialised with
// `trials`). Beta draws: Marsaglia & Tsang's gamma method.
int ana_bandit_thompson(const double* p, int n_ep, int trials, int reps, uint64_t seed,
                        ana_bandit_curve* c, char* err, size_t err_sz);

// The random chooser's curves (each arm with probability 1/2: regret |p_left - p_right| / 2,
// p_best 1/2), exactly, for the same episodes.
void ana_bandit_random(const double* p, int n_ep, ana_bandit_curve* c);

// The two-step task's stay probabilities (Daw et al. 2011): for each pair of consecutive trials of
// an episode, whether the second repeats the first's first-stage choice, by the first's outcome
// (r: 1 rewarded, 0 not) and transition (common: 1, rare: 0). Trials are given in order: episode
// id ep (n), choice (n, any two distinct values), rewarded (n), common (n); trials with choice
// NaN are skipped (and break the pair).
typedef struct ana_stay {
  double p[2][2];     // [rewarded][common] P(stay)
  double se[2][2];    // binomial standard errors
  int64_t n[2][2];    // pairs
  double mb, mb_se;   // model-based index: the reward x transition interaction
                      // (p[1][1] - p[1][0]) - (p[0][1] - p[0][0])
  double mf, mf_se;   // model-free index: the main effect of reward
                      // (p[1][1] + p[1][0] - p[0][1] - p[0][0]) / 2
} ana_stay;

int ana_two_step_stay(const int64_t* ep, const double* choice, const int* rewarded,
                      const int* common, int64_t n, ana_stay* out, char* err, size_t err_sz);

//---------------------------------- trial table ---------------------------------------------------

// Where a task's trials and kinematics are found in its recorded rows (animat trials builds this
// from a dataset's metadata; tests plant it). Every index is -1 when the task has no such thing.
typedef struct ana_trial_schema {
  int n_events;                         // event codes 0 .. n_events - 1 (bits of the events word)
  int trial_start, success, trial_end;  // event codes of the trial schema (am_task)
  int go_event;                         // the cue that starts movement (go_cue): kinematics' origin
  int n_vars;                           // task variables per row
  int n_cond;                           // variables that define the condition (am_task.conditions)
  int cond[AM_MAX_CONDITIONS];
  int eff_x, eff_y;                     // effector position variables (the arm's cursor)
  int start_x, start_y, target_x, target_y;
  int choice, outcome;                  // variables copied into the row (last row of the trial)
  double dt;                            // control period (s)
  double onset_frac;                    // kinematic onset threshold as a fraction of peak speed
} ana_trial_schema;

// One trial. Steps are rows of the episode (row t: control step t). NaN where a value does not
// apply (no effector, no go cue, a trial that ended before moving...).
typedef struct ana_trial {
  int64_t episode;
  int env, trial;              // trial: index within the episode (0, 1, ...)
  int64_t first, last;         // the trial's first and last rows
  int complete;                // its end was recorded (trial_end, or the episode's end)
  int success;                 // the success event occurred in it
  int end_event;               // how it ended: the success event when it succeeded, else the
                               // first event (besides trial_start/end) set in its last row
                               // (abort, timeout, error...), -1 when none
  float cond[AM_MAX_CONDITIONS];
  float choice, outcome;
  double target_dir;           // direction of the target from the start (radians), NaN if none
  int ev_row[AM_MAX_EVENTS];    // first row of each event relative to `first`, -1 when absent
  int ev_count[AM_MAX_EVENTS];  // rows in the trial with the event set
  // Kinematics of the effector (time in s from the trial's first row; distances in m):
  double go;          // go cue
  double onset;       // kinematic movement onset (see ana_trials_add_episode)
  double rt;          // onset - go
  double offset;      // movement end: first row after the peak below onset_frac x peak speed
  double duration;    // offset - onset
  double peak_speed;  // m/s, after the go cue
  double path;        // path length from onset to offset
  double max_dev;     // signed largest perpendicular distance from the straight start->target
                      // line between onset and offset (positive: left of the line, i.e. the
                      // counterclockwise side)
  double end_err;     // distance from the target at the offset
  double dir_err;     // direction of the displacement from onset to peak speed minus the target's
                      // direction from the start, degrees in (-180, 180]
  // Body (free root) over the trial: path length, net displacement (m), mean and forward (+x)
  // speed (m/s).
  double distance, displacement, mean_speed, forward_speed;
} ana_trial;

typedef struct ana_trials {
  ana_trial* rows;
  int64_t n, cap;
} ana_trials;

// One recorded episode, as the trial table reads it.
typedef struct ana_episode_in {
  int64_t episode;
  int env;
  int64_t steps;            // rows
  int complete;             // the episode's end was recorded
  const uint32_t* events;   // steps (NULL: no events channel)
  const float* vars;        // steps x n_vars (NULL when n_vars is 0)
  const double* root;       // steps x 3: the free root body's position (NULL: no free root)
} ana_episode_in;

// Appends the episode's trials to tab (which grows; start from a zeroed ana_trials).
// Trials: a trial starts at a row with trial_start (or after the previous trial's end, or at row
// 0) and ends at a row with trial_end; rows between a trial_end and the next trial_start (inter-
// trial intervals) belong to no trial; a trial cut by the episode's end is kept with complete = 0.
// A task without trial_start and trial_end events has one trial per episode. Conditions, choice
// and outcome are the variables' values in the trial's last row (where tasks keep them).
// Kinematic onset: speed is |p[t] - p[t-1]| / dt of the effector; after the go cue, the peak speed
// is found, and the onset is the first row of the run of rows at or above onset_frac x peak that
// ends at the peak (the hand is never still at the start, so a fixed speed threshold would fire at
// the go cue). A trial without a go cue gets no kinematics.
int ana_trials_add_episode(const ana_trial_schema* s, const ana_episode_in* ep, ana_trials* tab,
                           char* err, size_t err_sz);
void ana_trials_free(ana_trials* tab);

#ifdef __cplusplus
}
#endif
#endif
