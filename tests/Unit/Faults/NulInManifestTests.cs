using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// A NUL character in any manifest value is refused where it stands (file:line:col, exit 2) before any value is used
/// as a path, a command or an address: validate does not crash, and a reload of such a manifest is refused like any
/// invalid manifest while the pack keeps serving.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class NulInManifestTests
{
    private const string Good = "name: nul\ncommand: sh\nargs: [\"-c\", \"exec sleep 600\"]\nworkers: 1\nready: { mode: delay, delay: 50ms }\n";

    [Theory]
    [InlineData("name: nul\ncommand: \"sh\\0x\"\n", 2, 10)]
    [InlineData("name: nul\ncommand: sh\nworkingDirectory: \"/tmp\\0x\"\n", 3, 19)]
    [InlineData("name: nul\ncommand: sh\nlisteners:\n  - { name: a, address: \"unix:///tmp/a\\0b\" }\n", 4, 25)]
    [InlineData("name: nul\ncommand: sh\nlisteners:\n  - name: a\n    address: 127.0.0.1:0\n    tls: { certificate: \"/tmp/c\\0.pem\", key: /tmp/k.pem }\n", 6, 25)]
    public async Task Validate_refuses_a_nul_at_its_position(string yaml, int line, int column)
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", yaml);
        var result = await Cli.RunAsync("validate", manifest);
        Assert.True(result.Code == 2, result.ToString());
        Assert.Contains($"{manifest}:{line}:{column}: a NUL character", result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.Stderr);
    }

    [Fact]
    public async Task A_reload_with_a_nul_in_the_command_is_refused_as_an_invalid_manifest()
    {
        using var dir = new TempDir();
        var manifest = dir.File("app.yml", Good);
        var runtime = Path.Combine(dir.Path, "rt");
        var (started, pack) = await StartedPack.StartAsync(manifest, runtime, "nul");
        Assert.NotNull(pack);
        await using var _ = pack;
        Assert.True(started.Code == 0, started.ToString());
        File.WriteAllText(manifest, Good.Replace("command: sh", "command: \"sh\\0x\""));
        var reload = await Cli.RunAsync("reload", "nul", "--runtime-dir", runtime);
        Assert.True(reload.Code == 2, reload.ToString());
        Assert.Contains("a NUL character", reload.Stderr);
        var ps = await Cli.RunAsync("ps", "nul", "--runtime-dir", runtime);
        Assert.True(ps.Code == 0, ps.ToString());
    }
}
