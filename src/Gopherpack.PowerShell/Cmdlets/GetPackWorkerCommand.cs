using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Get-PackWorker: one object per worker (and per slot waiting to restart or failed); all packs when no name is given.</summary>
[Cmdlet(VerbsCommon.Get, "PackWorker")]
[OutputType(typeof(Model.PackWorker))]
public sealed class GetPackWorkerCommand : PackCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Only these packs.")]
    [Alias("Pack")]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var status in PackStatuses.Read(this, Name))
            WriteObject(Model.PackWorker.From(status, Runtime.Path, DateTimeOffset.UtcNow), enumerateCollection: true);
    }
}

/// <summary>Get-Pack: the running packs.</summary>
[Cmdlet(VerbsCommon.Get, "Pack")]
[OutputType(typeof(Model.Pack))]
public sealed class GetPackCommand : PackCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Only these packs.")]
    [Alias("Pack")]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var status in PackStatuses.Read(this, Name)) WriteObject(Model.Pack.From(status, Runtime.Path));
    }
}

internal static class PackStatuses
{
    /// <summary>The named packs (a missing one is a PackNotRunning error) or every running pack.</summary>
    public static IEnumerable<PackStatus> Read(PackCmdlet cmdlet, string[]? names)
    {
        if (names is null || names.Length == 0) return cmdlet.RunCore(cancel => cmdlet.CoreClient.AllStatusAsync(cancel));
        var found = new List<PackStatus>();
        foreach (var name in names)
        {
            try { found.Add(cmdlet.RunCore(cancel => cmdlet.CoreClient.StatusAsync(name, cancel))); }
            catch (Exception e) when (e is PackNotRunningException or PackControlException) { cmdlet.WriteError(cmdlet.Error(e, name)); }
        }
        return found;
    }
}
