using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>
/// Every decision of the master: which worker to start, restart, give up on, replace, signal or kill.
/// It owns the pack's state and is driven only through <see cref="Handle"/>, one event at a time,
/// from a single loop, so it needs no locks; its side effects go through <see cref="ISupervisorHost"/>.
/// </summary>
internal sealed partial class Supervisor
{
    private readonly ISupervisorHost _host;
    private List<WorkerSlot> _slots;
    private readonly Dictionary<int, WorkerProcess> _byPid = [];
    private readonly Dictionary<long, WorkerProcess> _byId = [];
    private readonly List<Action> _stopWaiters = [];
    /// <summary>The one reload, scale or upgrade in progress.</summary>
    private PackOperation? _operation;
    /// <summary>SIGTTIN/SIGTTOU steps that arrived while a scale ran; applied when it ends.</summary>
    private int _queuedScaleSteps;
    /// <summary>The worker count set by the last scale, kept across reloads whose manifest does not change <c>workers</c>.</summary>
    private int? _scaledWorkers;
    private long _nextWorkerId = 1;
    private long _nextAttempt = 1;
    private int _nextGeneration = 2;
    private DateTimeOffset _startedAt;
    /// <summary>Why the pack is stopping as a failure (a start out of fds, every slot failed after a reload): the master exits 1 once its workers are stopped.</summary>
    private string? _failure;
    private SpawnException? _lastSpawnFailure;

    /// <param name="generation">The first generation's number (a master started by an upgrade continues the old master's numbering).</param>
    public Supervisor(PackManifest manifest, IReadOnlyList<int?> slotCpus, ISupervisorHost host, int generation = 1)
    {
        Manifest = manifest;
        _host = host;
        Generation = generation;
        _nextGeneration = generation + 1;
        _slots = NewSlots(slotCpus, generation, manifest);
    }

    /// <summary>
    /// For a master started by an upgrade: a worker that fails before the pack is first ready fails the
    /// whole start (no restarts): this is called with the reason and the pack stops.
    /// </summary>
    public Action<string>? StartFailed { get; init; }

    public PackManifest Manifest { get; private set; }

    /// <summary>
    /// The worker count set by the last scale, kept across reloads (and upgrades) whose manifest does not
    /// change <c>workers</c>; null while the manifest's count applies. Set at construction for a master
    /// started by an upgrade that keeps the old master's count.
    /// </summary>
    public int? ScaledWorkers { get => _scaledWorkers; init => _scaledWorkers = value; }
    public PackState State { get; private set; } = PackState.Starting;
    public int Generation { get; private set; }
    public ReloadOutcome? LastReload { get; private set; }
    /// <summary>Restarts, reloads and upgrades counted for the metrics; read from any thread.</summary>
    public Metrics.PackCounters Counters { get; } = new();
    public bool Reloading => _operation is ReloadOperation;
    public bool Scaling => _operation is ScaleOperation;
    public bool Upgrading => _operation is UpgradeOperation;
    private ReloadOperation? CurrentReload => _operation as ReloadOperation;
    private ScaleOperation? CurrentScale => _operation as ScaleOperation;
    private UpgradeOperation? CurrentUpgrade => _operation as UpgradeOperation;
    public IReadOnlyList<WorkerSlot> Slots => _slots;
    public IEnumerable<WorkerProcess> Workers => _byId.Values;
    public IReadOnlyCollection<int> LivePids => _byPid.Keys;
    private IMasterLog Log => _host.Log;

    /// <summary>
    /// Handles one event. A failure while handling it is contained: it is logged with its stack, the
    /// operation in progress (reload, scale) fails with the reason, and the pack carries on.
    /// </summary>
    public void Handle(SupervisorEvent e)
    {
        try
        {
            Dispatch(e);
        }
        catch (Exception failure)
        {
            Contain(e, failure);
        }
    }

