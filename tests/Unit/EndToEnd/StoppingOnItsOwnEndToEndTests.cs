using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// A worker whose app stops itself (STOPPING=1 unasked) and then hangs in its shutdown, as a .NET app whose
/// shutdown hangs after StopApplication does: the master logs it, a replacement serves the slot at once, and the
/// hung worker is killed after stop.timeout. A small python3 worker speaks sd_notify by hand.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class StoppingOnItsOwnEndToEndTests
{
    // The first worker (the one that creates the marker file) announces its stop and hangs, ignoring SIGTERM;
    // its replacements serve normally.
    private const string Worker = """
        import os, signal, socket, sys, time
        marker, when = sys.argv[1], sys.argv[2]
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            first = True
        except FileExistsError:
            first = False
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.connect(os.environ["NOTIFY_SOCKET"])
        if first:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if when == "after-ready":
                notify.send(b"READY=1")
                time.sleep(0.3)
            notify.send(b"STOPPING=1")
        else:
            notify.send(b"READY=1")
        while True:
            time.sleep(3600)
        """;

    [Theory]
    [InlineData("after-ready")]
    [InlineData("before-ready")]
    public async Task A_worker_that_stops_on_its_own_is_replaced_at_once_and_killed_after_stop_timeout(string when)
    {
        using var dir = new TempDir();
        var marker = Path.Combine(dir.Path, "first.pid");
        var script = dir.File("worker.py", Worker);
        // ready.timeout is long and the start timeout shorter: before the fix, a worker that stopped before it was
        // ready held 'start' until ready.timeout.
        var manifest = dir.File("app.yml", $$"""
            name: selfstop
            command: python3
            args: ["{{script}}", "{{marker}}", "{{when}}"]
            workers: 1
            cpus: none
            ready: { timeout: 10m }
            stop: { timeout: 2s }
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """);
        var runtime = Path.Combine(dir.Path, "rt");
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "selfstop", "--timeout", "60");
        await using var _ = pack;
        Assert.True(start.Code == 0, start.ToString());
        var first = int.Parse(File.ReadAllText(marker));
        pack!.AlsoEnd(() => [first]);

        var status = await Eventually.Value(async () =>
        {
            var s = await pack.StatusAsync();
            return s.Workers.Any(w => w.Slot == 0 && w.Pid != first && w.IsReady) ? s : null;
        }, TimeSpan.FromSeconds(30), "a ready replacement in slot 0");
        Assert.Equal("Running", status.State);
        Assert.Equal(1, status.Workers.Single(w => w.Pid != first).Restarts);

        // The hung worker ignores SIGTERM and never exits by itself: only the master's SIGKILL at stop.timeout ends it.
        await Eventually.True(() => !File.Exists($"/proc/{first}/stat"), TimeSpan.FromSeconds(2 + 15),
            $"the worker that stopped on its own (pid {first}) to be killed after stop.timeout and reaped");
        var log = File.ReadAllText(pack.LogPath);
        Assert.Contains($"slot=0 pid={first} stopping: worker announced it is stopping (STOPPING=1) without being asked", log);
        Assert.Contains($"slot=0 pid={first} stop-timeout: worker did not stop within 2s (stop.timeout); sending SIGKILL", log);
        Assert.Contains("slot=0 replace: starting a replacement now", log);
        Assert.DoesNotContain("backoff:", log);
    }
}
