using System.Runtime.InteropServices;
using System.Threading.Channels;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master.Upgrade;
using Gopherpack.Output;
using Gopherpack.Runtime;

namespace Gopherpack.Master;

/// <summary>
/// The running master: owns sockets, lifeline, spawner and runtime files, turns signals, child exits,
/// notify datagrams and timers into events, and feeds them one at a time to the <see cref="Supervisor"/>.
/// </summary>
internal sealed class MasterHost : ISupervisorHost, IDisposable
{
    /// <summary>A safety net: SIGCHLD can coalesce, so known pids are also polled now and then.</summary>
    private static readonly TimeSpan ReapSweep = TimeSpan.FromSeconds(1);
    /// <summary>Orphans are looked for on SIGCHLD (a scan of the master's children), and on every this many sweeps.</summary>
    private const int OrphanSweepEvery = 10;
    private static readonly PosixSignal[] StopSignals = [PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT];

    private readonly Channel<LoopEvent> _events = Channel.CreateUnbounded<LoopEvent>(new UnboundedChannelOptions { SingleReader = true });
    private PackManifest _manifest;
    private readonly RuntimeDirectory _runtime;
    private readonly GenerationStore _generations;
    private readonly UnixPipe _lifeline;
    private readonly PosixSpawner _spawner = new();
    private readonly string _notifyDirectory;
    private readonly WorkerIo _io;
    /// <summary>Worker ids by pid, for the workers not yet reported exited.</summary>
    private readonly Dictionary<int, long> _workerOfPid = [];
    /// <summary>The workers the janitor stops if this master is killed: those not yet reaped.</summary>
    private readonly Dictionary<int, JanitorWorker> _janitorWorkers = [];
    /// <summary>Workers started or reaped since the janitor's list was last written: it is rewritten once the loop has handled what is queued.</summary>
    private bool _janitorListStale;
    /// <summary>Reaped workers whose exit is being reported (after their last output lines): never signalled again, their pid may be reused.</summary>
    private readonly HashSet<int> _exiting = [];
    private readonly List<PosixSignalRegistration> _signals = [];
    private readonly Supervisor _supervisor;
    private int? _exitCode;
    private readonly SuccessorProcesses _successors;
    private readonly UpgradeSuccessor? _successor;
    /// <summary>Reaps orphans re-parented to this master: set when it is a subreaper or PID 1.</summary>
    private readonly OrphanReaper? _orphans;
    /// <summary>At stop, children that are not this master's own are ended (it is a subreaper, and its process's only job).</summary>
    private readonly bool _endsOrphans;
    private int _sweeps;
    private Control.ControlServer? _control;
    /// <summary>False while a new master has not taken over yet, and after this master handed over: the pid file, control socket and unix listener files are another master's.</summary>
    private bool _ownsRuntimeFiles;
    private readonly Metrics.PackMetrics _metrics;
    private readonly MetricsEndpoint _metricsEndpoint;
    /// <summary>metrics.otlp as this master started with it (a reload does not change it).</summary>
    private readonly Metrics.OtlpPusher? _otlp;
    private readonly Manifest.OtlpSpec? _otlpSpec;
    private bool _otlpWarned;

    /// <param name="Signalled">From SIGCHLD (a child exited, perhaps an orphan), not the timer.</param>
    private sealed record ReapRequested(bool Signalled) : LoopEvent;
    private sealed record LoopCall(Action Run) : LoopEvent;

