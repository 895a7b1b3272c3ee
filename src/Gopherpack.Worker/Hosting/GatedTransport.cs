using System.IO.Pipelines;
using System.Net;
using Gopherpack.Worker.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Gopherpack.Worker.Hosting;

/// <summary>Kestrel's socket transport with a <see cref="ConnectionGate"/> in front of every accept.</summary>
internal sealed class GatedListenerFactory(IConnectionListenerFactory inner, DrainCoordinator drain) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => inner is not IConnectionListenerFactorySelector selector || selector.CanBind(endpoint);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var listener = new GatedConnectionListener(await inner.BindAsync(endpoint, cancellationToken), drain.GateFor(endpoint), drain);
        drain.Track(listener);
        return listener;
    }
}

internal sealed class GatedConnectionListener(IConnectionListener inner, ConnectionGate gate, DrainCoordinator drain) : IConnectionListener
{
    private int _unbound;

    public EndPoint EndPoint => inner.EndPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (!await gate.WaitForSlotAsync(cancellationToken)) return null;
        ConnectionContext? connection;
        try
        {
            connection = await inner.AcceptAsync(cancellationToken);
        }
        catch
        {
            gate.Release();
            throw;
        }
        if (connection is null)
        {
            gate.Release();
            return null;
        }
        var tracked = new TrackedConnection(connection, gate, drain);
        drain.Opened(tracked);
        return tracked;
    }

    /// <summary>Closes only this worker's copy of the fd: the master and the other workers keep the socket and its queue.</summary>
    public async ValueTask StopAcceptingAsync()
    {
        gate.StopAccepting();
        await UnbindAsync();
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        gate.StopAccepting();
        return Interlocked.Exchange(ref _unbound, 1) == 0 ? inner.UnbindAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>A transport connection that frees its gate slot when Kestrel disposes it, and knows whether it is busy.</summary>
internal sealed class TrackedConnection(ConnectionContext inner, ConnectionGate gate, DrainCoordinator drain) : ConnectionContext
{
    private int _disposed;
    private int _inFlight;
    private long _lastActivity = Environment.TickCount64;

    public int InFlight => Volatile.Read(ref _inFlight);
    public bool IsHttp2 { get; set; }
    public TimeSpan IdleFor => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastActivity));

    public void RequestStarted()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
    }

    public void RequestEnded()
    {
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
        Interlocked.Decrement(ref _inFlight);
    }

    public override string ConnectionId { get => inner.ConnectionId; set => inner.ConnectionId = value; }
    public override IFeatureCollection Features => inner.Features;
    public override IDictionary<object, object?> Items { get => inner.Items; set => inner.Items = value; }
    public override IDuplexPipe Transport { get => inner.Transport; set => inner.Transport = value; }
    public override CancellationToken ConnectionClosed { get => inner.ConnectionClosed; set => inner.ConnectionClosed = value; }
    public override EndPoint? LocalEndPoint { get => inner.LocalEndPoint; set => inner.LocalEndPoint = value; }
    public override EndPoint? RemoteEndPoint { get => inner.RemoteEndPoint; set => inner.RemoteEndPoint = value; }
    public override void Abort(ConnectionAbortedException abortReason) => inner.Abort(abortReason);
    public override void Abort() => inner.Abort();

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await inner.DisposeAsync();
        }
        finally
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                drain.Closed(this);
                gate.Release();
            }
        }
    }
}
