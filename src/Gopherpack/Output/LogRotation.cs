using System.Runtime.InteropServices;
using System.Text;
using Gopherpack.Linux;

namespace Gopherpack.Output;

/// <summary>
/// Keeps the master's log file (its stdout/stderr when they are a regular file, as under <c>gopherpack start</c>)
/// under a size bound: past it, <c>NAME.log</c> becomes <c>NAME.log.1</c> (replacing the previous one) and a new
/// <c>NAME.log</c> (0600, append) takes the place of the old file on every fd that pointed at it, fds 1 and 2 included.
/// A log deleted (or replaced: by another file, a symlink, anything) behind the master's back is noticed the same way
/// and reopened, so the master never goes on filling an inode nobody can see or bound. A symlink put at the path is
/// never followed: in the master's own runtime dir (private, so the user's doing) it is removed and a fresh file
/// created (O_EXCL); anywhere else, or when the path cannot be opened, the master says so once, tries again at the
/// next check, and meanwhile empties the detached file whenever it reaches the size bound, so the disk used stays bounded.
/// </summary>
internal sealed class LogRotation(string path, long maxBytes, Action<string> warn, string? runtimeDir = null)
{
    public const long DefaultMaxBytes = 64L * 1024 * 1024;
    private bool _disabled;
    private string? _reopenFailure;

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
        if (!Reopen(fd, out var failure)) Disable(failure);
    }

    /// <summary>Reopens <see cref="Path"/> after it was deleted or replaced by someone else.</summary>
    public void ReopenDetached(int fd)
    {
        if (Reopen(fd, out var failure))
        {
            _reopenFailure = null;
            warn($"{Path} was deleted or replaced while the master ran; reopened it (the lines in between are lost)");
            return;
        }
        if (_reopenFailure != failure)
        {
            _reopenFailure = failure;
            warn($"{Path} was deleted or replaced while the master ran and cannot be reopened ({failure}); trying again, " +
                $"and the detached file is emptied whenever it reaches {MaxBytes} bytes");
        }
        if (FileType.Of(fd) is { Type: FileType.IfReg } info && info.Size >= MaxBytes) Libc.ftruncate(fd, 0);
    }

    /// <summary>A new file at <see cref="Path"/> (never through a symlink) replaces the old one on every fd that pointed at it.</summary>
    private unsafe bool Reopen(int fd, out string failure)
    {
        failure = "";
        if (FileType.Of(fd) is not { } old) return false;
        var bytes = Encoding.UTF8.GetBytes(Path + "\0");
        int fresh;
        const int Flags = Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_CLOEXEC | Libc.O_NOFOLLOW | Libc.O_NONBLOCK;
        fixed (byte* p = bytes)
        {
            fresh = Libc.open(p, Flags, 0b110_000_000);
            if (fresh < 0 && Marshal.GetLastPInvokeError() == Libc.ELOOP && InOwnRuntimeDir())
            {
                // A symlink in the master's private runtime dir: only this user could have put it there. It goes, and a
                // fresh file (O_EXCL: never whatever appeared meanwhile) takes the path.
                Libc.unlink(p);
                fresh = Libc.open(p, Flags | Libc.O_EXCL, 0b110_000_000);
            }
        }
        if (fresh < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            failure = errno == Libc.ELOOP ? "it is a symbolic link, which the master never writes through" : Libc.Error(errno);
            return false;
        }
        if (FileType.Of(fresh) is not { Type: FileType.IfReg, Links: 1 } || Libc.fcntl(fresh, FSetFl, Libc.O_APPEND) != 0)
        {
            Libc.close(fresh);
            failure = "it is not a plain file with one link";
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

    private const int FGetFd = 1, FdCloExec = 1, FSetFl = 4;

    private static List<int> OpenFds()
    {
        try { return Directory.EnumerateFileSystemEntries("/proc/self/fd").Select(e => int.TryParse(System.IO.Path.GetFileName(e), out var n) ? n : -1).Where(n => n >= 0).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return [1, 2]; }
    }

    private bool InOwnRuntimeDir()
    {
        if (runtimeDir is null) return false;
        try { return RealPath.Of(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!) == RealPath.Of(runtimeDir); }
        catch (IOException) { return false; }
    }

    private void Disable(string why)
    {
        _disabled = true;
        warn($"cannot rotate {Path} ({why}); it is no longer size-bounded");
    }
}
