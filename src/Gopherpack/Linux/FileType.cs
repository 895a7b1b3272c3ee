using System.Text;

namespace Gopherpack.Linux;

/// <summary>File type checks .NET does not offer (is this path a socket? what is fd 2?), through statx, whose layout is the same on every architecture.</summary>
internal static unsafe class FileType
{
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000, StatxSize = 256;
    private const uint StatxType = 1, StatxMode = 2, StatxNlink = 4, StatxUid = 8, StatxIno = 0x100, StatxFileSize = 0x200;
    private const int NlinkOffset = 16, UidOffset = 20, ModeOffset = 28, InoOffset = 32, SizeOffset = 40, DevMajorOffset = 136, DevMinorOffset = 140;
    public const int IfMt = 0xF000, IfSock = 0xC000, IfLnk = 0xA000, IfReg = 0x8000, IfDir = 0x4000, IfChr = 0x2000, IfFifo = 0x1000;

    public static bool IsSocket(string path) => TypeAt(path, AtSymlinkNoFollow) == IfSock;

    /// <summary>Who owns what <paramref name="path"/> names (symlinks followed) and its mode bits; null if it cannot be examined.</summary>
    public static (int Type, int Permissions, uint Uid)? OwnerOf(string path) => OwnerAt(path, 0);

    /// <summary>As <see cref="OwnerOf"/>, of the path itself: a symlink is reported as one (<see cref="IfLnk"/>), not followed.</summary>
    public static (int Type, int Permissions, uint Uid)? OwnerOfLink(string path) => OwnerAt(path, AtSymlinkNoFollow);

    private static (int Type, int Permissions, uint Uid)? OwnerAt(string path, int flags)
    {
        var buffer = stackalloc byte[StatxSize];
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (Libc.statx(AtFdCwd, p, flags, StatxType | StatxMode | StatxUid, buffer) != 0) return null;
        }
        var mode = *(ushort*)(buffer + ModeOffset);
        return (mode & IfMt, mode & 0xFFF, *(uint*)(buffer + UidOffset));
    }

    /// <summary>The S_IFMT bits of what <paramref name="path"/> names, symlinks followed; null if it cannot be examined.</summary>
    public static int? TypeOf(string path) => TypeAt(path, 0);

    private static int? TypeAt(string path, int flags)
    {
        var buffer = stackalloc byte[StatxSize];
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (Libc.statx(AtFdCwd, p, flags, StatxType, buffer) != 0) return null;
        }
        return *(ushort*)(buffer + ModeOffset) & IfMt;
    }

    /// <summary>What an open fd is: its type bits, identity (device and inode) and size; null if the fd is not open.</summary>
    public static FdInfo? Of(int fd)
    {
        var buffer = stackalloc byte[StatxSize];
        byte empty = 0;
        if (Libc.statx(fd, &empty, AtEmptyPath, StatxType | StatxNlink | StatxUid | StatxIno | StatxFileSize, buffer) != 0) return null;
        return new FdInfo(
            *(ushort*)(buffer + ModeOffset) & IfMt,
            ((ulong)*(uint*)(buffer + DevMajorOffset) << 32) | *(uint*)(buffer + DevMinorOffset),
            *(ulong*)(buffer + InoOffset),
            *(long*)(buffer + SizeOffset),
            *(uint*)(buffer + NlinkOffset),
            *(uint*)(buffer + UidOffset));
    }
}

/// <param name="Type">The S_IFMT bits of the mode (<see cref="FileType.IfReg"/>, ...).</param>
/// <param name="Links">Hard links to the file: 0 once it has been deleted.</param>
/// <param name="Uid">The owner.</param>
internal readonly record struct FdInfo(int Type, ulong Device, ulong Inode, long Size, uint Links, uint Uid)
{
    public bool SameFileAs(FdInfo other) => Device == other.Device && Inode == other.Inode;
}
