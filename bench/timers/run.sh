#!/bin/sh
# bench/timers: 1,000,000 timers (TIMERS_N) with deadlines uniform in 1..1000 ms, every other one
# cancelled, the rest fired; then 1,000 repeating timers (TIMERS_REPEAT_N) of 10 ms firing 50 times
# each (TIMERS_REPEAT_TICKS); twine vs libuv, libevent and libev, CPU ns per operation, median of
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
rn=${TIMERS_REPEAT_N:-1000} rt=${TIMERS_REPEAT_TICKS:-50}
echo "== timers: $n timers, delays 1..1000 ms, odd ones cancelled; $rn repeating timers of 10 ms x $rt;"
echo "   $BENCH_RUNS runs interleaved =="
results=$BENCH_OUT/results.txt
bench_run_interleaved "$results"
bench_table "$results" "add cancel fire total rss" \
    "add ns|cancel ns|fire ns|total ns/op|peak RSS MB" total "total vs twine"
echo
echo "repeating timers: twine's looping call, libuv's repeating uv_timer, libev's ev_periodic,"
echo "libevent's EV_PERSIST timer"
bench_table "$results" "tick" "tick ns" tick "tick vs twine"
cat <<NOTE
CPU time (CLOCK_PROCESS_CPUTIME_ID), median of $BENCH_RUNS runs:
  add ns = CPU(add phase) / adds, cancel ns = CPU(cancel phase) / cancels, fire ns = CPU(loop) / fires
  total ns/op = CPU(add + cancel + loop) / (adds + cancels + fires)
  total vs twine = lib's total ns/op / twine's total ns/op  (above 1.00x: twine is faster)
  tick ns = CPU(loop run of the repeating timers) / their fires, every library in the same process
  after its one-shot phases, on a fresh loop; tick vs twine as above
  Handles: peers' timers live in one array malloc'ed in the add phase; twine allocates each handle.
NOTE
