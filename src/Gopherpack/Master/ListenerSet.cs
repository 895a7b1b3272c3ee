using System.Net;
using System.Net.Sockets;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>A bound listener: one shared socket, or one SO_REUSEPORT socket per worker slot.</summary>
public sealed class BoundListener(ListenerSpec spec, string boundAddress)
{
    public ListenerSpec Spec { get; } = spec;
    public string BoundAddress { get; } = boundAddress;
    public Socket? Shared { get; init; }
    public List<Socket> PerSlot { get; } = [];
    /// <summary>A unix socket file this master must not delete: systemd created it (socket activation) and keeps it.</summary>
    public bool KeepFile { get; init; }

    public IEnumerable<Socket> Sockets => Shared is null ? PerSlot : [Shared];
    public int FdFor(int slot) => (int)(Shared ?? PerSlot[slot]).Handle;

    /// <summary>Same socket can serve both: same name, address and mode (a port-0 listener keeps its port).</summary>
    public bool CanServe(ListenerSpec other) =>
        other.Name == Spec.Name && other.Address == Spec.Address && other.Mode == Spec.Mode && other.Backlog == Spec.Backlog && other.FileMode == Spec.FileMode;
}

/// <summary>
/// Binds and owns the listening sockets of one generation of a pack; workers only ever inherit them.
/// A reload binds a new set that borrows the sockets of unchanged listeners from the current one,
/// so their accept queues live on across the reload.
/// </summary>
public sealed class ListenerSet : IDisposable
{
    private const int SolSocket = 1, SoReusePort = 15;
    private readonly List<BoundListener> _listeners = [];
    private readonly HashSet<Socket> _borrowed = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<BoundListener> Listeners => _listeners;

