using System.Net.Sockets;
using System.Text;

namespace Gopherpack.Tests.Support;

/// <summary>Plays systemd's side of sd_notify: a unix datagram socket that records every message sent to it, in order.</summary>
public sealed class NotifyRecorder : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly List<string> _messages = [];
    private readonly CancellationTokenSource _stop = new();

    public NotifyRecorder(string path)
    {
        Path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        _ = Receive();
    }

    public string Path { get; }

    public IReadOnlyList<string> Messages { get { lock (_messages) return _messages.ToList(); } }

    /// <summary>Every message's fields as KEY=VALUE lines, in order.</summary>
    public string Transcript => string.Join("\n---\n", Messages);

    private async Task Receive()
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                lock (_messages) _messages.Add(Encoding.UTF8.GetString(buffer, 0, length).TrimEnd('\n'));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    /// <summary>Waits for a message holding every given line; returns its index.</summary>
    public async Task<int> WaitFor(TimeSpan timeout, params string[] lines)
    {
        var found = -1;
        await Eventually.True(() => (found = IndexOf(0, lines)) >= 0, timeout, $"an sd_notify message with {string.Join(", ", lines)}; got:\n{Transcript}");
        return found;
    }

    public int IndexOf(int from, params string[] lines)
    {
        var messages = Messages;
        for (var i = from; i < messages.Count; i++)
            if (lines.All(l => messages[i].Split('\n').Contains(l))) return i;
        return -1;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }
}
