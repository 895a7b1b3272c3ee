using System.Text.Json;
using System.Text.Json.Serialization;
using Gopherpack.Manifest;

namespace Gopherpack.Master.Upgrade;

/// <summary>
/// What an old master hands the new one it starts for an upgrade, in the environment variable
/// <see cref="Variable"/>: who it is, the generation it serves, the worker count set by scale, which
/// inherited fds (3, 4, ...) are which listener's sockets (one per listener in shared mode, one per slot
/// in reuseport mode) and which sockets it closed while its draining workers may still hold them, plus
/// the two handshake pipes.
/// </summary>
internal sealed record UpgradeHandover
{
    public const string Variable = "GOPHERPACK_UPGRADE";

    /// <summary>The old master's pid; its pid file and control socket are taken over.</summary>
    public int From { get; init; }
    /// <summary>The generation the old master serves; the new master's first is the next.</summary>
    public int Generation { get; init; }
    /// <summary>
    /// The new master writes <c>pid PID</c> (its own pid, first: a wrapper script that did not exec may stand between the
    /// two masters), then <c>ready</c>, <c>taken</c> or <c>failed REASON</c> lines here.
    /// </summary>
    public int StatusFd { get; init; }
    /// <summary>The old master writes <c>commit</c> here when the new one may take over; EOF means abort.</summary>
    public int CommitFd { get; init; }
    public IReadOnlyList<HandedListener> Listeners { get; init; } = [];

    /// <summary>The old master's metrics.address socket; null when it serves none (or is an older master that does not hand it over).</summary>
    public HandedMetrics? Metrics { get; init; }

    /// <summary>The worker count set by scale (or SIGTTIN/SIGTTOU) on the old master; null when the old master kept to its manifest's.</summary>
    public int? ScaledWorkers { get; init; }

    /// <summary>The <c>workers</c> of the old master's manifest (null: auto); the scaled count is kept only while the manifest's is unchanged.</summary>
    public int? ManifestWorkers { get; init; }

    /// <summary>
    /// The old master's stop.timeout: at most how long its workers drain after the hand-over, so how long a stop of the
    /// new master waits for it (null from an older master: the new master's own applies).
    /// </summary>
    public double? StopTimeoutSeconds { get; init; }

    /// <summary>Inodes of the pack's listening sockets the old master closed that draining workers may still hold (see <see cref="Master.RetiredSockets"/>).</summary>
    public IReadOnlyList<ulong> RetiredSockets { get; init; } = [];

    /// <summary>
    /// The worker count the new master runs instead of its manifest's: the old master's scaled count, as a
    /// reload keeps it, unless the manifest changed <c>workers</c> since; null to follow the manifest.
    /// </summary>
    public int? KeptWorkers(PackManifest manifest) => ScaledWorkers is { } scaled and >= 1 and <= PackManifest.MaxWorkers && manifest.Workers == ManifestWorkers ? scaled : null;

    public string ToJson() => JsonSerializer.Serialize(this, UpgradeJson.Default.UpgradeHandover);

    /// <exception cref="JsonException">Not a hand-over.</exception>
    public static UpgradeHandover Parse(string json) =>
        JsonSerializer.Deserialize(json, UpgradeJson.Default.UpgradeHandover) ?? throw new JsonException("empty hand-over");

    /// <summary>Reads and removes the hand-over from this process's environment; null when this master was not started by an upgrade.</summary>
    /// <exception cref="ListenerException">The variable is malformed or an fd is not a listening socket.</exception>
    public static UpgradeHandover? TakeFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(Variable);
        Environment.SetEnvironmentVariable(Variable, null);
        if (string.IsNullOrEmpty(text)) return null;
        try { return Parse(text); }
        catch (JsonException e) { throw new ListenerException($"{Variable} is not a valid hand-over: {e.Message}"); }
    }

    /// <summary>Tells the old master why this one cannot start (before a successor exists to say it).</summary>
    public void ReportFailure(string reason)
    {
        try
        {
            using var status = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(StatusFd, ownsHandle: true), FileAccess.Write, 1);
            UpgradeHandshake.TryWriteLine(status, UpgradeHandshake.FailedLine(reason));
        }
        catch (IOException) { /* the old master has gone: nobody is left to tell */ }
    }

    public IReadOnlyList<AdoptedListener> AdoptListeners() =>
        Listeners.Select(l => new AdoptedListener(l.Name, l.Address, l.Mode, l.KeepFile,
            l.Fds.Select(fd => SocketActivation.Adopt(fd, l.Name)).ToList())).ToList();
}

/// <param name="Address">metrics.address as the old master's manifest gives it (an IPEndPoint's text).</param>
/// <param name="Fd">The inherited fd of its listening socket.</param>
internal sealed record HandedMetrics(string Address, int Fd);

internal sealed record HandedListener(string Name, string Address, ListenerMode Mode, bool KeepFile, IReadOnlyList<int> Fds);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(UpgradeHandover))]
internal sealed partial class UpgradeJson : JsonSerializerContext;
