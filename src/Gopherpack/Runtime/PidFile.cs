using System.Runtime.InteropServices;
using System.Text;
using Gopherpack.Linux;

namespace Gopherpack.Runtime;

/// <summary>
/// The pack's pid file, and the lock that makes its master the only one per pack name and runtime dir.
/// The master holds an exclusive OFD lock (fcntl F_OFD_SETLK) on the pid file's open file description
/// for its whole life; the kernel drops it when the last fd of that description closes, whatever way
/// the master dies, so a pid file nobody locks is stale by definition, whichever pid it names.
/// The content is always complete: a new pid file is written to a temporary file, locked, then
/// published with link() (no pid file yet: fails if another master got there first) or rename()
/// (replacing a stale one, while holding the stale one's lock). Whoever locks a file checks that the
/// path still names it, so a file replaced meanwhile is never taken for the current one.
/// OFD locks rather than flock: .NET itself takes flock locks on files it opens (its FileShare
/// emulation), and an fcntl lock can be queried (F_OFD_GETLK) without taking it, so readers
/// (<see cref="Holder"/>) never get in a starting master's way.
/// </summary>
internal sealed unsafe class PidFile : IDisposable
{
    private const int Attempts = 100;
    private static int _tempCounter;

    private PidFile(string path, int fd)
    {
        Path = path;
        LockFd = fd;
    }

    public string Path { get; }

    /// <summary>The fd whose open file description holds the lock.</summary>
    public int LockFd { get; private set; }

