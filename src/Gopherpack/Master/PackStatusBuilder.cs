using Gopherpack.Control;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>The status reply: the pack and every worker, including slots waiting to restart or failed.</summary>
internal static class PackStatusBuilder
{
    /// <param name="rates">Gives each worker's recent CPU %; null leaves it out.</param>
    public static PackStatus Build(Supervisor supervisor, ListenerSet listeners, Metrics.CpuRates? rates = null)
    {
        var reading = rates?.Begin();
        var now = DateTimeOffset.UtcNow;
        var workers = supervisor.Workers.Select(worker =>
        {
            var slot = supervisor.Slots.FirstOrDefault(s => s.Worker == worker);
            var (rss, cpu) = ProcStats.Read(worker.Pid);
            return new WorkerStatus(worker.Slot, worker.Pid, worker.Cpu, worker.Generation, worker.State.ToString(), worker.StartedAt,
                slot?.Restarts.Total ?? 0, slot?.LastExit?.ToString(), rss, cpu, worker.Status, User: ProcStats.User(worker.Pid),
                CpuPercent: reading?.Percent(worker.Pid, cpu, now - worker.StartedAt));
        }).ToList();
        reading?.End();
        foreach (var slot in supervisor.Slots.Where(s => s.Worker is null))
        {
            workers.Add(new WorkerStatus(slot.Index, null, slot.Cpu, slot.Generation,
                (slot.Failed ? WorkerState.Failed : WorkerState.Backoff).ToString(), null, slot.Restarts.Total,
                slot.LastExit?.ToString(), null, null, null, slot.FailureReason));
        }
        return new PackStatus(
            supervisor.Manifest.Name,
            Environment.ProcessId,
            supervisor.Manifest.ManifestPath,
            // A reload that supersedes the start leaves the pack Starting until it has served once.
            supervisor.Reloading && supervisor.State == PackState.Running ? Control.PackStatus.Reloading : supervisor.State.ToString(),
            supervisor.Generation,
            listeners.Listeners.Select(Listener).ToList(),
            supervisor.LastReload is { } last ? Report(last) : null,
            workers.OrderBy(w => w.Slot).ThenBy(w => w.Generation).ToList(),
            ProcStats.Read(Environment.ProcessId).RssBytes,
            GC.GetGCMemoryInfo().HeapSizeBytes);
    }

    private static ListenerStatus Listener(BoundListener listener)
    {
        var reusePort = listener.Spec.Mode == ListenerMode.ReusePort;
        // A reuseport listener shows its fullest slot's queue: a sum would hide one stopped worker's full queue.
        var queue = listener.Spec.Address.IsUnix ? null : Metrics.ListenerQueue.Fullest(Metrics.ListenerQueue.ReadEach(listener.Sockets.ToList(), reusePort));
        return new ListenerStatus(listener.Spec.Name, listener.BoundAddress, reusePort ? "reuseport" : "shared",
            queue?.Length, queue?.Limit, queue?.Slot);
    }

    public static ReloadReport Report(ReloadOutcome result) => new(
        result.Ok, result.Generation, result.Strategy.ToString().ToLowerInvariant(), Math.Round(result.Duration.TotalMilliseconds, 1),
        result.Error, result.FailedSlot, result.FailedPid, result.Output);
}
