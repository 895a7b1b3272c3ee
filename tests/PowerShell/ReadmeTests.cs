using System.Text.RegularExpressions;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>
/// The README's PowerShell lines and docs/POWERSHELL.md's deploy script, verbatim, in a fresh runspace (nothing
/// imported), from a folder laid out like the repository root: out/Gopherpack is the module folder under test, examples/HelloHttp holds the real example's
/// manifest with only its port made ephemeral (8080 may be taken here) and its built binaries.
/// </summary>
public sealed partial class ReadmeTests(ModuleFolder module) : ModuleTest(module)
{
    [GeneratedRegex(@"```powershell\n(.*?)```", RegexOptions.Singleline)] private static partial Regex PowerShellBlock();

    [Fact]
    public async Task The_readme_powershell_lines_run_as_written()
    {
        var readme = Blocks("README.md", "\n## PowerShell\n");
        var deployScript = Blocks(Path.Combine("docs", "POWERSHELL.md"), "# The PowerShell module\n");
        Assert.Single(readme);
        Assert.Single(deployScript);
        var root = MirrorRepository();
        var before = Environment.GetEnvironmentVariable("GOPHERPACK_RUNTIME_DIR");
        Environment.SetEnvironmentVariable("GOPHERPACK_RUNTIME_DIR", Lab.RuntimeDir);
        try
        {
            using var session = new PowerShellSession(null, root);
            foreach (var line in readme[0])
            {
                var result = session.Run(line, TimeSpan.FromMinutes(3));
                Assert.True(result.Errors.Count == 0, $"README line failed: {line}\n{result}");
                await CheckLine(line, result);
            }
            Assert.Empty(session.Run("Get-Pack").AssertNoErrors().Output);

            // The deploy script as one script: $ErrorActionPreference = 'Stop' ends it at the first error.
            var deploy = session.Run(string.Join("\n", deployScript[0]), TimeSpan.FromMinutes(3));
            Assert.True(deploy.Errors.Count == 0, $"docs/POWERSHELL.md's deploy script failed: {deploy}");
            Assert.Contains(deploy.Output, o => o.TypeNames[0] == "Gopherpack.Model.ReloadResult" && o.Get<string>("Strategy") == "rolling");
            Assert.Empty(session.Run("Get-Pack").AssertNoErrors().Output);
        }
        finally
        {
            Environment.SetEnvironmentVariable("GOPHERPACK_RUNTIME_DIR", before);
        }
    }

    private static async Task CheckLine(string line, ScriptResult result)
    {
        var command = line.Split(' ')[0];
        switch (command)
        {
            case "Start-Pack":
                var pack = Assert.Single(result.Output);
                Assert.Equal(("hello", "Running"), (pack.Get<string>("Name"), pack.Get<string>("State")));
                Assert.Contains("\"message\":\"Hello from Gopherpack\"", await PackLab.Get(pack.Get<string>("Listeners")));
                break;
            case "Get-Pack":
                Assert.Equal("hello", Assert.Single(result.Output).Get<string>("Name"));
                break;
            case "Get-PackWorker" when line.Contains("Stop-Pack"):
                Assert.Empty(result.Output);
                break;
            case "Get-PackWorker":
                Assert.NotEmpty(result.Output);
                Assert.All(result.Output, w => Assert.Equal("Ready", w.Get<string>("State")));
                break;
            case "Invoke-PackReload":
                Assert.True(Assert.Single(result.Output).Get<bool>("Succeeded"));
                break;
            case "Test-PackManifest":
                Assert.Equal([true], result.Objects<bool>());
                break;
        }
    }

    /// <summary>The lines of each ```powershell block of one section of a document (up to its next ## heading).</summary>
    private static List<List<string>> Blocks(string document, string heading)
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Root, document));
        var start = text.IndexOf(heading, StringComparison.Ordinal);
        Assert.True(start >= 0, $"{document} has no section {heading.Trim()}");
        var section = text[start..];
        var end = section.IndexOf("\n## ", 1, StringComparison.Ordinal);
        if (end >= 0) section = section[..end];
        return PowerShellBlock().Matches(section).Select(m => m.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList()).ToList();
    }

    private string MirrorRepository()
    {
        var root = Path.Combine(Lab.Path, "repo");
        Directory.CreateDirectory(Path.Combine(root, "out"));
        Directory.CreateSymbolicLink(Path.Combine(root, "out", "Gopherpack"), Module.Path);
        var hello = Path.Combine(root, "examples", "HelloHttp");
        Directory.CreateDirectory(hello);
        Directory.CreateSymbolicLink(Path.Combine(hello, "bin"), Path.Combine(RepoPaths.ExampleDir("HelloHttp"), "bin"));
        var manifest = File.ReadAllText(Path.Combine(RepoPaths.ExampleDir("HelloHttp"), "app.yml"));
        Assert.Contains("address: tcp://127.0.0.1:8080", manifest);
        File.WriteAllText(Path.Combine(hello, "app.yml"), manifest.Replace("address: tcp://127.0.0.1:8080", "address: tcp://127.0.0.1:0"));
        return root;
    }
}
