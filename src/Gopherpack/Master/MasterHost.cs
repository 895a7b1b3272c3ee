using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master.Upgrade;
using Gopherpack.Output;
using Gopherpack.Runtime;

namespace Gopherpack.Master;

/// <summary>
/// The running master: it wires the <see cref="Supervisor"/> (every decision) to the parts that carry them out, and is
/// the supervisor's <see cref="ISupervisorHost"/>: starting and signalling workers, timers, generations of listeners,
/// an upgrade's new master. The parts: the event loop (<see cref="MasterEventLoop"/>, fed by <see cref="MasterSignals"/>),
/// the runtime files and janitor (<see cref="MasterRuntimeFiles"/>), reaping (<see cref="ChildReaper"/>), the exit
/// (<see cref="MasterExit"/>), and an upgrade's processes (<see cref="SuccessorProcesses"/>, <see cref="UpgradeSuccessor"/>).
/// </summary>
internal sealed class MasterHost : ISupervisorHost, IControlledPack, ISuccessorHost, IDisposable
{
    private readonly MasterEventLoop _loop;
    private readonly RuntimeDirectory _runtime;
    private readonly GenerationStore _generations;
    private readonly UnixPipe _lifeline;
    private readonly PosixSpawner _spawner = new();
    private readonly NotifyFolders _notifyFolders;
    private readonly WorkerIo _io;
    private readonly MasterRuntimeFiles _files;
    private readonly ChildReaper _reaper;
    private readonly MasterExit _exit;
    private readonly Supervisor _supervisor;
    private readonly SuccessorProcesses _successors;
    /// <summary>This master's side of the upgrade that started it; null for a master started otherwise.</summary>
    private readonly UpgradeSuccessor? _asSuccessor;
    private readonly Metrics.PackMetrics _metrics;
    private readonly MetricsEndpoint _metricsEndpoint;
    /// <summary>metrics.otlp as this master started with it (a reload does not change it).</summary>
    private readonly Metrics.OtlpPusher? _otlp;
    private readonly OtlpSpec? _otlpSpec;
    private bool _otlpWarned;
    private readonly Metrics.CpuRates _cpuRates = new();
    private MasterSignals? _signals;

    public MasterHost(PackManifest manifest, RuntimeDirectory runtime, ListenerSet listeners, IReadOnlyList<int?> slotCpus, IMasterLog log, MasterOptions? options = null)
    {
        options ??= new MasterOptions();
        _runtime = runtime;
        Log = log;
        _loop = new MasterEventLoop(log);
        _notifyFolders = new NotifyFolders(runtime, manifest.Name);
        _io = new WorkerIo(_notifyFolders.Path, MasterOutput.Standard, (id, message) => Post(new WorkerNotified(id, message)),
            (_, why) => Log.Warn("notify", why));
        _lifeline = new UnixPipe();
        _generations = new GenerationStore(_lifeline.ReadFd);
        var generation = options.Handover is { } handover ? handover.Generation + 1 : 1;
        var launcher = _generations.Begin(generation, manifest, listeners);
        if (!launcher.HasDeathSignal) log.Warn("setup", "util-linux setpriv not found: workers that ignore the lifeline fd will outlive a killed master");
        _asSuccessor = options.Handover is { } from ? new UpgradeSuccessor(from, this) : null;
        if (_asSuccessor is not null) Notifier.Silence();
        _supervisor = new Supervisor(manifest, slotCpus, this, generation)
        {
            StartFailed = _asSuccessor is null ? null : _asSuccessor.Fail,
            ScaledWorkers = options.ScaledWorkers,
        };
        _metrics = new Metrics.PackMetrics(_supervisor.Counters);
        _metricsEndpoint = new MetricsEndpoint(manifest.MetricsAddress, options.MetricsSocket, _metrics, log);
        _otlpSpec = manifest.Otlp;
        _otlp = manifest.Otlp is { } otlp ? new Metrics.OtlpPusher(otlp, _metrics, log, Now) : null;
        var endsOrphans = false;
        if (options.AdoptOrphans)
        {
            if (OrphanReaper.BecomeSubreaper() is { } problem)
                log.Warn("setup", $"cannot become a child subreaper ({problem}): processes orphaned below the workers go to init and are not ended at stop");
            else
                endsOrphans = true;
        }
        // As PID 1 orphans come to this process anyway; a host program's own children are then reaped too (the runtime does as much).
        var orphans = endsOrphans || Environment.ProcessId == 1 ? new OrphanReaper() : null;
        _files = new MasterRuntimeFiles(runtime, manifest.Name, _notifyFolders.Path, _generations, options.PidFile, owned: options.Handover is null,
            _spawner, _lifeline.ReadFd, log);
        _successors = new SuccessorProcesses(_spawner, options.SelfCommand, Post, _files.DeleteControlSocketOf, log);
        _reaper = new ChildReaper(_io, _files, _successors, orphans, Post, log);
        _exit = new MasterExit(_loop, _supervisor, _reaper, _files, _successors, _asSuccessor, _generations, endsOrphans, Notifier, log);
    }

