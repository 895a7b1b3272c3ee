using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master.Upgrade;

namespace Gopherpack.Master;

/// <summary>
/// How a master whose pack has stopped exits. During or after an upgrade another master may still be stopping its
/// own workers: this master waits for it (polling; the loop carries on) before it ends what is left and exits, so a
/// stop returns once both masters' workers are gone, and neither master takes the other for a stray. What is left:
/// processes outside the workers still holding the pack's sockets, and children orphaned below the workers.
/// </summary>
internal sealed class MasterExit(
    MasterEventLoop loop,
    Supervisor supervisor,
    ChildReaper reaper,
    MasterRuntimeFiles files,
    SuccessorProcesses successors,
    UpgradeSuccessor? asSuccessor,
    GenerationStore generations,
    bool endsOrphans,
    SystemdNotifier notifier,
    IMasterLog log)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int? _pending;
    /// <summary>SIGQUIT or <c>stop --force</c> came: passed on to the other master of an upgrade once this one waits for it.</summary>
    private bool _forced;
    private DateTimeOffset _deadline;
    private string? _waitingFor;

    /// <summary>Set once the master may leave its loop: its exit code.</summary>
    public int? Code { get; private set; }

    /// <summary>Completes once this master may exit (after waiting for the other master of an upgrade).</summary>
    public Task Exited => _exited.Task;

    /// <summary>What stop found and killed: processes outside the workers still holding the pack's sockets, orphans.</summary>
    public IReadOnlyList<string> StopNotes { get; private set; } = [];

    private static DateTimeOffset Now => DateTimeOffset.UtcNow;

    /// <summary>How long a stopped master waits for the other master of an upgrade: its stop.timeout, and some to exit.</summary>
    private TimeSpan Wait => TimeSpan.FromSeconds(Math.Max(supervisor.Manifest.Stop.Timeout.TotalSeconds, asSuccessor?.PredecessorStopTimeout?.TotalSeconds ?? 0)) + TimeSpan.FromSeconds(10);

    /// <summary>The supervisor is done with the pack.</summary>
    public void Begin(int code)
    {
        if (_pending is not null || Code is not null) return;
        _pending = code;
        _deadline = Now + Wait;
        if (_forced) ForwardForcedStop();
        ExitWhenAlone();
    }

    /// <summary>SIGQUIT while stopping, or <c>stop --force</c>: the other master of an upgrade is told so too, once this one waits for it.</summary>
    public void Force()
    {
        _forced = true;
        ForwardForcedStop();
    }

    /// <summary>
    /// The other master this one waits for at exit: a failed or abandoned upgrade's new master (a child, told to stop:
    /// it drains its workers within its stop.timeout), or, for a new master that took over, the old master while its
    /// workers drain (an ancestor: it started this one, perhaps through a wrapper script).
    /// </summary>
    private string? OtherMasterStopping()
    {
        if (successors.StoppedSuccessor is { } successor) return $"the new master (pid {successors.MasterOf(successor)}), told to stop with this pack while it took over";
        if (successors.FailedChildren.FirstOrDefault() is > 0 and var child) return $"the new master of an abandoned upgrade (pid {child})";
        if (asSuccessor is { TookOver: true, PredecessorStopping: false } && ChildProcesses.AncestorsOfSelf().Contains(asSuccessor.From))
            return $"master pid {asSuccessor.From}, whose workers drain since the upgrade";
        return null;
    }

    private void ExitWhenAlone()
    {
        if (_pending is not { } code || Code is not null) return;
        if (OtherMasterStopping() is { } other)
        {
            if (Now < _deadline)
            {
                if (_waitingFor != other) log.Info("stop", $"waiting for {other} to stop (at most {Duration.Format(_deadline - Now)})");
                _waitingFor = other;
                _ = Task.Delay(Poll).ContinueWith(_ => loop.OnLoop(ExitWhenAlone), TaskScheduler.Default);
                return;
            }
            log.Warn("stop", $"{other} is still there after {Duration.Format(Wait)}; this master exits without it");
        }
        var notes = new List<string>();
        // Every worker has been reaped (its group killed); what still holds a socket escaped the group.
        // Not after a handover, nor during an upgrade: then another master and its workers hold the same sockets.
        // The masters above this one (an old master that started it, a wrapper script between them) are no strays.
        // Nor when the old master stops the pack with this one: its workers may still drain.
        if (files.Owned && !successors.Children.Any() && asSuccessor is not { PredecessorStopping: true })
            notes.AddRange(StraySocketHolders.KillAll(generations.AllListeners,
                new HashSet<int>(supervisor.LivePids.Concat(successors.Children).Concat(ChildProcesses.AncestorsOfSelf())) { Environment.ProcessId, files.Janitor }, log));
        // What else is still a child was orphaned below the workers (or is a failed upgrade's new master). A new
        // master that took over is never touched: from the handover on, the pack is its.
        if (endsOrphans)
        {
            var own = new HashSet<int>(reaper.WorkerPids) { files.Janitor };
            if (successors.Successor is { } successor) own.Add(successor);
            notes.AddRange(OrphanedProcesses.EndAll(own, pid => successors.Children.Contains(pid) ? "the new master of a failed upgrade" : null, log,
                endsByItself: RuntimeJanitor.IsJanitor));
        }
        StopNotes = notes;
        if (notifier.DroppedMessages is var dropped and > 0)
            log.Warn("notify", $"{dropped} sd_notify message(s) to NOTIFY_SOCKET were dropped: the service manager did not read them");
        Code = code;
        _exited.TrySetResult();
    }

    private void ForwardForcedStop()
    {
        if (_pending is null) return;
        // Told to stop with this pack while it took over: told through the commit pipe, which it reads until it exits.
        successors.ForceAfterCommit();
        // The new master itself, not a wrapper script around it: the wrapper would die first, and reaping it kill its group.
        foreach (var child in successors.FailedChildren.Where(c => c != successors.StoppedSuccessor)) Processes.Signal(successors.MasterOf(child), SignalNames.SIGQUIT);
        if (asSuccessor is { TookOver: true } && ChildProcesses.AncestorsOfSelf().Contains(asSuccessor.From))
            Processes.Signal(asSuccessor.From, SignalNames.SIGQUIT);
    }
}
