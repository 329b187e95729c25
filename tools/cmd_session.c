// cmd_session.c: `animat session RUN --protocol FILE --out DIR`: an experiment's block protocol
// (baseline, force field, washout, ...) run by a trained agent trial after trial on a fixed set of
// envs, while the agent keeps learning with PPO on the session's own experience (learning = ppo) or
// with its weights fixed (learning = none), everything recorded:
//   DIR/protocol.txt     the protocol as run (every key, after the command line's overrides)
//   DIR/config.txt       the learner's configuration (the checkpoint's, with the session's keys)
//   DIR/session.rollout  every step of every env's protocol (animat record's channels, the
//                        network's activity and the `update` channel: updates applied so far)
//   DIR/updates.csv      per update: trials done, rewards, losses, KL, gradient and step norms
//   DIR/params.rollout   the parameters at update 0, every snapshot_every updates and at the end
//   DIR/checkpoint.bin       the learner at the end (learning = ppo)
//   DIR/trials.csv       the trial table (animat trials), DIR/adaptation/ (animat analyze
//                        adaptation: per-block error curves, after-effects, savings)
// docs/experiments.md is the user's description.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "am_dataset.h"
#include "ama_agents.h"
#include "amt_tasks.h"
#include "cli.h"
#include "record_net.h"
#include "table.h"

#define MAX_BLOCKS 32

typedef struct protocol {
  char task[64];
  amt_params params;            // task_param lines
  int n_blocks;
  char block_name[MAX_BLOCKS][32];
  int block_trials[MAX_BLOCKS];
  double block_value[MAX_BLOCKS];
  int envs;
  char learning[8];             // "ppo" | "none"
  int snapshot_every;           // updates between parameter snapshots
  int record_network;           // record = all (1: the network's activity too) | behaviour (0)
  int lossy;                    // lossy = 1: observations and activity with half the bits
  int adam_from_checkpoint;     // optimizer = checkpoint (1) | fresh (0): the Adam state to start
  uint64_t seed;
  int n_keys;                   // learner keys (ama_config), applied on the checkpoint's config
  char key[24][32], value[24][128];
} protocol;

// The learner keys a protocol may set: the learning rule's, never the architecture's.
static const char* const LEARNER_KEYS[] = {
    "horizon", "epochs", "minibatches", "lr", "gamma", "lambda", "clip", "vf_coef", "ent_coef",
    "max_grad_norm", "norm_adv", "action_cost", "norm_reward", "adam_eps", "freeze", NULL};

static int is_learner_key(const char* k) {
  for (int i = 0; LEARNER_KEYS[i]; i++)
    if (!strcmp(k, LEARNER_KEYS[i])) return 1;
  return 0;
}

static int parse_u64(const char* v, uint64_t* out) {
  char* end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || end == v || *end || v[0] == '-') return -1;
  *out = x;
  return 0;
}

static int parse_int(const char* v, int lo, int hi, int* out) {
  char* end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return -1;
  *out = (int)x;
  return 0;
}

