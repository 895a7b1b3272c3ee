#!/usr/bin/env python3
"""Start-up and footprint of both builds of gopherpack side by side: the JIT one (`dotnet gopherpack.dll`)
and the native one (NativeAOT, `gopherpack`). For each: `gopherpack start` until every worker is ready for
1, 2, 8 and 32 workers (the contract test worker); the master's RSS, threads and CPU while idle;
`gopherpack ps NAME` and `gopherpack validate MANIFEST` as whole commands; `gopherpack run` until the
first worker is spawned; the control socket's status round trip alone; the size on disk.
Writes results/startup.json.

The native binary is $GOPHERPACK_CLI when set, else it is published to out/native first.

usage: bench/startup.py [--quick] [--workers 1,2,8,32] [--runs N]
"""
import argparse, os, signal, socket, statistics, subprocess, sys, tempfile, time
from common import CLI, ROOT, build, native_cli, write_result

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


def command_ms(argv, samples):
    """Median wall time of a whole command (process start to exit), which must succeed."""
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def write_manifest(tmp, workers):
    manifest = os.path.join(tmp, "app.yml")
    with open(manifest, "w") as f:
        f.write(f"name: bench\ncommand: dotnet\nargs: [\"{WORKER}\"]\nworkers: {workers}\n"
                "listeners: [{ name: http, address: 'tcp://127.0.0.1:0' }]\nready: { timeout: 120s }\n")
    return manifest


def one_run(cli, workers, idle_seconds, settle_seconds, command_samples):
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        manifest = write_manifest(tmp, workers)
        runtime = os.path.join(tmp, "rt")
        started = time.monotonic()
        subprocess.run(cli + ["start", manifest, "--runtime-dir", runtime, "--timeout", "300"], check=True, capture_output=True)
        ready_ms = (time.monotonic() - started) * 1000
        master = int(open(os.path.join(runtime, "bench.pid")).read())
        try:
            time.sleep(settle_seconds)  # let start-up work (JIT tiering, first GCs) finish before measuring idle cost
            cpu_before = cpu_seconds(master)
            time.sleep(idle_seconds)  # idle cost needs elapsed idle time, not an event
            idle_cpu = (cpu_seconds(master) - cpu_before) / idle_seconds * 100
            rss = int(proc_status(master, "VmRSS")) / 1024
            threads = int(proc_status(master, "Threads"))
            ps_ms = command_ms(cli + ["ps", "bench", "--runtime-dir", runtime], command_samples)
            status_ms = status_round_trip_ms(os.path.join(runtime, "bench.sock"))
        finally:
            subprocess.run(cli + ["stop", "bench", "--runtime-dir", runtime], capture_output=True)
        return {"ready_ms": ready_ms, "rss_mib": rss, "threads": threads, "idle_cpu_percent": idle_cpu, "ps_ms": ps_ms, "status_ms": status_ms}


def run_to_first_spawn_ms(cli, samples):
    """`gopherpack run` in the foreground until its log says the first worker was spawned."""
    times = []
    for _ in range(samples):
        with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
            manifest = write_manifest(tmp, 2)
            started = time.perf_counter()
            master = subprocess.Popen(cli + ["run", manifest, "--runtime-dir", os.path.join(tmp, "rt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                log = []
                for line in master.stderr:
                    log.append(line)
                    if " spawn: " in line:
                        times.append((time.perf_counter() - started) * 1000)
                        break
                else:
                    raise RuntimeError("the master exited before spawning a worker:\n" + "".join(log))
            finally:
                master.send_signal(signal.SIGTERM)
                master.communicate(timeout=60)
    return statistics.median(times)


def size_mib(paths):
    return sum(os.path.getsize(p) for p in paths) / 1048576


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 workers, 1 run per build (under a minute)")
    parser.add_argument("--workers", default="1,2,8,32")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    counts = [2] if args.quick else [int(n) for n in args.workers.split(",")]
    runs = 1 if args.quick else args.runs
    idle = 2 if args.quick else 10
    command_samples = 3 if args.quick else 10
    build()
    native = native_cli()
    jit_folder = os.path.dirname(CLI)
    builds = {
        "jit": {"command": ["dotnet", CLI],
                "size_mib": size_mib([os.path.join(jit_folder, f) for f in os.listdir(jit_folder) if f.endswith(".dll")]),
                "size_note": "the app's dlls; needs the shared .NET runtime"},
        "native": {"command": [native], "size_mib": size_mib([native]), "size_note": "one file; needs only glibc"},
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as tmp:
        manifest = write_manifest(tmp, 2)
        for name, b in builds.items():
            b["validate_ms_median"] = command_ms(b["command"] + ["validate", manifest], command_samples)
            b["run_to_first_spawn_ms_median"] = run_to_first_spawn_ms(b["command"], 1 if args.quick else 5)
    for workers in counts:
        for name, b in builds.items():
            samples = [one_run(b["command"], workers, idle, 0 if args.quick else 5, command_samples) for _ in range(runs)]
            results.append({
                "build": name, "workers": workers, "runs": runs,
                "start_until_ready_ms_median": statistics.median(s["ready_ms"] for s in samples),
                "start_until_ready_ms_max": max(s["ready_ms"] for s in samples),
                "master_rss_mib": max(s["rss_mib"] for s in samples),
                "master_threads": max(s["threads"] for s in samples),
                "master_idle_cpu_percent": max(s["idle_cpu_percent"] for s in samples),
                "ps_command_ms_median": statistics.median(s["ps_ms"] for s in samples),
                "status_round_trip_ms_median": statistics.median(s["status_ms"] for s in samples),
            })
    for b in builds.values():
        b["command"] = " ".join(os.path.relpath(part, ROOT) if os.path.isabs(part) else part for part in b["command"])
    path = write_result("startup", args.quick, {"benchmark": "startup", "worker": "tests/TestWorker", "cpus": os.cpu_count(),
                                                "builds": builds, "results": results})
    for r in results:
        print(f"startup: {r['build']:>6} {r['workers']:>2} workers: start until ready {r['start_until_ready_ms_median']:.0f} ms median "
              f"(max {r['start_until_ready_ms_max']:.0f}); master RSS {r['master_rss_mib']:.1f} MiB, {r['master_threads']} threads, "
              f"idle CPU {r['master_idle_cpu_percent']:.2f}%; ps {r['ps_command_ms_median']:.1f} ms (status round trip {r['status_round_trip_ms_median']:.2f} ms)")
    for name, b in builds.items():
        print(f"startup: {name:>6}: validate {b['validate_ms_median']:.1f} ms, run to first worker spawned {b['run_to_first_spawn_ms_median']:.0f} ms, "
              f"size {b['size_mib']:.2f} MiB ({b['size_note']})")
    print(f"startup: results in {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
