#!/usr/bin/env bash
# The main demo: install what is missing, build, fetch the data, and train a
# small German->English attention model for a few minutes; it then shows
# held-out translations next to the references, and the BLEU.
#   bash tools/demo.sh [translate options, e.g. --minutes 10 --hidden 512]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup-deps.sh
bash tools/fetch-data.sh --only trans-de-en
[[ -f build/build.ninja ]] || meson setup build
ninja -C build
./build/examples/translate "$@"
