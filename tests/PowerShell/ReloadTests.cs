using System.Management.Automation;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>Invoke-PackReload against a live pack: the result object and every way a reload can be refused or fail.</summary>
public sealed class ReloadTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public void A_good_reload_returns_a_ReloadResult_and_the_new_generation_serves()
    {
        var manifest = Lab.Manifest("rl", workers: 2);
        StartPack(manifest);
        var surge = Assert.Single(PS.Run($"Invoke-PackReload -Name rl {Lab.Rt} -Verbose").AssertNoErrors().Output);
        Assert.Equal("Gopherpack.Model.ReloadResult", surge.TypeNames[0]);
        Assert.True(surge.Get<bool>("Succeeded"));
        Assert.Equal(2, surge.Get<int>("Generation"));
        Assert.Equal("surge", surge.Get<string>("Strategy"));

        // By property name from a Pack, with another manifest and a strategy.
        var rolling = Assert.Single(PS.Run($"Get-Pack rl {Lab.Rt} | Invoke-PackReload -Manifest {PackLab.Quote(manifest)} -Strategy Rolling {Lab.Rt}").AssertNoErrors().Output);
        Assert.Equal(3, rolling.Get<int>("Generation"));
        Assert.Equal("rolling", rolling.Get<string>("Strategy"));
        var serving = PS.Run($"Get-PackWorker rl {Lab.Rt} | Where-Object State -eq Ready").Output;
        Assert.Equal([3, 3], serving.Select(w => w.Get<int>("Generation")).ToList());
    }

    [Fact]
    public async Task A_crashing_new_version_is_a_terminating_PackReloadFailed_and_the_old_pids_still_serve()
    {
        var pack = StartPack(Lab.Manifest("keep", workers: 2));
        var old = PS.Run($"Get-PackWorker keep {Lab.Rt}").Output.Select(w => w.Get<int>("Pid")).Order().ToList();
        var broken = Lab.Manifest("keep", workers: 2, workerArgs: "--crash", file: "broken.yml");

        var result = PS.Run($"$ErrorActionPreference = 'Stop'; Invoke-PackReload keep -Manifest {PackLab.Quote(broken)} {Lab.Rt}; 'not reached'");
        var error = result.SingleError();
        Assert.Equal("PackReloadFailed,Gopherpack.PowerShell.Cmdlets.InvokePackReloadCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidResult, error.CategoryInfo.Category);
        Assert.Equal("keep", error.TargetObject);
        Assert.Contains("crashing on purpose", error.Exception.Message);
        Assert.Empty(result.Output);

        var thrown = Assert.Throws<CmdletInvocationException>(() => PS.Command("Invoke-PackReload", new Dictionary<string, object?> { ["Name"] = "keep", ["Manifest"] = broken, ["RuntimeDir"] = Lab.RuntimeDir }));
        Assert.Equal("PackReloadFailed", thrown.ErrorRecord.FullyQualifiedErrorId.Split(',')[0]);

        Assert.Equal(old, PS.Run($"Get-PackWorker keep {Lab.Rt} | Where-Object State -eq Ready").Output.Select(w => w.Get<int>("Pid")).Order().ToList());
        for (var i = 0; i < 10; i++)
        {
            var body = await PackLab.Get(pack.Get<string>("Listeners"));
            Assert.Contains(old, pid => body.Contains($"\"pid\":{pid},", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void An_invalid_manifest_and_one_that_names_another_pack_are_ManifestInvalid_not_busy()
    {
        StartPack(Lab.Manifest("mine", workers: 1));
        var invalid = Lab.File("bad.yml", "name: mine\ncommand: dotnet\nworkers: lots\n");
        var error = PS.Run($"Invoke-PackReload mine -Manifest {PackLab.Quote(invalid)} {Lab.Rt}").SingleError();
        Assert.Equal("ManifestInvalid", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Contains($"{invalid}:3:10: 'workers'", error.Exception.Message);

        var other = Lab.Manifest("theirs", workers: 1);
        error = PS.Run($"Invoke-PackReload mine -Manifest {PackLab.Quote(other)} {Lab.Rt}").SingleError();
        Assert.Equal("ManifestInvalid", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal("mine", error.TargetObject);
        Assert.Contains("the manifest names pack 'theirs', this pack is 'mine'; nothing changed", error.Exception.Message);
        Assert.Equal(1, Assert.Single(PS.Run($"Get-Pack mine {Lab.Rt}").Output).Get<int>("Generation"));
    }

    [Fact]
    public async Task A_reload_while_another_runs_is_PackBusy_and_a_pack_that_is_not_running_is_PackNotRunning()
    {
        StartPack(Lab.Manifest("busy", workers: 1));
        // A worker that never sends READY=1, so the master takes it as ready only after the whole delay (READY=1 would end it early).
        var slow = Lab.Manifest("busy", workers: 1, workerArgs: "--never-ready", file: "slow.yml", extra: "ready: { mode: delay, delay: 4s, timeout: 30s }");
        using var first = PS.Start($"Invoke-PackReload busy -Manifest {PackLab.Quote(slow)} {Lab.Rt}");
        using var other = new PowerShellSession(Module.Psd1, Lab.Path);
        await Eventually.True(() => other.Run($"Get-Pack busy {Lab.Rt}").Output.SingleOrDefault()?.Get<string>("State") == "Reloading",
            TimeSpan.FromSeconds(30), "the first reload to be running");
        var error = other.Run($"Invoke-PackReload busy {Lab.Rt}").SingleError();
        Assert.Equal("PackBusy", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ResourceBusy, error.CategoryInfo.Category);
        Assert.Equal("busy", error.TargetObject);
        Assert.Contains("a reload is already running", error.Exception.Message);
        Assert.True(Assert.Single(first.Wait(TimeSpan.FromSeconds(60)).AssertNoErrors().Output).Get<bool>("Succeeded"));

        error = PS.Run($"Invoke-PackReload nosuch {Lab.Rt}").SingleError();
        Assert.Equal("PackNotRunning", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Equal("nosuch", error.TargetObject);
    }
}
