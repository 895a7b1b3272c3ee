namespace Gopherpack.Linux;

/// <summary>sched_getaffinity/sched_setaffinity for the calling thread (pid 0).</summary>
internal static unsafe class CpuAffinity
{
    public static IReadOnlyList<int> OfCurrentThread()
    {
        var mask = stackalloc byte[Libc.CpuSetBytes];
        if (Libc.sched_getaffinity(0, Libc.CpuSetBytes, mask) != 0)
            throw new InvalidOperationException("sched_getaffinity: " + Libc.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()));
        var cpus = new List<int>();
        for (var cpu = 0; cpu < Libc.CpuSetBytes * 8; cpu++)
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0) cpus.Add(cpu);
        return cpus;
    }

    public static void SetCurrentThread(IEnumerable<int> cpus)
    {
        var mask = stackalloc byte[Libc.CpuSetBytes];
        new Span<byte>(mask, Libc.CpuSetBytes).Clear();
        foreach (var cpu in cpus) mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        if (Libc.sched_setaffinity(0, Libc.CpuSetBytes, mask) != 0)
            throw new InvalidOperationException($"cannot pin to CPUs {string.Join(",", cpus)}: " + Libc.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()));
    }
}
