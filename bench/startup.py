#!/usr/bin/env python3
"""Start-up and footprint: `gopherpack start` until every worker is ready for 1, 2, 8 and 32 workers
(the contract test worker); the master's RSS, threads and CPU while idle; `gopherpack ps` latency
(the whole command, and the control-socket status round trip alone). Writes results/startup.json.

usage: bench/startup.py [--quick] [--workers 1,2,8,32] [--runs N]
"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, time
from common import CLI, ROOT, build, write_result

WORKER = os.path.join(ROOT, "tests/TestWorker/bin/Release/net10.0/TestWorker.dll")


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(line.split()[1] for line in f if line.startswith(field + ":"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_round_trip_ms(sock_path, samples=50):
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            s.sendall(b'{"version":1,"command":"status"}\n')
            s.makefile().readline()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def one_run(workers, idle_seconds, settle_seconds):
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        manifest = os.path.join(tmp, "app.yml")
        runtime = os.path.join(tmp, "rt")
        with open(manifest, "w") as f:
            f.write(f"name: bench\ncommand: dotnet\nargs: [\"{WORKER}\"]\nworkers: {workers}\n"
                    "listeners: [{ name: http, address: 'tcp://127.0.0.1:0' }]\nready: { timeout: 120s }\n")
        started = time.monotonic()
        subprocess.run(["dotnet", CLI, "start", manifest, "--runtime-dir", runtime, "--timeout", "300"], check=True, capture_output=True)
        ready_ms = (time.monotonic() - started) * 1000
        master = int(open(os.path.join(runtime, "bench.pid")).read())
        try:
            time.sleep(settle_seconds)  # let start-up work (JIT tiering, first GCs) finish before measuring idle cost
            cpu_before = cpu_seconds(master)
            time.sleep(idle_seconds)  # idle cost needs elapsed idle time, not an event
            idle_cpu = (cpu_seconds(master) - cpu_before) / idle_seconds * 100
            rss = int(proc_status(master, "VmRSS")) / 1024
            threads = int(proc_status(master, "Threads"))
            ps_started = time.monotonic()
            subprocess.run(["dotnet", CLI, "ps", "bench", "--json", "--runtime-dir", runtime], check=True, capture_output=True)
            ps_ms = (time.monotonic() - ps_started) * 1000
            status_ms = status_round_trip_ms(os.path.join(runtime, "bench.sock"))
        finally:
            subprocess.run(["dotnet", CLI, "stop", "bench", "--runtime-dir", runtime], capture_output=True)
        return {"ready_ms": ready_ms, "rss_mib": rss, "threads": threads, "idle_cpu_percent": idle_cpu, "ps_ms": ps_ms, "status_ms": status_ms}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 workers, 1 run (under a minute)")
    parser.add_argument("--workers", default="1,2,8,32")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    counts = [2] if args.quick else [int(n) for n in args.workers.split(",")]
    runs = 1 if args.quick else args.runs
    idle = 2 if args.quick else 10
    build()
    results = []
    for workers in counts:
        samples = [one_run(workers, idle, 0 if args.quick else 5) for _ in range(runs)]
        results.append({
            "workers": workers, "runs": runs,
            "start_until_ready_ms_median": statistics.median(s["ready_ms"] for s in samples),
            "start_until_ready_ms_max": max(s["ready_ms"] for s in samples),
            "master_rss_mib": max(s["rss_mib"] for s in samples),
            "master_threads": max(s["threads"] for s in samples),
            "master_idle_cpu_percent": max(s["idle_cpu_percent"] for s in samples),
            "ps_command_ms_median": statistics.median(s["ps_ms"] for s in samples),
            "status_round_trip_ms_median": statistics.median(s["status_ms"] for s in samples),
        })
    path = write_result("startup", args.quick, {"benchmark": "startup", "worker": "tests/TestWorker", "cpus": os.cpu_count(), "results": results})
    for r in results:
        print(f"startup: {r['workers']:>2} workers: start until ready {r['start_until_ready_ms_median']:.0f} ms median "
              f"(max {r['start_until_ready_ms_max']:.0f}); master RSS {r['master_rss_mib']:.1f} MiB, {r['master_threads']} threads, "
              f"idle CPU {r['master_idle_cpu_percent']:.2f}%; ps {r['ps_command_ms_median']:.0f} ms (status round trip {r['status_round_trip_ms_median']:.2f} ms)")
    print(f"startup: results in {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
