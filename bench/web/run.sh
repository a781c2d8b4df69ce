#!/bin/sh
# bench/web: static files over HTTP/1.1 keep-alive on 127.0.0.1, twined web against nginx (1 worker,
# sendfile; once as configured out of the box, once with open_file_cache), libevent's evhttp (web_evhttp.c) and Twisted web: wrk req/s and server CPU per request
# for a 1 KiB and a 64 KiB file on one core, twined --reactors 2 against 2 nginx workers on two
# cores, and the server memory each idle keep-alive connection costs (idle.c).
# Run through `make bench` or `make -C bench web`; QUICK=1 for a short smoke run.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init web

# ---- settings (each overridable from the environment) ---------------------------------------------
if [ -n "$QUICK" ]; then
    BENCH_RUNS=${WEB_RUNS:-1}; seconds=${BENCH_SECONDS:-2}; warmup=${WEB_WARMUP:-0}
else
    BENCH_RUNS=${WEB_RUNS:-$BENCH_RUNS}; seconds=${BENCH_SECONDS:-10}; warmup=${WEB_WARMUP:-1}
fi
conns=${WEB_CONNS:-50}
sizes=${WEB_SIZES:-"1024 65536"}
idle_n=${WEB_IDLE:-2000}
idle_burst=${WEB_IDLE_BURST:-100}
server_cpu=0 client_cpu=1
clk_tck=$(getconf CLK_TCK)
bench_open_files "$idle_n"
idle_n=$BENCH_CONNS
pin() { command -v taskset >/dev/null 2>&1 && echo "taskset -c $1"; }

# ---- build and the document root -------------------------------------------------------------------
out=$BENCH_OUT
bench_take_turns
rm -f "$out"/idle "$out"/web_evhttp
$BENCH_CC $BENCH_CFLAGS -o "$out/idle" "$here/idle.c" || { echo "bench: idle does not build" >&2; exit 1; }
bench_build_peer web_evhttp "-levent" "-levent" "$here/web_evhttp.c"

www=$out/www
mkdir -p "$www"
for size in $sizes; do # the same bytes every run: a repeating line of text, cut to size
    awk -v n="$size" 'BEGIN { s = ""; while (length(s) < n) s = s sprintf("%07d twine bench\n", length(s));
        printf "%s", substr(s, 1, n) }' >"$www/$size.bin"
done

nginx_bin=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
twistd_cmd=""
for t in twistd3 twistd; do
    if command -v $t >/dev/null 2>&1 && $t web --help >/dev/null 2>&1; then twistd_cmd=$t; break; fi
done

# ---- servers ---------------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: until something listens on 127.0.0.1:PORT; fails if PID exits first.
wait_port() {
    tries=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null
    do
        tries=$((tries + 1))
        if [ $tries -gt 200 ] || ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
}

# label NAME: the server's name in the results and tables (nginx_ofc: nginx-ofc).
label() { echo "$1" | tr _ -; }

# children PID: the pids of PID's child processes.
children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | tr '\n' ' '; }

# nginx_conf PREFIX PORT WORKERS [CACHE]: a private configuration; everything it writes stays under
# PREFIX. With CACHE, open_file_cache keeps files' descriptors and stat results open across
# requests (nginx's own tuning for static files; off by default).
nginx_conf() {
    local reuse="" user="" cache=""
    mkdir -p "$1/logs" "$1/tmp"
    [ "$3" -gt 1 ] && reuse=" reuseport" # one listening socket per worker, as twined --reactors
    [ -n "$4" ] && cache="open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;"
    [ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);" # else the workers become nobody
    cat >"$1/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $3;
worker_rlimit_nofile 65536;
$user
pid $1/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 16384; }
http {
    access_log off;
    sendfile on;
    $cache
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    server {
        listen 127.0.0.1:$2$reuse;
        root $www;
    }
}
EOF
}

