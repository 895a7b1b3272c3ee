using System.Runtime.InteropServices;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>
/// Removes a file only if it is still the one the master knows (device and inode), by its folder opened once:
/// the folder may be writable by another user, who could swap a parent folder for a symlink between a check by
/// path and a removal by path, and so have root remove a file of the same name elsewhere. Here the check and the
/// removal both go through the same open folder (O_PATH), and the last part is never followed.
/// </summary>
internal static unsafe class FileUnlink
{
    private const int OPath = 0x200000;

    /// <returns>Whether the file was removed; false when the path names no file or another one (nothing is removed then).</returns>
    /// <exception cref="IOException">It is the very file, but the removal failed.</exception>
    public static bool IfSame(string path, FileId id)
    {
        var name = Path.GetFileName(path);
        if (name.Length == 0) return false;
        var folder = Path.GetDirectoryName(path);
        int dirFd;
        fixed (byte* p = Encode(string.IsNullOrEmpty(folder) ? "." : folder)) dirFd = Libc.open(p, OPath | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (dirFd < 0) return false;
        try
        {
            if (FileId.At(dirFd, name) != id) return false;
            fixed (byte* p = Encode(name))
                if (Libc.unlinkat(dirFd, p, 0) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.ENOENT) return false;
                    throw new IOException($"cannot remove {path}: {Libc.Error(errno)}");
                }
            return true;
        }
        finally
        {
            Libc.close(dirFd);
        }
    }

    private static byte[] Encode(string text) => Encoding.UTF8.GetBytes(text + "\0");
}
