using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Packaging;

/// <summary>One version for everything, set once in Directory.Build.props.</summary>
public sealed partial class VersionTests
{
    [GeneratedRegex(@"<Version>([^<]+)</Version>")] private static partial Regex VersionElement();
    [GeneratedRegex(@"ModuleVersion\s*=\s*'([^']+)'")] private static partial Regex ModuleVersion();

    private static string Version => VersionElement().Match(File.ReadAllText(Path.Combine(RepoPaths.Root, "Directory.Build.props"))).Groups[1].Value;

    [Fact]
    public async Task The_gopherpack_command_says_the_version_of_Directory_Build_props()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+$", Version);
        var result = await Cli.RunAsync("--version");
        Assert.True(result.Code == 0, result.ToString());
        Assert.Equal(Version, result.Stdout.Trim());
    }

    [Fact]
    public void The_module_manifest_takes_its_version_from_the_build_and_the_built_one_says_it()
    {
        Assert.Equal("@VERSION@", ModuleVersion().Match(File.ReadAllText(Path.Combine(RepoPaths.Root, "module", "Gopherpack.psd1"))).Groups[1].Value);
        var built = Path.Combine(RepoPaths.Root, "src", "Gopherpack.PowerShell", "bin", new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name, "net10.0", "Gopherpack.psd1");
        Assert.True(File.Exists(built), $"{built} is not built; run dotnet build on the solution first");
        Assert.Equal(Version, ModuleVersion().Match(File.ReadAllText(built)).Groups[1].Value);
    }

    [Fact]
    public void The_licence_is_at_the_root_and_the_changelog_names_the_version()
    {
        Assert.StartsWith("MIT License", File.ReadAllText(Path.Combine(RepoPaths.Root, "LICENSE")));
        Assert.Contains($"## {Version}", File.ReadAllText(Path.Combine(RepoPaths.Root, "CHANGELOG.md")));
    }
}
