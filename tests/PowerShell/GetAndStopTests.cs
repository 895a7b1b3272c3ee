using System.Management.Automation;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>Get-Pack, Get-PackWorker and Stop-Pack over several live packs: names, wildcards, the pipeline, -WhatIf, errors.</summary>
public sealed class GetAndStopTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public void Names_wildcards_and_the_pipeline_select_packs_and_their_workers()
    {
        var api1 = StartPack(Lab.Manifest("api-one", workers: 1));
        var api2 = StartPack(Lab.Manifest("api-two", workers: 2));
        StartPack(Lab.Manifest("web", workers: 1));

        Assert.Equal(["api-one", "api-two", "web"], Names(PS.Run($"Get-Pack {Lab.Rt}").AssertNoErrors()));
        Assert.Equal(["api-one", "api-two"], Names(PS.Run($"Get-Pack -Name 'api*' {Lab.Rt} -Verbose").AssertNoErrors()));
        Assert.Equal(["web", "api-two"], Names(PS.Run($"'web', 'api-t?o' | Get-Pack {Lab.Rt}").AssertNoErrors()));
        Assert.Equal(["web"], Names(PS.Run($"Get-Pack -Name 'w*', web {Lab.Rt}").AssertNoErrors()));
        Assert.Empty(PS.Run($"Get-Pack -Name 'nothing*' {Lab.Rt}").AssertNoErrors().Output);

        var workers = PS.Run($"Get-PackWorker -Name 'api*' {Lab.Rt}").AssertNoErrors().Output;
        Assert.Equal(3, workers.Count);
        Assert.All(workers, w => Assert.Equal("Gopherpack.Model.PackWorker", w.TypeNames[0]));
        Assert.All(workers, w => Assert.Equal("Ready", w.Get<string>("State")));
        Assert.All(workers, w => Assert.True(ProcessTable.IsAlive(w.Get<int>("Pid"))));
        Assert.Equal(["api-one", "api-two", "api-two"], workers.Select(w => w.Get<string>("Pack")).ToList());
        // A Pack binds to -Name by property name.
        Assert.Equal(2, PS.Run($"Get-Pack api-two {Lab.Rt} | Get-PackWorker {Lab.Rt}").AssertNoErrors().Output.Count);
        Assert.Equal(api1.Get<int>("MasterPid"), Assert.Single(PS.Run($"Get-Pack api-one {Lab.Rt}").Output).Get<int>("MasterPid"));
        Assert.Equal(api2.Get<string>("Listeners"), Assert.Single(PS.Run($"Get-Pack api-two {Lab.Rt}").Output).Get<string>("Listeners"));
    }

    [Fact]
    public void A_literal_name_that_is_not_running_is_a_non_terminating_PackNotRunning_error()
    {
        StartPack(Lab.Manifest("here", workers: 1));
        foreach (var command in new[] { "Get-Pack", "Get-PackWorker", "Stop-Pack -Confirm:$false" })
        {
            var result = PS.Run($"{command} -Name nosuch, here {Lab.Rt}; 'next statement'");
            var error = result.SingleError();
            Assert.Equal("PackNotRunning", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
            Assert.Equal("nosuch", error.TargetObject);
            Assert.Contains($"pack 'nosuch' is not running (no master answers in {Lab.RuntimeDir}", error.Exception.Message);
            Assert.Equal("next statement", result.Output[^1].BaseObject);
        }
        var stop = PS.Run($"Stop-Pack -Name nosuch {Lab.Rt} -ErrorAction Stop; 'not reached'");
        Assert.Equal("PackNotRunning", stop.SingleError().FullyQualifiedErrorId.Split(',')[0]);
        Assert.DoesNotContain(stop.Output, o => o.BaseObject is "not reached");
    }

    [Fact]
    public void Stop_pack_WhatIf_stops_nothing_and_says_what_it_would_do()
    {
        StartPack(Lab.Manifest("keep-a", workers: 1));
        StartPack(Lab.Manifest("keep-b", workers: 1));
        PS.Host.TakeText();
        PS.Run($"Stop-Pack 'keep-*' {Lab.Rt} -WhatIf").AssertNoErrors();
        var text = PS.Host.TakeText();
        Assert.Contains("What if: Performing the operation \"Stop pack\" on target \"keep-a\".", text);
        Assert.Contains("What if: Performing the operation \"Stop pack\" on target \"keep-b\".", text);
        Assert.Equal(["Running", "Running"], PS.Run($"Get-Pack {Lab.Rt}").Output.Select(p => p.Get<string>("State")).ToList());
    }

    [Fact]
    public async Task Workers_of_several_packs_piped_to_Stop_pack_stop_each_pack_once_and_leave_no_process()
    {
        var packs = new[] { "batch-a", "batch-b", "other" }.Select(n => StartPack(Lab.Manifest(n, workers: 2))).ToList();
        var pids = PS.Run($"Get-PackWorker {Lab.Rt}").Output.Select(w => w.Get<int>("Pid")).Concat(packs.Select(p => p.Get<int>("MasterPid"))).ToList();

        var stopped = PS.Run($"Get-PackWorker 'batch-*' {Lab.Rt} | Stop-Pack {Lab.Rt} -Confirm:$false -PassThru -Verbose").AssertNoErrors();
        Assert.Equal(["batch-a", "batch-b"], Names(stopped));
        Assert.All(stopped.Output, p => Assert.Equal("Stopped", p.Get<string>("State")));
        Assert.Equal(2, stopped.Verbose.Count(v => v.Contains("' stopped in ", StringComparison.Ordinal)));
        Assert.Equal(["other"], Names(PS.Run($"Get-Pack {Lab.Rt}")));

        PS.Run($"Get-Pack {Lab.Rt} | Stop-Pack {Lab.Rt} -Confirm:$false").AssertNoErrors();
        Assert.Empty(PS.Run($"Get-Pack {Lab.Rt}").AssertNoErrors().Output);
        await Eventually.True(() => !pids.Any(ProcessTable.IsAlive), TimeSpan.FromSeconds(10), "every master and worker to be gone");
        Assert.Empty(Directory.GetFiles(Lab.RuntimeDir, "*.sock"));
        Assert.Empty(Directory.GetFiles(Lab.RuntimeDir, "*.pid"));
        await Eventually.True(() => ProcessTable.OwnZombies().Count == 0, TimeSpan.FromSeconds(10), "no zombie left in the host");
    }

    [Fact]
    public async Task Stop_pack_past_TimeoutSec_is_PackTimeout_while_the_stop_goes_on()
    {
        var pack = StartPack(Lab.Manifest("stubborn", workers: 1, workerArgs: "--ignore-term", stopTimeout: "4s"));
        var error = PS.Run($"Stop-Pack stubborn {Lab.Rt} -TimeoutSec 1").SingleError();
        Assert.Equal("PackTimeout", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
        Assert.Equal("stubborn", error.TargetObject);
        Assert.Contains("pack 'stubborn' did not stop within 1 s; its master goes on stopping it", error.Exception.Message);
        var master = pack.Get<int>("MasterPid");
        await Eventually.True(() => !ProcessTable.IsAlive(master), TimeSpan.FromSeconds(30), "the master to finish the stop after stop.timeout");
    }

    private static List<string> Names(ScriptResult result) => result.Output.Select(p => p.Get<string>("Name")).ToList();
}
