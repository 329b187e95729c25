#!/bin/sh
# check_aarch64.sh ROOT: the C sources of sim/, tasks/, agents/, analysis/ and tools/ must compile for a CPU
# other than x86-64. Runs `clang --target=aarch64-linux-gnu -fsyntax-only` over each (glibc's
# aarch64 headers from libc6-dev-arm64-cross; MuJoCo, zstd and OpenBLAS headers from the host,
# which are not architecture-specific) and fails on any error. Exits 77 (ctest: skipped) when
# clang or the aarch64 C library headers are missing. Registered with ctest as check_aarch64.
set -u
root=${1:?usage: check_aarch64.sh ROOT}
cross=/usr/aarch64-linux-gnu/include
command -v clang >/dev/null 2>&1 || { echo "check_aarch64: clang not found: skipped (apt-get install clang)"; exit 77; }
[ -f "$cross/stdio.h" ] || { echo "check_aarch64: $cross missing: skipped (apt-get install libc6-dev-arm64-cross)"; exit 77; }
blas=$(pkg-config --cflags openblas 2>/dev/null)
# tools/nwb*.c need HDF5 (optional, as in the build): checked with it, skipped without it
hdf5=$(pkg-config --cflags hdf5 2>/dev/null) && hdf5="$hdf5 -DANIMAT_HAVE_HDF5" || hdf5=
n=0 bad=0
for f in "$root"/sim/*.c "$root"/tasks/*.c "$root"/agents/*.c "$root"/analysis/*.c "$root"/tools/*.c; do
  case "$f" in */tools/nwb*.c) [ -n "$hdf5" ] || continue ;; esac
  n=$((n + 1))
  # shellcheck disable=SC2086
  if ! clang --target=aarch64-linux-gnu -fsyntax-only -std=gnu11 -Werror=implicit-function-declaration \
      -isystem "$cross" -I"$root/sim" -I"$root/tasks" -I"$root/agents" -I"$root/analysis" -I"$root/tools" $blas $hdf5 \
      -DANIMAT_VERSION='"check"' -DANIMAT_BODIES_DIR='"/nonexistent"' "$f"; then
    echo "check_aarch64: $f does not compile for aarch64"
    bad=$((bad + 1))
  fi
done
echo "check_aarch64: $n files, $bad with errors (clang --target=aarch64-linux-gnu)"
[ "$bad" -eq 0 ]