    private void Dispatch(SupervisorEvent e)
    {
        switch (e)
        {
            case StartRequested: Start(); break;
            case StopRequested stop: Stop(stop.Reason, stop.Done, stop.Mode); break;
            case WorkerExited exited: OnExited(exited.Pid, exited.Status, exited.Output ?? []); break;
            case WorkerNotified notified: OnNotified(notified.WorkerId, notified.Message); break;
            case ReadyDeadline deadline: OnReadyDeadline(deadline.WorkerId); break;
            case ReadyDelayElapsed delay: OnReadyDelay(delay.WorkerId); break;
            case RestartDue due: OnRestartDue(due.Slot, due.Attempt); break;
            case StopDeadline deadline: OnStopDeadline(deadline.WorkerId); break;
            case WatchdogCheck check: OnWatchdogCheck(check.WorkerId); break;
            case ReloadRequested reload: BeginReload(reload); break;
            case ScaleRequested scale: Scale(scale.SlotCpus, scale.Respond); break;
            case ScaleStepRequested step: ScaleStep(step.Step, step.Source); break;
            case ReloadRejected rejected: OnReloadRejected(rejected.Result, rejected.Why); break;
            case UpgradeRequested upgrade: BeginUpgrade(upgrade); break;
            case SuccessorEvent successor: OnSuccessor(successor); break;
            default: throw new ArgumentOutOfRangeException(nameof(e), e, "unknown supervisor event");
        }
    }

    private void Contain(SupervisorEvent e, Exception failure)
    {
        var what = $"internal error while handling {e.GetType().Name}: {failure.GetType().Name}: {failure.Message}";
        Log.Error("internal", $"{what}; the master carries on{Environment.NewLine}{failure}");
        try
        {
            var answered = false;
            if (CurrentReload is { } reload)
            {
                answered = e is ReloadRequested r && r.Respond == reload.Respond;
                FailReload(reload, what, null, []);
            }
            if (CurrentScale is { } scale)
            {
                answered |= e is ScaleRequested r && r.Respond == scale.Respond;
                _operation = null;
                scale.Respond(new ScaleResult(false, _slots.Count, what));
            }
            if (CurrentUpgrade is { } upgrade)
            {
                answered |= e is UpgradeRequested r && r.Respond == upgrade.Request.Respond;
                FailUpgrade(upgrade, what);
            }
            // A request that failed before it became an operation still gets its answer.
            switch (e)
            {
                case ReloadRequested request when !answered: request.Respond(new ReloadOutcome(false, Generation, request.Strategy, TimeSpan.Zero, what)); break;
                case ScaleRequested request when !answered: request.Respond(new ScaleResult(false, _slots.Count, what)); break;
                case UpgradeRequested request when !answered: request.Respond(new UpgradeOutcome(false, null, null, TimeSpan.Zero, what)); break;
                case StopRequested stop:
                    // Stopping gracefully failed: make sure nothing outlives the master.
                    foreach (var worker in _byPid.Values) _host.Signal(worker.Pid, SignalNames.SIGKILL);
                    Finish(1, what);
                    stop.Done?.Invoke();
                    break;
                case StartRequested when _byPid.Count == 0:
                    Finish(1, "the pack could not start: " + what);
                    break;
            }
        }
        catch (Exception second)
        {
            Log.Error("internal", $"containing the failure failed too ({second.Message}); stopping the pack{Environment.NewLine}{second}");
            foreach (var worker in _byPid.Values) _host.Signal(worker.Pid, SignalNames.SIGKILL);
            State = PackState.Stopped;
            _host.Exit(1);
        }
    }

    private static List<WorkerSlot> NewSlots(IReadOnlyList<int?> cpus, int generation, PackManifest manifest) =>
        cpus.Select((cpu, index) => new WorkerSlot(index, cpu, generation, manifest.Restart)).ToList();

    private PackManifest ManifestOf(int generation) => CurrentReload?.Generation == generation ? CurrentReload.Manifest : Manifest;

    private void Start()
    {
        if (State != PackState.Starting || _byId.Count > 0) return;
        _startedAt = _host.Now;
        Log.Info("start", $"starting {_slots.Count} worker(s) of generation {Generation}");
        foreach (var slot in _slots)
        {
            if (State != PackState.Starting) break;
            StartWorker(slot);
        }
    }

    /// <summary>Starts the slot's worker, or counts a failure to start as a crash of the slot.</summary>
    private WorkerProcess? StartWorker(WorkerSlot slot)
    {
        var worker = Spawn(slot);
        if (worker is not null) return worker;
        // Out of fds in the master: waiting in backoff frees none of them, so a start that cannot spawn gives up now.
        if (State == PackState.Starting && CurrentReload is null && StartFailed is null && _lastSpawnFailure is { MasterOutOfFds: true } outOfFds)
        {
            _failure = $"the start failed: slot {slot.Index} could not be started: {outOfFds.Message}";
            Log.Error("start-failed", _failure);
            Stop("the start failed", null, StopMode.Graceful);
            return null;
        }
        RestartOrFail(slot, "could not be started");
        return null;
    }

