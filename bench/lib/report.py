#!/usr/bin/env python3
"""Makes docs/benchmarks.md and docs/benchmarks.svg from the benchmarks' figures.

Each benchmark keeps the figures the page shows in bench/NAME/figures.txt: RESULT lines as the
benchmark prints them (bench/lib/bench.h), one per run, plus "# measured: ..." lines saying where
and how. The page is bench/lib/benchmarks.md.in with each "{{table NAME}}" replaced by a table of
medians (the TABLES below say which figures) and "{{chart}}" by a link to the chart, an SVG bar
chart of the echo server's CPU per message.

  report.py                          remake the page and the chart from the committed figures
  report.py --update-from DIR NAME.. first copy DIR/NAME/results.txt (a run's results) into
                                     bench/NAME/figures.txt, for each NAME that has results
  report.py --check                  fail if the page or the chart differ from what the figures give

Only Python's standard library is used.
"""
import argparse
import os
import platform
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TEMPLATE = os.path.join(ROOT, "bench", "lib", "benchmarks.md.in")
PAGE = os.path.join(ROOT, "docs", "benchmarks.md")
CHART = os.path.join(ROOT, "docs", "benchmarks.svg")
BASE = "twine"  # the library every ratio is taken against, unless a table names another

FIGURES_HEAD = """\
# The figures docs/benchmarks.md shows for bench/{name}, as RESULT lines (bench/lib/bench.h):
# `make bench` replaces this file with its run's results and remakes the page from it.
"""


# ---- figures ----------------------------------------------------------------------------------

def read_figures(name):
    """(records, measured): the RESULT lines of bench/NAME/figures.txt as dicts, and its
    "# measured:" notes."""
    records, measured = [], []
    path = os.path.join(ROOT, "bench", name, "figures.txt")
    if not os.path.exists(path):
        return records, measured
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# measured:"):
                measured.append(line[len("# measured:"):].strip())
            elif line.startswith("RESULT "):
                records.append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
    return records, measured


def update_figures(results_dir, names):
    """Copies each NAME's latest results into bench/NAME/figures.txt, with a note of where."""
    backend = os.path.basename(os.path.normpath(results_dir.rstrip("/").rsplit("/bench", 1)[0]))
    note = "# measured: %s, %s %s, %d CPUs, twine %s backend, `make bench`, BENCH_RUNS=%s\n" % (
        time.strftime("%Y-%m-%d"), platform.system(), platform.release(), os.cpu_count() or 1,
        backend, os.environ.get("BENCH_RUNS", "3"))
    for name in names:
        path = os.path.join(results_dir, name, "results.txt")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f if l.startswith("RESULT ")]
        if not lines:
            continue
        with open(os.path.join(ROOT, "bench", name, "figures.txt"), "w", encoding="utf-8") as f:
            f.write(FIGURES_HEAD.format(name=name) + note + "".join(lines))
        print("bench/%s/figures.txt: %d results from %s" % (name, len(lines), path))


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def matches(record, where):
    return all(record.get(k) == v for k, v in where.items())


def order_of(records, key):
    """The values of key in order of first appearance."""
    seen = []
    for r in records:
        if key in r and r[key] not in seen:
            seen.append(r[key])
    return seen


def figure(records, where, key):
    """The median of key over the records that match where, or None."""
    vals = [float(r[key]) for r in records if matches(r, where) and key in r]
    vals = [v for v in vals if v == v]  # NaN: not measured
    return median(vals) if vals else None


def number(v, decimals):
    return "-" if v is None else "{:,.{d}f}".format(v, d=decimals)


def ratio(v, base):
    return "" if v is None or not base else "%.2fx" % (v / base)


# ---- tables -----------------------------------------------------------------------------------
# "libs": one row per library (per group value first, when "group" is given), one column per
# figure, and a last column with one figure's ratio against the base library of the same group.
# "matrix": one row per combination of the "rows" keys, one column per library, each cell the
# median and its ratio against the base library.

