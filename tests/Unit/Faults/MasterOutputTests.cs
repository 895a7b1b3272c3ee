using System.Diagnostics;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// The master never blocks on its own output and survives whatever its fds 0-2 are: nobody reading them,
/// closed, or a worker writing hundreds of megabytes without a newline.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class MasterOutputTests
{
    /// <summary><c>gopherpack run</c> started through sh with <paramref name="redirects"/> (e.g. <c>2&gt;&amp;-</c>); sh execs it, so the pid is the master's.</summary>
    private sealed class ShellMaster : IAsyncDisposable
    {
        private readonly Process _process;
        public PackClient Client { get; }
        public string Pack { get; }
        public int Pid => _process.Id;

        public ShellMaster(string manifest, string runtime, string pack, string redirects, bool captureButNeverRead = false)
        {
            Pack = pack;
            Client = new PackClient(new RuntimeDirectory(runtime));
            var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = captureButNeverRead, RedirectStandardError = captureButNeverRead, RedirectStandardInput = true };
            foreach (var arg in new[] { "-c", $"exec \"$@\" {redirects}", "sh" }.Concat(RepoPaths.CliCommand).Concat(["run", manifest, "--runtime-dir", runtime]))
                start.ArgumentList.Add(arg);
            _process = Process.Start(start)!;
        }

        public Task<PackStatus> RunningAsync() => Eventually.Value(async () =>
        {
            try { return await Client.StatusAsync(Pack) is { State: "Running" } status ? status : null; }
            catch (PackNotRunningException) { return null; }
        }, TimeSpan.FromSeconds(30), $"pack '{Pack}' to run");

        public async Task<bool> ExitsWithin(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try { await _process.WaitForExitAsync(cancel.Token); return true; }
            catch (OperationCanceledException) { return false; }
        }

        public async ValueTask DisposeAsync()
        {
            var workers = new List<int>();
            try { workers.AddRange((await Client.StatusAsync(Pack).WaitAsync(TimeSpan.FromSeconds(2))).Workers.Select(w => w.Pid).OfType<int>()); }
            catch (Exception) { }
            if (!_process.HasExited) Native.kill(_process.Id, Native.SIGKILL);
            foreach (var pid in workers.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            _process.Dispose();
        }
    }

    [Fact]
    public async Task With_nobody_reading_its_output_and_a_flooding_worker_the_master_still_reloads_answers_and_stops()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", """
            name: unread
            command: sh
            args: ["-c", "while true; do head -c 100000 /dev/zero | tr '\\0' x >&2; echo >&2; echo chatter; sleep 0.05; done"]
            workers: 2
            ready: { mode: delay, delay: 100ms }
            stop: { timeout: 5s }
            """);
        await using var master = new ShellMaster(manifest, Path.Combine(dir.Path, "rt"), "unread", "", captureButNeverRead: true);
        await master.RunningAsync();

        // Old code: the loop blocked in a log write once the stderr pipe was full, and the reload never answered.
        var reload = await master.Client.ReloadAsync("unread").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(reload.Ok);
        var status = await master.Client.StatusAsync("unread").WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, status.Workers.Count(w => w.State == "Ready"));
        Native.kill(master.Pid, Native.SIGTERM);
        Assert.True(await master.ExitsWithin(TimeSpan.FromSeconds(20)), "the master did not stop on SIGTERM while its output was not read");
    }

    [Theory]
    [InlineData("<&- >&- 2>&-")]
    [InlineData("2>&-")]
    [InlineData(">&-")]
    public async Task With_its_standard_fds_closed_the_master_and_its_workers_keep_running(string redirects)
    {
        using var dir = new TempDir();
        var marker = Path.Combine(dir.Path, "wrote-300-lines");
        var manifest = dir.File("app.yml", $$"""
            name: closedfds
            command: sh
            args: ["-c", "i=0; while [ $i -lt 300 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; touch '{{marker}}'; exec sleep 600"]
            workers: 1
            ready: { mode: delay, delay: 100ms }
            stop: { timeout: 5s }
            """);
        await using var master = new ShellMaster(manifest, Path.Combine(dir.Path, "rt"), "closedfds", redirects);
        await master.RunningAsync();
        await Eventually.True(() => File.Exists(marker), TimeSpan.FromSeconds(20), "the worker to write 300 lines to stdout and stderr");

        var status = await master.Client.StatusAsync("closedfds");
        Assert.Equal(0, status.Workers.Single().Restarts); // a worker that got EPIPE would have died and been restarted
        File.Delete(marker);
        // A reload stops the old worker: its exit used to crash a master whose stdout was closed.
        Assert.True((await master.Client.ReloadAsync("closedfds").WaitAsync(TimeSpan.FromSeconds(30))).Ok);
        await Eventually.True(() => File.Exists(marker), TimeSpan.FromSeconds(20), "the new worker to write its lines");
        Assert.True(Native.IsAlive(master.Pid));
        await master.Client.StopAsync("closedfds").WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(await master.ExitsWithin(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_worker_writing_50_MB_without_a_newline_costs_the_master_no_memory_and_is_cut_into_16_KiB_lines()
    {
        using var dir = new TempDir();
        var marker = Path.Combine(dir.Path, "flooded");
        var output = Path.Combine(dir.Path, "out.txt");
        var manifest = dir.File("app.yml", $$"""
            name: longline
            command: sh
            args: ["-c", "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo end-of-flood; touch '{{marker}}'; exec sleep 600"]
            workers: 1
            ready: { mode: delay, delay: 100ms }
            """);
        await using var master = new ShellMaster(manifest, Path.Combine(dir.Path, "rt"), "longline", $"> '{output}' 2>/dev/null");
        await master.RunningAsync();
        await Eventually.True(() => File.Exists(marker), TimeSpan.FromSeconds(60), "the worker to write 50 MB");
        await Eventually.True(() => File.ReadLines(output).Any(l => l == "end-of-flood"), TimeSpan.FromSeconds(20), "the flood to reach the master's stdout");

        var peakKb = File.ReadAllLines($"/proc/{master.Pid}/status").Where(l => l.StartsWith("VmHWM:")).Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])).Single();
        Assert.True(peakKb < 160 * 1024, $"the master's peak RSS was {peakKb / 1024} MiB for one 50 MB line");
        var longest = File.ReadLines(output).Max(l => l.Length);
        Assert.True(longest <= 16 * 1024, $"a line of {longest} bytes reached the master's output");
        Assert.True(File.ReadLines(output).Count(l => l.Length == 16 * 1024) > 100);
        await master.Client.StopAsync("longline").WaitAsync(TimeSpan.FromSeconds(30));
    }
}
