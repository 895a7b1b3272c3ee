using System.Net.Sockets;
using System.Text;
using Gopherpack.Control;
using Gopherpack.Master.Upgrade;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Master;

/// <summary>The control protocol's line reader (both ends of the control socket) and the upgrade handshake's lines.</summary>
public sealed class SocketLineReaderTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Lines_split_across_writes_or_sharing_one_come_back_one_by_one_without_their_line_ending()
    {
        using var dir = new TempDir();
        var (reading, writing) = await Pair(dir);
        using (reading)
        using (writing)
        {
            var lines = new SocketLineReader(reading);
            using var bound = new CancellationTokenSource(Bound);
            await writing.SendAsync(Encoding.UTF8.GetBytes("{\"a\":"));
            await writing.SendAsync(Encoding.UTF8.GetBytes("1}\r\nsecond\nthird"));
            Assert.Equal("{\"a\":1}", await lines.ReadLineAsync(bound.Token));
            Assert.Equal("second", await lines.ReadLineAsync(bound.Token));
            writing.Shutdown(SocketShutdown.Send);
            // Without a newline before the end, the last words are dropped unless the reader keeps them.
            Assert.Null(await lines.ReadLineAsync(bound.Token));
        }
    }

    [Fact]
    public async Task A_client_keeps_an_unterminated_last_line_and_a_server_gets_an_overlong_line_cut_one_byte_over_its_limit()
    {
        using var dir = new TempDir();
        var (reading, writing) = await Pair(dir);
        using (reading)
        using (writing)
        {
            using var bound = new CancellationTokenSource(Bound);
            await writing.SendAsync(Encoding.UTF8.GetBytes(new string('y', 100)));
            var limited = new SocketLineReader(reading, maxLineBytes: 10);
            Assert.Equal(11, (await limited.ReadLineAsync(bound.Token))!.Length);
        }
        (reading, writing) = await Pair(dir);
        using (reading)
        using (writing)
        {
            using var bound = new CancellationTokenSource(Bound);
            await writing.SendAsync(Encoding.UTF8.GetBytes("{\"ok\":true}"));
            writing.Shutdown(SocketShutdown.Send);
            var client = new SocketLineReader(reading) { KeepsUnterminatedLine = true };
            Assert.Equal("{\"ok\":true}", await client.ReadLineAsync(bound.Token));
            Assert.Null(await client.ReadLineAsync(bound.Token));
        }
    }

    [Fact]
    public void Handshake_lines_are_read_back_by_their_word()
    {
        Assert.Equal("42", UpgradeHandshake.ArgumentOf(UpgradeHandshake.PidLine(42), UpgradeHandshake.Pid));
        Assert.Equal("a | b", UpgradeHandshake.ArgumentOf(UpgradeHandshake.FailedLine("a\nb"), UpgradeHandshake.Failed));
        Assert.Equal("", UpgradeHandshake.ArgumentOf("failed ", UpgradeHandshake.Failed));
        Assert.Null(UpgradeHandshake.ArgumentOf("pidfile 3", UpgradeHandshake.Pid));
        Assert.Null(UpgradeHandshake.ArgumentOf(UpgradeHandshake.Ready, UpgradeHandshake.Ready));
        Assert.Equal("taken 7", UpgradeHandshake.TakenLine(7));
    }

    /// <summary>A connected pair of unix stream sockets in <paramref name="dir"/>.</summary>
    private static async Task<(Socket Reading, Socket Writing)> Pair(TempDir dir)
    {
        var path = Path.Combine(dir.Path, $"s{Guid.NewGuid():N}"[..8]);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var writing = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await writing.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return (await listener.AcceptAsync(), writing);
    }
}
