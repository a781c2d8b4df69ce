#!/bin/sh
# bench/timers: 1,000,000 timers (TIMERS_N) with deadlines uniform in 1..1000 ms, every other one
# cancelled, the rest fired; twine vs libuv, libevent and libev, CPU ns per operation, median of
# BENCH_RUNS (3) interleaved runs. Run through `make bench` or `make -C bench timers`.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init timers

common="$here/driver.c -I$here"
bench_build_twine timers_twine $common "$here/timers_twine.c"
bench_build_peer timers_libuv "-luv_a" "-luv" $common "$here/timers_libuv.c"
bench_build_peer timers_libevent "-levent_core" "-levent_core" $common "$here/timers_libevent.c"
bench_build_peer timers_libev "-lev" "-lev" $common "$here/timers_libev.c"

n=${TIMERS_N:-1000000}
echo "== timers: $n timers, delays 1..1000 ms, odd ones cancelled, $BENCH_RUNS runs interleaved =="
results=$BENCH_OUT/results.txt
bench_run_interleaved "$results"
bench_table "$results" "add cancel fire total rss" \
    "add ns|cancel ns|fire ns|total ns/op|peak RSS MB" total "total vs twine"
cat <<NOTE
CPU time (CLOCK_PROCESS_CPUTIME_ID), median of $BENCH_RUNS runs:
  add ns = CPU(add phase) / adds, cancel ns = CPU(cancel phase) / cancels, fire ns = CPU(loop) / fires
  total ns/op = CPU(add + cancel + loop) / (adds + cancels + fires)
  total vs twine = lib's total ns/op / twine's total ns/op  (above 1.00x: twine is faster)
  Handles: peers' timers live in one array malloc'ed in the add phase; twine allocates each handle.
NOTE
