using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>
/// A worker that sends STOPPING=1 without being asked (its app stopped itself) and may hang in its shutdown:
/// the master says so, replaces it at once, and kills it after stop.timeout. Decisions fed through the event loop.
/// </summary>
public sealed class StoppingOnItsOwnTests : SupervisorFixture
{
    private Supervisor Started(int workers = 2, int limitRestarts = 3) => Started(workers, Bare("/bin/true") with
    {
        Restart = new RestartSpec { BackoffInitial = TimeSpan.FromSeconds(10), BackoffMax = TimeSpan.FromSeconds(30), LimitRestarts = limitRestarts, LimitWindow = TimeSpan.FromSeconds(60) },
        Stop = new StopSpec { Signal = SIGTERM, Timeout = TimeSpan.FromSeconds(7) },
    });

    private static void AllReady(Supervisor supervisor) => ReadyAll(supervisor);

    [Fact]
    public void A_ready_worker_that_stops_on_its_own_is_logged_replaced_at_once_and_killed_after_stop_timeout()
    {
        var supervisor = Started();
        AllReady(supervisor);
        Host.TakeTimers<ReadyDeadline>();
        var hung = supervisor.Slots[1].Worker!;
        var launches = Host.Launches.Count;

        Notify(supervisor, hung, "STOPPING=1");

        Assert.Contains(Host.LogLines, l => l.StartsWith("Warn stopping", StringComparison.Ordinal) && l.Contains($"slot=1 pid={hung.Pid}")
            && l.Contains("announced it is stopping (STOPPING=1) without being asked") && l.Contains("7s (stop.timeout)"));
        // The replacement starts now, in the same slot, not after the 10 s backoff.
        var replacement = Assert.Single(Host.Launches.Skip(launches));
        Assert.Equal(1, replacement.Slot);
        Assert.Empty(Host.TakeTimers<RestartDue>());
        Assert.NotSame(hung, supervisor.Slots[1].Worker);
        Assert.Equal(WorkerState.Draining, hung.State);
        // No stop signal: the worker is stopping already.
        Assert.DoesNotContain(Host.Signals, s => s.Pid == hung.Pid);

        var (delay, deadline) = Assert.Single(Host.TakeTimers<StopDeadline>());
        Assert.Equal(TimeSpan.FromSeconds(7), delay);
        Assert.Equal(hung.Id, deadline.WorkerId);
        Notify(supervisor, supervisor.Slots[1].Worker!, "READY=1");
        Assert.Equal(WorkerState.Ready, supervisor.Slots[1].Worker!.State);

        supervisor.Handle(deadline);
        Assert.Contains((hung.Pid, SIGKILL), Host.Signals);
        supervisor.Handle(new WorkerExited(hung.Pid, ExitStatus.Killed(SIGKILL)));
        // Its exit is expected: no restart of the slot, which is served by the replacement.
        Assert.Empty(Host.TakeTimers<RestartDue>());
        Assert.Equal(launches + 1, Host.Launches.Count);
        Assert.DoesNotContain(supervisor.Workers, w => w.Pid == hung.Pid);
        Assert.Equal(2, supervisor.Workers.Count(w => w.State == WorkerState.Ready));
        Assert.Equal(PackState.Running, supervisor.State);
    }

    [Fact]
    public void A_worker_that_exits_soon_after_announcing_its_stop_is_not_killed()
    {
        var supervisor = Started(1);
        AllReady(supervisor);
        var worker = supervisor.Slots[0].Worker!;
        Notify(supervisor, worker, "STOPPING=1");
        supervisor.Handle(new WorkerExited(worker.Pid, ExitStatus.Exited(0)));
        supervisor.Handle(Host.TakeTimers<StopDeadline>().Single().Event);
        Assert.DoesNotContain(Host.Signals, s => s.Pid == worker.Pid);
        Assert.Contains(Host.LogLines, l => l.Contains("worker stopped"));
    }

