using System.Runtime.InteropServices;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>
/// Changes the owner and mode of a unix socket file the master bound, never following a symlink: the folder may be
/// writable by the workers' account, which could put a symlink to a root-owned file in the socket's place. The path is
/// opened O_PATH|O_NOFOLLOW and changed through that fd only if it is a socket with the device and inode bound.
/// </summary>
internal static unsafe class SocketFileAccess
{
    private const int OPath = 0x200000, AtEmptyPath = 0x1000;

    /// <summary>Sets the owner (when <paramref name="uid"/> is given) and the mode (when <paramref name="mode"/> is).</summary>
    /// <exception cref="IOException">The path is no longer the socket bound (a symlink, another file), or the change failed.</exception>
    public static void Set(string path, FileId bound, uint? uid, uint? gid, int? mode)
    {
        int fd;
        fixed (byte* p = Encode(path)) fd = Libc.open(p, OPath | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"cannot open the socket file {path}: {Libc.Error(Marshal.GetLastPInvokeError())}");
        try
        {
            if (FileType.Of(fd) is not { Type: FileType.IfSock } || FileId.OfFd(fd) != bound)
                throw new IOException($"{path} is no longer the socket the master bound (replaced by another file or a symlink); its owner and mode are left alone");
            byte empty = 0;
            if (uid is { } u && Libc.fchownat(fd, &empty, u, gid ?? uint.MaxValue, AtEmptyPath) != 0)
                throw new IOException($"cannot give {path} to uid {u} gid {gid}: {Libc.Error(Marshal.GetLastPInvokeError())}");
            // chmod of an O_PATH fd's /proc magic link changes the opened inode itself; nothing is resolved by name again.
            if (mode is { } m)
                fixed (byte* p = Encode($"/proc/self/fd/{fd}"))
                    if (Libc.chmod(p, (uint)m) != 0)
                        throw new IOException($"cannot set the mode of {path} to {Convert.ToString(m, 8)}: {Libc.Error(Marshal.GetLastPInvokeError())}");
        }
        finally
        {
            Libc.close(fd);
        }
    }

    private static byte[] Encode(string text) => Encoding.UTF8.GetBytes(text + "\0");
}
