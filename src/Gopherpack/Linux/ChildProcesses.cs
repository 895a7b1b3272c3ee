using System.Globalization;

namespace Gopherpack.Linux;

/// <summary>What /proc/PID/stat says about a process: its name, state, parent and process group.</summary>
internal readonly record struct ProcessStat(int Pid, string Command, char State, int ParentPid, int GroupId)
{
    /// <summary>
    /// When it started, in clock ticks after boot (field 22): with the pid, it names one process for good, since a
    /// reused pid starts later. An exec keeps it.
    /// </summary>
    public ulong StartTime { get; init; }

    public bool IsZombie => State == 'Z';

    public override string ToString() => $"pid {Pid} ({Command})";

    /// <returns>Null when the process is gone (or cannot be read).</returns>
    public static ProcessStat? Read(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses, so parse after the last ')'.
        var open = stat.IndexOf('(');
        var close = stat.LastIndexOf(')');
        if (open < 0 || close < open || close + 2 >= stat.Length) return null;
        var fields = stat[(close + 2)..].Split(' ');
        if (fields.Length < 20 || fields[0].Length != 1
            || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent)
            || !int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var group)
            || !ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var started)) return null;
        return new ProcessStat(pid, stat[(open + 1)..close], fields[0][0], parent, group) { StartTime = started };
    }
}

/// <summary>The children of this process, whatever started them (orphans re-parented to it included).</summary>
internal static class ChildProcesses
{
    /// <summary>
    /// From <c>/proc/self/task/*/children</c> (each thread's children; cheap), or, on a kernel without
    /// CONFIG_PROC_CHILDREN, by scanning every <c>/proc/PID/stat</c> for this parent. The kernel's list may miss a
    /// child that changes meanwhile; callers scan again later.
    /// </summary>
    public static IReadOnlySet<int> OfSelf()
    {
        var children = new HashSet<int>();
        var self = Environment.ProcessId;
        if (KernelListsChildren)
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{self}/task"))
            {
                string text;
                try { text = File.ReadAllText(task + "/children"); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; } // the thread has ended
                foreach (var field in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) children.Add(pid);
            }
            return children;
        }
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (ProcessStat.Read(pid) is { } stat && stat.ParentPid == self) children.Add(pid);
        }
        return children;
    }

    /// <summary>
    /// This process's parent, its parent's parent, and so on up to init: live processes (a dead parent is replaced by
    /// the subreaper or init that adopts its children). Read one at a time, so a pid can change while it is walked.
    /// </summary>
    public static IReadOnlyList<int> AncestorsOfSelf()
    {
        var ancestors = new List<int>();
        var pid = Environment.ProcessId;
        while (ancestors.Count < 256 && ProcessStat.Read(pid) is { ParentPid: > 0 and var parent } && !ancestors.Contains(parent))
        {
            ancestors.Add(parent);
            pid = parent;
        }
        return ancestors;
    }

    private static readonly bool KernelListsChildren = File.Exists($"/proc/{Environment.ProcessId}/task/{Environment.ProcessId}/children");
}
