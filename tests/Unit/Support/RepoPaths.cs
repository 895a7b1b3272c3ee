namespace Gopherpack.Tests.Support;

/// <summary>Where the built CLI and test worker are: same configuration as this test assembly.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();
    private static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    public static string CliDll => Built("src/Gopherpack.Cli", "gopherpack.dll");

    /// <summary>
    /// How the tests run the <c>gopherpack</c> command: the executable named by GOPHERPACK_CLI (e.g. the
    /// NativeAOT build, as CI does), else <c>dotnet gopherpack.dll</c> from this configuration's build.
    /// </summary>
    public static IReadOnlyList<string> CliCommand => NativeCli is { } native ? [native] : ["dotnet", CliDll];

    /// <summary>The executable named by GOPHERPACK_CLI, or null when the tests use the dll.</summary>
    public static string? NativeCli => FindNativeCli();

    private static string? FindNativeCli()
    {
        if (Environment.GetEnvironmentVariable("GOPHERPACK_CLI") is not { Length: > 0 } path) return null;
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"GOPHERPACK_CLI={path}: no such file; publish it with dotnet publish src/Gopherpack.Cli -c Release -r linux-x64 -o DIR");
        return full;
    }
    public static string TestWorkerDll => Built("tests/TestWorker", "TestWorker.dll");
    public static string ExampleDll(string name) => Built("examples/" + name, name + ".dll");
    public static string ExampleDir(string name) => Path.Combine(Root, "examples", name);

    public static string Built(string project, string dll)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} is not built; run dotnet build on the solution first");
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gopherpack.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Gopherpack.slnx) not found above " + AppContext.BaseDirectory);
    }
}
