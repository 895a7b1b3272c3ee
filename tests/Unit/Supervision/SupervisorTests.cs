using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

public sealed class SupervisorTests : SupervisorFixture
{
    private protected override PackManifest Manifest() => Standard("/bin/true");

    private Supervisor Started(int workers, Func<PackManifest, PackManifest> change) => Started(workers, change(Manifest()));

    private static void Ready(Supervisor supervisor) => ReadyAll(supervisor);

    [Fact]
    public void Start_launches_one_worker_per_slot_on_its_cpu_with_a_ready_deadline()
    {
        var supervisor = Started(3);
        Assert.Equal([0, 1, 2], Host.Launches.Select(l => l.Cpu!.Value));
        Assert.Equal([0, 1, 2], Host.Launches.Select(l => l.Slot));
        Assert.All(Host.Launches, l => Assert.Equal(1, l.Generation));
        Assert.Equal(3, Host.TakeTimers<ReadyDeadline>().Count(t => t.Delay == TimeSpan.FromSeconds(30)));
        Assert.Equal(PackState.Starting, supervisor.State);
    }

    [Fact]
    public void The_pack_is_ready_only_when_every_worker_has_sent_ready()
    {
        var supervisor = Started(2);
        supervisor.Handle(new WorkerNotified(InSlot(supervisor, 0).Id, "STATUS=warming\nREADY=1"));
        Assert.Null(Host.ReadyAfter);
        Assert.Equal("warming", InSlot(supervisor, 0).Status);
        Host.Now += TimeSpan.FromMilliseconds(250);
        supervisor.Handle(new WorkerNotified(InSlot(supervisor, 1).Id, "READY=1"));
        Assert.Equal(TimeSpan.FromMilliseconds(250), Host.ReadyAfter);
        Assert.Equal(PackState.Running, supervisor.State);
        Assert.All(supervisor.Workers, w => Assert.Equal(WorkerState.Ready, w.State));
    }

    [Fact]
    public void Messages_for_unknown_workers_and_malformed_lines_are_ignored()
    {
        var supervisor = Started(1);
        supervisor.Handle(new WorkerNotified(999, "READY=1"));
        supervisor.Handle(new WorkerNotified(InSlot(supervisor, 0).Id, "garbage\n=1\nREADY=0"));
        Assert.Equal(WorkerState.Starting, InSlot(supervisor, 0).State);
    }

    [Fact]
    public void Delay_mode_marks_a_worker_ready_when_the_delay_elapses()
    {
        var supervisor = Started(1, m => m with { Ready = new ReadySpec { Mode = ReadyMode.Delay, Delay = TimeSpan.FromMilliseconds(300) } });
        var (delay, e) = Assert.Single(Host.TakeTimers<ReadyDelayElapsed>());
        Assert.Equal(TimeSpan.FromMilliseconds(300), delay);
        supervisor.Handle(e);
        Assert.Equal(PackState.Running, supervisor.State);
    }

    [Fact]
    public void A_crash_restarts_the_slot_with_doubling_backoff_capped_at_the_maximum()
    {
        var delays = new List<TimeSpan>();
        var limited = Started(1, m => m with { Restart = m.Restart with { LimitRestarts = 100 } });
        Ready(limited);
        for (var i = 0; i < 6; i++)
        {
            var worker = InSlot(limited, 0);
            limited.Handle(new WorkerExited(worker.Pid, ExitStatus.Killed(SIGKILL)));
            var (delay, due) = Assert.Single(Host.TakeTimers<RestartDue>());
            delays.Add(delay);
            limited.Handle(due);
        }
        Assert.Equal([100, 200, 400, 800, 1000, 1000], delays.Select(d => (int)d.TotalMilliseconds));
    }

    [Fact]
    public void Over_the_restart_limit_within_the_window_the_slot_fails_and_the_others_keep_running()
    {
        var supervisor = Started(2);
        Ready(supervisor);
        for (var i = 0; i < 3; i++)
        {
            supervisor.Handle(new WorkerExited(InSlot(supervisor, 1).Pid, ExitStatus.Exited(1)));
            supervisor.Handle(Host.TakeTimers<RestartDue>().Single().Event);
        }
        supervisor.Handle(new WorkerExited(InSlot(supervisor, 1).Pid, ExitStatus.Exited(1), ["last line of the worker"]));

        Assert.True(supervisor.Slots[1].Failed);
        Assert.Equal(SlotState.Failed, supervisor.Slots[1].State);
        Assert.Null(supervisor.Slots[1].Worker);
        Assert.Empty(Host.TakeTimers<RestartDue>());
        Assert.Contains("restart limit reached (3 restarts within 60s)", supervisor.Slots[1].FailureReason);
        Assert.False(supervisor.Slots[0].Failed);
        Assert.Null(Host.ExitCode);
        Assert.Contains(Host.LogLines, l => l.Contains("last line of"));
    }

