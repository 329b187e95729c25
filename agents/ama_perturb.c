// ama_perturb.c: perturbations while an actor acts (ama_agents.h, "perturbations";
// docs/agents.md). Of the network: silencing, clamping, noise and current injection on chosen
// units of a module, in a time window aligned on a task event, and lesions (a fraction of a
// module's recurrent weights removed). The actor turns the active windows of each env into a
// per-unit gain and offset that the policy applies to the module's state and output right after
// the module steps, so what the units read (and what is recorded) is the perturbed activity.
// Mechanical: a force pulse on a body or site in the same windows, which the actor writes into the
// pool's batch push before each step and the pool applies in every physics step (sim/pool.c).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"

static const char* kind_names[] = {"silence", "clamp", "noise", "stim", "lesion", "force"};

static int parse_units(const char* v, int H, int* u0, int* u1) {
  if (!strcmp(v, "all")) return *u0 = 0, *u1 = H, 0;
  char* end;
  long a = strtol(v, &end, 10), b = a;
  if (end == v) return -1;
  if (*end == '-') {
    const char* s = end + 1;
    b = strtol(s, &end, 10);
    if (end == s) return -1;
  }
  if (*end || a < 0 || b < a || b >= H) return -1;
  *u0 = (int)a, *u1 = (int)b + 1;
  return 0;
}

// Reads the components of a vector key (force=FX,FY[,FZ], torque=TX,TY,TZ) into x[0..2]; *n
// counts them (more than 3 are counted, not stored).
static int vector_part(const char* spec, const char* key, const char* val, double* x, int* n,
                       char* err, size_t err_sz) {
  char* end;
  double v = strtod(val, &end);
  if (end == val || *end || !isfinite(v))
    return am_err(err, err_sz, "perturbation '%s': %s component %d '%s' is not a finite number",
                  spec, key, *n + 1, val);
  if (*n < 3) x[*n] = v;
  (*n)++;
  return 0;
}

// The body or site of the model named name; the message lists the model's bodies otherwise.
static int find_point(const char* spec, const mjModel* m, int site, const char* name,
                      am_push_point* pt, char* err, size_t err_sz) {
  int type = site ? mjOBJ_SITE : mjOBJ_BODY;
  int id = mj_name2id(m, type, name);
  if (id > 0 || (site && id == 0)) return pt->type = type, pt->id = id, 0;  // body 0: the world
  char names[400] = "";
  int n = site ? m->nsite : m->nbody;
  for (int k = site ? 0 : 1; k < n; k++) {
    const char* nm = mj_id2name(m, type, k);
    size_t o = strlen(names);
    if (nm && o + strlen(nm) + 8 < sizeof names) snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", nm);
    else if (nm) {
      snprintf(names + o, sizeof names - o, ", ...");
      break;
    }
  }
  char other[160] = "";
  if (mj_name2id(m, site ? mjOBJ_BODY : mjOBJ_SITE, name) >= 0)
    snprintf(other, sizeof other, "; a %s is named '%s': %s=%s", site ? "body" : "site", name,
             site ? "body" : "site", name);
  return am_err(err, err_sz, "perturbation '%s': %s '%s' is not a %s of the model (%s: %s%s)",
                spec, site ? "site" : "body", name, site ? "site" : "body",
                site ? "sites" : "bodies", names[0] ? names : "none", other);
}

