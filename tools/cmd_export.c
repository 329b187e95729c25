// cmd_export.c: `animat export FILE --out DIR`: a dataset's channels as NumPy .npy files (or CSV),
// one folder per episode: DIR/episode_000003/qpos.npy (channel "obs/touch" -> obs.touch.npy), and
// DIR/episodes.csv listing the exported episodes. The .npy header (format 1.0) is written here.
// DIR appears whole or not at all: the files go into DIR.tmp-XXXXXX (same parent), renamed to DIR
// at the end and removed on any failure or Ctrl-C; an existing DIR is replaced only with --force
// and only when it holds an earlier export. A damaged file (recovered without its index, or with a
// bad chunk) is refused unless --allow-damaged, which exports what is readable and lists the rest.
// `--nwb OUT.nwb` writes one NWB session file instead (tools/nwb_export.c; needs HDF5 at build).
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "am_dataset.h"
#include "cli.h"
#include "ds_trials.h"
#include "table.h"
#include "nwb_export.h"

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
  size_t bytes = (size_t)steps * c->row_bytes;
  int bad = fwrite(head, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n;
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  bad |= fwrite(data, 1, bytes, f) != bytes || ferror(f);
  return fclose(f) || bad ? -1 : 0;
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
  int bad = ferror(f);
  return fclose(f) || bad ? -1 : 0;
}

// The --episodes list: "0,3-5" as ranges of ids. Each item is N or A-B with 0 <= A <= B.
typedef struct id_ranges {
  int n;
  int64_t lo[256], hi[256];
} id_ranges;

static int parse_ranges(const char* spec, id_ranges* r, char* err, size_t err_sz) {
  r->n = 0;
  if (!*spec) return am_err(err, err_sz, "--episodes is empty (give ids like 0,3-5)");
  for (const char* s = spec; *s;) {
    size_t len = strcspn(s, ",");
    char item[64];
    if (len == 0 || len >= sizeof item)
      return am_err(err, err_sz, "--episodes '%s': %s item (give ids like 0,3-5)", spec,
                    len ? "an overlong" : "an empty");
    memcpy(item, s, len);
    item[len] = 0;
    char* end;
    const char* b = item;
    errno = 0;
    long long lo = isdigit((unsigned char)*b) ? strtoll(b, &end, 10) : -1, hi = lo;
    if (lo >= 0 && *end == '-') {
      b = end + 1;
      hi = isdigit((unsigned char)*b) ? strtoll(b, &end, 10) : -1;
    }
    if (lo < 0 || hi < 0 || *end || errno)
      return am_err(err, err_sz, "--episodes '%s': '%s' is not an episode id or range A-B", spec,
                    item);
    if (hi < lo)
      return am_err(err, err_sz, "--episodes '%s': the range %s is inverted (did you mean %lld-%lld?)",
                    spec, item, hi, lo);
    if (r->n >= (int)(sizeof r->lo / sizeof r->lo[0]))
      return am_err(err, err_sz, "--episodes '%s': more than 256 items", spec);
    r->lo[r->n] = lo;
    r->hi[r->n++] = hi;
    s += len + (s[len] == ',');
    if (s[-1] == ',' && !*s) return am_err(err, err_sz, "--episodes '%s': an empty item", spec);
  }
  return 0;
}

int export_read_episode(am_ds_reader* r, int64_t i, const int* need, void** dst, double* init,
                        int allow_damaged, int64_t* n_lost) {
  const am_ds_episode* e = am_ds_get_episode(r, i);
  char err[AM_ERR_LEN];
  int nc = am_ds_num_channels(r);
  for (int c = 0; c < nc; c++)
    if (need[c] && !(dst[c] = malloc((size_t)e->steps * am_ds_get_channel(r, c)->row_bytes + 1)))
      return cli_fail("export", "out of memory"), -1;
  if (!am_ds_read_episode(r, i, dst, init, err, sizeof err)) return 0;
  if (!allow_damaged)
    return cli_fail("export", "%s\n  nothing exported: export the other episodes with "
                    "--allow-damaged", err), -1;
  fprintf(stderr, "export: lost: episode %lld (%lld steps): %s\n", (long long)e->id,
          (long long)e->steps, err);
  (*n_lost)++;
  for (int c = 0; c < nc; c++) {
    free(dst[c]);
    dst[c] = NULL;
  }
  return 1;
}

