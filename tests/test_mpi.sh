#!/usr/bin/env bash
# test_mpi.sh ANIMAT MPIEXEC: data-parallel training on 2 MPI ranks on this machine
# (docs/distributed.md): the ranks end with bit-identical parameters; the same seed gives a
# bitwise identical checkpoint twice (2 ranks, and 5 whose gradient is summed in fixed point); a
# run resumed under 2 ranks (with another thread count)
# equals the uninterrupted one; a 2-rank checkpoint is refused by a single process and ranks
# with different configurations are refused at start; a rank killed with -9, or stopped, ends the
# job with a non-zero status and a message naming a rank, and the last checkpoint resumes.
# Exits 77 (skipped) where mpirun or an MPI build is missing.
set -u
animat="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
mpiexec="${2:-}"
if [ -z "$mpiexec" ] || ! command -v "$mpiexec" >/dev/null; then
  echo "SKIP: mpirun not found (install openmpi-bin and libopenmpi-dev: tools/setup.sh)"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # containers run as root
export OMPI_MCA_mpi_yield_when_idle=1  # a waiting rank yields the core (the machine is shared)
# Under AddressSanitizer (tools/test --sanitize), Open MPI's own allocations that it never frees
# (libmpi, its plugins) would fail every rank at exit; animat's leaks are checked by every other
# test of the suite.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
dir="$(mktemp -d "${TMPDIR:-/tmp}/animat-mpi.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
mpi=("$mpiexec" -np 2 --bind-to none --oversubscribe)
# 16 envs x 64 steps per rank and iteration, 2 minibatch updates; a constant learning rate so
# that a run stopped early and resumed to the same total follows the same schedule as the
# uninterrupted one
small=(--task reacher --envs 16 --threads 1 --set lr_schedule=constant --set epochs=1
       --set minibatches=2 --quiet)
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}

"${mpi[@]}" "$animat" train "${small[@]}" --steps 8192 --out a > a.out 2>&1 || fail "2-rank run: $(cat a.out)"
grep -q "2 ranks: parameters bit-identical on every rank" a.out || fail "no parameter check line: $(cat a.out)"
grep -q "env_steps" a/metrics.csv && [ "$(tail -n 1 a/metrics.csv | cut -d, -f2)" = 8192 ] ||
  fail "metrics.csv does not count both ranks' steps: $(tail -n 1 a/metrics.csv)"

"${mpi[@]}" "$animat" train "${small[@]}" --steps 8192 --out b > b.out 2>&1 || fail "second run: $(cat b.out)"
cmp a/checkpoint.bin b/checkpoint.bin || fail "same seed, different checkpoints"

# 5 ranks (more than ama_dist.c gathers): the gradient is summed in fixed point by MPI_Allreduce,
# whose order Open MPI picks; the ranks stay identical and the same seed gives the same bits.
mpi5=("$mpiexec" -np 5 --bind-to none --oversubscribe)
for out in five five2; do
  "${mpi5[@]}" "$animat" train "${small[@]}" --envs 4 --steps 2560 --out $out > $out.out 2>&1 ||
    fail "5-rank run: $(cat $out.out)"
done
grep -q "5 ranks: parameters bit-identical on every rank" five.out ||
  fail "5 ranks: $(cat five.out)"
cmp five/checkpoint.bin five2/checkpoint.bin || fail "5 ranks: same seed, different checkpoints"

"${mpi[@]}" "$animat" train "${small[@]}" --steps 4096 --out c > c.out 2>&1 || fail "first half: $(cat c.out)"
"${mpi[@]}" "$animat" train --resume c --steps 8192 --threads 2 --quiet > c2.out 2>&1 ||
  fail "resume: $(cat c2.out)"
cmp a/checkpoint.bin c/checkpoint.bin || fail "resumed run differs from the uninterrupted one"

"$animat" train --resume c --steps 32768 --quiet > d.out 2>&1 && fail "1 process resumed a 2-rank run"
grep -q "written by 2 ranks, this run has 1" d.out || fail "unclear refusal: $(cat d.out)"

"${mpi[@]}" sh -c "exec '$animat' train ${small[*]} --steps 8192 --out e \
  --envs \$((16 + 16 * \${OMPI_COMM_WORLD_RANK:-0}))" > e.out 2>&1 && fail "mismatched ranks ran"
