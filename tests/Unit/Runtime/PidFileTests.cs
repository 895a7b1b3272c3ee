using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Runtime;

/// <summary>
/// The pid file lock. OFD locks conflict between open file descriptions even within one process,
/// so one test process can play several masters.
/// </summary>
public sealed class PidFileTests
{
    [Fact]
    public void A_second_master_is_refused_and_told_who_holds_the_pack()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "p.pid");
        using var first = PidFile.Acquire(path, _ => { });
        var refused = Assert.Throws<PidFileLockedException>(() => PidFile.Acquire(path, _ => { }));
        Assert.Equal(Environment.ProcessId, refused.HolderPid);
        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(path));
        Assert.Equal(Environment.ProcessId, PidFile.Holder(path));
    }

    [Fact]
    public void Release_removes_the_file_and_nobody_holds_the_pack()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "p.pid");
        PidFile.Acquire(path, _ => { }).Dispose();
        Assert.False(File.Exists(path));
        Assert.Null(PidFile.Holder(path));
        using var again = PidFile.Acquire(path, _ => { });
        Assert.Equal(Environment.ProcessId, PidFile.Holder(path));
    }

    [Theory]
    [InlineData("1\n", "pid 1 is alive but is not this pack's master")]
    [InlineData("", "it named no pid")]
    [InlineData("garbage", "it named no pid")]
    public void A_pid_file_nobody_locks_is_stale_whatever_it_names(string content, string reason)
    {
        using var dir = new TempDir();
        var path = dir.File("p.pid", content);
        Assert.Null(PidFile.Holder(path));
        var told = new List<string>();
        using var pidFile = PidFile.Acquire(path, told.Add);
        Assert.Contains(reason, Assert.Single(told));
        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(path));
    }

    [Fact]
    public async Task Of_many_masters_racing_for_one_pack_exactly_one_wins_each_round()
    {
        using var dir = new TempDir();
        for (var round = 0; round < 30; round++)
        {
            var path = Path.Combine(dir.Path, "race.pid");
            if (round % 2 == 1) File.WriteAllText(path, "999999\n"); // odd rounds race to replace a stale file
            using var go = new ManualResetEventSlim();
            var racers = Enumerable.Range(0, 6).Select(_ => Task.Run(() =>
            {
                go.Wait();
                try { return PidFile.Acquire(path, _ => { }); }
                catch (PidFileLockedException) { return null; }
            })).ToList();
            go.Set();
            var winners = (await Task.WhenAll(racers)).OfType<PidFile>().ToList();
            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} winners");
            Assert.Equal(Environment.ProcessId, PidFile.Holder(path));
            winners[0].Dispose();
            Assert.False(File.Exists(path));
        }
    }

    [Fact]
    public void A_successor_replaces_the_pid_file_of_a_live_predecessor_without_a_gap()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "p.pid");
        var old = PidFile.Acquire(path, _ => { });
        using var successor = PidFile.Replace(path); // the old master still holds its lock, as during an upgrade's hand-over
        Assert.Throws<PidFileLockedException>(() => PidFile.Acquire(path, _ => { }));
        old.Dispose(); // the old master exits: it must not remove its successor's file
        Assert.True(File.Exists(path));
        Assert.Equal(Environment.ProcessId, PidFile.Holder(path));
        Assert.Throws<PidFileLockedException>(() => PidFile.Acquire(path, _ => { }));
    }
}
