using System.Diagnostics;
using System.Text.Json;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class ControlTests
{
    private const string Hello = """
        name: ctl
        command: dotnet
        args: ["{HelloHttp}"]
        workers: 2
        listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
        """;

    [Fact]
    public async Task Ps_json_lists_every_worker_with_its_state_rss_and_cpu_time()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var result = await Cli.RunAsync("ps", "ctl", "--json", "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 0, result.ToString());
        var packs = JsonDocument.Parse(result.Stdout).RootElement;
        var status = packs[0];
        Assert.Equal("ctl", status.GetProperty("name").GetString());
        Assert.Equal(pack.MasterPid, status.GetProperty("masterPid").GetInt32());
        Assert.Equal("Running", status.GetProperty("state").GetString());
        Assert.StartsWith("tcp://127.0.0.1:", status.GetProperty("listeners")[0].GetProperty("address").GetString());
        var workers = status.GetProperty("workers").EnumerateArray().ToList();
        Assert.Equal(pack.SlotPids.Values.Order(), workers.Select(w => w.GetProperty("pid").GetInt32()).Order());
        Assert.All(workers, w =>
        {
            Assert.Equal("Ready", w.GetProperty("state").GetString());
            Assert.True(w.GetProperty("rssBytes").GetInt64() > 1_000_000);
            Assert.True(w.GetProperty("cpuSeconds").GetDouble() >= 0);
            Assert.Equal(Environment.UserName, w.GetProperty("user").GetString());
        });

        var table = await Cli.RunAsync("ps", "--runtime-dir", pack.RuntimeDir);
        Assert.Matches(@"(?m)^  SLOT +PID +USER +CPU +GEN +STATE", table.Stdout);
        Assert.Contains("Ready", table.Stdout);
    }

    [Fact]
    public async Task The_control_socket_is_private_and_refuses_another_uid_by_its_credentials()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var socket = Path.Combine(pack.RuntimeDir, "ctl.sock");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(pack.RuntimeDir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));

        // Open the file permissions on purpose, so only the master's SO_PEERCRED check stands in the way.
        File.SetUnixFileMode(pack.Dir.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(pack.RuntimeDir, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(socket, (UnixFileMode)Convert.ToInt32("666", 8));
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{\"version\":1,\"command\":\"stop\"}\\n'); print(s.makefile().readline())", socket })
            start.ArgumentList.Add(arg);
        using var nobody = Process.Start(start)!;
        var reply = await nobody.StandardOutput.ReadToEndAsync();
        await nobody.WaitForExitAsync();
        Assert.True(nobody.ExitCode == 0, await nobody.StandardError.ReadToEndAsync());
        var error = JsonDocument.Parse(reply).RootElement;
        Assert.False(error.GetProperty("ok").GetBoolean());
        Assert.Equal("access-denied", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("refused a client of uid 65534", pack.Log);
        Assert.False(pack.Master.HasExited, "another uid stopped the pack");
    }

    [Fact]
    public async Task Malformed_and_unknown_requests_get_clear_errors()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var unknown = await Assert.ThrowsAsync<PackControlException>(() => client.SendAsync("ctl", new ControlRequest { Command = "explode" }));
        Assert.Equal(ControlErrors.UnknownCommand, unknown.Code);
        var version = await Assert.ThrowsAsync<PackControlException>(() => client.SendAsync("ctl", new ControlRequest { Version = 99, Command = "status" }));
        Assert.Equal(ControlErrors.UnsupportedVersion, version.Code);
        var scale = await Assert.ThrowsAsync<PackControlException>(() => client.SendAsync("ctl", new ControlRequest { Command = "scale", Workers = 0 }));
        Assert.Equal(ControlErrors.BadRequest, scale.Code);
        var strategy = await Assert.ThrowsAsync<PackControlException>(() => client.SendAsync("ctl", new ControlRequest { Command = "reload", Strategy = "sideways" }));
        Assert.Equal(ControlErrors.BadRequest, strategy.Code);
        Assert.Contains("must be surge or rolling", strategy.Message);
        var relative = await Assert.ThrowsAsync<PackControlException>(() => client.SendAsync("ctl", new ControlRequest { Command = "reload", Manifest = "app.yml" }));
        Assert.Contains("must be absolute", relative.Message);

        using var raw = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await raw.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(pack.RuntimeDir, "ctl.sock")));
        await raw.SendAsync("{not json\n"u8.ToArray());
        var buffer = new byte[4096];
        var read = await raw.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("\"code\":\"bad-request\"", System.Text.Encoding.UTF8.GetString(buffer, 0, read));
        Assert.Equal("Running", (await client.StatusAsync("ctl")).State);
    }

    [Fact]
    public async Task Scale_up_and_down_by_command_and_by_signal()
    {
        await using var pack = await PackProcess.StartAsync(Hello);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var result = await Cli.RunAsync("scale", "ctl", "3", "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 0, result.ToString());
        Assert.Equal(3, (await client.StatusAsync("ctl")).Workers.Count(w => w.State == "Ready"));

        var removed = pack.SlotPids[2];
        Assert.Equal(1, await client.ScaleAsync("ctl", 1));
        await Eventually.True(() => !Native.IsAlive(removed) && !Native.IsAlive(pack.SlotPids[1]), TimeSpan.FromSeconds(15), "scaled-away workers to exit");

        pack.Signal(21); // SIGTTIN
        await pack.WaitForStatus(s => s.Workers.Count == 2, TimeSpan.FromSeconds(10), "SIGTTIN to add a worker");
        await pack.WaitForStatus(s => s.Workers.Count(w => w.IsReady) == 2, TimeSpan.FromSeconds(20), "two ready workers");
        pack.Signal(22); // SIGTTOU
        await pack.WaitForStatus(s => s.Workers.Count == 1, TimeSpan.FromSeconds(30), "SIGTTOU to remove one");

        var bad = await Cli.RunAsync("scale", "ctl", "0", "--runtime-dir", pack.RuntimeDir);
        Assert.Equal(2, bad.Code);
    }

    /// <summary>docs/REFERENCE.md: scale exits 1 when it failed (scale-failed), 3 only when it was refused as busy.</summary>
    [Fact]
    public async Task A_scale_whose_new_worker_crashes_exits_1_and_its_slot_restarts()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: scalefail
            command: dotnet
            args: ["{worker}", "--crash-in-slot=1"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            restart: { backoff: { initial: 100ms, max: 1s }, limit: { restarts: 100, window: 60s } }
            """);
        var result = await Cli.RunAsync("scale", "scalefail", "2", "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains("the new worker in slot 1", result.Stderr);
        var status = await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StatusAsync("scalefail");
        Assert.Equal("Ready", status.Workers.Single(w => w.Slot == 0).State);
        Assert.Contains(status.Workers, w => w.Slot == 1);
    }

    [Fact]
    public async Task Start_then_stop_from_fresh_shells_leaves_no_process_socket_or_pid_file()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", Hello.Replace("{HelloHttp}", RepoPaths.ExampleDll("HelloHttp")));
        var runtime = Path.Combine(dir.Path, "rt");
        int? master = null;
        IReadOnlyList<int> workers = [];
        try
        {
            var start = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
            Assert.True(start.Code == 0, start.ToString());
            Assert.Contains("pack 'ctl' started", start.Stdout);
            master = int.Parse(File.ReadAllText(Path.Combine(runtime, "ctl.pid")));
            Assert.True(Native.IsAlive(master.Value), "the master did not outlive 'gopherpack start'");
            Assert.NotEqual(SessionOf(Environment.ProcessId), SessionOf(master.Value));
            AssertRunsTheSameBuildAsTheCommand(master.Value);
            workers = (await new PackClient(new RuntimeDirectory(runtime)).StatusAsync("ctl")).Workers.Select(w => w.Pid!.Value).ToList();
            Assert.Equal(2, workers.Count);
            Assert.True(File.Exists(Path.Combine(runtime, "ctl.log")));

            var again = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
            Assert.Equal(1, again.Code);
            Assert.Contains("already running", again.Stderr);

            var stop = await Cli.RunAsync("stop", "ctl", "--runtime-dir", runtime);
            Assert.True(stop.Code == 0, stop.ToString());
            Assert.False(Native.IsAlive(master.Value), "the master is still there after stop returned");
            Assert.All(workers, pid => Assert.False(Native.IsAlive(pid), $"worker {pid} is still there"));
            Assert.Equal(["ctl.log"], Directory.GetFiles(runtime).Select(Path.GetFileName));

            var notRunning = await Cli.RunAsync("stop", "ctl", "--runtime-dir", runtime);
            Assert.Equal(7, notRunning.Code);
            Assert.Equal(7, (await Cli.RunAsync("ps", "ctl", "--runtime-dir", runtime)).Code);
            Assert.Equal(7, (await Cli.RunAsync("reload", "ctl", "--runtime-dir", runtime)).Code);
        }
        finally
        {
            foreach (var pid in workers.Append(master ?? 0).Where(p => p > 0 && Native.IsAlive(p))) Native.kill(pid, Native.SIGKILL);
        }
    }

    /// <summary>The native gopherpack starts the native master; dotnet gopherpack.dll starts dotnet gopherpack.dll.</summary>
    private static void AssertRunsTheSameBuildAsTheCommand(int master)
    {
        var executable = new FileInfo($"/proc/{master}/exe").LinkTarget;
        var argv = File.ReadAllText($"/proc/{master}/cmdline").Split('\0');
        if (RepoPaths.NativeCli is { } native)
            Assert.Equal(native, executable);
        else
        {
            Assert.Equal("dotnet", Path.GetFileName(executable));
            Assert.Equal(RepoPaths.CliDll, argv[1]);
        }
        Assert.Equal("run", argv[RepoPaths.CliCommand.Count]);
    }

    private static string SessionOf(int pid) => File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[3];
}
