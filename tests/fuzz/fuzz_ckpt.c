// fuzz_ckpt.c: libFuzzer harness for the checkpoint reader (agents/ama_ckpt.c). The reader has no
// memory entry point, so each input is written to a temporary file, after its last 4 bytes are
// replaced by the CRC-32 of the rest (so mutations reach the parsing behind the checksum), then
// read by every reader: ama_ckpt_read_config, ama_ckpt_read_steps, ama_ckpt_load_policy (for the
// reacher task, one env), ama_policy_load_module (every module, back into that policy) and
// ama_ckpt_load (into a learner made once from the seeds' configuration: reacher, gru 4/4, one
// env). Any crash, sanitizer report or leak is a bug. Seeds: tests/fuzz/corpus/ckpt (made with
// `animat train --task reacher --steps 4096 --envs 1 --core-hidden 4 --motor-hidden 4 ...`, see
// tests/fuzz/run.sh). Built by tests/fuzz/run.sh (libFuzzer) and by tests/CMakeLists.txt as
// fuzz_ckpt_replay (with replay_main.c).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ama_agents.h"
#include "amt_tasks.h"

// Networks larger than this are legal (core_hidden <= 16384) but only cost memory and time here.
#define MAX_UNITS 64

static am_task task;
static am_pool* pool;
static ama_ppo* learner;
static char path[256];

static void setup(void) {
  char err[AM_ERR_LEN];
  static amt_params none;
  if (amt_create(&task, "reacher", &none, err, sizeof err)) {
    fprintf(stderr, "fuzz_ckpt: %s\n", err);
    abort();
  }
  ama_config cfg;
  ama_config_default(&cfg);
  const char* text = "task = reacher\nnum_envs = 1\ncore = gru\nmotor = gru\ncore_hidden = 4\n"
                     "motor_hidden = 4\nminibatches = 1\nhorizon = 32\n";
  am_pool_config pc = {.num_envs = 1, .num_threads = 1, .seed = 1};
  if (ama_config_parse(&cfg, text, "fuzz_ckpt", err, sizeof err) ||
      !(pool = am_pool_create(&task, &pc, err, sizeof err)) ||
      !(learner = ama_ppo_create(&cfg, pool, err, sizeof err))) {
    fprintf(stderr, "fuzz_ckpt: %s\n", err);
    abort();
  }
  const char* tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/fuzz_ckpt.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("fuzz_ckpt: mkstemp");
    abort();
  }
  close(fd);
}

static void cleanup(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!learner) {
    setup();
    atexit(cleanup);
  }
  uint8_t* b = malloc(size + 1);
  if (!b) return 0;
  memcpy(b, data, size);
  if (size >= 20) {
    uint32_t crc = am_crc32(0, b, size - 4);
    for (int i = 0; i < 4; i++) b[size - 4 + i] = (uint8_t)(crc >> (8 * i));
  }
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(b, 1, size, f) != size || fclose(f)) abort();
  free(b);

  char err[AM_ERR_LEN];
  int64_t steps;
  ama_ckpt_read_steps(path, &steps, err, sizeof err);
  char* text = ama_ckpt_read_config(path, err, sizeof err);
  if (!text) return 0;
  ama_config cfg;
  ama_config_default(&cfg);
  int bad = ama_config_parse(&cfg, text, path, err, sizeof err);
  free(text);
  if (bad || cfg.policy.core_hidden > MAX_UNITS || cfg.policy.motor_hidden > MAX_UNITS) return 0;
  ama_policy p;
  if (!ama_ckpt_load_policy(&p, path, task.groups, task.n_groups, task.obs_dim, task.act_dim, 1, err,
                            sizeof err)) {
    ama_policy_load_module(&p, task.groups, task.n_groups, path, "core,motor,head,critic", "motor",
                           err, sizeof err);
    ama_policy_free(&p);
  }
  ama_ckpt_load(learner, path, err, sizeof err);
  return 0;
}
