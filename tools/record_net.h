// record_net.h: acting on a pool while recording what the agent did (tools/cmd_record.c), shared by
// `animat record`, `animat demo` and `animat bench record`. Acting itself is agents/' one acting
// path (ama_actor, ama_agents.h); this adds the policy it owns and its dataset channels.
#ifndef ANIMAT_RECORD_NET_H
#define ANIMAT_RECORD_NET_H

#include "am_dataset.h"
#include "ama_agents.h"

typedef struct netrec {
  ama_policy pol;   // valid when loaded
  int loaded;
  ama_actor act;
  // the distributional critic's reward prediction errors (critic_heads > 1; netrec_rpe)
  float gamma;           // the run's discount (set before netrec_channels)
  float *rpe, *rpe_obs, *rpe_next;
  int compact;           // 1: model GRU and LSTM gates too (set before netrec_channels; --compact)
} netrec;

// The actor for `envs` envs of task t: kind AMA_ACT_POLICY needs nr->pol loaded (checkpoint or
// fresh, acting for `envs` envs) and nr->loaded set. Acting streams from seed. Returns 0 or -1.
int netrec_setup(netrec* nr, const am_task* t, int envs, ama_act_kind kind, int deterministic,
                 uint64_t seed, char* err, size_t err_sz);
// Registers the network channels with the recorder (nothing for a random or zero policy).
int netrec_channels(netrec* nr, am_rec* rec, char* err, size_t err_sz);
// The same for any policy acting through an actor (e.g. a learner's: animat session). The channel
// models (docs/datasets.md) include GRU and LSTM gates when compact is set: files 15-40 % smaller,
// written and read several times slower.
int rec_net_channels(const ama_policy* p, const ama_actor* ac, am_rec* rec, int compact, char* err,
                     size_t err_sz);
void netrec_free(netrec* nr);
// Applies parsed --perturb specifications to an actor (record's or a learner's) and registers the
// "perturb" channel (bit k: perturbation k acted in the step) and its metadata perturb.k (force
// pulses: the pool's push points and the push channel, sim/dataset_record.c). b: the batch of the
// pool created with ama_perturb_push_points' configuration. Returns 0 or -1.
int rec_perturb(ama_actor* act, const am_task* t, ama_perturb* list, int n, uint64_t seed,
                am_batch* b, am_rec* rec, char* err, size_t err_sz);
// After each env step and the actor's observe: every value head's reward prediction error of the
// step (channel critic/rpe; nothing unless the policy has more than one value head).
void netrec_rpe(netrec* nr, const am_batch* b);

#endif
