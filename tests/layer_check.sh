#!/usr/bin/env bash
# The layer rule (DESIGN.md, docs/architecture.md): reactor <- deferred <- transport <- endpoints <-
# protocols <- cli, each file including only headers of its own layer or of a layer below it (a
# lower layer's private headers too). Every #include "..." and <twine/...> of the library, cli/ and
# include/twine/ is checked; the public headers are sorted by layer in the table below, and a new
# one must be placed there. With OBJ_DIR (build/BACKEND/obj), the objects are checked too: none may
# use a symbol that an object of a higher layer defines (a declaration written by hand would pass
# the include check). The check first proves on planted violations that it catches them.
# Run by `make test`.
set -u
cd "$(dirname "$0")/.."

LAYERS="reactor deferred transport endpoints protocols cli"

# The public headers of each layer (a name whose file does not exist yet is harmless). twine.h
# includes them all: it sits at the top, with cli/.
PUBLIC="
reactor:   error.h failure.h reactor.h version.h testing_clock.h
deferred:  deferred.h task.h
transport: protocol.h transport.h datagram.h testing_transport.h
endpoints: strports.h endpoints.h testing_endpoints.h
protocols: framing.h policies.h dns.h http.h
cli:       twine.h testing.h
"

# check_tree ROOT: prints every violation under ROOT; fails if there is one.
check_tree() {
    local root=$1
    (cd "$root" && for l in $LAYERS include/twine; do
        if [ -d "$l" ]; then find "$l" -name '*.[ch]'; fi
    done) | sort | awk -v root="$root" -v layers="$LAYERS" -v public="$PUBLIC" '
    function exists(path,   line, rc) {
        rc = (getline line < path)
        close(path)
        return rc >= 0
    }
    # The layer of a file (path relative to root), "" when it has none.
    function file_layer(path,   top) {
        if (path ~ /^include\/twine\//) {
            sub(/^include\/twine\//, "", path)
            return path in pub ? pub[path] : ""
        }
        top = path
        sub(/\/.*/, "", top)
        return top in rank ? top : ""
    }
    # The layer of what file includes: "system" outside twine, "" for a twine header in no layer.
    function included_layer(file, kind, name,   dir, top) {
        dir = file
        sub(/\/[^\/]*$/, "", dir)
        if (name ~ /^twine\//) {
            sub(/^twine\//, "", name)
            return name in pub ? pub[name] : ""
        }
        if (kind == "<")
            return "system"
        if (dir == "include/twine" && exists(root "/include/twine/" name))
            return name in pub ? pub[name] : ""
        top = name
        sub(/\/.*/, "", top)
        if (top in rank && name ~ /\//)
            return top
        if (exists(root "/" dir "/" name))
            return file_layer(dir "/" name)
        return ""
    }
    BEGIN {
        n = split(layers, l, " ")
        for (i = 1; i <= n; i++)
            rank[l[i]] = i
        m = split(public, w, /[ \n]+/)
        for (i = 1; i <= m; i++) {
            if (w[i] ~ /:$/)
                layer = substr(w[i], 1, length(w[i]) - 1)
            else if (w[i] != "")
                pub[w[i]] = layer
        }
    }
    {
        file = $0
        layer = file_layer(file)
        if (layer == "") {
            print file ": a public header with no layer: add it to PUBLIC in tests/layer_check.sh"
            bad = 1
            next
        }
        path = root "/" file
        while ((getline line < path) > 0) {
            if (line !~ /^[ \t]*#[ \t]*include[ \t]*[<"]/)
                continue
            sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
            kind = substr(line, 1, 1)
            name = substr(line, 2)
            sub(/[>"].*/, "", name)
            what = included_layer(file, kind, name)
            if (what == "system")
                continue
            if (what == "") {
                print file " (" layer "): includes " name ", which is in no layer"
                bad = 1
            } else if (rank[what] > rank[layer]) {
                print file " (" layer "): includes " name " of " what ", a higher layer"
                bad = 1
            }
        }
        close(path)
    }
    END { exit bad }'
}

# check_symbols OBJ: prints every use by an object under OBJ/LAYER/ of a symbol defined by an object
# of a higher layer; fails if there is one.
check_symbols() {
    local obj=$1 src=${2:-} l o
    for l in $LAYERS; do
        if [ -d "$obj/$l" ]; then find "$obj/$l" -name '*.o'; fi
    done | while read -r o; do
        # An object left behind by a source that moved or went away is not part of the library.
        if [ -z "$src" ] || [ -f "$src/$(printf '%s' "${o#"$obj"/}" | sed 's/\.o$/.c/')" ]; then
            echo "$o"
        fi
    done | xargs -r nm -A -g | awk -v obj="$obj/" -v layers="$LAYERS" '
    BEGIN {
        n = split(layers, l, " ")
        for (i = 1; i <= n; i++)
            rank[l[i]] = i
    }
    {
        colon = index($0, ":")
        file = substr($0, 1, colon - 1)
        nf = split(substr($0, colon + 1), f, " ")
        type = f[nf - 1]
        name = f[nf]
        layer = substr(file, length(obj) + 1)
        sub(/\/.*/, "", layer)
        if (type == "U") {
            users[++nuses] = name
            user_file[nuses] = file
            user_layer[nuses] = layer
        } else if (type ~ /^[A-TV-Z]$/) {
            def[name] = layer
        }
    }
    END {
        for (i = 1; i <= nuses; i++) {
            name = users[i]
            if (name in def && rank[def[name]] > rank[user_layer[i]]) {
                print user_file[i] " (" user_layer[i] "): uses " name " of " def[name] \
                      ", a higher layer"
                bad = 1
            }
        }
        exit bad
    }'
}

# expect OUTPUT LINE...: OUTPUT holds exactly these lines, each at the start of one of its lines.
expect() {
    local out=$1 line
    shift
    [ "$(printf '%s\n' "$out" | grep -c .)" -eq $# ] || return 1
    for line in "$@"; do
        printf '%s\n' "$out" | grep -qF -- "$line" || return 1
    done
}

# The check catches what it is for: a reactor file reaching up into transport/ (directly and through
# its own private header), a deferred file including the umbrella header, a reactor public header
# including a deferred one; and an object of the reactor calling a function of transport/.
self_test() {
    local t ok=0
    t=$(mktemp -d) || return 1
    mkdir -p "$t/reactor" "$t/deferred" "$t/transport" "$t/include/twine"
    printf '#include "transport/net.h"\n#include "reactor/ok.h"\n' > "$t/reactor/up.c"
    printf '#include "deferred/x.h"\n' > "$t/reactor/ok.h"
    printf '#include <twine/twine.h>\n#include "reactor/ok.h"\n' > "$t/deferred/up.c"
    printf '#include "deferred.h"\n#include <stdint.h>\n' > "$t/include/twine/reactor.h"
    : > "$t/include/twine/deferred.h"
    : > "$t/transport/net.h"
    expect "$(check_tree "$t")" \
        "reactor/up.c (reactor): includes transport/net.h of transport" \
        "reactor/ok.h (reactor): includes deferred/x.h of deferred" \
        "deferred/up.c (deferred): includes twine/twine.h of cli" \
        "include/twine/reactor.h (reactor): includes deferred.h of deferred" || ok=1
    if [ -n "${OBJ_DIR:-}" ]; then
        mkdir -p "$t/obj/reactor" "$t/obj/transport"
        echo 'void tw__up(void); void tw__down(void) { tw__up(); }' |
            ${CC:-cc} -c -x c -o "$t/obj/reactor/down.o" - || ok=1
        echo 'void tw__down(void); void tw__up(void) { tw__down(); }' |
            ${CC:-cc} -c -x c -o "$t/obj/transport/up.o" - || ok=1
        expect "$(check_symbols "$t/obj")" \
            "$t/obj/reactor/down.o (reactor): uses tw__up of transport" || ok=1
    fi
    rm -rf "$t"
    return $ok
}

if ! self_test; then
    echo "layer check: the check misses planted violations"
    exit 1
fi
bad=0
check_tree . || bad=1
if [ -n "${OBJ_DIR:-}" ]; then check_symbols "$OBJ_DIR" . || bad=1; fi
if [ $bad = 1 ]; then
    echo "layer check: the layer rule is broken (above)"
    exit 1
fi
