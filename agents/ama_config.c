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
  snprintf(c->task, sizeof(c->task), "reacher");
  c->total_steps = 1000000;
  c->num_envs = 64;
  c->seed = 1;
}

typedef enum { K_INT, K_FLOAT, K_STR, K_I64, K_U64 } ktype;
typedef struct key_def {
  const char* key;
  ktype type;
  size_t off;
  size_t size;  // for strings
  const char* meaning;
} key_def;

#define PO(f) offsetof(ama_config, policy.f)
#define LO(f) offsetof(ama_config, ppo.f)
#define CO(f) offsetof(ama_config, f)
#define SZ(f) sizeof(((ama_config*)0)->f)
static const key_def KEYS[] = {
    {"task", K_STR, CO(task), SZ(task), "task name"},
    {"task_params", K_STR, CO(task_params), SZ(task_params), "task parameters k=v;k=v"},
    {"total_steps", K_I64, CO(total_steps), 0, "env steps to train for"},
    {"num_envs", K_INT, CO(num_envs), 0, "parallel envs"},
    {"seed", K_U64, CO(seed), 0, "seed of everything"},
    {"core", K_STR, PO(core_type), SZ(policy.core_type), "core cell: gru|lstm|rnn|mlp"},
    {"core_hidden", K_INT, PO(core_hidden), 0, "core units"},
    {"core_tick", K_INT, PO(core_tick), 0, "core updates every k control steps"},
    {"motor", K_STR, PO(motor_type), SZ(policy.motor_type), "motor cell: gru|lstm|rnn|mlp"},
    {"motor_hidden", K_INT, PO(motor_hidden), 0, "motor units"},
    {"core_groups", K_STR, PO(core_groups), SZ(policy.core_groups),
     "observation groups the core sees (comma list or all)"},
    {"motor_groups", K_STR, PO(motor_groups), SZ(policy.motor_groups),
     "groups of the motor shortcut (comma list, all, or none)"},
    {"prev_action", K_INT, PO(prev_action), 0, "1: core gets the previous action"},
    {"prev_reward", K_INT, PO(prev_reward), 0, "1: core gets the previous reward"},
    {"tau", K_FLOAT, PO(tau), 0, "rate RNN time constant (s)"},
    {"dt", K_FLOAT, PO(dt), 0, "rate RNN step (s)"},
    {"rnn_noise", K_FLOAT, PO(rnn_noise), 0, "rate RNN recurrent noise sigma"},
    {"dale", K_INT, PO(dale), 0, "1: rate RNN obeys Dale's law"},
    {"exc_frac", K_FLOAT, PO(exc_frac), 0, "fraction of excitatory units (Dale)"},
    {"activity_reg", K_FLOAT, PO(activity_reg), 0, "coefficient of mean squared activity"},
    {"init_logstd", K_FLOAT, PO(init_logstd), 0, "initial action log-std"},
    {"stop_grad_core", K_INT, PO(stop_grad_core), 0, "1: actor gradient does not reach the core"},
    {"obs_clip", K_FLOAT, PO(obs_clip), 0, "clip of normalised observations"},
    {"horizon", K_INT, LO(horizon), 0, "rollout length T (steps per env per iteration)"},
    {"epochs", K_INT, LO(epochs), 0, "PPO epochs per rollout"},
    {"minibatches", K_INT, LO(minibatches), 0, "minibatches per epoch (split over envs)"},
    {"lr", K_FLOAT, LO(lr), 0, "Adam learning rate"},
    {"lr_schedule", K_STR, LO(lr_schedule), SZ(ppo.lr_schedule), "constant|linear"},
    {"gamma", K_FLOAT, LO(gamma), 0, "discount"},
    {"lambda", K_FLOAT, LO(lambda), 0, "GAE lambda"},
    {"clip", K_FLOAT, LO(clip), 0, "PPO ratio clip"},
    {"vf_coef", K_FLOAT, LO(vf_coef), 0, "value loss coefficient"},
    {"ent_coef", K_FLOAT, LO(ent_coef), 0, "entropy bonus coefficient"},
    {"max_grad_norm", K_FLOAT, LO(max_grad_norm), 0, "gradient norm clip (0: none)"},
    {"norm_adv", K_INT, LO(norm_adv), 0, "1: normalise advantages"},
    {"action_cost", K_FLOAT, LO(action_cost), 0, "extra reward -c*|a|^2"},
    {"norm_reward", K_INT, LO(norm_reward), 0, "1: scale rewards by the return's running std"},
    {"adam_eps", K_FLOAT, LO(adam_eps), 0, "Adam epsilon"},
    {"load_module", K_STR, CO(load_module), SZ(load_module),
     "modules to copy from load_path: comma list of core, motor, head, critic"},
    {"load_path", K_STR, CO(load_path), SZ(load_path), "checkpoint to copy load_module from"},
    {"freeze", K_STR, CO(freeze), SZ(freeze),
     "modules not trained: comma list of core, motor, head, critic"},
};
#define N_KEYS ((int)(sizeof(KEYS) / sizeof(KEYS[0])))

