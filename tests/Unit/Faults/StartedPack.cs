using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>A pack started detached with <c>gopherpack start</c>; on dispose its master and every worker it had are ended by pid.</summary>
public sealed class StartedPack : IAsyncDisposable
{
    private readonly HashSet<int> _workers = [];

    private StartedPack(string runtimeDir, string name, int masterPid)
    {
        RuntimeDir = runtimeDir;
        Name = name;
        MasterPid = masterPid;
        Client = new PackClient(new RuntimeDirectory(runtimeDir));
    }

    public string RuntimeDir { get; }
    public string Name { get; }
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

    public async Task RememberWorkers()
    {
        try
        {
            foreach (var worker in (await Client.StatusAsync(Name).WaitAsync(TimeSpan.FromSeconds(15))).Workers)
                if (worker.Pid is { } pid) _workers.Add(pid);
        }
        catch (Exception) { }
    }

    public async ValueTask DisposeAsync()
    {
        if (Native.IsAlive(MasterPid))
        {
            Native.kill(MasterPid, 18); // SIGCONT, in case a test stopped it
            await RememberWorkers();
            Native.kill(MasterPid, Native.SIGTERM);
            try { await Eventually.True(() => !Native.IsAlive(MasterPid), TimeSpan.FromSeconds(15), "the master to stop"); }
            catch (TimeoutException) { Native.kill(MasterPid, Native.SIGKILL); }
        }
        foreach (var pid in _workers.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
    }
}
