using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class WorkerChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Random_worker_kills_under_load_lose_at_most_the_requests_in_flight_and_every_slot_recovers()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: chaos
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1 }]
            restart: { backoff: { initial: 50ms, max: 200ms }, limit: { restarts: 1000, window: 60s } }
            """);
        const int clients = 6;
        var random = new Random(20261121);
        var kills = 0;
        // At least this many kills, for at least the chaos duration; on a loaded machine restarts are slow, so the
        // chaos runs on (bounded) until enough kills happened.
        var minKills = (int)(Soak.ChaosDuration.TotalSeconds / 2);
        var until = DateTime.UtcNow + Soak.ChaosDuration;
        var giveUp = until + TimeSpan.FromMinutes(3);
        await using (var load = new HttpLoad($"http://{pack.TcpEndPoint("http")}/", keepAlive: 4, newConnections: 2))
        {
            await Eventually.True(() => load.Ok > 100, TimeSpan.FromSeconds(20), "the load to get going");
            while ((DateTime.UtcNow < until || kills < minKills) && DateTime.UtcNow < giveUp)
            {
                // Only a ready worker is killed, so there is always one left to take the load.
                var ready = await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StatusAsync("chaos");
                var victims = ready.Workers.Where(w => w.IsReady && w.Pid is not null).ToList();
                if (victims.Count == 2)
                {
                    Native.kill(victims[random.Next(2)].Pid!.Value, Native.SIGKILL);
                    kills++;
                }
                await Task.Delay(random.Next(200, 600)); // the chaos schedule itself, not a synchronisation
            }
            await Eventually.Value(async () =>
            {
                var status = await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StatusAsync("chaos");
                return status.Workers.Count(w => w.IsReady) == 2 ? status : null;
            }, TimeSpan.FromSeconds(20), "both slots to recover");
            var okBefore = load.Ok;
            await Eventually.True(() => load.Ok > okBefore + 100, TimeSpan.FromSeconds(20), "the recovered pack to serve");
            await load.DisposeAsync();
            output.WriteLine($"{kills} worker kills in {Soak.ChaosDuration.TotalSeconds:0}s: {load.Ok} requests ok, {load.Failed} failed (bound: {kills * clients}); {load.Errors}");
            Assert.True(kills >= minKills, $"only {kills} kills happened in {(DateTime.UtcNow - until + Soak.ChaosDuration).TotalSeconds:0}s");
            Assert.True(load.Failed <= kills * clients, $"{load.Failed} requests failed for {kills} kills of workers with at most {clients} requests in flight");
        }
        Assert.All(pack.AllWorkerPids.Where(Native.IsZombie), pid => Assert.Fail($"zombie {pid}"));
    }

    [Fact]
    public async Task A_hung_worker_is_killed_by_the_watchdog_and_replaced_while_a_pinging_one_lives_on()
    {
        await using var hung = await PackProcess.StartAsync("""
            name: hung
            command: dotnet
            args: ["{worker}"]
            workers: 1
            watchdog: { timeout: 1s }
            restart: { backoff: { initial: 10ms } }
            """);
        var first = hung.SlotPids[0];
        var killed = await hung.WaitForLine(l => l.Contains(" watchdog: "), TimeSpan.FromSeconds(10), "the watchdog to fire");
        Assert.Contains("no WATCHDOG=1 for", killed);
        await hung.WaitForReplacement(0, first, TimeSpan.FromSeconds(15));
        Assert.False(Native.IsAlive(first));

        // The worker library pings on its own (WATCHDOG_USEC): HelloHttp has no watchdog code.
        await using var alive = await PackProcess.StartAsync("""
            name: alive
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            watchdog: { timeout: 1s }
            """);
        var pid = alive.SlotPids[0];
        // Surviving three watchdog periods is the point: nothing to await but time.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.True(Native.IsAlive(pid));
        Assert.DoesNotContain(" watchdog: ", alive.Log);
    }

    [Fact]
    public async Task Ps_shows_a_crash_looping_slot_as_failed_while_the_other_serves()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: loop
            command: dotnet
            args: ["{worker}", "--crash-in-slot=1"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            restart: { backoff: { initial: 10ms, max: 20ms }, limit: { restarts: 2, window: 60s } }
            """, waitReady: false);
        await pack.WaitForStatus(s => s.Workers.Any(w => w.Slot == 1 && w.State == "Failed"), TimeSpan.FromSeconds(30), "slot 1 to fail");
        var result = await Cli.RunAsync("ps", "loop", "--json", "--runtime-dir", pack.RuntimeDir);
        Assert.True(result.Code == 0, result.ToString());
        Assert.Contains("\"state\": \"Failed\"", result.Stdout);
        Assert.Contains("restart limit reached", result.Stdout);
        var table = await Cli.RunAsync("ps", "loop", "--runtime-dir", pack.RuntimeDir);
        Assert.Matches(@"\n\s+1\s+-\s+-\s+\d+\s+1\s+Failed", table.Stdout); // slot, pid, user, cpu, generation, state
        Assert.Equal(pack.SlotPids[0], await RawHttp.PidAsync(pack.TcpEndPoint("http")));
    }
}
