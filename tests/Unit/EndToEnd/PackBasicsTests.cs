using System.Net.Sockets;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class PackBasicsTests
{
    private const string TwoWorkers = """
        name: basics
        command: dotnet
        args: ["{worker}"]
        workers: 2
        listeners:
          - name: http
            address: tcp://127.0.0.1:0
        stop: { timeout: 5s }
        """;

    [Fact]
    public async Task Two_workers_on_one_port_answer_from_two_pids()
    {
        await using var pack = await PackProcess.StartAsync(TwoWorkers);
        var endpoint = pack.TcpEndPoint("http");
        var seen = new HashSet<int>();
        for (var i = 0; i < 400 && seen.Count < 2; i++) seen.Add(await RawHttp.PidAsync(endpoint));
        Assert.Equal(pack.SlotPids.Values.ToHashSet(), seen);
    }

    [Fact]
    public async Task Each_worker_is_pinned_to_its_own_cpu_and_the_master_is_not()
    {
        await using var pack = await PackProcess.StartAsync(TwoWorkers);
        var mine = Native.StatusField(Environment.ProcessId, "Cpus_allowed_list");
        var workerCpus = pack.SlotPids.Values.Select(pid => Native.StatusField(pid, "Cpus_allowed_list")).ToList();
        foreach (var cpus in workerCpus) Assert.Matches("^[0-9]+$", cpus);
        if (Environment.ProcessorCount > 1) Assert.Equal(2, workerCpus.Distinct().Count());
        // Every thread of every worker is pinned, not just the first (gopherpack's mistake).
        foreach (var pid in pack.SlotPids.Values)
            foreach (var task in Directory.GetDirectories($"/proc/{pid}/task").Select(Path.GetFileName))
                Assert.Matches("^[0-9]+$", Native.StatusField(pid, "Cpus_allowed_list", task!));
        // Every master thread, the spawner thread included, keeps the mask it started with.
        foreach (var task in Directory.GetDirectories($"/proc/{pack.MasterPid}/task").Select(Path.GetFileName))
            Assert.Equal(mine, Native.StatusField(pack.MasterPid, "Cpus_allowed_list", task!));
    }

    [Fact]
    public async Task Workers_get_the_contract_environment_with_their_own_listen_pid()
    {
        await using var pack = await PackProcess.StartAsync(TwoWorkers);
        var facts = await RawHttp.FactsAsync(pack.TcpEndPoint("http"), "/env");
        var pid = facts.GetProperty("pid").GetInt32();
        string Env(string name) => facts.GetProperty("env:" + name).GetString()!;
        Assert.Equal(pid.ToString(), Env("LISTEN_PID"));
        Assert.Equal("1", Env("LISTEN_FDS"));
        Assert.Equal("http", Env("LISTEN_FDNAMES"));
        Assert.Equal("basics", Env("GOPHERPACK_PACK"));
        Assert.Equal("1", Env("GOPHERPACK_GENERATION"));
        Assert.Equal(pack.MasterPid.ToString(), Env("GOPHERPACK_MASTER_PID"));
        Assert.Equal("4", Env("GOPHERPACK_LIFELINE_FD"));
        Assert.Contains("\"name\":\"http\"", Env("GOPHERPACK_LISTENERS"));
        Assert.StartsWith(pack.RuntimeDir, Env("NOTIFY_SOCKET"));
        Assert.Equal(pid, facts.GetProperty("pgid").GetInt32());
    }

    [Fact]
    public async Task A_non_dotnet_worker_gets_only_the_contract_fds_a_clean_environment_and_no_blocked_signals()
    {
        var stale = new Dictionary<string, string>
        {
            ["LISTEN_FDS"] = "9", ["LISTEN_PID"] = "1", ["NOTIFY_SOCKET"] = "/stale", ["GOPHERPACK_SLOT"] = "77", ["WATCHDOG_USEC"] = "5",
        };
        await using var pack = await PackProcess.StartAsync("""
            name: plain
            command: sleep
            args: ["300"]
            workers: 1
            ready: { mode: delay, delay: 100ms }
            env: { APP_SETTING: from-manifest }
            limits: { nofile: 4096 }
            listeners:
              - name: web
                address: tcp://127.0.0.1:0
              - name: admin
                address: tcp://127.0.0.1:0
            """, environment: stale);
        var pid = pack.SlotPids[0];
        var fds = Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(f => int.Parse(Path.GetFileName(f))).Order().ToList();
        Assert.Equal([0, 1, 2, 3, 4, 5], fds);
        Assert.StartsWith("socket:", new FileInfo($"/proc/{pid}/fd/3").LinkTarget);
        Assert.StartsWith("pipe:", new FileInfo($"/proc/{pid}/fd/5").LinkTarget);
        Assert.Equal("/dev/null", new FileInfo($"/proc/{pid}/fd/0").LinkTarget);

        var environment = File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('=', 2)).ToDictionary(e => e[0], e => e[1]);
        Assert.Equal("2", environment["LISTEN_FDS"]);
        Assert.Equal("web:admin", environment["LISTEN_FDNAMES"]);
        Assert.Equal(pid.ToString(), environment["LISTEN_PID"]);
        Assert.Equal("0", environment["GOPHERPACK_SLOT"]);
        Assert.NotEqual("/stale", environment["NOTIFY_SOCKET"]);
        Assert.False(environment.ContainsKey("WATCHDOG_USEC"));
        Assert.Equal("from-manifest", environment["APP_SETTING"]);

        Assert.Equal("0000000000000000", Native.StatusField(pid, "SigBlk"));
        Assert.Equal("0000000000000000", Native.StatusField(pid, "SigIgn"));
        var limits = File.ReadLines($"/proc/{pid}/limits").First(l => l.StartsWith("Max open files"));
        Assert.Matches(@"Max open files\s+4096\s", limits);
    }

    [Fact]
    public async Task A_worker_killed_with_sigkill_is_replaced_while_the_other_keeps_serving()
    {
        await using var pack = await PackProcess.StartAsync(TwoWorkers);
        var endpoint = pack.TcpEndPoint("http");
        var victim = pack.SlotPids[0];
        var survivor = pack.SlotPids[1];
        Native.kill(victim, Native.SIGKILL);

        var respawn = pack.WaitForReplacement(0, victim, TimeSpan.FromSeconds(10));
        var served = 0;
        while (!respawn.IsCompleted)
        {
            var pid = await RawHttp.PidAsync(endpoint);
            Assert.NotEqual(victim, pid);
            served++;
        }
        await respawn;
        Assert.True(served > 0, "no request was served while slot 0 restarted");
        Assert.NotEqual(victim, pack.SlotPids[0]);
        Assert.Equal(survivor, pack.SlotPids[1]);
        Assert.True(Native.IsAlive(survivor));
        Assert.False(Native.IsZombie(victim), "the killed worker was left a zombie");
        Assert.Contains("killed by SIGKILL", pack.Log);
    }

    [Fact]
    public async Task Sigterm_stops_every_worker_frees_the_port_and_removes_runtime_files()
    {
        var pack = await PackProcess.StartAsync(TwoWorkers);
        await using var _ = pack;
        var endpoint = pack.TcpEndPoint("http");
        var workers = pack.SlotPids.Values.ToList();
        Assert.True(File.Exists(Path.Combine(pack.RuntimeDir, "basics.pid")));

        pack.Signal(Native.SIGTERM);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        foreach (var pid in workers) Assert.False(Native.IsAlive(pid), $"worker {pid} outlived the master");
        Assert.Empty(Directory.GetFileSystemEntries(pack.RuntimeDir));
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(endpoint);
    }

    [Theory]
    [InlineData(Native.SIGINT)]
    [InlineData(Native.SIGQUIT)]
    public async Task Sigint_and_sigquit_also_stop_the_pack_gracefully(int signal)
    {
        await using var pack = await PackProcess.StartAsync(TwoWorkers);
        var workers = pack.SlotPids.Values.ToList();
        pack.Signal(signal);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        foreach (var pid in workers) Assert.False(Native.IsAlive(pid));
        Assert.Contains("worker stopped (exit code 0)", pack.Log);
    }

    [Fact]
    public async Task A_worker_that_ignores_sigterm_is_killed_after_the_stop_timeout()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: stubborn
            command: dotnet
            args: ["{worker}", "--ignore-term"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            stop: { timeout: 1s }
            logs: { workers: prefix }
            """);
        var worker = pack.SlotPids[0];
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        pack.Signal(Native.SIGTERM);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(0.9), $"stopped after {stopwatch.Elapsed}, before the 1s stop.timeout");
        Assert.Contains("stop-timeout", pack.Log);
        Assert.Contains($"[stubborn/0 {worker}] test worker: ignoring SIGTERM", pack.Log);
        Assert.Contains("killed by SIGKILL", pack.Log);
        Assert.False(Native.IsAlive(worker));
    }
}
