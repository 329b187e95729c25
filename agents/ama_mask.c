// ama_mask.c: wiring constraints on the recurrent weights: which connections exist. A module's
// connectivity is an H x H matrix of 0/1 (row i: the receiving unit, column j: the sending unit),
// built from the configuration (sparse random, ring distance, modules) or read from a CSV file, and
// applied to every gate's block of W_h (GRU: 3 blocks, LSTM: 4, rate RNN: 1) through the flat
// buffer's `keep` mask, so an absent connection stays exactly zero through Adam (w, g, m, v) and in
// checkpoints (section CONN). Dale's law (ama_nn.c) composes with it: W_eff = |W_raw| * sign is 0
// where W_raw is.
// What it is not: no training code (ama_adam_step and ama_grad_norm read `keep`), no printing.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ama_agents.h"

static const char* const MOD[2] = {"core", "motor"};

static int module_listed(const char* list, const char* name) {
  size_t n = strlen(name);
  for (const char* s = list; *s;) {
    size_t len = strcspn(s, ",");
    if (len == n && !strncmp(s, name, n)) return 1;
    s += len + (s[len] == ',');
  }
  return 0;
}

static int inputs_per_unit(const ama_policy_cfg* c, int H) {
  int k = (int)lround((double)c->conn_density * H);
  return k < 1 ? 1 : k > H ? H : k;
}

// Shuffles idx[0..n) (Fisher-Yates from rng).
static void shuffle(int* idx, int n, am_rng* rng) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(am_rng_next(rng) % (uint64_t)(i + 1));
    int t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

// Module m's matrix from the configuration's rule (not file). cand: H ints of scratch.
static void build_rule(const ama_policy_cfg* c, int H, am_rng* rng, uint8_t* M, int* cand) {
  const int k = inputs_per_unit(c, H);
  const int blocks = c->conn_blocks < H ? c->conn_blocks : H;
  memset(M, 0, (size_t)H * H);
  for (int i = 0; i < H; i++) {
    int n = 0;
    if (!strcmp(c->conn, "ring")) {
      // unit i sits at i on a ring of H; its k nearest (itself, then i+1, i-1, i+2, ...)
      for (int d = 0; n < k; d++) {
        cand[n++] = (i + d) % H;
        if (d > 0 && n < k && (i - d + H) % H != (i + d) % H) cand[n++] = (i - d + H) % H;
      }
    } else if (!strcmp(c->conn, "modules")) {
      // its own block's units in random order first, then the other blocks' in random order
      int b = (int)((int64_t)i * blocks / H), n_own = 0;
      for (int j = 0; j < H; j++)
        if ((int)((int64_t)j * blocks / H) == b) cand[n_own++] = j;
      shuffle(cand, n_own, rng);
      n = n_own;
      for (int j = 0; j < H; j++)
        if ((int)((int64_t)j * blocks / H) != b) cand[n++] = j;
      shuffle(cand + n_own, n - n_own, rng);
    } else {  // random: k distinct senders drawn uniformly
      for (int j = 0; j < H; j++) cand[j] = j;
      shuffle(cand, H, rng);
      n = H;
    }
    for (int q = 0; q < k && q < n; q++) M[(size_t)i * H + cand[q]] = 1;
  }
}

