// rat_common.h: what the rat tasks (rat_run.c, rat_gaps.c, rat_bowl.c, rat_maze.c, rat_tap.c)
// share; private to tasks/.
//
// What it is: the parameters every rat task reads, the scene around the rat (its MJCF with the
// floor line replaced by the task's arena), the rat's bodies and sites, the task skeleton (control
// period, episode length, observation groups, the common task variables), placing the rat at
// reset, mocap pieces (placing and parking), the upright factor, the speed reward, and the hooks
// that are the same in every rat task (act, destroy).
// Per-env geometry: the model is shared read-only by every env, so everything that changes per
// episode lives in mjData: gap platforms, maze walls, forage targets, bowls and the orb are mocap
// bodies whose positions (d->mocap_pos) each env sets in reset; unused pieces are parked far below.
// What it is not: a task (each rat task is its own file) or the rat's body (bodies/rat.xml).
#ifndef AMT_RAT_COMMON_H
#define AMT_RAT_COMMON_H

#include <stddef.h>

#include "task_opts.h"
#include "tasks_internal.h"

#define RAT_FRAME_SKIP 10  // 0.02 s control period at 2 ms physics (50 Hz, as in Merel et al. 2020)

// Parked mocap pieces: a line far below and beside the scene (see rat_park).
#define RAT_PARK_Z -20.0
#define RAT_PARK_Y -50.0
#define RAT_PARK_PITCH 3.0  // > the largest parked bounding-sphere diameter (a platform: 2.1 m)

// Pieces that are static in a single task (the floor, run-gaps' start block and bounds) become mocap
// bodies in the composite rat-multi, which raises them for the env's active task and parks the
// others' far below every task's own ground, face up (planes collide as half-spaces, so they go
// deeper than the -100 m floor of run-gaps and escape-bowl, and a wall's plane is turned over).
#define RAT_PARK_DEEP_Z -1000.0
#define RAT_MAX_FIXED 6

struct rat_part;

// A group of a rat task's own (rat_body.own).
#define RAT_MAX_OWN 2
typedef struct rat_group {
  const char* name;
  int size;           // values (0: the task was not asked for it)
  const char* param;  // the parameter that asks for it
} rat_group;

// Random pushes on the torso (rat_push_read): a training aid for a gait that survives
// perturbations, and a perturbation to measure it with. Every rat task has them (rat-multi as the
// composite's own keys, like the observation options).
#define RAT_PUSH_PARAMS                                                                          \
  {"push_force", "0",                                                                            \
   "random pushes: 0 none; F > 0: a horizontal force of F newtons at the torso's centre of mass, " \
   "in a uniformly random direction, for push_time s (event 'push' at its onset)"},              \
  {"push_rate", "0.5",                                                                           \
   "pushes per second: a push starts in each control step without one with probability "        \
   "push_rate x the control period"},                                                            \
  {"push_time", "0.1", "length of a push (s; rounded to whole control steps, at least one)"}

// The paws' grip (rat_read_paw; rat_load applies it).
#define RAT_PAW_PARAMS                                                                           \
  {"paw_friction", "1",                                                                          \
   "sliding friction of the paws' geoms (hand_L/R, foot_L/R, toes_L/R), where MuJoCo takes the " \
   "larger of the two geoms' values (the ground's is 1): 1 as every other geom; 1.5 the "         \
   "published rodent's paws (Merel et al. 2020), which hold on slopes up to 56 deg"}

// Parameters every rat task has (append to the task's table before {NULL}).
#define RAT_COMMON_PARAMS                                                                        \
  {"init_noise", "0.02", "uniform joint-angle noise at reset (rad)"}, RAT_PUSH_PARAMS,            \
      RAT_PAW_PARAMS, AMT_OPTS_PARAMS

// The pushes' settings (RAT_PUSH_PARAMS) and where their per-env state lives.
typedef struct rat_push {
  double force, rate, time;  // N (0: no pushes), per second, s
  int steps;                 // control steps of a push
  double p_start;            // the probability that a push starts in a control step without one
  size_t offset;             // the push's state in the env's task state block
  int event;                 // the event code of a push's onset
  // the task's own evaluate hook, which rat_task_finish wraps to add the event
  void (*evaluate)(const struct am_task* t, am_env* e, am_step_result* r);
} rat_push;