int ama_config_set(ama_config* c, const char* key, const char* value, char* err, size_t err_sz) {
  for (int i = 0; i < N_KEYS; i++) {
    if (strcmp(KEYS[i].key, key) != 0) continue;
    char* p = (char*)c + KEYS[i].off;
    char* end = NULL;
    errno = 0;
    switch (KEYS[i].type) {
      case K_INT: {
        long v = strtol(value, &end, 10);
        if (end == value || *end || errno) break;
        *(int*)p = (int)v;
        return 0;
      }
      case K_I64: {
        double v = strtod(value, &end);  // accepts 1e6
        if (end == value || *end || errno || v != floor(v)) break;
        *(int64_t*)p = (int64_t)v;
        return 0;
      }
      case K_U64: {
        unsigned long long v = strtoull(value, &end, 10);
        if (end == value || *end || errno) break;
        *(uint64_t*)p = (uint64_t)v;
        return 0;
      }
      case K_FLOAT: {
        float v = strtof(value, &end);
        if (end == value || *end || errno || !isfinite(v)) break;
        *(float*)p = v;
        return 0;
      }
      case K_STR:
        if (strlen(value) >= KEYS[i].size) {
          snprintf(err, err_sz, "config key '%s': value too long (max %zu chars)", key,
                   KEYS[i].size - 1);
          return -1;
        }
        snprintf(p, KEYS[i].size, "%s", value);
        return 0;
    }
    snprintf(err, err_sz, "config key '%s': bad value '%s'", key, value);
    return -1;
  }
  int n = snprintf(err, err_sz, "unknown config key '%s'; valid keys:", key);
  for (int i = 0; i < N_KEYS && n > 0 && (size_t)n < err_sz; i++)
    n += snprintf(err + n, err_sz - n, " %s", KEYS[i].key);
  return -1;
}

static char* trim(char* s) {
  while (isspace((unsigned char)*s)) s++;
  char* e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

int ama_config_set_line(ama_config* c, const char* line, char* err, size_t err_sz) {
  char buf[1600];
  snprintf(buf, sizeof(buf), "%s", line);
  char* hash = strchr(buf, '#');
  if (hash) *hash = 0;
  char* s = trim(buf);
  if (!*s) return 0;
  char* eq = strchr(s, '=');
  if (!eq) {
    snprintf(err, err_sz, "expected key = value, got '%s'", s);
    return -1;
  }
  *eq = 0;
  return ama_config_set(c, trim(s), trim(eq + 1), err, err_sz);
}

int ama_config_parse(ama_config* c, const char* text, const char* origin, char* err,
                     size_t err_sz) {
  int line_no = 0;
  const char* p = text;
  while (*p) {
    const char* nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[1600];
    if (len >= sizeof(line)) len = sizeof(line) - 1;
    memcpy(line, p, len);
    line[len] = 0;
    line_no++;
    char e[768];
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
    int k = snprintf(buf + (n < sz ? n : sz), n < sz ? sz - n : 0, "  %-16s %s\n", KEYS[i].key,
                     KEYS[i].meaning);
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

void ama_norm_update(ama_norm* z, const float* x, int rows) {
  if (rows <= 0) return;
  for (int i = 0; i < z->n; i++) {
    if (z->frozen[i]) continue;
    double s = 0;
    for (int r = 0; r < rows; r++) s += x[(size_t)r * z->n + i];
    double bm = s / rows, bm2 = 0;
    for (int r = 0; r < rows; r++) {
      double d = x[(size_t)r * z->n + i] - bm;
      bm2 += d * d;
    }
    double na = z->counts[i], nb = rows, nt = na + nb, delta = bm - z->mean[i];
    z->mean[i] += delta * nb / nt;
    z->m2[i] += bm2 + delta * delta * na * nb / nt;
    z->counts[i] = nt;
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

void ama_norm_apply(const ama_norm* z, const float* x, float* out, int rows) {
  const float c = z->clip;
  for (int r = 0; r < rows; r++)
    for (int i = 0; i < z->n; i++) {
      float v = (x[(size_t)r * z->n + i] - z->shift[i]) * z->scale[i];
      out[(size_t)r * z->n + i] = v > c ? c : v < -c ? -c : v;
    }
}
