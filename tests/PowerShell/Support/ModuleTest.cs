using System.Management.Automation;

namespace Gopherpack.PowerShell.Tests.Support;

/// <summary>A test with the module folder, a lab of its own (temp dir, runtime dir) and a runspace with the module imported.</summary>
[Collection(ModuleCollection.Name)]
public abstract class ModuleTest : IDisposable
{
    protected ModuleTest(ModuleFolder module)
    {
        Module = module;
        Lab = new PackLab();
        PS = new PowerShellSession(module.Psd1, Lab.Path);
    }

    protected ModuleFolder Module { get; }
    protected PackLab Lab { get; }
    protected PowerShellSession PS { get; }

    /// <summary>Starts a pack with Start-Pack and returns its Pack object.</summary>
    protected PSObject StartPack(string manifest)
    {
        var result = PS.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt}").AssertNoErrors();
        var pack = Assert.Single(result.Output);
        Assert.Equal("Gopherpack.Model.Pack", pack.TypeNames[0]);
        return pack;
    }

    public virtual void Dispose()
    {
        PS.Dispose();
        Lab.Dispose();
    }
}
