using System.Net.Sockets;
using Gopherpack.Linux;

namespace Gopherpack.Master;

/// <summary>
/// Listening sockets of this pack that its master has closed while processes of the pack may still hold
/// them: the workers of a scaled-down slot or of an old generation draining, a failed reload's workers
/// stopping, the old master's workers after an upgrade. Such a socket listens on until its last holder
/// exits, and it is the pack's own, not another process's, when an address is checked for exclusive use.
/// Known by inode; an inode nobody listens on any more is forgotten, since the kernel may reuse its number.
/// </summary>
internal sealed class RetiredSockets(IEnumerable<ulong>? inodes = null)
{
    /// <summary>Past this many, closing one first forgets those no longer listening.</summary>
    private const int PruneAbove = 256;

    private readonly HashSet<ulong> _inodes = [.. inodes ?? []];

    public IReadOnlyCollection<ulong> Inodes => _inodes;

    public bool Contains(ulong inode) => _inodes.Contains(inode);

    /// <summary>Closes this master's copy of <paramref name="socket"/> and remembers it as the pack's.</summary>
    public void Close(Socket socket)
    {
        if (_inodes.Count >= PruneAbove) Forget(SocketTable.Listening());
        if (socket.AddressFamily != AddressFamily.Unix && FileId.OfFd((int)socket.Handle) is { } id) _inodes.Add(id.Inode);
        socket.Dispose();
    }

    /// <summary>Forgets the sockets that are not in <paramref name="listening"/>: every holder has closed them.</summary>
    public void Forget(IReadOnlyList<ListeningSocket> listening)
    {
        var live = listening.Select(s => s.Inode).ToHashSet();
        _inodes.RemoveWhere(inode => !live.Contains(inode));
    }
}
