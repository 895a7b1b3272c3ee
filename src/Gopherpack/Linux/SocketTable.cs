using System.Globalization;
using System.Net;

namespace Gopherpack.Linux;

/// <summary>A TCP socket in LISTEN state, as the kernel lists it in /proc/net/tcp{,6}.</summary>
internal readonly record struct ListeningSocket(IPEndPoint Local, ulong Inode);

/// <summary>A process that holds an open fd on a socket.</summary>
internal readonly record struct SocketHolder(int Pid, string Command, ulong Inode)
{
    public override string ToString() => $"pid {Pid} ({Command})";
}

/// <summary>Who listens where, and who holds which socket: read from /proc, in this process's network namespace.</summary>
internal static class SocketTable
{
    private const string ListenState = "0A";

    /// <summary>Every listening TCP socket of the network namespace.</summary>
    public static IReadOnlyList<ListeningSocket> Listening()
    {
        var sockets = new List<ListeningSocket>();
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            string[] lines;
            try { lines = File.ReadAllLines(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10 || fields[3] != ListenState) continue;
                if (ParseEndPoint(fields[1]) is { } local && ulong.TryParse(fields[9], out var inode))
                    sockets.Add(new ListeningSocket(local, inode));
            }
        }
        return sockets;
    }

    /// <summary>True when a connection to one could reach the other: same family and port, same address or either is the wildcard.</summary>
    public static bool Overlaps(IPEndPoint a, IPEndPoint b) =>
        a.AddressFamily == b.AddressFamily && a.Port == b.Port &&
        (a.Address.Equals(b.Address) || IsAny(a.Address) || IsAny(b.Address));

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    /// <summary>The socket inodes among this process's own fds.</summary>
    public static HashSet<ulong> OwnSocketInodes() => SocketInodesOf(Environment.ProcessId);

    /// <summary>Processes (other than <paramref name="except"/>) holding any of <paramref name="inodes"/>; only those this user may inspect.</summary>
    public static IReadOnlyList<SocketHolder> Holders(IReadOnlySet<ulong> inodes, IReadOnlySet<int> except)
    {
        var holders = new List<SocketHolder>();
        if (inodes.Count == 0) return holders;
        IEnumerable<string> processes;
        try { processes = Directory.EnumerateDirectories("/proc"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return holders; }
        foreach (var directory in processes)
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, null, out var pid) || except.Contains(pid)) continue;
            foreach (var inode in SocketInodesOf(pid).Where(inodes.Contains))
                holders.Add(new SocketHolder(pid, Command(pid), inode));
        }
        return holders;
    }

    private static HashSet<ulong> SocketInodesOf(int pid)
    {
        var inodes = new HashSet<ulong>();
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                string? target;
                try { target = new FileInfo(fd).LinkTarget; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) &&
                    ulong.TryParse(target.AsSpan("socket:[".Length, target.Length - "socket:[".Length - 1), out var inode))
                    inodes.Add(inode);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* it exited, or is another user's: it holds none of ours we could see */ }
        return inodes;
    }

    private static string Command(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "?"; }
    }

    /// <summary>"0100007F:1F90" (IPv4) or 32 hex digits (IPv6), each 32-bit word in host byte order, then ":PORT".</summary>
    private static IPEndPoint? ParseEndPoint(string text)
    {
        var colon = text.IndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, null, out var port)) return null;
        var hex = text[..colon];
        if (hex.Length is not (8 or 32)) return null;
        var bytes = new byte[hex.Length / 2];
        for (var word = 0; word < hex.Length / 8; word++)
        {
            if (!uint.TryParse(hex.AsSpan(word * 8, 8), NumberStyles.HexNumber, null, out var value)) return null;
            BitConverter.TryWriteBytes(bytes.AsSpan(word * 4, 4), value);
        }
        return new IPEndPoint(new IPAddress(bytes), port);
    }
}
