using System.Management.Automation;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>Tab completion of -Name, as the engine's completion (what TabExpansion2 calls) offers it.</summary>
public sealed class CompletionTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public void Name_completes_the_running_packs_of_the_runtime_dir_given()
    {
        StartPack(Lab.Manifest("comp-a", workers: 1));
        StartPack(Lab.Manifest("comp-b", workers: 1));
        StartPack(Lab.Manifest("other", workers: 1));

        Assert.Equal(["comp-a", "comp-b"], Complete($"Get-Pack {Lab.Rt} -Name comp"));
        Assert.Equal(["comp-a", "comp-b", "other"], Complete($"Get-PackWorker {Lab.Rt} -Name "));
        Assert.Equal(["other"], Complete($"Invoke-PackReload {Lab.Rt} -Name o"));
        Assert.Equal(["comp-b"], Complete($"Stop-Pack {Lab.Rt} comp-b"));
        // A relative -RuntimeDir is relative to the session's location (the lab), not to this process's working directory.
        Assert.Equal(["comp-a", "comp-b"], Complete("Get-Pack -RuntimeDir ./rt -Name co"));
        Assert.Empty(Complete($"Get-Pack {Lab.Rt} -Name zzz"));
    }

    private List<string> Complete(string input)
    {
        using var ps = System.Management.Automation.PowerShell.Create(PS.Runspace);
        var completion = CommandCompletion.CompleteInput(input, input.Length, null, ps);
        return completion.CompletionMatches.Select(m => m.CompletionText).ToList();
    }
}
