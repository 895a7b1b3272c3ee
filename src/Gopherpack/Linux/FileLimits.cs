using System.Runtime.InteropServices;

namespace Gopherpack.Linux;

/// <summary>RLIMIT_NOFILE of the master, which workers inherit.</summary>
internal static class FileLimits
{
    /// <summary>Sets the soft limit to <paramref name="wanted"/> (or to the hard limit when null) and returns the result.</summary>
    public static ulong RaiseNofile(ulong? wanted)
    {
        if (Libc.getrlimit(Libc.RLIMIT_NOFILE, out var limit) != 0)
            throw new InvalidOperationException("getrlimit: " + Libc.Error(Marshal.GetLastPInvokeError()));
        var target = wanted ?? limit.Max;
        var next = new Libc.RLimit { Current = target, Max = Math.Max(limit.Max, target) };
        if (Libc.setrlimit(Libc.RLIMIT_NOFILE, next) != 0)
            throw new InvalidOperationException($"cannot set limits.nofile to {target} (hard limit {limit.Max}): " + Libc.Error(Marshal.GetLastPInvokeError()));
        return target;
    }
}
