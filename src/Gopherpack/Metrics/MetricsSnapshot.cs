using System.Net.Sockets;
using Gopherpack.Master;

namespace Gopherpack.Metrics;

/// <summary>
/// What a scrape needs of the supervisor's state, published by the event loop after each batch of events
/// (about once a second when idle). Scrapes read the latest one from any thread and never wait on the loop;
/// /proc and TCP_INFO are read at scrape time, so nothing is sampled between scrapes.
/// </summary>
/// <param name="Workers">Worker count by lower-case state (every state present, zero or not).</param>
/// <param name="Serving">The serving generation's slots that hold a worker: slot, pid and when that worker started.</param>
internal sealed record MetricsSnapshot(
    string Pack,
    int Generation,
    int Slots,
    IReadOnlyDictionary<string, int> Workers,
    IReadOnlyList<(int Slot, int Pid, DateTimeOffset Started)> Serving,
    IReadOnlyList<ListenerSample> Listeners)
{
    public static readonly IReadOnlyList<string> States =
        [.. Enum.GetNames<WorkerState>().Select(s => s.ToLowerInvariant())];

    public static MetricsSnapshot Of(Supervisor supervisor, ListenerSet listeners)
    {
        var counts = States.ToDictionary(s => s, _ => 0);
        foreach (var worker in supervisor.Workers) counts[worker.State.ToString().ToLowerInvariant()]++;
        foreach (var slot in supervisor.Slots.Where(s => s.Worker is null))
            counts[(slot.Failed ? WorkerState.Failed : WorkerState.Backoff).ToString().ToLowerInvariant()]++;
        var serving = supervisor.Slots.Where(s => s.Worker is not null).Select(s => (s.Index, s.Worker!.Pid, s.Worker.StartedAt)).ToList();
        var sampled = listeners.Listeners
            .Select(l => new ListenerSample(l.Spec.Name, l.Spec.Address.IsUnix ? [] : l.Sockets.ToList(), l.Spec.Mode == Manifest.ListenerMode.ReusePort))
            .ToList();
        return new MetricsSnapshot(supervisor.Manifest.Name, supervisor.Generation, supervisor.Slots.Count, counts, serving, sampled);
    }
}

/// <param name="Sockets">The listener's TCP sockets (one, or one per slot in reuseport mode); none for a unix listener.</param>
/// <param name="PerSlot">Reuseport: socket i is slot i's, and each has its own accept queue.</param>
internal sealed record ListenerSample(string Name, IReadOnlyList<Socket> Sockets, bool PerSlot);
