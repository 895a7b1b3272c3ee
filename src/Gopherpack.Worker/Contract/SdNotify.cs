using System.Net.Sockets;
using System.Text;

namespace Gopherpack.Worker;

/// <summary>sd_notify: one datagram to NOTIFY_SOCKET (a path, or @name for the abstract namespace).</summary>
public static class SdNotify
{
    /// <returns>False when there is no notify socket (not in a pack) or the send failed.</returns>
    public static bool Send(string? socketPath, string message)
    {
        if (string.IsNullOrEmpty(socketPath)) return false;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath));
            socket.Send(Encoding.UTF8.GetBytes(message));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