// The rat in a task's scene: the FIRST member of every rat task's cfg (its own first member is
// the amt_opts that task_opts.h asks to be first), so the shared hooks can read it.
typedef struct rat_body {
  amt_opts opts;  // first
  double dt;      // control period (s)
  double init_noise;
  double paw_friction;  // the paws' geoms' sliding friction (RAT_PAW_PARAMS)
  rat_push push;
  int root_q, root_v;         // qpos / qvel address of the free joint "root"
  int torso, pelvis, head;    // body ids
  int paws[4];                // site ids: hand_L, hand_R, foot_L, foot_R
  int hands[2];               // site ids: hand_L, hand_R
  int body_dim;               // size of the body observation (the task group follows it)
  // Groups of the task's own after the task group, in this order (size 0: not asked for), written
  // by the task's observe after its task group: their names, sizes and the parameters that ask
  // for them. "heading" (2 values: a direction to go relative to the torso, cos and sin; run's
  // commands, forage-maze's and water-maze's guide, the corridor's, the way out of the bowl and the
  // way to the orb), so that a core that learnt to follow it in one task is reused in another by
  // group name (docs/training.md) and the composite rat-multi shows every member's in one group;
  // "scan" (run-gaps' ground ahead); "interval" (two-tap's show_interval).
  rat_group own[RAT_MAX_OWN];
  int command_dims;           // > 0: that many action values follow the muscles' (a command the
                              // part's `command` hook reads; water-maze's steer=1)
  const struct rat_part* part;  // the task's rules when it is a rat_part (NULL: run)
  // in a composite only: its pieces that are static in the single task (see RAT_PARK_DEEP_Z)
  int n_fixed, fixed_mocap[RAT_MAX_FIXED];
  double fixed_pos[RAT_MAX_FIXED][3], fixed_quat[RAT_MAX_FIXED][4];
} rat_body;