    private WorkerProcess? Spawn(WorkerSlot slot)
    {
        var id = _nextWorkerId++;
        var manifest = ManifestOf(slot.Generation);
        int pid;
        try
        {
            pid = _host.StartWorker(new WorkerLaunch(id, slot.Index, slot.Cpu, slot.Generation));
        }
        catch (SpawnException ex)
        {
            _lastSpawnFailure = ex;
            _host.ReleaseWorker(id);
            Log.Error("spawn-failed", ex.Message, slot.Index);
            return null;
        }
        var worker = new WorkerProcess(id, slot.Index, pid, slot.Cpu, slot.Generation, _host.Now)
        {
            StopSignal = manifest.Stop.Signal,
            StopTimeout = manifest.Stop.Timeout,
            WatchdogTimeout = manifest.WatchdogTimeout,
        };
        slot.Occupy(worker);
        _byPid[pid] = worker;
        _byId[id] = worker;
        Log.Info("spawn", $"worker started (generation {slot.Generation}{(slot.Cpu is { } cpu ? $", cpu {cpu}" : "")})", slot.Index, pid);
        if (manifest.Ready.Mode == ReadyMode.Delay) _host.After(manifest.Ready.Delay, new ReadyDelayElapsed(id));
        _host.After(manifest.Ready.Timeout, new ReadyDeadline(id));
        return worker;
    }

    private void MarkReady(WorkerProcess worker)
    {
        if (worker.State != WorkerState.Starting || worker.StopRequested) return;
        var now = _host.Now;
        worker.State = WorkerState.Ready;
        worker.ReadyAt = now;
        worker.LastWatchdog = now;
        Log.Info("ready", $"worker ready in {Duration.Format(now - worker.StartedAt)}", worker.Slot, worker.Pid);
        if (worker.WatchdogTimeout > TimeSpan.Zero) _host.After(worker.WatchdogTimeout, new WatchdogCheck(worker.Id));

        if (CurrentReload is { } reload && reload.Owns(worker)) ReloadProgress(reload);
        else if (CurrentScale is { } scale && scale.NewWorkers.Contains(worker.Id)) ScaleProgress();
        else CheckStarted();
    }

    /// <summary>
    /// Start is over once every slot is ready or has failed (at least one ready): a slot that crash-loops at
    /// start must not hold the pack in Starting, where reload and scale (the ways to fix it) are refused.
    /// </summary>
    private void CheckStarted()
    {
        if (State != PackState.Starting || !_slots.All(s => s.Failed || s.Worker?.State == WorkerState.Ready) || _slots.All(s => s.Failed)) return;
        State = PackState.Running;
        var elapsed = _host.Now - _startedAt;
        var failed = _slots.Where(s => s.Failed).Select(s => s.Index).ToList();
        if (failed.Count == 0) Log.Info("pack-ready", $"all {_slots.Count} worker(s) ready in {Duration.Format(elapsed)}");
        else Log.Warn("pack-ready", $"{_slots.Count - failed.Count} of {_slots.Count} worker(s) ready in {Duration.Format(elapsed)}; failed slot(s): {string.Join(", ", failed)} (fix with reload)");
        _host.PackReady(elapsed);
    }

    private void OnNotified(long workerId, string message)
    {
        if (!_byId.TryGetValue(workerId, out var worker)) return;
        foreach (var line in message.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = line.IndexOf('=');
            if (equals <= 0) continue;
            var value = line[(equals + 1)..];
            switch (line[..equals])
            {
                case "READY" when value == "1": MarkReady(worker); break;
                case "STOPPING" when value == "1": OnStoppingAnnounced(worker); break;
                case "STATUS": worker.Status = value; break;
                case "WATCHDOG" when value == "1": worker.LastWatchdog = _host.Now; break;
            }
        }
    }

