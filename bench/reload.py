#!/usr/bin/env python3
"""Reload under load: wrk drives HelloHttp (a pack of 2) while `gopherpack reload` runs N times with
each strategy; reports failed requests (wrk's socket errors and non-2xx answers) and reload duration
p50/max. Writes results/reload.json and prints a summary.

usage: bench/reload.py [--quick] [--reloads N] [--mode shared|reuseport]
"""
import argparse, os, statistics, subprocess, sys, threading, time
from common import hello_manifest, CLI, Pack, build, free_port, wait_http, write_result, wrk


def reload_many(pack, strategy, count):
    durations = []
    for _ in range(count):
        started = time.monotonic()
        result = subprocess.run(["dotnet", CLI, "reload", "bench-reload", "--strategy", strategy, "--runtime-dir", pack.runtime_dir],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"reload failed ({result.returncode}): {result.stderr}")
        # The master's own figure, from the reply: "... generation N serves (surge, 326 ms)".
        durations.append(float(result.stdout.rsplit(", ", 1)[1].split(" ms")[0]))
    return durations


def run_case(mode, strategy, reloads, connections):
    port = free_port()
    manifest = hello_manifest("bench-reload", port, mode, 2)
    with Pack(manifest) as pack:
        wait_http(port)
        outcome = {}
        # wrk runs for a fixed time that covers the reloads; reloads start once it is under way.
        seconds = max(5, reloads * 2 + 3)
        load = threading.Thread(target=lambda: outcome.update(wrk(f"http://127.0.0.1:{port}/", seconds, connections)))
        load.start()
        time.sleep(1)  # let wrk connect before the first reload (a load ramp, not synchronisation of results)
        durations = reload_many(pack, strategy, reloads)
        load.join()
    return {"mode": mode, "strategy": strategy, "reloads": reloads, "requests_per_second": outcome["requests_per_second"],
            "requests": int(outcome["requests_per_second"] * seconds), "failed_requests": outcome["errors"],
            "reload_ms_p50": statistics.median(durations), "reload_ms_max": max(durations)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 reloads per strategy, shared mode only (under a minute)")
    parser.add_argument("--reloads", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    reloads = 2 if args.quick else args.reloads
    modes = ["shared"] if args.quick else ["shared", "reuseport"]
    build()
    cases = [run_case(mode, strategy, reloads, args.connections) for mode in modes for strategy in ("surge", "rolling")]
    path = write_result("reload", args.quick, {"benchmark": "reload", "app": "HelloHttp", "workers": 2,
                                               "load": f"wrk, {args.connections} keep-alive connections", "cases": cases})
    for c in cases:
        print(f"reload: {c['mode']:9} {c['strategy']:7} {c['reloads']} reloads under {c['requests_per_second']:.0f} req/s: "
              f"{c['failed_requests']} failed requests, reload p50 {c['reload_ms_p50']:.0f} ms, max {c['reload_ms_max']:.0f} ms")
    print(f"reload: results in {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
