using System.Runtime.InteropServices;

namespace Gopherpack.Linux;

/// <summary>The libc calls of the master's service side: upgrade hand-over, sd_notify, orphan reaping.</summary>
internal static unsafe partial class Libc
{
    public const int CLOCK_MONOTONIC = 1;
    public const int PR_SET_CHILD_SUBREAPER = 36;

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int rename(string from, string to);
    [LibraryImport(Lib, SetLastError = true)] public static partial int clock_gettime(int clock, out TimeSpec time);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fcntl(int fd, int command, int argument);
    /// <summary>prctl is variadic; its integer arguments travel in the same registers as fixed ones on x86_64 and arm64 Linux.</summary>
    [LibraryImport(Lib, SetLastError = true)] public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>CLOCK_MONOTONIC in microseconds, the clock of sd_notify's MONOTONIC_USEC.</summary>
    public static long MonotonicMicroseconds()
    {
        clock_gettime(CLOCK_MONOTONIC, out var now);
        return now.Seconds * 1_000_000 + now.Nanoseconds / 1000;
    }
}
