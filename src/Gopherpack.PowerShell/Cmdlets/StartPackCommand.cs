using System.Management.Automation;
using Gopherpack.Control;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// Start-Pack: starts a pack's master detached and returns a Pack once every worker is ready; with
/// -Wait runs the master in this process until it is stopped. The detached master is a new pwsh
/// running Start-Pack -Wait, so no dotnet executable is needed.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "Pack")]
[OutputType(typeof(Model.Pack))]
public sealed class StartPackCommand : PackCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "The pack's YAML manifest.")]
    [Alias("Path", "FullName")]
    public string Manifest { get; set; } = "";

    [Parameter(HelpMessage = "Seconds to wait for every worker to be ready; then the pack is stopped again. Default 120.")]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 120;

    [Parameter(HelpMessage = "Run the master in this process until it is stopped (for systemd units and containers).")]
    public SwitchParameter Wait { get; set; }

    protected override void ProcessRecord()
    {
        var path = FullPath(Manifest);
        try
        {
            if (Wait) RunInProcess(path);
            else WriteObject(StartDetached(path));
        }
        catch (Exception e) when (e is ManifestException or PackStartException or OperationCanceledException)
        {
            ThrowTerminatingError(ErrorFor(e, path));
        }
    }

    private Model.Pack StartDetached(string path)
    {
        var module = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(typeof(StartPackCommand).Assembly.Location)!, "Gopherpack.psd1");
        var pwsh = Environment.ProcessPath!;
        var status = Run(cancel => new PackStarter(Runtime).StartAsync(path, (manifest, runtimeDir) =>
            [pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command",
             $"Import-Module {Quote(module)}; Start-Pack -Manifest {Quote(manifest.ManifestPath)} -RuntimeDir {Quote(runtimeDir)} -Wait"],
            TimeSpan.FromSeconds(TimeoutSec), (ready, total) => WriteProgress(new ProgressRecord(1, "Start-Pack", $"{ready}/{total} workers ready")), cancel));
        return Model.Pack.From(status, Runtime.Path);
    }

    private void RunInProcess(string path)
    {
        var manifest = ManifestLoader.Load(path);
        var code = MasterRunner.RunAsync(manifest, Runtime, new TextMasterLog(Console.Error, manifest.Name)).GetAwaiter().GetResult();
        if (code != 0)
            ThrowTerminatingError(new ErrorRecord(new InvalidOperationException($"the master of pack '{manifest.Name}' exited with code {code}"),
                Model.PackErrors.PackFailed, ErrorCategory.InvalidResult, manifest.Name));
    }

    private static string Quote(string text) => "'" + text.Replace("'", "''") + "'";
}
