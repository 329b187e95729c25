// dataset_resim.c: replay from a dataset alone: rebuilding the recorded model and re-simulating
// an episode from its recorded initial state, controls and applied forces.
//
// What it is: am_ds_load_model (metadata model.mjb, else model.xml + model.hfield_data) and
// am_ds_resim_episode (the largest |qpos - recorded qpos| of a replay; 0 when exact).
// What it is not: the byte format (dataset_read.c); tasks (a replay needs none: what a task's
// substep hook applied is recorded in the qfrc_applied channel); printing.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_dataset.h"

static int meta_int(am_ds_reader* r, const char* key, long* out, char* err, size_t err_sz) {
  const char* v = am_ds_meta(r, key, NULL);
  char* end;
  if (!v) return am_err(err, err_sz, "dataset has no '%s' metadata", key);
  *out = strtol(v, &end, 10);
  if (end == v) return am_err(err, err_sz, "metadata '%s' = '%s' is not a number", key, v);
  return 0;
}

// The channel named name when it holds exact f64 values of elems per step, -1 when absent; -2
// (with a message) when present with another type or shape, or stored lossy.
static int f64_channel(am_ds_reader* r, const char* name, size_t elems, char* err, size_t err_sz) {
  int c = am_ds_find_channel(r, name);
  if (c < 0) return -1;
  const am_ds_channel* ch = am_ds_get_channel(r, c);
  if (ch->dtype != AM_DT_F64 || ch->elems != elems) {
    am_err(err, err_sz, "channel '%s' holds %zu %s per step, expected %zu f64", name, ch->elems,
           am_dtype_name(ch->dtype), elems);
    return -2;
  }
  if (ch->flags & AM_DS_CH_LOSSY) {  // a re-simulation needs the exact state
    am_err(err, err_sz, "channel '%s' is stored lossy (16/32-bit floats); re-simulation needs it "
           "exact (record without --lossy)", name);
    return -2;
  }
  return c;
}

int am_ds_resim_episode(am_ds_reader* r, const am_model* model, int64_t i, double* max_dev,
                        char* err, size_t err_sz) {
  const mjModel* m = model->m;
  const am_ds_episode* e = am_ds_get_episode(r, i);
  if (!e) return am_err(err, err_sz, "no episode index %lld", (long long)i);
  long fs, nq, nv, na;
  if (meta_int(r, "task.frame_skip", &fs, err, err_sz) || meta_int(r, "model.nq", &nq, err, err_sz) ||
      meta_int(r, "model.nv", &nv, err, err_sz) || meta_int(r, "model.na", &na, err, err_sz))
    return -1;
  if (fs < 1 || fs > 100000)
    return am_err(err, err_sz, "metadata 'task.frame_skip' = %ld is out of range", fs);
  if (nq != m->nq || nv != m->nv || na != m->na)
    return am_err(err, err_sz, "model sizes (nq %d nv %d na %d) differ from the dataset's", m->nq,
                  m->nv, m->na);
  // Files of format 1.0 written before mocap and warm start were stored hold time,qpos,qvel,act.
  int n_base = 1 + m->nq + m->nv + m->na, n_full = n_base + 7 * m->nmocap + m->nv;
  int n_init = am_ds_num_init(r);
  if (n_init != n_full && n_init != n_base)
    return am_err(err, err_sz, "the initial state has %d values, expected %d", n_init, n_full);
  // A body-less scene (the empty model of tasks without a body) has no qpos: nothing to compare.
  int cq = m->nq ? f64_channel(r, "qpos", (size_t)m->nq, err, err_sz) : -1;
  int cc = m->nu ? f64_channel(r, "ctrl", (size_t)m->nu, err, err_sz) : -1;
  // The generalized force a task applied in each physics step (force fields): recorded by tasks
  // with a substep hook; without it the replay applies none, as the task did.
  int cf = f64_channel(r, "qfrc_applied", (size_t)fs * (size_t)m->nv, err, err_sz);
  // The scenery at the end of each step (a task moves mocap bodies in its hooks, between steps).
  int cm = m->nmocap ? f64_channel(r, "mocap_pos", 3 * (size_t)m->nmocap, err, err_sz) : -1;
  if (cq == -2 || cc == -2 || cf == -2 || cm == -2) return -1;
  if ((m->nq && cq < 0) || (m->nu && cc < 0))
    return am_err(err, err_sz, "resim needs the qpos and ctrl channels (record with body state)");
  int cu = am_ds_find_channel(r, "unstable");
  size_t T = (size_t)e->steps, fv = (size_t)fs * (size_t)m->nv;
  int nc = am_ds_num_channels(r);
  void** dst = calloc((size_t)nc, sizeof(void*));
  double* qpos = malloc(sizeof(double) * (T * (size_t)m->nq + 1));
  double* ctrl = malloc(sizeof(double) * (T * (size_t)m->nu + 1));
  double* qfrc = cf >= 0 ? malloc(sizeof(double) * (T * fv + 1)) : NULL;
  size_t fm = 3 * (size_t)m->nmocap;
  double* mocap = cm >= 0 ? malloc(sizeof(double) * (T * fm + 1)) : NULL;
  uint8_t* unst = calloc(T + 1, 1);
  double* init = malloc(sizeof(double) * (size_t)am_ds_num_init(r));
  mjData* d = mj_makeData(m);
  int rc = -1;
  if (!dst || !qpos || !ctrl || (cf >= 0 && !qfrc) || (cm >= 0 && !mocap) || !unst || !init ||
      !d) {
    am_err(err, err_sz, "out of memory");
    goto done;
  }
  if (m->nq) dst[cq] = qpos;
  if (m->nu) dst[cc] = ctrl;
  if (cf >= 0) dst[cf] = qfrc;
  if (cm >= 0) dst[cm] = mocap;
  if (cu >= 0 && am_ds_get_channel(r, cu)->row_bytes == 1) dst[cu] = unst;
  if (am_ds_read_episode(r, i, dst, init, err, err_sz)) goto done;
  mj_resetData(m, d);
  d->time = init[0];
  memcpy(d->qpos, init + 1, sizeof(double) * (size_t)m->nq);
  memcpy(d->qvel, init + 1 + m->nq, sizeof(double) * (size_t)m->nv);
  memcpy(d->act, init + 1 + m->nq + m->nv, sizeof(double) * (size_t)m->na);
  if (n_init == n_full) {
    memcpy(d->mocap_pos, init + n_base, sizeof(double) * 3 * (size_t)m->nmocap);
    memcpy(d->mocap_quat, init + n_base + 3 * m->nmocap, sizeof(double) * 4 * (size_t)m->nmocap);
    memcpy(d->qacc_warmstart, init + n_base + 7 * m->nmocap, sizeof(double) * (size_t)m->nv);
  }
  double dev = 0;
  for (size_t s = 0; s < T; s++) {
    if (unst[s]) break;  // the pool cut the episode here; the recorded state is not a physics step
    memcpy(d->ctrl, ctrl + s * (size_t)m->nu, sizeof(double) * (size_t)m->nu);
    if (mocap && s > 0) memcpy(d->mocap_pos, mocap + (s - 1) * fm, sizeof(double) * fm);
    for (long k = 0; k < fs; k++) {
      if (qfrc)
        memcpy(d->qfrc_applied, qfrc + s * fv + (size_t)k * (size_t)m->nv,
               sizeof(double) * (size_t)m->nv);
      mj_step(m, d);
    }
    for (int j = 0; j < m->nq; j++) {
      double x = d->qpos[j] - qpos[s * (size_t)m->nq + (size_t)j];
      if (x < 0) x = -x;
      if (!(x <= dev)) dev = x;  // NaN counts as a deviation
    }
  }
  *max_dev = dev;
  rc = 0;
done:
  free(dst);
  free(qpos);
  free(ctrl);
  free(qfrc);
  free(mocap);
  free(unst);
  free(init);
  if (d) mj_deleteData(d);
  return rc;
}

