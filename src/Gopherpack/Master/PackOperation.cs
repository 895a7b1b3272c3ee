namespace Gopherpack.Master;

/// <summary>
/// The one operation that changes the pack while it runs: a reload, a scale or an upgrade of the master. The
/// supervisor owns at most one at a time; a request for another is refused in the words of <see cref="Refusal"/>.
/// </summary>
internal abstract class PackOperation(DateTimeOffset startedAt)
{
    public DateTimeOffset StartedAt { get; } = startedAt;

    /// <summary>What runs, as a refusal names it: "a reload", "a scale", "an upgrade".</summary>
    protected abstract string Kind { get; }

    /// <summary>What tells this one apart: its generation, its target, its new master.</summary>
    protected abstract string Detail { get; }

    /// <summary>Why another operation is refused while this one runs (the busy error, exit 3).</summary>
    public string Refusal(DateTimeOffset now) =>
        $"{Kind} is already running ({Detail}, started {Manifest.Duration.Format(now - StartedAt)} ago); try again when it has finished";
}

/// <summary>A scale that adds workers: it ends once every added worker is ready (a scale down ends at once).</summary>
internal sealed class ScaleOperation(DateTimeOffset startedAt, int target, Action<ScaleResult> respond) : PackOperation(startedAt)
{
    public HashSet<long> NewWorkers { get; } = [];
    public Action<ScaleResult> Respond { get; } = respond;
    protected override string Kind => "a scale";
    protected override string Detail => $"to {target} worker(s)";
}

/// <summary>
/// An upgrade of the master: the new master this one started (<see cref="Child"/>, perhaps a wrapper script that runs
/// it) starts its own generation; it commits once that is ready, and the pack is the new master's once it took over.
/// </summary>
internal sealed class UpgradeOperation(DateTimeOffset startedAt, int child, UpgradeRequested request) : PackOperation(startedAt)
{
    /// <summary>The child this master started: the new master, or a wrapper script that runs it.</summary>
    public int Child { get; } = child;
    /// <summary>The new master itself, as it says (<c>pid PID</c>); the child until then.</summary>
    public int MasterPid { get; set; } = child;
    public UpgradeRequested Request { get; } = request;
    /// <summary>Told to commit: it only renames two files from here on, so the timeout no longer applies.</summary>
    public bool Committed { get; set; }
    /// <summary>Killed because it had not taken over long after the commit.</summary>
    public bool Overdue { get; set; }
    /// <summary>How the new master is named in the log: through the wrapper when it is not the child.</summary>
    public string Name => MasterPid == Child ? $"pid {Child}" : $"pid {MasterPid}, started by pid {Child}";
    protected override string Kind => "an upgrade";
    protected override string Detail => $"new master {Name}";
}
