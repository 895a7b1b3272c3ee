using System.Globalization;
using System.Text.RegularExpressions;

namespace Gopherpack.Manifest;

/// <summary>Durations as written in manifests: <c>100ms</c>, <c>30s</c>, <c>2m</c>, <c>1h</c>, <c>1m30s</c>, <c>0</c>.</summary>
internal static partial class Duration
{
    /// <summary>The longest duration a manifest may give: timers (Task.Delay, Timer) take at most about 24.8 days.</summary>
    public static readonly TimeSpan Max = TimeSpan.FromHours(24 * 24);
    public const string MaxText = "576h (24 days)";
    /// <summary>The longest delay Task.Delay accepts.</summary>
    public static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(int.MaxValue - 1);

    [GeneratedRegex(@"\G(\d+(?:\.\d+)?)(ms|s|m|h)")]
    private static partial Regex Part();

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text == "0") return true;
        if (text.Length == 0) return false;
        var position = 0;
        double totalMs = 0;
        while (position < text.Length)
        {
            var match = Part().Match(text, position);
            if (!match.Success) return false;
            var number = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            totalMs += number * match.Groups[2].Value switch { "ms" => 1, "s" => 1000, "m" => 60_000, _ => 3_600_000 };
            position += match.Length;
        }
        if (totalMs > TimeSpan.FromDays(365).TotalMilliseconds) return false;
        value = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    public static string Format(TimeSpan value) =>
        value.TotalMilliseconds < 1000 ? $"{value.TotalMilliseconds:0}ms" : $"{value.TotalSeconds:0.###}s";
}
