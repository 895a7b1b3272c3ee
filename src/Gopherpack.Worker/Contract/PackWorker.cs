using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Gopherpack.Worker.Contract;

namespace Gopherpack.Worker;

/// <summary>A listening socket inherited from the master, with the manifest's settings for it.</summary>
/// <param name="Name">The manifest listener's name.</param>
/// <param name="Fd">The socket's file descriptor in this process.</param>
/// <param name="Protocols">The manifest's protocols: http1, http2, http1AndHttp2 or tcp.</param>
/// <param name="MaxConnections">The manifest's maxConnections for this worker; null for no limit.</param>
/// <param name="Certificate">The manifest's TLS certificate (PEM path); null without TLS.</param>
/// <param name="Key">The manifest's TLS key (PEM path); null without TLS.</param>
/// <param name="Address">The address the socket is bound to, as the manifest writes it.</param>
/// <param name="Backlog">The manifest's backlog, which a server that calls listen() again on the socket must pass (Kestrel does).</param>
public sealed record InheritedListener(string Name, int Fd, string Protocols, int? MaxConnections, string? Certificate, string? Key, string? Address, int? Backlog = null);

/// <summary>Who this process is in its pack, read once from the worker contract's environment.</summary>
public sealed class PackWorker
{
    private static readonly Lazy<PackWorker> _current = new(() => FromEnvironment(Environment.GetEnvironmentVariables(), Environment.ProcessId));

    /// <summary>This process. <see cref="IsWorker"/> is false when it runs alone.</summary>
    public static PackWorker Current => _current.Value;

    /// <summary>True when a Gopherpack master started this process as a worker of its pack.</summary>
    public bool IsWorker { get; private init; }
    /// <summary>The pack's name; null when alone.</summary>
    public string? Pack { get; private init; }
    /// <summary>The worker's slot, 0 to workers - 1; a replacement worker gets the slot of the one it replaces.</summary>
    public int? Slot { get; private init; }
    /// <summary>The CPU the worker is pinned to; null when the pack does not pin.</summary>
    public int? Cpu { get; private init; }
    /// <summary>The generation the worker belongs to: 1 at start, one more at each reload.</summary>
    public int? Generation { get; private init; }
    /// <summary>The master's pid.</summary>
    public int? MasterPid { get; private init; }
    /// <summary>The unix datagram socket the worker reports READY=1, STOPPING=1 and WATCHDOG=1 to.</summary>
    public string? NotifySocket { get; private init; }
    /// <summary>A pipe whose end of file tells the worker that its master is gone.</summary>
    public int? LifelineFd { get; private init; }
    /// <summary>How often the master expects WATCHDOG=1; null when the watchdog is off.</summary>
    public TimeSpan? WatchdogTimeout { get; private init; }
    /// <summary>Empty unless LISTEN_PID is this process (the systemd rule).</summary>
    public IReadOnlyList<InheritedListener> Listeners { get; private init; } = [];

    /// <summary>Why a worker of a pack with listeners has none (LISTEN_PID names another process); null when all is well.</summary>
    public string? ListenerProblem { get; private set; }

    /// <summary>The inherited listener of that manifest name, or null.</summary>
    public InheritedListener? Listener(string name) => Listeners.FirstOrDefault(l => l.Name == name);

    /// <inheritdoc />
    public override string ToString() =>
        IsWorker ? $"pack {Pack} slot {Slot} generation {Generation}" + (Cpu is { } cpu ? $" cpu {cpu}" : "") : "not in a pack";

    internal static PackWorker FromEnvironment(IDictionary environment, int ownPid)
    {
        string? Get(string name) => environment[name] as string;
        int? Int(string name) => int.TryParse(Get(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

        var worker = new PackWorker
        {
            // Only a Linux master starts workers: elsewhere the app runs alone, whatever its environment says.
            IsWorker = OperatingSystem.IsLinux() && Get(WorkerContract.Pack) is { Length: > 0 } && Int(WorkerContract.MasterPid) is not null,
            Pack = Get(WorkerContract.Pack),
            Slot = Int(WorkerContract.Slot),
            Cpu = Int(WorkerContract.Cpu),
            Generation = Int(WorkerContract.Generation),
            MasterPid = Int(WorkerContract.MasterPid),
            NotifySocket = Get(WorkerContract.NotifySocket) is { Length: > 0 } socket ? socket : null,
            LifelineFd = Int(WorkerContract.LifelineFd),
            WatchdogTimeout = long.TryParse(Get(WorkerContract.WatchdogUsec), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0
                ? TimeSpan.FromMicroseconds(usec) : null,
        };
        if (Int(WorkerContract.ListenPid) == ownPid)
            return WithListeners(worker, Int(WorkerContract.ListenFds) ?? 0, Get(WorkerContract.ListenFdNames), Get(WorkerContract.Listeners));
        if (worker.IsWorker && Int(WorkerContract.ListenFds) is > 0)
            worker.ListenerProblem = $"the pack passed {Get(WorkerContract.ListenFds)} listening socket(s) to pid {Get(WorkerContract.ListenPid)}, not to this process (pid {ownPid}): "
                + "start the server with exec (e.g. sh -c 'exec dotnet app.dll'), so it keeps the pid the master started";
        return worker;
    }

    private static PackWorker WithListeners(PackWorker worker, int count, string? names, string? settingsJson)
    {
        var nameList = (names ?? "").Split(':');
        var settings = ParseSettings(settingsJson);
        var listeners = new List<InheritedListener>();
        for (var i = 0; i < count; i++)
        {
            var name = i < nameList.Length && nameList[i].Length > 0 ? nameList[i] : $"fd{WorkerContract.FirstListenFd + i}";
            settings.TryGetValue(name, out var s);
            listeners.Add(new InheritedListener(name, WorkerContract.FirstListenFd + i, s?.Protocols ?? "http1AndHttp2", s?.MaxConnections, s?.Tls?.Certificate, s?.Tls?.Key, s?.Address, s?.Backlog));
        }
        return new PackWorker
        {
            IsWorker = worker.IsWorker, Pack = worker.Pack, Slot = worker.Slot, Cpu = worker.Cpu, Generation = worker.Generation,
            MasterPid = worker.MasterPid, NotifySocket = worker.NotifySocket, LifelineFd = worker.LifelineFd,
            WatchdogTimeout = worker.WatchdogTimeout, Listeners = listeners,
        };
    }

    internal sealed record TlsSettings(string Certificate, string Key);
    internal sealed record ListenerSettings(string Name, string? Protocols, int? MaxConnections, TlsSettings? Tls, string? Address, int? Backlog = null);

    private static Dictionary<string, ListenerSettings> ParseSettings(string? json)
    {
        if (string.IsNullOrEmpty(json)) return [];
        try
        {
            return (JsonSerializer.Deserialize(json, ListenerSettingsJson.Default.ListListenerSettings) ?? []).ToDictionary(s => s.Name);
        }
        catch (JsonException)
        {
            return [];
        }
    }
}

/// <summary>Reads <c>GOPHERPACK_LISTENERS</c> without reflection, so a worker published with NativeAOT can use it.</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(List<PackWorker.ListenerSettings>))]
internal sealed partial class ListenerSettingsJson : JsonSerializerContext;
