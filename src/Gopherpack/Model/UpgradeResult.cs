using Gopherpack.Control;

namespace Gopherpack.Model;

/// <summary>What Invoke-PackUpgrade returns: which master serves now, and how long the hand-over took.</summary>
public sealed class UpgradeResult
{
    public required string Name { get; init; }
    public bool Succeeded { get; init; }
    public int OldMasterPid { get; init; }
    public int? NewMasterPid { get; init; }
    public int? Generation { get; init; }
    public TimeSpan Duration { get; init; }
    public string? Error { get; init; }

    public static UpgradeResult From(string name, UpgradeReport report) => new()
    {
        Name = name,
        Succeeded = report.Ok,
        OldMasterPid = report.OldMasterPid,
        NewMasterPid = report.NewMasterPid,
        Generation = report.Generation,
        Duration = TimeSpan.FromMilliseconds(report.DurationMs),
        Error = report.Error,
    };
}
