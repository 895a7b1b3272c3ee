using Gopherpack.Control;

namespace Gopherpack.Tests.Support;

/// <summary>
/// Every worker, slot, master and listener that a pack's statuses showed over its life, plus the worker and
/// master pids known otherwise that no status could show (from the log: a worker that died between two statuses,
/// an upgrade's new master that failed before it answered; the pid file): what a test has to end, by pid, at dispose.
/// </summary>
internal sealed class PackSightings
{
    private readonly Lock _lock = new();
    private readonly HashSet<int> _workers = [];
    private readonly HashSet<int> _masters = [];
    private readonly Dictionary<int, int> _slots = [];
    private readonly Dictionary<string, string> _listeners = [];

    /// <param name="pidsHere">False when the master runs in a pid namespace of its own: its pids name other processes here.</param>
    public void Saw(PackStatus status, bool pidsHere = true)
    {
        lock (_lock)
        {
            foreach (var listener in status.Listeners) _listeners[listener.Name] = listener.Address;
            if (!pidsHere) return;
            _masters.Add(status.MasterPid);
            // Workers are listed by slot, then generation: the newest generation's pid is the slot's.
            foreach (var worker in status.Workers)
            {
                if (worker.Pid is not { } pid) continue;
                _workers.Add(pid);
                _slots[worker.Slot] = pid;
            }
        }
    }

    public void AddWorker(int pid)
    {
        lock (_lock) _workers.Add(pid);
    }

    public void AddMaster(int pid)
    {
        lock (_lock) _masters.Add(pid);
    }

    public IReadOnlyDictionary<int, int> SlotPids { get { lock (_lock) return new Dictionary<int, int>(_slots); } }
    public IReadOnlyCollection<int> WorkerPids { get { lock (_lock) return _workers.ToList(); } }
    public IReadOnlyCollection<int> MasterPids { get { lock (_lock) return _masters.ToList(); } }
    public string? ListenerAddress(string name) { lock (_lock) return _listeners.GetValueOrDefault(name); }
}
