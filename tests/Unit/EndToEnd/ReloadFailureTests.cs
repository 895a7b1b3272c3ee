using Gopherpack.Control;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class ReloadFailureTests
{
    private const string Hello = """
        name: hello
        command: dotnet
        args: ["{HelloHttp}"]
        workers: 2
        listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
        """;

    private static async Task AssertOldPidsServe(PackProcess pack, IReadOnlyCollection<int> pids)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 20; i++)
        {
            var body = await client.GetStringAsync($"http://{pack.TcpEndPoint("http")}/");
            Assert.Contains(pids, pid => body.Contains($"\"pid\":{pid},"));
        }
        Assert.All(pids, pid => Assert.True(Native.IsAlive(pid), $"old worker {pid} is gone"));
    }

    [Fact]
    public async Task A_reload_to_a_version_that_crashes_at_start_exits_3_with_the_reason_while_the_old_pids_serve()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var old = pack.SlotPids.Values.ToList();
        var broken = pack.Dir.File("broken.yml", """
            name: hello
            command: sh
            args: ["-c", "echo 'fatal: cannot open the database' >&2; exit 1"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
            """);
        var result = await Cli.RunAsync("reload", "hello", "--manifest", broken, "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 3, result.ToString());
        Assert.Contains("exited before it was ready (exit code 1)", result.Stderr);
        Assert.Contains("fatal: cannot open the database", result.Stderr);
        await AssertOldPidsServe(pack, old);
        var status = await pack.StatusAsync();
        Assert.Equal(1, status.Generation);
        Assert.False(status.LastReload!.Ok);
    }

    [Fact]
    public async Task A_reload_to_a_version_that_never_becomes_ready_exits_3_while_the_old_pids_serve()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var old = pack.SlotPids.Values.ToList();
        var mute = pack.Dir.File("mute.yml", """
            name: hello
            command: dotnet
            args: ["{worker}", "--never-ready"]
            workers: 2
            ready: { timeout: 1s }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
            """.Replace("{worker}", RepoPaths.TestWorkerDll));
        foreach (var strategy in new[] { "surge", "rolling" })
        {
            var result = await Cli.RunAsync("reload", "hello", "--manifest", mute, "--strategy", strategy, "--runtime-dir", pack.RuntimeDir);
            Assert.True(result.Code == 3, result.ToString());
            Assert.Contains("not ready within 1s (ready.timeout)", result.Stderr);
            await AssertOldPidsServe(pack, old);
        }
    }

    [Fact]
    public async Task A_second_reload_while_one_runs_is_refused()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var slow = pack.Dir.File("slow.yml", """
            name: hello
            command: dotnet
            args: ["{worker}", "--never-ready"]
            workers: 2
            ready: { timeout: 5s }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
            """.Replace("{worker}", RepoPaths.TestWorkerDll));
        var first = Cli.RunAsync("reload", "hello", "--manifest", slow, "--runtime-dir", pack.RuntimeDir);
        await pack.WaitForStatus(s => s.State == PackStatus.Reloading, TimeSpan.FromSeconds(20), "the first reload to start");
        var second = await Cli.RunAsync("reload", "hello", "--runtime-dir", pack.RuntimeDir);
        Assert.True(second.Code == 3, second.ToString());
        Assert.Contains("a reload is already running (generation 2", second.Stderr);
        Assert.Equal(3, (await first).Code);
    }

    [Fact]
    public async Task A_reload_with_an_invalid_manifest_exits_2_and_changes_nothing()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var old = pack.SlotPids.Values.ToList();
        var invalid = pack.Dir.File("invalid.yml", "name: hello\ncommand: dotnet\nworkers: lots\n");
        var result = await Cli.RunAsync("reload", "hello", "--manifest", invalid, "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains($"{invalid}:3:10: 'workers' must be a whole number", result.Stderr);
        await AssertOldPidsServe(pack, old);
    }

    [Fact]
    public async Task A_reload_to_a_manifest_that_names_another_pack_is_an_invalid_manifest_not_busy()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var old = pack.SlotPids.Values.ToList();
        var other = pack.Dir.File("other.yml", Hello.Replace("name: hello", "name: other").Replace("{HelloHttp}", RepoPaths.ExampleDll("HelloHttp")));
        var result = await Cli.RunAsync("reload", "hello", "--manifest", other, "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains("the manifest names pack 'other', this pack is 'hello'", result.Stderr);
        var reply = await Assert.ThrowsAsync<PackControlException>(() => pack.Client.ReloadAsync("hello", other));
        Assert.Equal(ControlErrors.ManifestInvalid, reply.Code);
        await AssertOldPidsServe(pack, old);
    }

    [Fact]
    public async Task A_reload_whose_new_port_is_taken_fails_with_the_reason_and_keeps_the_old_listener()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var moved = pack.Dir.File("moved.yml", Hello.Replace("{HelloHttp}", RepoPaths.ExampleDll("HelloHttp")).Replace("tcp://127.0.0.1:0", $"tcp://127.0.0.1:{port}"));
        var result = await Cli.RunAsync("reload", "hello", "--manifest", moved, "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 3, result.ToString());
        Assert.Contains($"address tcp://127.0.0.1:{port} in use by another process", result.Stderr);
        await AssertOldPidsServe(pack, pack.SlotPids.Values.ToList());
    }

    [Fact]
    public async Task Sighup_reloads_from_the_manifest_file_and_sigusr2_upgrades_the_master()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        pack.Signal(1);
        await pack.WaitForStatus(s => s.Generation == 2, TimeSpan.FromSeconds(30), "the SIGHUP reload");
        Assert.DoesNotContain(pack.Lines, l => l.Contains("upgrade:"));
        // SIGUSR2 used to be a second reload signal; it now replaces the master (UpgradeUnderLoadTests covers it under load).
        pack.Signal(12);
        await pack.WaitForStatus(s => s.MasterPid != pack.MasterPid, TimeSpan.FromSeconds(60), "the SIGUSR2 upgrade");
    }
}
