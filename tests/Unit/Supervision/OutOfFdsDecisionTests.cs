using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>A master out of fds cannot spawn any slot until fds are freed: a start gives up at once instead of crash-looping every slot.</summary>
public sealed class OutOfFdsDecisionTests : SupervisorFixture
{
    private protected override PackManifest Manifest() => Bare("/bin/true");

    [Fact]
    public void A_start_that_runs_out_of_fds_stops_the_spawned_workers_and_exits_1_with_the_cause()
    {
        // Spawns the first worker, then fails as a master out of fds does.
        Host.SpawnFailureAfter = (1, SpawnException.OutOfFds("pipe2: Too many open files (errno 24)"));
        var supervisor = new Supervisor(Manifest(), [0, 1, 2], Host);
        supervisor.Handle(new StartRequested());

        // Slot 0 spawned, slot 1 could not: no slot waits in backoff, slot 2 is not even tried, slot 0 is stopped.
        Assert.Equal(PackState.Stopping, supervisor.State);
        Assert.Single(Host.Launches);
        Assert.Empty(Host.TakeTimers<RestartDue>());
        var worker = supervisor.Workers.Single();
        Assert.Contains((worker.Pid, 15), Host.Signals);
        supervisor.Handle(new WorkerExited(worker.Pid, ExitStatus.Exited(0)));
        Assert.Equal(1, Host.ExitCode);
        Assert.Contains(Host.LogLines, l => l.Contains("start-failed") && l.Contains("Too many open files") && l.Contains("limits.nofile"));
        Assert.Contains(Host.LogLines, l => l.Contains(" exit ") && l.Contains("the start failed"));
    }
}
