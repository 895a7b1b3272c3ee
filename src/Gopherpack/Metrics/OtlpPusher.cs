using System.Net.Sockets;
using System.Text;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Metrics;

/// <summary>
/// Pushes the pack's metrics to <c>metrics.otlp.endpoint</c> (OTLP/HTTP, JSON) at once and then every
/// <c>metrics.otlp.interval</c>, from the thread pool: like a scrape it renders from the loop's latest snapshot and
/// never waits on the loop. One POST per connection (<c>Connection: close</c>), as seldom as it is. A receiver that is
/// down or refuses is logged once (and once more when pushes succeed again); the next interval tries again.
/// </summary>
internal sealed class OtlpPusher : IAsyncDisposable
{
    private static readonly TimeSpan MaxRequestTime = TimeSpan.FromSeconds(10);
    private readonly OtlpSpec _spec;
    private readonly PackMetrics _metrics;
    private readonly IMasterLog _log;
    private readonly DateTimeOffset _start;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private bool _failing;

    public OtlpPusher(OtlpSpec spec, PackMetrics metrics, IMasterLog log, DateTimeOffset start)
    {
        _spec = spec;
        _metrics = metrics;
        _log = log;
        _start = start;
    }

    public void Start()
    {
        if (_loop is not null || _stop.IsCancellationRequested) return;
        _log.Info("metrics", $"pushing metrics with OTLP/HTTP to {_spec.Url} every {Duration.Format(_spec.Interval)}");
        _loop = Task.Run(RunAsync);
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_spec.Interval);
        do
        {
            await PushOnceAsync();
        } while (await Tick(timer));
    }

    private async Task<bool> Tick(PeriodicTimer timer)
    {
        try { return await timer.WaitForNextTickAsync(_stop.Token); }
        catch (OperationCanceledException) { return false; }
    }

    private async Task PushOnceAsync()
    {
        if (_metrics.RenderOtlp(_start) is not { } body) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_spec.Interval < MaxRequestTime ? _spec.Interval : MaxRequestTime);
        string? problem;
        try { problem = await PostAsync(body, timeout.Token); }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { return; }
        catch (OperationCanceledException) { problem = "no answer in time"; }
        catch (Exception e) when (e is SocketException or IOException) { problem = e.Message; }
        if (problem is not null && !_failing)
        {
            _failing = true;
            _log.Warn("metrics", $"OTLP push to {_spec.Url} failed: {problem}; trying again every {Duration.Format(_spec.Interval)}");
        }
        else if (problem is null && _failing)
        {
            _failing = false;
            _log.Info("metrics", $"OTLP push to {_spec.Url} works again");
        }
    }

    /// <returns>Null when the receiver answered 2xx, else what went wrong.</returns>
    private async Task<string?> PostAsync(byte[] body, CancellationToken cancel)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_spec.Host, _spec.Port, cancel);
        var host = _spec.Host.Contains(':') ? $"[{_spec.Host}]:{_spec.Port}" : $"{_spec.Host}:{_spec.Port}";
        var head = $"POST {_spec.Path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gopherpack/{PrometheusText.Version}\r\n" +
                   $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head), SocketFlags.None, cancel);
        await socket.SendAsync(body, SocketFlags.None, cancel);
        // The status line is all that is needed; the body (an ExportMetricsServiceResponse) is not read.
        var buffer = new byte[512];
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cancel);
            if (read == 0) break;
            total += read;
            if (Array.IndexOf(buffer, (byte)'\n', 0, total) >= 0) break;
        }
        var status = Encoding.ASCII.GetString(buffer, 0, total).Split('\n', 2)[0].TrimEnd('\r');
        var parts = status.Split(' ', 3);
        if (parts.Length >= 2 && parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) && parts[1].Length == 3 && parts[1][0] == '2') return null;
        return status.Length == 0 ? "the receiver closed the connection without an answer" : $"the receiver answered '{status}'";
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try { await _loop; }
            catch (Exception e) { _log.Warn("metrics", $"the OTLP push loop failed: {e.GetType().Name}: {e.Message}"); }
        }
    }
}
