namespace Gopherpack.Master;

/// <summary>What a new worker is started as.</summary>
internal sealed record WorkerLaunch(long WorkerId, int Slot, int? Cpu, int Generation);

/// <summary>The supervisor's side effects. The real host talks to the OS; unit tests record the calls.</summary>
internal interface ISupervisorHost
{
    DateTimeOffset Now { get; }

    /// <returns>The new worker's pid.</returns>
    /// <exception cref="Linux.SpawnException">It could not be started.</exception>
    int StartWorker(WorkerLaunch launch);

    /// <summary>Sends a signal to the worker's process group.</summary>
    void Signal(int pid, int signal);

    /// <summary>Posts <paramref name="e"/> to the event loop after <paramref name="delay"/>.</summary>
    void After(TimeSpan delay, SupervisorEvent e);

    /// <summary>The worker has been reaped: release its notify socket and output pipes.</summary>
    void ReleaseWorker(long workerId);

    /// <summary>One CPU (or null) per slot for <paramref name="workers"/> workers of <paramref name="manifest"/>.</summary>
    /// <exception cref="WorkerPlanException">The manifest's CPUs cannot be had here.</exception>
    IReadOnlyList<int?> PlanSlots(Manifest.PackManifest manifest, int workers);

    /// <summary>Binds the listeners of a reload's new generation (reusing unchanged ones) and prepares its launcher.</summary>
    /// <returns>Null when ready, else why not (e.g. a new port in use).</returns>
    string? PrepareGeneration(int generation, Manifest.PackManifest manifest, int slots);

    /// <summary>The generation serves: the previous one's listeners that it does not reuse are closed.</summary>
    void CommitGeneration(int generation);

    /// <summary>The generation failed: what was bound for it alone is closed.</summary>
    void AbandonGeneration(int generation);

    /// <summary>Scaling: per-slot (reuseport) sockets are created for new slots and closed for removed ones.</summary>
    void ResizeSlots(int slots);

    /// <summary>Every worker is ready for the first time after start.</summary>
    void PackReady(TimeSpan elapsed);

    /// <summary>The master is done: clean up and exit with this code.</summary>
    void Exit(int code);

    Logging.IMasterLog Log { get; }
}
