namespace Gopherpack.Master;

/// <summary>
/// Restarts of one slot within the sliding window of <c>restart.limit</c>. The backoff derives from the
/// same count, so a slot that stays up for a whole window starts again at the initial backoff, and
/// scattered crashes never add up to a lifetime limit.
/// </summary>
internal sealed class RestartHistory(Manifest.RestartSpec spec)
{
    private readonly Queue<DateTimeOffset> _restarts = new();

    public int CountWithinWindow(DateTimeOffset now)
    {
        while (_restarts.Count > 0 && now - _restarts.Peek() >= spec.LimitWindow) _restarts.Dequeue();
        return _restarts.Count;
    }

    /// <summary>True when one more restart now stays within the limit.</summary>
    public bool MayRestart(DateTimeOffset now) => CountWithinWindow(now) < spec.LimitRestarts;

    /// <summary>Records a restart now and returns how long to wait before it.</summary>
    public TimeSpan Record(DateTimeOffset now)
    {
        var previous = CountWithinWindow(now);
        _restarts.Enqueue(now);
        var factor = Math.Pow(2, Math.Min(previous, 30));
        var delay = TimeSpan.FromMilliseconds(spec.BackoffInitial.TotalMilliseconds * factor);
        return delay > spec.BackoffMax ? spec.BackoffMax : delay;
    }

    public int Total { get; private set; }

    public void CountRestart() => Total++;
}
