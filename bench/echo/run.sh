#!/bin/sh
# bench/echo: TCP echo on 127.0.0.1, twine (twined echo) against a plain epoll server, libuv, libevent,
# libev and Twisted: ping-pong msgs/s, latency and server CPU per message at 1/10/100 connections x
# 64 B/16 KiB on one core and on two, connection churn, RSS per idle connection, syscalls per message.
# Run through `make bench` or `make -C bench echo`; QUICK=1 for a one-minute smoke run.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init echo

# ---- settings (each overridable from the environment) ---------------------------------------------
if [ -n "$QUICK" ]; then
    BENCH_RUNS=${ECHO_RUNS:-1}; seconds=${ECHO_SECONDS:-0.2}; idle_n=${ECHO_IDLE:-2000}
    strace_n=${ECHO_STRACE_MSGS:-3000}; strace_conns=${ECHO_STRACE_CONNS:-1000}
else
    BENCH_RUNS=${ECHO_RUNS:-$BENCH_RUNS}; seconds=${ECHO_SECONDS:-0.4}; idle_n=${ECHO_IDLE:-10000}
    strace_n=${ECHO_STRACE_MSGS:-10000}; strace_conns=${ECHO_STRACE_CONNS:-2000}
fi
warmup=${ECHO_WARMUP:-0.1}
conns_list=${ECHO_CONNS:-"1 10 100"}
sizes=${ECHO_SIZES:-"64 16384"}
churn_slots=${ECHO_CHURN_SLOTS:-8}
idle_burst=${ECHO_IDLE_BURST:-100}
server_cpu=0 client_same=0 client_other=1
bench_open_files "$idle_n"
idle_n=$BENCH_CONNS
pin() { command -v taskset >/dev/null 2>&1 && echo "taskset -c $1"; }

# ---- build -----------------------------------------------------------------------------------------
out=$BENCH_OUT
bench_take_turns
rm -f "$out"/echo_* "$out"/loadgen
$BENCH_CC $BENCH_CFLAGS -o "$out/loadgen" "$here/loadgen.c" || { echo "bench: loadgen does not build" >&2; exit 1; }
$BENCH_CC $BENCH_CFLAGS -I"$here" -o "$out/echo_plain" "$here/echo_plain.c" \
    || { echo "bench: echo_plain does not build" >&2; exit 1; }
bench_build_twine echo_twine -I"$here" "$here/echo_twine.c"
bench_build_peer echo_libuv "-luv_a" "-luv" -I"$here" "$here/echo_libuv.c"
bench_build_peer echo_libevent "-levent_core" "-levent_core" -I"$here" "$here/echo_libevent.c"
bench_build_peer echo_libev "-lev" "-lev" -I"$here" "$here/echo_libev.c"

twisted_py=""
for py in python3 /usr/bin/python3; do
    if $py -c 'import twisted.internet.epollreactor' 2>/dev/null; then twisted_py=$py; break; fi
done

# server_cmd NAME: the command line of NAME's server, empty when it is not available.
server_cmd() {
    case $1 in
    twine)
        if [ -x "$TWINE_BUILD/twined" ] && [ "${ECHO_TWINE:-twined}" != api ]; then
            echo "$TWINE_BUILD/twined echo --listen tcp:0:interface=127.0.0.1"
        else
            echo "$out/echo_twine"
        fi ;;
    twine-api) echo "$out/echo_twine" ;;
    twine-1accept) echo "env ECHO_MAX_ACCEPTS=1 $out/echo_twine" ;;
    twisted) [ -n "$twisted_py" ] && echo "$twisted_py $here/echo_twisted.py" ;;
    *) [ -x "$out/echo_$1" ] && echo "$out/echo_$1" ;;
    esac
}

server_version() {
    case $1 in
    twine)
        if [ -x "$TWINE_BUILD/twined" ] && [ "${ECHO_TWINE:-twined}" != api ]; then
            "$TWINE_BUILD/twined" --version | awk '{print $2}'
        else
            echo api
        fi ;;
    *) $(server_cmd "$1") --version ;;
    esac
}

# Churn also runs the API server with and without multi-accept (twined echo half-closes on EOF as
# its contract says, one shutdown() per connection more, so it is not the baseline for that).
churn_extra="twine-1accept"
case $(server_cmd twine) in *twined*) churn_extra="twine-api twine-1accept" ;; esac

servers=""
for s in twine plain libuv libevent libev twisted; do
    if [ -n "$(server_cmd $s)" ]; then servers="$servers $s"; else echo "skipped: $s: not available"; fi
done
[ -n "$twisted_py" ] || echo "skipped: twisted: no python3 with twisted (apt-get install python3-twisted)"

