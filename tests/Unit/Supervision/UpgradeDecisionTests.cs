using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>
/// The old master's decisions in an upgrade of the master, on the fake clock: the new master's handshake arrives as
/// events (what its status pipe says, its exit, the timeout) and the test reads what the supervisor did through the host.
/// </summary>
public sealed class UpgradeDecisionTests : SupervisorFixture
{
    private const int Child = 5000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private List<UpgradeOutcome> Upgrades { get; } = [];

    /// <summary>A running pack whose start signals are forgotten: the test sees only what the upgrade sends.</summary>
    private Supervisor Running()
    {
        var supervisor = base.Running(2);
        Host.Signals.Clear();
        return supervisor;
    }

    private void Upgrade(Supervisor supervisor, string? executable = null) =>
        supervisor.Handle(new UpgradeRequested(executable, Timeout, "client pid 42", Upgrades.Add));

    /// <summary>A running pack whose upgrade's new master got ready and was told to commit.</summary>
    private Supervisor Committed()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorReady(Child));
        return supervisor;
    }

    [Fact]
    public void A_new_master_that_gets_ready_is_told_to_commit_and_once_it_took_over_this_pack_drains()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        Assert.Equal(["start 5000"], Host.SuccessorCalls);
        Assert.True(supervisor.Upgrading);
        Assert.Equal(["RELOADING upgrading: new master pid 5000 starting"], Host.ServiceManager);
        var timeout = Assert.Single(Host.TakeTimers<UpgradeTimedOut>());
        Assert.Equal((Timeout, new UpgradeTimedOut(Child)), timeout);
        // Meanwhile this pack serves: nothing is signalled.
        Assert.Empty(Host.Signals);

        Host.Now += TimeSpan.FromMilliseconds(700);
        supervisor.Handle(new SuccessorReady(Child));
        Assert.Equal(["start 5000", "commit 5000"], Host.SuccessorCalls);
        Assert.Empty(Upgrades);
        supervisor.Handle(new SuccessorTookOver(Child, 2));

        var done = Assert.Single(Upgrades);
        Assert.Equal(new UpgradeOutcome(true, Child, 2, TimeSpan.FromMilliseconds(700)), done);
        Assert.Equal("hand over 5000 5000", Host.SuccessorCalls.Last());
        // Replaced: the workers are asked to stop gracefully, and the master exits when they have.
        Assert.Equal(PackState.Stopping, supervisor.State);
        Assert.Equal(supervisor.LivePids.Select(pid => (pid, SIGTERM)).Order(), Host.Signals.Order());
        Assert.Contains(Host.LogLines, l => l.Contains("replaced by master pid 5000"));
        Assert.DoesNotContain(Host.ServiceManager, s => s.StartsWith("READY", StringComparison.Ordinal));
    }

    [Fact]
    public void Through_a_wrapper_script_the_new_master_it_names_is_the_one_reported_and_the_one_told_to_stop()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorNamed(Child, 6001));
        Assert.Contains(Host.LogLines, l => l.Contains("the new master is pid 6001, started by pid 5000"));
        supervisor.Handle(new SuccessorFailed(Child, "slot 0 exited with code 1"));

        var failed = Assert.Single(Upgrades);
        Assert.False(failed.Ok);
        Assert.False(failed.Refused);
        Assert.Equal(6001, failed.NewPid);
        Assert.Equal("slot 0 exited with code 1", failed.Error);
        Assert.Equal(["start 5000", "stop 5000 6001"], Host.SuccessorCalls);
    }

    [Fact]
    public void A_failed_upgrade_stops_its_new_master_kills_it_after_the_stop_timeout_and_the_pack_serves_on()
    {
        var supervisor = Running();
        var workers = supervisor.LivePids.ToList();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorFailed(Child, "it could not bind"));

        Assert.Equal(PackState.Running, supervisor.State);
        Assert.False(supervisor.Upgrading);
        Assert.Equal(workers, supervisor.LivePids.ToList());
        Assert.Empty(Host.Signals);
        Assert.Equal("READY serving generation 1; the last upgrade failed: it could not bind", Host.ServiceManager.Last());
        // stop.timeout (5 s) for its workers to drain, and 5 s more for itself.
        var kill = Assert.Single(Host.TakeTimers<SuccessorKillDue>());
        Assert.Equal((TimeSpan.FromSeconds(10), new SuccessorKillDue(Child)), kill);
        supervisor.Handle(kill.Event);
        Assert.Equal(["start 5000", "stop 5000 5000", "kill 5000"], Host.SuccessorCalls);

        // The pack takes another operation at once.
        Reload(supervisor, Standard("/bin/v2"));
        Assert.True(supervisor.Reloading);
    }

    [Fact]
    public void The_timeout_ends_an_upgrade_whose_new_master_is_not_ready_but_not_one_already_told_to_commit()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        var first = Assert.Single(Host.TakeTimers<UpgradeTimedOut>()).Event;
        supervisor.Handle(first);
        Assert.Contains("the new master (pid 5000) was not ready within 30s (--timeout)", Assert.Single(Upgrades).Error);

        // A second upgrade gets ready just before its timeout: the commit is under way, the timeout changes nothing.
        Upgrade(supervisor);
        var second = Assert.Single(Host.TakeTimers<UpgradeTimedOut>()).Event;
        supervisor.Handle(new SuccessorReady(5001));
        supervisor.Handle(second);
        Assert.Single(Upgrades);
        Assert.True(supervisor.Upgrading);
        supervisor.Handle(new SuccessorTookOver(5001, 2));
        Assert.True(Upgrades.Last().Ok);
    }

    [Fact]
    public void A_new_master_that_exits_or_is_gone_at_commit_fails_the_upgrade_with_the_reason()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorExited(Child, null));
        Assert.Contains("exited before it took over; its output is in the master's log", Upgrades[0].Error);

        Upgrade(supervisor);
        supervisor.Handle(new SuccessorExited(5001, ExitStatus.Exited(3)));
        Assert.Equal("the new master (pid 5001) exited before it took over (exit code 3)", Upgrades[1].Error);

        Host.SuccessorGone = true;
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorReady(5002));
        Assert.Equal("the new master (pid 5002) went away while taking over", Upgrades[2].Error);
        Assert.All(Upgrades, u => Assert.False(u.Ok));
        Assert.Equal(PackState.Running, supervisor.State);
    }

    [Fact]
    public void News_of_an_upgrade_that_has_ended_changes_nothing()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorFailed(Child, "first"));
        Upgrade(supervisor);
        // The first new master's last words and exit, and its old timer, arrive during the second upgrade.
        supervisor.Handle(new SuccessorTookOver(Child, 2));
        supervisor.Handle(new SuccessorExited(Child, ExitStatus.Exited(3)));
        supervisor.Handle(new UpgradeTimedOut(Child));
        Assert.Single(Upgrades);
        Assert.True(supervisor.Upgrading);
        Assert.Equal(PackState.Running, supervisor.State);
        Assert.DoesNotContain(Host.SuccessorCalls, c => c.StartsWith("hand over", StringComparison.Ordinal));
    }

    [Fact]
    public void A_new_master_that_cannot_be_started_fails_the_upgrade_and_leaves_the_pack_free()
    {
        var supervisor = Running();
        Host.SuccessorStartFailure = "executable '/opt/gp' does not exist";
        Upgrade(supervisor, "/opt/gp");
        var failed = Assert.Single(Upgrades);
        Assert.Equal(new UpgradeOutcome(false, null, null, TimeSpan.Zero, "executable '/opt/gp' does not exist"), failed);
        Assert.False(supervisor.Upgrading);
        Assert.Empty(Host.TakeTimers<UpgradeTimedOut>());
    }

    [Fact]
    public void Reload_scale_and_upgrade_refuse_each_other_in_one_wording()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        Host.Now += TimeSpan.FromSeconds(2);
        Reload(supervisor, Standard("/bin/v2"));
        var scaled = new List<ScaleResult>();
        supervisor.Handle(new ScaleRequested(Cpus(3), scaled.Add));
        Upgrade(supervisor);
        const string busy = "an upgrade is already running (new master pid 5000, started 2s ago); try again when it has finished";
        Assert.Equal(new ReloadOutcome(false, 1, ReloadStrategy.Surge, TimeSpan.Zero, busy, Refused: true), Assert.Single(Reloads));
        Assert.Equal(new ScaleResult(false, 2, busy, Refused: true), Assert.Single(scaled));
        Assert.Equal(new UpgradeOutcome(false, null, null, TimeSpan.Zero, busy, Refused: true), Assert.Single(Upgrades));
        Assert.Equal(["start 5000"], Host.SuccessorCalls);

        // And the other way round: an upgrade during a reload or a scale.
        supervisor.Handle(new SuccessorFailed(Child, "gone"));
        Upgrades.Clear();
        Reload(supervisor, Standard("/bin/v2"));
        Upgrade(supervisor);
        Assert.StartsWith("a reload is already running (generation 2, started ", Assert.Single(Upgrades).Error);
        ReadyAll(supervisor);
        Assert.True(Reloads.Last().Ok);
        supervisor.Handle(new ScaleRequested(Cpus(3), scaled.Add));
        Upgrade(supervisor);
        Assert.StartsWith("a scale is already running (to 3 worker(s), started ", Upgrades.Last().Error);
        Assert.All(Upgrades, u => Assert.True(u.Refused));
    }

    [Fact]
    public void An_upgrade_is_refused_while_the_pack_starts_or_stops()
    {
        var supervisor = Started();
        Upgrade(supervisor);
        Assert.Equal("the pack is still starting", Assert.Single(Upgrades).Error);
        supervisor.Handle(new StopRequested("test"));
        Upgrade(supervisor);
        Assert.Equal("the pack is stopping", Upgrades.Last().Error);
        Assert.All(Upgrades, u => Assert.True(u.Refused));
        Assert.Empty(Host.SuccessorCalls);
    }

    [Fact]
    public void A_stop_during_an_upgrade_abandons_it_and_stops_its_new_master()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorNamed(Child, 6001));
        supervisor.Handle(new StopRequested("SIGTERM received"));

        var abandoned = Assert.Single(Upgrades);
        Assert.Equal("the pack is stopping", abandoned.Error);
        Assert.False(abandoned.Refused);
        Assert.Equal(["start 5000", "stop 5000 6001"], Host.SuccessorCalls);
        Assert.Single(Host.TakeTimers<SuccessorKillDue>());
        Assert.Equal(PackState.Stopping, supervisor.State);
        // systemd hears the stop, not a READY for a pack that is going away.
        Assert.DoesNotContain(Host.ServiceManager, s => s.StartsWith("READY", StringComparison.Ordinal));
        // Its new master's late "ready" is not answered with a commit.
        supervisor.Handle(new SuccessorReady(Child));
        Assert.DoesNotContain("commit 5000", Host.SuccessorCalls);
    }

    [Fact]
    public void A_stop_after_the_commit_lets_the_new_master_take_over_and_tells_it_to_stop_too()
    {
        var supervisor = Committed();
        supervisor.Handle(new StopRequested("SIGTERM received"));

        // Not abandoned: the new master may own the runtime files already.
        Assert.Empty(Upgrades);
        Assert.Equal(["start 5000", "commit 5000", "stop after commit 5000"], Host.SuccessorCalls);
        Assert.Equal(PackState.Stopping, supervisor.State);
        Assert.Equal((TimeSpan.FromSeconds(10), new SuccessorKillDue(Child)), Assert.Single(Host.TakeTimers<SuccessorKillDue>()));
        supervisor.Handle(new SuccessorTookOver(Child, 2));
        Assert.True(Assert.Single(Upgrades).Ok);
        Assert.Equal("hand over 5000 5000", Host.SuccessorCalls.Last());
        Assert.DoesNotContain(Host.LogLines, l => l.Contains("keeps serving"));
    }

    [Fact]
    public void A_new_master_that_fails_after_the_commit_has_this_master_take_its_files_back()
    {
        var supervisor = Running();
        Upgrade(supervisor);
        supervisor.Handle(new SuccessorFailed(Child, "before the commit"));
        Assert.DoesNotContain("reclaim", Host.SuccessorCalls);

        Upgrade(supervisor);
        supervisor.Handle(new SuccessorReady(5001));
        supervisor.Handle(new SuccessorExited(5001, ExitStatus.Killed(SIGKILL)));
        Assert.Equal(["stop 5001 5001", "reclaim"], Host.SuccessorCalls.TakeLast(2));
        Assert.False(Upgrades.Last().Ok);
        Assert.Equal(PackState.Running, supervisor.State);
    }

    [Fact]
    public void A_forced_stop_after_the_commit_has_the_new_master_kill_its_workers_too()
    {
        var supervisor = Committed();
        supervisor.Handle(new StopRequested("stop requested (--force)", Mode: StopMode.KillNow));
        Assert.Equal("force after commit 5000", Host.SuccessorCalls.Last());
        Assert.Equal(supervisor.LivePids.Select(pid => (pid, SIGKILL)).Order(), Host.Signals.Where(s => s.Signal == SIGKILL).Order());
    }

    [Fact]
    public void A_new_master_that_has_not_taken_over_ten_seconds_after_the_commit_is_killed_and_the_upgrade_fails()
    {
        var supervisor = Committed();
        // --timeout no longer applies once it may be taking over.
        supervisor.Handle(Assert.Single(Host.TakeTimers<UpgradeTimedOut>()).Event);
        Assert.Empty(Upgrades);
        var overdue = Assert.Single(Host.TakeTimers<TakeoverOverdue>());
        Assert.Equal((TimeSpan.FromSeconds(10), new TakeoverOverdue(Child)), overdue);
        supervisor.Handle(overdue.Event);
        Assert.Equal("kill 5000", Host.SuccessorCalls.Last());
        supervisor.Handle(new SuccessorExited(Child, null));
        Assert.Equal("the new master (pid 5000) had not taken over 10s after the commit and was killed", Assert.Single(Upgrades).Error);
        Assert.Equal("reclaim", Host.SuccessorCalls.Last());
        Assert.Equal(PackState.Running, supervisor.State);
    }

    [Fact]
    public void A_taken_that_arrives_after_the_overdue_kill_does_not_count_the_exit_fails_the_upgrade()
    {
        var supervisor = Committed();
        supervisor.Handle(Assert.Single(Host.TakeTimers<TakeoverOverdue>()).Event);
        supervisor.Handle(new SuccessorTookOver(Child, 2));
        Assert.Empty(Upgrades);
        Assert.DoesNotContain(Host.SuccessorCalls, c => c.StartsWith("hand over", StringComparison.Ordinal));
        supervisor.Handle(new SuccessorExited(Child, ExitStatus.Killed(SIGKILL)));
        Assert.False(Assert.Single(Upgrades).Ok);
        Assert.Equal("reclaim", Host.SuccessorCalls.Last());
        Assert.Equal(PackState.Running, supervisor.State);
    }
}
