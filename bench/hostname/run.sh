#!/bin/sh
# bench/hostname: how long a connect to a host name takes when its first address is dead, twine's
# hostname endpoint (twined connect -v) against Twisted's HostnameEndpoint, asyncio's and curl's
# Happy Eyeballs, in a private network and mount namespace: addresses on lo, a hosts file
# bind-mounted over /etc/hosts, and nft rules that drop (black-hole) or reset the connections to
# the dead addresses. Needs root, ip, nft and unshare; says "skipped" otherwise. Times include the
# name's resolution (a hosts-file look-up) in every client. Run through `make -C bench hostname`.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bench.sh"
bench_init hostname
runs=${HOSTNAME_RUNS:-5}
out=$BENCH_OUT

if [ "$1" != --inside ]; then
    [ "$(id -u)" = 0 ] || { echo "skipped: hostname: needs root (network namespaces)"; exit 0; }
    for t in ip nft unshare; do
        command -v $t >/dev/null 2>&1 || { echo "skipped: hostname: needs $t"; exit 0; }
    done
    [ -x "$TWINE_BUILD/twined" ] || { echo "bench: build twine first (make)" >&2; exit 1; }
    exec unshare -n -m "$0" --inside
fi

# ---- the namespace -------------------------------------------------------------------------------
mount --make-rprivate /
ip link set lo up
for a in fd00::1 2001:db8::1 2001:db8::2; do ip addr add "$a/128" dev lo nodad; done
printf '127.0.0.1 localhost\n' >"$out/hosts"
printf 'fd00::1 two.test\n127.0.0.2 two.test\n' >>"$out/hosts"
printf '2001:db8::1 three.test\n2001:db8::2 three.test\n127.0.0.2 three.test\n' >>"$out/hosts"
mount --bind "$out/hosts" /etc/hosts
nft add table inet bench
nft add chain inet bench in '{ type filter hook input priority 0; }'

# addresses HOST: its addresses in getaddrinfo's order, as the clients see them (getent ahosts asks
# with AI_ADDRCONFIG, which hides IPv4 here: only loopback has it).
addresses() {
    python3 -c 'import socket, sys
seen = []
for ai in socket.getaddrinfo(sys.argv[1], None, 0, socket.SOCK_STREAM):
    if ai[4][0] not in seen:
        seen.append(ai[4][0])
print(" ".join(seen))' "$1"
}

# scenario NAME HOST PORT DEAD VERDICT: the first DEAD addresses of HOST (in getaddrinfo's order)
# get VERDICT for PORT; the others listen there (twined echo).
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done' EXIT
scenarios=""
scenario() {
    name=$1 host=$2 port=$3 dead=$4 verdict=$5
    i=0
    for a in $(addresses "$host"); do
        i=$((i + 1))
        if [ $i -le "$dead" ]; then
            case $a in *:*) fam=ip6 ;; *) fam=ip ;; esac
            nft add rule inet bench in $fam daddr "$a" tcp dport "$port" $verdict
        else
            case $a in *:*) l="tcp6:$port:interface=$(echo "$a" | sed 's/:/\\:/g')" ;;
            *) l="tcp:$port:interface=$a" ;; esac
            "$TWINE_BUILD/twined" echo --listen "$l" 2>/dev/null &
            pids="$pids $!"
        fi
    done
    eval "host_$name=$host port_$name=$port"
    scenarios="$scenarios $name"
    echo "  $name: $host = $(addresses "$host") (first $dead: $verdict)"
}

echo "== hostname: connect time with dead first addresses; median of $runs runs =="
scenario blackhole two.test 7101 1 drop
scenario reset two.test 7102 1 "reject with tcp reset"
scenario two_dead_v6 three.test 7103 2 drop
sleep 0.5 # the listeners are up

twisted_py=""
for py in /usr/bin/python3 python3; do
    if $py -c 'import twisted.internet.endpoints' 2>/dev/null; then twisted_py=$py; break; fi
done
clients="twine asyncio"
[ -n "$twisted_py" ] && clients="$clients twisted" || echo "skipped: twisted: no python3 with twisted"
command -v curl >/dev/null 2>&1 && clients="$clients curl" || echo "skipped: curl: not installed"

# once CLIENT HOST PORT: "MS ADDRESS" of one connect.
once() {
    case $1 in
    twine)
        "$TWINE_BUILD/twined" connect -v --timeout 10 "$2" "$3" </dev/null 2>&1 >/dev/null |
            sed -n 's/.*connected to \([^ ]*\) port [0-9]* in \([0-9]*\) ms.*/\2 \1/p' ;;
    asyncio) python3 "$here/he_asyncio.py" "$2" "$3" | sed -n 's/ms=\([^ ]*\) peer=\(.*\)/\1 \2/p' ;;
    twisted) $twisted_py "$here/he_twisted.py" "$2" "$3" | sed -n 's/ms=\([^ ]*\) peer=\(.*\)/\1 \2/p' ;;
    curl)
        curl -s -o /dev/null -m 10 -w '%{time_connect} %{remote_ip}\n' "http://$2:$3/" |
            awk '{printf "%.1f %s\n", $1 * 1000, $2}' ;;
    esac
}

results=$out/results.txt
: >"$results"
i=1
while [ $i -le "$runs" ]; do
    for s in $scenarios; do
        for c in $clients; do
            r=$(once "$c" "$(eval "echo \$host_$s")" "$(eval "echo \$port_$s")")
            echo "RESULT lib=$c mode=connect scenario=$s ms=${r%% *} via=${r#* }" >>"$results"
        done
    done
    i=$((i + 1))
done

echo
echo "milliseconds to connect (lower is better; ratio = client / twine)"
awk -v mode=connect -v pin="" -v key=ms -v scale=1 -v decimals=0 -v rows=scenario \
    -f "$here/../echo/echo_table.awk" "$results"
echo
echo "address that answered (last run):"
for s in $scenarios; do
    printf '  %-12s' "$s"
    for c in $clients; do
        printf ' %s=%s' "$c" "$(awk -v c="$c" -v s="$s" '$2 == "lib="c && $4 == "scenario="s {
            v = $6 } END { sub("via=", "", v); print v }' "$results")"
    done
    echo
done
