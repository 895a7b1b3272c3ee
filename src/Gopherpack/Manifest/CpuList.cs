using System.Globalization;

namespace Gopherpack.Manifest;

/// <summary>CPU numbers and ranges as in <c>[0, 2, "4-7"]</c> and in /proc's <c>Cpus_allowed_list</c> (<c>0-3,8</c>).</summary>
internal static class CpuList
{
    public const int MaxCpu = 4095;

    public static bool TryParseEntry(string text, out IReadOnlyList<int> cpus)
    {
        cpus = [];
        var dash = text.IndexOf('-');
        if (dash < 0)
        {
            if (!TryCpu(text, out var single)) return false;
            cpus = [single];
            return true;
        }
        if (!TryCpu(text[..dash], out var first) || !TryCpu(text[(dash + 1)..], out var last) || last < first) return false;
        cpus = Enumerable.Range(first, last - first + 1).ToList();
        return true;
    }

    /// <summary>Parses the kernel's list format, e.g. <c>0-3,8</c>.</summary>
    public static IReadOnlyList<int> ParseKernelList(string text)
    {
        var cpus = new List<int>();
        foreach (var part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
            if (TryParseEntry(part, out var entry)) cpus.AddRange(entry);
            else throw new FormatException($"'{part}' is not a CPU list entry");
        return cpus;
    }

    private static bool TryCpu(string text, out int cpu) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out cpu) && cpu <= MaxCpu;
}
