using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master;
using Gopherpack.Metrics;
using Gopherpack.Tests.Supervision;

namespace Gopherpack.Tests.Observability;

/// <summary>The supervisor's counters, fed by its events; the text they render to; the JSON log line.</summary>
public sealed class CountersTests
{
    private readonly RecordingHost _host = new();

    private Supervisor Running(int workers = 2)
    {
        var manifest = new PackManifest
        {
            Name = "unit", ManifestPath = "/app.yml", Command = "/bin/true", WorkingDirectory = "/",
            Restart = new RestartSpec { BackoffInitial = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1), LimitRestarts = 3, LimitWindow = TimeSpan.FromSeconds(60) },
        };
        var supervisor = new Supervisor(manifest, Enumerable.Range(0, workers).Select(i => (int?)i).ToList(), _host);
        supervisor.Handle(new StartRequested());
        Ready(supervisor);
        return supervisor;
    }

    private static void Ready(Supervisor supervisor)
    {
        foreach (var worker in supervisor.Workers.Where(w => w.State == WorkerState.Starting).ToList()) supervisor.Handle(new WorkerNotified(worker.Id, "READY=1"));
    }

    [Fact]
    public void A_crashed_worker_counts_one_restart_in_its_slot_when_its_replacement_starts()
    {
        var supervisor = Running();
        supervisor.Handle(new WorkerExited(supervisor.Slots[1].Worker!.Pid, ExitStatus.Killed(9)));
        Assert.Empty(supervisor.Counters.Read().Restarts);
        var (_, due) = Assert.Single(_host.TakeTimers<RestartDue>());
        supervisor.Handle(due);
        Assert.Equal(new Dictionary<int, long> { [1] = 1 }, supervisor.Counters.Read().Restarts);
    }

    [Fact]
    public void Reloads_are_counted_by_outcome_and_their_durations_observed()
    {
        var supervisor = Running();
        var manifest = supervisor.Manifest;
        supervisor.Handle(new ReloadRequested(manifest, [0, 1], ReloadStrategy.Surge, _ => { }));
        _host.Now += TimeSpan.FromMilliseconds(700);
        Ready(supervisor);
        supervisor.Handle(new ReloadRejected(new Gopherpack.Master.ReloadOutcome(false, 0, ReloadStrategy.Surge, TimeSpan.Zero, "invalid"), "invalid manifest"));
        var counters = supervisor.Counters.Read();
        Assert.Equal((1, 1), (counters.ReloadsSucceeded, counters.ReloadsFailed));
        Assert.Equal(1, counters.ReloadCount);
        Assert.Equal(0.7, counters.ReloadSeconds, 3);
        // Cumulative buckets: 0.7 s is above 0.5 and within 1.
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 1, 1, 1], counters.ReloadBuckets);
    }

    [Fact]
    public void The_text_has_every_family_with_lower_case_states_and_counters_named_for_each_format()
    {
        var supervisor = Running();
        supervisor.Handle(new WorkerExited(supervisor.Slots[0].Worker!.Pid, ExitStatus.Killed(9)));
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(77);
        using var none = ListenerSet.Bind([], 2);
        var snapshot = MetricsSnapshot.Of(supervisor, none) with { Listeners = [new ListenerSample("http", [listener], false)] };
        var text = PrometheusText.Render(snapshot, supervisor.Counters.Read(), false, _ => (1024, 1.5), l => ListenerQueue.ReadEach(l.Sockets, l.PerSlot));
        foreach (var name in PrometheusText.Names) Assert.Contains($"# TYPE {name} ", text);
        Assert.Contains("gopherpack_workers{pack=\"unit\",state=\"backoff\"} 1", text);
        Assert.Contains("gopherpack_workers{pack=\"unit\",state=\"ready\"} 1", text);
        Assert.Contains("gopherpack_listener_queue_limit{pack=\"unit\",listener=\"http\"} 77", text);
        Assert.Contains("gopherpack_listener_queue_length{pack=\"unit\",listener=\"http\"} 0", text);
        Assert.DoesNotContain("# EOF", text);

        var open = PrometheusText.Render(snapshot, supervisor.Counters.Read(), true, _ => (1024, 1.5), _ => []);
        Assert.Contains("# TYPE gopherpack_reloads counter", open);
        Assert.Contains("gopherpack_reloads_total{pack=\"unit\",result=\"failed\"} 0", open);
        Assert.EndsWith("# EOF\n", open);
    }

    [Fact]
    public void A_json_log_line_is_one_object_with_the_documented_fields()
    {
        var line = JsonMasterLog.Line(new DateTime(2026, 11, 21, 18, 55, 46, 123, DateTimeKind.Utc), LogLevel.Warn, "hello", "ready", "worker \"a\"\nready", 2, 42);
        Assert.DoesNotContain('\n', line);
        var json = JsonDocument.Parse(line).RootElement;
        Assert.Equal("2026-11-21T18:55:46.123Z", json.GetProperty("time").GetString());
        Assert.Equal("warn", json.GetProperty("level").GetString());
        Assert.Equal("hello", json.GetProperty("pack").GetString());
        Assert.Equal(2, json.GetProperty("slot").GetInt32());
        Assert.Equal(42, json.GetProperty("pid").GetInt32());
        Assert.Equal("ready", json.GetProperty("event").GetString());
        Assert.Equal("worker \"a\"\nready", json.GetProperty("message").GetString());
        Assert.False(JsonDocument.Parse(JsonMasterLog.Line(DateTime.UtcNow, LogLevel.Info, "hello", "start", "m", null, null)).RootElement.TryGetProperty("slot", out _));
    }
}

/// <summary>PowerShell users get top's numbers on Pack and PackWorker.</summary>
public sealed class PackObjectsTests
{
    [Fact]
    public void Pack_and_PackWorker_carry_the_accept_queues_and_cpu_percent()
    {
        var status = new Control.PackStatus("hello", 10, "/app.yml", "Running", 1,
            [new Control.ListenerStatus("http", "tcp://127.0.0.1:1", "shared", 20, 128)], null,
            [new Control.WorkerStatus(0, 11, 0, 1, "Ready", DateTimeOffset.UtcNow, 0, null, 1 << 20, 1.5, CpuPercent: 12.5)]);
        var pack = Model.Pack.From(status, "/rt");
        var queue = Assert.Single(pack.AcceptQueues);
        Assert.Equal(("http", 20L, 128L), (queue.Name, queue.QueueLength!.Value, queue.QueueLimit!.Value));
        Assert.Equal(12.5, Assert.Single(Model.PackWorker.From(status, "/rt", DateTimeOffset.UtcNow)).CpuPercent);
    }
}
