using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Gopherpack.Linux;

/// <summary>
/// Opens a log file for appending with O_APPEND (which .NET's FileMode.Append does not set): every write lands
/// at the end, so a restarted master keeps the previous run's lines and logrotate's copytruncate leaves no NUL bytes.
/// A new file is private (0600). What is already at the path must be this user's own regular file: a symlink is
/// never followed (O_NOFOLLOW), and a FIFO, a hard link to another file or another account's file is refused, so a
/// file planted in the runtime dir cannot turn the master's log into a write to something else. Nothing is chmodded.
/// </summary>
internal static unsafe class AppendFile
{
    private const int PrivateMode = 0b110_000_000;
    private const int ONonBlock = 0x800, FSetFl = 4, ELoop = 40, ENxio = 6;

    /// <exception cref="IOException">It cannot be opened, or what is at the path is not this user's plain file.</exception>
    public static SafeFileHandle Open(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        // O_NONBLOCK: a FIFO planted at the path cannot hang the open; cleared again below.
        fixed (byte* p = bytes) fd = Libc.open(p, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_CLOEXEC | Libc.O_NOFOLLOW | ONonBlock, PrivateMode);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno switch
            {
                ELoop => $"cannot open {path}: it is a symbolic link, and the master never writes its log through one (remove it)",
                // O_WRONLY|O_NONBLOCK on a FIFO nobody reads.
                ENxio => $"cannot open {path}: it is a FIFO, not a regular file; refused (remove it)",
                _ => $"cannot open {path}: {Libc.Error(errno)}",
            });
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var problem = FileType.Of(fd) switch
        {
            null => "cannot be examined",
            { Type: not FileType.IfReg } => "is not a regular file",
            { Links: > 1 } => "has other hard links (it may be another file linked there)",
            { Uid: var uid } when uid != Libc.geteuid() => $"belongs to uid {uid}, not to this user",
            _ => null,
        };
        if (problem is null && Libc.fcntl(fd, FSetFl, Libc.O_APPEND) != 0) problem = "cannot be made blocking: " + Libc.Error(Marshal.GetLastPInvokeError());
        if (problem is null) return handle;
        handle.Dispose();
        throw new IOException($"cannot open {path}: it {problem}; refused (remove it)");
    }
}
