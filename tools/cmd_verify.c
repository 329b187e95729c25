// cmd_verify.c: `animat verify FILE [--resim]`: checks every checksum of a dataset and the index
// against the chunks in the file ("all checksums good" only when there is no problem at all); with
// --resim, re-simulates each episode from its recorded initial state, controls and applied forces
// on the model embedded in the file (saying which: the exact binary model, or the MJCF fallback),
// reporting the largest qpos deviation (zero expected).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "am_dataset.h"
#include "cli.h"

int cmd_verify(int argc, char** argv) {
  const char* usage =
      "usage: animat verify FILE [--resim] [--tolerance X]\n"
      "  Checks every block's checksum, decompression and sizes, and the index against the chunks\n"
      "  in the file (every entry a valid chunk, every chunk indexed, no damaged bytes). Exit\n"
      "  status 0 when all is well, 1 on any problem (a file recovered without its index too).\n"
      "  --resim        also replay each episode's recorded controls (and the forces a task\n"
      "                 applied, e.g. force fields) from its initial state on the embedded model\n"
      "                 and report the largest qpos deviation\n"
      "  --tolerance X  largest deviation accepted by --resim (default 0: bit-exact)\n";
  int resim = 0;
  double tol = 0;
  cli_flag flags[] = {{"resim", CLI_BOOL, &resim}, {"tolerance", CLI_DOUBLE, &tol, 0, 1e9}};
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
  if (am_ds_verify(r, &bad, err, sizeof err)) {
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
    double worst = 0;
    int64_t worst_ep = -1, n = am_ds_num_episodes(r), failed = 0;
    for (int64_t i = 0; i < n && !cli_interrupted; i++) {
      double dev;
      if (am_ds_resim_episode(r, m, i, &dev, err, sizeof err)) {
        if (!failed++) printf("resim: episode %lld: %s\n", (long long)am_ds_get_episode(r, i)->id, err);
        continue;
      }
      if (!(dev <= worst)) {
        worst = dev;
        worst_ep = am_ds_get_episode(r, i)->id;
      }
    }
    am_model_free(m);
    printf("resim: %lld episodes replayed, largest qpos deviation %.3g", (long long)(n - failed), worst);
    if (worst_ep >= 0) printf(" (episode %lld)", (long long)worst_ep);
    printf("%s\n", worst <= tol && !failed ? "" : "  FAILED");
    if (!(worst <= tol) || failed) status = 1;
  }
  am_ds_reader_free(r);
  return status;
}
