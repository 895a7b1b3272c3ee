#!/usr/bin/env python3
"""Throughput and latency of HelloHttp: run alone (one process, every CPU) against the same app as a
pack in shared and in reuseport mode, with wrk on loopback, in one run. Writes results/throughput.json
and prints a summary with each pack as a ratio to the app alone.

usage: bench/throughput.py [--quick] [--seconds N] [--connections N]
"""
import argparse, os, subprocess, sys
from common import hello_manifest, Pack, build, example_dll, free_port, stop, wait_http, write_result, wrk


def measure_alone(seconds, connections, wrk_cpus):
    port = free_port()
    app = subprocess.Popen(["dotnet", example_dll("HelloHttp"), "--urls", f"http://127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(port)
        wrk(f"http://127.0.0.1:{port}/", 2, connections, cpus=wrk_cpus)  # warm-up (JIT)
        return wrk(f"http://127.0.0.1:{port}/", seconds, connections, cpus=wrk_cpus)
    finally:
        stop(app)


def measure_pack(mode, workers, seconds, connections, wrk_cpus):
    port = free_port()
    manifest = hello_manifest(f"bench-{mode}", port, mode, workers)
    with Pack(manifest):
        wait_http(port)
        wrk(f"http://127.0.0.1:{port}/", 2, connections, cpus=wrk_cpus)
        return wrk(f"http://127.0.0.1:{port}/", seconds, connections, cpus=wrk_cpus)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 s per case (under a minute)")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    seconds = 3 if args.quick else args.seconds
    cpus = os.cpu_count()
    # With few CPUs the load generator cannot be given cores of its own: it shares them, equally for every case.
    workers, wrk_cpus = (cpus - 1, str(cpus - 1)) if cpus >= 4 else (cpus, None)
    build()
    alone = measure_alone(seconds, args.connections, wrk_cpus)
    cases = {"alone": alone}
    for mode in ("shared", "reuseport"):
        cases[mode] = measure_pack(mode, workers, seconds, args.connections, wrk_cpus)
    for name, case in cases.items():
        case["ratio_to_alone"] = case["requests_per_second"] / alone["requests_per_second"]
    path = write_result("throughput", args.quick, {
        "benchmark": "throughput", "app": "HelloHttp", "cpus": cpus, "pack_workers": workers,
        "wrk": {"threads": 1, "connections": args.connections, "seconds": seconds, "pinned_to": wrk_cpus or "shared with the server"},
        "cases": cases})
    for name, case in cases.items():
        print(f"throughput: {name:9} {case['requests_per_second']:>9.0f} req/s ({case['ratio_to_alone']:.2f}x alone), "
              f"p50 {case['p50_ms']:.2f} ms, p99 {case['p99_ms']:.2f} ms, errors {case['errors']}")
    print(f"throughput: results in {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