int ama_perturb_parse(ama_perturb* pt, const char* spec, const am_task* t, const ama_policy* p,
                      char* err, size_t err_sz) {
  memset(pt, 0, sizeof *pt);
  snprintf(pt->text, sizeof pt->text, "%s", spec);
  pt->kind = -1;
  pt->event = -1;
  pt->duration = -1;
  pt->push = -1;
  char units[128] = "all", event[128] = "", mod[128] = "core", point[128] = "";
  int have_value = 0, have_units = 0, have_module = 0, point_site = 0, nf = -1, nt = -1;
  const char* vec = NULL;  // the vector key whose components continue (force, torque)
  const char* s = spec;
  while (*s) {
    const char* e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char item[160], key[32], val[128];
    if (len >= sizeof item) return am_err(err, err_sz, "perturbation '%s': item too long", spec);
    memcpy(item, s, len);
    item[len] = 0;
    s = e ? e + 1 : s + len;
    if (vec && !strchr(item, '=')) {  // the next component of force= or torque=
      int isf = !strcmp(vec, "force");
      if (vector_part(spec, vec, item, isf ? pt->ft : pt->ft + 3, isf ? &nf : &nt, err, err_sz))
        return -1;
      continue;
    }
    vec = NULL;
    if (am_kv_split(item, key, sizeof key, val, sizeof val))
      return am_err(err, err_sz, "perturbation '%s': '%s' is not key=value", spec, item);
    char* end = NULL;
    if (!strcmp(key, "kind")) {
      for (int k = 0; k < AMA_PT_COUNT; k++)
        if (!strcmp(val, kind_names[k])) pt->kind = k;
      if (pt->kind < 0)
        return am_err(err, err_sz, "perturbation '%s': kind '%s' is not silence, clamp, noise, "
                      "stim, lesion or force", spec, val);
    } else if (!strcmp(key, "module")) {
      snprintf(mod, sizeof mod, "%s", val);
      have_module = 1;
    } else if (!strcmp(key, "units")) {
      snprintf(units, sizeof units, "%s", val);
      have_units = 1;
    } else if (!strcmp(key, "event")) {
      snprintf(event, sizeof event, "%s", val);
    } else if (!strcmp(key, "body") || !strcmp(key, "site")) {
      if (point[0])
        return am_err(err, err_sz, "perturbation '%s': give one body= or site=", spec);
      snprintf(point, sizeof point, "%s", val);
      point_site = !strcmp(key, "site");
    } else if (!strcmp(key, "force") || !strcmp(key, "torque")) {
      int isf = !strcmp(key, "force");
      int* n = isf ? &nf : &nt;
      if (*n >= 0) return am_err(err, err_sz, "perturbation '%s': %s= given twice", spec, key);
      *n = 0;
      if (vector_part(spec, key, val, isf ? pt->ft : pt->ft + 3, n, err, err_sz)) return -1;
      vec = isf ? "force" : "torque";
    } else if (!strcmp(key, "start") || !strcmp(key, "duration") || !strcmp(key, "value")) {
      double x = strtod(val, &end);
      if (end == val || *end || !isfinite(x))
        return am_err(err, err_sz, "perturbation '%s': %s '%s' is not a number", spec, key, val);
      if (!strcmp(key, "start")) pt->start = x;
      else if (!strcmp(key, "duration")) pt->duration = x;
      else pt->value = (float)x, have_value = 1;
    } else {
      return am_err(err, err_sz, "perturbation '%s': unknown key '%s' (kind, module, units, "
                    "event, start, duration, value; force: body or site, force, torque)", spec,
                    key);
    }
  }
  if (pt->kind < 0) return am_err(err, err_sz, "perturbation '%s': no kind=", spec);
  if (event[0]) {
    for (int k = 0; k < t->n_events; k++)
      if (!strcmp(t->events[k], event)) pt->event = k;
    if (pt->event < 0)
      return am_err(err, err_sz, "perturbation '%s': task %s has no event '%s'", spec, t->name,
                    event);
  }
  if (pt->start < 0) return am_err(err, err_sz, "perturbation '%s': start must be >= 0", spec);
  if (pt->kind == AMA_PT_FORCE) {
    if (have_module || have_units || have_value)
      return am_err(err, err_sz, "perturbation '%s': force takes body= or site=, force= and "
                    "torque=, not %s", spec, have_module ? "module=" : have_units ? "units=" : "value=");
    if (!point[0])
      return am_err(err, err_sz, "perturbation '%s': force needs body=NAME or site=NAME (where "
                    "the force acts)", spec);
    if (nf < 0 && nt < 0)
      return am_err(err, err_sz, "perturbation '%s': force needs force=FX,FY[,FZ] (N) and/or "
                    "torque=TX,TY,TZ (N m)", spec);
    if (nf >= 0 && nf != 2 && nf != 3)
      return am_err(err, err_sz, "perturbation '%s': force has %d component%s; it takes 2 (FX,FY) "
                    "or 3 (FX,FY,FZ), in N, world frame", spec, nf, nf == 1 ? "" : "s");
    if (nt >= 0 && nt != 3)
      return am_err(err, err_sz, "perturbation '%s': torque has %d component%s; it takes 3 "
                    "(TX,TY,TZ), in N m, world frame", spec, nt, nt == 1 ? "" : "s");
    if (pt->duration == 0)
      return am_err(err, err_sz, "perturbation '%s': duration 0 applies no force", spec);
    if (!t->model)
      return am_err(err, err_sz, "perturbation '%s': task %s has no body to push", spec, t->name);
    return find_point(spec, t->model->m, point_site, point, &pt->point, err, err_sz);
  }
  if (point[0] || nf >= 0 || nt >= 0)
    return am_err(err, err_sz, "perturbation '%s': body=, site=, force= and torque= belong to "
                  "kind=force", spec);
  if (!p)
    return am_err(err, err_sz, "perturbation '%s': %s perturbs the network: it needs a trained "
                  "policy (not a random one)", spec, kind_names[pt->kind]);
  if (!strcmp(mod, "core")) pt->module = 0;
  else if (!strcmp(mod, "motor")) pt->module = 1;
  else return am_err(err, err_sz, "perturbation '%s': module '%s' is not core or motor", spec, mod);
  const ama_cell* c = pt->module ? &p->motor : &p->core;
  int H = c->cfg.hidden;
  if (c->cfg.type == AMA_CELL_MLP)
    return am_err(err, err_sz, "perturbation '%s': the %s module is an MLP (no state to "
                  "perturb)", spec, mod);
  if (parse_units(units, H, &pt->u0, &pt->u1))
    return am_err(err, err_sz, "perturbation '%s': units '%s' is not all, N or N-M within the "
                  "%s module's %d units", spec, units, mod, H);
  if ((pt->kind == AMA_PT_CLAMP || pt->kind == AMA_PT_NOISE || pt->kind == AMA_PT_STIM ||
       pt->kind == AMA_PT_LESION) && !have_value)
    return am_err(err, err_sz, "perturbation '%s': %s needs value= (%s)", spec,
                  kind_names[pt->kind],
                  pt->kind == AMA_PT_CLAMP ? "the clamped activity"
                  : pt->kind == AMA_PT_NOISE ? "the noise's standard deviation"
                  : pt->kind == AMA_PT_STIM ? "the current added per step"
                                            : "the fraction of recurrent weights removed");
  if (pt->kind == AMA_PT_NOISE && pt->value < 0)
    return am_err(err, err_sz, "perturbation '%s': noise value must be >= 0", spec);
  if (pt->kind == AMA_PT_LESION && !(pt->value >= 0 && pt->value <= 1))
    return am_err(err, err_sz, "perturbation '%s': lesion value (a fraction) must be in [0, 1]",
                  spec);
  return 0;
}