    /// <summary>
    /// STOPPING=1 from a worker the master did not ask to stop (its app stopped itself, e.g. a .NET app after
    /// StopApplication): it serves no more, and may hang in its shutdown. It is treated as stopping from now on
    /// (its exit is expected; SIGKILL after its generation's stop.timeout), and its slot gets a replacement at once,
    /// as for a crash but without the backoff wait; the replacement still counts within restart.limit, so a worker
    /// that stops itself again and again ends with its slot Failed rather than in a loop. No stop signal is sent:
    /// it is already stopping, and a second signal cuts some servers' drain short.
    /// </summary>
    private void OnStoppingAnnounced(WorkerProcess worker)
    {
        if (worker.StopRequested || worker.KilledBecause is not null || State is PackState.Stopping or PackState.Stopped) return;
        var wasReady = worker.State == WorkerState.Ready;
        worker.StopRequested = true;
        worker.State = WorkerState.Draining;
        var reason = $"announced it is stopping (STOPPING=1) without being asked{(wasReady ? "" : " before it was ready")}";
        Log.Warn("stopping", $"worker {reason}; SIGKILL if it has not exited within {Duration.Format(worker.StopTimeout)} (stop.timeout)", worker.Slot, worker.Pid);
        _host.After(worker.StopTimeout, new StopDeadline(worker.Id));

        if (CurrentReload is { } reload && reload.Owns(worker))
        {
            FailReload(reload, $"slot {worker.Slot} (pid {worker.Pid}) of generation {reload.Generation} {reason}", worker, []);
            return;
        }
        // A scale waits for all its new workers to be ready: one that stopped itself fails it (as a crash does).
        if (CurrentScale is { } scale && scale.NewWorkers.Contains(worker.Id))
            EndScale(new ScaleResult(false, _slots.Count, $"the new worker in slot {worker.Slot} {reason}"));
        if (SlotOf(worker) is not { } slot) return;
        slot.Worker = null;
        slot.FailureReason = $"pid {worker.Pid} {reason}";
        RestartOrFail(slot, reason, atOnce: true);
    }

    private void OnReadyDelay(long workerId)
    {
        if (_byId.TryGetValue(workerId, out var worker)) MarkReady(worker);
    }

    private void OnReadyDeadline(long workerId)
    {
        if (!_byId.TryGetValue(workerId, out var worker) || worker.State != WorkerState.Starting || worker.StopRequested) return;
        worker.KilledBecause = $"not ready within {Duration.Format(ManifestOf(worker.Generation).Ready.Timeout)} (ready.timeout)";
        Log.Error("ready-timeout", $"{worker.KilledBecause}; stopping it with {SignalNames.Name(worker.StopSignal)}, SIGKILL after {Duration.Format(worker.StopTimeout)}", worker.Slot, worker.Pid);
        _host.Signal(worker.Pid, worker.StopSignal);
        _host.After(worker.StopTimeout, new StopDeadline(worker.Id));
    }

    private void OnWatchdogCheck(long workerId)
    {
        if (!_byId.TryGetValue(workerId, out var worker) || worker.State != WorkerState.Ready) return;
        var silentFor = _host.Now - worker.LastWatchdog;
        if (silentFor < worker.WatchdogTimeout)
        {
            _host.After(worker.WatchdogTimeout - silentFor, new WatchdogCheck(workerId));
            return;
        }
        worker.KilledBecause = $"no WATCHDOG=1 for {Duration.Format(silentFor)} (watchdog.timeout {Duration.Format(worker.WatchdogTimeout)})";
        Log.Error("watchdog", worker.KilledBecause + "; killing it", worker.Slot, worker.Pid);
        _host.Signal(worker.Pid, SignalNames.SIGKILL);
    }

    private void OnExited(int pid, ExitStatus status, IReadOnlyList<string> output)
    {
        if (!_byPid.Remove(pid, out var worker)) return;
        _byId.Remove(worker.Id);
        _host.ReleaseWorker(worker.Id);

        if (worker.StopRequested)
        {
            Log.Info("exit", $"worker stopped ({status})", worker.Slot, pid);
            if (State == PackState.Stopping && _byPid.Count == 0) FinishStop("all workers stopped");
            return;
        }
        var setupFailure = worker.KilledBecause is null ? SetupFailure(worker, status, output) : null;
        var reason = worker.KilledBecause ?? setupFailure ?? ExitReason(worker, status);
        var tail = output.Count == 0 ? "" : Environment.NewLine + string.Join(Environment.NewLine, output.Select(l => "    | " + l));
        Log.Error("exit", reason + tail, worker.Slot, pid);

        if (CurrentReload is { } reload && reload.Owns(worker))
        {
            FailReload(reload, $"slot {worker.Slot} (pid {pid}) of generation {reload.Generation} {reason}", worker, output);
            return;
        }
        if (CurrentScale is { } scale && scale.NewWorkers.Contains(worker.Id))
            EndScale(new ScaleResult(false, _slots.Count, $"the new worker in slot {worker.Slot} {reason}"));
        var slot = SlotOf(worker);
        if (slot is null) return;
        slot.Worker = null;
        slot.LastExit = status;
        slot.FailureReason = reason;
        RestartOrFail(slot, reason, failsStart: setupFailure is not null);
    }