    [Fact]
    public void Scattered_crashes_outside_the_window_never_fail_a_slot_and_reset_the_backoff()
    {
        var supervisor = Started(1);
        Ready(supervisor);
        for (var i = 0; i < 10; i++)
        {
            Host.Now += TimeSpan.FromSeconds(61);
            supervisor.Handle(new WorkerExited(InSlot(supervisor, 0).Pid, ExitStatus.Exited(1)));
            var (delay, due) = Assert.Single(Host.TakeTimers<RestartDue>());
            Assert.Equal(TimeSpan.FromMilliseconds(100), delay);
            supervisor.Handle(due);
        }
        Assert.False(supervisor.Slots[0].Failed);
        Assert.Equal(10, supervisor.Slots[0].Restarts.Total);
    }

    [Fact]
    public void When_every_slot_has_failed_the_master_exits_with_1()
    {
        var supervisor = Started(2, m => m with { Restart = m.Restart with { LimitRestarts = 0 } });
        supervisor.Handle(new WorkerExited(InSlot(supervisor, 0).Pid, ExitStatus.Exited(1)));
        Assert.Null(Host.ExitCode);
        supervisor.Handle(new WorkerExited(InSlot(supervisor, 1).Pid, ExitStatus.Exited(1)));
        Assert.Equal(1, Host.ExitCode);
        Assert.Equal(PackState.Stopped, supervisor.State);
    }

    [Fact]
    public void A_spawn_failure_counts_as_a_crash_of_that_slot()
    {
        Host.SpawnFailure = "cannot start '/bin/true': Permission denied";
        var supervisor = Started(1, m => m with { Restart = m.Restart with { LimitRestarts = 1 } });
        Assert.Single(Host.TakeTimers<RestartDue>());
        Assert.Single(Host.Released);
        Assert.Contains(Host.LogLines, l => l.Contains("Permission denied"));
    }

    [Fact]
    public void A_stale_restart_timer_does_not_start_a_second_worker()
    {
        var supervisor = Started(1);
        Ready(supervisor);
        supervisor.Handle(new WorkerExited(InSlot(supervisor, 0).Pid, ExitStatus.Exited(1)));
        var due = Host.TakeTimers<RestartDue>().Single().Event;
        supervisor.Handle(due);
        supervisor.Handle(due);
        Assert.Equal(2, Host.Launches.Count);
    }

    [Fact]
    public void A_worker_not_ready_by_the_deadline_gets_its_stop_signal_then_SIGKILL_and_its_exit_reports_why()
    {
        var supervisor = Started(1);
        var worker = InSlot(supervisor, 0);
        supervisor.Handle(Host.TakeTimers<ReadyDeadline>().Single().Event);
        Assert.Equal((worker.Pid, SIGTERM), Host.Signals.Single());
        var (delay, deadline) = Assert.Single(Host.TakeTimers<StopDeadline>());
        Assert.Equal(TimeSpan.FromSeconds(5), delay);
        supervisor.Handle(deadline);
        Assert.Equal((worker.Pid, SIGKILL), Host.Signals.Last());
        supervisor.Handle(new WorkerExited(worker.Pid, ExitStatus.Killed(SIGKILL)));
        Assert.Contains(Host.LogLines, l => l.Contains("not ready within 30s (ready.timeout)"));
        Assert.Single(Host.TakeTimers<RestartDue>());
    }

    [Fact]
    public void A_ready_deadline_after_readiness_does_nothing()
    {
        var supervisor = Started(1);
        Ready(supervisor);
        supervisor.Handle(Host.TakeTimers<ReadyDeadline>().Single().Event);
        Assert.Empty(Host.Signals);
    }

