using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>Every way a start can fail gives a clear message and exit code, and leaves nothing half started.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class StartFailureTests
{
    private static void AssertNothingRunning(string runtime, string pack)
    {
        Assert.False(File.Exists(Path.Combine(runtime, pack + ".pid")), "a pid file was left");
        Assert.False(File.Exists(Path.Combine(runtime, pack + ".sock")), "a control socket was left");
        Assert.False(Directory.Exists(Path.Combine(runtime, pack + ".notify")), "notify sockets were left");
    }

    private static async Task<int> Chattr(string change, string path)
    {
        using var chattr = System.Diagnostics.Process.Start("chattr", [change, path]);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await chattr.WaitForExitAsync(cancel.Token);
        return chattr.ExitCode;
    }

    [Fact]
    public async Task An_unusable_runtime_dir_fails_start_with_exit_1()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", "name: rt\ncommand: sh\nargs: ['-c', 'sleep 60']\nready: { mode: delay, delay: 10ms }\n");
        var blocker = dir.File("plain-file", "");
        var result = await Cli.RunAsync("start", manifest, "--runtime-dir", Path.Combine(blocker, "rt"));
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains($"runtime directory '{Path.Combine(blocker, "rt")}' is not usable", result.Stderr);
    }

    [Fact]
    public async Task A_stale_unix_socket_that_cannot_be_removed_fails_start_with_exit_1_and_the_reason()
    {
        using var dir = new TempDir();
        var sockets = Directory.CreateDirectory(Path.Combine(dir.Path, "sockets")).FullName;
        var stale = Path.Combine(sockets, "app.sock");
        var left = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        left.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(stale));
        Gopherpack.Linux.SocketFiles.CloseWithoutUnlink(left); // a killed master's leftover
        Assert.True(File.Exists(stale), "the stale socket file was not left behind");
        // An immutable folder refuses the delete even to root (the tests run as root in CI), as a folder of another user would.
        Assert.Equal(0, await Chattr("+i", sockets));
        try
        {
            var manifest = dir.File("app.yml", $"name: stale\ncommand: sh\nargs: ['-c', 'exec sleep 60']\nready: {{ mode: delay, delay: 10ms }}\nlisteners: [{{ name: api, address: 'unix://{stale}' }}]\n");
            var runtime = Path.Combine(dir.Path, "rt");
            var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
            Assert.True(result.Code == 1, result.ToString());
            Assert.True(result.Stderr.Contains($"listener 'api': cannot remove the stale socket file '{stale}' (nothing listens on it)"), result.ToString());
            Assert.DoesNotContain("Unhandled", result.Stderr);
            AssertNothingRunning(runtime, "stale");
        }
        finally
        {
            await Chattr("-i", sockets);
        }
    }

    [Fact]
    public async Task A_port_in_use_fails_start_with_exit_1_and_the_reason()
    {
        using var dir = new TempDir();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var manifest = dir.File("app.yml", $"name: busyport\ncommand: sh\nargs: ['-c', 'sleep 60']\nlisteners: [{{ name: http, address: 'tcp://127.0.0.1:{port}' }}]\n");
        var runtime = Path.Combine(dir.Path, "rt");
        var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains($"listener 'http': address tcp://127.0.0.1:{port} in use by another process", result.Stderr);
        AssertNothingRunning(runtime, "busyport");
    }

    [Fact]
    public async Task A_command_that_does_not_exist_fails_start_with_exit_2_before_anything_runs()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", "name: nocmd\ncommand: gopherpack-no-such-server\n");
        var runtime = Path.Combine(dir.Path, "rt");
        var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains($"{manifest}:2:10: command 'gopherpack-no-such-server' was not found on PATH", result.Stderr);
        Assert.False(Directory.Exists(runtime));
    }

    [Fact]
    public async Task A_worker_that_exits_at_once_fails_start_with_exit_1_and_its_output()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", """
            name: quitter
            command: sh
            args: ["-c", "echo 'listen: missing TLS key' >&2; exit 78"]
            workers: 2
            restart: { backoff: { initial: 10ms }, limit: { restarts: 2 } }
            """);
        var runtime = Path.Combine(dir.Path, "rt");
        var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains("exited before it was ready (exit code 78)", result.Stderr);
        Assert.Contains("listen: missing TLS key", result.Stderr);
        AssertNothingRunning(runtime, "quitter");
    }

    [Fact]
    public async Task A_pack_not_ready_within_the_start_timeout_is_stopped_again()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", "name: slowpoke\ncommand: sleep\nargs: ['60']\nready: { mode: notify, timeout: 60s }\n");
        var runtime = Path.Combine(dir.Path, "rt");
        var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime, "--timeout", "2");
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains("the pack was not ready within 2s; it was stopped", result.Stderr);
        AssertNothingRunning(runtime, "slowpoke");
    }
}