# start NAME CORES: starts NAME's server, pinned to CPU $server_cpu when CORES is 1, else unpinned;
# sets pid_NAME (the process to stop), pids_NAME (the processes that serve: CPU and RSS are theirs),
# port_NAME and ver_NAME. Returns non-zero, with the reason in $why, when it does not come up.
start() {
    local name=$1 cores=$2 p err=$out/$1-$2.stderr on="" reactors="" prefix ver pid serving size
    p=$(free_port)
    [ "$cores" = 1 ] && on=$(pin $server_cpu)
    case $name in
    twine)
        [ "$cores" -gt 1 ] && reactors="--reactors $cores"
        $on "$TWINE_BUILD/twined" web --listen "tcp:$p:interface=127.0.0.1" --path "$www" \
            $reactors 2>"$err" 9>&- &
        ver=$("$TWINE_BUILD/twined" --version | awk '{print $2}') ;;
    nginx | nginx_ofc)
        prefix=$out/$name-$cores
        nginx_conf "$prefix" "$p" "$cores" "$([ "$name" = nginx ] || echo cache)"
        $on "$nginx_bin" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" \
            2>"$err" 9>&- &
        ver=$("$nginx_bin" -v 2>&1 | sed 's|.*nginx/||') ;;
    evhttp)
        $on "$out/web_evhttp" --port "$p" --path "$www" 2>"$err" 9>&- &
        ver=$("$out/web_evhttp" --version) ;;
    twisted)
        $on $twistd_cmd -n --pidfile= -l "$out/twisted.log" web --path "$www" \
            --listen "tcp:$p:interface=127.0.0.1" 2>"$err" 9>&- &
        ver=$($twistd_cmd --version | awk 'NR == 1 {print $NF}') ;;
    esac
    pid=$!
    eval "pid_$name=$pid port_$name=$p ver_$name=$(echo "${ver:-?}" | tr ' ' _)"
    BENCH_PIDS="$BENCH_PIDS $pid"
    if ! wait_port "$p" "$pid"; then
        why="did not start: $(head -c 300 "$err" | tr '\n' ' ')"
        stop "$name"
        return 1
    fi
    serving=$pid
    if [ "$name" != "${name#nginx}" ]; then # the workers serve; the master only waits for them
        tries=0
        until [ "$(children "$pid" | wc -w)" -ge "$cores" ] || [ $tries -gt 100 ]; do
            sleep 0.05; tries=$((tries + 1))
        done
        serving=$(children "$pid")
    fi
    eval "pids_$name=\"$serving\""
    for size in $sizes; do # every server must serve the very bytes of the file
        if ! curl -sf "http://127.0.0.1:$p/$size.bin" | cmp -s - "$www/$size.bin"; then
            why="GET /$size.bin did not return the file"
            stop "$name"
            return 1
        fi
    done
}

stop() {
    local p
    p=$(eval "echo \$pid_$1")
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    eval "pid_$1="
}

bench_kill_at_exit

# cpu_ticks PIDS: user + system CPU of those processes (all their threads), in clock ticks.
cpu_ticks() {
    for p in "$@"; do cat "/proc/$p/stat"; done 2>/dev/null |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# settle PIDS: waits (at most 5 s) until those processes use no CPU for 200 ms, so that a server
# still finishing the previous run (Twisted flushing its log, closing 50 connections) takes nothing
# from the one measured next on the same core.
settle() {
    local before after tries=0
    after=$(cpu_ticks "$@")
    while [ $tries -lt 25 ]; do
        before=$after
        sleep 0.2
        after=$(cpu_ticks "$@")
        [ "$after" != "$before" ] || return 0
        tries=$((tries + 1))
    done
}

# ---- load: wrk ---------------------------------------------------------------------------------------
results=$out/results.txt
: >"$results"
failed=0
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)