int ama_conn_read_csv(const char* path, int H, uint8_t* conn, char* err, size_t err_sz) {
  char* text = am_read_text(path, NULL, err, err_sz);
  if (!text) return -1;
  int row = 0, line_no = 0, rc = -1;
  for (char* s = text; *s;) {
    char* nl = strchr(s, '\n');
    if (nl) *nl = 0;
    line_no++;
    char* hash = strchr(s, '#');
    if (hash) *hash = 0;
    char* q = s;
    while (*q == ' ' || *q == '\t' || *q == '\r') q++;
    if (*q) {
      if (row == H) {
        am_err(err, err_sz, "%s line %d: more than %d rows (the module has %d units: the matrix "
               "is %d x %d)", path, line_no, H, H, H, H);
        goto out;
      }
      int col = 0;
      for (;;) {
        while (*q == ' ' || *q == '\t' || *q == '\r') q++;
        if (!*q) break;
        char* end = NULL;
        double v = strtod(q, &end);
        if (end == q || !isfinite(v) || (*end && !strchr(", \t\r", *end))) {
          size_t len = strcspn(q, ", \t\r");
          am_err(err, err_sz, "%s line %d column %d: '%.*s' is not a number (0: no connection, "
                 "nonzero: connection)", path, line_no, col + 1, (int)(len < 40 ? len : 40), q);
          goto out;
        }
        if (col == H) {
          am_err(err, err_sz, "%s line %d: more than %d values (the module has %d units: each "
                 "row holds %d)", path, line_no, H, H, H);
          goto out;
        }
        conn[(size_t)row * H + col++] = v != 0.0;
        q = end;
        while (*q == ' ' || *q == '\t' || *q == '\r') q++;
        if (*q == ',') q++;
      }
      if (col != H) {
        am_err(err, err_sz, "%s line %d: %d values, the module has %d units (each row holds %d: "
               "the inputs of one receiving unit)", path, line_no, col, H, H);
        goto out;
      }
      row++;
    }
    s = nl ? nl + 1 : s + strlen(s);
  }
  if (row != H) {
    am_err(err, err_sz, "%s: %d rows, the module has %d units (the matrix is %d x %d)", path, row,
           H, H, H);
    goto out;
  }
  rc = 0;
out:
  free(text);
  return rc;
}

// NumPy's .npy format (format versions 1.0 to 3.0): the magic "\x93NUMPY", the version, a header
// length (2 bytes little-endian in 1.0, 4 in 2.0/3.0), a Python dict literal with 'descr',
// 'fortran_order' and 'shape', then the raw array. The value of a dict key in hdr, copied into out.
static int npy_field(const char* hdr, const char* key, char* out, size_t n) {
  char k[32];
  snprintf(k, sizeof k, "'%s'", key);
  const char* p = strstr(hdr, k);
  if (!p) return -1;
  p = strchr(p + strlen(k), ':');
  if (!p) return -1;
  p++;
  while (*p == ' ') p++;
  const char* end;
  if (*p == '\'') end = strchr(p + 1, '\''), p++;
  else if (*p == '(') end = strchr(p, ')') ? strchr(p, ')') + 1 : NULL;
  else end = p + strcspn(p, ",}");
  if (!end || (size_t)(end - p) >= n) return -1;
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = 0;
  return 0;
}

