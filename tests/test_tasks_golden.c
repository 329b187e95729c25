// test_tasks_golden.c: every registered task reproduces its recorded behaviour bit for bit.
//
// Each task runs 300 control steps in a pool of 2 envs on 2 threads (seed 123) under pseudo-random
// actions (uniform in ctrlrange, a fixed am_rng stream); a CRC-32 (am_crc32) over everything the
// pool reports per step (observations, rewards, reward terms, terminated, truncated, events,
// episode step, task variables) must equal the value recorded below. A refactoring of tasks/ must
// leave every hash unchanged; a deliberate change of a task's behaviour changes its hash.
//
// Regenerating (only after an intended behaviour change; say which task changed and why in the
// commit): build, run `build/tests/test_tasks_golden`; every task prints a line
// `# golden NAME 0x........` and a mismatch fails naming the new value. Copy the new value into
// the table below. The values hold for x86-64 builds of this repository (GCC, no -ffast-math,
// MuJoCo 2.2.2 from libmujoco-dev); other architectures may contract floating-point operations
// differently, so the comparison is skipped there (the run still checks determinism).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "am_dataset.h"
#include "amt_tasks.h"

#include "task_test_util.h"

typedef struct golden {
  const char* task;
  const char* params[8];  // k=v overrides chosen so that the run reaches the task's logic
  uint32_t hash;
} golden;

// Arm tasks: a wide start zone so that flailing reaches the go cue; 3 trials per episode (ITI).
// force-field: blocks of one trial, so that episodes hold null -> field -> null transitions.
static const golden table[] = {
    {"reacher", {NULL}, 0x3de4cf1d},
    {"reach-center-out", {"start_radius=0.06", "distance=0.15", "trials=3", NULL}, 0x6d808270},
    {"reach-random", {"start_radius=0.06", "trials=3", NULL}, 0xf92730b0},
    {"force-field", {"start_radius=0.06", "distance=0.15", "trials=3", "baseline_trials=1",
                     "field_trials=1", "washout_trials=1", "hold_time=0.05", NULL}, 0x21b34963},
    {"visuomotor-rotation", {"start_radius=0.06", "distance=0.15", "prev_inputs=1", NULL},
     0x55bb833b},
    {"decision-reach", {"start_radius=0.06", "trials=3", "obs_noise=0.01", NULL}, 0xdbdc84f5},
    {"romo-reach", {"start_radius=0.06", "trials=3", "delay=0.05,0.1", NULL}, 0x135fe7e8},
    {"mante-reach", {"start_radius=0.06", "trials=3", "variant=rt", NULL}, 0x2a5c49d2},
    {"multisensory-reach", {"start_radius=0.06", "trials=3", "variant=rt", NULL}, 0x61990522},
    {"value-reach", {"start_radius=0.06", "trials=3", "variant=rt", NULL}, 0xda05d8f3},
    {"run", {"episode_time=2", NULL}, 0xb8751da8},
    {"run-gaps", {"episode_time=2", NULL}, 0x34489a41},
    // the published bowl's cubic bumps (the default since 7 Dec 2026), and the linear ones of
    // before, which keep their recorded hash
    {"escape-bowl", {"episode_time=2", "terrains=2", NULL}, 0x4a875539},
    {"escape-bowl", {"episode_time=2", "terrains=2", "bumps=linear", NULL}, 0x0e68e743},
    {"forage-maze", {"episode_time=2", NULL}, 0x65c21ab7},
    {"two-tap", {"episode_time=2", "arena=0.05", "prev_inputs=1", "obs_noise=0.1", NULL},
     0x9d20a5a1},
    {"water-maze", {"episode_time=2", "search_time=0.3", "trials=3", NULL}, 0xe4c46518},
    // rat-multi: members drawn per episode (so that 2 envs meet all four), short episodes,
    // escape-bowl's shorter (truncated at its own length)
    {"rat-multi", {"assign=episode", "task_input=1", "run-gaps.episode_time=1",
                   "escape-bowl.episode_time=0.6", "forage-maze.episode_time=1",
                   "two-tap.episode_time=1", "two-tap.arena=0.05", NULL}, 0x2c4569a9},
    {"bandit", {"trials=30", "variant=dependent", NULL}, 0x8e501df3},
    {"two-step", {"trials=30", "variant=walk", NULL}, 0xdebc4659},
    {"bandit-reach", {"start_radius=0.06", "trials=3", NULL}, 0x8eb1abb5},
    {"perceptual-decision", {"trials=5", "stim_time=0.3", NULL}, 0x0ffe9a5c},
    {"dnms", {"trials=5", "dt=0.01", NULL}, 0x6d279dcb},
    {"wager", {"trials=5", "stim_time=0.1,0.3", NULL}, 0x18a32038},
    {"value-choice", {"trials=30", "rho=2", NULL}, 0x7ea5c2c8},
    {"water-plane", {"recall=2", "found_steps=2", "search_time=3", NULL}, 0x6a947c94},
};

