// ama_agents.h: animat's agents (public header): the hierarchical recurrent policy, the PPO
// learner over an env pool, configuration and checkpoints. Network modules are in ama_nn.h.
//
// What it is: a "core" recurrent module that sees all observation groups (after running
// normalisation) and ticks every k control steps; a "motor" recurrent module that sees the core's
// output plus a shortcut from chosen groups (default proprioception) and runs every step; an
// action head on the motor output, Gaussian (mean, learned state-independent log-std) or
// categorical (logits over the choices of a task with discrete actions, am_task.discrete), and a
// value head on the core output. PPO with truncated BPTT and GAE trains them.
// What it is not: no printing, no exiting; errors are return codes with messages.
//
// Action range: the policy samples a = mean + exp(logstd) * eps (unbounded) and the learner stores
// that sample for the likelihood ratio; the env receives a clipped into the actuators' ctrlrange
// (when the task's actions are the model's controls and they are ctrl-limited, else [-1, 1]).
// Categorical head: the policy samples choice k from softmax(logits) and the env receives (and the
// learner stores) the one-hot vector of k, whose argmax the task takes.
#ifndef AMA_AGENTS_H
#define AMA_AGENTS_H

#include <stddef.h>
#include <stdint.h>

#include "am_sim.h"
#include "ama_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

//---------------------------------- configuration -------------------------------------------------

// Everything that defines a policy's architecture (saved in checkpoints; must match on resume).
typedef struct ama_policy_cfg {
  char core_type[8];        // "gru" | "lstm" | "rnn" | "mlp"
  int core_hidden;          // units
  int core_tick;            // the core updates every k control steps (output held between)
  char motor_type[8];       // "gru" | "lstm" | "rnn" | "mlp"
  int motor_hidden;
  char core_groups[256];    // comma-separated observation groups the core sees, or "all"
  char motor_groups[256];   // groups of the motor shortcut, "none" for no shortcut
  int prev_action;          // 1: the core also receives the previous action
  int prev_reward;          // 1: the core also receives the previous reward
  float tau, dt;            // rate RNN time constant and step (seconds)
  float rnn_noise;          // rate RNN recurrent noise sigma
  int dale;                 // rate RNN: Dale's law
  float exc_frac;           // rate RNN: fraction of excitatory units
  float activity_reg;       // coefficient of mean squared unit activity (both modules)
  float init_logstd;        // initial log standard deviation of the actions
  float noise_corr;         // action_noise_corr: the action noise of consecutive steps correlated,
                            // eps_t = rho eps_{t-1} + sqrt(1 - rho^2) xi_t (0: white; each
                            // episode starts from a fresh standard normal)
  int stop_grad_core;       // 1: the actor's gradient does not reach the core (value only)
  int motor_core;           // 0: the motor does not read the core's output (its input slots stay
                            // 0): it acts on its shortcut groups alone
  float obs_clip;           // normalised observations clipped to +-obs_clip
  int critic_heads;         // K value heads on the core (1: the classic critic)
  char critic_tau[512];     // the heads' asymmetries: "spread" ((i + 0.5) / K), one number for
                            // every head, or a comma list of K numbers, each in (0, 1)
  // recurrent connectivity (ama_mask.c, docs/biology.md): which recurrent weights exist
  char conn[16];            // "full" | "random" | "ring" | "modules" | "file"
  float conn_density;       // random, ring, modules: each unit receives round(density H) inputs
  int conn_blocks;          // modules: blocks of consecutive units (inputs from the own block first)
  char conn_modules[16];    // the modules masked: "core", "motor" or "core,motor"
  char conn_file[512];      // file: a CSV matrix H x H (row: receiving unit, column: sending unit)
  char action_head[16];     // "gaussian" | "categorical" (needs a task with discrete actions)
  char rnn_act[8];          // rate RNN's rate function: "relu" | "tanh" (Miconi 2017)
  float rnn_gain;           // rate RNN: recurrent weights drawn Normal(0, rnn_gain^2 / H)
  char readout[8];          // "head": the action head reads the motor module; "unit": the action
                            // (mean or logits) is the core's units 0..A-1 themselves (r = their
                            // rates; Miconi 2017's output neuron), the motor and head unused
  int command_dims;         // K > 0: the last K action values (a command, e.g. a direction for a
                            // task's option) are read from the core by the tensors command.* and
                            // sampled with their own log-std; the head reads the motor for the
                            // first A - K (docs/agents.md, "Commands from the core")
} ama_policy_cfg;

#define AMA_MAX_HEADS 64  // value heads of the distributional critic
// The heads' asymmetries tau (K = cfg->critic_heads values) from cfg->critic_tau. Returns 0, or
// -1 with a message naming critic_tau / critic_heads and the bad value.
int ama_critic_taus(const ama_policy_cfg* cfg, float* tau, char* err, size_t err_sz);

#define AMA_MAX_ANCHOR_ENVS 256  // weights in anchor_envs

