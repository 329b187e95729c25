// ama_fixedpoints.c: a recurrent cell as a map of its state (double precision, closed-form
// Jacobian) and the fixed/slow point search of Sussillo & Barak (2013). See ama_fixedpoints.h.
// What it is not: no dataset reading, no printing.
//
// The cells' equations are ama_nn.c's (GRU as PyTorch; LSTM gates i f g o; leaky rate RNN
// x' = (1-a) x + a (W_h r(x) + W_x u + b), r = relu or tanh), here with the library's exp/tanh
// instead of the network's fast float approximations: F agrees with ama_cell_forward to float rounding.
#include "ama_fixedpoints.h"

#include <cblas.h>
#undef I  // OpenBLAS pulls in <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "am_sim.h"

// LAPACK from OpenBLAS (Fortran calling convention: arguments by pointer, column-major, one hidden
// length per character argument). Debian's OpenBLAS ships no lapacke.h.
extern void dgeev_(const char* jobvl, const char* jobvr, const int* n, double* A, const int* lda,
                   double* wr, double* wi, double* vl, const int* ldvl, double* vr,
                   const int* ldvr, double* work, const int* lwork, int* info, size_t, size_t);
extern void dposv_(const char* uplo, const int* n, const int* nrhs, double* A, const int* lda,
                   double* B, const int* ldb, int* info, size_t);

//---------------------------------- the cell as a map ---------------------------------------------

void ama_cellmap_free(ama_cellmap* m) {
  free(m->Wx);
  free(m->bx);
  free(m->Wh);
  free(m->bh);
  free(m->px);
  free(m->pre);
  free(m->act);
  memset(m, 0, sizeof(*m));
}

int ama_cellmap_init(ama_cellmap* m, const ama_cell* c, const ama_params* p, char* err,
                     size_t err_sz) {
  memset(m, 0, sizeof(*m));
  if (c->cfg.type == AMA_CELL_MLP || c->S == 0)
    return am_err(err, err_sz, "an mlp module has no recurrent state, so no fixed points (it "
                  "maps its input directly)");
  m->type = c->cfg.type;
  m->I = c->cfg.in;
  m->H = c->cfg.hidden;
  m->G = c->G;
  m->S = c->S;
  m->alpha = m->type == AMA_CELL_RNN ? (double)(c->cfg.dt / c->cfg.tau) : 0.0;  // as the network
  m->tanh_act = m->type == AMA_CELL_RNN && c->cfg.tanh_act;  // r = tanh(x) (rnn_act = tanh)
  size_t GH = (size_t)m->G * m->H, nx = GH * (size_t)m->I, nh = GH * (size_t)m->H;
  m->Wx = malloc(sizeof(double) * (nx + 1));
  m->bx = malloc(sizeof(double) * GH);
  m->Wh = malloc(sizeof(double) * nh);
  m->bh = calloc(GH, sizeof(double));
  m->px = malloc(sizeof(double) * GH);
  m->pre = malloc(sizeof(double) * GH);
  m->act = malloc(sizeof(double) * GH);
  if (!m->Wx || !m->bx || !m->Wh || !m->bh || !m->px || !m->pre || !m->act) {
    ama_cellmap_free(m);
    return am_err(err, err_sz, "out of memory for the map of a %d-unit cell", c->cfg.hidden);
  }
  const float* Wx = p->w + p->t[c->iWx].offset;
  const float* bx = p->w + p->t[c->ibx].offset;
  const float* Wh = p->w + p->t[c->iWh].offset;
  for (size_t i = 0; i < nx; i++) m->Wx[i] = Wx[i];
  for (size_t i = 0; i < GH; i++) m->bx[i] = bx[i];
  // Dale's law: the effective weights |W| * sign(presynaptic unit), as ama_cell_prepare
  for (size_t i = 0; i < nh; i++)
    m->Wh[i] = c->sign ? fabs((double)Wh[i]) * c->sign[i % (size_t)m->H] : (double)Wh[i];
  if (c->ibh >= 0) {
    const float* bh = p->w + p->t[c->ibh].offset;
    for (size_t i = 0; i < GH; i++) m->bh[i] = bh[i];
  }
  double* zero = calloc((size_t)m->I + 1, sizeof(double));
  if (!zero) {
    ama_cellmap_free(m);
    return am_err(err, err_sz, "out of memory");
  }
  ama_cellmap_set_input(m, zero);
  free(zero);
  return 0;
}