int ama_perturb_push_points(ama_perturb* list, int n, am_pool_config* pc, char* err,
                            size_t err_sz) {
  pc->n_push = 0;
  for (int k = 0; k < n; k++) {
    ama_perturb* pt = &list[k];
    if (pt->kind != AMA_PT_FORCE) continue;
    pt->push = -1;
    for (int j = 0; j < pc->n_push; j++)
      if (pc->push[j].type == pt->point.type && pc->push[j].id == pt->point.id) pt->push = j;
    if (pt->push >= 0) continue;
    if (pc->n_push >= AM_MAX_PUSH)
      return am_err(err, err_sz, "perturbation '%s': more than %d bodies or sites pushed", pt->text,
                    AM_MAX_PUSH);
    pt->push = pc->n_push;
    pc->push[pc->n_push++] = pt->point;
  }
  return 0;
}

// Removes a fraction of the recurrent weights into units [u0, u1) (rows of Wh), chosen with rng.
static int lesion(ama_policy* p, const ama_perturb* pt, am_rng* rng, char* err, size_t err_sz) {
  ama_cell* c = pt->module ? &p->motor : &p->core;
  if (c->iWh < 0) return am_err(err, err_sz, "perturbation '%s': no recurrent weights", pt->text);
  int H = c->cfg.hidden, G = c->G;
  float* W = p->params.w + p->params.t[c->iWh].offset;  // (G*H x H)
  for (int g = 0; g < G; g++)
    for (int u = pt->u0; u < pt->u1; u++)
      for (int j = 0; j < H; j++)
        if (am_rng_uniform(rng) < pt->value) W[((size_t)g * H + u) * H + j] = 0;
  return 0;
}

