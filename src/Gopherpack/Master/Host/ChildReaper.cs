using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Master.Upgrade;

namespace Gopherpack.Master;

/// <param name="Signalled">From SIGCHLD (a child exited, perhaps an orphan), not the sweep timer.</param>
internal sealed record ReapRequested(bool Signalled) : LoopEvent;

/// <summary>
/// Reaps the master's children on the loop: exited workers (each reported to the supervisor once its last output
/// lines are read, without blocking the loop), the janitor (replaced), upgrades' new masters, and orphans re-parented
/// to a master that is a subreaper or PID 1.
/// </summary>
internal sealed class ChildReaper(WorkerIo io, MasterRuntimeFiles files, SuccessorProcesses successors, OrphanReaper? orphans,
    Action<LoopEvent> post, IMasterLog log)
{
    /// <summary>A safety net: SIGCHLD can coalesce, so known pids are also polled now and then.</summary>
    public static readonly TimeSpan Sweep = TimeSpan.FromSeconds(1);
    /// <summary>Orphans are looked for on SIGCHLD (a scan of the master's children), and on every this many sweeps.</summary>
    private const int OrphanSweepEvery = 10;

    /// <summary>Worker ids by pid, for the workers not yet reported exited.</summary>
    private readonly Dictionary<int, long> _workerOfPid = [];
    /// <summary>Reaped workers whose exit is being reported (after their last output lines): never signalled again, their pid may be reused.</summary>
    private readonly HashSet<int> _exiting = [];
    private int _sweeps;

    /// <summary>Workers not yet reported exited.</summary>
    public IReadOnlyCollection<int> WorkerPids => _workerOfPid.Keys;

    public void Started(int pid, long workerId) => _workerOfPid[pid] = workerId;

    /// <summary>Reaped, and its pid perhaps another process's already: it must not be signalled.</summary>
    public bool IsExiting(int pid) => _exiting.Contains(pid);

    /// <summary>The supervisor has been told of the exit.</summary>
    public void Reported(int pid)
    {
        _exiting.Remove(pid);
        _workerOfPid.Remove(pid);
    }

    public void Reap(bool signalled)
    {
        files.ReplaceJanitorIfGone();
        foreach (var (pid, workerId) in _workerOfPid.ToList())
        {
            if (_exiting.Contains(pid) || Processes.TryReapGroup(pid) is not { } status) continue;
            _exiting.Add(pid);
            files.UnlistWorker(pid);
            _ = ReportExit(pid, workerId, status);
        }
        successors.Reap();
        // Scanning the children costs a few reads of /proc: on SIGCHLD, and now and then in case one was missed.
        if (orphans is not null && (signalled || ++_sweeps % OrphanSweepEvery == 0))
        {
            foreach (var orphan in orphans.Reap(OwnChildren())) log.Info("reap", $"reaped orphan pid {orphan}");
        }
    }

    /// <summary>The children this master started itself: workers not yet reported exited, janitor, new masters of upgrades.</summary>
    private HashSet<int> OwnChildren() => new(_workerOfPid.Keys.Concat(successors.Children)) { files.Janitor };

    private async Task ReportExit(int pid, long workerId, ExitStatus status)
    {
        IReadOnlyList<string> lines;
        try { lines = await io.LastLinesAsync(workerId); }
        catch (Exception) { lines = []; }
        post(new WorkerExited(pid, status, lines));
    }
}
