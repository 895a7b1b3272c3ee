using System.Management.Automation;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Test-PackManifest: $true for a valid manifest; $false and one warning per problem (file:line:col: message) otherwise.</summary>
[Cmdlet(VerbsDiagnostic.Test, "PackManifest")]
[OutputType(typeof(bool))]
[CmdletHelp("Checks a pack manifest.",
    "Returns $true when the manifest is valid; otherwise $false, with one warning per problem as file:line:col: message (a misspelt key gets a \"did you mean\"). Like 'gopherpack validate' it also checks the manifest's workers and cpus against the CPUs this process may use (affinity and cgroup limit). Nothing is started. With -Verbose it says whether a pack of that name is running in the runtime dir (where Invoke-PackReload -Manifest would apply it). Takes paths from the pipeline, e.g. from Get-ChildItem.")]
[HelpExample("Test-PackManifest ./app.yml", "$true, or $false with a warning for each problem.")]
[HelpExample("Get-ChildItem /srv/*/app.yml | Test-PackManifest", "Checks every manifest found (FullName binds to -Path).")]
public sealed class TestPackManifestCommand : PackCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "The manifest to check.")]
    [Alias("Manifest", "FullName")]
    public string Path { get; set; } = "";

    protected override void ProcessRecord()
    {
        var path = FullPath(Path);
        WriteVerbose($"checking {path}");
        try
        {
            var manifest = ManifestLoader.Load(path, plainFileOnly: false);
            WorkerPlan.SlotCpusHere(manifest);
            WriteVerbose($"{path}: ok (pack '{manifest.Name}', {manifest.Listeners.Count} listener(s), workers {manifest.Workers?.ToString() ?? "auto"})");
            var runtime = Runtime;
            WriteVerbose(runtime.RunningMaster(manifest.Name) is { } master
                ? $"pack '{manifest.Name}' is running in {runtime.Path} (master pid {master})"
                : $"no pack '{manifest.Name}' is running in {runtime.Path}");
            WriteObject(true);
        }
        catch (ManifestException e)
        {
            foreach (var error in e.Errors) WriteWarning(error.ToString());
            WriteObject(false);
        }
        catch (WorkerPlanException e)
        {
            WriteWarning($"{path}: {e.Message}");
            WriteObject(false);
        }
    }
}
