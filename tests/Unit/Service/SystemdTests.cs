using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Service;

/// <summary>
/// The master under a service manager, with the test playing systemd's part: a datagram socket that
/// records what the master sends to NOTIFY_SOCKET, and a launcher that binds a socket and execs the master
/// with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID (socket activation).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class SystemdTests
{
    private const int SIGHUP = 1;

    [Fact]
    public async Task The_master_tells_systemd_ready_reloading_its_new_mainpid_and_stopping()
    {
        using var dir = new TempDir();
        using var systemd = new NotifyRecorder(Path.Combine(dir.Path, "notify"));
        var pack = await PackProcess.StartAsync("""
            name: sd
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = systemd.Path }, dir: dir);
        await using (pack)
        {
            var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
            var ready = await systemd.WaitFor(TimeSpan.FromSeconds(10), "READY=1");
            Assert.Contains(systemd.Messages[ready].Split('\n'), l => l.StartsWith("STATUS=serving generation 1 with 2 worker(s)"));
            Assert.Equal(-1, systemd.IndexOf(0, "RELOADING=1"));

            // systemd's reload (Type=notify-reload sends SIGHUP): RELOADING=1 with the monotonic time, then READY=1.
            var sentAt = Stopwatch.GetTimestamp() / 1000; // CLOCK_MONOTONIC in microseconds
            pack.Signal(SIGHUP);
            await Eventually.True(() => systemd.IndexOf(ready + 1, "READY=1") > systemd.IndexOf(ready + 1, "RELOADING=1") && systemd.IndexOf(ready + 1, "RELOADING=1") > 0,
                TimeSpan.FromSeconds(30), $"RELOADING=1 then READY=1 after SIGHUP; got:\n{systemd.Transcript}");
            var reloading = systemd.Messages[systemd.IndexOf(ready + 1, "RELOADING=1")].Split('\n');
            var monotonic = long.Parse(reloading.Single(l => l.StartsWith("MONOTONIC_USEC="))["MONOTONIC_USEC=".Length..]);
            Assert.InRange(monotonic, sentAt, sentAt + 60_000_000);
            var reloaded = systemd.IndexOf(ready + 1, "READY=1");

            // A failed upgrade: the new master, whose workers crash, says nothing (no STOPPING=1); the old one says READY=1 again.
            var manifestPath = Path.Combine(dir.Path, "app.yml");
            var good = File.ReadAllText(manifestPath);
            File.WriteAllText(manifestPath, good.Replace(".dll\"]", ".dll\", \"--crash\"]"));
            var failed = await Assert.ThrowsAsync<PackControlException>(() => client.UpgradeAsync("sd"));
            Assert.Equal(ControlErrors.UpgradeFailed, failed.Code);
            File.WriteAllText(manifestPath, good);
            await Eventually.True(() => systemd.IndexOf(reloaded + 1, "READY=1") > systemd.IndexOf(reloaded + 1, "RELOADING=1"), TimeSpan.FromSeconds(10),
                $"READY=1 after the failed upgrade; got:\n{systemd.Transcript}");
            reloaded = systemd.IndexOf(systemd.IndexOf(reloaded + 1, "RELOADING=1"), "READY=1");

            // An upgrade: RELOADING=1 from the old master, then the new one names itself with MAINPID= and READY=1.
            var before = await client.StatusAsync("sd");
            var upgrade = await client.UpgradeAsync("sd");
            var mainPid = await systemd.WaitFor(TimeSpan.FromSeconds(10), $"MAINPID={upgrade.NewMasterPid}", "READY=1");
            Assert.True(systemd.IndexOf(reloaded + 1, "RELOADING=1") is var upgrading && upgrading > reloaded && upgrading < mainPid, systemd.Transcript);
            await Eventually.True(() => !Native.IsAlive(before.MasterPid), TimeSpan.FromSeconds(30), "the old master to exit");
            Assert.Equal(-1, systemd.IndexOf(0, "STOPPING=1")); // the old master said nothing on its way out

            await client.StopAsync("sd");
            var stopping = await systemd.WaitFor(TimeSpan.FromSeconds(10), "STOPPING=1");
            Assert.True(stopping > mainPid);
            Assert.Single(systemd.Messages, m => m.Split('\n').Contains("STOPPING=1"));
        }
    }

    [Fact]
    public async Task A_socket_activated_master_serves_on_the_handed_socket_and_binds_none_of_its_own()
    {
        using var dir = new TempDir();
        var launcher = dir.File("activate.py", """
            # Plays systemd's socket activation: binds, puts the socket at fd 3, names it, execs the master.
            import os, socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", int(os.environ["ACTIVATE_PORT"])))
            s.listen(128)
            os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)  # dup2 onto itself (the socket may already be fd 3) keeps it close-on-exec
            os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES="http", LISTEN_PID=str(os.getpid()))
            os.execvp(sys.argv[1], sys.argv[1:])
            """);
        var handedPort = FreePort.Probe();
        var manifestPort = FreePort.Probe();
        var pack = await PackProcess.StartAsync($$"""
            name: sa
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:{{manifestPort}}" }]
            """, environment: new Dictionary<string, string> { ["ACTIVATE_PORT"] = handedPort.ToString() }, dir: dir, launcher: ["python3", launcher]);
        await using (pack)
        {
            Assert.Contains(pack.Lines, l => l.Contains("from socket activation"));
            var status = await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StatusAsync("sa");
            Assert.Equal($"tcp://127.0.0.1:{handedPort}", status.Listeners.Single().Address);
            var served = new HashSet<int>();
            for (var i = 0; i < 40 && served.Count < 2; i++) served.Add(await RawHttp.PidAsync(new IPEndPoint(IPAddress.Loopback, handedPort)));
            Assert.Subset(status.Workers.Select(w => w.Pid!.Value).ToHashSet(), served);
            // The manifest's own address was never bound.
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var refused = await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, manifestPort)));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            // Workers see the contract's variables, not the ones systemd gave the master.
            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(20)));
        }
    }

    [Fact]
    public async Task Socket_activation_names_that_match_no_listener_are_refused_clearly()
    {
        using var dir = new TempDir();
        var launcher = dir.File("activate.py", """
            import os, socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0)); s.listen(16)
            os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
            os.execvp(sys.argv[1], sys.argv[1:])
            """);
        var pack = await PackProcess.StartAsync("""
            name: sabad
            command: dotnet
            args: ["{worker}"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """, waitReady: false, dir: dir, launcher: ["python3", launcher]);
        await using (pack)
        {
            Assert.Equal(1, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains(pack.Lines, l => l.Contains("LISTEN_FDNAMES must name each of the 1 fd(s)"));
        }
    }
}
