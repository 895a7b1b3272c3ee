using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Gopherpack.Linux;

/// <summary>
/// Opens a log file for appending with O_APPEND (which .NET's FileMode.Append does not set): every write lands
/// at the end, so a restarted master keeps the previous run's lines and logrotate's copytruncate leaves no NUL bytes.
/// The file is private (0600), also when an older version created it world-readable.
/// </summary>
public static unsafe class AppendFile
{
    private const int PrivateMode = 0b110_000_000;

    /// <exception cref="IOException">It cannot be opened.</exception>
    public static SafeFileHandle Open(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes) fd = Libc.open(p, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_CLOEXEC, PrivateMode);
        if (fd < 0) throw new IOException($"cannot open {path}: {Libc.Error(Marshal.GetLastPInvokeError())}");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try { File.SetUnixFileMode(handle, UnixFileMode.UserRead | UnixFileMode.UserWrite); }
        catch (UnauthorizedAccessException) { } // not ours to change (another owner): leave it
        return handle;
    }
}
