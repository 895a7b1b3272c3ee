using System.Net.Sockets;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Service;

/// <summary>
/// A service manager whose NOTIFY_SOCKET is bound but never read (a hung or stopped systemd, a broken wrapper): its
/// queue fills after a few messages (net.unix.max_dgram_qlen, 10 by default). The master must drop what does not fit
/// and go on answering reloads and stopping on SIGTERM.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class StalledNotifySocketTests
{
    private const int Reloads = 250;

    [Fact]
    public async Task A_notify_socket_nobody_reads_never_blocks_reloads_or_the_stop()
    {
        using var dir = new TempDir();
        using var stalled = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var notifyPath = Path.Combine(dir.Path, "notify");
        stalled.ReceiveBufferSize = 1; // the kernel's minimum: it fills at once; never read
        stalled.Bind(new UnixDomainSocketEndPoint(notifyPath));
        var pack = await PackProcess.StartAsync("""
            name: stalled
            command: dotnet
            args: ["{worker}"]
            workers: 1
            """, environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath }, dir: dir);
        await using (pack)
        {
            var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
            var manifest = Path.Combine(dir.Path, "app.yml");
            var good = File.ReadAllText(manifest);
            // Reloads of an invalid manifest are cheap and still send RELOADING=1 and READY=1 each.
            File.WriteAllText(manifest, good + "\nbogusKey: 1\n");
            for (var i = 0; i < Reloads; i++)
            {
                var refused = await Assert.ThrowsAsync<PackControlException>(() => client.ReloadAsync("stalled").WaitAsync(TimeSpan.FromSeconds(30)));
                Assert.True(refused.Code == ControlErrors.ManifestInvalid, $"reload {i + 1} of {Reloads}: {refused.Code}: {refused.Message}");
            }
            File.WriteAllText(manifest, good);
            var reload = await client.ReloadAsync("stalled").WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(reload.Ok);

            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains(pack.Lines, l => l.Contains("sd_notify message(s) to NOTIFY_SOCKET were dropped"));
        }
    }
}
