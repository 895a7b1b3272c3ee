using System.Management.Automation;
using Gopherpack.Manifest;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>Test-PackManifest: $true for a valid manifest; $false and one warning per problem (file:line:col: message) otherwise.</summary>
[Cmdlet(VerbsDiagnostic.Test, "PackManifest")]
[OutputType(typeof(bool))]
public sealed class TestPackManifestCommand : PackCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "The manifest to check.")]
    [Alias("Manifest", "FullName")]
    public string Path { get; set; } = "";

    protected override void ProcessRecord()
    {
        try
        {
            ManifestLoader.Load(FullPath(Path));
            WriteObject(true);
        }
        catch (ManifestException e)
        {
            foreach (var error in e.Errors) WriteWarning(error.ToString());
            WriteObject(false);
        }
    }
}
