// replay_main.c: a main() for the libFuzzer harnesses (fuzz_dataset.c, fuzz_ckpt.c) built with the
// normal compiler: feeds each file named on the command line, or each file in each directory named
// there, to LLVMFuzzerTestOneInput once. ctest runs it over tests/fuzz/corpus/* and the
// regression inputs (tests/data/fuzz), under ASan + UBSan in `tools/test --sanitize`, so a harness
// that stops building or an input that crashes again fails the suite.
// Usage: fuzz_X_replay FILE_OR_DIR...   Exit 0 after every input ran; 1 on an unreadable path or
// when no input was found (an empty corpus proves nothing).
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int run_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return perror(path), -1;
  uint8_t* buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? 2 * cap : 65536;
      uint8_t* q = realloc(buf, cap);
      if (!q) return fclose(f), free(buf), fprintf(stderr, "%s: out of memory\n", path), -1;
      buf = q;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    if (!k) break;
    n += k;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return free(buf), fprintf(stderr, "%s: read error\n", path), -1;
  // an exact-size copy, so that ASan catches a read one byte past the input
  uint8_t* in = malloc(n ? n : 1);
  if (!in) return free(buf), -1;
  memcpy(in, buf, n);
  free(buf);
  fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  return 0;
}

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(char* const*)a, *(char* const*)b);
}

int main(int argc, char** argv) {
  int ran = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st)) return perror(argv[i]), 1;
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i])) return 1;
      ran++;
      continue;
    }
    DIR* d = opendir(argv[i]);
    if (!d) return perror(argv[i]), 1;
    char** names = NULL;
    size_t n = 0;
    for (struct dirent* e; (e = readdir(d));) {
      if (e->d_name[0] == '.') continue;
      char** q = realloc(names, (n + 1) * sizeof *names);
      if (!q) return 1;
      names = q;
      size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
      names[n] = malloc(l);
      snprintf(names[n++], l, "%s/%s", argv[i], e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);  // a fixed order: failures reproduce
    for (size_t k = 0; k < n; k++) {
      if (run_file(names[k])) return 1;
      ran++;
      free(names[k]);
    }
    free(names);
  }
  if (!ran) return fprintf(stderr, "replay: no inputs\n"), 1;
  fprintf(stderr, "replay: %d inputs, no crash\n", ran);
  return 0;
}
