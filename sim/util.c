// util.c: error formatting, the per-env RNG (xoshiro256** seeded by splitmix64), a clock, reading a
// file whole or writing one atomically, and the growable buffer am_buf.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "am_sim.h"

int am_err(char* err, size_t err_sz, const char* fmt, ...) {
  if (err && err_sz) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_sz, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static uint64_t splitmix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void am_rng_seed(am_rng* r, uint64_t seed, uint64_t stream) {
  // Mix seed and stream so that (seed, i) and (seed + 1, i - 1) give unrelated streams.
  uint64_t x = seed;
  uint64_t a = splitmix64(&x);
  x = a ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t am_rng_next(am_rng* r) {
  uint64_t* s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double am_rng_uniform(am_rng* r) { return (double)(am_rng_next(r) >> 11) * 0x1.0p-53; }

double am_rng_range(am_rng* r, double lo, double hi) { return lo + (hi - lo) * am_rng_uniform(r); }

// Box-Muller: two independent standard normals from two uniforms. The one Gaussian sampler of
// animat: am_rng_normal keeps the first of the pair, am_rng_normals uses both.
static void box_muller(am_rng* r, double* z0, double* z1) {
  double u1 = am_rng_uniform(r), u2 = am_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  double rad = sqrt(-2.0 * log(u1));
  *z0 = rad * cos(6.283185307179586 * u2);
  *z1 = rad * sin(6.283185307179586 * u2);
}

double am_rng_normal(am_rng* r) {
  double z0, z1;
  box_muller(r, &z0, &z1);
  return z0;
}

void am_rng_normals(am_rng* r, float* x, size_t n) {
  for (size_t i = 0; i < n; i += 2) {
    double z0, z1;
    box_muller(r, &z0, &z1);
    x[i] = (float)z0;
    if (i + 1 < n) x[i + 1] = (float)z1;
  }
}

double am_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char* am_read_text(const char* path, size_t* len_out, char* err, size_t err_sz) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    am_err(err, err_sz, "%s: %s", path, strerror(errno));
    return NULL;
  }
  am_buf b = {0};
  for (;;) {
    if (am_buf_reserve(&b, b.len + 4096 + 1)) {
      am_buf_free(&b);
      fclose(f);
      am_err(err, err_sz, "%s: out of memory", path);
      return NULL;
    }
    size_t r = fread(b.p + b.len, 1, b.cap - b.len - 1, f);
    b.len += r;
    if (r == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    am_buf_free(&b);
    am_err(err, err_sz, "%s: read error", path);
    return NULL;
  }
  b.p[b.len] = 0;
  if (len_out) *len_out = b.len;
  return (char*)b.p;
}

int am_write_file_atomic(const char* path, const void* data, size_t n, char* err, size_t err_sz) {
  size_t plen = strlen(path);
  char* tmp = malloc(plen + 5);
  if (!tmp) return am_err(err, err_sz, "%s: out of memory", path);
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  FILE* f = fopen(tmp, "wb");
  if (!f) {
    am_err(err, err_sz, "cannot write %s: %s", path, strerror(errno));
    free(tmp);
    return -1;
  }
  int ok = fwrite(data, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) && ok) ok = 0, e = errno;
  if (ok && rename(tmp, path)) ok = 0, e = errno;
  if (!ok) {
    unlink(tmp);
    am_err(err, err_sz, "cannot write %s: %s", path, strerror(e));
  }
  free(tmp);
  return ok ? 0 : -1;
}

int am_buf_reserve(am_buf* b, size_t need) {
  if (b->cap >= need) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : 2 * cap;
  uint8_t* p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int am_buf_append(am_buf* b, const void* data, size_t n) {
  if (n == 0) return 0;  // (an empty buffer has no block yet: memcpy may not see NULL)
  if (n > SIZE_MAX - b->len || am_buf_reserve(b, b->len + n)) return -1;
  if (data) memcpy(b->p + b->len, data, n);
  else memset(b->p + b->len, 0, n);
  b->len += n;
  return 0;
}

void am_buf_free(am_buf* b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

int am_kv_split(const char* text, char* key, size_t key_sz, char* value, size_t value_sz) {
  const char* eq = text ? strchr(text, '=') : NULL;
  if (!eq) return -1;
  const char *k0 = text, *k1 = eq, *v0 = eq + 1, *v1 = eq + strlen(eq);
  while (k0 < k1 && isspace((unsigned char)*k0)) k0++;
  while (k1 > k0 && isspace((unsigned char)k1[-1])) k1--;
  while (v0 < v1 && isspace((unsigned char)*v0)) v0++;
  while (v1 > v0 && isspace((unsigned char)v1[-1])) v1--;
  size_t kn = (size_t)(k1 - k0), vn = (size_t)(v1 - v0);
  if (kn == 0) return -1;
  if (kn >= key_sz || vn >= value_sz) return -2;
  memcpy(key, k0, kn);
  key[kn] = 0;
  memcpy(value, v0, vn);
  value[vn] = 0;
  return 0;
}

int am_buf_printf(am_buf* b, const char* fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  int rc = -1;
  if (n >= 0 && !am_buf_reserve(b, b->len + (size_t)n + 1)) {
    vsnprintf((char*)b->p + b->len, (size_t)n + 1, fmt, ap2);
    b->len += (size_t)n;
    rc = 0;
  }
  va_end(ap2);
  return rc;
}
