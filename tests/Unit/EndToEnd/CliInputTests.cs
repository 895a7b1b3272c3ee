using System.Diagnostics;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>Input a user gets wrong, and a start the user interrupts: clear messages, documented exit codes, nothing left behind.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class CliInputTests
{
    [Theory]
    [InlineData("is not a pack name", "ps", "../other-dir/pack")]
    [InlineData("is not a pack name", "stop", "Hello")]
    [InlineData("--timeout must be a whole number of seconds", "upgrade", "hello", "--timeout", "x")]
    [InlineData("--timeout must be a whole number of seconds", "upgrade", "hello", "--timeout", "0")]
    [InlineData("--timeout must be a whole number of seconds", "start", "app.yml", "--timeout", "-5")]
    [InlineData("N must be a whole number from 1 to 1024", "scale", "hello", "99999999999")]
    public async Task Bad_arguments_exit_2_with_a_message_and_no_stack_trace(string message, params string[] args)
    {
        using var dir = new TempDir();
        var result = await Cli.RunAsync([.. args, "--runtime-dir", Path.Combine(dir.Path, "rt")]);
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains(message, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public async Task A_device_as_manifest_is_refused_instead_of_read_forever()
    {
        var result = await Cli.RunAsync("validate", "/dev/zero");
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains("/dev/zero:1:1: manifest is larger than", result.Stderr);
    }

    [Fact]
    public async Task Sigterm_to_a_waiting_start_stops_the_half_started_pack()
    {
        using var dir = new TempDir();
        var runtimeDir = Path.Combine(dir.Path, "rt");
        var manifest = dir.File("never.yml", "name: never\ncommand: sleep\nargs: [\"600\"]\nworkers: 1\ncpus: none\nready: { timeout: 5m }\n");
        var command = RepoPaths.CliCommand;
        var start = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in command.Skip(1).Concat(["start", manifest, "--timeout", "300", "--runtime-dir", runtimeDir])) start.ArgumentList.Add(arg);
        using var starter = Process.Start(start)!;
        var stderr = starter.StandardError.ReadToEndAsync();
        var pidFile = Path.Combine(runtimeDir, "never.pid");
        int master = 0;
        try
        {
            await Eventually.True(() => File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out master) &&
                File.ReadAllText(Path.Combine(runtimeDir, "never.log")).Contains("worker started"), TimeSpan.FromSeconds(60), "the master to spawn its worker");
            Native.kill(starter.Id, Native.SIGTERM);
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await starter.WaitForExitAsync(exited.Token);
            Assert.Equal(1, starter.ExitCode);
            Assert.Contains("start interrupted", await stderr);
            await Eventually.True(() => !Native.IsAlive(master), TimeSpan.FromSeconds(60), "the half-started master to stop");
            Assert.False(File.Exists(pidFile), "the pid file is removed");
        }
        finally
        {
            if (!starter.HasExited) starter.Kill();
            if (master > 0 && Native.IsAlive(master)) Native.kill(master, Native.SIGKILL);
        }
    }
}