// A growing text buffer (scene generation) over sim's am_buf. On allocation failure oom is set and
// adds do nothing. rat_sb_str gives the NUL-terminated text ("" when empty).
typedef struct rat_sbuf {
  am_buf b;
  int oom;
} rat_sbuf;
void rat_sb_add(rat_sbuf* b, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
const char* rat_sb_str(const rat_sbuf* b);
void rat_sb_free(rat_sbuf* b);

// Reads the common parameters (prev_inputs, obs_noise, init_noise, the pushes) and episode_time
// (s) into b and *episode_time. Returns 0 or -1 with a message naming task, key and value.
int rat_read_common(const amt_info* info, const amt_params* params, rat_body* b,
                    double* episode_time, char* err, size_t err_sz);
// Reads RAT_PAW_PARAMS' key into b->paw_friction (rat_read_common does; rat-multi for the
// composite). Returns 0 or -1 with a message naming task, key and value.
int rat_read_paw(const amt_info* info, const amt_params* params, rat_body* b, char* err,
                 size_t err_sz);
// Reads RAT_PUSH_PARAMS' keys into p (rat_read_common does; rat-multi for the composite). Returns
// 0 or -1 with a message naming task, key and value.
int rat_push_read(const amt_info* info, const amt_params* params, rat_push* p, char* err,
                  size_t err_sz);

// Appends a circular wall around the origin whose inner face is at radius R (m):
// RAT_ROUND_WALL_N boxes 0.06 m thick and 0.3 m high, named wall0, wall1, ... (water-maze's arena,
// run's `arena`).
#define RAT_ROUND_WALL_N 36
void rat_add_round_wall(rat_sbuf* a, double R);

// Appends the arena's floor: a plane of half-size `half` m that the rat collides with, or, with
// out_of_the_way, the same plane 100 m below (for tasks that bring their own ground). With
// `movable` (a task name: a composite's scene) the plane sits on a mocap body "TASK.floor" (a
// fixed piece, see rat_fixed_find); NULL: a static geom "floor".
void rat_add_floor(rat_sbuf* a, double half, int out_of_the_way, const char* movable);

// Builds the scene (the rat's MJCF with `prelude` (may be NULL: assets, contact exclusions)
// inserted after its opening <mujoco ...> tag and its floor line replaced by `arena`), loads it as
// t->model (amt_create frees it on a later failure) and finds the rat's root joint, torso, pelvis
// and head bodies and paw sites. Returns 0 or -1 with a message (also when a buffer ran out of
// memory).
int rat_load(am_task* t, const char* name, const rat_sbuf* prelude, const rat_sbuf* arena,
             rat_body* b, char* err, size_t err_sz);

// The mocap id of body `fmt` (printf-formatted with k), e.g. "plat%d".
int rat_mocap_id(const mjModel* m, const char* fmt, int k);

// Fills t's common part: name, state size, frame skip and episode length (episode_time), actions,
// the rat's body observation groups then a "task" group of task_size values (then b's own groups
// that are asked for, and the options' group), and the variables root_x, root_y,
// root_z, root_vx. Sets b->dt and b->body_dim; with pushes, appends their state to the state block
// (b->push.offset) and sets their length in control steps.
int rat_task_init(am_task* t, const char* name, rat_body* b, size_t state_size,
                  double episode_time, int task_size, char* err, size_t err_sz);
// The same with n_extra groups of their own after the task group (names[i] of sizes[i] values,
// in order; a composite's members' groups) in place of b's.
int rat_task_init_groups(am_task* t, const char* name, rat_body* b, size_t state_size,
                         double episode_time, int task_size, int n_extra,
                         const char* const* names, const int* sizes, char* err, size_t err_sz);

// Copies cfg (size bytes, a rat task's cfg) to the heap as t->cfg and sets the shared hooks
// act and destroy; with pushes, also the substep hook that applies them (so recordings carry the
// force in qfrc_applied and re-simulate exactly) and an event "push" after the task's own (its
// evaluate hook wrapped). Call after the task set its events and evaluate hook. Returns 0 or -1
// (out of memory, or no event code left).
int rat_task_finish(am_task* t, const void* cfg, size_t size, char* err, size_t err_sz);

// Reset: keyframe 0, uniform noise on hinge/slide joints, root at (x, y), z raised by z, facing
// `heading` (rad about z).
void rat_place(const rat_body* b, am_env* e, double x, double y, double z, double heading);

// Writes the common task variables root_x, root_y, root_z, root_vx into x[0..3].
void rat_common_vars(const rat_body* b, const mjData* d, float* x);

// Vector w (world) in the torso's frame.
void rat_to_torso(const rat_body* b, const mjData* d, const double w[3], double out[3]);

void rat_set_mocap(mjData* d, int mocap, double x, double y, double z);
// Parks a mocap body far below the scene, each at its own spot (see rat_common.c).
void rat_park(mjData* d, int mocap);

// The body's rangefinders, for a part that casts their rays against some of its own geoms itself
// (rat_part.hide): each one's site, sensordata address and cutoff.
#define RAT_MAX_RAYS 64
typedef struct rat_rays {
  int n, site[RAT_MAX_RAYS], adr[RAT_MAX_RAYS];
  double cutoff[RAT_MAX_RAYS];
} rat_rays;
// Fills r from m's rangefinder sensors. Returns 0 or -1 (more than RAT_MAX_RAYS; names task).
int rat_rays_find(const mjModel* m, rat_rays* r, const char* task, char* err, size_t err_sz);
// A part's own cast: the distance along vec (unit) from pnt to its hidden geoms, as MuJoCo's mj_ray
// would read it (-1: none). bound >= 0 is a distance already read (MuJoCo's): the cast may stop
// looking past it.
typedef double (*rat_ray_cast)(const void* ctx, const mjModel* m, const mjData* d,
                               const double* pnt, const double* vec, double bound);
// Each rangefinder's reading becomes the nearer of MuJoCo's (every geom its rays saw) and the
// cast's, with the cutoff applied as MuJoCo applies it: the reading mj_ray would have given with
// the hidden geoms seen. Reads the kinematics the sensors used (the step's last mj_forward).
void rat_rays_merge(const rat_rays* r, const mjModel* m, mjData* d, rat_ray_cast cast,
                    const void* ctx);

// The part of the ray p + t v (t >= 0) inside the box lo[a] <= x[a] <= hi[a], a < n: *tin, *tout.
// Returns 0, or -1 when the ray misses the box.
int rat_ray_clip(const double* p, const double* v, const double* lo, const double* hi, int n,
                 double* tin, double* tout);
// A ray's walk over the cells of a grid in the x-y plane, in the order it crosses them (Amanatides
// and Woo's traversal): cell[a] is the current cell's index on axis a, next[a] the ray's parameter
// at its next boundary on that axis (INFINITY when v[a] is 0).
typedef struct rat_walk {
  int cell[2], step[2];
  double next[2], delta[2];
} rat_walk;
// Starts w in the cell holding p + t v, its indices clamped to [lo[a], hi[a]], on the grid whose
// cell (i, j) spans org + (i, j) x size to org + (i + 1, j + 1) x size.
void rat_walk_start(rat_walk* w, const double* p, const double* v, double t, const double org[2],
                    const double size[2], const int lo[2], const int hi[2]);
// The ray's parameter where it leaves the current cell.
double rat_walk_exit(const rat_walk* w);
// Moves to the next cell (across x when the x boundary is strictly nearer, else across y) and
// returns the axis crossed.
int rat_walk_next(rat_walk* w);

// Episode length in control steps of episode_time s at control period dt (at least 1).
int rat_episode_steps(double episode_time, double dt);

// Composite scenes: finds the mocap bodies named "TASK.*" (a part's fixed pieces) and records
// their ids and model poses in b. Returns 0 or -1 when there are more than RAT_MAX_FIXED.
int rat_fixed_find(rat_body* b, const mjModel* m, const char* task, char* err, size_t err_sz);
// Puts b's fixed pieces at their places (the active task) or parks them deep, face up (the others).
void rat_fixed_raise(const rat_body* b, mjData* d);
void rat_fixed_park(const rat_body* b, mjData* d);

// Upright: 1 within 30 deg of vertical, falling linearly with the angle to 0 upside down.
double rat_upright(const mjData* d, int body);

// The speed reward of run and run-gaps: max(lo, 1 - |vx - v*| / v*) (lo: the reward floor).
double rat_speed_reward(double vx, double target_speed, double lo);

// The running reward that run and run-gaps share: the speed reward with its floor, optionally
// scaled by the upright factors, and a fall when the torso tilts past a limit. Each task gives
// its own defaults (run: the shaping that keeps the rat on its feet; run-gaps: the published
// speed reward alone) through RAT_RUN_PARAMS(floor, upright, tilt).
#define RAT_RUN_PARAMS(floor, upright, tilt)                                                     \
  {"target_speed", "1", "target forward speed v* (m/s); reward max(0, 1 - |vx - v*| / v*)"},     \
  {"reward_floor", floor,                                                                        \
   "lower bound of the speed reward (the 0 in max(0, ...)); -1 stops back-and-forth jitter from " \
   "paying (mean reward = mean vx / v* below v*)"},                                              \
  {"upright", upright,                                                                           \
   "1: a positive speed reward is multiplied by escape-bowl's upright factors of torso and "     \
   "pelvis (1 within 30 deg of vertical, 0 upside down), so only running on the feet pays; 0: "  \
   "speed alone (a policy may move on its back)"},                                               \
  {"fall_tilt", tilt, RAT_FALL_TILT_HELP}

typedef struct rat_run_reward {
  double target_speed, reward_floor;
  int upright;      // scale a positive reward by the upright factors
  double fall_cos;  // cos of the fall tilt (-2: never)
} rat_run_reward;

// The fall limit: the key fall_tilt (deg, in (0, 180]; 180: never) as the cosine that
// rat_fallen compares with (-2 for never). Returns 0 or -1 with a message naming task and value.
#define RAT_FALL_TILT_HELP                                                                        \
  "the episode ends (terminated, event 'fall') when the torso's up axis tilts more than this "    \
  "from vertical (deg); 180: never"
int rat_read_fall_tilt(const amt_info* info, const amt_params* params, double* fall_cos, char* err,
                       size_t err_sz);
// A boolean key (guide, heading) that asks for the group "heading" as b's own group `slot`
// (2 values, or none). Returns 0 or -1 with a message naming task and value.
int rat_read_heading(const amt_info* info, const amt_params* params, const char* key, int slot,
                     rat_body* b, char* err, size_t err_sz);
// The values of b's own groups, all together.
int rat_own_values(const rat_body* b);
// The group "heading": the direction `dir` (rad about z, world) relative to the torso's heading,
// as cos and sin in g[0], g[1].
void rat_heading_write(const rat_body* b, const mjData* d, double dir, float* g);
#define RAT_HEADING_HELP(what)                                                                   \
  "1: the group 'heading' (after the task group and its other groups) holds " what " relative "  \
  "to the torso's heading (cos, sin), in the form of run's heading commands, so that a core "     \
  "trained on them steers here"
// Whether the torso's up axis is tilted past the limit.
int rat_fallen(const rat_body* b, const mjData* d, double fall_cos);

// Reads RAT_RUN_PARAMS' keys into r. Returns 0 or -1 with a message naming task, key and value.
int rat_read_run_reward(const amt_info* info, const amt_params* params, rat_run_reward* r,
                        char* err, size_t err_sz);

// The running reward of the current state for the velocity v (m/s) along the direction to run
// (run-gaps: vx; run with heading commands: along the command); *fell is set to 1 when the torso
// tilts past the limit.
double rat_run_reward_eval(const rat_run_reward* r, const rat_body* b, const mjData* d, double v,
                           int* fell);

// The torso's heading: the angle of its forward (x) axis in the ground plane (rad, about z).
double rat_yaw(const rat_body* b, const mjData* d);

//---------------------------------- parts ---------------------------------------------------------

// A rat task written as a part: its parameters, arena and rules on an explicit cfg and per-env
// state, so that the single task (rat_part_create) and the composite rat-multi (rat_multi.c) run
// one implementation. The cfg starts with a rat_body, the state with an amt_opt_state (used by
// the single task's options; a composite keeps its own). run-gaps, escape-bowl, forage-maze,
// two-tap and water-maze are parts (rat-multi holds the first four, Merel et al.'s).
typedef struct rat_part {
  const char* name;             // the registered task
  size_t cfg_size, state_size;
  int task_size;                // values in its task group
  int n_terms, n_events, n_vars;
  const char* const* term_names;   // reward terms
  const char* const* event_names;  // events (code k = event_names[k])
  const char* const* var_names;    // its own task variables (after the 4 common ones)
  int trial_start, success, trial_end;  // event codes of its trial schema, -1: none
  const char* condition;        // its own variable that is the trials' condition (NULL: none)
  // Reads its own parameters into cfg (whose rat_body rat_read_common filled). 0 or -1.
  int (*read)(const amt_info* info, const amt_params* p, void* cfg, char* err, size_t err_sz);
  // Appends its assets and contact exclusions (if any) to prelude and its pieces to arena; with
  // movable (a composite) its fixed pieces are mocap bodies named "TASK.*". 0 or -1 (memory).
  int (*build)(const void* cfg, rat_sbuf* prelude, rat_sbuf* arena, int movable);
  // After the load (cfg's rat_body bound, dt set): mocap ids, heightfield data, steps. 0 or -1.
  int (*bind)(void* cfg, mjModel* m, char* err, size_t err_sz);
  // The rules: reset places its pieces and the rat (and calls mj_forward); evaluate fills r;
  // observe writes its task group g; vars its own variables x.
  void (*reset)(const void* cfg, void* state, am_env* e);
  void (*evaluate)(const void* cfg, void* state, am_env* e, am_step_result* r);
  void (*observe)(const void* cfg, const void* state, const mjData* d, float* g);
  void (*vars)(const void* cfg, const void* state, const mjData* d, float* x);
  // Parks every mocap piece it places (not the fixed ones: rat_fixed_park).
  void (*park)(const void* cfg, mjData* d);
  // With rat_body.command_dims > 0: takes the action values after the muscles' (may be NULL).
  void (*command)(const void* cfg, void* state, const float* cmd);
  // Optional (NULL: none): hides from MuJoCo's rays, in v (a copy of the model that every episode
  // of the single task steps: am_task.variants), the geoms the part casts rays against itself
  // (escape-bowl's tiles); the physics stays the model's.
  void (*hide)(const void* cfg, mjModel* v);
} rat_part;

extern const rat_part rat_gaps_part, rat_bowl_part, rat_maze_part, rat_tap_part, rat_water_part;

// The single task of a part: reads the common and the part's parameters, builds and loads the
// scene, fills t (names, schema) and sets hooks that call the part's rules with the task's cfg
// and state around the observation options. Returns 0 or -1 with a message.
int rat_part_create(am_task* t, const rat_part* part, const amt_params* params, char* err,
                    size_t err_sz);

// Copies the bound rat (ids, dt, body_dim) of `from` into `to`, keeping to's own parameters.
void rat_body_copy_bound(rat_body* to, const rat_body* from);

#endif  // AMT_RAT_COMMON_H
