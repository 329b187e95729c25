// arm_tasks.c: motor-control paradigms on the six-muscle planar arm (bodies/arm.xml).
//
// What it is: one trial engine shared by five tasks (reach-center-out, reach-random, force-field,
// visuomotor-rotation, decision-reach): epochs, success rules, reward, trial events and task
// variables. The paradigms follow the published experiments: center-out reaching (Georgopoulos et
// al. 1982) with an instructed delay and catch trials (Churchland et al. 2012), curl and
// velocity-dependent force fields with baseline/field/washout blocks (Shadmehr & Mussa-Ivaldi
// 1994), visuomotor rotation (Krakauer et al. 2000), a random-dots decision reported by a reach
// (Roitman & Shadlen 2002; Song, Yang & Wang 2017); docs/tasks.md is the user's description with
// the full references. What it is not: a model of the arm (bodies/arm.xml) or of learning.
//
// A trial (control period 10 ms = 5 physics steps of 2 ms):
//   FIX    the cursor must stay within start_radius of the start for hold_time (else, after
//          fix_timeout, the trial ends: timeout)
//   DELAY  target shown (target_on); the cursor must stay at the start for a delay drawn from
//          [delay_min, delay_max] (leaving: abort). Decision-reach: STIM instead (evidence on;
//          the rt variant goes straight to MOVE with the stimulus on until the cursor leaves the
//          start zone; its timeouts cost abort_penalty, entering the wrong target is an error).
//   MOVE   after go_cue: reach the target within move_time (else timeout); movement_onset is the
//          first step after the go cue that ends with the cursor outside the start zone (a
//          trained hand is never still at the start, so a speed threshold fired at the go cue;
//          the kinematic onset from the speed profile is computed by the trial table).
//   HOLD   stay within target_radius for target_hold (leaving returns to MOVE) -> hold_complete,
//          reward. Catch trials: no go cue; holding at the start for move_time is the success.
//   ITI    between trials of one episode (trials > 1) the arm is free for iti seconds; the next
//          trial begins in act, before the physics of its first step (see arm_act).
// An episode is `trials` trials; it ends (terminated) when the last trial ends. The env's trial
// counter persists across episodes (force-field blocks count trials per env; so does the training
// curriculum, which enlarges the zones and shortens the delays over an env's first trials).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_opts.h"
#include "tasks_internal.h"

//---------------------------------- events and variables ------------------------------------------

enum {
  E_TRIAL_START, E_TARGET_ON, E_STIM_ON, E_STIM_OFF, E_STIM2_ON, E_GO_CUE, E_MOVEMENT_ONSET,
  E_STIM2_OFF, E_TARGET_REACHED, E_HOLD_COMPLETE, E_REWARD, E_CATCH, E_ERROR, E_ABORT, E_TIMEOUT,
  E_TRIAL_END, E_COUNT
};
static const char* event_names[E_COUNT] = {
    "trial_start", "target_on", "stim_on", "stim_off", "stim2_on", "go_cue", "movement_onset",
    "stim2_off", "target_reached", "hold_complete", "reward", "catch", "error", "abort", "timeout",
    "trial_end"};

enum {
  V_TARGET_X, V_TARGET_Y, V_START_X, V_START_Y, V_CURSOR_X, V_CURSOR_Y, V_CONDITION, V_CATCH,
  V_DELAY, V_EPOCH, V_GO, V_FIELD_ON, V_BLOCK, V_TRIAL, V_COHERENCE, V_EVIDENCE, V_CHOICE,
  V_OUTCOME, V_HAND_FX, V_HAND_FY, V_FIELD_GAIN, V_ROTATION,
  V_BASE_COUNT,  // every arm task has the variables above; the paradigms below add their own
  V_F1 = V_BASE_COUNT, V_F2, V_DF, V_MOTION, V_COLOUR, V_CONTEXT, V_OFFER_A, V_OFFER_B,
  V_VALUE_A, V_VALUE_B, V_B_SIDE, V_LOG_RATIO, V_CHOSEN_VALUE, V_P_LEFT, V_P_RIGHT, V_MODALITY,
  V_COUNT
};
static const char* var_names[V_COUNT] = {
    "target_x", "target_y", "start_x", "start_y", "cursor_x", "cursor_y", "condition", "catch",
    "delay", "epoch", "go_cue", "field_on", "block", "trial", "coherence", "evidence", "choice",
    "outcome", "hand_fx", "hand_fy", "field_gain", "rotation", "f1", "f2", "df", "motion",
    "colour", "context", "offer_a", "offer_b", "value_a", "value_b", "b_side", "log_ratio",
    "chosen_value", "p_left", "p_right", "modality"};

enum { EP_FIX, EP_DELAY, EP_STIM, EP_CATCH, EP_MOVE, EP_HOLD, EP_ITI };
enum { K_CENTER_OUT, K_RANDOM, K_FORCE_FIELD, K_ROTATION, K_DECISION, K_ROMO, K_MANTE, K_VALUE,
       K_BANDIT, K_MULTI };
enum { MOD_VISUAL, MOD_AUDITORY, MOD_BOTH };  // multisensory-reach: the modalities of a trial

//---------------------------------- parameters ----------------------------------------------------

#define ARM_COMMON_PARAMS                                                                         \
  {"trials", "1", "trials per episode (the episode terminates after the last)"},                  \
  {"hold_time", "0.2", "hold at the start before the target appears (s)"},                        \
  {"fix_timeout", "1.0", "time allowed to be at the start at trial begin (s)"},                   \
  {"move_time", "1.0", "time allowed from go cue to target (s); catch trials: hold this long"},   \
  {"target_hold", "0.2", "hold in the target to complete the trial (s)"},                         \
  {"iti", "0.2", "inter-trial interval between trials of one episode (s)"},                       \
  {"start_radius", "0.02", "start zone radius (m)"},                                              \
  {"target_radius", "0.02", "target zone radius (m)"},                                            \
  {"init_noise", "0.01", "uniform joint-angle noise at reset around the home posture (rad)"},     \
  {"reward_success", "2", "reward at hold_complete (keep >= w_proximity * move_time)"},           \
  {"w_proximity", "1", "proximity reward: w * exp(-|cursor - goal| / proximity_sigma) per second"},\
  {"proximity_sigma", "0.05", "length scale of the proximity reward (m)"},                        \
  {"abort_penalty", "1", "reward -abort_penalty when a trial aborts (left the start early)"},     \
  {"w_distance", "0", "distance cost weight: w * |cursor - goal| / 0.1 m per second"},            \
  {"w_effort", "0.1", "effort cost weight: w * mean(excitation^2) per second"},                  \
  {"obs_scale", "10", "multiplier on positions in the task group (10: units of 0.1 m)"},          \
  {"curriculum", "0", "training curriculum over an env's first N trials (0: off): zone radii "     \
                      "x(1 + f), delays x(1 - f), f = 1 - trials/N"},                              \
  AMT_OPTS_PARAMS

#define ARM_REACH_PARAMS                                                                          \
  {"distance", "0.1", "target distance from the start (m)"},                                      \
  {"n_targets", "8", "number of targets, evenly spaced from 0 deg (8: every 45 deg)"},            \
  {"delay", "0,0.6", "instructed delay range min,max (s); 0 allowed; one value: fixed"},          \
  {"catch_fraction", "0.1", "fraction of catch trials (no go cue; the hand must stay)"},          \
  {"reward_sizes", "", "variable reward: the success reward drawn at hold_complete, uniformly "   \
                       "from this comma list (e.g. 0.1,0.3,1.2,2.5,5,10,20); empty: "             \
                       "reward_success"}

