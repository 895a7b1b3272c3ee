using Gopherpack.Control;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// Issue 20: N SIGHUPs made N reload attempts, N-1 of them refused as busy. They coalesce now, as nginx's do: the
/// SIGHUPs that come while a reload runs make one more reload once it has finished.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class SighupCoalescingTests
{
    private const int SIGHUP = 1;

    [Fact]
    public async Task SIGHUPs_during_a_reload_make_one_more_reload_none_refused()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: hups
            command: sh
            args: ["-c", "exec sleep 600"]
            workers: 1
            cpus: none
            ready: { mode: delay, delay: 1s }
            stop: { timeout: 5s }
            """);
        pack.Signal(SIGHUP);
        await pack.WaitForStatus(s => s.State == PackStatus.Reloading, TimeSpan.FromSeconds(30), "the first reload to begin");
        // The kernel merges a signal that is already pending: these four arrive as one or more while the reload runs.
        for (var i = 0; i < 4; i++) pack.Signal(SIGHUP);
        await pack.WaitForStatus(s => s.Generation == 3, TimeSpan.FromSeconds(60), "the second, coalesced reload");
        // Give a wrongly queued third reload the time to show itself: each takes at least the 1 s ready delay.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(pack.Lines, l => l.Contains("generation 4"));
        Assert.DoesNotContain(pack.Lines, l => l.Contains("refused (SIGHUP)"));
        Assert.Single(pack.Lines, l => l.Contains("SIGHUP while the one before is still handled"));
    }
}
