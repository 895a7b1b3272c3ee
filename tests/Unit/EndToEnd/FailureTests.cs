using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class FailureTests
{
    [Fact]
    public async Task A_crash_looping_slot_ends_failed_while_the_other_slot_serves()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: crashy
            command: dotnet
            args: ["{worker}", "--crash-in-slot=1"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            restart: { backoff: { initial: 10ms, max: 50ms }, limit: { restarts: 3, window: 60s } }
            """, waitReady: false);
        var failed = await pack.WaitForLine(l => l.Contains(" slot-failed: "), TimeSpan.FromSeconds(30), "slot 1 to be marked failed");
        Assert.Contains("slot=1", failed);
        Assert.Contains("restart limit reached (3 restarts within 60s)", failed);
        Assert.Equal(4, pack.Lines.Count(l => l.Contains(" slot=1 ") && l.Contains(" spawn: ")));
        Assert.Contains("crashing on purpose", pack.Log);
        Assert.Contains("exit code 3", pack.Log);

        var endpoint = pack.TcpEndPoint("http");
        for (var i = 0; i < 20; i++) Assert.Equal(pack.SlotPids[0], await RawHttp.PidAsync(endpoint));
        Assert.False(pack.Master.HasExited);
    }

    [Fact]
    public async Task When_every_slot_has_failed_the_master_exits_non_zero_and_cleans_up()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: doomed
            command: dotnet
            args: ["{worker}", "--crash"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            restart: { backoff: { initial: 10ms, max: 20ms }, limit: { restarts: 1, window: 60s } }
            """, waitReady: false);
        Assert.Equal(1, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Contains("every slot has failed", pack.Log);
        Assert.Empty(Directory.GetFileSystemEntries(pack.RuntimeDir));
        foreach (var pid in pack.AllWorkerPids) Assert.False(Native.IsAlive(pid));
    }

    [Fact]
    public async Task A_worker_that_never_becomes_ready_is_killed_at_the_ready_timeout_and_restarted()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: mute
            command: dotnet
            args: ["{worker}", "--never-ready"]
            workers: 1
            ready: { timeout: 500ms }
            restart: { backoff: { initial: 10ms } }
            """, waitReady: false);
        var timeout = await pack.WaitForLine(l => l.Contains(" ready-timeout: "), TimeSpan.FromSeconds(15), "the ready timeout");
        Assert.Contains("not ready within 500ms", timeout);
        var first = int.Parse(System.Text.RegularExpressions.Regex.Match(timeout, @" pid=(\d+) ").Groups[1].Value);
        await pack.WaitForStatus(s => s.Workers.Any(w => w.Slot == 0 && w.Pid is { } pid && pid != first), TimeSpan.FromSeconds(15), "a second worker");
    }

    [Fact]
    public async Task A_command_that_cannot_start_is_reported_and_nothing_is_left_running()
    {
        using var dir = new TempDir();
        var script = dir.File("not-executable.sh", "#!/bin/sh\necho hi\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(script, "#!/nonexistent/interpreter\n");
        await using var pack = await PackProcess.StartAsync("""
            name: broken
            command: ./not-executable.sh
            workers: 1
            restart: { backoff: { initial: 10ms }, limit: { restarts: 1 } }
            """, waitReady: false, dir: dir);
        Assert.Equal(1, await pack.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Contains("not-executable.sh' could not be executed (exit code 127", pack.Log);
        Assert.Contains("not-executable.sh: not found", pack.Log);
        foreach (var pid in pack.AllWorkerPids) Assert.False(Native.IsAlive(pid));
    }
}
