using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;
using Xunit.Abstractions;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// metrics.address across upgrades of the master: its listening socket travels with the pack's listeners, so a scraper
/// is never refused; a changed, removed or added address takes effect with the upgrade; one that cannot be bound fails it.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class MetricsUpgradeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [GeneratedRegex(@"^gopherpack_generation\{[^}]*\} (\d+)", RegexOptions.Multiline)] private static partial Regex GenerationSample();
    [GeneratedRegex(@"starting new master pid (\d+)")] private static partial Regex NewMasterLine();

    private static string Manifest(string name, int? metricsPort) => $$"""
        name: {{name}}
        command: dotnet
        args: ["{worker}"]
        workers: 1
        listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
        stop: { timeout: 5s }
        ready: { timeout: 60s }
        {{(metricsPort is { } port ? $"metrics: {{ address: \"tcp://127.0.0.1:{port}\" }}" : "")}}
        """;

    private static void Rewrite(PackProcess pack, string name, int? metricsPort) =>
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"), Manifest(name, metricsPort).Replace("{worker}", RepoPaths.TestWorkerDll));

    [Fact]
    public async Task A_scraper_is_never_refused_through_an_upgrade_and_a_moved_removed_or_added_address_moves_with_the_upgrade()
    {
        const string name = "metrics-handover";
        var first = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(name, first));
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var oldMaster = (await client.StatusAsync(name)).MasterPid;

        var scraper = new Scraper(new IPEndPoint(IPAddress.Loopback, first));
        var scraping = scraper.RunAsync();
        try
        {
            await Eventually.True(() => scraper.Seen(1) > 20, Wait, "the scraper to read the old master's metrics");
            var upgrade = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
            Assert.True(upgrade.Code == 0, upgrade.ToString());
            // Past the old master's exit: closing its fd of the shared socket must not stop the new master's listening.
            await Eventually.True(() => !Native.IsAlive(oldMaster), Wait, "the old master to drain and exit");
            var seenAfter = scraper.Seen(2);
            await Eventually.True(() => scraper.Seen(2) > seenAfter + 20, Wait, "the scraper to go on reading the new master's metrics");
        }
        finally
        {
            scraper.Stop();
            await scraping;
        }
        output.WriteLine($"scrapes: {scraper.Seen(1)} of the old master, {scraper.Seen(2)} of the new, {scraper.Refused} refused, {scraper.Failures.Count} failed");
        Assert.True(scraper.Refused == 0, $"{scraper.Refused} scrapes were refused");
        Assert.True(scraper.Failures.Count == 0, $"{scraper.Failures.Count} scrapes failed: {string.Join("; ", scraper.Failures.Take(5))}");

        // A new address is bound before the new master is ready, and served from the hand-over: answered at once.
        var second = FreePort.Probe();
        Rewrite(pack, name, second);
        var moved = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(moved.Code == 0, moved.ToString());
        Assert.Equal(3, Generation(await RawHttp.GetAsync(new IPEndPoint(IPAddress.Loopback, second), "/metrics")));
        await Eventually.True(() => Refuses(first), Wait, "the old address to be let go");

        // Metrics turned off: the address is let go, 'gopherpack metrics' still answers.
        Rewrite(pack, name, null);
        var off = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(off.Code == 0, off.ToString());
        await Eventually.True(() => Refuses(second), Wait, "the address to be let go once metrics are off");
        var command = await Cli.RunAsync("metrics", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(command.Code == 0, command.ToString());
        Assert.Equal(4, Generation(command.Stdout));

        // And on again.
        var third = FreePort.Probe();
        Rewrite(pack, name, third);
        var on = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(on.Code == 0, on.ToString());
        Assert.Equal(5, Generation(await RawHttp.GetAsync(new IPEndPoint(IPAddress.Loopback, third), "/metrics")));
    }

    [Fact]
    public async Task An_upgrade_to_a_metrics_address_held_by_another_socket_fails_and_the_old_master_serves_on()
    {
        const string name = "metrics-held";
        var first = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(name, first));
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        var before = await client.StatusAsync(name);
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        held.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        held.Listen();
        var heldPort = ((IPEndPoint)held.LocalEndPoint!).Port;

        Rewrite(pack, name, heldPort);
        var upgrade = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 3, upgrade.ToString());
        Assert.Contains($"metrics.address tcp://127.0.0.1:{heldPort}: address in use", upgrade.Stderr);
        var started = pack.Lines.Select(l => NewMasterLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).Single();
        await Eventually.True(() => !Native.IsAlive(started), Wait, "the failed new master to exit");

        var now = await client.StatusAsync(name);
        Assert.Equal(before.MasterPid, now.MasterPid);
        Assert.Equal(before.Workers.Select(w => w.Pid), now.Workers.Select(w => w.Pid));
        Assert.Contains(await RawHttp.PidAsync(pack.TcpEndPoint("http")), before.Workers.Select(w => w.Pid!.Value));
        var scrape = await PrometheusScrape.FromUrlAsync($"http://127.0.0.1:{first}/metrics");
        Assert.Equal(1, scrape.Value("gopherpack_upgrades_total", "result=failed"));
        Assert.Equal(0, scrape.Value("gopherpack_upgrades_total", "result=succeeded"));
        Assert.Equal(1, scrape.Value("gopherpack_workers", "state=ready"));
    }

    /// <summary>
    /// Moving metrics.address to the wildcard of the same port overlaps the address this pack's own master serves on until
    /// the takeover: the upgrade fails, and says that, not "another process".
    /// </summary>
    [Fact]
    public async Task An_upgrade_to_an_address_overlapping_the_current_one_fails_naming_this_packs_master()
    {
        const string name = "metrics-overlap";
        var first = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest(name, first));
        File.WriteAllText(Path.Combine(pack.Dir.Path, "app.yml"),
            Manifest(name, first).Replace("{worker}", RepoPaths.TestWorkerDll).Replace($"tcp://127.0.0.1:{first}", $"tcp://0.0.0.0:{first}"));
        var upgrade = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 3, upgrade.ToString());
        Assert.Contains($"metrics.address tcp://0.0.0.0:{first}: address in use by this pack's current master", upgrade.Stderr);
        Assert.DoesNotContain("another process", upgrade.Stderr);
        var scrape = await PrometheusScrape.FromUrlAsync($"http://127.0.0.1:{first}/metrics");
        Assert.Equal(1, scrape.Value("gopherpack_upgrades_total", "result=failed"));
    }

    /// <summary>The serving generation: each upgrade's new master numbers its first after the old master's.</summary>
    private static int Generation(string text) => int.Parse(GenerationSample().Match(text) is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException($"no gopherpack_generation in:\n{text}"));

    private static bool Refuses(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { return true; }
    }

    /// <summary>GET /metrics on a new connection after another, as fast as they are answered; counts them by the generation seen.</summary>
    private sealed class Scraper(IPEndPoint endpoint)
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Dictionary<int, int> _seen = [];
        private int _refused;
        public List<string> Failures { get; } = [];
        public int Refused => Volatile.Read(ref _refused);
        public int Seen(int generation) { lock (_seen) return _seen.GetValueOrDefault(generation); }
        public void Stop() => _stop.Cancel();

        public Task RunAsync() => Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var body = await RawHttp.GetAsync(endpoint, "/metrics");
                    var generation = Generation(body);
                    lock (_seen) _seen[generation] = _seen.GetValueOrDefault(generation) + 1;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused) { Interlocked.Increment(ref _refused); }
                catch (Exception e) { lock (Failures) Failures.Add($"{e.GetType().Name}: {e.Message}"); }
            }
        });
    }
}
