// ama_config.c: the run configuration as "key = value" text (defaults, parsing, writing), and the
// running observation normaliser.
// What it is not: no file I/O (tools/ reads config files and hands the text over).
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"
#include "ama_internal.h"

void ama_policy_cfg_default(ama_policy_cfg* c) {
  memset(c, 0, sizeof(*c));
  snprintf(c->core_type, sizeof(c->core_type), "gru");
  c->core_hidden = 64;
  c->core_tick = 1;
  snprintf(c->motor_type, sizeof(c->motor_type), "gru");
  c->motor_hidden = 64;
  snprintf(c->core_groups, sizeof(c->core_groups), "all");
  snprintf(c->motor_groups, sizeof(c->motor_groups), "proprioception");
  c->tau = 0.1f;
  c->dt = 0.02f;
  c->rnn_noise = 0.0f;
  c->dale = 0;
  c->exc_frac = 0.8f;
  c->init_logstd = -0.5f;
  c->obs_clip = 5.0f;
  c->motor_core = 1;
  c->critic_heads = 1;
  snprintf(c->critic_tau, sizeof(c->critic_tau), "spread");
  snprintf(c->conn, sizeof(c->conn), "full");
  c->conn_density = 1.0f;
  c->conn_blocks = 4;
  snprintf(c->conn_modules, sizeof(c->conn_modules), "core,motor");
  snprintf(c->action_head, sizeof(c->action_head), "gaussian");
  snprintf(c->rnn_act, sizeof(c->rnn_act), "relu");
  c->rnn_gain = 0.5f;
  snprintf(c->readout, sizeof(c->readout), "head");
}

void ama_config_default(ama_config* c) {
  memset(c, 0, sizeof(*c));
  ama_policy_cfg_default(&c->policy);
  ama_ppo_cfg* p = &c->ppo;
  p->horizon = 64;
  p->epochs = 10;
  p->minibatches = 16;
  p->lr = 3e-4f;
  snprintf(p->lr_schedule, sizeof(p->lr_schedule), "linear");
  p->gamma = 0.99f;
  p->lambda = 0.95f;
  p->clip = 0.2f;
  p->vf_coef = 0.5f;
  p->ent_coef = 0.0f;
  p->max_grad_norm = 0.5f;
  p->norm_adv = 1;
  p->adam_eps = 1e-5f;
  p->norm_reward = 1;
  snprintf(c->learner, sizeof(c->learner), "ppo");
  c->es.pairs = 16;
  c->es.sigma = 0.02f;
  snprintf(c->es.optimizer, sizeof(c->es.optimizer), "adam");
  c->es.momentum = 0.9f;
  c->es.weight_decay = 0.005f;
  c->hebb.eta = 0.1f;
  c->hebb.max_dw = 3e-4f;
  c->hebb.pert_prob = 0.03f;
  c->hebb.pert_amp = 1.6f;
  c->hebb.xbar = 0.05f;
  c->hebb.rbar = 0.75f;
  c->hebb.rbar_scale = 1;
  c->hebb.warmup = 100;
  c->hebb.plastic_input = 0;
  snprintf(c->task, sizeof(c->task), "reacher");
  c->total_steps = 1000000;
  c->num_envs = 64;
  c->seed = 1;
}

typedef enum { K_INT, K_FLOAT, K_STR, K_I64, K_U64 } ktype;
#define INF INFINITY
// One configuration key. Numbers must lie in [lo, hi] (an open end when lo_open / hi_open; +-INF
// for none). Strings with `choices` ("a|b|c") must be one of them, or with `list` a comma list of
// them; `empty` allows "". Every value is checked whole before it is stored.
typedef struct key_def {
  const char* key;
  ktype type;
  size_t off;
  size_t size;  // for strings
  const char* meaning;
  double lo, hi;
  int lo_open, hi_open;
  const char* choices;
  int list, empty;
} key_def;

