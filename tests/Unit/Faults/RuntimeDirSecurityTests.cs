using System.Diagnostics;
using System.Runtime.InteropServices;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// A runtime dir another account can write to (or owns) is refused, never chmodded, and a NAME.log symlink planted
/// in a runtime dir is never followed: nothing outside the runtime dir gets written or chmodded. Run as root (CI) and
/// as another account (nobody, through setpriv).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class RuntimeDirSecurityTests
{
    private const uint Nobody = 65534;
    private const UnixFileMode VictimMode = (UnixFileMode)0b110_100_100;

    [LibraryImport("libc")] private static partial uint geteuid();
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int lchown(string path, uint uid, uint gid);

    private sealed record Scene(TempDir Dir, string Manifest, string Runtime, string Victim) : IDisposable
    {
        /// <summary>A master that wrongly started (the defect under test) is stopped by its pid, then the files go.</summary>
        public void Dispose()
        {
            var pidFile = Path.Combine(Runtime, "planted.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && Native.IsAlive(pid))
            {
                Native.kill(pid, Native.SIGTERM);
                for (var i = 0; i < 100 && Native.IsAlive(pid); i++) Thread.Sleep(100);
                if (Native.IsAlive(pid)) Native.kill(pid, Native.SIGKILL);
            }
            Dir.Dispose();
        }
    }

    /// <summary>A manifest, a victim file outside the runtime dir, and a runtime dir whose NAME.log is a symlink to the victim.</summary>
    private static Scene Plant(UnixFileMode runtimeMode, uint owner)
    {
        var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101); // nobody must reach the manifest
        var manifest = dir.File("app.yml", "name: planted\ncommand: sh\nargs: [\"-c\", \"exec sleep 600\"]\nworkers: 1\nready: { mode: delay, delay: 50ms }\n");
        var victim = dir.File("victim.txt", "victim's own line\n");
        File.SetUnixFileMode(victim, VictimMode);
        var runtime = Path.Combine(dir.Path, "rt");
        Directory.CreateDirectory(runtime);
        File.CreateSymbolicLink(Path.Combine(runtime, "planted.log"), victim);
        Assert.Equal(0, lchown(victim, owner, owner));
        Assert.Equal(0, lchown(Path.Combine(runtime, "planted.log"), owner, owner));
        Assert.Equal(0, lchown(runtime, owner, owner));
        File.SetUnixFileMode(runtime, runtimeMode); // after chown, which clears the sticky bit's neighbours
        return new Scene(dir, manifest, runtime, victim);
    }

    private static void AssertVictimUntouched(Scene scene, UnixFileMode runtimeMode)
    {
        Assert.Equal("victim's own line\n", File.ReadAllText(scene.Victim));
        Assert.Equal(VictimMode, File.GetUnixFileMode(scene.Victim));
        Assert.Equal(runtimeMode, File.GetUnixFileMode(scene.Runtime));
        Assert.False(File.Exists(Path.Combine(scene.Runtime, "planted.pid")), "a pid file was written");
    }

    [Fact]
    public async Task As_root_a_runtime_dir_owned_by_another_account_is_refused_and_its_planted_log_symlink_not_followed()
    {
        if (geteuid() != 0) return; // CI runs as root; the account tests below cover the rest
        const UnixFileMode mode = (UnixFileMode)0b111_000_000;
        using var scene = Plant(mode, Nobody);
        foreach (var command in new[] { "start", "run" })
        {
            var result = await Cli.RunAsync(command, scene.Manifest, "--runtime-dir", scene.Runtime);
            Assert.True(result.Code == 1, result.ToString());
            Assert.Contains($"runtime directory '{scene.Runtime}' belongs to uid {Nobody}, not to this user (uid 0) or root", result.Stderr);
            AssertVictimUntouched(scene, mode);
        }
    }

    [Fact]
    public async Task A_log_symlink_planted_in_a_private_runtime_dir_is_refused_not_followed()
    {
        const UnixFileMode mode = (UnixFileMode)0b111_000_000;
        using var scene = Plant(mode, geteuid());
        var result = await Cli.RunAsync("start", scene.Manifest, "--runtime-dir", scene.Runtime);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains("is a symbolic link, and the master never writes its log through one", result.Stderr);
        AssertVictimUntouched(scene, mode);
    }

    [Fact]
    public async Task A_world_writable_runtime_dir_is_refused_and_not_chmodded()
    {
        const UnixFileMode mode = (UnixFileMode)0b1_111_111_111; // 1777, as /tmp
        using var scene = Plant(mode, geteuid());
        foreach (var command in new[] { "start", "run" })
        {
            var result = await Cli.RunAsync(command, scene.Manifest, "--runtime-dir", scene.Runtime);
            Assert.True(result.Code == 1, result.ToString());
            Assert.Contains($"runtime directory '{scene.Runtime}' is writable by every user (mode 1777)", result.Stderr);
            AssertVictimUntouched(scene, mode);
        }
    }

    [Theory]
    [InlineData(0b1_111_111_111, "is writable by every user (mode 1777)")]
    [InlineData(0b111_000_000, "is a symbolic link, and the master never writes its log through one")]
    public async Task As_another_account_a_planted_log_symlink_is_never_followed(int runtimeMode, string refusal)
    {
        if (geteuid() != 0) return; // needs root to become another account
        var mode = (UnixFileMode)runtimeMode;
        using var scene = Plant(mode, Nobody);
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp", "DOTNET_NOLOGO=1" }
                     .Concat(RepoPaths.CliCommand).Concat(["start", scene.Manifest, "--runtime-dir", scene.Runtime]))
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        var result = new Cli.Result(process.ExitCode, await stdout, await stderr);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains(refusal, result.Stderr);
        AssertVictimUntouched(scene, mode);
    }
}
