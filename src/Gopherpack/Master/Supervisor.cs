using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>
/// Every decision of the master: which worker to start, restart, give up on, signal or kill.
/// It owns the pack's state and is driven only through <see cref="Handle"/>, one event at a time,
/// from a single loop, so it needs no locks; its side effects go through <see cref="ISupervisorHost"/>.
/// </summary>
public sealed class Supervisor
{
    private readonly PackManifest _manifest;
    private readonly ISupervisorHost _host;
    private readonly List<WorkerSlot> _slots;
    private readonly Dictionary<int, WorkerProcess> _byPid = [];
    private readonly Dictionary<long, WorkerProcess> _byId = [];
    private long _nextWorkerId = 1;
    private DateTimeOffset _startedAt;

    public Supervisor(PackManifest manifest, IReadOnlyList<int?> slotCpus, ISupervisorHost host)
    {
        _manifest = manifest;
        _host = host;
        _slots = slotCpus.Select((cpu, index) => new WorkerSlot(index, cpu, manifest.Restart)).ToList();
    }

    public PackState State { get; private set; } = PackState.Starting;
    public int Generation { get; private set; } = 1;
    public IReadOnlyList<WorkerSlot> Slots => _slots;
    public IEnumerable<WorkerProcess> Workers => _byId.Values;
    public IReadOnlyCollection<int> LivePids => _byPid.Keys;
    private IMasterLog Log => _host.Log;

    public void Handle(SupervisorEvent e)
    {
        switch (e)
        {
            case StartRequested: Start(); break;
            case StopRequested stop: Stop(stop.Reason); break;
            case WorkerExited exited: OnExited(exited.Pid, exited.Status); break;
            case WorkerNotified notified: OnNotified(notified.WorkerId, notified.Message); break;
            case ReadyDeadline deadline: OnReadyDeadline(deadline.WorkerId); break;
            case ReadyDelayElapsed delay: OnReadyDelay(delay.WorkerId); break;
            case RestartDue due: OnRestartDue(due.Slot, due.Attempt); break;
            case StopDeadline: OnStopDeadline(); break;
            case WatchdogCheck check: OnWatchdogCheck(check.WorkerId); break;
            default: throw new ArgumentOutOfRangeException(nameof(e), e, "unknown supervisor event");
        }
    }

    private void Start()
    {
        if (State != PackState.Starting || _byId.Count > 0) return;
        _startedAt = _host.Now;
        Log.Info("start", $"starting {_slots.Count} worker(s) of generation {Generation}");
        foreach (var slot in _slots) StartWorker(slot);
    }

    private void StartWorker(WorkerSlot slot)
    {
        var id = _nextWorkerId++;
        int pid;
        try
        {
            pid = _host.StartWorker(new WorkerLaunch(id, slot.Index, slot.Cpu, Generation));
        }
        catch (SpawnException ex)
        {
            _host.ReleaseWorker(id);
            Log.Error("spawn-failed", ex.Message, slot.Index);
            RestartOrFail(slot, ex.Message);
            return;
        }
        var worker = new WorkerProcess(id, slot.Index, pid, slot.Cpu, Generation, _host.Now);
        slot.Worker = worker;
        _byPid[pid] = worker;
        _byId[id] = worker;
        Log.Info("spawn", $"worker started (generation {Generation}{(slot.Cpu is { } cpu ? $", cpu {cpu}" : "")})", slot.Index, pid);
        if (_manifest.Ready.Mode == ReadyMode.Delay) _host.After(_manifest.Ready.Delay, new ReadyDelayElapsed(id));
        _host.After(_manifest.Ready.Timeout, new ReadyDeadline(id));
    }

