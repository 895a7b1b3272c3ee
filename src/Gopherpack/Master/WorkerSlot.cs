namespace Gopherpack.Master;

/// <summary>A place in the pack that outlives the processes in it (nginx's model): CPU, generation, restart history.</summary>
public sealed class WorkerSlot(int index, int? cpu, int generation, Manifest.RestartSpec restart)
{
    public int Index { get; } = index;
    public int? Cpu { get; } = cpu;
    /// <summary>The generation a (re)started worker of this slot runs.</summary>
    public int Generation { get; } = generation;
    public RestartHistory Restarts { get; } = new(restart);
    /// <summary>The worker serving this slot (or starting to), if any.</summary>
    public WorkerProcess? Worker { get; set; }
    public bool Failed { get; set; }
    /// <summary>The pending restart's attempt number (unique in the master), so a stale timer cannot start a second worker.</summary>
    public long? PendingRestart { get; set; }
    public Linux.ExitStatus? LastExit { get; set; }
    public string? FailureReason { get; set; }
}
