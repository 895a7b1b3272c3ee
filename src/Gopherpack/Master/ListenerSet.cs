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

    public int FdFor(int slot) => (int)(Shared ?? PerSlot[slot]).Handle;
}

/// <summary>Binds and owns every listening socket of a pack; workers only ever inherit them.</summary>
public sealed class ListenerSet : IDisposable
{
    private const int SolSocket = 1, SoReusePort = 15;
    private readonly List<BoundListener> _listeners = [];

    public IReadOnlyList<BoundListener> Listeners => _listeners;

    /// <exception cref="ListenerException">A listener could not be bound; the ones bound so far are closed.</exception>
    public static ListenerSet Bind(IReadOnlyList<ListenerSpec> specs, int slots)
    {
        var set = new ListenerSet();
        try
        {
            foreach (var spec in specs) set._listeners.Add(spec.Address.IsUnix ? BindUnix(spec) : BindTcp(spec, slots));
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    /// <summary>The fds slot <paramref name="slot"/> inherits, in manifest order.</summary>
    public IReadOnlyList<int> FdsFor(int slot) => _listeners.Select(l => l.FdFor(slot)).ToList();

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
        if ((File.GetAttributes(path) & FileAttributes.Directory) != 0 || !IsSocketFile(path))
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

    private static bool IsSocketFile(string path) => Linux.FileType.IsSocket(path);

    private static string Describe(Socket socket)
    {
        var endpoint = (IPEndPoint)socket.LocalEndPoint!;
        return endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"tcp://[{endpoint.Address}]:{endpoint.Port}" : $"tcp://{endpoint}";
    }

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            listener.Shared?.Dispose();
            foreach (var socket in listener.PerSlot) socket.Dispose();
            if (listener.Spec.Address.UnixPath is { } path)
            {
                try { File.Delete(path); } catch (IOException) { }
            }
        }
        _listeners.Clear();
    }
}

public sealed class ListenerException(string message) : Exception(message);
