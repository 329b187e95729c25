#!/bin/sh
# run.sh: builds the dataset reader's libFuzzer harness (clang, ASan + UBSan) and runs it on one
# core. Usage: tests/fuzz/run.sh [SECONDS] (default 600). Needs clang (apt-get install clang).
# Crashing inputs land in tests/data/fuzz/ (commit them: test_dataset replays every file there);
# the growing corpus lives in build-fuzz/corpus (seeded with tests/data/*.rollout).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-600}
out=${ANIMAT_FUZZ_BUILD:-$root/build-fuzz}
mkdir -p "$out/corpus" "$root/tests/data/fuzz"
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang)" >&2; exit 2; }
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/sim" $(pkg-config --cflags libzstd) -DANIMAT_VERSION='"fuzz"' -DAM_DS_FUZZING \
  "$here/fuzz_dataset.c" "$root/sim/dataset_read.c" "$root/sim/dataset_format.c" \
  "$root/sim/crc32.c" "$root/sim/util.c" $(pkg-config --libs libzstd) -lm -o "$out/fuzz_dataset"
cp "$root"/tests/data/*.rollout "$out/corpus/" 2>/dev/null || true
cp "$root"/tests/data/fuzz/* "$out/corpus/" 2>/dev/null || true
cd "$out"
exec ./fuzz_dataset -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 -timeout=10 \
  -artifact_prefix="$root/tests/data/fuzz/" -print_final_stats=1 corpus
