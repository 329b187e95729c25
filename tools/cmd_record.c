// cmd_record.c: `animat record`: runs a policy (a trained checkpoint, or random actions) on a
// task's env pool and records every step of N episodes into a dataset (sim/am_dataset.h).
//
// With a checkpoint, the network's activity is recorded too: for each module (core, motor) its
// state (GRU h; LSTM h and c; rate RNN x), output and gate activations, the critic's value, the
// action mean, std, the noise and the sampled action before clipping.
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

int netrec_setup(netrec* nr, const am_task* t, int envs, ama_act_kind kind, int deterministic,
                 uint64_t seed, char* err, size_t err_sz) {
  ama_actor_cfg c = {.kind = kind, .deterministic = deterministic, .seed = seed};
  return ama_actor_init(&nr->act, &c, nr->loaded ? &nr->pol : NULL, t, envs, err, err_sz);
}

void netrec_free(netrec* nr) {
  if (nr->loaded) ama_policy_free(&nr->pol);
  free(nr->rpe);
  free(nr->rpe_obs);
  free(nr->rpe_next);
  ama_actor_free(&nr->act);
  memset(nr, 0, sizeof *nr);
}

// The distributional critic (critic_heads > 1): the "dopamine" population, every head's value
// (critic/heads) and reward prediction error (critic/rpe, filled by netrec_rpe), tau_i and gamma
// in the metadata.
static int critic_channels(netrec* nr, am_rec* rec, char* err, size_t err_sz) {
  const ama_policy* p = &nr->pol;
  const int K = p->n_heads, N = p->N;
  if (K < 2) return 0;
  char taus[AMA_MAX_HEADS * 16] = "", labels[AMA_MAX_HEADS * 4] = "", g[32];
  nr->rpe = calloc((size_t)N * K, sizeof(float));
  nr->rpe_next = calloc((size_t)N * K, sizeof(float));
  nr->rpe_obs = calloc((size_t)N * p->obs_dim + 1, sizeof(float));
  if (!nr->rpe || !nr->rpe_next || !nr->rpe_obs)
    return am_err(err, err_sz, "out of memory for the critic channels");
  for (int i = 0; i < K; i++) {
    size_t l = strlen(taus);
    snprintf(taus + l, sizeof taus - l, "%s%.6g", i ? "," : "", p->head_tau[i]);
    l = strlen(labels);
    snprintf(labels + l, sizeof labels - l, "%sh%d", i ? "," : "", i);
  }
  snprintf(g, sizeof g, "%.9g", nr->gamma);
  am_rec_set_meta(rec, "critic.tau", taus);
  am_rec_set_meta(rec, "critic.gamma", g);
  am_channel_def v = {"critic/heads", "network", "V_i(s_t), head i's asymmetry: metadata critic.tau",
                      labels, AM_DT_F32, 1, {(uint32_t)K}, 0};
  am_channel_def d = {"critic/rpe", "network", "delta_i = r_t + gamma V_i(s_t+1) - V_i(s_t) (raw "
                      "task reward; gamma: metadata critic.gamma)", labels, AM_DT_F32, 1,
                      {(uint32_t)K}, 0};
  if (am_rec_add_channel(rec, &v, p->a_heads, err, err_sz) < 0 ||
      am_rec_add_channel(rec, &d, nr->rpe, err, err_sz) < 0)
    return -1;
  return 0;
}

int netrec_channels(netrec* nr, am_rec* rec, char* err, size_t err_sz) {
  if (!nr->loaded) return 0;
  return rec_net_channels(&nr->pol, &nr->act, rec, nr->compact, err, err_sz) ||
         critic_channels(nr, rec, err, err_sz) ? -1 : 0;
}

