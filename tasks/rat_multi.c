// rat_multi.c: the composite task "rat-multi": one rat, several rat tasks in one scene, the
// pool's envs split across them (Merel et al. 2020 trained one virtual rodent on run-gaps,
// escape-bowl, forage-maze and two-tap at once).
//
// What it is: a task whose members are rat_parts (rat_common.h): the scene holds every member's
// arena (each member's pieces on mocap bodies; the floors and run-gaps' start block, static in the
// single tasks, are mocap bodies here too), and each env runs one member at a time: reset raises
// the active member's pieces (its own reset places them exactly as the single task does) and
// parks every other member's. The rules are the members' own code on their own cfg and state;
// this file only routes: the task group holds each member's values in its own slot (zeros when
// inactive), a member's own groups (run-gaps' scan, two-tap's interval, the heading that
// forage-maze's guide and the others' heading ask for) are groups of the composite's after the task
// group under the same names, one group for a name that several members ask for (the active
// member's values, zeros when no member that asks for it is active), reward terms, events and
// variables are the union with the member's name as prefix,
// plus the variable task_id (the trial condition) and an event `success` (the active member's
// success event). Episodes are trials. A member with a shorter episode than the longest is
// truncated at its own length (am_step_result.truncated).
// What it is not: a general task mixer (only rat_parts share a body and a scene).
// docs/tasks.md ("rat-multi") describes it for users.
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rat_common.h"

#define MULTI_MAX 4
#define MEMBER_CFG_MAX 4096  // bytes of a member's cfg (checked at creation)
// A member's task group and its own group, at most (checked at creation; run-gaps' 1 + scan <= 65
// is the largest today).
#define MEMBER_OBS_MAX 128

static const rat_part* const all_parts[MULTI_MAX] = {&rat_gaps_part, &rat_bowl_part,
                                                     &rat_maze_part, &rat_tap_part};
const char* const amt_rat_multi_members[] = {"run-gaps", "escape-bowl", "forage-maze", "two-tap",
                                             NULL};

const amt_param_def amt_rat_multi_params[] = {
    {"tasks", "run-gaps,escape-bowl,forage-maze,two-tap",
     "member tasks, comma-separated, each at most once; the variable task_id is the position in "
     "this list"},
    {"assign", "env", "env: env i runs tasks[i mod n] for its whole life (the pool split across "
                      "tasks); episode: each episode draws its task from the env's RNG"},
    {"task_input", "0", "1: append a one-hot of the active task to the task group (0: the policy "
                        "is not told the task)"},
    RAT_PUSH_PARAMS, RAT_PAW_PARAMS, AMT_OPTS_PARAMS, {NULL, NULL, NULL}};

typedef struct multi_cfg {
  rat_body rat;  // first (rat_common.h): the composite's options, bound ids, dt, body_dim
  int n, assign_episode, task_input;
  const rat_part* part[MULTI_MAX];
  int steps[MULTI_MAX];  // each member's episode length (control steps)
  int slot[MULTI_MAX];   // offset of each member's values in the task group
  int onehot;            // offset of the one-hot in the task group (task_input)
  int task_size;         // the whole task group
  int own[MULTI_MAX][RAT_MAX_OWN];  // offset of each member's own groups after the task group's
                                   // start (rat_body.own's sizes; none when 0)
  int obs_size;          // the task group and the members' own groups
  int term0[MULTI_MAX], ev0[MULTI_MAX], var0[MULTI_MAX];  // each member's first term/event/var
  int ev_success;        // the composite's event `success`
  int n_vars;
  size_t member_state[MULTI_MAX];  // byte offset of each member's state in the state block (each
                                   // its own, so a member's state outlives other members' episodes)
  alignas(max_align_t) unsigned char sub[MULTI_MAX][MEMBER_CFG_MAX];  // the members' cfgs
} multi_cfg;

typedef struct multi_state {
  amt_opt_state opt;  // first (task_opts.h)
  int active;         // index of the env's member in the episode
} multi_state;

static const rat_body* member(const multi_cfg* c, int k) { return (const rat_body*)c->sub[k]; }

static void* member_state(const multi_cfg* c, const am_env* e, int k) {
  return (char*)e->task_state + c->member_state[k];
}

// Parks every piece of member k (the pieces its park hook moves and those static in its single
// task); what this moves is also what member k's model variant keeps on (make_variants).
static void park_member(const multi_cfg* c, int k, mjData* d) {
  c->part[k]->park(c->sub[k], d);
  rat_fixed_park(member(c, k), d);
}

