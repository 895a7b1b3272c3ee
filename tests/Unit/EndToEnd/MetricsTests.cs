using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// The master's metrics read by a real Prometheus client (python3-prometheus-client) after real events: a killed
/// worker, reloads, workers stopped with SIGSTOP while clients connect; <c>gopherpack metrics</c> and <c>top</c>; JSON logs.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class MetricsTests
{
    private const int SIGSTOP = 19, SIGCONT = 18;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [GeneratedRegex(@" metrics: serving Prometheus metrics at (http://\S+/metrics)")] private static partial Regex MetricsLine();

    private static string Manifest(string name, string extra = "") => $$"""
        name: {{name}}
        command: dotnet
        args: ["{worker}"]
        workers: 2
        listeners:
          - name: http
            address: tcp://127.0.0.1:0
            backlog: 128
        metrics: { address: "tcp://127.0.0.1:0" }
        restart: { backoff: { initial: 100ms } }
        stop: { timeout: 5s }
        {{extra}}
        """;

    private static async Task<string> MetricsUrl(PackProcess pack) =>
        MetricsLine().Match(await pack.WaitForLine(l => MetricsLine().IsMatch(l), Wait, "the metrics endpoint")).Groups[1].Value;

    [Fact]
    public async Task A_killed_worker_and_reloads_show_in_both_formats_and_in_gopherpack_metrics()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-events"));
        var url = await MetricsUrl(pack);
        var victim = pack.SlotPids[0];
        Native.kill(victim, Native.SIGKILL);
        await pack.WaitForReplacement(0, victim, Wait);
        var reload = await Cli.RunAsync("reload", "metrics-events", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload.ToString());
        var invalid = pack.Dir.File("invalid.yml", "name: metrics-events\ncommand: sh\nworkers: zero\n");
        var refused = await Cli.RunAsync("reload", "metrics-events", "--manifest", invalid, "--runtime-dir", pack.RuntimeDir);
        Assert.True(refused.Code == 2, refused.ToString());

        var text = await PrometheusScrape.FromUrlAsync(url);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", text.ContentType);
        Assert.Equal(1, text.Value("gopherpack_worker_restarts_total", "pack=metrics-events", "slot=0"));
        Assert.Equal(0, text.Value("gopherpack_worker_restarts_total", "pack=metrics-events", "slot=1"));
        Assert.Equal(2, text.Value("gopherpack_generation", "pack=metrics-events"));
        Assert.Equal(1, text.Value("gopherpack_reloads_total", "result=succeeded"));
        Assert.Equal(1, text.Value("gopherpack_reloads_total", "result=failed"));
        Assert.Equal(1, text.Value("gopherpack_reload_duration_seconds_count", "pack=metrics-events"));
        Assert.Equal(1, text.Value("gopherpack_reload_duration_seconds_bucket", "le=+Inf"));
        Assert.Equal(2, text.Value("gopherpack_workers", "state=ready"));
        Assert.Equal(0, text.Value("gopherpack_workers", "state=failed"));
        Assert.Equal(0, text.Value("gopherpack_upgrades_total", "result=failed"));
        Assert.Equal(128, text.Value("gopherpack_listener_queue_limit", "listener=http"));
        Assert.Equal(1, text.Samples.Single(s => s.Name == "gopherpack_build_info").Value);
        foreach (var slot in new[] { "slot=0", "slot=1" })
        {
            Assert.True(text.Value("gopherpack_worker_cpu_seconds_total", slot) > 0);
            Assert.True(text.Value("gopherpack_worker_resident_memory_bytes", slot) > 1 << 20);
        }
        Assert.All(text.Samples.SelectMany(s => s.Labels).Where(l => l.Key is "state" or "result" or "pack"), l => Assert.Equal(l.Value.ToLowerInvariant(), l.Value));

        var open = await PrometheusScrape.FromUrlAsync(url, openMetrics: true);
        Assert.StartsWith("application/openmetrics-text; version=1.0.0", open.ContentType);
        Assert.Contains(("gopherpack_worker_restarts", "counter"), open.Families);
        Assert.Contains(("gopherpack_reload_duration_seconds", "histogram"), open.Families);
        Assert.Equal(1, open.Value("gopherpack_worker_restarts_total", "slot=0"));

        var command = await Cli.RunAsync("metrics", "metrics-events", "--runtime-dir", pack.RuntimeDir);
        Assert.True(command.Code == 0, command.ToString());
        var viaControl = await PrometheusScrape.FromTextAsync(command.Stdout);
        Assert.Equal(text.Families, viaControl.Families);
        Assert.Equal(1, viaControl.Value("gopherpack_worker_restarts_total", "slot=0"));
    }

    [Fact]
    public async Task The_accept_queue_rises_while_the_workers_are_stopped_and_top_shows_it()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-queue"));
        var url = await MetricsUrl(pack);
        var workers = pack.SlotPids.Values.ToList();
        var clients = new List<Socket>();
        try
        {
            foreach (var pid in workers) Native.kill(pid, SIGSTOP);
            // Every thread stopped before the first client connects, so none of them is accepted.
            await Eventually.True(() => workers.All(pid => File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('T')), Wait, "the workers to stop");
            var endpoint = pack.TcpEndPoint("http");
            for (var i = 0; i < 20; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                // The kernel completes the handshake and queues the connection: nobody accepts it.
                await client.ConnectAsync(endpoint).WaitAsync(Wait);
            }
            var scrape = await Eventually.Value(async () =>
            {
                var s = await PrometheusScrape.FromUrlAsync(url);
                return s.Value("gopherpack_listener_queue_length", "pack=metrics-queue", "listener=http") >= 20 ? s : null;
            }, Wait, "the accept queue to reach the 20 waiting connections");
            Assert.Equal(20, scrape.Value("gopherpack_listener_queue_length", "listener=http"));
            Assert.Equal(128, scrape.Value("gopherpack_listener_queue_limit", "listener=http"));

            // stdout is not a terminal here: one snapshot.
            var top = await Cli.RunAsync("top", "metrics-queue", "--runtime-dir", pack.RuntimeDir);
            Assert.True(top.Code == 0, top.ToString());
            var listenerRow = top.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("http "));
            Assert.Matches(@"\b20\s+128\b", listenerRow);
            foreach (var pid in workers) Assert.Contains($" {pid} ", top.Stdout);
            Assert.Contains("CPU%", top.Stdout);
            Assert.DoesNotContain("\u001b[", top.Stdout);
        }
        finally
        {
            foreach (var pid in workers) Native.kill(pid, SIGCONT);
        }
        foreach (var client in clients) client.Dispose();
        await Eventually.Value(async () =>
        {
            var s = await PrometheusScrape.FromUrlAsync(url);
            return s.Value("gopherpack_listener_queue_length", "listener=http") == 0 ? s : null;
        }, Wait, "the resumed workers to drain the accept queue");
    }

    [Fact]
    public async Task In_reuseport_mode_one_stopped_workers_queue_shows_per_slot_and_top_shows_the_fullest_slot()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-reuseport").Replace("backlog: 128", "backlog: 128\n    mode: reuseport"));
        var url = await MetricsUrl(pack);
        var stopped = pack.SlotPids[0];
        var clients = new List<Socket>();
        try
        {
            Native.kill(stopped, SIGSTOP);
            await Eventually.True(() => File.ReadAllText($"/proc/{stopped}/stat").Split(") ")[1].StartsWith('T'), Wait, "slot 0's worker to stop");
            // The kernel spreads connections over the slots' sockets by hash: about half wait in slot 0's queue.
            var endpoint = pack.TcpEndPoint("http");
            for (var i = 0; i < 40; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(endpoint).WaitAsync(Wait);
            }
            var scrape = await Eventually.Value(async () =>
            {
                var s = await PrometheusScrape.FromUrlAsync(url);
                return s.Value("gopherpack_listener_queue_length", "listener=http", "slot=0") > 0
                    && s.Value("gopherpack_listener_queue_length", "listener=http", "slot=1") == 0 ? s : null;
            }, Wait, "slot 0's accept queue to fill and slot 1's to be empty");
            var waiting = scrape.Value("gopherpack_listener_queue_length", "listener=http", "slot=0");
            // Per slot, not summed: slot 0's limit is its own backlog.
            Assert.Equal(128, scrape.Value("gopherpack_listener_queue_limit", "listener=http", "slot=0"));
            Assert.Equal(128, scrape.Value("gopherpack_listener_queue_limit", "listener=http", "slot=1"));
            Assert.Equal(2, scrape.Samples.Count(x => x.Name == "gopherpack_listener_queue_length"));

            var top = await Cli.RunAsync("top", "metrics-reuseport", "--runtime-dir", pack.RuntimeDir);
            Assert.True(top.Code == 0, top.ToString());
            var listenerRow = top.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("http "));
            Assert.Matches($@"\b{waiting}\s+128\s+0\b", listenerRow);
        }
        finally
        {
            Native.kill(stopped, SIGCONT);
            foreach (var client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task Silent_connections_beyond_the_cap_make_room_for_scrapes_and_a_bare_lf_request_is_answered()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-silent"));
        var url = new Uri(await MetricsUrl(pack));
        var endpoint = new IPEndPoint(IPAddress.Parse(url.Host), url.Port);
        var silent = new List<Socket>();
        try
        {
            // More silent connections than the 32-client cap: each new one evicts the oldest idle one.
            for (var i = 0; i < 40; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                silent.Add(client);
                await client.ConnectAsync(endpoint).WaitAsync(Wait);
            }
            var scrape = await PrometheusScrape.FromUrlAsync(url.ToString()).WaitAsync(Wait);
            Assert.Equal(2, scrape.Value("gopherpack_workers", "state=ready"));

            using var lf = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await lf.ConnectAsync(endpoint).WaitAsync(Wait);
            await lf.SendAsync("GET /metrics HTTP/1.1\nHost: x\n\n"u8.ToArray());
            var started = System.Diagnostics.Stopwatch.StartNew();
            var buffer = new byte[64];
            var read = await lf.ReceiveAsync(buffer).WaitAsync(Wait);
            Assert.StartsWith("HTTP/1.1 200 OK", System.Text.Encoding.ASCII.GetString(buffer, 0, read));
            // Not after the 2 s head timeout: the empty line ended the head.
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(1.5), $"answered after {started.Elapsed}");
        }
        finally
        {
            foreach (var client in silent) client.Dispose();
        }
    }

    [Fact]
    public async Task After_an_upgrade_the_new_master_serves_the_address_and_counts_the_upgrade()
    {
        var port = FreePort.Probe();
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-upgrade").Replace("tcp://127.0.0.1:0\" }", $"tcp://127.0.0.1:{port}\" }}"));
        var url = $"http://127.0.0.1:{port}/metrics";
        Assert.Equal(0, (await PrometheusScrape.FromUrlAsync(url)).Value("gopherpack_upgrades_total", "result=succeeded"));
        var upgrade = await Cli.RunAsync("upgrade", "metrics-upgrade", "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade.ToString());
        // The old master answers until it hands over, the new one (on the same socket) from then on.
        var scrape = await Eventually.Value(async () =>
        {
            try
            {
                var s = await PrometheusScrape.FromUrlAsync(url);
                return s.Value("gopherpack_upgrades_total", "result=succeeded") == 1 ? s : null;
            }
            catch (Exception) { return null; }
        }, Wait, "the new master to serve metrics.address with the upgrade counted");
        Assert.Equal(0, scrape.Value("gopherpack_upgrades_total", "result=failed"));
        Assert.Equal(2, scrape.Value("gopherpack_workers", "state=ready"));
    }

    [Fact]
    public async Task Top_on_a_terminal_redraws_every_second_and_q_quits()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-top"));
        // util-linux's script gives top a terminal; what is written to its stdin reaches top as keys.
        var command = string.Join(' ', RepoPaths.CliCommand.Concat(["top", "metrics-top", "--runtime-dir", pack.RuntimeDir]).Select(a => $"'{a}'"));
        var start = new System.Diagnostics.ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-qfec", command, "/dev/null" }) start.ArgumentList.Add(arg);
        using var top = System.Diagnostics.Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var frames = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await top.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, read);
                    if (Regex.Matches(output.ToString(), "gopherpack top ").Count >= 2) frames.TrySetResult();
                }
            }
        });
        try
        {
            await frames.Task.WaitAsync(Wait);
            await top.StandardInput.WriteAsync('q');
            await top.StandardInput.FlushAsync();
            await top.WaitForExitAsync().WaitAsync(Wait);
        }
        finally
        {
            if (!top.HasExited) top.Kill(entireProcessTree: true);
        }
        await reading.WaitAsync(Wait);
        Assert.Equal(0, top.ExitCode);
        var text = output.ToString();
        Assert.Contains("(q quits)", text);
        Assert.Contains($" {pack.SlotPids[0]} ", text);
        // The alternate screen is entered, and left again when q quits.
        Assert.Contains("\u001b[?1049h", text);
        Assert.Contains("\u001b[?1049l", text);
    }

    [Fact]
    public async Task Top_on_a_small_terminal_clips_its_lines_and_says_when_the_master_stops_answering()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-top-small"));
        var cli = string.Join(' ', RepoPaths.CliCommand.Concat(["top", "metrics-top-small", "--runtime-dir", pack.RuntimeDir]).Select(a => $"'{a}'"));
        var start = new System.Diagnostics.ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-qfec", $"stty cols 40 rows 30; exec {cli}", "/dev/null" }) start.ArgumentList.Add(arg);
        using var top = System.Diagnostics.Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await top.StandardOutput.ReadAsync(buffer)) > 0)
                lock (output) output.Append(buffer, 0, read);
        });
        string Text() { lock (output) return output.ToString(); }
        try
        {
            await Eventually.True(() => Text().Contains("SLOT"), Wait, "top's first frame");
            // The worker table is wider than 40 columns: its last column is cut off.
            Assert.DoesNotContain("UPTIME", Text());
            Native.kill(pack.MasterPid, SIGSTOP);
            await Eventually.True(() => Text().Contains("master not answering"), Wait, "top to say the master is not answering");
            Native.kill(pack.MasterPid, SIGCONT);
            await top.StandardInput.WriteAsync('q');
            await top.StandardInput.FlushAsync();
            await top.WaitForExitAsync().WaitAsync(Wait);
        }
        finally
        {
            Native.kill(pack.MasterPid, SIGCONT);
            if (!top.HasExited) top.Kill(entireProcessTree: true);
        }
        await reading.WaitAsync(Wait);
        Assert.Equal(0, top.ExitCode);
    }

    [Fact]
    public async Task A_reload_keeps_the_metrics_address_of_the_start_and_only_metrics_is_served()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-reload"));
        var url = await MetricsUrl(pack);
        var manifest = Path.Combine(pack.Dir.Path, "app.yml");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("tcp://127.0.0.1:0\" }", $"tcp://127.0.0.1:{FreePort.Probe()}\" }}"));
        var reload = await Cli.RunAsync("reload", "metrics-reload", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload.ToString());
        await pack.WaitForLine(l => l.Contains(" metrics: metrics.address changed to "), Wait, "the warning that the address moves at the next start");
        Assert.Equal(2, (await PrometheusScrape.FromUrlAsync(url)).Value("gopherpack_generation", "pack=metrics-reload"));

        using var http = new HttpClient { Timeout = Wait };
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(url.Replace("/metrics", "/other"))).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.PostAsync(url, new StringContent("x"))).StatusCode);
        var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Metrics_and_top_of_a_pack_that_is_not_running_exit_7()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        var metrics = await Cli.RunAsync("metrics", "nope", "--runtime-dir", runtime);
        Assert.True(metrics.Code == 7, metrics.ToString());
        var top = await Cli.RunAsync("top", "nope", "--runtime-dir", runtime);
        Assert.True(top.Code == 7, top.ToString());
    }

    [Fact]
    public async Task A_metrics_address_in_use_fails_the_start_with_the_reason()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-taken").Replace("tcp://127.0.0.1:0\" }", $"tcp://127.0.0.1:{port}\" }}"), waitReady: false);
        Assert.Equal(1, await pack.WaitForExit(Wait));
        Assert.Contains($"metrics.address tcp://127.0.0.1:{port}: address in use", pack.Log);
        Assert.Empty(pack.AllWorkerPids);
    }

    [Fact]
    public async Task Json_logs_give_one_object_per_line_with_slot_and_pid()
    {
        await using var pack = await PackProcess.StartAsync(Manifest("metrics-json", "logs: { format: json }"), waitReady: false);
        await pack.WaitForLine(l => l.Contains("\"event\":\"pack-ready\""), Wait, "the pack to be ready (a JSON line)");
        var master = pack.Lines.Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(master);
        Assert.DoesNotContain(pack.Lines, l => Regex.IsMatch(l, @"^\d{4}-\d\d-\d\dT.* (info|warn|error) "));
        foreach (var line in master)
        {
            foreach (var key in new[] { "time", "level", "pack", "event", "message" }) Assert.True(line.TryGetProperty(key, out _), $"no '{key}' in {line}");
            Assert.Equal("metrics-json", line.GetProperty("pack").GetString());
            Assert.Contains(line.GetProperty("level").GetString(), new[] { "debug", "info", "warn", "error" });
        }
        var spawns = master.Where(l => l.GetProperty("event").GetString() == "spawn").ToList();
        Assert.Equal([0, 1], spawns.Select(l => l.GetProperty("slot").GetInt32()).Order());
        var pids = spawns.Select(l => l.GetProperty("pid").GetInt32()).ToList();
        Assert.All(pids, pid => Assert.True(Native.IsAlive(pid)));
        // The harness knows the workers from the status, whatever the log's format: the JSON lines name the same pids.
        Assert.Equal(pids.Order(), pack.SlotPids.Values.Order());
    }
}
