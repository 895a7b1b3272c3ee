using System.Globalization;

namespace Gopherpack.Metrics;

/// <summary>Receives the pack's metrics, family by family: the Prometheus text, or an OTLP push.</summary>
internal interface IMetricsSink
{
    /// <param name="type">gauge, counter or histogram (whose samples follow as NAME_bucket with le, NAME_sum, NAME_count).</param>
    void Family(string name, string type, string help);
    /// <param name="since">For a counter that starts again from 0 (a slot's worker replaced): when this one began counting.</param>
    void Sample(string name, IReadOnlyList<(string Name, string Value)> labels, double value, DateTimeOffset? since = null);
}

/// <summary>
/// The metrics a master exports, read from a <see cref="MetricsSnapshot"/>, the counters, and /proc and TCP_INFO at the
/// moment they are written. Label values are lower case, except listener names, which are the manifest's.
/// </summary>
internal static class PackMetricSet
{
    /// <param name="process">RSS bytes and CPU seconds of a pid (null when it is gone).</param>
    /// <param name="queue">A listener's accept queues and backlogs: one, or one per slot for a reuseport listener (none when unknown).</param>
    public static void Write(MetricsSnapshot snapshot, CounterValues counters,
        Func<int, (long? RssBytes, double? CpuSeconds)> process, Func<ListenerSample, IReadOnlyList<QueueReading>> queue, IMetricsSink w)
    {
        var pack = ("pack", snapshot.Pack);

        w.Family("gopherpack_build_info", "gauge", "Always 1; the label says which Gopherpack version runs the master.");
        w.Sample("gopherpack_build_info", [("version", PrometheusText.Version)], 1);

        w.Family("gopherpack_workers", "gauge", "Worker processes and empty slots by state (starting, ready, draining, backoff, failed).");
        foreach (var state in MetricsSnapshot.States) w.Sample("gopherpack_workers", [pack, ("state", state)], snapshot.Workers.GetValueOrDefault(state));

        w.Family("gopherpack_generation", "gauge", "The generation that serves (1 at start, +1 per successful reload).");
        w.Sample("gopherpack_generation", [pack], snapshot.Generation);

        w.Family("gopherpack_slots", "gauge", "Worker slots of the serving generation (the worker count).");
        w.Sample("gopherpack_slots", [pack], snapshot.Slots);

        w.Family("gopherpack_worker_restarts_total", "counter", "Replacement workers started in a slot (after a crash, failed start, watchdog kill or unasked stop).");
        var slots = Enumerable.Range(0, snapshot.Slots).Union(counters.Restarts.Keys).Order();
        foreach (var slot in slots) w.Sample("gopherpack_worker_restarts_total", [pack, Slot(slot)], counters.Restarts.GetValueOrDefault(slot));

        var samples = snapshot.Serving.Select(s => (s.Slot, s.Started, Stats: process(s.Pid))).ToList();
        w.Family("gopherpack_worker_cpu_seconds_total", "counter", "CPU time (user + system) of the slot's serving worker process; starts again from 0 when the worker is replaced.");
        foreach (var (slot, started, stats) in samples)
            if (stats.CpuSeconds is { } cpu) w.Sample("gopherpack_worker_cpu_seconds_total", [pack, Slot(slot)], cpu, since: started);
        w.Family("gopherpack_worker_resident_memory_bytes", "gauge", "Resident memory of the slot's serving worker process.");
        foreach (var (slot, _, stats) in samples)
            if (stats.RssBytes is { } rss) w.Sample("gopherpack_worker_resident_memory_bytes", [pack, Slot(slot)], rss);

        w.Family("gopherpack_reloads_total", "counter", "Reloads by outcome; failed includes a manifest refused as invalid.");
        w.Sample("gopherpack_reloads_total", [pack, ("result", "succeeded")], counters.ReloadsSucceeded);
        w.Sample("gopherpack_reloads_total", [pack, ("result", "failed")], counters.ReloadsFailed);

        w.Family("gopherpack_reload_duration_seconds", "histogram", "How long reloads that started a new generation took, succeeded or failed.");
        for (var i = 0; i < PackCounters.ReloadBuckets.Count; i++)
            w.Sample("gopherpack_reload_duration_seconds_bucket", [pack, ("le", Le(PackCounters.ReloadBuckets[i]))], counters.ReloadBuckets[i]);
        w.Sample("gopherpack_reload_duration_seconds_bucket", [pack, ("le", "+Inf")], counters.ReloadCount);
        w.Sample("gopherpack_reload_duration_seconds_sum", [pack], counters.ReloadSeconds);
        w.Sample("gopherpack_reload_duration_seconds_count", [pack], counters.ReloadCount);

        w.Family("gopherpack_upgrades_total", "counter", "Upgrades of the master by outcome: succeeded is counted by the new master, failed by the old one that serves on.");
        w.Sample("gopherpack_upgrades_total", [pack, ("result", "succeeded")], counters.UpgradesSucceeded);
        w.Sample("gopherpack_upgrades_total", [pack, ("result", "failed")], counters.UpgradesFailed);

        // A reuseport listener has one accept queue per slot: each gets its own series (label slot), since a sum
        // would hide one stopped worker's full queue among the others' empty ones.
        var queues = snapshot.Listeners.SelectMany(l => queue(l).Select(q => (Labels: q.Slot is { } s ? new[] { pack, ("listener", l.Name), Slot(s) } : [pack, ("listener", l.Name)], q))).ToList();
        w.Family("gopherpack_listener_queue_length", "gauge", "Connections waiting in the listener's accept queue (TCP_INFO tcpi_unacked); per slot (label slot) for a reuseport listener.");
        foreach (var (labels, q) in queues) w.Sample("gopherpack_listener_queue_length", labels, q.Length);
        w.Family("gopherpack_listener_queue_limit", "gauge", "The listener's accept queue limit, its backlog (TCP_INFO tcpi_sacked); per slot (label slot) for a reuseport listener.");
        foreach (var (labels, q) in queues) w.Sample("gopherpack_listener_queue_limit", labels, q.Limit);

        var master = process(Environment.ProcessId);
        w.Family("gopherpack_master_resident_memory_bytes", "gauge", "Resident memory of the master process.");
        if (master.RssBytes is { } masterRss) w.Sample("gopherpack_master_resident_memory_bytes", [pack], masterRss);
        w.Family("gopherpack_master_cpu_seconds_total", "counter", "CPU time (user + system) of the master process.");
        if (master.CpuSeconds is { } masterCpu) w.Sample("gopherpack_master_cpu_seconds_total", [pack], masterCpu);
    }

    private static (string, string) Slot(int slot) => ("slot", slot.ToString(CultureInfo.InvariantCulture));

    /// <summary>A histogram bound as Prometheus writes it in <c>le</c>.</summary>
    public static string Le(double bound) => double.IsPositiveInfinity(bound) ? "+Inf" : bound.ToString("R", CultureInfo.InvariantCulture);
}