// The learner's settings.
typedef struct ama_ppo_cfg {
  int horizon;          // T: control steps per rollout (a multiple of core_tick)
  int epochs;           // passes over each rollout
  int minibatches;      // minibatches per epoch (envs split evenly; must divide the env count)
  float lr;             // Adam learning rate
  char lr_schedule[16]; // "constant" | "linear" (to 0 at total_steps)
  float gamma, lambda;  // discount and GAE lambda
  float clip;           // PPO ratio clip
  float vf_coef;        // value loss coefficient
  float ent_coef;       // entropy bonus coefficient
  float max_grad_norm;  // global gradient norm clip (0: none)
  int norm_adv;         // 1: normalise advantages per minibatch
  float action_cost;    // extra reward -action_cost * |a|^2 (energy), 0: none
  int norm_reward;      // 1: divide rewards by the running std of the discounted return
  float adam_eps;
  int critic_warmup;    // iterations at the run's start in which only the critic learns
  float anchor;         // beta of a KL(pi_ref || pi) penalty per step toward the policy the run
                        // started from (pi_ref: its parameters at creation, after load_module);
                        // 0: none
  char anchor_envs[256];  // the anchor's weight by env: env i's beta is anchor x w[i mod n] of
                          // this comma-separated list (empty: anchor for every env)
  float target_kl;      // > 0: an iteration's policy updates stop at the first minibatch whose
                        // approx_kl (before its step; the mean over MPI ranks) exceeds 1.5 x
                        // target_kl; the value head trains on through the remaining steps
} ama_ppo_cfg;

// Evolution strategies (ama_es.c, Salimans et al. 2017): learner = es.
typedef struct ama_es_cfg {
  int pairs;            // n antithetic pairs (theta + sigma eps_i, theta - sigma eps_i) per
                        // iteration; num_envs must be a multiple of 2n (envs per candidate)
  float sigma;          // perturbation scale
  char optimizer[8];    // "adam" (lr, adam_eps) | "sgd" (lr, momentum)
  float momentum;       // sgd momentum
  float weight_decay;   // L2 coefficient added to the gradient estimate (decay towards 0)
} ama_es_cfg;

// Node perturbation with a reward-modulated Hebbian trace (ama_hebb.c, Miconi 2017): learner =
// hebbian. Rates are per control step; amplitudes in units of the rate RNN's input.
typedef struct ama_hebb_cfg {
  float eta;            // learning rate
  float max_dw;         // each weight's change per trial is clipped to [-max_dw, max_dw]
  float pert_prob;      // probability per unit and control step of a perturbation
  float pert_amp;       // perturbation uniform in [-pert_amp, pert_amp], added to the unit's input
  float xbar;           // xbar <- xbar * xbar_decay + (1 - xbar_decay) x (fast running mean of x)
  float rbar;           // Rbar <- rbar Rbar + (1 - rbar) R per trial type
  int rbar_scale;       // 1: the update is also scaled by |Rbar| (the authors' code)
  int warmup;           // trials (over all envs) before the first weight change
  int plastic_input;    // 1: the input weights core.Wx learn too (Miconi: only the recurrent ones)
} ama_hebb_cfg;

// The whole configuration of a run: written as "key = value" lines, read back the same way.
typedef struct ama_config {
  ama_policy_cfg policy;
  ama_ppo_cfg ppo;
  char learner[8];          // "ppo" | "es" (evolution strategies, no backpropagation) |
                            // "hebbian" (node perturbation, Miconi 2017, no backpropagation)
  ama_es_cfg es;
  ama_hebb_cfg hebb;
  char task[64];
  char task_params[1024];   // "k=v;k=v" as given to the task
  int64_t total_steps;      // env steps to train for
  int num_envs;
  uint64_t seed;
  char load_module[32];     // modules to copy from load_path: comma list of core, motor, head,
                            // critic, command ("" none); motor also carries its inputs'
                            // normaliser over
  char load_path[512];      // the checkpoint to copy them from (required with load_module)
  char load_extra_module[32];  // modules copied from load_extra_path after load_module's (a
  char load_extra_path[512];   // second source, e.g. a core trained body-less); "" none
  char freeze[32];          // modules not trained: comma list of core, motor, head, critic,
                            // command, or ""
  int reset_logstd;         // 1: after load_module, the action log-stds set to init_logstd (the
                            // head's, and the command's when loaded; the means' weights kept)
} ama_config;

void ama_config_default(ama_config* c);
void ama_policy_cfg_default(ama_policy_cfg* c);
// Sets one key ("core_hidden", "lr", ...) from text. Every key has a valid range (numbers) or set
// of values (strings; see ama_config_help); a value outside it, or one that does not parse, leaves
// the config unchanged and returns -1 with a message naming the key, the value (whole) and what is
// valid. Returns 0 on success.
int ama_config_set(ama_config* c, const char* key, const char* value, char* err, size_t err_sz);
// Parses "key=value" (also "key = value"); '#' starts a comment; blank lines ignored.
int ama_config_set_line(ama_config* c, const char* line, char* err, size_t err_sz);
// Parses a whole text of lines (a config file's content). `origin` names it in errors.
int ama_config_parse(ama_config* c, const char* text, const char* origin, char* err, size_t err_sz);
// Checks the rules between keys, once every key is set: dale = 1 needs rate RNN modules (core =
// motor = rnn), a rate RNN needs dt <= tau, horizon a multiple of core_tick, minibatches dividing
// num_envs, load_module and load_path together. Returns 0 or -1 with a message naming the keys.
int ama_config_check(const ama_config* c, char* err, size_t err_sz);
// 1 if load_module or load_extra_module names module, else 0.
int ama_config_loads(const ama_config* c, const char* module);
// The anchor's weight of each of c->num_envs envs (w: that many) from anchor_envs (all 1 when it
// is empty). Returns 0, or -1 with a message naming anchor_envs and the bad value.
int ama_anchor_weights(const ama_config* c, float* w, char* err, size_t err_sz);
// Writes every key as "key = value\n". Returns the length (snprintf semantics).
int ama_config_write(const ama_config* c, char* buf, size_t sz);
// Lists the keys, one "key meaning (valid range)" per line, into buf.
int ama_config_help(char* buf, size_t sz);

//---------------------------------- observation normaliser ----------------------------------------

