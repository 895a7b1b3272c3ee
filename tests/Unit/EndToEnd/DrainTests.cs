using System.Net;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class DrainTests
{
    [Fact]
    public async Task Keep_alive_clients_lose_no_request_when_a_worker_is_stopped()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: drain
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1, mode: reuseport }]
            restart: { backoff: { initial: 10ms } }
            """);
        var url = $"http://{pack.TcpEndPoint("http")}/";
        var victim = pack.SlotPids[0];
        using var stop = new CancellationTokenSource();
        int ok = 0, failed = 0, closeAnswers = 0, onVictim = 0;
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();

        static HttpClient NewClient() => new(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) })
        { Timeout = TimeSpan.FromSeconds(10) };

        // Each loop is one keep-alive connection. Half of them reconnect until they land on the victim,
        // so the drain is always exercised; the rest go wherever the kernel puts them.
        async Task Loop(bool wantVictim)
        {
            var client = NewClient();
            for (var attempt = 0; wantVictim && attempt < 200; attempt++)
            {
                var body = await client.GetStringAsync(url);
                if (body.Contains($"\"pid\":{victim},")) break;
                client.Dispose();
                client = NewClient();
            }
            Interlocked.Increment(ref onVictim);
            using (client)
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.GetAsync(url);
                    response.EnsureSuccessStatusCode();
                    if (response.Headers.ConnectionClose == true) Interlocked.Increment(ref closeAnswers);
                    Interlocked.Increment(ref ok);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failed);
                    errors.Add(e.Message);
                }
            }
        }

        var loops = Enumerable.Range(0, 8).Select(i => Task.Run(() => Loop(wantVictim: i < 4))).ToList();
        await Eventually.True(() => Volatile.Read(ref onVictim) == 8 && Volatile.Read(ref ok) > 200, TimeSpan.FromSeconds(20), "the load to get going");
        Native.kill(victim, Native.SIGTERM);
        await pack.WaitForStatus(s => s.Workers.All(w => w.Pid != victim), TimeSpan.FromSeconds(20), "the stopped worker to exit");
        await pack.WaitForReplacement(0, victim, TimeSpan.FromSeconds(20));
        var okAtRestart = Volatile.Read(ref ok);
        await Eventually.True(() => Volatile.Read(ref ok) > okAtRestart + 200, TimeSpan.FromSeconds(20), "load to continue");
        stop.Cancel();
        await Task.WhenAll(loops);

        Assert.True(failed == 0, $"{failed} of {ok + failed} requests failed: {string.Join("; ", errors.Distinct())}");
        Assert.True(closeAnswers > 0, "no response carried Connection: close while the worker drained");
    }
}
