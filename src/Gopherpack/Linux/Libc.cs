using System.Runtime.InteropServices;

namespace Gopherpack.Linux;

/// <summary>The libc calls .NET does not expose. Linux x86_64/arm64 layouts.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";
    public const int ENAMETOOLONG = 36, ECHILD = 10, EINTR = 4, ESRCH = 3, EBADF = 9, EAGAIN = 11;
    public const int F_GETFL = 3, F_DUPFD_CLOEXEC = 1030, O_ACCMODE = 3;
    public const int O_CREAT = 0x40, O_APPEND = 0x400;
    public const short POLLOUT = 4, POLLHUP = 0x10;
    public const int ENOENT = 2, ELOOP = 40, EEXIST = 17, EACCES = 13, EADDRINUSE = 98, ERANGE = 34, ENFILE = 23, EMFILE = 24;
    public const int WNOHANG = 1;
    public const int O_CLOEXEC = 0x80000, O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_EXCL = 0x80, O_NOFOLLOW = 0x20000, O_DIRECTORY = 0x10000, O_NONBLOCK = 0x800;
    public const int F_OFD_GETLK = 36, F_OFD_SETLK = 37;
    public const short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    public const int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_REUSEPORT = 15, SO_PEERCRED = 17, SO_ACCEPTCONN = 30;
    public const int P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000;
    public const int RLIMIT_NOFILE = 7;
    public const short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;
    /// <summary>Generous sizes for glibc's opaque structs (80 and 336 bytes on x86_64).</summary>
    public const int SpawnFileActionsSize = 512, SpawnAttrSize = 1024, SigSetSize = 128;
    public const int CpuSetBytes = 512;

    [LibraryImport(Lib, SetLastError = true)] public static partial int posix_spawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_init(void* actions);
    [LibraryImport(Lib)] public static partial int isatty(int fd);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_destroy(void* actions);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newFd);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_addopen(void* actions, int fd, byte* path, int flags, int mode);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_addclosefrom_np(void* actions, int from);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_addchdir_np(void* actions, byte* path);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_init(void* attr);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_destroy(void* attr);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setflags(void* attr, short flags);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setpgroup(void* attr, int pgroup);
    [LibraryImport(Lib)] public static partial int sigemptyset(void* set);

    [LibraryImport(Lib, SetLastError = true)] public static partial int sched_setaffinity(int pid, nint size, byte* mask);
    [LibraryImport(Lib, SetLastError = true)] public static partial int sched_getaffinity(int pid, nint size, byte* mask);
    [LibraryImport(Lib, SetLastError = true)] public static partial int kill(int pid, int signal);
    [LibraryImport(Lib, SetLastError = true)] public static partial int waitpid(int pid, out int status, int options);
    [LibraryImport(Lib, SetLastError = true)] public static partial int pipe2(int* fds, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint write(int fd, byte* buffer, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial int dup3(int fd, int newFd, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int open(byte* path, int flags, int mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial byte* realpath(byte* path, byte* resolved);
    [LibraryImport(Lib)] public static partial void free(void* pointer);
    [LibraryImport(Lib, SetLastError = true)] public static partial int poll(PollFd* fds, nint count, int timeoutMs);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getsockopt(int fd, int level, int name, int* value, int* length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getrlimit(int resource, out RLimit limit);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setrlimit(int resource, in RLimit limit);
    [LibraryImport(Lib)] public static partial uint geteuid();
    [LibraryImport(Lib)] public static partial uint getegid();
    [LibraryImport(Lib, SetLastError = true)] public static partial int chown(byte* path, uint owner, uint group);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchownat(int dirFd, byte* path, uint owner, uint group, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int chmod(byte* path, uint mode);
    [LibraryImport(Lib)] public static partial int getpwnam_r(byte* name, Passwd* entry, byte* buffer, nint length, Passwd** result);
    [LibraryImport(Lib)] public static partial int getpwuid_r(uint uid, Passwd* entry, byte* buffer, nint length, Passwd** result);
    [LibraryImport(Lib)] public static partial int getgrnam_r(byte* name, Group* entry, byte* buffer, nint length, Group** result);
    [LibraryImport(Lib)] public static partial int getgrgid_r(uint gid, Group* entry, byte* buffer, nint length, Group** result);
    [LibraryImport(Lib, SetLastError = true)] public static partial int statx(int dirFd, byte* path, int flags, uint mask, byte* buffer);
    [LibraryImport(Lib, SetLastError = true)] public static partial int gettid();
    [LibraryImport(Lib, SetLastError = true)] public static partial int fcntl(int fd, int command, FileLock* lockInfo);
    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)] public static partial int fcntl_int(int fd, int command, int argument);
    [LibraryImport(Lib, SetLastError = true)] public static partial int link(byte* oldPath, byte* newPath);
    [LibraryImport(Lib, SetLastError = true)] public static partial int rename(byte* oldPath, byte* newPath);
    [LibraryImport(Lib, SetLastError = true)] public static partial int unlink(byte* path);
    [LibraryImport(Lib, SetLastError = true)] public static partial int unlinkat(int dirFd, byte* path, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int bind(int fd, byte* address, int length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int ftruncate(int fd, long length);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint pread(int fd, byte* buffer, nint count, long offset);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fsync(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint recvmsg(int fd, MsgHdr* message, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getpgid(int pid);
    [LibraryImport(Lib)] public static partial int getgrouplist(byte* user, uint group, uint* groups, int* count);
    [LibraryImport(Lib, SetLastError = true)] public static partial int waitid(int idType, int id, byte* info, int options);

    /// <summary>struct flock (the same on x86_64 and arm64); OFD locks need l_pid 0.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct FileLock { public short Type; public short Whence; public long Start; public long Length; public int Pid; private int _pad; }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd { public int Fd; public short Events; public short Revents; }

    /// <summary>struct passwd (glibc, 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Passwd { public byte* Name; public byte* Password; public uint Uid; public uint Gid; public byte* Gecos; public byte* Home; public byte* Shell; }

    /// <summary>struct group (glibc, 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Group { public byte* Name; public byte* Password; public uint Gid; public byte** Members; }

    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit { public ulong Current; public ulong Max; }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec { public byte* Base; public nint Length; }

    /// <summary>struct msghdr (64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr { public void* Name; public uint NameLength; public IoVec* Iov; public nint IovLength; public byte* Control; public nint ControlLength; public int Flags; }

    /// <summary>Whether <paramref name="fd"/> is a socket that listens (SO_ACCEPTCONN).</summary>
    public static bool IsListeningSocket(int fd)
    {
        int accepting = 0, length = sizeof(int);
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting != 0;
    }

    public static string Error(int errno) => Marshal.GetPInvokeErrorMessage(errno) + $" (errno {errno})";
}