typedef struct ama_norm {
  int n;          // observation size
  double count;   // rows seen by ama_norm_update
  double* counts; // (n) samples behind each entry's statistics (differs from count for entries
                  // carried over from a reused module's checkpoint)
  double* mean;   // (n)
  double* m2;     // (n) sum of squared deviations
  uint8_t* frozen;// (n) 1: statistics kept as they are (inputs of a reused, frozen module)
  float* scale;   // (n) 1/sqrt(var + 1e-8), refreshed by ama_norm_update
  float* shift;   // (n) mean as float
  float clip;
} ama_norm;

int ama_norm_init(ama_norm* z, int n, float clip, char* err, size_t err_sz);
void ama_norm_free(ama_norm* z);
// Adds rows (rows x n) to the statistics of every entry not frozen (Chan's parallel update, in
// double, per entry).
void ama_norm_update(ama_norm* z, const float* x, int rows);
// Recomputes scale and shift from counts, mean and m2 (after setting them directly).
void ama_norm_refresh(ama_norm* z);
// Copies src's statistics, scale and shift into dst (same n; frozen flags and clip untouched).
void ama_norm_copy(ama_norm* dst, const ama_norm* src);
void ama_norm_apply(const ama_norm* z, const float* x, float* out, int rows);

//---------------------------------- the hierarchical policy ---------------------------------------

typedef struct ama_policy {
  ama_policy_cfg cfg;
  int obs_dim, act_dim;
  int n_core_obs, n_motor_obs;  // observation entries routed to each module
  int* core_obs_idx;            // (n_core_obs) indices into the observation vector
  int* motor_obs_idx;           // (n_motor_obs)
  int core_in, motor_in;        // input sizes
  ama_cell core, motor;
  ama_params params;            // every weight of the agent
  int i_Wmu, i_bmu, i_logstd, i_Wv, i_bv;
  int i_Wcmd, i_bcmd, n_cmd;    // command head (cfg.command_dims = n_cmd; -1, -1, 0 without): the
                                // last n_cmd action means from the core; their log-std follows
                                // head.logstd in memory, so i_logstd spans all A values  // head tensors (critic: Wv K x Hc, bv K; i_logstd -1
                                           // for a categorical head, which has no log-std)
  int categorical;              // 1: cfg.action_head = categorical: a_mean (and the sequences'
                                // mean) hold logits over act_dim choices
  int readout_unit;             // 1: cfg.readout = unit: a_mean is core units 0..A-1 (acting only)
  int n_heads;                  // K value heads (cfg.critic_heads)
  float head_tau[AMA_MAX_HEADS];// their asymmetries tau_i
  ama_norm norm;
  // acting state for N envs (one control step at a time; nothing allocated per step)
  int N;
  int64_t t_global;    // control steps taken (the core ticks when t_global % core_tick == 0)
  float* core_s;       // (N x Sc)
  float* motor_s;      // (N x Sm)
  float* core_y;       // (N x Hc) core output, held between ticks
  float* core_acc;     // (N) product of reset masks since the last tick
  float* prev_act;     // (N x A) previous action (the caller sets it after each env step)
  float* prev_rew;     // (N) previous reward
  // outputs / records of the last step
  float* a_obs;        // (N x O) normalised observation
  float* a_prev_act;   // (N x A) masked previous action used as input
  float* a_prev_rew;   // (N)
  float* a_core_mask;  // (N) core reset mask used (valid when a_ticked)
  int a_ticked;        // the core ticked in the last step
  float* a_mean;       // (N x A)
  float* a_value;      // (N) the critic's value: the mean of the K heads
  float* a_heads;      // (N x K) every value head
  // scratch
  float *a_core_x, *a_motor_x, *a_peek_y, *a_tmp;
  ama_cell_cache a_core_k, a_motor_k;
  // perturbations (ama_perturb.c): per module (0 core, 1 motor), NULL or N x H per-unit gain and
  // offset applied to the module's state (h; the rate RNN's x; the LSTM's h and, for the gain, c)
  // and output right after it steps: s = s * gain + add. Set by the actor; not owned.
  float *unit_gain[2], *unit_add[2];
  // recurrent connectivity (ama_mask.c): per module (0 core, 1 motor) an H x H matrix of 0/1
  // (row: receiving unit, column: sending unit), NULL: fully connected. params.keep applies it.
  uint8_t* conn[2];
} ama_policy;


// Builds the policy for a task's observation groups, allocates parameters (initialised from
// seed) and the acting state for N envs. T_max/B_max are reserved (sequences have their own
// buffers, see ama_seq). Returns 0 or -1 with a message (e.g. an unknown group name).
int ama_policy_init(ama_policy* p, const ama_policy_cfg* cfg, const am_obs_group* groups,
                    int n_groups, int obs_dim, int act_dim, int T_max, int B_max, int N,
                    uint64_t seed, char* err, size_t err_sz);
