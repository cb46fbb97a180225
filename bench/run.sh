#!/usr/bin/env bash
# bench/run.sh - recur against PyTorch on this machine, side by side (issue 7).
#
# Runs bench/recur_bench and torch_bench.py alternately, each workload in its
# own process, for several rounds, at 1 and 2 threads, in training and in
# inference, and prints one table of medians over the rounds. The table goes
# to stdout and to bench/results/latest.md; every RESULT line goes to
# bench/results/raw-<date>.txt. See bench/README.md.
#
#   bash bench/run.sh                 # full run: 3 rounds, all workloads (~13-15 min)
#   bash bench/run.sh --quick         # 1 round, W1 and W2 only (~1 min)
#
# Options:
#   --rounds N            rounds (default 3; --quick: 1)
#   --workloads "W1 W2"   workloads (default: W1 W2 W3 W1g W1c W4 W4a W4l)
#   --threads "1 2"       thread counts (default: 1 2)
#   --modes "train infer" modes (default: train infer)
#   --coretype-alt "W1 W2"  workloads also measured under the other
#                         OPENBLAS_CORETYPE setting (default W1 W2; "" = none;
#                         --quick: none). The other setting is "unset" when
#                         the environment sets OPENBLAS_CORETYPE, else Haswell;
#                         but when unset makes OpenBLAS run narrower kernels
#                         than the CPU has, the main rows take the CPU's best
#                         (SkylakeX or Haswell) and unset is the other.
#   --bin PATH            recur_bench to use (default: build it in build/bench)
#   --torch-bench PATH    torch_bench.py (default: ../shared/bench/torch_bench.py
#                         from the repo root; or $TORCH_BENCH)
#   --python PATH         interpreter for torch_bench.py (default /usr/bin/python3)
#   --out FILE            the markdown table (default bench/results/latest.md)
#   --steps N             override every workload's timed steps (both sides)
#   --all-policies        PyTorch at 2 threads: run OMP_WAIT_POLICY default and
#                         PASSIVE in every round (default: after round 1 only
#                         the one(s) within 0.8x of the better)
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

rounds=3
workloads="W1 W2 W3 W1g W1c W4 W4a W4l"
threads_list="1 2"
modes="train infer"
alt_workloads="W1 W2"
bin=${RECUR_BENCH:-}
torch_bench=${TORCH_BENCH:-$repo/../shared/bench/torch_bench.py}
python=${PYTHON:-/usr/bin/python3}
out=$here/results/latest.md
steps_opt=()
quick=0
all_policies=0
rounds_set=0 alt_set=0

orig_args="$*"
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --rounds) rounds=$2; rounds_set=1; shift ;;
        --workloads) workloads=$2; shift ;;
        --threads) threads_list=$2; shift ;;
        --modes) modes=$2; shift ;;
        --coretype-alt) alt_workloads=$2; alt_set=1; shift ;;
        --bin) bin=$2; shift ;;
        --torch-bench) torch_bench=$2; shift ;;
        --python) python=$2; shift ;;
        --out) out=$2; shift ;;
        --steps) steps_opt=(--steps "$2"); shift ;;
        --all-policies) all_policies=1 ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ $quick = 1 ]; then
    [ $rounds_set = 1 ] || rounds=1
    [ $alt_set = 1 ] || alt_workloads=""
    workloads="W1 W2"
fi

die() { echo "run.sh: $*" >&2; exit 1; }
[ -f "$torch_bench" ] || die "torch_bench.py not found at $torch_bench (use --torch-bench PATH)"
[ -x "$python" ] || die "python not found at $python (use --python PATH)"

# ---------------------------------------------------------------- build
if [ -z "$bin" ]; then
    grep -q "subdir('bench')" "$repo/meson.build" ||
        die "the top-level meson.build has no subdir('bench'): add it, or pass --bin PATH"
    bdir=$repo/build/bench
    if [ ! -f "$bdir/build.ninja" ]; then
        meson setup "$bdir" "$repo" --buildtype=release -Dtests=false -Dexamples=false \
            >/dev/null || die "meson setup failed"
    fi
    ninja -C "$bdir" bench/recur_bench >/dev/null || die "build failed"
    bin=$bdir/bench/recur_bench
