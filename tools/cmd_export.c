// cmd_export.c: `animat export FILE --out DIR`: a dataset's channels as NumPy .npy files (or CSV),
// one folder per episode: DIR/episode_000003/qpos.npy (channel "obs/touch" -> obs.touch.npy), and
// DIR/episodes.csv listing the exported episodes. The .npy header (format 1.0) is written here.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "am_dataset.h"
#include "cli.h"

static const char* npy_descr(am_dtype t) {
  switch (t) {
    case AM_DT_F32: return "<f4";
    case AM_DT_F64: return "<f8";
    case AM_DT_I32: return "<i4";
    case AM_DT_U8: return "|u1";
    case AM_DT_U32: return "<u4";
    case AM_DT_I64: return "<i8";
  }
  return "?";
}

static int write_npy(const char* path, const am_ds_channel* c, int64_t steps, const void* data) {
  char shape[128];
  size_t o = (size_t)snprintf(shape, sizeof shape, "(%lld,", (long long)steps);
  for (int k = 0; k < c->ndim; k++)
    o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%u", k ? "," : "", c->shape[k]);
  snprintf(shape + o, sizeof shape - o, ")");
  char dict[256];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                   npy_descr(c->dtype), shape);
  int total = 10 + n + 1;                 // magic(6) version(2) len(2) dict '\n'
  int pad = (64 - total % 64) % 64;
  unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  int hl = n + pad + 1;
  head[8] = (unsigned char)(hl & 0xff);
  head[9] = (unsigned char)(hl >> 8);
  FILE* f = fopen(path, "wb");
  if (!f) return -1;
  fwrite(head, 1, 10, f);
  fwrite(dict, 1, (size_t)n, f);
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  fwrite(data, 1, (size_t)steps * c->row_bytes, f);
  return fclose(f) ? -1 : 0;
}

static void csv_value(FILE* f, am_dtype t, const unsigned char* p) {
  switch (t) {
    case AM_DT_F32: { float v; memcpy(&v, p, 4); fprintf(f, "%.9g", v); break; }
    case AM_DT_F64: { double v; memcpy(&v, p, 8); fprintf(f, "%.17g", v); break; }
    case AM_DT_I32: { int32_t v; memcpy(&v, p, 4); fprintf(f, "%d", v); break; }
    case AM_DT_U8: fprintf(f, "%u", p[0]); break;
    case AM_DT_U32: { uint32_t v; memcpy(&v, p, 4); fprintf(f, "%u", v); break; }
    case AM_DT_I64: { int64_t v; memcpy(&v, p, 8); fprintf(f, "%lld", (long long)v); break; }
  }
}

static int write_csv(const char* path, const am_ds_channel* c, int64_t steps, const void* data) {
  FILE* f = fopen(path, "w");
  if (!f) return -1;
  // header: labels when they name every entry, else name_0, name_1, ...
  int nl = 1;
  for (const char* s = c->labels; *s; s++) nl += *s == ',';
  for (size_t k = 0; k < c->elems; k++) {
    if (k) fputc(',', f);
    if (c->labels[0] && (size_t)nl == c->elems) {
      const char* s = c->labels;
      for (size_t j = 0; j < k; j++) s = strchr(s, ',') + 1;
      fprintf(f, "%.*s", (int)strcspn(s, ","), s);
    } else if (c->elems == 1) {
      fprintf(f, "%s", c->name);
    } else {
      fprintf(f, "%s_%zu", c->name, k);
    }
  }
  fputc('\n', f);
  size_t w = am_dtype_size(c->dtype);
  const unsigned char* p = data;
  for (int64_t s = 0; s < steps; s++) {
    for (size_t k = 0; k < c->elems; k++) {
      if (k) fputc(',', f);
      csv_value(f, c->dtype, p);
      p += w;
    }
    fputc('\n', f);
  }
  return fclose(f) ? -1 : 0;
}

// Parses "0,3-5" into a membership test over episode ids.
static int in_ranges(const char* spec, int64_t id) {
  if (!spec) return 1;
  const char* s = spec;
  while (*s) {
    char* end;
    long long a = strtoll(s, &end, 10), b = a;
    if (end == s) return -1;
    s = end;
    if (*s == '-') {
      b = strtoll(s + 1, &end, 10);
      if (end == s + 1) return -1;
      s = end;
    }
    if (id >= a && id <= b) return 1;
    if (*s == ',') s++;
    else if (*s) return -1;
  }
  return 0;
}

