using System.Text;
using Gopherpack.Control;

namespace Gopherpack.Cli;

/// <summary>One frame of <c>gopherpack top</c>: per pack its listeners' accept queues, per worker state, CPU %, RSS, restarts and uptime.</summary>
public static class TopView
{
    public static string Frame(IReadOnlyList<PackStatus> packs, DateTimeOffset now, bool live)
    {
        var text = new StringBuilder();
        text.AppendLine($"gopherpack top  {now.ToLocalTime():HH:mm:ss}{(live ? "  (q quits)" : "")}");
        if (packs.Count == 0) text.AppendLine("no packs running");
        foreach (var pack in packs)
        {
            text.AppendLine();
            var master = pack.MasterRssBytes is { } rss ? $" ({Mib(rss)} RSS)" : "";
            text.AppendLine($"{pack.Name}: {pack.State}, generation {pack.Generation}, master pid {pack.MasterPid}{master}");
            if (pack.Listeners.Count > 0)
            {
                var listeners = new List<string[]> { new[] { "LISTENER", "ADDRESS", "QUEUE", "BACKLOG", "SLOT", "" } };
                listeners.AddRange(pack.Listeners.Select(l => new[]
                {
                    l.Name, l.Address, l.QueueLength?.ToString() ?? "-", l.QueueLimit?.ToString() ?? "-", l.QueueSlot?.ToString() ?? "-", Bar(l.QueueLength, l.QueueLimit),
                }));
                Table(text, listeners);
            }
            var rows = new List<string[]> { new[] { "SLOT", "PID", "GEN", "STATE", "CPU%", "RSS", "RESTARTS", "UPTIME" } };
            rows.AddRange(pack.Workers.Select(w => new[]
            {
                w.Slot.ToString(), w.Pid?.ToString() ?? "-", w.Generation.ToString(), w.State,
                w.CpuPercent is { } cpu ? $"{cpu:0.0}" : "-", w.RssBytes is { } bytes ? Mib(bytes) : "-", w.Restarts.ToString(),
                w.StartedAt is { } started ? Uptime(now - started) : "-",
            }));
            Table(text, rows);
        }
        return text.ToString();
    }

    public const string NotAnsweringMark = "master not answering";

    /// <summary>The last frame, its first line marked: the master has not answered the last status read.</summary>
    public static string NotAnswering(string frame, DateTimeOffset now)
    {
        var lines = frame.Split('\n').ToList();
        if (frame.Contains(NotAnsweringMark)) return frame;
        lines.Insert(lines.Count > 0 ? 1 : 0, $"{NotAnsweringMark} (since {now.ToLocalTime():HH:mm:ss}); q quits");
        return string.Join('\n', lines);
    }

    /// <summary>
    /// The frame cut to the terminal: lines to <paramref name="width"/> columns, and to <paramref name="height"/> - 1
    /// lines (the last line left free, so the terminal does not scroll). 0 leaves that dimension as it is.
    /// </summary>
    public static string Clip(string frame, int width, int height)
    {
        var lines = frame.TrimEnd('\n').Split('\n').Select(l => width > 0 && l.Length > width ? l[..width] : l);
        if (height > 1) lines = lines.Take(height - 1);
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>The queue's share of its backlog, as a bar of ten cells (a full queue refuses or drops new connections).</summary>
    private static string Bar(long? length, long? limit)
    {
        if (length is not { } n || limit is not > 0) return "";
        var cells = (int)Math.Clamp(Math.Ceiling(n * 10.0 / limit.Value), 0, 10);
        return "[" + new string('#', cells) + new string('.', 10 - cells) + "]" + (n * 2 > limit ? " over half" : "");
    }

    private static void Table(StringBuilder text, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows) text.AppendLine("  " + string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
    }

    private static string Mib(long bytes) => $"{bytes / 1048576.0:0.0}M";

    private static string Uptime(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s" : $"{Math.Max(0, span.TotalSeconds):0}s";
}
