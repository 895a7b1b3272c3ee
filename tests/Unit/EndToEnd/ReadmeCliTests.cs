using System.Text.RegularExpressions;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// The README's command-line example, line by line as written, with <c>gopherpack</c> the command under test, the
/// runtime dir a temp folder (GOPHERPACK_RUNTIME_DIR) and the hello example's manifest moved to an ephemeral port.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class ReadmeCliTests
{
    private const string ManifestPath = "examples/HelloHttp/app.yml";

    [GeneratedRegex(@"\n## The command line\n.*?```sh\n(.*?)```", RegexOptions.Singleline)] private static partial Regex CliBlock();

    [Fact]
    public async Task The_readme_command_line_example_runs_as_written()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        var lines = CliBlock().Match(readme).Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('#')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(["start", "ps", "reload", "scale", "stop"], lines.Select(l => l[1]));
        Assert.All(lines, l => Assert.Equal("gopherpack", l[0]));

        using var dir = new TempDir();
        var manifest = Path.Combine(dir.Path, ManifestPath);
        Directory.CreateDirectory(Path.GetDirectoryName(manifest)!);
        var example = File.ReadAllText(Path.Combine(RepoPaths.Root, ManifestPath));
        Assert.Contains("address: tcp://127.0.0.1:8080", example);
        File.WriteAllText(manifest, example.Replace("address: tcp://127.0.0.1:8080", "address: tcp://127.0.0.1:0"));
        Directory.CreateSymbolicLink(Path.Combine(Path.GetDirectoryName(manifest)!, "bin"), Path.Combine(RepoPaths.ExampleDir("HelloHttp"), "bin"));
        var environment = new Dictionary<string, string?> { ["GOPHERPACK_RUNTIME_DIR"] = Path.Combine(dir.Path, "rt") };
        var client = new PackClient(new RuntimeDirectory(environment["GOPHERPACK_RUNTIME_DIR"]!));
        var pids = new HashSet<int>();
        try
        {
            foreach (var line in lines)
            {
                var args = line.Skip(1).Select(a => a == ManifestPath ? manifest : a).ToArray();
                var result = await Cli.RunWithAsync(environment, args);
                Assert.True(result.Code == 0, $"{string.Join(' ', line)}: {result}");
                if (args[0] == "stop") continue;
                var status = await client.StatusAsync("hello");
                pids.Add(status.MasterPid);
                pids.UnionWith(status.Workers.Select(w => w.Pid).OfType<int>());
                switch (args[0])
                {
                    case "start": Assert.Contains("pack 'hello' started", result.Stdout); break;
                    case "ps": Assert.Contains(" Ready ", result.Stdout); break;
                    case "reload": Assert.Equal(2, status.Generation); break;
                    case "scale": Assert.Single(status.Workers, w => w.State == "Ready"); break;
                }
            }
            Assert.All(pids, pid => Assert.False(Native.IsAlive(pid), $"pid {pid} is still there after the README's stop"));
        }
        finally
        {
            foreach (var pid in pids.Where(Native.IsAlive)) Native.kill(pid, Native.SIGKILL);
        }
    }
}
