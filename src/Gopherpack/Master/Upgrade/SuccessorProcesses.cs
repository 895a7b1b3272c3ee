using System.Collections;
using System.Text;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master.Upgrade;

/// <summary>What the old master hands to an upgrade's new master: the state of its pack, read on the loop.</summary>
/// <param name="Metrics">metrics.address's listening socket and address, when it serves one.</param>
internal sealed record HandoverSource(
    ListenerSet Listeners,
    (System.Net.Sockets.Socket Socket, System.Net.IPEndPoint Address)? Metrics,
    int Generation,
    int? ScaledWorkers,
    PackManifest Manifest,
    string RuntimeDir);

/// <summary>
/// The processes an upgrade starts: new masters (or wrapper scripts that run one), with the handshake pipes of
/// <see cref="UpgradeHandshake"/>. It starts them, turns what they say into <see cref="SuccessorEvent"/>s, writes
/// <c>commit</c>, stops, kills and reaps them. It decides nothing: the <see cref="Supervisor"/> does.
/// </summary>
internal sealed class SuccessorProcesses(PosixSpawner spawner, IReadOnlyList<string>? selfCommand, Action<SupervisorEvent> post,
    Action<int> deleteControlSocketOf, IMasterLog log)
{
    /// <summary>The write end of each running child's commit pipe, until it took over or was told to stop.</summary>
    private readonly Dictionary<int, Stream> _commits = [];
    private readonly HashSet<int> _children = [];
    /// <summary>The new master a wrapper script started, by the wrapper's pid (a child here), while the wrapper runs.</summary>
    private readonly Dictionary<int, int> _masterOfChild = [];

    /// <summary>New masters started by upgrades that have not been reaped yet.</summary>
    public IReadOnlyCollection<int> Children => _children;

    /// <summary>
    /// The child that took over from this one (the new master, or a wrapper script that runs it): the pack is the new
    /// master's from then on, and nothing of it may be ended here.
    /// </summary>
    public int? Successor { get; private set; }

    /// <summary>New masters still running that did not take over (a failed or abandoned upgrade's, told to stop).</summary>
    public IEnumerable<int> FailedChildren => _children.Where(pid => pid != Successor);

    /// <summary>The new master a child runs: itself, or the one a wrapper script that did not exec started (as it named itself).</summary>
    public int MasterOf(int child) => _masterOfChild.TryGetValue(child, out var master) ? master : child;

    /// <exception cref="UpgradeException">The executable is unusable, or it could not be started.</exception>
    public StartedSuccessor Start(string? executable, HandoverSource source)
    {
        var command = NewMasterCommand(executable);
        var status = new UnixPipe();
        var commit = new UnixPipe();
        int pid;
        try
        {
            pid = spawner.Spawn(BuildSpawn(command, status.WriteFd, commit.ReadFd, source));
        }
        catch (SpawnException e)
        {
            status.Dispose();
            commit.Dispose();
            throw new UpgradeException($"the new master could not be started: {e.Message}");
        }
        status.CloseWrite();
        commit.CloseRead();
        _children.Add(pid);
        _commits[pid] = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(commit.WriteFd, ownsHandle: true), FileAccess.Write, 1);
        _ = ReadStatus(pid, status.TakeReader());
        return new StartedSuccessor(pid, command);
    }

    public bool Commit(int child) => _commits.TryGetValue(child, out var commit) && UpgradeHandshake.TryWriteLine(commit, UpgradeHandshake.Commit);

    /// <summary>EOF on the commit pipe tells a new master that has not taken over to stop; SIGTERM makes sure, and it drains.</summary>
    public void Stop(int child, int masterPid)
    {
        CloseCommit(child);
        if (!_children.Contains(child)) return;
        // Through a wrapper that did not exec, the new master alone: the wrapper waits for it and exits after it,
        // where a SIGTERM to the wrapper's group would end the wrapper first, and reaping it kill the draining master.
        // Otherwise its process group: a candidate that is a script takes its children along.
        var failure = masterPid != child ? Processes.Signal(masterPid, SignalNames.SIGTERM) : Processes.SignalGroup(child, SignalNames.SIGTERM);
        if (failure is not null) log.Warn("upgrade", $"cannot stop the new master (pid {masterPid}): {failure}");
    }

    /// <summary>
    /// The pack is told to stop after the new master was told to commit: it is told to stop too (<c>stop</c> on the
    /// commit pipe), and this master waits for it (<see cref="StoppedSuccessor"/>).
    /// </summary>
    public void StopAfterCommit(int child, bool force)
    {
        _stopAfterCommit = child;
        TellAfterCommit(child, force ? UpgradeHandshake.Force : UpgradeHandshake.Stop);
    }

    /// <summary>A forced stop after <see cref="StopAfterCommit"/>: the new master kills its workers at once too.</summary>
    public void ForceAfterCommit()
    {
        if (StoppedSuccessor is { } child) TellAfterCommit(child, UpgradeHandshake.Force);
    }

    private void TellAfterCommit(int child, string word)
    {
        if (!_commits.TryGetValue(child, out var commit) || !UpgradeHandshake.TryWriteLine(commit, word))
            log.Warn("upgrade", $"cannot tell the new master (pid {MasterOf(child)}) to {word}: it has gone");
    }

    private int? _stopAfterCommit;

    /// <summary>The new master told to stop with this pack while it took over, until it has been reaped.</summary>
    public int? StoppedSuccessor => _stopAfterCommit is { } child && _children.Contains(child) ? child : null;

    public void Kill(int child)
    {
        if (_children.Contains(child)) Processes.SignalGroup(child, SignalNames.SIGKILL);
    }

    public void HandedOver(int child)
    {
        // Told to stop with this pack, it may still be told to force the stop: the pipe stays open until it is reaped.
        if (_stopAfterCommit != child) CloseCommit(child);
        Successor = child;
    }

    /// <summary>
    /// Reaps new masters that exited. A new master leads its own process group: what it left in it (a candidate
    /// script's children) is killed with it. A gopherpack master's own workers and janitor have groups of their own.
    /// </summary>
    public void Reap()
    {
        foreach (var pid in _children.ToList())
        {
            if (Processes.TryReapGroup(pid) is not { } exit) continue;
            _children.Remove(pid);
            CloseCommit(pid);
            deleteControlSocketOf(pid);
            // Started by a wrapper script: the new master's socket before takeover is named by its own pid.
            if (_masterOfChild.Remove(pid, out var master)) deleteControlSocketOf(master);
            post(new SuccessorExited(pid, exit));
        }
    }

    private void CloseCommit(int child)
    {
        if (_commits.Remove(child, out var commit)) commit.Dispose();
    }

    private static SpawnRequest BuildSpawn(IReadOnlyList<string> command, int statusFd, int commitFd, HandoverSource source)
    {
        // The child's fds: 3 = status pipe, 4 = commit pipe, then every listening socket in manifest order.
        var fds = new List<int> { statusFd, commitFd };
        var listeners = new List<HandedListener>();
        foreach (var listener in source.Listeners.Listeners)
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
        if (source.Metrics is var (metricsSocket, metricsAddress))
        {
            metrics = new HandedMetrics(metricsAddress.ToString(), WorkerContract.FirstListenFd + fds.Count);
            fds.Add((int)metricsSocket.Handle);
        }
        var handover = new UpgradeHandover
        {
            From = Environment.ProcessId,
            Generation = source.Generation,
            StatusFd = WorkerContract.FirstListenFd,
            CommitFd = WorkerContract.FirstListenFd + 1,
            Listeners = listeners,
            Metrics = metrics,
            ScaledWorkers = source.ScaledWorkers,
            ManifestWorkers = source.Manifest.Workers,
            StopTimeoutSeconds = source.Manifest.Stop.Timeout.TotalSeconds,
            RetiredSockets = source.Listeners.Retired.Inodes.ToList(),
        };
        var environment = new List<string>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
            if (entry.Key is string key && !key.StartsWith("LISTEN_", StringComparison.Ordinal) && key != UpgradeHandover.Variable)
                environment.Add($"{key}={entry.Value}");
        environment.Add($"{UpgradeHandover.Variable}={handover.ToJson()}");
        var argv = command.Concat(["run", source.Manifest.ManifestPath, "--runtime-dir", source.RuntimeDir]).ToList();
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

    /// <summary>Each status line becomes an event on the loop; EOF (the new master closed it or exited) too.</summary>
    private async Task ReadStatus(int child, Stream status)
    {
        using var reader = new StreamReader(status, Encoding.UTF8);
        try
        {
            while (await reader.ReadLineAsync() is { } line)
                if (StatusEvent(child, line) is { } e) post(e);
        }
        catch (IOException) { /* the new master's end is gone: the end of its status, as below */ }
        post(new SuccessorExited(child, null));
    }

    /// <summary>A wrapper script's new master named itself (on the loop): stop and reaping reach it even after the upgrade ended.</summary>
    public void Named(SuccessorNamed named)
    {
        if (named.MasterPid != named.Child && _children.Contains(named.Child)) _masterOfChild[named.Child] = named.MasterPid;
    }

    private SupervisorEvent? StatusEvent(int child, string line)
    {
        if (UpgradeHandshake.ArgumentOf(line, UpgradeHandshake.Pid) is { } pidText)
            return int.TryParse(pidText, out var masterPid) && masterPid > 0 ? new SuccessorNamed(child, masterPid) : null;
        if (line == UpgradeHandshake.Ready) return new SuccessorReady(child);
        if (line.StartsWith(UpgradeHandshake.Taken, StringComparison.Ordinal))
            return new SuccessorTookOver(child, int.TryParse(line.AsSpan(UpgradeHandshake.Taken.Length).Trim(), out var generation) ? generation : null);
        if (UpgradeHandshake.ArgumentOf(line, UpgradeHandshake.Failed) is { } reason) return new SuccessorFailed(child, reason);
        log.Warn("upgrade", $"the new master (pid {child}) said something unknown on its status pipe: {line}");
        return null;
    }
}

internal sealed class UpgradeException(string message) : Exception(message);
