// cmd_verify.c: `animat verify FILE [--resim]`: checks every checksum of a dataset and the index
// against the chunks in the file ("all checksums good" only when there is no problem at all); with
// --resim, re-simulates each episode from its recorded initial state, controls and applied forces
// on the model embedded in the file (saying which: the exact binary model, or the MJCF fallback),
// reporting the largest qpos deviation (zero expected). Chunks and episodes are checked on
// --threads threads (each with its own reader, am_ds_reader_dup); what is printed is the same
// whatever the count.
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "am_dataset.h"
#include "cli.h"

// --resim's shared state: the model, the next episode, each episode's deviation kept at its index
// (NOT_REPLAYED until then, FAILED), and per thread its first (lowest) failed episode's message.
enum { NOT_REPLAYED = -1, FAILED = -2 };  // deviations are >= 0 or NaN
typedef struct resim_run {
  const am_model* m;
  _Atomic int64_t next;
  double* dev;
  int64_t first[AM_DS_MAX_THREADS];
  char msg[AM_DS_MAX_THREADS][AM_ERR_LEN];
} resim_run;

// One replaying thread (am_ds_run_threads): the episodes it takes from the counter.
static void resim_part(am_ds_reader* r, int t, void* ctx) {
  resim_run* v = ctx;
  char msg[AM_ERR_LEN];
  v->first[t] = -1;
  for (int64_t i; !cli_interrupted && (i = atomic_fetch_add(&v->next, 1)) < am_ds_num_episodes(r);)
    if (am_ds_resim_episode(r, v->m, i, &v->dev[i], msg, sizeof msg)) {
      v->dev[i] = FAILED;
      if (v->first[t] < 0) v->first[t] = i, snprintf(v->msg[t], sizeof v->msg[t], "%s", msg);
    }
}

