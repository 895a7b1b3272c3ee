using Gopherpack.Model;

namespace Gopherpack.Tests.PowerShell;

/// <summary>The exception-to-ErrorId mapping the cmdlets use; the cmdlets themselves are tested in the real engine (tests/PowerShell).</summary>
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
