using System.Diagnostics;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// Issue 19 follow-up: the CLI with stdout and stderr closed (`gopherpack start a.yml &gt;&amp;- 2&gt;&amp;-`) aborted, or
/// started the pack and exited 1 ("Bad file descriptor"); a closed output now reads as /dev/null.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ClosedOutputTests
{
    private static async Task<int> RunClosed(string redirections, params string[] args)
    {
        var start = new ProcessStartInfo("/bin/sh");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec \"$@\" {redirections}");
        start.ArgumentList.Add("sh");
        foreach (var arg in RepoPaths.CliCommand.Concat(args)) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"gopherpack {string.Join(' ', args)} {redirections} did not exit within 90 s");
        }
        return process.ExitCode;
    }

    [Theory]
    [InlineData(">&- 2>&-")]
    [InlineData(">&-")]
    public async Task Start_and_stop_with_closed_output_do_their_job_and_exit_0(string redirections)
    {
        using var dir = new TempDir();
        var runtime = Directory.CreateDirectory(Path.Combine(dir.Path, "run"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;
        var manifest = dir.File("a.yml", """
            name: closed
            command: sleep
            args: ["1000"]
            workers: 1
            ready: { mode: delay, delay: 100ms }
            """);
        var pidFile = Path.Combine(runtime, "closed.pid");
        try
        {
            Assert.Equal(0, await RunClosed(redirections, "start", manifest, "--runtime-dir", runtime));
            Assert.True(File.Exists(pidFile), "start exited 0 but no master runs");
            Assert.Equal(0, await RunClosed(redirections, "stop", "closed", "--runtime-dir", runtime));
            Assert.False(File.Exists(pidFile), "stop exited 0 but the master's pid file is still there");
        }
        finally
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var master)) Native.kill(master, Native.SIGKILL);
        }
    }
}