// The wiring of each module in the metadata: MOD.ei (one letter per unit, E or I, under Dale's law),
// MOD.conn (a description) and MOD.mask (H lines of H characters 0/1, line i: the inputs of unit
// i, column j: from unit j) when its recurrent connectivity is masked.
static int wiring_meta(const ama_policy* p, am_rec* rec, char* err, size_t err_sz) {
  const ama_cell* cells[2] = {&p->core, &p->motor};
  const char* names[2] = {"core", "motor"};
  for (int k = 0; k < 2; k++) {
    const int H = cells[k]->cfg.hidden, ne = ama_dale_excitatory(&cells[k]->cfg);
    char key[32];
    char* text = malloc((size_t)H * (H + 1) + 600);
    if (!text) return am_err(err, err_sz, "out of memory for the wiring metadata");
    if (cells[k]->sign) {
      for (int j = 0; j < H; j++) text[j] = j < ne ? 'E' : 'I';
      text[H] = 0;
      snprintf(key, sizeof key, "%s.ei", names[k]);
      am_rec_set_meta(rec, key, text);
    }
    if (p->conn[k]) {
      ama_conn_describe(p, k, text, (size_t)H * (H + 1) + 600);
      snprintf(key, sizeof key, "%s.conn", names[k]);
      am_rec_set_meta(rec, key, text);
      for (int i = 0; i < H; i++) {
        for (int j = 0; j < H; j++) text[(size_t)i * (H + 1) + j] = p->conn[k][(size_t)i * H + j] ? '1' : '0';
        text[(size_t)i * (H + 1) + H] = i + 1 < H ? '\n' : 0;
      }
      snprintf(key, sizeof key, "%s.mask", names[k]);
      am_rec_set_meta(rec, key, text);
    }
    free(text);
  }
  return 0;
}

// A GRU's or an LSTM's gates (channel cg) from the cell's input x and its h (channel cs, the
// first H elements) the row before, as the cell computes them: a GRU's r and z the logistic of
// bx + bh + Wx x + Wh h, its n the tanh of bx + Wx x + r (bh + Wh h); an LSTM's i, f, o the
// logistic and its g the tanh of bx + Wx x + Wh h. Input column i is element xe[i] of channel
// xc[i] at lag xl[i] (xc[i] < 0: a column that is always 0).
static int gate_models(const ama_policy* p, const ama_cell* c, am_ds_writer* w, int cg, int cs,
                       const int* xc, const uint32_t* xe, const int* xl) {
  const int H = c->cfg.hidden, I = c->cfg.in, G = c->G, gru = c->cfg.type == AMA_CELL_GRU;
  const float* Wx = p->params.w + p->params.t[c->iWx].offset;  // G H x I, row-major
  const float* bx = p->params.w + p->params.t[c->ibx].offset;
  const float* Wh = ama_cell_wh(c, &p->params);                // G H x H
  const float* bh = c->ibh >= 0 ? p->params.w + p->params.t[c->ibh].offset : NULL;
  int rc = 0;
  for (int g = 0; g < G * H && !rc; g++) {
    int tanh_gate = g / H == 2, n_gate = gru && tanh_gate, unit = g % H;  // GRU n, LSTM g: row 2
    double b = bx[g] + (bh && !n_gate ? (double)bh[g] : 0.0);
    rc = am_ds_model_elem(w, cg, (uint32_t)g, b, tanh_gate ? -1.0 : 0.0, 1.0) ||
         am_ds_model_func(w, cg, tanh_gate ? AM_DS_FUNC_TANH : AM_DS_FUNC_LOGISTIC);
    for (int i = 0; i < I && !rc; i++)
      if (xc[i] >= 0 && Wx[(size_t)g * I + i] != 0.0f)
        rc = am_ds_model_term(w, cg, xc[i], xl[i], xe[i], Wx[(size_t)g * I + i]);
    if (n_gate && bh && !rc)  // r x bh: the reset gate of the same unit, decoded before n
      rc = am_ds_model_term(w, cg, cg, 0, (uint32_t)unit, bh[g]);
    for (int j = 0; j < H && !rc; j++) {
      double wh = Wh[(size_t)g * H + j];
      if (wh == 0.0) continue;
      rc = n_gate ? am_ds_model_product(w, cg, cg, 0, (uint32_t)unit, cs, 1, (uint32_t)j, wh)
                  : am_ds_model_term(w, cg, cs, 1, (uint32_t)j, wh);
    }
  }
  return rc;
}

