using System.Collections;
using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>Turns a <see cref="WorkerLaunch"/> into the exact process the worker contract describes.</summary>
public sealed class WorkerLauncher
{
    /// <summary>
    /// posix_spawn cannot set LISTEN_PID to the child's own pid, nor PR_SET_PDEATHSIG: setpriv sets the
    /// death signal relative to the spawner thread, then sh sets LISTEN_PID=$$ and execs the command
    /// in place, so the worker keeps that pid.
    /// </summary>
    private const string SetListenPid = "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"";
    private const string Shell = "/bin/sh";
    private static readonly string[] SetprivPaths = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"];

    private readonly PackManifest _manifest;
    private readonly ListenerSet _listeners;
    private readonly int _lifelineFd;
    private readonly List<string> _baseEnvironment;
    private readonly List<string> _pinnedEnvironment;
    private readonly string? _setpriv;

    public WorkerLauncher(PackManifest manifest, ListenerSet listeners, int lifelineReadFd, IDictionary masterEnvironment)
    {
        _manifest = manifest;
        _listeners = listeners;
        _lifelineFd = lifelineReadFd;
        _setpriv = SetprivPaths.FirstOrDefault(File.Exists);
        var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in masterEnvironment)
            if (entry.Key is string key && !WorkerContract.IsReserved(key)) environment[key] = entry.Value as string ?? "";
        foreach (var (key, value) in manifest.Env) environment[key] = value;
        _baseEnvironment = environment.Select(p => $"{p.Key}={p.Value}").ToList();
        _pinnedEnvironment = [.. OneCoreRuntimeDefaults.For(new HashSet<string>(environment.Keys, StringComparer.Ordinal))];
    }

    /// <summary>The manifest its workers are started from (their stop signal and timeout among it).</summary>
    public PackManifest Manifest => _manifest;

    /// <summary>False when util-linux setpriv is missing: then only the lifeline ends workers whose master is killed.</summary>
    public bool HasDeathSignal => _setpriv is not null;

    public SpawnRequest Build(WorkerLaunch launch, string notifySocket, int stdoutFd, int stderrFd)
    {
        var listenFds = _listeners.FdsFor(launch.Slot);
        var lifelineChildFd = WorkerContract.FirstListenFd + listenFds.Count;
        var environment = new List<string>(_baseEnvironment)
        {
            $"{WorkerContract.ListenFds}={listenFds.Count}",
            $"{WorkerContract.ListenFdNames}={string.Join(':', _listeners.Listeners.Select(l => l.Spec.Name))}",
            $"{WorkerContract.NotifySocket}={notifySocket}",
            $"{WorkerContract.Pack}={_manifest.Name}",
            $"{WorkerContract.Slot}={launch.Slot}",
            $"{WorkerContract.Generation}={launch.Generation}",
            $"{WorkerContract.MasterPid}={Environment.ProcessId}",
            $"{WorkerContract.LifelineFd}={lifelineChildFd}",
            $"{WorkerContract.Listeners}={ListenersJson()}",
        };
        if (launch.Cpu is { } cpu) environment.AddRange([$"{WorkerContract.Cpu}={cpu}", .. _pinnedEnvironment]);
        if (_manifest.WatchdogTimeout > TimeSpan.Zero)
            environment.Add($"{WorkerContract.WatchdogUsec}={(long)(_manifest.WatchdogTimeout.TotalMilliseconds * 1000)}");

        var argv = new List<string>();
        if (_setpriv is not null) argv.AddRange([_setpriv, "--pdeathsig", SignalNames.Name(_manifest.Stop.Signal)[3..], "--"]);
        argv.AddRange([Shell, "-c", SetListenPid, _manifest.Command]);
        argv.AddRange(_manifest.Args);

        return new SpawnRequest(
            Executable: argv[0],
            Argv: argv,
            Environment: environment,
            WorkingDirectory: _manifest.WorkingDirectory,
            StdoutFd: stdoutFd,
            StderrFd: stderrFd,
            InheritedFds: [.. listenFds, _lifelineFd],
            Cpu: launch.Cpu);
    }

    private string ListenersJson() =>
        ListenerSettings.Json(_listeners.Listeners.Select((l, i) => ListenerSettings.From(l.Spec, WorkerContract.FirstListenFd + i, l.BoundAddress)));
}
