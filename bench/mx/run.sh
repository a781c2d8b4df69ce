#!/bin/sh
# bench/mx: MX look-ups of MX_N (1,000) domains against a loopback DNS server that answers each
# query after MX_DELAY_MS (5) ms, at most 1, 10 and 100 at once: twine (tw_semaphore + deferred
# list + tw_dns_lookup_mail_exchange) vs Twisted (DeferredSemaphore + DeferredList +
# names.client lookupMailExchange). Wall time and peak RSS, median of BENCH_RUNS (3) interleaved
# runs. Run through `make bench` or `make -C bench mx`.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init mx

support=$TWINE_ROOT/tests/support
bench_build_twine mx_server "$here/mx_server.c" -I"$support" "$support/dns_server.c" \
    "$support/dns_wire.c"
bench_build_twine mx_twine "$here/mx_twine.c"
python=${PYTHON:-/usr/bin/python3}
twisted=yes
if ! "$python" -c 'import twisted.names.client' 2>/dev/null; then
    echo "skipped: twisted: $python cannot import twisted.names (apt-get install python3-twisted)"
    twisted=no
fi

# The server runs on the first CPU, the clients on the last (bench_pin), so they do not share one.
server_pin=""
if [ "$(bench_pin)" != "" ] && [ "$(nproc)" -gt 1 ]; then server_pin="taskset -c 0"; fi
$server_pin "$BENCH_OUT/mx_server" >"$BENCH_OUT/server.addr" 2>"$BENCH_OUT/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
i=0; while [ ! -s "$BENCH_OUT/server.addr" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
addr=$(cat "$BENCH_OUT/server.addr")
[ -n "$addr" ] || { echo "bench: mx_server did not start" >&2; exit 1; }

n=${MX_N:-1000}
echo "== mx: $n domains, server answers after ${MX_DELAY_MS:-5} ms, concurrency 1/10/100," \
     "$BENCH_RUNS runs interleaved =="
results=$BENCH_OUT/results.txt
: >"$results"
pin=$(bench_pin)
run=1
while [ "$run" -le "$BENCH_RUNS" ]; do
    for c in 1 10 100; do
        printf '  run %d/%d: concurrency %d\n' "$run" "$BENCH_RUNS" "$c" >&2
        $pin "$BENCH_OUT/mx_twine" "$addr" "$c" >>"$results"
        if [ "$twisted" = yes ]; then
            $pin "$python" "$here/mx_twisted.py" "$addr" "$c" >>"$results"
        fi
    done
    run=$((run + 1))
done

# Medians per (lib, concurrency), Twisted's wall time as a multiple of twine's.
awk '
/^RESULT/ {
    lib = ""; conc = ""; wall = ""; rss = ""
    for (i = 2; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "lib") lib = kv[2]; else if (kv[1] == "conc") conc = kv[2] + 0
        else if (kv[1] == "wall_ms") wall = kv[2]; else if (kv[1] == "rss") rss = kv[2]
    }
    key = lib SUBSEP conc
    n[key]++; w[key, n[key]] = wall; r[key, n[key]] = rss; libs[lib] = 1; concs[conc] = 1
}
function median(arr, key, count,    i, j, t, v) {
    for (i = 1; i <= count; i++) v[i] = arr[key, i] + 0
    for (i = 1; i <= count; i++) for (j = i + 1; j <= count; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return v[int((count + 1) / 2)]
}
END {
    print "| concurrency | lib | wall ms | peak RSS MB | wall vs twine |"
    print "|---|---|---|---|---|"
    for (c = 1; c <= 100; c *= 10) {
        base = median(w, "twine" SUBSEP c, n["twine" SUBSEP c])
        for (li = 1; li <= 2; li++) {
            lib = li == 1 ? "twine" : "twisted"
            key = lib SUBSEP c
            if (!n[key]) continue
            wm = median(w, key, n[key]); rm = median(r, key, n[key])
            printf "| %d | %s | %.1f | %.1f | %.2fx |\n", c, lib, wm, rm, wm / base
        }
    }
}' "$results"
kill $server; wait $server 2>/dev/null || true
trap - EXIT
cat "$BENCH_OUT/server.log"
cat <<NOTE
wall ms = from the first lookup started to the list firing (median of $BENCH_RUNS runs);
peak RSS = the client process's ru_maxrss; wall vs twine = lib's wall / twine's (above 1.00x:
twine is faster). The floor is $n x ${MX_DELAY_MS:-5} ms / concurrency.
NOTE
