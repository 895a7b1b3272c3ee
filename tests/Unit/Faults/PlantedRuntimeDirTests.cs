using System.Net.Sockets;
using System.Text;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// The default runtime dir /tmp/gopherpack-UID can be planted by another account as a symlink it may re-point later.
/// The runtime dir itself must be a real directory: the master and every client command refuse a symlink, and a
/// client never trusts what answers in a runtime dir that is not private. A malformed control reply is a control
/// failure (exit 1), never a crash.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class PlantedRuntimeDirTests
{
    private const string Manifest = "name: planted\ncommand: sh\nargs: [\"-c\", \"exec sleep 600\"]\nworkers: 1\nready: { mode: delay, delay: 50ms }\n";

    [Fact]
    public async Task A_runtime_dir_that_is_a_symlink_is_refused_by_the_master_and_every_client_command()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", Manifest);
        var target = Path.Combine(dir.Path, "target");
        Directory.CreateDirectory(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var runtime = Path.Combine(dir.Path, "rt");
        File.CreateSymbolicLink(runtime, target);
        // What the planter serves through the symlink: a "stopped" for any request.
        using var fake = FakeMaster(Path.Combine(target, "planted.sock"), "{\"ok\":true}");
        try
        {
            foreach (var args in new[] { new[] { "start", manifest }, ["run", manifest], ["stop", "planted"], ["reload", "planted"], ["ps"], ["ps", "planted"], ["scale", "planted", "2"] })
            {
                var result = await Cli.RunAsync([.. args, "--runtime-dir", runtime]);
                Assert.True(result.Code == 1, $"{string.Join(' ', args)}: {result}");
                Assert.Contains($"runtime directory '{runtime}' is a symbolic link", result.Stderr);
                Assert.DoesNotContain("Unhandled exception", result.Stderr);
            }
            Assert.False(File.Exists(Path.Combine(target, "planted.pid")), "the master wrote its pid file through the symlink");
            Assert.False(File.Exists(Path.Combine(target, "planted.log")), "start wrote its log through the symlink");
        }
        finally { fake.Dispose(); }
    }

    [Theory]
    [InlineData("{\"ok\":true}")]
    [InlineData("not json at all")]
    [InlineData("null")]
    public async Task A_malformed_control_reply_is_a_control_failure_not_a_crash(string reply)
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var fake = FakeMaster(Path.Combine(runtime, "planted.sock"), reply);
        foreach (var args in new[] { new[] { "reload", "planted" }, ["ps", "planted"], ["upgrade", "planted"] })
        {
            var result = await Cli.RunAsync([.. args, "--runtime-dir", runtime]);
            Assert.True(result.Code == 1, $"{string.Join(' ', args)}: {result}");
            Assert.Contains("malformed", result.Stderr);
            Assert.DoesNotContain("Unhandled exception", result.Stderr);
        }
    }

    /// <summary>A listener on <paramref name="path"/> that answers every connection with one line.</summary>
    private static FakeServer FakeMaster(string path, string line)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen(16);
        var serving = Task.Run(async () =>
        {
            while (true)
            {
                Socket client;
                try { client = await socket.AcceptAsync(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                using (client)
                {
                    var buffer = new byte[4096];
                    try
                    {
                        await client.ReceiveAsync(buffer);
                        await client.SendAsync(Encoding.UTF8.GetBytes(line + "\n"));
                        client.Shutdown(SocketShutdown.Send);
                    }
                    catch (SocketException) { }
                }
            }
        });
        return new FakeServer(socket, serving);
    }

    private sealed class FakeServer(Socket socket, Task serving) : IDisposable
    {
        public void Dispose()
        {
            socket.Dispose();
            serving.Wait(TimeSpan.FromSeconds(10));
        }
    }
}
