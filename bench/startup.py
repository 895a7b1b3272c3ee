#!/usr/bin/env python3
"""Start-up and footprint of the master: time from `gopherpack run` to all workers ready,
master RSS, threads and CPU time while idle. Writes results/startup.json and prints a summary.

usage: bench/startup.py [--quick] [--workers 1,2,8,32] [--runs N]
"""
import argparse, json, os, re, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "src/Gopherpack.Cli/bin/Release/net8.0/gopherpack.dll")
WORKER = os.path.join(ROOT, "tests/TestWorker/bin/Release/net8.0/TestWorker.dll")


def build():
    subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(ROOT, "Gopherpack.slnx")],
                   check=True, stdout=subprocess.DEVNULL)


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    raise KeyError(field)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(workers, idle_seconds):
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        manifest = os.path.join(tmp, "app.yml")
        with open(manifest, "w") as f:
            f.write(f"name: bench\ncommand: dotnet\nargs: [\"{WORKER}\"]\nworkers: {workers}\n"
                    "listeners: [{ name: http, address: 'tcp://127.0.0.1:0' }]\nready: { timeout: 120s }\n")
        started = time.monotonic()
        master = subprocess.Popen(["dotnet", CLI, "run", manifest, "--runtime-dir", os.path.join(tmp, "rt")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            ready_ms = None
            deadline = started + 120
            for line in master.stderr:
                if " pack-ready: " in line:
                    ready_ms = (time.monotonic() - started) * 1000
                    break
                if time.monotonic() > deadline:
                    break
            if ready_ms is None:
                raise RuntimeError("the pack did not become ready")
            cpu_at_ready = cpu_seconds(master.pid)
            time.sleep(idle_seconds)  # measuring idle cost needs elapsed idle time, not an event
            idle_cpu = cpu_seconds(master.pid) - cpu_at_ready
            rss_kib = int(proc_status(master.pid, "VmRSS"))
            threads = int(proc_status(master.pid, "Threads"))
        finally:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
        return {"ready_ms": ready_ms, "rss_mib": rss_kib / 1024, "threads": threads,
                "idle_cpu_percent": 100 * idle_cpu / idle_seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 workers, 1 run (under a minute)")
    parser.add_argument("--workers", default="1,2,8,32")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    counts = [2] if args.quick else [int(n) for n in args.workers.split(",")]
    runs = 1 if args.quick else args.runs
    idle = 2 if args.quick else 10
    build()
    results = []
    for workers in counts:
        samples = [one_run(workers, idle) for _ in range(runs)]
        ready = sorted(s["ready_ms"] for s in samples)
        results.append({
            "workers": workers, "runs": runs,
            "ready_ms_median": ready[len(ready) // 2], "ready_ms_max": ready[-1],
            "master_rss_mib": max(s["rss_mib"] for s in samples),
            "master_threads": max(s["threads"] for s in samples),
            "master_idle_cpu_percent": max(s["idle_cpu_percent"] for s in samples),
        })
    out = os.path.join(ROOT, "bench/results", "startup-quick.json" if args.quick else "startup.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"benchmark": "startup", "machine": {"cpus": os.cpu_count()}, "results": results}, f, indent=2)
    for r in results:
        print(f"startup: {r['workers']} workers ready in {r['ready_ms_median']:.0f} ms median "
              f"(max {r['ready_ms_max']:.0f} ms over {r['runs']} runs); master RSS {r['master_rss_mib']:.1f} MiB, "
              f"{r['master_threads']} threads, idle CPU {r['master_idle_cpu_percent']:.2f}%")


if __name__ == "__main__":
    sys.exit(main())
