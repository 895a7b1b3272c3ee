using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master.Upgrade;

namespace Gopherpack.Master;

/// <summary>
/// The old master's decisions in an upgrade of the master. It starts a new master with every listening socket
/// (through the host), keeps serving meanwhile, and commits only when the new master's generation is ready: then the
/// new master takes over the pid file and control socket, and this pack stops (its workers drain). If the new master
/// fails, exits or is not ready in time, it is told to stop and this pack serves on.
/// </summary>
internal sealed partial class Supervisor
{
    /// <summary>How long a new master told to stop may take beyond its workers' stop.timeout before it is killed.</summary>
    private static readonly TimeSpan SuccessorStopGrace = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How long a new master told to commit may take to rename two files and answer. --timeout no longer applies then
    /// (it may be taking over); one that has not answered by this is hung, and is killed.
    /// </summary>
    internal static readonly TimeSpan TakeoverGrace = TimeSpan.FromSeconds(10);

    private void BeginUpgrade(UpgradeRequested request)
    {
        if (Refusal() is { } refusal)
        {
            Log.Warn("upgrade", $"refused ({request.RequestedBy}): {refusal}");
            request.Respond(new UpgradeOutcome(false, null, null, TimeSpan.Zero, refusal, Refused: true));
            return;
        }
        StartedSuccessor started;
        try
        {
            started = _host.StartSuccessor(request.Executable);
        }
        catch (UpgradeException e)
        {
            Log.Error("upgrade", $"upgrade failed ({request.RequestedBy}): {e.Message}");
            request.Respond(new UpgradeOutcome(false, null, null, TimeSpan.Zero, e.Message));
            return;
        }
        _operation = new UpgradeOperation(_host.Now, started.Pid, request);
        Log.Info("upgrade", $"starting new master pid {started.Pid} ({string.Join(' ', started.Command)}; {request.RequestedBy}); generation {Generation} serves meanwhile, timeout {Duration.Format(request.Timeout)}");
        _host.NotifyReloading($"upgrading: new master pid {started.Pid} starting");
        _host.After(request.Timeout, new UpgradeTimedOut(started.Pid));
    }

    private void OnSuccessor(SuccessorEvent e)
    {
        if (e is SuccessorKillDue due)
        {
            _host.KillSuccessor(due.Child);
            return;
        }
        // Late news of an upgrade that has ended (its new master's exit after it failed, a timer) changes nothing.
        if (CurrentUpgrade is not { } upgrade || upgrade.Child != e.Child) return;
        switch (e)
        {
            case SuccessorNamed named when named.MasterPid > 0 && named.MasterPid != upgrade.Child:
                upgrade.MasterPid = named.MasterPid;
                Log.Info("upgrade", $"the new master is {upgrade.Name}");
                break;
            case SuccessorReady:
                upgrade.Committed = true;
                Log.Info("upgrade", $"new master {upgrade.Name} is ready after {Duration.Format(_host.Now - upgrade.StartedAt)}; handing over");
                if (!_host.CommitSuccessor(upgrade.Child)) FailUpgrade(upgrade, $"the new master ({upgrade.Name}) went away while taking over");
                else _host.After(TakeoverGrace, new TakeoverOverdue(upgrade.Child));
                break;
            case TakeoverOverdue when upgrade.Committed:
                upgrade.Overdue = true;
                Log.Warn("upgrade", $"the new master ({upgrade.Name}) has not taken over {Duration.Format(TakeoverGrace)} after the commit: killing it");
                _host.KillSuccessor(upgrade.Child);
                break;
            case SuccessorExited when upgrade.Overdue:
                FailUpgrade(upgrade, $"the new master ({upgrade.Name}) had not taken over {Duration.Format(TakeoverGrace)} after the commit and was killed");
                break;
            // Killed as overdue, it may still have answered before the kill: its exit decides, and the files are taken back.
            case SuccessorTookOver took when !upgrade.Overdue:
                SucceedUpgrade(upgrade, took.Generation);
                break;
            case SuccessorFailed failed:
                FailUpgrade(upgrade, failed.Reason);
                break;
            case SuccessorExited { Exit: { } exit }:
                FailUpgrade(upgrade, $"the new master (pid {upgrade.Child}) exited before it took over ({exit})");
                break;
            case SuccessorExited:
                FailUpgrade(upgrade, $"the new master ({upgrade.Name}) exited before it took over; its output is in the master's log (RUNTIME-DIR/NAME.log for a pack started with 'gopherpack start', else the master's standard error)");
                break;
            // Once committed the new master is only renaming two files: let it finish.
            case UpgradeTimedOut when !upgrade.Committed:
                FailUpgrade(upgrade, $"the new master ({upgrade.Name}) was not ready within {Duration.Format(upgrade.Request.Timeout)} (--timeout)");
                break;
        }
    }

    /// <summary>
    /// A stop after the commit: the new master may own the pid file and control socket already, so abandoning the
    /// upgrade now would leave two masters each waiting for the other to exit. The upgrade goes on; the new master is
    /// told to stop too, once it has taken over, and this master waits for it.
    /// </summary>
    private void StopAfterCommit(UpgradeOperation upgrade, StopMode mode)
    {
        Log.Info("upgrade", $"the new master ({upgrade.Name}) is taking over: it is told to stop with this pack, and this master waits for it");
        _host.StopSuccessorAfterCommit(upgrade.Child, force: mode == StopMode.KillNow);
        _host.After(Manifest.Stop.Timeout + SuccessorStopGrace, new SuccessorKillDue(upgrade.Child));
    }

    private void SucceedUpgrade(UpgradeOperation upgrade, int? generation)
    {
        _operation = null;
        var duration = _host.Now - upgrade.StartedAt;
        Log.Info("upgrade", $"master {upgrade.Name} serves generation {generation} after {Duration.Format(duration)}; this master's workers drain, then it exits");
        upgrade.Request.Respond(new UpgradeOutcome(true, upgrade.MasterPid, generation, duration));
        _host.HandOver(upgrade.Child, upgrade.MasterPid);
        Stop($"replaced by master pid {upgrade.MasterPid}", null, StopMode.Graceful);
    }

    private void FailUpgrade(UpgradeOperation upgrade, string reason)
    {
        _operation = null;
        _host.StopSuccessor(upgrade.Child, upgrade.MasterPid);
        // Told to commit, it may have taken the pid file and control socket before it failed.
        if (upgrade.Committed) _host.ReclaimRuntimeFiles();
        _host.After(Manifest.Stop.Timeout + SuccessorStopGrace, new SuccessorKillDue(upgrade.Child));
        if (State is PackState.Running)
        {
            Log.Error("upgrade", $"upgrade failed: {reason}; this master keeps serving generation {Generation}");
            _host.NotifyReady($"serving generation {Generation}; the last upgrade failed: {reason}");
        }
        else
        {
            Log.Warn("upgrade", $"upgrade abandoned: {reason}");
        }
        upgrade.Request.Respond(new UpgradeOutcome(false, upgrade.MasterPid, null, _host.Now - upgrade.StartedAt, reason));
    }
}
