using System.Diagnostics;
using Gopherpack.Model;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.PowerShell;

[Collection(EndToEnd.EndToEndCollection.Name)]
public sealed class ModuleLayoutTests
{
    [Fact]
    public async Task The_documented_dotnet_command_assembles_the_module_folder_without_pwsh()
    {
        using var dir = new TempDir();
        var output = Path.Combine(dir.Path, "Gopherpack");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "publish", Path.Combine(RepoPaths.Root, "src/Gopherpack.PowerShell"), "-c", "Release", "-o", output }) start.ArgumentList.Add(arg);
        using var publish = Process.Start(start)!;
        var log = publish.StandardOutput.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await publish.WaitForExitAsync(cancel.Token);
        Assert.True(publish.ExitCode == 0, await log);

        foreach (var file in new[] { "Gopherpack.psd1", "Gopherpack.Format.ps1xml", "Gopherpack.PowerShell.dll", "Gopherpack.Core.dll", "YamlDotNet.dll", "en-US/Gopherpack.PowerShell.dll-Help.xml" })
            Assert.True(File.Exists(Path.Combine(output, file)), $"the module folder lacks {file}");
        Assert.False(File.Exists(Path.Combine(output, "System.Management.Automation.dll")), "the PowerShellStandard stub must not ship: pwsh brings the real one");
    }
}

public sealed class PackErrorsTests
{
    [Fact]
    public void Failures_map_to_stable_error_ids_and_categories()
    {
        Assert.Equal(("PackNotRunning", "ObjectNotFound"), Id(new Control.PackNotRunningException("api", "/rt")));
        Assert.Equal(("PackReloadFailed", "InvalidResult"), Id(new Control.PackControlException(Control.ControlErrors.ReloadFailed, "boom", ["last line"])));
        Assert.Equal(("PackBusy", "ResourceBusy"), Id(new Control.PackControlException(Control.ControlErrors.Busy, "busy")));
        Assert.Equal(("ManifestInvalid", "InvalidData"), Id(new Control.PackControlException(Control.ControlErrors.ManifestInvalid, "bad")));
        Assert.Equal(("AccessDenied", "PermissionDenied"), Id(new Control.PackControlException(Control.ControlErrors.AccessDenied, "no")));
        Assert.Equal(("ManifestInvalid", "InvalidData"), Id(new Gopherpack.Manifest.ManifestException([new Gopherpack.Manifest.ManifestError("/a.yml", 1, 2, "bad")])));
        Assert.Equal(("PackStartFailed", "InvalidResult"), Id(new Control.PackStartException("not ready")));
        Assert.Equal(("PackTimeout", "OperationTimeout"), Id(new OperationCanceledException()));
        Assert.Contains("last line", PackErrors.Classify(new Control.PackControlException(Control.ControlErrors.ReloadFailed, "boom", ["last line"])).Message);
        Assert.Equal("/a.yml:1:2: bad", PackErrors.Classify(new Gopherpack.Manifest.ManifestException([new Gopherpack.Manifest.ManifestError("/a.yml", 1, 2, "bad")])).Message);
    }

    private static (string, string) Id(Exception e)
    {
        var error = PackErrors.Classify(e);
        return (error.ErrorId, error.Category);
    }
}
