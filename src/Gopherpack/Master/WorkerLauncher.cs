using System.Collections;
using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>Turns a <see cref="WorkerLaunch"/> into the exact process the worker contract describes.</summary>
internal sealed class WorkerLauncher
{
    /// <summary>
    /// posix_spawn cannot set LISTEN_PID to the child's own pid, nor PR_SET_PDEATHSIG: setpriv sets the
    /// death signal relative to the spawner thread, then sh sets LISTEN_PID=$$ and execs the command
    /// in place, so the worker keeps that pid.
    /// </summary>
    private const string SetListenPid = "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"";
    private const string Shell = "/bin/sh";
    /// <summary>The exit code of the trampoline when the worker's account cannot reach what the worker needs.</summary>
    public const int SetupFailedCode = 125;
    /// <summary>The trampoline's stderr line before <see cref="SetupFailedCode"/>; the rest of the line is the reason.</summary>
    public const string SetupFailedPrefix = "gopherpack: worker setup failed: ";
    private static readonly string[] SetprivPaths = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv"];

    private readonly PackManifest _manifest;
    private readonly ListenerSet _listeners;
    private readonly int _lifelineFd;
    private readonly List<string> _baseEnvironment;
    private readonly List<string> _pinnedEnvironment;
    private readonly string? _setpriv;
    /// <summary>setpriv's options that drop to the manifest's account; empty when the workers keep the master's identity.</summary>
    private readonly string[] _dropIdentity = [];
    /// <summary>sh -c script: $0 the command, or with an account $0 the working directory and the command first in "$@".</summary>
    private readonly string _script = SetListenPid;

    public WorkerLauncher(PackManifest manifest, ListenerSet listeners, int lifelineReadFd, IDictionary masterEnvironment)
    {
        _manifest = manifest;
        _listeners = listeners;
        _lifelineFd = lifelineReadFd;
        _setpriv = FindSetpriv();
        var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in masterEnvironment)
            if (entry.Key is string key && !WorkerContract.IsReserved(key)) environment[key] = entry.Value as string ?? "";
        if (manifest.Account is { } account)
        {
            // As systemd's User= does; the manifest's env still wins.
            environment["USER"] = environment["LOGNAME"] = account.User;
            environment["HOME"] = account.Home;
            if (ChangesIdentity(account))
            {
                // Root's session variables are no business of another account's workers.
                if (account.Shell.Length > 0) environment["SHELL"] = account.Shell;
                foreach (var key in environment.Keys.Where(IsRootSessionVariable).ToList()) environment.Remove(key);
                if (_setpriv is null) throw new SpawnException($"'user: {account.User}' needs util-linux setpriv, and it is not installed");
                _dropIdentity = WorkerIdentity.SetprivOptions(account);
                _script = WorkerIdentity.CheckingScript(account, manifest, SetupFailedPrefix, SetupFailedCode) + SetListenPid.Replace("\"$0\" \"$@\"", "\"$@\"", StringComparison.Ordinal);
            }
        }
        foreach (var (key, value) in manifest.Env) environment[key] = value;
        _baseEnvironment = environment.Select(p => $"{p.Key}={p.Value}").ToList();
        _pinnedEnvironment = [.. OneCoreRuntimeDefaults.For(new HashSet<string>(environment.Keys, StringComparer.Ordinal))];
    }

    private static bool IsRootSessionVariable(string key) =>
        key is "MAIL" or "XDG_RUNTIME_DIR" || key.StartsWith("SUDO_", StringComparison.Ordinal);

    /// <summary>The manifest its workers are started from (their stop signal and timeout among it).</summary>
    public PackManifest Manifest => _manifest;

    /// <summary>False when util-linux setpriv is missing: then only the lifeline ends workers whose master is killed.</summary>
    public bool HasDeathSignal => _setpriv is not null;

    /// <summary>The account workers become, when it is not the master's own; their notify sockets must be given to it.</summary>
    public WorkerAccount? DropsTo => _dropIdentity.Length > 0 ? _manifest.Account : null;

    public static string? FindSetpriv() => SetprivPaths.FirstOrDefault(File.Exists);

    /// <summary>Whether running as <paramref name="account"/> needs a uid or gid other than the master's own.</summary>
    public static bool ChangesIdentity(WorkerAccount account) =>
        account.Uid != UnixAccounts.EffectiveUid || account.Gid != UnixAccounts.EffectiveGid;

    /// <param name="startGateFd">
    /// The read end of a pipe the worker waits on (as its stdin, then /dev/null) before its command runs: the master writes "go" once the janitor's
    /// list names the worker. A master killed before that leaves a process that reads EOF and exits, never a worker
    /// the janitor does not know (one that ignores its stop signal and closed the lifeline would outlive it).
    /// </param>
    public SpawnRequest Build(WorkerLaunch launch, string notifySocket, int stdoutFd, int stderrFd, int startGateFd)
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
        if (_setpriv is not null) argv.AddRange([_setpriv, "--pdeathsig", SignalNames.Name(_manifest.Stop.Signal)[3..], .. _dropIdentity, "--"]);
        argv.AddRange([Shell, "-c", StartGate + _script]);
        if (_dropIdentity.Length > 0) argv.Add(_manifest.WorkingDirectory);
        argv.Add(_manifest.Command);
        argv.AddRange(_manifest.Args);

        return new SpawnRequest(
            Executable: argv[0],
            Argv: argv,
            Environment: environment,
            WorkingDirectory: _manifest.WorkingDirectory,
            StdoutFd: stdoutFd,
            StderrFd: stderrFd,
            InheritedFds: [.. listenFds, _lifelineFd],
            Cpu: launch.Cpu,
            // A session of its own, as sshd and su -P give: no controlling terminal, so a worker of a master run on a
            // terminal cannot push input into it (TIOCSTI) or take its foreground, nor join a sibling's process group.
            // setsid makes it its own process group's leader too, as the janitor and stop expect.
            NewSession: true,
            StdinFd: startGateFd);
    }

    /// <summary>The word the master writes to a worker's start gate once it is listed for the janitor.</summary>
    public const string StartGateWord = "go";

    private const string StartGate = "IFS= read -r gate; exec </dev/null; [ \"$gate\" = " + StartGateWord + " ] || exit 0; ";

    private string ListenersJson() =>
        ListenerSettings.Json(_listeners.Listeners.Select((l, i) => ListenerSettings.From(l.Spec, WorkerContract.FirstListenFd + i, l.BoundAddress)));
}