fi
[ -x "$bin" ] || die "recur_bench not found at $bin"

mkdir -p "$(dirname "$out")" "$here/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$here/results/raw-$stamp.txt
: >"$raw"
start=$(date +%s)

# ---------------------------------------------------------------- coretype settings
# The main setting is OPENBLAS_CORETYPE as inherited ("unset" when it is not
# set). The other one is "unset" when it is set, else Haswell (what this
# project's environment has been seen to set). But when unset makes OpenBLAS
# run narrower kernels than the CPU has (OpenBLAS 0.3.21 takes an Emerald
# Rapids Xeon for a Prescott), PyTorch would be measured far below its best:
# the main setting is then the CPU's best core type, and unset the other.
if [ "${OPENBLAS_CORETYPE+set}" = set ]; then
    ct_main="${OPENBLAS_CORETYPE}"; ct_alt=unset
else
    ct_main=unset; ct_alt=Haswell
    core=$(env -u OPENBLAS_CORETYPE "$bin" mm 1 --path cblas --shape 64x64x64 2>/dev/null |
           grep -o 'blas_core=[^ ]*' | head -n 1 | cut -d= -f2)
    flags=$(grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null)
    best=
    case " $flags " in
        *" avx512f "*) best=SkylakeX; fits="SkylakeX Cooperlake SapphireRapids" ;;
        *" avx2 "*) best=Haswell; fits="Haswell Zen SkylakeX Cooperlake SapphireRapids" ;;
    esac
    if [ -n "$best" ] && [ -n "$core" ] && ! [[ " $fits " == *" $core "* ]]; then
        echo "OpenBLAS runs its $core kernels with OPENBLAS_CORETYPE unset, narrower than" \
             "this CPU's: the main rows use OPENBLAS_CORETYPE=$best, and unset is the other setting"
        ct_main=$best; ct_alt=unset
    fi
fi

# ---------------------------------------------------------------- one process
# run IMPL ROUND CT POLICY ARGS... ; appends "ROW impl=... <RESULT fields>" to
# the raw file for every RESULT line the process prints
run() {
    local impl=$1 round=$2 ct=$3 policy=$4; shift 4
    local unset_=() set_=()   # env wants its -u options before assignments
    if [ "$ct" = unset ]; then unset_+=(-u OPENBLAS_CORETYPE); else set_+=("OPENBLAS_CORETYPE=$ct"); fi
    case $policy in
        PASSIVE) set_+=(OMP_WAIT_POLICY=PASSIVE) ;;
        default) unset_+=(-u OMP_WAIT_POLICY) ;;
    esac
    local cmd
    if [ "$impl" = recur ]; then cmd=("$bin" "$@"); else cmd=("$python" "$torch_bench" "$@"); fi
    local lines t0 wall
    t0=$(date +%s.%N)
    lines=$(env "${unset_[@]}" "${set_[@]}" timeout 600 "${cmd[@]}" 2>>"$raw.stderr" | grep '^RESULT ')
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ -z "$lines" ]; then
        echo "ROW impl=$impl round=$round ct=$ct policy=$policy FAILED args=$(echo "$@" | tr ' ' ,)" >>"$raw"
        echo "  FAILED: $impl $* (ct=$ct policy=$policy); see $raw.stderr" >&2
        return
    fi
    while IFS= read -r line; do
        echo "ROW impl=$impl round=$round ct=$ct policy=$policy wall_s=$wall ${line#RESULT }" >>"$raw"
    done <<<"$lines"
}