int ama_actor_perturb(ama_actor* a, const ama_perturb* list, int n, double control_dt,
                      uint64_t seed, am_batch* b, char* err, size_t err_sz) {
  if (n > AMA_MAX_PERTURB) return am_err(err, err_sz, "at most %d perturbations", AMA_MAX_PERTURB);
  for (int k = 0; k < n; k++) {
    if (list[k].kind != AMA_PT_FORCE) {
      if (!a->pol)
        return am_err(err, err_sz, "perturbation '%s' perturbs the network: it needs a policy "
                      "(not a random one)", list[k].text);
      continue;
    }
    if (!b || !b->push || list[k].push < 0 || list[k].push >= b->n_push)
      return am_err(err, err_sz, "perturbation '%s': the env pool has no push point for it "
                    "(create the pool with ama_perturb_push_points' configuration)", list[k].text);
  }
  ama_policy* p = a->pol;
  const int N = a->N, Hc = p ? p->cfg.core_hidden : 0, Hm = p ? p->cfg.motor_hidden : 0;
  a->n_pert = n;
  memcpy(a->pert, list, sizeof *list * (size_t)n);
  a->pert_dt = control_dt;
  a->push = b ? b->push : NULL;
  a->n_push = b ? b->n_push : 0;
  a->pert_since = malloc(sizeof(int64_t) * (size_t)N * (n ? n : 1));
  a->pert_active = calloc((size_t)N, sizeof(uint32_t));
  a->pert_rng = calloc((size_t)N, sizeof(am_rng));
  for (int m = 0; m < 2; m++) {
    int H = m ? Hm : Hc;
    a->pert_gain[m] = malloc(sizeof(float) * (size_t)N * H + 1);
    a->pert_add[m] = malloc(sizeof(float) * (size_t)N * H + 1);
  }
  if (!a->pert_since || !a->pert_active || !a->pert_rng || !a->pert_gain[0] || !a->pert_add[0] ||
      !a->pert_gain[1] || !a->pert_add[1])
    return am_err(err, err_sz, "out of memory for perturbations");
  for (int i = 0; i < N; i++)  // windows on the episode's start open with the first step
    for (int k = 0; k < n; k++) a->pert_since[(size_t)i * n + k] = list[k].event < 0 ? 0 : -1;
  for (int i = 0; i < N; i++) am_rng_seed(&a->pert_rng[i], seed, 0x7065727400000000ULL + (uint64_t)i);
  am_rng lr;
  am_rng_seed(&lr, seed, 0x6c6573696f6e0000ULL);
  for (int k = 0; k < n; k++)
    if (list[k].kind == AMA_PT_LESION && lesion(p, &list[k], &lr, err, err_sz)) return -1;
  return 0;
}