//---------------------------------- hooks ---------------------------------------------------------

static void multi_reset(const am_task* t, am_env* e) {
  const multi_cfg* c = t->cfg;
  multi_state* s = e->task_state;
  int k = c->assign_episode ? (int)(am_rng_uniform(&e->rng) * c->n) : e->index % c->n;
  am_env_use_variant(t, e, k + 1);
  for (int j = 0; j < c->n; j++)
    if (j != k) park_member(c, j, e->d);
  rat_fixed_raise(member(c, k), e->d);
  c->part[k]->reset(c->sub[k], member_state(c, e, k), e);
  amt_opts_reset(&s->opt);
  s->active = k;
}

static void multi_evaluate(const am_task* t, am_env* e, am_step_result* r) {
  const multi_cfg* c = t->cfg;
  multi_state* s = e->task_state;
  const int k = s->active;
  const rat_part* p = c->part[k];
  am_step_result m;
  memset(&m, 0, sizeof m);
  p->evaluate(c->sub[k], member_state(c, e, k), e, &m);
  r->reward = m.reward;
  r->terminated = m.terminated;
  for (int i = 0; i < p->n_terms; i++) r->terms[c->term0[k] + i] = m.terms[i];
  r->events = m.events << c->ev0[k];
  if (p->success >= 0 && (m.events >> p->success & 1u)) r->events |= 1u << c->ev_success;
  if (!m.terminated && c->steps[k] < t->max_steps && e->step >= c->steps[k]) r->truncated = 1;
  amt_opts_reward(&s->opt, r->reward);
}

static void multi_observe(const am_task* t, am_env* e, float* o) {
  const multi_cfg* c = t->cfg;
  multi_state* s = e->task_state;
  const int k = s->active;
  am_body_observe(e->m, e->d, o);
  float* g = o + c->rat.body_dim;
  memset(g, 0, sizeof(float) * (size_t)c->obs_size);
  // the member writes its task values and then its own groups'; each goes to its place here
  const rat_part* p = c->part[k];
  float mine[MEMBER_OBS_MAX];
  p->observe(c->sub[k], member_state(c, e, k), e->d, mine);
  memcpy(g + c->slot[k], mine, sizeof(float) * (size_t)p->task_size);
  for (int i = 0, at = p->task_size; i < RAT_MAX_OWN; i++) {
    const int n = member(c, k)->own[i].size;
    memcpy(g + c->own[k][i], mine + at, sizeof(float) * (size_t)n);
    at += n;
  }
  if (c->task_input) g[c->onehot + k] = 1;
  amt_opts_observe(&c->rat.opts, &s->opt, &e->rng, o);
}

static void multi_vars(const am_task* t, const am_env* e, float* x) {
  const multi_cfg* c = t->cfg;
  const multi_state* s = e->task_state;
  const int k = s->active;
  rat_common_vars(&c->rat, e->d, x);
  x[4] = (float)k;
  memset(x + 5, 0, sizeof(float) * (size_t)(c->n_vars - 5));
  c->part[k]->vars(c->sub[k], member_state(c, e, k), e->d, x + c->var0[k]);
}

//---------------------------------- construction --------------------------------------------------

// `tasks` into c->part. Returns 0 or -1 with a message naming the value.
static int read_tasks(const amt_info* info, const amt_params* params, multi_cfg* c, char* err,
                      size_t err_sz) {
  const char* v = amt_param_get(info, params, "tasks");
  char buf[256];
  snprintf(buf, sizeof buf, "%s", v);
  char* save = NULL;
  c->n = 0;
  for (char* tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    for (char* end = tok + strlen(tok); end > tok && end[-1] == ' ';) *--end = 0;
    const rat_part* p = NULL;
    for (int k = 0; k < MULTI_MAX; k++)
      if (!strcmp(all_parts[k]->name, tok)) p = all_parts[k];
    if (!p)
      return am_err(err, err_sz, "task %s: parameter tasks: '%s' is not a member task (members: "
                    "run-gaps, escape-bowl, forage-maze, two-tap)", info->name, tok);
    for (int k = 0; k < c->n; k++)
      if (c->part[k] == p)
        return am_err(err, err_sz, "task %s: parameter tasks: '%s' is listed twice in '%s'",
                      info->name, tok, v);
    c->part[c->n++] = p;
  }
  if (!c->n) return am_err(err, err_sz, "task %s: parameter tasks: empty list", info->name);
  return 0;
}