# PyTorch at 2+ threads: OMP_WAIT_POLICY default and PASSIVE, the better one
# counts. Both run in round 1; later rounds (unless --all-policies) skip a
# policy whose round-1 tok/s was below 0.8x the other's, as that one would
# not win anyway and a collapsed run costs most of the time.
torch_policies() { # round ct workload mode threads -> policies to run
    if [ "$1" = 1 ] || [ "$all_policies" = 1 ]; then echo default PASSIVE; return; fi
    awk -v ct="$2" -v w="$3" -v m="$4" -v t="$5" '
        $1 == "ROW" && $2 == "impl=torch" && $3 == "round=1" {
            delete f
            for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); f[k] = v }
            if (f["ct"] == ct && f["workload"] == w && f["mode"] == m && f["threads"] == t)
                tok[f["policy"]] = f["tok_s_med"] + 0
        }
        END {
            d = tok["default"]; p = tok["PASSIVE"]
            if (d == "" || p == "" || (d >= 0.8 * p && p >= 0.8 * d)) print "default PASSIVE"
            else if (d > p) print "default"
            else print "PASSIVE"
        }' "$raw"
}

# ---------------------------------------------------------------- the rounds
echo "recur_bench: $bin"
echo "torch_bench: $torch_bench"
echo "OPENBLAS_CORETYPE inherited: ${OPENBLAS_CORETYPE-<unset>}; main rows: '$ct_main'; also measuring '$ct_alt' for: ${alt_workloads:-nothing}"
echo "rounds=$rounds workloads='$workloads' threads='$threads_list' modes='$modes'"
echo "raw results: $raw"
read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
    echo "WARNING: load average $load1 before starting: other processes will disturb the timings" >&2
fi
for r in $(seq 1 "$rounds"); do
    for ct in "$ct_main" "$ct_alt"; do
        wl=$workloads
        [ "$ct" = "$ct_alt" ] && wl=$alt_workloads
        [ -z "$wl" ] && continue
        for t in $threads_list; do
            # the machine's sgemm rate under this setting (1024^3, NN and NT)
            run recur "$r" "$ct" - mm "$t" --path cblas --shape 1024x1024x1024
            for w in $wl; do
                for m in $modes; do
                    args=("$w" "$t" --mode "$m" "${steps_opt[@]}")
                    echo "round $r/$rounds ct=$ct threads=$t $w $m  ($(( $(date +%s) - start ))s)"
                    pols=(-); [ "$t" -gt 1 ] && pols=($(torch_policies "$r" "$ct" "$w" "$m" "$t"))
                    # alternate which side goes first from round to round
                    if [ $((r % 2)) = 1 ]; then
                        run recur "$r" "$ct" - "${args[@]}"
                        for p in "${pols[@]}"; do run torch "$r" "$ct" "$p" "${args[@]}"; done
                    else
                        for p in "${pols[@]}"; do run torch "$r" "$ct" "$p" "${args[@]}"; done
                        run recur "$r" "$ct" - "${args[@]}"
                    fi
                done
            done
        done
    done
done
elapsed=$(( $(date +%s) - start ))

# ---------------------------------------------------------------- the table
cmdline="bash bench/run.sh${orig_args:+ $orig_args}"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$repo" status --porcelain -- graph ops nn optim bench 2>/dev/null | head -c1)
[ -n "$dirty" ] && commit="$commit+changes"

"$python" - "$raw" "$out" "$elapsed" "$cmdline" "$commit" "$ct_main" "$ct_alt" <<'PY'
import statistics, sys, platform, subprocess, datetime, collections
raw, out, elapsed, cmdline, commit, ct_main, ct_alt = sys.argv[1:8]

rows = []
for line in open(raw):
    if not line.startswith("ROW "):
        continue
    f = {}
    for tok in line.split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            f[k] = v
        else:
            f[tok] = True
    rows.append(f)

def num(f, k):
    try:
        return float(f[k])
    except (KeyError, ValueError):
        return None

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def ct_label(ct, core):
    if ct == "unset":
        return f"unset ({core})" if core else "unset"
    return ct

