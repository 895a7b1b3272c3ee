using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>
/// The generations a master has, and the one that serves: each with its own listener set and the
/// launcher its workers are started with. The single source of truth for which sockets a worker of
/// a generation inherits, and for which sockets and socket files the master holds.
/// </summary>
internal sealed class GenerationStore(int lifelineReadFd)
{
    private sealed record Generation(ListenerSet Listeners, WorkerLauncher Launcher);

    private readonly Dictionary<int, Generation> _generations = [];

    public int Serving { get; private set; }

    /// <summary>The listeners the serving generation's workers inherit.</summary>
    public ListenerSet ServingListeners => _generations[Serving].Listeners;

    /// <summary>Every listener of every generation still held (the serving one, and one being prepared or drained).</summary>
    public IEnumerable<BoundListener> AllListeners => _generations.Values.SelectMany(g => g.Listeners.Listeners);

    /// <summary>The unix socket files the generations hold, each once.</summary>
    public IEnumerable<(string Path, Linux.FileId Id)> SocketFiles => _generations.Values.SelectMany(g => g.Listeners.SocketFiles).Distinct();

    /// <summary>The first generation, serving from the start.</summary>
    public WorkerLauncher Begin(int generation, PackManifest manifest, ListenerSet listeners)
    {
        var launcher = Launcher(manifest, listeners);
        _generations[generation] = new Generation(listeners, launcher);
        Serving = generation;
        return launcher;
    }

    public WorkerLauncher LauncherOf(int generation) => _generations[generation].Launcher;

    /// <summary>
    /// How the janitor stops a process it finds holding the lifeline but not on its list (spawned just before the
    /// master was killed): the newest generation's stop signal, and the longest stop timeout of any generation held.
    /// </summary>
    public (string Signal, TimeSpan Timeout) UnlistedStop =>
        (SignalNames.Name(_generations[_generations.Keys.Max()].Launcher.Manifest.Stop.Signal)[3..],
         _generations.Values.Max(g => g.Launcher.Manifest.Stop.Timeout));

    /// <summary>Binds a new generation's listeners next to the serving one's (keeping the sockets of unchanged addresses).</summary>
    /// <exception cref="ListenerException">A listener could not be bound; nothing of the new generation stays.</exception>
    public void Prepare(int generation, PackManifest manifest, int slots)
    {
        var listeners = ListenerSet.Bind(manifest.Listeners, slots, ServingListeners);
        if (listeners.ApplySocketFileAccess(manifest.Account, onlyOwn: true) is [var problem, ..])
        {
            listeners.Abandon();
            throw new ListenerException(problem);
        }
        _generations[generation] = new Generation(listeners, Launcher(manifest, listeners));
    }

    /// <summary>
    /// The new generation serves: the old one's options changes are applied to kept sockets, the rest closed, and every
    /// socket file gets the new manifest's owner and file mode again.
    /// </summary>
    /// <param name="problems">Why a socket file was left alone, one line each.</param>
    public ListenerSet Commit(int generation, out IReadOnlyList<string> problems)
    {
        var next = _generations[generation].Listeners;
        ServingListeners.HandOver(next);
        problems = next.ApplySocketFileAccess(_generations[generation].Launcher.Manifest.Account);
        _generations.Remove(Serving);
        Serving = generation;
        return next;
    }

    /// <summary>A prepared generation that will not serve: closes only what it bound itself.</summary>
    public bool Abandon(int generation)
    {
        if (!_generations.Remove(generation, out var abandoned)) return false;
        abandoned.Listeners.Abandon();
        return true;
    }

    /// <summary>Scale: reuseport listeners get sockets for new slots; removed slots' sockets are closed (retired: their draining workers still hold them).</summary>
    public void Resize(int slots)
    {
        ServingListeners.EnsureSlots(slots);
        ServingListeners.CloseSlotsFrom(slots);
    }

    /// <summary>
    /// Closes every socket; with <paramref name="ownsFiles"/> false (another master serves on them now)
    /// the unix socket files stay.
    /// </summary>
    public void Close(bool ownsFiles)
    {
        foreach (var generation in _generations.Values)
        {
            if (ownsFiles) generation.Listeners.Dispose();
            else generation.Listeners.Release();
        }
        _generations.Clear();
    }

    private WorkerLauncher Launcher(PackManifest manifest, ListenerSet listeners) =>
        new(manifest, listeners, lifelineReadFd, Environment.GetEnvironmentVariables());
}
