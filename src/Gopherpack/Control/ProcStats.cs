using System.Globalization;

namespace Gopherpack.Control;

/// <summary>RSS and CPU time of a process from /proc.</summary>
internal static class ProcStats
{
    private const int ClockTicksPerSecond = 100;
    private static readonly long PageSize = Environment.SystemPageSize;

    /// <summary>The user a process runs as (its effective uid, by name when the user database has one), or null if it is gone.</summary>
    public static string? User(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("Uid:", StringComparison.Ordinal)) continue;
                var uid = uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
                return UserNames.GetOrAdd(uid, u => Linux.UnixAccounts.User(u)?.Name ?? u.ToString(CultureInfo.InvariantCulture));
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<uint, string> UserNames = new();

    public static (long? RssBytes, double? CpuSeconds) Read(int pid)
    {
        try
        {
            var statm = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (long.Parse(statm[1], CultureInfo.InvariantCulture) * PageSize, ticks / (double)ClockTicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (null, null);
        }
    }
}
