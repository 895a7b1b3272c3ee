namespace Gopherpack.Master;

/// <summary>One worker process: from spawn until it is reaped. Carries the settings of its generation's manifest.</summary>
internal sealed class WorkerProcess(long id, int slot, int pid, int? cpu, int generation, DateTimeOffset startedAt)
{
    public long Id { get; } = id;
    public int Slot { get; } = slot;
    public int Pid { get; } = pid;
    public int? Cpu { get; } = cpu;
    public int Generation { get; } = generation;
    public DateTimeOffset StartedAt { get; } = startedAt;
    public required int StopSignal { get; init; }
    public required TimeSpan StopTimeout { get; init; }
    public required TimeSpan WatchdogTimeout { get; init; }
    public WorkerState State { get; set; } = WorkerState.Starting;
    public DateTimeOffset? ReadyAt { get; set; }
    public DateTimeOffset LastWatchdog { get; set; } = startedAt;
    public string? Status { get; set; }
    /// <summary>Why the master ended it, when it did (not ready in time, watchdog).</summary>
    public string? KilledBecause { get; set; }
    /// <summary>The master asked it to stop, so its exit is expected.</summary>
    public bool StopRequested { get; set; }
}