    /// <summary>
    /// The reason the worker's trampoline gave for exiting before the command ran (its account cannot reach the working
    /// directory, the command, the notify socket...): restarting would fail the same way, so a start fails at once.
    /// </summary>
    private static string? SetupFailure(WorkerProcess worker, ExitStatus status, IReadOnlyList<string> output)
    {
        if (worker.State != WorkerState.Starting || status.Code != WorkerLauncher.SetupFailedCode) return null;
        var line = output.LastOrDefault(l => l.StartsWith(WorkerLauncher.SetupFailedPrefix, StringComparison.Ordinal));
        return line is null ? null : "could not start: " + line[WorkerLauncher.SetupFailedPrefix.Length..];
    }

    /// <summary>The slot the worker serves in, if it still does (not replaced, scaled away or of a failed generation).</summary>
    private WorkerSlot? SlotOf(WorkerProcess worker) =>
        _slots.FirstOrDefault(s => s.Worker == worker) ?? CurrentReload?.TargetSlots.FirstOrDefault(s => s.Worker == worker);

    private string ExitReason(WorkerProcess worker, ExitStatus status)
    {
        if (worker.State != WorkerState.Starting) return $"exited unexpectedly ({status})";
        // 126/127 come from the exec trampoline: the command itself never ran.
        return status.Code is 126 or 127
            ? $"'{ManifestOf(worker.Generation).Command}' could not be executed ({status}: not found, not executable or a bad interpreter)"
            : $"exited before it was ready ({status})";
    }

    /// <param name="atOnce">Start the replacement now instead of after the backoff (it still counts within restart.limit).</param>
    /// <param name="failsStart">Fail the pack's start at once (exit 1) instead of restarting: a restart cannot succeed.</param>
    private void RestartOrFail(WorkerSlot slot, string reason, bool atOnce = false, bool failsStart = false)
    {
        if (State is PackState.Stopping or PackState.Stopped) return;
        if (State == PackState.Starting && (StartFailed is not null || failsStart))
        {
            var failure = $"slot {slot.Index} of generation {slot.Generation} {reason}";
            Log.Error("start-failed", failure);
            if (StartFailed is { } startFailed) startFailed(failure);
            else _failure ??= failure;
            Stop("the first generation failed to start", null, StopMode.Graceful);
            return;
        }
        var now = _host.Now;
        var restart = ManifestOf(slot.Generation).Restart;
        if (!slot.Restarts.MayRestart(now))
        {
            slot.Fail($"restart limit reached ({restart.LimitRestarts} restarts within {Duration.Format(restart.LimitWindow)}); last: {reason}");
            Log.Error("slot-failed", slot.FailureReason + "; the slot stays down", slot.Index);
            // While a reload runs, its new generation may still replace the failed slots: it decides.
            if (_slots.All(s => s.Failed) && CurrentReload is null) Finish(1, "every slot has failed");
            else CheckStarted();
            return;
        }
        var delay = slot.Restarts.Record(now);
        if (atOnce)
        {
            slot.Restarts.CountRestart();
            Counters.Restart(slot.Index);
            Log.Info("replace", "starting a replacement now", slot.Index);
            StartWorker(slot);
            return;
        }
        slot.WaitForRestart(_nextAttempt++);
        Log.Info("backoff", $"restarting in {Duration.Format(delay)}", slot.Index);
        _host.After(delay, new RestartDue(slot.Index, slot.PendingRestart!.Value));
    }

    private void OnRestartDue(int slotIndex, long attempt)
    {
        var slot = _slots.FirstOrDefault(s => s.PendingRestart == attempt && s.Index == slotIndex);
        if (slot is null || State is PackState.Stopping or PackState.Stopped || slot.Failed) return;
        slot.CancelRestart();
        slot.Restarts.CountRestart();
        Counters.Restart(slot.Index);
        StartWorker(slot);
    }

