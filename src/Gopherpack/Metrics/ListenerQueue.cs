using System.Buffers.Binary;
using System.Net.Sockets;

namespace Gopherpack.Metrics;

/// <summary>
/// A listening socket's accept queue from TCP_INFO: on a socket in LISTEN state the kernel reports the
/// connections waiting to be accepted in <c>tcpi_unacked</c> and the backlog in <c>tcpi_sacked</c>.
/// </summary>
public static class ListenerQueue
{
    private const int IpProtoTcp = 6, TcpInfo = 11;
    /// <summary>struct tcp_info: eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked.</summary>
    private const int UnackedOffset = 24, SackedOffset = 28;

    /// <returns>Waiting connections and the backlog summed over <paramref name="sockets"/>; null when none could be read.</returns>
    public static (long Length, long Limit)? Read(IReadOnlyList<Socket> sockets)
    {
        Span<byte> info = stackalloc byte[256];
        long length = 0, limit = 0;
        var read = false;
        foreach (var socket in sockets)
        {
            try
            {
                var size = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
                if (size < SackedOffset + 4) continue;
                length += BinaryPrimitives.ReadUInt32LittleEndian(info[UnackedOffset..]);
                limit += BinaryPrimitives.ReadUInt32LittleEndian(info[SackedOffset..]);
                read = true;
            }
            // A socket closed since the snapshot (a reload committed meanwhile) is left out.
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { }
        }
        return read ? (length, limit) : null;
    }
}