#define PO(f) offsetof(ama_config, policy.f)
#define LO(f) offsetof(ama_config, ppo.f)
#define CO(f) offsetof(ama_config, f)
#define EO(f) offsetof(ama_config, es.f)
#define HO(f) offsetof(ama_config, hebb.f)
#define SZ(f) sizeof(((ama_config*)0)->f)
#define RANGE(lo, hi) lo, hi, 0, 0
#define ABOVE(lo) lo, INF, 1, 0
#define FLAG 0, 1, 0, 0
#define CELLS "gru|lstm|rnn|mlp"
#define MODULES "core|motor|head|critic|command"
static const key_def KEYS[] = {
    {"task", K_STR, CO(task), SZ(task), "task name (see `animat tasks`)"},
    {"task_params", K_STR, CO(task_params), SZ(task_params), "task parameters k=v;k=v", 0, 0, 0,
     0, NULL, 0, 1},
    {"total_steps", K_I64, CO(total_steps), 0, "env steps to train for", RANGE(1, 1e13)},
    {"num_envs", K_INT, CO(num_envs), 0, "parallel envs", RANGE(1, 4096)},
    {"seed", K_U64, CO(seed), 0, "seed of everything"},
    {"core", K_STR, PO(core_type), SZ(policy.core_type), "core cell", 0, 0, 0, 0, CELLS},
    {"core_hidden", K_INT, PO(core_hidden), 0, "core units", RANGE(1, 16384)},
    {"core_tick", K_INT, PO(core_tick), 0, "core updates every k control steps", RANGE(1, 1000)},
    {"motor", K_STR, PO(motor_type), SZ(policy.motor_type), "motor cell", 0, 0, 0, 0, CELLS},
    {"motor_hidden", K_INT, PO(motor_hidden), 0, "motor units", RANGE(1, 16384)},
    {"core_groups", K_STR, PO(core_groups), SZ(policy.core_groups),
     "observation groups the core sees (comma list or all)"},
    {"motor_groups", K_STR, PO(motor_groups), SZ(policy.motor_groups),
     "groups of the motor shortcut (comma list, all, or none)"},
    {"prev_action", K_INT, PO(prev_action), 0, "1: core gets the previous action", FLAG},
    {"prev_reward", K_INT, PO(prev_reward), 0, "1: core gets the previous reward", FLAG},
    {"tau", K_FLOAT, PO(tau), 0, "rate RNN time constant (s; dt <= tau)", ABOVE(0)},
    {"dt", K_FLOAT, PO(dt), 0, "rate RNN step (s)", ABOVE(0)},
    {"rnn_noise", K_FLOAT, PO(rnn_noise), 0, "rate RNN recurrent noise sigma", RANGE(0, INF)},
    {"dale", K_INT, PO(dale), 0, "1: Dale's law (both modules must be rnn)", FLAG},
    {"exc_frac", K_FLOAT, PO(exc_frac), 0, "fraction of excitatory units (Dale)", 0, 1, 1, 1},
    {"rnn_act", K_STR, PO(rnn_act), SZ(policy.rnn_act), "rate RNN rate function r(x)", 0, 0, 0,
     0, "relu|tanh"},
    {"rnn_gain", K_FLOAT, PO(rnn_gain), 0, "rate RNN: initial recurrent weights N(0, gain^2/H)",
     ABOVE(0)},
    {"readout", K_STR, PO(readout), SZ(policy.readout),
     "head: action head on the motor; unit: the action is core units 0..A-1", 0, 0, 0, 0,
     "head|unit"},
    {"command_dims", K_INT, PO(command_dims), 0,
     "the last K action values read from the core (a command for the task, e.g. water-maze's "
     "steer=1), not from the motor; 0: none", RANGE(0, 64)},
    {"activity_reg", K_FLOAT, PO(activity_reg), 0, "coefficient of mean squared activity",
     RANGE(0, INF)},
    {"init_logstd", K_FLOAT, PO(init_logstd), 0, "initial action log-std", RANGE(-20, 5)},
    {"action_noise_corr", K_FLOAT, PO(noise_corr), 0,
     "correlation of the action noise from one step to the next (AR(1) with the same standard "
     "normal marginal; 0: white, 1: one draw per episode)", RANGE(0, 1)},
    {"stop_grad_core", K_INT, PO(stop_grad_core), 0, "1: actor gradient does not reach the core",
     FLAG},
    {"motor_core", K_INT, PO(motor_core), 0,
     "0: the motor does not read the core's output (it acts on motor_groups alone; the core "
     "learns through the value and command heads)", FLAG},
    {"obs_clip", K_FLOAT, PO(obs_clip), 0, "clip of normalised observations", ABOVE(0)},
    {"critic_heads", K_INT, PO(critic_heads), 0,
     "value heads K (1: classic critic; >1: distributional, expectile heads)",
     RANGE(1, AMA_MAX_HEADS)},
    {"critic_tau", K_STR, PO(critic_tau), SZ(policy.critic_tau),
     "head asymmetries tau_i in (0,1): spread ((i+0.5)/K), one number, or a list of K"},
    {"conn", K_STR, PO(conn), SZ(policy.conn), "recurrent connectivity (docs/biology.md)", 0, 0,
     0, 0, "full|random|ring|modules|file"},
    {"conn_density", K_FLOAT, PO(conn_density), 0,
     "fraction of recurrent inputs each unit receives (random, ring, modules)", 0, 1, 1, 0},
    {"conn_blocks", K_INT, PO(conn_blocks), 0, "conn = modules: blocks of consecutive units",
     RANGE(1, 16384)},
    {"conn_modules", K_STR, PO(conn_modules), SZ(policy.conn_modules),
     "recurrent modules the connectivity applies to", 0, 0, 0, 0, "core|motor", 1},
    {"conn_file", K_STR, PO(conn_file), SZ(policy.conn_file),
     "conn = file: a .npy or CSV matrix H x H, nonzero = connected (row receives, column sends)",
     0, 0, 0, 0, NULL, 0, 1},
    {"action_head", K_STR, PO(action_head), SZ(policy.action_head),
     "action head: gaussian, or categorical (tasks with discrete actions)", 0, 0, 0, 0,
     "gaussian|categorical"},
    {"horizon", K_INT, LO(horizon), 0, "rollout length T (a multiple of core_tick)",
     RANGE(1, 100000)},
    {"epochs", K_INT, LO(epochs), 0, "PPO epochs per rollout", RANGE(1, 1000)},
    {"minibatches", K_INT, LO(minibatches), 0, "minibatches per epoch (must divide num_envs)",
     RANGE(1, 4096)},
    {"lr", K_FLOAT, LO(lr), 0, "Adam learning rate", 0, 1, 1, 0},
    {"lr_schedule", K_STR, LO(lr_schedule), SZ(ppo.lr_schedule), "learning rate schedule", 0, 0,
     0, 0, "constant|linear"},
    {"gamma", K_FLOAT, LO(gamma), 0, "discount", RANGE(0, 1)},
    {"lambda", K_FLOAT, LO(lambda), 0, "GAE lambda", RANGE(0, 1)},
    {"clip", K_FLOAT, LO(clip), 0, "PPO ratio clip", ABOVE(0)},
    {"vf_coef", K_FLOAT, LO(vf_coef), 0, "value loss coefficient", RANGE(0, INF)},
    {"ent_coef", K_FLOAT, LO(ent_coef), 0, "entropy bonus coefficient", RANGE(0, INF)},
    {"max_grad_norm", K_FLOAT, LO(max_grad_norm), 0, "gradient norm clip (0: none)",
     RANGE(0, INF)},
    {"norm_adv", K_INT, LO(norm_adv), 0, "1: normalise advantages", FLAG},
    {"action_cost", K_FLOAT, LO(action_cost), 0, "extra reward -c*|a|^2", RANGE(0, INF)},
    {"norm_reward", K_INT, LO(norm_reward), 0, "1: scale rewards by the return's running std",
     FLAG},
    {"adam_eps", K_FLOAT, LO(adam_eps), 0, "Adam epsilon", ABOVE(0)},
    {"critic_warmup", K_INT, LO(critic_warmup), 0,
     "iterations at the start in which only the critic learns (a loaded policy is not moved by "
     "a fresh critic's advantages)", RANGE(0, 1000000)},
    {"anchor", K_FLOAT, LO(anchor), 0,
     "beta of a KL(start || policy) penalty per step toward the policy the run started from (its "
     "loaded modules: a reused gait kept while the rest learns; 0: none)", RANGE(0, INF)},
    {"anchor_envs", K_STR, LO(anchor_envs), SZ(ppo.anchor_envs),
     "the anchor's weight by env, a list w0,w1,...: env i's is anchor x w[i mod n] (rat-multi's "
     "assign=env runs tasks[i mod n] in env i: a weight per member); empty: 1 for every env", 0,
     0, 0, 0, NULL, 0, 1},
    {"target_kl", K_FLOAT, LO(target_kl), 0,
     "stop an iteration's policy updates at the first minibatch whose approx_kl exceeds 1.5 x "
     "target_kl; the value head trains on (0: all epochs)", RANGE(0, INF)},
    {"learner", K_STR, CO(learner), SZ(learner),
     "ppo; es: evolution strategies; hebbian: node perturbation (Miconi 2017); the last two "
     "without backpropagation (docs/biology.md)", 0, 0, 0, 0, "ppo|es|hebbian"},
    {"es_pairs", K_INT, EO(pairs), 0, "es: antithetic pairs per iteration (2n divides num_envs)",
     RANGE(1, 2048)},
    {"es_sigma", K_FLOAT, EO(sigma), 0, "es: perturbation scale", ABOVE(0)},
    {"es_optimizer", K_STR, EO(optimizer), SZ(es.optimizer), "es: optimiser of the estimate (lr)",
     0, 0, 0, 0, "adam|sgd"},
    {"es_momentum", K_FLOAT, EO(momentum), 0, "es: sgd momentum", 0, 1, 0, 1},
    {"es_weight_decay", K_FLOAT, EO(weight_decay), 0, "es: L2 coefficient on the parameters",
     RANGE(0, INF)},
    {"hebb_eta", K_FLOAT, HO(eta), 0, "hebbian: learning rate", RANGE(0, INF)},
    {"hebb_max_dw", K_FLOAT, HO(max_dw), 0, "hebbian: clip of each weight's change per trial",
     ABOVE(0)},
    {"hebb_pert_prob", K_FLOAT, HO(pert_prob), 0,
     "hebbian: probability per unit and step of a perturbation", RANGE(0, 1)},
    {"hebb_pert_amp", K_FLOAT, HO(pert_amp), 0,
     "hebbian: perturbation uniform in [-amp, amp] added to a unit's input", RANGE(0, INF)},
    {"hebb_xbar", K_FLOAT, HO(xbar), 0, "hebbian: decay of the running mean of x per step",
     0, 1, 0, 1},
    {"hebb_rbar", K_FLOAT, HO(rbar), 0, "hebbian: decay of the mean reward per trial type",
     0, 1, 0, 1},
    {"hebb_rbar_scale", K_INT, HO(rbar_scale), 0, "hebbian: 1: scale updates by |Rbar|", FLAG},
    {"hebb_warmup", K_INT, HO(warmup), 0, "hebbian: trials before the first weight change",
     RANGE(0, 1e9)},
    {"hebb_plastic_input", K_INT, HO(plastic_input), 0, "hebbian: 1: input weights learn too",
     FLAG},
    {"load_module", K_STR, CO(load_module), SZ(load_module),
     "modules to copy from load_path (comma list; empty: none)", 0, 0, 0, 0, MODULES, 1, 1},
    {"load_path", K_STR, CO(load_path), SZ(load_path), "checkpoint to copy load_module from", 0,
     0, 0, 0, NULL, 0, 1},
    {"load_extra_module", K_STR, CO(load_extra_module), SZ(load_extra_module),
     "modules to copy from load_extra_path after load_module's (a second source; empty: none)", 0,
     0, 0, 0, MODULES, 1, 1},
    {"load_extra_path", K_STR, CO(load_extra_path), SZ(load_extra_path),
     "checkpoint to copy load_extra_module from", 0, 0, 0, 0, NULL, 0, 1},
    {"freeze", K_STR, CO(freeze), SZ(freeze), "modules not trained (empty: none)", 0,
     0, 0, 0, MODULES, 1, 1},
    {"reset_logstd", K_INT, CO(reset_logstd), 0,
     "1: the action log-stds start at init_logstd although load_module copies the head (and "
     "command)", FLAG},
};
#define N_KEYS ((int)(sizeof(KEYS) / sizeof(KEYS[0])))

