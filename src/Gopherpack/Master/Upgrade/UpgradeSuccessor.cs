using System.Text;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Microsoft.Win32.SafeHandles;

namespace Gopherpack.Master.Upgrade;

/// <summary>What an upgrade's new master needs of its host to hand its pack over.</summary>
internal interface ISuccessorHost
{
    IMasterLog Log { get; }
    /// <summary>Read only on the loop.</summary>
    Supervisor Supervisor { get; }
    Linux.SystemdNotifier Notifier { get; }
    void OnLoop(Action run);
    void Post(LoopEvent e);
    /// <summary>The pid file and control socket become this master's, and it serves the metrics.</summary>
    void TakeOverRuntimeFiles();
}

/// <summary>
/// The new master's side of an upgrade. It serves nothing of its own until its whole generation is
/// ready; then it says <c>ready</c>, waits for the old master's <c>commit</c>, takes over the pid file
/// and control socket, tells systemd its MAINPID, and answers <c>taken</c>. If its workers fail first it
/// says <c>failed REASON</c> and stops; if the old master aborts (EOF on the commit pipe) it stops too.
/// </summary>
internal sealed class UpgradeSuccessor
{
    private readonly UpgradeHandover _handover;
    private readonly ISuccessorHost _host;
    private readonly FileStream _status;
    private bool _finished;

    public UpgradeSuccessor(UpgradeHandover handover, ISuccessorHost host)
    {
        _handover = handover;
        _host = host;
        _status = new FileStream(new SafeFileHandle(handover.StatusFd, ownsHandle: true), FileAccess.Write, 1);
        // The old master started a program that may not be this one: a wrapper script that runs it without exec.
        Write(UpgradeHandshake.PidLine(Environment.ProcessId));
    }

    /// <summary>The old master this one replaces.</summary>
    public int From => _handover.From;

    /// <summary>How long the old master's workers may drain after the hand-over (its stop.timeout); null from an older master.</summary>
    public TimeSpan? PredecessorStopTimeout => _handover.StopTimeoutSeconds is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : null;

    public bool TookOver { get; private set; }

    /// <summary>Set when the upgrade did not complete: the master exits with code 3.</summary>
    public string? Failure { get; private set; }

    private IMasterLog Log => _host.Log;

    /// <summary>Every worker of this master's first generation is ready (on the loop).</summary>
    public void OnPackReady(TimeSpan elapsed)
    {
        Log.Info("upgrade", $"generation {_host.Supervisor.Generation} ready in {Duration.Format(elapsed)}; asking master pid {From} to hand over");
        if (!Write(UpgradeHandshake.Ready))
        {
            Abort($"master pid {From} went away before the hand-over");
            return;
        }
        _ = WaitForCommit();
    }

    /// <summary>The first generation failed to start: tell the old master why, then stop.</summary>
    public void Fail(string reason)
    {
        if (_finished) return;
        Failure = reason;
        Write(UpgradeHandshake.FailedLine(reason));
        Finish();
    }

    private async Task WaitForCommit()
    {
        var committed = false;
        void Abandoned() => _host.OnLoop(() => Abort($"master pid {From} abandoned the upgrade (timeout, stop or failure; see its log)"));
        try
        {
            using var commit = new System.IO.Pipes.AnonymousPipeClientStream(System.IO.Pipes.PipeDirection.In, new SafePipeHandle(_handover.CommitFd, ownsHandle: true));
            using var reader = new StreamReader(commit, Encoding.UTF8);
            if (await reader.ReadLineAsync() != UpgradeHandshake.Commit)
            {
                Abandoned();
                return;
            }
            committed = true;
            _host.OnLoop(TakeOver);
            // After the commit the old master says only "stop" or "force" (the pack was stopped while this master took
            // over), or closes its end when it exits.
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line == UpgradeHandshake.Stop) _host.OnLoop(() => StopWithPredecessor(StopMode.Graceful));
                else if (line == UpgradeHandshake.Force) _host.OnLoop(() => StopWithPredecessor(StopMode.KillNow));
            }
        }
        catch (IOException)
        {
            // The old master's end is gone: before the commit that is an abort; after it, the old master has exited.
            if (!committed) Abandoned();
        }
    }

    /// <summary>
    /// The old master was told to stop the pack while this one took over: this master stops its workers too. The old
    /// master waits for this one, so this one does not wait for it (<see cref="PredecessorStopping"/>).
    /// </summary>
    private void StopWithPredecessor(StopMode mode)
    {
        PredecessorStopping = true;
        Log.Info("upgrade", $"master pid {From} was told to stop the pack while this master took over: stopping too");
        _host.Post(new StopRequested($"master pid {From} is stopping the pack{(mode == StopMode.KillNow ? " (--force)" : "")}", Mode: mode));
    }

    /// <summary>The old master stops the pack with this one and waits for it: this one must not wait for the old one.</summary>
    public bool PredecessorStopping { get; private set; }

    private void TakeOver()
    {
        if (_finished) return;
        _host.TakeOverRuntimeFiles();
        TookOver = true;
        var generation = _host.Supervisor.Generation;
        _host.Notifier.Unsilence();
        _host.Notifier.Ready($"serving generation {generation} with {_host.Supervisor.Slots.Count} worker(s); upgraded from master pid {From}", mainPid: Environment.ProcessId);
        Log.Info("upgrade", $"took over from master pid {From}: pid file and control socket are this master's (pid {Environment.ProcessId})");
        Write(UpgradeHandshake.TakenLine(generation));
        Finish();
    }

    private void Abort(string reason)
    {
        if (_finished) return;
        Failure = reason;
        Log.Error("upgrade", reason + "; stopping this new master");
        Finish();
        _host.Post(new StopRequested("upgrade abandoned"));
    }

    private void Finish()
    {
        _finished = true;
        _status.Dispose();
    }

    private bool Write(string line) => UpgradeHandshake.TryWriteLine(_status, line);
}
