using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// The master is a child subreaper: processes orphaned below its workers (setsid helpers holding no socket) or
/// below a failed upgrade's new master are re-parented to it and ended, not left to init.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class OrphanTests
{
    [Fact]
    public async Task Stop_ends_setsid_helpers_the_workers_left_behind_and_says_so()
    {
        using var dir = new TempDir();
        var helpers = Path.Combine(dir.Path, "helpers");
        // Each worker starts a helper in a session of its own that holds none of the pack's sockets, then becomes sleep.
        var manifest = dir.File("app.yml", """
            name: orphans
            command: /bin/sh
            args: ["-c", "setsid sleep 1003 3>&- & echo $! >> \"$0\"; exec sleep 600", "HELPERS"]
            workers: 2
            cpus: none
            ready: { mode: delay, delay: 100ms }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """.Replace("HELPERS", helpers));
        var runtime = Path.Combine(dir.Path, "rt");
        var pids = new List<int>();
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "orphans");
        await using var _ = pack;
        pack?.AlsoEnd(() => pids);
        Assert.True(start.Code == 0, start.ToString());
        await Eventually.True(() => (pids = ReadPids(helpers)).Count == 2, TimeSpan.FromSeconds(20), "both workers' helpers to start");
        Assert.All(pids, pid => Assert.True(Native.IsAlive(pid), $"helper {pid} is not running"));

        var stop = await Cli.RunAsync("stop", "orphans", "--runtime-dir", runtime);

        Assert.True(stop.Code == 0, stop.ToString());
        foreach (var pid in pids)
        {
            // Gone (not even a zombie) by the time stop returns: the master ended and reaped it before replying.
            Assert.False(File.Exists($"/proc/{pid}/stat"), $"the helper pid {pid} outlived the stop: {stop}");
            Assert.Contains($"pid {pid} (sleep) was still running after the workers had stopped (left behind by a worker); ended it with SIGTERM", stop.Stderr);
        }
        var log = File.ReadAllText(pack!.LogPath);
        Assert.All(pids, pid => Assert.Contains($"pid={pid} orphans: pid {pid} (sleep) was still running", log));
    }

    [Fact]
    public async Task A_failed_upgrade_candidate_that_ignores_SIGTERM_is_killed_with_its_child()
    {
        using var dir = new TempDir();
        var childFile = Path.Combine(dir.Path, "child.pid");
        var candidate = dir.File("candidate.sh", $"#!/bin/sh\ntrap '' TERM\nsleep 1000 &\necho $! > {childFile}\nwait $!\n");
        File.SetUnixFileMode(candidate, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var manifest = dir.File("app.yml", """
            name: badnew
            command: sleep
            args: ["600"]
            workers: 1
            cpus: none
            ready: { mode: delay, delay: 100ms }
            stop: { timeout: 1s }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """);
        var runtime = Path.Combine(dir.Path, "rt");
        var child = 0;
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "badnew");
        await using var _ = pack;
        pack?.AlsoEnd(() => child > 0 ? [child] : []);
        Assert.True(start.Code == 0, start.ToString());

        var upgrade = await Cli.RunAsync("upgrade", "badnew", "--executable", candidate, "--timeout", "2", "--runtime-dir", runtime);
        Assert.True(upgrade.Code == 3, upgrade.ToString());
        Assert.True(int.TryParse(File.ReadAllText(childFile).Trim(), out child), "the candidate did not start its child");

        // SIGTERM (ignored), then SIGKILL to the candidate's process group after stop.timeout + 5 s.
        await Eventually.True(() => !File.Exists($"/proc/{child}/stat"), TimeSpan.FromSeconds(30),
            $"the failed candidate's child sleep (pid {child}) to be killed and reaped");
        var ps = await Cli.RunAsync("ps", "badnew", "--runtime-dir", runtime);
        Assert.True(ps.Code == 0, "the old master must keep serving: " + ps);
    }

    [Fact]
    public async Task After_an_upgrade_the_old_master_ends_only_its_own_generations_leftovers()
    {
        using var dir = new TempDir();
        var helpers = Path.Combine(dir.Path, "helpers");
        var manifest = dir.File("app.yml", """
            name: handover
            command: /bin/sh
            args: ["-c", "setsid sleep 1003 3>&- & echo \"$GOPHERPACK_GENERATION $!\" >> \"$0\"; exec sleep 600", "HELPERS"]
            workers: 2
            cpus: none
            ready: { mode: delay, delay: 100ms }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """.Replace("HELPERS", helpers));
        var runtime = Path.Combine(dir.Path, "rt");
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "handover");
        await using var _ = pack;
        pack?.AlsoEnd(() => Helpers(helpers, null));
        Assert.True(start.Code == 0, start.ToString());
        var old = (await pack!.StatusAsync()).MasterPid;
        await Eventually.True(() => Helpers(helpers, 1).Count == 2, TimeSpan.FromSeconds(20), "generation 1's helpers to start");

        var upgrade = await Cli.RunAsync("upgrade", "handover", "--runtime-dir", runtime);
        Assert.True(upgrade.Code == 0, upgrade.ToString());
        var status = await pack.StatusAsync();
        Assert.NotEqual(old, status.MasterPid);
        var generation = status.Generation;
        await Eventually.True(() => Helpers(helpers, generation).Count == 2, TimeSpan.FromSeconds(20), "the new generation's helpers to start");

        await Eventually.True(() => !File.Exists($"/proc/{old}/stat"), TimeSpan.FromSeconds(30), "the old master to drain and exit");
        Assert.All(Helpers(helpers, 1), pid => Assert.False(File.Exists($"/proc/{pid}/stat"), $"the old generation's helper {pid} outlived its master"));
        // Nothing of the new pack was touched: its master, workers and helpers all run.
        Assert.True(Native.IsAlive(status.MasterPid), "the new master was killed");
        Assert.All(status.Workers, w => Assert.True(Native.IsAlive(w.Pid!.Value), $"the new worker {w.Pid} was killed"));
        Assert.All(Helpers(helpers, generation), pid => Assert.True(Native.IsAlive(pid), $"the new generation's helper {pid} was killed"));
        var log = File.ReadAllText(pack.LogPath);
        Assert.All(Helpers(helpers, 1), pid => Assert.Contains($"pid={pid} orphans: pid {pid} (sleep) was still running", log));

        var stop = await Cli.RunAsync("stop", "handover", "--runtime-dir", runtime);
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.All(Helpers(helpers, generation), pid => Assert.False(File.Exists($"/proc/{pid}/stat"), $"the new generation's helper {pid} outlived the stop"));
    }

    /// <summary>The helpers' pids of one generation (null: of every generation), from the lines "GENERATION PID" the workers wrote.</summary>
    private static List<int> Helpers(string file, int? generation)
    {
        try
        {
            return File.ReadAllLines(file).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length == 2 && (generation is null || f[0] == generation.ToString())).Select(f => int.Parse(f[1])).ToList();
        }
        catch (IOException) { return []; }
    }

    private static List<int> ReadPids(string file)
    {
        try { return File.ReadAllLines(file).Select(l => int.TryParse(l.Trim(), out var pid) ? pid : 0).Where(p => p > 0).ToList(); }
        catch (IOException) { return []; }
    }
}
