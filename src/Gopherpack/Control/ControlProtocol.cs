using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gopherpack.Control;

/// <summary>Newline-delimited JSON on the pack's control socket: one request line, one reply line.</summary>
internal static class ControlProtocol
{
    public const int Version = 1;
    /// <summary>A request line longer than this is refused and the connection closed.</summary>
    public const int MaxLineBytes = 64 * 1024;

}

/// <summary>
/// The control protocol's JSON (camelCase, nulls left out), generated at compile time so the native
/// (NativeAOT) master and CLI need no reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlReply))]
[JsonSerializable(typeof(IReadOnlyList<PackStatus>))]
internal sealed partial class ControlJson : JsonSerializerContext;

public static class ControlCommands
{
    public const string Status = "status", Reload = "reload", Stop = "stop", Scale = "scale", Upgrade = "upgrade";
    /// <summary>The Prometheus text of the pack's metrics, as its metrics.address serves it (answered without waiting on the master's loop).</summary>
    public const string Metrics = "metrics";
}

/// <summary>Stable error codes of failed replies; scripts may rely on them.</summary>
internal static class ControlErrors
{
    public const string BadRequest = "bad-request";
    public const string UnknownCommand = "unknown-command";
    public const string UnsupportedVersion = "unsupported-version";
    public const string AccessDenied = "access-denied";
    public const string ManifestInvalid = "manifest-invalid";
    public const string ReloadFailed = "reload-failed";
    public const string ScaleFailed = "scale-failed";
    public const string Busy = "busy";
    public const string UpgradeFailed = "upgrade-failed";
    /// <summary>Client side: the master stayed silent past the client's timeout (stopped or stuck).</summary>
    public const string Timeout = "timeout";
    /// <summary>Client side: the reply could not be read as a control reply, or lacks the result its command must carry.</summary>
    public const string MalformedReply = "malformed-reply";
}

public sealed record ControlRequest
{
    public int Version { get; init; } = ControlProtocol.Version;
    public string Command { get; init; } = "";
    /// <summary>reload: an absolute manifest path to reload from (default: the pack's current manifest).</summary>
    public string? Manifest { get; init; }
    /// <summary>reload: surge or rolling (default: the manifest's reload.strategy).</summary>
    public string? Strategy { get; init; }
    /// <summary>scale: the new number of workers.</summary>
    public int? Workers { get; init; }
    /// <summary>upgrade: the new master's absolute path (a gopherpack executable, or gopherpack.dll); default: the running master's own.</summary>
    public string? Executable { get; init; }
    /// <summary>upgrade: seconds the new master has to get its workers ready.</summary>
    public double? Timeout { get; init; }
    /// <summary>stop: kill the workers at once instead of letting them drain.</summary>
    public bool Force { get; init; }
}

public sealed record ControlReply
{
    public int Version { get; init; } = ControlProtocol.Version;
    public bool Ok { get; init; }
    public ControlError? Error { get; init; }
    public PackStatus? Pack { get; init; }
    public ReloadReport? Reload { get; init; }
    public int? Workers { get; init; }
    public UpgradeReport? Upgrade { get; init; }
    /// <summary>metrics: the Prometheus text (format 0.0.4).</summary>
    public string? Metrics { get; init; }
    /// <summary>A heartbeat while a long request (reload, scale, stop) runs: not the reply; the reply follows.</summary>
    public bool? Pending { get; init; }

    public static readonly ControlReply Heartbeat = new() { Pending = true };
    /// <summary>stop: what the master found and cleaned up that the operator should know of (e.g. a stray process holding a listening socket).</summary>
    public IReadOnlyList<string>? Notes { get; init; }

    public static ControlReply Failure(string code, string message, IReadOnlyList<string>? details = null) =>
        new() { Ok = false, Error = new ControlError(code, message, details) };
}

public sealed record ControlError(string Code, string Message, IReadOnlyList<string>? Details = null);

public sealed record PackStatus(
    string Name,
    int MasterPid,
    string Manifest,
    string State,
    int Generation,
    IReadOnlyList<ListenerStatus> Listeners,
    ReloadReport? LastReload,
    IReadOnlyList<WorkerStatus> Workers,
    long? MasterRssBytes = null,
    long? MasterGcHeapBytes = null)
{
    /// <summary>The state a pack has while a reload runs; otherwise <see cref="State"/> names a <see cref="Master.PackState"/>.</summary>
    public const string Reloading = "Reloading";

    /// <summary>Every worker of the first generation was ready, and the pack is not stopping.</summary>
    [JsonIgnore] public bool IsRunning => State is nameof(Master.PackState.Running) or Reloading;
}

/// <param name="QueueLength">Connections waiting in the accept queue (TCP_INFO; summed over a reuseport listener's sockets); null for unix listeners.</param>
/// <param name="QueueLimit">The accept queue's limit (the backlog).</param>
/// <param name="QueueLength">Connections waiting to be accepted; for a reuseport listener, in its fullest slot's queue (<paramref name="QueueSlot"/>).</param>
public sealed record ListenerStatus(string Name, string Address, string Mode, long? QueueLength = null, long? QueueLimit = null, int? QueueSlot = null);

public sealed record WorkerStatus(
    int Slot,
    int? Pid,
    int? Cpu,
    int Generation,
    string State,
    DateTimeOffset? StartedAt,
    int Restarts,
    string? LastExit,
    long? RssBytes,
    double? CpuSeconds,
    string? Status = null,
    string? FailureReason = null,
    string? User = null,
    double? CpuPercent = null)
{
    [JsonIgnore] public bool IsReady => State == nameof(Master.WorkerState.Ready);
}

public sealed record ReloadReport(
    bool Ok,
    int Generation,
    string Strategy,
    double DurationMs,
    string? Error = null,
    int? FailedSlot = null,
    int? FailedPid = null,
    IReadOnlyList<string>? Output = null);

/// <summary>How an upgrade of the master ended: the old and new master pids, the generation the new one serves.</summary>
public sealed record UpgradeReport(bool Ok, int OldMasterPid, int? NewMasterPid, int? Generation, double DurationMs, string? Error = null);