// One protocol line "key = value" (comments and blank lines already removed).
static int protocol_set(protocol* p, const char* k, const char* v, char* err, size_t err_sz) {
  if (!strcmp(k, "task")) {
    if (strlen(v) >= sizeof p->task) return am_err(err, err_sz, "task: '%s' is too long", v);
    snprintf(p->task, sizeof p->task, "%s", v);
  } else if (!strcmp(k, "task_param")) {
    return amt_params_add(&p->params, v, err, err_sz);
  } else if (!strcmp(k, "block")) {
    char name[64], extra[8];
    int n;
    double x;
    if (sscanf(v, "%63s %d %lf %7s", name, &n, &x, extra) != 3 || n < 1 || !isfinite(x) ||
        strlen(name) >= sizeof p->block_name[0])
      return am_err(err, err_sz, "block: '%s' must be NAME TRIALS VALUE (a name of up to 31 "
                    "characters, TRIALS >= 1 per env, VALUE the field gain or the rotation in deg)",
                    v);
    if (p->n_blocks == MAX_BLOCKS)
      return am_err(err, err_sz, "block: more than %d blocks", MAX_BLOCKS);
    snprintf(p->block_name[p->n_blocks], sizeof p->block_name[0], "%s", name);
    p->block_trials[p->n_blocks] = n;
    p->block_value[p->n_blocks++] = x;
  } else if (!strcmp(k, "envs")) {
    if (parse_int(v, 1, 4096, &p->envs))
      return am_err(err, err_sz, "envs: '%s' must be an integer in [1, 4096]", v);
  } else if (!strcmp(k, "learning")) {
    if (strcmp(v, "ppo") && strcmp(v, "none"))
      return am_err(err, err_sz, "learning: '%s' must be ppo or none", v);
    snprintf(p->learning, sizeof p->learning, "%s", v);
  } else if (!strcmp(k, "snapshot_every")) {
    if (parse_int(v, 1, 1000000, &p->snapshot_every))
      return am_err(err, err_sz, "snapshot_every: '%s' must be an integer in [1, 1000000] "
                    "(updates)", v);
  } else if (!strcmp(k, "record")) {
    if (strcmp(v, "all") && strcmp(v, "behaviour"))
      return am_err(err, err_sz, "record: '%s' must be all (body, task and network) or behaviour "
                    "(without the network's activity)", v);
    p->record_network = !strcmp(v, "all");
  } else if (!strcmp(k, "lossy")) {
    if (parse_int(v, 0, 1, &p->lossy)) return am_err(err, err_sz, "lossy: '%s' must be 0 or 1", v);
  } else if (!strcmp(k, "optimizer")) {
    if (strcmp(v, "fresh") && strcmp(v, "checkpoint"))
      return am_err(err, err_sz, "optimizer: '%s' must be fresh (zero Adam moments) or "
                    "checkpoint (the trained run's Adam moments)", v);
    p->adam_from_checkpoint = !strcmp(v, "checkpoint");
  } else if (!strcmp(k, "seed")) {
    if (parse_u64(v, &p->seed)) return am_err(err, err_sz, "seed: '%s' is not an integer", v);
  } else if (is_learner_key(k)) {
    int i = 0;
    while (i < p->n_keys && strcmp(p->key[i], k)) i++;
    if (i == 24) return am_err(err, err_sz, "%s: too many learner keys", k);
    if (strlen(v) >= sizeof p->value[0]) return am_err(err, err_sz, "%s: '%s' is too long", k, v);
    snprintf(p->key[i], sizeof p->key[0], "%s", k);
    snprintf(p->value[i], sizeof p->value[0], "%s", v);
    if (i == p->n_keys) p->n_keys++;
  } else {
    char keys[400] = "";
    for (int i = 0; LEARNER_KEYS[i]; i++)
      snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", i ? ", " : "",
               LEARNER_KEYS[i]);
    return am_err(err, err_sz, "unknown key '%s' (valid: task, task_param, block, envs, learning, "
                  "snapshot_every, record, lossy, optimizer, seed, and the learner's %s)", k, keys);
  }
  return 0;
}

static int protocol_read(protocol* p, const char* path, char* err, size_t err_sz) {
  memset(p, 0, sizeof *p);
  p->envs = 16;
  p->snapshot_every = 10;
  p->record_network = 1;
  p->seed = 1;
  snprintf(p->learning, sizeof p->learning, "ppo");
  char e[AM_ERR_LEN];
  char* text = am_read_text(path, NULL, e, sizeof e);
  if (!text) return am_err(err, err_sz, "%s", e);
  int line_no = 0, rc = 0;
  for (char* q = text; *q && !rc;) {
    char* nl = strchr(q, '\n');
    if (nl) *nl = 0;
    line_no++;
    char* hash = strchr(q, '#');
    if (hash) *hash = 0;
    char key[64], value[512];
    int kv = am_kv_split(q, key, sizeof key, value, sizeof value);
    int blank = strspn(q, " \t\r") == strlen(q);
    if (!blank && kv)
      rc = am_err(err, err_sz, "%s:%d: expected key = value, got '%s'", path, line_no, q);
    else if (!blank && protocol_set(p, key, value, e, sizeof e))
      rc = am_err(err, err_sz, "%s:%d: %s", path, line_no, e);
    q = nl ? nl + 1 : q + strlen(q);
  }
  free(text);
  if (rc) return -1;
  if (!p->task[0]) return am_err(err, err_sz, "%s: no task (task = force-field, ...)", path);
  if (!p->n_blocks)
    return am_err(err, err_sz, "%s: no blocks (block = NAME TRIALS VALUE, one line per block)",
                  path);
  return 0;
}