TABLES = {
    "echo_cpu": dict(bench="echo", kind="matrix", note=False,
                     where={"mode": "pingpong", "pin": "same"},
                     rows=["conns", "size"], key="cpu", decimals=0,
                     row_label=lambda r: "%s x %s" % (r["conns"], size_text(r["size"])),
                     head="conns x size"),
    "echo_other": dict(bench="echo", kind="libs", cols=[
        ("connections/s", {"mode": "churn", "pin": "same"}, "conns_s", 0, True),
        ("bytes per idle connection", {"mode": "idle"}, "rss_per_conn", 0, True),
        ("syscalls per message", {"mode": "strace", "what": "msg-1conn"}, "per", 2, True)]),
    "web_rps": dict(bench="web", kind="matrix", note=False, where={"mode": "wrk", "pin": "1core"},
                    rows=["size"], key="reqs_s", decimals=0,
                    row_label=lambda r: size_text(r["size"]), head="file"),
    "web_cpu": dict(bench="web", kind="matrix", note=False, where={"mode": "wrk", "pin": "1core"},
                    rows=["size"], key="cpu_us", decimals=2,
                    row_label=lambda r: size_text(r["size"]), head="file"),
    "web_other": dict(bench="web", kind="libs", cols=[
        ("req/s 1 KiB, 2 cores", {"mode": "wrk", "pin": "2cores", "size": "1024"}, "reqs_s", 0, True),
        ("req/s 64 KiB, 2 cores", {"mode": "wrk", "pin": "2cores", "size": "65536"}, "reqs_s", 0,
         True),
        ("CPU us/req 1 KiB, 2 cores", {"mode": "wrk", "pin": "2cores", "size": "1024"}, "cpu_us", 2,
         True),
        ("CPU us/req 64 KiB, 2 cores", {"mode": "wrk", "pin": "2cores", "size": "65536"}, "cpu_us",
         2, True),
        ("bytes per idle connection", {"mode": "idle"}, "rss_per_conn", 0, True)]),
    "timers": dict(bench="timers", kind="libs", note=False, cols=[
        ("add ns", {}, "add", 1, False), ("cancel ns", {}, "cancel", 1, False),
        ("fire ns", {}, "fire", 1, False), ("total ns/op", {}, "total", 1, False),
        ("peak RSS MB", {}, "rss", 1, False)], ratio=("total vs twine", "total")),
    "timers_tick": dict(bench="timers", kind="libs", cols=[("tick ns", {}, "tick", 1, False)],
                        ratio=("tick vs twine", "tick")),
    "deferred": dict(bench="deferred", kind="libs", cols=[
        ("ns/deferred", {}, "ns", 1, False), ("allocations/deferred", {}, "allocs", 2, False)],
        ratio=("ns vs twine", "ns")),
    "accept": dict(bench="accept", kind="libs", group=["load", "pin"], base="one", cols=[
        ("conn/s", {}, "conns_s", 0, False), ("server CPU ns/conn", {}, "cpu_ns", 0, False),
        ("accepts/wake", {}, "per_wake", 1, False)], ratio=("CPU vs one", "cpu_ns")),
    "mx": dict(bench="mx", kind="libs", group=["conc"], cols=[
        ("wall ms", {}, "wall_ms", 1, False), ("peak RSS MB", {}, "rss", 1, False)],
        ratio=("wall vs twine", "wall_ms")),
}


