using System.Globalization;

namespace Gopherpack.Control;

/// <summary>RSS and CPU time of a process from /proc.</summary>
public static class ProcStats
{
    private const int ClockTicksPerSecond = 100;
    private static readonly long PageSize = Environment.SystemPageSize;

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
