using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

public sealed class ReloadDecisionTests : SupervisorFixture
{
    private static PackManifest Manifest(string command) => Bare(command) with { Restart = new RestartSpec { LimitRestarts = 3 } };

    private protected override PackManifest Manifest() => Manifest("/bin/v1");

    /// <summary>A running pack whose start signals are forgotten: the test sees only what the reload sends.</summary>
    private Supervisor Running(int workers = 2)
    {
        var supervisor = base.Running(workers);
        Host.Signals.Clear();
        return supervisor;
    }

    private void Reload(Supervisor supervisor, ReloadStrategy strategy, int workers = 2) => Reload(supervisor, Manifest("/bin/v2"), strategy, workers);

    [Fact]
    public void Surge_starts_a_whole_generation_and_stops_the_old_one_only_when_all_are_ready()
    {
        var supervisor = Running();
        var old = OfGeneration(supervisor, 1);
        Host.Now += TimeSpan.FromMilliseconds(10);
        Reload(supervisor, ReloadStrategy.Surge);
        var fresh = OfGeneration(supervisor, 2);
        Assert.Equal(2, fresh.Count);
        Assert.Equal("prepare 2 (2 slots)", Host.GenerationCalls.Single());

        Ready(supervisor, fresh[0]);
        Assert.Empty(Host.Signals);
        Assert.Empty(Reloads);
        Host.Now += TimeSpan.FromMilliseconds(300);
        Ready(supervisor, fresh[1]);

        Assert.Equal(old.Select(w => (w.Pid, SIGTERM)), Host.Signals);
        var result = Assert.Single(Reloads);
        Assert.True(result.Ok);
        Assert.Equal(2, result.Generation);
        Assert.Equal(TimeSpan.FromMilliseconds(300), result.Duration);
        Assert.Equal(2, supervisor.Generation);
        Assert.Equal("/bin/v2", supervisor.Manifest.Command);
        Assert.Equal(fresh, supervisor.Slots.Select(s => s.Worker));
        Assert.Equal("commit 2", Host.GenerationCalls.Last());
    }

    [Fact]
    public void Rolling_replaces_one_slot_at_a_time()
    {
        var supervisor = Running();
        var old = OfGeneration(supervisor, 1);
        Reload(supervisor, ReloadStrategy.Rolling);
        var first = Assert.Single(OfGeneration(supervisor, 2));
        Assert.Equal(0, first.Slot);

        Ready(supervisor, first);
        Assert.Equal((old[0].Pid, SIGTERM), Host.Signals.Single());
        var second = OfGeneration(supervisor, 2).Single(w => w.Slot == 1);
        Assert.Empty(Reloads);

        Ready(supervisor, second);
        Assert.Equal([(old[0].Pid, SIGTERM), (old[1].Pid, SIGTERM)], Host.Signals);
        Assert.True(Assert.Single(Reloads).Ok);
    }

    [Fact]
    public void A_new_worker_crashing_fails_the_reload_stops_the_new_generation_and_keeps_the_old()
    {
        var supervisor = Running();
        var old = OfGeneration(supervisor, 1);
        Reload(supervisor, ReloadStrategy.Surge);
        var fresh = OfGeneration(supervisor, 2);
        Ready(supervisor, fresh[0]);
        supervisor.Handle(new WorkerExited(fresh[1].Pid, ExitStatus.Exited(1), ["last line of " + fresh[1].Id]));

        var result = Assert.Single(Reloads);
        Assert.False(result.Ok);
        Assert.Equal(1, result.Generation);
        Assert.Contains("slot 1", result.Error);
        Assert.Contains("exited before it was ready (exit code 1)", result.Error);
        Assert.Equal(fresh[1].Pid, result.FailedPid);
        Assert.Equal(["last line of " + fresh[1].Id], result.Output);
        Assert.Equal((fresh[0].Pid, SIGTERM), Host.Signals.Single());
        Assert.Equal("abandon 2", Host.GenerationCalls.Last());
        Assert.Equal(old, supervisor.Slots.Select(s => s.Worker));
        Assert.Equal(1, supervisor.Generation);
        Assert.Empty(Host.TakeTimers<RestartDue>());
    }

