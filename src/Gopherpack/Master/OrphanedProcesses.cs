using System.Diagnostics;
using Gopherpack.Linux;
using Gopherpack.Logging;

namespace Gopherpack.Master;

/// <summary>
/// Ends what the pack left behind, once its workers are reaped at stop. The master is a child subreaper, so
/// every process orphaned below it (a helper a worker started with setsid or a double fork, whose parent has
/// exited; the children of a failed upgrade's new master) is now its child. Whatever child is not its own
/// (janitor, a successor master) gets SIGTERM, SIGKILL if it is still there after <see cref="Grace"/>, and
/// is reaped; what it leaves in turn is re-parented to the master and handled in the same pass.
/// </summary>
internal static class OrphanedProcesses
{
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    /// <summary>After SIGKILL: how long to wait for the kernel to deliver it before giving up on a process.</summary>
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    private sealed class Ended(ProcessStat process, string origin)
    {
        public ProcessStat Process { get; } = process;
        public string Origin { get; } = origin;
        public bool Killed { get; set; }
        public bool Gone { get; set; }
    }

    /// <param name="own">The master's own children, never touched (janitor, a successor master).</param>
    /// <param name="origin">What a child is, for the report; null: an orphan left by a worker.</param>
    /// <param name="endsByItself">
    /// A child that exits on its own in a moment (the janitor of an upgrade's new master that has just exited, re-parented
    /// here): left alone for the grace, and reported only if it is still there then.
    /// </param>
    /// <returns>One line per process ended, for the log and the stop reply.</returns>
    public static IReadOnlyList<string> EndAll(IReadOnlySet<int> own, Func<int, string?> origin, IMasterLog log, TimeSpan? grace = null,
        Func<int, bool>? endsByItself = null)
    {
        var wait = grace ?? Grace;
        var clock = Stopwatch.StartNew();
        var ended = new Dictionary<int, Ended>();
        while (true)
        {
            var alive = new List<ProcessStat>();
            foreach (var pid in ChildProcesses.OfSelf())
            {
                if (own.Contains(pid)) continue;
                if (ProcessStat.Read(pid) is not { } child || child.ParentPid != Environment.ProcessId) continue;
                if (Processes.TryReap(pid) is not null)
                {
                    if (ended.TryGetValue(pid, out var done)) done.Gone = true;
                    continue;
                }
                alive.Add(child);
            }
            if (alive.Count == 0) break;
            var now = clock.Elapsed;
            if (now > wait + KillWait)
            {
                log.Warn("orphans", $"{string.Join(", ", alive)} still there {Format(now - wait)} after SIGKILL; left to init");
                break;
            }
            foreach (var child in alive)
            {
                if (!ended.ContainsKey(child.Pid) && now < wait && endsByItself?.Invoke(child.Pid) == true) continue;
                if (!ended.TryGetValue(child.Pid, out var entry))
                {
                    ended[child.Pid] = entry = new Ended(child, origin(child.Pid) ?? "left behind by a worker");
                    Send(child, Manifest.SignalNames.SIGTERM);
                }
                // The pass is bounded: past the grace everything left is killed, also what was re-parented late.
                if (!entry.Killed && now >= wait)
                {
                    entry.Killed = true;
                    Send(child, Manifest.SignalNames.SIGKILL);
                }
            }
            Thread.Sleep(Poll);
        }
        var notes = new List<string>();
        foreach (var entry in ended.Values)
        {
            var how = entry.Killed ? $"sent SIGTERM, then SIGKILL {Format(wait)} after the pass began" : "ended it with SIGTERM";
            var note = $"{entry.Process} was still running after the workers had stopped ({entry.Origin}); {how}{(entry.Gone ? "" : " (still not gone)")}";
            log.Warn("orphans", note, pid: entry.Process.Pid);
            notes.Add(note);
        }
        return notes;
    }

    /// <summary>A child that leads its own process group (setsid, a new master) takes its group along.</summary>
    private static void Send(ProcessStat child, int signal)
    {
        if (child.GroupId == child.Pid) Processes.SignalGroup(child.Pid, signal);
        else Processes.Signal(child.Pid, signal);
    }

    private static string Format(TimeSpan span) => Manifest.Duration.Format(span);
}
