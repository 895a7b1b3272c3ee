using System.Runtime.InteropServices;
using System.Text;
using Gopherpack.Linux;

namespace Gopherpack.Output;

/// <summary>
/// Keeps the master's log file (its stdout/stderr when they are a regular file, as under <c>gopherpack start</c>)
/// under a size bound: past it, <c>NAME.log</c> becomes <c>NAME.log.1</c> (replacing the previous one) and a new
/// <c>NAME.log</c> (0600, append) takes the place of the old file on every fd that pointed at it, fds 1 and 2 included.
/// A log deleted (or replaced) behind the master's back is noticed the same way and reopened, so the master never
/// goes on filling an inode nobody can see or bound.
/// </summary>
internal sealed class LogRotation(string path, long maxBytes, Action<string> warn)
{
    public const long DefaultMaxBytes = 64L * 1024 * 1024;
    private bool _disabled;

    public string Path { get; } = path;
    public long MaxBytes { get; } = maxBytes;

    public bool IsDue(int fd) => !_disabled && FileType.Of(fd) is { Type: FileType.IfReg } info && info.Size >= MaxBytes;

    /// <summary>The file at <paramref name="fd"/> is no longer <see cref="Path"/>: deleted (no links left) or replaced by another file.</summary>
    public bool IsDetached(int fd) =>
        !_disabled && FileType.Of(fd) is { Type: FileType.IfReg } info && (info.Links == 0 || FileId.OfPath(Path) is not { } atPath || atPath != FileId.OfFd(fd));

    public void Rotate(int fd)
    {
        try { File.Move(Path, Path + ".1", overwrite: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Disable(e.Message);
            return;
        }
        Reopen(fd);
    }

    /// <summary>Reopens <see cref="Path"/> after it was deleted or replaced by someone else.</summary>
    public void ReopenDetached(int fd)
    {
        if (Reopen(fd)) warn($"{Path} was deleted or replaced while the master ran; reopened it (the lines in between are lost)");
    }

    /// <summary>A new file at <see cref="Path"/> (never through a symlink) replaces the old one on every fd that pointed at it.</summary>
    private unsafe bool Reopen(int fd)
    {
        if (FileType.Of(fd) is not { } old) return false;
        int fresh;
        var bytes = Encoding.UTF8.GetBytes(Path + "\0");
        fixed (byte* p = bytes) fresh = Libc.open(p, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0b110_000_000);
        if (fresh < 0)
        {
            Disable(Libc.Error(Marshal.GetLastPInvokeError()));
            return false;
        }
        // Every fd on the old file moves: fds 1 and 2, the sink's, and copies the runtime made (Console dups 1 and 2),
        // which would otherwise keep a deleted file's space in use.
        foreach (var other in OpenFds().Where(o => o != fresh))
        {
            if (FileType.Of(other) is not { } info || !info.SameFileAs(old)) continue;
            var flags = Libc.fcntl(other, FGetFd, 0);
            Libc.dup3(fresh, other, flags >= 0 && (flags & FdCloExec) != 0 ? Libc.O_CLOEXEC : 0);
        }
        Libc.close(fresh);
        return true;
    }

    private const int FGetFd = 1, FdCloExec = 1;

    private static List<int> OpenFds()
    {
        try { return Directory.EnumerateFileSystemEntries("/proc/self/fd").Select(e => int.TryParse(System.IO.Path.GetFileName(e), out var n) ? n : -1).Where(n => n >= 0).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return [1, 2]; }
    }

    private void Disable(string why)
    {
        _disabled = true;
        warn($"cannot rotate {Path} ({why}); it is no longer size-bounded");
    }
}