void ama_policy_free(ama_policy* p);
// Recurrent connectivity (ama_mask.c). Builds the masks cfg.conn asks for (random and modules from
// the stream (seed, "conn"), the file read and checked), sets params.keep, zeroes the absent
// weights and scales each unit's remaining recurrent inputs by sqrt(H / inputs) so the recurrent
// gain matches the full network's. Called by ama_policy_init after the weights are drawn.
// Returns 0 or -1 naming the key, file, line or value.
int ama_policy_conn_init(ama_policy* p, uint64_t seed, char* err, size_t err_sz);
// Replaces module m's matrix (H x H bytes, copied; NULL: full) and rebuilds params.keep, zeroing
// the absent weights (checkpoints). Returns 0 or -1 (out of memory).
int ama_policy_conn_set(ama_policy* p, int m, const uint8_t* conn, char* err, size_t err_sz);
// Reads an H x H connectivity matrix from a CSV file: H lines of H numbers separated by commas
// (or spaces), nonzero = connected, row = receiving unit, column = sending unit; '#' starts a
// comment, blank lines are skipped. Returns 0 or -1 naming the file, line, column and value.
int ama_conn_read_csv(const char* path, int H, uint8_t* conn, char* err, size_t err_sz);
// The same matrix from a NumPy .npy file (conn_file ending in .npy): shape (H, H), dtype bool,
// (u)int8..64 or float32/64, little-endian, C or Fortran order; nonzero = connected. Returns 0 or
// -1 naming the file and what is wrong (magic, header, shape, dtype, size, a NaN).
int ama_conn_read_npy(const char* path, int H, uint8_t* conn, char* err, size_t err_sz);
// A one-line description of module m's connectivity ("full", "random density 0.2: 13 of 64
// inputs per unit", ...) into buf.
void ama_conn_describe(const ama_policy* p, int m, char* buf, size_t sz);

// Zeroes the acting state (all envs start fresh episodes).
void ama_policy_reset_state(ama_policy* p);

// One control step for the N envs: obs_n (N x O) normalised observations, mask (N) 0 where a new
// episode starts (state and previous action/reward are reset), noise for the rate RNN modules
// (core: N x Hc, used only on ticks; motor: N x Hm; NULL: none). Fills a_mean, a_value and the
// a_* records, and advances the state. Allocates nothing.
void ama_policy_step(ama_policy* p, const float* obs_n, const float* mask, const float* core_noise,
                     const float* motor_noise);
// The value heads (N x K) the next ama_policy_step would output for obs_n and mask, without
// changing the state.
void ama_policy_peek_value(ama_policy* p, const float* obs_n, const float* mask, float* value);
// The reward prediction error of every value head for the step just taken (call after the env
// step and the actor's observe): delta_i = r + gamma * V_i(s') - V_i(s), V_i(s) the heads of the
// last ama_policy_step (a_heads), s' the next observation (b->final_obs where the episode ended;
// V_i(s') = 0 where it terminated), r the task's reward b->rewards (the learner's delta when
// action_cost = 0 and norm_reward = 0). Scratch: obs_n (N x O), vnext (N x K); out: rpe (N x K).
void ama_policy_rpe(ama_policy* p, const am_batch* b, float gamma, float* obs_n, float* vnext,
                    float* rpe);
// Sets the previous action (N x A) and reward (N) that the next step's inputs are made from.
void ama_policy_set_feedback(ama_policy* p, const float* actions, const float* rewards);
// The input vector of one module as the policy builds it (motor = 0: the core, p->core_in floats:
// the routed normalised observation, then the previous action and reward when the config feeds
// them; motor = 1: the motor, p->motor_in floats: the core's output, then the routed observation
// shortcut). obs_n (obs_dim); prev_act (act_dim, NULL: zeros); core_y (core_hidden, motor only).
void ama_policy_module_input(const ama_policy* p, int motor, const float* obs_n,
                             const float* prev_act, float prev_rew, const float* core_y, float* x);

// A batch of sequences for learning: inputs, the forward caches and gradient scratch.
typedef struct ama_seq {
  int T, B, Tc;          // steps, sequences, core ticks (T / core_tick)
  float* obs;            // (T x B x O) normalised observations
  float* prev_act;       // (T x B x A)
  float* prev_rew;       // (T x B)
  float* mask;           // (T x B) 0 where a new episode starts
  float* core_mask;      // (Tc x B) core reset masks at the ticks
  float* core_s0;        // (B x Sc) states before step 0
  float* motor_s0;       // (B x Sm)
  float* noise;          // core noise (Tc x B x Hc) then motor noise (T x B x Hm)
  size_t noise_len;
  // outputs
  float* mean;           // (T x B x A)
  float* value;          // (T x B x K) the value heads
  // internals
  float *core_x, *motor_x, *vc, *dcore_y, *dmotor_y, *dmotor_x, *dvc;
  float* mean_tmp;       // (T x B x A) the command head's split of the means and their gradient
  ama_cell_cache core_k, motor_k;
  float activity_scale;  // weight of the activity term (1; 1/k when a batch is split in k parts)
} ama_seq;

int ama_seq_alloc(ama_seq* s, const ama_policy* p, int T, int B, char* err, size_t err_sz);
void ama_seq_free(ama_seq* s);
// Forward over the sequences (T must equal s->T, B <= s->B, T a multiple of core_tick).
void ama_policy_seq_forward(ama_policy* p, ama_seq* s, int T, int B);
// The activity regularisation term of the last forward (activity_reg * mean squared activity).
double ama_policy_activity_cost(const ama_policy* p, const ama_seq* s, int T, int B);
// Backward from dmean (T x B x A) and dvalue (T x B x K), including the activity term; accumulates
// into p->params.g (the caller zeroes it and adds the log-std gradient itself).
void ama_policy_seq_backward(ama_policy* p, ama_seq* s, int T, int B, const float* dmean,
                             const float* dvalue);

// Copies the tensors of modules (a comma list of "core", "motor", "head", "critic") from another
// checkpoint, checking names and shapes. With "motor", the normaliser statistics of the motor's
// shortcut inputs are copied too (matched by observation group name; the groups must be the same
// as the source's motor_groups). Modules named in `freeze` (a comma list, may be NULL) are frozen,
// and so are the carried-over normaliser entries when the motor is. Returns 0 or -1 naming the
// file, module or tensor.
// `groups` are this run's observation groups (the task's).
int ama_policy_load_module(ama_policy* p, const am_obs_group* groups, int n_groups,
                           const char* ckpt_path, const char* modules, const char* freeze,
                           char* err, size_t err_sz);
