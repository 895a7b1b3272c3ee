using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Gopherpack.Control;
using Gopherpack.Runtime;
using YamlDotNet.RepresentationModel;

namespace Gopherpack.Tests.Support;

/// <summary>
/// A real master started with <c>gopherpack run</c> on a manifest in a temp dir. Asks the master's status (its
/// control socket) for readiness, worker pids and bound addresses; on dispose stops the master and kills every
/// process any status showed, or the log named, by pid.
/// </summary>
public sealed partial class PackProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    /// <summary>How long one status request may take before the master counts as not answering.</summary>
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(10);
    private readonly Process _master;
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];
    private readonly PackSightings _seen = new();
    private readonly TempDir _dir;
    private readonly bool _ownsDir;
    private readonly string? _name;
    private volatile bool _pidsElsewhere;

    // Only what no status can show: workers that died between two statuses, upgrade successors that never answered.
    [GeneratedRegex(@" slot=\d+ pid=(\d+) spawn:")] private static partial Regex SpawnLine();
    [GeneratedRegex(@" setup: master pid (\d+)")] private static partial Regex MasterLine();

    private PackProcess(TempDir dir, bool ownsDir, string manifestPath, IDictionary<string, string>? environment, IReadOnlyList<string>? launcher)
    {
        _dir = dir;
        _ownsDir = ownsDir;
        _name = PackName(manifestPath);
        RuntimeDir = Path.Combine(dir.Path, "rt");
        Client = new PackClient(new RuntimeDirectory(RuntimeDir)) { SilenceTimeout = StatusTimeout };
        // The master's command line, after the launcher's when there is one (socket activation, unshare).
        var command = (launcher ?? []).Concat(RepoPaths.CliCommand).ToList();
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in command.Skip(1).Concat(["run", manifestPath, "--runtime-dir", RuntimeDir])) start.ArgumentList.Add(arg);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        _master = Process.Start(start)!;
        _master.OutputDataReceived += (_, e) => OnLine(e.Data);
        _master.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _master.BeginOutputReadLine();
        _master.BeginErrorReadLine();
    }

    public string RuntimeDir { get; }
    public PackClient Client { get; }
    /// <summary>The pack's name: the manifest's, else the one pack with a control socket in <see cref="RuntimeDir"/>.</summary>
    public string Name => _name ?? Client.PackNames().Single();
    public TempDir Dir => _dir;
    public int MasterPid => _master.Id;
    public Process Master => _master;

    /// <summary>Writes app.yml (with <c>{worker}</c> replaced by the test worker's dll) and runs the master.</summary>
    /// <param name="launcher">A command that runs the master's command line given after it (e.g. a socket-activation launcher, or unshare).</param>
    public static async Task<PackProcess> StartAsync(string manifestYaml, bool waitReady = true, IDictionary<string, string>? environment = null, TempDir? dir = null,
        IReadOnlyList<string>? launcher = null)
    {
        var ownsDir = dir is null;
        dir ??= new TempDir();
        var manifest = dir.File("app.yml", manifestYaml.Replace("{worker}", RepoPaths.TestWorkerDll)
            .Replace("{HelloHttp}", RepoPaths.ExampleDll("HelloHttp"))
            .Replace("{EchoTcp}", RepoPaths.ExampleDll("EchoTcp"))
            .Replace("{GreeterGrpc}", RepoPaths.ExampleDll("GreeterGrpc")));
        var pack = new PackProcess(dir, ownsDir, manifest, environment, launcher);
        try
        {
            if (waitReady) await pack.WaitUntilReady(StartTimeout);
        }
        catch
        {
            // The test never gets the pack to dispose: stop the master here, or it outlives the test run.
            await pack.DisposeAsync();
            throw;
        }
        return pack;
    }

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToList(); } }
    public string Log => string.Join('\n', Lines);

    /// <summary>Each slot's worker pid (the newest generation's) as the master's status shows it now; a slot the status no longer shows (scaled away, master gone) keeps its last pid.</summary>
    public IReadOnlyDictionary<int, int> SlotPids { get { Refresh(); return _seen.SlotPids; } }

    /// <summary>Every worker any status showed, and every worker the log named (one that died between two statuses is in none).</summary>
    public IReadOnlyCollection<int> AllWorkerPids { get { Refresh(); return _seen.WorkerPids; } }

    /// <summary>Every master seen here: the one started, and those that replaced it by upgrades (or tried to).</summary>
    public IReadOnlyCollection<int> AllMasterPids { get { Refresh(); return _seen.MasterPids; } }

    /// <summary>The address the listener is bound to (<c>tcp://HOST:PORT</c>, <c>unix:///path</c>), as the status shows it now, or showed last.</summary>
    public string Address(string listener)
    {
        Refresh();
        return _seen.ListenerAddress(listener) ?? throw new InvalidOperationException($"no status of pack '{_name}' showed a listener '{listener}'; log:\n{Log}");
    }

    public IPEndPoint TcpEndPoint(string listener)
    {
        var address = Address(listener)["tcp://".Length..];
        var colon = address.LastIndexOf(':');
        return new IPEndPoint(IPAddress.Parse(address[..colon].Trim('[', ']')), int.Parse(address[(colon + 1)..]));
    }

    /// <summary>The master's status now (recorded for <see cref="SlotPids"/> and the cleanup at dispose).</summary>
    /// <exception cref="PackNotRunningException">No master answers.</exception>
    /// <exception cref="PackControlException">The master answered with an error, or not within the status timeout.</exception>
    public async Task<PackStatus> StatusAsync()
    {
        PackStatus status;
        try { status = await Client.StatusAsync(Name); }
        catch (PackControlException e) when (e.Code == ControlErrors.AccessDenied)
        {
            // A master the test runs as another account: PackClient refuses its runtime dir, the master answers root.
            status = await ForeignMasterStatus.AskAsync(RuntimeDir, Name, StatusTimeout);
        }
        _seen.Saw(status, pidsHere: !PidsElsewhere(status.MasterPid));
        return status;
    }

    /// <summary>Asks the status until it satisfies <paramref name="match"/>; fails with the master's log when the timeout passes or the master exits first.</summary>
    public async Task<PackStatus> WaitForStatus(Func<PackStatus, bool> match, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        PackStatus? last = null;
        Exception? problem = null;
        while (true)
        {
            try
            {
                last = await StatusAsync();
                problem = null;
                if (match(last)) return last;
            }
            catch (Exception e) when (e is PackNotRunningException or PackControlException or InvalidOperationException)
            {
                problem = e; // not answering yet (socket not bound), or between an upgrade's handover steps
            }
            if (!AnyMasterAlive())
            {
                _master.WaitForExit();
                throw new InvalidOperationException($"the master exited with code {_master.ExitCode} before {what}; log:\n{Log}");
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"waited {timeout.TotalSeconds:0.#}s for {what}; last status: {Describe(last)}{(problem is null ? "" : $"; last status request failed: {problem.Message}")}; master log:\n{Log}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the status says the pack is running with every worker ready.</summary>
    public Task<PackStatus> WaitUntilReady(TimeSpan timeout) =>
        WaitForStatus(s => s.State == nameof(Gopherpack.Master.PackState.Running) && s.Workers.Count > 0 && s.Workers.All(w => w.IsReady), timeout, "the pack to become ready");

    /// <summary>Waits until the status shows a ready worker in <paramref name="slot"/> other than <paramref name="replaced"/>; returns its pid.</summary>
    public async Task<int> WaitForReplacement(int slot, int replaced, TimeSpan timeout)
    {
        var status = await WaitForStatus(s => s.Workers.Any(w => w.Slot == slot && w.IsReady && w.Pid is { } pid && pid != replaced), timeout,
            $"a ready replacement of pid {replaced} in slot {slot}");
        return status.Workers.Last(w => w.Slot == slot && w.IsReady && w.Pid != replaced).Pid!.Value;
    }

    private static string Describe(PackStatus? status) => status is null ? "none" :
        $"{status.State}, generation {status.Generation}, master pid {status.MasterPid}, workers [{string.Join(", ", status.Workers.Select(w => $"slot {w.Slot} pid {w.Pid} generation {w.Generation} {w.State}"))}]";

    /// <summary>Takes a status, so a property shows the pack as it is now; when no master answers, the properties show what was seen last.</summary>
    private void Refresh()
    {
        if (!AnyMasterAlive()) return;
        // On the thread pool: the test's synchronisation context must not be needed to finish the request.
        try { Task.Run(StatusAsync).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is PackNotRunningException or PackControlException or InvalidOperationException) { }
    }

    /// <summary>
    /// Whether the master that names itself <paramref name="masterPid"/> runs in a pid namespace of its own (unshare
    /// --pid, as PID 1 of a container): the pids it reports, and logs, are then other processes here, never to be ended.
    /// Once seen, no pid of this pack is taken from its status or log (ending the launcher ends that namespace).
    /// </summary>
    private bool PidsElsewhere(int masterPid)
    {
        if (_pidsElsewhere) return true;
        string[] command;
        try { command = File.ReadAllText($"/proc/{masterPid}/cmdline").Split('\0'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; } // gone: nothing to end
        // A zombie has no command line left: it is gone too. A master of this pack runs with --runtime-dir RuntimeDir.
        if (command is [""] || command.Contains(RuntimeDir)) return false;
        return _pidsElsewhere = true;
    }

    private bool AnyMasterAlive() => !_master.HasExited || _seen.MasterPids.Any(p => p != _master.Id && Native.IsAlive(p));

    /// <summary>The manifest's <c>name:</c>, or null when the manifest cannot be read as YAML (a test of a bad manifest).</summary>
    private static string? PackName(string manifestPath)
    {
        try
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(manifestPath)));
            return yaml.Documents.Count == 1 && yaml.Documents[0].RootNode is YamlMappingNode root
                   && root.Children.TryGetValue(new YamlScalarNode("name"), out var name) && name is YamlScalarNode { Value: { Length: > 0 } value }
                ? value
                : null;
        }
        catch (Exception e) when (e is IOException or YamlDotNet.Core.YamlException or ArgumentException or InvalidOperationException) { return null; }
    }

    public Task<string> WaitForLine(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            var existing = _lines.FirstOrDefault(match);
            if (existing is not null) return Task.FromResult(existing);
            _waiters.Add((match, done));
        }
        return WithTimeout(done.Task, timeout, what);
    }

    private async Task<string> WithTimeout(Task<string> task, TimeSpan timeout, string what)
    {
        var exited = _master.WaitForExitAsync();
        var first = await Task.WhenAny(task, Task.Delay(timeout), exited);
        if (first == task) return await task;
        if (first == exited)
        {
            _master.WaitForExit();
            if (task.IsCompleted) return await task;
            throw new InvalidOperationException($"the master exited with code {_master.ExitCode} before {what}; log:\n{Log}");
        }
        throw new TimeoutException($"waited {timeout.TotalSeconds:0.#}s for {what}; master log:\n{Log}");
    }

    /// <summary>The master's exit code, or a timeout failure.</summary>
    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try { await _master.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"master did not exit within {timeout.TotalSeconds:0.#}s; log:\n{Log}"); }
        _master.WaitForExit(); // drains the output readers
        return _master.ExitCode;
    }

    public void Signal(int signal) => Native.kill(_master.Id, signal);

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Add(line);
            if (MasterLine().Match(line) is { Success: true } master && int.Parse(master.Groups[1].Value) is var masterPid && !PidsElsewhere(masterPid))
                _seen.AddMaster(masterPid);
            if (SpawnLine().Match(line) is { Success: true } spawn && !_pidsElsewhere) _seen.AddWorker(int.Parse(spawn.Groups[1].Value));
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The last status records the workers running now, whatever the log said or missed.
        if (AnyMasterAlive())
        {
            try { await StatusAsync().WaitAsync(StatusTimeout); }
            catch (Exception e) when (e is PackNotRunningException or PackControlException or InvalidOperationException or TimeoutException) { }
        }
        // Masters started by upgrades are not our children: they are stopped by pid, first, since they hold our output pipes.
        var successors = _seen.MasterPids.Where(p => p != _master.Id && Native.IsAlive(p)).ToList();
        foreach (var pid in successors) Native.kill(pid, Native.SIGTERM);
        if (!_master.HasExited)
        {
            Signal(Native.SIGTERM);
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _master.WaitForExitAsync(cancel.Token); }
            catch (OperationCanceledException) { _master.Kill(); }
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (successors.Any(Native.IsAlive) && DateTime.UtcNow < deadline) await Task.Delay(50);
        foreach (var pid in successors.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
        foreach (var pid in _seen.WorkerPids.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
        _master.Dispose();
        if (_ownsDir) _dir.Dispose();
    }
}