// The protocol as run, in its own syntax (DIR/protocol.txt and the dataset's metadata).
static void protocol_write(const protocol* p, am_buf* b) {
  am_buf_printf(b, "task = %s\n", p->task);
  for (int i = 0; i < p->params.n; i++)
    am_buf_printf(b, "task_param = %s=%s\n", p->params.key[i], p->params.value[i]);
  for (int i = 0; i < p->n_blocks; i++)
    am_buf_printf(b, "block = %s %d %.17g\n", p->block_name[i], p->block_trials[i],
                  p->block_value[i]);
  am_buf_printf(b, "envs = %d\nlearning = %s\nsnapshot_every = %d\nrecord = %s\nlossy = %d\n"
                "optimizer = %s\nseed = %llu\n", p->envs, p->learning, p->snapshot_every,
                p->record_network ? "all" : "behaviour", p->lossy,
                p->adam_from_checkpoint ? "checkpoint" : "fresh", (unsigned long long)p->seed);
  for (int i = 0; i < p->n_keys; i++) am_buf_printf(b, "%s = %s\n", p->key[i], p->value[i]);
}

static const char* bstr(const am_buf* b) { return b->p ? (const char*)b->p : ""; }

//---------------------------------- recording -----------------------------------------------------

typedef struct session {
  am_rec* rec;
  ama_ppo* L;
  int32_t* upd;   // (envs) the `update` channel: updates applied before the step
  int N, done;
  // parameter snapshots (params.rollout): one pending row, committed when the next one comes
  am_ds_writer* pw;
  int p_update, p_steps, p_trials, p_params;
  int pending;
  int64_t pending_update, pending_steps;
  double pending_trials;
  float* pending_w;
  size_t count;
} session;

static int on_step(void* ctx, char* err, size_t err_sz) {
  session* s = ctx;
  int32_t u = (int32_t)ama_ppo_iteration(s->L);
  for (int i = 0; i < s->N; i++) s->upd[i] = u;
  int r = am_rec_step(s->rec, err, err_sz);
  if (r < 0) return -1;
  if (r == 1) s->done = 1;
  return 0;
}

static int snap_commit(session* s, uint32_t end, char* err, size_t err_sz) {
  if (!s->pending) return 0;
  memcpy(am_ds_row_ptr(s->pw, 0, s->p_update), &s->pending_update, 8);
  memcpy(am_ds_row_ptr(s->pw, 0, s->p_steps), &s->pending_steps, 8);
  memcpy(am_ds_row_ptr(s->pw, 0, s->p_trials), &s->pending_trials, 8);
  memcpy(am_ds_row_ptr(s->pw, 0, s->p_params), s->pending_w, s->count * sizeof(float));
  s->pending = 0;
  if (am_ds_row_commit(s->pw, 0, end))
    return am_err(err, err_sz, "%s", am_ds_writer_error(s->pw));
  return 0;
}

// Takes a snapshot of the parameters (the previous one is written now, the last one at close).
static int snap_take(session* s, double trials, char* err, size_t err_sz) {
  if (snap_commit(s, 0, err, err_sz)) return -1;
  ama_policy* p = ama_ppo_policy(s->L);
  memcpy(s->pending_w, p->params.w, s->count * sizeof(float));
  s->pending_update = ama_ppo_iteration(s->L);
  s->pending_steps = ama_ppo_env_steps(s->L);
  s->pending_trials = trials;
  s->pending = 1;
  return 0;
}

