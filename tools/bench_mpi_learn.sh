#!/usr/bin/env bash
# tools/bench_mpi_learn.sh [STEPS] [SEEDS] [OUTDIR]: learning with MPI ranks against one process on
# reacher (docs/benchmarks.md): 2 ranks x 32 envs against 1 rank x 64 envs, the same total envs,
# minibatch share and learning rate, for seeds 1..SEEDS (default 1e6 steps, 3 seeds). Prints each
# run's mean training return over its last 10 iterations, and the mean over seeds.
set -euo pipefail
steps="${1:-1e6}"
seeds="${2:-3}"
out="${3:-$(mktemp -d "${TMPDIR:-/tmp}/animat-mpi-learn.XXXXXX")}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/build/animat"
[ -x "$bin" ] || { echo "build animat first (tools/animat version)" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
# mean of metrics.csv's mean_return (column 7) over the last 10 rows
last_return() { tail -n 10 "$1/metrics.csv" | awk -F, '{s += $7; n++} END {printf "%.3f", s / n}'; }
echo "reacher, $steps env steps, seeds 1..$seeds, run directories in $out"
printf "%-6s %-22s %-22s\n" seed "1 rank x 64 envs" "2 ranks x 32 envs"
sum1=0 sum2=0
for s in $(seq 1 "$seeds"); do
  t0=$SECONDS
  "$bin" train --task reacher --envs 64 --threads 2 --steps "$steps" --seed "$s" \
    --out "$out/one-s$s" --force --quiet > /dev/null
  t1=$SECONDS
  mpirun -np 2 --bind-to none --oversubscribe "$bin" train --task reacher --envs 32 --threads 1 \
    --steps "$steps" --seed "$s" --out "$out/two-s$s" --force --quiet > /dev/null
  t2=$SECONDS
  r1=$(last_return "$out/one-s$s")
  r2=$(last_return "$out/two-s$s")
  printf "%-6s %-22s %-22s\n" "$s" "$r1 ($((t1 - t0)) s)" "$r2 ($((t2 - t1)) s)"
  sum1=$(awk -v a="$sum1" -v b="$r1" 'BEGIN {print a + b}')
  sum2=$(awk -v a="$sum2" -v b="$r2" 'BEGIN {print a + b}')
done
awk -v a="$sum1" -v b="$sum2" -v n="$seeds" \
  'BEGIN {printf "mean   %-22.3f %-22.3f\n", a / n, b / n}'