    /// <summary>Takes the pid file for this process: creates it, or replaces a stale one.</summary>
    /// <param name="onStale">Told why an existing pid file was stale before it is replaced.</param>
    /// <exception cref="PidFileLockedException">A live master holds it.</exception>
    /// <exception cref="RuntimeDirectoryException">It cannot be read or written.</exception>
    public static PidFile Acquire(string path, Action<string> onStale)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var fd = Open(path, Libc.O_RDWR);
            if (fd < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == Libc.ELOOP) throw new RuntimeDirectoryException($"pid file '{path}' is a symbolic link; refused (remove it)");
                if (error != Libc.ENOENT) throw Failure(path, "open", error);
                var (ours, temp) = CreateLocked(path);
                if (Call(Libc.link, temp, path) == 0)
                {
                    Call(Libc.unlink, temp);
                    return new PidFile(path, ours);
                }
                error = Marshal.GetLastPInvokeError();
                Libc.close(ours);
                Call(Libc.unlink, temp);
                if (error == Libc.EEXIST) continue;
                throw Failure(path, "link", error);
            }
            if (NotRegular(fd) is { } type)
            {
                Libc.close(fd);
                throw new RuntimeDirectoryException($"pid file '{path}' is {type}, not a regular file; refused (remove it)");
            }
            if (!TryLock(fd, Libc.F_WRLCK))
            {
                var holder = ReadPid(fd);
                Libc.close(fd);
                throw new PidFileLockedException(path, holder);
            }
            if (FileId.OfFd(fd) != FileId.OfPath(path))
            {
                Libc.close(fd);
                continue;
            }
            onStale(DescribeStale(path, ReadPid(fd)));
            try
            {
                return new PidFile(path, Publish(path));
            }
            finally
            {
                Libc.close(fd);
            }
        }
        throw new RuntimeDirectoryException($"pid file '{path}' keeps changing under this master; is something else writing it?");
    }

    /// <summary>
    /// For a new master taking over from a live predecessor that still holds the lock (upgrade, without
    /// inheriting its fd): publishes its own locked pid file over the predecessor's. Race-free while the
    /// predecessor keeps its lock until this returns: a contender finds one or the other locked.
    /// </summary>
    public static PidFile Replace(string path) => new(path, Publish(path));

    /// <summary>The pid of the master that holds the pack's pid file, or null when none does (no file, or a stale one).</summary>
    public static int? Holder(string path)
    {
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var fd = Open(path, Libc.O_RDONLY);
            if (fd < 0) return null;
            try
            {
                if (NotRegular(fd) is not null) return null; // no master ever publishes one: nobody holds it
                var locked = IsLocked(fd);
                // Checked on a file that has just been replaced: look again at the current one.
                if (FileId.OfFd(fd) != FileId.OfPath(path)) continue;
                return locked ? ReadPid(fd) ?? 0 : null;
            }
            finally
            {
                Libc.close(fd);
            }
        }
        return null;
    }

    /// <summary>A normal stop: removes the pid file if it is still this master's, then releases the lock.</summary>
    public void Dispose()
    {
        if (LockFd < 0) return;
        if (FileId.OfFd(LockFd) is { } ours && FileId.OfPath(Path) == ours) Call(Libc.unlink, Path);
        Libc.close(LockFd);
        LockFd = -1;
    }

    /// <summary>Writes this process's pid file under a temporary name, locks it and renames it into place.</summary>
    private static int Publish(string path)
    {
        var (fd, temp) = CreateLocked(path);
        if (Call(Libc.rename, temp, path) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            Libc.close(fd);
            Call(Libc.unlink, temp);
            throw Failure(path, "rename", error);
        }
        return fd;
    }

    private static unsafe (int Fd, string Path) CreateLocked(string path)
    {
        // Unique per call: in-process masters (Start-Pack -Wait in several runspaces) share a pid.
        var temp = $"{path}.{Environment.ProcessId}.{Interlocked.Increment(ref _tempCounter)}.tmp";
        Call(Libc.unlink, temp); // left by an earlier process with this pid
        var fd = Open(temp, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL);
        if (fd < 0) throw Failure(temp, "create", Marshal.GetLastPInvokeError());
        var content = Encoding.ASCII.GetBytes(Environment.ProcessId + "\n");
        nint written;
        fixed (byte* p = content) written = Libc.write(fd, p, content.Length);
        if (written != content.Length || !TryLock(fd, Libc.F_WRLCK))
        {
            var error = Marshal.GetLastPInvokeError();
            Libc.close(fd);
            Call(Libc.unlink, temp);
            throw Failure(temp, "write", error);
        }
        return (fd, temp);
    }

    private static unsafe bool TryLock(int fd, short type)
    {
        var request = new Libc.FileLock { Type = type };
        return Libc.fcntl(fd, Libc.F_OFD_SETLK, &request) == 0;
    }

    private static unsafe bool IsLocked(int fd)
    {
        var query = new Libc.FileLock { Type = Libc.F_RDLCK };
        return Libc.fcntl(fd, Libc.F_OFD_GETLK, &query) == 0 && query.Type != Libc.F_UNLCK;
    }

    private static unsafe int? ReadPid(int fd)
    {
        var buffer = stackalloc byte[32];
        var read = Libc.pread(fd, buffer, 32, 0);
        if (read <= 0) return null;
        return int.TryParse(Encoding.ASCII.GetString(buffer, (int)read).Trim(), out var pid) && pid > 0 ? pid : null;
    }

    private static string DescribeStale(string path, int? pid)
    {
        if (pid is not { } p) return $"replacing stale pid file '{path}' (it named no pid)";
        return Processes.IsAlive(p)
            ? $"replacing stale pid file '{path}': pid {p} is alive but is not this pack's master (it holds no lock on the pid file)"
            : $"replacing stale pid file '{path}': pid {p} is not running";
    }

    /// <summary>
    /// O_NONBLOCK: a FIFO planted at the path cannot hang the open (a regular file ignores the flag);
    /// callers then refuse anything but a regular file (<see cref="NotRegular"/>).
    /// </summary>
    private static unsafe int Open(string path, int flags)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return Libc.open(p, flags | Libc.O_CLOEXEC | Libc.O_NOFOLLOW | Libc.O_NONBLOCK, 0b110_100_100);
    }

    /// <summary>What the fd is when it is not a regular file ("a FIFO", ...); null for a regular file.</summary>
    private static string? NotRegular(int fd) => FileType.Of(fd)?.Type switch
    {
        FileType.IfReg => null,
        FileType.IfFifo => "a FIFO",
        FileType.IfDir => "a directory",
        FileType.IfSock => "a socket",
        FileType.IfChr => "a device",
        _ => "something else",
    };

    private unsafe delegate int PathCall(byte* path);
    private unsafe delegate int TwoPathCall(byte* from, byte* to);

    private static unsafe int Call(PathCall call, string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) return call(p);
    }

    private static unsafe int Call(TwoPathCall call, string from, string to)
    {
        var a = Encoding.UTF8.GetBytes(from + "\0");
        var b = Encoding.UTF8.GetBytes(to + "\0");
        fixed (byte* pa = a)
        fixed (byte* pb = b)
            return call(pa, pb);
    }

    private static RuntimeDirectoryException Failure(string path, string operation, int errno) =>
        new($"pid file '{path}': {operation} failed: {Libc.Error(errno)}");
}

/// <summary>A live master holds the pid file's lock.</summary>
internal sealed class PidFileLockedException(string path, int? holder)
    : Exception($"a live master{(holder is { } p ? $" (pid {p})" : "")} holds '{path}'")
{
    public string PidFilePath { get; } = path;
    public int? HolderPid { get; } = holder;
}
