namespace Gopherpack.Worker.Net;

/// <summary>
/// Admits connections on one listener: at most <c>maxConnections</c> at once (the next accept
/// waits, so further clients stay in the kernel backlog instead of being reset), and none once
/// the worker has stopped accepting.
/// </summary>
internal sealed class ConnectionGate(int? maxConnections)
{
    private readonly SemaphoreSlim? _slots = maxConnections is { } max ? new SemaphoreSlim(max, max) : null;
    private readonly CancellationTokenSource _stopped = new();
    private int _active;

    public int Active => Volatile.Read(ref _active);
    public bool IsAccepting => !_stopped.IsCancellationRequested;

    /// <returns>False once accepting has stopped: the caller must not accept again.</returns>
    public async ValueTask<bool> WaitForSlotAsync(CancellationToken cancel)
    {
        if (_stopped.IsCancellationRequested) return false;
        if (_slots is not null)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, _stopped.Token);
            try { await _slots.WaitAsync(linked.Token); }
            catch (OperationCanceledException) when (_stopped.IsCancellationRequested) { return false; }
        }
        Interlocked.Increment(ref _active);
        return true;
    }

    /// <summary>Returns a slot taken by <see cref="WaitForSlotAsync"/> when no connection came of it, or when the connection ends.</summary>
    public void Release()
    {
        Interlocked.Decrement(ref _active);
        _slots?.Release();
    }

    public void StopAccepting() => _stopped.Cancel();
}
