using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>A long session in one host: nothing piles up in it (a pwsh session or a CI agent lives for days).</summary>
public sealed class HostHygieneTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public async Task After_many_starts_reloads_stops_and_in_process_runs_no_zombie_thread_or_fd_is_left()
    {
        var manifest = Lab.Manifest("cycle", workers: 1);
        var failing = Lab.Manifest("failing", workers: 1, workerArgs: "--crash", extra: "restart: { backoff: { initial: 10ms, max: 10ms }, limit: { restarts: 1, window: 60s } }");
        // One round first, so that what the engine and runtime set up once does not count.
        Round();
        await Settled();
        var fds = Directory.GetFiles("/proc/self/fd").Length;

        for (var i = 0; i < 6; i++) Round();
        for (var i = 0; i < 2; i++)
        {
            using var waiting = PS.Start($"Start-Pack {PackLab.Quote(manifest)} {Lab.Rt} -Wait");
            using var other = new PowerShellSession(Module.Psd1, Lab.Path);
            await Eventually.True(() => other.Run($"Get-Pack cycle {Lab.Rt}").Output.SingleOrDefault()?.Get<string>("State") == "Running", TimeSpan.FromSeconds(60), "the in-process pack to run");
            other.Run($"Stop-Pack cycle {Lab.Rt}").AssertNoErrors();
            waiting.Wait(TimeSpan.FromSeconds(30)).AssertNoErrors();
        }
        await Settled();
        Assert.True(Directory.GetFiles("/proc/self/fd").Length <= fds + 6, $"fds grew from {fds} to {Directory.GetFiles("/proc/self/fd").Length}");

        void Round()
        {
            StartPack(manifest);
            PS.Run($"Invoke-PackReload cycle {Lab.Rt}").AssertNoErrors();
            PS.Run($"Stop-Pack cycle {Lab.Rt}").AssertNoErrors();
            Assert.Equal("PackStartFailed", PS.Run($"Start-Pack {PackLab.Quote(failing)} {Lab.Rt}").SingleError().FullyQualifiedErrorId.Split(',')[0]);
        }
    }

    private static Task Settled() =>
        Eventually.True(() => ProcessTable.OwnChildren().Count == 0 && ProcessTable.GopherpackThreads().Count == 0, TimeSpan.FromSeconds(15),
            $"children or Gopherpack threads left in the host: [{string.Join(", ", ProcessTable.OwnChildren())}] [{string.Join(", ", ProcessTable.GopherpackThreads())}]");
}
