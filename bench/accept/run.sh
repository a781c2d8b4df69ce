#!/bin/sh
# bench/accept: connections/s of a twine port that accepts several connections per readiness event
# (adaptive, the default) against one that accepts one (tw_port_set_max_accepts(port, 1)), under a
# bursty and a one-at-a-time load, server and client on one core and on two. QUICK=1: about 20 s.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init accept

# ---- settings (each overridable from the environment) ---------------------------------------------
if [ -n "$QUICK" ]; then
    rounds=${ACCEPT_ROUNDS:-5}; seconds=${ACCEPT_SECONDS:-0.25}; warmup=${ACCEPT_WARMUP:-0.05}
else
    rounds=${ACCEPT_ROUNDS:-5}; seconds=${ACCEPT_SECONDS:-0.8}; warmup=${ACCEPT_WARMUP:-0.2}
fi
window=${ACCEPT_WINDOW:-64}
server_cpu=${ACCEPT_SERVER_CPU:-1}
other_cpu=${ACCEPT_CLIENT_CPU:-0}
# Cells: load:pinning. burst = WINDOW connections opened back to back, then waited for; single = one
# connection at a time. same = one core; two = two cores; queued = one core with the server in
# SCHED_IDLE, so it runs only while the client waits: it finds the whole burst queued, as a server
# busy with other work would.
cells=${ACCEPT_CELLS:-"burst:same burst:two burst:queued single:same single:two"}

# ---- build -----------------------------------------------------------------------------------------
bench_build_twine accept_server "$here/accept_server.c"
if ! $BENCH_CC $BENCH_CFLAGS -o "$BENCH_OUT/connect_load" "$here/connect_load.c" -lpthread \
        2>"$BENCH_OUT/connect_load.log"; then
    cat "$BENCH_OUT/connect_load.log" >&2
    echo "bench: connect_load does not build" >&2
    exit 1
fi
can_pin=0; command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt "$server_cpu" ] && can_pin=1
can_idle=0; command -v chrt >/dev/null 2>&1 && chrt --idle 0 true 2>/dev/null && can_idle=1

# ---- syscall counts (perf tracepoints) ---------------------------------------------------------------
# A check of the in-process counter and an explanation of the CPU figures: successful and failed
# accept4 calls of the server and its waits (epoll_wait, poll or select, whichever the backend
# uses), counted by the kernel, one extra run per mode and cell.
wait_events="epoll_wait epoll_pwait poll ppoll select pselect6"
count_syscalls=""
perf_pid=""
can_count() {
    command -v perf >/dev/null 2>&1 &&
        perf stat -x, $(for e in $wait_events; do printf -- '-e syscalls:sys_enter_%s ' "$e"; done) \
            -e syscalls:sys_exit_accept4 true >/dev/null 2>&1
}

start_syscall_count() {
    rm -f "$BENCH_OUT/perf.txt"
    perf stat -x, -o "$BENCH_OUT/perf.txt" -e syscalls:sys_exit_accept4 --filter 'ret >= 0' \
        -e syscalls:sys_exit_accept4 --filter 'ret < 0' \
        $(for e in $wait_events; do printf -- '-e syscalls:sys_enter_%s ' "$e"; done) \
        -p "$1" 2>/dev/null &
    perf_pid=$!
    sleep 0.2 # attached before the load starts; the ratios below do not depend on it anyway
}

# stop_syscall_count MAX LOAD PIN: one "SYSCALLS" line: accepted, failed accept4, waits.
stop_syscall_count() {
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=""
    awk -F, -v lib="$([ "$1" = 1 ] && echo one || echo adaptive)" -v cell="$2 $3" '
        /sys_exit_accept4/ { n[++k] = $1 } /sys_enter_/ { w += $1 }
        END { print "SYSCALLS", cell, lib, n[1] + 0, n[2] + 0, w + 0 }' "$BENCH_OUT/perf.txt" \
        >>"$BENCH_OUT/syscalls.txt"
}

