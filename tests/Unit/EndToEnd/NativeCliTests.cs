using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>The native gopherpack (GOPHERPACK_CLI, as CI publishes it) needs no .NET at all.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class NativeCliTests
{
    [Fact]
    public async Task The_native_build_starts_and_stops_a_pack_with_no_dotnet_reachable()
    {
        // Without GOPHERPACK_CLI the suite runs dotnet gopherpack.dll, which needs dotnet by design.
        if (RepoPaths.NativeCli is null) return;
        using var dir = new TempDir();
        var bin = Directory.CreateDirectory(Path.Combine(dir.Path, "bin")).FullName;
        File.CreateSymbolicLink(Path.Combine(bin, "sh"), "/bin/sh");
        File.CreateSymbolicLink(Path.Combine(bin, "sleep"), "/bin/sleep");
        var manifest = dir.File("app.yml", """
            name: bare
            command: sleep
            args: ["600"]
            workers: 2
            ready: { mode: delay, delay: 100ms }
            """);
        var runtime = Path.Combine(dir.Path, "rt");
        // Everything the command gets: a PATH with only sh and sleep on it, no DOTNET_* and no HOME.
        var bare = new Dictionary<string, string?> { ["PATH"] = bin };
        int? master = null;
        try
        {
            var validate = await Cli.RunCleanAsync(bare, "validate", manifest);
            Assert.True(validate.Code == 0, validate.ToString());
            var start = await Cli.RunCleanAsync(bare, "start", manifest, "--runtime-dir", runtime);
            Assert.True(start.Code == 0, start.ToString());
            master = int.Parse(File.ReadAllText(Path.Combine(runtime, "bare.pid")));
            Assert.DoesNotContain("dotnet", File.ReadAllText($"/proc/{master}/cmdline"));
            var ps = await Cli.RunCleanAsync(bare, "ps", "bare", "--runtime-dir", runtime);
            Assert.True(ps.Code == 0, ps.ToString());
            Assert.Equal(2, ps.Stdout.Split('\n').Count(l => l.Contains(" Ready ")));
            var stop = await Cli.RunCleanAsync(bare, "stop", "bare", "--runtime-dir", runtime);
            Assert.True(stop.Code == 0, stop.ToString());
            Assert.False(Native.IsAlive(master.Value), "the master outlived stop");
        }
        finally
        {
            if (master is { } pid && Native.IsAlive(pid)) Native.kill(pid, Native.SIGKILL);
        }
    }
}
