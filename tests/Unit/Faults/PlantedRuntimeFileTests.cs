using System.Diagnostics;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// Something other than a regular file at NAME.pid or NAME.log in a private runtime dir (a FIFO, a symlink, a hard
/// link): start, run and stop neither hang on it (open with O_NONBLOCK) nor follow it, and say so in one line, exit 1.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class PlantedRuntimeFileTests
{
    private const string Manifest = "name: planted\ncommand: sh\nargs: [\"-c\", \"exec sleep 600\"]\nworkers: 1\nready: { mode: delay, delay: 50ms }\n";

    private static (TempDir Dir, string Manifest, string Runtime) Scene()
    {
        var dir = new TempDir();
        var manifest = dir.File("app.yml", Manifest);
        var runtime = Path.Combine(dir.Path, "rt");
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return (dir, manifest, runtime);
    }

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", [path])!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Fact]
    public async Task A_fifo_planted_as_the_pid_file_is_refused_and_hangs_nothing()
    {
        var (dir, manifest, runtime) = Scene();
        using var _ = dir;
        MakeFifo(Path.Combine(runtime, "planted.pid"));
        foreach (var args in new[] { new[] { "run", manifest }, ["start", manifest, "--timeout", "60"] })
        {
            var result = await Cli.RunAsync([.. args, "--runtime-dir", runtime]); // Cli fails after 120 s: the hang
            Assert.True(result.Code == 1, $"{args[0]}: {result}");
            Assert.Contains("planted.pid' is a FIFO, not a regular file; refused", result.Stderr);
            Assert.DoesNotContain("Unhandled exception", result.Stderr);
        }
        var stop = await Cli.RunAsync("stop", "planted", "--runtime-dir", runtime);
        Assert.True(stop.Code == 7, stop.ToString());
    }

    [Theory]
    [InlineData("fifo", "is a FIFO, not a regular file; refused")]
    [InlineData("symlink", "is a symbolic link, and the master never writes its log through one")]
    [InlineData("hardlink", "has other hard links")]
    public async Task A_log_that_is_not_a_plain_file_is_refused_in_one_line(string kind, string refusal)
    {
        var (dir, manifest, runtime) = Scene();
        using var _ = dir;
        var log = Path.Combine(runtime, "planted.log");
        var other = dir.File("other.txt", "other\n");
        switch (kind)
        {
            case "fifo": MakeFifo(log); break;
            case "symlink": File.CreateSymbolicLink(log, other); break;
            default:
                using (var ln = Process.Start("ln", [other, log])!) { ln.WaitForExit(); Assert.Equal(0, ln.ExitCode); }
                break;
        }
        var result = await Cli.RunAsync("start", manifest, "--runtime-dir", runtime);
        Assert.True(result.Code == 1, result.ToString());
        Assert.Contains(refusal, result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Equal("other\n", File.ReadAllText(other));
    }
}
