using System.Runtime.InteropServices;
using System.Text;
using Gopherpack.Linux;

namespace Gopherpack.Output;

/// <summary>
/// Keeps the master's log file (its stdout/stderr when they are a regular file, as under <c>gopherpack start</c>)
/// under a size bound: past it, <c>NAME.log</c> becomes <c>NAME.log.1</c> (replacing the previous one) and a new
/// <c>NAME.log</c> (0600, append) takes the place of the old file on every fd that pointed at it, fds 1 and 2 included.
/// </summary>
internal sealed class LogRotation(string path, long maxBytes, Action<string> warn)
{
    public const long DefaultMaxBytes = 64L * 1024 * 1024;
    private bool _disabled;

    public string Path { get; } = path;
    public long MaxBytes { get; } = maxBytes;

    public bool IsDue(int fd) => !_disabled && FileType.Of(fd) is { Type: FileType.IfReg } info && info.Size >= MaxBytes;

    public unsafe void Rotate(int fd)
    {
        if (FileType.Of(fd) is not { } old) return;
        int fresh;
        try
        {
            File.Move(Path, Path + ".1", overwrite: true);
            var bytes = Encoding.UTF8.GetBytes(Path + "\0");
            fixed (byte* p = bytes) fresh = Libc.open(p, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_000_000);
            if (fresh < 0) throw new IOException(Libc.Error(Marshal.GetLastPInvokeError()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _disabled = true;
            warn($"cannot rotate {Path} ({e.Message}); it is no longer size-bounded");
            return;
        }
        foreach (var standard in new[] { 1, 2 })
            if (FileType.Of(standard) is { } info && info.SameFileAs(old)) Libc.dup3(fresh, standard, 0);
        Libc.dup3(fresh, fd, Libc.O_CLOEXEC);
        Libc.close(fresh);
    }
}
