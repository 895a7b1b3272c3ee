using Gopherpack.Linux;

namespace Gopherpack.Master;

/// <summary>Everything that reaches the master's event loop. Handled one at a time, in order.</summary>
public abstract record SupervisorEvent;

public sealed record StartRequested : SupervisorEvent;
public sealed record StopRequested(string Reason) : SupervisorEvent;
public sealed record WorkerExited(int Pid, ExitStatus Status) : SupervisorEvent;
/// <summary>One sd_notify datagram from the worker that owns the notify socket it arrived on.</summary>
public sealed record WorkerNotified(long WorkerId, string Message) : SupervisorEvent;
public sealed record ReadyDeadline(long WorkerId) : SupervisorEvent;
public sealed record ReadyDelayElapsed(long WorkerId) : SupervisorEvent;
public sealed record RestartDue(int Slot, long Attempt) : SupervisorEvent;
public sealed record StopDeadline : SupervisorEvent;
public sealed record WatchdogCheck(long WorkerId) : SupervisorEvent;