# ---- processes this script started, stopped on exit and on interrupt ---------------------------------
server_pid=""
cleanup() {
    [ -z "$perf_pid" ] || kill -INT "$perf_pid" 2>/dev/null
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# cpu_of ROLE PIN: the taskset prefix of the server or the client for a pinning (empty: no pinning).
cpu_of() {
    [ "$can_pin" = 1 ] || return 0
    if [ "$1" = client ] && [ "$2" = two ]; then echo "taskset -c $other_cpu"
    else echo "taskset -c $server_cpu"; fi
}

# ---- other work on the machine ---------------------------------------------------------------------
# busy_ticks: clock ticks all CPUs spent running something (user, nice, system) or taken by the host
# (steal), and all ticks; softirq is left out because our own loopback traffic is accounted there.
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# wait_quiet: before a pair of runs, wait (within a budget for the whole benchmark) until other
# programs use less than quiet_pct of the machine, so that both runs start on a quiet machine.
quiet_pct=${ACCEPT_QUIET_PCT:-5}
quiet_budget=${ACCEPT_QUIET_BUDGET:-$([ -n "$QUICK" ] && echo 3 || echo 10)} # seconds of waiting, in all
busy_pct=${ACCEPT_BUSY_PCT:-20}           # a pair with a run busier than this is left out of the table
waited=0
wait_quiet() {
    [ -r /proc/stat ] || return 0
    while awk -v w="$waited" -v b="$quiet_budget" 'BEGIN { exit !(w < b) }'; do
        a=$(busy_ticks); sleep 0.2; b=$(busy_ticks)
        echo "$a $b" | awk -v q="$quiet_pct" '{ exit !(($3 - $1) * 100 <= q * ($4 - $2)) }' && return 0
        waited=$(awk -v w="$waited" 'BEGIN { print w + 0.2 }')
    done
}

# ---- one run ---------------------------------------------------------------------------------------
# one_run MAX_ACCEPTS LOAD PIN: a fresh server and a client; appends the server's RESULT line, with
# other=: the share of the machine (%) that neither of them used but something else did meanwhile.
one_run() {
    max=$1 load=$2 pin=$3
    sched=""; [ "$pin" = queued ] && sched="chrt --idle 0"
    case $load in
    burst) load_args="--window $window --refill burst" ;;
    steady) load_args="--window $window --refill steady" ;;
    single) load_args="--window 1 --refill steady" ;;
    *) echo "bench: unknown load $load" >&2; return 1 ;;
    esac
    out=$BENCH_OUT/server.out
    : >"$out"
    before=$(busy_ticks 2>/dev/null || echo "0 0")
    $sched $(cpu_of server "$pin") "$BENCH_OUT/accept_server" --max-accepts "$max" \
        --warmup "$warmup" --seconds "$seconds" --load "$load" --pin "$pin" \
        >"$out" 2>"$BENCH_OUT/server.log" &
    server_pid=$!
    tries=0
    until grep -q '^PORT ' "$out"; do
        tries=$((tries + 1))
        [ $tries -le 500 ] || { echo "bench: accept_server did not start" >&2; return 1; }
        sleep 0.01
    done
    port=$(awk '/^PORT /{print $2}' "$out")
    [ -z "$count_syscalls" ] || start_syscall_count "$server_pid"
    # The client outlasts the server's window (which opens at the first accepted connection).
    client_secs=$(awk -v w="$warmup" -v s="$seconds" 'BEGIN{print w + s + 0.1}')
    $(cpu_of client "$pin") "$BENCH_OUT/connect_load" --port "$port" $load_args \
        --seconds "$client_secs" 2>"$BENCH_OUT/client.out" \
        || { echo "bench: connect_load failed ($load/$pin, max_accepts=$max):" >&2;
             cat "$BENCH_OUT/client.out" >&2; return 1; }
    [ -z "$count_syscalls" ] || stop_syscall_count "$max" "$load" "$pin"
    server_ticks=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat" 2>/dev/null || echo 0)
    after=$(busy_ticks 2>/dev/null || echo "0 0")
    kill -TERM "$server_pid"
    wait "$server_pid" || { cat "$BENCH_OUT/server.log" >&2; server_pid=""; return 1; }
    server_pid=""
    cat "$BENCH_OUT/client.out" >>"$BENCH_OUT/client.log"
    client_s=$(sed -n 's/.*cpu_s=\([0-9.]*\).*/\1/p' "$BENCH_OUT/client.out")
    other=$(echo "$before $after" | awk -v st="$server_ticks" -v cs="${client_s:-0}" \
        -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" \
        '{ all = $4 - $2; o = all > 0 ? ($3 - $1 - st - cs * hz) * 100 / all : 0;
           printf "%.1f", (o > 0 ? o : 0) }')
    grep -q '^RESULT ' "$out" || { echo "bench: accept_server gave no result" >&2; return 1; }
    grep '^RESULT ' "$out" | sed "s/\$/ other=$other/" >>"$results"
}

