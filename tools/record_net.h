// record_net.h: acting with a policy while recording its network activity (tools/cmd_record.c),
// shared by `animat record` and `animat bench record`.
#ifndef ANIMAT_RECORD_NET_H
#define ANIMAT_RECORD_NET_H

#include "am_dataset.h"
#include "ama_agents.h"

typedef struct netrec {
  ama_policy pol;
  int loaded, det;
  float* eps;      // (N x A) noise
  float* sampled;  // (N x A) mean + std * eps, before clipping
  float* stdv;     // (N x A)
  float* obs_n;    // (N x O)
  float* mask;     // (N)
  float *lo, *hi;  // (A)
} netrec;

// After nr->pol is initialised (checkpoint or fresh): buffers, action range, std. Returns 0 or -1.
int netrec_setup(netrec* nr, const am_task* t, int envs, int det, char* err, size_t err_sz);
// Registers the network channels with the recorder.
int netrec_channels(netrec* nr, am_rec* rec, char* err, size_t err_sz);
// Policy step on the batch's observations; writes the clipped actions into the batch.
void netrec_act(netrec* nr, am_batch* b, am_rng* rng);
// After am_pool_step: previous action/reward and episode-start masks.
void netrec_after_step(netrec* nr, const am_batch* b);
void netrec_free(netrec* nr);

#endif
