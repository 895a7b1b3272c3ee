using Gopherpack.Linux;
using Gopherpack.Logging;

namespace Gopherpack.Master;

/// <summary>
/// Finds processes that still hold the pack's listening sockets once its workers are gone: helpers a
/// worker started that escaped its process group (setsid, double fork). They would keep the address
/// bound, with connections queueing where nobody accepts, after the pack has stopped. Each one is
/// killed and reported.
/// </summary>
internal static class StraySocketHolders
{

    /// <returns>One line per process killed, for the log and the stop reply.</returns>
    public static IReadOnlyList<string> KillAll(IEnumerable<BoundListener> listeners, IReadOnlySet<int> except, IMasterLog log)
    {
        var owners = new Dictionary<ulong, BoundListener>();
        foreach (var listener in listeners)
            foreach (var socket in listener.Sockets)
                if (FileId.OfFd((int)socket.Handle) is { } id) owners[id.Inode] = listener;
        var notes = new List<string>();
        foreach (var holder in SocketTable.Holders(owners.Keys.ToHashSet(), except).DistinctBy(h => h.Pid))
        {
            var listener = owners[holder.Inode];
            var failure = Processes.Signal(holder.Pid, Manifest.SignalNames.SIGKILL);
            var note = $"{holder} still held listener '{listener.Spec.Name}' ({listener.BoundAddress}) after its worker was gone " +
                "(a helper that left the worker's process group); " + (failure is null ? "killed it" : $"could not kill it: {failure}");
            log.Warn("stray", note, pid: holder.Pid);
            notes.Add(note);
        }
        return notes;
    }
}
