using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// metrics.otlp: the master pushes its metrics with OTLP/HTTP (JSON) to a real receiver on loopback, which decodes
/// each request; a killed worker's restart arrives with the pack's label. A receiver that is down is logged, and
/// pushes reach it once it is back.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class OtlpMetricsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Workers_and_a_killed_workers_restart_arrive_at_an_otlp_receiver_with_the_pack_label()
    {
        await using var receiver = new OtlpReceiver();
        await using var pack = await PackProcess.StartAsync($$"""
            name: otlp-push
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", backlog: 64 }]
            restart: { backoff: { initial: 100ms } }
            stop: { timeout: 5s }
            metrics: { otlp: { endpoint: "http://127.0.0.1:{{receiver.Port}}", interval: 1s } }
            """);

        var ready = await receiver.WaitFor(m => Value(m, "gopherpack_workers", "gauge", ("pack", "otlp-push"), ("state", "ready")) == 2, Wait, "2 ready workers pushed");
        Assert.Equal("/v1/metrics", ready.Path);
        Assert.Equal("application/json", ready.ContentType);
        Assert.Equal(0, Value(ready.Body, "gopherpack_worker_restarts_total", "sum", ("pack", "otlp-push"), ("slot", "0")));
        Assert.Equal(64, Value(ready.Body, "gopherpack_listener_queue_limit", "gauge", ("pack", "otlp-push"), ("listener", "http")));
        var restarts = Metric(ready.Body, "gopherpack_worker_restarts_total")!.Value.GetProperty("sum");
        Assert.True(restarts.GetProperty("isMonotonic").GetBoolean());
        Assert.Equal(2, restarts.GetProperty("aggregationTemporality").GetInt32());
        var histogram = Metric(ready.Body, "gopherpack_reload_duration_seconds")!.Value.GetProperty("histogram").GetProperty("dataPoints")[0];
        Assert.Equal(histogram.GetProperty("explicitBounds").GetArrayLength() + 1, histogram.GetProperty("bucketCounts").GetArrayLength());

        var victim = pack.SlotPids[0];
        Native.kill(victim, Native.SIGKILL);
        var after = await receiver.WaitFor(m =>
            Value(m, "gopherpack_worker_restarts_total", "sum", ("pack", "otlp-push"), ("slot", "0")) == 1
            && Value(m, "gopherpack_workers", "gauge", ("pack", "otlp-push"), ("state", "ready")) == 2, Wait, "slot 0's restart pushed, with both workers ready again");
        Assert.Equal(0, Value(after.Body, "gopherpack_worker_restarts_total", "sum", ("pack", "otlp-push"), ("slot", "1")));
        Assert.Contains(Resource(after.Body), a => a == ("service.name", "gopherpack"));
        Assert.Contains(Resource(after.Body), a => a == ("gopherpack.pack", "otlp-push"));

        // After an upgrade the new master pushes (its instance id names its pid), the old one has stopped.
        var upgrade = await Cli.RunAsync("upgrade", "otlp-push", "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade.ToString());
        var upgraded = await receiver.WaitFor(m => Value(m, "gopherpack_generation", "gauge", ("pack", "otlp-push")) == 2, Wait, "the new master's generation pushed");
        var instance = Resource(upgraded.Body).Single(a => a.Item1 == "service.instance.id").Item2;
        Assert.False(instance.EndsWith("/" + pack.MasterPid, StringComparison.Ordinal), $"{instance} is the old master's");
        Assert.Equal(1, Value(upgraded.Body, "gopherpack_upgrades_total", "sum", ("pack", "otlp-push"), ("result", "succeeded")));
    }

    [Fact]
    public async Task A_receiver_that_is_down_is_logged_once_and_gets_the_pushes_when_it_is_back()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync($$"""
            name: otlp-down
            command: dotnet
            args: ["{worker}"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            metrics: { otlp: { endpoint: "http://127.0.0.1:{{port}}/custom/path", interval: 1s } }
            """);
        await pack.WaitForLine(l => l.Contains($" metrics: OTLP push to http://127.0.0.1:{port}/custom/path failed: "), Wait, "the failed push to be logged");
        await using var receiver = new OtlpReceiver(port);
        var back = await receiver.WaitFor(m => Value(m, "gopherpack_workers", "gauge", ("pack", "otlp-down"), ("state", "ready")) == 1, Wait, "a push once the receiver is up");
        Assert.Equal("/custom/path", back.Path);
        await pack.WaitForLine(l => l.Contains(" metrics: OTLP push to ") && l.Contains(" works again"), Wait, "the recovery to be logged");
        Assert.Single(pack.Lines, l => l.Contains(" metrics: OTLP push to ") && l.Contains(" failed: "));

        // A reload does not move the push (like metrics.address): it says so.
        var manifest = Path.Combine(pack.Dir.Path, "app.yml");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("interval: 1s", "interval: 2s"));
        var reload = await Cli.RunAsync("reload", "otlp-down", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload.ToString());
        await pack.WaitForLine(l => l.Contains(" metrics: metrics.otlp changed to ") && l.Contains("takes effect at the next start or upgrade"), Wait, "the warning that the push changes at the next start");
    }

    private static double? Value(JsonElement request, string name, string kind, params (string Key, string Value)[] attributes)
    {
        if (Metric(request, name) is not { } metric || !metric.TryGetProperty(kind, out var data)) return null;
        foreach (var point in data.GetProperty("dataPoints").EnumerateArray())
            if (attributes.All(a => Attributes(point).Contains(a))) return point.GetProperty("asDouble").GetDouble();
        return null;
    }

    private static JsonElement? Metric(JsonElement request, string name)
    {
        foreach (var resource in request.GetProperty("resourceMetrics").EnumerateArray())
        foreach (var scope in resource.GetProperty("scopeMetrics").EnumerateArray())
        foreach (var metric in scope.GetProperty("metrics").EnumerateArray())
            if (metric.GetProperty("name").GetString() == name) return metric;
        return null;
    }

    private static List<(string, string)> Resource(JsonElement request) => Attributes(request.GetProperty("resourceMetrics")[0].GetProperty("resource"));

    private static List<(string, string)> Attributes(JsonElement owner) =>
        owner.GetProperty("attributes").EnumerateArray()
            .Select(a => (a.GetProperty("key").GetString()!, a.GetProperty("value").GetProperty("stringValue").GetString()!)).ToList();

    /// <summary>An OTLP/HTTP receiver on loopback: answers every POST with 200 and an empty JSON response, and keeps each request decoded.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        public sealed record Request(string Path, string? ContentType, JsonElement Body);

        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>();
        private readonly Task _loop;

        public OtlpReceiver(int port = 0)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Start();
            _loop = Task.Run(AcceptLoop);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public async Task<Request> WaitFor(Func<JsonElement, bool> match, TimeSpan timeout, string what)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                while (true)
                {
                    var request = await _requests.Reader.ReadAsync(cancel.Token);
                    if (match(request.Body)) return request;
                }
            }
            catch (OperationCanceledException) { throw new TimeoutException($"no OTLP request with {what} within {timeout.TotalSeconds:0}s"); }
        }

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
                catch (Exception) { return; }
                _ = Task.Run(() => Serve(client));
            }
        }

        private async Task Serve(TcpClient client)
        {
            using var _ = client;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var stream = client.GetStream();
            var data = new MemoryStream();
            var buffer = new byte[65536];
            int headEnd;
            while ((headEnd = IndexOf(data.ToArray(), "\r\n\r\n"u8)) < 0)
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0) return;
                data.Write(buffer, 0, read);
            }
            var head = Encoding.ASCII.GetString(data.ToArray(), 0, headEnd).Split("\r\n");
            var headers = head.Skip(1).Select(h => h.Split(':', 2)).ToDictionary(h => h[0].Trim().ToLowerInvariant(), h => h[1].Trim());
            var length = int.Parse(headers["content-length"]);
            while (data.Length < headEnd + 4 + length)
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0) return;
                data.Write(buffer, 0, read);
            }
            var body = JsonDocument.Parse(data.ToArray().AsMemory(headEnd + 4, length)).RootElement.Clone();
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"u8.ToArray(), timeout.Token);
            _requests.Writer.TryWrite(new Request(head[0].Split(' ')[1], headers.GetValueOrDefault("content-type"), body));
        }

        private static int IndexOf(byte[] data, ReadOnlySpan<byte> value) => data.AsSpan().IndexOf(value);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
        }
    }
}