# wrk_run NAME PIN SIZE [SECONDS]: one wrk run against NAME; with SECONDS it is a warm-up, unrecorded.
wrk_run() {
    local name=$1 where=$2 size=$3 p pids ver client="" log t0 t1 bad
    eval "p=\$port_$name pids=\$pids_$name ver=\$ver_$name"
    [ "$where" = 1core ] && client=$(pin $client_cpu)
    log=$out/wrk-$name-$where-$size.txt
    # shellcheck disable=SC2086
    settle $all_pids
    t0=$(cpu_ticks $pids)
    $client wrk -t1 -c"$conns" -d"${4:-$seconds}s" --latency "http://127.0.0.1:$p/$size.bin" \
        >"$log" 2>&1 9>&- || { echo "bench: wrk against $name failed: $(cat "$log")" >&2; exit 1; }
    t1=$(cpu_ticks $pids)
    [ -z "$4" ] || return 0
    if [ "$t1" -lt "$t0" ]; then echo "bench: $name: CPU ticks went from $t0 to $t1" >&2; exit 1; fi
    awk -v lib="$(label "$name")" -v ver="$ver" -v pin="$where" -v size="$size" -v ticks=$((t1 - t0)) \
        -v hz="$clk_tck" -f "$here/wrk.awk" "$log" >>"$results"
    bad=$(tail -1 "$results" | sed -n 's/.* non2xx=\([0-9]*\) errors=\([0-9]*\).*/\1 \2/p')
    if [ "$bad" != "0 0" ]; then
        echo "warning: $name ($where, /$size.bin): non-2xx responses and socket errors: ${bad:-?}"
    fi
}

# phase PIN CORES SERVERS...: starts those servers, then rounds of wrk runs, interleaved.
phase() {
    local where=$1 cores=$2 up="" s size i
    shift 2
    for s in "$@"; do
        if start "$s" "$cores"; then up="$up $s"; else
            echo "skipped: $s ($cores core(s)): $why"
            [ "$s" != twine ] || [ ! -x "$TWINE_BUILD/twined" ] || ! twine_has_web || failed=1
        fi
    done
    [ -n "$up" ] || return 0
    all_pids=$(for s in $up; do eval "echo \$pids_$s"; done)
    echo "== web, $where:$up; $BENCH_RUNS rounds of wrk -t1 -c$conns -d${seconds}s =="
    if [ "$warmup" != 0 ]; then
        for s in $up; do for size in $sizes; do wrk_run "$s" "$where" "$size" "$warmup"; done; done
    fi
    i=1
    while [ $i -le "$BENCH_RUNS" ]; do
        for size in $sizes; do
            printf '  round %d/%d: /%s.bin\n' "$i" "$BENCH_RUNS" "$size" >&2
            for s in $up; do wrk_run "$s" "$where" "$size"; done
        done
        i=$((i + 1))
    done
    for s in $up; do stop "$s"; done
}

# twine_has_web: whether this twined has the web subcommand (it is skipped, not broken, if not).
twine_has_web() { "$TWINE_BUILD/twined" web --help >/dev/null 2>&1; }

# available NAME: whether NAME's server can run here; says "skipped: <why>" when not.
available() {
    case $1 in
    twine) [ -x "$TWINE_BUILD/twined" ] && twine_has_web ||
        { echo "skipped: twine: $TWINE_BUILD/twined has no web subcommand (build twine: make)"; return 1; } ;;
    nginx | nginx_ofc) [ -n "$nginx_bin" ] || { echo "skipped: $1: nginx is not installed (apt-get install nginx)"; return 1; } ;;
    evhttp) [ -x "$out/web_evhttp" ] ;; # bench_build_peer said why not
    twisted) [ -n "$twistd_cmd" ] ||
        { echo "skipped: twisted: no twistd with web (apt-get install python3-twisted)"; return 1; } ;;
    *) echo "bench: unknown server $1 in WEB_SERVERS" >&2; exit 1 ;;
    esac
}
servers=""
for s in ${WEB_SERVERS:-twine nginx nginx_ofc evhttp twisted}; do
    if available "$s"; then servers="$servers $s"; fi