    public Supervisor Supervisor => _supervisor;
    public IMasterLog Log { get; }
    public DateTimeOffset Now => DateTimeOffset.UtcNow;
    public SystemdNotifier Notifier { get; } = SystemdNotifier.FromEnvironment();
    /// <summary>The pack's metrics, for scrapes and <c>gopherpack metrics</c>: readable from any thread.</summary>
    public Metrics.PackMetrics Metrics => _metrics;
    /// <summary>The listeners the serving generation's workers inherit.</summary>
    public ListenerSet Listeners => _generations.ServingListeners;

    /// <summary>Started as an upgrade's new master and never took over (failed, abandoned, or stopped first): it exits 3.</summary>
    public bool UpgradeNotCompleted => _asSuccessor is { TookOver: false };

    /// <summary>Why this master gives up: an upgrade it was started for did not complete (exit 3).</summary>
    public string? UpgradeFailure => _asSuccessor?.Failure;

    public IReadOnlyList<string> StopNotes => _exit.StopNotes;
    public Task Exited => _exit.Exited;

    /// <summary>Runs the pack until it stops; returns the master's exit code.</summary>
    public async Task<int> RunAsync()
    {
        // 'gopherpack run' took back what it inherited before the runtime looked (InheritedSignals). Not here: in a host
        // program the runtime may already count an ignored signal as handled, and a default disposition would kill the host.
        if (InheritedSignals.UndoneSoFar() is { Count: > 0 } undone)
            Log.Info("setup", $"took back signals this master inherited: {string.Join(", ", undone)}");
        var dispatcher = new ControlDispatcher(this);
        _signals = new MasterSignals(_loop, dispatcher, Log);
        if (InheritedSignals.NotHandled() is { Count: > 0 } unhandled)
            Log.Warn("setup", $"{string.Join(", ", unhandled)} in this process (inherited from the program that started it, which set them before .NET did): signals sent to this master may be lost");
        using var sweep = new Timer(_ => Post(new ReapRequested(Signalled: false)), null, ChildReaper.Sweep, ChildReaper.Sweep);
        // A new master binds its control socket beside the old one's and renames it into place when it takes over: no moment without one.
        await using var control = new Control.ControlServer(_runtime.ControlSocket(_supervisor.Manifest.Name), Libc.geteuid(), dispatcher.HandleAsync, Log,
            bindPath: _asSuccessor is null ? null : _files.ControlSocketOf(Environment.ProcessId));
        _files.Attach(control);
        PublishMetrics();
        await using var metrics = _metricsEndpoint;
        await using var otlp = _otlp;
        // An upgrade's new master serves metrics.address (and pushes) from when it takes over; until then the old master does.
        if (_asSuccessor is null)
        {
            _metricsEndpoint.Start();
            _otlp?.Start();
        }

        Post(new StartRequested());
        await _loop.RunAsync(Handle, AfterBatch, () => _exit.Code is not null);
        // Replies still being written (the one to 'stop' above all) go out before the socket closes.
        await control.FlushAsync(TimeSpan.FromSeconds(1));
        return _exit.Code ?? 1;
    }

