using Gopherpack.Manifest;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Service;

/// <summary>
/// The example units in docs/systemd run as they say: the test plays systemd (binds the .socket's
/// socket and names it, records NOTIFY_SOCKET), starts the master with the unit's ExecStart, reloads
/// with its ExecReload and stops it as KillMode=mixed does (SIGTERM to the main process only).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class SystemdUnitExampleTests
{
    private static readonly string Docs = Path.Combine(RepoPaths.Root, "docs", "systemd");

    [Fact]
    public void The_default_service_is_type_notify_with_a_synchronous_reload_and_the_253_variant_is_notify_reload()
    {
        var service = Unit("hello.service");
        Assert.Equal("notify", service["Type"]);
        Assert.False(service.ContainsKey("ReloadSignal"), "ReloadSignal= needs systemd 253");
        Assert.Equal("all", service["NotifyAccess"]);
        Assert.Equal("mixed", service["KillMode"]);
        Assert.Equal("/usr/local/bin/gopherpack run /etc/gopherpack/hello.yml --runtime-dir /run/gopherpack", service["ExecStart"]);
        Assert.Equal("/usr/local/bin/gopherpack reload hello --runtime-dir /run/gopherpack", service["ExecReload"]);
        var manifest = ManifestLoader.Load(Path.Combine(Docs, "hello.yml"));
        Assert.True(int.Parse(service["TimeoutStopSec"]) > manifest.Stop.Timeout.TotalSeconds, "TimeoutStopSec must leave the master its stop.timeout");

        var variant = Unit("hello-notify-reload.service");
        Assert.Equal("notify-reload", variant["Type"]);
        Assert.Equal("SIGCONT", variant["ReloadSignal"]);
        Assert.Equal(service["ExecStart"], variant["ExecStart"]);
        Assert.Equal(service["ExecReload"], variant["ExecReload"]);

        var template = Unit("gopherpack@.service");
        Assert.Equal("notify", template["Type"]);
        Assert.Equal("/usr/local/bin/gopherpack run /etc/gopherpack/%i.yml --runtime-dir /run/gopherpack", template["ExecStart"]);
        Assert.Equal("/usr/local/bin/gopherpack reload %i --runtime-dir /run/gopherpack", template["ExecReload"]);
        Assert.Equal("yes", template["RuntimeDirectoryPreserve"]);
    }

    /// <summary>Every unit sharing /run/gopherpack keeps it when it stops: else stopping hello deletes the sockets of gopherpack@api.</summary>
    [Theory]
    [InlineData("hello.service")]
    [InlineData("hello-notify-reload.service")]
    [InlineData("gopherpack@.service")]
    public void A_unit_sharing_the_runtime_directory_preserves_it(string file)
    {
        var unit = Unit(file);
        Assert.Equal("gopherpack", unit["RuntimeDirectory"]);
        Assert.True(unit.TryGetValue("RuntimeDirectoryPreserve", out var preserve), $"{file} has no RuntimeDirectoryPreserve=");
        Assert.Equal("yes", preserve);
    }

    /// <summary>The test plays systemd's socket unit with a small launcher (binds, names fd 3, execs the master).</summary>
    [Fact]
    public Task The_example_units_work_as_documented_with_an_emulated_socket_unit() => RunExample(systemdSocketActivate: false);

    /// <summary>systemd's own systemd-socket-activate binds the socket unit's address and hands it over, as systemd would.</summary>
    [Fact]
    public Task The_example_units_work_as_documented_with_systemds_own_socket_activate() => RunExample(systemdSocketActivate: true);

    private static async Task RunExample(bool systemdSocketActivate)
    {
        var service = Unit("hello.service");
        var socket = Unit("hello.socket");
        var name = socket["FileDescriptorName"];
        var manifest = ManifestLoader.Load(Path.Combine(Docs, "hello.yml"));
        Assert.Contains(manifest.Listeners, l => l.Name == name);

        // The workers run as the manifest's account: what they read must be readable by it, wherever the checkout is.
        var account = manifest.Account ?? throw new InvalidOperationException("the example runs its workers as an unprivileged account");
        Assert.NotEqual(0u, account.Uid);
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        var hello = Path.Combine(dir.Path, "hello");
        Directory.CreateDirectory(hello);
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(RepoPaths.ExampleDll("HelloHttp"))!))
            File.Copy(file, Path.Combine(hello, Path.GetFileName(file)));
        using var systemd = new NotifyRecorder(Path.Combine(dir.Path, "notify"));
        var handedPort = systemdSocketActivate ? FreePort.Probe() : 0;
        IReadOnlyList<string> launcher = systemdSocketActivate
            // It passes the child no environment but LISTEN_* and what -E names.
            ? ["systemd-socket-activate", "-l", $"127.0.0.1:{handedPort}", "--fdname=" + name,
               "-E", "NOTIFY_SOCKET", "-E", "PATH", "-E", "HOME", "-E", "DOTNET_CLI_TELEMETRY_OPTOUT", "-E", "DOTNET_NOLOGO"]
            : ["python3", dir.File("socket-unit.py", """
                import os, socket, sys
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0)); s.listen(int(os.environ["BACKLOG"]))
                print("socket unit: port", s.getsockname()[1], flush=True)
                os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
                os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES=os.environ["FD_NAME"], LISTEN_PID=str(os.getpid()))
                os.execvp(sys.argv[1], sys.argv[1:])
                """)];
        var yaml = File.ReadAllText(Path.Combine(Docs, "hello.yml")).Replace("/srv/hello", hello).Replace("workers: auto", "workers: 2");
        // The manifest's own address must not be the one served: the socket comes from the socket unit.
        yaml = yaml.Replace("tcp://127.0.0.1:8080", $"tcp://127.0.0.1:{FreePort.Probe()}");
        PackProcess pack;
        try
        {
            // systemd-socket-activate, like a socket unit, starts the service on the first connection.
            pack = await PackProcess.StartAsync(yaml, waitReady: !systemdSocketActivate, dir: dir, launcher: launcher, environment: new Dictionary<string, string>
            {
                ["NOTIFY_SOCKET"] = systemd.Path,
                ["FD_NAME"] = name,
                ["BACKLOG"] = socket["Backlog"],
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
            });
        }
        catch (System.ComponentModel.Win32Exception e) when (systemdSocketActivate)
        {
            throw new InvalidOperationException("systemd-socket-activate is needed (Debian's systemd package; .ci/run installs it): " + e.Message, e);
        }
        await using (pack)
        {
            if (systemdSocketActivate)
            {
                await pack.WaitForLine(l => l.Contains($"Listening on 127.0.0.1:{handedPort} as 3."), PackProcess.StartTimeout, "systemd-socket-activate to listen");
                // The first request waits in the socket's backlog while the master and its workers start.
                using var first = new HttpClient { Timeout = PackProcess.StartTimeout * 2 };
                Assert.Contains("\"pid\"", await first.GetStringAsync($"http://127.0.0.1:{handedPort}/"));
            }
            await systemd.WaitFor(TimeSpan.FromSeconds(10), "READY=1");
            var port = systemdSocketActivate ? handedPort : int.Parse(pack.Lines.First(l => l.StartsWith("socket unit: port ")).Split(' ').Last());
            Assert.Contains(pack.Lines, l => l.Contains($"listen: {name} tcp://127.0.0.1:{port} (shared, from socket activation)"));
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
                Assert.Contains("\"pid\"", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
            Assert.All(pack.SlotPids.Values, pid => Assert.Equal($"{account.Uid}", Native.StatusField(pid, "Uid").Split('\t')[1]));

            // systemctl reload: ExecReload, which waits for the outcome; the master says RELOADING=1, then READY=1.
            var before = systemd.Messages.Count;
            var reload = await Cli.RunAsync(ExecReload(service, pack.RuntimeDir));
            Assert.True(reload.Code == 0, reload.ToString());
            var reloading = systemd.IndexOf(before, "RELOADING=1");
            Assert.True(reloading >= 0 && systemd.IndexOf(reloading, "READY=1") > reloading, systemd.Transcript);

            // systemctl stop with KillMode=mixed: SIGTERM to the main process only.
            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.True(systemd.IndexOf(reloading, "STOPPING=1") > reloading, systemd.Transcript);
        }
    }

    /// <summary>The unit's ExecReload= arguments after the executable, with this test's runtime dir.</summary>
    private static string[] ExecReload(Dictionary<string, string> service, string runtimeDir) =>
        service["ExecReload"].Split(' ').Skip(1).Select(a => a == "/run/gopherpack" ? runtimeDir : a).ToArray();

    /// <summary>A unit file's settings (last one wins), comments and section headers left out.</summary>
    private static Dictionary<string, string> Unit(string file) =>
        File.ReadAllLines(Path.Combine(Docs, file))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && l[0] is not ('#' or ';' or '[') && l.Contains('='))
            .Select(l => (Key: l[..l.IndexOf('=')], Value: l[(l.IndexOf('=') + 1)..]))
            .GroupBy(p => p.Key)
            .ToDictionary(g => g.Key, g => g.Last().Value);
}
