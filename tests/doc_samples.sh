#!/usr/bin/env bash
# Docs are code: every ```c block of README.md and docs/*.md is compiled as a complete program with
# the project's warning flags against the built library, and run; it must exit 0. A block that
# cannot stand alone says so in its opening line, ```c fragment, and is skipped.
#
# Samples are compiled as a user's program is: -D_GNU_SOURCE is left out, so a sample that calls
# a POSIX function without asking for it (strdup under -std=c11) fails here, not for a reader.
# A sample runs with stdin at end of file; one still running after SAMPLE_RUN seconds (a server) is
# sent SIGINT and must then stop cleanly, with status 0; any sample still running after
# SAMPLE_TIMEOUT seconds fails.
#
# Environment (the Makefile's test target sets it): CC, CFLAGS, LDFLAGS, LIBS, TWINE_LIB (the
# libtwine.a to link), SAMPLE_DIR (where programs are built), SAMPLE_RUN, SAMPLE_TIMEOUT (whole
# seconds).
set -u
cd "$(dirname "$0")/.."

CC=${CC:-cc}
CFLAGS=${CFLAGS:-"-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes"}
LDFLAGS=${LDFLAGS:-}
LIBS=${LIBS:-"-lpthread -lresolv -lm"}
TWINE_LIB=${TWINE_LIB:-build/epoll/libtwine.a}
SAMPLE_DIR=${SAMPLE_DIR:-build/doc_samples}
SAMPLE_RUN=${SAMPLE_RUN:-1}
SAMPLE_TIMEOUT=${SAMPLE_TIMEOUT:-20}
CFLAGS=$(printf '%s\n' $CFLAGS | grep -vx -- '-D_GNU_SOURCE' | tr '\n' ' ')

rm -rf "$SAMPLE_DIR"
mkdir -p "$SAMPLE_DIR"
SAMPLE_DIR=$(cd "$SAMPLE_DIR" && pwd)

# Each block goes to SAMPLE_DIR/N.c, and a line "N FILE LINE" (LINE: its opening fence) to index;
# a fragment goes to fragments as "FILE LINE".
awk -v dir="$SAMPLE_DIR" '
    !in_block && /^```c[ \t]*$/ {
        in_block = 1; n++; out = dir "/" n ".c"
        print n, FILENAME, FNR > (dir "/index"); next
    }
    !in_block && /^```c[ \t]+fragment[ \t]*$/ {
        in_block = 2; print FILENAME, FNR > (dir "/fragments"); next
    }
    in_block && /^```[ \t]*$/ { if (in_block == 1) close(out); in_block = 0; next }
    in_block == 1 { print > out }
' README.md docs/*.md
touch "$SAMPLE_DIR/index" "$SAMPLE_DIR/fragments"

# Runs a sample program and returns its exit status. One still running after SAMPLE_RUN seconds
# gets SIGINT once it has printed something (a server says where it listens only after installing
# its signal handlers, so the signal cannot come too early); after SAMPLE_TIMEOUT it is killed.
run_sample() {
    local prog=$1 ticks=0 signalled=0
    (cd "$SAMPLE_DIR" && exec "$prog" < /dev/null > "$prog.log" 2>&1) &
    local pid=$!
    while kill -0 "$pid" 2> /dev/null; do           # one tick: 50 ms at least
        if [ "$ticks" -ge $((SAMPLE_TIMEOUT * 20)) ]; then
            echo "(killed after $SAMPLE_TIMEOUT s)" >> "$prog.log"
            kill -KILL "$pid"
            break
        fi
        if [ "$signalled" -eq 0 ] && [ "$ticks" -ge $((SAMPLE_RUN * 20)) ] &&
            [ -s "$prog.log" ]; then
            kill -INT "$pid"
            signalled=1
        fi
        sleep 0.05
        ticks=$((ticks + 1))
    done
    wait "$pid"
}

# Compiles sample n; prints why it failed, if it did, and returns non-zero.
compile_sample() {
    local n=$1 where=$2 prog="$SAMPLE_DIR/$1"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -Iinclude -o "$prog" "$prog.c" $LDFLAGS "$TWINE_LIB" $LIBS \
        > "$prog.log" 2>&1; then
        echo "doc sample $where does not compile:"
        sed 's/^/    /' "$prog.log"
        return 1
    fi
}

# Runs compiled sample n; prints why it failed, if it did.
check_run() {
    local n=$1 where=$2 prog="$SAMPLE_DIR/$1" status=0
    [ -x "$prog" ] || return 0 # did not compile: reported already
    run_sample "$prog" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "doc sample $where exits with status $status:"
        sed 's/^/    /' "$prog.log"
    fi
}

# Compiles two at a time (the machine's cores), then runs them all at once (they mostly wait);
# each writes its report to its own file.
pids=()
while read -r n file line; do
    compile_sample "$n" "$file:$line" > "$SAMPLE_DIR/$n.report" &
    pids+=("$!")
    if [ "${#pids[@]}" -ge 2 ]; then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
    fi
done < "$SAMPLE_DIR/index"
wait
while read -r n file line; do
    check_run "$n" "$file:$line" >> "$SAMPLE_DIR/$n.report" &
done < "$SAMPLE_DIR/index"
wait

failed=0
total=$(wc -l < "$SAMPLE_DIR/index")
for report in "$SAMPLE_DIR"/*.report; do
    [ -s "$report" ] || continue
    cat "$report"
    failed=$((failed + 1))
done
if [ "$failed" -ne 0 ]; then
    echo "doc samples: $failed of $total failed"
    exit 1
fi
echo "doc samples: $total compiled and ran, $(wc -l < "$SAMPLE_DIR/fragments") marked as fragments"
