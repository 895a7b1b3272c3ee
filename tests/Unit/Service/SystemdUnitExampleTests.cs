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
    public async Task The_example_service_and_socket_units_work_as_documented()
    {
        var service = Unit("hello.service");
        var socket = Unit("hello.socket");
        Assert.Equal("notify-reload", service["Type"]);
        Assert.Equal("all", service["NotifyAccess"]);
        Assert.Equal("mixed", service["KillMode"]);
        Assert.Equal("/usr/local/bin/gopherpack run /etc/gopherpack/hello.yml --runtime-dir /run/gopherpack", service["ExecStart"]);
        Assert.Equal("/usr/local/bin/gopherpack reload hello --runtime-dir /run/gopherpack", service["ExecReload"]);
        var manifest = ManifestLoader.Load(Path.Combine(Docs, "hello.yml"));
        Assert.True(int.Parse(service["TimeoutStopSec"]) > manifest.Stop.Timeout.TotalSeconds, "TimeoutStopSec must leave the master its stop.timeout");
        var name = socket["FileDescriptorName"];
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
        var launcher = dir.File("socket-unit.py", """
            import os, socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0)); s.listen(int(os.environ["BACKLOG"]))
            print("socket unit: port", s.getsockname()[1], flush=True)
            os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
            os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES=os.environ["FD_NAME"], LISTEN_PID=str(os.getpid()))
            os.execvp(sys.argv[1], sys.argv[1:])
            """);
        var yaml = File.ReadAllText(Path.Combine(Docs, "hello.yml")).Replace("/srv/hello", hello).Replace("workers: auto", "workers: 2");
        var pack = await PackProcess.StartAsync(yaml, dir: dir, launcher: ["python3", launcher], environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = systemd.Path,
            ["FD_NAME"] = name,
            ["BACKLOG"] = socket["Backlog"],
        });
        await using (pack)
        {
            await systemd.WaitFor(TimeSpan.FromSeconds(10), "READY=1");
            var port = int.Parse(pack.Lines.First(l => l.StartsWith("socket unit: port ")).Split(' ').Last());
            Assert.Contains(pack.Lines, l => l.Contains($"listen: {name} tcp://127.0.0.1:{port} (shared, from socket activation)"));
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
                Assert.Contains("\"pid\"", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
            Assert.All(pack.SlotPids.Values, pid => Assert.Equal($"{account.Uid}", Native.StatusField(pid, "Uid").Split('\t')[1]));

            // systemctl reload: ExecReload, which waits for the outcome; the master says RELOADING=1, then READY=1.
            var before = systemd.Messages.Count;
            var reload = await Cli.RunAsync("reload", "hello", "--runtime-dir", pack.RuntimeDir);
            Assert.True(reload.Code == 0, reload.ToString());
            var reloading = systemd.IndexOf(before, "RELOADING=1");
            Assert.True(reloading >= 0 && systemd.IndexOf(reloading, "READY=1") > reloading, systemd.Transcript);

            // systemctl stop with KillMode=mixed: SIGTERM to the main process only.
            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.True(systemd.IndexOf(reloading, "STOPPING=1") > reloading, systemd.Transcript);
        }
    }

    /// <summary>A unit file's settings (last one wins), comments and section headers left out.</summary>
    private static Dictionary<string, string> Unit(string file) =>
        File.ReadAllLines(Path.Combine(Docs, file))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && l[0] is not ('#' or ';' or '[') && l.Contains('='))
            .Select(l => (Key: l[..l.IndexOf('=')], Value: l[(l.IndexOf('=') + 1)..]))
            .GroupBy(p => p.Key)
            .ToDictionary(g => g.Key, g => g.Last().Value);
}
