namespace Gopherpack.Master;

/// <summary>What a new worker is started as.</summary>
internal sealed record WorkerLaunch(long WorkerId, int Slot, int? Cpu, int Generation);

/// <summary>An upgrade's new master, started: the child's pid and the command line it runs.</summary>
internal sealed record StartedSuccessor(int Pid, IReadOnlyList<string> Command);

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

    /// <summary>
    /// Starts an upgrade's new master with every listening socket and the handshake pipes (see
    /// <see cref="Upgrade.UpgradeHandover"/>); what it says comes back as <see cref="SuccessorEvent"/>s.
    /// </summary>
    /// <param name="executable">Its program; null: this master's own.</param>
    /// <exception cref="Upgrade.UpgradeException">The program is unusable, or it could not be started.</exception>
    StartedSuccessor StartSuccessor(string? executable);

    /// <summary>Tells the new master to take over (<c>commit</c>).</summary>
    /// <returns>False when it has closed its end: it is gone.</returns>
    bool CommitSuccessor(int child);

    /// <summary>
    /// Abandons the upgrade: EOF on the commit pipe, and SIGTERM to the new master itself (<paramref name="masterPid"/>,
    /// not a wrapper script around it), which drains its workers and exits.
    /// </summary>
    void StopSuccessor(int child, int masterPid);

    /// <summary>
    /// The pack is told to stop after the new master was told to commit (it may own the runtime files already): it is
    /// told to stop too, once it has taken over, and this master waits for it before it exits.
    /// </summary>
    /// <param name="force"><c>stop --force</c>: it kills its workers at once.</param>
    void StopSuccessorAfterCommit(int child, bool force);

    /// <summary>
    /// An upgrade failed after the new master was told to commit: it may have renamed its pid file and control socket
    /// over this master's before it died; what is no longer this master's is taken back.
    /// </summary>
    void ReclaimRuntimeFiles();

    /// <summary>SIGKILL to the new master's process group, unless it has been reaped.</summary>
    void KillSuccessor(int child);

    /// <summary>The new master took over: the pid file, control socket and metrics endpoint are its own from now on.</summary>
    void HandOver(int child, int masterPid);

    /// <summary>Tells the service manager a change is under way (sd_notify RELOADING=1 with this status).</summary>
    void NotifyReloading(string status);

    /// <summary>Tells the service manager the pack serves (sd_notify READY=1 with this status).</summary>
    void NotifyReady(string status);

    /// <summary>The master is done: clean up and exit with this code.</summary>
    void Exit(int code);

    Logging.IMasterLog Log { get; }
}
