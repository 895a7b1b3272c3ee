using System.Runtime.InteropServices;

namespace Gopherpack.Tests.Support;

internal static partial class Native
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGINT = 2, SIGQUIT = 3;

    [LibraryImport("libc", SetLastError = true)] public static partial int kill(int pid, int signal);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int mkfifo(string path, uint mode);

    /// <summary>Alive and not a zombie; a process that exits while it is read is not alive.</summary>
    public static bool IsAlive(int pid) => State(pid) is { } state && state != 'Z';

    public static bool IsZombie(int pid) => State(pid) == 'Z';

    /// <summary>The state letter of /proc/PID/stat (read after the last ')': the name may hold spaces), null when gone.</summary>
    private static char? State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close >= 0 && close + 2 < stat.Length ? stat[close + 2] : null;
        }
        catch (IOException) { return null; }
    }

    public static string StatusField(int pid, string field, string task = "") =>
        File.ReadLines(task == "" ? $"/proc/{pid}/status" : $"/proc/{pid}/task/{task}/status")
            .First(l => l.StartsWith(field + ":", StringComparison.Ordinal))[(field.Length + 1)..].Trim();

    /// <summary>Children of <paramref name="pid"/> from /proc (zombies included).</summary>
    public static IReadOnlyList<int> Children(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task")
            .SelectMany(t => File.Exists(t + "/children") ? File.ReadAllText(t + "/children").Split(' ', StringSplitOptions.RemoveEmptyEntries) : [])
            .Select(int.Parse).Distinct().ToList();
}