    private void Handle(LoopEvent e)
    {
        switch (e)
        {
            case ReapRequested reap:
                _reaper.Reap(reap.Signalled);
                break;
            case SuccessorNamed named:
                _successors.Named(named);
                _supervisor.Handle(named);
                break;
            case StopRequested stop:
                var stopping = _supervisor.State is PackState.Stopping or PackState.Stopped;
                if (stop.Mode == StopMode.KillNow || (stop.Mode == StopMode.KillIfStopping && stopping)) _exit.Force();
                if (!stopping) Notifier.Stopping($"stopping: {stop.Reason}");
                _supervisor.Handle(stop);
                break;
            case WorkerExited exited:
                _reaper.Reported(exited.Pid);
                _supervisor.Handle(exited);
                break;
            case SupervisorEvent other:
                _supervisor.Handle(other);
                break;
        }
    }

    private void AfterBatch()
    {
        _files.UpdateIfStale();
        PublishMetrics();
    }

    public void Post(LoopEvent e) => _loop.Post(e);
    public void OnLoop(Action run) => _loop.OnLoop(run);
    public Task<T> OnLoop<T>(Func<T> read) => _loop.OnLoop(read);

    /// <summary>What scrapes see from now on (cheap: counts and references, no /proc reads).</summary>
    private void PublishMetrics()
    {
        try { _metrics.Publish(global::Gopherpack.Metrics.MetricsSnapshot.Of(_supervisor, Listeners)); }
        catch (Exception e) { Log.Error("metrics", $"publishing the metrics snapshot failed: {e.Message}"); }
    }

    public Control.PackStatus Status() => PackStatusBuilder.Build(_supervisor, Listeners, _cpuRates);

    // ---- ISupervisorHost: workers ----

    public int StartWorker(WorkerLaunch launch)
    {
        var launcher = _generations.LauncherOf(launch.Generation);
        if (launcher.DropsTo is not null) _notifyFolders.OpenToWorkers();
        var manifest = launcher.Manifest;
        using var gate = new UnixPipe();
        var pid = _io.Start(launch.WorkerId,
            pid => manifest.WorkerLogs == WorkerLogMode.Prefix ? $"[{manifest.Name}/{launch.Slot} {pid}] " : null,
            (notifyPath, stdoutFd, stderrFd) => _spawner.Spawn(launcher.Build(launch, notifyPath, stdoutFd, stderrFd, gate.ReadFd)),
            launcher.DropsTo);
        gate.CloseRead();
        _reaper.Started(pid, launch.WorkerId);
        // Not reaped yet, so the pid is still this worker's: its start time names it for the janitor.
        if (ProcessStat.Read(pid) is { } stat)
            _files.ListWorker(new JanitorWorker(pid, stat.StartTime, SignalNames.Name(manifest.Stop.Signal)[3..], manifest.Stop.Timeout));
        // Only now may the worker's command run (see WorkerLauncher.Build): a kill before this leaves no unlisted worker.
        OpenStartGate(gate);
        return pid;
    }

    private unsafe void OpenStartGate(UnixPipe gate)
    {
        var word = System.Text.Encoding.ASCII.GetBytes(WorkerLauncher.StartGateWord + "\n");
        fixed (byte* data = word)
            if (Libc.write(gate.WriteFd, data, word.Length) != word.Length)
                Log.Warn("spawn", $"could not open a worker's start gate: {Libc.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}; it exits without running");
    }

    public void Signal(int pid, int signal)
    {
        if (!_reaper.IsExiting(pid) && Processes.SignalGroup(pid, signal) is { } failure)
            Log.Warn("signal", $"cannot send {SignalNames.Name(signal)} to pid {pid}: {failure}", pid: pid);
    }

    public void After(TimeSpan delay, SupervisorEvent e) => _loop.After(delay, e);

    public void ReleaseWorker(long workerId) => _io.Release(workerId);

    public IReadOnlyList<int?> PlanSlots(PackManifest manifest, int workers) =>
        WorkerPlan.SlotCpusHere(manifest with { Workers = workers });

    public void PackReady(TimeSpan elapsed)
    {
        if (_asSuccessor is not null) _asSuccessor.OnPackReady(elapsed);
        else Notifier.Ready($"serving generation {_supervisor.Generation} with {_supervisor.Slots.Count} worker(s)");
    }

