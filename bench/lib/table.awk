# Turns RESULT lines (from bench.h's bench_result_*) into a table: one row per library in order of
# first appearance, the median of each column over all runs, and a ratio column against a baseline.
# Variables (awk -v): cols="add cancel fire total" (keys to show), labels="add ns|cancel ns|..."
# (headers, '|'-separated, same order), base=twine (the baseline lib), ratio=total (key to compare),
# ratio_label="total vs twine". Lines that are not RESULT lines are ignored.

function median(list,    n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) {            # insertion sort: a handful of runs at most
        t = v[i] + 0
        for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    if (n % 2) return v[(n + 1) / 2] + 0
    return (v[n / 2] + v[n / 2 + 1]) / 2
}

$1 == "RESULT" {
    delete f
    for (i = 2; i <= NF; i++) {
        eq = index($i, "=")
        if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
    lib = f["lib"]
    if (!(lib in seen)) { seen[lib] = 1; order[++nlibs] = lib; ver[lib] = f["ver"] }
    runs[lib]++
    for (k in f) vals[lib, k] = vals[lib, k] " " f[k]
}

END {
    ncols = split(cols, c, " ")
    split(labels, l, "|")
    printf "%-10s %-14s %4s", "lib", "version", "runs"
    for (i = 1; i <= ncols; i++) printf " %12s", l[i]
    printf " %15s\n", ratio_label
    has_base = (base in seen)
    if (has_base) basev = median(vals[base, ratio])
    for (r = 1; r <= nlibs; r++) {
        lib = order[r]
        printf "%-10s %-14s %4d", lib, ver[lib], runs[lib]
        for (i = 1; i <= ncols; i++) printf " %12.1f", median(vals[lib, c[i]])
        if (has_base && basev > 0) printf " %14.2fx\n", median(vals[lib, ratio]) / basev
        else printf " %15s\n", "-"
    }
}