    /// <summary>Asks a worker to stop (its generation's stop signal) and schedules the kill at its stop timeout.</summary>
    private void StopWorker(WorkerProcess worker)
    {
        if (worker.StopRequested) return;
        worker.StopRequested = true;
        worker.State = WorkerState.Draining;
        _host.Signal(worker.Pid, worker.StopSignal);
        _host.After(worker.StopTimeout, new StopDeadline(worker.Id));
    }

    private void OnStopDeadline(long workerId)
    {
        if (!_byId.TryGetValue(workerId, out var worker) || !(worker.StopRequested || worker.KilledBecause is not null)) return;
        Log.Warn("stop-timeout", $"worker did not stop within {Duration.Format(worker.StopTimeout)} (stop.timeout); sending SIGKILL", worker.Slot, worker.Pid);
        _host.Signal(worker.Pid, SignalNames.SIGKILL);
    }

    /// <summary>Why a reload, scale or upgrade cannot begin now, in the one wording all three use; null when it can.</summary>
    /// <param name="supersedesStart">
    /// A reload may begin while the pack starts (it replaces a start whose slot crash-loops), except in an upgrade's
    /// new master, whose first generation must come up as it is or fail the upgrade.
    /// </param>
    private string? Refusal(bool supersedesStart = false) => State switch
    {
        PackState.Stopping or PackState.Stopped => "the pack is stopping",
        PackState.Starting when !(supersedesStart && StartFailed is null) => "the pack is still starting",
        _ => _operation?.Refusal(_host.Now),
    };

    private void BeginReload(ReloadRequested request)
    {
        // A reload while starting supersedes the start: a slot may crash-loop until the fix is deployed.
        var refusal = Refusal(supersedesStart: true);
        if (refusal is not null)
        {
            Log.Warn("reload", "refused: " + refusal);
            request.Respond(new ReloadOutcome(false, Generation, request.Strategy, TimeSpan.Zero, refusal, Refused: true));
            return;
        }
        if (request.Manifest.Name != Manifest.Name)
        {
            request.Respond(new ReloadOutcome(false, Generation, request.Strategy, TimeSpan.Zero,
                $"the manifest names pack '{request.Manifest.Name}', this pack is '{Manifest.Name}'", Refused: true));
            return;
        }
        var slotCpus = request.SlotCpus;
        if (_scaledWorkers is { } scaled && request.Manifest.Workers == Manifest.Workers)
        {
            if (scaled != slotCpus.Count)
            {
                Log.Info("reload", $"keeping the {scaled} worker(s) set by scale ('workers' in the manifest is unchanged)");
                slotCpus = _host.PlanSlots(request.Manifest, scaled);
            }
        }
        else
        {
            _scaledWorkers = null;
        }
        var generation = _nextGeneration++;
        var targets = NewSlots(slotCpus, generation, request.Manifest);
        if (_host.PrepareGeneration(generation, request.Manifest, targets.Count) is { } problem)
        {
            Log.Error("reload", $"generation {generation} cannot start: {problem}");
            var failed = new ReloadOutcome(false, Generation, request.Strategy, TimeSpan.Zero, problem);
            LastReload = failed;
            Counters.Reload(false, null);
            request.Respond(failed);
            return;
        }
        var reload = new ReloadOperation(generation, request.Manifest, request.Strategy, targets, _host.Now, request.Respond);
        _operation = reload;
        Log.Info("reload", $"reloading to generation {generation} ({request.Strategy.ToString().ToLowerInvariant()}, {targets.Count} worker(s))");
        if (reload.Strategy == ReloadStrategy.Surge)
        {
            foreach (var slot in targets) SpawnForReload(reload, slot);
        }
        else
        {
            SpawnForReload(reload, targets[0]);
        }
    }

    /// <summary>A reload that never started (the manifest is invalid or missing) is still the last reload's outcome.</summary>
    private void OnReloadRejected(ReloadOutcome result, string why)
    {
        LastReload = result with { Generation = Generation };
        Counters.Reload(false, null);
        Log.Error("reload", why);
    }

    private void SpawnForReload(ReloadOperation reload, WorkerSlot slot)
    {
        if (Spawn(slot) is { } worker) reload.NewWorkers.Add(worker.Id);
        else FailReload(reload, $"the worker for slot {slot.Index} of generation {reload.Generation} could not be started", null, []);
    }

