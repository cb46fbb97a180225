#!/usr/bin/env bash
# The main demo: install what is missing, build, run the sine example.
#   bash tools/demo.sh [steps]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/setup-deps.sh
[[ -f build/build.ninja ]] || meson setup build
ninja -C build
./build/examples/sine "$@"