static int snap_open(session* s, const char* path, const char* protocol_text, char* err,
                     size_t err_sz) {
  ama_policy* p = ama_ppo_policy(s->L);
  s->count = p->params.count;
  if (!(s->pending_w = malloc(s->count * sizeof(float)))) return am_err(err, err_sz, "out of memory");
  if (!(s->pw = am_ds_create(path, 1, err, err_sz))) return -1;
  am_buf tens = {0};
  for (int i = 0; i < p->params.n_tensors; i++) {
    const ama_tensor* t = &p->params.t[i];
    am_buf_printf(&tens, "%s %zu %d %d\n", t->name, t->offset, t->rows, t->cols);
  }
  am_ds_set_meta(s->pw, "format", "animat parameter snapshots", -1);
  am_ds_set_meta(s->pw, "params.tensors", bstr(&tens), -1);
  am_ds_set_meta(s->pw, "session.protocol", protocol_text, -1);
  am_buf_free(&tens);
  am_channel_def d[4] = {
      {"update", "learning", "updates applied", NULL, AM_DT_I64, 0, {0}, 0},
      {"env_steps", "learning", "env steps of the session", NULL, AM_DT_I64, 0, {0}, 0},
      {"trials", "learning", "trials completed per env (mean)", NULL, AM_DT_F64, 0, {0}, 0},
      {"params", "learning", "every parameter, flat (metadata params.tensors: name offset rows cols)",
       NULL, AM_DT_F32, 1, {(uint32_t)s->count}, 0}};
  int* ch[4] = {&s->p_update, &s->p_steps, &s->p_trials, &s->p_params};
  for (int i = 0; i < 4; i++)
    if ((*ch[i] = am_ds_add_channel(s->pw, &d[i])) < 0)
      return am_err(err, err_sz, "%s", am_ds_writer_error(s->pw));
  if (am_ds_begin(s->pw, 1, 4, 0) || am_ds_episode_begin(s->pw, 0, 0, NULL))
    return am_err(err, err_sz, "%s", am_ds_writer_error(s->pw));
  return 0;
}

//---------------------------------- the command ---------------------------------------------------

// Runs another animat command in this process (the trial table and the adaptation analysis).
static int run_tool(int (*fn)(int, char**), const char* a0, const char* a1, const char* a2,
                    const char* a3, const char* a4, const char* a5) {
  char* argv[8] = {(char*)a0, (char*)a1, (char*)a2, (char*)a3, (char*)a4, (char*)a5, NULL};
  int argc = 0;
  while (argv[argc]) argc++;
  return fn(argc, argv);
}

static int dir_empty_or_absent(const char* dir) {
  struct stat st;
  if (stat(dir, &st)) return 1;
  char probe[1200];
  const char* names[] = {"protocol.txt", "session.rollout", "params.rollout", "checkpoint.bin", NULL};
  for (int i = 0; names[i]; i++) {
    snprintf(probe, sizeof probe, "%s/%s", dir, names[i]);
    if (!stat(probe, &st)) return 0;
  }
  return 1;
}

