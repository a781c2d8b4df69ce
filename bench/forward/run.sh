#!/bin/sh
# bench/forward: TCP port forwarding on 127.0.0.1, twined forward against socat (fork per connection,
# the Debian package) and Twisted's portforward (twistd portforward), each in front of the same plain
# epoll echo server, with no forwarder ("direct") as the floor: per-connection overhead (connect, one
# 64 B echo, close, one connection at a time) and throughput (256 KiB ping-pong messages on 1 and on
# 50 connections). Uses bench/echo's load generator and echo server. Run through `make bench` or
# `make -C bench forward`; QUICK=1 for a short smoke run.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init forward
echo_dir=$here/../echo

if [ -n "$QUICK" ]; then
    BENCH_RUNS=${FORWARD_RUNS:-1}; seconds=${FORWARD_SECONDS:-0.3}
else
    BENCH_RUNS=${FORWARD_RUNS:-5}; seconds=${FORWARD_SECONDS:-1}
fi
warmup=${FORWARD_WARMUP:-0.2}
size=${FORWARD_SIZE:-262144}
conns_list=${FORWARD_CONNS:-"1 50"}
forwarder_cpu=0 other_cpu=1
pin() { command -v taskset >/dev/null 2>&1 && echo "taskset -c $1"; }

# ---- build -----------------------------------------------------------------------------------------
out=$BENCH_OUT
rm -f "$out"/loadgen "$out"/echo_plain
$BENCH_CC $BENCH_CFLAGS -o "$out/loadgen" "$echo_dir/loadgen.c" \
    || { echo "bench: loadgen does not build" >&2; exit 1; }
$BENCH_CC $BENCH_CFLAGS -I"$echo_dir" -o "$out/echo_plain" "$echo_dir/echo_plain.c" \
    || { echo "bench: echo_plain does not build" >&2; exit 1; }
if [ ! -x "$TWINE_BUILD/twined" ]; then
    echo "bench: $TWINE_BUILD/twined is missing: build twine first (make)" >&2
    exit 1
fi

twistd_cmd=""
for t in twistd3 twistd; do
    if command -v $t >/dev/null 2>&1 && $t portforward --help >/dev/null 2>&1; then
        twistd_cmd=$t; break
    fi
done

forwarders="twine"
if command -v socat >/dev/null 2>&1; then forwarders="$forwarders socat"
else echo "skipped: socat: not installed (apt-get install socat)"; fi
if [ -n "$twistd_cmd" ]; then forwarders="$forwarders twisted"
else echo "skipped: twisted: no twistd with portforward (apt-get install python3-twisted)"; fi

# ---- processes ---------------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something listens on 127.0.0.1:PORT.
wait_port() {
    tries=0
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1)).close()" \
            2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -gt 100 ]; then echo "bench: nothing listens on port $1" >&2; return 1; fi
        sleep 0.05
    done
}

bench_kill_at_exit

err=$out/backend.stderr
$(pin $other_cpu) "$out/echo_plain" 2>"$err" &
BENCH_PIDS="$BENCH_PIDS $!"
tries=0
until grep -q "listening on" "$err"; do
    tries=$((tries + 1)); [ $tries -gt 100 ] && { echo "bench: echo_plain did not start" >&2; exit 1; }
    sleep 0.05
done
backend=$(sed -n 's/.*listening on tcp:.*:\([0-9][0-9]*\)$/\1/p' "$err" | head -1)
port_direct=$backend pid_direct=0 ver_direct=echo_plain

