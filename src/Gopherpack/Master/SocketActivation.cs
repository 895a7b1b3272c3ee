using System.Net.Sockets;

namespace Gopherpack.Master;

/// <summary>
/// Listening sockets handed to the master by systemd socket activation: LISTEN_PID (must be this
/// process), LISTEN_FDS (fds from 3) and LISTEN_FDNAMES (FileDescriptorName= of the .socket unit, matched
/// to the manifest's listener names). The variables are removed once read, as sd_listen_fds does,
/// so no child sees them.
/// </summary>
internal static class SocketActivation
{
    /// <returns>The handed sockets grouped by name (several fds of one name serve a reuseport listener's slots); empty when none are addressed to this process.</returns>
    /// <param name="warn">Told when LISTEN_FDS is meant for another process (LISTEN_PID does not match).</param>
    /// <exception cref="ListenerException">The variables are malformed or an fd is not a listening socket.</exception>
    public static IReadOnlyList<AdoptedListener> TakeFromEnvironment(Action<string> warn)
    {
        var pidText = Environment.GetEnvironmentVariable(WorkerContract.ListenPid);
        var countText = Environment.GetEnvironmentVariable(WorkerContract.ListenFds);
        var namesText = Environment.GetEnvironmentVariable(WorkerContract.ListenFdNames);
        foreach (var name in new[] { WorkerContract.ListenPid, WorkerContract.ListenFds, WorkerContract.ListenFdNames })
            Environment.SetEnvironmentVariable(name, null);
        if (countText is null) return [];
        if (!int.TryParse(pidText, out var pid) || pid != Environment.ProcessId)
        {
            // A wrapper that did not exec: the fds were meant for it. Left open, they would keep the addresses this
            // master is about to bind, and the bind would fail "in use" by no other process.
            var closed = CloseForeignListeners(countText);
            warn($"socket activation: LISTEN_PID={pidText ?? "(unset)"} does not match this process (pid {Environment.ProcessId}), so LISTEN_FDS={countText} " +
                $"was meant for another process (a wrapper that did not exec?); ignored, and {(closed.Count == 0 ? "no inherited listening socket" : $"the inherited listening socket(s) at fd {string.Join(", ", closed)}")} closed");
            return [];
        }
        if (!int.TryParse(countText, out var count) || count is < 0 or > 1024)
            throw new ListenerException($"socket activation: LISTEN_FDS='{countText}' is not a number of fds");
        var names = (namesText ?? "").Split(':');
        if (namesText is null || names.Length != count)
            throw new ListenerException($"socket activation: LISTEN_FDNAMES must name each of the {count} fd(s) after a manifest listener (FileDescriptorName= in the .socket unit); got '{namesText}'");

        var sockets = new List<(string Name, Socket Socket)>();
        for (var i = 0; i < count; i++)
            sockets.Add((names[i], Adopt(WorkerContract.FirstListenFd + i, names[i])));
        return sockets.GroupBy(s => s.Name)
            .Select(g => new AdoptedListener(g.Key, Address: null, Mode: null, KeepFile: true, g.Select(s => s.Socket).ToList()))
            .ToList();
    }

    /// <summary>Wraps an inherited fd in a Socket (close-on-exec, like the master's own); it must be a listening stream socket.</summary>
    public static Socket Adopt(int fd, string name)
    {
        Socket socket;
        try
        {
            socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            throw new ListenerException($"listener '{name}': inherited fd {fd} is not a socket ({e.Message})");
        }
        var accepting = new byte[4];
        try { socket.GetRawSocketOption(Linux.Libc.SOL_SOCKET, Linux.Libc.SO_ACCEPTCONN, accepting); }
        catch (SocketException) { accepting = new byte[4]; }
        if (socket.SocketType != SocketType.Stream || BitConverter.ToInt32(accepting) == 0)
        {
            socket.Dispose();
            throw new ListenerException($"listener '{name}': inherited fd {fd} is not a listening stream socket");
        }
        Linux.Libc.fcntl(fd, FSetFd, FdCloExec);
        return socket;
    }

    /// <summary>Closes the inherited (not close-on-exec) listening sockets among the fds LISTEN_FDS names; never the runtime's own fds.</summary>
    private static List<int> CloseForeignListeners(string countText)
    {
        var closed = new List<int>();
        if (!int.TryParse(countText, out var count) || count is < 1 or > 1024) return closed;
        for (var fd = WorkerContract.FirstListenFd; fd < WorkerContract.FirstListenFd + count; fd++)
        {
            var flags = Linux.Libc.fcntl(fd, FGetFd, 0);
            if (flags < 0 || (flags & FdCloExec) != 0) continue;
            if (!Linux.Libc.IsListeningSocket(fd)) continue;
            Linux.Libc.close(fd);
            closed.Add(fd);
        }
        return closed;
    }

    private const int FGetFd = 1, FSetFd = 2, FdCloExec = 1;
}
