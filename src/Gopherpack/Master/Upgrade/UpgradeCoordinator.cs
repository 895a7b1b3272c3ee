using System.Collections;
using System.Text;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master.Upgrade;

/// <summary>What <c>gopherpack upgrade</c> (or SIGUSR2) asks for.</summary>
/// <param name="Executable">The new master's program (a native gopherpack, or a gopherpack.dll run with dotnet); null: this master's own.</param>
internal sealed record UpgradeRequest(string? Executable, TimeSpan Timeout, string RequestedBy, Action<UpgradeOutcome> Respond);

internal sealed record UpgradeOutcome(bool Ok, int OldPid, int? NewPid, int? Generation, TimeSpan Duration, string? Error = null, bool Refused = false);

/// <summary>
/// The old master's side of an upgrade, run on its event loop. It starts the new master with every
/// listening socket (the same fds, so the same accept queues) and two handshake pipes, keeps serving
/// meanwhile, and commits only when the new master's generation is ready: then the new master takes
/// over the pid file and control socket, and this master drains its workers and exits. If the new
/// master fails, exits or is not ready in time, it is stopped and this master serves on.
/// </summary>
internal sealed class UpgradeCoordinator(MasterHost host, IReadOnlyList<string>? selfCommand)
{
    private Attempt? _current;
    private readonly HashSet<int> _children = [];

    private sealed class Attempt(UpgradeRequest request, int pid, DateTimeOffset startedAt, Stream commit)
    {
        public UpgradeRequest Request { get; } = request;
        /// <summary>The child this master started: the new master, or a wrapper script that runs it.</summary>
        public int Pid { get; } = pid;
        /// <summary>The new master itself, as it says (<c>pid PID</c>); the child until then.</summary>
        public int MasterPid { get; set; } = pid;
        /// <summary>How the new master is named in the log: through the wrapper when it is not the child.</summary>
        public string Name => MasterPid == Pid ? $"pid {Pid}" : $"pid {MasterPid} (started by pid {Pid})";
        public DateTimeOffset StartedAt { get; } = startedAt;
        public Stream Commit { get; } = commit;
        public bool Committed { get; set; }
        public ExitStatus? Exit { get; set; }
    }

    public bool Running => _current is not null;

    /// <summary>The new master a wrapper script started, by the wrapper's pid (a child here), while the wrapper runs.</summary>
    private readonly Dictionary<int, int> _masterOfChild = [];

    /// <summary>The new master a child runs: itself, or the one a wrapper script that did not exec started (as it named itself).</summary>
    public int MasterOf(int child) => _masterOfChild.TryGetValue(child, out var master) ? master : child;

    /// <summary>New masters started by upgrades that have not been reaped yet.</summary>
    public IReadOnlyCollection<int> Children => _children;

    /// <summary>
    /// The child that took over from this one (the new master, or a wrapper script that runs it): the pack is the new
    /// master's from then on, and nothing of it may be ended here.
    /// </summary>
    public int? Successor { get; private set; }

    /// <summary>New masters still running that did not take over (a failed or abandoned upgrade's, told to stop).</summary>
    public IEnumerable<int> FailedChildren => _children.Where(pid => pid != Successor);

    private IMasterLog Log => host.Log;

