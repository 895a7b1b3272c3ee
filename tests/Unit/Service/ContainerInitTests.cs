using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Service;

/// <summary>
/// <c>gopherpack run</c> as PID 1 of a new pid namespace (what a container runs), through
/// <c>unshare --pid --fork --mount-proc</c>: orphans re-parented to it are reaped, no zombie stays,
/// and SIGTERM stops the pack gracefully.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ContainerInitTests
{
    [Fact]
    public async Task As_pid_1_the_master_reaps_orphans_and_stops_gracefully_on_SIGTERM()
    {
        // Each worker leaves two orphans behind: background sleeps whose parent shell has exited.
        var pack = await PackProcess.StartAsync("""
            name: init
            command: /bin/sh
            args: ["-c", "sh -c 'sleep 2 &'; sh -c 'sleep 3 &'; exec dotnet {worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """, launcher: ["unshare", "--pid", "--fork", "--kill-child=SIGTERM", "--mount-proc"]);
        await using (pack)
        {
            Assert.Contains(pack.Lines, l => l.Contains("setup: master pid 1,"));
            // The pids the master reports are its namespace's: here they are other processes, which the harness must never end.
            Assert.Empty(pack.AllMasterPids);
            Assert.Empty(pack.AllWorkerPids);
            var master = Native.Children(pack.MasterPid).Single();
            // The orphans are the master's children now (seen from this namespace by their host pids)...
            await Eventually.True(() => Sleeps(master).Count > 0, TimeSpan.FromSeconds(20), "an orphaned sleep to be re-parented to the master");
            // ...and once they exit, nothing is left of them: no zombie.
            await Eventually.True(() => Sleeps(master).Count == 0, TimeSpan.FromSeconds(30), "the orphans to exit and be reaped");
            Assert.DoesNotContain(Native.Children(master), Native.IsZombie);

            Assert.Equal(0, Native.kill(master, Native.SIGTERM));
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains(pack.Lines, l => l.Contains("master exiting with code 0"));
        }
    }

    /// <summary>Children of the master that are (or were: zombies keep their name) a sleep.</summary>
    private static List<int> Sleeps(int master) =>
        Native.Children(master).Where(pid =>
        {
            try { return File.ReadAllText($"/proc/{pid}/comm").Trim() == "sleep"; }
            catch (IOException) { return false; }
        }).ToList();
}
