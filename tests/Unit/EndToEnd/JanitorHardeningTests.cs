using System.Diagnostics;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>Follow-ups to issue 19 item 1: the janitor acts only on a master that is really gone, and knows every worker.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class JanitorHardeningTests(ITestOutputHelper output)
{
    /// <summary>Workers that ignore SIGTERM, named by a marker in their argv so a scan of /proc finds every one, logged or not.</summary>
    private static string Deaf(string marker, int workers) => $$"""
        name: deaf
        command: sh
        args: ["-c", "trap '' TERM; while :; do sleep 1; done", "{{marker}}"]
        workers: {{workers}}
        ready: { mode: delay, delay: 100ms }
        stop: { timeout: 2s }
        """;

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(2);

    private static List<int> ProcessesNamed(string marker)
    {
        var found = new List<int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(entry, "cmdline")).Contains(marker) && Native.IsAlive(pid)) found.Add(pid);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    private static void KillAll(string marker)
    {
        foreach (var pid in ProcessesNamed(marker)) Native.kill(pid, Native.SIGKILL);
    }

    private static int JanitorOf(int master) =>
        Native.Children(master).Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").Contains("gopherpack-janitor"));

    /// <summary>
    /// A SIGTERM to the janitor's reader (cat) looked like the master's death: the janitor removed the pid file and
    /// control socket and killed the live master's workers. Now it checks the master (pid and start time) first and
    /// does nothing; the master reaps it, logs it and starts a new one, which still cleans after a later SIGKILL.
    /// </summary>
    [Fact]
    public async Task Killing_the_janitors_reader_harms_nothing_and_the_replacement_janitor_cleans_after_a_later_SIGKILL()
    {
        var marker = "deaf-" + Guid.NewGuid().ToString("N");
        try
        {
            await using var pack = await PackProcess.StartAsync(Deaf(marker, 2));
            var runtime = pack.RuntimeDir;
            var workers = pack.SlotPids.Values.ToList();
            var janitor = JanitorOf(pack.MasterPid);
            var reader = Native.Children(janitor).Single();
            Native.kill(reader, Native.SIGTERM);
            await pack.WaitForLine(l => l.Contains($"janitor: the janitor (pid {janitor}) exited"), TimeSpan.FromSeconds(20), "the master to notice its janitor exited");
            Assert.True(Native.IsAlive(pack.MasterPid), "the master died");
            Assert.All(workers, pid => Assert.True(Native.IsAlive(pid), $"worker {pid} of the live master was killed by its janitor"));
            foreach (var file in new[] { "deaf.pid", "deaf.sock" })
                Assert.True(File.Exists(Path.Combine(runtime, file)), $"the janitor removed {file} of a live master");
            var replacement = JanitorOf(pack.MasterPid);
            Assert.NotEqual(janitor, replacement);

            pack.Signal(Native.SIGKILL);
            await pack.WaitForExit(TimeSpan.FromSeconds(5));
            await Eventually.True(() => workers.All(pid => !Native.IsAlive(pid)), StopTimeout + TimeSpan.FromSeconds(8),
                $"workers {string.Join(",", workers.Where(Native.IsAlive))} outlived the killed master: the replacement janitor did not stop them");
            await Eventually.True(() => Directory.GetFileSystemEntries(runtime).Length == 0, TimeSpan.FromSeconds(3),
                $"runtime files outlived the killed master: {string.Join(", ", Directory.GetFileSystemEntries(runtime))}");
        }
        finally { KillAll(marker); }
    }

    /// <summary>
    /// The janitor's list was rewritten only at the end of an event batch, so a master SIGKILLed while it started
    /// its workers left the ones of that batch for good when they ignore SIGTERM. Each is now listed right after its spawn,
    /// and one spawned after the last listing (killed in between) is found by the lifeline it holds.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(15)]
    public async Task A_master_killed_after_the_nth_spawn_of_twenty_deaf_workers_leaves_none(int spawned)
    {
        var marker = "deaf-" + Guid.NewGuid().ToString("N");
        try
        {
            await using var pack = await PackProcess.StartAsync(Deaf(marker, 20), waitReady: false);
            var seen = 0;
            await pack.WaitForLine(l => l.Contains(" spawn: worker started") && ++seen >= spawned, TimeSpan.FromSeconds(30), $"spawn line {spawned}");
            pack.Signal(Native.SIGKILL);
            await pack.WaitForExit(TimeSpan.FromSeconds(5));
            var clock = Stopwatch.StartNew();
            var atKill = ProcessesNamed(marker);
            output.WriteLine($"{atKill.Count} worker(s) alive when the master was killed after spawn line {spawned}");
            await Eventually.True(() => ProcessesNamed(marker).Count == 0, StopTimeout + TimeSpan.FromSeconds(8),
                $"workers {string.Join(",", ProcessesNamed(marker))} outlived the master killed after spawn line {spawned}; master log:\n{pack.Log}");
            output.WriteLine($"all gone {clock.ElapsedMilliseconds} ms later");
        }
        finally { KillAll(marker); }
    }

    /// <summary>
    /// A worker that ignores SIGTERM and closes its lifeline fd at once, the master SIGKILLed the moment its Nth child
    /// appears (between a spawn and the janitor's list naming it): neither the list nor the lifeline search knows it.
    /// The worker's command now waits on a start gate the master opens only once the list names it, so a master killed
    /// before that leaves a process that exits by itself.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(6)]
    [InlineData(12)]
    public async Task A_master_killed_as_its_nth_child_appears_leaves_no_worker_that_closed_its_lifeline(int children)
    {
        var marker = "deaf-" + Guid.NewGuid().ToString("N");
        try
        {
            await using var pack = await PackProcess.StartAsync($$"""
                name: blind
                command: sh
                args: ["-c", "trap '' TERM; exec 3<&-; while :; do sleep 1; done", "{{marker}}"]
                workers: 16
                cpus: none
                ready: { mode: delay, delay: 100ms }
                stop: { timeout: 1s }
                """, waitReady: false);
            var master = pack.MasterPid;
            var clock = Stopwatch.StartNew();
            // The janitor is the master's first child; workers follow.
            while (Native.Children(master).Count < children + 1)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the master never had {children + 1} children; log:\n{pack.Log}");
                Thread.SpinWait(100);
            }
            pack.Signal(Native.SIGKILL);
            await pack.WaitForExit(TimeSpan.FromSeconds(5));
            await Eventually.True(() => ProcessesNamed(marker).Count == 0, TimeSpan.FromSeconds(1 + 8),
                $"workers {string.Join(",", ProcessesNamed(marker))} outlived the master killed at its child {children + 1}; master log:\n{pack.Log}");
        }
        finally { KillAll(marker); }
    }

    /// <summary>
    /// A process name may hold a newline and ") " (PR_SET_NAME): a parser that reads /proc/PID/stat line by line, or
    /// takes the fields after the first ')', misreads the start time and takes the worker for another process.
    /// </summary>
    [Fact]
    public async Task Workers_whose_names_hold_a_newline_and_a_parenthesis_are_still_stopped_after_a_SIGKILL()
    {
        var marker = "deaf-" + Guid.NewGuid().ToString("N");
        try
        {
            await using var pack = await PackProcess.StartAsync($$"""
                name: oddname
                command: /usr/bin/python3
                args: ["-c", "import ctypes, signal, time; ctypes.CDLL(None).prctl(15, b'w\\n) Z 1 2 3', 0, 0, 0); signal.signal(signal.SIGTERM, signal.SIG_IGN); print('named', flush=True); time.sleep(600)", "{{marker}}"]
                workers: 2
                ready: { mode: delay, delay: 300ms }
                stop: { timeout: 2s }
                """);
            var workers = pack.SlotPids.Values.ToList();
            await Eventually.True(() => workers.All(pid => File.ReadAllText($"/proc/{pid}/comm").StartsWith("w\n) Z", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10), "the workers to rename themselves");
            pack.Signal(Native.SIGKILL);
            await pack.WaitForExit(TimeSpan.FromSeconds(5));
            await Eventually.True(() => ProcessesNamed(marker).Count == 0, StopTimeout + TimeSpan.FromSeconds(8),
                $"workers {string.Join(",", ProcessesNamed(marker))} with a newline in their name outlived the killed master");
        }
        finally { KillAll(marker); }
    }
}