void ama_cellmap_set_input(ama_cellmap* m, const double* x) {
  int GH = m->G * m->H;
  for (int r = 0; r < GH; r++) {
    double s = m->bx[r];
    const double* w = m->Wx + (size_t)r * m->I;
    for (int i = 0; i < m->I; i++) s += w[i] * x[i];
    m->px[r] = s;
  }
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

// pre = Wh v (G*H), v the recurrent operand (H): h, or the rate RNN's r(x).
static void pre_activations(ama_cellmap* m, const double* v) {
  int GH = m->G * m->H, H = m->H;
  for (int r = 0; r < GH; r++) {
    const double* w = m->Wh + (size_t)r * H;
    double s = 0;
    for (int j = 0; j < H; j++) s += w[j] * v[j];
    m->pre[r] = s;  // the recurrent part alone (the GRU's candidate gate needs it)
  }
}

void ama_cellmap_step(ama_cellmap* m, const double* s, double* f, double* J) {
  const int H = m->H, S = m->S;
  const double* Wh = m->Wh;
  if (J) memset(J, 0, sizeof(double) * (size_t)S * S);
  switch (m->type) {
    case AMA_CELL_RNN: {
      double* r = m->act;  // relu(x), or tanh(x)
      for (int j = 0; j < H; j++) r[j] = m->tanh_act ? tanh(s[j]) : s[j] > 0 ? s[j] : 0;
      pre_activations(m, r);
      const double a = m->alpha;
      for (int i = 0; i < H; i++) f[i] = (1 - a) * s[i] + a * (m->px[i] + m->pre[i]);
      if (J)
        for (int i = 0; i < H; i++) {
          double* Ji = J + (size_t)i * S;
          const double* w = Wh + (size_t)i * H;
          for (int j = 0; j < H; j++)
            Ji[j] = m->tanh_act ? a * w[j] * (1 - r[j] * r[j]) : s[j] > 0 ? a * w[j] : 0;
          Ji[i] += 1 - a;
        }
    } break;
    case AMA_CELL_GRU: {
      pre_activations(m, s);
      double* ph = m->pre;  // Wh h (3H), then + bh
      for (int k = 0; k < 3 * H; k++) ph[k] += m->bh[k];
      double *rg = m->act, *zg = m->act + H, *ng = m->act + 2 * H;
      for (int i = 0; i < H; i++) {
        rg[i] = sigmoid(m->px[i] + ph[i]);
        zg[i] = sigmoid(m->px[H + i] + ph[H + i]);
        ng[i] = tanh(m->px[2 * H + i] + rg[i] * ph[2 * H + i]);
        f[i] = (1 - zg[i]) * ng[i] + zg[i] * s[i];
      }
      if (J)
        for (int i = 0; i < H; i++) {
          double r = rg[i], z = zg[i], n = ng[i];
          double dn = (1 - z) * (1 - n * n);       // dh'/d(candidate pre-activation)
          double cr = dn * ph[2 * H + i] * r * (1 - r);  // ... through the reset gate
          double cz = (s[i] - n) * z * (1 - z);    // ... through the update gate
          const double* wr = Wh + (size_t)i * H;
          const double* wz = Wh + (size_t)(H + i) * H;
          const double* wn = Wh + (size_t)(2 * H + i) * H;
          double* Ji = J + (size_t)i * S;
          for (int j = 0; j < H; j++) Ji[j] = dn * r * wn[j] + cr * wr[j] + cz * wz[j];
          Ji[i] += z;
        }
    } break;
    case AMA_CELL_LSTM: {
      pre_activations(m, s);
      double *ig = m->act, *fg = m->act + H, *gg = m->act + 2 * H, *og = m->act + 3 * H;
      for (int k = 0; k < 4 * H; k++) m->pre[k] += m->px[k];
      for (int i = 0; i < H; i++) {
        ig[i] = sigmoid(m->pre[i]);
        fg[i] = sigmoid(m->pre[H + i]);
        gg[i] = tanh(m->pre[2 * H + i]);
        og[i] = sigmoid(m->pre[3 * H + i]);
      }
      const double* c = s + H;
      double* cn = f + H;
      for (int i = 0; i < H; i++) {
        cn[i] = fg[i] * c[i] + ig[i] * gg[i];
        f[i] = og[i] * tanh(cn[i]);
      }
      if (J)
        for (int i = 0; i < H; i++) {
          double iv = ig[i], fv = fg[i], gv = gg[i], ov = og[i], tc = tanh(cn[i]);
          double ki = gv * iv * (1 - iv), kf = c[i] * fv * (1 - fv), kg = iv * (1 - gv * gv);
          double dtc = ov * (1 - tc * tc);  // dh'/dc'
          double ko = tc * ov * (1 - ov);
          const double* wi = Wh + (size_t)i * H;
          const double* wf = Wh + (size_t)(H + i) * H;
          const double* wg = Wh + (size_t)(2 * H + i) * H;
          const double* wo = Wh + (size_t)(3 * H + i) * H;
          double* Jh = J + (size_t)i * S;        // row of h'_i
          double* Jc = J + (size_t)(H + i) * S;  // row of c'_i
          for (int j = 0; j < H; j++) {
            double dc = ki * wi[j] + kf * wf[j] + kg * wg[j];  // dc'_i/dh_j
            Jc[j] = dc;
            Jh[j] = ko * wo[j] + dtc * dc;
          }
          Jc[H + i] = fv;
          Jh[H + i] = dtc * fv;
        }
    } break;
    default:
      break;
  }
}

//---------------------------------- eigenvalues ---------------------------------------------------

typedef struct eigval {
  double re, im;
} eigval;

static int eig_cmp(const void* a, const void* b) {
  const eigval *x = a, *y = b;
  double mx = hypot(x->re, x->im), my = hypot(y->re, y->im);
  if (mx != my) return mx > my ? -1 : 1;
  if (x->re != y->re) return x->re > y->re ? -1 : 1;
  if (x->im != y->im) return x->im > y->im ? -1 : 1;
  return 0;
}

int ama_eig_general(const double* A, int n, double* re, double* im, char* err, size_t err_sz) {
  if (n < 1) return am_err(err, err_sz, "eigenvalues: matrix size %d < 1", n);
  // dgeev reads column-major, i.e. A^T: the same eigenvalues
  double* a = malloc(sizeof(double) * (size_t)n * n);
  eigval* ev = malloc(sizeof(eigval) * (size_t)n);
  double* work = NULL;
  int rc = -1, info = 0, lwork = -1, one = 1;
  double wq = 0, dummy = 0;
  if (!a || !ev) {
    am_err(err, err_sz, "eigenvalues: out of memory (n = %d)", n);
    goto done;
  }
  memcpy(a, A, sizeof(double) * (size_t)n * n);
  dgeev_("N", "N", &n, a, &n, re, im, &dummy, &one, &dummy, &one, &wq, &lwork, &info, 1, 1);
  lwork = info == 0 && wq >= 1 ? (int)wq : 4 * n;
  if (lwork < 4 * n) lwork = 4 * n;
  work = malloc(sizeof(double) * (size_t)lwork);
  if (!work) {
    am_err(err, err_sz, "eigenvalues: out of memory (n = %d)", n);
    goto done;
  }
  dgeev_("N", "N", &n, a, &n, re, im, &dummy, &one, &dummy, &one, work, &lwork, &info, 1, 1);
  if (info != 0) {
    am_err(err, err_sz, "eigenvalues (LAPACK dgeev) failed: info = %d (n = %d)", info, n);
    goto done;
  }
  for (int i = 0; i < n; i++) ev[i] = (eigval){re[i], im[i]};
  qsort(ev, (size_t)n, sizeof(eigval), eig_cmp);
  for (int i = 0; i < n; i++) re[i] = ev[i].re, im[i] = ev[i].im;
  rc = 0;
done:
  free(a);
  free(ev);
  free(work);
  return rc;
}

//---------------------------------- the search ----------------------------------------------------

void ama_fp_config_default(ama_fp_config* c) {
  memset(c, 0, sizeof(*c));
  c->max_iter = 200;
  c->tol_q = 1e-24;
  c->tol_step = 1e-12;
  c->tol_fixed = 1e-12;
  c->tol_slow = 1e-5;
  c->dedup = 1e-3;
  c->eig_tol = 1e-3;
  c->start_noise = 0;
  c->seed = 0;
}

const char* ama_fp_kind_name(int kind) {
  return kind == AMA_FP_FIXED ? "fixed" : kind == AMA_FP_SLOW ? "slow" : "rejected";
}

void ama_fp_result_free(ama_fp_result* r) {
  for (int i = 0; i < r->n_points; i++) {
    free(r->points[i].s);
    free(r->points[i].eig_re);
    free(r->points[i].eig_im);
  }
  free(r->points);
  free(r->start_q);
  free(r->start_iters);
  free(r->start_point);
  memset(r, 0, sizeof(*r));
}

// Keeps a state inside the set the cell can reach: a GRU's h and an LSTM's h stay in [-1, 1]
// (h' is a convex combination of tanh and h; h' = o tanh(c')); outside it the gates saturate and
// the map has spurious fixed points no trajectory visits. The rate RNN's x and the LSTM's c are
// unbounded.
static void clamp_reachable(const ama_cellmap* m, double* s) {
  if (m->type != AMA_CELL_GRU && m->type != AMA_CELL_LSTM) return;
  for (int i = 0; i < m->H; i++) s[i] = s[i] > 1 ? 1 : s[i] < -1 ? -1 : s[i];
}

// Scratch of one Levenberg-Marquardt run.
typedef struct lm_work {
  double *f, *r, *J, *A, *M, *g, *d, *s_new, *f_new, *J_new;
} lm_work;

static double half_sq(const double* r, int n) {
  double q = 0;
  for (int i = 0; i < n; i++) q += r[i] * r[i];
  return 0.5 * q;
}

static double norm2(const double* v, int n) { return sqrt(2.0 * half_sq(v, n)); }

// Minimises q from s (updated in place) by Levenberg-Marquardt on the residual r = F(s) - s, whose
// Jacobian is Jr = J - I: solve (Jr^T Jr + mu I) d = -Jr^T r (Cholesky, LAPACK dposv); accept the
// step when q drops (mu / 3), else mu x 4. Returns the final q; *iters gets the evaluations used.
static double lm_minimise(ama_cellmap* m, double* s, const ama_fp_config* cfg, lm_work* w,
                          int* iters) {
  const int S = m->S;
  ama_cellmap_step(m, s, w->f, w->J);
  int evals = 1;
  for (int i = 0; i < S; i++) w->r[i] = w->f[i] - s[i];
  double q = half_sq(w->r, S);
  double mu = -1;
  while (evals < cfg->max_iter && q >= cfg->tol_q) {
    for (int i = 0; i < S; i++) w->J[(size_t)i * S + i] -= 1.0;  // Jr
    // A = Jr^T Jr (upper triangle, row-major = lower, column-major), g = Jr^T r
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, S, S, 1.0, w->J, S, 0.0, w->A, S);
    cblas_dgemv(CblasRowMajor, CblasTrans, S, S, 1.0, w->J, S, w->r, 1, 0.0, w->g, 1);
    if (mu < 0) {
      double tr = 0;
      for (int i = 0; i < S; i++) tr += w->A[(size_t)i * S + i];
      mu = 1e-3 * fmax(tr / S, 1e-12);
    }
    int accepted = 0, stop = 0;
    while (!accepted && evals < cfg->max_iter) {
      memcpy(w->M, w->A, sizeof(double) * (size_t)S * S);
      for (int i = 0; i < S; i++) w->M[(size_t)i * S + i] += mu;
      for (int i = 0; i < S; i++) w->d[i] = -w->g[i];
      int info = 0, one = 1;
      dposv_("L", &S, &one, w->M, &S, w->d, &S, &info, 1);
      if (info != 0) {  // not positive definite at this mu (rounding): damp more
        mu *= 4;
        if (mu > 1e30) stop = 1;
        if (stop) break;
        continue;
      }
      for (int i = 0; i < S; i++) w->s_new[i] = s[i] + w->d[i];
      clamp_reachable(m, w->s_new);
      ama_cellmap_step(m, w->s_new, w->f_new, w->J_new);
      evals++;
      double q_new = 0;
      for (int i = 0; i < S; i++) {
        double ri = w->f_new[i] - w->s_new[i];
        q_new += 0.5 * ri * ri;
      }
      if (q_new < q) {
        accepted = 1;
        for (int i = 0; i < S; i++) w->d[i] = w->s_new[i] - s[i];  // the step taken (clamped)
        double step = norm2(w->d, S);
        memcpy(s, w->s_new, sizeof(double) * S);
        double* t = w->f;
        w->f = w->f_new, w->f_new = t;
        t = w->J;
        w->J = w->J_new, w->J_new = t;
        for (int i = 0; i < S; i++) w->r[i] = w->f[i] - s[i];
        q = q_new;
        mu = fmax(mu / 3, 1e-20);
        if (step <= cfg->tol_step * (1 + norm2(s, S))) stop = 1;
      } else {
        mu *= 4;
        if (mu > 1e30) stop = 1;  // no descent at any damping: a minimum of q
        if (stop) break;
      }
    }
    if (stop || !accepted) break;
  }
  *iters = evals;
  return q;
}

