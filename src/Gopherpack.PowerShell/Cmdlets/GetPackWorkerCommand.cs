using System.Management.Automation;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Get-PackWorker: one object per worker (and per slot waiting to restart or failed); all packs when no name is given.</summary>
[Cmdlet(VerbsCommon.Get, "PackWorker")]
[OutputType(typeof(Model.PackWorker))]
[CmdletHelp("Gets the workers of running packs.",
    "Writes one PackWorker per worker (pack, slot, pid, user (the account it runs as), CPU, generation, state Starting/Ready/Draining/Backoff/Failed, uptime, restarts, RSS, CPU time, last exit), and one per slot waiting to restart or failed. Without -Name, lists the workers of every running pack. A name that is not running is a PackNotRunning error; a wildcard that matches no running pack writes nothing.")]
[HelpExample("Get-PackWorker", "Lists the workers of every running pack, grouped by pack.")]
[HelpExample("Get-PackWorker -Name api | Where-Object State -ne Ready", "The workers of the pack 'api' that are not serving.")]
[HelpExample("Get-PackWorker -Name 'api*' | Stop-Pack", "Stops every running pack whose name starts with api (each pack once).")]
public sealed class GetPackWorkerCommand : PackCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Only these packs; wildcards match the running packs.")]
    [Alias("Pack")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PackNameCompleter))]
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
[CmdletHelp("Gets the running packs.",
    "Writes one Pack per running pack: name, state (Starting, Running, Reloading, Stopping), master pid, generation, ready and total workers, listeners with their bound addresses, manifest, the last reload's outcome and the runtime dir. A name that is not running is a PackNotRunning error; a wildcard that matches no running pack writes nothing.")]
[HelpExample("Get-Pack", "Lists every pack running in the default runtime dir.")]
[HelpExample("Get-Pack -Name api, 'web*' -RuntimeDir /srv/run", "The pack 'api' and every pack whose name starts with web, in another runtime dir.")]
public sealed class GetPackCommand : PackCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Only these packs; wildcards match the running packs.")]
    [Alias("Pack")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(PackNameCompleter))]
    public string[]? Name { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var status in PackStatuses.Read(this, Name)) WriteObject(Model.Pack.From(status, Runtime.Path));
    }
}

internal static class PackStatuses
{
    /// <summary>The named packs (a missing literal name is a PackNotRunning error) or every running pack.</summary>
    public static IEnumerable<PackStatus> Read(PackCmdlet cmdlet, string[]? names)
    {
        var runtime = cmdlet.CoreClient.Runtime;
        if (names is null || names.Length == 0)
        {
            cmdlet.Verbose($"reading the status of every pack in {runtime.Path}");
            return cmdlet.RunCore(cancel => cmdlet.CoreClient.AllStatusAsync(cancel));
        }
        var found = new List<PackStatus>();
        foreach (var (name, literal) in PackNames.Expand(names, runtime))
        {
            cmdlet.Verbose($"reading the status of pack '{name}' from {runtime.ControlSocket(name)}");
            try { found.Add(cmdlet.RunCore(cancel => cmdlet.CoreClient.StatusAsync(name, cancel))); }
            catch (PackNotRunningException) when (!literal) { /* a wildcard's match that stopped meanwhile is no error */ }
            catch (Exception e) when (e is PackNotRunningException or PackControlException) { cmdlet.WriteError(cmdlet.Error(e, name)); }
        }
        return found;
    }
}