    private void MarkReady(WorkerProcess worker)
    {
        if (worker.State != WorkerState.Starting || worker.StopRequested) return;
        var now = _host.Now;
        worker.State = WorkerState.Ready;
        worker.ReadyAt = now;
        worker.LastWatchdog = now;
        Log.Info("ready", $"worker ready in {Duration.Format(now - worker.StartedAt)}", worker.Slot, worker.Pid);
        if (_manifest.WatchdogTimeout > TimeSpan.Zero) _host.After(_manifest.WatchdogTimeout, new WatchdogCheck(worker.Id));
        if (State == PackState.Starting && _slots.All(s => s.Worker?.State == WorkerState.Ready))
        {
            State = PackState.Running;
            var elapsed = now - _startedAt;
            Log.Info("pack-ready", $"all {_slots.Count} worker(s) ready in {Duration.Format(elapsed)}");
            _host.PackReady(elapsed);
        }
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
                case "STOPPING" when value == "1":
                    if (worker.State == WorkerState.Ready) worker.State = WorkerState.Draining;
                    break;
                case "STATUS": worker.Status = value; break;
                case "WATCHDOG" when value == "1": worker.LastWatchdog = _host.Now; break;
            }
        }
    }

    private void OnReadyDelay(long workerId)
    {
        if (_byId.TryGetValue(workerId, out var worker)) MarkReady(worker);
    }

    private void OnReadyDeadline(long workerId)
    {
        if (!_byId.TryGetValue(workerId, out var worker) || worker.State != WorkerState.Starting || worker.StopRequested) return;
        worker.KilledBecause = $"not ready within {Duration.Format(_manifest.Ready.Timeout)} (ready.timeout)";
        Log.Error("ready-timeout", worker.KilledBecause + "; killing it", worker.Slot, worker.Pid);
        _host.Signal(worker.Pid, SignalNames.SIGKILL);
    }

    private void OnWatchdogCheck(long workerId)
    {
        if (!_byId.TryGetValue(workerId, out var worker) || worker.State != WorkerState.Ready) return;
        var silentFor = _host.Now - worker.LastWatchdog;
        if (silentFor < _manifest.WatchdogTimeout)
        {
            _host.After(_manifest.WatchdogTimeout - silentFor, new WatchdogCheck(workerId));
            return;
        }
        worker.KilledBecause = $"no WATCHDOG=1 for {Duration.Format(silentFor)} (watchdog.timeout {Duration.Format(_manifest.WatchdogTimeout)})";
        Log.Error("watchdog", worker.KilledBecause + "; killing it", worker.Slot, worker.Pid);
        _host.Signal(worker.Pid, SignalNames.SIGKILL);
    }

    private void OnExited(int pid, ExitStatus status)
    {
        if (!_byPid.Remove(pid, out var worker)) return;
        _byId.Remove(worker.Id);
        var output = _host.RecentOutput(worker.Id);
        _host.ReleaseWorker(worker.Id);
        var slot = _slots[worker.Slot];
        if (slot.Worker == worker) slot.Worker = null;
        slot.LastExit = status;

        if (worker.StopRequested)
        {
            Log.Info("exit", $"worker stopped ({status})", worker.Slot, pid);
            if (State == PackState.Stopping && _byPid.Count == 0) Finish(0, "all workers stopped");
            return;
        }
        var reason = worker.KilledBecause ?? ExitReason(worker, status);
        var tail = output.Count == 0 ? "" : Environment.NewLine + string.Join(Environment.NewLine, output.Select(l => "    | " + l));
        Log.Error("exit", reason + tail, worker.Slot, pid);
        RestartOrFail(slot, reason);
    }

    private string ExitReason(WorkerProcess worker, ExitStatus status)
    {
        if (worker.State != WorkerState.Starting) return $"exited unexpectedly ({status})";
        // 126/127 come from the exec trampoline: the command itself never ran.
        return status.Code is 126 or 127
            ? $"'{_manifest.Command}' could not be executed ({status}: not found, not executable or a bad interpreter)"
            : $"exited before it was ready ({status})";
    }

    private void RestartOrFail(WorkerSlot slot, string reason)
    {
        if (State is PackState.Stopping or PackState.Stopped) return;
        var now = _host.Now;
        if (!slot.Restarts.MayRestart(now))
        {
            slot.Failed = true;
            slot.FailureReason = $"restart limit reached ({_manifest.Restart.LimitRestarts} restarts within {Duration.Format(_manifest.Restart.LimitWindow)}); last: {reason}";
            Log.Error("slot-failed", slot.FailureReason + "; the slot stays down", slot.Index);
            if (_slots.All(s => s.Failed)) Finish(1, "every slot has failed");
            return;
        }
        var delay = slot.Restarts.Record(now);
        slot.RestartPending = true;
        Log.Info("backoff", $"restarting in {Duration.Format(delay)}", slot.Index);
        _host.After(delay, new RestartDue(slot.Index, ++slot.RestartAttempt));
    }

    private void OnRestartDue(int slotIndex, long attempt)
    {
        if (slotIndex >= _slots.Count) return;
        var slot = _slots[slotIndex];
        if (State is PackState.Stopping or PackState.Stopped || slot.Failed || !slot.RestartPending || attempt != slot.RestartAttempt) return;
        slot.RestartPending = false;
        slot.Restarts.CountRestart();
        StartWorker(slot);
    }

    private void Stop(string reason)
    {
        if (State == PackState.Stopped) return;
        if (State == PackState.Stopping)
        {
            Log.Warn("stop", $"{reason} while stopping: killing the remaining {_byPid.Count} worker(s) now");
            foreach (var worker in _byPid.Values) _host.Signal(worker.Pid, SignalNames.SIGKILL);
            return;
        }
        State = PackState.Stopping;
        foreach (var slot in _slots) slot.RestartPending = false;
        Log.Info("stop", $"{reason}: stopping {_byPid.Count} worker(s) with {SignalNames.Name(_manifest.Stop.Signal)}, SIGKILL after {Duration.Format(_manifest.Stop.Timeout)}");
        if (_byPid.Count == 0)
        {
            Finish(0, "no workers were running");
            return;
        }
        foreach (var worker in _byPid.Values)
        {
            worker.StopRequested = true;
            worker.State = WorkerState.Draining;
            _host.Signal(worker.Pid, _manifest.Stop.Signal);
        }
        _host.After(_manifest.Stop.Timeout, new StopDeadline());
    }

    private void OnStopDeadline()
    {
        if (State != PackState.Stopping) return;
        foreach (var worker in _byPid.Values)
        {
            Log.Warn("stop-timeout", $"worker did not stop within {Duration.Format(_manifest.Stop.Timeout)} (stop.timeout); sending SIGKILL", worker.Slot, worker.Pid);
            _host.Signal(worker.Pid, SignalNames.SIGKILL);
        }
    }

    private void Finish(int code, string why)
    {
        State = PackState.Stopped;
        Log.Write(code == 0 ? LogLevel.Info : LogLevel.Error, "exit", $"master exiting with code {code}: {why}");
        _host.Exit(code);
    }
}
