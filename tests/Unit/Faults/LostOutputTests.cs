using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class LostOutputTests
{
    [Fact]
    public async Task The_pack_keeps_running_when_whoever_read_the_masters_output_goes_away()
    {
        // gopherpack run ... 2>&1 | head -3: head exits, and every later write of the master hits a closed
        // pipe (.NET's console streams ignore EPIPE; this guards that the master relies on it safely).
        // The master's output goes through head, which exits after 3 lines; the harness reads head's output.
        await using var pack = await PackProcess.StartAsync("""
            name: headless
            command: sh
            args: ["-c", "while true; do echo chatter; sleep 0.05; done"]
            workers: 1
            ready: { mode: delay, delay: 100ms }
            """, waitReady: false, launcher: ["/bin/sh", "-c", "\"$@\" 2>&1 | head -3", "sh"]);
        await Eventually.True(() => pack.Lines.Count >= 3, TimeSpan.FromSeconds(30), "head to pass on 3 lines of the master's output"); // then head exits
        var status = await pack.WaitForStatus(s => s.Workers.Count == 1 && s.Workers[0].Pid is not null, TimeSpan.FromSeconds(20), "the master to answer");
        var master = status.MasterPid;
        var worker = status.Workers.Single().Pid!.Value;
        // The worker writes 20 lines a second into the master, whose output pipe is closed: surviving
        // that for a while is the point, so there is nothing to await but time.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(Native.IsAlive(master), "the master died when its output reader went away");
        Assert.Equal("Running", (await pack.StatusAsync()).State);
        var wchan = File.ReadAllText($"/proc/{worker}/wchan");
        Assert.NotEqual("pipe_write", wchan);
        await pack.Client.StopAsync("headless");
    }
}