// The MJCF path: compiles metadata model.xml and restores model.hfield_data.
static am_model* load_from_xml(am_ds_reader* r, const char* name, char* err, size_t err_sz) {
  size_t xml_len = 0;
  const char* xml = am_ds_meta(r, "model.xml", &xml_len);
  char e2[AM_ERR_LEN];
  if (!xml || !xml_len) {
    am_err(err, err_sz, "the dataset embeds no model (metadata model.xml)");
    return NULL;
  }
  am_model* model = am_model_load_string(xml, NULL, name, e2, sizeof e2);
  if (!model) {
    am_err(err, err_sz, "the embedded model (metadata model.xml) does not compile: %s", e2);
    return NULL;
  }
  size_t hf_len = 0;
  const unsigned char* hf = (const unsigned char*)am_ds_meta(r, "model.hfield_data", &hf_len);
  if (hf) {
    mjModel* m = model->m;
    if (hf_len != (size_t)m->nhfielddata * 4) {
      am_err(err, err_sz, "metadata model.hfield_data holds %zu bytes; the embedded model has %d "
             "heightfield samples (%zu bytes)", hf_len, m->nhfielddata, (size_t)m->nhfielddata * 4);
      am_model_free(model);
      return NULL;
    }
    for (int i = 0; i < m->nhfielddata; i++) {
      uint32_t u = 0;
      for (int k = 0; k < 4; k++) u |= (uint32_t)hf[4 * (size_t)i + k] << (8 * k);
      memcpy(&m->hfield_data[i], &u, 4);
    }
  }
  return model;
}

am_model* am_ds_load_model(am_ds_reader* r, char* source, size_t source_sz, char* err,
                           size_t err_sz) {
  size_t xml_len = 0, mjb_len = 0;
  const char* xml = am_ds_meta(r, "model.xml", &xml_len);
  const char* name = am_ds_meta(r, "model.name", NULL);
  const char* mjv = am_ds_meta(r, "mujoco.version", NULL);
  const void* mjb = am_ds_meta(r, "model.mjb", &mjb_len);
  if (!name || !*name) name = "dataset";
  char why[2 * AM_ERR_LEN], ours[16];
  snprintf(ours, sizeof ours, "%d", mj_version());
  if (!mjb) {
    snprintf(why, sizeof why, "the dataset has no model.mjb");
  } else if (!mjv || strcmp(mjv, ours)) {
    snprintf(why, sizeof why, "model.mjb was written by MuJoCo %s, this is %s", mjv ? mjv : "?",
             ours);
  } else {  // the exact model, when this MuJoCo wrote it
    char e2[AM_ERR_LEN];
    am_model* model =
        am_model_load_mjb(mjb, mjb_len, xml_len ? xml : NULL, name, e2, sizeof e2);
    if (model) {
      if (source) snprintf(source, source_sz, "metadata model.mjb (the exact compiled model)");
      return model;
    }
    snprintf(why, sizeof why, "metadata model.mjb: %s", e2);
  }
  am_model* model = load_from_xml(r, name, err, err_sz);
  if (!model) {
    if (mjb) {  // say why the exact model was not used either
      char e3[AM_ERR_LEN];
      snprintf(e3, sizeof e3, "%s", err);
      am_err(err, err_sz, "%s (and %s)", e3, why);
    }
    return NULL;
  }
  if (source)
    snprintf(source, source_sz, "metadata model.xml (MJCF fallback: %s; a replay may drift by "
             "the XML's rounding)", why);
  return model;
}
