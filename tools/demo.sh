#!/usr/bin/env bash
# The main demo: install what is missing, build, fetch the data, and train a
# small German->English attention model for a few minutes; it then shows
# held-out translations next to the references, and the BLEU.
#   bash tools/demo.sh [translate options, e.g. --minutes 10 --hidden 512]
# It trains on recur's own threads, one per core (at most 4; RECUR_NUM_THREADS
# overrides).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup-deps.sh
bash tools/fetch-data.sh --only trans-de-en
[[ -f build/build.ninja ]] || meson setup build
ninja -C build
cores=$(nproc 2>/dev/null || echo 1)
export RECUR_NUM_THREADS=${RECUR_NUM_THREADS:-$((cores < 4 ? cores : 4))}
./build/examples/translate "$@"
