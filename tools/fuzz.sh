#!/usr/bin/env bash
# Build and run the libFuzzer target for the checkpoint loader.
#
#   bash tools/fuzz.sh                 # build, replay the seeds, 20000 runs
#   bash tools/fuzz.sh -max_total_time=600   # any libFuzzer flags (replaces -runs)
#   bash tools/fuzz.sh --seeds         # regenerate tests/fuzz/corpus
#
# Builds recur as a static library with clang, AddressSanitizer, UBSan and
# libFuzzer coverage (-fsanitize=fuzzer-no-link) in its own folder, links
# tests/fuzz/fuzz_checkpoint.c with -fsanitize=fuzzer, then
#   1. replays every seed in tests/fuzz/corpus (each must pass), and
#   2. fuzzes for RECUR_FUZZ_RUNS executions (default 20000), starting from
#      the seeds plus the inputs found by earlier runs (kept in the build
#      folder, never in the source tree), with tests/fuzz/safetensors.dict.
# Needs clang and libFuzzer (Debian: clang libclang-rt-dev).
#
# Environment:
#   RECUR_FUZZ_BUILD   build folder (default build/fuzz)
#   RECUR_FUZZ_RUNS    executions of step 2 (default 20000)
#   RECUR_FUZZ_LOG     also write results as a meson-style testlog.json here
#                      (tools/test.sh counts them as the `fuzz` configuration)
# Exit status: 0 when the build worked and no input crashed, else 1.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
bdir=${RECUR_FUZZ_BUILD:-$src/build/fuzz}
runs=${RECUR_FUZZ_RUNS:-20000}
log=${RECUR_FUZZ_LOG:-}
mkdir -p "$bdir"
bdir=$(cd "$bdir" && pwd)

say() { printf '\n==> %s\n' "$*"; }
result() { # name OK|FAIL seconds
  [[ -n $log ]] || return 0
  printf '{"name": "%s", "result": "%s", "duration": %s}\n' "$1" "$2" "$3" >>"$log"
}
if [[ -n $log ]]; then
  mkdir -p "$(dirname "$log")"
  log="$(cd "$(dirname "$log")" && pwd)/$(basename "$log")"  # we cd later
  rm -f "$log"
fi

command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (apt-get install clang libclang-rt-dev)" >&2; exit 1; }

# --- build -----------------------------------------------------------------
lib="$bdir/lib"
opts=(-Ddefault_library=static -Db_sanitize=address,undefined -Db_lundef=false
      -Dbuildtype=debugoptimized -Dtests=false -Dexamples=false
      "-Dc_args=-fsanitize=fuzzer-no-link")
if [[ -f $lib/meson-private/coredata.dat ]]; then
  say "meson setup --reconfigure $lib (clang, ASan+UBSan, fuzzer-no-link)"
  CC=clang meson setup --reconfigure "$lib" "$src" "${opts[@]}" >/dev/null
else
  say "meson setup $lib (clang, ASan+UBSan, fuzzer-no-link)"
  CC=clang meson setup "$lib" "$src" "${opts[@]}" >/dev/null
fi || { echo "fuzz.sh: meson setup failed" >&2; exit 1; }
meson compile -C "$lib" >/dev/null || { meson compile -C "$lib"; echo "fuzz.sh: build failed" >&2; exit 1; }

deps=$(pkg-config --libs sleef libxxhash; pkg-config --exists openblas && pkg-config --libs openblas)
incs=(-I"$src/graph" -I"$lib/graph" -I"$src/ops" -I"$src/optim")
flags=(-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined)
# shellcheck disable=SC2086
clang "${flags[@]}" "${incs[@]}" "$src/tests/fuzz/fuzz_checkpoint.c" "$lib/librecur.a" \
  $deps -lm -lpthread -o "$bdir/fuzz_checkpoint" ||
  { echo "fuzz.sh: linking the fuzz target failed" >&2; exit 1; }

if [[ ${1:-} == --seeds ]]; then
  # shellcheck disable=SC2086
  clang -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=address,undefined "${incs[@]}" \
    "$src/tests/fuzz/gen_seeds.c" "$lib/librecur.a" $deps -lm -lpthread -o "$bdir/gen_seeds" &&
    mkdir -p "$src/tests/fuzz/corpus" && "$bdir/gen_seeds" "$src/tests/fuzz/corpus" &&
    ls -l "$src/tests/fuzz/corpus"
  exit $?
fi

# --- 1. the seeds ------------------------------------------------------------
cd "$bdir" || exit 1 # libFuzzer writes fuzz-N.log files (-jobs) to the current folder
status=0
seeds=("$src"/tests/fuzz/corpus/*)
say "replaying ${#seeds[@]} seeds"
t0=$SECONDS
if "$bdir/fuzz_checkpoint" "${seeds[@]}" >"$bdir/seeds.log" 2>&1; then
  result "fuzz_checkpoint seeds (${#seeds[@]})" OK $((SECONDS - t0))
else
  tail -n 40 "$bdir/seeds.log"
  result "fuzz_checkpoint seeds (${#seeds[@]})" FAIL $((SECONDS - t0))
  status=1
fi

# --- 2. fuzzing --------------------------------------------------------------
mkdir -p "$bdir/corpus" "$bdir/crashes"
args=("$@")
((${#args[@]} > 0)) || args=(-runs="$runs")
say "fuzz_checkpoint ${args[*]}"
t0=$SECONDS
if "$bdir/fuzz_checkpoint" -dict="$src/tests/fuzz/safetensors.dict" \
     -artifact_prefix="$bdir/crashes/" -print_final_stats=1 "${args[@]}" \
     "$bdir/corpus" "$src/tests/fuzz/corpus" >"$bdir/fuzz.log" 2>&1; then
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units)' "$bdir/fuzz.log"
  result "fuzz_checkpoint ${args[*]}" OK $((SECONDS - t0))
else
  tail -n 60 "$bdir/fuzz.log"
  echo "fuzz.sh: a crashing input is in $bdir/crashes/" >&2
  result "fuzz_checkpoint ${args[*]}" FAIL $((SECONDS - t0))
  status=1
fi
exit $status
