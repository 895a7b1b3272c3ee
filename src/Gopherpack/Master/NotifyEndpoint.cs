using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Gopherpack.Linux;

namespace Gopherpack.Master;

/// <summary>
/// A unix datagram socket of one worker process. One per worker makes every sd_notify message
/// attributable to exactly one worker, even when a helper process of the worker sends it. Its path is
/// predictable and any process of the worker's account may write to it, so the kernel's SCM_CREDENTIALS
/// (SO_PASSCRED) name the sender: a message is taken only from the worker itself or a process in its own
/// process group (workers are spawned as group leaders); the rest are dropped and logged, rate-limited.
/// </summary>
internal sealed class NotifyEndpoint : IDisposable
{
    private const int MaxDatagram = 4096, SoPassCred = 16;
    private static readonly TimeSpan DropLogInterval = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<string> _onMessage;
    private readonly Action<string> _onDropped;
    private long _dropped;
    private long _lastDropLog = long.MinValue;

    public string Path { get; }

    /// <param name="onDropped">Told (at most once per 10 s) about messages from processes outside the worker's process group.</param>
    /// <param name="owner">The account the worker runs as, if not the master's: the socket is given to it (0600), so only it may send.</param>
    public NotifyEndpoint(string path, Action<string> onMessage, Action<string> onDropped, Manifest.WorkerAccount? owner = null)
    {
        Path = path;
        _onMessage = onMessage;
        _onDropped = onDropped;
        File.Delete(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            _socket.SetRawSocketOption(Libc.SOL_SOCKET, SoPassCred, BitConverter.GetBytes(1));
            _socket.Bind(new UnixDomainSocketEndPoint(path));
            if (owner is not null)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                UnixAccounts.Chown(path, owner.Uid, owner.Gid);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The worker is spawned: messages are read from now on, and taken from <paramref name="workerPid"/>'s process group only.</summary>
    public void Accept(int workerPid) => _ = ReceiveLoop(workerPid);

    private async Task ReceiveLoop(int workerPid)
    {
        var buffer = new byte[MaxDatagram];
        try
        {
            while (true)
            {
                // A zero-byte peek waits for a datagram without taking it; recvmsg then takes it with its sender's credentials.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.Peek, _stop.Token);
                while (Receive(buffer) is var (length, sender) && length >= 0)
                {
                    var group = sender > 0 && sender != workerPid ? Processes.GroupOf(sender) : workerPid;
                    if (sender == workerPid || group == workerPid)
                        _onMessage(Encoding.UTF8.GetString(buffer, 0, length));
                    else
                        Dropped(sender, workerPid, senderGone: sender > 0 && group < 0);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Closed with its worker.
        }
    }

    /// <param name="senderGone">
    /// The sender had exited before its process group could be read (a helper that sends and exits at once, as
    /// systemd-notify does): nothing then tells it from a process outside the group, so it is dropped too, as systemd
    /// drops such a message it cannot attribute.
    /// </param>
    private void Dropped(int sender, int workerPid, bool senderGone)
    {
        _dropped++;
        var now = Environment.TickCount64;
        if (_lastDropLog != long.MinValue && now - _lastDropLog < (long)DropLogInterval.TotalMilliseconds) return;
        _lastDropLog = now;
        var why = senderGone
            ? $"last from pid {sender}, which had exited before its process group could be checked: send from the worker itself, or from a helper that outlives the message"
            : $"last from pid {sender}";
        _onDropped($"dropped {_dropped} notify message(s) so far on {Path} from a process outside worker pid {workerPid}'s process group ({why})");
    }

    /// <summary>One datagram and its sender's pid (0 if the kernel named none); length -1 when none is queued.</summary>
    private unsafe (int Length, int Sender) Receive(byte[] buffer)
    {
        const int cmsgHeader = 16, credentialsSize = 12, scmCredentials = 2, msgDontWait = 0x40;
        var control = stackalloc byte[64];
        fixed (byte* data = buffer)
        {
            var iov = new Libc.IoVec { Base = data, Length = buffer.Length };
            var message = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
            var length = (int)Libc.recvmsg((int)_socket.Handle, &message, msgDontWait);
            if (length < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EAGAIN || errno == Libc.EINTR) return (-1, 0);
                throw new SocketException(errno);
            }
            var sender = 0;
            for (var offset = 0; offset + cmsgHeader <= (int)message.ControlLength;)
            {
                var cmsgLength = (int)*(ulong*)(control + offset);
                if (cmsgLength < cmsgHeader) break;
                if (*(int*)(control + offset + 8) == Libc.SOL_SOCKET && *(int*)(control + offset + 12) == scmCredentials && cmsgLength >= cmsgHeader + credentialsSize)
                    sender = *(int*)(control + offset + cmsgHeader);
                offset += (cmsgLength + 7) & ~7;
            }
            return (length, sender);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try { File.Delete(Path); } catch (IOException) { /* left behind: its folder is removed at stop, and a new endpoint deletes a stale file before it binds */ }
    }
}
