using System.Net;
using System.Net.Sockets;
using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>A bound listener: one shared socket, or one SO_REUSEPORT socket per worker slot.</summary>
internal sealed class BoundListener(ListenerSpec spec, string boundAddress)
{
    public ListenerSpec Spec { get; } = spec;
    public string BoundAddress { get; } = boundAddress;
    public Socket? Shared { get; init; }
    public List<Socket> PerSlot { get; } = [];
    /// <summary>A unix listener's socket file as bound, so only that file is ever removed.</summary>
    public FileId? SocketFile { get; init; }
    /// <summary>A unix socket file this master must not delete: systemd created it (socket activation) and keeps it.</summary>
    public bool KeepFile { get; init; }

    public IEnumerable<Socket> Sockets => Shared is null ? PerSlot : [Shared];
    public int FdFor(int slot) => (int)(Shared ?? PerSlot[slot]).Handle;
}

/// <summary>
/// Binds and owns the listening sockets of one generation of a pack; workers only ever inherit them.
/// A reload binds a new set that keeps the sockets of listeners whose address and mode are unchanged
/// (whatever their name or options), so their accept queues live on across the reload; a changed
/// backlog or file mode is applied to the kept socket when the new generation takes over.
/// An address is held by this pack alone: shared sockets are bound without SO_REUSEPORT, so the
/// kernel refuses an address another socket listens on; reuseport sockets are checked against the
/// kernel's list of listening sockets, since any process of the same user may join a reuseport group.
/// </summary>
internal sealed class ListenerSet : IDisposable
{
    private readonly List<BoundListener> _listeners = [];
    private readonly HashSet<Socket> _borrowed = new(ReferenceEqualityComparer.Instance);
    private readonly RetiredSockets _retired;

    private ListenerSet(RetiredSockets retired) => _retired = retired;

    public IReadOnlyList<BoundListener> Listeners => _listeners;

    /// <summary>The pack's sockets its master has closed and others may still hold; shared by every set derived from this one.</summary>
    public RetiredSockets Retired => _retired;

    /// <summary>The unix socket files this set's listeners hold, with their identity.</summary>
    public IEnumerable<(string Path, FileId Id)> SocketFiles =>
        _listeners.Where(l => l.Spec.Address.UnixPath is not null && l.SocketFile is not null && !l.KeepFile).Select(l => (l.Spec.Address.UnixPath!, l.SocketFile!.Value));

    /// <summary>
    /// Gives the unix socket files this set bound itself (systemd's are left alone) to the workers' account, or to the
    /// master's own when there is none, and sets their <c>fileMode</c>: with 0660 the account's group can connect, as it
    /// could to a socket the account bound. Done at start and on every reload, so a file the account chmodded is put
    /// right, and a reload that drops <c>user</c> takes the files back. Symlinks are never followed (<see cref="SocketFileAccess"/>).
    /// </summary>
    /// <param name="onlyOwn">Only the sockets this set bound itself, not those it kept from the serving generation.</param>
    /// <returns>Why a file was left alone (replaced since it was bound, or the change failed), one line each.</returns>
    public IReadOnlyList<string> ApplySocketFileAccess(WorkerAccount? account, bool onlyOwn = false)
    {
        var problems = new List<string>();
        foreach (var listener in _listeners)
        {
            if (listener.KeepFile || listener.Spec.Address.UnixPath is not { } path || listener.SocketFile is not { } id) continue;
            if (onlyOwn && listener.Sockets.Any(_borrowed.Contains)) continue;
            try
            {
                SocketFileAccess.Set(path, id, account?.Uid ?? UnixAccounts.EffectiveUid, account?.Gid ?? UnixAccounts.EffectiveGid, listener.Spec.FileMode);
            }
            catch (IOException e)
            {
                problems.Add($"listener '{listener.Spec.Name}': {e.Message}");
            }
        }
        return problems;
    }

    /// <exception cref="ListenerException">A listener could not be bound, or its address is in use by another process; what this call bound is closed again.</exception>
    public static ListenerSet Bind(IReadOnlyList<ListenerSpec> specs, int slots, ListenerSet? current = null)
    {
        var set = new ListenerSet(current?._retired ?? new RetiredSockets());
        try
        {
            foreach (var spec in specs)
            {
                var existing = current?._listeners.FirstOrDefault(l => l.Spec.Address == spec.Address);
                if (existing is null) set.BindNew(spec, slots, current);
                else set.Keep(existing, spec, slots);
            }
            set.VerifyReusePortExclusive();
            return set;
        }
        catch
        {
            set.Abandon();
            throw;
        }
    }

