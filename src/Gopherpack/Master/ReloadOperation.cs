using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>The one reload in progress: the new generation's slots and workers, and where a rolling reload has got to.</summary>
internal sealed class ReloadOperation(int generation, PackManifest manifest, ReloadStrategy strategy, List<WorkerSlot> targetSlots,
    DateTimeOffset startedAt, Action<ReloadOutcome> respond) : PackOperation(startedAt)
{
    protected override string Kind => "a reload";
    protected override string Detail => $"generation {Generation}";

    public int Generation { get; } = generation;
    public PackManifest Manifest { get; } = manifest;
    public ReloadStrategy Strategy { get; } = strategy;
    /// <summary>The slots of the new generation; they replace the pack's slots when the reload commits.</summary>
    public List<WorkerSlot> TargetSlots { get; } = targetSlots;
    public Action<ReloadOutcome> Respond { get; } = respond;
    public HashSet<long> NewWorkers { get; } = [];
    /// <summary>Rolling: old slots whose worker was already replaced (rolled back if the reload fails).</summary>
    public List<int> SwitchedOldSlots { get; } = [];
    public int NextRollingSlot { get; set; }

    public bool Owns(WorkerProcess worker) => worker.Generation == Generation && NewWorkers.Contains(worker.Id);
    public bool AllNewWorkersReady(Func<long, WorkerProcess?> find) =>
        TargetSlots.All(s => s.Worker is { } w && NewWorkers.Contains(w.Id) && find(w.Id)?.State == WorkerState.Ready);
}