    [Fact]
    public void Stop_signals_every_worker_then_kills_the_ones_left_at_the_deadline_and_exits_0()
    {
        var supervisor = Started(2, m => m with { Stop = new StopSpec { Signal = SIGQUIT, Timeout = TimeSpan.FromSeconds(2) } });
        Ready(supervisor);
        var (first, second) = (InSlot(supervisor, 0), InSlot(supervisor, 1));
        var stopped = false;
        supervisor.Handle(new StopRequested("SIGTERM received", () => stopped = true));
        Assert.Equal([(first.Pid, SIGQUIT), (second.Pid, SIGQUIT)], Host.Signals);
        Assert.All(supervisor.Workers, w => Assert.Equal(WorkerState.Draining, w.State));

        supervisor.Handle(new WorkerExited(first.Pid, ExitStatus.Exited(0)));
        Assert.Empty(Host.TakeTimers<RestartDue>());
        var deadlines = Host.TakeTimers<StopDeadline>();
        Assert.All(deadlines, d => Assert.Equal(TimeSpan.FromSeconds(2), d.Delay));
        foreach (var (_, deadline) in deadlines) supervisor.Handle(deadline);
        Assert.Equal((second.Pid, SIGKILL), Host.Signals.Last());
        Assert.Equal(3, Host.Signals.Count);
        Assert.Null(Host.ExitCode);
        Assert.False(stopped);
        supervisor.Handle(new WorkerExited(second.Pid, ExitStatus.Killed(SIGKILL)));
        Assert.Equal(0, Host.ExitCode);
        Assert.True(stopped);
    }

    [Fact]
    public void A_repeated_graceful_stop_does_not_cut_the_drain_short()
    {
        var supervisor = Started(1);
        var stops = 0;
        supervisor.Handle(new StopRequested("SIGTERM received", () => stops++));
        supervisor.Handle(new StopRequested("stop requested (client pid 7)", () => stops++));
        supervisor.Handle(new StopRequested("SIGINT received"));
        Assert.Equal(SIGTERM, Assert.Single(Host.Signals).Signal);
        Assert.Contains(Host.LogLines, l => l.Contains("already stopping"));
        supervisor.Handle(new WorkerExited(Host.Launches.Single().WorkerId == 1 ? 1000 : 0, ExitStatus.Exited(0)));
        Assert.Equal(2, stops);
        Assert.Equal(0, Host.ExitCode);
    }

    [Fact]
    public void Stop_cancels_pending_restarts_and_exits_when_no_worker_is_left()
    {
        var supervisor = Started(1);
        supervisor.Handle(new WorkerExited(InSlot(supervisor, 0).Pid, ExitStatus.Exited(1)));
        var due = Host.TakeTimers<RestartDue>().Single().Event;
        supervisor.Handle(new StopRequested("SIGTERM received"));
        Assert.Equal(0, Host.ExitCode);
        supervisor.Handle(due);
        Assert.Single(Host.Launches);
    }

    [Fact]
    public void The_watchdog_kills_a_silent_worker_and_spares_one_that_pings()
    {
        var supervisor = Started(2, m => m with { WatchdogTimeout = TimeSpan.FromSeconds(3) });
        Ready(supervisor);
        var checks = Host.TakeTimers<WatchdogCheck>();
        Assert.Equal(2, checks.Count);
        Host.Now += TimeSpan.FromSeconds(2);
        supervisor.Handle(new WorkerNotified(InSlot(supervisor, 0).Id, "WATCHDOG=1"));
        Host.Now += TimeSpan.FromSeconds(1);
        foreach (var check in checks) supervisor.Handle(check.Event);

        Assert.Equal((InSlot(supervisor, 1).Pid, SIGKILL), Host.Signals.Single());
        var (again, _) = Host.TakeTimers<WatchdogCheck>().Single();
        Assert.Equal(TimeSpan.FromSeconds(2), again);
    }

    [Fact]
    public void Unknown_pids_are_ignored()
    {
        var supervisor = Started(1);
        supervisor.Handle(new WorkerExited(424242, ExitStatus.Exited(0)));
        Assert.Single(supervisor.Workers);
        Assert.Empty(Host.TakeTimers<RestartDue>());
    }

    [Fact]
    public void A_scale_whose_ready_new_worker_crashes_before_the_others_are_ready_fails_instead_of_waiting_forever()
    {
        var supervisor = Started(1);
        Ready(supervisor);
        ScaleResult? result = null;
        supervisor.Handle(new ScaleRequested([0, 1, 2], r => result = r));
        var first = InSlot(supervisor, 1);
        supervisor.Handle(new WorkerNotified(first.Id, "READY=1"));
        supervisor.Handle(new WorkerExited(first.Pid, ExitStatus.Exited(1)));
        Assert.NotNull(result);
        Assert.False(result!.Ok);
        Assert.False(supervisor.Scaling);
    }
}
