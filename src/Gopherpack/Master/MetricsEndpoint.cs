using System.Net;
using System.Net.Sockets;
using Gopherpack.Logging;
using Gopherpack.Metrics;

namespace Gopherpack.Master;

/// <summary>
/// The master's side of <c>metrics.address</c>: serves the socket bound at start, or, in an upgrade's new master,
/// binds the address once the old master has let go of it (it holds it until it hands over).
/// </summary>
internal sealed class MetricsEndpoint(IPEndPoint? address, Socket? bound, PackMetrics metrics, IMasterLog log) : IAsyncDisposable
{
    private static readonly TimeSpan Retry = TimeSpan.FromMilliseconds(200), GiveUp = TimeSpan.FromSeconds(30);
    private readonly CancellationTokenSource _closing = new();
    private MetricsServer? _server;
    private bool _warned;

    /// <summary>Serves the socket bound at start, if any.</summary>
    public void Start()
    {
        if (bound is not null) Serve(bound);
    }

    /// <summary>An upgrade's new master took over: bind the address when the old master releases it.</summary>
    public void BindWhenFree()
    {
        if (address is null || _server is not null) return;
        _ = Task.Run(async () =>
        {
            var deadline = DateTime.UtcNow + GiveUp;
            while (!_closing.IsCancellationRequested)
            {
                try
                {
                    Serve(MetricsServer.Bind(address));
                    return;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && DateTime.UtcNow < deadline)
                {
                    try { await Task.Delay(Retry, _closing.Token); } catch (OperationCanceledException) { return; }
                }
                catch (SocketException e)
                {
                    log.Error("metrics", $"cannot bind metrics.address tcp://{address}: {e.Message}; no metrics over HTTP ('gopherpack metrics' still works)");
                    return;
                }
            }
        });
    }

    private void Serve(Socket socket)
    {
        lock (_closing)
        {
            if (_closing.IsCancellationRequested) { socket.Dispose(); return; }
            _server = MetricsServer.Serve(socket, metrics.Render, log);
        }
        log.Info("metrics", $"serving Prometheus metrics at {_server.Url}");
    }

    /// <summary>metrics.address is read at start (and by an upgrade's new master); a reload does not move it.</summary>
    public void WarnIfMoved(IPEndPoint? now)
    {
        if (_warned || Equals(now, address)) return;
        _warned = true;
        log.Warn("metrics", $"metrics.address changed to {(now is null ? "none" : "tcp://" + now)}; it takes effect at the next start or upgrade");
    }

    public async ValueTask DisposeAsync()
    {
        MetricsServer? server;
        lock (_closing)
        {
            if (_closing.IsCancellationRequested) return;
            _closing.Cancel();
            server = _server;
        }
        if (server is not null) await server.DisposeAsync();
        else bound?.Dispose();
    }
}
