using System.Net.Sockets;
using System.Text;

namespace Gopherpack.Master;

/// <summary>
/// A unix datagram socket of one worker process. One per worker makes every sd_notify message
/// attributable to exactly one worker, even when a helper process of the worker sends it.
/// </summary>
public sealed class NotifyEndpoint : IDisposable
{
    private const int MaxDatagram = 4096;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();

    public string Path { get; }

    /// <param name="owner">The account the worker runs as, if not the master's: the socket is given to it (0600), so only it may send.</param>
    public NotifyEndpoint(string path, Action<string> onMessage, Manifest.WorkerAccount? owner = null)
    {
        Path = path;
        File.Delete(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        if (owner is not null)
        {
            try
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                Linux.UnixAccounts.Chown(path, owner.Uid, owner.Gid);
            }
            catch
            {
                Dispose();
                throw;
            }
        }
        _ = ReceiveLoop(onMessage);
    }

    private async Task ReceiveLoop(Action<string> onMessage)
    {
        var buffer = new byte[MaxDatagram];
        try
        {
            while (true)
            {
                var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                onMessage(Encoding.UTF8.GetString(buffer, 0, length));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Closed with its worker.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try { File.Delete(Path); } catch (IOException) { }
    }
}
