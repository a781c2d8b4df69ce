# The table of bench/accept: from the servers' RESULT lines, one row per load and pinning with the
# medians of each mode and the median of the per-round ratios adaptive/one. Pairing the two runs of
# a round cancels a noisy moment that hit both; the range of those ratios shows how much is left.
# A pair in which other programs took more than max_other % of the machine (awk -v max_other=20)
# is left out, unless every pair of the row was that busy; "pairs" says how many were kept.

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
    conns[k, n] = f["conns_s"]; cpu[k, n] = f["cpu_ns"]; wake[k, n] = f["per_wake"]
    other[k, n] = f["other"] + 0
}

# Gathers the kept pairs of cell c into the lists ca co (conn/s), pa po (CPU), rc rp (ratios),
# wa (accepts per wake), ot (other); returns how many pairs were kept.
function gather(c, busy_ok,    a, o, i, kept) {
    a = cells[c] SUBSEP "adaptive"; o = cells[c] SUBSEP "one"
    ca = co = pa = po = rc = rp = wa = ot = ""
    total = runs[a] < runs[o] ? runs[a] : runs[o]
    for (i = 1; i <= total; i++) {
        if (!busy_ok && (other[a, i] > max_other || other[o, i] > max_other)) continue
        kept++
        ca = ca " " conns[a, i]; co = co " " conns[o, i]
        pa = pa " " cpu[a, i]; po = po " " cpu[o, i]
        if (conns[o, i] > 0) rc = rc " " conns[a, i] / conns[o, i]
        if (cpu[o, i] > 0) rp = rp " " cpu[a, i] / cpu[o, i]
        wa = wa " " wake[a, i]; ot = ot " " other[a, i] " " other[o, i]
    }
    return kept
}

END {
    if (max_other == "") max_other = 20
    printf "%-7s %-6s %5s | %9s %9s %21s | %8s %8s %6s | %7s | %5s\n", "load", "pin", "pairs",
           "adaptive", "one", "adaptive/one", "adaptive", "one", "ratio", "accepts", "other"
    printf "%-7s %-6s %5s | %9s %9s %21s | %8s %8s %6s | %7s | %5s\n", "", "", "",
           "conn/s", "conn/s", "(min..max)", "ns/conn", "ns/conn", "", "/wake", "%"
    for (c = 1; c <= ncells; c++) {
        kept = gather(c, 0)
        if (kept == 0) kept = gather(c, 1)
        split(cells[c], lp, " ")
        ratio = stats(rc); ratio_lo = lo; ratio_hi = hi
        printf "%-7s %-6s %2d/%-2d | %9.0f %9.0f %6.2fx (%5.2f..%5.2f) | %8.0f %8.0f %5.2fx | %7.1f | %5.1f\n",
               lp[1], lp[2], kept, total, stats(ca), stats(co), ratio, ratio_lo, ratio_hi,
               stats(pa), stats(po), stats(rp), stats(wa), stats(ot)
    }
}