// Channel models of the network's channels (dataset format 1.3; the writer uses them where they
// compress better): the input is the observation normalised, (obs - shift) x scale clipped to
// +-clip, so each entry is predicted as scale x obs - shift x scale within the clip; the action
// mean is the linear head of the motor's output (bmu + Wmu y); the sampled action is the mean plus
// std x the noise (std = exp(logstd), constant per entry), and the action the sampled action
// clipped into the action range (then ctrl, which copies the action, is modelled as the action:
// a reference to a modelled channel is not allowed); a GRU's state is (1 - z) n + z h, h its
// state the step before (for the core only when it ticks every step), and its output the state
// (an LSTM's output: its h). With compact (1.4), a GRU's or an LSTM's gates (gate_models) instead
// of a GRU's state.
static int net_models(const ama_policy* p, const ama_actor* ac, am_rec* rec, int compact, char* err,
                      size_t err_sz) {
  int categorical = ac->categorical;
  am_ds_writer* w = am_rec_writer(rec);
  int c_in = am_ds_writer_find_channel(w, "input");
  int c_y = am_ds_writer_find_channel(w, "motor/output");
  int c_mean = categorical ? -1 : am_ds_writer_find_channel(w, "action_mean");
  int c_noise = categorical ? -1 : am_ds_writer_find_channel(w, "action_noise");
  int c_samp = categorical ? -1 : am_ds_writer_find_channel(w, "action_sampled");
  const ama_norm* z = &p->norm;
  const double inf = 1.0 / 0.0;
  int rc = 0;
  for (int k = 0; k < p->obs_dim && c_in >= 0 && !rc; k++) {
    uint32_t e;
    int c = am_rec_obs_channel(rec, k, &e);
    if (c < 0) continue;
    double scale = z->scale[k], shift = z->shift[k];
    rc = am_ds_model_elem(w, c_in, (uint32_t)k, -shift * scale, -(double)z->clip, (double)z->clip) ||
         am_ds_model_term(w, c_in, c, 0, e, scale);
  }
  const int Hm = p->cfg.motor_hidden, Am = p->act_dim - p->n_cmd;
  if (c_mean >= 0 && c_y >= 0 && p->motor.cfg.hidden == Hm && Hm > 0) {
    const float* W = p->params.w + p->params.t[p->i_Wmu].offset;  // Am x Hm, row-major
    const float* b = p->params.w + p->params.t[p->i_bmu].offset;
    for (int k = 0; k < Am && !rc; k++) {
      rc = am_ds_model_elem(w, c_mean, (uint32_t)k, b[k], -inf, inf);
      for (int j = 0; j < Hm && !rc; j++)
        rc = am_ds_model_term(w, c_mean, c_y, 0, (uint32_t)j, W[(size_t)k * Hm + j]);
    }
  }
  if (c_mean >= 0 && c_noise >= 0 && c_samp >= 0) {
    const float* logstd = p->params.w + p->params.t[p->i_logstd].offset;
    for (int k = 0; k < p->act_dim && !rc; k++)
      rc = am_ds_model_elem(w, c_samp, (uint32_t)k, 0.0, -inf, inf) ||
           am_ds_model_term(w, c_samp, c_mean, 0, (uint32_t)k, 1.0) ||
           am_ds_model_term(w, c_samp, c_noise, 0, (uint32_t)k, (double)expf(logstd[k]));
  }
  int c_action = am_ds_writer_find_channel(w, "action"), c_ctrl = am_ds_writer_find_channel(w, "ctrl");
  if (c_samp >= 0 && c_action >= 0) {
    for (int k = 0; k < p->act_dim && !rc; k++)
      rc = am_ds_model_elem(w, c_action, (uint32_t)k, 0.0, ac->lo[k], ac->hi[k]) ||
           am_ds_model_term(w, c_action, c_samp, 0, (uint32_t)k, 1.0);
    for (int k = 0; k < p->act_dim && c_ctrl >= 0 && !rc; k++)
      rc = am_ds_model_elem(w, c_ctrl, (uint32_t)k, 0.0, -inf, inf) ||
           am_ds_model_term(w, c_ctrl, c_action, 0, (uint32_t)k, 1.0);
  }
  const ama_cell* cells[2] = {&p->core, &p->motor};
  const char* names[2] = {"core", "motor"};
  for (int k = 0; k < 2 && !rc; k++) {
    char nm[3][48];
    snprintf(nm[0], 48, "%s/state", names[k]);
    snprintf(nm[1], 48, "%s/gates", names[k]);
    snprintf(nm[2], 48, "%s/output", names[k]);
    int cs = am_ds_writer_find_channel(w, nm[0]), cg = am_ds_writer_find_channel(w, nm[1]);
    int co = am_ds_writer_find_channel(w, nm[2]), H = cells[k]->cfg.hidden;
    int gru = cells[k]->cfg.type == AMA_CELL_GRU, lstm = cells[k]->cfg.type == AMA_CELL_LSTM;
    if (!(gru || lstm) || cs < 0 || cg < 0 || (k == 0 && p->cfg.core_tick != 1)) continue;
    int complete = 0;  // the gates modelled (compact)
    if (compact) {
      // the gates from the cell's input and state the row before (and then not the state from
      // the gates: the models would form a cycle); the input columns as channels (ama_policy.c,
      // core_row and motor_row)
      int I = cells[k]->cfg.in, n = 0, c_core_y = am_ds_writer_find_channel(w, "core/output");
      int c_reward = am_ds_writer_find_channel(w, "reward");
      int* xc = malloc(sizeof(int) * (size_t)I * 2);
      uint32_t* xe = malloc(sizeof(uint32_t) * (size_t)I);
      if (!xc || !xe) {
        free(xc);
        free(xe);
        return am_err(err, err_sz, "out of memory");
      }
      int* xl = xc + I;
      if (k == 0) {
        for (int i = 0; i < p->n_core_obs; i++, n++)
          xc[n] = c_in, xe[n] = (uint32_t)p->core_obs_idx[i], xl[n] = 0;
        for (int j = 0; p->cfg.prev_action && j < p->act_dim; j++, n++)
          xc[n] = c_action, xe[n] = (uint32_t)j, xl[n] = 1;
        if (p->cfg.prev_reward) xc[n] = c_reward, xe[n] = 0, xl[n++] = 1;
      } else {
        for (int i = 0; i < p->cfg.core_hidden; i++, n++)
          xc[n] = p->cfg.motor_core ? c_core_y : -1, xe[n] = (uint32_t)i, xl[n] = 0;
        for (int i = 0; i < p->n_motor_obs; i++, n++)
          xc[n] = c_in, xe[n] = (uint32_t)p->motor_obs_idx[i], xl[n] = 0;
      }
      // every column found (only the motor's core slots with motor_core = 0 are always 0)
      complete = n == I && !cells[k]->Wh_eff;
      for (int i = 0; i < n; i++)
        complete &= xc[i] >= 0 || (k == 1 && !p->cfg.motor_core && i < p->cfg.core_hidden);
      if (complete) rc = gate_models(p, cells[k], w, cg, cs, xc, xe, xl);
      free(xc);
      free(xe);
    }
    // a GRU's state from the gates, when they are not modelled from it (the models would form a
    // cycle)
    for (int i = 0; i < H && gru && !complete && !rc; i++)
      rc = am_ds_model_elem(w, cs, (uint32_t)i, 0.0, -inf, inf) ||
           am_ds_model_term(w, cs, cg, 0, (uint32_t)(2 * H + i), 1.0) ||
           am_ds_model_product(w, cs, cg, 0, (uint32_t)(H + i), cg, 0, (uint32_t)(2 * H + i), -1.0) ||
           am_ds_model_product(w, cs, cg, 0, (uint32_t)(H + i), cs, 1, (uint32_t)i, 1.0);
    for (int i = 0; i < H && co >= 0 && !rc; i++)  // the output is the state (an LSTM's: its h)
      rc = am_ds_model_elem(w, co, (uint32_t)i, 0.0, -inf, inf) ||
           am_ds_model_term(w, co, cs, 0, (uint32_t)i, 1.0);
  }
  return rc ? am_err(err, err_sz, "%s", am_ds_writer_error(w)) : 0;
}