int cmd_export(int argc, char** argv) {
  const char* usage =
      "usage: animat export FILE --out DIR [--channels a,b] [--episodes 0,3-5] [--csv]\n"
      "  Writes each selected channel of each selected episode as DIR/episode_NNNNNN/NAME.npy\n"
      "  (NumPy format 1.0, little-endian; shape (steps, per-step shape...)), '/' in channel\n"
      "  names becoming '.', plus DIR/episodes.csv (id, env, steps, end).\n"
      "  --channels LIST  comma-separated channel names (default: all; see animat inspect)\n"
      "  --episodes LIST  episode ids, e.g. 0,3-5 (default: all)\n"
      "  --csv            write NAME.csv (a header row, one row per step) instead of .npy\n";
  const char* out = NULL;
  const char* chans = NULL;
  const char* eps = NULL;
  int csv = 0;
  cli_flag flags[] = {{"out", CLI_STRING, &out},
                      {"channels", CLI_STRING, &chans},
                      {"episodes", CLI_STRING, &eps},
                      {"csv", CLI_BOOL, &csv}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, 4, pos, 2, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1 || !out) return cli_fail("export", "give one dataset file and --out DIR"), 2;
  if (in_ranges(eps, 0) < 0) return cli_fail("export", "bad --episodes list '%s'", eps), 2;
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(pos[0], err, sizeof err);
  if (!r) return cli_fail("export", "%s", err);
  int nc = am_ds_num_channels(r), status = 1;
  int* sel = calloc((size_t)nc, sizeof(int));
  void** dst = calloc((size_t)nc, sizeof(void*));
  if (!sel || !dst) goto done;
  if (!chans) {
    for (int c = 0; c < nc; c++) sel[c] = 1;
  } else {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", chans);
    for (char* s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
      int c = am_ds_find_channel(r, s);
      if (c < 0) {
        cli_fail("export", "%s has no channel '%s' (see animat inspect)", pos[0], s);
        goto done;
      }
      sel[c] = 1;
    }
  }
  if (mkdir(out, 0755) && errno != EEXIST) {
    cli_fail("export", "cannot create %s: %s", out, strerror(errno));
    goto done;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/episodes.csv", out);
  FILE* idx = fopen(path, "w");
  if (!idx) {
    cli_fail("export", "cannot write %s: %s", path, strerror(errno));
    goto done;
  }
  fprintf(idx, "episode,env,steps,end\n");
  int64_t n_done = 0, files = 0;
  for (int64_t i = 0; i < am_ds_num_episodes(r) && !cli_interrupted; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    if (in_ranges(eps, e->id) != 1) continue;
    for (int c = 0; c < nc; c++)
      if (sel[c] && !(dst[c] = malloc((size_t)e->steps * am_ds_get_channel(r, c)->row_bytes + 1))) {
        cli_fail("export", "out of memory");
        fclose(idx);
        goto done;
      }
    if (am_ds_read_episode(r, i, dst, NULL, err, sizeof err)) {
      cli_fail("export", "%s", err);
      fclose(idx);
      goto done;
    }
    snprintf(path, sizeof path, "%s/episode_%06lld", out, (long long)e->id);
    if (mkdir(path, 0755) && errno != EEXIST) {
      cli_fail("export", "cannot create %s: %s", path, strerror(errno));
      fclose(idx);
      goto done;
    }
    for (int c = 0; c < nc; c++) {
      if (!sel[c]) continue;
      const am_ds_channel* ch = am_ds_get_channel(r, c);
      char name[256];
      snprintf(name, sizeof name, "%s", ch->name);
      for (char* s = name; *s; s++)
        if (*s == '/') *s = '.';
      snprintf(path, sizeof path, "%s/episode_%06lld/%s.%s", out, (long long)e->id, name,
               csv ? "csv" : "npy");
      if ((csv ? write_csv : write_npy)(path, ch, e->steps, dst[c])) {
        cli_fail("export", "cannot write %s: %s", path, strerror(errno));
        fclose(idx);
        goto done;
      }
      free(dst[c]);
      dst[c] = NULL;
      files++;
    }
    fprintf(idx, "%lld,%d,%lld,%s\n", (long long)e->id, e->env, (long long)e->steps,
            !e->complete ? "incomplete" : e->terminated ? "terminated" : "truncated");
    n_done++;
  }
  fclose(idx);
  printf("exported %lld episodes (%lld files) to %s\n", (long long)n_done, (long long)files, out);
  status = 0;
done:
  if (dst)
    for (int c = 0; c < nc; c++) free(dst[c]);
  free(dst);
  free(sel);
  am_ds_reader_free(r);
  return status;
}
