#!/usr/bin/env bash
# Build and test recur in every configuration CI checks:
#
#   bash tools/test.sh                    # the whole matrix
#   bash tools/test.sh default float64    # only these configurations
#   RECUR_CONFIGS="default noblas" bash tools/test.sh
#
# Configurations (each builds in its own folder build/ci-*, reused across runs):
#   default   float32, OpenBLAS                         build/ci-default
#   float64   -Dreal=double                             build/ci-float64
#   sleef     -Dsleef_math=true (SLEEF's float tanh/exp) build/ci-sleef
#   noblas    -Dblas=none (the in-tree SIMD kernel)     build/ci-noblas
#   sanitize  -Db_sanitize=address,undefined, debugoptimized  build/ci-sanitize
#   avx2      the default build, meson test --setup avx2    (RECUR_ISA=avx2)
#   generic   the default build, meson test --setup generic (RECUR_ISA=generic)
#   fuzz      tools/fuzz.sh: the checkpoint loader's libFuzzer target (clang,
#             ASan+UBSan) replays tests/fuzz/corpus, then runs
#             RECUR_FUZZ_RUNS (default 20000) inputs      build/ci-fuzz
#
# setup-deps also installs python3-torch (the checkpoint interop test runs
# torch.nn.LSTM) and, for the fuzz configuration, clang and libFuzzer.
#
# Every configuration runs even when an earlier one fails. At the end comes
# one summary line per configuration, then the total, counted from the meson
# test logs of this run, as the last line:  N passed, N failed[, N skipped]
# A configuration whose setup or build fails counts as one failed test.
# Exit status: 0 when everything built and every test passed (or skipped), else 1.
#
# Environment:
#   RECUR_CONFIGS      configurations to run (default: all, in the order above)
#   RECUR_SRC          source tree (default: the checkout holding this script)
#   RECUR_BUILD_ROOT   where the ci-* build folders go (default: build, in RECUR_SRC)
#   RECUR_SKIP_DEPS=1  do not run tools/setup-deps.sh
#   RECUR_TEST_JOBS    meson test --num-processes (default: 2)
#   RECUR_FUZZ_RUNS    fuzz inputs in the fuzz configuration (default: 20000)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${RECUR_SRC:-$(cd "$here/.." && pwd)}
build_root=${RECUR_BUILD_ROOT:-build}
test_jobs=${RECUR_TEST_JOBS:-2}