    /// <summary>
    /// Binds the listeners, taking the <paramref name="inherited"/> sockets (an upgrade's or socket activation's)
    /// for listeners of the same name (and address and mode, where known) instead of binding new ones.
    /// </summary>
    /// <param name="unused">Why each inherited socket no listener took was not taken (one line each); they are closed.</param>
    /// <param name="retired">The pack's sockets a previous master closed (an upgrade's hand-over).</param>
    /// <exception cref="ListenerException">A listener could not be bound; what this call bound is closed again, inherited files stay.</exception>
    public static ListenerSet Bind(IReadOnlyList<ListenerSpec> specs, int slots, IReadOnlyList<AdoptedListener> inherited, out IReadOnlyList<string> unused,
        RetiredSockets? retired = null)
    {
        var adopted = new ListenerSet(retired ?? new RetiredSockets());
        var leftOver = new List<string>();
        foreach (var given in inherited)
        {
            var spec = specs.FirstOrDefault(s => s.Name == given.Name
                && (given.Address is null || given.Address == s.Address.ToString())
                && (given.Mode is null || given.Mode == s.Mode));
            if (spec is null || given.Sockets.Count == 0 || (spec.Mode == ListenerMode.Shared && given.Sockets.Count != 1))
            {
                leftOver.Add(spec is null || given.Sockets.Count == 0
                    ? $"an inherited socket named '{given.Name}' matches no listener of the manifest (by name, address and mode); closed"
                    : $"listener '{spec.Name}' is shared and takes one socket, but {given.Sockets.Count} inherited sockets are named '{given.Name}' " +
                      "(several are for a reuseport listener's slots); all closed, the listener binds its own");
                foreach (var socket in given.Sockets) adopted._retired.Close(socket);
                continue;
            }
            var listener = new BoundListener(spec, spec.Address.IsUnix ? spec.Address.ToString() : Describe(given.Sockets[0]))
            {
                Shared = spec.Mode == ListenerMode.Shared ? given.Sockets[0] : null,
                KeepFile = given.KeepFile,
                SocketFile = spec.Address.UnixPath is { } path ? FileId.OfPath(path) : null,
            };
            if (spec.Mode == ListenerMode.ReusePort) listener.PerSlot.AddRange(given.Sockets);
            adopted._listeners.Add(listener);
        }
        unused = leftOver;
        try
        {
            var set = Bind(specs, slots, adopted);
            // Inherited sockets no slot took (fewer reuseport slots) are closed; their files are not ours to delete.
            var kept = new HashSet<Socket>(set._listeners.SelectMany(l => l.Sockets), ReferenceEqualityComparer.Instance);
            foreach (var socket in adopted._listeners.SelectMany(l => l.Sockets).Where(s => !kept.Contains(s))) set._retired.Close(socket);
            return set;
        }
        catch
        {
            adopted.Release();
            throw;
        }
    }

    /// <summary>Closes this master's copies of the sockets but leaves every socket file: another master serves on them now.</summary>
    public void Release()
    {
        foreach (var socket in _listeners.SelectMany(l => l.Sockets)) Linux.SocketFiles.CloseWithoutUnlink(socket);
        _listeners.Clear();
    }

    /// <summary>The fds slot <paramref name="slot"/> inherits, in manifest order.</summary>
    public IReadOnlyList<int> FdsFor(int slot) => _listeners.Select(l => l.FdFor(slot)).ToList();

    /// <summary>Scale up: reuseport listeners get a socket for each new slot.</summary>
    public void EnsureSlots(int slots)
    {
        foreach (var listener in _listeners.Where(l => l.Shared is null)) AddSlotSockets(listener, slots);
    }

