namespace Gopherpack.Metrics;

/// <summary>
/// The pack's counters: restarts per slot, reloads and upgrades by outcome, reload durations. The supervisor
/// counts on its loop; scrapes read them from any thread, so a scrape never waits on the loop.
/// </summary>
internal sealed class PackCounters
{
    /// <summary>Upper bounds (seconds) of <c>gopherpack_reload_duration_seconds</c>: a surge reload of a .NET app takes 0.3 to a few seconds.</summary>
    public static readonly IReadOnlyList<double> ReloadBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    private readonly Lock _gate = new();
    private readonly SortedDictionary<int, long> _restarts = [];
    private readonly long[] _reloadBuckets = new long[ReloadBuckets.Count];
    private long _reloadsSucceeded, _reloadsFailed, _reloadCount, _upgradesSucceeded, _upgradesFailed;
    private double _reloadSeconds;

    /// <summary>A replacement worker was started in <paramref name="slot"/> (after a crash, a failed start, a watchdog kill...).</summary>
    public void Restart(int slot)
    {
        lock (_gate) _restarts[slot] = _restarts.GetValueOrDefault(slot) + 1;
    }

    /// <summary>A reload ended; <paramref name="duration"/> is null for one refused before it began (an invalid manifest).</summary>
    public void Reload(bool succeeded, TimeSpan? duration)
    {
        lock (_gate)
        {
            if (succeeded) _reloadsSucceeded++;
            else _reloadsFailed++;
            if (duration is not { } d) return;
            var seconds = d.TotalSeconds;
            for (var i = 0; i < _reloadBuckets.Length; i++)
                if (seconds <= ReloadBuckets[i]) _reloadBuckets[i]++;
            _reloadCount++;
            _reloadSeconds += seconds;
        }
    }

    public void Upgrade(bool succeeded)
    {
        lock (_gate)
        {
            if (succeeded) _upgradesSucceeded++;
            else _upgradesFailed++;
        }
    }

    public CounterValues Read()
    {
        lock (_gate)
            return new CounterValues(new SortedDictionary<int, long>(_restarts), _reloadsSucceeded, _reloadsFailed,
                [.. _reloadBuckets], _reloadCount, _reloadSeconds, _upgradesSucceeded, _upgradesFailed);
    }
}

/// <param name="ReloadBuckets">Cumulative counts per bound of <see cref="PackCounters.ReloadBuckets"/>.</param>
internal sealed record CounterValues(
    IReadOnlyDictionary<int, long> Restarts,
    long ReloadsSucceeded,
    long ReloadsFailed,
    IReadOnlyList<long> ReloadBuckets,
    long ReloadCount,
    double ReloadSeconds,
    long UpgradesSucceeded,
    long UpgradesFailed);
