namespace Gopherpack.Metrics;

/// <summary>
/// The pack's metrics as scrapes see them: the latest <see cref="MetricsSnapshot"/> the event loop published,
/// the counters, and /proc and TCP_INFO read at scrape time. Safe to use from any thread.
/// </summary>
internal sealed class PackMetrics(PackCounters counters)
{
    private volatile MetricsSnapshot? _snapshot;

    public PackCounters Counters { get; } = counters;

    /// <summary>Called by the event loop after each batch of events.</summary>
    public void Publish(MetricsSnapshot snapshot) => _snapshot = snapshot;

    public string Render(bool openMetrics) => _snapshot is { } snapshot
        ? PrometheusText.Render(snapshot, Counters.Read(), openMetrics, Control.ProcStats.Read, l => ListenerQueue.ReadEach(l.Sockets, l.PerSlot))
        : openMetrics ? "# EOF\n" : "";

    /// <summary>The same metrics as an OTLP/HTTP JSON request body; null before the loop has published anything.</summary>
    /// <param name="start">The start of the cumulative sums (the master's start).</param>
    public byte[]? RenderOtlp(DateTimeOffset start) => _snapshot is { } snapshot
        ? OtlpJson.Render(snapshot, Counters.Read(), Control.ProcStats.Read, l => ListenerQueue.ReadEach(l.Sockets, l.PerSlot), start, DateTimeOffset.UtcNow)
        : null;
}