    public MasterHost(PackManifest manifest, RuntimeDirectory runtime, ListenerSet listeners, IReadOnlyList<int?> slotCpus, IMasterLog log, MasterOptions? options = null)
    {
        options ??= new MasterOptions();
        _manifest = manifest;
        _runtime = runtime;
        _pidFile = options.PidFile;
        _runtimeFiles = new RuntimeFileList(Path.Combine(runtime.Path, $"{manifest.Name}.files.{Environment.ProcessId}"));
        Log = log;
        // One folder per master: during an upgrade two masters' workers have notify sockets side by side.
        _notifyDirectory = Path.Combine(runtime.NotifyDirectory(manifest.Name), Environment.ProcessId.ToString());
        CreatePrivateFolder(runtime.NotifyDirectory(manifest.Name));
        CreatePrivateFolder(_notifyDirectory);
        _io = new WorkerIo(_notifyDirectory, MasterOutput.Standard, (id, message) => Post(new WorkerNotified(id, message)),
            (_, why) => Log.Warn("notify", why));
        _lifeline = new UnixPipe();
        _generations = new GenerationStore(_lifeline.ReadFd);
        var generation = options.Handover is { } handover ? handover.Generation + 1 : 1;
        var launcher = _generations.Begin(generation, manifest, listeners);
        if (!launcher.HasDeathSignal) log.Warn("setup", "util-linux setpriv not found: workers that ignore the lifeline fd will outlive a killed master");
        _ownsRuntimeFiles = options.Handover is null;
        _successor = options.Handover is { } from ? new UpgradeSuccessor(from, this) : null;
        if (_successor is not null) Notifier.Silence();
        _successors = new SuccessorProcesses(_spawner, options.SelfCommand, Post, DeleteControlSocketOf, log);
        _supervisor = new Supervisor(manifest, slotCpus, this, generation)
        {
            StartFailed = _successor is null ? null : _successor.Fail,
            ScaledWorkers = options.ScaledWorkers,
        };
        _metrics = new Metrics.PackMetrics(_supervisor.Counters);
        _metricsEndpoint = new MetricsEndpoint(manifest.MetricsAddress, options.MetricsSocket, _metrics, log);
        _otlpSpec = manifest.Otlp;
        _otlp = manifest.Otlp is { } otlp ? new Metrics.OtlpPusher(otlp, _metrics, log, Now) : null;
        if (options.AdoptOrphans)
        {
            if (OrphanReaper.BecomeSubreaper() is { } problem)
                log.Warn("setup", $"cannot become a child subreaper ({problem}): processes orphaned below the workers go to init and are not ended at stop");
            else
                _endsOrphans = true;
        }
        // As PID 1 orphans come to this process anyway; a host program's own children are then reaped too (the runtime does as much).
        if (_endsOrphans || Environment.ProcessId == 1) _orphans = new OrphanReaper();
        UpdateRuntimeFiles();
        _janitor = RuntimeJanitor.Start(_spawner, _lifeline.ReadFd, _runtimeFiles.Path);
    }

    private int _janitor;
    private PidFile? _pidFile;
    private readonly RuntimeFileList _runtimeFiles;

    /// <summary>What stop found and killed: processes outside the workers still holding the pack's sockets.</summary>
    public IReadOnlyList<string> StopNotes { get; private set; } = [];

    /// <summary>
    /// Tells the janitor exactly which files this master holds now (see <see cref="RuntimeJanitor"/>): its
    /// notify folder always; the pid file, control socket and unix listener files only while they are its own
    /// (not before an upgrade's new master took over, not after this master handed over).
    /// </summary>
    private void UpdateRuntimeFiles()
    {
        var files = new List<(string, Linux.FileId?)>();
        if (Linux.FileId.OfPath(_notifyDirectory) is { } notify) files.Add((_notifyDirectory, notify));
        files.Add((_runtime.NotifyDirectory(_manifest.Name), null));
        if (_ownsRuntimeFiles)
        {
            if (_pidFile is not null && Linux.FileId.OfFd(_pidFile.LockFd) is { } pid) files.Add((_pidFile.Path, pid));
            if (_control?.SocketFile is { } control) files.Add((_control.Path, control));
            files.AddRange(_generations.SocketFiles.Select(f => (f.Path, (Linux.FileId?)f.Id)));
        }
        // A new master's control socket before it takes over (NAME.sock.PID) is its own file, killed or not.
        else if (_control is { SocketFile: { } bound } unpublished && unpublished.BoundPath != unpublished.Path)
            files.Add((unpublished.BoundPath, bound));
        _janitorListStale = false;
        try { _runtimeFiles.Write(files, _janitorWorkers.Values, _generations.UnlistedStop); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warn("runtime", $"cannot update {_runtimeFiles.Path}: {e.Message}; if this master is killed its files may stay behind");
        }
    }