    /// <exception cref="ListenerException">A listener could not be bound; what this call bound is closed again.</exception>
    public static ListenerSet Bind(IReadOnlyList<ListenerSpec> specs, int slots, ListenerSet? current = null)
    {
        var set = new ListenerSet();
        try
        {
            foreach (var spec in specs)
            {
                var existing = current?._listeners.FirstOrDefault(l => l.CanServe(spec));
                set._listeners.Add(existing is null ? BindNew(spec, slots) : set.Borrow(existing, spec, slots));
            }
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
    /// <param name="unused">Names of inherited sockets no listener took; they are closed.</param>
    /// <exception cref="ListenerException">A listener could not be bound; what this call bound is closed again, inherited files stay.</exception>
    public static ListenerSet Bind(IReadOnlyList<ListenerSpec> specs, int slots, IReadOnlyList<InheritedListener> inherited, out IReadOnlyList<string> unused)
    {
        var adopted = new ListenerSet();
        var leftOver = new List<string>();
        foreach (var given in inherited)
        {
            var spec = specs.FirstOrDefault(s => s.Name == given.Name
                && (given.Address is null || given.Address == s.Address.ToString())
                && (given.Mode is null || given.Mode == s.Mode));
            if (spec is null || given.Sockets.Count == 0 || (spec.Mode == ListenerMode.Shared && given.Sockets.Count != 1))
            {
                leftOver.Add(given.Name);
                foreach (var socket in given.Sockets) socket.Dispose();
                continue;
            }
            var listener = new BoundListener(spec, spec.Address.IsUnix ? spec.Address.ToString() : Describe(given.Sockets[0]))
            {
                Shared = spec.Mode == ListenerMode.Shared ? given.Sockets[0] : null,
                KeepFile = given.KeepFile,
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
            foreach (var socket in adopted._listeners.SelectMany(l => l.Sockets).Where(s => !kept.Contains(s))) socket.Dispose();
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
        foreach (var listener in _listeners.Where(l => l.Shared is null))
        {
            var port = ((IPEndPoint)listener.PerSlot[0].LocalEndPoint!).Port;
            while (listener.PerSlot.Count < slots)
                listener.PerSlot.Add(Listen(listener.Spec, new IPEndPoint(listener.Spec.Address.Tcp!.Address, port), reusePort: true));
        }
    }

    /// <summary>Scale down: takes the sockets of slots from <paramref name="slots"/> on out of the set; the caller closes them once their workers are gone.</summary>
    public IReadOnlyList<Socket> RetireSlotsFrom(int slots)
    {
        var retired = new List<Socket>();
        foreach (var listener in _listeners.Where(l => l.Shared is null && l.PerSlot.Count > slots))
        {
            retired.AddRange(listener.PerSlot.Skip(slots));
            listener.PerSlot.RemoveRange(slots, listener.PerSlot.Count - slots);
        }
        return retired;
    }

    /// <summary>After <paramref name="next"/> took over: closes the sockets it did not borrow, and their unix socket files.</summary>
    public void HandOver(ListenerSet next)
    {
        var kept = new HashSet<Socket>(next._listeners.SelectMany(l => l.Sockets), ReferenceEqualityComparer.Instance);
        foreach (var listener in _listeners)
        {
            var closed = false;
            foreach (var socket in listener.Sockets.Where(s => !kept.Contains(s)))
            {
                socket.Dispose();
                closed = true;
            }
            if (closed && !listener.KeepFile && listener.Spec.Address.UnixPath is { } path && !next._listeners.Any(l => l.Spec.Address.UnixPath == path)) DeleteFile(path);
        }
        _listeners.Clear();
    }

    /// <summary>A reload failed: closes only what this set bound itself.</summary>
    public void Abandon()
    {
        foreach (var listener in _listeners)
        {
            var own = listener.Sockets.Where(s => !_borrowed.Contains(s)).ToList();
            foreach (var socket in own) socket.Dispose();
            if (own.Count > 0 && listener.Shared is not null && !listener.KeepFile && listener.Spec.Address.UnixPath is { } path) DeleteFile(path);
        }
        _listeners.Clear();
    }

    private BoundListener Borrow(BoundListener existing, ListenerSpec spec, int slots)
    {
        var listener = new BoundListener(spec, existing.BoundAddress) { Shared = existing.Shared, KeepFile = existing.KeepFile };
        foreach (var socket in existing.Sockets) _borrowed.Add(socket);
        listener.PerSlot.AddRange(existing.PerSlot.Take(slots));
        if (listener.Shared is null)
        {
            var port = ((IPEndPoint)existing.PerSlot[0].LocalEndPoint!).Port;
            while (listener.PerSlot.Count < slots)
                listener.PerSlot.Add(Listen(spec, new IPEndPoint(spec.Address.Tcp!.Address, port), reusePort: true));
        }
        return listener;
    }

    private static BoundListener BindNew(ListenerSpec spec, int slots) => spec.Address.IsUnix ? BindUnix(spec) : BindTcp(spec, slots);

    private static BoundListener BindTcp(ListenerSpec spec, int slots)
    {
        var endpoint = spec.Address.Tcp!;
        if (spec.Mode == ListenerMode.Shared)
        {
            var socket = Listen(spec, endpoint, reusePort: false);
            return new BoundListener(spec, Describe(socket)) { Shared = socket };
        }
        var first = Listen(spec, endpoint, reusePort: true);
        var bound = new BoundListener(spec, Describe(first));
        bound.PerSlot.Add(first);
        // Later slots bind the port the first one got, so port 0 works too.
        var actual = (IPEndPoint)first.LocalEndPoint!;
        try
        {
            for (var i = 1; i < slots; i++) bound.PerSlot.Add(Listen(spec, actual, reusePort: true));
        }
        catch
        {
            foreach (var socket in bound.PerSlot) socket.Dispose();
            throw;
        }
        return bound;
    }

    private static Socket Listen(ListenerSpec spec, IPEndPoint endpoint, bool reusePort)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            if (reusePort) socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            socket.Bind(endpoint);
            socket.Listen(spec.Backlog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ListenerException($"listener '{spec.Name}': cannot listen on {spec.Address}: {e.Message}");
        }
    }

    private static BoundListener BindUnix(ListenerSpec spec)
    {
        var path = spec.Address.UnixPath!;
        RemoveStaleSocket(spec, path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            if (spec.FileMode is { } mode) File.SetUnixFileMode(path, (UnixFileMode)mode);
            socket.Listen(spec.Backlog);
            return new BoundListener(spec, spec.Address.ToString()) { Shared = socket };
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            throw new ListenerException($"listener '{spec.Name}': cannot listen on {spec.Address}: {e.Message}");
        }
    }

    /// <summary>A socket file nobody accepts on is left over from a killed master: replace it. A live one is an error.</summary>
    private static void RemoveStaleSocket(ListenerSpec spec, string path)
    {
        if (!File.Exists(path)) return;
        if (!Linux.FileType.IsSocket(path))
            throw new ListenerException($"listener '{spec.Name}': '{path}' exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            throw new ListenerException($"listener '{spec.Name}': '{path}' is in use by another process");
        }
        catch (SocketException)
        {
            File.Delete(path);
        }
    }

    private static string Describe(Socket socket)
    {
        var endpoint = (IPEndPoint)socket.LocalEndPoint!;
        return endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"tcp://[{endpoint.Address}]:{endpoint.Port}" : $"tcp://{endpoint}";
    }

    private static void DeleteFile(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            foreach (var socket in listener.Sockets) socket.Dispose();
            if (!listener.KeepFile && listener.Spec.Address.UnixPath is { } path) DeleteFile(path);
        }
        _listeners.Clear();
    }
}

public sealed class ListenerException(string message) : Exception(message);

/// <summary>Listening sockets this master did not bind: handed over by the previous master (upgrade) or by systemd (socket activation).</summary>
/// <param name="Address">The address they were bound for (upgrade); null when only the name is known (socket activation).</param>
/// <param name="Mode">Their listener mode (upgrade); null when unknown: one socket serves shared, several are per-slot sockets.</param>
/// <param name="KeepFile">A unix socket file that must outlive this master (systemd's).</param>
public sealed record InheritedListener(string Name, string? Address, ListenerMode? Mode, bool KeepFile, IReadOnlyList<Socket> Sockets);
