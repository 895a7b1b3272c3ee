using System.Net;
using System.Net.Sockets;

namespace Gopherpack.Tests.Support;

/// <summary>A loopback port that was free a moment ago, for servers that must be told a port (run alone).</summary>
public static class FreePort
{
    public static int Probe()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