int ama_conn_read_npy(const char* path, int H, uint8_t* conn, char* err, size_t err_sz) {
  size_t len = 0;
  char* data = am_read_text(path, &len, err, err_sz);
  if (!data) return -1;
  const unsigned char* u = (const unsigned char*)data;
  int rc = -1;
  char descr[16], order[16], shape[64];
  if (len < 10 || memcmp(data, "\x93NUMPY", 6) || u[6] < 1 || u[6] > 3) {
    am_err(err, err_sz, "%s: not a NumPy .npy file (no \\x93NUMPY magic of format 1 to 3)", path);
    goto out;
  }
  const size_t hl = u[6] == 1 ? (size_t)u[8] | (size_t)u[9] << 8
                              : (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 |
                                    (size_t)u[11] << 24;
  const size_t off = (u[6] == 1 ? 10 : 12) + hl;
  if (off > len) {
    am_err(err, err_sz, "%s: the .npy header (%zu bytes) runs past the file's end", path, hl);
    goto out;
  }
  char* hdr = malloc(hl + 1);
  if (!hdr) {
    am_err(err, err_sz, "%s: out of memory", path);
    goto out;
  }
  memcpy(hdr, data + off - hl, hl);
  hdr[hl] = 0;
  int bad = npy_field(hdr, "descr", descr, sizeof descr) ||
            npy_field(hdr, "fortran_order", order, sizeof order) ||
            npy_field(hdr, "shape", shape, sizeof shape);
  free(hdr);
  if (bad) {
    am_err(err, err_sz, "%s: the .npy header lacks descr, fortran_order or shape", path);
    goto out;
  }
  long r = -1, c = -1;
  if (sscanf(shape, "(%ld, %ld)", &r, &c) != 2 || r != H || c != H) {
    am_err(err, err_sz, "%s: shape %s, the module has %d units (the matrix is (%d, %d): row = "
           "receiving unit)", path, shape, H, H, H);
    goto out;
  }
  // element kind and size: bool, signed/unsigned integers and floats, little-endian (or 1 byte)
  const char kind = descr[1];
  const int size = atoi(descr + 2);
  const int le = descr[0] == '<' || descr[0] == '|' || descr[0] == '=';
  if (!le || !strchr("biuf", kind) || !(size == 1 || size == 2 || size == 4 || size == 8) ||
      (kind == 'f' && size < 4)) {
    am_err(err, err_sz, "%s: dtype '%s' is not supported (little-endian bool, int, uint, float32 "
           "or float64)", path, descr);
    goto out;
  }
  if (len - off < (size_t)H * H * size) {
    am_err(err, err_sz, "%s: %zu data bytes, a (%d, %d) '%s' array needs %zu", path, len - off, H,
           H, descr, (size_t)H * H * size);
    goto out;
  }
  const int fortran = !strcmp(order, "True");
  for (size_t k = 0; k < (size_t)H * H; k++) {
    const unsigned char* e = u + off + k * size;
    double v;
    if (kind == 'f') {
      if (size == 4) {
        float f;
        memcpy(&f, e, 4);
        v = f;
      } else {
        memcpy(&v, e, 8);
      }
      if (!isfinite(v)) {
        am_err(err, err_sz, "%s: element %zu (row %zu, column %zu) is not a number", path, k,
               fortran ? k % H : k / H, fortran ? k / H : k % H);
        goto out;
      }
    } else {
      uint64_t x = 0;
      for (int b = 0; b < size; b++) x |= (uint64_t)e[b] << (8 * b);
      v = x != 0;
    }
    const size_t i = fortran ? k % H : k / H, j = fortran ? k / H : k % H;
    conn[i * H + j] = v != 0.0;
  }
  rc = 0;
out:
  free(data);
  return rc;
}

// The recurrent tensor of module m, or NULL when it has none (mlp).
static const ama_cell* cell_of(const ama_policy* p, int m) { return m ? &p->motor : &p->core; }

// params.keep from the modules' matrices (NULL when every module is full and none was masked
// before). An existing buffer is reused: the learner's second policy view shares the pointer.
static int rebuild_keep(ama_policy* p, char* err, size_t err_sz) {
  ama_params* P = &p->params;
  if (!p->conn[0] && !p->conn[1] && !P->keep) return 0;
  if (!P->keep) P->keep = malloc(P->count ? P->count : 1);
  if (!P->keep) return am_err(err, err_sz, "out of memory for the connectivity mask");
  memset(P->keep, 1, P->count);
  for (int m = 0; m < 2; m++) {
    const ama_cell* c = cell_of(p, m);
    if (!p->conn[m] || c->iWh < 0) continue;
    const int H = c->cfg.hidden;
    uint8_t* k = P->keep + P->t[c->iWh].offset;
    for (int g = 0; g < c->G; g++)
      memcpy(k + (size_t)g * H * H, p->conn[m], (size_t)H * H);
  }
  ama_params_mask_apply(P);
  return 0;
}

int ama_policy_conn_set(ama_policy* p, int m, const uint8_t* conn, char* err, size_t err_sz) {
  free(p->conn[m]);
  p->conn[m] = NULL;
  if (conn) {
    size_t H = (size_t)cell_of(p, m)->cfg.hidden;
    p->conn[m] = malloc(H * H);
    if (!p->conn[m]) return am_err(err, err_sz, "out of memory for the connectivity mask");
    memcpy(p->conn[m], conn, H * H);
  }
  return rebuild_keep(p, err, err_sz);
}

int ama_policy_conn_init(ama_policy* p, uint64_t seed, char* err, size_t err_sz) {
  const ama_policy_cfg* c = &p->cfg;
  if (!strcmp(c->conn, "full") || !c->conn[0]) return 0;
  for (int m = 0; m < 2; m++) {
    if (!module_listed(c->conn_modules, MOD[m])) continue;
    const ama_cell* cell = cell_of(p, m);
    if (cell->iWh < 0)
      return am_err(err, err_sz, "conn = %s, conn_modules = %s: the %s module is an mlp and has "
                    "no recurrent weights to mask (drop it from conn_modules)", c->conn,
                    c->conn_modules, MOD[m]);
    const int H = cell->cfg.hidden;
    uint8_t* M = malloc((size_t)H * H);
    int* cand = malloc(sizeof(int) * (size_t)H);
    if (!M || !cand) {
      free(M);
      free(cand);
      return am_err(err, err_sz, "out of memory for the connectivity mask");
    }
    int rc = 0;
    if (!strcmp(c->conn, "file")) {
      const size_t L = strlen(c->conn_file);
      rc = L > 4 && !strcmp(c->conn_file + L - 4, ".npy")
               ? ama_conn_read_npy(c->conn_file, H, M, err, err_sz)
               : ama_conn_read_csv(c->conn_file, H, M, err, err_sz);
    } else {
      am_rng rng;
      am_rng_seed(&rng, seed, 0x636f6e6e0000ULL + (uint64_t)m);  // "conn", per module
      build_rule(c, H, &rng, M, cand);
    }
    free(cand);
    if (!rc) {
      free(p->conn[m]);
      p->conn[m] = M;
    } else {
      free(M);
      return -1;
    }
    // each unit's remaining recurrent inputs scaled by sqrt(H / inputs): the same gain as the
    // full network's initialisation (every gate block; rows without inputs stay 0)
    float* Wh = p->params.w + p->params.t[cell->iWh].offset;
    for (int i = 0; i < H; i++) {
      int k = 0;
      for (int j = 0; j < H; j++) k += M[(size_t)i * H + j];
      float s = k ? sqrtf((float)H / (float)k) : 0.0f;
      for (int g = 0; g < cell->G; g++)
        for (int j = 0; j < H; j++) Wh[((size_t)g * H + i) * H + j] *= s;
    }
  }
  if (rebuild_keep(p, err, err_sz)) return -1;
  ama_cell_prepare(&p->core, &p->params);
  ama_cell_prepare(&p->motor, &p->params);
  return 0;
}

void ama_conn_describe(const ama_policy* p, int m, char* buf, size_t sz) {
  const ama_policy_cfg* c = &p->cfg;
  const uint8_t* M = p->conn[m];
  if (!M) {
    snprintf(buf, sz, "full");
    return;
  }
  const int H = cell_of(p, m)->cfg.hidden;
  size_t n = 0;
  for (size_t i = 0; i < (size_t)H * H; i++) n += M[i];
  char rule[600];
  if (!strcmp(c->conn, "file")) snprintf(rule, sizeof rule, "file %s", c->conn_file);
  else if (!strcmp(c->conn, "modules"))
    snprintf(rule, sizeof rule, "modules (%d blocks) density %g", c->conn_blocks,
             c->conn_density);
  else snprintf(rule, sizeof rule, "%s density %g", c->conn, c->conn_density);
  snprintf(buf, sz, "%s: %zu of %d x %d connections (%.1f %%)", rule, n, H, H,
           100.0 * (double)n / ((double)H * H));
}