# start NAME: runs NAME's forwarder on CPU $forwarder_cpu; sets port_NAME, pid_NAME and ver_NAME.
start() {
    p=$(free_port)
    case $1 in
    twine)
        $(pin $forwarder_cpu) "$TWINE_BUILD/twined" forward --listen "tcp:$p:interface=127.0.0.1" \
            --connect "tcp:127.0.0.1:$backend" 2>"$out/twine.stderr" &
        ver=$("$TWINE_BUILD/twined" --version | awk '{print $2}') ;;
    socat)
        # socat's defaults (8 KiB buffer, Nagle on) would cost it tens of ms per message: it runs
        # tuned the way one would for bulk forwarding, 64 KiB buffer and TCP_NODELAY, like twined.
        $(pin $forwarder_cpu) socat -b 65536 \
            "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,backlog=1024,nodelay" \
            "TCP:127.0.0.1:$backend,nodelay" 2>"$out/socat.stderr" &
        ver=$(socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p') ;;
    twisted)
        $(pin $forwarder_cpu) $twistd_cmd -n --pidfile= -l "$out/twisted.log" portforward \
            -p "tcp:$p:interface=127.0.0.1" -h 127.0.0.1 -d "$backend" &
        ver=$($twistd_cmd --version | awk 'NR == 1 {print $NF}') ;;
    esac
    eval "pid_$1=$! port_$1=$p ver_$1=$(echo "${ver:-?}" | tr ' ' _)"
    BENCH_PIDS="$BENCH_PIDS $!"
    wait_port "$p"
}

for f in $forwarders; do start "$f"; done

results=$out/results.txt
: >"$results"

# loadgen NAME TAGS MODE ARGS...: one run through NAME (or direct), RESULT line to $results.
loadgen() {
    name=$1 tags=$2 mode=$3
    shift 3
    $(pin $other_cpu) "$out/loadgen" "$mode" --port "$(eval "echo \$port_$name")" \
        --lib "$name" --ver "$(eval "echo \$ver_$name")" --tag "$tags" "$@" >>"$results" \
        || { echo "bench: loadgen $mode through $name failed" >&2; exit 1; }
}

# ---- runs, interleaved -------------------------------------------------------------------------------
echo "== forward: forwarders on CPU $forwarder_cpu, echo server and load on CPU $other_cpu;"
echo "   direct $forwarders; $BENCH_RUNS rounds of ${seconds}s after ${warmup}s warm-up =="
i=1
while [ $i -le "$BENCH_RUNS" ]; do
    printf '  round %d/%d\n' "$i" "$BENCH_RUNS" >&2
    for f in direct $forwarders; do
        loadgen "$f" "what=connect" churn --conns 1 --size 64 --seconds "$seconds" \
            --warmup "$warmup"
        for n in $conns_list; do
            loadgen "$f" "conns=$n" pingpong --conns "$n" --size "$size" --seconds "$seconds" \
                --warmup "$warmup"
        done
    done
    i=$((i + 1))
done

# ---- tables ------------------------------------------------------------------------------------------
table() { # table TITLE MODE KEY SCALE DECIMALS ROWS
    echo "$1"
    awk -v mode="$2" -v pin="" -v key="$3" -v scale="$4" -v decimals="$5" -v rows="$6" \
        -f "$echo_dir/echo_table.awk" "$results"
}
mb=$(awk -v s="$size" 'BEGIN {printf "%.6f", 1e6 / s}') # msgs/s to MB/s
echo
echo "Versions: direct = bench/echo's echo_plain alone;$(for f in $forwarders; do
    printf ' %s %s;' "$f" "$(eval "echo \$ver_$f")"; done)"
echo
echo "==== per-connection overhead: connect, one 64 B echo, close; one connection at a time ===="
table "p50 connect + first echo, us (lower is better; ratio = lib / twine)" churn p50 1 1 what
table "p99 connect + first echo, us" churn p99 1 1 what
table "connections/s (higher is better)" churn conns_s 1 0 what
echo
echo "==== throughput: each connection sends $size B and waits for the echo, again and again ===="
table "MB/s each way (higher is better)" pingpong msgs "$mb" 1 conns
table "p50 round trip of one message, us" pingpong p50 1 0 conns
cat <<NOTE

How measured: bench/echo's loadgen (every echoed byte checked) against the same echo server
(bench/echo's echo_plain), directly and through each forwarder. The forwarder runs on CPU
$forwarder_cpu, the echo server and the load generator on CPU $other_cpu (taskset). Rounds
interleaved (direct, twine, socat, twisted, direct, ...), medians of $BENCH_RUNS rounds of
${seconds}s after ${warmup}s of warm-up. Overhead per connection = a forwarder's p50 minus direct's.
socat (-b 65536, nodelay on both sides) forks a process per connection; twined and Twisted serve
every connection from one process. The machine's other load shows in the p99 columns.
NOTE
