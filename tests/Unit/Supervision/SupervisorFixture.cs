using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>
/// The one fixture of the supervisor's decision tests: a <see cref="RecordingHost"/> on a clock the test moves, the
/// pack's manifest, and the moves every test makes (start, workers ready, a reload). A test class derives from it and
/// gives its own manifest where its restart or stop settings matter.
/// </summary>
public abstract class SupervisorFixture
{
    protected const int SIGTERM = 15, SIGKILL = 9, SIGQUIT = 3;

    private protected RecordingHost Host { get; } = new();

    /// <summary>Every reload's result, in order.</summary>
    private protected List<ReloadOutcome> Reloads { get; } = [];

    /// <summary>The bare pack: its name, manifest path, command and working directory, every other setting the default.</summary>
    private protected static PackManifest Bare(string command = "/bin/v1") =>
        new() { Name = "unit", ManifestPath = "/app.yml", Command = command, WorkingDirectory = "/" };

    /// <summary>Backoff from 100 ms to 1 s, <paramref name="limitRestarts"/> restarts a minute, SIGTERM with 5 s to stop.</summary>
    private protected static PackManifest Standard(string command = "/bin/v1", int limitRestarts = 3) => Bare(command) with
    {
        Restart = new RestartSpec { BackoffInitial = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1), LimitRestarts = limitRestarts, LimitWindow = TimeSpan.FromSeconds(60) },
        Stop = new StopSpec { Signal = SIGTERM, Timeout = TimeSpan.FromSeconds(5) },
    };

    /// <summary>The manifest a test class starts its packs from.</summary>
    private protected virtual PackManifest Manifest() => Standard();

    private protected static IReadOnlyList<int?> Cpus(int workers) => Enumerable.Range(0, workers).Select(i => (int?)i).ToList();

    /// <summary>A supervisor told to start: its workers launched, none ready yet.</summary>
    private protected Supervisor Started(int workers = 2, PackManifest? manifest = null)
    {
        var supervisor = new Supervisor(manifest ?? Manifest(), Cpus(workers), Host);
        supervisor.Handle(new StartRequested());
        return supervisor;
    }

    /// <summary>A started supervisor whose workers are all ready: the pack runs.</summary>
    private protected Supervisor Running(int workers = 2, PackManifest? manifest = null)
    {
        var supervisor = Started(workers, manifest);
        ReadyAll(supervisor);
        Assert.Equal(PackState.Running, supervisor.State);
        return supervisor;
    }

    private protected static void Notify(Supervisor supervisor, WorkerProcess worker, string message) =>
        supervisor.Handle(new WorkerNotified(worker.Id, message));

    private protected static void Ready(Supervisor supervisor, WorkerProcess worker) => Notify(supervisor, worker, "READY=1");

    /// <summary>Every worker still starting says READY=1.</summary>
    private protected static void ReadyAll(Supervisor supervisor)
    {
        foreach (var worker in supervisor.Workers.Where(w => w.State == WorkerState.Starting).ToList()) Ready(supervisor, worker);
    }

    private protected static WorkerProcess InSlot(Supervisor supervisor, int slot) => supervisor.Slots[slot].Worker!;

    private protected static List<WorkerProcess> OfGeneration(Supervisor supervisor, int generation) =>
        supervisor.Workers.Where(w => w.Generation == generation).OrderBy(w => w.Slot).ToList();

    /// <summary>A reload to <paramref name="manifest"/>; its result goes to <see cref="Reloads"/>.</summary>
    private protected void Reload(Supervisor supervisor, PackManifest manifest, ReloadStrategy strategy = ReloadStrategy.Surge, int workers = 2) =>
        supervisor.Handle(new ReloadRequested(manifest, Cpus(workers), strategy, Reloads.Add));

    private protected static void Exited(Supervisor supervisor, WorkerProcess worker, ExitStatus status) =>
        supervisor.Handle(new WorkerExited(worker.Pid, status));
}