grep -q "rank 1: its configuration differs from rank 0's: 'num_envs = 32'" e.out ||
  fail "unclear mismatch message: $(cat e.out)"

# Evolution strategies (learner = es): the ranks exchange only returns and statistics and stay
# bit-identical; both ranks' episodes and steps are counted; an interrupted run resumes exactly.
es=(--task reacher --envs 8 --threads 1 --set learner=es --set es_pairs=2 --set lr=0.01
    --set lr_schedule=constant --set minibatches=2 --quiet)
"${mpi[@]}" "$animat" train "${es[@]}" --steps 4000 --out es > es.out 2>&1 || fail "ES run: $(cat es.out)"
grep -q "2 ranks: parameters bit-identical on every rank" es.out || fail "ES: no check line: $(cat es.out)"
[ "$(tail -n 1 es/metrics.csv | cut -d, -f2,5)" = 4000,16 ] ||
  fail "ES metrics do not count both ranks: $(tail -n 1 es/metrics.csv)"
"${mpi[@]}" "$animat" train "${es[@]}" --steps 2400 --out es2 > es2.out 2>&1 || fail "ES half: $(cat es2.out)"
"${mpi[@]}" "$animat" train --resume es2 --steps 4000 --threads 2 --quiet > es3.out 2>&1 ||
  fail "ES resume: $(cat es3.out)"
cmp es/checkpoint.bin es2/checkpoint.bin || fail "ES: resumed run differs from the uninterrupted one"

# A rank killed (-9) or stopped mid-run: the job ends non-zero, naming a rank, within 30 s (a
# bound against a hang, not a speed measurement).
# stop_rank SIGNAL OUTDIR: starts a long run, sends SIGNAL to rank 1 once a checkpoint exists, and
# prints the job's exit status and its seconds to end (999: it did not end).
stop_rank() {
  "${mpi[@]}" -x ANIMAT_MPI_TIMEOUT "$animat" train "${small[@]}" --steps 1e9 --out "$2" \
    --checkpoint-every 1 > "$2.out" 2>&1 &
  local job=$! victim="" t0 i
  for i in $(seq 1 300); do
    [ -f "$2/checkpoint.bin" ] && break
    kill -0 $job 2>/dev/null || { wait $job; echo "ended-early 0"; return; }
    sleep 0.1
  done
  for p in $(pgrep -P $job); do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
  done
  [ -n "$victim" ] || { kill $job; echo "no-rank-1 0"; return; }
  t0=$SECONDS
  kill "-$1" "$victim"
  for i in $(seq 1 300); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then
    kill -9 $job "$victim"
    echo "hang 999"
    return
  fi
  wait $job
  echo "$? $((SECONDS - t0))"
}
# check_stop SIGNAL DIR PATTERN: rank 1 gets SIGNAL mid-run; the job must end non-zero with
# PATTERN in its output.
check_stop() {
  local rc secs
  read -r rc secs < <(stop_rank "$1" "$2")
  [ "$rc" != 0 ] && [ "$rc" != hang ] && [ "$rc" != no-rank-1 ] && [ "$rc" != ended-early ] ||
    fail "SIG$1 to rank 1: status $rc: $(cat "$2.out")"
  grep -q "$3" "$2.out" || fail "SIG$1 to rank 1: no '$3' in the output: $(cat "$2.out")"
  echo "SIG$1 to rank 1: the job ended with status $rc after ${secs}s"
}
export ANIMAT_MPI_TIMEOUT=600
check_stop KILL f "rank 1"
# a total beyond what the killed run reached (its checkpoint has at most metrics.csv's last steps)
total=$(($(tail -n 1 f/metrics.csv | cut -d, -f2) + 8192))
"${mpi[@]}" "$animat" train --resume f --steps $total --quiet > f2.out 2>&1 ||
  fail "the last checkpoint before the kill does not resume: $(cat f2.out)"
# the watchdog: a stopped rank never answers (5 s: more than a checkpoint write or the ranks'
# start-up skew take on a loaded machine)
export ANIMAT_MPI_TIMEOUT=5
check_stop STOP g "no answer from the other ranks"

[ $fails = 0 ] && echo "all MPI checks passed"
exit $((fails > 0))