    private void ReloadProgress(ReloadOperation reload)
    {
        if (reload.Strategy == ReloadStrategy.Rolling)
        {
            var index = reload.NextRollingSlot;
            if (index < _slots.Count && _slots[index].Worker is { } old)
            {
                StopWorker(old);
                _slots[index].Worker = null;
                reload.SwitchedOldSlots.Add(index);
            }
            if (index < _slots.Count) _slots[index].CancelRestart();
            reload.NextRollingSlot = index + 1;
            if (reload.NextRollingSlot < reload.TargetSlots.Count)
            {
                SpawnForReload(reload, reload.TargetSlots[reload.NextRollingSlot]);
                return;
            }
        }
        if (CurrentReload == reload && reload.AllNewWorkersReady(id => _byId.GetValueOrDefault(id))) CommitReload(reload);
    }

    private void CommitReload(ReloadOperation reload)
    {
        foreach (var slot in _slots)
        {
            slot.CancelRestart();
            if (slot.Worker is { } old) StopWorker(old);
            slot.Worker = null;
        }
        _slots = reload.TargetSlots;
        Generation = reload.Generation;
        Manifest = reload.Manifest;
        _operation = null;
        _host.CommitGeneration(reload.Generation);
        var result = new ReloadOutcome(true, Generation, reload.Strategy, _host.Now - reload.StartedAt);
        LastReload = result;
        Counters.Reload(true, result.Duration);
        Log.Info("reload", $"generation {Generation} serves ({_slots.Count} worker(s)) after {Duration.Format(result.Duration)}; the old workers drain");
        reload.Respond(result);
        CheckStarted();
    }

    private void FailReload(ReloadOperation reload, string reason, WorkerProcess? failed, IReadOnlyList<string> output)
    {
        _operation = null;
        foreach (var id in reload.NewWorkers)
            if (_byId.TryGetValue(id, out var worker)) StopWorker(worker);
        // Rolling: the slots already switched get workers of the serving generation again.
        foreach (var index in reload.SwitchedOldSlots)
            if (State is PackState.Running or PackState.Starting && _slots[index].Worker is null) StartWorker(_slots[index]);
        _host.AbandonGeneration(reload.Generation);
        var result = new ReloadOutcome(false, Generation, reload.Strategy, _host.Now - reload.StartedAt, reason, failed?.Slot, failed?.Pid, output);
        LastReload = result;
        Counters.Reload(false, result.Duration);
        Log.Error("reload", $"reload to generation {reload.Generation} failed: {reason}; generation {Generation} keeps serving");
        reload.Respond(result);
        if (State is PackState.Running or PackState.Starting && _slots.All(s => s.Failed))
        {
            _failure = "every slot has failed, and the reload that was to replace them failed";
            Stop(_failure, null, StopMode.Graceful);
        }
    }

    private void Scale(IReadOnlyList<int?> slotCpus, Action<ScaleResult> respond)
    {
        var refusal = Refusal();
        var invalid = refusal is null && slotCpus.Count == 0 ? "a pack needs at least one worker" : null;
        if ((refusal ?? invalid) is { } reason)
        {
            Log.Warn("scale", $"refused: {reason}");
            respond(new ScaleResult(false, _slots.Count, reason, Refused: refusal is not null));
            return;
        }
        var from = _slots.Count;
        var to = slotCpus.Count;
        Log.Info("scale", $"scaling from {from} to {to} worker(s)");
        if (to < from)
        {
            foreach (var slot in _slots.Skip(to))
            {
                if (slot.Worker is { } worker) StopWorker(worker);
                slot.Worker = null;
            }
            _slots.RemoveRange(to, from - to);
            _host.ResizeSlots(to);
            _scaledWorkers = to;
            respond(new ScaleResult(true, to));
            return;
        }
        if (to == from)
        {
            respond(new ScaleResult(true, to));
            return;
        }
        _scaledWorkers = to;
        _host.ResizeSlots(to);
        var scale = new ScaleOperation(_host.Now, to, respond);
        _operation = scale;
        for (var index = from; index < to; index++)
        {
            var slot = new WorkerSlot(index, slotCpus[index], Generation, Manifest.Restart);
            _slots.Add(slot);
            if (StartWorker(slot) is { } worker) scale.NewWorkers.Add(worker.Id);
        }
        ScaleProgress();
    }