    /// <summary>Scale down: closes this master's copies of the sockets of slots from <paramref name="slots"/> on; their draining workers keep theirs until they exit.</summary>
    public void CloseSlotsFrom(int slots)
    {
        foreach (var listener in _listeners.Where(l => l.Shared is null && l.PerSlot.Count > slots))
        {
            foreach (var socket in listener.PerSlot.Skip(slots)) _retired.Close(socket);
            listener.PerSlot.RemoveRange(slots, listener.PerSlot.Count - slots);
        }
    }

    /// <summary>
    /// After <paramref name="next"/> took over: applies its options to the sockets it kept (backlog; owner and file
    /// mode are re-applied by <see cref="ApplySocketFileAccess"/>), closes the sockets it did not keep, and removes their unix socket files.
    /// </summary>
    public void HandOver(ListenerSet next)
    {
        foreach (var listener in next._listeners.Where(l => l.Sockets.Any(next._borrowed.Contains)))
            if (_listeners.FirstOrDefault(l => l.Spec.Address == listener.Spec.Address) is { } previous) ApplyChangedOptions(previous.Spec, listener);
        var kept = new HashSet<Socket>(next._listeners.SelectMany(l => l.Sockets), ReferenceEqualityComparer.Instance);
        foreach (var listener in _listeners)
        {
            var closed = false;
            foreach (var socket in listener.Sockets.Where(s => !kept.Contains(s)))
            {
                _retired.Close(socket);
                closed = true;
            }
            if (closed && listener.Shared is not null) DeleteSocketFile(listener);
        }
        _listeners.Clear();
    }

    /// <summary>A reload failed: closes only what this set bound itself.</summary>
    public void Abandon()
    {
        foreach (var listener in _listeners)
        {
            var own = listener.Sockets.Where(s => !_borrowed.Contains(s)).ToList();
            foreach (var socket in own) _retired.Close(socket);
            if (own.Count > 0 && listener.Shared is not null) DeleteSocketFile(listener);
        }
        _listeners.Clear();
    }

    private static void ApplyChangedOptions(ListenerSpec previous, BoundListener listener)
    {
        var spec = listener.Spec;
        if (spec.Backlog != previous.Backlog)
            foreach (var socket in listener.Sockets) socket.Listen(spec.Backlog);
    }

    /// <summary>Keeps the serving generation's socket(s) for an unchanged address; reuseport slots beyond its count get new sockets.</summary>
    private void Keep(BoundListener existing, ListenerSpec spec, int slots)
    {
        if (existing.Spec.Mode != spec.Mode)
            throw new ListenerException($"listener '{spec.Name}': {spec.Address} cannot change from mode {Mode(existing.Spec)} to {Mode(spec)} in a reload " +
                "(the old generation keeps serving on the address meanwhile); use a new address, or stop and start the pack");
        var listener = new BoundListener(spec, existing.BoundAddress) { Shared = existing.Shared, SocketFile = existing.SocketFile, KeepFile = existing.KeepFile };
        foreach (var socket in existing.Sockets) _borrowed.Add(socket);
        listener.PerSlot.AddRange(existing.PerSlot.Take(slots));
        // Added before binding more, so that Abandon closes what a failing bind leaves behind.
        _listeners.Add(listener);
        if (listener.Shared is null) AddSlotSockets(listener, slots);
    }

    private void AddSlotSockets(BoundListener listener, int slots)
    {
        var port = ((IPEndPoint)listener.PerSlot[0].LocalEndPoint!).Port;
        while (listener.PerSlot.Count < slots)
            listener.PerSlot.Add(Listen(listener.Spec, new IPEndPoint(listener.Spec.Address.Tcp!.Address, port), reusePort: true, null));
    }

    private void BindNew(ListenerSpec spec, int slots, ListenerSet? current)
    {
        if (spec.Address.IsUnix)
        {
            _listeners.Add(BindUnix(spec));
            return;
        }
        var endpoint = spec.Address.Tcp!;
        if (spec.Mode == ListenerMode.Shared)
        {
            var socket = Listen(spec, endpoint, reusePort: false, current);
            _listeners.Add(new BoundListener(spec, Describe(socket)) { Shared = socket });
            return;
        }
        var first = Listen(spec, endpoint, reusePort: true, current);
        var bound = new BoundListener(spec, Describe(first));
        bound.PerSlot.Add(first);
        _listeners.Add(bound);
        // Later slots bind the port the first one got, so port 0 works too.
        AddSlotSockets(bound, slots);
    }

