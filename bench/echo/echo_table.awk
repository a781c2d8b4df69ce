# Tables of the echo benchmark from RESULT lines: one row per combination of the `rows` keys (e.g.
# "conns size"), one column per library (order of first appearance), each cell the median over the
# rounds and, for every library but twine, its ratio to twine's median in the same row.
# Variables (awk -v): mode (RESULT mode=), pin ("" for any), key (the figure), scale (divide by),
# decimals, rows (keys naming a row).

function med(list,    n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) {
        t = v[i] + 0
        for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

$1 == "RESULT" {
    delete f
    for (i = 2; i <= NF; i++) {
        eq = index($i, "=")
        f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    if (f["mode"] != mode || (pin != "" && f["pin"] != pin) || !(key in f)) next
    nk = split(rows, rk, " ")
    row = ""
    for (i = 1; i <= nk; i++) row = row (i > 1 ? " " : "") rk[i] "=" f[rk[i]]
    if (!(row in row_seen)) { row_seen[row] = 1; row_order[++nrows] = row }
    lib = f["lib"]
    if (!(lib in lib_seen)) { lib_seen[lib] = 1; lib_order[++nlibs] = lib }
    vals[row, lib] = vals[row, lib] " " f[key]
}

END {
    if (nrows == 0) { print "  (no results)"; exit }
    printf "  %-20s", ""
    for (l = 1; l <= nlibs; l++) printf " %17s", lib_order[l]
    printf "\n"
    for (r = 1; r <= nrows; r++) {
        row = row_order[r]
        printf "  %-20s", row
        base = ((row, "twine") in vals) ? med(vals[row, "twine"]) : 0
        for (l = 1; l <= nlibs; l++) {
            lib = lib_order[l]
            if (!((row, lib) in vals)) { printf " %17s", "-"; continue }
            m = med(vals[row, lib])
            cell = sprintf("%." decimals "f", m / scale)
            if (lib != "twine" && base > 0) cell = cell sprintf(" %5.2fx", m / base)
            printf " %17s", cell
        }
        printf "\n"
    }
}