# ---- rounds: every cell, A B (adaptive, one) in each round ---------------------------------------
results=$BENCH_OUT/results.txt
: >"$results"
: >"$BENCH_OUT/client.log"
[ "$can_pin" = 1 ] || echo "note: no taskset or one CPU: runs are not pinned (same = two = unpinned)"
[ "$can_idle" = 1 ] || { echo "note: chrt --idle unavailable: queued cells skipped";
                         cells=$(echo "$cells" | tr ' ' '\n' | grep -v ':queued$' | tr '\n' ' '); }
echo "== accept: adaptive multi-accept vs one accept per readiness; $rounds rounds of ${seconds} s =="
r=1
while [ $r -le "$rounds" ]; do
    printf '  round %d/%d\n' "$r" "$rounds" >&2
    for cell in $cells; do
        wait_quiet
        one_run 0 "${cell%%:*}" "${cell##*:}"
        one_run 1 "${cell%%:*}" "${cell##*:}"
    done
    r=$((r + 1))
done

# ---- syscall check: one more pair per cell, perf attached to the server, not timed ---------------
: >"$BENCH_OUT/syscalls.txt"
if [ -z "$QUICK" ] && [ "${ACCEPT_SYSCALLS:-1}" = 1 ] && can_count; then
    printf '  syscall counts\n' >&2
    count_syscalls=1
    saved=$results; results=$BENCH_OUT/results_perf.txt; : >"$results"
    for cell in $cells; do
        one_run 0 "${cell%%:*}" "${cell##*:}"
        one_run 1 "${cell%%:*}" "${cell##*:}"
    done
    results=$saved; count_syscalls=""
fi

# ---- table -----------------------------------------------------------------------------------------
echo
awk -v max_other="$busy_pct" -f "$here/accept_table.awk" "$results"
if [ -s "$BENCH_OUT/syscalls.txt" ]; then
    echo
    echo "server syscalls, counted by the kernel (perf tracepoints) in one more run per mode and cell"
    echo "(wait = the backend's epoll_wait, poll or select):"
    awk '{ printf "  %-7s %-6s %-8s accepted per wait %7.2f   failed accept4 per connection %5.2f   waits per connection %5.2f\n",
           $2, $3, $4, $7 ? $5 / $7 : 0, $5 ? $6 / $5 : 0, $5 ? $7 / $5 : 0 }' "$BENCH_OUT/syscalls.txt"
fi
cat <<NOTE

adaptive = the port's default (Twisted's numberAccepts, up to $(awk '/define TW_PORT_ACCEPTS_MAX/{print $3}' \
    "$TWINE_ROOT/include/twine/transport.h") accepts per readiness); one = tw_port_set_max_accepts(port, 1).
Medians of $rounds rounds; each round runs adaptive then one, each with a fresh server.
  conn/s        connections the server accepted per second of its window (higher is better)
  adaptive/one  median over rounds of adaptive conn/s / one conn/s of the same round, with the
                smallest and largest of those ratios (above 1.00x: multi-accept accepts faster)
  ns/conn       server CPU (user + system) per connection; ratio adaptive/one per round, median
                (below 1.00x: multi-accept costs less)
  accepts/wake  adaptive: connections per readiness event (accepted / loop turns that accepted;
                one is 1.0 by construction)
  pairs         pairs kept / pairs run: a pair in which other programs used more than $busy_pct % of the
                machine is left out (all are kept if every pair was that busy)
  other         median share of the machine (both CPUs, %) that other programs used during a run
                (user + system + steal, less the server's and the client's own CPU time); pairs
                wait for a quiet machine (other < $quiet_pct %) for up to $quiet_budget s in all (waited $waited s)
load=burst: $window connections opened back to back, then awaited; steady: $window in flight, each
replaced as soon as it is done; single: one at a time.
pin=same: server and client on CPU $server_cpu; two: client on CPU $other_cpu; queued: one CPU, server in
SCHED_IDLE, so it runs only while the client waits and finds the client's whole burst queued.
The server closes each connection in connection_made; the client resets it after the EOF.
NOTE
