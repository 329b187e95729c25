// cmd_inspect.c: `animat inspect FILE`: a dataset's metadata, channels, episodes, sizes and
// compression ratio; `--episodes` lists every episode.
#include <stdio.h>
#include <string.h>

#include "am_dataset.h"
#include "cli.h"

static void shape_text(const am_ds_channel* c, char* out, size_t n) {
  size_t o = (size_t)snprintf(out, n, "%s[", am_dtype_name(c->dtype));
  for (int k = 0; k < c->ndim && o < n; k++)
    o += (size_t)snprintf(out + o, n - o, "%s%u", k ? "," : "", c->shape[k]);
  if (o < n) snprintf(out + o, n - o, "]");
}

int cmd_inspect(int argc, char** argv) {
  const char* usage =
      "usage: animat inspect FILE [--episodes] [--meta KEY]\n"
      "  Prints a dataset's metadata, channels, episodes, steps, sizes and compression ratio.\n"
      "  --episodes   also list every episode (id, env, steps, how it ended, chunks)\n"
      "  --meta KEY   print one metadata value in full (e.g. model.xml) and nothing else\n";
  int list = 0;
  const char* meta_key = NULL;
  cli_flag flags[] = {{"episodes", CLI_BOOL, &list}, {"meta", CLI_STRING, &meta_key}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return cli_fail("inspect", "give one dataset file"), 2;
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(pos[0], err, sizeof err);
  if (!r) return cli_fail("inspect", "%s", err);
  if (meta_key) {
    size_t len;
    const char* v = am_ds_meta(r, meta_key, &len);
    if (!v) {
      am_ds_reader_free(r);
      return cli_fail("inspect", "%s has no metadata '%s'", pos[0], meta_key);
    }
    fwrite(v, 1, len, stdout);
    if (len && v[len - 1] != '\n') printf("\n");
    am_ds_reader_free(r);
    return 0;
  }
  int major, minor;
  am_ds_version(r, &major, &minor);
  uint64_t fb, sb, rb;
  am_ds_sizes(r, &fb, &sb, &rb);
  printf("%s: animat dataset, format %d.%d, %.3f MB\n", pos[0], major, minor, fb / 1e6);
  const char* note;
  if (am_ds_recovered(r, &note)) {
    printf("  RECOVERED without the index: %s\n", note);
    am_ds_damage dmg;
    am_ds_get_damage(r, &dmg);
    for (const char* s = dmg.text; *s; s += strcspn(s, "\n") + 1)
      printf("  lost: %.*s\n", (int)strcspn(s, "\n"), s);
  }
  if (am_ds_interrupted(r))
    printf("  INTERRUPTED: the recording stopped before its %s requested episodes were complete\n",
           am_ds_meta(r, "episodes.requested", NULL) ? am_ds_meta(r, "episodes.requested", NULL) : "");
  printf("metadata:\n");
  for (int i = 0; i < am_ds_num_meta(r); i++) {
    const char* k = am_ds_meta_key(r, i);
    size_t len;
    const char* v = am_ds_meta(r, k, &len);
    const char* nl = memchr(v, '\n', len);
    int binary = 0;  // e.g. model.mjb, model.hfield_data
    for (size_t c = 0; c < len && !binary; c++)
      binary = (unsigned char)v[c] < 0x20 && v[c] != '\n' && v[c] != '\t' && v[c] != '\r';
    if (binary)
      printf("  %-22s (%zu bytes, binary)\n", k, len);
    else if (!strcmp(k, "model.xml") || !strcmp(k, "policy.config"))
      printf("  %-22s (%zu bytes; animat inspect FILE --meta %s)\n", k, len, k);
    else if (nl && (size_t)(nl - v) + 1 < len)
      printf("  %-22s %.*s ... (%zu bytes)\n", k, (int)(nl - v), v, len);
    else
      printf("  %-22s %.*s\n", k, (int)(nl ? nl - v : (long)len), v);
  }
  size_t row = 0;
  for (int i = 0; i < am_ds_num_channels(r); i++) row += am_ds_get_channel(r, i)->row_bytes;
  printf("channels: %d (%zu bytes per step)\n", am_ds_num_channels(r), row);
  // filters: as the largest chunk stores each channel (a writer chooses them on its first chunk
  // of 64 rows or more)
  int big = -1, n_lossy = 0;
  for (int k = 0; k < am_ds_num_chunks(r); k++)
    if (big < 0 || am_ds_get_chunk(r, k)->rows > am_ds_get_chunk(r, big)->rows) big = k;
  for (int i = 0; i < am_ds_num_channels(r); i++)
    n_lossy += (am_ds_get_channel(r, i)->flags & AM_DS_CH_LOSSY) != 0;
  if (n_lossy)
    printf("  LOSSY: %d channel(s) stored with half the bits (f32 as 16-bit floats, f64 as f32), "
           "marked LOSSY below\n", n_lossy);
  printf("  %-22s %-8s %-12s %-16s %s\n", "name", "group", "shape", "filter", "units [labels]");
  for (int i = 0; i < am_ds_num_channels(r); i++) {
    const am_ds_channel* c = am_ds_get_channel(r, i);
    char sh[64], filt[96] = "?";
    shape_text(c, sh, sizeof sh);
    const char *pred, *lay;
    int ref;
    if (big >= 0 && !am_ds_chunk_filter(r, big, i, &pred, &lay, &ref, err, sizeof err)) {
      if (ref >= 0) snprintf(filt, sizeof filt, "=%s", am_ds_get_channel(r, ref)->name);
      else snprintf(filt, sizeof filt, "%s/%s", pred, lay);
    }
    printf("  %-22s %-8s %-12s %-16s %s%s%s%s%s\n", c->name, c->group, sh, filt,
           (c->flags & AM_DS_CH_LOSSY) ? "LOSSY " : "", c->units, c->labels[0] ? " [" : "",
           c->labels[0] ? c->labels : "", c->labels[0] ? "]" : "");
  }
  // channel models (format 1.3): what each predicts from
  for (int i = 0; i < am_ds_num_channels(r); i++) {
    int n_el, src[8];
    int ns = am_ds_channel_model(r, i, &n_el, src, 8);
    if (ns < 0) continue;
    const am_ds_channel* c = am_ds_get_channel(r, i);
    printf("  model of %s: %d of %zu elements, from ", c->name, n_el, c->elems);
    for (int k = 0; k < ns && k < 8; k++)
      printf("%s%s", k ? ", " : "", i == src[k] ? "itself" : am_ds_get_channel(r, src[k])->name);
    printf("%s\n", ns > 8 ? ", ..." : "");
  }
  int64_t ne = am_ds_num_episodes(r), steps = 0, complete = 0, term = 0, trunc = 0;
  int64_t lo = ne ? INT64_MAX : 0, hi = 0;
  for (int64_t i = 0; i < ne; i++) {
    const am_ds_episode* e = am_ds_get_episode(r, i);
    steps += e->steps;
    complete += e->complete;
    term += e->terminated;
    trunc += e->truncated;
    if (e->steps < lo) lo = e->steps;
    if (e->steps > hi) hi = e->steps;
  }
  printf("episodes: %lld (%lld complete: %lld terminated, %lld truncated; %lld incomplete)\n",
         (long long)ne, (long long)complete, (long long)term, (long long)trunc,
         (long long)(ne - complete));
  printf("steps: %lld (episode length %lld..%lld, mean %.1f), chunks: %d\n", (long long)steps,
         (long long)lo, (long long)hi, ne ? (double)steps / ne : 0.0, am_ds_num_chunks(r));
  printf("sizes: file %.3f MB, chunk data %.3f MB, raw rows %.3f MB, compression ratio %.2f, "
         "%.1f MB per million steps\n",
         fb / 1e6, sb / 1e6, rb / 1e6, sb ? (double)rb / sb : 0.0,
         steps ? fb / 1e6 / (steps / 1e6) : 0.0);
  if (list) {
    printf("%8s %5s %8s %-11s %s\n", "episode", "env", "steps", "end", "chunks");
    for (int64_t i = 0; i < ne; i++) {
      const am_ds_episode* e = am_ds_get_episode(r, i);
      printf("%8lld %5d %8lld %-11s %d\n", (long long)e->id, e->env, (long long)e->steps,
             !e->complete ? "incomplete" : e->terminated ? "terminated" : "truncated", e->n_chunks);
    }
  }
  am_ds_reader_free(r);
  return 0;
}
