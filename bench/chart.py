#!/usr/bin/env python3
"""Draws an SVG bar chart per benchmark from its JSON result (no plotting library needed).

usage: bench/chart.py [--quick]   (reads results/{throughput,reload,startup}[-quick].json, writes the .svg next to them)
"""
import argparse, json, os, sys
from xml.sax.saxutils import escape

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
COLOURS = ["#3b6ea8", "#e07b39", "#5a9e4b", "#b8474b", "#7c5ba6"]


def bar_chart(title, unit, bars, note=""):
    """bars: [(label, value, caption)]. Horizontal bars scaled to the largest value."""
    width, left, row, top = 1180, 360, 34, 50
    height = top + row * len(bars) + 40
    largest = max(value for _, value, _ in bars) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="12" y="26" font-size="16" font-weight="bold">{escape(title)}</text>']
    for i, (label, value, caption) in enumerate(bars):
        y = top + i * row
        length = (width - left - 420) * value / largest
        out.append(f'<text x="{left - 10}" y="{y + 17}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="20" fill="{COLOURS[i % len(COLOURS)]}"/>')
        out.append(f'<text x="{left + length + 8:.1f}" y="{y + 17}">{escape(caption or f"{value:,.0f} {unit}")}</text>')
    if note:
        out.append(f'<text x="12" y="{height - 12}" font-size="11" fill="#555">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def load(name, quick):
    path = os.path.join(RESULTS, f"{name}-quick.json" if quick else f"{name}.json")
    return json.load(open(path)) if os.path.exists(path) else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    suffix = "-quick" if args.quick else ""
    written = []

    if (t := load("throughput", args.quick)):
        bars = [(f"{c['group']}: {c['case']}"[:48], c.get("ratio", 1.0),
                 f"{c.get('ratio', 1.0):.2f}x, {c['requests_per_second']:,.0f} req/s, {c['cpu_us_per_request']:.0f} us CPU/req, p99 {c['p99_ms']:.1f} ms")
                for c in t["cases"]]
        m = t["machine"]
        note = (f"bench/BenchHttp, {m['cpus']} CPUs ({m['cpu_model']}), server on CPUs {t['server_cpus']}, wrk on {t['client_cpus']}, "
                f"{t['wrk']['connections']} connections, {t['wrk']['rounds']} x {t['wrk']['seconds']} s; ratio to each group's first case")
        written.append(("throughput", bar_chart("Throughput: each case as a ratio to its baseline", "x", bars, note)))
    if (r := load("reload", args.quick)):
        bars = [(f"{c['mode']} {c['strategy']}", c["reload_ms_p50"],
                 f"p50 {c['reload_ms_p50']:.0f} ms, max {c['reload_ms_max']:.0f} ms, {c['failed_requests']} failed of ~{c['requests']:,}")
                for c in r["cases"]]
        written.append(("reload", bar_chart("Reload under load: duration and failed requests", "ms", bars,
                                            f"{r['app']}, {r['workers']} workers, {r['load']}, {r['cases'][0]['reloads']} reloads per case")))
    if (s := load("startup", args.quick)):
        bars = [(f"{x['build']}, {x['workers']} worker(s)", x["start_until_ready_ms_median"],
                 f"{x['start_until_ready_ms_median']:,.0f} ms; master {x['master_rss_mib']:.1f} MiB, {x['master_threads']} threads; ps {x['ps_command_ms_median']:.0f} ms")
                for x in s["results"]]
        written.append(("startup", bar_chart("Start-up: `gopherpack start` until every worker is ready, JIT vs native", "ms", bars,
                                             f"contract test worker, {s['cpus']} CPUs, median of {s['results'][0]['runs']} runs")))
    for name, svg in written:
        path = os.path.join(RESULTS, f"{name}{suffix}.svg")
        with open(path, "w") as f:
            f.write(svg)
        print(f"chart: {os.path.relpath(path)}")
    if not written:
        print("chart: no results to draw; run the benchmarks first", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
