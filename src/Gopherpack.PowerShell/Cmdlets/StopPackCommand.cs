using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Stop-Pack: graceful stop of one or more packs; waits until each master is gone. Takes Pack and PackWorker objects from the pipeline.</summary>
[Cmdlet(VerbsLifecycle.Stop, "Pack", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Model.Pack))]
public sealed class StopPackCommand : PackCmdlet
{
    private readonly HashSet<string> _stopped = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Names of the packs to stop.")]
    [Alias("Pack")]
    public string[] Name { get; set; } = [];

    [Parameter(HelpMessage = "Seconds to wait for each pack to stop before failing with PackTimeout. Default: no limit (the manifest's stop.timeout bounds it).")]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; }

    [Parameter(HelpMessage = "Write the Pack as it was before it stopped.")]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var name in Name)
        {
            // Get-PackWorker | Stop-Pack passes each pack once per worker.
            if (!_stopped.Add(name) || !ShouldProcess(name, "Stop pack")) continue;
            try
            {
                var before = PassThru ? Run(cancel => Client.StatusAsync(name, cancel)) : null;
                Run(async cancel => { await Client.StopAsync(name, cancel); return true; }, TimeoutSec);
                if (before is not null) WriteObject(Model.Pack.From(before with { State = "Stopped" }, Runtime.Path));
            }
            catch (Exception e) when (e is PackNotRunningException or PackControlException or OperationCanceledException)
            {
                WriteError(ErrorFor(e, name));
            }
        }
    }
}