    [Fact]
    public void Stopping_before_ready_during_start_does_not_hold_the_pack_in_starting()
    {
        var supervisor = Started(2);
        var early = supervisor.Slots[0].Worker!;
        Notify(supervisor, supervisor.Slots[1].Worker!, "READY=1");
        Notify(supervisor, early, "STOPPING=1");

        Assert.Contains(Host.LogLines, l => l.Contains("without being asked before it was ready"));
        var replacement = supervisor.Slots[0].Worker!;
        Assert.NotEqual(early.Pid, replacement.Pid);
        Notify(supervisor, replacement, "READY=1");
        Assert.Equal(PackState.Running, supervisor.State);
        Assert.NotNull(Host.ReadyAfter);
        // The early worker's ready deadline no longer matters: it is stopping.
        foreach (var (_, e) in Host.TakeTimers<ReadyDeadline>()) supervisor.Handle(e);
        Assert.DoesNotContain(Host.Signals, s => s.Pid == early.Pid && s.Signal == SIGTERM);
    }

    [Fact]
    public void A_worker_that_keeps_stopping_itself_ends_with_its_slot_failed_not_in_a_loop()
    {
        var supervisor = Started(2, limitRestarts: 3);
        AllReady(supervisor);
        for (var i = 0; i < 3; i++)
        {
            Notify(supervisor, supervisor.Slots[0].Worker!, "STOPPING=1");
            Notify(supervisor, supervisor.Slots[0].Worker!, "READY=1");
        }
        Notify(supervisor, supervisor.Slots[0].Worker!, "STOPPING=1");
        Assert.True(supervisor.Slots[0].Failed);
        Assert.Contains("restart limit reached", supervisor.Slots[0].FailureReason);
        Assert.Contains("announced it is stopping", supervisor.Slots[0].FailureReason);
        Assert.Equal(2 + 3, Host.Launches.Count);
        Assert.Equal(3, supervisor.Slots[0].Restarts.Total);
    }

    [Fact]
    public void Stopping_after_being_asked_is_no_news()
    {
        var supervisor = Started(2);
        AllReady(supervisor);
        var launches = Host.Launches.Count;
        supervisor.Handle(new StopRequested("test"));
        foreach (var worker in supervisor.Workers.ToList()) Notify(supervisor, worker, "STOPPING=1");
        Assert.Equal(launches, Host.Launches.Count);
        Assert.DoesNotContain(Host.LogLines, l => l.Contains("without being asked"));
    }

    [Fact]
    public void A_worker_not_ready_in_time_that_then_announces_its_stop_is_not_replaced_twice()
    {
        var supervisor = Started(1);
        var slow = supervisor.Slots[0].Worker!;
        supervisor.Handle(Host.TakeTimers<ReadyDeadline>().Single().Event);
        Notify(supervisor, slow, "STOPPING=1");
        Assert.Single(Host.Launches);
        Assert.DoesNotContain(Host.LogLines, l => l.Contains("without being asked"));
    }

    [Fact]
    public void A_new_worker_of_a_reload_that_stops_on_its_own_fails_the_reload_and_the_old_generation_serves()
    {
        var supervisor = Started(2);
        AllReady(supervisor);
        ReloadOutcome? result = null;
        supervisor.Handle(new ReloadRequested(supervisor.Manifest, [0, 1], ReloadStrategy.Surge, r => result = r));
        var fresh = supervisor.Workers.Where(w => w.Generation == 2).ToList();
        Assert.Equal(2, fresh.Count);
        Notify(supervisor, fresh[0], "READY=1");
        Notify(supervisor, fresh[0], "STOPPING=1");

        Assert.NotNull(result);
        Assert.False(result!.Ok);
        Assert.Contains("announced it is stopping", result.Error);
        Assert.Equal(1, supervisor.Generation);
        Assert.All(supervisor.Slots, s => Assert.Equal(WorkerState.Ready, s.Worker!.State));
        Assert.Contains((fresh[1].Pid, SIGTERM), Host.Signals);
    }

    [Fact]
    public void A_scale_whose_new_worker_stops_on_its_own_fails_and_the_slot_is_replaced()
    {
        var supervisor = Started(1);
        AllReady(supervisor);
        ScaleResult? result = null;
        supervisor.Handle(new ScaleRequested([0, 1, 2], r => result = r));
        var added = supervisor.Slots[1].Worker!;
        Notify(supervisor, added, "READY=1");
        Notify(supervisor, added, "STOPPING=1");
        Assert.NotNull(result);
        Assert.False(result!.Ok);
        Assert.Contains("announced it is stopping", result.Error);
        Assert.NotSame(added, supervisor.Slots[1].Worker);
        Assert.False(supervisor.Scaling);
    }
}
