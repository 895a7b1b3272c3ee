using Gopherpack.Manifest;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Manifest;

public sealed class ManifestLoaderTests
{
    [Fact]
    public void The_corpus_holds_at_least_twenty_invalid_manifests() =>
        Assert.True(InvalidManifestCorpus.FileNames().Count >= 20);

    [Theory]
    [MemberData(nameof(InvalidManifestCorpus.Files), MemberType = typeof(InvalidManifestCorpus))]
    public void Each_invalid_manifest_is_rejected_at_the_right_line_and_column(string file)
    {
        var path = Path.Combine(InvalidManifestCorpus.Folder, file);
        var error = Assert.Throws<ManifestException>(() => ManifestLoader.Load(path));
        foreach (var (line, column, message) in InvalidManifestCorpus.Expected(file))
            Assert.Contains(error.Errors, e => e.Line == line && e.Column == column && e.Message.Contains(message) && e.File == path);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var error = Assert.Throws<ManifestException>(() => ManifestLoader.Parse("""
            name: Bad Name
            command: sh
            workers: 0
            ready: { timeout: soon }
            stop: { signal: NOPE }
            """, "/tmp/all.yml"));
        Assert.Equal([1, 3, 4, 5], error.Errors.Select(e => e.Line));
    }

    [Fact]
    public void A_complete_manifest_is_read_with_every_key()
    {
        using var dir = new TempDir();
        dir.File("cert.pem", "x");
        dir.File("key.pem", "x");
        Directory.CreateDirectory(Path.Combine(dir.Path, "app"));
        var path = dir.File("app.yml", """
            name: hello-2
            command: sh
            args: [server.dll, "--port", 8080]
            workingDirectory: app
            env: { ASPNETCORE_ENVIRONMENT: Production, THREADS: 4 }
            workers: 3
            cpus: [0, "2-3"]
            listeners:
              - name: http
                address: tcp://0.0.0.0:8080
                mode: reuseport
                backlog: 1024
                protocols: http1
                maxConnections: 500
              - name: tls
                address: tcp://[::]:8443
                tls: { certificate: cert.pem, key: key.pem }
              - name: local
                address: unix://run/app.sock
                fileMode: "0660"
                protocols: tcp
            limits: { nofile: 65536 }
            ready: { mode: delay, timeout: 1m30s, delay: 250ms }
            stop: { signal: QUIT, timeout: 10s }
            restart: { backoff: { initial: 50ms, max: 5s }, limit: { restarts: 4, window: 2m } }
            reload: { strategy: rolling }
            watchdog: { timeout: 20s }
            logs: { workers: prefix }
            """);
        var m = ManifestLoader.Load(path);
        Assert.Equal("hello-2", m.Name);
        Assert.Equal(path, m.ManifestPath);
        Assert.Equal("/bin/sh", m.Command.Replace("/usr/bin/sh", "/bin/sh"));
        Assert.Equal(["server.dll", "--port", "8080"], m.Args);
        Assert.Equal(Path.Combine(dir.Path, "app"), m.WorkingDirectory);
        Assert.Equal("4", m.Env["THREADS"]);
        Assert.Equal(3, m.Workers);
        Assert.Equal([0, 2, 3], m.Cpus.List);
        Assert.Equal(ListenerMode.ReusePort, m.Listeners[0].Mode);
        Assert.Equal(1024, m.Listeners[0].Backlog);
        Assert.Equal(ListenerProtocols.Http1, m.Listeners[0].Protocols);
        Assert.Equal(500, m.Listeners[0].MaxConnections);
        Assert.Equal("tcp://[::]:8443", m.Listeners[1].Address.ToString());
        Assert.Equal(Path.Combine(dir.Path, "cert.pem"), m.Listeners[1].Tls!.Certificate);
        Assert.Equal(Path.Combine(dir.Path, "run", "app.sock"), m.Listeners[2].Address.UnixPath);
        Assert.Equal(Convert.ToInt32("660", 8), m.Listeners[2].FileMode);
        Assert.Equal(65536UL, m.NofileLimit);
        Assert.Equal(new ReadySpec { Mode = ReadyMode.Delay, Timeout = TimeSpan.FromSeconds(90), Delay = TimeSpan.FromMilliseconds(250) }, m.Ready);
        Assert.Equal(new StopSpec { Signal = SignalNames.SIGQUIT, Timeout = TimeSpan.FromSeconds(10) }, m.Stop);
        Assert.Equal(new RestartSpec { BackoffInitial = TimeSpan.FromMilliseconds(50), BackoffMax = TimeSpan.FromSeconds(5), LimitRestarts = 4, LimitWindow = TimeSpan.FromMinutes(2) }, m.Restart);
        Assert.Equal(ReloadStrategy.Rolling, m.ReloadStrategy);
        Assert.Equal(TimeSpan.FromSeconds(20), m.WatchdogTimeout);
        Assert.Equal(WorkerLogMode.Prefix, m.WorkerLogs);
    }