static int in_ranges(const id_ranges* r, int64_t id) {
  if (!r) return 1;
  for (int i = 0; i < r->n; i++)
    if (id >= r->lo[i] && id <= r->hi[i]) return 1;
  return 0;
}


// DIR/meta.json: what an export directory holds, so that it describes itself: the channels
// (file name, dtype, shape, group, units, labels), the event names per bit, the task variables,
// the trial schema and condition variables, the control period, the task parameters, every text
// metadata entry of the recording (not the model's binary or XML; `animat inspect --meta`), and the
// trial table of the exported episodes (the columns of `animat trials`).
static int write_meta_json(am_ds_reader* r, const char* src, const char* dir, const int* sel,
                           const id_ranges* eps, const char* ext, char* err, size_t err_sz) {
  am_buf b = {0};
  int major, minor;
  am_ds_version(r, &major, &minor);
  am_buf_printf(&b, "{\"format\": \"animat export\", \"source\": ");
  table_json_string(&b, src);
  am_buf_printf(&b, ", \"dataset_version\": \"%d.%d\", \"episodes\": \"episodes.csv\",\n "
                "\"channels\": [", major, minor);
  int first = 1;
  for (int c = 0; c < am_ds_num_channels(r); c++) {
    if (!sel[c]) continue;
    const am_ds_channel* ch = am_ds_get_channel(r, c);
    char file[1024];
    snprintf(file, sizeof file, "%s.%s", ch->name, ext);
    for (char* q = file; *q; q++)
      if (*q == '/') *q = '.';
    am_buf_printf(&b, "%s\n  {\"name\": ", first ? "" : ",");
    first = 0;
    table_json_string(&b, ch->name);
    am_buf_printf(&b, ", \"file\": ");
    table_json_string(&b, file);
    am_buf_printf(&b, ", \"dtype\": \"%s\", \"shape\": [", am_dtype_name(ch->dtype));
    for (int k = 0; k < ch->ndim; k++) am_buf_printf(&b, "%s%u", k ? ", " : "", ch->shape[k]);
    am_buf_printf(&b, "], \"group\": ");
    table_json_string(&b, ch->group);
    am_buf_printf(&b, ", \"units\": ");
    table_json_string(&b, ch->units);
    am_buf_printf(&b, ", \"labels\": [");
    const char* l = ch->labels;
    for (int k = 0; l && *l; k++) {
      size_t n = strcspn(l, ",");
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(n < 255 ? n : 255), l);
      am_buf_printf(&b, "%s", k ? ", " : "");
      table_json_string(&b, name);
      l += n + (l[n] == ',');
    }
    am_buf_printf(&b, "]}");
  }
  am_buf_printf(&b, "],\n \"metadata\": {");
  first = 1;
  for (int i = 0; i < am_ds_num_meta(r); i++) {
    const char* k = am_ds_meta_key(r, i);
    size_t len;
    const char* v = am_ds_meta(r, k, &len);
    if (!strncmp(k, "model.", 6) && strcmp(k, "model.name") && strcmp(k, "model.timestep") &&
        strncmp(k, "model.n", 7))
      continue;  // the model's MJCF and binaries: animat inspect --meta KEY
    if (!v || strlen(v) != len) continue;  // binary values
    am_buf_printf(&b, "%s\n  ", first ? "" : ",");
    first = 0;
    table_json_string(&b, k);
    am_buf_printf(&b, ": ");
    table_json_string(&b, v);
  }
  am_buf_printf(&b, "}");
  // the trial schema and table (of the exported episodes)
  ds_trials d = {0};
  ana_trials tab = {0};
  table tb = {0};
  char note[AM_ERR_LEN];
  int rc = 0;
  if (ds_trials_open(&d, r, src, 0.2, note, sizeof note) == 0) {
    am_buf_printf(&b, ",\n \"control_dt\": %.17g, \"task\": ", d.dt);
    table_json_string(&b, d.task);
    am_buf_printf(&b, ",\n \"events\": [");
    for (int k = 0; k < d.n_events; k++) {
      am_buf_printf(&b, "%s", k ? ", " : "");
      table_json_string(&b, d.events[k]);
    }
    am_buf_printf(&b, "],\n \"task_vars\": [");
    for (int k = 0; k < d.n_vars; k++) {
      am_buf_printf(&b, "%s", k ? ", " : "");
      table_json_string(&b, d.vars[k]);
    }
    am_buf_printf(&b, "],\n \"conditions\": [");
    for (int k = 0; k < d.schema.n_cond; k++) {
      am_buf_printf(&b, "%s", k ? ", " : "");
      table_json_string(&b, d.vars[d.schema.cond[k]]);
    }
    const int codes[3] = {d.schema.trial_start, d.schema.success, d.schema.trial_end};
    const char* names[3] = {"trial_start", "success", "trial_end"};
    am_buf_printf(&b, "],\n \"trial_events\": {");
    for (int k = 0; k < 3; k++) {
      am_buf_printf(&b, "%s\"%s\": ", k ? ", " : "", names[k]);
      if (codes[k] >= 0) table_json_string(&b, d.events[codes[k]]);
      else am_buf_printf(&b, "null");
    }
    am_buf_printf(&b, "},\n \"trials\": ");
    for (int64_t i = 0; i < am_ds_num_episodes(r) && !rc; i++)
      if (in_ranges(eps, am_ds_get_episode(r, i)->id))
        rc = ds_trials_episode(&d, i, &tab, -1, NULL, NULL, note, sizeof note);
    am_buf trials = {0};
    if (!rc && !ds_trials_table(&d, &tab, &tb) && !table_render(&tb, 1, &trials)) {
      while (trials.len && (trials.p[trials.len - 1] == '\n')) trials.len--;
      am_buf_append(&b, trials.p, trials.len);
    } else {
      am_buf_printf(&b, "null");
    }
    am_buf_free(&trials);
  }
  am_buf_printf(&b, "}\n");
  table_free(&tb);
  ana_trials_free(&tab);
  ds_trials_close(&d);
  char path[4200];
  snprintf(path, sizeof path, "%s/meta.json", dir);
  rc = am_write_file_atomic(path, b.p, b.len, err, err_sz);
  am_buf_free(&b);
  return rc;
}

