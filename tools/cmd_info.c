// cmd_info.c: `animat version`, `animat bodies [NAME]`, `animat tasks [NAME]`.
#include <stdio.h>
#include <string.h>

#include "amt_tasks.h"
#include "cli.h"

int cmd_version(int argc, char** argv) {
  const char* usage =
      "usage: animat version\n\nPrints animat's version and the MuJoCo library it runs on.\n";
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, NULL, 0, pos, 0, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  printf("animat %s (MuJoCo %d.%d.%d, header %d)\n", ANIMAT_VERSION, mj_version() / 100,
         (mj_version() / 10) % 10, mj_version() % 10, mjVERSION_HEADER);
  return 0;
}

static const char* sensor_names[] = {
    "touch", "accelerometer", "velocimeter", "gyro", "force", "torque", "magnetometer",
    "rangefinder", "jointpos", "jointvel", "tendonpos", "tendonvel", "actuatorpos", "actuatorvel",
    "actuatorfrc", "ballquat", "ballangvel", "jointlimitpos", "jointlimitvel", "jointlimitfrc",
    "tendonlimitpos", "tendonlimitvel", "tendonlimitfrc", "framepos", "framequat", "framexaxis",
    "frameyaxis", "framezaxis", "framelinvel", "frameangvel", "framelinacc", "frameangacc",
    "subtreecom", "subtreelinvel", "subtreeangmom", "clock", "user"};

static const char* actuator_kind(const mjModel* m, int i) {
  int dyn = m->actuator_dyntype[i], gain = m->actuator_gaintype[i], bias = m->actuator_biastype[i];
  if (gain == mjGAIN_MUSCLE) return "muscle";
  const mjtNum* g = m->actuator_gainprm + i * mjNGAIN;
  const mjtNum* b = m->actuator_biasprm + i * mjNBIAS;
  // A position servo: force = gain * ctrl + b0 - kp * q (- kv * qdot), i.e. negative position bias.
  int servo = gain == mjGAIN_FIXED && bias == mjBIAS_AFFINE && b[1] < 0 && g[0] > 0;
  if (servo) return dyn == mjDYN_FILTER ? "position servo (filtered)" : "position servo";
  if (gain == mjGAIN_FIXED && bias == mjBIAS_NONE)
    return dyn == mjDYN_FILTER ? "torque motor (filtered)" : dyn == mjDYN_NONE ? "motor" : "general";
  return "general";
}

static int describe_body(const char* name) {
  char err[AM_ERR_LEN];
  am_model* model = am_model_load_body(name, err, sizeof err);
  if (!model) return cli_fail("bodies", "%s", err);
  const mjModel* m = model->m;
  double mass = 0;
  for (int b = 1; b < m->nbody; b++) mass += m->body_mass[b];
  int free_joints = 0;
  for (int j = 0; j < m->njnt; j++) free_joints += m->jnt_type[j] == mjJNT_FREE;
  printf("body %s (%s)\n", model->name, model->path);
  printf("  bodies %d, joints %d (free %d), nq %d, nv %d\n", m->nbody - 1, m->njnt, free_joints,
         m->nq, m->nv);
  printf("  total mass %.4f kg\n", mass);
  printf("  timestep %g s, integrator %s\n", m->opt.timestep,
         m->opt.integrator == mjINT_RK4 ? "RK4" : m->opt.integrator == mjINT_EULER ? "Euler"
                                                                                  : "implicit");
  printf("  actuators %d (activation states %d)\n", m->nu, m->na);
  const char* kinds[8];
  int counts[8], nk = 0;
  for (int i = 0; i < m->nu; i++) {
    const char* k = actuator_kind(m, i);
    int f = -1;
    for (int j = 0; j < nk; j++)
      if (!strcmp(kinds[j], k)) f = j;
    if (f < 0 && nk < 8) {
      kinds[nk] = k;
      counts[nk++] = 0;
      f = nk - 1;
    }
    if (f >= 0) counts[f]++;
  }
  for (int j = 0; j < nk; j++) printf("    %-28s %d\n", kinds[j], counts[j]);
  int muscles = 0;
  for (int i = 0; i < m->nu; i++) muscles += m->actuator_gaintype[i] == mjGAIN_MUSCLE;
  if (muscles) {
    printf("  muscles %d:", muscles);
    for (int i = 0; i < m->nu; i++)
      if (m->actuator_gaintype[i] == mjGAIN_MUSCLE) printf(" %s", mj_id2name(m, mjOBJ_ACTUATOR, i));
    printf("\n");
  }
  printf("  tendons %d\n", m->ntendon);
  printf("  sensors %d (%d values)\n", m->nsensor, m->nsensordata);
  int n_types = (int)(sizeof sensor_names / sizeof sensor_names[0]);
  for (int ty = 0; ty < n_types; ty++) {
    int c = 0, dim = 0;
    for (int s = 0; s < m->nsensor; s++)
      if (m->sensor_type[s] == ty) c++, dim += m->sensor_dim[s];
    if (c) printf("    %-28s %d (%d values)\n", sensor_names[ty], c, dim);
  }
  am_obs_group groups[AM_MAX_GROUPS];
  int obs_dim;
  int ng = am_body_obs_groups(m, groups, &obs_dim);
  printf("  observation groups (%d values):\n", obs_dim);
  for (int g = 0; g < ng; g++)
    printf("    %-28s [%d, %d) size %d\n", groups[g].name, groups[g].offset,
           groups[g].offset + groups[g].size, groups[g].size);
  am_model_free(model);
  return 0;
}

