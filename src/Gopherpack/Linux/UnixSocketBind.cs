using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>
/// Binds a unix socket to a path with libc's bind on its fd, not <c>Socket.Bind</c>: .NET then knows no bound file
/// name, so disposing the socket does not unlink the path unchecked (see <see cref="SocketFiles"/>). The master
/// removes the file itself, only if it is still the one it bound (<see cref="FileUnlink"/>).
/// </summary>
internal static unsafe class UnixSocketBind
{
    private const int AfUnix = 1, SunPathLength = 108;

    /// <returns>0, or the errno of the failed bind (EADDRINUSE: the path exists).</returns>
    public static int Bind(Socket socket, string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= SunPathLength) return Libc.ENAMETOOLONG;
        var address = stackalloc byte[2 + SunPathLength];
        new Span<byte>(address, 2 + SunPathLength).Clear();
        *(ushort*)address = AfUnix;
        bytes.CopyTo(new Span<byte>(address + 2, SunPathLength));
        return Libc.bind((int)socket.Handle, address, 2 + bytes.Length + 1) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }
}
