# Shell helpers sourced by every bench/<name>/run.sh: checks the environment, compiles programs into
# $TWINE_BUILD/bench/<name>/ (never into the source tree), links peers when they are installed (or
# says "skipped: <why>"), runs programs interleaved, and prints the table of medians.

# bench_kill_at_exit: every pid added to $BENCH_PIDS is killed when the script ends, however it
# ends (an error, Ctrl-C).
BENCH_PIDS=""
bench_kill_at_exit() {
    trap 'for p in $BENCH_PIDS; do kill "$p" 2>/dev/null || true; done' EXIT
    trap 'exit 130' INT TERM
}

# bench_init NAME: sets BENCH_OUT, BENCH_CC, BENCH_CFLAGS, BENCH_RUNS; stops if twine is not built.
bench_init() {
    : "${TWINE_ROOT:?TWINE_ROOT must name the twine source tree (run: make bench)}"
    : "${TWINE_BUILD:?TWINE_BUILD must name build/<backend> (run: make bench)}"
    if [ ! -f "$TWINE_BUILD/libtwine.a" ]; then
        echo "bench: $TWINE_BUILD/libtwine.a is missing: build twine first (make)" >&2
        exit 1
    fi
    BENCH_NAME=$1
    BENCH_OUT=$TWINE_BUILD/bench/$1
    BENCH_CC=${CC:-cc}
    BENCH_CFLAGS="-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -I$TWINE_ROOT/bench/lib"
    BENCH_RUNS=${BENCH_RUNS:-3}
    BENCH_BINS=""
    mkdir -p "$BENCH_OUT"
}

# bench_build_twine PROG SOURCES...: builds PROG against libtwine.a; failing to build is an error.
bench_build_twine() {
    prog=$1; shift
    if ! $BENCH_CC $BENCH_CFLAGS -I"$TWINE_ROOT/include" -o "$BENCH_OUT/$prog" "$@" \
            "$TWINE_BUILD/libtwine.a" -lpthread -lresolv -lm 2>"$BENCH_OUT/$prog.log"; then
        cat "$BENCH_OUT/$prog.log" >&2
        echo "bench: $prog: twine does not build or link (log above)" >&2
        return 1
    fi
    BENCH_BINS="$BENCH_BINS $BENCH_OUT/$prog"
}

# bench_build_peer PROG "STATIC_LIBS" "SHARED_LIBS" SOURCES...: builds PROG against a peer library,
# statically when its .a is installed (twine is linked statically too, so neither side pays for PLT
# calls the other does not), else against the shared library. A peer that does not build is skipped.
bench_build_peer() {
    prog=$1 static_libs=$2 shared_libs=$3; shift 3
    log=$BENCH_OUT/$prog.log
    if $BENCH_CC $BENCH_CFLAGS -o "$BENCH_OUT/$prog" "$@" -Wl,-Bstatic $static_libs -Wl,-Bdynamic \
            -lpthread -ldl -lm 2>"$log"; then
        echo "  $prog: peer linked statically ($static_libs)" >&2
    elif $BENCH_CC $BENCH_CFLAGS -o "$BENCH_OUT/$prog" "$@" $shared_libs -lpthread -ldl -lm 2>"$log"; then
        echo "  $prog: peer linked dynamically ($shared_libs)" >&2
    else
        echo "skipped: $prog: does not build with $shared_libs (headers or library missing?), see $log"
        return 0
    fi
    BENCH_BINS="$BENCH_BINS $BENCH_OUT/$prog"
}

# bench_pin: the command prefix that pins a run to one CPU (BENCH_CPU, default the last one;
# BENCH_CPU=none disables), so runs do not migrate between cores mid-measurement.
bench_pin() {
    cpu=${BENCH_CPU:-$(($(nproc 2>/dev/null || echo 1) - 1))}
    if [ "$cpu" != none ] && command -v taskset >/dev/null 2>&1; then
        echo "taskset -c $cpu"
    fi
}

# bench_run_interleaved RESULTS: runs every built program BENCH_RUNS times, interleaved (a b c a b c
# ...), so that a slow moment of the machine hits every library alike. RESULT lines go to RESULTS.
bench_run_interleaved() {
    results=$1
    pin=$(bench_pin)
    : >"$results"
    i=1
    while [ "$i" -le "$BENCH_RUNS" ]; do
        for bin in $BENCH_BINS; do
            printf '  run %d/%d: %s\n' "$i" "$BENCH_RUNS" "$(basename "$bin")" >&2
            $pin "$bin" >>"$results" || { echo "bench: $(basename "$bin") failed" >&2; return 1; }
        done
        i=$((i + 1))
    done
}

# bench_table RESULTS COLS LABELS RATIO RATIO_LABEL: the table of medians, baseline twine.
bench_table() {
    awk -v cols="$2" -v labels="$3" -v base=twine -v ratio="$4" -v ratio_label="$5" \
        -f "$TWINE_ROOT/bench/lib/table.awk" "$1"
}

# bench_open_files N: raises RLIMIT_NOFILE as far as the hard limit allows for N connections and
# sets BENCH_CONNS to N, or to fewer (saying so) when the limit is too low.
bench_open_files() {
    BENCH_CONNS=$1
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $(($1 + 64)) ]; then
        BENCH_CONNS=$(($(ulimit -n) - 64))
        echo "note: RLIMIT_NOFILE is $(ulimit -n): idle test limited to $BENCH_CONNS connections"
    fi
}

# bench_take_turns: waits for any other run of this benchmark to finish (a lock on fd 9, which every
# server must then be started without: 9>&-), since two runs at once would measure each other.
bench_take_turns() {
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$BENCH_OUT/.lock"
    flock -n 9 || { echo "$BENCH_NAME: waiting for another run of this benchmark to finish" >&2; flock 9; }
}

# bench_matrix TITLE MODE PIN KEY SCALE DECIMALS ROWS RESULTS: a table of medians from RESULTS, one
# row per value of the ROWS keys, one column per library, ratios against twine (echo_table.awk).
bench_matrix() {
    echo "$1"
    awk -v mode="$2" -v pin="$3" -v key="$4" -v scale="$5" -v decimals="$6" -v rows="$7" \
        -f "$TWINE_ROOT/bench/echo/echo_table.awk" "$8"
}
