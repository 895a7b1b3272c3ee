using System.Net;
using System.Net.Sockets;
using Gopherpack.Logging;
using Gopherpack.Metrics;

namespace Gopherpack.Master;

/// <summary>
/// The master's side of <c>metrics.address</c>: the listening socket (bound at start, or by an upgrade's new master
/// before it is ready, or handed over by the old master with the pack's listeners) and the server that answers on it.
/// An upgrade's new master serves from the moment it takes over, the old master stops accepting once it has handed
/// over: the socket listens throughout, so no scrape is refused.
/// </summary>
internal sealed class MetricsEndpoint(IPEndPoint? address, Socket? socket, PackMetrics metrics, IMasterLog log) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private MetricsServer? _server;
    private bool _closed;
    private bool _warned;

    /// <summary>The listening socket, to hand to an upgrade's new master; null when metrics are off or this master has handed over.</summary>
    public Socket? Socket { get { lock (_gate) return _closed ? null : socket; } }

    /// <summary>The address the socket was bound for, as the manifest gives it.</summary>
    public IPEndPoint? Address => address;

    /// <summary>Starts answering scrapes (at start, or when an upgrade's new master takes over).</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (socket is null || _server is not null || _closed) return;
            _server = MetricsServer.Serve(socket, metrics.Render, log);
        }
        log.Info("metrics", $"serving Prometheus metrics at {_server.Url}");
    }

    /// <summary>A new master has taken over: stop accepting (it accepts on the same socket, or serves another address, or none).</summary>
    public Task HandOverAsync() => CloseAsync(answerAccepted: true);

    /// <summary>metrics.address is read at start (and by an upgrade's new master); a reload does not move it.</summary>
    public void WarnIfMoved(IPEndPoint? now)
    {
        if (_warned || Equals(now, address)) return;
        _warned = true;
        log.Warn("metrics", $"metrics.address changed to {(now is null ? "none" : "tcp://" + now)}; it takes effect at the next start or upgrade");
    }

    public async ValueTask DisposeAsync() => await CloseAsync(answerAccepted: false);

    private async Task CloseAsync(bool answerAccepted)
    {
        MetricsServer? server;
        lock (_gate)
        {
            server = _server;
            if (_closed && (answerAccepted || server is null)) return;
            _closed = true;
        }
        if (server is null) socket?.Dispose();
        else if (answerAccepted) await server.StopAcceptingAsync();
        else await server.DisposeAsync();
    }
}
