using System.Net.Sockets;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>After a master is killed, its janitor removes exactly the files that master held at that moment.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class JanitorTests
{
    private static string Unix(string name, string socket) => $$"""
        name: {{name}}
        command: dotnet
        args: ["{{RepoPaths.TestWorkerDll}}"]
        workers: 1
        listeners: [{ name: api, address: "unix://{{socket}}" }]
        """;

    [Fact]
    public async Task A_killed_masters_janitor_removes_the_socket_it_moved_to_and_not_the_one_another_pack_took_over()
    {
        using var dir = new TempDir();
        var u1 = Path.Combine(dir.Path, "u1.sock");
        var u2 = Path.Combine(dir.Path, "u2.sock");
        await using var a = await PackProcess.StartAsync(Unix("a", "u1.sock"), dir: dir);
        var report = await new PackClient(new RuntimeDirectory(a.RuntimeDir)).ReloadAsync("a", dir.File("a2.yml", Unix("a", "u2.sock")));
        Assert.True(report.Ok, report.Error);
        Assert.False(File.Exists(u1), "the reload left the old socket file");
        Assert.True(File.Exists(u2));

        await using var b = await PackProcess.StartAsync(Unix("b", "u1.sock"), dir: dir);
        a.Signal(Native.SIGKILL);
        await a.WaitForExit(TimeSpan.FromSeconds(10));
        var leftovers = () => Directory.GetFileSystemEntries(a.RuntimeDir, "a.*").Append(u2).Where(f => File.Exists(f) || Directory.Exists(f)).ToList();
        await Eventually.True(() => leftovers().Count == 0, TimeSpan.FromSeconds(5), $"the janitor to remove what the killed master held: {string.Join(", ", leftovers())}");

        Assert.True(File.Exists(u1), "the janitor removed the socket file of another pack");
        Assert.Contains(await RawHttp.PidAsync(new UnixDomainSocketEndPoint(u1)), b.SlotPids.Values);
        Assert.True(File.Exists(Path.Combine(b.RuntimeDir, "b.sock")), "the janitor removed another pack's control socket");
    }
}
