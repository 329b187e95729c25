// water_rules.h: the rules of the water maze on a plane, shared by the rat's task "water-maze"
// (rat_water.c) and its body-less form "water-plane" (cog_water.c) (internal to tasks/).
//
// What it is: the arena's places (the goal, placed anew each episode; the starts and the start cue
// by the wall), the trial state machine (a search ends at the goal, found, or at search_time, a
// timeout; the cue then appears and reaching it starts the next search; the episode terminates
// after `trials` searches), the rewards (the finds, the cue, the shapings approach and recall),
// the task group's 10 values and the group "heading", given the navigator's position and heading.
// What it is not: a body; the caller moves the navigator, measures where it is and draws the
// scene (rat_water.c parks and shows the cue's sphere when the phase changes).
#ifndef AMT_WATER_RULES_H
#define AMT_WATER_RULES_H

#include <stdint.h>

#include "amt_tasks.h"

// The parameters both forms share (their defaults and help are the tasks' documentation).
#define AMT_WATER_PARAMS                                                                         \
  {"episode_time", "60", "episode length (s)"},                                                  \
  {"trials", "4", "searches per episode (the episode terminates after the last)"},               \
  {"arena_radius", "1", "radius of the circular arena inside its wall (m)"},                     \
  {"goal_radius", "0.15", "the hidden goal is found with the navigator (the rat's torso) within " \
                          "this of its centre (m)"},                                              \
  {"search_time", "10", "a search without finding the goal ends after this (s): timeout"},       \
  {"goal_reward", "10", "reward when the goal is found"},                                        \
  {"cue_reward", "1", "reward when the start cue is reached (the next search starts)"},          \
  {"cue_min_distance", "0.5", "every start (the first, and the cue) is at least this far from "  \
                              "the goal, and the cue this far from the navigator (m)"},           \
  {"approach", "0",                                                                              \
   "shaping (term 'approach'): reward per metre the navigator comes closer to the visible start " \
   "cue while it is shown (potential-based: moving away costs the same; never toward the hidden " \
   "goal); 0: off"},                                                                             \
  {"recall", "0",                                                                                \
   "shaping (term 'approach'): reward per metre the navigator comes closer to the goal during "  \
   "the searches after the one that found it in this episode (potential-based; it was there); "  \
   "0: off"},                                                                                    \
  {"place_inside", "0",                                                                          \
   "steer=2: D > 0 moves a named place that lies beyond the circle D m inside the wall in along " \
   "its radius onto that circle, so the navigator is never sent into the wall (m); 0: the place " \
   "as named (the command's square reaches beyond the wall)"},                                   \
  {"found_steps", "1",                                                                           \
   "the task group's found signal stays 1 for this many control steps after the goal was found " \
   "(1: the step of the find only; a core that ticks every k steps, core_tick = k, sees it "     \
   "with found_steps = k)"}

typedef struct amt_water {
  int trials, found_steps, search_steps;  // search_steps: search_time in control steps
  int steer;  // the command's meaning while searching: 0 none, 1 a direction, 2 a place
  double search_time, radius, goal_radius, goal_reward, cue_reward, cue_min, approach, recall;
  double inside;  // place_inside (m; 0: off)
} amt_water;

#define AMT_WATER_CUE_RADIUS 0.15  // the start cue is reached within this of its centre (m)

enum { AMT_WATER_SEARCH, AMT_WATER_RETURN };
// Events and variables, in this order, first in both tasks.
enum { AMT_WATER_EV_START, AMT_WATER_EV_FOUND, AMT_WATER_EV_TIMEOUT, AMT_WATER_EV_END,
       AMT_WATER_EV_CUE, AMT_WATER_N_EVENTS };
extern const char* const amt_water_events[AMT_WATER_N_EVENTS];
#define AMT_WATER_N_VARS 6
extern const char* const amt_water_var_names[AMT_WATER_N_VARS];

typedef struct amt_water_state {
  int phase, t_phase, search, pending_start, done;
  int found_left;  // steps the found signal still shows
  int found_once;  // the goal was found in an earlier search of this episode
  double goal[2], cue[2];
  double cue_d;    // the navigator's distance to the cue at the last step (return phase; m)
  double goal_d;   // the navigator's distance to the goal at the last step (searches; m)
  float steer[2];  // the last command (steer 1: a direction in the arena's frame; 2: a place)
} amt_water_state;

// Reads the shared parameters (not episode_time) and checks them; steer is the caller's. Returns
// 0 or -1 with a message naming the task, the key and the value.
int amt_water_read(const amt_info* info, const amt_params* params, amt_water* c, char* err,
                   size_t err_sz);
// search_steps from search_time and the control step dt (s). Returns 0 or -1 with a message.
int amt_water_bind(amt_water* c, const char* task, double dt, char* err, size_t err_sz);
// A new episode: the goal over the disc 0.3 m inside the wall, the first search pending; writes
// the start by the wall (0.25 m inside it, at least cue_min_distance from the goal).
void amt_water_reset(const amt_water* c, amt_water_state* s, am_rng* rng, double start[2]);
// One control step's rules with the navigator at pos (after the step): events (bits of the enum
// above), the reward terms goal (finds and cues) and approach (the shapings). Returns 1 when the
// phase changed (a search ended and the cue is shown, or the cue was reached), else 0.
int amt_water_step(const amt_water* c, amt_water_state* s, const double pos[2], am_rng* rng,
                   uint32_t* events, double* goal, double* approach);
// The task group (10 values): pos / arena_radius, the heading (cos, sin) as given, the phase one-hot, the
// cue's vector cue_rel (the caller's frame: relative to the head, in the torso's frame for the
// rat; 0 while searching), the found signal, the time in the phase / search_time.
void amt_water_observe(const amt_water* c, const amt_water_state* s, const double pos[2],
                       const double heading[2], const double cue_rel[2], float* g);
// Where the navigator at `from` is sent: the vector v to the shown cue while returning; while
// searching, to the place the command names (steer 2; moved in onto the circle place_inside m
// inside the wall if it lies beyond it) or the command's direction (steer 1; 0 0 without a
// command). Returns 1 when v ends at a place (its length is the distance), 0 for a
// direction.
int amt_water_target(const amt_water* c, const amt_water_state* s, const double from[2],
                     double v[2]);
// The group "heading" (2 values): returning, the direction from `from` (the head) to the cue;
// searching, the command's (steer 1: its direction; 2: toward the place it names), relative to
// the heading `yaw` (cos, sin); 0 0 while searching without a command.
void amt_water_heading(const amt_water* c, const amt_water_state* s, const double from[2],
                       double yaw, float* g);
// The variables (AMT_WATER_N_VARS): goal_x, goal_y, phase, search, cue_x, cue_y.
void amt_water_vars(const amt_water_state* s, float* x);
// Keeps a command (non-finite values as 0).
void amt_water_command(amt_water_state* s, const float* cmd);

#endif  // AMT_WATER_RULES_H
