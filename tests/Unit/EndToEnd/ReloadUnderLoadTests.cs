using System.Diagnostics;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class ReloadUnderLoadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan MinimumLoad = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("shared")]
    [InlineData("reuseport")]
    public async Task Ten_surge_and_ten_rolling_reloads_under_load_fail_no_request(string mode)
    {
        await using var pack = await PackProcess.StartAsync($$"""
            name: zero-{{mode}}
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1, mode: {{mode}} }]
            """);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var clock = Stopwatch.StartNew();
        var durations = new List<double>();
        await using (var load = new HttpLoad($"http://{pack.TcpEndPoint("http")}/", keepAlive: 4, newConnections: 2))
        {
            await Eventually.True(() => load.Ok > 100, TimeSpan.FromSeconds(20), "the load to get going");
            foreach (var strategy in new[] { "surge", "rolling" })
                for (var i = 0; i < 10; i++)
                {
                    var report = await client.ReloadAsync($"zero-{mode}", strategy: strategy);
                    Assert.True(report.Ok);
                    durations.Add(report.DurationMs);
                }
            var okAfterReloads = load.Ok;
            var rest = MinimumLoad - clock.Elapsed;
            if (rest > TimeSpan.Zero) await Task.Delay(rest); // the load must run for the whole minimum, whatever the reloads took
            await Eventually.True(() => load.Ok > okAfterReloads, TimeSpan.FromSeconds(10), "the pack to keep serving after the reloads");
            await load.DisposeAsync();
            output.WriteLine($"{mode}: {load.Ok} requests ok, {load.Failed} failed over {clock.Elapsed.TotalSeconds:0.0}s; " +
                $"reload ms surge p50 {Median(durations.Take(10))} max {durations.Take(10).Max():0}, rolling p50 {Median(durations.Skip(10))} max {durations.Skip(10).Max():0}");
            Assert.True(load.Failed == 0, $"{load.Failed} of {load.Ok + load.Failed} requests failed: {load.Errors}");
        }
        var status = await client.StatusAsync($"zero-{mode}");
        Assert.Equal(21, status.Generation);
        Assert.Equal(2, status.Workers.Count(w => w.Generation == 21 && w.State == "Ready"));
    }

    private static string Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2].ToString("0");
    }
}