int cmd_bodies(int argc, char** argv) {
  const char* usage =
      "usage: animat bodies [NAME]\n"
      "  Without NAME, lists the bodies in the bodies directory ($ANIMAT_BODIES overrides it).\n"
      "  With NAME (or a path to an MJCF file), prints degrees of freedom, actuators by type,\n"
      "  muscles, tendons, sensors by type, mass, timestep and observation groups.\n";
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, NULL, 0, pos, 1, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos == 1) return describe_body(pos[0]);
  char names[128][64], err[AM_ERR_LEN];
  int n = am_list_bodies(names, 128, err, sizeof err);
  if (n < 0) return cli_fail("bodies", "%s", err);
  printf("bodies in %s:\n", am_bodies_dir());
  for (int i = 0; i < n; i++) {
    am_model* model = am_model_load_body(names[i], err, sizeof err);
    if (!model) {
      printf("  %-16s (does not load: %s)\n", names[i], err);
      continue;
    }
    const mjModel* m = model->m;
    double mass = 0;
    for (int b = 1; b < m->nbody; b++) mass += m->body_mass[b];
    printf("  %-16s nv %3d  actuators %3d  sensors %3d  mass %7.3f kg  dt %g s\n", names[i], m->nv,
           m->nu, m->nsensor, mass, m->opt.timestep);
    am_model_free(model);
  }
  return 0;
}

static int print_params(const amt_info* info) {
  printf("  parameters (--task-param key=value):\n");
  for (const amt_param_def* d = info->params; d && d->key; d++)
    printf("    %-22s = %-12s %s\n", d->key, d->def, d->meaning);
  if (info->members) {
    printf("  and each member's own parameters as TASK.key (e.g. %s.episode_time=20); members:",
           info->members[0]);
    for (const char* const* m = info->members; *m; m++) printf(" %s", *m);
    printf(" (`animat tasks TASK` lists their keys)\n");
  }
  return 0;
}

static int describe_task(const char* name, const amt_params* params) {
  char err[AM_ERR_LEN];
  am_task t;
  if (amt_create(&t, name, params, err, sizeof err)) return cli_fail("tasks", "%s", err);
  const amt_info* info = amt_find(name);
  const mjModel* m = t.model->m;
  printf("task %s%s%s\n", t.name, info ? ": " : "", info ? info->summary : "");
  if (info) printf("  body %s\n", info->body);
  printf("  observation %d values in %d groups:\n", t.obs_dim, t.n_groups);
  for (int g = 0; g < t.n_groups; g++)
    printf("    %-22s [%d, %d) size %d\n", t.groups[g].name, t.groups[g].offset,
           t.groups[g].offset + t.groups[g].size, t.groups[g].size);
  if (t.discrete) printf("  action: a choice among %d (one-hot; the task takes the argmax; action_head = categorical)\n", t.act_dim);
  else printf("  action %d values\n", t.act_dim);
  double period = t.frame_skip * m->opt.timestep;
  printf("  control period %g s (%d physics steps of %g s)\n", period, t.frame_skip,
         m->opt.timestep);
  if (t.max_steps) printf("  episode %d control steps (%g s), then truncated\n", t.max_steps,
                          t.max_steps * period);
  else printf("  episode: no time limit\n");
  printf("  reward terms:");
  for (int k = 0; k < t.n_terms; k++) printf(" %s", t.terms[k]);
  printf("%s\n", t.n_terms ? "" : " none");
  printf("  events (code name):");
  for (int k = 0; k < t.n_events; k++) printf(" %d %s%s", k, t.events[k], k + 1 < t.n_events ? "," : "");
  printf("%s\n", t.n_events ? "" : " none");
  const int schema[3] = {t.trial_start_event, t.success_event, t.trial_end_event};
  const char* role[3] = {"trial start", "success", "trial end"};
  int has[3];
  printf("  trial schema:");
  for (int k = 0; k < 3; k++) {
    has[k] = schema[k] >= 0 && schema[k] < t.n_events;
    printf(" %s %s%s", role[k], has[k] ? t.events[schema[k]] : "none", k < 2 ? "," : "");
  }
  printf("%s\n", !has[1] ? "" : has[2] ? " (success rate per trial)" : " (success rate per episode)");
  printf("  task variables:");
  for (int k = 0; k < t.n_vars; k++) printf(" %s", t.vars[k]);
  printf("%s\n", t.n_vars ? "" : " none");
  if (t.n_conditions) {
    printf("  trial condition:");
    for (int k = 0; k < t.n_conditions; k++) printf(" %s", t.vars[t.conditions[k]]);
    printf("\n");
  }
  if (info) print_params(info);
  amt_destroy(&t);
  return 0;
}

int cmd_tasks(int argc, char** argv) {
  const char* usage =
      "usage: animat tasks [NAME] [--task-param key=value]...\n"
      "  Without NAME, lists the tasks. With NAME, prints its observation groups and sizes, action\n"
      "  size, control period, episode length, reward terms, events and every parameter.\n";
  static amt_params params;
  memset(&params, 0, sizeof params);
  cli_flag flags[] = {{"task-param", CLI_EACH, NULL, 1, 0, cli_task_param, &params}};
  const char* pos[1];
  int npos, help;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 1, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos == 1) return describe_task(pos[0], &params);
  int n;
  const amt_info* r = amt_registry(&n);
  printf("tasks (animat tasks NAME for details; body:NAME runs any body bare):\n");
  for (int i = 0; i < n; i++) printf("  %-22s [%s] %s\n", r[i].name, r[i].body, r[i].summary);
  return 0;
}
