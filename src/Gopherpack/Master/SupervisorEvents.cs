using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>Everything that reaches the master's event loop. Handled one at a time, in order.</summary>
internal abstract record LoopEvent;

/// <summary>The loop's events that the <see cref="Supervisor"/> decides on.</summary>
internal abstract record SupervisorEvent : LoopEvent;

internal sealed record StartRequested : SupervisorEvent;
/// <summary>How urgent a stop is. A repeated graceful stop never cuts a drain short.</summary>
internal enum StopMode
{
    /// <summary>SIGTERM, SIGINT, <c>gopherpack stop</c>: stop signal, SIGKILL after stop.timeout.</summary>
    Graceful,
    /// <summary>SIGQUIT: graceful the first time; while already stopping, kills the remaining workers.</summary>
    KillIfStopping,
    /// <summary><c>gopherpack stop --force</c>: kills every worker at once.</summary>
    KillNow,
}

/// <param name="Done">Called once the master has stopped every worker (or at once if it is not running).</param>
internal sealed record StopRequested(string Reason, Action? Done = null, StopMode Mode = StopMode.Graceful) : SupervisorEvent;
/// <param name="Output">The worker's last output lines, read after the exit.</param>
internal sealed record WorkerExited(int Pid, ExitStatus Status, IReadOnlyList<string>? Output = null) : SupervisorEvent;
/// <summary>One sd_notify datagram from the worker that owns the notify socket it arrived on.</summary>
internal sealed record WorkerNotified(long WorkerId, string Message) : SupervisorEvent;
internal sealed record ReadyDeadline(long WorkerId) : SupervisorEvent;
internal sealed record ReadyDelayElapsed(long WorkerId) : SupervisorEvent;
internal sealed record RestartDue(int Slot, long Attempt) : SupervisorEvent;
/// <summary>A worker asked to stop has had its stop timeout: kill it if it is still there.</summary>
internal sealed record StopDeadline(long WorkerId) : SupervisorEvent;
internal sealed record WatchdogCheck(long WorkerId) : SupervisorEvent;
/// <param name="SlotCpus">One entry per slot of the new generation (its CPU, or null when unpinned).</param>
internal sealed record ReloadRequested(PackManifest Manifest, IReadOnlyList<int?> SlotCpus, ReloadStrategy Strategy, Action<ReloadOutcome> Respond) : SupervisorEvent;
/// <param name="SlotCpus">One entry per slot after scaling.</param>
internal sealed record ScaleRequested(IReadOnlyList<int?> SlotCpus, Action<ScaleResult> Respond) : SupervisorEvent;
/// <summary>SIGTTIN (+1) or SIGTTOU (-1).</summary>
internal sealed record ScaleStepRequested(int Step, string Source) : SupervisorEvent;
/// <summary>A reload refused before it began (invalid or missing manifest): recorded as the last reload and logged.</summary>
internal sealed record ReloadRejected(ReloadOutcome Result, string Why) : SupervisorEvent;

/// <summary><c>gopherpack upgrade</c> or SIGUSR2: replace the master itself.</summary>
/// <param name="Executable">The new master's program (a native gopherpack, or a gopherpack.dll run with dotnet); null: this master's own.</param>
internal sealed record UpgradeRequested(string? Executable, TimeSpan Timeout, string RequestedBy, Action<UpgradeOutcome> Respond) : SupervisorEvent;

/// <summary>
/// What an upgrade's new master says on its status pipe (see <see cref="Upgrade.UpgradeHandshake"/>), and what
/// becomes of it. <c>Child</c> is the process this master started: the new master, or a wrapper script that runs it.
/// </summary>
internal abstract record SuccessorEvent(int Child) : SupervisorEvent;
/// <summary><c>pid PID</c>: the new master names itself (another pid than the child when a wrapper started it).</summary>
internal sealed record SuccessorNamed(int Child, int MasterPid) : SuccessorEvent(Child);
/// <summary><c>ready</c>: its first generation is ready; it waits for <c>commit</c>.</summary>
internal sealed record SuccessorReady(int Child) : SuccessorEvent(Child);
/// <summary><c>taken GENERATION</c>: it holds the pid file and control socket; the pack is its own.</summary>
internal sealed record SuccessorTookOver(int Child, int? Generation) : SuccessorEvent(Child);
/// <summary><c>failed REASON</c>: its first generation did not come up.</summary>
internal sealed record SuccessorFailed(int Child, string Reason) : SuccessorEvent(Child);
/// <summary>Its status pipe closed (<paramref name="Exit"/> null) or the child was reaped.</summary>
internal sealed record SuccessorExited(int Child, ExitStatus? Exit) : SuccessorEvent(Child);
/// <summary>The upgrade's --timeout has passed.</summary>
internal sealed record UpgradeTimedOut(int Child) : SuccessorEvent(Child);
/// <summary>A new master told to commit has not taken over in <c>Supervisor.TakeoverGrace</c>: it hangs, and is killed.</summary>
internal sealed record TakeoverOverdue(int Child) : SuccessorEvent(Child);
/// <summary>A new master told to stop has had its stop.timeout and some: kill it if it is still there.</summary>
internal sealed record SuccessorKillDue(int Child) : SuccessorEvent(Child);

/// <summary>How an upgrade ended: the master that serves now, and on failure why.</summary>
/// <param name="Refused">Not started because the pack was busy, starting or stopping, as opposed to failed.</param>
internal sealed record UpgradeOutcome(bool Ok, int? NewPid, int? Generation, TimeSpan Duration, string? Error = null, bool Refused = false);

/// <summary>How a reload ended: which generation serves, how long it took, and on failure why.</summary>
internal sealed record ReloadOutcome(
    bool Ok,
    int Generation,
    ReloadStrategy Strategy,
    TimeSpan Duration,
    string? Error = null,
    int? FailedSlot = null,
    int? FailedPid = null,
    IReadOnlyList<string>? Output = null,
    bool Refused = false);

/// <param name="Refused">Not started because another operation runs (busy), as opposed to failed.</param>
internal sealed record ScaleResult(bool Ok, int Workers, string? Error = null, bool Refused = false);
