using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class MasterDeathTests(ITestOutputHelper output)
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

    /// <summary>
    /// Issue 19, item 1: a worker that ignores SIGTERM outlived a SIGKILLed master for good and kept the port, so the
    /// next start failed. The janitor now sends it its stop signal and, after stop.timeout, SIGKILL.
    /// </summary>
    [Fact]
    public async Task A_worker_that_ignores_its_stop_signal_gets_it_and_SIGKILL_after_stop_timeout_and_the_next_start_gets_the_port()
    {
        using var dir = new TempDir();
        var port = FreePort.Probe();
        var marks = Path.Combine(dir.Path, "term.log");
        var stopTimeout = TimeSpan.FromSeconds(3);
        var manifest = $$"""
            name: deaf
            command: dotnet
            args: ["{worker}", "--ignore-term", "--mark-term={{marks}}"]
            workers: 2
            stop: { timeout: 3s }
            listeners: [{ name: http, address: "tcp://127.0.0.1:{{port}}" }]
            """;
        await using (var first = await PackProcess.StartAsync(manifest, dir: dir))
        {
            var workers = first.SlotPids.Values.ToList();
            var runtime = first.RuntimeDir;
            first.Signal(Native.SIGKILL);
            var clock = Stopwatch.StartNew();
            await first.WaitForExit(TimeSpan.FromSeconds(5));
            await Eventually.True(() => workers.All(pid => !Native.IsAlive(pid)), stopTimeout + TimeSpan.FromSeconds(5),
                $"workers {string.Join(",", workers.Where(Native.IsAlive))} that ignore SIGTERM outlived the killed master by stop.timeout (3s) and more");
            var gone = clock.Elapsed;
            output.WriteLine($"workers ignoring SIGTERM gone {gone.TotalMilliseconds:0} ms after the master was killed (stop.timeout 3s)");
            Assert.True(gone > stopTimeout - TimeSpan.FromMilliseconds(500), $"the workers were killed {gone.TotalMilliseconds:0} ms after the master, before their stop.timeout");
            var received = File.Exists(marks) ? File.ReadAllText(marks) : "";
            Assert.All(workers, pid => Assert.Contains($"SIGTERM {pid}", received));
            await Eventually.True(() => Directory.GetFileSystemEntries(runtime).Length == 0, TimeSpan.FromSeconds(2),
                $"runtime files outlived the killed master: {string.Join(", ", Directory.GetFileSystemEntries(runtime))}");
        }
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
        await using var second = await PackProcess.StartAsync(manifest, dir: dir);
        Assert.Contains(await RawHttp.PidAsync(new IPEndPoint(IPAddress.Loopback, port)), second.SlotPids.Values);
    }

    /// <summary>
    /// Issue 19, item 1: a worker binary with file capabilities (setcap, as for port 80) run by an account that is not
    /// root: the exec clears its parent-death signal, so before the janitor stopped workers nothing told it that
    /// the master had died. CI runs as root and sets the capability; the pack runs as nobody.
    /// </summary>
    [Fact]
    public async Task A_worker_whose_exec_gained_file_capabilities_under_another_account_is_stopped_when_its_master_is_killed()
    {
        Assert.True(Environment.UserName == "root", "this test runs as root (as CI does): it sets a file capability and runs the pack as nobody");
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        var server = Path.Combine(dir.Path, "capsleep");
        File.Copy("/bin/sleep", server);
        var setcap = new[] { "/usr/sbin/setcap", "/sbin/setcap" }.FirstOrDefault(File.Exists);
        Assert.True(setcap is not null, "setcap is missing: install libcap2-bin (.ci/run does)");
        await Run(setcap, "cap_net_bind_service+ep", server);
        await Run("chown", "65534:65534", dir.Path);
        await using var pack = await PackProcess.StartAsync($$"""
            name: capped
            command: {{server}}
            args: ["300"]
            workers: 1
            ready: { mode: delay, delay: 200ms }
            stop: { timeout: 60s }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """, dir: dir, launcher: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
            environment: new Dictionary<string, string> { ["HOME"] = dir.Path, ["DOTNET_CLI_HOME"] = dir.Path });
        var worker = pack.SlotPids[0];
        Assert.Equal("65534", Native.StatusField(worker, "Uid").Split('\t')[0]);
        // What makes the kernel clear the death signal: the exec gave this account's process a capability.
        Assert.True(Convert.ToUInt64(Native.StatusField(worker, "CapEff"), 16) != 0,
            $"the worker has no capability (CapEff {Native.StatusField(worker, "CapEff")}): is {dir.Path} on a nosuid mount?");

        pack.Signal(Native.SIGKILL);
        var clock = Stopwatch.StartNew();
        await pack.WaitForExit(TimeSpan.FromSeconds(5));
        // Well within stop.timeout (60s): the worker got its stop signal, of which sleep dies.
        await Eventually.True(() => !Native.IsAlive(worker), TimeSpan.FromSeconds(5),
            $"the worker {worker} with file capabilities outlived its killed master");
        output.WriteLine($"worker with file capabilities (CapEff set, uid 65534) gone {clock.ElapsedMilliseconds} ms after the master was killed");
    }

    private static async Task Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{command} {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
    }
}
