using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>What a worker leaves behind is cleaned up: helpers in its process group die with it; helpers that left the group but hold the pack's socket are killed at stop and reported.</summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class StrayProcessTests
{
    [GeneratedRegex(@"pid (\d+) \(sleep\) still held listener 'http' \(tcp://127\.0\.0\.1:\d+\) after its worker was gone")]
    private static partial Regex StrayLine();

    [Fact]
    public async Task Stop_kills_and_reports_a_setsid_helper_that_holds_the_listening_socket()
    {
        using var dir = new TempDir();
        var port = FreePort.Probe();
        var manifest = dir.File("app.yml", $"name: strays\ncommand: /bin/sh\nargs: ['-c', 'setsid sleep 90 & exec dotnet \"$0\"', '{RepoPaths.TestWorkerDll}']\n" +
            $"workers: 1\nlisteners: [{{ name: http, address: 'tcp://127.0.0.1:{port}' }}]\n");
        var runtime = Path.Combine(dir.Path, "rt");
        var sleepers = new List<int>();
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "strays");
        await using var _ = pack;
        pack?.AlsoEnd(() => sleepers);
        Assert.True(start.Code == 0, start.ToString());
        await Eventually.True(() => (sleepers = SleepersHolding(port)).Count == 1, TimeSpan.FromSeconds(10), "the worker's setsid helper to appear");

        var stop = await Cli.RunAsync("stop", "strays", "--runtime-dir", runtime);
        Assert.True(stop.Code == 0, stop.ToString());
        var reported = StrayLine().Match(stop.Stderr);
        Assert.True(reported.Success, "stop did not report the stray: " + stop);
        Assert.Equal(sleepers[0], int.Parse(reported.Groups[1].Value));
        await Eventually.True(() => !Native.IsAlive(sleepers[0]), TimeSpan.FromSeconds(5), "the stray to be killed");
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, port)); // nothing holds the address any more
    }

    [Fact]
    public async Task A_helper_left_in_a_dead_workers_process_group_dies_with_it()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: leftover
            command: /bin/sh
            args: ["-c", "sleep 90 & exec dotnet \"$0\"", "{worker}"]
            workers: 1
            restart: { backoff: { initial: 10ms } }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """);
        var worker = pack.SlotPids[0];
        var helper = Native.Children(worker).Single(pid => File.ReadAllText($"/proc/{pid}/comm").Trim() == "sleep");
        try
        {
            Native.kill(worker, Native.SIGKILL);
            await Eventually.True(() => !Native.IsAlive(helper), TimeSpan.FromSeconds(10), $"the dead worker's helper (pid {helper}) to be killed with its group");
        }
        finally
        {
            Native.kill(helper, Native.SIGKILL);
        }
    }

    /// <summary>sleep processes holding a socket that listens on the port.</summary>
    private static List<int> SleepersHolding(int port)
    {
        var inodes = Gopherpack.Linux.SocketTable.Listening().Where(s => s.Local.Port == port).Select(s => s.Inode).ToHashSet();
        return Gopherpack.Linux.SocketTable.Holders(inodes, new HashSet<int>()).Where(h => h.Command == "sleep").Select(h => h.Pid).Distinct().ToList();
    }
}