all_configs=(default float64 sleef noblas sanitize avx2 generic fuzz)
if (($# > 0)); then
  read -r -a configs <<<"$*"
else
  read -r -a configs <<<"${RECUR_CONFIGS:-${all_configs[*]}}"
fi
((${#configs[@]} > 0)) || configs=("${all_configs[@]}")

# configuration -> build folder key; build key -> meson options
declare -A build_of=(
  [default]=default [avx2]=default [generic]=default
  [float64]=float64 [sleef]=sleef [noblas]=noblas [sanitize]=sanitize [fuzz]=fuzz
)
declare -A options_of=(
  [default]="-Dreal=float -Dblas=openblas -Db_sanitize=none"
  [float64]="-Dreal=double -Dblas=openblas -Db_sanitize=none"
  [sleef]="-Dreal=float -Dblas=openblas -Dsleef_math=true -Db_sanitize=none"
  [noblas]="-Dreal=float -Dblas=none -Db_sanitize=none"
  [sanitize]="-Dreal=float -Dblas=openblas -Db_sanitize=address,undefined -Dbuildtype=debugoptimized"
)
# meson test --setup NAME for a configuration (empty: no setup)
declare -A setup_of=([avx2]=avx2 [generic]=generic)

for c in "${configs[@]}"; do
  if [[ -z ${build_of[$c]+x} ]]; then
    echo "test.sh: unknown configuration '$c' (known: ${all_configs[*]})" >&2
    exit 2
  fi
done

say() { printf '\n==> %s\n' "$*"; }
loud() { printf '\n*** %s\n' "$*"; }

python=/usr/bin/python3
[[ -x $python ]] || python=$(command -v python3 || true)

start=$SECONDS
failed_steps=0
count_args=()   # arguments for tools/count-tests.py, in configuration order

# --- dependencies -----------------------------------------------------------
if [[ ${RECUR_SKIP_DEPS:-0} != 1 ]]; then
  extra_packages=(python3-torch)  # the checkpoint interop test runs torch.nn.LSTM
  [[ " ${configs[*]} " == *" fuzz "* ]] && extra_packages+=(clang libclang-rt-dev)
  say "tools/setup-deps.sh ${extra_packages[*]}"
  if ! bash "$here/setup-deps.sh" "${extra_packages[@]}"; then
    loud "DEPENDENCIES: tools/setup-deps.sh failed; building anyway, expect failures"
    count_args+=(--fail "deps=tools/setup-deps.sh failed")
    failed_steps=$((failed_steps + 1))
  fi
  [[ -x /usr/bin/python3 ]] && python=/usr/bin/python3
  # The examples' data (tests that need it skip with 77 when it is missing).
  say "tools/fetch-data.sh"
  if ! bash "$here/fetch-data.sh"; then
    loud "DATA: tools/fetch-data.sh failed; the data tests will be skipped"
  fi
fi
if [[ -z $python ]]; then
  echo "test.sh: python3 is missing (needed by tools/count-tests.py); run tools/setup-deps.sh" >&2
  exit 1
fi

echo "toolchain: $("${CC:-cc}" --version 2>/dev/null | head -n 1);" \
  "meson $(meson --version 2>/dev/null); ninja $(ninja --version 2>/dev/null)"
echo "source: $src   builds: $build_root/ci-*   configurations: ${configs[*]}"

cd "$src" || { echo "test.sh: cannot cd to $src" >&2; exit 1; }

# --- forget the results of earlier runs --------------------------------------
for c in "${configs[@]}"; do
  rm -f "$build_root/ci-${build_of[$c]}"/meson-logs/testlog*.json \
        "$build_root/ci-${build_of[$c]}"/meson-logs/testlog*.txt \
        "$build_root/ci-${build_of[$c]}"/meson-logs/testlog*.junit.xml
done

# --- setup + build, once per build folder ------------------------------------
declare -A build_state=()  # key -> ok | "meson setup failed" | "build failed"

ensure_built() {
  local key=$1 bdir="$build_root/ci-$1" rc t0=$SECONDS
  [[ -n ${build_state[$key]+x} ]] && return
  local -a opts
  read -r -a opts <<<"${options_of[$key]}"
  # Plain compiler messages in CI logs (no colour escapes).
  [[ ${CI:-} == true ]] && opts+=(-Db_colorout=auto)

  if [[ -f $bdir/meson-private/coredata.dat ]]; then
    say "[$key] meson setup --reconfigure $bdir ${opts[*]}"
    if ! meson setup --reconfigure "$bdir" "$src" "${opts[@]}"; then
      say "[$key] reconfigure failed; meson setup --wipe $bdir ${opts[*]}"
      meson setup --wipe "$bdir" "$src" "${opts[@]}"
    fi
  else
    say "[$key] meson setup $bdir ${opts[*]}"
    meson setup "$bdir" "$src" "${opts[@]}"
  fi
  rc=$?
  if ((rc != 0)); then
    build_state[$key]="meson setup failed (exit $rc)"
    loud "[$key] SETUP FAILED: meson setup $bdir exited $rc; no tests run from this build"
    return
  fi

  say "[$key] meson compile -C $bdir"
  meson compile -C "$bdir"
  rc=$?
  if ((rc != 0)); then
    build_state[$key]="build failed (meson compile exit $rc)"
    loud "[$key] BUILD FAILED: meson compile -C $bdir exited $rc; no tests run from this build"
    return
  fi
  build_state[$key]=ok
  echo "[$key] built in $((SECONDS - t0))s"
}

# --- run each configuration --------------------------------------------------
for c in "${configs[@]}"; do
  t0=$SECONDS
  key=${build_of[$c]}
  bdir="$build_root/ci-$key"
  if [[ $c == fuzz ]]; then
    # Not a meson build: tools/fuzz.sh builds with clang and writes its
    # results as a meson-style test log.
    log="$bdir/meson-logs/testlog.json"
    say "[$c] tools/fuzz.sh (RECUR_FUZZ_RUNS=${RECUR_FUZZ_RUNS:-20000})"
    RECUR_FUZZ_BUILD="$bdir" RECUR_FUZZ_LOG="$log" bash "$here/fuzz.sh"
    rc=$?
    dt=$((SECONDS - t0))
    echo "[$c] tools/fuzz.sh exited $rc after ${dt}s"
    if [[ ! -s $log ]]; then
      loud "[$c] tools/fuzz.sh exited $rc and wrote no results (build failed?)"
      count_args+=(--fail "$c=NOT TESTED: tools/fuzz.sh exited $rc, no $log")
      failed_steps=$((failed_steps + 1))
    else
      count_args+=("$c (${dt}s)=$log")
    fi
    continue
  fi
  ensure_built "$key"
  if [[ ${build_state[$key]} != ok ]]; then
    count_args+=(--fail "$c=NOT TESTED: $bdir ${build_state[$key]}")
    failed_steps=$((failed_steps + 1))
    continue
  fi

  test_args=(-C "$bdir" --print-errorlogs --num-processes "$test_jobs")
  log="$bdir/meson-logs/testlog.json"
  if [[ -n ${setup_of[$c]:-} ]]; then
    test_args+=(--setup "${setup_of[$c]}")
    log="$bdir/meson-logs/testlog-${setup_of[$c]}.json"
  fi
  test_env=()
  if [[ $c == sanitize ]]; then
    test_env=(UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1)
  fi

  rm -f "$log"
  say "[$c] ${test_env[*]:+${test_env[*]} }meson test ${test_args[*]}"
  env "${test_env[@]}" meson test "${test_args[@]}"
  rc=$?
  dt=$((SECONDS - t0))
  echo "[$c] meson test exited $rc after ${dt}s"

  if [[ ! -s $log ]]; then
    why="meson test exited $rc"
    ((rc == 125)) && why+=" (its rebuild of $bdir failed)"
    loud "[$c] $why and wrote no results to $log"
    count_args+=(--fail "$c=NO RESULTS: $why, no $log")
    failed_steps=$((failed_steps + 1))
    continue
  fi
  count_args+=("$c (${dt}s)=$log")
  # meson test failing with a log that shows no failed test (e.g. it stopped
  # half-way) must still fail the run.
  if ((rc != 0)) && "$python" "$here/count-tests.py" "$log" >/dev/null; then
    count_args+=(--fail "$c=meson test exited $rc though its log shows no failed test")
    failed_steps=$((failed_steps + 1))
  fi
done

# --- summary -----------------------------------------------------------------
printf '\n==================== summary (%ss) ====================\n' "$((SECONDS - start))"
((failed_steps > 0)) && echo "  $failed_steps step(s) failed without test results; each counts as 1 failed"
"$python" "$here/count-tests.py" "${count_args[@]}" --total
status=$?
((failed_steps > 0)) && status=1
((status == 0)) || status=1
exit "$status"