done
two_core=""
for s in twine nginx; do case " $servers " in *" $s "*) two_core="$two_core $s" ;; esac; done
if ! command -v wrk >/dev/null 2>&1; then
    echo "skipped: every req/s figure: wrk is not installed (apt-get install wrk)"
else
    phase 1core 1 $servers
    phase 2cores 2 $two_core
fi

# ---- idle keep-alive connections: RSS growth of a fresh server (pinned) over $idle_n connections ----
printf '  idle: %s keep-alive connections per server, %s at a time\n' "$idle_n" "$idle_burst" >&2
i=1
while [ $i -le "$BENCH_RUNS" ]; do
    for s in $servers; do
        start "$s" 1 || { echo "skipped: $s (idle): $why"; continue; }
        eval "p=\$port_$s pids=\$pids_$s ver=\$ver_$s"
        pid_args=$(for x in $pids; do printf ' --pid %s' "$x"; done)
        # shellcheck disable=SC2086
        $(pin $client_cpu) "$out/idle" --port "$p" $pid_args --conns "$idle_n" --burst "$idle_burst" \
            --url "/$(echo $sizes | awk '{print $1}').bin" --lib "$(label "$s")" --ver "$ver" >>"$results" 9>&- ||
            echo "warning: $s dropped idle connections or failed the idle test (see $results)"
        stop "$s"
    done
    i=$((i + 1))
done

# ---- tables ----------------------------------------------------------------------------------------
table() { bench_matrix "$@" "$results"; } # table TITLE MODE PIN KEY SCALE DECIMALS ROWS
echo
echo "Load average (1, 5, 15 min): $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) at the end"
echo "Versions:$(for s in $servers; do printf ' %s %s;' "$s" "$(eval "echo \$ver_$s")"; done)"
echo
echo "==== ONE CORE: server on CPU $server_cpu, wrk -t1 -c$conns on CPU $client_cpu (taskset); size = file bytes ===="
table "requests/s, thousands (higher is better; ratio = lib / twine)" wrk 1core reqs_s 1000 1 size
table "server CPU us per request (lower is better)" wrk 1core cpu_us 1 2 size
table "p99 latency, us (lower is better)" wrk 1core p99_us 1 0 size
echo
echo "==== TWO CORES: twined --reactors 2, nginx worker_processes 2 (reuseport); unpinned, and wrk"
echo "     shares the two cores with the server: wrk's own CPU caps these figures ===="
table "requests/s, thousands (higher is better)" wrk 2cores reqs_s 1000 1 size
table "server CPU us per request, all reactors/workers (lower is better)" wrk 2cores cpu_us 1 2 size
echo
echo "==== idle keep-alive connections: server RSS growth over $idle_n connections, each after one GET ===="
table "bytes per idle connection (lower is better)" idle "" rss_per_conn 1 0 conns
table "connections the server had closed at the end (should be 0)" idle "" closed 1 0 conns
cat <<NOTE

How measured: every server serves the same directory ($www) on 127.0.0.1 and is checked to
return each file byte for byte first. wrk keeps $conns connections alive and GETs one file again and
again; rounds interleaved (server A, B, C, .., A, ...), each run once all servers are idle;
medians of $BENCH_RUNS runs of ${seconds}s, after a ${warmup}s warm-up per server and file. Server CPU = utime+stime (/proc/PID/stat; nginx: its
workers) over the run / requests wrk counted. Idle: a fresh server, one warm-up GET, VmRSS; then
$idle_n connections, $idle_burst at a time, each doing one GET of the smallest file and staying open;
200 ms later VmRSS again; (after - before) / connections. Ratios are lib / twine: above 1.00x is
better for twine in the CPU, latency and bytes tables, below 1.00x in the requests/s tables.
NOTE
exit $failed