    [Fact]
    public void A_minimal_manifest_gets_the_documented_defaults()
    {
        var m = ManifestLoader.Parse("name: api\ncommand: sh\nlisteners: [{ name: http, address: 'tcp://127.0.0.1:0' }]\n", "/tmp/min.yml");
        Assert.Null(m.Workers);
        Assert.Equal(CpuSelectionKind.Auto, m.Cpus.Kind);
        Assert.Equal(ListenerMode.Shared, m.Listeners[0].Mode);
        Assert.Equal(4096, m.Listeners[0].Backlog);
        Assert.Equal(ListenerProtocols.Http1AndHttp2, m.Listeners[0].Protocols);
        Assert.Equal(new ReadySpec(), m.Ready);
        Assert.Equal(TimeSpan.FromSeconds(30), m.Ready.Timeout);
        Assert.Equal(SignalNames.SIGTERM, m.Stop.Signal);
        Assert.Equal(TimeSpan.FromSeconds(30), m.Stop.Timeout);
        Assert.Equal(10, m.Restart.LimitRestarts);
        Assert.Equal(ReloadStrategy.Surge, m.ReloadStrategy);
        Assert.Equal(TimeSpan.Zero, m.WatchdogTimeout);
        Assert.Equal(WorkerLogMode.Inherit, m.WorkerLogs);
        Assert.Null(m.NofileLimit);
        Assert.Equal("/tmp", m.WorkingDirectory);
    }

    [Theory]
    [InlineData("auto", CpuSelectionKind.Auto)]
    [InlineData("none", CpuSelectionKind.None)]
    public void Cpus_accepts_auto_and_none(string value, CpuSelectionKind kind) =>
        Assert.Equal(kind, ManifestLoader.Parse($"name: a\ncommand: sh\ncpus: {value}\n", "/tmp/a.yml").Cpus.Kind);

    [Theory]
    [InlineData("http://collector", "collector", 4318, "/v1/metrics", 10)]
    [InlineData("http://127.0.0.1:4318/", "127.0.0.1", 4318, "/v1/metrics", 10)]
    [InlineData("http://otel.example:80/otlp/v1/metrics", "otel.example", 80, "/otlp/v1/metrics", 10)]
    [InlineData("http://[::1]:9999", "::1", 9999, "/v1/metrics", 10)]
    public void Metrics_otlp_is_off_by_default_and_takes_port_4318_and_path_v1_metrics_unless_given(string endpoint, string host, int port, string path, int seconds)
    {
        Assert.Null(ManifestLoader.Parse("name: a\ncommand: sh\n", "/tmp/a.yml").Otlp);
        var otlp = ManifestLoader.Parse($"name: a\ncommand: sh\nmetrics: {{ otlp: {{ endpoint: \"{endpoint}\" }} }}\n", "/tmp/a.yml").Otlp;
        Assert.Equal(new OtlpSpec(host, port, path, TimeSpan.FromSeconds(seconds)), otlp);
        Assert.Equal(TimeSpan.FromSeconds(3), ManifestLoader.Parse($"name: a\ncommand: sh\nmetrics: {{ otlp: {{ endpoint: \"{endpoint}\", interval: 3s }} }}\n", "/tmp/a.yml").Otlp!.Interval);
    }
}

public sealed class ManifestPartsTests
{
    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("0", 0)]
    public void Durations_parse(string text, int milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("5 s")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("s")]
    [InlineData("99999999h")]
    public void Bad_durations_are_rejected(string text) => Assert.False(Duration.TryParse(text, out _));

    [Fact]
    public void Kernel_cpu_lists_parse() => Assert.Equal([0, 1, 2, 3, 8], CpuList.ParseKernelList("0-3,8\n"));

    [Theory]
    [InlineData("tcp://0.0.0.0:8080", "tcp://0.0.0.0:8080")]
    [InlineData("tcp://localhost:0", "tcp://127.0.0.1:0")]
    [InlineData("tcp://[::1]:443", "tcp://[::1]:443")]
    [InlineData("unix:///run/a.sock", "unix:///run/a.sock")]
    [InlineData("unix://rel/a.sock", "unix:///srv/app/rel/a.sock")]
    public void Listener_addresses_parse(string text, string canonical)
    {
        Assert.True(ListenerAddress.TryParse(text, "/srv/app", out var address, out var error), error);
        Assert.Equal(canonical, address!.ToString());
    }

    [Theory]
    [InlineData("tcp://:80")]
    [InlineData("tcp://127.0.0.1")]
    [InlineData("tcp://[127.0.0.1]:80")]
    [InlineData("tcp://::1:80")]
    [InlineData("unix://")]
    [InlineData("udp://127.0.0.1:53")]
    public void Bad_listener_addresses_are_rejected(string text) =>
        Assert.False(ListenerAddress.TryParse(text, "/", out _, out _));

    [Fact]
    public void A_unix_path_too_long_for_sun_path_is_rejected()
    {
        Assert.False(ListenerAddress.TryParse("unix:///" + new string('a', 120), "/", out _, out var error));
        Assert.Contains("longer than 107 bytes", error);
    }

    [Theory]
    [InlineData("comand", "command")]
    [InlineData("listner", "listeners")]
    [InlineData("Workers", "workers")]
    [InlineData("zzzzzzzz", null)]
    public void Misspelt_keys_get_the_closest_known_key(string unknown, string? expected) =>
        Assert.Equal(expected, KeySuggester.Closest(unknown, ["command", "listeners", "workers", "name"]));
}
