using System.Runtime.InteropServices;

namespace Gopherpack.Linux;

/// <summary>Signal dispositions and masks (<see cref="InheritedSignals"/>).</summary>
internal static unsafe partial class Libc
{
    public const int SIG_UNBLOCK = 1;
    /// <summary>struct sigaction (glibc, x86_64 and arm64): handler, then a 128-byte mask, flags and restorer; generously sized.</summary>
    public const int SigActionSize = 256;
    public static readonly nint SIG_DFL = 0, SIG_IGN = 1;

    [LibraryImport(Lib, SetLastError = true)] public static partial int sigaction(int signal, void* action, void* oldAction);
    [LibraryImport(Lib)] public static partial int sigaddset(void* set, int signal);
    [LibraryImport(Lib)] public static partial int sigismember(void* set, int signal);
    [LibraryImport(Lib)] public static partial int pthread_sigmask(int how, void* set, void* oldSet);
}
