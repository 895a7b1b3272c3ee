namespace Gopherpack.Master;

/// <summary>What a slot is doing: serving (its worker starting, ready or draining), waiting to restart, or given up.</summary>
internal enum SlotState { Active, Backoff, Failed }

/// <summary>A place in the pack that outlives the processes in it (nginx's model): CPU, generation, restart history.</summary>
internal sealed class WorkerSlot(int index, int? cpu, int generation, Manifest.RestartSpec restart)
{
    public int Index { get; } = index;
    public int? Cpu { get; } = cpu;
    /// <summary>The generation a (re)started worker of this slot runs.</summary>
    public int Generation { get; } = generation;
    public RestartHistory Restarts { get; } = new(restart);
    /// <summary>The worker serving this slot (or starting to), if any.</summary>
    public WorkerProcess? Worker { get; set; }
    public SlotState State { get; private set; } = SlotState.Active;
    public bool Failed => State == SlotState.Failed;
    /// <summary>The pending restart's attempt number (unique in the master), so a stale timer cannot start a second worker.</summary>
    public long? PendingRestart { get; private set; }
    public Linux.ExitStatus? LastExit { get; set; }
    /// <summary>Why the slot failed, or why its last worker ended.</summary>
    public string? FailureReason { get; set; }

    public void Occupy(WorkerProcess worker)
    {
        Worker = worker;
        State = SlotState.Active;
        PendingRestart = null;
    }

    public void WaitForRestart(long attempt)
    {
        Worker = null;
        State = SlotState.Backoff;
        PendingRestart = attempt;
    }

    public void Fail(string reason)
    {
        Worker = null;
        State = SlotState.Failed;
        PendingRestart = null;
        FailureReason = reason;
    }

    /// <summary>A pending restart is called off (the slot is being replaced or the pack stops).</summary>
    public void CancelRestart()
    {
        PendingRestart = null;
        if (State == SlotState.Backoff) State = SlotState.Active;
    }
}
