using System.Management.Automation;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>Start-Pack without -Wait, from this process: a PowerShell host that is not pwsh.</summary>
public sealed class StartPackTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public async Task Start_pack_launches_the_module_folders_gopherpack_and_returns_the_pack_once_every_worker_is_ready()
    {
        var manifest = Lab.Manifest("api", workers: 2);
        var result = PS.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt} -Verbose").AssertNoErrors();

        var pack = Assert.Single(result.Output);
        Assert.Equal("Gopherpack.Model.Pack", pack.TypeNames[0]);
        Assert.Equal("api", pack.Get<string>("Name"));
        Assert.Equal("Running", pack.Get<string>("State"));
        Assert.Equal(2, pack.Get<int>("Workers"));
        Assert.Equal(2, pack.Get<int>("Ready"));
        Assert.Equal(Lab.RuntimeDir, pack.Get<string>("RuntimeDirectory"));
        var master = pack.Get<int>("MasterPid");
        // The master is the module folder's native gopherpack, not this host's executable (dotnet testhost) relaunched.
        Assert.Equal(Module.Master, ProcessTable.Executable(master));
        Assert.Contains("pid", await PackLab.Get(pack.Get<string>("Listeners")));

        // Progress and verbose came through the pipeline thread (a write from any other thread is an InvalidOperation error).
        Assert.Contains(result.Progress, p => p.Activity == "Start-Pack" && p.StatusDescription.EndsWith("workers ready", StringComparison.Ordinal));
        Assert.Contains(result.Progress, p => p.RecordType == ProgressRecordType.Completed);
        Assert.Contains(result.Verbose, v => v.StartsWith($"starting the master {Module.Master} for {manifest}", StringComparison.Ordinal));
        Assert.Contains(result.Verbose, v => v.StartsWith($"pack 'api' is running: master pid {master}, 2 worker(s) ready", StringComparison.Ordinal));
    }

    [Fact]
    public void Progress_is_written_even_when_the_session_hides_it()
    {
        var manifest = Lab.Manifest("quiet", workers: 1);
        var result = PS.Run($"$ProgressPreference = 'SilentlyContinue'; Start-Pack {PackLab.Quote(manifest)} {Lab.Rt}").AssertNoErrors();
        Assert.Equal("Running", Assert.Single(result.Output).Get<string>("State"));
    }

    [Fact]
    public void An_invalid_manifest_is_a_terminating_ManifestInvalid_error_with_file_line_and_column()
    {
        var invalid = Lab.File("invalid.yml", "name: api\ncomand: dotnet\n");
        var result = PS.Run($"Start-Pack -Manifest {PackLab.Quote(invalid)} {Lab.Rt}; 'after'");
        var error = result.SingleError();
        Assert.Equal("ManifestInvalid,Gopherpack.PowerShell.Cmdlets.StartPackCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Equal(invalid, error.TargetObject);
        Assert.Contains($"{invalid}:2:1: unknown key 'comand' in the manifest; did you mean 'command'?", error.Exception.Message);
        Assert.False(Directory.Exists(Lab.RuntimeDir) && Directory.GetFiles(Lab.RuntimeDir, "*.pid").Length > 0);

        // With AddCommand the terminating error is the exception Invoke throws, carrying the same ErrorRecord.
        var thrown = Assert.Throws<CmdletInvocationException>(() => PS.Command("Start-Pack", new Dictionary<string, object?> { ["Manifest"] = invalid, ["RuntimeDir"] = Lab.RuntimeDir }));
        Assert.Equal("ManifestInvalid,Gopherpack.PowerShell.Cmdlets.StartPackCommand", thrown.ErrorRecord.FullyQualifiedErrorId);
    }

    [Fact]
    public void A_pack_whose_workers_crash_is_PackStartFailed_with_the_masters_last_lines_and_leaves_nothing_running()
    {
        var manifest = Lab.Manifest("crashy", workers: 1, workerArgs: "--crash", extra: "restart: { backoff: { initial: 10ms, max: 10ms }, limit: { restarts: 1, window: 60s } }");
        var error = PS.Run($"Start-Pack {PackLab.Quote(manifest)} {Lab.Rt}").SingleError();
        Assert.Equal("PackStartFailed", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidResult, error.CategoryInfo.Category);
        Assert.Equal(manifest, error.TargetObject);
        Assert.Contains("crashing on purpose", error.Exception.Message);
        Assert.Empty(PS.Run($"Get-Pack {Lab.Rt}").AssertNoErrors().Output);
    }

    [Fact]
    public void A_pack_not_ready_within_TimeoutSec_is_stopped_again_and_a_second_start_of_a_running_pack_fails()
    {
        var slow = Lab.Manifest("slow", workers: 1, workerArgs: "--never-ready");
        var error = PS.Run($"Start-Pack {PackLab.Quote(slow)} -TimeoutSec 2 {Lab.Rt}").SingleError();
        Assert.Equal("PackStartFailed", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("not ready within 2s; it was stopped", error.Exception.Message);
        Assert.Null(Lab.MasterPid("slow"));

        var manifest = Lab.Manifest("once", workers: 1);
        var master = StartPack(manifest).Get<int>("MasterPid");
        error = PS.Run($"Start-Pack {PackLab.Quote(manifest)} {Lab.Rt}").SingleError();
        Assert.Equal("PackStartFailed", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains($"pack 'once' is already running (master pid {master})", error.Exception.Message);
    }

    [Fact]
    public async Task Stopping_the_pipeline_during_Start_pack_stops_the_half_started_pack_and_leaves_no_zombie()
    {
        var slow = Lab.Manifest("halfway", workers: 1, workerArgs: "--never-ready");
        using var running = PS.Start($"Start-Pack {PackLab.Quote(slow)} {Lab.Rt}");
        int master = 0;
        await Eventually.True(() => Lab.MasterPid("halfway") is { } pid && (master = pid) > 0, TimeSpan.FromSeconds(30), "the master to write its pid file");
        running.PowerShell.Stop();
        var result = running.Wait(TimeSpan.FromSeconds(30));
        Assert.Equal(PSInvocationState.Stopped, result.State);
        await Eventually.True(() => !File.Exists($"/proc/{master}/stat"), TimeSpan.FromSeconds(30), $"the half-started master {master} to stop and be reaped");
    }
}
