using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class LifecycleRaceTests
{
    [Fact]
    public async Task Sigterm_in_the_middle_of_a_reload_stops_both_generations_and_fails_the_reload()
    {
        var pack = await PackProcess.StartAsync("""
            name: midreload
            command: dotnet
            args: ["{worker}"]
            workers: 2
            stop: { timeout: 5s }
            """);
        await using var _ = pack;
        var slow = pack.Dir.File("slow.yml", $$"""
            name: midreload
            command: dotnet
            args: ["{{RepoPaths.TestWorkerDll}}", "--never-ready"]
            workers: 2
            ready: { timeout: 20s }
            """);
        var reload = Cli.RunAsync("reload", "midreload", "--manifest", slow, "--runtime-dir", pack.RuntimeDir);
        await pack.WaitForStatus(s => s.Workers.Any(w => w.Generation == 2 && w.Pid is not null), TimeSpan.FromSeconds(20), "the new generation to start");
        pack.Signal(Native.SIGTERM);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(15)));
        var result = await reload;
        Assert.True(result.Code is 3 or 7, result.ToString());
        Assert.All(pack.AllWorkerPids, pid => Assert.False(Native.IsAlive(pid), $"worker {pid} outlived the stop"));
        Assert.Empty(Directory.GetFileSystemEntries(pack.RuntimeDir));
    }

    [Fact]
    public async Task A_reload_during_a_stop_is_refused_and_the_stop_completes()
    {
        var pack = await PackProcess.StartAsync("""
            name: midstop
            command: dotnet
            args: ["{worker}", "--ignore-term"]
            workers: 1
            stop: { timeout: 3s }
            """);
        await using var _ = pack;
        pack.Signal(Native.SIGTERM);
        await pack.WaitForStatus(s => s.State == "Stopping", TimeSpan.FromSeconds(10), "the stop to begin");
        var reload = await Cli.RunAsync("reload", "midstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 3, reload.ToString());
        Assert.Contains("the pack is stopping", reload.Stderr);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(15)));
    }
}
