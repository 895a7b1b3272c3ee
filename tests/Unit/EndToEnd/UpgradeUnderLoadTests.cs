using System.Diagnostics;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>The master itself is replaced twice (by command, then by SIGUSR2) while clients keep sending requests.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class UpgradeUnderLoadTests(ITestOutputHelper output)
{
    private const int SIGUSR2 = 12;

    [Theory]
    [InlineData("shared")]
    [InlineData("reuseport")]
    [InlineData("unix")]
    public async Task The_master_is_upgraded_by_command_and_by_SIGUSR2_under_load_and_no_request_fails(string mode)
    {
        var name = "up-" + mode;
        var address = mode == "unix" ? "unix://app.sock" : "tcp://127.0.0.1:0";
        await using var pack = await PackProcess.StartAsync($$"""
            name: {{name}}
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners: [{ name: http, address: "{{address}}", protocols: http1, mode: {{(mode == "reuseport" ? "reuseport" : "shared")}} }]
            """);
        var runtime = new RuntimeDirectory(pack.RuntimeDir);
        var client = new PackClient(runtime);
        var first = await client.StatusAsync(name);
        var firstSockets = first.Workers.OrderBy(w => w.Slot).Select(w => SocketInode(w.Pid!.Value)).ToList();

        await using var load = mode == "unix"
            ? new HttpLoad("http://localhost/", keepAlive: 4, newConnections: 2, unixSocket: Path.Combine(pack.Dir.Path, "app.sock"))
            : new HttpLoad($"http://{pack.TcpEndPoint("http")}/", keepAlive: 4, newConnections: 2);
        await Eventually.True(() => load.Ok > 100, TimeSpan.FromSeconds(20), "the load to get going");

        var clock = Stopwatch.StartNew();
        var byCommand = await client.UpgradeAsync(name);
        var commandTime = clock.Elapsed;
        Assert.True(byCommand.Ok);
        Assert.Equal(first.MasterPid, byCommand.OldMasterPid);
        Assert.NotEqual(first.MasterPid, byCommand.NewMasterPid);
        Assert.Equal(first.Generation + 1, byCommand.Generation);
        var second = await client.StatusAsync(name);
        Assert.Equal(byCommand.NewMasterPid, second.MasterPid);
        Assert.Equal(second.MasterPid.ToString(), File.ReadAllText(runtime.PidFile(name)).Trim());
        Assert.Equal(first.Listeners.Single().Address, second.Listeners.Single().Address);
        Assert.All(second.Workers, w => Assert.Equal("Ready", w.State));
        await GoneAsync(first, "the first master and its workers to drain and exit");

        clock.Restart();
        Assert.Equal(0, Native.kill(second.MasterPid, SIGUSR2));
        var third = await Eventually.Value(async () =>
        {
            var status = await client.StatusAsync(name);
            return status.MasterPid != second.MasterPid && status.Workers.All(w => w.State == "Ready") ? status : null;
        }, TimeSpan.FromSeconds(90), "a third master to take over after SIGUSR2");
        var signalTime = clock.Elapsed;
        Assert.Equal(second.Generation + 1, third.Generation);
        Assert.Equal(third.MasterPid.ToString(), File.ReadAllText(runtime.PidFile(name)).Trim());
        await GoneAsync(second, "the second master and its workers to drain and exit");

        // Same sockets all along: the third master's workers hold the very sockets the first one bound.
        Assert.Equal(firstSockets, third.Workers.OrderBy(w => w.Slot).Select(w => SocketInode(w.Pid!.Value)).ToList());
        Assert.DoesNotContain(Directory.GetFiles(pack.RuntimeDir), f => Path.GetFileName(f).StartsWith(name + ".sock.", StringComparison.Ordinal));

        var okAfter = load.Ok;
        await Eventually.True(() => load.Ok > okAfter + 50, TimeSpan.FromSeconds(20), "the pack to keep serving after the upgrades");
        await load.DisposeAsync();
        output.WriteLine($"{mode}: {load.Ok} requests ok, {load.Failed} failed; upgrade by command {commandTime.TotalMilliseconds:0} ms, by SIGUSR2 {signalTime.TotalMilliseconds:0} ms (until the new master serves)");
        Assert.True(load.Failed == 0, $"{load.Failed} of {load.Ok + load.Failed} requests failed: {load.Errors}");

        await client.StopAsync(name);
        Assert.False(File.Exists(runtime.PidFile(name)), "the last master left its pid file");
        Assert.False(File.Exists(runtime.ControlSocket(name)), "the last master left its control socket");
        if (mode == "unix") Assert.False(File.Exists(Path.Combine(pack.Dir.Path, "app.sock")), "the last master left the unix socket file");
    }

    private static async Task GoneAsync(PackStatus status, string what) =>
        await Eventually.True(() => !Native.IsAlive(status.MasterPid) && status.Workers.All(w => !Native.IsAlive(w.Pid!.Value)), TimeSpan.FromSeconds(60), what);

    private static string SocketInode(int pid) => new FileInfo($"/proc/{pid}/fd/3").LinkTarget!;
}