    // ---- ISupervisorHost: generations of listeners ----

    public string? PrepareGeneration(int generation, PackManifest manifest, int slots)
    {
        try
        {
            _generations.Prepare(generation, manifest, slots);
            _files.Update();
            return null;
        }
        catch (Exception e) when (e is ListenerException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            return e.Message;
        }
    }

    public void CommitGeneration(int generation)
    {
        var next = _generations.Commit(generation, out var problems);
        foreach (var problem in problems) Log.Warn("listen", problem);
        var manifest = _supervisor.Manifest;
        _files.Update();
        foreach (var listener in next.Listeners) Log.Info("listen", $"{listener.Spec.Name} {listener.BoundAddress} (generation {generation})");
        _metricsEndpoint.WarnIfMoved(manifest.MetricsAddress);
        if (!_otlpWarned && manifest.Otlp != _otlpSpec)
        {
            _otlpWarned = true;
            Log.Warn("metrics", $"metrics.otlp changed to {(manifest.Otlp is { } otlp ? otlp.Url : "none")}; it takes effect at the next start or upgrade");
        }
        // The previous generation's objects are garbage now. The master allocates too little for the
        // GC to run on its own for hundreds of reloads, so RSS would creep up to the gen0 budget.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    public void AbandonGeneration(int generation)
    {
        if (_generations.Abandon(generation)) _files.Update();
    }

    public void ResizeSlots(int slots) => _generations.Resize(slots);

    // ---- ISupervisorHost: an upgrade's new master ----

    public StartedSuccessor StartSuccessor(string? executable)
    {
        var metrics = _metricsEndpoint is { Socket: { } socket, Address: { } address } ? (socket, address) : ((System.Net.Sockets.Socket, System.Net.IPEndPoint)?)null;
        return _successors.Start(executable, new HandoverSource(Listeners, metrics, _supervisor.Generation, _supervisor.ScaledWorkers, _supervisor.Manifest, _runtime.Path));
    }

    public bool CommitSuccessor(int child) => _successors.Commit(child);
    public void StopSuccessor(int child, int masterPid) => _successors.Stop(child, masterPid);
    public void StopSuccessorAfterCommit(int child, bool force) => _successors.StopAfterCommit(child, force);
    public void KillSuccessor(int child) => _successors.Kill(child);
    public void ReclaimRuntimeFiles() => _files.Reclaim();
    public void NotifyReloading(string status) => Notifier.Reloading(status);
    public void NotifyReady(string status) => Notifier.Ready(status);

    /// <summary>A new master has taken over: say nothing more to systemd, leave the shared files to it (the supervisor stops the pack).</summary>
    public void HandOver(int child, int masterPid)
    {
        _successors.HandedOver(child);
        Notifier.Silence();
        _files.HandOver();
        // The new master accepts on the same listening socket already (or serves another address, or none).
        _ = _metricsEndpoint.HandOverAsync();
        if (_otlp is not null) _ = _otlp.DisposeAsync().AsTask();
    }

    /// <summary>This master, an upgrade's new one, takes over: the pid file and control socket, then the metrics.</summary>
    public void TakeOverRuntimeFiles()
    {
        _files.TakeOver();
        _supervisor.Counters.Upgrade(succeeded: true);
        // Before 'taken' reaches the old master, which stops accepting only then: the address is answered throughout.
        _metricsEndpoint.Start();
        _otlp?.Start();
    }

    /// <summary>The pack has stopped: the master exits once the other master of an upgrade has (see <see cref="MasterExit"/>).</summary>
    public void Exit(int code) => _exit.Begin(code);

    public void Dispose()
    {
        _files.Release();
        _signals?.Dispose();
        _io.ReleaseAll();
        _generations.Close(ownsFiles: _files.Owned);
        _notifyFolders.Delete();
        Notifier.Dispose();
        _lifeline.Dispose();
        // The janitor exits on the lifeline's EOF; a host that lives on (Start-Pack -Wait in pwsh) must reap it.
        Processes.ReapWhenExited(_files.Janitor);
        _spawner.Dispose();
    }
}
