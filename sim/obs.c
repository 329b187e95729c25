// obs.c: a body's observation groups, derived from its sensors by type, and body observation.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "am_sim.h"

enum { G_PROPRIO, G_VESTIBULAR, G_TOUCH, G_RANGE, G_EGO, G_COUNT };
static const char* group_names[G_COUNT] = {"proprioception", "vestibular", "touch", "range",
                                           "egocentric"};

static int sensor_group(int type) {
  switch (type) {
    case mjSENS_JOINTPOS: case mjSENS_JOINTVEL: case mjSENS_TENDONPOS: case mjSENS_TENDONVEL:
    case mjSENS_ACTUATORPOS: case mjSENS_ACTUATORVEL: case mjSENS_ACTUATORFRC:
    case mjSENS_BALLQUAT: case mjSENS_BALLANGVEL:
    case mjSENS_JOINTLIMITPOS: case mjSENS_JOINTLIMITVEL: case mjSENS_JOINTLIMITFRC:
    case mjSENS_TENDONLIMITPOS: case mjSENS_TENDONLIMITVEL: case mjSENS_TENDONLIMITFRC:
      return G_PROPRIO;
    case mjSENS_ACCELEROMETER: case mjSENS_GYRO: case mjSENS_VELOCIMETER:
    case mjSENS_MAGNETOMETER: case mjSENS_FRAMEXAXIS: case mjSENS_FRAMEYAXIS:
    case mjSENS_FRAMEZAXIS: case mjSENS_FRAMEQUAT: case mjSENS_SUBTREELINVEL:
    case mjSENS_SUBTREEANGMOM:
      return G_VESTIBULAR;
    case mjSENS_TOUCH: case mjSENS_FORCE: case mjSENS_TORQUE:
      return G_TOUCH;
    case mjSENS_RANGEFINDER:
      return G_RANGE;
    default:
      return G_EGO;
  }
}

// Joint coordinates used when a model has no sensors: every non-free joint's qpos and qvel.
static int plain_joint_dims(const mjModel* m, int* nq_out, int* nv_out) {
  int nq = 0, nv = 0;
  for (int j = 0; j < m->njnt; j++) {
    int t = m->jnt_type[j];
    if (t == mjJNT_FREE) continue;
    nq += t == mjJNT_BALL ? 4 : 1;
    nv += t == mjJNT_BALL ? 3 : 1;
  }
  *nq_out = nq;
  *nv_out = nv;
  return nq + nv;
}

int am_body_obs_groups(const mjModel* m, am_obs_group* groups, int* obs_dim) {
  int size[G_COUNT] = {0};
  if (m->nsensor == 0) {
    int nq, nv;
    size[G_PROPRIO] = plain_joint_dims(m, &nq, &nv);
  } else {
    for (int s = 0; s < m->nsensor; s++) size[sensor_group(m->sensor_type[s])] += m->sensor_dim[s];
  }
  size[G_PROPRIO] += m->na;  // actuator activation states (filters, muscles) are proprioceptive
  int n = 0, off = 0;
  for (int g = 0; g < G_COUNT && n < AM_MAX_GROUPS; g++) {
    if (!size[g]) continue;
    snprintf(groups[n].name, AM_NAME_LEN, "%s", group_names[g]);
    groups[n].offset = off;
    groups[n].size = size[g];
    off += size[g];
    n++;
  }
  *obs_dim = off;
  return n;
}

// One walk over the body observation in am_body_obs_groups' order: with d, writes the values into
// obs; with kind, writes where each comes from.
static void walk(const mjModel* m, const mjData* d, float* obs, int* kind, int* idx) {
  int k = 0;
#define PUT(K, ARR, I)                            \
  do {                                            \
    if (d) obs[k] = (float)d->ARR[I];             \
    if (kind) kind[k] = K, idx[k] = (int)(I);     \
    k++;                                          \
  } while (0)
  for (int g = 0; g < G_COUNT; g++) {
    if (m->nsensor == 0) {
      if (g == G_PROPRIO) {
        for (int j = 0; j < m->njnt; j++) {
          int t = m->jnt_type[j];
          if (t == mjJNT_FREE) continue;
          int a = m->jnt_qposadr[j], w = t == mjJNT_BALL ? 4 : 1;
          for (int i = 0; i < w; i++) PUT(AM_OBS_FROM_QPOS, qpos, a + i);
        }
        for (int j = 0; j < m->njnt; j++) {
          int t = m->jnt_type[j];
          if (t == mjJNT_FREE) continue;
          int a = m->jnt_dofadr[j], w = t == mjJNT_BALL ? 3 : 1;
          for (int i = 0; i < w; i++) PUT(AM_OBS_FROM_QVEL, qvel, a + i);
        }
      }
    } else {
      for (int s = 0; s < m->nsensor; s++) {
        if (sensor_group(m->sensor_type[s]) != g) continue;
        for (int i = 0; i < m->sensor_dim[s]; i++) PUT(AM_OBS_FROM_SENSOR, sensordata, m->sensor_adr[s] + i);
      }
    }
    if (g == G_PROPRIO)
      for (int i = 0; i < m->na; i++) PUT(AM_OBS_FROM_ACT, act, i);
  }
#undef PUT
}

void am_body_observe(const mjModel* m, const mjData* d, float* obs) { walk(m, d, obs, NULL, NULL); }

void am_body_obs_sources(const mjModel* m, int* kind, int* idx) { walk(m, NULL, NULL, kind, idx); }

int am_find_group(const am_obs_group* groups, int n, const char* name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(groups[i].name, name)) return i;
  return -1;
}