# ---- servers ---------------------------------------------------------------------------------------
# start_server NAME: runs NAME's server on CPU $server_cpu; sets pid_NAME and port_NAME.
start_server() {
    err=$out/$1.stderr
    : >"$err"
    $(pin $server_cpu) $(server_cmd "$1") 2>"$err" 9>&- &
    eval "pid_$(echo "$1" | tr - _)=$!"
    tries=0
    until grep -q "listening on" "$err"; do
        tries=$((tries + 1))
        if [ $tries -gt 200 ]; then cat "$err" >&2; echo "bench: $1 did not start" >&2; return 1; fi
        sleep 0.05
    done
    eval "port_$(echo "$1" | tr - _)=$(sed -n 's/.*listening on tcp:.*:\([0-9][0-9]*\)$/\1/p' "$err" | head -1)"
}

stop_server() {
    p=$(server_pid "$1")
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

server_pid() { eval "echo \$pid_$(echo "$1" | tr - _)"; }
server_port() { eval "echo \$port_$(echo "$1" | tr - _)"; }

cleanup() {
    for s in $servers $churn_extra; do
        p=$(server_pid "$s")
        if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
    done
    return 0
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# loadgen SERVER CLIENT_CPU TAGS MODE ARGS...: one run against SERVER, RESULT line to $results.
loadgen() {
    local lib=$1 lg_cpu=$2 tags=$3 mode=$4
    shift 4
    $(pin "$lg_cpu") "$out/loadgen" "$mode" --port "$(server_port "$lib")" \
        --pid "$(server_pid "$lib")" --lib "$lib" --ver "$(eval "echo \$ver_$(echo "$lib" | tr - _)")" \
        --tag "$tags" "$@" >>"$results" || { echo "bench: loadgen $mode against $lib failed" >&2; exit 1; }
}

for s in $servers $churn_extra; do eval "ver_$(echo "$s" | tr - _)=$(server_version "$s" | tr ' ' _)"; done
results=$out/results.txt
: >"$results"

# ---- ping-pong and churn, every server running, rounds interleaved ----------------------------------
echo "== echo: servers on CPU $server_cpu;$servers; $BENCH_RUNS rounds of ${seconds}s after ${warmup}s warm-up =="
for s in $servers $churn_extra; do start_server "$s"; done
for where in same two; do
    [ $where = same ] && cpu=$client_same || cpu=$client_other
    for n in $conns_list; do
        for size in $sizes; do
            printf '  ping-pong: %s core(s), %s conns x %s B\n' "$where" "$n" "$size" >&2
            i=1
            while [ $i -le "$BENCH_RUNS" ]; do
                for s in $servers; do
                    loadgen "$s" "$cpu" "pin=$where,conns=$n,size=$size" pingpong --conns "$n" \
                        --size "$size" --seconds "$seconds" --warmup "$warmup"
                done
                i=$((i + 1))
            done
        done
    done
    printf '  churn: %s core(s), %s connections at a time\n' "$where" "$churn_slots" >&2
    i=1
    while [ $i -le "$BENCH_RUNS" ]; do
        for s in $servers $churn_extra; do
            loadgen "$s" "$cpu" "pin=$where" churn --conns "$churn_slots" --size 64 \
                --seconds "$seconds" --warmup "$warmup"
        done
        i=$((i + 1))
    done
done

# ---- syscalls per message and per connection: strace -c over a fixed number of them -----------------
strace_out=$out/strace
mkdir -p "$strace_out"

# strace_count SERVER WHAT COUNT LOADGEN_ARGS...: traces SERVER while the load generator does COUNT
# round trips (or connections); a RESULT line with the server's syscalls per round trip.
strace_count() {
    local lib=$1 what=$2 count=$3 log=$strace_out/$1-$2.txt
    shift 3
    $(pin $client_other) strace -c -f -p "$(server_pid "$lib")" -o "$log" 2>"$log.err" &
    spid=$!
    tries=0 # strace says "attached" on stderr once it traces the server
    until grep -q attached "$log.err" 2>/dev/null || [ $tries -gt 40 ]; do
        sleep 0.05; tries=$((tries + 1))
    done
    sleep 0.3 # "attached" comes a little before every thread is traced
    "$out/loadgen" "$@" --port "$(server_port "$lib")" --count "$count" --warmup 0 --lib "$lib" >/dev/null
    sleep 0.3 # strace writes no summary when interrupted while the tracee is in a syscall stop
    kill -INT $spid
    tries=0
    while kill -0 $spid 2>/dev/null && [ $tries -lt 100 ]; do sleep 0.05; tries=$((tries + 1)); done
    kill -KILL $spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
    calls=$(awk '$NF == "total" {print $4}' "$log")
    echo "RESULT lib=$lib mode=strace what=$what count=$count calls=${calls:-0} per=$(
        awk -v c="${calls:-0}" -v m="$count" 'BEGIN {printf "%.2f", c / m}')" >>"$results"
}

if command -v strace >/dev/null 2>&1; then
    printf '  syscalls: strace -c of each server\n' >&2
    for s in $servers; do
        strace_count "$s" msg-1conn "$strace_n" pingpong --conns 1 --size 64
        strace_count "$s" msg-10conns "$strace_n" pingpong --conns 10 --size 64
    done
    for s in $servers $churn_extra; do
        strace_count "$s" connection "$strace_conns" churn --conns "$churn_slots" --size 64
    done
else
    echo "skipped: syscalls: strace is not installed"
fi
for s in $servers $churn_extra; do stop_server "$s"; done

# ---- idle connections: RSS growth of a fresh server over $idle_n connections, and the seconds the
# burst of connecting them took (each SYN an overflowing listen queue drops costs 1 s) -----------
printf '  idle: %s connections per server, %s at a time\n' "$idle_n" "$idle_burst" >&2
i=1
while [ $i -le "$BENCH_RUNS" ]; do
    for s in $servers; do
        start_server "$s"
        loadgen "$s" $client_other "conns=$idle_n" idle --conns "$idle_n" --burst "$idle_burst" \
            --size 64
        stop_server "$s"
    done
    i=$((i + 1))
done

# ---- tables ----------------------------------------------------------------------------------------
table() { # table TITLE MODE PIN KEY SCALE DECIMALS ROWS
    echo "$1"
    awk -v mode="$2" -v pin="$3" -v key="$4" -v scale="$5" -v decimals="$6" -v rows="$7" \
        -f "$here/echo_table.awk" "$results"
}
echo
echo "Versions:$(for s in $servers; do printf ' %s %s;' "$s" "$(eval "echo \$ver_$(echo "$s" | tr - _)")"; done)"
for where in same two; do
    if [ $where = same ]; then
        what="ONE CORE: server and loadgen both on CPU $server_cpu (taskset -c $server_cpu)"
    else
        what="TWO CORES: server on CPU $server_cpu, loadgen on CPU $client_other (cross-core wake-ups)"
    fi
    echo
    echo "==== ping-pong, $what ===="
    table "messages/s, thousands (higher is better; ratio = lib / twine)" pingpong $where msgs 1000 1 "conns size"
    table "server CPU ns per message (lower is better)" pingpong $where cpu 1 0 "conns size"
    table "p50 round trip, us" pingpong $where p50 1 1 "conns size"
    table "p99 round trip, us" pingpong $where p99 1 1 "conns size"
done
echo
echo "==== connection churn: connect, one 64 B echo, close; $churn_slots at a time ===="
table "connections/s (higher is better; pin=same: one core, pin=two: two cores)" churn "" conns_s 1 0 pin
table "server CPU ns per connection (lower is better)" churn "" cpu 1 0 pin
echo
echo "==== idle connections: server RSS growth over $idle_n connections (fresh server, each echoed once) ===="
table "bytes per idle connection (lower is better)" idle "" rss_per_conn 1 0 conns
table "seconds to set up the $idle_n connections, $idle_burst at a time (lower is better)" idle "" \
    setup_s 1 2 conns
if [ -s "$strace_out/twine-msg-1conn.txt" ]; then
    echo
    echo "==== server syscalls (strace -c -f): per echoed 64 B message ($strace_n round trips on 1 and on 10"
    echo "     connections) and per churned connection ($strace_conns connections, $churn_slots at a time) ===="
    table "syscalls (lower is better)" strace "" per 1 2 what
    for f in twine-msg-1conn plain-msg-1conn twine-connection twine-api-connection plain-connection; do
        [ -s "$strace_out/$f.txt" ] || continue
        case $f in *connection) per=$strace_conns ;; *) per=$strace_n ;; esac
        printf '  %-22s' "$f:"
        awk -v m="$per" '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
            printf " %s %.2f", $NF, $4 / m }' "$strace_out/$f.txt"
        echo
    done
fi
cat <<NOTE

How measured: loadgen (bench/echo/loadgen.c) ping-pong = each connection sends one message and waits
for the whole echo before the next; every echoed byte is checked. Rounds interleaved (A B C .. A B C),
medians of $BENCH_RUNS rounds of ${seconds}s each after ${warmup}s of warm-up. Server CPU = the server
process's utime+stime over the window (its kernel CPU clock, the exact form of /proc/PID/stat fields
14+15) / messages. Idle RSS = (VmRSS after - VmRSS before) / connections, from /proc/PID/status.
On a 2-vCPU VM the one-core figures compare the loops; the two-core figures mostly measure how fast a
sleeping vCPU wakes up. Ratios are lib / twine: above 1.00x is better for twine in "CPU", "us" and
"bytes" tables, below 1.00x is better for twine in the "/s" tables.
NOTE
