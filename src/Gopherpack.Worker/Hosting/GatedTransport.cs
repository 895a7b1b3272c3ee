using System.IO.Pipelines;
using System.Net;
using Gopherpack.Worker.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Gopherpack.Worker.Hosting;

/// <summary>Kestrel's socket transport with a <see cref="ConnectionGate"/> in front of every accept.</summary>
internal sealed class GatedListenerFactory(IConnectionListenerFactory inner, DrainCoordinator drain) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => inner is not IConnectionListenerFactorySelector selector || selector.CanBind(endpoint);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var bound = await inner.BindAsync(endpoint, cancellationToken);
        if (endpoint is FileHandleEndPoint handle && drain.ListenerFor(endpoint)?.Backlog is { } backlog) Relisten(handle.FileHandle, backlog);
        var listener = new GatedConnectionListener(bound, drain.GateFor(endpoint), drain);
        drain.Track(listener);
        return listener;
    }

    /// <summary>
    /// Kestrel calls listen() with its own backlog (512) on an inherited socket too, which would replace
    /// the manifest's backlog for every worker of the pack (the socket is shared); this puts it back.
    /// </summary>
    private static void Relisten(ulong fd, int backlog)
    {
        using var socket = new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle((IntPtr)(long)fd, ownsHandle: false));
        socket.Listen(backlog);
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

/// <summary>A transport connection that frees its gate slot when Kestrel disposes it, and can be asked to close gracefully.</summary>
internal sealed class TrackedConnection(ConnectionContext inner, ConnectionGate gate, DrainCoordinator drain) : ConnectionContext
{
    private int _disposed;
    private int _closeRequested;

    /// <summary>
    /// Kestrel's graceful close (what its own shutdown does): an idle HTTP/1 connection closes at once, a busy one
    /// answers its request with Connection: close and then closes, HTTP/2 sends GOAWAY and finishes its streams.
    /// Only the first call counts; a connection Kestrel has not taken up yet is asked again on the next call.
    /// </summary>
    public void RequestClose()
    {
        if (Volatile.Read(ref _closeRequested) != 0 || inner.Features.Get<IConnectionLifetimeNotificationFeature>() is not { } lifetime) return;
        if (Interlocked.Exchange(ref _closeRequested, 1) == 0) lifetime.RequestClose();
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
