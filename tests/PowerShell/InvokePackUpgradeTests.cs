using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>Invoke-PackUpgrade in the real engine: the master is replaced, or a failure is a terminating PackUpgradeFailed error.</summary>
public sealed class InvokePackUpgradeTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public void Invoke_pack_upgrade_replaces_the_master_and_returns_an_UpgradeResult()
    {
        var manifest = Lab.Manifest("upg", workers: 1);
        var started = PS.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt}").AssertNoErrors();
        var oldPid = Assert.Single(started.Output).Get<int>("MasterPid");

        var result = Assert.Single(PS.Run($"Invoke-PackUpgrade -Name upg {Lab.Rt}").AssertNoErrors().Output);
        Assert.Equal("Gopherpack.Model.UpgradeResult", result.TypeNames[0]);
        Assert.True(result.Get<bool>("Succeeded"));
        Assert.Equal(oldPid, result.Get<int>("OldMasterPid"));
        var newPid = result.Get<int>("NewMasterPid");
        Assert.NotEqual(oldPid, newPid);
        Assert.Equal(2, result.Get<int>("Generation"));
        Assert.Equal(newPid, Assert.Single(PS.Run($"Get-Pack upg {Lab.Rt}").AssertNoErrors().Output).Get<int>("MasterPid"));

        var missing = PS.Run($"Invoke-PackUpgrade -Name upg -Executable /nonexistent/gopherpack {Lab.Rt}").SingleError();
        Assert.Equal("PackUpgradeFailed,Gopherpack.PowerShell.Cmdlets.InvokePackUpgradeCommand", missing.FullyQualifiedErrorId);
        Assert.Contains("does not exist", missing.Exception.Message);
        var notRunning = PS.Run($"Invoke-PackUpgrade -Name nosuchpack {Lab.Rt}").SingleError();
        Assert.Equal("PackNotRunning,Gopherpack.PowerShell.Cmdlets.InvokePackUpgradeCommand", notRunning.FullyQualifiedErrorId);

        PS.Run($"Stop-Pack -Name upg {Lab.Rt}").AssertNoErrors();
    }
}
