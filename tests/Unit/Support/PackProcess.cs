using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Gopherpack.Tests.Support;

/// <summary>
/// A real master started with <c>gopherpack run</c> on a manifest in a temp dir. Reads its log to learn
/// worker pids and bound addresses; on dispose stops the master and kills every process it saw, by pid.
/// </summary>
public sealed partial class PackProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly Process _master;
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];
    private readonly HashSet<int> _workerPids = [];
    private readonly Dictionary<int, int> _slotPids = [];
    private readonly TempDir _dir;
    private readonly bool _ownsDir;

    [GeneratedRegex(@" slot=(\d+) pid=(\d+) spawn:")] private static partial Regex SpawnLine();
    [GeneratedRegex(@" listen: (\S+) (\S+)")] private static partial Regex ListenLine();
    [GeneratedRegex(@" setup: master pid (\d+)")] private static partial Regex MasterLine();
    private readonly HashSet<int> _masterPids = [];

    private PackProcess(TempDir dir, bool ownsDir, string manifestPath, IDictionary<string, string>? environment, IReadOnlyList<string>? launcher)
    {
        _dir = dir;
        _ownsDir = ownsDir;
        RuntimeDir = Path.Combine(dir.Path, "rt");
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
            if (waitReady) await pack.WaitForLine(l => l.Contains(" pack-ready: "), StartTimeout, "the pack to become ready");
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

    public IReadOnlyDictionary<int, int> SlotPids { get { lock (_lines) return new Dictionary<int, int>(_slotPids); } }

    public IReadOnlyCollection<int> AllWorkerPids { get { lock (_lines) return _workerPids.ToList(); } }

    /// <summary>Every master that logged here: the one started, and those that replaced it by upgrades.</summary>
    public IReadOnlyCollection<int> AllMasterPids { get { lock (_lines) return _masterPids.ToList(); } }

    public string Address(string listener) =>
        Lines.Select(l => ListenLine().Match(l)).First(m => m.Success && m.Groups[1].Value == listener).Groups[2].Value;

    public IPEndPoint TcpEndPoint(string listener)
    {
        var address = Address(listener)["tcp://".Length..];
        var colon = address.LastIndexOf(':');
        return new IPEndPoint(IPAddress.Parse(address[..colon].Trim('[', ']')), int.Parse(address[(colon + 1)..]));
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
            var spawn = SpawnLine().Match(line);
            if (spawn.Success)
            {
                var pid = int.Parse(spawn.Groups[2].Value);
                _workerPids.Add(pid);
                _slotPids[int.Parse(spawn.Groups[1].Value)] = pid;
            }
            var master = MasterLine().Match(line);
            if (master.Success) _masterPids.Add(int.Parse(master.Groups[1].Value));
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Masters started by upgrades are not our children: they are stopped by pid, first, since they hold our output pipes.
        var successors = AllMasterPids.Where(p => p != _master.Id && Native.IsAlive(p)).ToList();
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
        foreach (var pid in AllWorkerPids.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
        _master.Dispose();
        if (_ownsDir) _dir.Dispose();
    }
}
