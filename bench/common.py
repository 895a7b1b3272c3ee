"""Shared helpers for the benchmark scripts: Release build, starting packs and apps, wrk parsing."""
import json, os, platform, re, signal, socket, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "src/Gopherpack.Cli/bin/Release/net10.0/gopherpack.dll")


def native_cli():
    """The native (NativeAOT) gopherpack: $GOPHERPACK_CLI when set (CI publishes it once), else published
    here to out/native (needs clang and zlib1g-dev)."""
    if os.environ.get("GOPHERPACK_CLI"):
        return os.path.abspath(os.environ["GOPHERPACK_CLI"])
    out = os.path.join(ROOT, "out/native")
    if os.environ.get("GOPHERPACK_BENCH_PREBUILT"):  # a bundle: published already, maybe no SDK
        return os.path.join(out, "gopherpack")
    rid = {"x86_64": "linux-x64", "aarch64": "linux-arm64"}[platform.machine()]
    subprocess.run(["dotnet", "publish", os.path.join(ROOT, "src/Gopherpack.Cli"), "-c", "Release", "-r", rid, "-o", out],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out, "gopherpack")


def example_dll(name):
    return os.path.join(ROOT, f"examples/{name}/bin/Release/net10.0/{name}.dll")


def bench_app_dll():
    """The benchmarks' own app (bench/BenchHttp): hello and an allocating endpoint, with or without the worker library."""
    return os.path.join(ROOT, "bench/BenchHttp/bin/Release/net10.0/BenchHttp.dll")


def machine():
    """What every result is measured on: CPU count, model, kernel."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), model)
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": os.uname().release}


def cpu_ticks(pid):
    """utime + stime of a whole process (all threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def process_counters(pid):
    """Threads and context switches (summed over every thread) of a process, from /proc."""
    voluntary = involuntary = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        voluntary += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        involuntary += int(line.split()[1])
        except OSError:
            pass
    return {"threads": len(os.listdir(f"/proc/{pid}/task")), "voluntary_switches": voluntary, "involuntary_switches": involuntary}


def children(pid):
    """Direct children of a process (every thread's children)."""
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def hello_manifest(name, port, mode, workers):
    """A manifest for a pack of the HelloHttp example (Release build) on 127.0.0.1:PORT."""
    return (f"name: {name}\ncommand: dotnet\nargs: [\"{example_dll('HelloHttp')}\"]\nworkers: {workers}\n"
            f"listeners: [{{ name: http, address: 'tcp://127.0.0.1:{port}', protocols: http1, mode: {mode} }}]\n")


def build():
    if os.environ.get("GOPHERPACK_BENCH_PREBUILT"):  # run from bench/bundle.sh's folder: built already, maybe no SDK
        return
    subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(ROOT, "Gopherpack.slnx")],
                   check=True, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(16).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Pack:
    """`gopherpack run` of a manifest written to a temp dir; waits for pack-ready."""

    def __init__(self, manifest_text, timeout=60, prefix=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="gp-bench-")
        self.manifest = os.path.join(self.tmp.name, "app.yml")
        with open(self.manifest, "w") as f:
            f.write(manifest_text)
        self.runtime_dir = os.path.join(self.tmp.name, "rt")
        self.log = []
        self.process = subprocess.Popen([*prefix, "dotnet", CLI, "run", self.manifest, "--runtime-dir", self.runtime_dir],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        for line in self.process.stderr:
            self.log.append(line)
            if " pack-ready: " in line:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("pack not ready:\n" + "".join(self.log))
        else:
            raise RuntimeError("master exited:\n" + "".join(self.log))

    def close(self):
        stop(self.process)
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wrk(url, seconds, connections=64, threads=1, cpus=None):
    """Runs wrk with --latency; returns requests/s, p50/p99 ms, errors. cpus pins wrk (taskset)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cpus:
        command = ["taskset", "-c", cpus] + command
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"requests_per_second": rps, "requests": requests, "p50_ms": percentile(50), "p99_ms": percentile(99),
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def write_result(name, quick, payload):
    out = os.path.join(ROOT, "bench/results", f"{name}-quick.json" if quick else f"{name}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(payload, f, indent=2)
    return out
