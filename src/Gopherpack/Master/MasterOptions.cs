using Gopherpack.Master.Upgrade;

namespace Gopherpack.Master;

/// <summary>How a master was started, beyond its manifest and runtime dir.</summary>
public sealed record MasterOptions
{
    /// <summary>The command that runs this program's <c>gopherpack</c> verbs (e.g. the native executable, or dotnet and gopherpack.dll): what an upgrade starts by default. Null: upgrades need an explicit executable.</summary>
    public IReadOnlyList<string>? SelfCommand { get; init; }

    /// <summary>Set when an old master started this one for an upgrade.</summary>
    internal UpgradeHandover? Handover { get; init; }

    /// <summary>The worker count set by scale that this master runs instead of its manifest's (kept from the old master by an upgrade).</summary>
    internal int? ScaledWorkers { get; init; }

    /// <summary>The locked pid file of a master started on its own (null for an upgrade's new master until it takes over).</summary>
    internal Runtime.PidFile? PidFile { get; init; }

    /// <summary>
    /// The master is its process's only job (<c>gopherpack run</c>): it becomes a child subreaper, reaps the processes
    /// orphaned below it, and at stop ends every child that is not its own. False for a master hosted by a program with
    /// children of its own (Start-Pack -Wait in pwsh), whose children it must not reap or end.
    /// </summary>
    public bool AdoptOrphans { get; init; }

    /// <summary>The listening socket at the manifest's metrics.address: bound at start, or by an upgrade's new master, or handed over by the old one (null: metrics are off).</summary>
    internal System.Net.Sockets.Socket? MetricsSocket { get; init; }
}
