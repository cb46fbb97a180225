#!/bin/sh
# char_lm end to end on the real data with each cell, the user-defined MGU
# included. Exits 77 (skip) when data/ has not been fetched.
bin=$1
for args in "--cell lstm" "--cell gru --text fortunes" "--cell mgu"; do
    # shellcheck disable=SC2086
    "$bin" $args --minutes 0.05 --hidden 32 --batch 8 --bptt 32 --eval-chars 4000 \
        --sample 40 > /tmp/smoke_char_lm.$$ 2>&1
    rc=$?
    [ $rc -eq 0 ] || { cat /tmp/smoke_char_lm.$$; rm -f /tmp/smoke_char_lm.$$; exit $rc; }
    grep -q "held-out: [0-9.]* nats/char" /tmp/smoke_char_lm.$$ || { cat /tmp/smoke_char_lm.$$; exit 1; }
done
rm -f /tmp/smoke_char_lm.$$
echo "char_lm smoke: ok"
