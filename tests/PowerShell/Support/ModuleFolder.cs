using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gopherpack.PowerShell.Tests.Support;

/// <summary>
/// The module folder under test, assembled once per test run with the README's own command
/// (<c>dotnet publish src/Gopherpack.PowerShell -c Release -o out/Gopherpack</c>, into a temp dir), so it holds
/// the real gopherpack master. $env:GOPHERPACK_TEST_MODULE names an already assembled folder instead.
/// </summary>
public sealed partial class ModuleFolder : IDisposable
{
    public const string Variable = "GOPHERPACK_TEST_MODULE";
    private readonly TempDir? _dir;

    [GeneratedRegex(@"^dotnet publish src/Gopherpack\.PowerShell -c Release -o out/Gopherpack\b", RegexOptions.Multiline)]
    private static partial Regex ReadmePublish();

    public ModuleFolder()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } given)
        {
            Path = System.IO.Path.GetFullPath(given);
            return;
        }
        var readme = File.ReadAllText(System.IO.Path.Combine(RepoPaths.Root, "README.md"));
        if (!ReadmePublish().IsMatch(readme)) throw new InvalidOperationException("README.md no longer shows: dotnet publish src/Gopherpack.PowerShell -c Release -o out/Gopherpack");
        _dir = new TempDir();
        // The README's out/Gopherpack, relative to a folder of our own: ReadmeTests runs the README's lines from there.
        Path = System.IO.Path.Combine(_dir.Path, "out", "Gopherpack");
        Publish(Path);
    }

    /// <summary>The folder holding Gopherpack.psd1.</summary>
    public string Path { get; }
    /// <summary>The folder that holds out/Gopherpack (null when the folder was given).</summary>
    public string? Root => _dir?.Path;
    public string Psd1 => System.IO.Path.Combine(Path, "Gopherpack.psd1");
    public string Master => System.IO.Path.Combine(Path, "gopherpack");

    private static void Publish(string output)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoPaths.Root };
        foreach (var arg in new[] { "publish", "src/Gopherpack.PowerShell", "-c", "Release", "-o", output }) start.ArgumentList.Add(arg);
        using var publish = Process.Start(start)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        if (!publish.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            publish.Kill(entireProcessTree: true);
            throw new TimeoutException("dotnet publish of the module did not finish within 10 minutes");
        }
        if (publish.ExitCode != 0) throw new InvalidOperationException($"dotnet publish of the module failed ({publish.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
    }

    public void Dispose() => _dir?.Dispose();
}

/// <summary>Every test class shares one module folder and runs one at a time (packs pin workers to this machine's few cores).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ModuleCollection : ICollectionFixture<ModuleFolder>
{
    public const string Name = "module";
}
