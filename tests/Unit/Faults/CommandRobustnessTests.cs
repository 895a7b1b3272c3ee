using System.Diagnostics;
using System.Text.Json;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>The gopherpack command against stuck masters, bad arguments, other users and odd manifests: a clear message and a documented exit code, never a hang or a stack trace.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class CommandRobustnessTests
{
    private static void AssertNoStackTrace(Cli.Result result)
    {
        Assert.DoesNotContain("Unhandled exception", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public async Task Scale_with_a_count_that_is_not_a_number_exits_2()
    {
        var result = await Cli.RunAsync("scale", "anypack", "abc");
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains("N must be a whole number from 1 to 1024, not 'abc'", result.Stderr);
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task A_stopped_master_makes_ps_and_stop_fail_within_seconds_and_other_packs_are_still_listed()
    {
        const int SIGSTOP = 19, SIGCONT = 18;
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        const string manifest = "name: {0}\ncommand: sh\nargs: ['-c', 'exec sleep 600']\nworkers: 1\nready: {{ mode: delay, delay: 50ms }}\n";
        var (startStuck, stuck) = await StartedPack.StartAsync(dir.File("stuck.yml", string.Format(manifest, "stuck")), runtime, "stuck");
        await using var _ = stuck;
        var (startOther, other) = await StartedPack.StartAsync(dir.File("other.yml", string.Format(manifest, "other")), runtime, "other");
        await using var __ = other;
        Assert.True(startStuck.Code == 0 && startOther.Code == 0, startStuck + "\n" + startOther);
        Native.kill(stuck!.MasterPid, SIGSTOP);
        try
        {
            var clock = Stopwatch.StartNew();
            var ps = await Cli.RunAsync("ps", "--runtime-dir", runtime);
            Assert.True(ps.Code == 1, ps.ToString());
            Assert.Contains("pack 'stuck' did not answer 'status' within 10 s", ps.Stderr);
            Assert.Contains("other: Running", ps.Stdout);
            var stop = await Cli.RunAsync("stop", "stuck", "--runtime-dir", runtime);
            Assert.True(stop.Code == 1, stop.ToString());
            Assert.Contains("is stopped or stuck", stop.Stderr);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"ps and stop took {clock.Elapsed.TotalSeconds:0}s");
            AssertNoStackTrace(stop);
        }
        finally
        {
            Native.kill(stuck.MasterPid, SIGCONT);
        }
        // The operator was told 'stop' failed: the master, resumed, must not stop the pack after all.
        var log = Path.Combine(runtime, "stuck.log");
        await Eventually.True(() => File.ReadAllText(log).Split('\n').Count(l => l.Contains("dropped a request")) == 2,
            TimeSpan.FromSeconds(30), "the resumed master to drop the two requests whose clients gave up");
        Assert.Contains("\"command\":\"stop\"", File.ReadAllText(log));
        var after = await Cli.RunAsync("ps", "stuck", "--runtime-dir", runtime);
        Assert.True(after.Code == 0 && after.Stdout.Contains("Running"), after + "\n" + File.ReadAllText(log));
    }

    [Fact]
    public async Task Ps_in_another_users_runtime_dir_says_access_denied_without_a_stack_trace()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp", "DOTNET_NOLOGO=1" }
                     .Concat(RepoPaths.CliCommand).Concat(["ps", "--runtime-dir", runtime]))
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var result = new Cli.Result(process.ExitCode, await process.StandardOutput.ReadToEndAsync(), await stderr);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains("access denied to the runtime dir", result.Stderr);
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task Validate_refuses_cpus_the_machine_lacks_overlapping_listeners_a_directory_and_timers_too_long()
    {
        using var dir = new TempDir();
        var cpus = await Cli.RunAsync("validate", dir.File("cpus.yml", "name: cpus\ncommand: sh\ncpus: [4000]\n"));
        Assert.True(cpus.Code == 2, cpus.ToString());
        Assert.Contains("4000", cpus.Stderr);

        var overlap = await Cli.RunAsync("validate", dir.File("overlap.yml",
            "name: overlap\ncommand: sh\nlisteners:\n  - { name: a, address: 'tcp://0.0.0.0:18080' }\n  - { name: b, address: 'tcp://127.0.0.1:18080' }\n"));
        Assert.True(overlap.Code == 2, overlap.ToString());
        Assert.Contains("overlap.yml:5:5: address 'tcp://127.0.0.1:18080' overlaps 'tcp://0.0.0.0:18080' of listener 'a'", overlap.Stderr);

        Directory.CreateDirectory(Path.Combine(dir.Path, "folder.yml"));
        var folder = await Cli.RunAsync("validate", Path.Combine(dir.Path, "folder.yml"));
        Assert.True(folder.Code == 2, folder.ToString());
        Assert.Contains("is a directory, not a manifest file", folder.Stderr);

        var timer = await Cli.RunAsync("validate", dir.File("timer.yml", "name: timer\ncommand: sh\nready: { timeout: 1200h }\n"));
        Assert.True(timer.Code == 2, timer.ToString());
        Assert.Contains("timer.yml:3:19: 'ready.timeout' must be at most 576h", timer.Stderr);
    }

    [Fact]
    public async Task A_runtime_dir_too_long_for_notify_sockets_fails_run_with_the_reason()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", "name: p\ncommand: sh\nargs: ['-c', 'exec sleep 60']\nworkers: 1\nready: { mode: delay, delay: 50ms }\n");
        // The control socket (rt/p.sock) fits in 107 bytes; the notify sockets (rt/p.notify/wN) do not.
        var runtime = Path.Combine(dir.Path, new string('r', 100 - dir.Path.Length - 8));
        var result = await Cli.RunAsync("run", manifest, "--runtime-dir", runtime);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains("is too long", result.Stderr);
        AssertNoStackTrace(result);
    }

    [Fact]
    public async Task Start_without_listeners_reports_no_listeners_and_ps_json_keeps_null_keys()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        var manifest = dir.File("app.yml", "name: quiet\ncommand: sh\nargs: ['-c', 'exec sleep 600']\nworkers: 1\nready: { mode: delay, delay: 50ms }\n");
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "quiet");
        await using var _ = pack;
        Assert.True(start.Code == 0, start.ToString());
        Assert.EndsWith("1 worker(s) ready, no listeners", start.Stdout.Trim());
        var ps = await Cli.RunAsync("ps", "quiet", "--json", "--runtime-dir", runtime);
        using var json = JsonDocument.Parse(ps.Stdout);
        var pack0 = json.RootElement[0];
        Assert.Equal(JsonValueKind.Null, pack0.GetProperty("lastReload").ValueKind);
        Assert.Equal(JsonValueKind.Null, pack0.GetProperty("workers")[0].GetProperty("lastExit").ValueKind);
    }
}
