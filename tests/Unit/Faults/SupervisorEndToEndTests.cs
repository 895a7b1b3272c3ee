using System.Text.Json;
using Gopherpack.Control;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>Issue 13's state machine and reporting fixes, through the real command and a real master.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SupervisorEndToEndTests
{
    [Fact]
    public async Task A_second_stop_while_draining_does_not_kill_the_worker()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: drainer
            command: sh
            args: ["-c", "trap 'sleep 3; exit 0' TERM; while true; do sleep 0.1; done"]
            workers: 1
            ready: { mode: delay, delay: 50ms }
            stop: { timeout: 30s }
            """);
        var first = Cli.RunAsync("stop", "drainer", "--runtime-dir", pack.RuntimeDir);
        await pack.WaitForStatus(s => s.State == "Stopping", TimeSpan.FromSeconds(20), "the first stop");
        var second = await Cli.RunAsync("stop", "drainer", "--runtime-dir", pack.RuntimeDir);
        Assert.True(second.Code == 0, second.ToString());
        Assert.True((await first).Code == 0);
        Assert.Contains(pack.Lines, l => l.Contains("already stopping"));
        Assert.Contains(pack.Lines, l => l.Contains("worker stopped (exit code 0)"));
        Assert.DoesNotContain(pack.Lines, l => l.Contains("killing"));
    }

    [Fact]
    public async Task A_slot_failing_at_start_lets_start_return_and_a_reload_fixes_it()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        const string manifest = """
            name: halfbad
            command: dotnet
            args: ["{0}"{1}]
            workers: 2
            cpus: none
            restart: {{ backoff: {{ initial: 10ms, max: 10ms }}, limit: {{ restarts: 2, window: 60s }} }}
            """;
        var bad = dir.File("app.yml", string.Format(manifest, RepoPaths.TestWorkerDll, ", \"--crash-in-slot=1\""));
        var (start, pack) = await StartedPack.StartAsync(bad, runtime, "halfbad", "--timeout", "60");
        await using var _ = pack;
        Assert.True(start.Code == 0, start.ToString());
        Assert.Contains("slot 1 failed", start.Stderr);
        var status = await pack!.Client.StatusAsync("halfbad");
        Assert.Equal("Running", status.State);
        Assert.Equal("Failed", status.Workers.Single(w => w.Slot == 1).State);
        Assert.Contains("restart limit reached", status.Workers.Single(w => w.Slot == 1).FailureReason);
        var ps = await Cli.RunAsync("ps", "halfbad", "--runtime-dir", runtime);
        Assert.Contains("slot 1 failed: restart limit reached", ps.Stdout);

        File.WriteAllText(bad, string.Format(manifest, RepoPaths.TestWorkerDll, ""));
        var reload = await Cli.RunAsync("reload", "halfbad", "--runtime-dir", runtime);
        Assert.True(reload.Code == 0, reload.ToString());
        await pack.RememberWorkers();
        Assert.All((await pack.Client.StatusAsync("halfbad")).Workers.Where(w => w.Generation == 2), w => Assert.Equal("Ready", w.State));
    }

    [Fact]
    public async Task A_SIGHUP_with_a_broken_or_deleted_manifest_logs_every_problem_and_ps_shows_the_failed_reload()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: hup
            command: sh
            args: ["-c", "exec sleep 600"]
            workers: 1
            ready: { mode: delay, delay: 50ms }
            """);
        var manifest = Path.Combine(pack.Dir.Path, "app.yml");
        File.WriteAllText(manifest, "name: hup\ncommand: sh\nworkers: lots\n");
        pack.Signal(1); // SIGHUP
        var refused = await pack.WaitForLine(l => l.Contains(" reload: refused (SIGHUP)"), TimeSpan.FromSeconds(20), "the refused reload");
        Assert.Contains("the manifest is invalid", refused);
        await pack.WaitForLine(l => l.Contains($"{manifest}:3:10:"), TimeSpan.FromSeconds(5), "the problem with file:line:col");
        var ps = await Cli.RunAsync("ps", "hup", "--runtime-dir", pack.RuntimeDir);
        Assert.Contains("last reload: FAILED, generation 1 still serves", ps.Stdout);

        File.Delete(manifest);
        pack.Signal(1);
        await pack.WaitForLine(l => l.Contains("the manifest file is missing"), TimeSpan.FromSeconds(20), "the missing manifest");
    }

    [Fact]
    public async Task Two_quick_SIGTTINs_add_two_workers_and_a_reload_keeps_them()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: ttin
            command: sh
            args: ["-c", "exec sleep 600"]
            workers: 1
            cpus: none
            ready: { mode: delay, delay: 2s }
            """);
        pack.Signal(21); // SIGTTIN
        // Two signals sent at once may coalesce in the kernel: send the second once the first is handled,
        // while its new worker is still starting (it used to be refused: "a scale is already in progress").
        await pack.WaitForStatus(s => s.Workers.Count == 2, TimeSpan.FromSeconds(20), "the first SIGTTIN");
        pack.Signal(21);
        await pack.WaitForStatus(s => s.Workers.Count(w => w.IsReady) == 3, TimeSpan.FromSeconds(20), "three ready workers");
        Assert.DoesNotContain(pack.Lines, l => l.Contains("refused"));
        var reload = await pack.Client.ReloadAsync("ttin");
        Assert.True(reload.Ok);
        Assert.Equal(3, (await pack.StatusAsync()).Workers.Count(w => w.Generation == reload.Generation));
    }
}
