using System.Buffers.Binary;
using System.Net.Sockets;

namespace Gopherpack.Metrics;

/// <summary>
/// A listening socket's accept queue from TCP_INFO: on a socket in LISTEN state the kernel reports the
/// connections waiting to be accepted in <c>tcpi_unacked</c> and the backlog in <c>tcpi_sacked</c>.
/// A reuseport listener has one socket, so one queue, per slot: its queues are read one by one, never summed,
/// because one stopped worker fills its own slot's queue while the other slots' stay empty.
/// </summary>
internal static class ListenerQueue
{
    private const int IpProtoTcp = 6, TcpInfo = 11;
    /// <summary>struct tcp_info: eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked.</summary>
    private const int UnackedOffset = 24, SackedOffset = 28;

    /// <returns>Waiting connections and the backlog of one socket; null when it could not be read.</returns>
    public static QueueReading? Read(Socket socket, int? slot)
    {
        Span<byte> info = stackalloc byte[256];
        try
        {
            var size = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
            if (size < SackedOffset + 4) return null;
            return new QueueReading(slot, BinaryPrimitives.ReadUInt32LittleEndian(info[UnackedOffset..]),
                BinaryPrimitives.ReadUInt32LittleEndian(info[SackedOffset..]));
        }
        // A socket closed since the snapshot (a reload committed meanwhile) is left out.
        catch (Exception e) when (e is ObjectDisposedException or SocketException) { return null; }
    }

    /// <param name="perSlot">True for a reuseport listener: socket i is slot i's.</param>
    /// <returns>One reading per socket that could be read (Slot null for a shared listener's one socket).</returns>
    public static IReadOnlyList<QueueReading> ReadEach(IReadOnlyList<Socket> sockets, bool perSlot)
    {
        var readings = new List<QueueReading>(sockets.Count);
        for (var i = 0; i < sockets.Count; i++)
            if (Read(sockets[i], perSlot ? i : null) is { } reading) readings.Add(reading);
        return readings;
    }

    /// <summary>The fullest queue (highest share of its backlog, then longest); null when none was read.</summary>
    public static QueueReading? Fullest(IReadOnlyList<QueueReading> readings) =>
        readings.OrderByDescending(r => r.Limit > 0 ? (double)r.Length / r.Limit : r.Length).ThenByDescending(r => r.Length)
            .Cast<QueueReading?>().FirstOrDefault();
}

/// <param name="Slot">The slot whose socket this is (reuseport); null for a shared listener.</param>
internal readonly record struct QueueReading(int? Slot, long Length, long Limit);
