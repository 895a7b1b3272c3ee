using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>
/// A reload (or a stop) while the pack is still starting supersedes the start: a slot that crash-loops in backoff
/// must not keep the operator from deploying the fix until the start gives up.
/// </summary>
public sealed class ReloadWhileStartingTests
{
    private const int SIGTERM = 15;
    private readonly RecordingHost _host = new();
    private readonly List<ReloadOutcome> _results = [];

    private static PackManifest Manifest(string command) => new()
    {
        Name = "unit", ManifestPath = "/app.yml", Command = command, WorkingDirectory = "/",
        Restart = new RestartSpec { BackoffInitial = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1), LimitRestarts = 10, LimitWindow = TimeSpan.FromSeconds(60) },
        Stop = new StopSpec { Signal = SIGTERM, Timeout = TimeSpan.FromSeconds(5) },
    };

    /// <summary>Slot 0 ready, slot 1 crashed before it was ready and waits in backoff: the pack is still Starting.</summary>
    private Supervisor StartingWithACrashLoop()
    {
        var supervisor = new Supervisor(Manifest("/bin/broken"), [0, 1], _host);
        supervisor.Handle(new StartRequested());
        supervisor.Handle(new WorkerNotified(supervisor.Slots[0].Worker!.Id, "READY=1"));
        supervisor.Handle(new WorkerExited(supervisor.Slots[1].Worker!.Pid, ExitStatus.Exited(1)));
        Assert.Equal(PackState.Starting, supervisor.State);
        Assert.NotNull(supervisor.Slots[1].PendingRestart);
        return supervisor;
    }

    private void Reload(Supervisor supervisor, ReloadStrategy strategy = ReloadStrategy.Surge) =>
        supervisor.Handle(new ReloadRequested(Manifest("/bin/fixed"), [0, 1], strategy, _results.Add));

    [Theory]
    [InlineData(ReloadStrategy.Surge)]
    [InlineData(ReloadStrategy.Rolling)]
    public void A_reload_while_a_slot_crash_loops_at_start_replaces_the_starting_generation_and_ends_the_start(ReloadStrategy strategy)
    {
        var supervisor = StartingWithACrashLoop();
        var first = supervisor.Slots[0].Worker!;
        _host.Signals.Clear();

        Reload(supervisor, strategy);
        Assert.Empty(_results);
        Assert.True(supervisor.Reloading);
        for (var round = 0; round < 2; round++)
            foreach (var worker in supervisor.Workers.Where(w => w.Generation == 2 && w.State == WorkerState.Starting).ToList())
                supervisor.Handle(new WorkerNotified(worker.Id, "READY=1"));

        var result = Assert.Single(_results);
        Assert.True(result.Ok, result.Error);
        Assert.Equal(2, supervisor.Generation);
        Assert.Equal("/bin/fixed", supervisor.Manifest.Command);
        Assert.Equal(PackState.Running, supervisor.State);
        Assert.NotNull(_host.ReadyAfter);
        Assert.Contains((first.Pid, SIGTERM), _host.Signals);
        // The starting generation's pending restart is cancelled: no worker of generation 1 starts again.
        var launches = _host.Launches.Count;
        foreach (var (_, due) in _host.TakeTimers<RestartDue>()) supervisor.Handle(due);
        Assert.Equal(launches, _host.Launches.Count);
        Assert.All(supervisor.Slots, s => Assert.Equal(2, s.Worker!.Generation));
    }

    [Fact]
    public void A_failed_reload_while_starting_leaves_the_start_going_on()
    {
        var supervisor = StartingWithACrashLoop();
        Reload(supervisor);
        var fresh = supervisor.Workers.First(w => w.Generation == 2);
        supervisor.Handle(new WorkerExited(fresh.Pid, ExitStatus.Exited(3)));

        var result = Assert.Single(_results);
        Assert.False(result.Ok);
        Assert.False(result.Refused);
        Assert.Equal(1, supervisor.Generation);
        Assert.Equal(PackState.Starting, supervisor.State);
        // Slot 1 of generation 1 still restarts after its backoff.
        var launches = _host.Launches.Count;
        foreach (var (_, due) in _host.TakeTimers<RestartDue>()) supervisor.Handle(due);
        Assert.Equal(launches + 1, _host.Launches.Count);
        Assert.Equal(1, _host.Launches[^1].Generation);
    }

    [Fact]
    public void When_every_starting_slot_fails_during_the_reload_the_reload_decides_whether_the_master_exits()
    {
        var supervisor = new Supervisor(Manifest("/bin/broken") with { Restart = new RestartSpec { LimitRestarts = 1, LimitWindow = TimeSpan.FromSeconds(60) } }, [0], _host);
        supervisor.Handle(new StartRequested());
        supervisor.Handle(new WorkerExited(supervisor.Slots[0].Worker!.Pid, ExitStatus.Exited(1)));
        Assert.Null(_host.ExitCode); // the first crash gets its one restart
        supervisor.Handle(supervisor.Slots[0].PendingRestart is { } attempt ? new RestartDue(0, attempt) : throw new Xunit.Sdk.XunitException("no restart pending"));
        supervisor.Handle(new ReloadRequested(Manifest("/bin/fixed"), [0], ReloadStrategy.Surge, _results.Add));
        Assert.True(supervisor.Reloading);
        supervisor.Handle(new WorkerExited(supervisor.Workers.Single(w => w.Generation == 1).Pid, ExitStatus.Exited(1)));
        Assert.Null(_host.ExitCode);
        Assert.True(supervisor.Reloading);

        supervisor.Handle(new WorkerNotified(supervisor.Workers.Single(w => w.Generation == 2).Id, "READY=1"));
        Assert.True(Assert.Single(_results).Ok);
        Assert.Null(_host.ExitCode);
        Assert.Equal(PackState.Running, supervisor.State);
    }

    [Fact]
    public void When_every_starting_slot_has_failed_and_the_reload_fails_too_the_master_stops_its_workers_and_exits_1()
    {
        var supervisor = new Supervisor(Manifest("/bin/broken") with { Restart = new RestartSpec { LimitRestarts = 0, LimitWindow = TimeSpan.FromSeconds(60) } }, [0, 1], _host);
        supervisor.Handle(new StartRequested());
        supervisor.Handle(new WorkerNotified(supervisor.Slots[0].Worker!.Id, "READY=1"));
        supervisor.Handle(new ReloadRequested(Manifest("/bin/fixed"), [0, 1], ReloadStrategy.Surge, _results.Add));
        foreach (var old in supervisor.Workers.Where(w => w.Generation == 1).ToList())
            supervisor.Handle(new WorkerExited(old.Pid, ExitStatus.Exited(1)));
        Assert.All(supervisor.Slots, s => Assert.True(s.Failed));
        Assert.Null(_host.ExitCode);

        var fresh = supervisor.Workers.Where(w => w.Generation == 2).ToList();
        supervisor.Handle(new WorkerExited(fresh[0].Pid, ExitStatus.Exited(3)));
        Assert.False(Assert.Single(_results).Ok);
        Assert.Equal(PackState.Stopping, supervisor.State);
        Assert.Contains((fresh[1].Pid, SIGTERM), _host.Signals);
        Assert.Null(_host.ExitCode);
        supervisor.Handle(new WorkerExited(fresh[1].Pid, ExitStatus.Exited(0)));
        Assert.Equal(1, _host.ExitCode);
    }

    [Fact]
    public void A_stop_while_a_slot_crash_loops_at_start_stops_at_once()
    {
        var supervisor = StartingWithACrashLoop();
        var stopped = false;
        supervisor.Handle(new StopRequested("test", () => stopped = true));
        Assert.Equal(PackState.Stopping, supervisor.State);
        supervisor.Handle(new WorkerExited(supervisor.Slots[0].Worker?.Pid ?? supervisor.Workers.Single().Pid, ExitStatus.Exited(0)));
        Assert.True(stopped);
        Assert.Equal(0, _host.ExitCode);
        var launches = _host.Launches.Count;
        foreach (var (_, due) in _host.TakeTimers<RestartDue>()) supervisor.Handle(due);
        Assert.Equal(launches, _host.Launches.Count);
    }
}
