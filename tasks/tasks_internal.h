// tasks_internal.h: what task files share with the registry (not part of the public API).
// A task family adds its amt_info entry macro here and to the table in registry.c.
#ifndef AMT_TASKS_INTERNAL_H
#define AMT_TASKS_INTERNAL_H

#include "amt_tasks.h"

// reacher.c
extern const amt_param_def amt_reacher_params[];
int amt_reacher_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
#define AMT_REACHER_INFO                                                                       \
  {"reacher", "reacher", "Gymnasium Reacher-v4 exactly: two-link arm to a random target "     \
                         "(the learning-parity benchmark)",                                     \
   amt_reacher_params, amt_reacher_create}

// arm_tasks.c: motor-control paradigms on the six-muscle arm.
extern const amt_param_def amt_center_out_params[], amt_reach_random_params[],
    amt_force_field_params[], amt_rotation_params[], amt_decision_params[], amt_romo_params[],
    amt_mante_params[], amt_value_params[], amt_multi_params[];
int amt_center_out_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_reach_random_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_force_field_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_rotation_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_decision_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_romo_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_mante_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_value_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_multi_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
#define AMT_ARM_TASKS                                                                          \
  {"reach-center-out", "arm", "delayed center-out reaching to 8 targets with catch trials "    \
                              "(Georgopoulos 1982; Churchland 2012)",                          \
   amt_center_out_params, amt_center_out_create},                                              \
  {"reach-random", "arm", "reaching to random targets in the workspace, shaped reward",        \
   amt_reach_random_params, amt_reach_random_create},                                          \
  {"force-field", "arm", "center-out reaching in a velocity-dependent force field; baseline/"  \
                         "field/washout blocks (Shadmehr & Mussa-Ivaldi 1994)",                \
   amt_force_field_params, amt_force_field_create},                                            \
  {"visuomotor-rotation", "arm", "center-out reaching with the cursor rotated about the start " \
                                 "(Krakauer et al. 2000)",                                     \
   amt_rotation_params, amt_rotation_create},                                                  \
  {"decision-reach", "arm", "noisy evidence, report left/right by reaching; fixed-duration or " \
                            "reaction-time (Roitman & Shadlen 2002; Song et al. 2017)",        \
   amt_decision_params, amt_decision_create},                                                  \
  {"romo-reach", "arm", "parametric working memory: report f1 > f2 by reaching (Romo et al. "  \
                        "1999)", amt_romo_params, amt_romo_create},                          \
  {"mante-reach", "arm", "context-dependent integration: report the cued one of two noisy "    \
                         "streams by reaching (Mante et al. 2013)", amt_mante_params,          \
   amt_mante_create},                                                                          \
  {"multisensory-reach", "arm", "multisensory integration: one choice from a visual, an "       \
                                "auditory or both noisy streams, by reaching (Raposo et al. "   \
                                "2012)", amt_multi_params, amt_multi_create},                  \
  {"value-reach", "arm", "economic choice between two juice offers by reaching; the relative "  \
                         "value is a parameter (Padoa-Schioppa & Assad 2006)", amt_value_params, \
   amt_value_create}

// rat_run.c, rat_gaps.c, rat_bowl.c, rat_maze.c, rat_tap.c, rat_multi.c: naturalistic tasks for the rat (they
// share rat_common.c).
extern const amt_param_def amt_run_params[], amt_run_gaps_params[], amt_escape_bowl_params[],
    amt_forage_maze_params[], amt_two_tap_params[], amt_water_maze_params[];
