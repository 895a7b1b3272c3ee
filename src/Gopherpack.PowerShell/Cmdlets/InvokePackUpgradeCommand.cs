using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Invoke-PackUpgrade: replaces the master itself; a failed upgrade is a terminating PackUpgradeFailed error.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PackUpgrade")]
[OutputType(typeof(Model.UpgradeResult))]
[CmdletHelp("Replaces the master process of a pack (a new Gopherpack version, a .NET patch) without refusing a connection.",
    "Starts a new master (this module's own gopherpack master, or the one given with -Executable) that inherits every listening socket, re-reads the manifest and starts its own generation of workers. Once they are all ready it takes over the pid file and control socket, the old master's workers drain and the old master exits; the cmdlet then returns an UpgradeResult. Without -Executable the new master is the importing module's gopherpack, so importing a newer module version and running Invoke-PackUpgrade moves a running pack to that version; a module installed from a package, whose gopherpack has no execute bit, runs its private copy as Start-Pack does. -Executable may name a module folder's gopherpack (beside its Gopherpack.psd1) that has no execute bit: its private copy runs then too. If the new master or its workers fail, or it is not ready within -TimeoutSec, the new master is stopped, the old one keeps serving, and the cmdlet throws a terminating PackUpgradeFailed error with the reason. An upgrade while a reload or another upgrade runs is PackBusy; a pack that is not running is PackNotRunning.")]
[HelpExample("Invoke-PackUpgrade -Name api", "Replaces the master of the pack 'api' with the imported module's own master (after Import-Module of a newer Gopherpack, that version's).")]
[HelpExample("Invoke-PackUpgrade api -Executable (Join-Path (Get-Module Gopherpack).ModuleBase gopherpack)", "The same, naming the module's master: an installed module's gopherpack has no execute bit, and its private copy runs.")]
[HelpExample("Invoke-PackUpgrade api -Executable /opt/gopherpack-2/gopherpack -TimeoutSec 300", "Replaces the master with another gopherpack executable.")]
public sealed class InvokePackUpgradeCommand : PackCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "The pack whose master to replace.")]
    [Alias("Pack")]
    [ArgumentCompleter(typeof(PackNameCompleter))]
    public string Name { get; set; } = "";

    [Parameter(HelpMessage = "The new master: a gopherpack executable, gopherpack.dll, or a module folder's gopherpack (its private copy runs when it has no execute bit). Default: this module's own master.")]
    public string? Executable { get; set; }

    [Parameter(HelpMessage = "Seconds the new master has to get every worker ready. Default: the larger of 120 and the manifest's ready.timeout + 60.")]
    [ValidateRange(1, 86400)]
    [Alias("TimeoutSeconds")]
    public int? TimeoutSec { get; set; }

    protected override void ProcessRecord()
    {
        string executable;
        try
        {
            executable = NewMaster();
        }
        catch (PackStartException e)
        {
            ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(e.Message, e), Model.PackErrors.PackUpgradeFailed, ErrorCategory.InvalidResult, Name));
            return;
        }
        WriteVerbose($"upgrading the master of pack '{Name}' to {executable}; waiting for the new master to take over");
        try
        {
            var report = Run(cancel => Client.UpgradeAsync(Name, executable, TimeoutSec is { } s ? TimeSpan.FromSeconds(s) : null, cancel));
            WriteVerbose($"pack '{Name}' upgraded: master pid {report.NewMasterPid} serves generation {report.Generation}; master pid {report.OldMasterPid} drains and exits");
            WriteObject(Model.UpgradeResult.From(Name, report));
        }
        catch (Exception e) when (e is PackNotRunningException or PackControlException)
        {
            ThrowTerminatingError(ErrorFor(e, Name));
        }
    }

    /// <summary>-Executable as given, unless it is a module folder's master without its execute bit; by default this module's master.</summary>
    private string NewMaster()
    {
        if (Executable is null) return ModuleMaster.Resolve(ModuleMaster.OwnFolder, WriteVerbose);
        var given = FullPath(Executable);
        return ModuleMaster.IsModuleMaster(given) ? ModuleMaster.Resolve(System.IO.Path.GetDirectoryName(given)!, WriteVerbose) : given;
    }
}