// 1 if the comma list of modules names module (spaces around items ignored), else 0.
int ama_module_listed(const char* list, const char* module);
// Marks every tensor of a module as frozen (or not).
int ama_policy_freeze(ama_policy* p, const char* module, int frozen, char* err, size_t err_sz);

//---------------------------------- acting ---------------------------------------------------------

// The one acting path (ama_act.c): every caller that runs a policy on a pool (the learner's
// rollouts, record, demo, benchmarks, the viewer's live mode) does, per control step,
//   ama_actor_act(&a, batch->obs, batch->actions); am_pool_step(pool); ama_actor_observe(&a, batch);

// Each action's range: the actuator's ctrlrange when the task's actions are the model's controls
// and the actuator is ctrl-limited, else [-1, 1]. lo, hi: (act_dim).
void ama_action_range(const am_task* t, float* lo, float* hi);

typedef enum ama_act_kind {
  AMA_ACT_POLICY,  // the network: Gaussian around its mean (or the mean when deterministic)
  AMA_ACT_RANDOM,  // uniform in each action's range
  AMA_ACT_ZERO,    // 0, clipped into each action's range
} ama_act_kind;

//---------------------------------- perturbations ------------------------------------------------

// A perturbation of a module's units while acting (recording): silence (state and output 0),
// clamp (set to value), noise (N(0, value^2) added each step), stim (value added each step: a
// current), in the window [start, start + duration) s after each occurrence of event (the task's
// event code; -1: the episode's start; duration < 0: until the episode ends); or lesion (a
// fraction `value` of the recurrent weights into the units removed, for the whole recording).
// Or a mechanical one, force: a force and torque (world frame) on a body (at its centre of mass)
// or at a site, applied by the env pool in every physics step of the window (batch push).
typedef enum { AMA_PT_SILENCE, AMA_PT_CLAMP, AMA_PT_NOISE, AMA_PT_STIM, AMA_PT_LESION,
               AMA_PT_FORCE, AMA_PT_COUNT } ama_pt_kind;
#define AMA_MAX_PERTURB 16
typedef struct ama_perturb {
  int kind;            // ama_pt_kind
  int module;          // 0 core, 1 motor
  int u0, u1;          // units [u0, u1)
  float value;
  int event;
  double start, duration;
  am_push_point point; // force: the body or site pushed
  double ft[6];        // force: force (N) and torque (N m), x y z each, world frame
  int push;            // force: its row of the pool's push points (ama_perturb_push_points)
  char text[256];      // the specification as given
} ama_perturb;

// Parses "kind=silence,module=core,units=0-31,event=go_cue,start=0,duration=0.3[,value=V]"
// (units: all, N or N-M; event: a task event, absent = the episode's start) against the task's
// events and the policy's modules, or "kind=force,site=hand,force=FX,FY[,FZ][,torque=TX,TY,TZ],
// event=..,start=..,duration=.." (body=NAME or site=NAME of the task's model). p may be NULL for
// force (no network needed). Returns 0 or -1 naming the field and value.
int ama_perturb_parse(ama_perturb* pt, const char* spec, const am_task* t, const ama_policy* p,
                      char* err, size_t err_sz);
// The push points the force perturbations of list need, written into the pool configuration
// (pc->n_push, pc->push; one per distinct body or site) and into each one's push row. Call before
// am_pool_create. Returns 0 or -1.
int ama_perturb_push_points(ama_perturb* list, int n, am_pool_config* pc, char* err,
                            size_t err_sz);

typedef struct ama_actor_cfg {
  ama_act_kind kind;
  int deterministic;  // the mean action and no recurrent noise
  uint64_t seed;      // per-env acting streams: env i draws from stream (seed, i)
  am_rng* shared;     // non-NULL: draw every env's noise from this one stream instead (the learner)
} ama_actor_cfg;

typedef struct ama_actor {
  ama_act_kind kind;
  int deterministic;
  int categorical;      // the policy's head is categorical (the buffers below say what changes)
  ama_policy* pol;      // not owned; NULL unless kind == AMA_ACT_POLICY
  int N, A, O;
  int Hc, Hm;           // units that receive recurrent noise (0: none: not a noisy rate RNN, or
                        // deterministic)
  float *lo, *hi;       // (A) action range
  am_rng* rng;          // (N) per-env acting streams
  am_rng* shared;       // not owned
  // what the last step drew and did (record channels; the normalised input is pol->a_obs)
  float* core_noise;    // (N x Hc) standard normals of the last core tick
  float* motor_noise;   // (N x Hm) standard normals of the last step
  float* eps;           // (N x A) action noise in stds (0 when deterministic; standard normal,
                        // AR(1) over steps with action_noise_corr); categorical: column 0
                        // holds the uniform draw that chose the action
  float* eps_prev;      // (N x A) the last step's eps (action_noise_corr > 0 only, else NULL)
  int eps_started;      // eps_prev holds a step's noise (before the first step every env is fresh)
  float* sampled;       // (N x A) mean + std * eps before clipping (random: the uniform draw;
                        // categorical: the one-hot choice)
  float* std;           // (N x A) exp(logstd) (0 when deterministic); categorical: the choice
                        // probabilities softmax(logits)
  float* logp;          // (N) log-density of sampled under the Gaussian (categorical: log
                        // probability of the choice)
  float* mask;          // (N) 0 where the next step starts an episode (the policy resets there)
  // perturbations (ama_actor_perturb; none when n_pert is 0)
  int n_pert;
  ama_perturb pert[AMA_MAX_PERTURB];
  double pert_dt;         // control period (s)
  int64_t* pert_since;    // (N x n_pert) steps since the window's event, -1 before it
  uint32_t* pert_active;  // (N) bit k: perturbation k acted in the last step (record channel)
  am_rng* pert_rng;       // (N) noise perturbations' streams, seeded (seed, 0x70657274.. + i)
  float *pert_gain[2], *pert_add[2];  // (N x H) per module
  double* push;           // the pool's batch push (N x n_push x 6), written each step; not owned
  int n_push;
} ama_actor;

