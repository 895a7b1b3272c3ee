using System.Net;
using System.Collections.Concurrent;
using System.Diagnostics;
using Gopherpack.Worker.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Gopherpack.Worker.Hosting;

/// <summary>
/// Knows every open connection of the worker and runs the drain: stop accepting, answer every
/// HTTP/1 request with <c>Connection: close</c>, and once no request has come on a connection for
/// the idle time since the drain began, ask Kestrel to close it gracefully (an idle connection closes
/// at once, a busy one after its response, HTTP/2 with GOAWAY), until none is left or the window ends.
/// Kestrel closes idle keep-alive connections at once on shutdown, which fails the next request of
/// every such client; this runs before it. Nothing here runs per request until the drain begins.
/// </summary>
internal sealed class DrainCoordinator(PackWorker worker, ILogger<DrainCoordinator> logger)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<TrackedConnection, byte> _connections = new();
    private readonly ConcurrentDictionary<EndPoint, ConnectionGate> _gates = new();
    private readonly List<GatedConnectionListener> _listeners = [];
    private volatile bool _draining;

    public bool IsDraining => _draining;
    public int OpenConnections => _connections.Count;

    internal InheritedListener? ListenerFor(EndPoint endpoint) =>
        endpoint is FileHandleEndPoint handle ? worker.Listeners.FirstOrDefault(l => (ulong)l.Fd == handle.FileHandle) : null;

    internal ConnectionGate GateFor(EndPoint endpoint)
    {
        var max = ListenerFor(endpoint)?.MaxConnections;
        return _gates.GetOrAdd(endpoint, _ => new ConnectionGate(max));
    }

    internal void Track(GatedConnectionListener listener)
    {
        lock (_listeners) _listeners.Add(listener);
    }

    internal void Opened(TrackedConnection connection) => _connections[connection] = 0;
    internal void Closed(TrackedConnection connection) => _connections.TryRemove(connection, out _);

    public async Task DrainAsync(TimeSpan window, TimeSpan idleClose, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        _draining = true;
        List<GatedConnectionListener> listeners;
        lock (_listeners) listeners = _listeners.ToList();
        foreach (var listener in listeners) await listener.StopAcceptingAsync();
        logger.LogInformation("Draining {Count} connection(s) for at most {Window}", _connections.Count, window);

        // From here on every request is answered with Connection: close (DrainStartupFilter), so a
        // connection with no request for idleClose since now has been idle that long: ask it to close.
        while (clock.Elapsed < window && !cancel.IsCancellationRequested && !_connections.IsEmpty)
        {
            if (clock.Elapsed >= idleClose)
                foreach (var connection in _connections.Keys) connection.RequestClose();
            try { await Task.Delay(Poll, cancel); } catch (OperationCanceledException) { break; }
        }
        logger.LogInformation("Drain finished in {Elapsed} ms with {Left} connection(s) left to Kestrel's shutdown", clock.ElapsedMilliseconds, _connections.Count);
    }
}
