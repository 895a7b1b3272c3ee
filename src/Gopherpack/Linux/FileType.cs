using System.Text;

namespace Gopherpack.Linux;

/// <summary>File type checks .NET does not offer (is this path a socket?), through statx, whose layout is the same on every architecture.</summary>
internal static unsafe class FileType
{
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, StatxType = 1, StatxSize = 256;
    private const int ModeOffset = 28, IfMt = 0xF000, IfSock = 0xC000;

    public static bool IsSocket(string path)
    {
        var buffer = stackalloc byte[StatxSize];
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (Libc.statx(AtFdCwd, p, AtSymlinkNoFollow, StatxType, buffer) != 0) return false;
        }
        var mode = *(ushort*)(buffer + ModeOffset);
        return (mode & IfMt) == IfSock;
    }
}