const amt_param_def amt_center_out_params[] = {ARM_REACH_PARAMS, ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_reach_random_params[] = {
    {"delay", "0", "instructed delay range min,max (s)"},
    {"catch_fraction", "0", "fraction of catch trials"},
    {"min_distance", "0.04", "smallest target distance from the start (m)"},
    {"shoulder_range", "10,100", "shoulder angles targets are drawn from (deg)"},
    {"elbow_range", "30,130", "elbow angles targets are drawn from (deg)"},
    ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_force_field_params[] = {
    {"distance", "0.1", "target distance from the start (m)"},
    {"n_targets", "8", "number of targets, evenly spaced from 0 deg"},
    {"delay", "0,0.6", "instructed delay range min,max (s)"},
    {"field", "curl", "curl (B = k [[0,1],[-1,0]]), smi (Shadmehr & Mussa-Ivaldi 1994), custom, none"},
    {"curl_k", "13", "curl field gain k (N s/m)"},
    {"B", "-10.1,-11.2,-11.2,11.1", "custom field matrix b11,b12,b21,b22 (N s/m), field=custom"},
    {"baseline_trials", "20", "null-field trials per env before the field block"},
    {"field_trials", "100", "field trials per env"},
    {"washout_trials", "20", "null-field trials after the field block (then the blocks repeat)"},
    {"blocks", "", "block schedule N:GAIN,N:GAIN,... replacing the three blocks above: N trials "
                   "per env with the field times GAIN (0: off, -1: mirrored); the last block "
                   "goes on"},
    {"hidden_blocks", "", "MIN,MAX: unannounced blocks of MIN..MAX trials (uniform) whose gain "
                          "is drawn from hidden_values, a new one at each switch, from each "
                          "episode's start (meta-learned adaptation; replaces the blocks)"},
    {"hidden_values", "0,1", "field gains of the hidden blocks"},
    {"catch_fraction", "0.1", "fraction of field-block trials with the field off (catch)"},
    ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_rotation_params[] = {
    {"distance", "0.1", "target distance from the start (m)"},
    {"n_targets", "8", "number of targets, evenly spaced from 0 deg"},
    {"delay", "0,0.6", "instructed delay range min,max (s)"},
    {"catch_fraction", "0", "fraction of catch trials (no go cue)"},
    {"rotation", "30", "rotation of the cursor about the start (deg, counter-clockwise)"},
    {"blocks", "", "block schedule N:DEG,N:DEG,... replacing rotation: N trials per env with the "
                   "cursor rotated by DEG; the last block goes on"},
    {"hidden_blocks", "", "MIN,MAX: unannounced blocks of MIN..MAX trials (uniform) whose "
                          "rotation is drawn from hidden_values, a new one at each switch, from "
                          "each episode's start (meta-learned adaptation; replaces rotation)"},
    {"hidden_values", "0,30", "rotations of the hidden blocks (deg)"},
    ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

// The choice-by-reaching paradigms (two targets at start -+ distance along x; the first one
// entered is the choice): decision-reach, romo-reach, mante-reach, value-reach.
#define ARM_CHOICE_PARAMS(noise, stim, stim_meaning, rt, rt_meaning)                              \
  {"distance", "0.1", "left/right target distance from the start (m)"},                           \
  {"noise", noise, "std of the noise added to the stimulus channel per control step"},           \
  {"stim_time", stim, stim_meaning},                                                              \
  {"rt_max", rt, rt_meaning},                                                                     \
  {"error_penalty", "0", "reward -error_penalty when the wrong target is entered"},              \
  {"target_sigma", "0.1", "length scale of the proximity reward toward the correct target (m)"}

// decision-reach, mante-reach, value-reach: a fixed or a reaction-time stimulus (`what`).
#define ARM_VARIANT_PARAMS(noise, stim, what)                                                     \
  {"variant", "fixed", "fixed: " what " for stim_time, then go; rt: go at " what " onset, " what \
                       " until the cursor leaves the start zone"},                                \
  ARM_CHOICE_PARAMS(noise, stim, "duration of the " what " in the fixed variant (s)", "2.0",    \
                    "time allowed to respond in the rt variant (s)")

const amt_param_def amt_decision_params[] = {
    {"coherences", "0,0.032,0.064,0.128,0.256,0.512", "unsigned coherences; the sign is random"},
    ARM_VARIANT_PARAMS("1", "0.8", "stimulus"), ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_mante_params[] = {
    {"coherences", "0.032,0.064,0.128,0.256,0.512", "unsigned coherences of each stream (motion, "
                                                    "colour), drawn apart; signs random"},
    ARM_VARIANT_PARAMS("1", "0.75", "stimulus"), ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_multi_params[] = {
    {"coherences", "0,0.032,0.064,0.128,0.256,0.512", "unsigned evidence strengths; the sign is "
                                                      "random, the same in both modalities"},
    {"noise2", "1", "std of the noise on the auditory stream per control step (noise: the "
                    "visual one's)"},
    {"modality_weights", "1,1,1", "relative frequencies of visual-only, auditory-only and "
                                  "multisensory trials"},
    ARM_VARIANT_PARAMS("1", "0.75", "stimulus"), ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_value_params[] = {
    AMT_OFFER_PARAMS,
    {"relative", "0", "1: the reward is the chosen minus the unchosen offer's value (same best "
                      "choice, same indifference point; a fixed side then earns nothing)"},
    {"offer_curriculum", "0", "1: during the curriculum (fraction f) the offer types are drawn "
                              "among those whose value difference |rho qA - qB| is at least f x "
                              "the largest (from the extremes toward the indifference point)"},
    ARM_VARIANT_PARAMS("0", "0.5", "offers"), ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

const amt_param_def amt_romo_params[] = {
    {"f1", "10,14,18,22,26,30,34", "base frequencies f1 (Hz), drawn uniformly per trial"},
    {"df", "2,4,8", "|f1 - f2| (Hz), drawn uniformly per trial with a random sign"},
    {"delay", "0.2,0.4", "delay between f1 and f2, min,max (s); one value: fixed"},
    ARM_CHOICE_PARAMS("0.1", "0.1", "duration of f1 (s); f2 lasts until the hand leaves the start",
                      "1.0", "time allowed to reach a target after f2's onset (s)"),
    ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

// bandit-reach: the two-armed bandit of Wang et al. 2018 chosen by reaching (cog_tasks.c has the
// body-less one): both targets and the go cue appear after the hold; entering a target and holding
// there chooses it; the reward is reward_success with the chosen arm's probability.
const amt_param_def amt_bandit_reach_params[] = {
    {"distance", "0.1", "left/right target distance from the start (m)"},
    AMT_BANDIT_PARAMS, ARM_COMMON_PARAMS, {NULL, NULL, NULL}};

//---------------------------------- config and state ----------------------------------------------

#define MAX_COH 16
#define MAX_BLOCKS 32

typedef struct arm_cfg {
  amt_opts opts;  // first (task_opts.h)
  int kind;
  const char* task;  // registered name
  int hand_site, forearm, upper_arm, q_sh, q_el, v_sh, v_el;
  double start[2], qhome[2], base[2], l1, l2;
  double dt;  // control period (s)
  int trials, fix_steps, fix_timeout_steps, move_steps, hold_steps, iti_steps;
  int delay_min, delay_max;
  double start_radius, target_radius, init_noise;
  int curriculum;  // trials over which the curriculum anneals (0: off)
  double w_success, w_dist, w_effort, obs_scale, w_prox, prox_sigma, abort_penalty;
  double distance, catch_fraction;
  int n_targets;
  double sizes[16];                                // reward_sizes (center-out)
  int n_sizes;
  double min_dist, q_lo[2], q_hi[2];               // reach-random
  double B[4];                                     // force-field
  int field_kind, blocks[3];
  double rotation;                                 // visuomotor rotation (deg)
  int n_blk, blk_trials[MAX_BLOCKS];               // the `blocks` schedule (force-field, rotation)
  double blk_value[MAX_BLOCKS];                    // field gain or rotation (deg) per block
  int hb_min, hb_max, n_hv;                        // hidden blocks (0: none) and their values
  double hv[MAX_BLOCKS];
  double coh[MAX_COH], noise;                      // decision (romo: the |f1 - f2| list)
  int n_coh, rt, stim_steps, rt_steps;
  double f1s[MAX_COH];                             // romo: the f1 list (Hz)
  int n_f1;
  double qa[MAX_COH], qb[MAX_COH], rho, max_value;  // value: offer types (coh: |rho qA - qB|)
  int relative;                                    // value: reward chosen - unchosen value
  int offer_curriculum;                            // value: the curriculum narrows the offers
  double noise2, mod_cdf[3];                       // multisensory: auditory noise, modality CDF
  double error_penalty, target_sigma;
  amt_bandit_probs probs;                           // bandit-reach
  int hand_obs[6];  // body-observation indices of the hand_pos/hand_vel sensor values (-1: none)
  int body_dim;
  int ev[E_COUNT];  // event -> code (bit) in this task, -1 if the task has no such event
  int vars[V_COUNT];  // the task's variables (t->n_vars of them) as V_ codes
  int task_dim;       // size of the task observation group (6; mante-reach 9)
} arm_cfg;

typedef struct arm_state {
  amt_opt_state opt;  // first (task_opts.h)
  int64_t env_trials; // trials started by this env (persists across episodes)
  int epoch, t_epoch, t_count, t_go, trial;
  int delay_steps, catch_trial, cond, field_on, block, onset, choice, outcome, done;
  double target[2], coh, evidence;  // romo: coh = f1 - f2 (Hz)
  double f1, f2;     // romo: this trial's frequencies (Hz)
  double motion, colour, evidence2;  // mante: signed coherences, this step's colour sample
  int context;       // mante: 0 report motion, 1 report colour
  int modality;      // multisensory: MOD_VISUAL, MOD_AUDITORY or MOD_BOTH
  double qa, qb, chosen_value;  // value: this trial's offers (drops) and the chosen value (B units)
  double unchosen_value;        // value: the other offer's value
  int a_side;        // value: juice A is offered on the right (+1) or the left (-1)
  double p_arm[2];   // bandit-reach: this episode's reward probabilities (left, right)
  int last_choice, last_reward;  // bandit-reach: the previous trial's choice (-1, 0, 1) and reward
  int stim2;         // romo: the stimulus shown is f2
  double noise;      // decision-reach: this trial's evidence noise (curriculum: smaller at first)
  double noise2;     // multisensory: this trial's auditory noise
  int stim_steps;    // decision-reach, fixed: this trial's stimulus duration (curriculum: shorter)
  int stim_to_choice;  // decision-reach: the stimulus lasts until the choice (curriculum)
  int stim_on, go;
  uint32_t pending;
  double effort;
  int aborted;  // this step's trial ended in an abort (decision-reach: or a timeout)
  int erred;    // this step's trial ended in an error (decision-reach: the wrong target)
  double r_start, r_target;  // this trial's zone radii (curriculum: larger at first)
  double force[2];  // force-field force applied at the hand in the last physics step (N)
  double gain;      // this trial's field gain (force-field: F = gain B v while field_on)
  double rot, cosr, sinr;  // this trial's cursor rotation (deg; visuomotor-rotation)
  int hb_left, hb_value;   // hidden blocks: trials left in the block (0: start one), the index
  int hb_started;          // of its value in hidden_values; a block has begun in this episode
} arm_state;

static void emit(const arm_cfg* c, uint32_t* ev, int e) {
  if (c->ev[e] >= 0) *ev |= 1u << c->ev[e];
}

// The paradigms that choose by reaching one of two targets (left/right of the start).
static int choice_task(const arm_cfg* c) {
  return c->kind == K_DECISION || c->kind == K_ROMO || c->kind == K_MANTE || c->kind == K_VALUE ||
         c->kind == K_MULTI;
}

// Ends the stimulus shown (romo: f1 or f2, each with its own event).
static void stim_off(const arm_cfg* c, arm_state* s, uint32_t* ev) {
  if (!s->stim_on) return;
  s->stim_on = 0;
  emit(c, ev, s->stim2 ? E_STIM2_OFF : E_STIM_OFF);
}

//---------------------------------- geometry ------------------------------------------------------

static void hand_pos(const arm_cfg* c, const mjData* d, double p[2]) {
  p[0] = d->site_xpos[3 * c->hand_site];
  p[1] = d->site_xpos[3 * c->hand_site + 1];
}

// Hand velocity from the Jacobian of the 2-link chain (exact for planar hinges about z).
static void hand_vel(const arm_cfg* c, const mjData* d, double v[2]) {
  double q1 = d->qpos[c->q_sh], q12 = q1 + d->qpos[c->q_el];
  double w1 = d->qvel[c->v_sh], w2 = d->qvel[c->v_el];
  v[0] = -c->l1 * sin(q1) * w1 - c->l2 * sin(q12) * (w1 + w2);
  v[1] = c->l1 * cos(q1) * w1 + c->l2 * cos(q12) * (w1 + w2);
}

// The cursor: the hand, rotated about the start by the trial's rotation (visuomotor-rotation).
static void rotate(const arm_cfg* c, const arm_state* s, const double in[2], double out[2],
                   int about_start) {
  double x = in[0] - (about_start ? c->start[0] : 0), y = in[1] - (about_start ? c->start[1] : 0);
  out[0] = s->cosr * x - s->sinr * y + (about_start ? c->start[0] : 0);
  out[1] = s->sinr * x + s->cosr * y + (about_start ? c->start[1] : 0);
}

static void cursor(const arm_cfg* c, const arm_state* s, const mjData* d, double p[2],
                   double v[2]) {
  double h[2], hv[2];
  hand_pos(c, d, h);
  hand_vel(c, d, hv);
  rotate(c, s, h, p, 1);
  rotate(c, s, hv, v, 0);
}

static double dist2(const double a[2], const double b[2]) {
  return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]));
}

//---------------------------------- trials --------------------------------------------------------

// romo-reach shows a frequency f (Hz) as (f - ROMO_F_MID) / ROMO_F_SCALE: 10-34 Hz as -1.2..1.2.
#define ROMO_F_MID 22.0
#define ROMO_F_SCALE 10.0

static int steps_of(double seconds, double dt) { return (int)floor(seconds / dt + 0.5); }

// Draws the next trial's conditions from the env's RNG and enters FIX.
static void begin_trial(const arm_cfg* c, am_env* e) {
  arm_state* s = e->task_state;
  s->epoch = EP_FIX;
  s->t_epoch = s->t_count = s->t_go = 0;
  s->onset = s->stim_on = s->go = 0;
  s->choice = 0;
  s->chosen_value = 0;
  s->outcome = 0;
  s->evidence = 0;
  s->coh = 0;
  s->cond = -1;
  s->catch_trial = 0;
  s->field_on = 0;
  s->block = 0;
  int spread = c->delay_max - c->delay_min;
  s->delay_steps = c->delay_min + (spread > 0 ? (int)(am_rng_uniform(&e->rng) * (spread + 1)) : 0);
  // Curriculum: f falls linearly from 1 to 0 over the env's first `curriculum` trials.
  double f = c->curriculum > 0 && s->env_trials < c->curriculum
                 ? 1.0 - (double)s->env_trials / c->curriculum : 0.0;
  s->r_start = c->start_radius * (1 + f);
  s->r_target = c->target_radius * (1 + f);
  s->delay_steps = (int)floor(s->delay_steps * (1 - f) + 0.5);
  if (c->kind == K_RANDOM) {
    double q1, q2, p[2];
    int tries = 0;
    do {
      q1 = am_rng_range(&e->rng, c->q_lo[0], c->q_hi[0]);
      q2 = am_rng_range(&e->rng, c->q_lo[1], c->q_hi[1]);
      p[0] = c->base[0] + c->l1 * cos(q1) + c->l2 * cos(q1 + q2);
      p[1] = c->base[1] + c->l1 * sin(q1) + c->l2 * sin(q1 + q2);
    } while (dist2(p, c->start) < c->min_dist && ++tries < 1000);
    s->target[0] = p[0];
    s->target[1] = p[1];
  } else if (c->kind == K_BANDIT) {
    s->target[0] = c->start[0], s->target[1] = c->start[1];  // the chosen target, once chosen
  } else if (choice_task(c)) {
    int k = (int)(am_rng_uniform(&e->rng) * c->n_coh);
    double sign = am_rng_uniform(&e->rng) < 0.5 ? -1 : 1;
    // Curriculum: with probability f the trial has the highest coherence (romo: the largest
    // |f1 - f2|); with probability f (drawn apart) the stimulus (romo: f2) lasts until the choice,
    // so the evidence is there while the hand moves; the noise and the fixed stimulus duration
    // (romo: f1's) are scaled by 1 - f (at least one step).
    s->stim_to_choice = 0;
    if (f > 0 && c->offer_curriculum) {  // value: among the offers at least f x the largest apart
      double top = 0;
      int n = 0, pick;
      for (int j = 0; j < c->n_coh; j++) top = fmax(top, c->coh[j]);
      for (int j = 0; j < c->n_coh; j++) n += c->coh[j] >= f * top;
      pick = (int)(am_rng_uniform(&e->rng) * n) % n;
      for (int j = 0; j < c->n_coh; j++)
        if (c->coh[j] >= f * top && pick-- == 0) k = j;
      s->stim_to_choice = am_rng_uniform(&e->rng) < f;
    } else if (f > 0) {
      if (am_rng_uniform(&e->rng) < f)
        for (int j = 0; j < c->n_coh; j++)
          if (c->coh[j] > c->coh[k]) k = j;
      s->stim_to_choice = am_rng_uniform(&e->rng) < f;
    }
    s->coh = sign * c->coh[k];
    s->cond = k;
    s->noise = c->noise * (1 - f);
    s->noise2 = c->noise2 * (1 - f);
    s->stim_steps = (int)floor(c->stim_steps * (1 - f) + 0.5);
    if (s->stim_steps < 1) s->stim_steps = 1;
    s->target[0] = c->start[0] + sign * c->distance;  // the correct target (right = +x)
    s->target[1] = c->start[1];
    s->stim2 = 0;
    if (c->kind == K_ROMO) {  // f1 > f2 (coh > 0): right
      s->f1 = c->f1s[(int)(am_rng_uniform(&e->rng) * c->n_f1)];
      s->f2 = s->f1 - s->coh;
    } else if (c->kind == K_VALUE) {  // offer k, A on side `sign`; the better one is "correct"
      s->qa = c->qa[k], s->qb = c->qb[k];
      s->a_side = (int)sign;
      s->coh = c->rho * s->qa - s->qb;
      double better = s->coh > 0 ? sign : s->coh < 0 ? -sign
                      : (am_rng_uniform(&e->rng) < 0.5 ? -1 : 1);  // equal values: either
      s->target[0] = c->start[0] + better * c->distance;
    } else if (c->kind == K_MANTE) {  // coh is the cued stream's; the other is drawn apart
      s->context = am_rng_uniform(&e->rng) < 0.5;
      int k2 = (int)(am_rng_uniform(&e->rng) * c->n_coh);
      double other = (am_rng_uniform(&e->rng) < 0.5 ? -1 : 1) * c->coh[k2];
      s->motion = s->context ? other : s->coh;
      s->colour = s->context ? s->coh : other;
    } else if (c->kind == K_MULTI) {  // the same signed strength in each modality shown
      double u = am_rng_uniform(&e->rng);
      s->modality = u < c->mod_cdf[0] ? MOD_VISUAL : u < c->mod_cdf[1] ? MOD_AUDITORY : MOD_BOTH;
    }
  } else {
    s->cond = (int)(am_rng_uniform(&e->rng) * c->n_targets);
    double a = 2 * M_PI * s->cond / c->n_targets;
    s->target[0] = c->start[0] + c->distance * cos(a);
    s->target[1] = c->start[1] + c->distance * sin(a);
  }
  double u = am_rng_uniform(&e->rng);
  s->gain = 0;
  s->rot = c->rotation;
  if (c->n_blk > 0) {  // the `blocks` schedule: the env's trial count picks the block
    int64_t k = s->env_trials;
    int b = 0;
    while (b < c->n_blk - 1 && k >= c->blk_trials[b]) k -= c->blk_trials[b++];
    s->block = b;
    if (c->kind == K_FORCE_FIELD) s->gain = c->blk_value[b];
    else s->rot = c->blk_value[b];
  } else if (c->hb_max > 0) {  // hidden blocks: a new value (never the same) when one ends
    if (s->hb_left <= 0) {  // the episode's first block: any value
      if (!s->hb_started || c->n_hv < 2) {
        s->hb_value = (int)(am_rng_uniform(&e->rng) * c->n_hv);
      } else {
        int k = (int)(am_rng_uniform(&e->rng) * (c->n_hv - 1));
        s->hb_value = k >= s->hb_value ? k + 1 : k;
      }
      s->hb_started = 1;
      s->hb_left = c->hb_min + (int)(am_rng_uniform(&e->rng) * (c->hb_max - c->hb_min + 1));
    }
    s->hb_left--;
    s->block = s->hb_value;
    if (c->kind == K_FORCE_FIELD) s->gain = c->hv[s->hb_value];
    else s->rot = c->hv[s->hb_value];
  }
  s->cosr = cos(s->rot * M_PI / 180);
  s->sinr = sin(s->rot * M_PI / 180);
  if (c->kind == K_FORCE_FIELD) {
    int field_block;
    if (c->n_blk > 0 || c->hb_max > 0) {
      field_block = s->gain != 0;
    } else {
      int period = c->blocks[0] + c->blocks[1] + c->blocks[2];
      int k = period > 0 ? (int)(s->env_trials % period) : 0;
      s->block = k < c->blocks[0] ? 0 : k < c->blocks[0] + c->blocks[1] ? 1 : 2;
      field_block = s->block == 1;
      s->gain = field_block ? 1 : 0;
    }
    s->field_on = field_block && c->field_kind != 0;
    if (field_block && u < c->catch_fraction) {
      s->catch_trial = 1;
      s->field_on = 0;
    }
  } else if (!choice_task(c) && c->kind != K_BANDIT) {
    s->catch_trial = u < c->catch_fraction;
  }
  s->env_trials++;
  s->pending |= 1u << E_TRIAL_START;
  if (s->catch_trial) s->pending |= 1u << E_CATCH;
}

static void arm_reset(const am_task* t, am_env* e) {
  const arm_cfg* c = t->cfg;
  arm_state* s = e->task_state;
  int64_t n = s->env_trials;
  memset(s, 0, sizeof *s);
  s->env_trials = n;
  amt_opts_reset(&s->opt);
  if (c->kind == K_BANDIT) {
    amt_bandit_probs_draw(&c->probs, &e->rng, s->p_arm);
  }
  mjData* d = e->d;
  d->qpos[c->q_sh] = c->qhome[0] + am_rng_range(&e->rng, -c->init_noise, c->init_noise);
  d->qpos[c->q_el] = c->qhome[1] + am_rng_range(&e->rng, -c->init_noise, c->init_noise);
  mj_forward(e->m, d);
  begin_trial(c, e);
}

// A step that ends the ITI is the next trial's first: the trial begins here, before the step's
// physics, so that its conditions (force-field: field_on) govern that physics and the step's task
// variables describe it (hand_fx/hand_fy are the force of the field that field_on reports).
static void arm_act(const am_task* t, am_env* e, const float* a) {
  const arm_cfg* c = t->cfg;
  arm_state* s = e->task_state;
  if (s->epoch == EP_ITI && s->t_epoch + 1 >= c->iti_steps) begin_trial(c, e);
  am_write_ctrl(e->m, e->d, a);
  double sum = 0;
  for (int i = 0; i < e->m->nu; i++) sum += e->d->ctrl[i] * e->d->ctrl[i];
  s->effort = e->m->nu ? sum / e->m->nu : 0;
  amt_opts_act(&c->opts, &s->opt, a);
}

// Force field F = B v at the hand, applied before each physics step.
static void arm_substep(const am_task* t, am_env* e) {
  const arm_cfg* c = t->cfg;
  arm_state* s = e->task_state;
  mjData* d = e->d;
  mju_zero(d->qfrc_applied, e->m->nv);
  s->force[0] = s->force[1] = 0;
  if (!s->field_on) return;
  double v[2];
  hand_vel(c, d, v);
  double g = s->gain;
  mjtNum f[3] = {g * (c->B[0] * v[0] + c->B[1] * v[1]), g * (c->B[2] * v[0] + c->B[3] * v[1]), 0};
  s->force[0] = f[0];
  s->force[1] = f[1];
  mjtNum torque[3] = {0, 0, 0};
  mjtNum point[3];
  double q1 = d->qpos[c->q_sh], q12 = q1 + d->qpos[c->q_el];
  point[0] = c->base[0] + c->l1 * cos(q1) + c->l2 * cos(q12);
  point[1] = c->base[1] + c->l1 * sin(q1) + c->l2 * sin(q12);
  point[2] = d->site_xpos[3 * c->hand_site + 2];
  mj_applyFT(e->m, d, f, torque, point, c->forearm, d->qfrc_applied);
}

static void end_trial(const arm_cfg* c, arm_state* s, uint32_t* ev, int success, double* reward) {
  emit(c, ev, E_TRIAL_END);
  if (success) {
    emit(c, ev, E_REWARD);
    if (c->kind == K_VALUE)  // the chosen offer's value, the best offer type's worth w_success
      *reward += c->w_success *
                 (s->chosen_value - (c->relative ? s->unchosen_value : 0)) / c->max_value;
    else if (!c->n_sizes)
      *reward += c->w_success;  // else drawn in arm_evaluate (reward_sizes)
  }
  s->outcome = success ? 1 : -1;
  if (c->kind == K_BANDIT) s->last_choice = s->choice, s->last_reward = success;
  s->stim_on = 0;
  s->trial++;
  if (s->trial >= c->trials) s->done = 1;
  else {
    s->epoch = EP_ITI;
    s->t_epoch = 0;
  }
}

// The epochs in which the cursor must stay at the start (DELAY, STIM, CATCH): leaving aborts the
// trial. Returns 1 when it aborted.
static int left_start(const arm_cfg* c, arm_state* s, int in_start, uint32_t* ev, double* reward) {
  if (in_start) return 0;
  emit(c, ev, E_ABORT);
  s->aborted = 1;
  end_trial(c, s, ev, 0, reward);
  return 1;
}

// FIX: hold at the start for hold_time, then the target (decision-reach: the stimulus) appears.
static void step_fix(const arm_cfg* c, arm_state* s, int in_start, uint32_t* ev, double* reward) {
  s->t_count = in_start ? s->t_count + 1 : 0;
  if (s->t_count >= c->fix_steps) {
    emit(c, ev, E_TARGET_ON);
    s->t_epoch = 0;
    if (choice_task(c)) {
      s->stim_on = 1;
      emit(c, ev, E_STIM_ON);
      if (c->kind != K_ROMO && c->rt) {
        s->go = 1;
        emit(c, ev, E_GO_CUE);
        s->epoch = EP_MOVE;
      } else {
        s->epoch = EP_STIM;
      }
    } else if (c->kind == K_BANDIT) {  // both targets and the go cue at once
      s->go = 1;
      emit(c, ev, E_GO_CUE);
      s->epoch = EP_MOVE;
    } else {
      s->epoch = EP_DELAY;
    }
  } else if (s->t_epoch >= c->fix_timeout_steps) {
    emit(c, ev, E_TIMEOUT);
    if (choice_task(c) || c->kind == K_BANDIT) s->aborted = 1;  // a timeout costs like an abort
    end_trial(c, s, ev, 0, reward);
  }
}

// MOVE: enter the target (decision-reach: either target; the wrong one is an error) before the
// deadline.
static void step_move(const arm_cfg* c, arm_state* s, const double p[2], uint32_t* ev,
                      double* reward) {
  int limit = choice_task(c) && c->rt ? c->rt_steps : c->move_steps;
  if (c->kind == K_BANDIT && s->choice == 0) {  // the first target entered is the choice
    double right[2] = {c->start[0] + c->distance, c->start[1]};
    double left[2] = {c->start[0] - c->distance, c->start[1]};
    int side = dist2(p, right) <= s->r_target ? 1 : dist2(p, left) <= s->r_target ? -1 : 0;
    if (side) {
      s->choice = side;
      s->target[0] = side > 0 ? right[0] : left[0];
      emit(c, ev, E_TARGET_REACHED);
      s->epoch = EP_HOLD;
      s->t_count = 0;
      return;
    }
  } else if (c->kind == K_BANDIT) {  // back in MOVE after leaving the chosen target
    if (dist2(p, s->target) <= s->r_target) {
      s->epoch = EP_HOLD;
      s->t_count = 0;
      return;
    }
  } else if (choice_task(c)) {
    double right[2] = {c->start[0] + c->distance, c->start[1]};
    double left[2] = {c->start[0] - c->distance, c->start[1]};
    int side = dist2(p, right) <= s->r_target ? 1 : dist2(p, left) <= s->r_target ? -1 : 0;
    if (side) {
      s->choice = side;
      stim_off(c, s, ev);
      if (c->kind == K_VALUE) {  // either offer is taken: hold it for its value
        s->target[0] = c->start[0] + side * c->distance;
        s->chosen_value = side == s->a_side ? c->rho * s->qa : s->qb;
        s->unchosen_value = side == s->a_side ? s->qb : c->rho * s->qa;
      }
      double correct = s->target[0] > c->start[0] ? 1 : -1;
      if (side == correct) {
        emit(c, ev, E_TARGET_REACHED);
        s->epoch = EP_HOLD;
        s->t_count = 0;
      } else {
        emit(c, ev, E_ERROR);
        s->erred = 1;
        end_trial(c, s, ev, 0, reward);
      }
      return;
    }
  } else if (dist2(p, s->target) <= s->r_target) {
    emit(c, ev, E_TARGET_REACHED);
    s->epoch = EP_HOLD;
    s->t_count = 0;
    return;
  }
  if (s->t_go >= limit) {
    emit(c, ev, E_TIMEOUT);
    if (choice_task(c) || c->kind == K_BANDIT) s->aborted = 1;
    end_trial(c, s, ev, 0, reward);
  }
}

// Advances the trial by one control step given the cursor p: epoch transitions, events and the
// success reward (*reward).
static void step_trial(const arm_cfg* c, am_env* e, const double p[2], uint32_t* ev,
                       double* reward) {
  arm_state* s = e->task_state;
  for (int k = 0; k < E_COUNT; k++)
    if (s->pending & (1u << k)) emit(c, ev, k);
  s->pending = 0;
  s->t_epoch++;
  if (s->go) s->t_go++;
  int in_start = dist2(p, c->start) <= s->r_start;
  if (s->go && !s->onset && !in_start) {
    s->onset = 1;
    emit(c, ev, E_MOVEMENT_ONSET);
    if (choice_task(c) && c->rt && !s->stim_to_choice) stim_off(c, s, ev);
  }
  switch (s->epoch) {
    case EP_FIX:
      step_fix(c, s, in_start, ev, reward);
      break;
    case EP_DELAY:
      if (left_start(c, s, in_start, ev, reward)) break;
      if (s->t_epoch >= s->delay_steps) {
        s->t_epoch = 0;
        if (c->kind == K_ROMO) {  // f2 and the go cue: respond while f2 is on
          s->stim2 = s->stim_on = 1;
          emit(c, ev, E_STIM2_ON);
          s->go = 1;
          emit(c, ev, E_GO_CUE);
          s->epoch = EP_MOVE;
        } else if (s->catch_trial && c->kind != K_FORCE_FIELD) {
          s->epoch = EP_CATCH;
        } else {
          s->go = 1;
          emit(c, ev, E_GO_CUE);
          s->epoch = EP_MOVE;
        }
      }
      break;
    case EP_STIM:
      if (left_start(c, s, in_start, ev, reward)) break;
      if (s->t_epoch >= s->stim_steps && c->kind == K_ROMO) {  // f1 ends: the memory delay
        stim_off(c, s, ev);
        s->epoch = EP_DELAY;
        s->t_epoch = 0;
      } else if (s->t_epoch >= s->stim_steps) {
        if (!s->stim_to_choice) stim_off(c, s, ev);
        s->go = 1;
        emit(c, ev, E_GO_CUE);
        s->epoch = EP_MOVE;
        s->t_epoch = 0;
      }
      break;
    case EP_CATCH:
      if (left_start(c, s, in_start, ev, reward)) break;
      if (s->t_epoch >= c->move_steps) {
        emit(c, ev, E_HOLD_COMPLETE);
        end_trial(c, s, ev, 1, reward);
      }
      break;
    case EP_MOVE:
      step_move(c, s, p, ev, reward);
      break;
    case EP_HOLD:
      if (dist2(p, s->target) > s->r_target) {
        s->epoch = EP_MOVE;  // left the target: keep reaching (the move deadline still runs)
      } else if (++s->t_count >= c->hold_steps) {
        emit(c, ev, E_HOLD_COMPLETE);
        end_trial(c, s, ev,
                  c->kind != K_BANDIT || am_rng_uniform(&e->rng) < s->p_arm[s->choice > 0], reward);
      }
      break;
    default:
      break;
  }
}

// The reward terms besides success: shaping by the distance from the cursor p to the current
// goal (the start before the go cue and on catch trials; the target after it), effort and the
// abort penalty. Decision-reach: after the go cue no shaping until the cursor leaves the start
// (waiting for evidence earns nothing, so the reaction-time variant does not reward staying nor
// leaving), then toward the correct target (a hidden state like the success reward: the policy
// does not see rewards unless prev_inputs is on); the abort term also holds the cost of a
// timeout (abort_penalty) and of an error (error_penalty).
static void shaping_terms(const arm_cfg* c, const arm_state* s, const double p[2], double* prox,
                          double* dist, double* effort, double* abort) {
  const double* goal = c->start;
  double sigma = c->prox_sigma;
  int shaped = s->epoch != EP_ITI;
  if (s->go && s->epoch != EP_ITI) {
    goal = s->target;
    double right[2] = {c->start[0] + c->distance, c->start[1]};
    double left[2] = {c->start[0] - c->distance, c->start[1]};
    if (c->kind == K_BANDIT && !s->choice) goal = dist2(p, right) < dist2(p, left) ? right : left;
    if (choice_task(c)) {
      if (!s->onset) shaped = 0;
      sigma = c->target_sigma;
    }
  }
  // The proximity reward is never negative, so ending a trial early (an abort) only loses reward;
  // an abort also costs abort_penalty. With cost-only shaping (w_distance) PPO learnt to abort at
  // once (docs/tasks.md, Reward).
  double d_goal = dist2(p, goal);
  *dist = -c->w_dist * d_goal / 0.1 * c->dt;
  *prox = c->w_prox * exp(-d_goal / sigma) * c->dt;
  if (!shaped) *dist = *prox = 0;
  *effort = -c->w_effort * s->effort * c->dt;
  *abort = (s->aborted ? -c->abort_penalty : 0) + (s->erred ? -c->error_penalty : 0);
}

static void arm_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const arm_cfg* c = t->cfg;
  arm_state* s = e->task_state;
  uint32_t ev = 0;
  double reward = 0;
  s->aborted = s->erred = 0;
  double p[2], v[2];
  cursor(c, s, e->d, p, v);
  step_trial(c, e, p, &ev, &reward);
  if (c->n_sizes && (ev >> c->ev[E_REWARD]) & 1u)  // reward_sizes: a magnitude drawn at delivery
    reward += c->sizes[(int)(am_rng_uniform(&e->rng) * c->n_sizes) % c->n_sizes];
  if (choice_task(c)) {
    double mean = c->kind == K_DECISION ? s->coh : c->kind == K_MANTE ? s->motion
                  : c->kind == K_VALUE ? s->qa / AMT_VALUE_Q_SCALE
                  : ((s->stim2 ? s->f2 : s->f1) - ROMO_F_MID) / ROMO_F_SCALE;
    if (c->kind == K_MULTI) {  // each modality shown carries its own noise; an absent one is 0
      int vis = s->modality != MOD_AUDITORY, aud = s->modality != MOD_VISUAL;
      s->evidence = s->stim_on && vis ? s->coh + s->noise * am_rng_normal(&e->rng) : 0;
      s->evidence2 = s->stim_on && aud ? s->coh + s->noise2 * am_rng_normal(&e->rng) : 0;
    } else {
      s->evidence = s->stim_on ? mean + s->noise * am_rng_normal(&e->rng) : 0;
    }
    if (c->kind == K_MANTE || c->kind == K_VALUE) {
      double mean2 = c->kind == K_MANTE ? s->colour : s->qb / AMT_VALUE_Q_SCALE;
      s->evidence2 = s->stim_on ? mean2 + s->noise * am_rng_normal(&e->rng) : 0;
    }
  }
  double prox_term, dist_term, effort_term, abort_term;
  shaping_terms(c, s, p, &prox_term, &dist_term, &effort_term, &abort_term);
  r->terms[0] = (float)reward;
  r->terms[1] = (float)prox_term;
  r->terms[2] = (float)dist_term;
  r->terms[3] = (float)effort_term;
  r->terms[4] = (float)abort_term;
  r->reward = (float)(reward + prox_term + dist_term + effort_term + abort_term);
  r->terminated = s->done;
  r->events = ev;
  amt_opts_reward(&s->opt, r->reward);
}

static void arm_observe(const am_task* t, am_env* e, float* o) {
  const arm_cfg* c = t->cfg;
  arm_state* s = e->task_state;
  am_body_observe(e->m, e->d, o);
  double p[2], v[2];
  cursor(c, s, e->d, p, v);
  if (c->kind == K_ROTATION) {  // the hand feedback the policy sees is the rotated cursor
    if (c->hand_obs[0] >= 0) {
      o[c->hand_obs[0]] = (float)p[0];
      o[c->hand_obs[1]] = (float)p[1];
    }
    if (c->hand_obs[3] >= 0) {
      o[c->hand_obs[3]] = (float)v[0];
      o[c->hand_obs[4]] = (float)v[1];
    }
  }
  float* g = o + c->body_dim;
  double sc = c->obs_scale;
  int shown = s->epoch != EP_FIX && s->epoch != EP_ITI;
  if (c->kind == K_BANDIT) {  // the previous trial's choice and reward (meta-RL feedback)
    g[0] = (float)s->last_choice;
    g[1] = (float)s->last_reward;
    g[2] = (float)(shown ? 1 : 0);  // both targets
  } else if (choice_task(c)) {
    g[0] = (float)s->evidence;
    g[1] = (float)s->stim_on;
    g[2] = (float)(shown ? 1 : 0);  // both targets, at -distance and +distance along x
  } else {
    g[0] = shown ? (float)((s->target[0] - c->start[0]) * sc) : 0.0f;
    g[1] = shown ? (float)((s->target[1] - c->start[1]) * sc) : 0.0f;
    g[2] = (float)shown;
  }
  g[3] = (float)(s->go && s->epoch != EP_ITI);
  g[4] = (float)((p[0] - c->start[0]) * sc);
  g[5] = (float)((p[1] - c->start[1]) * sc);
  if (c->kind == K_MANTE) {  // the colour sample and the context cue (one-hot, outside the ITI)
    g[6] = (float)s->evidence2;
    g[7] = (float)(s->epoch != EP_ITI && s->context == 0);
    g[8] = (float)(s->epoch != EP_ITI && s->context == 1);
  } else if (c->kind == K_MULTI) {  // the auditory sample and each modality's carrier
    g[6] = (float)s->evidence2;
    g[7] = (float)(s->stim_on && s->modality != MOD_AUDITORY);
    g[8] = (float)(s->stim_on && s->modality != MOD_VISUAL);
  } else if (c->kind == K_VALUE) {  // per side, drops of A and of B (0 for the juice not there)
    int a_right = s->a_side > 0;
    g[0] = (float)(a_right ? 0 : s->evidence);   // left: A
    g[6] = (float)(a_right ? s->evidence2 : 0);  // left: B
    g[7] = (float)(a_right ? s->evidence : 0);   // right: A
    g[8] = (float)(a_right ? 0 : s->evidence2);  // right: B
  }
  amt_opts_observe(&c->opts, &s->opt, &e->rng, o);
}

static void arm_vars(const am_task* t, const am_env* e, float* out) {
  const arm_cfg* c = t->cfg;
  const arm_state* s = e->task_state;
  float x[V_COUNT];  // every variable; the task declares c->vars
  double p[2], v[2];
  cursor(c, s, e->d, p, v);
  x[V_TARGET_X] = (float)s->target[0];
  x[V_TARGET_Y] = (float)s->target[1];
  x[V_START_X] = (float)c->start[0];
  x[V_START_Y] = (float)c->start[1];
  x[V_CURSOR_X] = (float)p[0];
  x[V_CURSOR_Y] = (float)p[1];
  x[V_CONDITION] = (float)s->cond;
  x[V_CATCH] = (float)s->catch_trial;
  x[V_DELAY] = (float)(s->delay_steps * c->dt);
  x[V_EPOCH] = (float)s->epoch;
  x[V_GO] = (float)s->go;
  x[V_FIELD_ON] = (float)s->field_on;
  x[V_BLOCK] = (float)s->block;
  x[V_TRIAL] = (float)(s->env_trials - 1);
  x[V_COHERENCE] = (float)(c->kind == K_DECISION || c->kind == K_MULTI ? s->coh : 0);
  x[V_EVIDENCE] = (float)s->evidence;
  x[V_CHOICE] = (float)s->choice;
  x[V_OUTCOME] = (float)s->outcome;
  x[V_HAND_FX] = (float)s->force[0];  // the viewer draws "<site>_fx/_fy" as an arrow at the site
  x[V_HAND_FY] = (float)s->force[1];
  x[V_FIELD_GAIN] = (float)(s->field_on ? s->gain : 0);
  x[V_ROTATION] = (float)s->rot;
  x[V_F1] = (float)s->f1;
  x[V_F2] = (float)s->f2;
  x[V_DF] = (float)(c->kind == K_ROMO ? s->coh : 0);
  x[V_MOTION] = (float)s->motion;
  x[V_COLOUR] = (float)s->colour;
  x[V_CONTEXT] = (float)s->context;
  x[V_OFFER_A] = (float)s->qa;
  x[V_OFFER_B] = (float)s->qb;
  x[V_VALUE_A] = (float)(c->rho * s->qa);
  x[V_VALUE_B] = (float)s->qb;
  x[V_B_SIDE] = (float)-s->a_side;
  x[V_MODALITY] = (float)s->modality;
  x[V_LOG_RATIO] = (float)(s->qa > 0 && s->qb > 0 ? log(s->qb / s->qa) : 0);
  x[V_CHOSEN_VALUE] = (float)s->chosen_value;
  x[V_P_LEFT] = (float)(c->kind == K_BANDIT ? s->p_arm[0] : 0);
  x[V_P_RIGHT] = (float)(c->kind == K_BANDIT ? s->p_arm[1] : 0);
  for (int k = 0; k < t->n_vars; k++) out[k] = x[c->vars[k]];
}

static void arm_destroy(am_task* t) {
  free((void*)t->cfg);
  t->cfg = NULL;
}

//---------------------------------- construction --------------------------------------------------

static int secs(const amt_info* info, const amt_params* p, const char* key, double dt, int* out,
                int min_steps, char* err, size_t err_sz) {
  double v;
  if (amt_param_double(info, p, key, &v, err, err_sz)) return -1;
  if (v < 0 || v > 3600)
    return am_err(err, err_sz, "task %s: parameter %s: '%g' must be in [0, 3600] s", info->name,
                  key, v);
  *out = steps_of(v, dt);
  if (*out < min_steps) *out = min_steps;
  return 0;
}

static int positive(const amt_info* info, const char* key, double v, char* err, size_t err_sz) {
  if (!(v > 0))
    return am_err(err, err_sz, "task %s: parameter %s: '%g' must be > 0", info->name, key, v);
  return 0;
}

// Finds where the hand_pos / hand_vel sensor values land in the body observation: fills
// sensordata with markers and looks for them (am_body_observe's order is sim's business).
static void locate_hand_obs(const mjModel* m, arm_cfg* c, int body_dim) {
  for (int k = 0; k < 6; k++) c->hand_obs[k] = -1;
  mjData* d = mj_makeData(m);
  float* o = calloc((size_t)body_dim + 1, sizeof(float));
  if (!d || !o) goto done;
  for (int i = 0; i < m->nsensordata; i++) d->sensordata[i] = 1000.0 + i;
  for (int i = 0; i < m->na; i++) d->act[i] = -1;
  am_body_observe(m, d, o);
  const char* names[2] = {"hand_pos", "hand_vel"};
  for (int s = 0; s < 2; s++) {
    int id = mj_name2id(m, mjOBJ_SENSOR, names[s]);
    if (id < 0) continue;
    for (int k = 0; k < 3; k++) {
      float want = (float)(1000.0 + m->sensor_adr[id] + k);
      for (int j = 0; j < body_dim; j++)
        if (o[j] == want) c->hand_obs[3 * s + k] = j;
    }
  }
done:
  free(o);
  if (d) mj_deleteData(d);
}

// Finds the arm's parts in m and measures it: joint addresses, home posture, link lengths and the
// start (the hand at the home keyframe). Returns 0 or -1 with a message.
static int bind_arm(const mjModel* m, const char* name, arm_cfg* c, int* js, int* je, char* err,
                    size_t err_sz) {
  c->hand_site = mj_name2id(m, mjOBJ_SITE, "hand");
  c->forearm = mj_name2id(m, mjOBJ_BODY, "forearm");
  c->upper_arm = mj_name2id(m, mjOBJ_BODY, "upper_arm");
  *js = mj_name2id(m, mjOBJ_JOINT, "shoulder");
  *je = mj_name2id(m, mjOBJ_JOINT, "elbow");
  int key = mj_name2id(m, mjOBJ_KEY, "home");
  if (c->hand_site < 0 || c->forearm < 0 || c->upper_arm < 0 || *js < 0 || *je < 0 || key < 0 ||
      m->nu != 6 || m->nu > AMT_MAX_ACT)
    return am_err(err, err_sz, "task %s: body 'arm' lacks site hand, bodies upper_arm/forearm, "
                  "joints shoulder/elbow, keyframe home or six muscles", name);
  c->q_sh = m->jnt_qposadr[*js];
  c->q_el = m->jnt_qposadr[*je];
  c->v_sh = m->jnt_dofadr[*js];
  c->v_el = m->jnt_dofadr[*je];
  c->qhome[0] = m->key_qpos[key * m->nq + c->q_sh];
  c->qhome[1] = m->key_qpos[key * m->nq + c->q_el];
  c->base[0] = m->body_pos[3 * c->upper_arm];
  c->base[1] = m->body_pos[3 * c->upper_arm + 1];
  c->l1 = m->body_pos[3 * c->forearm];
  c->l2 = m->site_pos[3 * c->hand_site];
  mjData* d = mj_makeData(m);
  if (!d) return am_err(err, err_sz, "out of memory");
  mj_resetDataKeyframe(m, d, key);
  mj_forward(m, d);
  c->start[0] = d->site_xpos[3 * c->hand_site];
  c->start[1] = d->site_xpos[3 * c->hand_site + 1];
  mj_deleteData(d);
  return 0;
}

// The parameters every arm task has (ARM_COMMON_PARAMS), timings in control steps.
static int read_common(const amt_info* info, const amt_params* params, arm_cfg* c, char* err,
                       size_t err_sz) {
  const char* name = info->name;
  if (amt_param_int(info, params, "trials", &c->trials, err, err_sz)) return -1;
  if (c->trials < 1)
    return am_err(err, err_sz, "task %s: parameter trials: '%d' must be >= 1", name, c->trials);
  if (secs(info, params, "hold_time", c->dt, &c->fix_steps, 1, err, err_sz) ||
      secs(info, params, "fix_timeout", c->dt, &c->fix_timeout_steps, 1, err, err_sz) ||
      secs(info, params, "move_time", c->dt, &c->move_steps, 1, err, err_sz) ||
      secs(info, params, "target_hold", c->dt, &c->hold_steps, 1, err, err_sz) ||
      secs(info, params, "iti", c->dt, &c->iti_steps, 1, err, err_sz))
    return -1;
  if (c->fix_timeout_steps < c->fix_steps)
    return am_err(err, err_sz, "task %s: fix_timeout must be >= hold_time", name);
  if (amt_param_double(info, params, "start_radius", &c->start_radius, err, err_sz) ||
      positive(info, "start_radius", c->start_radius, err, err_sz) ||
      amt_param_double(info, params, "target_radius", &c->target_radius, err, err_sz) ||
      positive(info, "target_radius", c->target_radius, err, err_sz) ||
      amt_param_double(info, params, "init_noise", &c->init_noise, err, err_sz) ||
      amt_param_double(info, params, "reward_success", &c->w_success, err, err_sz) ||
      amt_param_double(info, params, "w_distance", &c->w_dist, err, err_sz) ||
      amt_param_double(info, params, "w_effort", &c->w_effort, err, err_sz) ||
      amt_param_double(info, params, "w_proximity", &c->w_prox, err, err_sz) ||
      amt_param_double(info, params, "proximity_sigma", &c->prox_sigma, err, err_sz) ||
      positive(info, "proximity_sigma", c->prox_sigma, err, err_sz) ||
      amt_param_double(info, params, "abort_penalty", &c->abort_penalty, err, err_sz) ||
      amt_param_double(info, params, "obs_scale", &c->obs_scale, err, err_sz) ||
      amt_param_int(info, params, "curriculum", &c->curriculum, err, err_sz))
    return -1;
  if (c->curriculum < 0)
    return am_err(err, err_sz, "task %s: parameter curriculum: '%d' must be >= 0", name,
                  c->curriculum);
  if (c->init_noise < 0 || c->init_noise > 0.5)
    return am_err(err, err_sz, "task %s: parameter init_noise: '%g' must be in [0, 0.5] rad", name,
                  c->init_noise);
  return 0;
}

// distance (all but reach-random), delay (all but the choice paradigms; romo-reach: f1 to f2),
// catch_fraction (not the choice paradigms), n_targets
// (the center-out family).
static int read_targets(const amt_info* info, const amt_params* params, arm_cfg* c, char* err,
                        size_t err_sz) {
  const char* name = info->name;
  if (c->kind != K_RANDOM) {
    if (amt_param_double(info, params, "distance", &c->distance, err, err_sz)) return -1;
    if (!(c->distance > c->start_radius + c->target_radius && c->distance <= 0.25))
      return am_err(err, err_sz, "task %s: parameter distance: '%g' must be in (start_radius + "
                    "target_radius, 0.25] m", name, c->distance);
  }
  // romo: the delay between f1 and f2
  if (c->kind == K_ROMO || (!choice_task(c) && c->kind != K_BANDIT)) {
    double dl[2];
    int nd;
    if (amt_param_list(info, params, "delay", dl, 2, &nd, err, err_sz)) return -1;
    if (nd == 1) dl[1] = dl[0];
    if (dl[0] < 0 || dl[1] < dl[0] || dl[1] > 60)
      return am_err(err, err_sz, "task %s: parameter delay: '%s' must be min,max with 0 <= min "
                    "<= max <= 60 s", name, amt_param_get(info, params, "delay"));
    c->delay_min = steps_of(dl[0], c->dt);
    c->delay_max = steps_of(dl[1], c->dt);
  }
  if (!choice_task(c) && c->kind != K_BANDIT) {
    if (amt_param_double(info, params, "catch_fraction", &c->catch_fraction, err, err_sz))
      return -1;
    if (c->catch_fraction < 0 || c->catch_fraction > 1)
      return am_err(err, err_sz, "task %s: parameter catch_fraction: '%g' must be in [0, 1]", name,
                    c->catch_fraction);
  }
  if (c->kind == K_CENTER_OUT || c->kind == K_FORCE_FIELD || c->kind == K_ROTATION) {
    if (amt_param_int(info, params, "n_targets", &c->n_targets, err, err_sz)) return -1;
    if (c->n_targets < 1 || c->n_targets > 360)
      return am_err(err, err_sz, "task %s: parameter n_targets: '%d' must be in [1, 360]", name,
                    c->n_targets);
  }
  const char* rs = c->kind == K_CENTER_OUT ? amt_param_get(info, params, "reward_sizes") : NULL;
  if (rs && rs[0]) {
    if (amt_param_list(info, params, "reward_sizes", c->sizes, 16, &c->n_sizes, err, err_sz))
      return -1;
    for (int i = 0; i < c->n_sizes; i++)
      if (!(c->sizes[i] >= 0 && c->sizes[i] <= 1000))
        return am_err(err, err_sz, "task %s: parameter reward_sizes: '%g' must be in [0, 1000]",
                      name, c->sizes[i]);
  }
  return 0;
}

// reach-random: the joint-angle ranges targets are drawn from, within the joints' ranges.
static int read_random(const amt_info* info, const amt_params* params, const mjModel* m, int js,
                       int je, arm_cfg* c, char* err, size_t err_sz) {
  double r[2];
  int n;
  if (amt_param_double(info, params, "min_distance", &c->min_dist, err, err_sz)) return -1;
  for (int j = 0; j < 2; j++) {
    const char* k = j ? "elbow_range" : "shoulder_range";
    int jid = j ? je : js;
    if (amt_param_list(info, params, k, r, 2, &n, err, err_sz)) return -1;
    double lo = m->jnt_range[2 * jid] * 180 / M_PI, hi = m->jnt_range[2 * jid + 1] * 180 / M_PI;
    if (n != 2 || r[0] >= r[1] || r[0] < lo - 1e-9 || r[1] > hi + 1e-9)
      return am_err(err, err_sz, "task %s: parameter %s: '%s' must be lo,hi within the joint "
                    "range [%g, %g] deg", info->name, k, amt_param_get(info, params, k), lo, hi);
    c->q_lo[j] = r[0] * M_PI / 180;
    c->q_hi[j] = r[1] * M_PI / 180;
  }
  return 0;
}

// force-field: the field matrix B and the block lengths.
static int read_field(const amt_info* info, const amt_params* params, arm_cfg* c, char* err,
                      size_t err_sz) {
  const char* name = info->name;
  const char* f = amt_param_get(info, params, "field");
  double k, custom[4];
  int n;
  if (amt_param_double(info, params, "curl_k", &k, err, err_sz) ||
      amt_param_list(info, params, "B", custom, 4, &n, err, err_sz))
    return -1;
  if (n != 4)
    return am_err(err, err_sz, "task %s: parameter B: '%s' must have 4 values b11,b12,b21,b22",
                  name, amt_param_get(info, params, "B"));
  if (!strcmp(f, "curl")) {
    c->field_kind = 1;
    c->B[0] = 0, c->B[1] = k, c->B[2] = -k, c->B[3] = 0;
  } else if (!strcmp(f, "smi")) {
    c->field_kind = 2;
    c->B[0] = -10.1, c->B[1] = -11.2, c->B[2] = -11.2, c->B[3] = 11.1;
  } else if (!strcmp(f, "custom")) {
    c->field_kind = 3;
    memcpy(c->B, custom, sizeof c->B);
  } else if (!strcmp(f, "none")) {
    c->field_kind = 0;
  } else {
    return am_err(err, err_sz, "task %s: parameter field: '%s' is not one of curl, smi, custom, "
                  "none", name, f);
  }
  const char* bk[3] = {"baseline_trials", "field_trials", "washout_trials"};
  for (int b = 0; b < 3; b++) {
    if (amt_param_int(info, params, bk[b], &c->blocks[b], err, err_sz)) return -1;
    if (c->blocks[b] < 0)
      return am_err(err, err_sz, "task %s: parameter %s: '%d' must be >= 0", name, bk[b],
                    c->blocks[b]);
  }
  return 0;
}

// visuomotor-rotation: the cursor's rotation about the start.
static int read_rotation(const amt_info* info, const amt_params* params, arm_cfg* c, char* err,
                         size_t err_sz) {
  if (amt_param_double(info, params, "rotation", &c->rotation, err, err_sz)) return -1;
  if (fabs(c->rotation) > 180)
    return am_err(err, err_sz, "task %s: parameter rotation: '%g' must be in [-180, 180] deg",
                  info->name, c->rotation);
  return 0;
}

// force-field and visuomotor-rotation: the `blocks` schedule "N:V,N:V,..." (V: the field's gain,
// or the rotation in deg). Empty: none (the three force-field blocks or the fixed rotation).
static int read_blocks(const amt_info* info, const amt_params* params, arm_cfg* c, char* err,
                       size_t err_sz) {
  const char* text = amt_param_get(info, params, "blocks");
  const char* what = c->kind == K_FORCE_FIELD ? "GAIN" : "DEG";
  c->n_blk = 0;
  double hb[2];
  int n_hb = 0;
  if (*amt_param_get(info, params, "hidden_blocks") &&
      (amt_param_list(info, params, "hidden_blocks", hb, 2, &n_hb, err, err_sz) ||
       amt_param_list(info, params, "hidden_values", c->hv, MAX_BLOCKS, &c->n_hv, err, err_sz)))
    return -1;
  if (n_hb && (n_hb != 2 || hb[0] < 1 || hb[1] < hb[0] || hb[1] > 1e6 || hb[0] != floor(hb[0]) ||
               hb[1] != floor(hb[1])))
    return am_err(err, err_sz, "task %s: parameter hidden_blocks: '%s' must be MIN,MAX trials "
                  "(1 <= MIN <= MAX)", info->name, amt_param_get(info, params, "hidden_blocks"));
  if (n_hb && c->n_hv < 1)
    return am_err(err, err_sz, "task %s: parameter hidden_values: needs at least one value",
                  info->name);
  c->hb_min = n_hb ? (int)hb[0] : 0;
  c->hb_max = n_hb ? (int)hb[1] : 0;
  if (n_hb && *text)
    return am_err(err, err_sz, "task %s: parameters blocks and hidden_blocks: give one of them",
                  info->name);
  double n[MAX_BLOCKS];
  c->n_blk = amt_parse_pairs(text, n, c->blk_value, MAX_BLOCKS);
  for (int b = 0; b < c->n_blk; b++) {
    double v = c->blk_value[b];
    if (!(n[b] >= 1 && n[b] <= 1e9 && n[b] == floor(n[b])) ||
        !(c->kind == K_FORCE_FIELD ? fabs(v) <= 100 : fabs(v) <= 180))
      c->n_blk = -1;
    else
      c->blk_trials[b] = (int)n[b];
  }
  if (c->n_blk < 0)
    return am_err(err, err_sz, "task %s: parameter blocks: '%s' must be up to %d blocks "
                  "N:%s,N:%s,... (N >= 1 trials; %s)", info->name, text, MAX_BLOCKS, what, what,
                  c->kind == K_FORCE_FIELD ? "|GAIN| <= 100" : "|DEG| <= 180");
  return 0;
}

// A list of at most MAX_COH numbers in [lo, hi].
static int read_range_list(const amt_info* info, const amt_params* params, const char* key,
                           double lo, double hi, const char* note, double* out, int* n, char* err,
                           size_t err_sz) {
  if (amt_param_list(info, params, key, out, MAX_COH, n, err, err_sz)) return -1;
  for (int i = 0; i < *n; i++)
    if (!(out[i] >= lo && out[i] <= hi))
      return am_err(err, err_sz, "task %s: parameter %s: '%g' must be in [%g, %g]%s", info->name,
                    key, out[i], lo, hi, note);
  return 0;
}

// The choice paradigms (ARM_CHOICE_PARAMS): stimulus noise and timings, error penalty, shaping;
// decision-reach: coherences and the variant; romo-reach: the frequencies (always the rt form:
// f2 lasts until the hand leaves the start).
static int read_choice(const amt_info* info, const amt_params* params, arm_cfg* c, char* err,
                       size_t err_sz) {
  const char* name = info->name;
  if (c->kind == K_VALUE) {
    amt_offers o;
    if (amt_offers_read(info, params, &o, err, err_sz) ||
        amt_param_bool(info, params, "relative", &c->relative, err, err_sz) ||
        amt_param_bool(info, params, "offer_curriculum", &c->offer_curriculum, err, err_sz))
      return -1;
    c->n_coh = o.n, c->rho = o.rho, c->max_value = o.max_value;
    for (int i = 0; i < o.n; i++) {
      c->qa[i] = o.qa[i], c->qb[i] = o.qb[i];
      c->coh[i] = fabs(c->rho * c->qa[i] - c->qb[i]);  // the curriculum's "strongest" offers
    }
  } else if (c->kind == K_ROMO) {
    c->rt = 1;
    if (read_range_list(info, params, "f1", 1, 1000, " Hz", c->f1s, &c->n_f1, err, err_sz) ||
        read_range_list(info, params, "df", 0, 1000, " Hz (unsigned; the sign is drawn per trial)",
                        c->coh, &c->n_coh, err, err_sz))
      return -1;
  } else if (read_range_list(info, params, "coherences", 0, 10,
                             " (unsigned; the sign is drawn per trial)", c->coh, &c->n_coh, err,
                             err_sz)) {
    return -1;
  }
  if (amt_param_double(info, params, "noise", &c->noise, err, err_sz) ||
      secs(info, params, "stim_time", c->dt, &c->stim_steps, 1, err, err_sz) ||
      secs(info, params, "rt_max", c->dt, &c->rt_steps, 1, err, err_sz) ||
      amt_param_double(info, params, "error_penalty", &c->error_penalty, err, err_sz) ||
      amt_param_double(info, params, "target_sigma", &c->target_sigma, err, err_sz) ||
      positive(info, "target_sigma", c->target_sigma, err, err_sz))
    return -1;
  if (c->noise < 0)
    return am_err(err, err_sz, "task %s: parameter noise: '%g' must be >= 0", name, c->noise);
  if (c->kind == K_MULTI) {  // the auditory noise and the modalities' frequencies (as a CDF)
    double w[MAX_COH];
    int nw;
    if (amt_param_double(info, params, "noise2", &c->noise2, err, err_sz) ||
        read_range_list(info, params, "modality_weights", 0, 1e9,
                        " (visual, auditory, multisensory)", w, &nw, err, err_sz))
      return -1;
    if (c->noise2 < 0)
      return am_err(err, err_sz, "task %s: parameter noise2: '%g' must be >= 0", name, c->noise2);
    if (nw != 3 || w[0] + w[1] + w[2] <= 0)
      return am_err(err, err_sz, "task %s: parameter modality_weights: needs 3 weights (visual, "
                    "auditory, multisensory), not all 0", name);
    double tot = w[0] + w[1] + w[2];
    c->mod_cdf[0] = w[0] / tot, c->mod_cdf[1] = (w[0] + w[1]) / tot, c->mod_cdf[2] = 1;
  }
  if (c->kind == K_ROMO) return 0;
  const char* var = amt_param_get(info, params, "variant");
  if (!strcmp(var, "rt")) c->rt = 1;
  else if (strcmp(var, "fixed"))
    return am_err(err, err_sz, "task %s: parameter variant: '%s' is not fixed or rt", name, var);
  return 0;
}

// The events this task can emit, in trial order, and its trial schema.
static void declare_events(am_task* t, arm_cfg* c) {
  static const int reach_ev[] = {E_TRIAL_START, E_CATCH, E_TARGET_ON, E_GO_CUE, E_MOVEMENT_ONSET,
                                 E_TARGET_REACHED, E_HOLD_COMPLETE, E_REWARD, E_ABORT, E_TIMEOUT,
                                 E_TRIAL_END, -1};
  static const int decision_ev[] = {E_TRIAL_START, E_TARGET_ON, E_STIM_ON, E_STIM_OFF,
                                    E_GO_CUE, E_MOVEMENT_ONSET, E_TARGET_REACHED,
                                    E_HOLD_COMPLETE, E_REWARD, E_ERROR, E_ABORT, E_TIMEOUT,
                                    E_TRIAL_END, -1};
  static const int romo_ev[] = {E_TRIAL_START, E_TARGET_ON, E_STIM_ON, E_STIM_OFF, E_STIM2_ON,
                                E_GO_CUE, E_MOVEMENT_ONSET, E_STIM2_OFF, E_TARGET_REACHED,
                                E_HOLD_COMPLETE, E_REWARD, E_ERROR, E_ABORT, E_TIMEOUT,
                                E_TRIAL_END, -1};
  static const int value_ev[] = {E_TRIAL_START, E_TARGET_ON, E_STIM_ON, E_STIM_OFF, E_GO_CUE,
                                 E_MOVEMENT_ONSET, E_TARGET_REACHED, E_HOLD_COMPLETE, E_REWARD,
                                 E_ABORT, E_TIMEOUT, E_TRIAL_END, -1};  // no wrong offer
  static const int bandit_ev[] = {E_TRIAL_START, E_TARGET_ON, E_GO_CUE, E_MOVEMENT_ONSET,
                                  E_TARGET_REACHED, E_HOLD_COMPLETE, E_REWARD, E_ABORT, E_TIMEOUT,
                                  E_TRIAL_END, -1};
  const int* list = c->kind == K_DECISION || c->kind == K_MANTE || c->kind == K_MULTI ? decision_ev
                    : c->kind == K_ROMO ? romo_ev : c->kind == K_VALUE ? value_ev
                    : c->kind == K_BANDIT ? bandit_ev : reach_ev;
  for (int k = 0; k < E_COUNT; k++) c->ev[k] = -1;
  t->n_events = 0;
  for (const int* l = list; *l >= 0; l++) {
    c->ev[*l] = t->n_events;
    snprintf(t->events[t->n_events++], AM_NAME_LEN, "%s", event_names[*l]);
  }
  t->trial_start_event = c->ev[E_TRIAL_START];
  t->success_event = c->ev[c->kind == K_BANDIT ? E_REWARD : E_HOLD_COMPLETE];
  t->trial_end_event = c->ev[E_TRIAL_END];
}

// The task variables that define a trial's condition (am_task.conditions).
static void declare_conditions(am_task* t, const arm_cfg* c) {
  static const int center_out[] = {V_CONDITION, V_CATCH, -1};
  static const int field[] = {V_CONDITION, V_BLOCK, V_FIELD_ON, V_FIELD_GAIN, -1};
  static const int rotation[] = {V_CONDITION, V_BLOCK, V_ROTATION, -1};
  static const int decision[] = {V_COHERENCE, -1};
  static const int romo[] = {V_DF, V_F1, -1};
  static const int mante[] = {V_MOTION, V_COLOUR, V_CONTEXT, -1};
  static const int multi[] = {V_COHERENCE, V_MODALITY, -1};
  static const int value[] = {V_LOG_RATIO, V_B_SIDE, V_OFFER_A, V_OFFER_B, -1};
  static const int bandit[] = {V_P_LEFT, V_P_RIGHT, -1};
  static const int none[] = {-1};
  const int* l = c->kind == K_CENTER_OUT ? center_out : c->kind == K_FORCE_FIELD ? field
                 : c->kind == K_ROTATION ? rotation : c->kind == K_DECISION ? decision
                 : c->kind == K_ROMO ? romo : c->kind == K_MANTE ? mante
                 : c->kind == K_VALUE ? value : c->kind == K_BANDIT ? bandit
                 : c->kind == K_MULTI ? multi : none;
  t->n_conditions = 0;
  for (; *l >= 0; l++)  // as positions in the task's variable list
    for (int k = 0; k < t->n_vars; k++)
      if (c->vars[k] == *l) t->conditions[t->n_conditions++] = k;
}

// Observation groups (the body's, "task" and the options'), episode length, reward terms and task
// variables.
static int declare_interface(am_task* t, const mjModel* m, arm_cfg* c, char* err, size_t err_sz) {
  t->state_size = sizeof(arm_state);
  t->act_dim = m->nu;
  t->n_groups = am_body_obs_groups(m, t->groups, &t->obs_dim);
  c->body_dim = t->obs_dim;
  locate_hand_obs(m, c, c->body_dim);
  am_obs_group* g = &t->groups[t->n_groups++];
  snprintf(g->name, AM_NAME_LEN, "task");
  g->offset = t->obs_dim;
  g->size = c->task_dim = c->kind == K_MANTE || c->kind == K_VALUE || c->kind == K_MULTI ? 9 : 6;
  t->obs_dim += g->size;
  if (amt_opts_setup(t, &c->opts, err, err_sz)) return -1;
  // Longest possible trial plus the ITI bounds the episode; the pool's limit is a safety net.
  int trial_max = c->fix_timeout_steps + c->delay_max + c->stim_steps + c->rt_steps +
                  c->move_steps + c->hold_steps + c->iti_steps + 2;
  t->max_steps = c->trials * trial_max + 1;
  static const char* terms[] = {"success", "proximity", "distance", "effort", "abort"};
  t->n_terms = 5;
  for (int k = 0; k < 5; k++) snprintf(t->terms[k], AM_NAME_LEN, "%s", terms[k]);
  // every arm task's variables, then the paradigm's own
  static const int romo[] = {V_F1, V_F2, V_DF, -1}, mante[] = {V_MOTION, V_COLOUR, V_CONTEXT, -1};
  static const int value[] = {V_OFFER_A, V_OFFER_B, V_VALUE_A, V_VALUE_B, V_B_SIDE, V_LOG_RATIO,
                              V_CHOSEN_VALUE, -1};
  static const int bandit[] = {V_P_LEFT, V_P_RIGHT, -1}, multi[] = {V_MODALITY, -1};
  const int* extra = c->kind == K_ROMO ? romo : c->kind == K_MANTE ? mante
                     : c->kind == K_VALUE ? value : c->kind == K_BANDIT ? bandit
                     : c->kind == K_MULTI ? multi : romo + 3;
  t->n_vars = 0;
  for (int k = 0; k < V_BASE_COUNT; k++) c->vars[t->n_vars++] = k;
  for (; *extra >= 0; extra++) c->vars[t->n_vars++] = *extra;
  for (int k = 0; k < t->n_vars; k++)
    snprintf(t->vars[k], AM_NAME_LEN, "%s", var_names[c->vars[k]]);
  return 0;
}

static int arm_create(am_task* t, const amt_params* params, int kind, const char* name, char* err,
                      size_t err_sz) {
  const amt_info* info = amt_find(name);
  arm_cfg c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.task = info->name;
  if (amt_opts_read(info, params, &c.opts, err, err_sz)) return -1;
  am_model* model = am_model_load_body("arm", err, err_sz);
  if (!model) return -1;
  t->model = model;  // from here on amt_create's amt_destroy frees it on failure
  const mjModel* m = model->m;
  const int frame_skip = 5;
  c.dt = frame_skip * m->opt.timestep;
  int js, je;
  if (bind_arm(m, name, &c, &js, &je, err, err_sz) || read_common(info, params, &c, err, err_sz) ||
      read_targets(info, params, &c, err, err_sz) ||
      (kind == K_RANDOM && read_random(info, params, m, js, je, &c, err, err_sz)) ||
      (kind == K_FORCE_FIELD && read_field(info, params, &c, err, err_sz)) ||
      (kind == K_ROTATION && read_rotation(info, params, &c, err, err_sz)) ||
      ((kind == K_FORCE_FIELD || kind == K_ROTATION) && read_blocks(info, params, &c, err, err_sz)) ||
      (choice_task(&c) && read_choice(info, params, &c, err, err_sz)))
    return -1;
  if (kind == K_BANDIT && amt_bandit_probs_read(info, params, &c.probs, err, err_sz)) return -1;
  snprintf(t->name, sizeof t->name, "%s", name);
  t->frame_skip = frame_skip;
  declare_events(t, &c);
  if (declare_interface(t, m, &c, err, err_sz)) return -1;
  declare_conditions(t, &c);
  arm_cfg* cfg = malloc(sizeof *cfg);
  if (!cfg) return am_err(err, err_sz, "out of memory");
  *cfg = c;
  t->cfg = cfg;
  t->reset = arm_reset;
  t->act = arm_act;
  t->substep = kind == K_FORCE_FIELD ? arm_substep : NULL;
  t->evaluate = arm_evaluate;
  t->observe = arm_observe;
  t->get_vars = arm_vars;
  t->destroy = arm_destroy;
  return 0;
}

int amt_center_out_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_CENTER_OUT, "reach-center-out", err, err_sz);
}
int amt_reach_random_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_RANDOM, "reach-random", err, err_sz);
}
int amt_force_field_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_FORCE_FIELD, "force-field", err, err_sz);
}
int amt_rotation_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_ROTATION, "visuomotor-rotation", err, err_sz);
}
int amt_decision_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_DECISION, "decision-reach", err, err_sz);
}
int amt_bandit_reach_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_BANDIT, "bandit-reach", err, err_sz);
}
int amt_romo_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_ROMO, "romo-reach", err, err_sz);
}
int amt_mante_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_MANTE, "mante-reach", err, err_sz);
}
int amt_multi_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_MULTI, "multisensory-reach", err, err_sz);
}
int amt_value_create(am_task* t, const amt_params* p, char* err, size_t err_sz) {
  return arm_create(t, p, K_VALUE, "value-reach", err, err_sz);
}
