using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// Issue 19, items 6 and 9: a stop during or after an upgrade stops both masters' workers gracefully within
/// stop.timeout, never takes the other master (or a wrapper script that started the new one) for a stray socket
/// holder, and leaves no file; an upgrade through a wrapper that does not exec reports the master that took over.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class UpgradeStopTests(ITestOutputHelper output)
{
    [GeneratedRegex(@"upgraded: master pid (\d+) serves generation (\d+)")] private static partial Regex Upgraded();
    [GeneratedRegex(@"starting new master pid (\d+)")] private static partial Regex Starting();
    [GeneratedRegex(@"the new master is pid (\d+), started by")] private static partial Regex NewMasterIs();

    private static string Manifest(int port, string stopTimeout, string switches = "") => $$"""
        name: upstop
        command: dotnet
        args: ["{{RepoPaths.TestWorkerDll}}"{{switches}}]
        workers: 2
        stop: { timeout: {{stopTimeout}} }
        listeners: [{ name: http, address: "tcp://127.0.0.1:{{port}}" }]
        """;

    [Fact]
    public async Task A_stop_right_after_an_upgrade_waits_for_the_old_masters_draining_workers_and_kills_neither_master()
    {
        var port = FreePort.Probe();
        // The old master's workers ignore SIGTERM and drain for its whole stop.timeout (6s); the new master's stop sooner.
        await using var pack = await PackProcess.StartAsync(Manifest(port, "6s", ", \"--ignore-term\""));
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(port, "1s"));
        var upgrade = await Cli.RunAsync("upgrade", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade.ToString());
        var successor = int.Parse(Upgraded().Match(upgrade.Stdout).Groups[1].Value);

        var clock = Stopwatch.StartNew();
        var stop = await Cli.RunAsync("stop", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.DoesNotContain("warning", stop.Stderr);
        output.WriteLine($"stop right after the upgrade returned after {clock.ElapsedMilliseconds} ms (old workers' stop.timeout 6s)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6 + 6), $"stop took {clock.Elapsed.TotalSeconds:0.0}s, beyond the old workers' stop.timeout (6s) and a margin");
        // The old master was not killed as a stray socket holder: it drained its workers and exited on its own.
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        AssertNothingLeft(pack, successor, port);
    }

    [Fact]
    public async Task Stop_force_while_the_new_master_waits_for_the_old_masters_drain_kills_the_old_workers_at_once()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "60s", ", \"--ignore-term\""));
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(port, "1s"));
        var upgrade = await Cli.RunAsync("upgrade", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade.ToString());
        var successor = int.Parse(Upgraded().Match(upgrade.Stdout).Groups[1].Value);

        var clock = Stopwatch.StartNew();
        var graceful = Cli.RunAsync("stop", "upstop", "--runtime-dir", pack.RuntimeDir);
        await pack.WaitForLine(l => l.Contains("whose workers drain since the upgrade"), TimeSpan.FromSeconds(30), "the new master to wait for the old one");
        var forced = await Cli.RunAsync("stop", "upstop", "--force", "--runtime-dir", pack.RuntimeDir);
        Assert.True(forced.Code == 0, forced.ToString());
        Assert.True((await graceful).Code == 0, (await graceful).ToString());
        output.WriteLine($"stop, then stop --force, returned after {clock.ElapsedMilliseconds} ms (old workers' stop.timeout 60s)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"stop --force took {clock.Elapsed.TotalSeconds:0.0}s: the old master's workers were not killed at once");
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        AssertNothingLeft(pack, successor, port);
    }

    [Fact]
    public async Task A_stop_while_the_new_master_starts_lets_it_stop_its_workers_within_their_stop_timeout_and_leaves_no_file()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "2s"));
        // The new master's workers never get ready and ignore SIGTERM: stopping them takes their stop.timeout (4s), longer
        // than the 2s an old master gave the processes it did not know.
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(port, "4s", ", \"--never-ready\", \"--ignore-term\""));
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var upgrade = client.UpgradeAsync("upstop", timeout: TimeSpan.FromSeconds(120));
        await Eventually.True(() => pack.Lines.Count(l => l.Contains("SIGTERM handled from now on")) == 2, TimeSpan.FromSeconds(30),
            $"the new master's workers to start; log:\n{pack.Log}");
        var successor = int.Parse(pack.Lines.Select(l => Starting().Match(l)).First(m => m.Success).Groups[1].Value);

        var clock = Stopwatch.StartNew();
        var stop = await Cli.RunAsync("stop", "upstop", "--runtime-dir", pack.RuntimeDir);
        output.WriteLine($"stop during the upgrade returned after {clock.ElapsedMilliseconds} ms (new workers' stop.timeout 4s)");
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.DoesNotContain("warning", stop.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4 + 6), $"stop took {clock.Elapsed.TotalSeconds:0.0}s, beyond the new workers' stop.timeout (4s) and a margin");
        var abandoned = await Assert.ThrowsAsync<PackControlException>(() => upgrade);
        Assert.Contains("stopping", abandoned.Message);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain(pack.Lines, l => l.Contains("the new master of a failed upgrade"));
        Assert.Contains(pack.Lines, l => l.Contains("stop-timeout") && l.Contains("sending SIGKILL"));
        AssertNothingLeft(pack, successor, port);
    }

    [Fact]
    public async Task Stop_force_while_the_new_master_starts_kills_its_workers_at_once_too()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "2s"));
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(port, "60s", ", \"--never-ready\", \"--ignore-term\""));
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var upgrade = client.UpgradeAsync("upstop", timeout: TimeSpan.FromSeconds(120));
        await Eventually.True(() => pack.Lines.Count(l => l.Contains("SIGTERM handled from now on")) == 2, TimeSpan.FromSeconds(30),
            $"the new master's workers to start; log:\n{pack.Log}");
        var successor = int.Parse(pack.Lines.Select(l => Starting().Match(l)).First(m => m.Success).Groups[1].Value);

        var clock = Stopwatch.StartNew();
        var stop = await Cli.RunAsync("stop", "upstop", "--force", "--runtime-dir", pack.RuntimeDir);
        output.WriteLine($"stop --force during the upgrade returned after {clock.ElapsedMilliseconds} ms (new workers' stop.timeout 60s)");
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"stop --force took {clock.Elapsed.TotalSeconds:0.0}s: the new master's workers were not killed at once");
        await Assert.ThrowsAsync<PackControlException>(() => upgrade);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        AssertNothingLeft(pack, successor, port);
    }

    [Fact]
    public async Task An_upgrade_through_a_wrapper_that_does_not_exec_reports_the_master_that_took_over_and_stop_leaves_the_wrapper_alone()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "5s"));
        var (wrapper, marks) = Wrapper(pack);

        var upgrade = await Cli.RunAsync("upgrade", "upstop", "--executable", wrapper, "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade.ToString());
        var reported = int.Parse(Upgraded().Match(upgrade.Stdout).Groups[1].Value);
        var wrapperPid = int.Parse(pack.Lines.Select(l => Starting().Match(l)).First(m => m.Success).Groups[1].Value);
        var status = await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StatusAsync("upstop");
        Assert.NotEqual(wrapperPid, status.MasterPid);
        Assert.Equal(status.MasterPid, reported);
        Assert.Equal(status.MasterPid, new RuntimeDirectory(pack.RuntimeDir).RunningMaster("upstop"));

        var stop = await Cli.RunAsync("stop", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.DoesNotContain("warning", stop.Stderr);
        await Eventually.True(() => File.Exists(marks) && File.ReadAllText(marks).Contains("wrapper exit 0"), TimeSpan.FromSeconds(10),
            $"the wrapper to see its master exit 0 (it was killed?): {(File.Exists(marks) ? File.ReadAllText(marks) : "no line")}");
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        AssertNothingLeft(pack, reported, port);
        Assert.False(Native.IsAlive(wrapperPid), "the wrapper is still running");
    }

    /// <summary>
    /// A stop while an upgrade through a wrapper that does not exec is under way: the new master (the wrapper's child)
    /// is told to stop and stops its workers within their stop.timeout; the wrapper sees it exit and exits after it.
    /// Before: the wrapper's group got SIGTERM, the wrapper died first, and reaping it SIGKILLed the draining new master,
    /// which left its NAME.sock.PID behind.
    /// </summary>
    [Fact]
    public async Task A_stop_during_an_upgrade_through_a_wrapper_lets_the_new_master_stop_its_workers_and_leaves_no_file()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "2s"));
        var (upgrade, marks, newMaster) = await UpgradeThroughAWrapperToWorkersThatNeverGetReady(pack, port, "3s");
        var newWorkers = pack.AllWorkerPids.ToList();

        var clock = Stopwatch.StartNew();
        var stop = await Cli.RunAsync("stop", "upstop", "--runtime-dir", pack.RuntimeDir);
        output.WriteLine($"stop during a wrapper upgrade returned after {clock.ElapsedMilliseconds} ms (new workers' stop.timeout 3s)");
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.DoesNotContain("warning", stop.Stderr);
        await Assert.ThrowsAsync<PackControlException>(() => upgrade);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Contains(pack.Lines, l => l.Contains("stop-timeout") && l.Contains("sending SIGKILL"));
        Assert.True(File.Exists(marks) && File.ReadAllText(marks).Contains("wrapper exit"), "the wrapper did not outlive its master: it was killed first");
        // An upgrade's new master that never took over exits 3 (docs/REFERENCE.md, run), also when stopped first.
        Assert.Contains("wrapper exit 3", File.ReadAllText(marks));
        Assert.DoesNotContain(pack.Lines, l => l.Contains($"pid {newMaster} ") && l.Contains("was still running"));
        AssertNothingLeft(pack, newMaster, port);
        Assert.All(newWorkers, pid => Assert.False(Native.IsAlive(pid), $"worker {pid} is still running"));
    }

    /// <summary>
    /// <c>stop --force</c> while an upgrade through a wrapper that does not exec starts its new master: the SIGQUIT goes to
    /// the new master, which kills its workers at once; nobody takes them for strays. Before: the wrapper got it and
    /// died, reaping it SIGKILLed the new master, and its workers were reported as stray socket holders.
    /// </summary>
    [Fact]
    public async Task Stop_force_during_an_upgrade_through_a_wrapper_kills_the_new_masters_workers_at_once_and_warns_of_nothing()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "2s"));
        var (upgrade, marks, newMaster) = await UpgradeThroughAWrapperToWorkersThatNeverGetReady(pack, port, "60s");

        var clock = Stopwatch.StartNew();
        var stop = await Cli.RunAsync("stop", "upstop", "--force", "--runtime-dir", pack.RuntimeDir);
        output.WriteLine($"stop --force during a wrapper upgrade returned after {clock.ElapsedMilliseconds} ms (new workers' stop.timeout 60s)");
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.DoesNotContain("warning", stop.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"stop --force took {clock.Elapsed.TotalSeconds:0.0}s: the new master's workers were not killed at once");
        await Assert.ThrowsAsync<PackControlException>(() => upgrade);
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain(pack.Lines, l => l.Contains(" stray: ") || l.Contains(" orphans: "));
        Assert.True(File.Exists(marks) && File.ReadAllText(marks).Contains("wrapper exit"), "the wrapper did not outlive its master: it was killed first");
        AssertNothingLeft(pack, newMaster, port);
    }

    /// <summary>
    /// Both masters SIGKILLed while the new one starts (before it takes over): each janitor stops its own master's
    /// workers and removes its files, the new master's control socket under its temporary name (NAME.sock.PID) too.
    /// </summary>
    [Fact]
    public async Task Both_masters_killed_before_the_takeover_leave_no_worker_and_no_file()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "2s", ", \"--ignore-term\""));
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(port, "2s", ", \"--never-ready\", \"--ignore-term\""));
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var upgrade = client.UpgradeAsync("upstop", timeout: TimeSpan.FromSeconds(120));
        await Eventually.True(() => pack.Lines.Count(l => l.Contains("SIGTERM handled from now on")) == 4, TimeSpan.FromSeconds(30),
            $"the new master's workers to start; log:\n{pack.Log}");
        var successor = int.Parse(pack.Lines.Select(l => Starting().Match(l)).First(m => m.Success).Groups[1].Value);
        Assert.True(File.Exists(Path.Combine(pack.RuntimeDir, $"upstop.sock.{successor}")), "the new master's temporary control socket is not there");
        var workers = pack.AllWorkerPids.ToList();

        Native.kill(successor, Native.SIGKILL);
        pack.Signal(Native.SIGKILL);
        await pack.WaitForExit(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAnyAsync<Exception>(() => upgrade);
        await Eventually.True(() => workers.All(pid => !Native.IsAlive(pid)), TimeSpan.FromSeconds(2 + 10),
            $"workers {string.Join(",", workers.Where(Native.IsAlive))} outlived both killed masters");
        await Eventually.True(() => Directory.GetFileSystemEntries(pack.RuntimeDir).Length == 0, TimeSpan.FromSeconds(5),
            $"left in the runtime dir: {string.Join(", ", Directory.GetFileSystemEntries(pack.RuntimeDir))}");
    }

    private const int SIGSTOP = 19, SIGCONT = 18;

    [Theory]
    [InlineData("SIGTERM")]
    [InlineData("stop --force")]
    public async Task A_stop_after_the_commit_stops_the_new_master_too_and_neither_waits_for_the_other(string stop)
    {
        var port = FreePort.Probe();
        // A long stop.timeout: two masters each waiting for the other, or a forced stop that drains, would show as 20s and more.
        // The forced stop's workers ignore SIGTERM: only a kill ends them sooner.
        var force = stop == "stop --force";
        await using var pack = await PackProcess.StartAsync(Manifest(port, "20s", force ? ", \"--ignore-term\"" : ""));
        var upgrade = new PackClient(new RuntimeDirectory(pack.RuntimeDir)).UpgradeAsync("upstop", timeout: TimeSpan.FromSeconds(120));
        // The old master is held while the new one gets ready, and the new one is held once it has asked for the commit:
        // the old master then sends the commit, and a stop comes before the new master has read it.
        var started = await pack.WaitForLine(l => Starting().IsMatch(l), TimeSpan.FromSeconds(30), "the upgrade to start its new master");
        var successor = int.Parse(Starting().Match(started).Groups[1].Value);
        Task<Cli.Result>? forced = null;
        Native.kill(pack.MasterPid, SIGSTOP);
        try
        {
            await pack.WaitForLine(l => l.Contains($"asking master pid {pack.MasterPid} to hand over"), TimeSpan.FromSeconds(60), "the new master to get ready");
            Native.kill(successor, SIGSTOP);
        }
        finally
        {
            Native.kill(pack.MasterPid, SIGCONT);
        }
        try
        {
            await pack.WaitForLine(l => l.Contains($"new master pid {successor} is ready after"), TimeSpan.FromSeconds(30), "the old master to send the commit");
            if (force) forced = Cli.RunAsync("stop", "upstop", "--force", "--runtime-dir", pack.RuntimeDir);
            else pack.Signal(Native.SIGTERM);
            await pack.WaitForLine(l => l.Contains("it is told to stop with this pack"), TimeSpan.FromSeconds(30), "the old master to begin its stop");
        }
        finally
        {
            Native.kill(successor, SIGCONT);
        }
        var exit = Stopwatch.StartNew();
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(60)));
        output.WriteLine($"{stop}: the old master exited {exit.ElapsedMilliseconds} ms after the new master went on (stop.timeout 20s)");
        if (forced is not null) Assert.True((await forced).Code == 0, (await forced).ToString());
        Assert.True(exit.Elapsed < TimeSpan.FromSeconds(12), $"the masters took {exit.Elapsed.TotalSeconds:0.0}s to stop: they waited for each other; log:\n{pack.Log}");
        Assert.DoesNotContain("keeps serving", pack.Log);
        await Eventually.True(() => !Native.IsAlive(successor), TimeSpan.FromSeconds(10), "the new master to exit");
        AssertNothingLeft(pack, successor, port);
        // The upgrade did complete before the stop took the pack down.
        Assert.True((await upgrade).Ok);
    }

    [Fact]
    public async Task A_new_master_that_dies_after_renaming_the_pid_file_and_control_socket_leaves_them_to_the_old_master_again()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "5s"));
        var pidFile = Path.Combine(pack.RuntimeDir, "upstop.pid");
        var socket = Path.Combine(pack.RuntimeDir, "upstop.sock");
        // A new master that gets the commit, puts its pid file and control socket in place as a real one does, and dies
        // before it says "taken".
        var fake = pack.Dir.File("dies-in-takeover.py", $$"""
            #!/usr/bin/python3
            import os, socket, sys
            status = os.fdopen(3, "w"); commit = os.fdopen(4, "r")
            status.write("pid %d\nready\n" % os.getpid()); status.flush()
            if commit.readline().strip() != "commit": sys.exit(3)
            with open("{{pidFile}}.new", "w") as f: f.write("%d\n" % os.getpid())
            os.rename("{{pidFile}}.new", "{{pidFile}}")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind("{{socket}}.new"); s.listen(1)
            os.rename("{{socket}}.new", "{{socket}}")
            os.kill(os.getpid(), 9)
            """);
        File.SetUnixFileMode(fake, (UnixFileMode)Convert.ToInt32("755", 8));
        var upgrade = await Cli.RunAsync("upgrade", "upstop", "--executable", fake, "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 3, upgrade.ToString());
        Assert.Contains("before it took over", upgrade.Stderr);

        // The old master serves on and can be reached again: status, reload and stop through the files.
        var status = await Cli.RunAsync("ps", "upstop", "--json", "--runtime-dir", pack.RuntimeDir);
        Assert.True(status.Code == 0, $"the pack cannot be reached after the failed takeover: {status}\nlog:\n{pack.Log}");
        Assert.Equal($"{pack.MasterPid}", File.ReadAllText(pidFile).Trim());
        var reload = await Cli.RunAsync("reload", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload.ToString());
        var stop = await Cli.RunAsync("stop", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(stop.Code == 0, stop.ToString());
        Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.False(File.Exists(pidFile), "the pid file was left behind");
        Assert.False(File.Exists(socket), "the control socket was left behind");
    }

    [Fact]
    public async Task A_new_master_that_hangs_after_the_commit_is_killed_and_the_old_master_serves_on()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(port, "5s"));
        // A new master that gets the commit and then hangs (frozen, stuck on I/O): --timeout no longer applies to it.
        var hangs = pack.Dir.File("hangs-in-takeover.py", """
            #!/usr/bin/python3
            import os, time
            status = os.fdopen(3, "w"); commit = os.fdopen(4, "r")
            status.write("pid %d\nready\n" % os.getpid()); status.flush()
            commit.readline()
            time.sleep(300)
            """);
        File.SetUnixFileMode(hangs, (UnixFileMode)Convert.ToInt32("755", 8));
        var clock = Stopwatch.StartNew();
        var pending = Cli.RunAsync("upgrade", "upstop", "--executable", hangs, "--timeout", "3", "--runtime-dir", pack.RuntimeDir);
        var hung = int.Parse(Starting().Match(await pack.WaitForLine(l => Starting().IsMatch(l), TimeSpan.FromSeconds(30), "the upgrade to start")).Groups[1].Value);
        Cli.Result upgrade;
        try { upgrade = await pending.WaitAsync(TimeSpan.FromSeconds(60)); }
        finally
        {
            // Ended by the master when it works; by the test when it does not.
            if (Native.IsAlive(hung)) Native.kill(hung, Native.SIGKILL);
        }
        output.WriteLine($"the hung new master's upgrade ended after {clock.ElapsedMilliseconds} ms");
        Assert.True(upgrade.Code == 3, upgrade.ToString());
        Assert.Contains("had not taken over 10s after the commit and was killed", upgrade.Stderr);
        var status = await Cli.RunAsync("ps", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(status.Code == 0, status.ToString());
        var reload = await Cli.RunAsync("reload", "upstop", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, $"the pack is still busy with the hung upgrade: {reload}");
    }

    /// <summary>
    /// Starts an upgrade through <see cref="Wrapper"/> whose new workers ignore SIGTERM and never get ready, and waits until
    /// they run: returns the pending upgrade, the wrapper's marks file and the new master's pid.
    /// </summary>
    private static async Task<(Task<UpgradeReport> Upgrade, string Marks, int NewMaster)> UpgradeThroughAWrapperToWorkersThatNeverGetReady(
        PackProcess pack, int port, string stopTimeout)
    {
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(port, stopTimeout, ", \"--never-ready\", \"--ignore-term\""));
        var (wrapper, marks) = Wrapper(pack);
        var upgrade = new PackClient(new RuntimeDirectory(pack.RuntimeDir)).UpgradeAsync("upstop", wrapper, timeout: TimeSpan.FromSeconds(120));
        await Eventually.True(() => pack.Lines.Count(l => l.Contains("SIGTERM handled from now on")) == 2, TimeSpan.FromSeconds(30),
            $"the new master's workers to start; log:\n{pack.Log}");
        return (upgrade, marks, int.Parse(pack.Lines.Select(l => NewMasterIs().Match(l)).First(m => m.Success).Groups[1].Value));
    }

    /// <summary>A script that runs the new master without exec, then writes its exit code to the returned marks file.</summary>
    private static (string Wrapper, string Marks) Wrapper(PackProcess pack)
    {
        var marks = Path.Combine(pack.Dir.Path, "wrapper.log");
        var wrapper = pack.Dir.File("wrap.sh", $"""
            #!/bin/sh
            {string.Join(' ', RepoPaths.CliCommand.Select(a => $"'{a}'"))} "$@"
            echo "wrapper exit $?" >> '{marks}'
            """);
        File.SetUnixFileMode(wrapper, (UnixFileMode)Convert.ToInt32("755", 8));
        return (wrapper, marks);
    }

    private static void AssertNothingLeft(PackProcess pack, int successor, int port)
    {
        var alive = pack.AllWorkerPids.Append(successor).Where(Native.IsAlive).ToList();
        Assert.True(alive.Count == 0, $"still running after stop: {string.Join(", ", alive)}");
        var files = Directory.Exists(pack.RuntimeDir) ? Directory.GetFileSystemEntries(pack.RuntimeDir) : [];
        Assert.True(files.Length == 0, $"left in the runtime dir: {string.Join(", ", files)}");
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
    }
}
