using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Invoke-PackReload: a synchronous zero-downtime reload; a failed reload is a terminating PackReloadFailed error.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PackReload")]
[OutputType(typeof(Model.ReloadResult))]
[CmdletHelp("Replaces every worker of a pack with a new generation without dropping connections.",
    "Re-reads and validates the manifest (or the one given with -Manifest), starts the new generation (Surge: all at once next to the old; Rolling: slot by slot), and stops the old workers only once their replacements are ready. Returns a ReloadResult when the new generation serves. If a new worker crashes or is not ready in time, the new workers are stopped, the old generation keeps serving, and the cmdlet throws a terminating PackReloadFailed error with the reason and the failing worker's last output lines, so a deploy script stops there. An invalid manifest, or one that names another pack, is ManifestInvalid (nothing changed); a reload while another runs is PackBusy; a pack that is not running is PackNotRunning.")]
[HelpExample("Invoke-PackReload -Name api", "Reloads the pack 'api' from its own manifest, re-read.")]
[HelpExample("Invoke-PackReload api -Manifest ./v2/app.yml -Strategy Rolling", "Reloads from another manifest, one slot at a time.")]
[HelpExample("Get-Pack api | Invoke-PackReload", "Takes the pack's name from a Pack object.")]
public sealed class InvokePackReloadCommand : PackCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "The pack to reload.")]
    [Alias("Pack")]
    [ArgumentCompleter(typeof(PackNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(HelpMessage = "Reload from this manifest instead of re-reading the pack's own.")]
    public string? Manifest { get; set; }

    [Parameter(HelpMessage = "Surge (a whole new generation next to the old) or Rolling (slot by slot). Default: the manifest's reload.strategy.")]
    [ValidateSet("Surge", "Rolling")]
    public string? Strategy { get; set; }

    protected override void ProcessRecord()
    {
        var manifest = Manifest is null ? null : FullPath(Manifest);
        WriteVerbose($"reloading pack '{Name}' from {manifest ?? "its own manifest"} ({Strategy?.ToLowerInvariant() ?? "the manifest's strategy"}); waiting for the new generation to serve");
        try
        {
            var report = Run(cancel => Client.ReloadAsync(Name, manifest, Strategy?.ToLowerInvariant(), cancel));
            WriteVerbose($"pack '{Name}' reloaded: generation {report.Generation} serves ({report.Strategy}, {report.DurationMs:0} ms)");
            WriteObject(Model.ReloadResult.From(Name, report));
        }
        catch (Exception e) when (e is PackNotRunningException or PackControlException)
        {
            ThrowTerminatingError(ErrorFor(e, Name));
        }
    }
}
