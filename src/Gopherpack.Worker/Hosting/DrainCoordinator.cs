using System.Net;
using System.Collections.Concurrent;
using System.Diagnostics;
using Gopherpack.Worker.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Gopherpack.Worker.Hosting;

/// <summary>
/// Knows every open connection of the worker and whether it is busy, and runs the drain:
/// stop accepting, answer with <c>Connection: close</c>, close HTTP/1 connections once idle,
/// until none is left or the window ends. Kestrel closes idle keep-alive connections at once
/// on shutdown, which fails the next request of every such client; this runs before it.
/// </summary>
public sealed class DrainCoordinator(PackWorker worker, ILogger<DrainCoordinator> logger)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentDictionary<string, TrackedConnection> _connections = new();
    private readonly ConcurrentDictionary<EndPoint, ConnectionGate> _gates = new();
    private readonly List<GatedConnectionListener> _listeners = [];
    private volatile bool _draining;

    public bool IsDraining => _draining;
    public int OpenConnections => _connections.Count;

    internal ConnectionGate GateFor(EndPoint endpoint)
    {
        var max = endpoint is FileHandleEndPoint handle ? worker.Listeners.FirstOrDefault(l => (ulong)l.Fd == handle.FileHandle)?.MaxConnections : null;
        return _gates.GetOrAdd(endpoint, _ => new ConnectionGate(max));
    }

    internal void Track(GatedConnectionListener listener)
    {
        lock (_listeners) _listeners.Add(listener);
    }

    internal void Opened(TrackedConnection connection) => _connections[connection.ConnectionId] = connection;
    internal void Closed(TrackedConnection connection) => _connections.TryRemove(connection.ConnectionId, out _);

    internal TrackedConnection? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    public async Task DrainAsync(TimeSpan window, TimeSpan idleClose, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        _draining = true;
        List<GatedConnectionListener> listeners;
        lock (_listeners) listeners = _listeners.ToList();
        foreach (var listener in listeners) await listener.StopAcceptingAsync();
        logger.LogInformation("Draining {Count} connection(s) for at most {Window}", _connections.Count, window);

        while (clock.Elapsed < window && !cancel.IsCancellationRequested)
        {
            var waitingFor = 0;
            foreach (var connection in _connections.Values)
            {
                if (connection.IsHttp2) continue; // Kestrel's shutdown sends GOAWAY and lets streams finish.
                if (connection.InFlight == 0 && connection.IdleFor >= idleClose) connection.Abort(new ConnectionAbortedException("drained: idle"));
                else waitingFor++;
            }
            if (waitingFor == 0) break;
            try { await Task.Delay(Poll, cancel); } catch (OperationCanceledException) { break; }
        }
        logger.LogInformation("Drain finished in {Elapsed} ms with {Left} connection(s) left to Kestrel's shutdown", clock.ElapsedMilliseconds, _connections.Count);
    }
}
