using Gopherpack.Tests.Manifest;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class CliTests
{
    private static async Task<(int Code, string Stdout, string Stderr)> Gopherpack(params string[] args)
    {
        var result = await Cli.RunAsync(args);
        return (result.Code, result.Stdout, result.Stderr);
    }

    [Fact]
    public async Task Validate_exits_2_with_file_line_col_for_every_invalid_manifest_in_the_corpus()
    {
        foreach (var file in InvalidManifestCorpus.FileNames())
        {
            var path = Path.Combine(InvalidManifestCorpus.Folder, file);
            var (code, _, stderr) = await Gopherpack("validate", path);
            Assert.True(code == 2, $"{file}: exit {code}, expected 2; stderr: {stderr}");
            foreach (var (line, column, message) in InvalidManifestCorpus.Expected(file))
                Assert.Contains(stderr.Split('\n'), l => l.Contains($"{path}:{line}:{column}: ") && l.Contains(message));
        }
    }

    [Fact]
    public async Task Validate_accepts_a_good_manifest_with_exit_0()
    {
        using var dir = new TempDir();
        var path = dir.File("ok.yml", "name: ok\ncommand: sh\nlisteners: [{ name: http, address: 'tcp://127.0.0.1:8080' }]\n");
        var (code, stdout, _) = await Gopherpack("validate", path);
        Assert.Equal(0, code);
        Assert.Contains("ok (pack 'ok', 1 listener(s)", stdout);
    }

    [Theory]
    [InlineData]
    [InlineData("frobnicate")]
    [InlineData("validate")]
    [InlineData("run", "a.yml", "b.yml")]
    public async Task Bad_usage_exits_2(params string[] args)
    {
        var (code, _, stderr) = await Gopherpack(args);
        Assert.Equal(2, code);
        Assert.Contains("gopherpack:", stderr);
    }

    [Fact]
    public async Task Run_with_an_invalid_manifest_exits_2_and_starts_nothing()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.yml", "name: bad\ncommand: sh\nworkers: lots\n");
        var (code, _, stderr) = await Gopherpack("run", path, "--runtime-dir", Path.Combine(dir.Path, "rt"));
        Assert.Equal(2, code);
        Assert.Contains($"{path}:3:10: 'workers'", stderr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "rt")));
    }

    [Fact]
    public async Task Run_refuses_a_pack_that_is_already_running()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: once
            command: dotnet
            args: ["{worker}"]
            workers: 1
            """);
        var (code, _, stderr) = await Gopherpack("run", Path.Combine(pack.Dir.Path, "app.yml"), "--runtime-dir", pack.RuntimeDir);
        Assert.Equal(1, code);
        Assert.Contains($"pack 'once' is already running (master pid {pack.MasterPid}", stderr);
        Assert.True(File.Exists(Path.Combine(pack.RuntimeDir, "once.pid")), "the second master removed the first one's pid file");
    }

    [Fact]
    public async Task An_unusable_runtime_dir_is_a_clear_error()
    {
        using var dir = new TempDir();
        var blocker = dir.File("not-a-dir", "");
        var path = dir.File("app.yml", "name: rt\ncommand: sh\n");
        var (code, _, stderr) = await Gopherpack("run", path, "--runtime-dir", Path.Combine(blocker, "rt"));
        Assert.Equal(1, code);
        Assert.Contains("runtime directory", stderr);
        Assert.Contains("--runtime-dir", stderr);
    }
}
