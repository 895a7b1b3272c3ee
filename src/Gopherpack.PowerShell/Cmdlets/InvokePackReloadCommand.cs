using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Invoke-PackReload: a synchronous zero-downtime reload; a failed reload is a terminating PackReloadFailed error.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PackReload")]
[OutputType(typeof(Model.ReloadResult))]
public sealed class InvokePackReloadCommand : PackCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "The pack to reload.")]
    [Alias("Pack")]
    public string Name { get; set; } = "";

    [Parameter(HelpMessage = "Reload from this manifest instead of re-reading the pack's own.")]
    public string? Manifest { get; set; }

    [Parameter(HelpMessage = "Surge (a whole new generation next to the old) or Rolling (slot by slot). Default: the manifest's reload.strategy.")]
    [ValidateSet("Surge", "Rolling")]
    public string? Strategy { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            var report = Run(cancel => Client.ReloadAsync(Name, Manifest is null ? null : FullPath(Manifest), Strategy?.ToLowerInvariant(), cancel));
            WriteObject(Model.ReloadResult.From(Name, report));
        }
        catch (Exception e) when (e is PackNotRunningException or PackControlException or OperationCanceledException)
        {
            ThrowTerminatingError(ErrorFor(e, Name));
        }
    }
}
