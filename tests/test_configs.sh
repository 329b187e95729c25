#!/usr/bin/env bash
# test_configs.sh ANIMAT TOOLS_DIR: every config that ships in tools/ (the recipes docs point users
# to) is read and trains one short iteration (16 envs, 8 steps, one minibatch, so each takes about
# a second): a task parameter or configuration key renamed under a recipe fails here, not an hour
# into a user's run. A config that continues another run (load_module, load_path) is refused only
# for its missing source checkpoint, and trains from scratch with the sources cleared (and its
# anchor, which needs a loaded policy; the rest of its content checked the same way).
set -u
animat="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tools="$(cd "$2" && pwd)"
dir="$(mktemp -d "${TMPDIR:-/tmp}/animat-configs.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fails=0 n=0
for cfg in "$tools"/*.cfg; do
  name="$(basename "$cfg" .cfg)"
  n=$((n + 1))
  # horizon 8, or the core's tick where it is longer (the horizon must be a multiple of it)
  tick="$(sed -nE 's/^core_tick *= *([0-9]+).*/\1/p' "$cfg")"
  horizon=8
  if [ -n "$tick" ] && [ $((8 % tick)) -ne 0 ]; then horizon=$tick; fi
  short=(--config "$cfg" --steps 1 --envs 16 --threads 1 --set minibatches=1
         --set horizon=$horizon --quiet)
  "$animat" train "${short[@]}" --out "$name" > "$name.out" 2>&1
  rc=$?
  if grep -Eq '^load_(extra_)?(module|path) *= *[^ ]' "$cfg"; then
    # a continuation: trains if its source exists here, else names the missing checkpoint
    if [ $rc -ne 0 ] && ! grep -Eq "cannot open checkpoint|needs load_path" "$name.out"; then
      echo "FAIL: $name: refused for something other than its source checkpoint: $(cat "$name.out")"
      fails=$((fails + 1))
    fi
    name="$name-scratch"
    "$animat" train "${short[@]}" --set load_module= --set load_path= --set anchor=0 \
      --set load_extra_module= --set load_extra_path= --out "$name" > "$name.out" 2>&1
    rc=$?
  fi
  if [ $rc -ne 0 ] || [ ! -f "$name/checkpoint.bin" ]; then
    echo "FAIL: $name: does not train: $(cat "$name.out")"
    fails=$((fails + 1))
  fi
done
[ $n -gt 20 ] || { echo "FAIL: only $n configs found in $tools"; fails=$((fails + 1)); }
echo "$n configs, $fails failed"
[ $fails -eq 0 ]
