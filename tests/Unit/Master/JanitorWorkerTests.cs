using System.Diagnostics;
using Gopherpack.Linux;
using Gopherpack.Master;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Master;

/// <summary>
/// The janitor's worker pass on real processes (issue 19, item 1): the test plays a master that dies (it closes the
/// lifeline) with a list naming a worker that stops on SIGTERM, one that ignores it, and a pid that now belongs to
/// another process (listed with another start time, as after the worker exited and its pid was reused).
/// </summary>
public sealed class JanitorWorkerTests
{
    [Fact]
    public async Task The_janitor_stops_listed_workers_kills_one_that_ignores_the_signal_at_its_timeout_and_never_signals_a_reused_pid()
    {
        using var dir = new TempDir();
        var obeys = Process.Start("sleep", "300")!;
        var deaf = Process.Start("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 0.2; done"])!;
        var stranger = Process.Start("sleep", "300")!;
        try
        {
            var list = new RuntimeFileList(Path.Combine(dir.Path, $"test.files.{Environment.ProcessId}"));
            var timeout = TimeSpan.FromSeconds(1.5);
            list.Write([], [
                Listed(obeys.Id, timeout),
                Listed(deaf.Id, timeout),
                Listed(stranger.Id, timeout) with { StartTime = ProcessStat.Read(stranger.Id)!.Value.StartTime - 1 },
            ], ("TERM", timeout));
            using var spawner = new PosixSpawner();
            using var lifeline = new UnixPipe();
            // The janitor acts only once its master (pid and start time) is gone: this test process plays a master that died.
            var janitor = RuntimeJanitor.Start(spawner, lifeline.ReadFd, list.Path, ProcessStat.Read(Environment.ProcessId)!.Value.StartTime - 1);
            // The janitor finds workers by the lifeline they hold: this process, playing the dead master, must not hold it.
            lifeline.CloseRead();
            var clock = Stopwatch.StartNew();
            lifeline.CloseWrite();

            await Eventually.True(() => obeys.HasExited, TimeSpan.FromSeconds(5), "the worker that stops on SIGTERM to get it");
            Assert.True(clock.Elapsed < timeout, $"the worker that stops on SIGTERM went only after {clock.ElapsedMilliseconds} ms: was it killed at the timeout instead?");
            await Eventually.True(() => deaf.HasExited, timeout + TimeSpan.FromSeconds(5), "the worker that ignores SIGTERM to be killed at its timeout");
            Assert.True(clock.Elapsed >= timeout - TimeSpan.FromMilliseconds(200), $"the worker that ignores SIGTERM was killed after {clock.ElapsedMilliseconds} ms, before its timeout");
            await Eventually.True(() => Processes.TryReap(janitor) is not null, TimeSpan.FromSeconds(5), "the janitor to finish");
            Assert.False(stranger.HasExited, "the janitor signalled a process whose start time is not the listed one (a reused pid)");
            Assert.False(File.Exists(list.Path), "the janitor left its list");
        }
        finally
        {
            foreach (var process in new[] { obeys, deaf, stranger })
            {
                if (!process.HasExited) process.Kill();
                process.Dispose();
            }
        }
    }

    /// <summary>
    /// A worker spawned after the list was last written (its master killed between the spawn and the listing) is on no
    /// list; it holds the lifeline it inherited, and that is how the janitor finds it. A process that holds no lifeline
    /// and is on no list is not the janitor's business.
    /// </summary>
    [Fact]
    public async Task The_janitor_finds_an_unlisted_worker_by_the_lifeline_it_holds_and_kills_it_at_the_unlisted_timeout()
    {
        using var dir = new TempDir();
        var stranger = Process.Start("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 0.2; done"])!;
        using var spawner = new PosixSpawner();
        using var lifeline = new UnixPipe();
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        var nullFd = (int)devNull.DangerousGetHandle();
        var unlisted = spawner.Spawn(new SpawnRequest("/bin/sh", ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.2; done"], ["PATH=/usr/bin:/bin"], "/",
            nullFd, nullFd, [lifeline.ReadFd], null));
        try
        {
            var list = new RuntimeFileList(Path.Combine(dir.Path, $"test.files.{Environment.ProcessId}"));
            var timeout = TimeSpan.FromSeconds(1);
            list.Write([], [], ("TERM", timeout));
            var janitor = RuntimeJanitor.Start(spawner, lifeline.ReadFd, list.Path, ProcessStat.Read(Environment.ProcessId)!.Value.StartTime - 1);
            // The janitor finds workers by the lifeline they hold: this process, playing the dead master, must not hold it.
            lifeline.CloseRead();
            var clock = Stopwatch.StartNew();
            lifeline.CloseWrite();

            await Eventually.True(() => Processes.TryReap(unlisted) is not null, timeout + TimeSpan.FromSeconds(8),
                "the unlisted worker holding the lifeline to be killed by the janitor");
            Assert.True(clock.Elapsed >= timeout - TimeSpan.FromMilliseconds(200), $"the unlisted worker that ignores SIGTERM was killed after {clock.ElapsedMilliseconds} ms, before the unlisted timeout");
            await Eventually.True(() => Processes.TryReap(janitor) is not null, TimeSpan.FromSeconds(5), "the janitor to finish");
            Assert.False(stranger.HasExited, "the janitor signalled a process that holds no lifeline and is on no list");
        }
        finally
        {
            if (Native.IsAlive(unlisted)) { Native.kill(unlisted, Native.SIGKILL); await Eventually.True(() => Processes.TryReap(unlisted) is not null, TimeSpan.FromSeconds(5), "the unlisted worker to be reaped"); }
            if (!stranger.HasExited) stranger.Kill();
            stranger.Dispose();
        }
    }

    /// <summary>
    /// A stopping master leaves alone, for a grace, the janitor of an upgrade's new master re-parented to it (it exits by
    /// itself): it must know a janitor from a process that merely calls itself one.
    /// </summary>
    [Fact]
    public void A_janitor_is_known_by_its_whole_command_line_not_by_its_name()
    {
        using var dir = new TempDir();
        using var spawner = new PosixSpawner();
        using var lifeline = new UnixPipe();
        var janitor = RuntimeJanitor.Start(spawner, lifeline.ReadFd, Path.Combine(dir.Path, "none.files.1"));
        var impostor = Process.Start("/bin/sh", ["-c", "sleep 300", "gopherpack-janitor"])!;
        try
        {
            Assert.True(RuntimeJanitor.IsJanitor(janitor), "a janitor was not recognised");
            Assert.False(RuntimeJanitor.IsJanitor(impostor.Id), "a process named gopherpack-janitor was taken for a janitor");
            Assert.False(RuntimeJanitor.IsJanitor(Environment.ProcessId));
        }
        finally
        {
            lifeline.CloseWrite();
            impostor.Kill();
            impostor.Dispose();
        }
        // The master (this process) is alive: the janitor takes the EOF for a killed reader and exits within about 3 s.
        Assert.True(SpinWait.SpinUntil(() => Processes.TryReap(janitor) is not null, TimeSpan.FromSeconds(10)), "the janitor did not exit");
    }

    private static JanitorWorker Listed(int pid, TimeSpan timeout) => new(pid, ProcessStat.Read(pid)!.Value.StartTime, "TERM", timeout);
}