int rec_net_channels(const ama_policy* p, const ama_actor* ac, am_rec* rec, int compact, char* err,
                     size_t err_sz) {
  if (wiring_meta(p, rec, err, err_sz)) return -1;
  int A = p->act_dim;
  struct { const char* name; const char* units; const void* src; int d0, d1; const char* labels; } ch[16];
  int n = 0;
  const ama_cell* cells[2] = {&p->core, &p->motor};
  const char* names[2] = {"core", "motor"};
  const float* states[2] = {p->core_s, p->motor_s};
  const float* noise[2] = {ac->Hc ? ac->core_noise : NULL, ac->Hm ? ac->motor_noise : NULL};
  char nm[2][4][48];
  // what the network received: the observation after the running normalisation and clipping
  ch[n++] = (typeof(ch[0])){"input", "normalised observation: clip((obs - mean) / std), obs order",
                            p->a_obs, 0, p->obs_dim, NULL};
  for (int k = 0; k < 2; k++) {
    const ama_cell* c = cells[k];
    int H = c->cfg.hidden;
    if (c->S) {
      snprintf(nm[k][0], 48, "%s/state", names[k]);
      int lstm = c->cfg.type == AMA_CELL_LSTM;
      ch[n++] = (typeof(ch[0])){nm[k][0], lstm ? "rows: h, c" : c->cfg.type != AMA_CELL_RNN ? "h"
                                      : c->cfg.tanh_act ? "x (rate = tanh(x))" : "x (rate = relu(x))",
                                states[k], lstm ? 2 : 0, c->S / (lstm ? 2 : 1), NULL};
    }
    snprintf(nm[k][1], 48, "%s/output", names[k]);
    ch[n++] = (typeof(ch[0])){nm[k][1], "", k == 0 ? p->core_y : p->a_motor_k.y, 0, H, NULL};
    if (c->G > 1) {
      snprintf(nm[k][2], 48, "%s/gates", names[k]);
      ch[n++] = (typeof(ch[0])){nm[k][2], c->cfg.type == AMA_CELL_LSTM ? "rows: i, f, g, o" : "rows: r, z, n",
                                k == 0 ? p->a_core_k.act : p->a_motor_k.act, c->G, H, NULL};
    }
    if (noise[k]) {  // the rate RNN's recurrent noise (standard normals; times rnn_noise in the update)
      snprintf(nm[k][3], 48, "%s/noise", names[k]);
      ch[n++] = (typeof(ch[0])){nm[k][3], k == 0 ? "standard normal xi of the last core tick"
                                                 : "standard normal xi",
                                noise[k], 0, H, NULL};
    }
  }
  ch[n++] = (typeof(ch[0])){"value", "critic's value estimate", p->a_value, 0, -1, NULL};
  if (ac->categorical) {  // the categorical head (docs/agents.md)
    ch[n++] = (typeof(ch[0])){"action_logits", "", p->a_mean, 0, A, NULL};
    ch[n++] = (typeof(ch[0])){"action_prob", "softmax(logits)", ac->std, 0, A, NULL};
    ch[n++] = (typeof(ch[0])){"action_sampled", "one-hot choice", ac->sampled, 0, A, NULL};
  } else {
    ch[n++] = (typeof(ch[0])){"action_mean", "", p->a_mean, 0, A, NULL};
    ch[n++] = (typeof(ch[0])){"action_std", "", ac->std, 0, A, NULL};
    ch[n++] = (typeof(ch[0])){"action_noise", "standard normal eps", ac->eps, 0, A, NULL};
    ch[n++] = (typeof(ch[0])){"action_sampled", "mean + std * eps, before clipping", ac->sampled, 0, A, NULL};
  }
  for (int i = 0; i < n; i++) {
    am_channel_def d = {ch[i].name, "network", ch[i].units, ch[i].labels, AM_DT_F32, 0, {0}, 0};
    if (ch[i].d0) {
      d.ndim = 2;
      d.shape[0] = (uint32_t)ch[i].d0;
      d.shape[1] = (uint32_t)ch[i].d1;
    } else if (ch[i].d1 >= 0) {
      d.ndim = 1;
      d.shape[0] = (uint32_t)ch[i].d1;
    }
    if (am_rec_add_channel(rec, &d, ch[i].src, err, err_sz) < 0) return -1;
  }
  return net_models(p, ac, rec, compact, err, err_sz);
}

