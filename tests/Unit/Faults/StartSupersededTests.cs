using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// A slot that crash-loops at start (restart.limit not yet reached) holds the pack in Starting for as long as its
/// restarts last. The operator's fix, a reload, or a stop, must not wait for the start to give up.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class StartSupersededTests
{
    private const string Manifest = """
        name: {0}
        command: dotnet
        args: ["{1}"{2}]
        workers: 2
        restart: {{ backoff: {{ initial: 1s, max: 2s }}, limit: {{ restarts: 1000, window: 1h }} }}
        """;

    private static async Task<PackProcess> CrashLooping(TempDir dir, string name)
    {
        var pack = await PackProcess.StartAsync(string.Format(Manifest, name, "{worker}", ", \"--crash-in-slot=1\""), waitReady: false, dir: dir);
        await pack.WaitForStatus(s => s.Workers.Any(w => w.Slot == 1 && w.State == "Backoff"), TimeSpan.FromSeconds(60), "slot 1 to crash and wait in backoff");
        return pack;
    }

    [Fact]
    public async Task A_reload_while_a_slot_crash_loops_at_start_deploys_the_fix_and_ends_the_start()
    {
        using var dir = new TempDir();
        await using var pack = await CrashLooping(dir, "superseded");
        File.WriteAllText(Path.Combine(dir.Path, "app.yml"), string.Format(Manifest, "superseded", RepoPaths.TestWorkerDll, ""));

        var reload = await Cli.RunAsync("reload", "superseded", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload.ToString());
        var status = await pack.StatusAsync();
        Assert.Equal("Running", status.State);
        Assert.Equal(2, status.Generation);
        // The old generation's workers may still be draining when the reload has replied; every other worker is the new one.
        var serving = status.Workers.Where(w => w.State != "Draining").ToList();
        Assert.NotEmpty(serving);
        Assert.All(serving, w => Assert.True(w.IsReady && w.Generation == 2, $"slot {w.Slot}: {w.State}, generation {w.Generation}"));
        Assert.All(status.Workers.Except(serving), w => Assert.Equal(1, w.Generation));
        await pack.WaitForLine(l => l.Contains(" pack-ready: "), TimeSpan.FromSeconds(10), "the start to end");

        pack.Signal(Native.SIGTERM);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_stop_while_a_slot_crash_loops_at_start_stops_the_pack()
    {
        using var dir = new TempDir();
        await using var pack = await CrashLooping(dir, "superstop");
        var stop = await Cli.RunAsync("stop", "superstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        var lines = pack.Lines.ToList();
        var stopped = lines.FindIndex(l => l.Contains(" stop: "));
        Assert.DoesNotContain(lines.Skip(stopped), l => l.Contains(" spawn: "));
    }

    [Fact]
    public async Task Ps_lists_a_pack_without_listeners_without_a_trailing_comma()
    {
        using var dir = new TempDir();
        await using var pack = await PackProcess.StartAsync("""
            name: nolisteners
            command: dotnet
            args: ["{worker}"]
            workers: 1
            """, dir: dir);
        var ps = await Cli.RunAsync("ps", "nolisteners", "--runtime-dir", pack.RuntimeDir);
        Assert.True(ps.Code == 0, ps.ToString());
        var header = ps.Stdout.Split('\n')[0];
        Assert.Matches(@"^nolisteners: Running, master pid \d+, generation 1$", header);
    }
}