// p must act for N envs with the task's sizes (ama_policy_init / ama_ckpt_load_policy with N).
int ama_actor_init(ama_actor* a, const ama_actor_cfg* cfg, ama_policy* p, const am_task* t, int N,
                   char* err, size_t err_sz);
void ama_actor_free(ama_actor* a);
// Writes the actions (N x A, clipped into range) for the observations obs (N x O, raw).
void ama_actor_act(ama_actor* a, const float* obs, float* actions);
// After am_pool_step: the previous action (clipped, as applied) and reward become the policy's
// next inputs; envs whose episode ended start the next one with a fresh state.
void ama_actor_observe(ama_actor* a, const am_batch* b);
// Perturbs the actor's policy with n perturbations (after ama_actor_init): lesions are applied to
// the policy's weights at once (chosen from stream (seed, "lesion")), the windows act from the
// next ama_actor_act. control_dt: seconds per step. Force perturbations write the pool's batch
// push (b: the pool created with ama_perturb_push_points' configuration; NULL when there are
// none) in every ama_actor_act, and need no policy. Returns 0 or -1.
int ama_actor_perturb(ama_actor* a, const ama_perturb* list, int n, double control_dt,
                      uint64_t seed, am_batch* b, char* err, size_t err_sz);
// (internal to ama_act.c)
void ama_actor_perturb_apply(ama_actor* a);
void ama_actor_perturb_observe(ama_actor* a, const am_batch* b);
void ama_actor_perturb_free(ama_actor* a);

//---------------------------------- PPO ------------------------------------------------------------

#define AMA_MAX_ACT 64  // action dimensions the learner supports

typedef struct ama_ppo_coefs {
  float clip, vf_coef, ent_coef;
  int heads;           // value heads K (0 or 1 with tau NULL: the classic critic)
  const float* tau;    // (K) the heads' asymmetries (NULL: classic squared error, one head)
  float anchor;        // beta of the KL(pi_ref || pi) penalty (0: none; Gaussian heads only)
  const float* ref_mean;    // (N x A) pi_ref's means at the samples (with anchor > 0)
  const float* ref_logstd;  // (A) pi_ref's log standard deviations
  int anchor_skip;     // the last anchor_skip action values are not anchored (a fresh command
                       // head, command_dims: its start is no policy to stay near)
  const float* anchor_w;  // (N) each sample's weight on the anchor's term (NULL: 1 for all)
} ama_ppo_coefs;

typedef struct ama_ppo_stats {
  double loss, pg_loss, v_loss, entropy, approx_kl, clip_frac;
  double anchor_kl;  // mean KL(pi_ref || pi) per sample (0 without an anchor)
} ama_ppo_stats;

// The per-sample PPO objective for a Gaussian policy over N samples, scaled by `scale` (1/N for a
// mean): loss = scale * sum_n [ -min(r A, clip(r) A) + vf_coef * 0.5 (V - R)^2 ] - ent_coef * H.
// With co->tau (the distributional critic, K = co->heads heads) value, ret and dvalue are N x K
// and the value term is vf_coef * (1/K) sum_i |tau_i - 1[delta_i < 0]| delta_i^2, delta_i =
// R_i - V_i: the expectile loss, whose minimiser is the tau_i-expectile of R_i (tau = 0.5: the
// classic term). With co->anchor > 0 (Gaussian heads) the loss adds anchor * scale * sum_n
// KL(N(ref_mean_n, ref_std) || N(mean_n, std)), summed over the action dimensions but the last
// anchor_skip: a pull toward a reference policy. Writes dmean (N x A), dvalue and ADDS to dlogstd
// (A). Stats are sample means.
// A <= AMA_MAX_ACT (larger A: nothing is computed and st->loss is NaN).
// logstd NULL: a categorical policy: mean holds the logits (N x A), act the one-hot choices,
// log p = log softmax(logits) at the choice, the entropy term is -ent_coef * (1/N) sum_n H_n
// (H_n the entropy of sample n's softmax) and dlogstd is not touched.
void ama_ppo_loss_grad(const ama_ppo_coefs* co, int N, int A, const float* mean,
                       const float* logstd, const float* value, const float* act,
                       const float* old_logp, const float* adv, const float* ret, float scale,
                       float* dmean, float* dlogstd, float* dvalue, ama_ppo_stats* st);

// GAE over a rollout (T x N, time-major). values[t] = V(s_t); next_value (N) = V after the last
// step; final_value[t] = V(final obs) where truncated[t]. terminated: no bootstrap; truncated:
// bootstrap from final_value and cut the advantage chain. Writes adv and ret (= adv + values).
void ama_gae(int T, int N, float gamma, float lambda, const float* rewards, const float* values,
             const uint8_t* terminated, const uint8_t* truncated, const float* final_value,
             const float* next_value, float* adv, float* ret);

