using System.Net.Sockets;

namespace Gopherpack.Linux;

/// <summary>
/// .NET unlinks a unix socket's path when a Socket that bound it is disposed (or finalized). After an
/// upgrade that path belongs to the new master, so the old master must not dispose such sockets:
/// they are kept here, referenced and open, until the process exits and the kernel closes them.
/// </summary>
internal static class SocketFiles
{
    private static readonly List<Socket> Kept = [];

    public static void CloseWithoutUnlink(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            socket.Dispose();
            return;
        }
        lock (Kept) Kept.Add(socket);
    }
}