    private void ScaleProgress()
    {
        if (CurrentScale is not { } scale || scale.NewWorkers.Any(id => _byId.GetValueOrDefault(id)?.State != WorkerState.Ready)) return;
        EndScale(new ScaleResult(scale.NewWorkers.Count > 0, _slots.Count, scale.NewWorkers.Count > 0 ? null : "no new worker could be started"));
    }

    private void EndScale(ScaleResult result)
    {
        if (CurrentScale is not { } scale) return;
        _operation = null;
        scale.Respond(result);
        if (_queuedScaleSteps == 0 || State != PackState.Running) return;
        var steps = _queuedScaleSteps;
        _queuedScaleSteps = 0;
        ScaleStep(steps, "queued SIGTTIN/SIGTTOU");
    }

    /// <summary>SIGTTIN (+1) or SIGTTOU (-1): relative to the count the running scale reaches, so two quick TTINs add two workers.</summary>
    private void ScaleStep(int step, string source)
    {
        if (CurrentScale is not null && State == PackState.Running)
        {
            _queuedScaleSteps += step;
            Log.Info("scale", $"{source}: queued until the running scale ends ({_queuedScaleSteps:+0;-0} worker(s) pending)");
            return;
        }
        var target = _slots.Count + step;
        var cpus = target is >= 1 and <= PackManifest.MaxWorkers ? _host.PlanSlots(Manifest, target) : [];
        Log.Info("scale", $"{source}: {_slots.Count} -> {target} worker(s)");
        Scale(cpus, result =>
        {
            // A refusal is logged once, by Scale.
            if (!result.Ok && !result.Refused) Log.Warn("scale", $"{source} failed: {result.Error}");
        });
    }

    private void Stop(string reason, Action? done, StopMode mode)
    {
        if (done is not null) _stopWaiters.Add(done);
        if (State == PackState.Stopped)
        {
            NotifyStopped();
            return;
        }
        if (State == PackState.Stopping)
        {
            // systemctl stop twice, a second Ctrl+C, an impatient script: none of them may cut the drain short.
            if (mode == StopMode.Graceful)
                Log.Info("stop", $"{reason}: already stopping; {_byPid.Count} worker(s) still draining (SIGQUIT or 'gopherpack stop --force' kills them now)");
            else
                KillAll($"{reason} while stopping");
            return;
        }
        State = PackState.Stopping;
        if (CurrentReload is { } reload) FailReload(reload, "the pack is stopping", null, []);
        if (CurrentUpgrade is { Committed: true } committed) StopAfterCommit(committed, mode);
        else if (CurrentUpgrade is { } upgrade) FailUpgrade(upgrade, "the pack is stopping");
        _queuedScaleSteps = 0;
        EndScale(new ScaleResult(false, _slots.Count, "the pack is stopping"));
        foreach (var slot in _slots) slot.CancelRestart();
        Log.Info("stop", $"{reason}: stopping {_byPid.Count} worker(s) with {SignalNames.Name(Manifest.Stop.Signal)}, SIGKILL after {Duration.Format(Manifest.Stop.Timeout)}");
        if (_byPid.Count == 0)
        {
            FinishStop("no workers were running");
            return;
        }
        foreach (var worker in _byPid.Values.ToList()) StopWorker(worker);
        if (mode == StopMode.KillNow) KillAll(reason);
    }

    /// <summary>Every worker has stopped: exit 0, or 1 when the pack stopped because it failed.</summary>
    private void FinishStop(string why)
    {
        if (_failure is { } failure) Finish(1, $"{why}; {failure}");
        else Finish(0, why);
    }

    private void KillAll(string why)
    {
        Log.Warn("stop", $"{why}: killing the remaining {_byPid.Count} worker(s) now");
        foreach (var worker in _byPid.Values) _host.Signal(worker.Pid, SignalNames.SIGKILL);
    }

    private void Finish(int code, string why)
    {
        State = PackState.Stopped;
        Log.Write(code == 0 ? LogLevel.Info : LogLevel.Error, "exit", $"master exiting with code {code}: {why}");
        _host.Exit(code);
        NotifyStopped();
    }

    private void NotifyStopped()
    {
        foreach (var waiter in _stopWaiters) waiter();
        _stopWaiters.Clear();
    }
}
