using System.Net.Sockets;

namespace Gopherpack.Linux;

internal static unsafe class SocketPeer
{
    /// <summary>
    /// The peer of a connected unix stream socket has closed it entirely (POLLHUP). A peer that only shut down its
    /// writing side, as some clients do after sending a request, has not: that is POLLRDHUP alone.
    /// </summary>
    public static bool HasClosed(Socket socket)
    {
        var entry = new Libc.PollFd { Fd = (int)socket.Handle, Events = 0 };
        return Libc.poll(&entry, 1, 0) == 1 && (entry.Revents & Libc.POLLHUP) != 0;
    }
}