    [Fact]
    public void A_rolling_failure_gives_the_switched_slots_old_generation_workers_again()
    {
        var supervisor = Running();
        Reload(supervisor, ReloadStrategy.Rolling);
        var first = Assert.Single(OfGeneration(supervisor, 2));
        Ready(supervisor, first);
        var second = OfGeneration(supervisor, 2).Single(w => w.Slot == 1);
        var launchesBefore = Host.Launches.Count;
        supervisor.Handle(Host.TakeTimers<ReadyDeadline>().Single(t => t.Event.WorkerId == second.Id).Event);
        supervisor.Handle(new WorkerExited(second.Pid, ExitStatus.Killed(9)));

        Assert.Contains("not ready within 30s", Assert.Single(Reloads).Error);
        var relaunch = Host.Launches.Skip(launchesBefore).Single();
        Assert.Equal((0, 1), (relaunch.Slot, relaunch.Generation));
        Assert.Contains((first.Pid, SIGTERM), Host.Signals);
    }

    [Fact]
    public void A_second_reload_is_refused_while_one_runs_and_so_is_a_reload_while_an_upgraded_master_starts()
    {
        var supervisor = Running();
        Reload(supervisor, ReloadStrategy.Surge);
        Reload(supervisor, ReloadStrategy.Surge);
        var refused = Assert.Single(Reloads);
        Assert.True(refused.Refused);
        Assert.Contains("a reload is already running (generation 2", refused.Error);

        // A reload while starting supersedes the start (ReloadWhileStartingTests), except in the new master of an
        // upgrade: its first generation comes up as it is or fails the upgrade.
        var starting = new Supervisor(Manifest(), [0], new RecordingHost()) { StartFailed = _ => { } };
        starting.Handle(new StartRequested());
        starting.Handle(new ReloadRequested(Manifest(), [0], ReloadStrategy.Surge, Reloads.Add));
        Assert.Contains("still starting", Reloads.Last().Error);
        Assert.True(Reloads.Last().Refused);
        // A scale meets the same refusal as a reload (busy, exit 3), not a plain failure.
        var scaled = new List<ScaleResult>();
        starting.Handle(new ScaleRequested([0, 1], scaled.Add));
        Assert.Equal(new ScaleResult(false, 1, "the pack is still starting", Refused: true), Assert.Single(scaled));
    }

    [Fact]
    public void A_generation_that_cannot_bind_fails_before_any_worker_starts()
    {
        var supervisor = Running();
        var launches = Host.Launches.Count;
        Host.PrepareFailure = "listener 'http': cannot listen on tcp://127.0.0.1:80: Permission denied";
        Reload(supervisor, ReloadStrategy.Surge);
        Assert.Equal(Host.PrepareFailure, Assert.Single(Reloads).Error);
        Assert.Equal(launches, Host.Launches.Count);
        Assert.False(supervisor.Reloading);
    }

    [Fact]
    public void Stopping_during_a_rolling_reload_fails_it_and_starts_nothing_new()
    {
        var supervisor = Running();
        Reload(supervisor, ReloadStrategy.Rolling);
        Ready(supervisor, Assert.Single(OfGeneration(supervisor, 2)));
        var launches = Host.Launches.Count;
        supervisor.Handle(new StopRequested("SIGTERM received"));
        Assert.Equal("the pack is stopping", Assert.Single(Reloads).Error);
        Assert.Equal(launches, Host.Launches.Count);
        Assert.All(supervisor.Workers, w => Assert.True(w.StopRequested));
    }

    [Fact]
    public void Scale_up_answers_when_the_new_workers_are_ready_and_scale_down_stops_the_highest_slots()
    {
        var supervisor = Running(2);
        var scaled = new List<ScaleResult>();
        supervisor.Handle(new ScaleRequested([0, 1, 0], scaled.Add));
        Assert.Equal(3, Host.Resizes.Single());
        Assert.Empty(scaled);
        Ready(supervisor, supervisor.Slots[2].Worker!);
        Assert.Equal(new ScaleResult(true, 3), scaled.Single());

        var highest = supervisor.Slots[2].Worker!;
        var middle = supervisor.Slots[1].Worker!;
        supervisor.Handle(new ScaleRequested([0], scaled.Add));
        Assert.Equal(new ScaleResult(true, 1), scaled.Last());
        Assert.Equal([(highest.Pid, SIGTERM), (middle.Pid, SIGTERM)], Host.Signals.OrderByDescending(s => s.Pid == highest.Pid));
        Assert.Single(supervisor.Slots);
        supervisor.Handle(new WorkerExited(highest.Pid, ExitStatus.Exited(0)));
        Assert.Empty(Host.TakeTimers<RestartDue>());
    }
}