// A comma list of at most max numbers (each a `what`), each in [lo, hi] (open: (lo, hi)), from
// config key `key` into out (*n of them). Errors name the key and the value; `valid` says what the
// key takes.
static int parse_floats(const char* key, const char* what, const char* s, double lo, double hi,
                        int open, float* out, int max, int* n, const char* valid, char* err,
                        size_t err_sz) {
  *n = 0;
  for (const char* q = s;;) {
    char* end = NULL;
    double v = strtod(q, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (end == q || (*end && *end != ','))
      return am_err(err, err_sz, "config key '%s': '%s' is not valid (valid: %s)", key, s, valid);
    if (open ? !(v > lo && v < hi) : !(v >= lo && v <= hi))
      return am_err(err, err_sz, "config key '%s': %g (in '%s') is out of range (each %s must "
                    "lie in %c%g, %g%c)", key, v, s, what, open ? '(' : '[', lo, hi,
                    open ? ')' : ']');
    if (*n == max)
      return am_err(err, err_sz, "config key '%s': '%s' has more than %d values", key, s, max);
    out[(*n)++] = (float)v;
    if (!*end) return 0;
    q = end + 1;
  }
}

// critic_tau's text: "spread" (*n = 0) or up to AMA_MAX_HEADS numbers in (0, 1) (*n of them).
static int parse_taus(const char* s, float* tau, int* n, char* err, size_t err_sz) {
  *n = 0;
  if (!strcmp(s, "spread")) return 0;
  return parse_floats("critic_tau", "tau", s, 0, 1, 1, tau, AMA_MAX_HEADS, n,
                      "spread, one number, or a comma list of critic_heads numbers, each in (0, "
                      "1)", err, err_sz);
}

int ama_anchor_weights(const ama_config* c, float* w, char* err, size_t err_sz) {
  for (int i = 0; i < c->num_envs; i++) w[i] = 1.0f;
  if (!c->ppo.anchor_envs[0]) return 0;
  float v[AMA_MAX_ANCHOR_ENVS];
  int n;
  if (parse_floats("anchor_envs", "weight", c->ppo.anchor_envs, 0, INF, 0, v,
                   AMA_MAX_ANCHOR_ENVS, &n, "a comma list of weights >= 0, env i taking the "
                   "(i mod n)-th", err, err_sz))
    return -1;
  if (n > c->num_envs)
    return am_err(err, err_sz, "anchor_envs = %s has %d weights for num_envs = %d envs",
                  c->ppo.anchor_envs, n, c->num_envs);
  for (int i = 0; i < c->num_envs; i++) w[i] = v[i % n];
  return 0;
}

// "0 <= gamma <= 1", "lr > 0", "0 or 1", "one of gru, lstm, rnn, mlp".
static void valid_text(const key_def* k, char* buf, size_t sz) {
  if (k->type == K_STR) {
    size_t n = 0;
    if (k->choices) {
      n = (size_t)snprintf(buf, sz, "%s", k->list ? "a comma list of " : "one of ");
      for (const char* s = k->choices; *s && n < sz;) {
        size_t len = strcspn(s, "|");
        n += (size_t)snprintf(buf + n, sz - n, "%s%.*s", s == k->choices ? "" : ", ", (int)len, s);
        s += len + (s[len] == '|');
      }
    } else {
      n = (size_t)snprintf(buf, sz, "%s", k->empty ? "any text" : "non-empty text");
    }
    if (k->choices && k->empty && n < sz) snprintf(buf + n, sz - n, ", or empty");
    return;
  }
  if (k->type == K_U64) {
    snprintf(buf, sz, "0 <= %s <= %llu", k->key, (unsigned long long)UINT64_MAX);
  } else if (k->type == K_INT && k->lo == 0 && k->hi == 1) {
    snprintf(buf, sz, "0 or 1");
  } else if (isinf(k->hi)) {
    snprintf(buf, sz, "%s %s %.15g", k->key, k->lo_open ? ">" : ">=", k->lo);
  } else {
    snprintf(buf, sz, "%.15g %s %s %s %.15g", k->lo, k->lo_open ? "<" : "<=", k->key,
             k->hi_open ? "<" : "<=", k->hi);
  }
}

static int in_range(const key_def* k, double v) {
  return (k->lo_open ? v > k->lo : v >= k->lo) && (k->hi_open ? v < k->hi : v <= k->hi);
}

// Is s one of k->choices (a comma list of them when k->list)?
static int valid_choice(const key_def* k, const char* s) {
  if (!*s) return k->empty;
  if (!k->choices) return 1;
  for (;;) {
    size_t len = k->list ? strcspn(s, ",") : strlen(s);
    int hit = 0;
    for (const char* c = k->choices; *c && !hit;) {
      size_t cl = strcspn(c, "|");
      hit = cl == len && strncmp(c, s, len) == 0;
      c += cl + (c[cl] == '|');
    }
    if (!hit) return 0;
    if (!s[len]) return 1;
    s += len + 1;
  }
}

int ama_config_set(ama_config* c, const char* key, const char* value, char* err, size_t err_sz) {
  for (int i = 0; i < N_KEYS; i++) {
    const key_def* k = &KEYS[i];
    if (strcmp(k->key, key) != 0) continue;
    char* p = (char*)c + k->off;
    char* end = NULL;
    char valid[160];
    valid_text(k, valid, sizeof(valid));
    const char* what = NULL;  // what the value is not, when it does not parse
    double v = 0;
    errno = 0;
    switch (k->type) {
      case K_INT: {
        long n = strtol(value, &end, 10);
        if (end == value || *end || errno) what = "an integer";
        v = (double)n;
        break;
      }
      case K_I64: {
        v = strtod(value, &end);  // accepts 1e6
        if (end == value || *end || errno || !isfinite(v) || v != floor(v)) what = "an integer";
        break;
      }
      case K_U64: {
        while (isspace((unsigned char)*value)) value++;
        unsigned long long u = strtoull(value, &end, 10);  // (strtoull alone would take "-1")
        if (*value == '-' || end == value || *end || errno) {
          what = "a non-negative integer";
          break;
        }
        *(uint64_t*)p = (uint64_t)u;
        return 0;
      }
      case K_FLOAT: {
        v = strtod(value, &end);
        if (end == value || *end || !isfinite(v) || !isfinite((float)v)) what = "a number";
        v = (double)(float)v;  // the range applies to the value stored (1e-50 is 0 as a float)
        break;
      }
      case K_STR:
        if (!valid_choice(k, value))
          return am_err(err, err_sz, "config key '%s': '%s' is not valid (valid: %s)", key, value,
                        valid);
        if (k->off == PO(critic_tau)) {  // numbers in (0, 1) or spread; their count: at check
          float tau[AMA_MAX_HEADS];
          int n;
          if (parse_taus(value, tau, &n, err, err_sz)) return -1;
        }
        if (strlen(value) >= k->size)
          return am_err(err, err_sz, "config key '%s': value '%s' is too long (max %zu chars)", key,
                        value, k->size - 1);
        snprintf(p, k->size, "%s", value);
        return 0;
    }
    if (what)
      return am_err(err, err_sz, "config key '%s': '%s' is not %s (valid: %s)", key, value, what,
                    valid);
    if (!in_range(k, v))
      return am_err(err, err_sz, "config key '%s': %s is out of range (valid: %s)", key, value,
                    valid);
    if (k->type == K_INT) *(int*)p = (int)v;
    else if (k->type == K_I64) *(int64_t*)p = (int64_t)v;
    else *(float*)p = (float)v;
    return 0;
  }
  int n = snprintf(err, err_sz, "unknown config key '%s'; valid keys:", key);
  for (int i = 0; i < N_KEYS && n > 0 && (size_t)n < err_sz; i++)
    n += snprintf(err + n, err_sz - n, " %s", KEYS[i].key);
  return -1;
}

int ama_config_check(const ama_config* c, char* err, size_t err_sz) {
  const ama_policy_cfg* p = &c->policy;
  const char* mod[2] = {"core", "motor"};
  const char* type[2] = {p->core_type, p->motor_type};
  for (int m = 0; m < 2; m++) {
    if (p->dale && strcmp(type[m], "rnn") != 0)
      return am_err(err, err_sz,
                    "dale = 1: Dale's law is implemented by the rate RNN cell only, but the %s "
                    "module is a %s cell (%s = %s): %s; set %s = rnn, or dale = 0",
                    mod[m], type[m], mod[m], type[m],
                    !strcmp(type[m], "mlp")
                        ? "an mlp has no recurrent weights to sign"
                        : "its output h is signed (tanh, in (-1, 1)), so a unit's effect on the "
                          "others changes sign with its activity whatever the signs of its "
                          "weights: no unit is excitatory or inhibitory",
                    mod[m]);
    if (!strcmp(type[m], "rnn") && p->dt > p->tau)
      return am_err(err, err_sz,
                    "dt = %g must not exceed tau = %g: the %s module is a rate RNN (%s = rnn)",
                    p->dt, p->tau, mod[m], mod[m]);
  }
  if (!strcmp(p->conn, "full") && p->conn_density != 1.0f)
    return am_err(err, err_sz, "conn_density = %g has no effect with conn = full (set conn = "
                  "random, ring or modules)", p->conn_density);
  if (!strcmp(p->conn, "file") && !p->conn_file[0])
    return am_err(err, err_sz, "conn = file needs conn_file (a .npy or CSV matrix of the recurrent "
                  "connections, docs/biology.md)");
  if (p->conn_file[0] && strcmp(p->conn, "file"))
    return am_err(err, err_sz, "conn_file = %s is given but conn = %s (set conn = file)",
                  p->conn_file, p->conn);
  if (!strcmp(c->learner, "es") && c->num_envs % (2 * c->es.pairs))
    return am_err(err, err_sz, "learner = es: num_envs = %d must be a multiple of 2 x es_pairs = "
                  "%d (each of the %d perturbations is evaluated on the same number of envs)",
                  c->num_envs, 2 * c->es.pairs, 2 * c->es.pairs);
  if (!strcmp(p->readout, "unit") && !strcmp(c->learner, "ppo"))
    return am_err(err, err_sz, "readout = unit: the action is the core's own units, which PPO "
                  "cannot train through its action head (no gradient path); use readout = head "
                  "with learner = ppo, or learner = hebbian or es");
  if (p->command_dims > 0 && strcmp(c->learner, "ppo"))
    return am_err(err, err_sz, "command_dims = %d is trained by PPO through the core; learner = %s "
                  "is not supported with it", p->command_dims, c->learner);
  if (p->command_dims > 0 && strcmp(p->action_head, "gaussian"))
    return am_err(err, err_sz, "command_dims = %d needs action_head = gaussian (got %s)",
                  p->command_dims, p->action_head);
  if (!strcmp(c->learner, "hebbian")) {
    if (strcmp(p->core_type, "rnn"))
      return am_err(err, err_sz, "learner = hebbian trains a leaky rate RNN core (Miconi 2017), "
                    "but core = %s%s; set core = rnn", p->core_type,
                    !strcmp(p->core_type, "gru") || !strcmp(p->core_type, "lstm")
                        ? ": a gated cell's units have no single input to perturb and its gates' "
                          "weights no Hebbian rule"
                        : "");
    if (strcmp(p->readout, "unit"))
      return am_err(err, err_sz, "learner = hebbian needs readout = unit (the action is read from "
                    "core units 0..A-1, as Miconi's output neuron; the motor module and the "
                    "action head are not trained by the Hebbian rule)");
    if (p->core_tick != 1)
      return am_err(err, err_sz, "learner = hebbian needs core_tick = 1 (got %d): the trace "
                    "follows every step of the core", p->core_tick);
    if (p->dale)
      return am_err(err, err_sz, "learner = hebbian with dale = 1 is not supported: the rule "
                    "changes raw weights freely (Miconi 2017 has no Dale's law)");
    if (p->rnn_noise > 0)
      return am_err(err, err_sz, "learner = hebbian with rnn_noise = %g is not supported: the "
                    "rule's exploration is its own perturbations (hebb_pert_prob, "
                    "hebb_pert_amp); set rnn_noise = 0", p->rnn_noise);
  }
  if (c->ppo.horizon % p->core_tick)
    return am_err(err, err_sz, "horizon = %d must be a multiple of core_tick = %d", c->ppo.horizon,
                  p->core_tick);
  if (c->num_envs % c->ppo.minibatches)
    return am_err(err, err_sz, "minibatches = %d must divide num_envs = %d", c->ppo.minibatches,
                  c->num_envs);
  float tau[AMA_MAX_HEADS];
  if (ama_critic_taus(p, tau, err, err_sz)) return -1;
  if (c->load_module[0] && !c->load_path[0])
    return am_err(err, err_sz,
                  "load_module = %s needs load_path (the checkpoint to copy the module from)",
                  c->load_module);
  if (c->ppo.anchor > 0 && !c->load_module[0])
    return am_err(err, err_sz, "anchor = %g needs load_module (the policy to stay near is the one "
                  "loaded at the start)", c->ppo.anchor);
  if (c->ppo.anchor > 0 && strcmp(c->learner, "ppo"))
    return am_err(err, err_sz, "anchor = %g is a term of the PPO loss; learner = %s has none",
                  c->ppo.anchor, c->learner);
  if (c->ppo.anchor_envs[0] && !(c->ppo.anchor > 0))
    return am_err(err, err_sz, "anchor_envs = %s weights the anchor, but anchor = %g (set anchor "
                  "> 0)", c->ppo.anchor_envs, c->ppo.anchor);
  if (c->ppo.anchor_envs[0]) {
    float* w = malloc(sizeof(float) * (size_t)c->num_envs);
    if (!w) return am_err(err, err_sz, "out of memory");
    int rc = ama_anchor_weights(c, w, err, err_sz);
    free(w);
    if (rc) return -1;
  }
  if (c->ppo.target_kl > 0 && strcmp(c->learner, "ppo"))
    return am_err(err, err_sz, "target_kl = %g stops PPO's epochs; learner = %s has none",
                  c->ppo.target_kl, c->learner);
  if (c->ppo.anchor > 0 && !strcmp(p->action_head, "categorical"))
    return am_err(err, err_sz, "anchor = %g is defined for the Gaussian action head, not "
                  "action_head = categorical", c->ppo.anchor);
  if (c->load_path[0] && !c->load_module[0])
    return am_err(err, err_sz,
                  "load_path = %s given without load_module (the modules to copy: core, motor, "
                  "head, critic, command)",
                  c->load_path);
  if (!c->load_extra_module[0] != !c->load_extra_path[0])
    return am_err(err, err_sz, "load_extra_module = '%s' and load_extra_path = '%s' go together",
                  c->load_extra_module, c->load_extra_path);
  if (c->load_extra_module[0] && !c->load_module[0])
    return am_err(err, err_sz, "load_extra_module = %s needs load_module (it adds to what "
                  "load_module copies; use load_module for one source)", c->load_extra_module);
  if (p->noise_corr > 0 && !strcmp(p->action_head, "categorical"))
    return am_err(err, err_sz, "action_noise_corr = %g correlates the Gaussian head's noise; "
                  "action_head = categorical has none", p->noise_corr);
  if (c->reset_logstd && !strcmp(p->action_head, "categorical"))
    return am_err(err, err_sz, "reset_logstd = 1 sets the Gaussian head's log-std; action_head = "
                  "categorical has none");
  if (c->reset_logstd && !ama_config_loads(c, "head") && !ama_config_loads(c, "command"))
    return am_err(err, err_sz, "reset_logstd = 1 needs load_module with head or command "
                  "(load_module = '%s'; the log-stds of modules not loaded start at "
                  "init_logstd already)", c->load_module);
  return 0;
}

int ama_config_loads(const ama_config* c, const char* module) {
  return ama_module_listed(c->load_module, module) ||
         ama_module_listed(c->load_extra_module, module);
}

int ama_critic_taus(const ama_policy_cfg* cfg, float* tau, char* err, size_t err_sz) {
  int K = cfg->critic_heads, n;
  if (K < 1 || K > AMA_MAX_HEADS)
    return am_err(err, err_sz, "critic_heads = %d is out of range (valid: 1 <= critic_heads <= %d)",
                  K, AMA_MAX_HEADS);
  float t[AMA_MAX_HEADS];
  if (parse_taus(cfg->critic_tau, t, &n, err, err_sz)) return -1;
  if (n > 1 && n != K)
    return am_err(err, err_sz, "critic_tau = %s has %d values but critic_heads = %d (give one "
                  "number, %d numbers, or spread)", cfg->critic_tau, n, K, K);
  for (int i = 0; i < K; i++) tau[i] = n == 0 ? (float)((i + 0.5) / K) : t[n == 1 ? 0 : i];
  return 0;
}

static char* trim(char* s) {
  while (isspace((unsigned char)*s)) s++;
  char* e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

int ama_config_set_line(ama_config* c, const char* line, char* err, size_t err_sz) {
  char buf[1600];
  if (strlen(line) >= sizeof(buf))
    return am_err(err, err_sz, "line too long (%zu chars, max %zu): '%.40s...'", strlen(line),
                  sizeof(buf) - 1, line);
  snprintf(buf, sizeof(buf), "%s", line);
  char* hash = strchr(buf, '#');
  if (hash) *hash = 0;
  char* s = trim(buf);
  if (!*s) return 0;
  char key[64], value[sizeof buf];
  int rc = am_kv_split(s, key, sizeof key, value, sizeof value);
  if (rc == -2) return am_err(err, err_sz, "config key too long in '%s'", s);
  if (rc) return am_err(err, err_sz, "expected key = value, got '%s'", s);
  return ama_config_set(c, key, value, err, err_sz);
}

int ama_config_parse(ama_config* c, const char* text, const char* origin, char* err,
                     size_t err_sz) {
  int line_no = 0;
  const char* p = text;
  while (*p) {
    const char* nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[1600];
    line_no++;
    char e[1400];
    if (len >= sizeof(line)) {
      snprintf(err, err_sz, "%s:%d: line too long (%zu chars, max %zu)", origin, line_no, len,
               sizeof(line) - 1);
      return -1;
    }
    memcpy(line, p, len);
    line[len] = 0;
    if (ama_config_set_line(c, line, e, sizeof(e)) != 0) {
      snprintf(err, err_sz, "%s:%d: %s", origin, line_no, e);
      return -1;
    }
    p += nl ? (size_t)(nl - p) + 1 : len;
  }
  return 0;
}

int ama_config_write(const ama_config* c, char* buf, size_t sz) {
  size_t n = 0;
  for (int i = 0; i < N_KEYS; i++) {
    const char* p = (const char*)c + KEYS[i].off;
    char v[1100];
    switch (KEYS[i].type) {
      case K_INT: snprintf(v, sizeof(v), "%d", *(const int*)p); break;
      case K_I64: snprintf(v, sizeof(v), "%lld", (long long)*(const int64_t*)p); break;
      case K_U64: snprintf(v, sizeof(v), "%llu", (unsigned long long)*(const uint64_t*)p); break;
      case K_FLOAT: snprintf(v, sizeof(v), "%.9g", *(const float*)p); break;
      case K_STR: snprintf(v, sizeof(v), "%s", p); break;
    }
    int k = snprintf(buf + (n < sz ? n : sz), n < sz ? sz - n : 0, "%s = %s\n", KEYS[i].key, v);
    n += (size_t)k;
  }
  return (int)n;
}

int ama_config_help(char* buf, size_t sz) {
  size_t n = 0;
  for (int i = 0; i < N_KEYS; i++) {
    char valid[160] = "";
    if (KEYS[i].type != K_STR || KEYS[i].choices) valid_text(&KEYS[i], valid, sizeof(valid));
    int k = snprintf(buf + (n < sz ? n : sz), n < sz ? sz - n : 0, "  %-16s %s%s%s%s\n",
                     KEYS[i].key, KEYS[i].meaning, valid[0] ? " [" : "", valid,
                     valid[0] ? "]" : "");
    n += (size_t)k;
  }
  return (int)n;
}

//---------------------------------- normaliser ----------------------------------------------------

int ama_norm_init(ama_norm* z, int n, float clip, char* err, size_t err_sz) {
  memset(z, 0, sizeof(*z));
  z->n = n;
  z->clip = clip;
  z->counts = calloc((size_t)n + 1, sizeof(double));
  z->mean = calloc((size_t)n + 1, sizeof(double));
  z->m2 = calloc((size_t)n + 1, sizeof(double));
  z->frozen = calloc((size_t)n + 1, 1);
  z->scale = calloc((size_t)n + 1, sizeof(float));
  z->shift = calloc((size_t)n + 1, sizeof(float));
  if (!z->counts || !z->mean || !z->m2 || !z->frozen || !z->scale || !z->shift) {
    ama_norm_free(z);
    snprintf(err, err_sz, "out of memory for the observation normaliser");
    return -1;
  }
  for (int i = 0; i < n; i++) z->scale[i] = 1.0f;
  return 0;
}

void ama_norm_free(ama_norm* z) {
  free(z->counts);
  free(z->mean);
  free(z->m2);
  free(z->frozen);
  free(z->scale);
  free(z->shift);
  z->counts = z->mean = z->m2 = NULL;
  z->frozen = NULL;
  z->scale = z->shift = NULL;
}

void ama_col_stats(const float* x, int rows, int n, int i, double* mean, double* m2) {
  double s = 0;
  for (int r = 0; r < rows; r++) s += x[(size_t)r * n + i];
  double bm = s / rows, bm2 = 0;
  for (int r = 0; r < rows; r++) {
    double d = x[(size_t)r * n + i] - bm;
    bm2 += d * d;
  }
  *mean = bm;
  *m2 = bm2;
}

void ama_chan_merge(double* count, double* mean, double* m2, double nb, double bm, double bm2) {
  double na = *count, nt = na + nb, delta = bm - *mean;
  *mean += delta * nb / nt;
  *m2 += bm2 + delta * delta * na * nb / nt;
  *count = nt;
}

void ama_norm_update(ama_norm* z, const float* x, int rows) {
  if (rows <= 0) return;
  for (int i = 0; i < z->n; i++) {
    if (z->frozen[i]) continue;
    double bm, bm2;
    ama_col_stats(x, rows, z->n, i, &bm, &bm2);
    ama_chan_merge(&z->counts[i], &z->mean[i], &z->m2[i], rows, bm, bm2);
  }
  z->count += rows;
  ama_norm_refresh(z);
}

void ama_norm_refresh(ama_norm* z) {
  for (int i = 0; i < z->n; i++) {
    double var = z->counts[i] > 1 ? z->m2[i] / z->counts[i] : 1.0;
    z->scale[i] = (float)(1.0 / sqrt(var + 1e-8));
    z->shift[i] = (float)z->mean[i];
  }
}

void ama_norm_copy(ama_norm* dst, const ama_norm* src) {
  size_t n = (size_t)src->n;
  dst->count = src->count;
  memcpy(dst->counts, src->counts, n * sizeof(double));
  memcpy(dst->mean, src->mean, n * sizeof(double));
  memcpy(dst->m2, src->m2, n * sizeof(double));
  memcpy(dst->scale, src->scale, n * sizeof(float));
  memcpy(dst->shift, src->shift, n * sizeof(float));
}

void ama_norm_apply(const ama_norm* z, const float* x, float* out, int rows) {
  const float c = z->clip;
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < z->n; i++) {
      float v = (x[(size_t)r * z->n + i] - z->shift[i]) * z->scale[i];
      out[(size_t)r * z->n + i] = v > c ? c : v < -c ? -c : v;
    }
}
