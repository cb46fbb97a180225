#!/usr/bin/env bash
# Install what building and testing recur needs, from Debian's archive.
#
#   bash tools/setup-deps.sh [EXTRA_PACKAGE...]
#
# Idempotent: packages that are already installed are left alone, and
# `apt-get update` runs only when something is missing, so on a machine that
# has everything this takes well under a second. Exits non-zero on failure.
set -euo pipefail

packages=(
  build-essential   # gcc, make, libc headers
  pkg-config
  meson
  ninja-build
  libsleef-dev
  libxxhash-dev
  libopenblas-dev
  python3           # /usr/bin/python3 runs tools/count-tests.py
)
packages+=("$@")

say() { printf 'setup-deps: %s\n' "$*"; }
die() { printf 'setup-deps: error: %s\n' "$*" >&2; exit 1; }

installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ $status == "install ok installed" ]]
}

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script expects Debian (bookworm) or a derivative"

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  say "all ${#packages[@]} packages present"
  exit 0
fi

say "missing: ${missing[*]}"

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 ||
    die "not root and no sudo: install these by hand: ${missing[*]}"
  sudo=(sudo -n)
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o Acquire::Retries=3 -o Acquire::http::Timeout=60
          -o DPkg::Lock::Timeout=300)

unreachable() {
  die "$1
  Debian's package archive could not be reached, or does not have these packages.
  Check the network / the sources in /etc/apt/sources.list{,.d}, then rerun:
    bash tools/setup-deps.sh
  Packages needed: ${missing[*]}"
}

say "apt-get update"
update_log=$(mktemp)
trap 'rm -f "$update_log"' EXIT
if ! "${sudo[@]}" apt-get "${apt_opts[@]}" update </dev/null 2>&1 | tee "$update_log"; then
  unreachable "apt-get update failed"
fi
# apt-get update exits 0 even when every source failed; it says so in W:/E: lines.
if grep -Eq '^(E:|W: Failed to fetch|Err:)' "$update_log"; then
  say "warning: apt-get update reported errors (see above); trying the install anyway"
fi

say "apt-get install ${missing[*]}"
if ! "${sudo[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends \
    "${missing[@]}" </dev/null; then
  unreachable "apt-get install failed"
fi

still=()
for p in "${missing[@]}"; do
  installed "$p" || still+=("$p")
done
((${#still[@]} == 0)) || die "still not installed after apt-get: ${still[*]}"
say "installed: ${missing[*]}"
