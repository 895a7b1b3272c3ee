using System.Globalization;
using System.Text.Json;

namespace Gopherpack.Metrics;

/// <summary>
/// The pack's metrics as an OTLP <c>ExportMetricsServiceRequest</c> in the protobuf JSON encoding (OTLP/HTTP with
/// <c>Content-Type: application/json</c>): the same names and labels (as attributes) as the Prometheus text; gauges
/// as gauges, counters as cumulative monotonic sums, the reload histogram as a cumulative explicit-bucket histogram.
/// </summary>
internal sealed class OtlpJson : IMetricsSink
{
    private readonly List<Family> _families = [];

    private sealed class Family(string name, string type, string help)
    {
        public string Name { get; } = name;
        public string Type { get; } = type;
        public string Help { get; } = help;
        /// <summary>Since: a point's own start, where its counter starts again from 0 (else the master's start).</summary>
        public List<(IReadOnlyList<(string Name, string Value)> Labels, double Value, DateTimeOffset? Since)> Points { get; } = [];
        /// <summary>Histogram points by their labels (without le).</summary>
        public Dictionary<string, Histogram> Histograms { get; } = [];
    }

    private sealed class Histogram(IReadOnlyList<(string Name, string Value)> labels)
    {
        public IReadOnlyList<(string Name, string Value)> Labels { get; } = labels;
        /// <summary>Cumulative counts by upper bound, as Prometheus gives them (+Inf last).</summary>
        public List<(double Bound, double Count)> Buckets { get; } = [];
        public double Sum { get; set; }
        public double Count { get; set; }
    }

    void IMetricsSink.Family(string name, string type, string help) => _families.Add(new Family(name, type, help));

