using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>Issue 13's supervisor decisions: stops that do not escalate, start with a failed slot, contained failures, queued scale steps.</summary>
public sealed class ContainmentDecisionTests : SupervisorFixture
{
    private static PackManifest Manifest(string command) => Standard(command, limitRestarts: 2);

    private protected override PackManifest Manifest() => Manifest("/bin/v1");

    private static void Ready(Supervisor supervisor) => ReadyAll(supervisor);

    [Fact]
    public void SIGQUIT_while_stopping_kills_the_draining_workers_a_repeated_SIGTERM_does_not()
    {
        var supervisor = Running(2);
        supervisor.Handle(new StopRequested("SIGTERM received"));
        supervisor.Handle(new StopRequested("SIGTERM received"));
        Assert.Equal([SIGTERM, SIGTERM], Host.Signals.Select(s => s.Signal));
        supervisor.Handle(new StopRequested("SIGQUIT received", Mode: StopMode.KillIfStopping));
        Assert.Equal([SIGTERM, SIGTERM, SIGKILL, SIGKILL], Host.Signals.Select(s => s.Signal));
    }

    [Fact]
    public void A_forced_stop_kills_every_worker_at_once()
    {
        var supervisor = Running(2);
        supervisor.Handle(new StopRequested("stop requested (--force)", Mode: StopMode.KillNow));
        Assert.Equal([SIGTERM, SIGTERM, SIGKILL, SIGKILL], Host.Signals.Select(s => s.Signal));
    }

    [Fact]
    public void A_slot_that_fails_during_start_does_not_hold_the_pack_in_Starting_and_a_reload_can_fix_it()
    {
        var supervisor = Started(2);
        supervisor.Handle(new WorkerNotified(supervisor.Slots[0].Worker!.Id, "READY=1"));
        for (var i = 0; i < 3; i++)
        {
            supervisor.Handle(new WorkerExited(supervisor.Slots[1].Worker!.Pid, ExitStatus.Exited(3)));
            foreach (var (_, due) in Host.TakeTimers<RestartDue>()) supervisor.Handle(due);
        }
        Assert.Equal(SlotState.Failed, supervisor.Slots[1].State);
        Assert.Equal(PackState.Running, supervisor.State);
        Assert.NotNull(Host.ReadyAfter);
        Assert.Contains(Host.LogLines, l => l.Contains("1 of 2 worker(s) ready") && l.Contains("failed slot(s): 1"));

        supervisor.Handle(new ReloadRequested(Manifest("/bin/fixed"), [0, 1], ReloadStrategy.Surge, Reloads.Add));
        Ready(supervisor);
        Assert.True(Assert.Single(Reloads).Ok);
        Assert.All(supervisor.Slots, s => Assert.Equal(SlotState.Active, s.State));
    }

    [Fact]
    public void A_slot_waiting_to_restart_is_in_Backoff()
    {
        var supervisor = Running(1);
        supervisor.Handle(new WorkerExited(supervisor.Slots[0].Worker!.Pid, ExitStatus.Exited(1)));
        Assert.Equal(SlotState.Backoff, supervisor.Slots[0].State);
        supervisor.Handle(Host.TakeTimers<RestartDue>().Single().Event);
        Assert.Equal(SlotState.Active, supervisor.Slots[0].State);
    }

    [Fact]
    public void An_unexpected_exception_mid_reload_fails_that_reload_and_the_old_generation_keeps_serving()
    {
        var supervisor = Running(2);
        var old = supervisor.Slots.Select(s => s.Worker).ToList();
        Host.StartFailure = new InvalidOperationException("pipe2: Too many open files");
        supervisor.Handle(new ReloadRequested(Manifest("/bin/v2"), [0, 1], ReloadStrategy.Surge, Reloads.Add));

        var result = Assert.Single(Reloads);
        Assert.False(result.Ok);
        Assert.Contains("Too many open files", result.Error);
        Assert.Contains(Host.LogLines, l => l.Contains("internal error") && l.Contains("at Gopherpack.")); // with its stack
        Assert.Equal(old, supervisor.Slots.Select(s => s.Worker));
        Assert.Equal(1, supervisor.Generation);
        Assert.Null(Host.ExitCode);
        Assert.Equal("abandon 2", Host.GenerationCalls.Last());

        // The master carries on: the next reload works.
        Host.StartFailure = null;
        supervisor.Handle(new ReloadRequested(Manifest("/bin/v2"), [0, 1], ReloadStrategy.Surge, Reloads.Add));
        Ready(supervisor);
        Assert.True(Reloads.Last().Ok);
    }

    [Fact]
    public void Two_quick_SIGTTINs_add_two_workers()
    {
        var supervisor = Running(1);
        supervisor.Handle(new ScaleStepRequested(+1, "SIGTTIN"));
        supervisor.Handle(new ScaleStepRequested(+1, "SIGTTIN"));
        Assert.Equal(2, supervisor.Slots.Count);
        Ready(supervisor);
        Assert.Equal(3, supervisor.Slots.Count);
        Ready(supervisor);
        Assert.All(supervisor.Slots, s => Assert.Equal(WorkerState.Ready, s.Worker!.State));
    }

    [Fact]
    public void A_refused_SIGTTOU_is_logged()
    {
        var supervisor = Running(1);
        supervisor.Handle(new ScaleStepRequested(-1, "SIGTTOU"));
        Assert.Single(supervisor.Slots);
        Assert.Contains(Host.LogLines, l => l.Contains("SIGTTOU failed") && l.Contains("at least one worker"));
    }

    [Fact]
    public void A_reload_keeps_the_worker_count_set_by_scale_unless_the_manifest_changes_workers()
    {
        var supervisor = Running(2);
        supervisor.Handle(new ScaleStepRequested(+1, "SIGTTIN"));
        Ready(supervisor);
        supervisor.Handle(new ReloadRequested(Manifest("/bin/v2"), [0, 1], ReloadStrategy.Surge, Reloads.Add));
        Ready(supervisor);
        Assert.True(Reloads.Last().Ok);
        Assert.Equal(3, supervisor.Slots.Count);

        supervisor.Handle(new ReloadRequested(Manifest("/bin/v3") with { Workers = 2 }, [0, 1], ReloadStrategy.Surge, Reloads.Add));
        Ready(supervisor);
        Assert.Equal(2, supervisor.Slots.Count);
    }

    [Fact]
    public void A_rejected_reload_becomes_the_last_reload_with_its_reason()
    {
        var supervisor = Running(1);
        supervisor.Handle(new ReloadRejected(new ReloadOutcome(false, 0, ReloadStrategy.Surge, TimeSpan.Zero, "/app.yml: the manifest is invalid", Output: ["/app.yml:3:5: 'workers' must be auto or 1..1024"]), "refused (SIGHUP): ..."));
        Assert.False(supervisor.LastReload!.Ok);
        Assert.Equal(1, supervisor.LastReload.Generation);
        Assert.Contains("/app.yml:3:5", Assert.Single(supervisor.LastReload.Output!));
    }
}
