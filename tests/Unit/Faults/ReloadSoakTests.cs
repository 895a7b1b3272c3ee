using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class ReloadSoakTests(ITestOutputHelper output)
{
    private sealed record Footprint(int Fds, int Threads, long RssKib, int Children, int Zombies);

    private static Footprint Measure(int pid) => new(
        Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length,
        int.Parse(Native.StatusField(pid, "Threads")),
        long.Parse(Native.StatusField(pid, "VmRSS").Split(' ')[0]),
        Native.Children(pid).Count,
        Native.Children(pid).Count(Native.IsZombie));

    [Fact]
    public async Task Hundreds_of_reloads_in_a_row_leave_the_masters_fds_threads_and_rss_flat_and_no_zombie()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: soak
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            stop: { timeout: 5s }
            """);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        const int warmUp = 20;
        var midpoint = (warmUp + Soak.Reloads) / 2;
        Footprint? baseline = null, middle = null;
        for (var i = 1; i <= Soak.Reloads; i++)
        {
            Assert.True((await client.ReloadAsync("soak", strategy: i % 2 == 0 ? "rolling" : "surge")).Ok);
            if (i == warmUp)
            {
                await WaitForOldGenerationsToExit(client);
                baseline = Measure(pack.MasterPid);
            }
            if (i == midpoint)
            {
                await WaitForOldGenerationsToExit(client);
                middle = Measure(pack.MasterPid);
            }
        }
        await WaitForOldGenerationsToExit(client);
        var end = Measure(pack.MasterPid);
        var heap = (await client.StatusAsync("soak")).MasterGcHeapBytes;
        output.WriteLine($"{Soak.Reloads} reloads: after {warmUp} {baseline}, after {midpoint} {middle}, at the end {end}, GC heap {heap / 1024} KiB");
        Assert.InRange(end.Fds, 1, baseline!.Fds + 2);
        Assert.InRange(end.Threads, 1, baseline.Threads + 4);
        // Flat means the second half adds no more than warm-up noise (JIT tiering settles in the first).
        Assert.True(end.RssKib - middle!.RssKib < 4_096, $"RSS kept growing: {baseline.RssKib} KiB after {warmUp}, {middle.RssKib} KiB after {midpoint}, {end.RssKib} KiB after {Soak.Reloads} reloads");
        Assert.Equal(0, end.Zombies);
        Assert.Equal(3, end.Children); // two workers and the janitor
        Assert.Equal(Soak.Reloads + 1, (await client.StatusAsync("soak")).Generation);
    }

    private static Task WaitForOldGenerationsToExit(PackClient client) =>
        Eventually.Value(async () => (await client.StatusAsync("soak")).Workers.All(w => w.State == "Ready") ? "" : null,
            TimeSpan.FromSeconds(30), "the drained generations to exit");
}
