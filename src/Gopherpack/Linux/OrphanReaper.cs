using System.Runtime.InteropServices;

namespace Gopherpack.Linux;

/// <summary>
/// Reaps the processes orphaned below the master. A process whose parent dies is re-parented to the nearest
/// ancestor that is a child subreaper, else to PID 1: so a master that is a subreaper (or PID 1, a container's
/// init) gets every helper its workers left behind (started with setsid, a double fork) as its own child, and
/// must reap it when it exits or it stays a zombie. waitpid(-1) is not allowed (the .NET runtime fails fast when
/// a child it started is reaped by someone else), so this reaps by pid: exited children that are none of the
/// master's own.
/// </summary>
internal sealed class OrphanReaper
{
    /// <summary>
    /// Makes this process a child subreaper (PR_SET_CHILD_SUBREAPER; not inherited by its children, so workers
    /// are not). Only for a process whose every other child is the master's own (<c>gopherpack run</c>): a host
    /// program with children of its own (pwsh running Start-Pack -Wait) would have them reaped and ended.
    /// </summary>
    /// <returns>Null on success, else why not.</returns>
    public static string? BecomeSubreaper() =>
        Libc.prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? null : Libc.Error(Marshal.GetLastPInvokeError());

    /// <returns>The orphans reaped.</returns>
    public IReadOnlyList<int> Reap(IReadOnlySet<int> ownChildren)
    {
        var reaped = new List<int>();
        foreach (var pid in ChildProcesses.OfSelf())
        {
            if (ownChildren.Contains(pid)) continue;
            // Not a zombie: 0. No longer our child (the runtime reaped it as PID 1): ECHILD. Either way nothing to do.
            if (Libc.waitpid(pid, out _, Libc.WNOHANG) == pid) reaped.Add(pid);
        }
        return reaped;
    }
}
