using System.Runtime.InteropServices;

namespace Gopherpack.Tests.Support;

internal static partial class Native
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGINT = 2, SIGQUIT = 3;

    [LibraryImport("libc", SetLastError = true)] public static partial int kill(int pid, int signal);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mkfifo(string path, uint mode);

    /// <summary>Running, not a zombie; a process that goes away while it is read is gone.</summary>
    public static bool IsAlive(int pid)
    {
        try { return !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    public static bool IsZombie(int pid) =>
        File.Exists($"/proc/{pid}/stat") && File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z";

    public static string StatusField(int pid, string field, string task = "") =>
        File.ReadLines(task == "" ? $"/proc/{pid}/status" : $"/proc/{pid}/task/{task}/status")
            .First(l => l.StartsWith(field + ":", StringComparison.Ordinal))[(field.Length + 1)..].Trim();

    /// <summary>Children of <paramref name="pid"/> from /proc (zombies included).</summary>
    public static IReadOnlyList<int> Children(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task")
            .SelectMany(t => File.Exists(t + "/children") ? File.ReadAllText(t + "/children").Split(' ', StringSplitOptions.RemoveEmptyEntries) : [])
            .Select(int.Parse).Distinct().ToList();
}