void netrec_rpe(netrec* nr, const am_batch* b) {
  if (nr->rpe) ama_policy_rpe(&nr->pol, b, nr->gamma, nr->rpe_obs, nr->rpe_next, nr->rpe);
}

int rec_perturb(ama_actor* act, const am_task* t, ama_perturb* list, int n, uint64_t seed,
                am_batch* b, am_rec* rec, char* err, size_t err_sz) {
  if (!n) return 0;
  double dt = t->frame_skip * t->model->m->opt.timestep;
  if (ama_actor_perturb(act, list, n, dt, seed, b, err, err_sz)) return -1;
  char labels[AMA_MAX_PERTURB * 4] = "", key[32];
  for (int k = 0; k < n; k++) {
    snprintf(key, sizeof key, "perturb.%d", k);
    am_rec_set_meta(rec, key, list[k].text);
    snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%sp%d", k ? "," : "", k);
  }
  am_channel_def d = {.name = "perturb", .group = "network", .units = "bit k: metadata perturb.k",
                      .labels = labels, .dtype = AM_DT_U32, .ndim = 0};
  return am_rec_add_channel(rec, &d, act->pert_active, err, err_sz) < 0 ? -1 : 0;
}

int cmd_record(int argc, char** argv) {
  const char* usage =
      "usage: animat record CHECKPOINT_OR_RUN --episodes N --out FILE [FLAGS]\n"
      "       animat record --random --task NAME --episodes N --out FILE [FLAGS]\n"
      "  Records every control step of N episodes (body state, observations, actions, rewards,\n"
      "  events, task variables and, for a trained policy, the network's activity) to a dataset.\n"
      "  --random            random actions, uniform in each actuator's control range\n"
      "  --task NAME         task (required with --random; default: the checkpoint's, with its\n"
      "                      task parameters; another task starts from its own defaults)\n"
      "  --task-param K=V    override a task parameter (repeatable)\n"
      "  --episodes N        episodes to record (default 10)\n"
      "  --out FILE          dataset to write (never overwritten unless --force)\n"
      "  --force             overwrite FILE if it exists\n"
      "  --envs N            envs stepped in parallel (default 8)\n"
      "  --threads T         worker threads (default 2)\n"
      "  --seed S            seed of the envs and of their acting streams (default 1)\n"
      "  --deterministic     the policy acts with its mean action and without recurrent noise\n"
      "                      (default: actions sampled from the policy's Gaussian and, for a\n"
      "                      rate RNN with rnn_noise > 0, recurrent noise, as in training)\n"
      "  --chunk-rows R      rows per chunk (default: about 512 KiB of raw data)\n"
      "  --lossy             LOSSY: store observations, sensordata and the network's activity\n"
      "                      with half the bits (f32 as 16-bit floats, f64 as f32: about 3\n"
      "                      significant digits for f32); body state, actions, rewards, events\n"
      "                      stay exact, so verify --resim still works\n"
      "  --compact           also predict GRU and LSTM gates from the cell's input and state\n"
      "                      (lossless; files 15-40 percent smaller, read 2-3 times slower)\n"
      "  --perturb SPEC      perturb the network or push the body (repeatable; docs/agents.md,\n"
      "                      Perturbations): kind=silence|clamp|noise|stim|lesion,module=core|motor,\n"
      "                      units=all|N-M,event=EV,start=S,duration=D,value=V, or\n"
      "                      kind=force,body=B|site=S,force=FX,FY[,FZ][,torque=TX,TY,TZ],event=EV,\n"
      "                      start=S,duration=D (N, N m, world frame; also with --random)\n"
      "                      (channel perturb, bit k = SPEC k; pushes: channels push, qfrc_applied)\n"
      "  --quiet             no progress (errors and the closing summary only)\n";
  const char* task_name = NULL;
  const char* out = NULL;
  int random_policy = 0, episodes = 10, envs = 8, threads = 2, force = 0, det = 0, quiet = 0;
  int chunk_rows = 0, lossy = 0, compact = 0;
  uint64_t seed = 1;
  amt_params params = {0};
  const char* pspec[AMA_MAX_PERTURB + 1] = {0};
  cli_strings pspec_list = {pspec, AMA_MAX_PERTURB, "--perturb"};
  cli_flag flags[] = {
      {"perturb", CLI_EACH, NULL, 0, 0, cli_collect, &pspec_list},
      {"random", CLI_BOOL, &random_policy},
      {"task", CLI_STRING, &task_name},
      {"task-param", CLI_EACH, NULL, 0, 0, cli_task_param, &params},
      {"episodes", CLI_INT, &episodes, 1, 1e9},
      {"out", CLI_STRING, &out},
      {"force", CLI_BOOL, &force},
      {"envs", CLI_INT, &envs, 1, 4096},
      {"threads", CLI_INT, &threads, 1, 256},
      {"seed", CLI_U64, &seed},
      {"deterministic", CLI_BOOL, &det},
      {"chunk-rows", CLI_INT, &chunk_rows, 1, 1 << 20},
      {"quiet", CLI_BOOL, &quiet},
      {"lossy", CLI_BOOL, &lossy},
      {"compact", CLI_BOOL, &compact},
  };
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help,
                     usage);
  if (rc) return rc;
  if (help) return 0;
  if (!out) return cli_fail("record", "--out FILE is required"), 2;
  if (random_policy == (npos == 1))
    return cli_fail("record", "give either a checkpoint/run or --random"), 2;
  if (npos > 1) return cli_fail("record", "one checkpoint or run at most"), 2;
  char err[AM_ERR_LEN];
  char ckpt[1200] = "", hash[64] = "";
  int64_t policy_step = -1;  // env steps the checkpoint was trained for
  ama_config acfg;
  amt_params all = {0};
  if (!random_policy) {
    if (cli_checkpoint_path("record", pos[0], ckpt, sizeof ckpt)) return 1;
    char* text = ama_ckpt_read_config(ckpt, err, sizeof err);
    if (!text) return cli_fail("record", "%s", err);
    ama_config_default(&acfg);
    rc = ama_config_parse(&acfg, text, ckpt, err, sizeof err);
    free(text);
    if (rc) return cli_fail("record", "%s", err);
    if (!task_name) task_name = acfg.task;
    // the checkpoint's task parameters ("k=v;k=v") when recording on its own task, then the
    // command line's
    if (!strcmp(task_name, acfg.task) && amt_params_add_list(&all, acfg.task_params, err, sizeof err))
      return cli_fail("record", "%s", err);
    cli_file_hash(ckpt, hash, sizeof hash);
    if (ama_ckpt_read_steps(ckpt, &policy_step, err, sizeof err)) return cli_fail("record", "%s", err);
  } else if (!task_name) {
    return cli_fail("record", "--random needs --task NAME (see `animat tasks`)"), 2;
  }
  for (int i = 0; i < params.n; i++) {
    char kv[400];
    snprintf(kv, sizeof kv, "%s=%s", params.key[i], params.value[i]);
    if (amt_params_add(&all, kv, err, sizeof err)) return cli_fail("record", "%s", err);
  }
  am_task t;
  if (amt_create(&t, task_name, &all, err, sizeof err)) return cli_fail("record", "%s", err);
  char ptext[AMT_MAX_PARAMS * 330] = "";
  size_t po = 0;
  for (int i = 0; i < all.n; i++)
    po += (size_t)snprintf(ptext + po, sizeof ptext - po, "%s=%s\n", all.key[i], all.value[i]);

  netrec nr;
  memset(&nr, 0, sizeof nr);
  nr.compact = compact;
  int A = t.act_dim, O = t.obs_dim;
  am_rec* rec = NULL;
  am_pool* pool = NULL;
  am_batch* b = NULL;
  int status = 1, n_pert = 0;
  ama_perturb plist[AMA_MAX_PERTURB];
  if (!random_policy) {
    if (ama_ckpt_load_policy(&nr.pol, ckpt, t.groups, t.n_groups, O, A, envs, err, sizeof err)) {
      if (strcmp(acfg.task, t.name) != 0)
        cli_fail("record", "%s (the checkpoint was trained on task %s, not %s)", err, acfg.task,
                 t.name);
      else
        cli_fail("record", "%s", err);
      goto done;
    }
    nr.loaded = 1;
    nr.gamma = acfg.ppo.gamma;
    if (strcmp(acfg.task, t.name) != 0)
      fprintf(stderr, "record: note: the checkpoint was trained on task %s; recording it on %s\n",
              acfg.task, t.name);
  }
  // the perturbations (force pulses need push points in the pool, so before creating it)
  am_pool_config pc = {.num_envs = envs, .num_threads = threads, .seed = seed, .export_state = 1};
  for (; pspec[n_pert]; n_pert++)
    if (ama_perturb_parse(&plist[n_pert], pspec[n_pert], &t, nr.loaded ? &nr.pol : NULL, err,
                          sizeof err)) {
      cli_fail("record", "%s", err);
      goto done;
    }
  if (ama_perturb_push_points(plist, n_pert, &pc, err, sizeof err) ||
      !(pool = am_pool_create(&t, &pc, err, sizeof err))) {
    cli_fail("record", "%s", err);
    goto done;
  }
  b = am_pool_batch(pool);
  if (netrec_setup(&nr, &t, envs, random_policy ? AMA_ACT_RANDOM : AMA_ACT_POLICY, det, seed, err,
                   sizeof err)) {
    cli_fail("record", "%s", err);
    goto done;
  }
  am_rec_config rc_cfg = {.path = out, .force = force, .episodes = episodes,
                          .chunk_rows = chunk_rows, .task_params = ptext, .seed = seed,
                          .policy = random_policy ? "random" : ckpt,
                          .policy_hash = random_policy ? NULL : hash, .policy_step = policy_step,
                          .lossy = lossy};
  if (!(rec = am_rec_create(pool, &rc_cfg, err, sizeof err))) {
    cli_fail("record", "%s", err);
    goto done;
  }
  if (nr.loaded) {
    char cfgtext[16384];
    ama_config_write(&acfg, cfgtext, sizeof cfgtext);
    am_rec_set_meta(rec, "policy.config", cfgtext);
    am_rec_set_meta(rec, "policy.deterministic", det ? "1" : "0");
    am_rec_set_meta(rec, "policy.recurrent_noise", nr.act.Hc || nr.act.Hm ? "1" : "0");
    am_rec_set_meta(rec, "policy.blas", cli_blas_kernels());  // its rounding (docs/agents.md)
    if (netrec_channels(&nr, rec, err, sizeof err)) {
      cli_fail("record", "%s", err);
      goto done;
    }
  }
  if (rec_perturb(&nr.act, &t, plist, n_pert, seed, b, rec, err, sizeof err)) {
    cli_fail("record", "%s", err);
    goto done;
  }
  if (am_rec_begin(rec, err, sizeof err)) {
    cli_fail("record", "%s (nothing was recorded; %s removed)", err, out);
    am_rec_abort(rec);
    rec = NULL;
    goto done;
  }
  cli_install_interrupt();
  double t0 = am_now();
  int r = 0;
  cli_progress_state pg;
  cli_progress_start(&pg, quiet);
  while (!cli_interrupted) {
    ama_actor_act(&nr.act, b->obs, b->actions);
    am_pool_step(pool);
    ama_actor_observe(&nr.act, b);
    netrec_rpe(&nr, b);
    r = am_rec_step(rec, err, sizeof err);
    if (r < 0) break;  // a write error: closing keeps what was written whole (below)

    cli_progress(&pg, r, "record: %lld/%d episodes, %lld steps, %.1f s",
                 (long long)am_rec_episodes_done(rec), episodes, (long long)am_rec_rows(rec),
                 am_now() - t0);
    if (r) break;
  }
  cli_progress_end(&pg);
  int64_t done_eps = am_rec_episodes_done(rec), rows = am_rec_rows(rec);
  // A failure now (or met while stepping) keeps every chunk written whole, without an index or
  // trailer, so that the file never looks complete; the message says what it keeps.
  char cerr[AM_ERR_LEN];
  int close_rc = am_rec_close(rec, cerr, sizeof cerr);
  rec = NULL;
  if (close_rc) snprintf(err, sizeof err, "%s", cerr);  // names the file and what it keeps
  if (r < 0 || close_rc) {
    struct stat st;
    if (!stat(out, &st))
      cli_fail("record", "%s\n  (animat inspect %s / animat verify %s show what it holds; "
               "animat export --allow-damaged exports it)", err, out, out);
    else
      cli_fail("record", "%s", err);
    goto done;
  }
  struct stat st;
  double mb = stat(out, &st) ? 0 : st.st_size / 1e6;
  printf("recorded %lld episodes (%lld steps) of %s with %s policy to %s (%.2f MB)\n",
         (long long)done_eps, (long long)rows, t.name, random_policy ? "a random" : "the trained",
         out, mb);
  if (cli_interrupted)
    printf("record: interrupted after %lld of %d episodes: %s is intact and marked interrupted; "
           "its unfinished episodes are kept, marked incomplete\n",
           (long long)done_eps, episodes, out);
  status = cli_interrupted ? 130 : 0;
done:
  if (rec) am_rec_abort(rec);
  netrec_free(&nr);
  am_pool_free(pool);
  amt_destroy(&t);
  return status;
}
