using System.Globalization;
using System.Reflection;
using System.Text;

namespace Gopherpack.Metrics;

/// <summary>
/// Renders the pack's metrics in the Prometheus text format 0.0.4, or in OpenMetrics 1.0 (counter families named
/// without <c>_total</c>, <c># EOF</c> at the end). Label values are lower case, except listener names, which are the manifest's.
/// </summary>
internal static class PrometheusText
{
    public const string TextContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// <summary>Every metric name this master exports (families; histograms add _bucket, _sum and _count).</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "gopherpack_build_info", "gopherpack_workers", "gopherpack_generation", "gopherpack_slots",
        "gopherpack_worker_restarts_total", "gopherpack_worker_cpu_seconds_total", "gopherpack_worker_resident_memory_bytes",
        "gopherpack_reloads_total", "gopherpack_reload_duration_seconds", "gopherpack_upgrades_total",
        "gopherpack_listener_queue_length", "gopherpack_listener_queue_limit",
        "gopherpack_master_resident_memory_bytes", "gopherpack_master_cpu_seconds_total",
    ];

    public static string Version { get; } =
        (typeof(PrometheusText).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown").ToLowerInvariant();

    /// <summary>
    /// Whether an Accept header prefers OpenMetrics: its media ranges are parsed with their q-values, and OpenMetrics is
    /// chosen only when application/openmetrics-text has q above 0 and no lower q than text/plain (or a wildcard) gets.
    /// </summary>
    public static bool WantsOpenMetrics(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept)) return false;
        double openMetrics = 0, text = 0;
        foreach (var range in accept.Split(','))
        {
            var parts = range.Split(';');
            var type = parts[0].Trim().ToLowerInvariant();
            var q = 1.0;
            foreach (var parameter in parts.Skip(1))
            {
                var pair = parameter.Split('=', 2);
                if (pair.Length == 2 && pair[0].Trim().Equals("q", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(pair[1].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) q = Math.Clamp(value, 0, 1);
            }
            if (type == "application/openmetrics-text") openMetrics = Math.Max(openMetrics, q);
            else if (type is "text/plain" or "text/*" or "*/*") text = Math.Max(text, q);
        }
        return openMetrics > 0 && openMetrics >= text;
    }

    /// <param name="process">RSS bytes and CPU seconds of a pid (null when it is gone).</param>
    /// <param name="queue">A listener's accept queues and backlogs: one, or one per slot for a reuseport listener (none when unknown).</param>
    public static string Render(MetricsSnapshot snapshot, CounterValues counters, bool openMetrics,
        Func<int, (long? RssBytes, double? CpuSeconds)> process, Func<ListenerSample, IReadOnlyList<QueueReading>> queue)
    {
        var w = new Writer(openMetrics);
        PackMetricSet.Write(snapshot, counters, process, queue, w);
        return w.Finish();
    }

    private static string Label(string name, string value) =>
        $"{name}=\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"";

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private sealed class Writer(bool openMetrics) : IMetricsSink
    {
        private readonly StringBuilder _text = new(4096);

        public void Family(string name, string type, string help)
        {
            // OpenMetrics names a counter family without its samples' _total suffix.
            var family = openMetrics && type == "counter" && name.EndsWith("_total", StringComparison.Ordinal) ? name[..^"_total".Length] : name;
            _text.Append("# HELP ").Append(family).Append(' ').Append(help).Append('\n');
            _text.Append("# TYPE ").Append(family).Append(' ').Append(type).Append('\n');
        }

        /// <param name="since">Not written: Prometheus sees a counter that starts again from 0 as a reset by itself.</param>
        public void Sample(string name, IReadOnlyList<(string Name, string Value)> labels, double value, DateTimeOffset? since = null)
        {
            _text.Append(name).Append('{');
            for (var i = 0; i < labels.Count; i++) _text.Append(i == 0 ? "" : ",").Append(Label(labels[i].Name, labels[i].Value));
            _text.Append("} ").Append(Number(value)).Append('\n');
        }

        public string Finish()
        {
            if (openMetrics) _text.Append("# EOF\n");
            return _text.ToString();
        }
    }
}