int amt_run_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_run_gaps_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_escape_bowl_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_forage_maze_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_two_tap_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_water_maze_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
// rat_multi.c: the composite of run-gaps, escape-bowl, forage-maze and two-tap.
extern const amt_param_def amt_rat_multi_params[];
extern const char* const amt_rat_multi_members[];
int amt_rat_multi_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
#define AMT_RAT_TASKS                                                                          \
  {"run", "rat", "run forward on flat ground at a target speed", amt_run_params,              \
   amt_run_create},                                                                            \
  {"run-gaps", "rat", "run along a 40 m corridor of platforms and gaps (Merel et al. 2020)",   \
   amt_run_gaps_params, amt_run_gaps_create},                                                  \
  {"escape-bowl", "rat", "climb out of a bumpy heightfield bowl (Merel et al. 2020)",          \
   amt_escape_bowl_params, amt_escape_bowl_create},                                            \
  {"forage-maze", "rat", "collect targets in a random 11x11 maze (Merel et al. 2020)",         \
   amt_forage_maze_params, amt_forage_maze_create},                                            \
  {"two-tap", "rat", "touch an orb twice 0.8 s apart (timing task: Kawai et al. 2015; Merel "   \
                     "et al. 2020)",                                                           \
   amt_two_tap_params, amt_two_tap_create},                                                    \
  {"water-maze", "rat", "find a hidden goal, placed anew each episode, in several searches "   \
                        "(Morris 1981; Bellec et al. 2018's learning to learn)",              \
   amt_water_maze_params, amt_water_maze_create},                                              \
  {"rat-multi", "rat", "one rat on several of the tasks above at once, the envs split across "  \
                       "them (Merel et al. 2020's multi-task rodent)",                         \
   amt_rat_multi_params, amt_rat_multi_create, amt_rat_multi_members}

// What every body-less task shares (cog_tasks.c): the empty scene "none" (no joints, no
// actuators, timestep `timestep` s (0.1 for most; a control step is one physics step), a malloc'd
// copy of its cfg
// (cfg_size bytes; freed by t->destroy), discrete actions (act_dim choices), no reward terms, the
// event and variable names, and the trial schema from the events named trial_start, reward and
// trial_end. The caller sets the rest (groups, max_steps, conditions, hooks). Returns 0 or -1.
int amt_bodyless_init(am_task* t, const char* name, const void* cfg, size_t cfg_size,
                      size_t state_size, int act_dim, const char* const* events, int n_events,
                      const char* const* vars, int n_vars, double timestep, char* err,
                      size_t err_sz);
// A duration parameter `key` (seconds) of a body-less task as control steps of dt: the nearest
// whole number of steps; a value below one step or above 600 s is an error naming the task, the
// key and the value. Returns 0 or -1.
int amt_bodyless_steps(const amt_info* info, const amt_params* p, const char* key, double dt,
                       int* out, char* err, size_t err_sz);
// The same for a value v already read (seconds) of parameter `key` (e.g. one entry of a list).
int amt_bodyless_to_steps(const amt_info* info, const char* key, double v, double dt, int* out,
                          char* err, size_t err_sz);

// Parses "A:B,A:B,..." (numbers) into a[], b[] (at most max pairs). Returns the count (0 for an
// empty text) or -1 when the text is not such a list. (registry.c)
int amt_parse_pairs(const char* text, double* a, double* b, int max);

// Juice offers of the economic-choice tasks (value-reach, value-choice; Padoa-Schioppa & Assad
// 2006): offer types qA:qB and the relative value rho (one drop of A is worth rho drops of B).
// Offers are shown as drops / AMT_VALUE_Q_SCALE.
#define AMT_VALUE_Q_SCALE 5.0
#define AMT_OFFER_PARAMS                                                                        \
  {"offers", "1:1,1:2,1:3,1:4,1:6,1:10,2:1", "offer types qA:qB (drops of juice A and B, each "   \
                                             "> 0), drawn uniformly per trial"},                  \
  {"rho", "2.5", "relative value: one drop of A is worth rho drops of B (the indifference "       \
                 "point qB/qA)"}
typedef struct amt_offers {
  int n;                   // offer types
  double qa[16], qb[16];   // drops of A and of B
  double rho, max_value;   // the relative value; the best offer type's value (drops of B)
} amt_offers;
// Reads offers and rho (cog_tasks.c). Returns 0 or -1 with a message naming task and parameter.
int amt_offers_read(const amt_info* info, const amt_params* params, amt_offers* o, char* err,
                    size_t err_sz);

