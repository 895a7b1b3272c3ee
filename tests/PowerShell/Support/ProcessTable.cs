namespace Gopherpack.PowerShell.Tests.Support;

/// <summary>What /proc says about this test process (the PowerShell host) and the packs' processes.</summary>
public static class ProcessTable
{
    public static bool IsAlive(int pid) =>
        File.Exists($"/proc/{pid}/stat") && State(pid) is not ("Z" or "X" or null);

    public static string? State(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[0]; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException) { return null; }
    }

    /// <summary>The executable a process runs (/proc/PID/exe).</summary>
    public static string? Executable(int pid)
    {
        try { return new FileInfo($"/proc/{pid}/exe").LinkTarget; }
        catch (IOException) { return null; }
    }

    /// <summary>Children of this process (zombies included), with their state and command.</summary>
    public static IReadOnlyList<(int Pid, string State, string Command)> OwnChildren() =>
        Directory.GetDirectories("/proc/self/task")
            .SelectMany(t => ReadOrEmpty(t + "/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(int.Parse).Distinct()
            .Select(pid => (pid, State(pid) ?? "?", ReadOrEmpty($"/proc/{pid}/comm").Trim()))
            .ToList();

    public static IReadOnlyList<(int Pid, string State, string Command)> OwnZombies() => OwnChildren().Where(c => c.State == "Z").ToList();

    /// <summary>Names of this process's threads that Gopherpack started (comm is cut at 15 bytes).</summary>
    public static IReadOnlyList<string> GopherpackThreads() =>
        Directory.GetDirectories("/proc/self/task").Select(t => ReadOrEmpty(t + "/comm").Trim()).Where(n => n.StartsWith("gopherpack", StringComparison.Ordinal)).ToList();

    private static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }
}