def size_text(size):
    n = int(size)
    return "%d KiB" % (n // 1024) if n >= 1024 and n % 1024 == 0 else "%d B" % n


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def libs_table(spec, records):
    groups = [{}]
    for key in spec.get("group", []):
        groups = [dict(g, **{key: v}) for g in groups for v in order_of(records, key)]
    base_lib = spec.get("base", BASE)
    head = spec.get("group", []) + ["lib"] + [c[0] for c in spec["cols"]]
    if "ratio" in spec:
        head.append(spec["ratio"][0])
    rows = []
    for g in groups:
        for lib in order_of([r for r in records if matches(r, g)], "lib"):
            row = [g[k] for k in spec.get("group", [])] + [lib]
            for _, where, key, decimals, with_ratio in spec["cols"]:
                w = dict(where, **g)
                v = figure(records, dict(w, lib=lib), key)
                cell = number(v, decimals)
                if with_ratio and lib != base_lib and v is not None:
                    r = ratio(v, figure(records, dict(w, lib=base_lib), key))
                    cell += " (%s)" % r if r else ""
                row.append(cell)
            if "ratio" in spec:
                key = spec["ratio"][1]
                row.append(ratio(figure(records, dict(g, lib=lib), key),
                                 figure(records, dict(g, lib=base_lib), key)) or "-")
            if any(c != "-" for c in row[len(g) + 1:]):
                rows.append(row)
    return head, rows


def matrix_data(spec, records):
    """(libs, [(row label, [median or None per lib])]) of a matrix table."""
    recs = [r for r in records if matches(r, spec["where"])]
    libs = order_of(recs, "lib")
    combos = []
    for r in recs:
        combo = {k: r.get(k) for k in spec["rows"]}
        if combo not in combos:
            combos.append(combo)
    data = []
    for combo in combos:
        data.append((spec["row_label"](combo),
                     [figure(recs, dict(combo, lib=lib), spec["key"]) for lib in libs]))
    return libs, data


def matrix_table(spec, records):
    libs, data = matrix_data(spec, records)
    base = libs.index(BASE) if BASE in libs else None
    rows = []
    for label, values in data:
        row = [label]
        for i, v in enumerate(values):
            cell = number(v, spec["decimals"])
            if base is not None and i != base and v is not None:
                cell += " (%s)" % ratio(v, values[base])
            row.append(cell)
        rows.append(row)
    return [spec["head"]] + libs, rows


def table(name):
    spec = TABLES[name]
    records, measured = read_figures(spec["bench"])
    head, rows = (matrix_table if spec["kind"] == "matrix" else libs_table)(spec, records)
    if not rows:
        return "_Not measured yet: `make bench BENCH=%s` records it._" % spec["bench"]
    text = md_table(head, rows)
    if measured and spec.get("note", True):  # a bench's last table says where it was measured
        text += "\n\n_Measured: %s._" % "; ".join(m.rstrip(".") for m in measured)
    return text


# ---- the chart --------------------------------------------------------------------------------

COLORS = ["#1b6ca8", "#7f7f7f", "#e07b39", "#9b59b6", "#2e9e5b", "#c0392b", "#b8860b", "#17becf"]


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ceiling(v):
    """A round number at or above v for the top of the axis: 1, 2 or 5 times a power of ten."""
    step = 10 ** (len("%d" % max(1, int(v))) - 1)
    for m in (1, 2, 5, 10):
        if m * step >= v:
            return m * step
    return 10 * step


def chart():
    """An SVG grouped bar chart of the echo server's CPU per message."""
    spec = TABLES["echo_cpu"]
    libs, data = matrix_data(spec, read_figures(spec["bench"])[0])
    w, h, left, right, top, bottom = 820, 420, 70, 20, 70, 50
    plot_w, plot_h = w - left - right, h - top - bottom
    top_value = nice_ceiling(max([v for _, vs in data for v in vs if v is not None] or [1]))
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (w, h, w, h),
           '<rect width="%d" height="%d" fill="white"/>' % (w, h),
           '<text x="%d" y="22" font-size="15" font-weight="bold">Server CPU per echoed message, '
           'ns (lower is better; one core)</text>' % left]
    for i in range(6):  # the value axis, with grid lines
        v = top_value * i / 5
        y = top + plot_h - plot_h * i / 5
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>'
                   % (left, y, w - right, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                   % (left - 6, y + 4, "{:,.0f}".format(v)))
    for i, lib in enumerate(libs):  # the legend
        x = left + i * 110
        out.append('<rect x="%d" y="36" width="12" height="12" fill="%s"/>'
                   % (x, COLORS[i % len(COLORS)]))
        out.append('<text x="%d" y="46">%s</text>' % (x + 16, esc(lib)))
    group_w = plot_w / max(1, len(data))
    bar_w = group_w * 0.8 / max(1, len(libs))
    for g, (label, values) in enumerate(data):
        x0 = left + g * group_w + group_w * 0.1
        for i, v in enumerate(values):
            if v is None:
                continue
            bh = plot_h * v / top_value
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                       '<title>%s, %s: %s ns</title></rect>'
                       % (x0 + i * bar_w, top + plot_h - bh, bar_w - 1, bh,
                          COLORS[i % len(COLORS)], esc(libs[i]), esc(label),
                          "{:,.0f}".format(v)))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (x0 + group_w * 0.4, top + plot_h + 18, esc(label)))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">connections x message size</text>'
               % (left + plot_w / 2, h - 8))
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- the page ---------------------------------------------------------------------------------

def page():
    with open(TEMPLATE, encoding="utf-8") as f:
        text = f.read()
    head = ("<!-- Generated by bench/lib/report.py from bench/*/figures.txt and "
            "bench/lib/benchmarks.md.in (make bench, make bench-report). -->\n\n")
    text = text.replace("{{chart}}", "![Server CPU per echoed message](benchmarks.svg)")
    for name in TABLES:
        text = text.replace("{{table %s}}" % name, table(name))
    if "{{" in text:
        raise SystemExit("report.py: unknown placeholder in %s: %s"
                         % (TEMPLATE, text[text.index("{{"):].split("}}")[0] + "}}"))
    return head + text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--update-from", metavar="DIR")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    if args.update_from:
        update_figures(args.update_from, args.names)
    made = {PAGE: page(), CHART: chart()}
    if args.check:
        stale = []
        for path, text in made.items():
            if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
                stale.append(os.path.relpath(path, ROOT))
        if stale:
            print("%s out of date with bench/*/figures.txt: run `make bench-report` and commit"
                  % " and ".join(stale))
            return 1
        print("docs/benchmarks.md and docs/benchmarks.svg match bench/*/figures.txt")
        return 0
    for path, text in made.items():
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    print("wrote docs/benchmarks.md and docs/benchmarks.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
