using System.Globalization;

namespace Gopherpack.Linux;

/// <summary>The CPUs a pack may use: the master's affinity mask, capped by the cgroup v2 CPU quota.</summary>
internal static class CpuTopology
{
    public static IReadOnlyList<int> AllowedCpus() => CpuAffinity.OfCurrentThread();

    /// <summary>ceil(quota / period) from cgroup v2 <c>cpu.max</c>, or null when unlimited or unknown.</summary>
    public static int? CgroupCpuLimit()
    {
        try
        {
            var cgroup = File.ReadAllLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal));
            if (cgroup is null) return null;
            var file = Path.Combine("/sys/fs/cgroup", cgroup[3..].TrimStart('/'), "cpu.max");
            if (!File.Exists(file)) file = "/sys/fs/cgroup/cpu.max";
            return File.Exists(file) ? ParseCpuMax(File.ReadAllText(file)) : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    public static int? ParseCpuMax(string text)
    {
        var parts = text.Trim().Split(' ');
        if (parts.Length != 2 || parts[0] == "max") return null;
        if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var quota)
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var period) || period == 0) return null;
        return (int)Math.Max(1, (quota + period - 1) / period);
    }
}
