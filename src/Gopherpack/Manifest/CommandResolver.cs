namespace Gopherpack.Manifest;

/// <summary>Finds the executable a manifest's <c>command</c> names: a path relative to the manifest, or a name on PATH.</summary>
internal static class CommandResolver
{
    public static string? Resolve(string command, string manifestDirectory, out string problem)
    {
        problem = "";
        if (command.Contains('/'))
        {
            var full = Path.GetFullPath(command, manifestDirectory);
            if (IsExecutableFile(full)) return full;
            problem = File.Exists(full) ? $"command '{full}' is not executable" : $"command '{full}' does not exist";
            return null;
        }
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, command);
            if (IsExecutableFile(candidate)) return candidate;
        }
        problem = $"command '{command}' was not found on PATH";
        return null;
    }

    private static bool IsExecutableFile(string path)
    {
        if (!File.Exists(path)) return false;
        var mode = File.GetUnixFileMode(path);
        return (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
    }
}