    public void Begin(UpgradeRequest request)
    {
        var supervisor = host.Supervisor;
        var refusal = supervisor.State switch
        {
            PackState.Starting => "the pack is still starting",
            PackState.Stopping or PackState.Stopped => "the pack is stopping",
            _ when _current is { } running => $"an upgrade is already running (new master pid {running.Pid}, started {Duration.Format(host.Now - running.StartedAt)} ago); try again when it has finished",
            _ when supervisor.Reloading => "a reload is running; try again when it has finished",
            _ when supervisor.Scaling => "a scale is in progress; try again when it has finished",
            _ => null,
        };
        if (refusal is not null)
        {
            Log.Warn("upgrade", $"refused ({request.RequestedBy}): {refusal}");
            request.Respond(new UpgradeOutcome(false, Environment.ProcessId, null, null, TimeSpan.Zero, refusal, Refused: true));
            return;
        }
        IReadOnlyList<string> command;
        try
        {
            command = NewMasterCommand(request.Executable);
        }
        catch (UpgradeException e)
        {
            request.Respond(new UpgradeOutcome(false, Environment.ProcessId, null, null, TimeSpan.Zero, e.Message));
            return;
        }

        var status = new UnixPipe();
        var commit = new UnixPipe();
        int pid;
        try
        {
            pid = host.Spawner.Spawn(BuildSpawn(command, status.WriteFd, commit.ReadFd, supervisor));
        }
        catch (SpawnException e)
        {
            status.Dispose();
            commit.Dispose();
            Log.Error("upgrade", $"the new master could not be started: {e.Message}");
            request.Respond(new UpgradeOutcome(false, Environment.ProcessId, null, null, TimeSpan.Zero, $"the new master could not be started: {e.Message}"));
            return;
        }
        status.CloseWrite();
        commit.CloseRead();
        _children.Add(pid);
        var attempt = new Attempt(request, pid, host.Now, new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(commit.WriteFd, ownsHandle: true), FileAccess.Write, 1));
        _current = attempt;
        supervisor.Busy = $"an upgrade of the master is running (new master pid {pid})";
        Log.Info("upgrade", $"starting new master pid {pid} ({string.Join(' ', command)}; {request.RequestedBy}); generation {supervisor.Generation} serves meanwhile, timeout {Duration.Format(request.Timeout)}");
        host.Notifier.Reloading($"upgrading: new master pid {pid} starting");
        _ = ReadStatus(attempt, status.TakeReader());
        _ = Task.Delay(request.Timeout).ContinueWith(_ => host.OnLoop(() => OnTimeout(attempt)), TaskScheduler.Default);
    }

    /// <summary>The pack is stopping: an upgrade in flight is abandoned and its new master stopped.</summary>
    public void Abort(string reason)
    {
        if (_current is { } attempt) Fail(attempt, reason);
    }

    /// <summary>
    /// Reaps new masters that exited (failed ones, or after this master was replaced nothing is left to reap). A new
    /// master leads its own process group: what it left in it (a candidate script's children) is killed with it. A
    /// gopherpack master's own workers and janitor have groups of their own and are not touched.
    /// </summary>
    public void Reap()
    {
        foreach (var pid in _children.ToList())
        {
            if (Processes.TryReapGroup(pid) is not { } exit) continue;
            _children.Remove(pid);
            host.DeleteControlSocketOf(pid);
            // Started by a wrapper script: the new master's socket before takeover is named by its own pid.
            if (_masterOfChild.Remove(pid, out var master)) host.DeleteControlSocketOf(master);
            if (_current is { } attempt && attempt.Pid == pid)
            {
                attempt.Exit = exit;
                Fail(attempt, $"the new master (pid {pid}) exited before it took over ({exit})");
            }
        }
    }

    private SpawnRequest BuildSpawn(IReadOnlyList<string> command, int statusFd, int commitFd, Supervisor supervisor)
    {
        // The child's fds: 3 = status pipe, 4 = commit pipe, then every listening socket in manifest order.
        var fds = new List<int> { statusFd, commitFd };
        var listeners = new List<HandedListener>();
        foreach (var listener in host.Listeners.Listeners)
        {
            var childFds = new List<int>();
            foreach (var socket in listener.Sockets)
            {
                childFds.Add(WorkerContract.FirstListenFd + fds.Count);
                fds.Add((int)socket.Handle);
            }
            listeners.Add(new HandedListener(listener.Spec.Name, listener.Spec.Address.ToString(), listener.Spec.Mode, listener.KeepFile, childFds));
        }
        // The metrics endpoint's socket travels too: the new master accepts on it when it takes over, so it never goes unbound.
        HandedMetrics? metrics = null;
        if (host.MetricsEndpoint is { Socket: { } metricsSocket, Address: { } metricsAddress })
        {
            metrics = new HandedMetrics(metricsAddress.ToString(), WorkerContract.FirstListenFd + fds.Count);
            fds.Add((int)metricsSocket.Handle);
        }
        var handover = new UpgradeHandover
        {
            From = Environment.ProcessId,
            Generation = supervisor.Generation,
            StatusFd = WorkerContract.FirstListenFd,
            CommitFd = WorkerContract.FirstListenFd + 1,
            Listeners = listeners,
            Metrics = metrics,
            ScaledWorkers = supervisor.ScaledWorkers,
            ManifestWorkers = supervisor.Manifest.Workers,
            StopTimeoutSeconds = supervisor.Manifest.Stop.Timeout.TotalSeconds,
            RetiredSockets = host.Listeners.Retired.Inodes.ToList(),
        };
        var environment = new List<string>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
            if (entry.Key is string key && !key.StartsWith("LISTEN_", StringComparison.Ordinal) && key != UpgradeHandover.Variable)
                environment.Add($"{key}={entry.Value}");
        environment.Add($"{UpgradeHandover.Variable}={handover.ToJson()}");
        var argv = command.Concat(["run", supervisor.Manifest.ManifestPath, "--runtime-dir", host.Runtime.Path]).ToList();
        // Its log goes where this master's goes (terminal, journal, log file), so it outlives this master.
        return new SpawnRequest(argv[0], argv, environment, Environment.CurrentDirectory, StdoutFd: 1, StderrFd: 2, fds, Cpu: null);
    }

    /// <exception cref="UpgradeException">The executable does not exist or this master cannot start itself.</exception>
    private IReadOnlyList<string> NewMasterCommand(string? executable)
    {
        if (executable is null)
            return selfCommand ?? throw new UpgradeException("this master does not know how to start itself again (it runs inside another program); give the new master with --executable");
        if (!Path.IsPathFullyQualified(executable)) throw new UpgradeException($"executable '{executable}' must be an absolute path");
        if (Directory.Exists(executable)) throw new UpgradeException($"executable '{executable}' is a directory, not a program");
        if (!File.Exists(executable)) throw new UpgradeException($"executable '{executable}' does not exist");
        if (executable.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            return [DotnetHost() ?? throw new UpgradeException($"'{executable}' needs dotnet, which is not on PATH"), executable];
        if ((File.GetUnixFileMode(executable) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
            throw new UpgradeException($"executable '{executable}' is not executable");
        return [executable];
    }

    private static string? DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "dotnet")).FirstOrDefault(File.Exists);
    }

    private async Task ReadStatus(Attempt attempt, Stream status)
    {
        using var reader = new StreamReader(status, Encoding.UTF8);
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                var message = line;
                host.OnLoop(() => OnStatus(attempt, message));
            }
        }
        catch (IOException) { /* the new master's end is gone: the end of its status, as below */ }
        host.OnLoop(() => OnStatus(attempt, null));
    }

    private void OnStatus(Attempt attempt, string? line)
    {
        if (_current != attempt) return;
        switch (line)
        {
            case not null when UpgradeHandshake.ArgumentOf(line, UpgradeHandshake.Pid) is { } pidText:
                if (int.TryParse(pidText, out var masterPid) && masterPid > 0 && masterPid != attempt.Pid)
                {
                    attempt.MasterPid = masterPid;
                    _masterOfChild[attempt.Pid] = masterPid;
                    Log.Info("upgrade", $"the new master is {attempt.Name}");
                }
                break;
            case UpgradeHandshake.Ready:
                attempt.Committed = true;
                Log.Info("upgrade", $"new master {attempt.Name} is ready after {Duration.Format(host.Now - attempt.StartedAt)}; handing over");
                if (!UpgradeHandshake.TryWriteLine(attempt.Commit, UpgradeHandshake.Commit)) Fail(attempt, $"the new master ({attempt.Name}) went away while taking over");
                break;
            case not null when line.StartsWith(UpgradeHandshake.Taken, StringComparison.Ordinal):
                Succeed(attempt, int.TryParse(line.AsSpan(UpgradeHandshake.Taken.Length).Trim(), out var generation) ? generation : null);
                break;
            case not null when UpgradeHandshake.ArgumentOf(line, UpgradeHandshake.Failed) is { } reason:
                Fail(attempt, reason);
                break;
            case null:
                Fail(attempt, $"the new master ({attempt.Name}) exited before it took over{(attempt.Exit is { } exit ? $" ({exit})" : "")}; its output is in the master's log (RUNTIME-DIR/NAME.log for a pack started with 'gopherpack start', else the master's standard error)");
                break;
        }
    }

    private void OnTimeout(Attempt attempt)
    {
        // Once committed the new master is only renaming two files; let it finish.
        if (_current != attempt || attempt.Committed) return;
        Fail(attempt, $"the new master ({attempt.Name}) was not ready within {Duration.Format(attempt.Request.Timeout)} (--timeout)");
    }

    private void Succeed(Attempt attempt, int? generation)
    {
        _current = null;
        attempt.Commit.Dispose();
        var duration = host.Now - attempt.StartedAt;
        Successor = attempt.Pid;
        Log.Info("upgrade", $"master {attempt.Name} serves generation {generation} after {Duration.Format(duration)}; this master's workers drain, then it exits");
        attempt.Request.Respond(new UpgradeOutcome(true, Environment.ProcessId, attempt.MasterPid, generation, duration));
        host.HandOver(attempt.MasterPid);
    }

    private void Fail(Attempt attempt, string reason)
    {
        _current = null;
        host.Supervisor.Busy = null;
        // EOF on the commit pipe tells a new master that has not taken over to stop; SIGTERM makes sure, and it drains.
        // Signals go to its process group, so a candidate that is a script takes its children along.
        attempt.Commit.Dispose();
        if (_children.Contains(attempt.Pid))
        {
            // Through a wrapper that did not exec, the new master alone: the wrapper waits for it and exits after it,
            // where a SIGTERM to the wrapper's group would end the wrapper first, and reaping it kill the draining master.
            if (attempt.MasterPid != attempt.Pid) Processes.Signal(attempt.MasterPid, SignalNames.SIGTERM);
            else Processes.SignalGroup(attempt.Pid, SignalNames.SIGTERM);
            var pid = attempt.Pid;
            _ = Task.Delay(host.Supervisor.Manifest.Stop.Timeout + TimeSpan.FromSeconds(5)).ContinueWith(_ => host.OnLoop(() =>
            {
                if (_children.Contains(pid)) Processes.SignalGroup(pid, SignalNames.SIGKILL);
            }), TaskScheduler.Default);
        }
        var duration = host.Now - attempt.StartedAt;
        Log.Error("upgrade", $"upgrade failed: {reason}; this master (pid {Environment.ProcessId}) keeps serving generation {host.Supervisor.Generation}");
        host.Notifier.Ready($"serving generation {host.Supervisor.Generation}; the last upgrade failed: {reason}");
        attempt.Request.Respond(new UpgradeOutcome(false, Environment.ProcessId, attempt.MasterPid, null, duration, reason));
    }
}

internal sealed class UpgradeException(string message) : Exception(message);