int cmd_export(int argc, char** argv) {
  const char* usage =
      "usage: animat export FILE --out DIR [--channels a,b] [--episodes 0,3-5] [--csv] [--force]\n"
      "       animat export FILE --nwb OUT.nwb [--channels a,b] [--episodes 0,3-5] [--force]\n"
      "  Writes each selected channel of each selected episode as DIR/episode_NNNNNN/NAME.npy\n"
      "  (NumPy format 1.0, little-endian; shape (steps, per-step shape...)), '/' in channel\n"
      "  names becoming '.', plus DIR/episodes.csv (id, env, steps, end). The files are written\n"
      "  into a temporary directory next to DIR, renamed to DIR at the end: a failed or\n"
      "  interrupted export leaves nothing behind.\n"
      "  --channels LIST  comma-separated channel names (default: all; see animat inspect)\n"
      "  --episodes LIST  episode ids, e.g. 0,3-5 (default: all); must select at least one\n"
      "  --csv            write NAME.csv (a header row, one row per step) instead of .npy\n"
      "  --nwb OUT.nwb    write one Neurodata Without Borders 2.7 file (HDF5) instead: body,\n"
      "                   task and network time series, episodes and trials as interval\n"
      "                   tables, the recording's metadata (docs/datasets.md, NWB)\n"
      "  --force          replace DIR if it holds an earlier export (it has episodes.csv);\n"
      "                   replace OUT.nwb (once the new one is complete)\n"
      "  --allow-damaged  export what a damaged file still holds (a file recovered without its\n"
      "                   index, or with bad chunks), listing what was lost; without it such a\n"
      "                   file is refused (exit 1) and nothing is written\n";
  const char* out = NULL;
  const char* chans = NULL;
  const char* eps = NULL;
  const char* nwb = NULL;
  int csv = 0, force = 0, allow = 0;
  cli_flag flags[] = {{"allow-damaged", CLI_BOOL, &allow},
                      {"out", CLI_STRING, &out},
                      {"channels", CLI_STRING, &chans},
                      {"episodes", CLI_STRING, &eps},
                      {"csv", CLI_BOOL, &csv},
                      {"force", CLI_BOOL, &force},
                      {"nwb", CLI_STRING, &nwb}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (nwb && (out || csv))
    return cli_fail("export", "--nwb writes one file: give it without --out and --csv"), 2;
  if (nwb && !*nwb) return cli_fail("export", "--nwb needs a file name (e.g. --nwb a.nwb)"), 2;
#ifndef ANIMAT_HAVE_HDF5
  if (nwb)
    return cli_fail("export", "--nwb: this animat was built without HDF5 (install libhdf5-dev, "
                    "e.g. by tools/setup.sh, and rebuild)"), 2;
#endif
  if (nwb) out = nwb;
  if (npos != 1 || !out || !*out)
    return cli_fail("export", "give one dataset file and --out DIR (or --nwb OUT.nwb)"), 2;
  char err[AM_ERR_LEN];
  static id_ranges ranges;
  if (eps && parse_ranges(eps, &ranges, err, sizeof err)) return cli_fail("export", "%s", err), 2;
  if (chans && !*chans) return cli_fail("export", "--channels is empty (see animat inspect)"), 2;
  char path[4096], tmp[4096], dir[3072];
  if (strlen(out) >= sizeof dir) return cli_fail("export", "--out path too long"), 2;
  snprintf(dir, sizeof dir, "%s", out);  // DIR without trailing slashes
  for (size_t k = strlen(dir); k > 1 && dir[k - 1] == '/'; k--) dir[k - 1] = 0;
  struct stat st;
  if (!nwb && stat(out, &st) == 0) {
    snprintf(path, sizeof path, "%s/episodes.csv", out);
    if (!force)
      return cli_fail("export", "%s already exists: choose another --out, or replace it with "
                      "--force", out);
    if (!S_ISDIR(st.st_mode) || access(path, F_OK) != 0)
      return cli_fail("export", "%s exists and is not an earlier export (no episodes.csv): "
                      "not replacing it, even with --force", out);
  }
  am_ds_reader* r = am_ds_open(pos[0], err, sizeof err);
  if (!r) return cli_fail("export", "%s", err);
  // A damaged file: refused unless --allow-damaged; then what was lost is listed (stderr).
  const char* note;
  am_ds_damage dmg;
  am_ds_get_damage(r, &dmg);
  int recovered = am_ds_recovered(r, &note);
  if (recovered) {
    char lost[8192] = "";
    size_t o = 0;
    for (const char* s = dmg.text; *s && o < sizeof lost; s += strcspn(s, "\n") + 1)
      o += (size_t)snprintf(lost + o, sizeof lost - o, "  lost: %.*s\n", (int)strcspn(s, "\n"), s);
    if (!allow) {
      cli_fail("export", "%s is damaged: %s\n%s  nothing exported: export what it still holds with "
               "--allow-damaged (animat verify %s checks it)", pos[0], note, lost, pos[0]);
      am_ds_reader_free(r);
      return 1;
    }
    fprintf(stderr, "export: %s is damaged: %s\n%s", pos[0], note, lost);
  }
  int64_t n_lost = 0;  // episodes that could not be read (--allow-damaged)
  int nc = am_ds_num_channels(r), status = 1;
  int* sel = calloc((size_t)nc, sizeof(int));
  void** dst = calloc((size_t)nc, sizeof(void*));
  FILE* idx = NULL;
  tmp[0] = 0;
  if (!sel || !dst) {
    cli_fail("export", "out of memory");
    goto done;
  }
  if (!chans) {
    for (int c = 0; c < nc; c++) sel[c] = 1;
  } else {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", chans);
    if (strlen(chans) >= sizeof buf) {
      cli_fail("export", "--channels list too long");
      goto done;
    }
    for (char* s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
      int c = am_ds_find_channel(r, s);
      if (c < 0) {
        cli_fail("export", "%s has no channel '%s' (see animat inspect)", pos[0], s);
        goto done;
      }
      sel[c] = 1;
    }
  }
  int64_t n_sel = 0, n_eps = am_ds_num_episodes(r);
  for (int64_t i = 0; i < n_eps; i++) n_sel += in_ranges(eps ? &ranges : NULL, am_ds_get_episode(r, i)->id);
  if (n_sel == 0) {
    if (n_eps)
      cli_fail("export", "--episodes '%s' selects none of the %lld episodes of %s (ids %lld to %lld)",
               eps ? eps : "", (long long)n_eps, pos[0], (long long)am_ds_get_episode(r, 0)->id,
               (long long)am_ds_get_episode(r, n_eps - 1)->id);
    else
      cli_fail("export", "%s holds no episodes", pos[0]);
    goto done;
  }
#ifdef ANIMAT_HAVE_HDF5
  if (nwb) {
    int64_t* idx_sel = malloc((size_t)n_sel * sizeof *idx_sel), k = 0;
    if (!idx_sel) {
      cli_fail("export", "out of memory");
      goto done;
    }
    for (int64_t i = 0; i < n_eps; i++)
      if (in_ranges(eps ? &ranges : NULL, am_ds_get_episode(r, i)->id)) idx_sel[k++] = i;
    status = nwb_export(r, pos[0], nwb, idx_sel, n_sel, sel, allow, force);
    free(idx_sel);
    goto done;
  }
#endif
  // everything goes into a temporary directory next to DIR, renamed to DIR when complete
  snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir);
  if (!mkdtemp(tmp)) {
    cli_fail("export", "cannot create a directory next to %s: %s", out, strerror(errno));
    tmp[0] = 0;
    goto done;
  }
  cli_install_interrupt();
  snprintf(path, sizeof path, "%s/episodes.csv", tmp);
  idx = fopen(path, "w");
  if (!idx) {
    cli_fail("export", "cannot write %s: %s", path, strerror(errno));
    goto done;
  }
  fprintf(idx, "episode,env,steps,end\n");
  int64_t n_done = 0, files = 0;
  for (int64_t i = 0; i < n_eps && !cli_interrupted; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    if (!in_ranges(eps ? &ranges : NULL, e->id)) continue;
    int got = export_read_episode(r, i, sel, dst, NULL, allow, &n_lost);
    if (got < 0) goto done;
    if (got) continue;
    snprintf(path, sizeof path, "%s/episode_%06lld", tmp, (long long)e->id);
    if (mkdir(path, 0755)) {
      cli_fail("export", "cannot create %s: %s", path, strerror(errno));
      goto done;
    }
    for (int c = 0; c < nc; c++) {
      if (!sel[c]) continue;
      const am_ds_channel* ch = am_ds_get_channel(r, c);
      char name[1024];
      snprintf(name, sizeof name, "%s", ch->name);
      for (char* s = name; *s; s++)
        if (*s == '/') *s = '.';
      snprintf(path, sizeof path, "%s/episode_%06lld/%s.%s", tmp, (long long)e->id, name,
               csv ? "csv" : "npy");
      if ((csv ? write_csv : write_npy)(path, ch, e->steps, dst[c])) {
        cli_fail("export", "cannot write %s: %s", path, strerror(errno));
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
  if (cli_interrupted) {
    cli_fail("export", "interrupted; nothing was written to %s", out);
    status = 130;
    goto done;
  }
  int bad = ferror(idx);
  if (fclose(idx) || bad) {
    idx = NULL;
    cli_fail("export", "cannot write %s/episodes.csv: %s", tmp, strerror(errno));
    goto done;
  }
  idx = NULL;
  {
    char merr[AM_ERR_LEN];
    if (write_meta_json(r, pos[0], tmp, sel, eps ? &ranges : NULL, csv ? "csv" : "npy", merr,
                        sizeof merr)) {
      cli_fail("export", "%s", merr);
      goto done;
    }
  }
  if (stat(out, &st) == 0 && cli_remove_tree(out)) {  // --force: the earlier export (checked above)
    cli_fail("export", "cannot remove the earlier export %s: %s", out, strerror(errno));
    goto done;
  }
  if (rename(tmp, dir)) {
    cli_fail("export", "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    goto done;
  }
  tmp[0] = 0;
  printf("exported %lld episodes (%lld files) to %s\n", (long long)n_done, (long long)files, out);
  if (recovered || n_lost)
    printf("export: from a damaged file (--allow-damaged): %lld selected episode(s) unreadable, "
           "%d damaged byte range(s) (%llu bytes) and %d chunk(s) dropped; see the lines above\n",
           (long long)n_lost, dmg.gaps, (unsigned long long)dmg.gap_bytes, dmg.dropped_chunks);
  status = 0;
done:
  if (idx) fclose(idx);
  if (tmp[0]) cli_remove_tree(tmp);  // a failed export leaves nothing behind
  if (dst)
    for (int c = 0; c < nc; c++) free(dst[c]);
  free(dst);
  free(sel);
  am_ds_reader_free(r);
  return status;
}
