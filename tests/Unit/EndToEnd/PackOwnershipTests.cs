using System.Net;
using System.Net.Sockets;
using Gopherpack.Control;
using Gopherpack.Linux;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// One master per pack and runtime dir, one pack per address: concurrent starts, stale pid files, the
/// same pack under two runtime dirs, two packs on one port, a reload onto an address someone else holds.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class PackOwnershipTests
{
    private static string Manifest(string name, int port, string mode = "shared") =>
        $"name: {name}\ncommand: dotnet\nargs: [\"{RepoPaths.TestWorkerDll}\"]\nworkers: 2\n" +
        $"listeners: [{{ name: http, address: 'tcp://127.0.0.1:{port}', mode: {mode} }}]\n";

    [Fact]
    public async Task Two_starts_at_once_leave_exactly_one_master_and_the_other_exits_1()
    {
        using var dir = new TempDir();
        var port = FreePort.Probe();
        var manifest = dir.File("app.yml", Manifest("twice", port));
        var runtime = Path.Combine(dir.Path, "rt");
        try
        {
            var results = await Task.WhenAll(Cli.RunAsync("start", manifest, "--runtime-dir", runtime), Cli.RunAsync("start", manifest, "--runtime-dir", runtime));
            var all = string.Join("\n---\n", results.Select(r => r.ToString()));
            Assert.True(results.Count(r => r.Code == 0) == 1, all);
            var loser = results.Single(r => r.Code != 0);
            Assert.True(loser.Code == 1, all);
            var status = await new PackClient(new RuntimeDirectory(runtime)).StatusAsync("twice");
            Assert.Contains($"pack 'twice' is already running (master pid {status.MasterPid})", loser.Stderr);
            await Eventually.True(() => MastersOf(manifest).Count == 1, TimeSpan.FromSeconds(20),
                $"exactly one master to remain (masters: {string.Join(",", MastersOf(manifest))})");
            Assert.Equal([status.MasterPid], MastersOf(manifest));
            Assert.Single(ListeningOn(port));
        }
        finally
        {
            await Cli.RunAsync("stop", "twice", "--runtime-dir", runtime);
            foreach (var pid in MastersOf(manifest)) Native.kill(pid, Native.SIGKILL);
        }
    }

    [Theory]
    [InlineData("live")]
    [InlineData("dead")]
    public async Task A_stale_pid_file_is_replaced_with_a_log_line(string holder)
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", Manifest("stale", FreePort.Probe()));
        var runtime = Path.Combine(dir.Path, "rt");
        Directory.CreateDirectory(runtime);
        // A live pid that is not this pack's master (pids are reused after a container restart), or a dead one.
        var stalePid = holder == "live" ? Environment.ProcessId : await DeadPid();
        File.WriteAllText(Path.Combine(runtime, "stale.pid"), $"{stalePid}\n");
        try
        {
            var ps = await Cli.RunAsync("ps", "stale", "--runtime-dir", runtime);
            Assert.True(ps.Code == 7, ps.ToString());
            var start = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
            Assert.True(start.Code == 0, start.ToString());
            var log = File.ReadAllText(Path.Combine(runtime, "stale.log"));
            Assert.Contains($"replacing stale pid file '{Path.Combine(runtime, "stale.pid")}': pid {stalePid}", log);
            var status = await new PackClient(new RuntimeDirectory(runtime)).StatusAsync("stale");
            Assert.Equal($"{status.MasterPid}\n", File.ReadAllText(Path.Combine(runtime, "stale.pid")));
            var stop = await Cli.RunAsync("stop", "stale", "--runtime-dir", runtime);
            Assert.True(stop.Code == 0, stop.ToString());
        }
        finally
        {
            await Cli.RunAsync("stop", "stale", "--runtime-dir", runtime);
            foreach (var pid in MastersOf(manifest)) Native.kill(pid, Native.SIGKILL);
        }
    }

    [Theory]
    [InlineData("shared", "same")]
    [InlineData("reuseport", "same")]
    [InlineData("shared", "other")]
    [InlineData("reuseport", "other")]
    public async Task A_second_pack_on_an_address_in_use_fails_start_with_exit_1(string mode, string name)
    {
        // "same": the same pack started again under another runtime dir (a shell with XDG_RUNTIME_DIR, a cron job
        // without); the pid file lock cannot see across runtime dirs, the address check does.
        var port = FreePort.Probe();
        await using var first = await PackProcess.StartAsync(Manifest("owner", port, mode));
        var ownSockets = ListeningOn(port);
        using var dir = new TempDir();
        var second = name == "same" ? "owner" : "intruder";
        var manifest = dir.File("app.yml", Manifest(second, port, mode));
        var runtime = Path.Combine(dir.Path, "rt");
        try
        {
            var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
            Assert.True(result.Code == 1, result.ToString());
            Assert.Contains($"listener 'http': address tcp://127.0.0.1:{port} in use by another process (pid ", result.Stderr);
            // The holder is named with its command: "dotnet" for the JIT build, "gopherpack" for the native one.
            var holder = RepoPaths.NativeCli is null ? "dotnet" : "gopherpack";
            Assert.Contains($"pid {first.MasterPid} ({holder})", result.Stderr);
            Assert.Equal(ownSockets, ListeningOn(port));
            Assert.False(File.Exists(Path.Combine(runtime, second + ".pid")), "the failed master left its pid file");
            Assert.False(File.Exists(Path.Combine(runtime, second + ".sock")), "the failed master left its control socket");
        }
        finally
        {
            foreach (var pid in MastersOf(manifest)) Native.kill(pid, Native.SIGKILL);
        }
    }

    [Theory]
    [InlineData("shared")]
    [InlineData("reuseport")]
    public async Task A_reload_onto_an_address_another_process_holds_fails_with_exit_3_and_the_old_generation_serves(string mode)
    {
        // The other process binds with SO_REUSEPORT as the same user: the kernel would let a reuseport socket join it.
        using var foreign = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        foreign.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
        foreign.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        foreign.Listen();
        var taken = ((IPEndPoint)foreign.LocalEndPoint!).Port;
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest("mover", port, mode));
        var workers = pack.SlotPids.Values.ToHashSet();
        var moved = pack.Dir.File("moved.yml", Manifest("mover", taken, mode));

        var result = await Cli.RunAsync("reload", "mover", "--manifest", moved, "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 3, result.ToString());
        Assert.Contains($"address tcp://127.0.0.1:{taken} in use by another process (pid {Environment.ProcessId} ", result.Stderr);
        Assert.Single(ListeningOn(taken));
        Assert.Contains(await RawHttp.PidAsync(new IPEndPoint(IPAddress.Loopback, port)), workers);
    }

    [Fact]
    public async Task A_reload_while_scaled_away_reuseport_workers_drain_counts_their_sockets_as_the_packs_but_still_refuses_another_process()
    {
        // The workers ignore SIGTERM, so those asked to stop drain (holding their slots' sockets) until stop.timeout:
        // the window a real server's drain opens for as long as it keeps its listening fd.
        var port = FreePort.Probe();
        var yaml = $"name: drainer\ncommand: dotnet\nargs: [\"{RepoPaths.TestWorkerDll}\", \"--ignore-term\"]\nworkers: 2\nstop: {{ timeout: 120s }}\n" +
            $"listeners: [{{ name: http, address: 'tcp://127.0.0.1:{port}', mode: reuseport }}]\n";
        await using var pack = await PackProcess.StartAsync(yaml);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        string[] Command(params string[] args) => [.. args, "--runtime-dir", pack.RuntimeDir];
        try
        {
            await using var load = new HttpLoad($"http://127.0.0.1:{port}/", keepAlive: 4, newConnections: 2);
            await Eventually.True(() => load.Ok > 100, TimeSpan.FromSeconds(20), "the load to get going");
            foreach (var step in new[] { Command("scale", "drainer", "4"), Command("reload", "drainer", "--strategy", "rolling") })
            {
                var result = await Cli.RunAsync(step);
                Assert.True(result.Code == 0, $"gopherpack {string.Join(' ', step)}: {result}");
            }
            var scaledDown = await Cli.RunAsync(Command("scale", "drainer", "1"));
            Assert.True(scaledDown.Code == 0, scaledDown.ToString());
            var status = await client.StatusAsync("drainer");
            var draining = status.Workers.Where(w => w.State == "Draining").Select(w => w.Pid!.Value).ToHashSet();
            // The precondition: sockets the master has closed (slots 1-3) still listen, held only by draining workers.
            var holders = SocketTable.Holders(ListeningOn(port).ToHashSet(), new HashSet<int>()).ToLookup(h => h.Inode, h => h.Pid);
            Assert.True(holders.Count(h => !h.Contains(status.MasterPid) && h.All(draining.Contains)) == 3,
                $"three slot sockets held only by draining workers ({string.Join(", ", draining)}): {string.Join("; ", holders.Select(h => $"{h.Key}: {string.Join(",", h)}"))}");

            var reload = await Cli.RunAsync(Command("reload", "drainer"));
            Assert.True(reload.Code == 0, reload.ToString());
            var reloaded = await client.StatusAsync("drainer");
            Assert.Equal(status.Generation + 1, reloaded.Generation);
            Assert.Single(reloaded.Workers, w => w.Generation == reloaded.Generation);
            Assert.All(draining, pid => Assert.True(Native.IsAlive(pid), $"draining worker {pid} exited before the reload was checked"));
            var okAfterReload = load.Ok;
            await Eventually.True(() => load.Ok > okAfterReload + 50, TimeSpan.FromSeconds(20), "the load to go on after the reload");
            await load.DisposeAsync();
            Assert.True(load.Failed == 0, $"{load.Failed} of {load.Ok + load.Failed} requests failed: {load.Errors}");

            // Another process joining the reuseport group is still refused, and named alone.
            using var foreign = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            foreign.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
            foreign.Bind(new IPEndPoint(IPAddress.Loopback, port));
            foreign.Listen();
            var refused = await Cli.RunAsync(Command("reload", "drainer"));
            Assert.True(refused.Code == 3, refused.ToString());
            Assert.Contains($"address tcp://127.0.0.1:{port} in use by another process (pid {Environment.ProcessId} ", refused.Stderr);
            Assert.All(draining, pid => Assert.DoesNotContain($"pid {pid} ", refused.Stderr));
        }
        finally
        {
            await Cli.RunAsync(Command("stop", "drainer", "--force"));
        }
    }

    /// <summary>Masters of this manifest (there is no other way to see a second master that no pid file names).</summary>
    private static List<int> MastersOf(string manifest)
    {
        var masters = new List<int>();
        foreach (var directory in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
            try
            {
                var argv = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
                if (argv.Contains("run") && argv.Contains(manifest) && Native.IsAlive(pid)) masters.Add(pid);
            }
            catch (IOException) { }
        }
        return masters;
    }

    private static List<ulong> ListeningOn(int port) =>
        SocketTable.Listening().Where(s => s.Local.Port == port).Select(s => s.Inode).Order().ToList();

    private static async Task<int> DeadPid()
    {
        using var process = System.Diagnostics.Process.Start("true")!;
        await process.WaitForExitAsync();
        return process.Id;
    }
}
