using Gopherpack.Control;
using Gopherpack.Runtime;

namespace Gopherpack.Tests.Support;

/// <summary>
/// A pack started detached with <c>gopherpack start</c>. On dispose every master and worker any status of it showed
/// (masters that replaced the first by upgrades included), and the other pids the test handed over, are ended by pid.
/// </summary>
public sealed class StartedPack : IAsyncDisposable
{
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(15);
    private readonly PackSightings _seen = new();
    private readonly List<Func<IEnumerable<int>>> _alsoEnd = [];

    private StartedPack(string runtimeDir, string name, int masterPid)
    {
        RuntimeDir = runtimeDir;
        Name = name;
        MasterPid = masterPid;
        Client = new PackClient(new RuntimeDirectory(runtimeDir));
        _seen.AddMaster(masterPid);
    }

    public string RuntimeDir { get; }
    public string Name { get; }
    /// <summary>The master that <c>gopherpack start</c> left running (an upgrade may have replaced it since).</summary>
    public int MasterPid { get; }
    public PackClient Client { get; }
    public string LogPath => Path.Combine(RuntimeDir, Name + ".log");

    /// <summary>Runs <c>gopherpack start</c>; the result is returned whatever it was, with the pack if a master was left running.</summary>
    public static async Task<(Cli.Result Result, StartedPack? Pack)> StartAsync(string manifest, string runtimeDir, string name, params string[] extra)
    {
        var result = await Cli.RunAsync(["start", manifest, "--runtime-dir", runtimeDir, .. extra]);
        var pidFile = Path.Combine(runtimeDir, name + ".pid");
        StartedPack? pack = null;
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && Native.IsAlive(pid))
        {
            pack = new StartedPack(runtimeDir, name, pid);
            await pack.RememberWorkers();
        }
        return (result, pack);
    }

    /// <summary>The pack's status now, recorded for the cleanup at dispose.</summary>
    public async Task<PackStatus> StatusAsync()
    {
        var status = await Client.StatusAsync(Name);
        _seen.Saw(status);
        return status;
    }

    /// <summary>Records the workers (and master) the status shows now; a pack that does not answer is left as last seen.</summary>
    public async Task RememberWorkers()
    {
        try { await StatusAsync().WaitAsync(StatusTimeout); }
        catch (Exception e) when (e is PackNotRunningException or PackControlException or TimeoutException) { }
    }

    /// <summary>Processes the test started through the pack that are none of its workers (helpers, strays): given at dispose, ended by pid.</summary>
    public void AlsoEnd(Func<IEnumerable<int>> pids) => _alsoEnd.Add(pids);

    public async ValueTask DisposeAsync()
    {
        foreach (var pid in _seen.MasterPids.Where(Native.IsAlive)) Native.kill(pid, 18); // SIGCONT, in case a test stopped it
        if (_seen.MasterPids.Any(Native.IsAlive)) await RememberWorkers();
        var masters = _seen.MasterPids.Where(Native.IsAlive).ToList();
        foreach (var pid in masters) Native.kill(pid, Native.SIGTERM);
        try { await Eventually.True(() => !masters.Any(Native.IsAlive), TimeSpan.FromSeconds(15), "the masters to stop"); }
        catch (TimeoutException) { foreach (var pid in masters.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL); }
        foreach (var pid in _seen.WorkerPids.Concat(_alsoEnd.SelectMany(pids => pids())).Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
    }
}
