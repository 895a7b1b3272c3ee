using System.Text.Json;
using Gopherpack.Metrics;

namespace Gopherpack.Tests.Metrics;

/// <summary>The OTLP push's JSON: a cumulative sum that starts again from 0 carries its own start time.</summary>
public sealed class OtlpJsonTests
{
    [Fact]
    public void A_slots_worker_cpu_sum_starts_when_its_worker_did_and_the_packs_counters_when_the_master_did()
    {
        var masterStart = new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        var workerStart = masterStart.AddMinutes(5);
        var snapshot = new MetricsSnapshot("p", 2, 1, MetricsSnapshot.States.ToDictionary(s => s, _ => 0), [(0, 4242, workerStart)], []);
        var counters = new CounterValues(new Dictionary<int, long> { [0] = 1 }, 1, 0, [.. PackCounters.ReloadBuckets.Select(_ => 1L)], 1, 0.5, 0, 0);
        var json = OtlpJson.Render(snapshot, counters, _ => (1_000_000, 0.25), _ => [], masterStart, masterStart.AddMinutes(6));

        var metrics = JsonDocument.Parse(json).RootElement.GetProperty("resourceMetrics")[0].GetProperty("scopeMetrics")[0].GetProperty("metrics")
            .EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        string StartOf(string name) => metrics[name].GetProperty("sum").GetProperty("dataPoints")[0].GetProperty("startTimeUnixNano").GetString()!;
        Assert.Equal(Nanos(workerStart), StartOf("gopherpack_worker_cpu_seconds_total"));
        Assert.Equal(Nanos(masterStart), StartOf("gopherpack_worker_restarts_total"));
        Assert.Equal(Nanos(masterStart), StartOf("gopherpack_reloads_total"));
    }

    private static string Nanos(DateTimeOffset time) => ((time.ToUnixTimeMilliseconds()) * 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
