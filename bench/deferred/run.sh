#!/bin/sh
# bench/deferred: create a deferred, add 3 callbacks, fire it, free it: CPU ns per deferred and heap
# allocations per deferred for twine, and Twisted's figure for the same work (python3-twisted) in the
# same run. Median of BENCH_RUNS (3) interleaved runs. Run through `make bench` or `make -C bench deferred`.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init deferred

bench_build_twine deferred_twine "$here/deferred_twine.c" \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

python=${PYTHON:-/usr/bin/python3}
if "$python" -c 'import twisted' 2>/dev/null; then
    wrapper=$BENCH_OUT/deferred_twisted
    printf '#!/bin/sh\nexec "%s" "%s"\n' "$python" "$here/deferred_twisted.py" >"$wrapper"
    chmod +x "$wrapper"
    BENCH_BINS="$BENCH_BINS $wrapper"
else
    echo "skipped: twisted: $python cannot import twisted (apt-get install python3-twisted)"
fi

echo "== deferred: create + 3 callbacks + fire + free, ${DEFERRED_N:-2000000} (twine) / ${DEFERRED_PY_N:-200000} (Twisted) deferreds, $BENCH_RUNS runs interleaved =="
results=$BENCH_OUT/results.txt
bench_run_interleaved "$results"
bench_table "$results" "ns allocs" "ns/deferred|allocs/deferred" ns "ns vs twine"
cat <<NOTE
CPU time (CLOCK_PROCESS_CPUTIME_ID), median of $BENCH_RUNS runs:
  ns/deferred = CPU(loop) / deferreds; each deferred: new, add_callback x3, callback, unref.
  allocs/deferred = malloc + calloc + realloc calls / deferreds, counted with -Wl,--wrap (twine only;
  Python allocates from its own arenas, so Twisted's column is not measured: nan).
  ns vs twine = Twisted's ns/deferred / twine's (above 1.00x: twine is faster). Goal: twine < 100 ns
  and <= 1 allocation.
NOTE
