using System.Management.Automation;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>Start-Pack -Wait: the master in this very process, and the other cmdlets from other runspaces of it.</summary>
public sealed class WaitTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public async Task Every_cmdlet_works_from_another_runspace_of_the_masters_process_and_Stop_pack_ends_the_wait()
    {
        var manifest = Lab.Manifest("inproc", workers: 2);
        using var waiting = PS.Start($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt} -Wait -Verbose");
        using var other = new PowerShellSession(Module.Psd1, Lab.Path);
        var pack = await Eventually.Value(() => Task.FromResult(other.Run($"Get-Pack inproc* {Lab.Rt}").Output.FirstOrDefault(p => p.Get<string>("State") == "Running")),
            TimeSpan.FromSeconds(60), "the in-process pack to run");
        Assert.Equal(Environment.ProcessId, pack.Get<int>("MasterPid"));
        Assert.Equal(2, other.Run($"Get-PackWorker -Name inproc {Lab.Rt}").AssertNoErrors().Output.Count);
        var reload = Assert.Single(other.Run($"Invoke-PackReload inproc {Lab.Rt}").AssertNoErrors().Output);
        Assert.Equal(2, reload.Get<int>("Generation"));

        var stop = other.Run($"Stop-Pack inproc {Lab.Rt} -TimeoutSec 30 -Verbose", TimeSpan.FromSeconds(60)).AssertNoErrors();
        Assert.Contains(stop.Verbose, v => v.StartsWith("pack 'inproc' stopped in", StringComparison.Ordinal));
        var waited = waiting.Wait(TimeSpan.FromSeconds(30));
        Assert.Equal(PSInvocationState.Completed, waited.State);
        Assert.Empty(waited.Errors);
        Assert.Contains(waited.Verbose, v => v.StartsWith("the master of pack 'inproc' exited with code 0", StringComparison.Ordinal));
        Assert.Null(Lab.MasterPid("inproc"));
        await NothingLeftInTheHost();
    }

    [Fact]
    public async Task Stopping_the_pipeline_stops_the_in_process_master_gracefully()
    {
        var manifest = Lab.Manifest("stoppable", workers: 1);
        using var waiting = PS.Start($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt} -Wait");
        using var other = new PowerShellSession(Module.Psd1, Lab.Path);
        var pack = await Eventually.Value(() => Task.FromResult(other.Run($"Get-Pack {Lab.Rt}").Output.FirstOrDefault(p => p.Get<string>("State") == "Running")),
            TimeSpan.FromSeconds(60), "the in-process pack to run");
        var worker = Assert.Single(other.Run($"Get-PackWorker {Lab.Rt}").Output).Get<int>("Pid");

        var stopping = Task.Run(waiting.PowerShell.Stop);
        Assert.True(await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(30))) == stopping, "PowerShell.Stop() did not return: the -Wait pipeline ignored StopProcessing");
        Assert.Equal(PSInvocationState.Stopped, waiting.Wait(TimeSpan.FromSeconds(5)).State);
        Assert.False(ProcessTable.IsAlive(worker), $"worker {worker} outlived the stopped pipeline");
        Assert.Null(Lab.MasterPid("stoppable"));
        Assert.False(File.Exists(Path.Combine(Lab.RuntimeDir, "stoppable.sock")));
        await NothingLeftInTheHost();
    }

    [Fact]
    public void A_master_that_cannot_start_is_a_PackFailed_error_with_its_reason()
    {
        var manifest = Lab.Manifest("first", workers: 1);
        StartPack(manifest);
        // Same name in the same runtime dir: the in-process master refuses to start.
        var error = PS.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt} -Wait").SingleError();
        Assert.Equal("PackFailed", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidResult, error.CategoryInfo.Category);
        Assert.Equal("first", error.TargetObject);
        Assert.Contains("the master of pack 'first' exited with code 1: setup: pack 'first' is already running", error.Exception.Message);
    }

    private static async Task NothingLeftInTheHost()
    {
        await Eventually.True(() => ProcessTable.OwnZombies().Count == 0 && ProcessTable.GopherpackThreads().Count == 0, TimeSpan.FromSeconds(10),
            $"zombies or Gopherpack threads left in the host: {string.Join(", ", ProcessTable.OwnZombies())} {string.Join(", ", ProcessTable.GopherpackThreads())}");
    }
}