typedef struct point_order {
  int idx, kind, start;
  double q;
} point_order;

static int point_cmp(const void* a, const void* b) {
  const point_order *x = a, *y = b;
  if (x->kind != y->kind) return x->kind > y->kind ? -1 : 1;
  if (x->q != y->q) return x->q < y->q ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

int ama_fixedpoints(ama_cellmap* m, const double* starts, int n_starts, const ama_fp_config* cfg_in,
                    ama_fp_result* out, char* err, size_t err_sz) {
  memset(out, 0, sizeof(*out));
  ama_fp_config cfg;
  if (cfg_in) cfg = *cfg_in;
  else ama_fp_config_default(&cfg);
  if (n_starts < 1) return am_err(err, err_sz, "fixed points: no starting states (n_starts = %d)", n_starts);
  if (cfg.max_iter < 1)
    return am_err(err, err_sz, "fixed points: max_iter must be >= 1 (got %d)", cfg.max_iter);
  if (!(cfg.tol_fixed > 0) || !(cfg.tol_slow >= cfg.tol_fixed))
    return am_err(err, err_sz, "fixed points: need 0 < tol_fixed <= tol_slow (got %g, %g)",
                  cfg.tol_fixed, cfg.tol_slow);
  if (!(cfg.dedup >= 0) || !(cfg.start_noise >= 0) || !(cfg.tol_q >= 0) || !(cfg.tol_step >= 0) ||
      !(cfg.eig_tol >= 0))
    return am_err(err, err_sz, "fixed points: dedup, start_noise, tol_q, tol_step and eig_tol must "
                  "be >= 0");
  const int S = m->S;
  const size_t SS = (size_t)S * S;
  lm_work w;
  double* buf = malloc(sizeof(double) * (5 * SS + 7 * (size_t)S));
  double* s = malloc(sizeof(double) * S);
  double* ends = malloc(sizeof(double) * (size_t)n_starts * S);  // the optimised states
  int* rep = malloc(sizeof(int) * (size_t)n_starts);               // start representing a point
  int* cnt = malloc(sizeof(int) * (size_t)n_starts);
  point_order* ord = malloc(sizeof(point_order) * (size_t)n_starts);
  int* remap = malloc(sizeof(int) * (size_t)n_starts);
  out->start_q = malloc(sizeof(double) * (size_t)n_starts);
  out->start_iters = malloc(sizeof(int) * (size_t)n_starts);
  out->start_point = malloc(sizeof(int) * (size_t)n_starts);
  int rc = -1;
  if (!buf || !s || !ends || !rep || !cnt || !ord || !remap || !out->start_q || !out->start_iters ||
      !out->start_point) {
    am_err(err, err_sz, "fixed points: out of memory (%d starts of %d states)", n_starts, S);
    goto done;
  }
  out->S = S;
  out->n_starts = n_starts;
  w.J = buf, w.A = buf + SS, w.M = buf + 2 * SS, w.J_new = buf + 3 * SS;
  double* Jscr = buf + 4 * SS;
  double* v = buf + 5 * SS;
  w.f = v, w.r = v + S, w.g = v + 2 * S, w.d = v + 3 * S, w.s_new = v + 4 * S, w.f_new = v + 5 * S;
  double* fscr = v + 6 * S;
  am_rng rng;
  am_rng_seed(&rng, cfg.seed, 0);
  // 1. optimise every start; 2. merge the kept ends in start order into distinct points
  int n_pts = 0;
  for (int k = 0; k < n_starts; k++) {
    memcpy(s, starts + (size_t)k * S, sizeof(double) * S);
    if (cfg.start_noise > 0)
      for (int i = 0; i < S; i++) s[i] += cfg.start_noise * am_rng_normal(&rng);
    clamp_reachable(m, s);
    double q = lm_minimise(m, s, &cfg, &w, &out->start_iters[k]);
    memcpy(ends + (size_t)k * S, s, sizeof(double) * S);
    out->start_q[k] = q;
    out->start_point[k] = -1;
    if (!(q < cfg.tol_slow)) {
      out->n_rejected++;
      continue;
    }
    int hit = -1;
    for (int p = 0; p < n_pts && hit < 0; p++) {
      const double* e = ends + (size_t)rep[p] * S;
      double d2 = 0;
      for (int i = 0; i < S; i++) d2 += (s[i] - e[i]) * (s[i] - e[i]);
      if (sqrt(d2) <= cfg.dedup) hit = p;
    }
    if (hit < 0) {
      hit = n_pts++;
      rep[hit] = k;
      cnt[hit] = 0;
    } else if (q < out->start_q[rep[hit]]) {
      rep[hit] = k;
    }
    cnt[hit]++;
    out->start_point[k] = hit;
  }
  // 3. order: fixed first, then slow, by q, then by start
  for (int p = 0; p < n_pts; p++) {
    double q = out->start_q[rep[p]];
    ord[p] = (point_order){p, q < cfg.tol_fixed ? AMA_FP_FIXED : AMA_FP_SLOW, rep[p], q};
  }
  qsort(ord, (size_t)n_pts, sizeof(point_order), point_cmp);
  out->points = calloc((size_t)n_pts + 1, sizeof(ama_fp_point));
  if (!out->points) {
    am_err(err, err_sz, "fixed points: out of memory");
    goto done;
  }
  for (int j = 0; j < n_pts; j++) {
    ama_fp_point* P = &out->points[j];
    out->n_points = j + 1;
    remap[ord[j].idx] = j;
    P->q = ord[j].q;
    P->kind = ord[j].kind;
    P->start = ord[j].start;
    P->count = cnt[ord[j].idx];
    P->s = malloc(sizeof(double) * S);
    P->eig_re = malloc(sizeof(double) * S);
    P->eig_im = malloc(sizeof(double) * S);
    if (!P->s || !P->eig_re || !P->eig_im) {
      am_err(err, err_sz, "fixed points: out of memory");
      goto done;
    }
    memcpy(P->s, ends + (size_t)P->start * S, sizeof(double) * S);
    P->dist_start = INFINITY;
    for (int k = 0; k < n_starts; k++) {
      const double* b = starts + (size_t)k * S;
      double d2 = 0;
      for (int i = 0; i < S; i++) d2 += (P->s[i] - b[i]) * (P->s[i] - b[i]);
      P->dist_start = fmin(P->dist_start, sqrt(d2));
    }
    ama_cellmap_step(m, P->s, fscr, Jscr);
    if (ama_eig_general(Jscr, S, P->eig_re, P->eig_im, err, err_sz)) goto done;
    P->max_abs = hypot(P->eig_re[0], P->eig_im[0]);
    for (int i = 0; i < S; i++) {
      double a = hypot(P->eig_re[i], P->eig_im[i]);
      P->n_unstable += a > 1.0 + cfg.eig_tol;
      P->n_marginal += fabs(a - 1.0) <= cfg.eig_tol;
    }
    if (P->kind == AMA_FP_FIXED) out->n_fixed++;
    else out->n_slow++;
  }
  for (int k = 0; k < n_starts; k++)
    if (out->start_point[k] >= 0) out->start_point[k] = remap[out->start_point[k]];
  rc = 0;
done:
  free(buf);
  free(s);
  free(ends);
  free(rep);
  free(cnt);
  free(ord);
  free(remap);
  if (rc) ama_fp_result_free(out);
  return rc;
}