# the sgemm rate per (ct, threads): median over rounds of the NN 1024^3 rate
sgemm = collections.defaultdict(list)
cores = {}
for f in rows:
    if f.get("workload") == "mm" and f.get("layout") == "NN" and "FAILED" not in f:
        sgemm[(f["ct"], f["threads"])].append(num(f, "gflops_med"))
        cores[f["ct"]] = f.get("blas_core")
    elif f.get("impl") == "recur" and "blas_core" in f:
        cores.setdefault(f["ct"], f.get("blas_core"))

# group model runs: key = (workload, mode, threads, ct)
recur = collections.defaultdict(lambda: collections.defaultdict(list))
torch = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(list)))
failed = []
order = []
for f in rows:
    if f.get("workload") == "mm":
        continue
    if "FAILED" in f:
        failed.append(f)
        continue
    key = (f["workload"], f["mode"], f["threads"], f["ct"])
    if key not in order:
        order.append(key)
    if f["impl"] == "recur":
        d = recur[key]
        for k in ("tok_s_med", "gflops_med", "self_maxrss_kb", "allocs_per_step",
                  "other_cores"):
            d[k].append(num(f, k))
    else:
        torch[key][f["round"]][f["policy"]].append(f)

def torch_stats(key):
    """Per round, the better policy (2 threads: default vs PASSIVE); medians."""
    toks, rss, other, wins = [], [], [], collections.Counter()
    for rnd, pols in torch[key].items():
        best = None
        for pol, fs in pols.items():
            for f in fs:
                if best is None or num(f, "tok_s_med") > num(best[1], "tok_s_med"):
                    best = (pol, f)
        if best:
            toks.append(num(best[1], "tok_s_med"))
            rss.append(num(best[1], "self_maxrss_kb"))
            other.append(num(best[1], "other_cores"))
            wins[best[0]] += 1
    pol = wins.most_common(1)[0][0] if wins else "-"
    return med(toks), med(rss), med(other), pol

WL = ["W1", "W2", "W3", "W1g", "W1c", "W4", "W4a", "W4l"]
def sortkey(k):
    w, m, t, ct = k
    return (ct != ct_main, WL.index(w) if w in WL else 99, m != "train", int(t))
order.sort(key=sortkey)

def target(w, m, t):
    if m == "train":
        if w == "W1":
            return 1.7 if t == "1" else 2.5
        if w == "W2":
            return 25.0
        if w == "W3":
            return 1.6 if t == "1" else None
        if w in ("W1g", "W4", "W4a", "W4l"):
            return 2.0
    if m == "infer" and w == "W1":
        return 2.0
    return None

def fmt(x, nd=0):
    if x is None:
        return "-"
    if nd == 0:
        return f"{x:,.0f}"
    return f"{x:.{nd}f}"

hdr = ["workload", "mode", "thr", "OPENBLAS_CORETYPE", "recur tok/s", "PyTorch tok/s",
       "ratio", "target", "recur GFLOP/s", "of sgemm", "recur RSS MB", "PyTorch RSS MB",
       "RSS ratio (<=0.5)", "allocs/step", "torch policy", "other load"]
lines = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] * len(hdr)) + "|"]
summary = {}
busy = []
for key in order:
    w, m, t, ct = key
    d = recur.get(key, {})
    r_tok = med(d.get("tok_s_med", []))
    r_gf = med(d.get("gflops_med", []))
    r_rss = med(d.get("self_maxrss_kb", []))
    r_alloc = med(d.get("allocs_per_step", []))
    t_tok, t_rss, t_other, pol = torch_stats(key)
    others = [x for x in (med(d.get("other_cores", [])), t_other) if x is not None]
    other = max(others) if others else None
    if other is not None and other > 0.2:
        busy.append(key)
    ratio = r_tok / t_tok if r_tok and t_tok else None
    rss_ratio = r_rss / t_rss if r_rss and t_rss else None
    sg = med(sgemm.get((ct, t), []))
    share = r_gf / sg if r_gf and sg else None
    tg = target(w, m, t)
    tgs = "-" if tg is None else (f">={tg:g}x " + ("ok" if ratio and ratio >= tg else "MISS"))
    summary[key] = r_tok
    lines.append("| " + " | ".join([
        w, m, t, ct_label(ct, cores.get(ct)), fmt(r_tok), fmt(t_tok),
        fmt(ratio, 2) + "x" if ratio else "-", tgs, fmt(r_gf, 1),
        f"{100 * share:.0f}%" if share else "-",
        fmt(r_rss / 1024, 0) if r_rss else "-", fmt(t_rss / 1024, 0) if t_rss else "-",
        (fmt(rss_ratio, 2) + (" ok" if rss_ratio <= 0.5 else " MISS")) if rss_ratio else "-",
        fmt(r_alloc, 1) if r_alloc is not None else "-",
        pol if t != "1" else "-", fmt(other, 2)]) + " |")