// The windows active in this step, as a gain and offset per unit and the pushes of the pool's
// next step (called by ama_actor_act).
void ama_actor_perturb_apply(ama_actor* a) {
  ama_policy* p = a->pol;
  const int N = a->N;
  int any[2] = {0, 0};
  for (int m = 0; m < 2 && p; m++) {
    int H = m ? p->cfg.motor_hidden : p->cfg.core_hidden;
    for (size_t q = 0; q < (size_t)N * H; q++) a->pert_gain[m][q] = 1, a->pert_add[m][q] = 0;
  }
  if (a->push) memset(a->push, 0, sizeof(double) * 6 * (size_t)a->n_push * (size_t)N);
  for (int i = 0; i < N; i++) {
    uint32_t act = 0;
    for (int k = 0; k < a->n_pert; k++) {
      const ama_perturb* pt = &a->pert[k];
      if (pt->kind == AMA_PT_LESION) continue;
      int64_t since = a->pert_since[(size_t)i * a->n_pert + k];
      if (since < 0) continue;
      double t = since * a->pert_dt;
      if (t + 1e-9 < pt->start || (pt->duration >= 0 && t + 1e-9 >= pt->start + pt->duration))
        continue;
      act |= 1u << k;
      if (pt->kind == AMA_PT_FORCE) {  // pulses on one point add up
        double* f = a->push + ((size_t)i * a->n_push + (size_t)pt->push) * 6;
        for (int j = 0; j < 6; j++) f[j] += pt->ft[j];
        continue;
      }
      int m = pt->module, H = m ? p->cfg.motor_hidden : p->cfg.core_hidden;
      float* g = a->pert_gain[m] + (size_t)i * H;
      float* o = a->pert_add[m] + (size_t)i * H;
      any[m] = 1;
      for (int u = pt->u0; u < pt->u1; u++) {
        switch (pt->kind) {
          case AMA_PT_SILENCE: g[u] = 0, o[u] = 0; break;
          case AMA_PT_CLAMP: g[u] = 0, o[u] = pt->value; break;
          case AMA_PT_NOISE: o[u] += pt->value * (float)am_rng_normal(&a->pert_rng[i]); break;
          case AMA_PT_STIM: o[u] += pt->value; break;
          default: break;
        }
      }
    }
    a->pert_active[i] = act;
  }
  if (!p) return;
  p->unit_gain[0] = any[0] ? a->pert_gain[0] : NULL;
  p->unit_add[0] = any[0] ? a->pert_add[0] : NULL;
  p->unit_gain[1] = any[1] ? a->pert_gain[1] : NULL;
  p->unit_add[1] = any[1] ? a->pert_add[1] : NULL;
}

// After a step: the windows' clocks (called by ama_actor_observe).
void ama_actor_perturb_observe(ama_actor* a, const am_batch* b) {
  for (int i = 0; i < a->N; i++) {
    int ended = b->terminated[i] || b->truncated[i];
    for (int k = 0; k < a->n_pert; k++) {
      int64_t* s = &a->pert_since[(size_t)i * a->n_pert + k];
      const ama_perturb* pt = &a->pert[k];
      if (ended) *s = pt->event < 0 ? 0 : -1;  // the next step starts an episode
      else if (pt->event >= 0 && (b->events[i] & (1u << pt->event))) *s = 0;
      else if (*s >= 0) (*s)++;
    }
  }
}

void ama_actor_perturb_free(ama_actor* a) {
  free(a->pert_since), free(a->pert_active), free(a->pert_rng);
  for (int m = 0; m < 2; m++) free(a->pert_gain[m]), free(a->pert_add[m]);
  if (a->pol)
    for (int m = 0; m < 2; m++) a->pol->unit_gain[m] = a->pol->unit_add[m] = NULL;
}
