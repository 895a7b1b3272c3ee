namespace Gopherpack.Tests.Support;

/// <summary>Where the built CLI and test worker are: same configuration as this test assembly.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();
    private static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    public static string CliDll => Built("src/Gopherpack.Cli", "gopherpack.dll");
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
