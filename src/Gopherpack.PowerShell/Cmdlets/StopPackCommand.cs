using System.Diagnostics;
using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Stop-Pack: graceful stop of one or more packs; waits until each master is gone. Takes Pack and PackWorker objects from the pipeline.</summary>
[Cmdlet(VerbsLifecycle.Stop, "Pack", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Model.Pack))]
[CmdletHelp("Stops packs gracefully.",
    "Asks each pack's master to stop: every worker gets the manifest's stop signal and drains, and is killed after stop.timeout; the cmdlet returns once the master is gone and its pid file and sockets are removed. Works from any process, including the one that runs the master (Start-Pack -Wait in another runspace). Takes Pack and PackWorker objects from the pipeline (each pack is stopped once). A name that is not running is a PackNotRunning error; a wildcard that matches no running pack stops nothing. Past -TimeoutSec the cmdlet fails with PackTimeout while the stop goes on.")]
[HelpExample("Stop-Pack -Name api", "Stops the pack 'api' and waits until its master is gone.")]
[HelpExample("Get-Pack | Stop-Pack", "Stops every running pack. Stop-Pack does not ask first (ConfirmImpact Medium, below the default $ConfirmPreference High).")]
[HelpExample("Stop-Pack api -Confirm", "Asks before stopping the pack 'api'.")]
[HelpExample("Stop-Pack 'test-*' -WhatIf", "Shows which packs would be stopped.")]
public sealed class StopPackCommand : PackCmdlet
{
    private readonly HashSet<string> _stopped = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Names of the packs to stop; wildcards match the running packs.")]
    [Alias("Pack")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PackNameCompleter))]
    public string[] Name { get; set; } = [];

    [Parameter(HelpMessage = "Seconds to wait for each pack to stop before failing with PackTimeout. Default: no limit (the manifest's stop.timeout bounds it).")]
    [ValidateRange(1, 86400)]
    [Alias("TimeoutSeconds")]
    public int TimeoutSec { get; set; }

    [Parameter(HelpMessage = "Write the Pack as it was before it stopped, with State Stopped.")]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var runtime = Client.Runtime;
        foreach (var (name, literal) in PackNames.Expand(Name, runtime))
        {
            // Get-PackWorker | Stop-Pack passes each pack once per worker.
            if (!_stopped.Add(name) || !ShouldProcess(name, "Stop pack")) continue;
            try
            {
                var before = PassThru ? Run(cancel => Client.StatusAsync(name, cancel)) : null;
                WriteVerbose($"stopping pack '{name}' (master pid {runtime.RunningMaster(name)?.ToString() ?? "unknown"}, runtime dir {runtime.Path})");
                var clock = Stopwatch.StartNew();
                Run(async cancel => { await Client.StopAsync(name, cancel); return true; },
                    TimeoutSec > 0 ? TimeSpan.FromSeconds(TimeoutSec) : null, $"pack '{name}' did not stop within {TimeoutSec} s; its master goes on stopping it");
                WriteVerbose($"pack '{name}' stopped in {clock.ElapsedMilliseconds} ms");
                if (before is not null) WriteObject(Model.Pack.From(before with { State = "Stopped" }, runtime.Path));
            }
            catch (PackNotRunningException) when (!literal) { /* a wildcard's match that stopped meanwhile is no error */ }
            catch (Exception e) when (e is PackNotRunningException or PackControlException or TimeoutException)
            {
                WriteError(ErrorFor(e, name));
            }
        }
    }
}
