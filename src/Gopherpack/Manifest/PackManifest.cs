namespace Gopherpack.Manifest;

/// <summary>A validated pack manifest; paths are absolute, defaults filled in.</summary>
public sealed record PackManifest
{
    /// <summary>The most workers a pack may run: the manifest's <c>workers</c>, scale, SIGTTIN and an upgrade's kept count are bounded by it.</summary>
    public const int MaxWorkers = 1024;

    public required string Name { get; init; }
    public required string ManifestPath { get; init; }
    /// <summary>Absolute path of the worker executable.</summary>
    public required string Command { get; init; }
    public IReadOnlyList<string> Args { get; init; } = [];
    public required string WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    /// <summary>Null means <c>auto</c>.</summary>
    public int? Workers { get; init; }
    public CpuSelection Cpus { get; init; } = CpuSelection.Auto;
    public IReadOnlyList<ListenerSpec> Listeners { get; init; } = [];
    /// <summary>Null means: raise the soft limit to the hard limit.</summary>
    public ulong? NofileLimit { get; init; }
    public ReadySpec Ready { get; init; } = new();
    public StopSpec Stop { get; init; } = new();
    public RestartSpec Restart { get; init; } = new();
    public ReloadStrategy ReloadStrategy { get; init; } = ReloadStrategy.Surge;
    /// <summary>Zero disables the watchdog.</summary>
    public TimeSpan WatchdogTimeout { get; init; } = TimeSpan.Zero;
    public WorkerLogMode WorkerLogs { get; init; } = WorkerLogMode.Inherit;
    /// <summary>logs.maxSize: the master's log file (under <c>gopherpack start</c>) is rotated to NAME.log.1 past this size.</summary>
    public long LogMaxBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary><c>user:</c> (and <c>group:</c>): the account workers run as; null keeps the master's own.</summary>
    public WorkerAccount? Account { get; init; }
    /// <summary>logs.format: the master's own log lines as text (default) or one JSON object per line.</summary>
    public LogFormat LogFormat { get; init; } = LogFormat.Text;
    /// <summary>metrics.address: where the master serves Prometheus text (<c>GET /metrics</c>); null: off.</summary>
    public System.Net.IPEndPoint? MetricsAddress { get; init; }
    /// <summary>metrics.otlp: where the master pushes its metrics with OTLP/HTTP (JSON); null: off.</summary>
    public OtlpSpec? Otlp { get; init; }
}

/// <summary>metrics.otlp: an OTLP/HTTP receiver (an OpenTelemetry Collector) the master pushes its metrics to.</summary>
/// <param name="Path">Where metrics are posted: <c>/v1/metrics</c> unless the endpoint names a path.</param>
public sealed record OtlpSpec(string Host, int Port, string Path, TimeSpan Interval)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10), MinInterval = TimeSpan.FromSeconds(1);

    public string Url => $"http://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}{Path}";
}

/// <summary>The account workers run as: uid, primary group (or the manifest's <c>group</c>), home.</summary>
/// <param name="Group">The group's name, or its number when the group database has no name for it.</param>
/// <param name="Shell">The account's login shell (passwd), the workers' SHELL.</param>
public sealed record WorkerAccount(string User, uint Uid, uint Gid, string Group, string Home, string Shell = "")
{
    public override string ToString() => $"{User} (uid {Uid}, gid {Gid})";
}

public enum ListenerMode { Shared, ReusePort }
public enum ListenerProtocols { Http1, Http2, Http1AndHttp2, Tcp }
public enum ReadyMode { Notify, Delay }
public enum ReloadStrategy { Surge, Rolling }
public enum WorkerLogMode { Inherit, Prefix }
public enum LogFormat { Text, Json }

public sealed record ListenerSpec
{
    public required string Name { get; init; }
    public required ListenerAddress Address { get; init; }
    public ListenerMode Mode { get; init; } = ListenerMode.Shared;
    public int Backlog { get; init; } = 4096;
    public ListenerProtocols Protocols { get; init; } = ListenerProtocols.Http1AndHttp2;
    public int? MaxConnections { get; init; }
    public TlsSpec? Tls { get; init; }
    /// <summary>Permissions of a unix socket file, e.g. 0660; null leaves the umask's choice.</summary>
    public int? FileMode { get; init; }
}

public sealed record TlsSpec(string Certificate, string Key);

public sealed record ReadySpec
{
    public ReadyMode Mode { get; init; } = ReadyMode.Notify;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Delay { get; init; } = TimeSpan.FromSeconds(1);
}

public sealed record StopSpec
{
    public int Signal { get; init; } = SignalNames.SIGTERM;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}

public sealed record RestartSpec
{
    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);
    public int LimitRestarts { get; init; } = 10;
    public TimeSpan LimitWindow { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary><c>cpus:</c> auto (the master's allowed CPUs), none (no pinning) or an explicit list.</summary>
public sealed record CpuSelection(CpuSelectionKind Kind, IReadOnlyList<int> List)
{
    public static readonly CpuSelection Auto = new(CpuSelectionKind.Auto, []);
    public static readonly CpuSelection None = new(CpuSelectionKind.None, []);
}

public enum CpuSelectionKind { Auto, None, List }
