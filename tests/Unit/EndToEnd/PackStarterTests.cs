using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class PackStarterTests
{
    [Fact]
    public async Task A_long_lived_process_that_started_a_pack_is_left_no_zombie_when_the_pack_stops()
    {
        // This test process plays the pwsh session that ran Start-Pack: the master is its child.
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", $$"""
            name: child
            command: dotnet
            args: ["{{RepoPaths.TestWorkerDll}}"]
            workers: 1
            """);
        var runtime = new RuntimeDirectory(Path.Combine(dir.Path, "rt"));
        var status = await new PackStarter(runtime).StartAsync(manifest,
            (m, rt) => ["/usr/bin/env", "dotnet", RepoPaths.CliDll, "run", m.ManifestPath, "--runtime-dir", rt], TimeSpan.FromSeconds(60));
        var master = status.MasterPid;
        try
        {
            Assert.Contains(master, Native.Children(Environment.ProcessId));
            // No spawner thread is left per start (a pwsh session may start hundreds of packs); comm is cut at 15 bytes.
            Assert.DoesNotContain("gopherpack-spaw", Directory.GetDirectories("/proc/self/task").Select(ThreadName));
            await new PackClient(runtime).StopAsync("child");
            await Eventually.True(() => !File.Exists($"/proc/{master}/stat"), TimeSpan.FromSeconds(5), $"master {master} was left a zombie of the process that started it");
        }
        finally
        {
            if (Native.IsAlive(master)) Native.kill(master, Native.SIGKILL);
        }
    }

    /// <summary>A thread's name, or "" when it ended while the threads were listed.</summary>
    private static string ThreadName(string task)
    {
        try { return File.ReadAllText(task + "/comm").Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }
}