int cmd_session(int argc, char** argv) {
  const char* usage =
      "usage: animat session RUN --protocol FILE --out DIR [FLAGS]\n"
      "  Runs an experiment's block protocol (e.g. baseline / force field / washout) with a trained\n"
      "  agent, trial after trial on a fixed set of envs, while it keeps learning with PPO on the\n"
      "  session's own experience (learning = ppo) or with fixed weights (learning = none), and\n"
      "  records every trial, every update and the parameters (docs/experiments.md).\n"
      "  RUN               a run directory or checkpoint (the agent before the session)\n"
      "  --protocol FILE   the protocol: task, task_param, block = NAME TRIALS VALUE lines, envs,\n"
      "                    learning, snapshot_every, optimizer, seed and learner keys (lr, ...);\n"
      "                    tools/protocols/ has the classic ones\n"
      "  --out DIR         output directory (refused if it holds a session, unless --force)\n"
      "  --task-param K=V  one more task parameter (repeatable)\n"
      "  --set KEY=VALUE   one protocol key (repeatable; after the file's), e.g.\n"
      "                    --set learning=none (fixed weights), --set seed=2, --set envs=8,\n"
      "                    --set record=behaviour (no network activity), --set lr=1e-4\n"
      "  --perturb SPEC    perturb the network or push the body during the session, as in\n"
      "                    animat record (repeatable; docs/agents.md, Perturbations)\n"
      "  --threads T       worker threads (default 2; results do not depend on it)\n"
      "  --force           write into a DIR that holds a session\n"
      "  --quiet           no progress\n";
  const char* proto_path = NULL;
  const char* out = NULL;
  int threads = 2, force = 0, quiet = 0;
  amt_params extra = {0};
  const char* sets[33] = {0};
  cli_strings set_list = {sets, 32, "--set"};
  const char* pspec[AMA_MAX_PERTURB + 1] = {0};
  cli_strings pspec_list = {pspec, AMA_MAX_PERTURB, "--perturb"};
  cli_flag flags[] = {
      {"protocol", CLI_STRING, &proto_path},
      {"out", CLI_STRING, &out},
      {"task-param", CLI_EACH, NULL, 0, 0, cli_task_param, &extra},
      {"set", CLI_EACH, NULL, 0, 0, cli_collect, &set_list},
      {"perturb", CLI_EACH, NULL, 0, 0, cli_collect, &pspec_list},
      {"threads", CLI_INT, &threads, 1, 256},
      {"force", CLI_BOOL, &force},
      {"quiet", CLI_BOOL, &quiet},
  };
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help,
                     usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return cli_fail("session", "give one trained run or checkpoint (RUN)"), 2;
  if (!proto_path) return cli_fail("session", "--protocol FILE is required"), 2;
  if (!out) return cli_fail("session", "--out DIR is required"), 2;
  char err[AM_ERR_LEN], e2[AM_ERR_LEN];
  protocol P;
  if (protocol_read(&P, proto_path, err, sizeof err)) return cli_fail("session", "%s", err);
  for (int i = 0; sets[i]; i++) {
    char key[64], value[512];
    if (am_kv_split(sets[i], key, sizeof key, value, sizeof value))
      return cli_fail("session", "--set: expected KEY=VALUE, got '%s'", sets[i]), 2;
    if (protocol_set(&P, key, value, err, sizeof err)) return cli_fail("session", "--set %s", err), 2;
  }
  for (int i = 0; i < extra.n; i++) {
    char kv[400];
    snprintf(kv, sizeof kv, "%s=%s", extra.key[i], extra.value[i]);
    if (amt_params_add(&P.params, kv, err, sizeof err)) return cli_fail("session", "%s", err);
  }
  const int learn = !strcmp(P.learning, "ppo");
  // the task: the protocol's parameters and the blocks as its per-env schedule
  const amt_info* info = amt_find(P.task);
  if (!info) return cli_fail("session", "%s: unknown task '%s' (see `animat tasks`)", proto_path, P.task);
  if (!amt_param_get(info, &P.params, "blocks"))
    return cli_fail("session", "%s: task %s has no block schedule (the `blocks` parameter of "
                    "force-field and visuomotor-rotation)", proto_path, P.task);
  for (int i = 0; i < P.params.n; i++)
    if (!strcmp(P.params.key[i], "blocks"))
      return cli_fail("session", "%s: task_param blocks: the protocol's block lines set it",
                      proto_path);
  am_buf blocks = {0};
  int64_t total = 0;
  for (int i = 0; i < P.n_blocks; i++) {
    am_buf_printf(&blocks, "%s%d:%.17g", i ? "," : "", P.block_trials[i], P.block_value[i]);
    total += P.block_trials[i];
  }
  amt_params tp = P.params;
  char kv[AM_ERR_LEN];
  snprintf(kv, sizeof kv, "blocks=%s", bstr(&blocks));
  am_buf_free(&blocks);
  if (amt_params_add(&tp, kv, err, sizeof err)) return cli_fail("session", "%s", err);
  int per_ep = 1;
  if (amt_param_get(info, &tp, "trials") && amt_param_int(info, &tp, "trials", &per_ep, err, sizeof err))
    return cli_fail("session", "%s", err);
  if (per_ep < 1 || total % per_ep)
    return cli_fail("session", "%s: the protocol's %lld trials per env are not a whole number of "
                    "episodes of %d trials (task_param trials)", proto_path, (long long)total, per_ep);
  // the learner: the checkpoint's configuration with the session's task, envs, seed and keys
  char ckpt[1200];
  if (cli_checkpoint_path("session", pos[0], ckpt, sizeof ckpt)) return 1;
  char* ctext = ama_ckpt_read_config(ckpt, err, sizeof err);
  if (!ctext) return cli_fail("session", "%s", err);
  ama_config cfg;
  ama_config_default(&cfg);
  rc = ama_config_parse(&cfg, ctext, ckpt, err, sizeof err);
  free(ctext);
  if (rc) return cli_fail("session", "%s", err);
  snprintf(cfg.task, sizeof cfg.task, "%s", P.task);
  am_buf tpt = {0};
  for (int i = 0; i < tp.n; i++) am_buf_printf(&tpt, "%s%s=%s", i ? ";" : "", tp.key[i], tp.value[i]);
  if (tpt.len >= sizeof cfg.task_params) {
    am_buf_free(&tpt);
    return cli_fail("session", "%s: the task parameters are too long", proto_path);
  }
  snprintf(cfg.task_params, sizeof cfg.task_params, "%s", bstr(&tpt));
  am_buf_free(&tpt);
  cfg.num_envs = P.envs;
  cfg.seed = P.seed;
  cfg.load_module[0] = cfg.load_path[0] = cfg.freeze[0] = 0;
  cfg.load_extra_module[0] = cfg.load_extra_path[0] = 0;
  snprintf(cfg.ppo.lr_schedule, sizeof cfg.ppo.lr_schedule, "constant");
  for (int i = 0; i < P.n_keys; i++)
    if (ama_config_set(&cfg, P.key[i], P.value[i], e2, sizeof e2))
      return cli_fail("session", "%s: %s", proto_path, e2);
  if (ama_config_check(&cfg, e2, sizeof e2)) return cli_fail("session", "%s: %s", proto_path, e2);
  if (!dir_empty_or_absent(out) && !force)
    return cli_fail("session", "%s already holds a session (use --force to overwrite)", out), 1;
  if (mkdir(out, 0777) && errno != EEXIST)
    return cli_fail("session", "cannot create %s: %s", out, strerror(errno));
  if (force) {  // nothing of an earlier session may be left to mix with this one's
    const char* old[] = {"params.rollout", "checkpoint.bin", "updates.csv", "trials.csv", "adaptation",
                         NULL};
    char op[1300];
    for (int i = 0; old[i]; i++) {
      snprintf(op, sizeof op, "%s/%s", out, old[i]);
      if (cli_remove_tree(op))
        return cli_fail("session", "cannot remove %s: %s", op, strerror(errno));
    }
  }

  am_task task;
  if (amt_create(&task, P.task, &tp, err, sizeof err)) return cli_fail("session", "%s", err);
  // perturbations: parsed against the checkpoint's policy; force pulses need the pool's push points
  ama_perturb plist[AMA_MAX_PERTURB];
  int n_pert = 0;
  am_pool_config pc = {.num_envs = P.envs, .num_threads = threads, .seed = P.seed, .export_state = 1};
  am_pool* pool = NULL;
  if (pspec[0]) {
    ama_policy pp;
    if (ama_ckpt_load_policy(&pp, ckpt, task.groups, task.n_groups, task.obs_dim, task.act_dim, 1,
                             err, sizeof err)) {
      amt_destroy(&task);
      return cli_fail("session", "%s", err);
    }
    for (; pspec[n_pert] && !rc; n_pert++)
      rc = ama_perturb_parse(&plist[n_pert], pspec[n_pert], &task, &pp, err, sizeof err);
    ama_policy_free(&pp);
  }
  if (rc || ama_perturb_push_points(plist, n_pert, &pc, err, sizeof err) ||
      !(pool = am_pool_create(&task, &pc, err, sizeof err))) {
    amt_destroy(&task);
    return cli_fail("session", "%s", err);
  }
  session S;
  memset(&S, 0, sizeof S);
  S.N = P.envs;
  int status = 1;
  am_buf ptext = {0};
  protocol_write(&P, &ptext);
  char cfgtext[16384], hash[64] = "";
  ama_config_write(&cfg, cfgtext, sizeof cfgtext);
  int64_t policy_step = -1;
  ama_ckpt_read_steps(ckpt, &policy_step, e2, sizeof e2);
  cli_file_hash(ckpt, hash, sizeof hash);
  char p_proto[1300], p_cfg[1300], p_rec[1300], p_par[1300], p_ckpt[1300], p_upd[1300];
  char p_trials[1300], p_adapt[1300];
  snprintf(p_proto, sizeof p_proto, "%s/protocol.txt", out);
  snprintf(p_cfg, sizeof p_cfg, "%s/config.txt", out);
  snprintf(p_rec, sizeof p_rec, "%s/session.rollout", out);
  snprintf(p_par, sizeof p_par, "%s/params.rollout", out);
  snprintf(p_ckpt, sizeof p_ckpt, "%s/checkpoint.bin", out);
  snprintf(p_upd, sizeof p_upd, "%s/updates.csv", out);
  snprintf(p_trials, sizeof p_trials, "%s/trials.csv", out);
  snprintf(p_adapt, sizeof p_adapt, "%s/adaptation", out);
  const char* upd_cols[] = {"update", "env_steps", "trials", "episodes", "mean_return", "success",
                            "loss", "pg_loss", "v_loss", "entropy", "approx_kl", "clip_frac",
                            "grad_norm", "param_change", "action_std", "explained_var"};
  table ut;
  table_init(&ut, 16, upd_cols);
  float* w_prev = NULL;
  if (!(S.L = ama_ppo_create(&cfg, pool, err, sizeof err)) ||
      ama_ppo_start_from(S.L, ckpt, P.adam_from_checkpoint, err, sizeof err)) {
    cli_fail("session", "%s", err);
    goto done;
  }
  if (am_write_file_atomic(p_proto, bstr(&ptext), ptext.len, err, sizeof err) ||
      am_write_file_atomic(p_cfg, cfgtext, strlen(cfgtext), err, sizeof err)) {
    cli_fail("session", "%s", err);
    goto done;
  }
  // the recording: each env's whole protocol, and nothing after it
  char task_lines[AMT_MAX_PARAMS * 330] = "";
  size_t po = 0;
  for (int i = 0; i < tp.n; i++)
    po += (size_t)snprintf(task_lines + po, sizeof task_lines - po, "%s=%s\n", tp.key[i], tp.value[i]);
  int64_t per_env = total / per_ep;
  am_rec_config rcfg = {.path = p_rec, .force = 1, .episodes = per_env * P.envs, .per_env = per_env,
                        .task_params = task_lines, .seed = P.seed, .policy = ckpt,
                        .policy_hash = hash, .policy_step = policy_step, .lossy = P.lossy};
  if (!(S.rec = am_rec_create(pool, &rcfg, err, sizeof err))) {
    cli_fail("session", "%s", err);
    goto done;
  }
  S.upd = calloc((size_t)P.envs, sizeof(int32_t));
  am_buf names = {0};
  for (int i = 0; i < P.n_blocks; i++) am_buf_printf(&names, "%s%s", i ? "," : "", P.block_name[i]);
  am_rec_set_meta(S.rec, "policy.config", cfgtext);
  am_rec_set_meta(S.rec, "policy.deterministic", "0");
  am_rec_set_meta(S.rec, "session.protocol", bstr(&ptext));
  am_rec_set_meta(S.rec, "session.blocks", bstr(&names));
  am_rec_set_meta(S.rec, "session.learning", P.learning);
  am_buf_free(&names);
  am_channel_def ud = {"update", "learning", "updates applied before the step", NULL, AM_DT_I32, 0,
                       {0}, 0};
  ama_policy* pol = ama_ppo_policy(S.L);
  if (!S.upd ||
      (P.record_network && rec_net_channels(pol, ama_ppo_actor(S.L), S.rec, 0, err, sizeof err)) ||
      am_rec_add_channel(S.rec, &ud, S.upd, err, sizeof err) < 0 ||
      rec_perturb(ama_ppo_actor(S.L), &task, plist, n_pert, P.seed, am_pool_batch(pool), S.rec,
                  err, sizeof err) ||
      am_rec_begin(S.rec, err, sizeof err)) {
    cli_fail("session", "%s", err);
    am_rec_abort(S.rec);
    S.rec = NULL;
    goto done;
  }
  if (learn && (snap_open(&S, p_par, bstr(&ptext), err, sizeof err) || snap_take(&S, 0, err, sizeof err))) {
    cli_fail("session", "%s", err);
    goto done;
  }
  if (!(w_prev = malloc(pol->params.count * sizeof(float)))) {
    cli_fail("session", "out of memory");
    goto done;
  }
  ama_ppo_set_step_hook(S.L, on_step, &S);
  cli_install_interrupt();
  cli_progress_state pg;
  cli_progress_start(&pg, quiet);
  double t0 = am_now();
  int failed = 0;
  while (!S.done && !cli_interrupted) {
    memcpy(w_prev, pol->params.w, pol->params.count * sizeof(float));
    ama_iter_stats st;
    int r = learn ? ama_ppo_iterate(S.L, &st) : ama_ppo_rollout_only(S.L);
    if (r) {
      snprintf(err, sizeof err, "%s", ama_ppo_error(S.L));
      failed = 1;
      break;
    }
    double trials = (double)am_rec_episodes_done(S.rec) * per_ep / P.envs;
    if (learn) {
      double dw = 0;
      for (size_t i = 0; i < pol->params.count; i++) {
        double d = (double)pol->params.w[i] - w_prev[i];
        dw += d * d;
      }
      int64_t u = ama_ppo_iteration(S.L);
      table_int(&ut, u), table_int(&ut, st.env_steps), table_num(&ut, trials);
      table_int(&ut, st.episodes), table_num(&ut, st.mean_return), table_num(&ut, st.success);
      table_num(&ut, st.loss.loss), table_num(&ut, st.loss.pg_loss), table_num(&ut, st.loss.v_loss);
      table_num(&ut, st.loss.entropy), table_num(&ut, st.loss.approx_kl);
      table_num(&ut, st.loss.clip_frac), table_num(&ut, st.grad_norm), table_num(&ut, sqrt(dw));
      table_num(&ut, st.action_std), table_num(&ut, st.explained_var);
      if (u % P.snapshot_every == 0 && !S.done && snap_take(&S, trials, err, sizeof err)) {
        failed = 1;
        break;
      }
    }
    cli_progress(&pg, S.done, "session: %.1f/%lld trials per env, %lld updates, %.1f s", trials,
                 (long long)total, (long long)ama_ppo_iteration(S.L), am_now() - t0);
  }
  cli_progress_end(&pg);
  double elapsed = am_now() - t0;
  ama_ppo_set_step_hook(S.L, NULL, NULL);
  if (!failed && learn) {
    double trials = (double)am_rec_episodes_done(S.rec) * per_ep / P.envs;
    if (snap_take(&S, trials, err, sizeof err) ||
        snap_commit(&S, AM_DS_END | AM_DS_TERMINATED, err, sizeof err)) {
      failed = 1;  // params.rollout is discarded below
    } else {
      int c = am_ds_close(S.pw, err, sizeof err);
      S.pw = NULL;
      failed = c != 0;
    }
    if (!failed && (table_write(&ut, p_upd, err, sizeof err) ||
                    ama_ckpt_save(S.L, p_ckpt, err, sizeof err)))
      failed = 1;
  }
  int64_t eps = am_rec_episodes_done(S.rec), rows = am_rec_rows(S.rec);
  int close_rc = am_rec_close(S.rec, e2, sizeof e2);
  S.rec = NULL;
  if (failed || close_rc) {
    cli_fail("session", "%s", failed ? err : e2);
    goto done;
  }
  printf("session: %lld trials per env on %d envs (%lld episodes, %lld steps), %lld updates "
         "(learning %s), %.1f s\n", (long long)total, P.envs, (long long)eps, (long long)rows,
         (long long)ama_ppo_iteration(S.L), P.learning, elapsed);
  if (cli_interrupted) {
    printf("session: interrupted: %s is intact and marked interrupted\n", p_rec);
    status = 130;
    goto done;
  }
  fflush(stdout);
  if (run_tool(cmd_trials, "trials", p_rec, "--out", p_trials, "--quiet", NULL) ||
      run_tool(cmd_analyze, "analyze", "adaptation", p_rec, "--out", p_adapt, NULL))
    goto done;
  printf("session: wrote %s/ (protocol.txt, config.txt, session.rollout, %strials.csv, "
         "adaptation/)\n", out, learn ? "updates.csv, params.rollout, checkpoint.bin, " : "");
  status = 0;
done:
  free(w_prev);
  table_free(&ut);
  am_buf_free(&ptext);
  if (S.pw) am_ds_abort(S.pw);
  free(S.pending_w);
  if (S.rec) am_rec_abort(S.rec);
  free(S.upd);
  ama_ppo_free(S.L);
  am_pool_free(pool);
  amt_destroy(&task);
  return status;
}
