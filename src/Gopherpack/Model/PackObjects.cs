using Gopherpack.Control;

namespace Gopherpack.Model;

/// <summary>A running pack, as the PowerShell cmdlets write it (default view in Gopherpack.Format.ps1xml).</summary>
public sealed class Pack
{
    public required string Name { get; init; }
    public int MasterPid { get; init; }
    public required string State { get; init; }
    public int Generation { get; init; }
    public int Workers { get; init; }
    public int Ready { get; init; }
    public required string Listeners { get; init; }
    public required string Manifest { get; init; }
    public string? LastReload { get; init; }
    public required string RuntimeDirectory { get; init; }
    /// <summary>Each listener with its accept queue against its backlog, as <c>gopherpack top</c> shows them.</summary>
    public IReadOnlyList<PackListener> AcceptQueues { get; init; } = [];

    public static Pack From(PackStatus status, string runtimeDirectory) => new()
    {
        Name = status.Name,
        MasterPid = status.MasterPid,
        State = status.State,
        Generation = status.Generation,
        Workers = status.Workers.Count,
        Ready = status.Workers.Count(w => w.IsReady),
        Listeners = string.Join(", ", status.Listeners.Select(l => $"{l.Name}={l.Address}")),
        Manifest = status.Manifest,
        LastReload = status.LastReload is { } r ? $"{(r.Ok ? "ok" : "failed")}: generation {r.Generation}, {r.Strategy}, {r.DurationMs:0} ms{(r.Error is null ? "" : ", " + r.Error)}" : null,
        RuntimeDirectory = runtimeDirectory,
        AcceptQueues = status.Listeners.Select(l => new PackListener
        {
            Name = l.Name, Address = l.Address, Mode = l.Mode, QueueLength = l.QueueLength, QueueLimit = l.QueueLimit, QueueSlot = l.QueueSlot,
        }).ToList(),
    };
}

/// <summary>A listener of a pack: connections waiting in its accept queue (TCP_INFO) and the queue's limit, its backlog (a reuseport listener's fullest slot); null for unix listeners.</summary>
public sealed class PackListener
{
    public required string Name { get; init; }
    public required string Address { get; init; }
    public required string Mode { get; init; }
    public long? QueueLength { get; init; }
    public long? QueueLimit { get; init; }
    /// <summary>Reuseport: the slot whose queue (the fullest) QueueLength and QueueLimit are; null for a shared listener.</summary>
    public int? QueueSlot { get; init; }
}

/// <summary>One worker of a pack. <see cref="Pack"/> binds to Stop-Pack's -Name, so <c>Get-PackWorker | Stop-Pack</c> works.</summary>
public sealed class PackWorker
{
    public required string Pack { get; init; }
    public int Slot { get; init; }
    public int? Pid { get; init; }
    /// <summary>The user the worker process runs as (manifest <c>user</c>, else the master's).</summary>
    public string? User { get; init; }
    public int? Cpu { get; init; }
    public int Generation { get; init; }
    public required string State { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public TimeSpan? Uptime { get; init; }
    public int Restarts { get; init; }
    public string? LastExit { get; init; }
    public double? RssMB { get; init; }
    public TimeSpan? CpuTime { get; init; }
    /// <summary>Recent CPU use in percent of one CPU, as <c>gopherpack top</c> shows it (over the time since the previous status read, at least 0.5 s; the first read gives the average since the worker started).</summary>
    public double? CpuPercent { get; init; }
    public string? Status { get; init; }
    public required string RuntimeDirectory { get; init; }

    public static IEnumerable<PackWorker> From(PackStatus status, string runtimeDirectory, DateTimeOffset now) =>
        status.Workers.Select(w => new PackWorker
        {
            Pack = status.Name,
            Slot = w.Slot,
            Pid = w.Pid,
            User = w.User,
            Cpu = w.Cpu,
            Generation = w.Generation,
            State = w.State,
            StartedAt = w.StartedAt,
            Uptime = w.StartedAt is { } started ? now - started : null,
            Restarts = w.Restarts,
            LastExit = w.LastExit,
            RssMB = w.RssBytes is { } rss ? Math.Round(rss / 1048576.0, 1) : null,
            CpuTime = w.CpuSeconds is { } cpu ? TimeSpan.FromSeconds(cpu) : null,
            CpuPercent = w.CpuPercent,
            Status = w.Status ?? w.FailureReason,
            RuntimeDirectory = runtimeDirectory,
        });
}

/// <summary>The outcome of Invoke-PackReload.</summary>
public sealed class ReloadResult
{
    public required string Name { get; init; }
    public bool Succeeded { get; init; }
    public int Generation { get; init; }
    public required string Strategy { get; init; }
    public TimeSpan Duration { get; init; }
    public string? Error { get; init; }

    public static ReloadResult From(string name, ReloadReport report) => new()
    {
        Name = name,
        Succeeded = report.Ok,
        Generation = report.Generation,
        Strategy = report.Strategy,
        Duration = TimeSpan.FromMilliseconds(report.DurationMs),
        Error = report.Error,
    };
}