// Statistics of one iteration.
typedef struct ama_iter_stats {
  int64_t env_steps;       // total so far
  int64_t iteration;
  int episodes;            // finished in this rollout (stable and unstable)
  int unstable;            // of those, cut short by physics instability (NaN/Inf, MuJoCo warnings)
  double mean_return;      // mean return of the stable episodes finished in this rollout (NaN:
                           // none): an unstable episode's return (0 after the blow-up) is left out
  double mean_length;      // mean length of the same stable episodes
  double success;          // the task's success event (am_task.success_event) per ended trial, or per
                           // finished episode when the task has no trial end (NaN: none)
  double lr;
  double rollout_s, learn_s;  // wall time of the two phases
  double exchange_s;       // of learn_s, in the gradient's mean over MPI ranks (waits included)
  int exchanges;           // how many such means (0 in one process)
  ama_ppo_stats loss;
  double grad_norm;
  double explained_var;
  double action_std;       // mean exp(logstd)
  int updates;             // minibatch steps that moved the policy (epochs x minibatches unless
                           // target_kl stopped it; the value head trains on through the rest)
} ama_iter_stats;

typedef struct ama_ppo ama_ppo;

// Creates the learner: the policy for the pool's task (initialised from cfg->seed), buffers for
// rollouts of cfg->ppo.horizon steps over every env of the pool. Loads/freeze modules as the
// config says. The pool must outlive the learner.
ama_ppo* ama_ppo_create(const ama_config* cfg, am_pool* pool, char* err, size_t err_sz);
void ama_ppo_free(ama_ppo* L);
ama_policy* ama_ppo_policy(ama_ppo* L);
const ama_config* ama_ppo_config(const ama_ppo* L);
int64_t ama_ppo_env_steps(const ama_ppo* L);
int64_t ama_ppo_iteration(const ama_ppo* L);
// One iteration: a rollout of horizon steps and the PPO update. Returns 0, or -1 when a
// communicator operation failed (message: ama_ppo_error).
int ama_ppo_iterate(ama_ppo* L, ama_iter_stats* st);
// The message of the last failure of ama_ppo_iterate ("" if none).
const char* ama_ppo_error(const ama_ppo* L);

//---------------------------------- evolution strategies ------------------------------------------

// The pieces of learner = es (ama_es.c; Salimans et al. 2017), plain functions over arrays.
// Perturbation i of iteration it: n standard normals from the stream (seed, it, i), 0 where
// pert[q] is 0. The same arguments give the same numbers (perturbations are regenerated, never
// stored).
void ama_es_perturbation(uint64_t seed, int64_t it, int i, const uint8_t* pert, size_t n,
                         float* eps);
// Centred ranks of K fitnesses: u[k] = rank(k) / (K - 1) - 0.5, in [-0.5, 0.5] (ties: the lower
// index ranks lower). order: K ints of scratch.
void ama_es_centred_ranks(const double* fit, int K, int* order, double* u);
// The estimate g (n) = 1/(2 pairs) sum_i (u[2i] - u[2i+1]) eps_i of the ascent direction, candidate
// 2i being theta + sigma eps_i and 2i+1 theta - sigma eps_i. eps: n floats of scratch.
void ama_es_estimate(uint64_t seed, int64_t it, int pairs, const double* u, const uint8_t* pert,
                     size_t n, float* eps, double* g);

//---------------------------------- node perturbation ---------------------------------------------

// The pieces of learner = hebbian (ama_hebb.c; Miconi 2017), plain functions over arrays.
// One step of one env's eligibility traces: dx_i = x_i - xbar_i; e_ij += (rprev_j dx_i)^3 (e: H x
// H, row i the receiving unit); with ein (H x I, may be NULL) also ein_ik += (u_k dx_i)^3; with
// eb (H, may be NULL) eb_i += dx_i^3 (the bias: a constant rate 1); then xbar_i <- xbar_decay
// xbar_i + (1 - xbar_decay) x_i. dx: H floats of scratch (left holding dx).
void ama_hebb_trace(int H, int I, const float* rprev, const float* u, const float* x,
                    double* xbar, float xbar_decay, float* dx, double* e, double* ein,
                    double* eb);
// The trial-end change of n weights: W_q += clip(eta e_q adv, -max_dw, max_dw), adv the
// (scaled) R - Rbar, skipping entries whose keep byte is 0 (keep may be NULL). Returns the sum of
// the squared changes.
double ama_hebb_update(float* W, const uint8_t* keep, const double* e, size_t n, double eta,
                       double adv, double max_dw);

//---------------------------------- data-parallel training ----------------------------------------

// A communicator between `size` processes (ranks) that each run the same learner on their own env
// pool (docs/distributed.md). The library never calls MPI itself: tools/mpi_comm.c implements this
// over MPI. Every operation is collective (all ranks call it, in the same order) and returns 0, or
// -1 with a message.
typedef struct ama_comm {
  int rank, size;
  void* ctx;
  // Every rank's n bytes `in`, in rank order, into `out` (size * n bytes) on every rank.
  int (*allgather)(void* ctx, const void* in, void* out, size_t n, char* err, size_t err_sz);
  // Element-wise sum of n int64 over the ranks, in place on every rank. Integer sums are exact,
  // so the result does not depend on the order in which the library combines the ranks.
  int (*sum_i64)(void* ctx, int64_t* buf, size_t n, char* err, size_t err_sz);
  // Rank 0's n bytes into buf on every rank.
  int (*bcast)(void* ctx, void* buf, size_t n, char* err, size_t err_sz);
} ama_comm;