notes = []
for (ct, t), v in sorted(sgemm.items()):
    notes.append(f"sgemm 1024^3 NN (OpenBLAS, {t} thread{'s' if t != '1' else ''}, "
                 f"OPENBLAS_CORETYPE={ct_label(ct, cores.get(ct))}): {med(v):.1f} GFLOP/s")
for key in order:
    w, m, t, ct = key
    if w == "W1c":
        base = summary.get(("W1", m, t, ct))
        if base and summary.get(key):
            r = summary[key] / base
            notes.append(f"W1c / W1 (recur, {m}, {t} thr, {ct}): {r:.3f} "
                         f"(target >= 0.90: {'ok' if r >= 0.9 else 'MISS'})")
if any(f.get("impl") == "recur" and f.get("fold") == "1" and f.get("workload") in ("W1", "W1g", "W1c", "W3")
       for f in rows):
    notes.append("recur GFLOP/s is the FLOP model's work over recur's time: with matmul's embedding "
                 "fold (on by default; W1, W1g, W1c and W3 have at most half as many vocabulary "
                 "rows as tokens) recur makes the input projection for the table's rows only, so "
                 "it does less than the model counts (RECUR_FOLD=0 measures it without)")
if busy:
    notes.append(f"WARNING: other processes used > 0.2 cores during {len(busy)} row(s) "
                 "('other load', median cores busy outside the benchmark while it timed): "
                 "those numbers are disturbed; rerun on a quiet machine")
for f in failed:
    notes.append(f"FAILED: {f['impl']} {f.get('args', '')} round {f['round']} ct={f['ct']} "
                 f"policy={f['policy']}")

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"

cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
ob = sh("dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null")
tv = next((f.get("torch") for f in rows if f.get("impl") == "torch" and "torch" in f), "?")
rounds = len({f["round"] for f in rows})
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
head = [
    f"# recur vs PyTorch: {now}",
    "",
    f"Command: `{cmdline}` (recur {commit}); {rounds} round(s), medians over rounds; "
    f"took {int(elapsed) // 60} min {int(elapsed) % 60} s.",
    f"Machine: {cpu}, {sh('nproc')} cores; OpenBLAS {ob} (pthread); PyTorch {tv}; "
    f"OPENBLAS_CORETYPE of the main rows: {ct_main}.",
    "tok/s: median step; ratio = recur / PyTorch; PyTorch at 2 threads is the better of "
    "OMP_WAIT_POLICY default and PASSIVE (column 'torch policy'). GFLOP/s by torch_bench's "
    "FLOP model; 'of sgemm' = recur GFLOP/s / OpenBLAS sgemm 1024^3 at the same threads and "
    "core type. RSS: peak (getrusage ru_maxrss). allocs/step: recur heap allocations per "
    "step after the first (rc_set_allocator hook). other load: cores used by other processes "
    "while timing (median; the larger of the two sides).",
    "",
]
text = "\n".join(head + lines + [""] + [f"- {n}" for n in notes]) + "\n"
open(out, "w").write(text)
print()
print(text)
PY
echo "table written to $out; raw results in $raw; took ${elapsed}s"
