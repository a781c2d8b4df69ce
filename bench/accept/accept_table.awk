# The table of bench/accept: from the servers' RESULT lines, one row per load and pinning with the
# medians of each mode and the median of the per-round ratios adaptive/one. Pairing the two runs of
# a round cancels a noisy moment that hit both; the range of those ratios shows how much is left.

# Median (and, through lo/hi, the extremes) of the space-separated numbers in list.
function stats(list,    v, n, i, j, t) {
    n = split(list, v, " ")
    for (i = 1; i <= n; i++) {
        for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    }
    lo = v[1] + 0; hi = v[n] + 0
    return n % 2 ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
}

$1 == "RESULT" {
    delete f
    for (i = 2; i <= NF; i++) { eq = index($i, "="); f[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
    cell = f["load"] " " f["pin"]
    if (!(cell in seen)) { seen[cell] = 1; cells[++ncells] = cell }
    k = cell SUBSEP f["lib"]
    n = ++runs[k]
    conns[k, n] = f["conns_s"]; cpu[k, n] = f["cpu_ns"]
    all_conns[k] = all_conns[k] " " f["conns_s"]
    all_cpu[k] = all_cpu[k] " " f["cpu_ns"]
    all_wake[k] = all_wake[k] " " f["per_wake"]
    all_other[cell] = all_other[cell] " " (f["other"] == "" ? 0 : f["other"])
}

END {
    printf "%-7s %-6s %5s | %9s %9s %21s | %8s %8s %6s | %7s | %5s\n", "load", "pin", "pairs",
           "adaptive", "one", "adaptive/one", "adaptive", "one", "ratio", "accepts", "other"
    printf "%-7s %-6s %5s | %9s %9s %21s | %8s %8s %6s | %7s | %5s\n", "", "", "",
           "conn/s", "conn/s", "(min..max)", "ns/conn", "ns/conn", "", "/wake", "%"
    for (c = 1; c <= ncells; c++) {
        a = cells[c] SUBSEP "adaptive"; o = cells[c] SUBSEP "one"
        pairs = runs[a] < runs[o] ? runs[a] : runs[o]
        r_conns = ""; r_cpu = ""
        for (i = 1; i <= pairs; i++) {
            if (conns[o, i] > 0) r_conns = r_conns " " conns[a, i] / conns[o, i]
            if (cpu[o, i] > 0) r_cpu = r_cpu " " cpu[a, i] / cpu[o, i]
        }
        split(cells[c], lp, " ")
        ratio = stats(r_conns); ratio_lo = lo; ratio_hi = hi
        printf "%-7s %-6s %5d | %9.0f %9.0f %6.2fx (%5.2f..%5.2f) | %8.0f %8.0f %5.2fx | %7.1f | %5.1f\n",
               lp[1], lp[2], pairs, stats(all_conns[a]), stats(all_conns[o]), ratio, ratio_lo,
               ratio_hi, stats(all_cpu[a]), stats(all_cpu[o]), stats(r_cpu), stats(all_wake[a]),
               stats(all_other[cells[c]])
    }
}