    public Supervisor Supervisor => _supervisor;
    public IMasterLog Log { get; }
    public DateTimeOffset Now => DateTimeOffset.UtcNow;
    public RuntimeDirectory Runtime => _runtime;
    public SystemdNotifier Notifier { get; } = SystemdNotifier.FromEnvironment();
    /// <summary>The pack's metrics, for scrapes and <c>gopherpack metrics</c>: readable from any thread.</summary>
    public Metrics.PackMetrics Metrics => _metrics;
    /// <summary>The metrics.address endpoint, whose listening socket an upgrade hands to the new master.</summary>
    internal MetricsEndpoint MetricsEndpoint => _metricsEndpoint;
    internal PosixSpawner Spawner => _spawner;

    /// <summary>Why this master gives up: an upgrade it was started for did not complete (exit 3).</summary>
    public string? UpgradeFailure => _successor?.Failure;

    /// <summary>Started as an upgrade's new master and never took over (failed, abandoned, or stopped first): it exits 3.</summary>
    public bool UpgradeNotCompleted => _successor is { TookOver: false };

    /// <summary>Runs the pack until it stops; returns the master's exit code.</summary>
    public async Task<int> RunAsync()
    {
        // 'gopherpack run' took back what it inherited before the runtime looked (InheritedSignals). Not here: in a host
        // program the runtime may already count an ignored signal as handled, and a default disposition would kill the host.
        if (InheritedSignals.UndoneSoFar() is { Count: > 0 } undone)
            Log.Info("setup", $"took back signals this master inherited: {string.Join(", ", undone)}");
        foreach (var signal in StopSignals)
            _signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Post(new StopRequested($"{context.Signal} received", Mode: context.Signal == PosixSignal.SIGQUIT ? StopMode.KillIfStopping : StopMode.Graceful));
            }));
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => Post(new ReapRequested(Signalled: true))));
        var dispatcher = new ControlDispatcher(this);
        var reloadSignal = new CoalescedSignal("SIGHUP", () => dispatcher.Reload(null, null, "SIGHUP"), Log);
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            reloadSignal.Raise();
        }));
        _signals.Add(PosixSignalRegistration.Create((PosixSignal)SignalNames.SIGUSR2, context =>
        {
            context.Cancel = true;
            _ = Task.Run(() => dispatcher.Upgrade(null, null, "SIGUSR2"));
        }));
        foreach (var (signal, step) in new[] { (PosixSignal.SIGTTIN, +1), (PosixSignal.SIGTTOU, -1) })
            _signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Post(new ScaleStepRequested(step, context.Signal.ToString()));
            }));
        if (InheritedSignals.NotHandled() is { Count: > 0 } unhandled)
            Log.Warn("setup", $"{string.Join(", ", unhandled)} in this process (inherited from the program that started it, which set them before .NET did): signals sent to this master may be lost");
        using var sweep = new Timer(_ => Post(new ReapRequested(Signalled: false)), null, ReapSweep, ReapSweep);
        // A new master binds its control socket beside the old one's and renames it into place when it takes over: no moment without one.
        var controlPath = _runtime.ControlSocket(_manifest.Name);
        await using var control = new Control.ControlServer(controlPath, Libc.geteuid(), dispatcher.HandleAsync, Log,
            bindPath: _successor is null ? null : ControlSocketOf(Environment.ProcessId));
        _control = control;
        UpdateRuntimeFiles();
        PublishMetrics();
        await using var metrics = _metricsEndpoint;
        await using var otlp = _otlp;
        // An upgrade's new master serves metrics.address (and pushes) from when it takes over; until then the old master does.
        if (_successor is null)
        {
            _metricsEndpoint.Start();
            _otlp?.Start();
        }

        Post(new StartRequested());
        while (_exitCode is null && await _events.Reader.WaitToReadAsync())
        {
            while (_exitCode is null && _events.Reader.TryRead(out var e))
            {
                try
                {
                    switch (e)
                    {
                        case ReapRequested reap: ReapExited(reap.Signalled); break;
                        case LoopCall call: call.Run(); break;
                        case SuccessorNamed named:
                            _successors.Named(named);
                            _supervisor.Handle(named);
                            break;
                        case StopRequested stop:
                            if (stop.Mode == StopMode.KillNow || (stop.Mode == StopMode.KillIfStopping && _supervisor.State is (PackState.Stopping or PackState.Stopped)))
                            {
                                _forcedStop = true;
                                ForwardForcedStop();
                            }
                            if (_supervisor.State is not (PackState.Stopping or PackState.Stopped)) Notifier.Stopping($"stopping: {stop.Reason}");
                            _supervisor.Handle(stop);
                            break;
                        case WorkerExited exited:
                            _exiting.Remove(exited.Pid);
                            _workerOfPid.Remove(exited.Pid);
                            _supervisor.Handle(exited);
                            break;
                        case SupervisorEvent other: _supervisor.Handle(other); break;
                    }
                }
                catch (Exception failure)
                {
                    // The supervisor contains its own failures; this is the last net for the host's part.
                    Log.Error("internal", $"handling {e.GetType().Name} failed; the master carries on: {failure}");
                }
            }
            if (_janitorListStale) UpdateRuntimeFiles();
            PublishMetrics();
        }
        // Replies still being written (the one to 'stop' above all) go out before the socket closes.
        await control.FlushAsync(TimeSpan.FromSeconds(1));
        return _exitCode ?? 1;
    }

    /// <summary>Runs <paramref name="read"/> on the loop, where supervisor state may be read.</summary>
    public Task<T> OnLoop<T>(Func<T> read)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _events.Writer.TryWrite(new LoopCall(() =>
        {
            try { done.SetResult(read()); }
            catch (Exception e) { done.SetException(e); }
        }));
        return done.Task;
    }

    /// <summary>Runs <paramref name="run"/> on the loop.</summary>
    public void OnLoop(Action run) => _events.Writer.TryWrite(new LoopCall(run));

    /// <summary>What scrapes see from now on (cheap: counts and references, no /proc reads).</summary>
    private void PublishMetrics()
    {
        try { _metrics.Publish(global::Gopherpack.Metrics.MetricsSnapshot.Of(_supervisor, Listeners)); }
        catch (Exception e) { Log.Error("metrics", $"publishing the metrics snapshot failed: {e.Message}"); }
    }

    private readonly Metrics.CpuRates _cpuRates = new();

    public Control.PackStatus Status() => PackStatusBuilder.Build(_supervisor, Listeners, _cpuRates);

    public void Post(SupervisorEvent e) => _events.Writer.TryWrite(e);
    private void Post(ReapRequested e) => _events.Writer.TryWrite(e);

    /// <summary>Reaps exited workers; each exit reaches the supervisor once its last output lines are read, without blocking the loop.</summary>
    private void ReapExited(bool signalled)
    {
        if (Processes.TryReap(_janitor) is { } janitorExit) ReplaceJanitor(janitorExit);
        foreach (var (pid, workerId) in _workerOfPid.ToList())
        {
            if (_exiting.Contains(pid) || Processes.TryReapGroup(pid) is not { } status) continue;
            _exiting.Add(pid);
            // Reaped: the pid may be reused from now on, so the janitor must forget it.
            _janitorListStale |= _janitorWorkers.Remove(pid);
            _ = ReportExit(pid, workerId, status);
        }
        _successors.Reap();
        // Scanning the children costs a few reads of /proc: on SIGCHLD, and now and then in case one was missed.
        if (_orphans is not null && (signalled || ++_sweeps % OrphanSweepEvery == 0))
        {
            foreach (var orphan in _orphans.Reap(OwnChildren())) Log.Info("reap", $"reaped orphan pid {orphan}");
        }
    }

    /// <summary>
    /// The janitor is gone while this master lives (killed, or its reader was): without one a later SIGKILL of the
    /// master would clean nothing, so a new one takes over, with the current list.
    /// </summary>
    private void ReplaceJanitor(ExitStatus exit)
    {
        var old = _janitor;
        try
        {
            UpdateRuntimeFiles();
            _janitor = RuntimeJanitor.Start(_spawner, _lifeline.ReadFd, _runtimeFiles.Path);
            Log.Warn("janitor", $"the janitor (pid {old}) exited ({exit}); started a new one (pid {_janitor})");
        }
        catch (Exception e)
        {
            Log.Error("janitor", $"the janitor (pid {old}) exited ({exit}) and a new one could not be started: {e.Message}; if this master is killed its workers and files stay behind");
        }
    }

    /// <summary>The children this master started itself: workers not yet reported exited, janitor, new masters of upgrades.</summary>
    private HashSet<int> OwnChildren() => new(_workerOfPid.Keys.Concat(_successors.Children)) { _janitor };

    private async Task ReportExit(int pid, long workerId, ExitStatus status)
    {
        IReadOnlyList<string> lines;
        try { lines = await _io.LastLinesAsync(workerId); }
        catch (Exception) { lines = []; }
        Post(new WorkerExited(pid, status, lines));
    }

    public int StartWorker(WorkerLaunch launch)
    {
        var launcher = _generations.LauncherOf(launch.Generation);
        if (launcher.DropsTo is not null) OpenNotifyFoldersToWorkers();
        using var gate = new UnixPipe();
        var pid = _io.Start(launch.WorkerId,
            pid => _manifest.WorkerLogs == WorkerLogMode.Prefix ? $"[{_manifest.Name}/{launch.Slot} {pid}] " : null,
            (notifyPath, stdoutFd, stderrFd) => _spawner.Spawn(launcher.Build(launch, notifyPath, stdoutFd, stderrFd, gate.ReadFd)),
            launcher.DropsTo);
        gate.CloseRead();
        _workerOfPid[pid] = launch.WorkerId;
        // Not reaped yet, so the pid is still this worker's: its start time names it for the janitor.
        if (ProcessStat.Read(pid) is { } stat)
        {
            var stop = launcher.Manifest.Stop;
            _janitorWorkers[pid] = new JanitorWorker(pid, stat.StartTime, SignalNames.Name(stop.Signal)[3..], stop.Timeout);
            // Listed before the next spawn, not at the end of the event batch: a master killed while it starts
            // twenty workers leaves none that the janitor does not know.
            UpdateRuntimeFiles();
        }
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

    private bool _notifyFoldersOpen;

    /// <summary>0700, or 0711 at most once workers of another account must search it: never listable (left 0755 by an older master).</summary>
    private static void CreatePrivateFolder(string path)
    {
        const UnixFileMode listable = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var mode = File.GetUnixFileMode(path);
        if ((mode & listable) != 0) File.SetUnixFileMode(path, mode & ~listable);
    }

    /// <summary>
    /// Workers of another account must reach their notify sockets: the runtime dir and the notify folders become
    /// searchable by everyone (0711: no listing); each socket itself is the worker account's alone (0600).
    /// </summary>
    private void OpenNotifyFoldersToWorkers()
    {
        if (_notifyFoldersOpen) return;
        const UnixFileMode search = UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        try
        {
            foreach (var folder in new[] { _runtime.Path, _runtime.NotifyDirectory(_manifest.Name), _notifyDirectory })
                File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | search);
            _notifyFoldersOpen = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpawnException($"cannot make the notify sockets' folders searchable for the workers' account: {e.Message}");
        }
    }

    public void Signal(int pid, int signal)
    {
        if (!_exiting.Contains(pid) && Processes.SignalGroup(pid, signal) is { } failure)
            Log.Warn("signal", $"cannot send {SignalNames.Name(signal)} to pid {pid}: {failure}", pid: pid);
    }

    public void After(TimeSpan delay, SupervisorEvent e)
    {
        // Task.Delay takes at most uint.MaxValue - 1 ms (about 49.7 days); the manifest bounds durations well below.
        if (delay > Duration.MaxTimer) delay = Duration.MaxTimer;
        _ = Task.Delay(delay).ContinueWith(_ => Post(e), TaskScheduler.Default);
    }

    public void ReleaseWorker(long workerId) => _io.Release(workerId);

    public IReadOnlyList<int?> PlanSlots(PackManifest manifest, int workers) =>
        WorkerPlan.SlotCpusHere(manifest with { Workers = workers });

    public void PackReady(TimeSpan elapsed)
    {
        if (_successor is not null) _successor.OnPackReady(elapsed);
        else Notifier.Ready($"serving generation {_supervisor.Generation} with {_supervisor.Slots.Count} worker(s)");
    }

    private string ControlSocketOf(int masterPid) => _runtime.ControlSocket(_manifest.Name) + "." + masterPid;

    /// <summary>A new master that failed leaves its not-yet-published control socket behind if it was killed.</summary>
    public void DeleteControlSocketOf(int masterPid)
    {
        try { File.Delete(ControlSocketOf(masterPid)); } catch (IOException e) { Log.Warn("upgrade", $"cannot remove {ControlSocketOf(masterPid)}: {e.Message}"); }
    }

    /// <summary>The new master takes over: pid file (written beside, renamed over) and control socket (renamed over the old one's).</summary>
    public void TakeOverRuntimeFiles()
    {
        // The old master holds its pid file lock until it has seen this: the pack is never unlocked.
        var pidFile = _runtime.PidFile(_manifest.Name);
        try { _pidFile = PidFile.Replace(pidFile); }
        catch (RuntimeDirectoryException e) { Log.Error("upgrade", $"cannot replace {pidFile}: {e.Message}"); }
        try { _control?.Publish(); }
        catch (IOException e) { Log.Error("upgrade", e.Message); }
        _ownsRuntimeFiles = true;
        UpdateRuntimeFiles();
        _supervisor.Counters.Upgrade(succeeded: true);
        // Before 'taken' reaches the old master, which stops accepting only then: the address is answered throughout.
        _metricsEndpoint.Start();
        _otlp?.Start();
    }

    public StartedSuccessor StartSuccessor(string? executable)
    {
        var metrics = _metricsEndpoint is { Socket: { } socket, Address: { } address } ? (socket, address) : ((System.Net.Sockets.Socket, System.Net.IPEndPoint)?)null;
        return _successors.Start(executable, new HandoverSource(Listeners, metrics, _supervisor.Generation, _supervisor.ScaledWorkers, _supervisor.Manifest, _runtime.Path));
    }

    public bool CommitSuccessor(int child) => _successors.Commit(child);
    public void StopSuccessor(int child, int masterPid) => _successors.Stop(child, masterPid);
    public void KillSuccessor(int child) => _successors.Kill(child);
    public void NotifyReloading(string status) => Notifier.Reloading(status);
    public void NotifyReady(string status) => Notifier.Ready(status);

    /// <summary>A new master has taken over: say nothing more to systemd, leave the shared files to it (the supervisor stops the pack).</summary>
    public void HandOver(int child, int masterPid)
    {
        _successors.HandedOver(child);
        _ownsRuntimeFiles = false;
        Notifier.Silence();
        _control?.Disown();
        UpdateRuntimeFiles();
        // The new master accepts on the same listening socket already (or serves another address, or none).
        _ = _metricsEndpoint.HandOverAsync();
        if (_otlp is not null) _ = _otlp.DisposeAsync().AsTask();
    }

    /// <summary>The listeners the serving generation's workers inherit.</summary>
    public ListenerSet Listeners => _generations.ServingListeners;

    public string? PrepareGeneration(int generation, PackManifest manifest, int slots)
    {
        try
        {
            _generations.Prepare(generation, manifest, slots);
            UpdateRuntimeFiles();
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
        _manifest = _supervisor.Manifest;
        UpdateRuntimeFiles();
        foreach (var listener in next.Listeners) Log.Info("listen", $"{listener.Spec.Name} {listener.BoundAddress} (generation {generation})");
        _metricsEndpoint.WarnIfMoved(_manifest.MetricsAddress);
        if (!_otlpWarned && _manifest.Otlp != _otlpSpec)
        {
            _otlpWarned = true;
            Log.Warn("metrics", $"metrics.otlp changed to {(_manifest.Otlp is { } otlp ? otlp.Url : "none")}; it takes effect at the next start or upgrade");
        }
        // The previous generation's objects are garbage now. The master allocates too little for the
        // GC to run on its own for hundreds of reloads, so RSS would creep up to the gen0 budget.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    public void AbandonGeneration(int generation)
    {
        if (_generations.Abandon(generation)) UpdateRuntimeFiles();
    }

    public void ResizeSlots(int slots)
    {
        _generations.Resize(slots);
    }

    /// <summary>
    /// The pack has stopped. During or after an upgrade another master may still be stopping its own workers: this
    /// master waits for it (polling, the loop carries on) before it ends what is left and exits, so a stop returns once
    /// both masters' workers are gone, and neither master takes the other for a stray.
    /// </summary>
    public void Exit(int code)
    {
        if (_pendingExit is not null || _exitCode is not null) return;
        _pendingExit = code;
        _exitWaitDeadline = Now + ExitWait;
        if (_forcedStop) ForwardForcedStop();
        ExitWhenAlone();
    }

    /// <summary>Completes once this master has exited its loop (after waiting for the other master of an upgrade).</summary>
    public Task Exited => _exited.Task;

    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int? _pendingExit;
    /// <summary>SIGQUIT or <c>stop --force</c> came: passed on to the other master of an upgrade once this one waits for it.</summary>
    private bool _forcedStop;
    private DateTimeOffset _exitWaitDeadline;
    private string? _waitingFor;
    private static readonly TimeSpan ExitPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a stopped master waits for the other master of an upgrade: its stop.timeout, and some to exit.</summary>
    private TimeSpan ExitWait => TimeSpan.FromSeconds(Math.Max(_manifest.Stop.Timeout.TotalSeconds, _successor?.PredecessorStopTimeout?.TotalSeconds ?? 0)) + TimeSpan.FromSeconds(10);

    /// <summary>
    /// The other master this one waits for at exit: a failed or abandoned upgrade's new master (a child, told to stop:
    /// it drains its workers within its stop.timeout), or, for a new master that took over, the old master while its
    /// workers drain (an ancestor: it started this one, perhaps through a wrapper script).
    /// </summary>
    private string? OtherMasterStopping()
    {
        if (_successors.FailedChildren.FirstOrDefault() is > 0 and var child) return $"the new master of an abandoned upgrade (pid {child})";
        if (_successor is { TookOver: true } successor && ChildProcesses.AncestorsOfSelf().Contains(successor.From))
            return $"master pid {successor.From}, whose workers drain since the upgrade";
        return null;
    }

    private void ExitWhenAlone()
    {
        if (_pendingExit is not { } code || _exitCode is not null) return;
        if (OtherMasterStopping() is { } other)
        {
            if (Now < _exitWaitDeadline)
            {
                if (_waitingFor != other) Log.Info("stop", $"waiting for {other} to stop (at most {Duration.Format(_exitWaitDeadline - Now)})");
                _waitingFor = other;
                _ = Task.Delay(ExitPoll).ContinueWith(_ => OnLoop(ExitWhenAlone), TaskScheduler.Default);
                return;
            }
            Log.Warn("stop", $"{other} is still there after {Duration.Format(ExitWait)}; this master exits without it");
        }
        // Every worker has been reaped (its group killed); what still holds a socket escaped the group.
        // Not after a handover, nor during an upgrade: then another master and its workers hold the same sockets.
        // The masters above this one (an old master that started it, a wrapper script between them) are no strays.
        var notes = new List<string>();
        if (_ownsRuntimeFiles && !_successors.Children.Any())
            notes.AddRange(StraySocketHolders.KillAll(_generations.AllListeners,
                new HashSet<int>(_supervisor.LivePids.Concat(_successors.Children).Concat(ChildProcesses.AncestorsOfSelf())) { Environment.ProcessId, _janitor }, Log));
        // What else is still a child was orphaned below the workers (or is a failed upgrade's new master). A new
        // master that took over is never touched: from the handover on, the pack is its.
        if (_endsOrphans)
        {
            var own = new HashSet<int>(_workerOfPid.Keys) { _janitor };
            if (_successors.Successor is { } successor) own.Add(successor);
            notes.AddRange(OrphanedProcesses.EndAll(own, pid => _successors.Children.Contains(pid) ? "the new master of a failed upgrade" : null, Log,
                endsByItself: RuntimeJanitor.IsJanitor));
        }
        StopNotes = notes;
        if (Notifier.DroppedMessages is var dropped and > 0)
            Log.Warn("notify", $"{dropped} sd_notify message(s) to NOTIFY_SOCKET were dropped: the service manager did not read them");
        _exitCode = code;
        _exited.TrySetResult();
    }

    /// <summary>
    /// SIGQUIT or <c>stop --force</c> (before or while this master waits for the other master of an upgrade): once it
    /// waits, that master is sent SIGQUIT too, which kills its remaining workers at once.
    /// </summary>
    private void ForwardForcedStop()
    {
        if (_pendingExit is null) return;
        // The new master itself, not a wrapper script around it: the wrapper would die first, and reaping it kill its group.
        foreach (var child in _successors.FailedChildren) Processes.Signal(_successors.MasterOf(child), SignalNames.SIGQUIT);
        if (_successor is { TookOver: true } successor && ChildProcesses.AncestorsOfSelf().Contains(successor.From))
            Processes.Signal(successor.From, SignalNames.SIGQUIT);
    }

    public void Dispose()
    {
        // The janitor's list goes first: from here on this master removes its own files. The pid file is
        // removed only if it is still this master's, and its lock released.
        try { _runtimeFiles.Delete(); } catch (IOException) { /* the janitor, finding this master gone, removes only files that are still its own */ }
        _pidFile?.Dispose();
        foreach (var registration in _signals) registration.Dispose();
        _io.ReleaseAll();
        _generations.Close(ownsFiles: _ownsRuntimeFiles);
        try { Directory.Delete(_notifyDirectory, recursive: true); } catch (IOException) { /* left in the private runtime dir, named for this pid */ }
        try { Directory.Delete(Path.GetDirectoryName(_notifyDirectory)!); } catch (IOException) { /* another master's folder (an upgrade's) is still in it */ }
        Notifier.Dispose();
        _lifeline.Dispose();
        // The janitor exits on the lifeline's EOF; a host that lives on (Start-Pack -Wait in pwsh) must reap it.
        Processes.ReapWhenExited(_janitor);
        _spawner.Dispose();
    }
}
