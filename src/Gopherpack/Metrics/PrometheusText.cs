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
        var pack = Label("pack", snapshot.Pack);

        w.Family("gopherpack_build_info", "gauge", "Always 1; the label says which Gopherpack version runs the master.");
        w.Sample("gopherpack_build_info", Label("version", Version), 1);

        w.Family("gopherpack_workers", "gauge", "Worker processes and empty slots by state (starting, ready, draining, backoff, failed).");
        foreach (var state in MetricsSnapshot.States) w.Sample("gopherpack_workers", pack + "," + Label("state", state), snapshot.Workers.GetValueOrDefault(state));

        w.Family("gopherpack_generation", "gauge", "The generation that serves (1 at start, +1 per successful reload).");
        w.Sample("gopherpack_generation", pack, snapshot.Generation);

        w.Family("gopherpack_slots", "gauge", "Worker slots of the serving generation (the worker count).");
        w.Sample("gopherpack_slots", pack, snapshot.Slots);

        w.Family("gopherpack_worker_restarts_total", "counter", "Replacement workers started in a slot (after a crash, failed start, watchdog kill or unasked stop).");
        var slots = Enumerable.Range(0, snapshot.Slots).Union(counters.Restarts.Keys).Order();
        foreach (var slot in slots) w.Sample("gopherpack_worker_restarts_total", pack + "," + Slot(slot), counters.Restarts.GetValueOrDefault(slot));

        var samples = snapshot.Serving.Select(s => (s.Slot, Stats: process(s.Pid))).ToList();
        w.Family("gopherpack_worker_cpu_seconds_total", "counter", "CPU time (user + system) of the slot's serving worker process; starts again from 0 when the worker is replaced.");
        foreach (var (slot, stats) in samples)
            if (stats.CpuSeconds is { } cpu) w.Sample("gopherpack_worker_cpu_seconds_total", pack + "," + Slot(slot), cpu);
        w.Family("gopherpack_worker_resident_memory_bytes", "gauge", "Resident memory of the slot's serving worker process.");
        foreach (var (slot, stats) in samples)
            if (stats.RssBytes is { } rss) w.Sample("gopherpack_worker_resident_memory_bytes", pack + "," + Slot(slot), rss);

        w.Family("gopherpack_reloads_total", "counter", "Reloads by outcome; failed includes a manifest refused as invalid.");
        w.Sample("gopherpack_reloads_total", pack + "," + Label("result", "succeeded"), counters.ReloadsSucceeded);
        w.Sample("gopherpack_reloads_total", pack + "," + Label("result", "failed"), counters.ReloadsFailed);

        w.Family("gopherpack_reload_duration_seconds", "histogram", "How long reloads that started a new generation took, succeeded or failed.");
        for (var i = 0; i < PackCounters.ReloadBuckets.Count; i++)
            w.Sample("gopherpack_reload_duration_seconds_bucket", pack + "," + Label("le", Number(PackCounters.ReloadBuckets[i])), counters.ReloadBuckets[i]);
        w.Sample("gopherpack_reload_duration_seconds_bucket", pack + "," + Label("le", "+Inf"), counters.ReloadCount);
        w.Sample("gopherpack_reload_duration_seconds_sum", pack, counters.ReloadSeconds);
        w.Sample("gopherpack_reload_duration_seconds_count", pack, counters.ReloadCount);

        w.Family("gopherpack_upgrades_total", "counter", "Upgrades of the master by outcome: succeeded is counted by the new master, failed by the old one that serves on.");
        w.Sample("gopherpack_upgrades_total", pack + "," + Label("result", "succeeded"), counters.UpgradesSucceeded);
        w.Sample("gopherpack_upgrades_total", pack + "," + Label("result", "failed"), counters.UpgradesFailed);

        // A reuseport listener has one accept queue per slot: each gets its own series (label slot), since a sum
        // would hide one stopped worker's full queue among the others' empty ones.
        var queues = snapshot.Listeners.SelectMany(l => queue(l).Select(q => (Labels: pack + "," + Label("listener", l.Name) + (q.Slot is { } s ? "," + Slot(s) : ""), q))).ToList();
        w.Family("gopherpack_listener_queue_length", "gauge", "Connections waiting in the listener's accept queue (TCP_INFO tcpi_unacked); per slot (label slot) for a reuseport listener.");
        foreach (var (labels, q) in queues) w.Sample("gopherpack_listener_queue_length", labels, q.Length);
        w.Family("gopherpack_listener_queue_limit", "gauge", "The listener's accept queue limit, its backlog (TCP_INFO tcpi_sacked); per slot (label slot) for a reuseport listener.");
        foreach (var (labels, q) in queues) w.Sample("gopherpack_listener_queue_limit", labels, q.Limit);

        var master = process(Environment.ProcessId);
        w.Family("gopherpack_master_resident_memory_bytes", "gauge", "Resident memory of the master process.");
        if (master.RssBytes is { } masterRss) w.Sample("gopherpack_master_resident_memory_bytes", pack, masterRss);
        w.Family("gopherpack_master_cpu_seconds_total", "counter", "CPU time (user + system) of the master process.");
        if (master.CpuSeconds is { } masterCpu) w.Sample("gopherpack_master_cpu_seconds_total", pack, masterCpu);
        return w.Finish();
    }

    private static string Slot(int slot) => Label("slot", slot.ToString(CultureInfo.InvariantCulture));

    private static string Label(string name, string value) =>
        $"{name}=\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"";

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private sealed class Writer(bool openMetrics)
    {
        private readonly StringBuilder _text = new(4096);

        public void Family(string name, string type, string help)
        {
            // OpenMetrics names a counter family without its samples' _total suffix.
            var family = openMetrics && type == "counter" && name.EndsWith("_total", StringComparison.Ordinal) ? name[..^"_total".Length] : name;
            _text.Append("# HELP ").Append(family).Append(' ').Append(help).Append('\n');
            _text.Append("# TYPE ").Append(family).Append(' ').Append(type).Append('\n');
        }

        public void Sample(string name, string labels, double value) =>
            _text.Append(name).Append('{').Append(labels).Append("} ").Append(Number(value)).Append('\n');

        public string Finish()
        {
            if (openMetrics) _text.Append("# EOF\n");
            return _text.ToString();
        }
    }
}