static int read_params(const amt_info* info, const amt_params* params, multi_cfg* c, char* err,
                       size_t err_sz) {
  if (amt_opts_read(info, params, &c->rat.opts, err, err_sz) ||
      rat_push_read(info, params, &c->rat.push, err, err_sz) ||
      rat_read_paw(info, params, &c->rat, err, err_sz) ||
      read_tasks(info, params, c, err, err_sz))
    return -1;
  const char* assign = amt_param_get(info, params, "assign");
  if (strcmp(assign, "env") && strcmp(assign, "episode"))
    return am_err(err, err_sz, "task %s: parameter assign: '%s' must be env or episode",
                  info->name, assign);
  c->assign_episode = !strcmp(assign, "episode");
  return amt_param_bool(info, params, "task_input", &c->task_input, err, err_sz);
}

// Member k's parameters: every "TASK.key=value" of params for its TASK, without the prefix (the
// keys were checked against the member's table by amt_params_check). A prefix naming a task not
// in `tasks`, or an observation option (the composite's own), is an error naming the key.
static int member_params(const amt_info* info, const amt_params* params, const multi_cfg* c,
                         int k, amt_params* out, char* err, size_t err_sz) {
  memset(out, 0, sizeof *out);
  for (int i = 0; params && i < params->n; i++) {
    const char* key = params->key[i];
    const char* dot = strchr(key, '.');
    if (!dot) continue;
    size_t len = (size_t)(dot - key);
    int in = -1;
    for (int j = 0; j < c->n; j++)
      if (strlen(c->part[j]->name) == len && !strncmp(c->part[j]->name, key, len)) in = j;
    if (in < 0)
      return am_err(err, err_sz, "task %s: parameter '%s': %.*s is not in tasks", info->name,
                    key, (int)len, key);
    if (!strcmp(dot + 1, "prev_inputs") || !strcmp(dot + 1, "obs_noise") ||
        !strcmp(dot + 1, "obs_delay") || !strncmp(dot + 1, "push_", 5) ||
        !strcmp(dot + 1, "paw_friction"))
      return am_err(err, err_sz, "task %s: parameter '%s': observation options, pushes and the "
                    "paws are the composite's (set %s without a prefix)", info->name, key,
                    dot + 1);
    if (in != k) continue;
    char kv[sizeof out->key[0] + sizeof out->value[0] + 2];
    snprintf(kv, sizeof kv, "%s=%s", dot + 1, params->value[i]);
    if (amt_params_add(out, kv, err, err_sz)) return -1;
  }
  return 0;
}

