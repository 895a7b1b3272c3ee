using System.Management.Automation;
using Gopherpack.Manifest;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Test-PackManifest: $true for a valid manifest; $false and one warning per problem (file:line:col: message) otherwise.</summary>
[Cmdlet(VerbsDiagnostic.Test, "PackManifest")]
[OutputType(typeof(bool))]
[CmdletHelp("Checks a pack manifest.",
    "Returns $true when the manifest is valid; otherwise $false, with one warning per problem as file:line:col: message (a misspelt key gets a \"did you mean\"). Nothing is started. Takes paths from the pipeline, e.g. from Get-ChildItem.")]
[HelpExample("Test-PackManifest ./app.yml", "$true, or $false with a warning for each problem.")]
[HelpExample("Get-ChildItem /srv/*/app.yml | Test-PackManifest", "Checks every manifest found (FullName binds to -Path).")]
public sealed class TestPackManifestCommand : GopherpackCmdlet
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
            WriteVerbose($"{path}: ok (pack '{manifest.Name}', {manifest.Listeners.Count} listener(s), workers {manifest.Workers?.ToString() ?? "auto"})");
            WriteObject(true);
        }
        catch (ManifestException e)
        {
            foreach (var error in e.Errors) WriteWarning(error.ToString());
            WriteObject(false);
        }
    }
}
