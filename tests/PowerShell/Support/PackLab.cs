using System.Net.Http;

namespace Gopherpack.PowerShell.Tests.Support;

/// <summary>
/// A temp dir with a runtime dir of its own and manifests of the contract test worker. On dispose, any master
/// still named by a pid file there is stopped (SIGTERM, then SIGKILL, by pid; its workers follow it) and the dir removed.
/// </summary>
public sealed class PackLab : IDisposable
{
    private readonly TempDir _dir = new();

    public PackLab() => RuntimeDir = System.IO.Path.Combine(_dir.Path, "rt");

    public string Path => _dir.Path;
    public string RuntimeDir { get; }
    /// <summary>-RuntimeDir 'DIR', to append to a command line.</summary>
    public string Rt => $"-RuntimeDir {Quote(RuntimeDir)}";

    /// <summary>A manifest of <paramref name="workers"/> test workers on an ephemeral loopback port.</summary>
    public string Manifest(string name, int workers = 2, string workerArgs = "", string extra = "", string? file = null, string stopTimeout = "10s", string cpus = "none")
    {
        var args = string.Join(", ", new[] { RepoPaths.TestWorkerDll }.Concat(workerArgs.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(a => $"\"{a}\""));
        return _dir.File(file ?? name + ".yml", $$"""
            name: {{name}}
            command: dotnet
            args: [{{args}}]
            workers: {{workers}}
            cpus: {{cpus}}
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            stop: { timeout: {{stopTimeout}} }
            {{extra}}
            """);
    }

    public string File(string name, string content) => _dir.File(name, content);

    public static string Quote(string text) => "'" + text.Replace("'", "''") + "'";

    /// <summary>GET / on a listener as a Pack shows it ("http=tcp://127.0.0.1:PORT").</summary>
    public static async Task<string> Get(string listeners)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return await client.GetStringAsync("http://" + listeners.Split(", ")[0].Split("=tcp://")[1] + "/");
    }

    public int? MasterPid(string pack)
    {
        try { return int.Parse(System.IO.File.ReadAllText(System.IO.Path.Combine(RuntimeDir, pack + ".pid")).Trim()); }
        catch (Exception e) when (e is IOException or FormatException) { return null; }
    }

    public void Dispose()
    {
        var masters = Directory.Exists(RuntimeDir)
            ? Directory.GetFiles(RuntimeDir, "*.pid").Select(f => int.TryParse(System.IO.File.ReadAllText(f).Trim(), out var pid) ? pid : 0).Where(p => p > 0 && p != Environment.ProcessId).ToList()
            : [];
        foreach (var pid in masters) Native.kill(pid, Native.SIGTERM);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (masters.Any(ProcessTable.IsAlive) && DateTime.UtcNow < deadline) Thread.Sleep(50);
        foreach (var pid in masters.Where(ProcessTable.IsAlive)) Native.kill(pid, Native.SIGKILL);
        _dir.Dispose();
    }
}
