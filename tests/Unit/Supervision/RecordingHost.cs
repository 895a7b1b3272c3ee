using Gopherpack.Logging;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>An <see cref="ISupervisorHost"/> that records what the supervisor decided, on a clock the test moves.</summary>
internal sealed class RecordingHost : ISupervisorHost, IMasterLog
{
    private int _nextPid = 1000;

    public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public List<WorkerLaunch> Launches { get; } = [];
    public List<(int Pid, int Signal)> Signals { get; } = [];
    public List<(TimeSpan Delay, SupervisorEvent Event)> Timers { get; } = [];
    public List<long> Released { get; } = [];
    public List<string> LogLines { get; } = [];
    public TimeSpan? ReadyAfter { get; private set; }
    public int? ExitCode { get; private set; }
    /// <summary>When set, StartWorker throws this instead of starting.</summary>
    public string? SpawnFailure { get; set; }
    /// <summary>When set, StartWorker throws this (an unexpected failure, not a SpawnException).</summary>
    public Exception? StartFailure { get; set; }

    public IMasterLog Log => this;

    /// <summary>When set, every StartWorker after the first <c>Count</c> throws this (a master out of fds).</summary>
    public (int Count, Linux.SpawnException Failure)? SpawnFailureAfter { get; set; }

    public int StartWorker(WorkerLaunch launch)
    {
        if (SpawnFailure is { } failure) throw new Linux.SpawnException(failure);
        if (SpawnFailureAfter is { } after && Launches.Count >= after.Count) throw after.Failure;
        if (StartFailure is { } unexpected) throw unexpected;
        Launches.Add(launch);
        return _nextPid++;
    }

    public void Signal(int pid, int signal) => Signals.Add((pid, signal));
    public void After(TimeSpan delay, SupervisorEvent e) => Timers.Add((delay, e));
    public void ReleaseWorker(long workerId) => Released.Add(workerId);
    public IReadOnlyList<int?> PlanSlots(Gopherpack.Manifest.PackManifest manifest, int workers) => Enumerable.Range(0, workers).Select(i => (int?)i).ToList();
    public void PackReady(TimeSpan elapsed) => ReadyAfter = elapsed;

    /// <summary>When set, PrepareGeneration fails with this.</summary>
    public string? PrepareFailure { get; set; }
    public List<string> GenerationCalls { get; } = [];
    public List<int> Resizes { get; } = [];

    public string? PrepareGeneration(int generation, Gopherpack.Manifest.PackManifest manifest, int slots)
    {
        GenerationCalls.Add($"prepare {generation} ({slots} slots)");
        return PrepareFailure;
    }

    public void CommitGeneration(int generation) => GenerationCalls.Add($"commit {generation}");
    public void AbandonGeneration(int generation) => GenerationCalls.Add($"abandon {generation}");
    public void ResizeSlots(int slots) => Resizes.Add(slots);
    public void Exit(int code) => ExitCode = code;

    private int _nextSuccessorPid = 5000;
    /// <summary>What the supervisor did with upgrades' new masters, in order ("start 5000", "commit 5000", "stop 5000 5000", ...).</summary>
    public List<string> SuccessorCalls { get; } = [];
    /// <summary>When set, StartSuccessor throws this (an unusable executable, a failed spawn).</summary>
    public string? SuccessorStartFailure { get; set; }
    /// <summary>When set, the new master has closed its commit pipe: CommitSuccessor fails.</summary>
    public bool SuccessorGone { get; set; }
    /// <summary>What the service manager was told (sd_notify): "RELOADING status" or "READY status".</summary>
    public List<string> ServiceManager { get; } = [];

    public StartedSuccessor StartSuccessor(string? executable)
    {
        if (SuccessorStartFailure is { } failure) throw new Gopherpack.Master.Upgrade.UpgradeException(failure);
        var pid = _nextSuccessorPid++;
        SuccessorCalls.Add($"start {pid}");
        return new StartedSuccessor(pid, [executable ?? "/usr/bin/gopherpack"]);
    }

    public bool CommitSuccessor(int child)
    {
        SuccessorCalls.Add($"commit {child}");
        return !SuccessorGone;
    }

    public void StopSuccessor(int child, int masterPid) => SuccessorCalls.Add($"stop {child} {masterPid}");
    public void KillSuccessor(int child) => SuccessorCalls.Add($"kill {child}");
    public void StopSuccessorAfterCommit(int child, bool force) => SuccessorCalls.Add($"{(force ? "force" : "stop")} after commit {child}");
    public void ReclaimRuntimeFiles() => SuccessorCalls.Add("reclaim");
    public void HandOver(int child, int masterPid) => SuccessorCalls.Add($"hand over {child} {masterPid}");
    public void NotifyReloading(string status) => ServiceManager.Add("RELOADING " + status);
    public void NotifyReady(string status) => ServiceManager.Add("READY " + status);

    public void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null) =>
        LogLines.Add($"{level} {@event} slot={slot} pid={pid} {message}");

    /// <summary>Removes and returns the pending timers of type <typeparamref name="T"/>.</summary>
    public List<(TimeSpan Delay, T Event)> TakeTimers<T>() where T : SupervisorEvent
    {
        var taken = Timers.Where(t => t.Event is T).Select(t => (t.Delay, (T)t.Event)).ToList();
        Timers.RemoveAll(t => t.Event is T);
        return taken;
    }
}
