#!/usr/bin/env python3
"""Throughput, latency and CPU per request: BenchHttp (HelloHttp's hello endpoint plus an allocating one)
alone against the same app as a pack, with wrk on loopback, measured side by side in one run, in
interleaved rounds. The server and the load generator get CPUs of their own (--server-cpus,
--client-cpus); every result records the machine it ran on.

Groups (each compared to its own "alone" baseline):
  hello      the hello endpoint: alone on the server CPUs vs a pinned pack (shared, reuseport) and an unpinned one (cpus: none) on them
  one-core   one CPU: alone vs a pack of 1 without the worker library (Kestrel on fd 3, READY=1 by hand)
             vs a pack of 1 with it: the library's per-request cost
  records    2,000 records as JSON per request: alone vs a pinned shared pack
  --compare-app DLL  another build of BenchHttp (before a change), as a pack of 1 in the one-core group
  probes     --probe ENV (repeatable): a pack of 1 with that worker environment, hello and records
  metrics    (not in the default groups) a pinned shared pack vs the same pack with metrics.address set and
             /metrics scraped every second during the run: what serving metrics costs

usage: bench/throughput.py [--quick] [--seconds N] [--rounds N] [--connections N]
                           [--server-cpus 0-2] [--client-cpus 3] [--groups hello,one-core,records,metrics]
                           [--probe "DOTNET_TieredPGO=0 DOTNET_ReadyToRun=1"] [--out NAME]
"""
import argparse, json, os, statistics, subprocess, sys, time, urllib.request
from common import (Pack, bench_app_dll, build, children, cpu_ticks, free_port, machine, process_counters, stop,
                    wait_http, write_result, wrk)

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def cpu_list(text):
    """'0-2,5' -> [0, 1, 2, 5]"""
    cpus = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += list(range(int(lo), int(hi or lo) + 1))
    return cpus


