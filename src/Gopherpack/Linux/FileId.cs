using System.Text;

namespace Gopherpack.Linux;

/// <summary>
/// A file's identity (device and inode), to tell "the file I created" from "a file at the same path".
/// <see cref="ToString"/> prints it as coreutils <c>stat -c %d:%i</c> does, so a shell script can compare.
/// </summary>
internal readonly record struct FileId(ulong Device, ulong Inode)
{
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000, StatxIno = 0x100, StatxSize = 256;
    private const int InodeOffset = 32, DevMajorOffset = 136, DevMinorOffset = 140;

    public override string ToString() => $"{Device}:{Inode}";

    /// <summary>The file at <paramref name="path"/> (not following a final symlink); null if there is none.</summary>
    public static unsafe FileId? OfPath(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return Stat(AtFdCwd, p, AtSymlinkNoFollow);
    }

    /// <summary>The file <paramref name="name"/> in the folder open as <paramref name="dirFd"/> (a final symlink not followed); null if there is none.</summary>
    public static unsafe FileId? At(int dirFd, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = bytes) return Stat(dirFd, p, AtSymlinkNoFollow);
    }

    /// <summary>The file an open fd refers to.</summary>
    public static unsafe FileId? OfFd(int fd)
    {
        byte empty = 0;
        return Stat(fd, &empty, AtEmptyPath);
    }

    private static unsafe FileId? Stat(int dirFd, byte* path, int flags)
    {
        var buffer = stackalloc byte[StatxSize];
        if (Libc.statx(dirFd, path, flags, StatxIno, buffer) != 0) return null;
        var major = *(uint*)(buffer + DevMajorOffset);
        var minor = *(uint*)(buffer + DevMinorOffset);
        return new FileId(MakeDev(major, minor), *(ulong*)(buffer + InodeOffset));
    }

    /// <summary>glibc's gnu_dev_makedev: the st_dev number that stat(1) prints.</summary>
    private static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
}
