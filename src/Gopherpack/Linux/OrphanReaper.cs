namespace Gopherpack.Linux;

/// <summary>
/// For a master running as PID 1 (a container's init): processes orphaned anywhere below it are
/// re-parented to it and must be reaped, or they stay zombies. waitpid(-1) is not allowed (the .NET
/// runtime fails fast when a child it started is reaped by someone else), so this reaps by pid:
/// zombies whose parent is this process that are none of the master's own children.
/// </summary>
public sealed class OrphanReaper
{
    /// <summary>An orphan reaper when this process is PID 1 of its pid namespace, else null.</summary>
    public static OrphanReaper? ForInit() => Environment.ProcessId == 1 ? new OrphanReaper() : null;

    /// <returns>The orphans reaped.</returns>
    public IReadOnlyList<int> Reap(IReadOnlySet<int> ownChildren)
    {
        var reaped = new List<int>();
        foreach (var pid in ZombieChildren())
        {
            if (ownChildren.Contains(pid)) continue;
            if (Libc.waitpid(pid, out _, Libc.WNOHANG) == pid) reaped.Add(pid);
        }
        return reaped;
    }

    /// <summary>Zombie children of this process, from /proc/PID/stat (state Z, ppid = us).</summary>
    private static IEnumerable<int> ZombieChildren()
    {
        var self = Environment.ProcessId;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(System.IO.Path.GetFileName(directory), out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(directory + "/stat"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && fields[0] == "Z" && int.TryParse(fields[1], out var ppid) && ppid == self) yield return pid;
        }
    }
}
