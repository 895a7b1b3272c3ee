using System.Diagnostics;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// Reloads that change a listener, under real load (keep-alive and new-connection HTTP clients): an
/// unchanged address keeps its socket, so its accept queue, and the new options reach it (backlog
/// via listen() again, file mode via chmod, protocols/maxConnections via the new workers' environment);
/// a new address gets a new socket while the old one drains. Not one request may fail.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ListenerReloadTests(ITestOutputHelper output)
{
    private sealed record Listener(string Name, int Port, int Backlog = 4096, int? MaxConnections = null, string Protocols = "http1");

    /// <summary>
    /// With a <paramref name="gate"/>, each worker waits for that file to exist before it starts the app, so the
    /// test decides when the new generation can become ready (and the reload commit).
    /// </summary>
    private static string Manifest(string pack, string mode, Listener l, string? gate = null) => $$"""
        name: {{pack}}
        command: {{(gate is null ? "dotnet" : "/bin/sh")}}
        args: {{(gate is null ? $"[\"{RepoPaths.ExampleDll("HelloHttp")}\"]" : $"['-c', 'until [ -e \"$0\" ]; do sleep 0.05; done; exec dotnet \"$1\"', '{gate}', '{RepoPaths.ExampleDll("HelloHttp")}']")}}
        workers: 2
        ready: { timeout: 90s }
        listeners: [{ name: {{l.Name}}, address: "tcp://127.0.0.1:{{l.Port}}", mode: {{mode}}, backlog: {{l.Backlog}}, {{(l.MaxConnections is { } max ? $"maxConnections: {max}, " : "")}}protocols: {{l.Protocols}} }]
        """;

    [Theory]
    [InlineData("shared")]
    [InlineData("reuseport")]
    public async Task Each_kind_of_listener_change_reloads_under_load_without_a_failed_request(string mode)
    {
        var pack = $"lr-{mode}";
        var port = FreePort.Probe();
        var first = new Listener("http", port);
        await using var master = await PackProcess.StartAsync(Manifest(pack, mode, first));
        var client = new PackClient(new RuntimeDirectory(master.RuntimeDir));
        var figures = new List<string>();
        var failures = new List<string>();

        // A request to the moved address waits in its accept queue while the gated generation starts, which takes
        // seconds on a loaded machine: the clients wait up to a minute, so a refused or reset request still fails at once.
        await using var load = new HttpLoad($"http://127.0.0.1:{port}/", keepAlive: 4, newConnections: 2, requestTimeout: TimeSpan.FromSeconds(60));
        await Eventually.True(() => load.Ok > 100, TimeSpan.FromSeconds(30), "the load to get going");

        async Task Reload(string kind, Listener next, bool sameSocket)
        {
            var before = await client.StatusAsync(pack);
            var oldPids = before.Workers.Select(w => w.Pid!.Value).ToList();
            var oldSockets = ListeningOn(port);
            var (ok0, failed0) = (load.Ok, load.Failed);
            var moves = next.Port != port;
            var gate = Path.Combine(master.Dir.Path, $"gate{before.Generation + 1}");
            var file = master.Dir.File($"gen{before.Generation + 1}.yml", Manifest(pack, mode, next, moves ? gate : null));
            var reload = client.ReloadAsync(pack, file);
            if (moves)
            {
                // As a deploy moves its clients: to the new address as soon as it is bound (it queues connections
                // until the new workers are ready), while the old one still serves; the old one closes at commit.
                // The new workers start their app only once every client has moved (the gate), so how fast this
                // test notices the bind cannot decide the outcome: the new generation is never ready before that.
                await Eventually.True(() => ListeningOn(next.Port).Count > 0, TimeSpan.FromSeconds(60), $"{kind}: the new address to be bound");
                Assert.False(reload.IsCompleted, $"{kind}: the reload finished before its gated workers could start");
                await load.MoveTo($"http://127.0.0.1:{next.Port}/", TimeSpan.FromSeconds(30));
                File.WriteAllText(gate, "");
            }
            var report = await reload;
            Assert.True(report.Ok, $"{kind}: {report.Error}");
            // Measured until the old generation has drained and exited, and the new one has served a while.
            await Eventually.True(() => oldPids.All(p => !Native.IsAlive(p)), TimeSpan.FromSeconds(30), $"{kind}: the old workers to drain and exit");
            var okAfter = load.Ok;
            await Eventually.True(() => load.Ok > okAfter + 200, TimeSpan.FromSeconds(30), $"{kind}: the new generation to serve");
            var (ok, failed) = (load.Ok - ok0, load.Failed - failed0);
            figures.Add($"{kind}: {ok} ok, {failed} failed");
            if (next.Port != port) figures.Add($"(port {port} -> {next.Port})");
            if (failed > 0) failures.Add($"{kind}: {failed} of {ok + failed} requests failed ({load.Errors})");

            var after = await Eventually.Value(async () =>
            {
                var status = await client.StatusAsync(pack);
                return status.Workers.All(w => w.Generation == status.Generation) ? status : null;
            }, TimeSpan.FromSeconds(30), $"{kind}: the master to reap the old workers");
            var newPids = after.Workers.Select(w => w.Pid!.Value).ToList();
            var newSockets = ListeningOn(next.Port);
            if (sameSocket) Assert.True(oldSockets.SetEquals(newSockets), $"{kind}: the new generation got new sockets ({string.Join(",", newSockets)}) instead of {string.Join(",", oldSockets)}");
            else Assert.Empty(oldSockets.Intersect(newSockets));
            Assert.Equal(next.Name, after.Listeners.Single().Name);
            var environment = File.ReadAllText($"/proc/{newPids[0]}/environ");
            Assert.Contains($"\"maxConnections\":{next.MaxConnections?.ToString() ?? "null"}", environment);
            Assert.Contains($"\"protocols\":\"{next.Protocols}\"", environment);
            Assert.All(Backlogs(next.Port), b => Assert.Equal(next.Backlog, b));
            Assert.Equal(mode == "shared" ? 1 : 2, Backlogs(next.Port).Count);
        }

        await Reload("backlog 4096 -> 128", first with { Backlog = 128 }, sameSocket: true);
        await Reload("rename http -> web", first with { Name = "web", Backlog = 128 }, sameSocket: true);
        await Reload("protocols http1 -> http1AndHttp2", first with { Name = "web", Backlog = 128, Protocols = "http1AndHttp2" }, sameSocket: true);
        var moved = FreePort.Probe();
        await Reload("address -> new port", first with { Name = "web", Port = moved, Backlog = 128, Protocols = "http1AndHttp2" }, sameSocket: false);
        await Eventually.True(() => Backlogs(port).Count == 0, TimeSpan.FromSeconds(10), "the old address to be closed once its workers drained");
        port = moved;
        await Reload("maxConnections none -> 5000", first with { Name = "web", Port = moved, Backlog = 128, MaxConnections = 5000, Protocols = "http1AndHttp2" }, sameSocket: true);

        output.WriteLine($"{mode}: " + string.Join("; ", figures));
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task A_unix_listener_changes_file_mode_and_backlog_under_load_without_a_failed_request()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "rel.sock");
        static string Unix(string mode, int backlog) => $$"""
            name: lr-unix
            command: dotnet
            args: ["{{RepoPaths.ExampleDll("HelloHttp")}}"]
            workers: 2
            listeners: [{ name: api, address: "unix://rel.sock", fileMode: "{{mode}}", backlog: {{backlog}}, protocols: http1 }]
            """;
        await using var master = await PackProcess.StartAsync(Unix("0660", 4096), dir: dir);
        var client = new PackClient(new RuntimeDirectory(master.RuntimeDir));
        var inode = UnixListening(path);
        Assert.NotNull(inode);
        var figures = new List<string>();
        await using var load = new HttpLoad("http://localhost/", keepAlive: 4, newConnections: 2, unixSocket: path);
        await Eventually.True(() => load.Ok > 100, TimeSpan.FromSeconds(30), "the load to get going");

        foreach (var (kind, yaml, expectedMode) in new[]
        {
            ("fileMode 0660 -> 0600", Unix("0600", 4096), UnixFileMode.UserRead | UnixFileMode.UserWrite),
            ("backlog 4096 -> 128", Unix("0600", 128), UnixFileMode.UserRead | UnixFileMode.UserWrite),
        })
        {
            var oldPids = (await client.StatusAsync("lr-unix")).Workers.Select(w => w.Pid!.Value).ToList();
            var (ok0, failed0) = (load.Ok, load.Failed);
            var report = await client.ReloadAsync("lr-unix", dir.File($"{kind[..4]}.yml", yaml));
            Assert.True(report.Ok, $"{kind}: {report.Error}");
            await Eventually.True(() => oldPids.All(p => !Native.IsAlive(p)), TimeSpan.FromSeconds(30), $"{kind}: the old workers to drain and exit");
            var okAfter = load.Ok;
            await Eventually.True(() => load.Ok > okAfter + 200, TimeSpan.FromSeconds(30), $"{kind}: the new generation to serve");
            figures.Add($"{kind}: {load.Ok - ok0} ok, {load.Failed - failed0} failed");
            Assert.Equal(expectedMode, File.GetUnixFileMode(path));
            Assert.Equal(inode, UnixListening(path));
        }
        output.WriteLine("unix: " + string.Join("; ", figures));
        Assert.True(load.Failed == 0, $"{load.Failed} of {load.Ok + load.Failed} requests failed: {load.Errors}");
    }

    private static HashSet<ulong> ListeningOn(int port) =>
        Gopherpack.Linux.SocketTable.Listening().Where(s => s.Local.Port == port).Select(s => s.Inode).ToHashSet();

    /// <summary>The inode of the unix socket listening at <paramref name="path"/> (/proc/net/unix: flag __SO_ACCEPTCON).</summary>
    private static string? UnixListening(string path) =>
        File.ReadLines("/proc/net/unix").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(f => f.Length >= 8 && f[7] == path && f[3] == "00010000")?[6];

    /// <summary>The backlog of each socket listening on the port, as the kernel reports it (ss: Send-Q of a listener).</summary>
    private static IReadOnlyList<int> Backlogs(int port)
    {
        var start = new ProcessStartInfo("ss", ["-Hltn", $"sport = :{port}"]) { RedirectStandardOutput = true };
        using var ss = Process.Start(start)!;
        var text = ss.StandardOutput.ReadToEnd();
        ss.WaitForExit();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2])).ToList();
    }
}
