namespace Gopherpack.Master;

/// <summary>A place in the pack that outlives the processes in it (nginx's model): CPU, restart history.</summary>
public sealed class WorkerSlot(int index, int? cpu, Manifest.RestartSpec restart)
{
    public int Index { get; } = index;
    public int? Cpu { get; } = cpu;
    public RestartHistory Restarts { get; } = new(restart);
    /// <summary>The worker serving this slot (or starting to), if any.</summary>
    public WorkerProcess? Worker { get; set; }
    public bool Failed { get; set; }
    /// <summary>Increments on each scheduled restart, so a stale timer cannot start a second worker.</summary>
    public long RestartAttempt { get; set; }
    public bool RestartPending { get; set; }
    public Linux.ExitStatus? LastExit { get; set; }
    public string? FailureReason { get; set; }
}
