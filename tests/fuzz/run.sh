#!/bin/sh
# run.sh: builds a libFuzzer harness (clang, ASan + UBSan) and runs it on one core.
#   tests/fuzz/run.sh [dataset|ckpt] [SECONDS]        long run (default: dataset, 600 s); crashes,
#       leaks and timeouts are collected, not fatal; crashing inputs land in tests/data/fuzz/
#       (dataset) or tests/fuzz/regress/ckpt/ (ckpt): fix the reader, then commit them to the
#       corpus as regression inputs
#   tests/fuzz/run.sh --ctest OUTDIR dataset|ckpt SECONDS
#       what ctest runs (fuzz_dataset_run, fuzz_ckpt_run): builds into OUTDIR (a build failure
#       fails the test), fuzzes a copy of the committed corpus and stops with an error at the
#       first crash, leak or timeout (input written to OUTDIR). Exits 77 (skipped) without clang.
# Harnesses: fuzz_dataset.c (sim/dataset_read.c, checksums ignored by -DAM_DS_FUZZING) and
# fuzz_ckpt.c (agents/ama_ckpt.c, on the whole animat source: tasks and MuJoCo for the reacher
# task). Committed corpora: tests/fuzz/corpus/{dataset,ckpt}; the growing corpus of long runs
# lives in build-fuzz/corpus-NAME. The replay tests (fuzz_*_replay) rerun every committed input.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ctest=0
if [ "${1:-}" = "--ctest" ]; then
  ctest=1
  out=$2
  shift 2
fi
name=${1:-dataset}
secs=${2:-600}
[ "$ctest" = 1 ] || out=${ANIMAT_FUZZ_BUILD:-$root/build-fuzz}
if ! command -v clang >/dev/null; then
  echo "run.sh: clang not found (apt-get install clang)" >&2
  [ "$ctest" = 1 ] && exit 77
  exit 2
fi
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11
  -I$root/sim -I$root/tasks -I$root/agents $(pkg-config --cflags libzstd openblas)
  -DANIMAT_VERSION=\"fuzz\" -DANIMAT_BODIES_DIR=\"$root/bodies\""
case "$name" in
  dataset)
    # shellcheck disable=SC2086
    clang $flags -DAM_DS_FUZZING "$here/fuzz_dataset.c" "$root/sim/dataset_read.c" \
      "$root/sim/dataset_format.c" "$root/sim/crc32.c" "$root/sim/util.c" \
      $(pkg-config --libs libzstd) -lm -o "$out/fuzz_dataset"
    regress="$root/tests/data/fuzz" ;;
  ckpt)
    # shellcheck disable=SC2086
    clang $flags -mfma "$here/fuzz_ckpt.c" "$root"/agents/*.c "$root"/tasks/*.c "$root"/sim/*.c \
      -lmujoco $(pkg-config --libs libzstd openblas) -lpthread -lm -o "$out/fuzz_ckpt"
    regress="$root/tests/fuzz/regress/ckpt" ;;
  *) echo "run.sh: unknown harness '$name' (dataset, ckpt)" >&2; exit 2 ;;
esac
corpus="$out/corpus-$name"
mkdir -p "$corpus"
cp "$here/corpus/$name"/* "$corpus/"
opts="-max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1"
cd "$out"
if [ "$ctest" = 1 ]; then
  # shellcheck disable=SC2086
  exec "./fuzz_$name" $opts -max_total_time="$secs" -artifact_prefix="$out/$name-" "$corpus"
fi
mkdir -p "$regress"
# shellcheck disable=SC2086
exec "./fuzz_$name" $opts -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
  -max_total_time="$secs" -artifact_prefix="$regress/" "$corpus"
