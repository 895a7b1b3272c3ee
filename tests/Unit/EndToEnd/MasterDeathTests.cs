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
    public async Task A_killed_master_leaves_no_runtime_file_and_a_new_one_starts_at_once()
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
            var runtime = first.RuntimeDir;
            Assert.NotEmpty(Directory.GetFileSystemEntries(runtime));
            first.Signal(Native.SIGKILL);
            await first.WaitForExit(TimeSpan.FromSeconds(5));
            await Eventually.True(() => !Native.IsAlive(worker) && Directory.GetFileSystemEntries(runtime).Length == 0 && !File.Exists(Path.Combine(dir.Path, "app.sock")),
                TimeSpan.FromSeconds(2), $"worker, runtime files ({string.Join(", ", Directory.GetFileSystemEntries(runtime))}) or the unix socket outlived the killed master");
        }
        await using var second = await PackProcess.StartAsync(manifest, dir: dir);
        Assert.Equal(second.SlotPids[0], await RawHttp.PidAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir.Path, "app.sock"))));
    }
}