// cog_tasks.c: body-less value-based tasks with discrete actions (meta-RL); cog_decision.c: the
// body-less perceptual decision (fixate/left/right; NeuroGym's PerceptualDecisionMaking).
extern const amt_param_def amt_bandit_params[], amt_two_step_params[];
// The bandits' reward probabilities per episode (bandit, bandit-reach): parameters variant
// (independent | dependent: p_right = 1 - p_left) and p_set (empty: uniform in [0, 1]; else the
// values p_left, and with independent arms p_right, are drawn from: Wang et al.'s easy, medium
// and hard bandits are p_set=0.1,0.9 / 0.25,0.75 / 0.4,0.6 with dependent arms).
#define AMT_BANDIT_PARAMS                                                                       \
  {"variant", "independent", "independent: p_left, p_right drawn apart per episode; dependent: " \
                             "p_right = 1 - p_left"},                                            \
  {"p_set", "", "values the probabilities are drawn from (e.g. 0.1,0.9); empty: uniform [0,1]"}
typedef struct amt_bandit_probs {
  int dependent, n_set;
  double set[16];
} amt_bandit_probs;
int amt_bandit_probs_read(const amt_info* info, const amt_params* params, amt_bandit_probs* b,
                          char* err, size_t err_sz);
void amt_bandit_probs_draw(const amt_bandit_probs* b, am_rng* r, double p[2]);
int amt_bandit_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
int amt_two_step_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
extern const amt_param_def amt_perceptual_decision_params[];
int amt_perceptual_decision_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
extern const amt_param_def amt_dnms_params[];  // cog_dnms.c
int amt_dnms_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
extern const amt_param_def amt_value_choice_params[];  // cog_tasks.c: economic choice
int amt_value_choice_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
extern const amt_param_def amt_wager_params[];  // cog_decision.c: the post-decision wager
int amt_wager_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
extern const amt_param_def amt_bandit_reach_params[];  // arm_tasks.c
int amt_bandit_reach_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
extern const amt_param_def amt_water_plane_params[];  // cog_water.c: the water maze, body-less
int amt_water_plane_create(am_task* t, const amt_params* params, char* err, size_t err_sz);
#define AMT_COG_TASKS                                                                          \
  {"bandit", "none", "two-armed bandit, reward probabilities drawn per episode; choose left/"   \
                     "right (meta-RL: Wang et al. 2018)", amt_bandit_params, amt_bandit_create}, \
  {"two-step", "none", "two-step task: common/rare transitions, drifting or swapping reward "  \
                       "(Daw et al. 2011; Wang et al. 2018)", amt_two_step_params,             \
   amt_two_step_create},                                                                       \
  {"bandit-reach", "arm", "two-armed bandit chosen by reaching left or right (meta-RL: Wang et "  \
                          "al. 2018)", amt_bandit_reach_params, amt_bandit_reach_create},        \
  {"perceptual-decision", "none", "noisy evidence, fixate then choose left/right (body-less; "  \
                                  "NeuroGym PerceptualDecisionMaking; Song et al. 2017)",       \
   amt_perceptual_decision_params, amt_perceptual_decision_create},                            \
  {"dnms", "none", "delayed non-match-to-sample: output +1 if two stimuli differ, -1 if the "  \
                   "same (body-less; Miconi 2017)", amt_dnms_params, amt_dnms_create},          \
  {"wager", "none", "post-decision wager: noisy evidence, then left/right or a sure target "     \
                    "offered on half the trials (body-less; Kiani & Shadlen 2009)",             \
   amt_wager_params, amt_wager_create},                                                        \
  {"value-choice", "none", "economic choice between two juice offers, choose left/right "       \
                           "(body-less value-reach; Padoa-Schioppa & Assad 2006)",              \
   amt_value_choice_params, amt_value_choice_create},                                          \
  {"water-plane", "none", "the water maze without a body: a navigator runs to the place the "   \
                          "network names (body-less water-maze; Bellec et al. 2018)",           \
   amt_water_plane_params, amt_water_plane_create}

// Further task families append their entries here (comma-separated amt_info initialisers).
#define AMT_EXTRA_TASKS AMT_ARM_TASKS, AMT_RAT_TASKS, AMT_COG_TASKS

#endif  // AMT_TASKS_INTERNAL_H
