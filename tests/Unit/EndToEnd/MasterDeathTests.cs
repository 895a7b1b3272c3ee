using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class MasterDeathTests
{
    [Theory]
    [InlineData("dotnet", "[\"{worker}\"]", "notify")]
    [InlineData("sleep", "[\"300\"]", "delay")]
    public async Task Workers_are_gone_within_two_seconds_of_the_master_being_killed(string command, string args, string readyMode)
    {
        await using var pack = await PackProcess.StartAsync($$"""
            name: orphans
            command: {{command}}
            args: {{args}}
            workers: 2
            ready: { mode: {{readyMode}}, delay: 100ms }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """);
        var workers = pack.SlotPids.Values.ToList();
        Assert.Equal(2, workers.Count);
        pack.Signal(Native.SIGKILL);
        await pack.WaitForExit(TimeSpan.FromSeconds(5));

        await Eventually.True(() => workers.All(pid => !Native.IsAlive(pid)), TimeSpan.FromSeconds(2),
            $"{command} workers {string.Join(",", workers.Where(Native.IsAlive))} outlived the killed master");
    }

    [Fact]
    public async Task A_new_master_starts_at_once_after_the_old_one_was_killed()
    {
        using var dir = new TempDir();
        var manifest = """
            name: again
            command: dotnet
            args: ["{worker}"]
            workers: 1
            listeners: [{ name: sock, address: "unix://app.sock" }]
            """;
        await using (var first = await PackProcess.StartAsync(manifest, dir: dir))
        {
            var worker = first.SlotPids[0];
            first.Signal(Native.SIGKILL);
            await first.WaitForExit(TimeSpan.FromSeconds(5));
            await Eventually.True(() => !Native.IsAlive(worker), TimeSpan.FromSeconds(2), "the old worker to go");
        }
        Assert.True(File.Exists(Path.Combine(dir.Path, "app.sock")), "the killed master could not remove its socket; this test expects a stale one");
        await using var second = await PackProcess.StartAsync(manifest, dir: dir);
        Assert.Equal(second.SlotPids[0], await RawHttp.PidAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir.Path, "app.sock"))));
    }
}