class Server:
    """One running server: the app alone (taskset to its CPUs) or a pack of it. Knows its serving pids."""

    def __init__(self, key, cpus, workers=None, mode="shared", library=True, env=None, dll=None, pinned=True, metrics=False):
        self.key, self.cpus, self.workers, self.mode, self.library, self.env = key, cpus, workers, mode, library, env or {}
        self.metrics_port = free_port() if metrics else None
        self.pinned = pinned
        self.dll = dll or bench_app_dll()
        self.port = free_port()
        self.process = self.pack = None

    def start(self):
        args = [self.dll] + ([] if self.library else ["--without-gopherpack"])
        taskset = ["taskset", "-c", ",".join(map(str, self.cpus))]
        if self.workers is None:
            self.process = subprocess.Popen([*taskset, "dotnet", *args,
                                             "--urls", f"http://127.0.0.1:{self.port}"],
                                            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            env = "".join(f"\n  {k}: \"{v}\"" for k, v in self.env.items())
            self.pack = Pack(f"name: bench-{self.key}\ncommand: dotnet\nargs: {json.dumps(args)}\nworkers: {self.workers}\n" +
                             (f"cpus: [{', '.join(map(str, self.cpus))}]\n" if self.pinned else "cpus: none\n") +
                             (f"env:{env}\n" if env else "") +
                             f"listeners: [{{ name: http, address: 'tcp://127.0.0.1:{self.port}', protocols: http1, mode: {self.mode} }}]\n" +
                             (f"metrics: {{ address: 'tcp://127.0.0.1:{self.metrics_port}' }}\n" if self.metrics_port else ""),
                             # Unpinned workers inherit the master's CPU mask: the server's CPUs.
                             prefix=() if self.pinned else taskset)
        wait_http(self.port, timeout=120)

    def pids(self):
        if self.process:
            return [self.process.pid]
        found = []
        for pid in children(self.pack.process.pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if os.path.basename(self.dll).encode() in f.read():
                        found.append(pid)
            except OSError:
                pass
        return found

    def stats(self):
        """The runtime's own counters (BenchHttp /stats), or None when the server does not answer in time."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=60) as r:
                return json.load(r)
        except OSError:
            return None

    def close(self):
        if self.process:
            stop(self.process)
        if self.pack:
            self.pack.close()


def measure(server, path, seconds, connections, threads, client_cpus):
    """One wrk run with the server's CPU time, context switches and (one process) GC counts around it."""
    pids = server.pids()
    before = {pid: (cpu_ticks(pid), process_counters(pid)) for pid in pids}
    master = server.pack.process.pid if server.pack else None
    master_before = cpu_ticks(master) if master else 0
    single = len(pids) == 1
    stats_before = server.stats() if single else None
    scraper = Scraper(server.metrics_port) if server.metrics_port else None
    result = wrk(f"http://127.0.0.1:{server.port}{path}", seconds, connections, threads=threads, cpus=client_cpus)
    ticks = sum(cpu_ticks(pid) - before[pid][0] for pid in pids)
    if scraper:
        result["scrapes"] = scraper.stop()
    if master:
        result["master_cpu_percent"] = (cpu_ticks(master) - master_before) * TICK_US / 1e4 / seconds
    after = {pid: process_counters(pid) for pid in pids}
    result["cpu_us_per_request"] = ticks * TICK_US / max(1, result["requests"])
    result["server_cpu_percent"] = ticks * TICK_US / 1e4 / seconds
    result["processes"] = len(pids)
    result["threads"] = sum(a["threads"] for a in after.values())
    for kind in ("voluntary_switches", "involuntary_switches"):
        result[f"{kind}_per_1k_requests"] = 1000 * sum(after[p][kind] - before[p][1][kind] for p in pids) / max(1, result["requests"])
    stats = server.stats() if single else None
    if stats and stats_before:
        result["gc_per_1k_requests"] = {g: 1000 * (stats[g] - stats_before[g]) / max(1, result["requests"]) for g in ("gen0", "gen1", "gen2")}
        result["gc_pause_ms_per_s"] = (stats["gcPauseMs"] - stats_before["gcPauseMs"]) / seconds
        result["runtime"] = {k: stats[k] for k in ("serverGc", "processorCount", "threadPoolThreads", "jitMethods")}
    return result


class Scraper:
    """Scrapes the master's /metrics once a second, as an impatient Prometheus would, until stopped."""

    def __init__(self, port):
        import threading
        self.url, self.count, self.done = f"http://127.0.0.1:{port}/metrics", 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.wait(1.0):
            with urllib.request.urlopen(self.url, timeout=10) as r:
                r.read()
            self.count += 1

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.count


def parse_env(text):
    return dict(item.split("=", 1) for item in text.split())


def plan(args, server_cpus):
    """The servers and the cases: (group, case name, server key, path, baseline case name)."""
    n = len(server_cpus)
    servers, cases = {}, []

    def server(key, **kw):
        servers.setdefault(key, Server(key, **kw))
        return key

    alone_n = server(f"alone{n}", cpus=server_cpus)
    pack_n = server(f"shared{n}", cpus=server_cpus, workers=n)
    one = server_cpus[:1]
    groups = args.groups.split(",")
    if "hello" in groups:
        cases += [("hello", f"alone, {n} CPU(s)", alone_n, "/", None),
                  ("hello", f"pack of {n}, shared", pack_n, "/", f"alone, {n} CPU(s)"),
                  ("hello", f"pack of {n}, reuseport", server(f"reuseport{n}", cpus=server_cpus, workers=n, mode="reuseport"), "/", f"alone, {n} CPU(s)"),
                  ("hello", f"pack of {n}, shared, cpus: none", server(f"unpinned{n}", cpus=server_cpus, workers=n, pinned=False), "/", f"alone, {n} CPU(s)")]
    if "one-core" in groups:
        cases += [("one-core", "alone, 1 CPU", server("alone1", cpus=one), "/", None),
                  ("one-core", "pack of 1 without the library", server("raw1", cpus=one, workers=1, library=False), "/", "alone, 1 CPU"),
                  ("one-core", "pack of 1 with the library", server("shared1", cpus=one, workers=1), "/", "pack of 1 without the library")]
    if args.compare_app:
        cases += [("one-core", "pack of 1 with the other build's library", server("other1", cpus=one, workers=1, dll=args.compare_app), "/",
                   "pack of 1 without the library")]
    if "records" in groups:
        cases += [("records", f"alone, {n} CPU(s)", alone_n, "/records", None),
                  ("records", f"pack of {n}, shared", pack_n, "/records", f"alone, {n} CPU(s)")]
    if "metrics" in groups:
        cases += [("metrics", f"pack of {n}, shared", pack_n, "/", None),
                  ("metrics", f"pack of {n}, shared, /metrics scraped every 1 s",
                   server(f"metrics{n}", cpus=server_cpus, workers=n, metrics=True), "/", f"pack of {n}, shared")]
    for i, probe in enumerate(args.probe):
        if i == 0:
            cases += [("probes", "pack of 1, hello, default", server("shared1", cpus=one, workers=1), "/", None),
                      ("probes", "pack of 1, records, default", server("shared1", cpus=one, workers=1), "/records", None)]
        key = server(f"probe{i}", cpus=one, workers=1, env=parse_env(probe))
        cases += [("probes", f"pack of 1, hello, {probe}", key, "/", "pack of 1, hello, default"),
                  ("probes", f"pack of 1, records, {probe}", key, "/records", "pack of 1, records, default")]
    return servers, cases


def summarise(runs):
    values = lambda k: [r[k] for r in runs]
    out = {"rounds": runs}
    for k in ("requests_per_second", "cpu_us_per_request", "p50_ms", "p99_ms", "server_cpu_percent",
              "voluntary_switches_per_1k_requests", "involuntary_switches_per_1k_requests"):
        out[k] = statistics.median(values(k))
        out[k + "_range"] = [min(values(k)), max(values(k))]
    out["errors"] = sum(values("errors"))
    out["threads"] = runs[-1]["threads"]
    for k in ("gc_per_1k_requests", "gc_pause_ms_per_s", "runtime"):
        if k in runs[-1]:
            out[k] = runs[-1][k]
    return out


def main():
    cpus = os.cpu_count()
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one round of 2 s per case (about a minute)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds: every case once per round")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--server-cpus", default=f"0-{max(0, cpus - 2)}" if cpus > 1 else "0")
    parser.add_argument("--client-cpus", default=str(cpus - 1) if cpus > 1 else "", help="'' to leave wrk unpinned")
    parser.add_argument("--groups", default="hello,one-core,records")
    parser.add_argument("--probe", action="append", default=[], help="worker environment to try, e.g. 'DOTNET_TieredPGO=0'")
    parser.add_argument("--compare-app", help="another build of BenchHttp.dll (e.g. before a change): adds it to the one-core group")
    parser.add_argument("--out", default="throughput", help="results/NAME.json")
    args = parser.parse_args()
    seconds, rounds, warmup = (2, 1, 2) if args.quick else (args.seconds, args.rounds, 5)
    server_cpus = cpu_list(args.server_cpus)
    client_cpus = args.client_cpus or None
    threads = len(cpu_list(client_cpus)) if client_cpus else 1
    build()
    servers, cases = plan(args, server_cpus)
    runs = {(group, name): [] for group, name, _, _, _ in cases}
    try:
        for s in servers.values():
            s.start()
        for _, _, key, path, _ in cases:  # warm-up: JIT and tiering, once per server and path
            wrk(f"http://127.0.0.1:{servers[key].port}{path}", warmup, args.connections, threads=threads, cpus=client_cpus)
        for r in range(rounds):
            order = cases if r % 2 == 0 else list(reversed(cases))
            for group, name, key, path, _ in order:
                runs[(group, name)].append(measure(servers[key], path, seconds, args.connections, threads, client_cpus))
    finally:
        for s in servers.values():
            s.close()

    results = []
    for group, name, key, path, baseline in cases:
        case = {"group": group, "case": name, "path": path, **summarise(runs[(group, name)])}
        if baseline:
            base = summarise(runs[(group, baseline)])
            case["baseline"] = baseline
            case["ratio"] = case["requests_per_second"] / max(base["requests_per_second"], 1e-9)
            paired = [a["requests_per_second"] / max(b["requests_per_second"], 1e-9) for a, b in zip(runs[(group, name)], runs[(group, baseline)])]
            case["ratio_range"] = [min(paired), max(paired)]
            case["cpu_per_request_ratio"] = case["cpu_us_per_request"] / max(base["cpu_us_per_request"], 1e-9)
        results.append(case)
    path = write_result(args.out, args.quick, {
        "benchmark": "throughput", "app": "bench/BenchHttp", "machine": machine(),
        "server_cpus": server_cpus, "client_cpus": client_cpus or "unpinned",
        "wrk": {"threads": threads, "connections": args.connections, "seconds": seconds, "rounds": rounds, "warmup_seconds": warmup},
        "cases": results})
    m = machine()
    print(f"throughput: {m['cpus']} CPUs ({m['cpu_model']}), server on CPUs {args.server_cpus}, wrk on {client_cpus or 'any CPU'}, "
          f"{args.connections} connections, {rounds} round(s) of {seconds} s")
    for c in results:
        ratio = f" {c['ratio']:.2f}x ({c['ratio_range'][0]:.2f}-{c['ratio_range'][1]:.2f}) of {c['baseline']}," if "ratio" in c else ""
        cpu_ratio = f" ({c['cpu_per_request_ratio']:.3f}x)" if "ratio" in c else ""
        print(f"throughput: [{c['group']}] {c['case']}: {c['requests_per_second']:,.0f} req/s "
              f"({c['requests_per_second_range'][0]:,.0f}-{c['requests_per_second_range'][1]:,.0f}),{ratio} "
              f"{c['cpu_us_per_request']:.1f} us CPU/request{cpu_ratio}, p99 {c['p99_ms']:.2f} ms, errors {c['errors']}")
    print(f"throughput: results in {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())