int cmd_verify(int argc, char** argv) {
  const char* usage =
      "usage: animat verify FILE [--resim] [--tolerance X] [--threads N]\n"
      "  Checks every block's checksum, decompression and sizes, and the index against the chunks\n"
      "  in the file (every entry a valid chunk, every chunk indexed, no damaged bytes). Exit\n"
      "  status 0 when all is well, 1 on any problem (a file recovered without its index too).\n"
      "  --resim        also replay each episode's recorded controls (and the forces a task\n"
      "                 applied, e.g. force fields) from its initial state on the embedded model\n"
      "                 and report the largest qpos deviation\n"
      "  --tolerance X  largest deviation accepted by --resim (default 0: bit-exact)\n"
      "  --threads N    check chunks and replay episodes on N threads (default: every core);\n"
      "                 the report is the same for any N\n";
  int resim = 0, threads = cli_cores(AM_DS_MAX_THREADS);
  double tol = 0;
  cli_flag flags[] = {{"resim", CLI_BOOL, &resim},
                      {"tolerance", CLI_DOUBLE, &tol, 0, 1e9},
                      {"threads", CLI_INT, &threads, 1, AM_DS_MAX_THREADS}};
  const char* pos[2];
  int npos = 0, help = 0;
  int rc = cli_parse(argc, argv, flags, CLI_NFLAGS(flags), pos, 2, &npos, &help, usage);
  if (rc) return rc;
  if (help) return 0;
  if (npos != 1) return cli_fail("verify", "give one dataset file"), 2;
  char err[AM_ERR_LEN];
  am_ds_reader* r = am_ds_open(pos[0], err, sizeof err);
  if (!r) return cli_fail("verify", "%s", err);
  int status = 0;
  const char* note;
  if (am_ds_recovered(r, &note)) {
    printf("%s: DAMAGED: index missing or damaged; %s\n", pos[0], note);
    status = 1;
  }
  am_ds_damage dmg;
  am_ds_get_damage(r, &dmg);
  for (const char* s = dmg.text; *s; s += strcspn(s, "\n") + 1)
    printf("  lost: %.*s\n", (int)strcspn(s, "\n"), s);
  int bad = 0;
  double t0 = am_now();
  uint64_t fb, sb, rb;
  am_ds_sizes(r, &fb, &sb, &rb);
  if (am_ds_verify_threads(r, threads, &bad, err, sizeof err)) {
    printf("%s: %s\n", pos[0], err);
    status = 1;
  }
  double dt = am_now() - t0;
  if (!status)
    printf("%s: %d chunks, %lld episodes: all checksums good, the index matches the chunks "
           "(%.0f MB/s of raw data)\n", pos[0], am_ds_num_chunks(r),
           (long long)am_ds_num_episodes(r), dt > 0 ? rb / 1e6 / dt : 0.0);
  else if (!bad)  // recovered, every byte in a whole block: only the index is missing
    printf("%s: FAILED: no index (the file was not closed); its %d chunks, %lld episodes are all "
           "good and readable by scanning\n", pos[0], am_ds_num_chunks(r),
           (long long)am_ds_num_episodes(r));
  else
    printf("%s: FAILED: %d problem(s)%s; %d chunks, %lld episodes readable\n", pos[0], bad,
           am_ds_recovered(r, NULL) ? " besides the missing index" : "", am_ds_num_chunks(r),
           (long long)am_ds_num_episodes(r));
  if (am_ds_interrupted(r))
    printf("%s: the recording was interrupted (metadata episodes.requested: %s); episodes not "
           "finished are marked incomplete\n", pos[0],
           am_ds_meta(r, "episodes.requested", NULL) ? am_ds_meta(r, "episodes.requested", NULL) : "?");
  int n_lossy = 0;
  for (int i = 0; i < am_ds_num_channels(r); i++)
    n_lossy += (am_ds_get_channel(r, i)->flags & AM_DS_CH_LOSSY) != 0;
  if (n_lossy)
    printf("%s: LOSSY: %d channel(s) stored with half the bits (animat inspect marks them)\n",
           pos[0], n_lossy);
  if (resim) {
    char source[2 * AM_ERR_LEN];
    if (n_lossy)  // the replay uses only exact channels; am_ds_resim_episode refuses lossy ones
      printf("resim: the lossy channels are not used: the replay reads the exact initial state, "
             "ctrl, qfrc_applied and mocap_pos, and compares qpos\n");
    am_model* m = am_ds_load_model(r, source, sizeof source, err, sizeof err);
    if (!m) {
      printf("resim: cannot rebuild the model: %s\n", err);
      am_ds_reader_free(r);
      return 1;
    }
    printf("resim: model from %s\n", source);
    fflush(stdout);
    cli_install_interrupt();  // Ctrl-C: the episodes replayed so far are reported
    double worst = 0;
    int64_t worst_ep = -1, n = am_ds_num_episodes(r), failed = 0, done = 0;
    double* dev = malloc(sizeof(double) * (size_t)(n + 1));
    resim_run* v = calloc(1, sizeof *v);
    if (!dev || !v) {
      free(dev), free(v), am_model_free(m), am_ds_reader_free(r);
      return cli_fail("verify", "out of memory for %lld episodes", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) dev[i] = NOT_REPLAYED;
    v->m = m;
    v->dev = dev;
    int used = am_ds_run_threads(r, threads, resim_part, v), first_t = -1;
    for (int t = 0; t < used; t++)  // the lowest failed episode, as one thread would have met it
      if (v->first[t] >= 0 && (first_t < 0 || v->first[t] < v->first[first_t])) first_t = t;
    if (first_t >= 0)
      printf("resim: episode %lld: %s\n", (long long)am_ds_get_episode(r, v->first[first_t])->id,
             v->msg[first_t]);
    for (int64_t i = 0; i < n; i++) {
      if (dev[i] == FAILED) failed++;
      if (dev[i] == FAILED || dev[i] == NOT_REPLAYED) continue;  // the latter: interrupted first
      done++;
      if (!(dev[i] <= worst)) {
        worst = dev[i];
        worst_ep = am_ds_get_episode(r, i)->id;
      }
    }
    free(dev);
    free(v);
    am_model_free(m);
    printf("resim: %lld episodes replayed, largest qpos deviation %.3g", (long long)done, worst);
    if (worst_ep >= 0) printf(" (episode %lld)", (long long)worst_ep);
    printf("%s\n", worst <= tol && !failed ? "" : "  FAILED");
    if (!(worst <= tol) || failed) status = 1;
    if (done + failed < n) {
      printf("resim: interrupted after %lld of %lld episodes\n", (long long)(done + failed),
             (long long)n);
      status = 1;
    }
  }
  am_ds_reader_free(r);
  return status;
}
