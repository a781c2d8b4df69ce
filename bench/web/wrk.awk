# Turns the report of `wrk --latency` into one RESULT line for bench/web's tables: requests/s, the
# requests counted, server CPU us per request (from the ticks run.sh measured), p50/p99 latency in us,
# bytes read per request, non-2xx responses and socket errors.
# Variables (awk -v): lib, ver, pin, size (the coordinates), ticks (server CPU ticks over the run), hz.

function us(v) { # "311.00us", "1.02ms", "1.10s", "2.00m" -> microseconds
    if (v ~ /us$/) return v + 0
    if (v ~ /ms$/) return v * 1000
    if (v ~ /s$/) return v * 1000000
    if (v ~ /m$/) return v * 60000000
    return v + 0
}

function bytes(v) { # "332.97MB" -> bytes (wrk counts in powers of 1024)
    if (v ~ /KB$/) return v * 1024
    if (v ~ /MB$/) return v * 1048576
    if (v ~ /GB$/) return v * 1073741824
    if (v ~ /TB$/) return v * 1099511627776
    return v + 0
}

/^ +50% / { p50 = us($2) }
/^ +99% / { p99 = us($2) }
/ requests in / { requests = $1; sub(/,$/, "", $5); read = bytes($5) }
/Non-2xx or 3xx responses:/ { non2xx = $NF }
/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) errors += $i }
/^Requests\/sec:/ { rps = $2 }

END {
    if (!requests) { print "wrk.awk: no request count in wrk's report" > "/dev/stderr"; exit 1 }
    printf "RESULT lib=%s ver=%s mode=wrk pin=%s size=%s reqs_s=%.0f requests=%d cpu_us=%.3f", \
        lib, ver, pin, size, rps, requests, ticks / hz * 1000000 / requests
    printf " p50_us=%.0f p99_us=%.0f bytes_per_req=%.0f non2xx=%d errors=%d\n", \
        p50, p99, read / requests, non2xx, errors
}
