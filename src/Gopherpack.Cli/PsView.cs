using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gopherpack.Control;

namespace Gopherpack.Cli;

/// <summary>How <c>gopherpack ps</c> shows packs: a table for people, JSON for scripts.</summary>
public static class PsView
{
    public static string Json(IReadOnlyList<PackStatus> packs) => JsonSerializer.Serialize(packs, PsJson.Default.IReadOnlyListPackStatus) + Environment.NewLine;

    public static string Table(IReadOnlyList<PackStatus> packs)
    {
        var text = new StringBuilder();
        if (packs.Count == 0) return "no packs running" + Environment.NewLine;
        foreach (var pack in packs)
        {
            text.AppendLine(string.Join(", ", [$"{pack.Name}: {pack.State}", $"master pid {pack.MasterPid}", $"generation {pack.Generation}",
                .. pack.Listeners.Select(l => $"{l.Name} {l.Address} ({l.Mode})")]));
            if (pack.LastReload is { } reload)
                text.AppendLine(reload.Ok
                    ? $"  last reload: ok, generation {reload.Generation} serves ({reload.Strategy}, {reload.DurationMs:0} ms)"
                    : $"  last reload: FAILED, generation {reload.Generation} still serves: {reload.Error}");
            var rows = new List<string[]> { new[] { "SLOT", "PID", "USER", "CPU", "GEN", "STATE", "UPTIME", "RESTARTS", "RSS", "CPU-TIME", "LAST-EXIT" } };
            rows.AddRange(pack.Workers.Select(w => new[]
            {
                w.Slot.ToString(), w.Pid?.ToString() ?? "-", w.User ?? "-", w.Cpu?.ToString() ?? "-", w.Generation.ToString(), w.State,
                w.StartedAt is { } started ? Uptime(DateTimeOffset.UtcNow - started) : "-", w.Restarts.ToString(),
                w.RssBytes is { } rss ? $"{rss / 1048576.0:0.0}M" : "-", w.CpuSeconds is { } cpu ? $"{cpu:0.00}s" : "-", w.LastExit ?? "-",
            }));
            var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
            foreach (var row in rows) text.AppendLine("  " + string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
            foreach (var down in pack.Workers.Where(w => w.Pid is null && w.FailureReason is not null))
                text.AppendLine($"  slot {down.Slot} {down.State.ToLowerInvariant()}: {down.FailureReason}");
        }
        return text.ToString();
    }

    private static string Uptime(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s" : $"{span.TotalSeconds:0}s";
}

/// <summary>The control protocol's JSON, indented for <c>ps --json</c>, with every key, null or not: scripts may rely on the schema.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<PackStatus>))]
internal sealed partial class PsJson : JsonSerializerContext;