#define N_ENVS 2
#define STEPS 300

static uint32_t run_hash(const golden* g) {
  am_task t;
  amt_params p;
  memset(&p, 0, sizeof p);
  for (const char* const* kv = g->params; *kv; kv++)
    if (amt_params_add(&p, *kv, err, sizeof err)) fail_msg("%s", err);
  if (amt_create(&t, g->task, &p, err, sizeof err)) fail_msg("%s: %s", g->task, err);
  am_pool* pool = make_pool_threads(&t, N_ENVS, 2, 123);
  am_batch* b = am_pool_batch(pool);
  const mjModel* m = t.model->m;
  am_rng rng;
  am_rng_seed(&rng, 77, 0);
  uint32_t h = am_crc32(0, b->obs, sizeof(float) * N_ENVS * (size_t)t.obs_dim);
  for (int s = 0; s < STEPS; s++) {
    for (int i = 0; i < N_ENVS * t.act_dim; i++) {
      int u = i % t.act_dim, ctl = m->nu == t.act_dim;  // body-less tasks: scores in [-1, 1]
      double lo = ctl ? m->actuator_ctrlrange[2 * u] : -1, hi = ctl ? m->actuator_ctrlrange[2 * u + 1] : 1;
      b->actions[i] = (float)am_rng_range(&rng, lo, hi);
    }
    am_pool_step(pool);
    h = am_crc32(h, b->obs, sizeof(float) * N_ENVS * (size_t)t.obs_dim);
    h = am_crc32(h, b->rewards, sizeof(float) * N_ENVS);
    h = am_crc32(h, b->terms, sizeof(float) * N_ENVS * (size_t)t.n_terms);
    h = am_crc32(h, b->terminated, N_ENVS);
    h = am_crc32(h, b->truncated, N_ENVS);
    h = am_crc32(h, b->events, sizeof(uint32_t) * N_ENVS);
    h = am_crc32(h, b->ep_step, sizeof(int32_t) * N_ENVS);
    h = am_crc32(h, b->vars, sizeof(float) * N_ENVS * (size_t)t.n_vars);
  }
  am_pool_free(pool);
  amt_destroy(&t);
  return h;
}

static void test_golden(void** state) {
  int n;
  const amt_info* reg = amt_registry(&n);
  // the table covers every registered task (some twice, with other parameters)
  for (int i = 0; i < n; i++) {
    size_t k = 0;
    while (k < sizeof table / sizeof table[0] && strcmp(table[k].task, reg[i].name)) k++;
    if (k == sizeof table / sizeof table[0]) fail_msg("task %s has no golden hash", reg[i].name);
  }
  int bad = 0;
  for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
    assert_non_null(amt_find(table[k].task));
    uint32_t h = run_hash(&table[k]);
    printf("# golden %-20s 0x%08x\n", table[k].task, h);
#if defined(__x86_64__)
    if (h != table[k].hash) {
      printf("# MISMATCH %s: recorded 0x%08x, now 0x%08x\n", table[k].task, table[k].hash, h);
      bad++;
    }
#endif
  }
  if (bad) fail_msg("%d task(s) changed behaviour (see the header to regenerate)", bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
