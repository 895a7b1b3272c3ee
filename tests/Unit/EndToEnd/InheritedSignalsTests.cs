using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// Issue 19, item 5: a master started in the background (`nohup gopherpack run app.yml &`, a script's `&`, a parent
/// that blocks signals) inherits SIGHUP, SIGINT and SIGQUIT ignored, or a blocked mask. It still handles every signal
/// it documents, and its workers start with every signal at its default and nothing blocked.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class InheritedSignalsTests
{
    private const int SIGHUP = 1, SIGUSR2 = 12, SIGCHLD = 17, SIGTTIN = 21, SIGTTOU = 22;
    private static readonly (int Number, string Name)[] Documented =
    [
        (SIGHUP, "SIGHUP"), (Native.SIGINT, "SIGINT"), (Native.SIGQUIT, "SIGQUIT"), (Native.SIGTERM, "SIGTERM"),
        (SIGUSR2, "SIGUSR2"), (SIGTTIN, "SIGTTIN"), (SIGTTOU, "SIGTTOU"), (SIGCHLD, "SIGCHLD"),
    ];

    // sleep changes no disposition of its own: what it shows is what it was started with.
    private const string Manifest = """
        name: background
        command: sleep
        args: ["300"]
        workers: 1
        cpus: none
        ready: { mode: delay, delay: 100ms }
        stop: { timeout: 5s }
        """;

    [Fact]
    public async Task Under_real_nohup_in_a_scripts_background_the_master_reloads_on_SIGHUP_and_stops_on_SIGINT()
    {
        // A non-interactive shell starts a background job with SIGINT and SIGQUIT ignored; nohup ignores SIGHUP.
        await using var pack = await PackProcess.StartAsync(Manifest, launcher: ["/bin/sh", "-c", "nohup \"$@\" & wait $!", "sh"]);
        var master = pack.AllMasterPids.Single(pid => pid != pack.MasterPid);
        AssertHandlesEveryDocumentedSignal(master);
        AssertStartedClean(pack.SlotPids[0]);

        Native.kill(master, SIGHUP);
        await pack.WaitForStatus(s => s.Generation == 2, TimeSpan.FromSeconds(30), "SIGHUP to reload the pack");
        Native.kill(master, Native.SIGINT);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains(pack.Lines, l => l.Contains("SIGINT received"));
    }

    [Fact]
    public async Task With_every_documented_signal_ignored_and_blocked_by_its_parent_the_master_scales_on_SIGTTIN_and_stops_on_SIGQUIT()
    {
        const string all = "HUP,INT,QUIT,TERM,USR2,TTIN,TTOU";
        await using var pack = await PackProcess.StartAsync(Manifest,
            launcher: ["env", $"--ignore-signal={all}", $"--block-signal={all},CHLD", "--"]);
        var master = pack.MasterPid;
        AssertHandlesEveryDocumentedSignal(master);
        AssertStartedClean(pack.SlotPids[0]);

        Native.kill(master, SIGTTIN);
        await pack.WaitForStatus(s => s.Workers.Count(w => w.Pid is not null) == 2, TimeSpan.FromSeconds(30), "SIGTTIN to add a worker");
        AssertStartedClean(pack.SlotPids[1]);
        Native.kill(master, Native.SIGQUIT);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains(pack.Lines, l => l.Contains("SIGQUIT received"));
    }

    private static void AssertHandlesEveryDocumentedSignal(int master)
    {
        var caught = Mask(master, "SigCgt");
        var ignored = Mask(master, "SigIgn");
        var blocked = Mask(master, "SigBlk");
        foreach (var (number, name) in Documented)
        {
            Assert.True(Has(caught, number), $"the master does not catch {name} (SigCgt {caught:x16}, SigIgn {ignored:x16})");
            Assert.False(Has(blocked, number), $"the master's main thread blocks {name} (SigBlk {blocked:x16})");
        }
    }

    /// <summary>Default dispositions and an empty mask, whatever the master inherited.</summary>
    private static void AssertStartedClean(int worker)
    {
        Assert.Equal(0UL, Mask(worker, "SigIgn"));
        Assert.Equal(0UL, Mask(worker, "SigBlk"));
    }

    private static ulong Mask(int pid, string field) => Convert.ToUInt64(Native.StatusField(pid, field), 16);

    private static bool Has(ulong mask, int signal) => (mask & (1UL << (signal - 1))) != 0;
}
