using System.Net.Sockets;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>
/// sd_notify from the master to the service manager above it (systemd), when the master's own
/// environment has NOTIFY_SOCKET; otherwise every call does nothing. Messages are best effort:
/// a manager that went away must not disturb the pack, and one that stops reading must not block it.
/// The socket is non-blocking: a message that does not fit the receiver's queue is dropped and counted.
/// </summary>
internal sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _target;
    private bool _silenced;
    private long _dropped;

    private SystemdNotifier(string? path)
    {
        if (string.IsNullOrEmpty(path) || (path[0] != '/' && path[0] != '@')) return;
        // "@name" is an abstract socket: a leading NUL byte on the wire.
        _target = new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { Blocking = false };
    }

    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable(WorkerContract.NotifySocket));

    public bool Enabled => _socket is not null && !_silenced;

    /// <summary>Messages dropped because the receiver's queue was full (it does not read) or it was gone.</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

    /// <summary>The pack serves: READY=1 (after start, after a reload, or from a new master with its MAINPID).</summary>
    public void Ready(string status, int? mainPid = null) =>
        Send(mainPid is { } pid ? [$"MAINPID={pid}", "READY=1", "STATUS=" + status] : ["READY=1", "STATUS=" + status]);

    /// <summary>A reload or upgrade begins; READY=1 ends it (Type=notify-reload).</summary>
    public void Reloading(string status) => Send(["RELOADING=1", $"MONOTONIC_USEC={Libc.MonotonicMicroseconds()}", "STATUS=" + status]);

    public void Stopping(string status) => Send(["STOPPING=1", "STATUS=" + status]);

    /// <summary>
    /// Only the master systemd knows as MAINPID speaks for the service: the old one after an upgrade
    /// says nothing more (no STOPPING=1), a new one says nothing until it takes over (nor if it fails).
    /// </summary>
    public void Silence() => _silenced = true;

    public void Unsilence() => _silenced = false;

    /// <returns>False when the message was dropped (or notifications are off).</returns>
    public bool Send(string[] lines)
    {
        if (!Enabled) return false;
        try
        {
            _socket!.SendTo(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), SocketFlags.None, _target!);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // EAGAIN (the receiver's queue is full), ECONNREFUSED, ENOENT: never wait, never fail the caller.
            Interlocked.Increment(ref _dropped);
            return false;
        }
    }

    public void Dispose() => _socket?.Dispose();
}
