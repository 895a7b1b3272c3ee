using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>Everything that reaches the master's event loop. Handled one at a time, in order.</summary>
internal abstract record SupervisorEvent;

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
