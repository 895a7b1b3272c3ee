using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gopherpack.Worker;

/// <summary>A listening socket inherited from the master, with the manifest's settings for it.</summary>
public sealed record InheritedListener(string Name, int Fd, string Protocols, int? MaxConnections, string? Certificate, string? Key, string? Address);

/// <summary>Who this process is in its pack, read once from the worker contract's environment.</summary>
public sealed class PackWorker
{
    private static readonly Lazy<PackWorker> _current = new(() => FromEnvironment(Environment.GetEnvironmentVariables(), Environment.ProcessId));

    /// <summary>This process. <see cref="IsWorker"/> is false when it runs alone.</summary>
    public static PackWorker Current => _current.Value;

    public bool IsWorker { get; private init; }
    public string? Pack { get; private init; }
    public int? Slot { get; private init; }
    public int? Cpu { get; private init; }
    public int? Generation { get; private init; }
    public int? MasterPid { get; private init; }
    public string? NotifySocket { get; private init; }
    public int? LifelineFd { get; private init; }
    /// <summary>How often the master expects WATCHDOG=1; null when the watchdog is off.</summary>
    public TimeSpan? WatchdogTimeout { get; private init; }
    /// <summary>Empty unless LISTEN_PID is this process (the systemd rule).</summary>
    public IReadOnlyList<InheritedListener> Listeners { get; private init; } = [];

    public InheritedListener? Listener(string name) => Listeners.FirstOrDefault(l => l.Name == name);

    public override string ToString() =>
        IsWorker ? $"pack {Pack} slot {Slot} generation {Generation}" + (Cpu is { } cpu ? $" cpu {cpu}" : "") : "not in a pack";

    internal static PackWorker FromEnvironment(IDictionary environment, int ownPid)
    {
        string? Get(string name) => environment[name] as string;
        int? Int(string name) => int.TryParse(Get(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

        var worker = new PackWorker
        {
            IsWorker = Get("GOPHERPACK_PACK") is { Length: > 0 } && Int("GOPHERPACK_MASTER_PID") is not null,
            Pack = Get("GOPHERPACK_PACK"),
            Slot = Int("GOPHERPACK_SLOT"),
            Cpu = Int("GOPHERPACK_CPU"),
            Generation = Int("GOPHERPACK_GENERATION"),
            MasterPid = Int("GOPHERPACK_MASTER_PID"),
            NotifySocket = Get("NOTIFY_SOCKET") is { Length: > 0 } socket ? socket : null,
            LifelineFd = Int("GOPHERPACK_LIFELINE_FD"),
            WatchdogTimeout = long.TryParse(Get("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0
                ? TimeSpan.FromMicroseconds(usec) : null,
        };
        return Int("LISTEN_PID") == ownPid ? WithListeners(worker, Int("LISTEN_FDS") ?? 0, Get("LISTEN_FDNAMES"), Get("GOPHERPACK_LISTENERS")) : worker;
    }

    private static PackWorker WithListeners(PackWorker worker, int count, string? names, string? settingsJson)
    {
        var nameList = (names ?? "").Split(':');
        var settings = ParseSettings(settingsJson);
        var listeners = new List<InheritedListener>();
        for (var i = 0; i < count; i++)
        {
            var name = i < nameList.Length && nameList[i].Length > 0 ? nameList[i] : $"fd{3 + i}";
            settings.TryGetValue(name, out var s);
            listeners.Add(new InheritedListener(name, 3 + i, s?.Protocols ?? "http1AndHttp2", s?.MaxConnections, s?.Tls?.Certificate, s?.Tls?.Key, s?.Address));
        }
        return new PackWorker
        {
            IsWorker = worker.IsWorker, Pack = worker.Pack, Slot = worker.Slot, Cpu = worker.Cpu, Generation = worker.Generation,
            MasterPid = worker.MasterPid, NotifySocket = worker.NotifySocket, LifelineFd = worker.LifelineFd,
            WatchdogTimeout = worker.WatchdogTimeout, Listeners = listeners,
        };
    }

    internal sealed record TlsSettings(string Certificate, string Key);
    internal sealed record ListenerSettings(string Name, string? Protocols, int? MaxConnections, TlsSettings? Tls, string? Address);

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
