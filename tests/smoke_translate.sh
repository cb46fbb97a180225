#!/bin/sh
# translate end to end on the real data: train briefly, resume, translate from
# stdin, print attention, and refuse a corrupt checkpoint. Exits 77 (skip)
# when data/ has not been fetched.
bin=$1
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
small="--hidden 64 --embed 32 --batch 32 --eval-size 20 --test-size 20 --save $dir/m.safetensors --plot $dir/c.svg"
# shellcheck disable=SC2086
"$bin" --minutes 0.1 --epochs 1 --show 1 $small > "$dir/log1" || exit $?
grep -q "epoch 1 done: held-out BLEU" "$dir/log1" || { cat "$dir/log1"; exit 1; }
test -s "$dir/c.svg" && test -s "$dir/m.safetensors" || exit 1
# shellcheck disable=SC2086
"$bin" --minutes 0.1 --epochs 2 --show 0 --resume $small > "$dir/log2" || exit 1
grep -q "resumed from the checkpoint" "$dir/log2" && grep -q "epoch 2 done" "$dir/log2" || { cat "$dir/log2"; exit 1; }
echo "Ich bin müde." | "$bin" translate --load "$dir/m.safetensors" > "$dir/out" || exit 1
test -s "$dir/out" || exit 1
"$bin" attention --load "$dir/m.safetensors" "Ich bin müde." > "$dir/attn" || exit 1
grep -q "müde" "$dir/attn" || { cat "$dir/attn"; exit 1; }
# one flipped byte in the data: the checksum refuses the file, naming it
size=$(stat -c %s "$dir/m.safetensors")
printf 'X' | dd of="$dir/m.safetensors" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
if "$bin" translate --load "$dir/m.safetensors" "Hallo." 2> "$dir/err"; then exit 1; fi
grep -q "m.safetensors" "$dir/err" || { cat "$dir/err"; exit 1; }
echo "translate smoke: ok"