    void IMetricsSink.Sample(string name, IReadOnlyList<(string Name, string Value)> labels, double value, DateTimeOffset? since)
    {
        var family = _families[^1];
        if (family.Type != "histogram")
        {
            family.Points.Add((labels, value, since));
            return;
        }
        var own = labels.Where(l => l.Name != "le").ToList();
        var key = string.Join('\n', own.Select(l => l.Name + "=" + l.Value));
        if (!family.Histograms.TryGetValue(key, out var histogram)) family.Histograms[key] = histogram = new Histogram(own);
        if (name.EndsWith("_bucket", StringComparison.Ordinal))
        {
            var le = labels.First(l => l.Name == "le").Value;
            histogram.Buckets.Add((le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture), value));
        }
        else if (name.EndsWith("_sum", StringComparison.Ordinal)) histogram.Sum = value;
        else if (name.EndsWith("_count", StringComparison.Ordinal)) histogram.Count = value;
    }

    /// <param name="start">When the master started: the start of its cumulative sums.</param>
    public static byte[] Render(MetricsSnapshot snapshot, CounterValues counters,
        Func<int, (long? RssBytes, double? CpuSeconds)> process, Func<ListenerSample, IReadOnlyList<QueueReading>> queue,
        DateTimeOffset start, DateTimeOffset now)
    {
        var sink = new OtlpJson();
        PackMetricSet.Write(snapshot, counters, process, queue, sink);
        return sink.ToJson(snapshot.Pack, start, now);
    }

    private byte[] ToJson(string pack, DateTimeOffset start, DateTimeOffset now)
    {
        var startNanos = Nanos(start);
        var nowNanos = Nanos(now);
        using var buffer = new MemoryStream(8192);
        using (var j = new Utf8JsonWriter(buffer))
        {
            j.WriteStartObject();
            j.WriteStartArray("resourceMetrics");
            j.WriteStartObject();
            j.WriteStartObject("resource");
            Attributes(j, [("service.name", "gopherpack"), ("service.version", PrometheusText.Version),
                ("service.instance.id", $"{Environment.MachineName}/{pack}/{Environment.ProcessId}"), ("gopherpack.pack", pack)]);
            j.WriteEndObject();
            j.WriteStartArray("scopeMetrics");
            j.WriteStartObject();
            j.WriteStartObject("scope");
            j.WriteString("name", "gopherpack");
            j.WriteString("version", PrometheusText.Version);
            j.WriteEndObject();
            j.WriteStartArray("metrics");
            foreach (var family in _families.Where(f => f.Points.Count > 0 || f.Histograms.Count > 0))
            {
                j.WriteStartObject();
                j.WriteString("name", family.Name);
                j.WriteString("description", family.Help);
                switch (family.Type)
                {
                    case "counter":
                        j.WriteStartObject("sum");
                        j.WriteNumber("aggregationTemporality", 2); // cumulative
                        j.WriteBoolean("isMonotonic", true);
                        Points(j, family, startNanos, nowNanos);
                        j.WriteEndObject();
                        break;
                    case "histogram":
                        j.WriteStartObject("histogram");
                        j.WriteNumber("aggregationTemporality", 2);
                        j.WriteStartArray("dataPoints");
                        foreach (var h in family.Histograms.Values) HistogramPoint(j, h, startNanos, nowNanos);
                        j.WriteEndArray();
                        j.WriteEndObject();
                        break;
                    default:
                        j.WriteStartObject("gauge");
                        Points(j, family, null, nowNanos);
                        j.WriteEndObject();
                        break;
                }
                j.WriteEndObject();
            }
            j.WriteEndArray();
            j.WriteEndObject();
            j.WriteEndArray();
            j.WriteEndObject();
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void Points(Utf8JsonWriter j, Family family, string? startNanos, string nowNanos)
    {
        j.WriteStartArray("dataPoints");
        foreach (var (labels, value, since) in family.Points)
        {
            j.WriteStartObject();
            Attributes(j, labels);
            // A cumulative sum that starts again from 0 must say so with a new start time, or a delta consumer sees it go back.
            if (startNanos is not null) j.WriteString("startTimeUnixNano", since is { } own ? Nanos(own) : startNanos);
            j.WriteString("timeUnixNano", nowNanos);
            j.WriteNumber("asDouble", value);
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    private static void HistogramPoint(Utf8JsonWriter j, Histogram h, string startNanos, string nowNanos)
    {
        j.WriteStartObject();
        Attributes(j, h.Labels);
        j.WriteString("startTimeUnixNano", startNanos);
        j.WriteString("timeUnixNano", nowNanos);
        j.WriteString("count", ((ulong)h.Count).ToString(CultureInfo.InvariantCulture));
        j.WriteNumber("sum", h.Sum);
        // OTLP counts per bucket, Prometheus cumulatively; the last bucket (+Inf) has no bound.
        var ordered = h.Buckets.OrderBy(b => b.Bound).ToList();
        j.WriteStartArray("bucketCounts");
        var previous = 0.0;
        foreach (var (_, count) in ordered)
        {
            j.WriteStringValue(((ulong)Math.Max(0, count - previous)).ToString(CultureInfo.InvariantCulture));
            previous = count;
        }
        j.WriteEndArray();
        j.WriteStartArray("explicitBounds");
        foreach (var (bound, _) in ordered.Where(b => !double.IsPositiveInfinity(b.Bound))) j.WriteNumberValue(bound);
        j.WriteEndArray();
        j.WriteEndObject();
    }

    private static void Attributes(Utf8JsonWriter j, IEnumerable<(string Name, string Value)> attributes)
    {
        j.WriteStartArray("attributes");
        foreach (var (name, value) in attributes)
        {
            j.WriteStartObject();
            j.WriteString("key", name);
            j.WriteStartObject("value");
            j.WriteString("stringValue", value);
            j.WriteEndObject();
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    private static string Nanos(DateTimeOffset time) =>
        ((ulong)(time.ToUnixTimeMilliseconds() * 1_000_000L)).ToString(CultureInfo.InvariantCulture);
}