// The seed of rank `rank`'s envs and learner stream: `seed` itself for rank 0 (so rank 0 of any
// run is the single-process run's first envs), a different stream for every other rank.
uint64_t ama_rank_seed(uint64_t seed, int rank);
// Makes L one rank of a data-parallel run (collective, once, right after ama_ppo_create and before
// ama_ckpt_load): refuses a rank whose configuration (or env count) differs from rank 0's, naming
// the rank and the first differing key; reseeds the learner stream with ama_rank_seed; copies
// rank 0's parameters to every rank. Afterwards each iteration combines the minibatch gradients
// (mean over ranks, summed in rank order, or for more than 4 ranks exactly in 64-bit fixed point:
// bitwise reproducible either way), the observation and reward normaliser statistics (merged in
// rank order) and the episode and loss statistics, counts every rank's env steps, and checks once
// per iteration that the parameters are bit-identical on all ranks (an error naming the rank if
// not). Checkpoints become collective (ama_ckpt_save/load): rank 0 writes and reads the file,
// which holds every rank's envs, acting state and stream. comm must outlive L. size 1 changes
// nothing.
int ama_ppo_set_comm(ama_ppo* L, const ama_comm* comm, char* err, size_t err_sz);
// The gradient's mean over the ranks, as after every minibatch (collective; benchmarks time it):
// the parameters' gradient replaced by the mean. Returns 0, or -1 (ama_ppo_error).
int ama_ppo_grad_mean(ama_ppo* L);
// The bytes each rank sends in that exchange for a policy of `params` parameters over `ranks`
// ranks: up to 4 ranks every rank's float gradient is gathered (4 bytes per parameter), beyond it
// is summed as 64-bit fixed point (8 bytes per parameter, and 300 exponent counts).
size_t ama_grad_message_bytes(size_t params, int ranks);
// The CRC-32 of the parameters and Adam state into *crc; with a communicator (collective) also
// checks that every rank's is rank 0's. Returns 0, or -1 naming the first rank that differs.
int ama_ppo_check_ranks(ama_ppo* L, uint32_t* crc, char* err, size_t err_sz);
// Rollout only: one rollout of horizon steps with the current weights, no update (throughput
// measurements; sessions with learning off). Returns 0, or -1 when the step hook failed.
int ama_ppo_rollout_only(ama_ppo* L);
// A function the rollout calls after each control step, once the pool has stepped and the actor
// has observed the result (the state `animat record` records: ama_ppo_policy's a_* and acting
// state, ama_ppo_actor's draws, the pool's batch). Returns 0, or -1 with a message: the rollout
// then runs to its end without calling it again and ama_ppo_iterate / ama_ppo_rollout_only
// return -1 with the message (ama_ppo_error).
typedef int (*ama_step_hook)(void* ctx, char* err, size_t err_sz);
void ama_ppo_set_step_hook(ama_ppo* L, ama_step_hook hook, void* ctx);
// The learner's actor (the draws of the last step: noise, sampled action, std, log-density).
ama_actor* ama_ppo_actor(ama_ppo* L);
// Starts a learner from a trained checkpoint's policy (e.g. a session adapting a trained agent on
// another task of the same body): the parameters, the observation normaliser and the reward
// normaliser's running statistics; the learner's own envs, counters and stream. The Adam state is
// fresh (zero moments: the first update moves every parameter by about lr) or, with keep_adam,
// the checkpoint's (each parameter's step keeps the scale its gradients had in training).
// The checkpoint's architecture and observation size must be the learner's. Returns 0 or -1
// naming the file and field.
int ama_ppo_start_from(ama_ppo* L, const char* ckpt_path, int keep_adam, char* err,
                       size_t err_sz);

//---------------------------------- checkpoints ---------------------------------------------------

// Format (little-endian, see docs/agents.md): magic "AMACKPT1", u32 version, u32 flags, then
// tagged sections (u32 tag, u64 length, payload), then u32 CRC-32 of every byte before it.
// Version 2: env states field by field (sim/env_state.c), per-entry normaliser counts, the
// observation group table. Version 1 files still load as policies (record, eval, load_module) but
// cannot be resumed.
#define AMA_CKPT_VERSION 2

// Writes the learner's full state (config, parameters, Adam, normaliser, counters, RNG, acting
// state and the env pool's per-env state so that a resume continues bit for bit) atomically:
// path.tmp, fsync, rename. Returns 0 or -1.
// With a communicator (ama_ppo_set_comm) both are collective: rank 0 alone writes (or reads and
// sends) the file, which then also holds every other rank's learner stream, acting state and envs
// (section RNKS); a checkpoint resumes only under the rank count that wrote it.
int ama_ckpt_save(ama_ppo* L, const char* path, char* err, size_t err_sz);
// Restores a learner created from the same configuration. A bad file (magic, version, checksum,
// truncation) or a mismatch (architecture, task, env count) is an error naming the file and field.
int ama_ckpt_load(ama_ppo* L, const char* path, char* err, size_t err_sz);
// Reads only the configuration text stored in a checkpoint (malloc'd, caller frees). NULL on error.
char* ama_ckpt_read_config(const char* path, char* err, size_t err_sz);
// Reads only the env steps the checkpoint was trained for. Returns 0 or -1 with a message.
int ama_ckpt_read_steps(const char* path, int64_t* env_steps, char* err, size_t err_sz);

// Policy-only loading for evaluation/recording: builds a policy (acting state for N envs) from a
// checkpoint. Returns 0 or -1.
int ama_ckpt_load_policy(ama_policy* p, const char* path, const am_obs_group* groups, int n_groups,
                         int obs_dim, int act_dim, int N, char* err, size_t err_sz);


#ifdef __cplusplus
}
#endif
#endif  // AMA_AGENTS_H
