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
    public async Task A_manifest_nested_a_hundred_thousand_deep_is_refused_by_validate_and_by_a_reload_that_leaves_the_pack_serving()
    {
        using var dir = new TempDir();
        var deep = dir.File("deep.yml", "name: deep\ncommand: sh\nargs: " + new string('[', 100_000) + new string(']', 100_000) + "\n");
        var validate = await Cli.RunAsync("validate", deep);
        Assert.True(validate.Code == 2, validate.ToString());
        // The top-level mapping is the first level; "args: " takes columns 1-6.
        Assert.Contains($"{deep}:3:{6 + Gopherpack.Manifest.ManifestLoader.MaxNesting}: lists and mappings nested more than", validate.Stderr);

        await using var pack = await PackProcess.StartAsync("name: deep\ncommand: sh\nargs: ['-c', 'exec sleep 600']\nworkers: 1\ncpus: none\nready: { mode: delay, delay: 50ms }\n", dir: dir);
        var reload = await Cli.RunAsync("reload", "deep", "--manifest", deep, "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 2, reload.ToString());
        Assert.Contains("nested more than", reload.Stderr);
        var ps = await Cli.RunAsync("ps", "deep", "--runtime-dir", pack.RuntimeDir);
        Assert.True(ps.Code == 0 && ps.Stdout.Contains("Running"), ps.ToString());
    }

    [Fact]
    public async Task Commands_on_a_runtime_dir_too_long_for_a_unix_socket_say_so_without_a_stack_trace()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, new string('d', 100));
        Directory.CreateDirectory(runtime);
        foreach (var args in new[] { new[] { "stop", "long" }, ["ps", "long"], ["reload", "long"], ["scale", "long", "2"], ["upgrade", "long"] })
        {
            var result = await Cli.RunAsync([.. args, "--runtime-dir", runtime]);
            Assert.True(result.Code == 7, result.ToString());
            Assert.Contains("longer than a unix socket allows", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
    }

    [Fact]
    public async Task Ps_on_a_runtime_dir_that_is_a_file_says_so_instead_of_no_packs_running()
    {
        using var dir = new TempDir();
        var file = dir.File("not-a-dir", "");
        var ps = await Cli.RunAsync("ps", "--runtime-dir", file);
        Assert.True(ps.Code == 1, ps.ToString());
        Assert.Contains($"runtime directory '{file}' is not a directory", ps.Stderr);
        Assert.DoesNotContain("no packs running", ps.Stdout);
    }

    [Fact]
    public async Task A_fifo_as_manifest_is_refused_at_once_by_reload_and_start_and_read_by_validate()
    {
        using var dir = new TempDir();
        var fifo = Path.Combine(dir.Path, "fifo.yml");
        Assert.Equal(0, Native.mkfifo(fifo, 0b110_000_000));
        await using var pack = await PackProcess.StartAsync("name: pipe\ncommand: sh\nargs: ['-c', 'exec sleep 600']\nworkers: 1\ncpus: none\nready: { mode: delay, delay: 50ms }\n", dir: dir);
        var reload = await Cli.RunAsync("reload", "pipe", "--manifest", fifo, "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 2, reload.ToString());
        Assert.Contains($"{fifo}:1:1: is not a regular file", reload.Stderr);
        var start = await Cli.RunAsync("start", fifo, "--runtime-dir", Path.Combine(dir.Path, "rt2"));
        Assert.True(start.Code == 2, start.ToString());
        Assert.Contains("is not a regular file", start.Stderr);

        // validate reads a stream (bash's <(...) is a pipe): a writer feeds the FIFO.
        var writer = Task.Run(() => File.WriteAllText(fifo, "name: pipe\ncommand: sh\n"));
        var validate = await Cli.RunAsync("validate", fifo);
        await writer.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(validate.Code == 0, validate.ToString());
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
            var client = new Gopherpack.Control.PackClient(new Gopherpack.Runtime.RuntimeDirectory(runtimeDir));
            await Eventually.Value(async () =>
            {
                if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid)) return null;
                master = pid;
                try { return await client.StatusAsync("never") is { Workers: [{ Pid: not null }] } status ? status : null; }
                catch (Gopherpack.Control.PackNotRunningException) { return null; }
            }, TimeSpan.FromSeconds(60), "the master to spawn its worker");
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
