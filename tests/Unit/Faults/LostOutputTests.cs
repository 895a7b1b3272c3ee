using System.Diagnostics;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class LostOutputTests
{
    [Fact]
    public async Task The_pack_keeps_running_when_whoever_read_the_masters_output_goes_away()
    {
        // gopherpack run ... 2>&1 | head -3: head exits, and every later write of the master hits a closed
        // pipe (.NET's console streams ignore EPIPE; this guards that the master relies on it safely).
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", $$"""
            name: headless
            command: sh
            args: ["-c", "while true; do echo chatter; sleep 0.05; done"]
            workers: 1
            ready: { mode: delay, delay: 100ms }
            """);
        var runtime = Path.Combine(dir.Path, "rt");
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true };
        foreach (var arg in new[] { "-c", "\"$@\" 2>&1 | head -3", "sh" }.Concat(RepoPaths.CliCommand).Concat(["run", manifest, "--runtime-dir", runtime]))
            start.ArgumentList.Add(arg);
        using var shell = Process.Start(start)!;
        var client = new PackClient(new RuntimeDirectory(runtime));
        int? master = null;
        try
        {
            for (var i = 0; i < 3; i++) await shell.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)); // then head exits
            var status = await Eventually.Value(async () =>
            {
                try { return await client.StatusAsync("headless"); }
                catch (PackNotRunningException) { return null; }
            }, TimeSpan.FromSeconds(20), "the master to answer");
            master = status.MasterPid;
            var worker = status.Workers.Single().Pid!.Value;
            // The worker writes 20 lines a second into the master, whose output pipe is closed: surviving
            // that for a while is the point, so there is nothing to await but time.
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.True(Native.IsAlive(master.Value), "the master died when its output reader went away");
            Assert.Equal("Running", (await client.StatusAsync("headless")).State);
            var wchan = File.ReadAllText($"/proc/{worker}/wchan");
            Assert.NotEqual("pipe_write", wchan);
            await client.StopAsync("headless");
        }
        finally
        {
            var pidFile = Path.Combine(runtime, "headless.pid");
            master ??= File.Exists(pidFile) ? int.Parse(File.ReadAllText(pidFile)) : null;
            if (master is { } pid && Native.IsAlive(pid)) Native.kill(pid, Native.SIGTERM);
            await shell.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