// Appends "PREFIX.NAME" to names (n of at most max). Returns 0 or -1 with a message.
static int add_name(char (*names)[AM_NAME_LEN], int* n, int max, const char* prefix,
                    const char* name, const char* what, char* err, size_t err_sz) {
  if (*n >= max) return am_err(err, err_sz, "task rat-multi: more than %d %s", max, what);
  if (snprintf(names[*n], AM_NAME_LEN, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", name) >=
      AM_NAME_LEN)
    return am_err(err, err_sz, "task rat-multi: %s name '%s.%s' longer than %d characters", what,
                  prefix, name, AM_NAME_LEN - 1);
  (*n)++;
  return 0;
}

// Names (terms, events, variables), slots and the trial schema.
static int describe(am_task* t, multi_cfg* c, char* err, size_t err_sz) {
  int slot = 0;
  t->n_terms = t->n_events = 0;
  if (add_name(t->vars, &t->n_vars, AM_MAX_VARS, NULL, "task_id", "variables", err, err_sz))
    return -1;
  t->n_conditions = 1;
  t->conditions[0] = t->n_vars - 1;
  for (int k = 0; k < c->n; k++) {
    const rat_part* p = c->part[k];
    c->slot[k] = slot;
    slot += p->task_size;
    c->term0[k] = t->n_terms;
    c->ev0[k] = t->n_events;
    c->var0[k] = t->n_vars;
    for (int i = 0; i < p->n_terms; i++)
      if (add_name(t->terms, &t->n_terms, AM_MAX_TERMS, p->name, p->term_names[i], "reward terms",
                   err, err_sz))
        return -1;
    for (int i = 0; i < p->n_events; i++)
      if (add_name(t->events, &t->n_events, AM_MAX_EVENTS, p->name, p->event_names[i], "events",
                   err, err_sz))
        return -1;
    for (int i = 0; i < p->n_vars; i++)
      if (add_name(t->vars, &t->n_vars, AM_MAX_VARS, p->name, p->var_names[i], "variables", err,
                   err_sz))
        return -1;
  }
  c->onehot = slot;
  c->n_vars = t->n_vars;
  c->ev_success = t->n_events;
  if (add_name(t->events, &t->n_events, AM_MAX_EVENTS, NULL, "success", "events", err, err_sz))
    return -1;
  // Episodes are trials: the trial table has a row per episode with its task_id and every
  // member's event counts; success is the active member's success event (none for run-gaps).
  t->trial_start_event = t->trial_end_event = -1;
  t->success_event = c->ev_success;
  return 0;
}

// The model variant of each member (am_task.variants; variant k + 1 for member k): the scene
// with the geoms of every other member's pieces switched off. MuJoCo's broadphase sorts every body
// whose geoms can collide and pairs each body holding a plane or a height field (every member's
// floor, the bowl) with every other body, each physics step; with its own variant an episode pays
// for the rat and its own arena only. A member's pieces are the mocap bodies its park hooks move
// (found by parking it on a scratch mjData); pieces a member parks during its own episodes
// (run-gaps' platforms) stay on in its variant. Parked pieces touch nothing, so the physics is the
// same on every variant as on the full model (the golden trace is unchanged). A member with a
// hide hook (escape-bowl) also hides, in its own variant, what it casts its rays at itself.
static int make_variants(am_task* t, const multi_cfg* c, char* err, size_t err_sz) {
  const mjModel* m = t->model->m;
  mjData* d = mj_makeData(m);
  unsigned char* owner = calloc((size_t)m->nmocap + 1, 1);  // bit k: member k parks it
  t->variants = calloc(MULTI_MAX, sizeof(mjModel*));
  if (!d || !owner || !t->variants) {
    if (d) mj_deleteData(d);
    free(owner);
    return am_err(err, err_sz, "out of memory");
  }
  const double unmoved = 1e300;
  for (int k = 0; k < c->n; k++) {
    for (int i = 0; i < 3 * m->nmocap; i++) d->mocap_pos[i] = unmoved;
    park_member(c, k, d);
    for (int i = 0; i < m->nmocap; i++)
      if (d->mocap_pos[3 * i] != unmoved) owner[i] |= (unsigned char)(1u << k);
  }
  mj_deleteData(d);
  int rc = 0;
  for (int k = 0; k < c->n && !rc; k++) {
    mjModel* v = mj_copyModel(NULL, m);
    if (!v) {
      rc = am_err(err, err_sz, "out of memory copying the model");
      break;
    }
    t->variants[t->n_variants++] = v;
    for (int b = 0; b < m->nbody; b++) {
      int id = m->body_mocapid[b];
      if (id < 0 || !owner[id] || (owner[id] >> k & 1u)) continue;
      for (int g = m->body_geomadr[b]; g < m->body_geomadr[b] + m->body_geomnum[b]; g++) {
        v->geom_contype[g] = v->geom_conaffinity[g] = 0;
        v->geom_matid[g] = -1;  // and invisible, so that rays pass (mj_ray skips alpha 0)
        v->geom_rgba[4 * g + 3] = 0;
      }
    }
    if (c->part[k]->hide) c->part[k]->hide(c->sub[k], v);  // what the member casts rays at itself
  }
  free(owner);
  return rc;
}

int amt_rat_multi_create(am_task* t, const amt_params* params, char* err, size_t err_sz) {
  const amt_info* info = amt_find("rat-multi");
  multi_cfg* c = calloc(1, sizeof *c);
  if (!c) return am_err(err, err_sz, "out of memory");
  double episode_time[MULTI_MAX], longest = 0;
  size_t state = 0;
  rat_sbuf prelude = {0}, arena = {0};
  int rc = read_params(info, params, c, err, err_sz);
  for (int k = 0; !rc && k < c->n; k++) {  // each member's own parameters
    const rat_part* p = c->part[k];
    rat_body* b = (rat_body*)c->sub[k];
    amt_params mp;
    char e2[AM_ERR_LEN];
    if (p->cfg_size > MEMBER_CFG_MAX) {
      rc = am_err(err, err_sz, "task %s: member %s's cfg (%zu bytes) exceeds %d", info->name,
                  p->name, p->cfg_size, MEMBER_CFG_MAX);
      break;
    }
    b->part = p;
    if ((rc = member_params(info, params, c, k, &mp, err, err_sz))) break;
    if (rat_read_common(amt_find(p->name), &mp, b, &episode_time[k], e2, sizeof e2) ||
        p->read(amt_find(p->name), &mp, b, e2, sizeof e2)) {
      rc = am_err(err, err_sz, "task %s: %s (set as %s.KEY)", info->name, e2, p->name);
      break;
    }
    if (p->task_size + rat_own_values(b) > MEMBER_OBS_MAX) {
      rc = am_err(err, err_sz, "task %s: %s.%s=%s: member %s's groups hold more than %d values",
                  info->name, p->name, b->own[0].param,
                  amt_param_get(amt_find(p->name), &mp, b->own[0].param), p->name, MEMBER_OBS_MAX);
      break;
    }
    if (episode_time[k] > longest) longest = episode_time[k];
  }
  for (int k = 0; !rc && k < c->n; k++)
    if (c->part[k]->build(c->sub[k], &prelude, &arena, 1)) rc = am_err(err, err_sz, "out of memory");
  if (!rc) rc = rat_load(t, info->name, &prelude, &arena, &c->rat, err, err_sz);
  rat_sb_free(&prelude);
  rat_sb_free(&arena);
  state = (sizeof(multi_state) + 15) & ~(size_t)15;
  for (int k = 0; k < c->n; k++) {
    c->member_state[k] = state;
    state += (c->part[k]->state_size + 15) & ~(size_t)15;
  }
  for (int k = 0; k < c->n; k++) c->task_size += c->part[k]->task_size;
  if (c->task_input) c->task_size += c->n;
  // the members' own groups after the task group, in the members' order; one group for a name
  // that several members ask for (of one size)
  const char* own_names[MULTI_MAX * RAT_MAX_OWN];
  int own_sizes[MULTI_MAX * RAT_MAX_OWN], own_at[MULTI_MAX * RAT_MAX_OWN], n_own = 0;
  const rat_group* own_first[MULTI_MAX * RAT_MAX_OWN];  // the member's group that named it first
  const char* own_by[MULTI_MAX * RAT_MAX_OWN];           // and that member
  c->obs_size = c->task_size;
  for (int k = 0; !rc && k < c->n; k++)
    for (int i = 0; !rc && i < RAT_MAX_OWN; i++) {
      const rat_group* o = &member(c, k)->own[i];
      if (o->size <= 0) continue;
      int j = 0;
      while (j < n_own && strcmp(own_names[j], o->name)) j++;
      if (j < n_own && own_sizes[j] != o->size) {
        rc = am_err(err, err_sz, "task %s: group '%s': %s.%s gives it %d values, %s.%s %d",
                    info->name, o->name, own_by[j], own_first[j]->param, own_sizes[j],
                    c->part[k]->name, o->param, o->size);
        break;
      }
      if (j == n_own) {
        own_names[n_own] = o->name;
        own_sizes[n_own] = o->size;
        own_at[n_own] = c->obs_size;
        own_first[n_own] = o;
        own_by[n_own++] = c->part[k]->name;
        c->obs_size += o->size;
      }
      c->own[k][i] = own_at[j];
    }
  if (rc || rat_task_init_groups(t, info->name, &c->rat, state, longest, c->task_size, n_own,
                                 own_names, own_sizes, err, err_sz)) {
    free(c);
    return -1;
  }
  mjModel* m = t->model->m;
  for (int k = 0; k < c->n; k++) {
    rat_body* b = (rat_body*)c->sub[k];
    rat_body_copy_bound(b, &c->rat);
    c->steps[k] = rat_episode_steps(episode_time[k], c->rat.dt);
    char e2[AM_ERR_LEN];
    if (c->part[k]->bind(b, m, e2, sizeof e2) ||
        rat_fixed_find(b, m, c->part[k]->name, e2, sizeof e2)) {
      am_err(err, err_sz, "task %s: %s (set as %s.KEY)", info->name, e2, c->part[k]->name);
      free(c);
      return -1;
    }
  }
  if (describe(t, c, err, err_sz) || make_variants(t, c, err, err_sz)) {
    free(c);
    return -1;
  }
  t->reset = multi_reset;
  t->evaluate = multi_evaluate;
  t->observe = multi_observe;
  t->get_vars = multi_vars;
  rc = rat_task_finish(t, c, sizeof *c, err, err_sz);
  free(c);
  return rc;
}