    /// <summary>
    /// SO_REUSEADDR is set raw: .NET's SocketOptionName.ReuseAddress sets SO_REUSEPORT too on Linux,
    /// which would let a second pack (or a second copy of this one) bind the same address and split its traffic.
    /// </summary>
    private Socket Listen(ListenerSpec spec, IPEndPoint endpoint, bool reusePort, ListenerSet? current)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_REUSEADDR, BitConverter.GetBytes(1));
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            if (reusePort) socket.SetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_REUSEPORT, BitConverter.GetBytes(1));
            socket.Bind(endpoint);
            socket.Listen(spec.Backlog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            if (e.SocketErrorCode == SocketError.AddressAlreadyInUse) throw InUse(spec, endpoint, current);
            throw new ListenerException($"listener '{spec.Name}': cannot listen on {spec.Address}: {e.Message}");
        }
    }

    private ListenerException InUse(ListenerSpec spec, IPEndPoint endpoint, ListenerSet? current)
    {
        var own = current?._listeners.FirstOrDefault(l => l.Spec.Address.Tcp is { } tcp && SocketTable.Overlaps(tcp, endpoint));
        if (own is not null)
            return new ListenerException($"listener '{spec.Name}': address {spec.Address} overlaps {own.Spec.Address} of the serving generation (listener '{own.Spec.Name}'), " +
                "which keeps serving until the new generation is ready; use an address that does not overlap, or stop and start the pack");
        var listening = SocketTable.Listening();
        _retired.Forget(listening);
        var overlapping = listening.Where(s => SocketTable.Overlaps(s.Local, endpoint)).Select(s => s.Inode).ToHashSet();
        var foreign = overlapping.Where(inode => !_retired.Contains(inode)).ToHashSet();
        if (foreign.Count == 0 && overlapping.Count > 0)
            return new ListenerException($"listener '{spec.Name}': address {spec.Address} is still held by this pack's draining workers{HolderText(overlapping)}, " +
                "which keep the socket until they exit (stop.timeout at most); try again then");
        return new ListenerException($"listener '{spec.Name}': address {spec.Address} in use by another process{HolderText(foreign)}");
    }

    /// <summary>
    /// The kernel lets any socket of the same user join a reuseport group, so reuseport listeners are
    /// checked: no listening socket outside the pack may overlap their address. The pack's are this
    /// master's own fds (its workers inherit the same sockets) and the sockets it closed that draining
    /// workers still hold (<see cref="RetiredSockets"/>).
    /// </summary>
    private void VerifyReusePortExclusive()
    {
        var reuseport = _listeners.Where(l => l.Shared is null && l.PerSlot.Count > 0).ToList();
        if (reuseport.Count == 0) return;
        var own = SocketTable.OwnSocketInodes();
        var listening = SocketTable.Listening();
        _retired.Forget(listening);
        foreach (var listener in reuseport)
        {
            var local = (IPEndPoint)listener.PerSlot[0].LocalEndPoint!;
            var foreign = listening.Where(s => SocketTable.Overlaps(s.Local, local) && !own.Contains(s.Inode) && !_retired.Contains(s.Inode))
                .Select(s => s.Inode).ToHashSet();
            if (foreign.Count > 0)
                throw new ListenerException($"listener '{listener.Spec.Name}': address {listener.BoundAddress} in use by another process{HolderText(foreign)}");
        }
    }

    private static string HolderText(HashSet<ulong> inodes)
    {
        var holders = SocketTable.Holders(inodes, new HashSet<int> { Environment.ProcessId }).Select(h => h.ToString()).Distinct().ToList();
        return holders.Count > 0 ? $" ({string.Join(", ", holders)})" : "";
    }

    private static BoundListener BindUnix(ListenerSpec spec)
    {
        var path = spec.Address.UnixPath!;
        // Root creates and removes the socket file there: no other account may be able to swap a folder on the way.
        if (SafeFolderChain.WhyUnsafe(Path.GetDirectoryName(path)!) is { } unsafeChain)
            throw new ListenerException($"listener '{spec.Name}': cannot put its socket file in {Path.GetDirectoryName(path)}: {unsafeChain} " +
                "(another account could swap it for a link to another folder while the master creates or removes the file); use a folder only root or this account can change");
        RemoveStaleSocket(spec, path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        FileId? bound = null;
        try
        {
            // Not Socket.Bind: .NET would unlink the path, unchecked, when the socket is disposed (UnixSocketBind).
            if (UnixSocketBind.Bind(socket, path) is not 0 and var errno)
            {
                socket.Dispose();
                throw new ListenerException(errno == Libc.EADDRINUSE
                    ? $"listener '{spec.Name}': address {spec.Address} in use by another process"
                    : $"listener '{spec.Name}': cannot listen on {spec.Address}: {Libc.Error(errno)}");
            }
            var id = FileId.OfPath(path) ?? throw new IOException($"the socket file {path} vanished as it was bound");
            bound = id;
            if (spec.FileMode is { } mode) SocketFileAccess.Set(path, id, null, null, mode);
            socket.Listen(spec.Backlog);
            return new BoundListener(spec, spec.Address.ToString()) { Shared = socket, SocketFile = id };
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            if (bound is { } id)
                try { FileUnlink.IfSame(path, id); }
                catch (IOException) { /* left behind: the next bind finds nothing listens on it and removes it */ }
            throw new ListenerException($"listener '{spec.Name}': cannot listen on {spec.Address}: {e.Message}");
        }
    }

    /// <summary>A socket file nobody accepts on is left over from a killed master: replace it. A live one is an error.</summary>
    private static void RemoveStaleSocket(ListenerSpec spec, string path)
    {
        // The identity is taken first: only this very file is removed below, whatever the path names by then.
        if (FileId.OfPath(path) is not { } id) return;
        if (!FileType.IsSocket(path))
            throw new ListenerException($"listener '{spec.Name}': '{path}' exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            try
            {
                if (!FileUnlink.IfSame(path, id))
                    throw new ListenerException($"listener '{spec.Name}': the stale socket file '{path}' was replaced while it was probed; left alone");
            }
            catch (IOException denied)
            {
                throw new ListenerException($"listener '{spec.Name}': cannot remove the stale socket file '{path}' (nothing listens on it): {denied.Message}");
            }
            return;
        }
        catch (SocketException e) when (e.SocketErrorCode != SocketError.WouldBlock)
        {
            throw new ListenerException($"listener '{spec.Name}': cannot probe '{path}': {e.Message}");
        }
        // Accepted, or queued on a full backlog: something listens there.
        throw new ListenerException($"listener '{spec.Name}': address {spec.Address} in use by another process ('{path}' accepts connections)");
    }

    private static string Mode(ListenerSpec spec) => spec.Mode == ListenerMode.ReusePort ? "reuseport" : "shared";

    private static string Describe(Socket socket)
    {
        var endpoint = (IPEndPoint)socket.LocalEndPoint!;
        return endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"tcp://[{endpoint.Address}]:{endpoint.Port}" : $"tcp://{endpoint}";
    }

    /// <summary>
    /// Removes a unix listener's socket file, but only the one it bound: never a file another process put there since,
    /// nor one elsewhere that a parent folder swapped for a symlink leads to (<see cref="FileUnlink"/>).
    /// </summary>
    private static void DeleteSocketFile(BoundListener listener)
    {
        if (listener.KeepFile || listener.Spec.Address.UnixPath is not { } path || listener.SocketFile is not { } id) return;
        try { FileUnlink.IfSame(path, id); }
        catch (IOException) { /* left behind: the next bind finds nothing listens on it and removes it */ }
    }

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            foreach (var socket in listener.Sockets) socket.Dispose();
            if (listener.Shared is not null) DeleteSocketFile(listener);
        }
        _listeners.Clear();
    }
}

internal sealed class ListenerException(string message) : Exception(message);

/// <summary>Listening sockets this master did not bind: handed over by the previous master (upgrade) or by systemd (socket activation).</summary>
/// <param name="Address">The address they were bound for (upgrade); null when only the name is known (socket activation).</param>
/// <param name="Mode">Their listener mode (upgrade); null when unknown: one socket serves shared, several are per-slot sockets.</param>
/// <param name="KeepFile">A unix socket file that must outlive this master (systemd's).</param>
internal sealed record AdoptedListener(string Name, string? Address, ListenerMode? Mode, bool KeepFile, IReadOnlyList<Socket> Sockets);
