// am_sim.h: animat's simulation core (public header).
//
// What it is: loading MuJoCo bodies and scenes, the per-env state (mjData, RNG stream,
// counters), the task interface every task implements, observation groups, and the env
// pool that steps N envs on a pool of worker threads into contiguous batch buffers.
// What it is not: no rendering, no networks, no printing. Every function that can fail
// returns an error code or NULL and writes a message into a caller-supplied buffer.
//
// Prefixes: am_ (sim), amt_ (tasks), ama_ (agents), amv_ (viewer).
#ifndef AM_SIM_H
#define AM_SIM_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include <mujoco/mujoco.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AM_ERR_LEN 512        // recommended size of error buffers
#define AM_NAME_LEN 32        // max length of a group / term / event name (with NUL)
#define AM_MAX_GROUPS 16      // max observation groups per task
#define AM_MAX_TERMS 8        // max reward terms per task
#define AM_MAX_EVENTS 32      // event codes 0..31 (one bit each in the events word)
#define AM_MAX_VARS 32        // max task variables exported per env
#define AM_MAX_CONDITIONS 8   // task variables that define a trial's condition

//---------------------------------- errors --------------------------------------------------------

// Formats an error message into err (may be NULL). Returns -1 so callers can `return am_err(...)`.
int am_err(char* err, size_t err_sz, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

//---------------------------------- MuJoCo fatal errors -------------------------------------------

// MuJoCo reports fatal errors (mju_error: out of memory, mjData stack overflow, a corrupt model)
// through a process-wide hook whose default writes MUJOCO_LOG.TXT into the working directory,
// prints "Press Enter to exit" and waits on stdin. animat replaces it (and the warning hook, by a
// quiet one) with a handler that never returns into MuJoCo (its code after mju_error is not safe
// to continue) and never waits or writes a file. On a fatal error, in this order:
//   1. when the calling thread is inside a recovery point (am_mj_guard_push), the handler jumps
//      back to it with MuJoCo's message in guard->msg (the caller turns it into an error);
//   2. else it calls the fatal hook a tool registered (am_set_fatal_hook): the hook prints the
//      message and ends the process (exit status non-zero); it must not return;
//   3. else (or when the hook returns) it prints "animat: MuJoCo fatal error: MSG" on stderr and
//      calls abort(). Library code never exits on its own.
// Every model load installs the handlers; am_mujoco_install_handlers does it explicitly (for code
// that calls MuJoCo before loading a model).
typedef void (*am_fatal_hook)(const char* msg);
void am_mujoco_install_handlers(void);
// Registers the process-wide fatal hook (NULL: back to the abort default); installs the handlers.
// Returns the previous hook.
am_fatal_hook am_set_fatal_hook(am_fatal_hook fn);

// A per-thread recovery point around MuJoCo calls whose failure a caller can survive:
//   am_mj_guard g;
//   am_mj_guard_push(&g);
//   if (setjmp(g.jb)) { /* popped already; g.msg holds MuJoCo's message */ return error; }
//   ... MuJoCo calls (C engine functions only: the jump must not cross C++ frames) ...
//   am_mj_guard_pop(&g);
// Guards nest (innermost first). Locals changed between setjmp and the jump must be volatile.
// Whatever MuJoCo allocated before the error is leaked.
typedef struct am_mj_guard {
  jmp_buf jb;
  struct am_mj_guard* prev;
  char msg[256];
} am_mj_guard;
void am_mj_guard_push(am_mj_guard* g);
void am_mj_guard_pop(am_mj_guard* g);

//---------------------------------- RNG -----------------------------------------------------------

// xoshiro256** stream; each env owns one, derived from (seed, env index) by splitmix64.
typedef struct am_rng { uint64_t s[4]; } am_rng;

void     am_rng_seed(am_rng* r, uint64_t seed, uint64_t stream);
uint64_t am_rng_next(am_rng* r);
double   am_rng_uniform(am_rng* r);                   // [0, 1)
double   am_rng_range(am_rng* r, double lo, double hi);  // [lo, hi)
double   am_rng_normal(am_rng* r);                    // standard normal (Box-Muller, no cache)
// n standard normals as floats, both members of each Box-Muller pair (an odd n drops the last
// second member); x[0] equals what am_rng_normal would have returned.
void     am_rng_normals(am_rng* r, float* x, size_t n);

//---------------------------------- models --------------------------------------------------------

// A loaded, compiled model plus the self-contained MJCF text it was compiled from.
typedef struct am_model {
  mjModel* m;         // read-only after load; shared by every env
  char* xml;          // the model as one self-contained MJCF document (mj_saveLastXML)
  char path[1024];    // file it was loaded from ("" when loaded from a string)
  char name[64];      // body or scene name (file stem)
} am_model;

// Directory holding the bodies' MJCF files: $ANIMAT_BODIES if set, else the source tree's bodies/.
const char* am_bodies_dir(void);

// Resolves a body name ("reacher") or a path ("x/y.xml") to a file path. Returns 0 or -1.
int am_body_path(const char* name_or_path, char* out, size_t out_sz, char* err, size_t err_sz);

// Lists the bodies in am_bodies_dir() (stems of *.xml files that hold a <mujoco> model and are not
// scene fragments), sorted. Writes at most max names of AM_NAME_LEN*2 chars. Returns the count or -1.
int am_list_bodies(char names[][64], int max, char* err, size_t err_sz);

// Loads and compiles an MJCF file. On failure returns NULL and writes MuJoCo's message and the file.
am_model* am_model_load(const char* path, char* err, size_t err_sz);

// Loads a body by name or path (see am_body_path).
am_model* am_model_load_body(const char* name_or_path, char* err, size_t err_sz);

// Compiles MJCF text (e.g. a scene a task generated, or the XML embedded in a dataset). `dir` is
// the directory that relative includes/assets resolve against (NULL: the bodies directory). Writes
// no file: the text reaches MuJoCo through its virtual file system.
am_model* am_model_load_string(const char* xml, const char* dir, const char* name, char* err,
                               size_t err_sz);

// Serialises the compiled model exactly (MuJoCo's binary MJB format, specific to the MuJoCo
// version that wrote it). Returns a malloc'd buffer and its size, or NULL with a message.
void* am_model_to_mjb(const am_model* model, size_t* size, char* err, size_t err_sz);

// Rebuilds a model from MJB bytes (as written by am_model_to_mjb with this MuJoCo version); `xml`
// (may be NULL) is kept as the model's self-contained MJCF. Returns NULL with a message on failure.
am_model* am_model_load_mjb(const void* mjb, size_t size, const char* xml, const char* name,
                            char* err, size_t err_sz);

void am_model_free(am_model* model);

//---------------------------------- observation groups --------------------------------------------

// A named slice of the observation vector.
typedef struct am_obs_group {
  char name[AM_NAME_LEN];  // e.g. "proprioception", "vestibular", "touch", "range", "task"
  int offset;              // first index in the observation vector
  int size;                // number of floats
} am_obs_group;

// The groups a body's sensors provide, assigned by sensor type:
//   proprioception: jointpos/vel, tendonpos/vel, actuatorpos/vel/frc, ballquat/angvel, jointlimit*
//   vestibular:     accelerometer, gyro, velocimeter, framezaxis/xaxis/yaxis, framequat, subtree*
//   touch:          touch, force, torque
//   range:          rangefinder
//   egocentric:     framepos / framelinvel / frameangvel relative to a frame, everything else
// A model without sensors gets proprioception = qpos and qvel (free joints' root position excluded).
// Fills groups (up to AM_MAX_GROUPS) in the order above, skipping empty ones. Returns the count.
int am_body_obs_groups(const mjModel* m, am_obs_group* groups, int* obs_dim);

// Writes the body observation (as laid out by am_body_obs_groups) from d into obs.
void am_body_observe(const mjModel* m, const mjData* d, float* obs);

// Where each entry of the body observation comes from: kind[k] one of AM_OBS_FROM_* and idx[k]
// the index in that mjData array (obs[k] is the float of it). kind and idx: obs_dim entries.
enum { AM_OBS_FROM_SENSOR, AM_OBS_FROM_ACT, AM_OBS_FROM_QPOS, AM_OBS_FROM_QVEL };
void am_body_obs_sources(const mjModel* m, int* kind, int* idx);

// Finds a group by name; returns its index or -1.
int am_find_group(const am_obs_group* groups, int n, const char* name);

//---------------------------------- envs and tasks ------------------------------------------------

struct am_task;

// One environment: its own mjData, RNG stream, counters and task state. Created by the pool.
typedef struct am_env {
  const mjModel* m;       // shared, read-only: the task's model or the variant of this episode
  int variant;            // 0: task->model->m; k >= 1: task->variants[k - 1] (am_env_use_variant)
  mjData* d;              // owned
  am_rng rng;             // owned stream, derived from (seed, index)
  void* task_state;       // task->state_size bytes, owned, zeroed at creation
  int index;              // position in the pool
  int64_t step;           // control steps taken in the current episode
  int64_t episode;        // episodes started by this env (1 after the first reset)
  int64_t unstable;       // episodes cut short by physics instability
  double episode_return;  // sum of rewards in the current episode
} am_env;

// What a task must say after each control step.
typedef struct am_step_result {
  float reward;
  float terms[AM_MAX_TERMS];  // reward terms (task->n_terms of them); reward need not be their sum
  int terminated;             // episode ended by the task's own rules (no bootstrap)
  int truncated;              // the task cut the episode for time before max_steps (bootstrap,
                              // as at max_steps): a composite's member with a shorter episode
  uint32_t events;            // bit k set: event code k happened during this step
} am_step_result;

// A task: everything that turns a body into an experiment. The pool calls, per env:
//   reset(env) once per episode after mj_resetData (set qpos/qvel, randomise, reset task state),
//   then per control step: act(env, action), frame_skip x { substep(env) ; mj_step },
//   evaluate(env, &result), observe(env, obs), and vars(env, vars) when n_vars > 0.
// All hooks run on worker threads; they may touch only env and the read-only task.
typedef struct am_task {
  char name[64];
  const am_model* model;     // the (scene) model, shared
  const void* cfg;           // task parameters, shared read-only
  size_t state_size;         // bytes of per-env task state
  int frame_skip;            // physics steps per control step (>= 1)
  int max_steps;             // episode length in control steps; reaching it truncates (0: none)
  int act_dim;               // action size (floats per env)
  int discrete;              // 1: the action is a choice among act_dim options: the task takes the
                             // argmax of the action vector (a categorical head writes one-hot)
  int obs_dim;               // observation size
  int n_groups;
  am_obs_group groups[AM_MAX_GROUPS];
  int n_terms;
  char terms[AM_MAX_TERMS][AM_NAME_LEN];
  int n_events;
  char events[AM_MAX_EVENTS][AM_NAME_LEN];  // events[k] names code k
  // Trial schema: the event codes that mark a trial's start, its success and its end, or -1 where
  // the task has no such event (a code outside [0, n_events) counts as none). The learner's success
  // rate is successes per trial_end when the task has trials, else episodes with a success per
  // episode. Every task constructor sets all three (a zeroed am_task would claim code 0).
  int trial_start_event, success_event, trial_end_event;
  int n_vars;
  char vars[AM_MAX_VARS][AM_NAME_LEN];      // task variables (targets, cues...) for recording
  // The task variables whose values define a trial's condition (target index, coherence, block,
  // field...), as indices into vars; analyses group trials by them (animat trials, analyze). Their
  // value is read at the trial's last step. 0 entries: the task has no discrete conditions.
  int n_conditions;
  int conditions[AM_MAX_CONDITIONS];

  // Optional model variants, owned by the task (amt_destroy frees them): copies of model->m that
  // differ only in geoms switched off (contype and conaffinity 0, so that MuJoCo's broadphase
  // skips their bodies; invisible, so that rays pass them) for scenes that hold pieces an episode
  // parks out of reach (rat-multi).
  // reset chooses the episode's with am_env_use_variant before it computes anything. A variant
  // must leave the episode's physics bit for bit as on model->m (the switched-off geoms never
  // touch anything in its episodes), so recordings replay on model->m.
  int n_variants;
  mjModel** variants;

  void (*reset)(const struct am_task* t, am_env* e);
  void (*act)(const struct am_task* t, am_env* e, const float* action);
  void (*substep)(const struct am_task* t, am_env* e);  // optional (NULL): e.g. force fields
  void (*evaluate)(const struct am_task* t, am_env* e, am_step_result* r);
  void (*observe)(const struct am_task* t, am_env* e, float* obs);
  void (*get_vars)(const struct am_task* t, const am_env* e, float* vars);  // optional
  void (*destroy)(struct am_task* t);  // frees cfg and whatever the task owns (not model)
} am_task;

// The plain "body" task: no reward, episodes of max_steps control steps, body observation groups,
// actions written to ctrl (clipped to ctrlrange), initial state = model default (keyframe 0 if the
// model has one) plus uniform noise of +-init_noise on hinge/slide joint positions.
int am_body_task_init(am_task* t, const am_model* model, int frame_skip, int max_steps,
                      double init_noise, char* err, size_t err_sz);

// Shared helpers for tasks.
void am_write_ctrl(const mjModel* m, mjData* d, const float* action);  // clip to ctrlrange
int am_state_is_bad(const mjModel* m, const mjData* d);  // NaN/Inf in qpos/qvel/qacc/act or warning
// Env e steps variant v of t's model from now on (0: t->model->m; see am_task.variants).
void am_env_use_variant(const am_task* t, am_env* e, int v);

//---------------------------------- env pool ------------------------------------------------------

// A point where the caller may push the body (mechanical perturbations): a body (the force acts at
// its centre of mass) or a site (at the site, on the site's body), by MuJoCo id.
#define AM_MAX_PUSH 8
typedef struct am_push_point {
  int type;  // mjOBJ_BODY or mjOBJ_SITE
  int id;
} am_push_point;

typedef struct am_pool_config {
  int num_envs;      // N >= 1
  int num_threads;   // worker threads including the caller (>= 1); clamped to num_envs
  uint64_t seed;     // one seed fixes every env's stream
  int export_state;  // also copy qpos, qvel, act, ctrl, actuator_force, sensordata (and
                     // qfrc_applied when the task has a substep hook or push points) per step
  int n_push;        // push points (0..AM_MAX_PUSH): the caller's external forces (batch push)
  am_push_point push[AM_MAX_PUSH];
} am_pool_config;

// Statistics summed over all envs.
typedef struct am_pool_stats {
  int64_t steps;          // control steps taken (all envs)
  int64_t physics_steps;  // mj_step calls
  int64_t episodes;       // episodes finished (terminated, truncated or cut)
  int64_t unstable;       // episodes cut for instability (NaN/Inf, MuJoCo warnings)
  double return_sum;      // sum of returns of finished episodes
  int64_t length_sum;     // sum of lengths of finished episodes
} am_pool_stats;

typedef struct am_pool am_pool;

// Batch buffers, all contiguous, row i belongs to env i. The caller writes actions and reads the
// rest after am_pool_step. When an episode ends in a step, obs already holds the first observation
// of the next episode (auto-reset) and final_obs holds the last observation of the ended one.
typedef struct am_batch {
  int n;                 // envs
  float* obs;            // observations                          (n x obs_dim)
  float* final_obs;      // obs at episode end, valid where done   (n x obs_dim)
  float* actions;        // actions, written by the caller         (n x act_dim)
  float* rewards;        // reward of the last step                (n)
  float* terms;          // reward terms                           (n x n_terms)
  uint8_t* terminated;   // episode ended by the task              (n)
  uint8_t* truncated;    // episode cut: time limit or instability (n)
  uint8_t* unstable;     // the cut was for instability            (n)
  uint32_t* events;      // trial event bits of the last step      (n)
  int32_t* ep_step;      // control step index within the episode of the last step (n)
  int64_t* episode;      // episode index of the last step         (n)
  float* vars;           // task variables                         (n x n_vars)
  // with export_state, the state at the end of the step (before any auto-reset):
  double* qpos;          // (n x nq)
  double* qvel;          // (n x nv)
  double* act;           // (n x na)
  double* ctrl;          // (n x nu)
  double* actuator_force;// (n x nu)
  double* sensordata;    // (n x nsensordata)
  // with export_state and a task substep hook or push points, the generalized force applied in
  // each physics step of the control step (what the hook left in qfrc_applied plus the pushes;
  // replays re-apply it):
  double* qfrc_applied;  // (n x frame_skip x nv); NULL without a substep hook or push points
  // external forces, written by the caller like actions (push points of am_pool_config): force
  // (N) and torque (N m) in the world frame, x y z each, at each push point, applied in every
  // physics step of the next am_pool_step and added to what the task applies (force fields);
  // the pool leaves them as written:
  int n_push;
  double* push;          // (n x n_push x 6); NULL without push points
  // the mocap bodies' positions at the end of the step (scenery a task moves: targets taken):
  double* mocap_pos;     // (n x nmocap x 3); NULL when the model has no mocap bodies
} am_batch;

// Creates N envs over the task's model and a worker pool. Resets every env (episode 1) and
// fills obs. The task must outlive the pool. Returns NULL and a message on failure.
am_pool* am_pool_create(const am_task* task, const am_pool_config* cfg, char* err, size_t err_sz);

// Steps every env by one control step using batch->actions. Never allocates.
void am_pool_step(am_pool* p);

// Resets every env (a new episode each) and refills obs.
void am_pool_reset(am_pool* p);

am_batch* am_pool_batch(am_pool* p);
const am_task* am_pool_task(const am_pool* p);
am_env* am_pool_env(am_pool* p, int i);
int am_pool_num_envs(const am_pool* p);
int am_pool_num_threads(const am_pool* p);
// Runs fn(arg, t) once for each t in 0 .. am_pool_num_threads - 1, all at once: t = 0 on the
// caller's thread, the others on the pool's threads (which then spin briefly for the next step or
// run, as after a step). Returns when every call has returned. For work between steps that the
// caller splits by t (the learner's halves); fn must not call back into the pool.
void am_pool_run(am_pool* p, void (*fn)(void* arg, int thread), void* arg);
// The push points the pool was created with (the layout of batch push); returns their number.
int am_pool_push_points(const am_pool* p, const am_push_point** points);
void am_pool_get_stats(const am_pool* p, am_pool_stats* s);

void am_pool_free(am_pool* p);

//---------------------------------- env state -----------------------------------------------------

// One env's whole state as bytes, for checkpoints: little-endian, field by field (never a struct's
// padding), so equal states give equal bytes whatever thread stepped them, and restoring them makes
// the env continue bit for bit. Holds the env's counters and RNG stream, mjData's integration state
// and everything the last mj_step derived (task hooks read some of it before the next physics
// step), the active contacts and the task's state block; not the constraint arrays (mj_step
// rebuilds them) nor timers. Layout: sim/env_state.c and docs/agents.md. Version 2 added the env's
// model variant (am_task.variants); version 1 states are still read (variant 0).
#define AM_ENV_STATE_VERSION 2

// Writes env e of task t into buf when cap is large enough. Returns the number of bytes the state
// takes (call with buf = NULL to size the buffer; the size depends on the active contacts).
size_t am_env_state_write(const am_task* t, const am_env* e, uint8_t* buf, size_t cap);

// Restores env e from the n bytes at buf (as written by am_env_state_write for the same task and
// model). Returns the bytes consumed, or -1 with a message naming the field (truncated, another
// MuJoCo version, model layout or task state size); the env's data is then reset.
int64_t am_env_state_read(const am_task* t, am_env* e, const uint8_t* buf, size_t n, char* err,
                          size_t err_sz);

//---------------------------------- misc ----------------------------------------------------------

double am_now(void);  // monotonic seconds

// CRC-32 (IEEE 802.3 polynomial, reflected, as zlib's crc32) continuing from crc (start with 0).
// The one checksum of the tree: datasets, checkpoints and the viewer's PNG chunks use it.
uint32_t am_crc32(uint32_t crc, const void* data, size_t n);

// The one "key=value" splitter (config lines, task parameters): copies the key and the value,
// each without surrounding spaces, into key and value. Returns 0; -1 when there is no '=' or the
// key is empty; -2 when a part does not fit its buffer.
int am_kv_split(const char* text, char* key, size_t key_sz, char* value, size_t value_sz);

// A growable byte buffer: p holds len bytes in a block of cap bytes. Zero-initialise it
// (am_buf b = {0}); am_buf_free releases it. Growth doubles the capacity, so appending is
// amortised O(1). Typed arrays use it too: (T*)b.p with len a multiple of sizeof(T).
typedef struct am_buf {
  uint8_t* p;
  size_t len, cap;
} am_buf;
// Makes cap >= need (len unchanged). Returns 0, or -1 when out of memory (the buffer is intact).
int am_buf_reserve(am_buf* b, size_t need);
// Appends n bytes (data may be NULL: n zero bytes). Returns 0 or -1 (out of memory).
int am_buf_append(am_buf* b, const void* data, size_t n);
void am_buf_free(am_buf* b);
// Appends printf-formatted text (no NUL). Returns 0 or -1 (out of memory or a format error).
int am_buf_printf(am_buf* b, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Reads a whole file into a NUL-terminated malloc'd buffer (*len_out: its length, may be NULL).
// On failure returns NULL with a message naming the file and the OS error.
char* am_read_text(const char* path, size_t* len_out, char* err, size_t err_sz);

// Writes n bytes to path atomically: into path.tmp, fsync, then rename over path, so a reader sees
// the old file or the whole new one, never a part. On failure path is untouched, path.tmp is
// removed, and -1 comes back with a message naming the file and the OS error; else 0.
int am_write_file_atomic(const char* path, const void* data, size_t n, char* err, size_t err_sz);

#ifdef __cplusplus
}
#endif
#endif  // AM_SIM_H
