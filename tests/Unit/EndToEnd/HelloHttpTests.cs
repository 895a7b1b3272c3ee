using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class HelloHttpTests
{
    private static HttpClient Client(Version version, SelfSignedCertificate? trusted = null) =>
        new(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => trusted?.Validate(cert) ?? false },
        })
        {
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(10),
        };

    private static async Task<(JsonElement Body, Version Version)> Get(HttpClient client, string url)
    {
        using var response = await client.GetAsync(url);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(), response.Version);
    }

    [Fact]
    public async Task A_pack_of_hello_answers_http1_from_its_workers_with_slot_and_cpu()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: hello
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", protocols: http1AndHttp2 }]
            """);
        using var client = Client(HttpVersion.Version11);
        var (body, version) = await Get(client, $"http://{pack.TcpEndPoint("http")}/");
        Assert.Equal(HttpVersion.Version11, version);
        var pid = body.GetProperty("pid").GetInt32();
        var slot = body.GetProperty("slot").GetInt32();
        Assert.Equal(pack.SlotPids[slot], pid);
        Assert.Equal(Native.StatusField(pid, "Cpus_allowed_list"), body.GetProperty("cpu").GetInt32().ToString());
        Assert.Equal(1, body.GetProperty("generation").GetInt32());
    }

    [Fact]
    public async Task An_http2_listener_serves_h2c_with_prior_knowledge()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: hello-h2c
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 1
            listeners: [{ name: h2c, address: "tcp://127.0.0.1:0", protocols: http2 }]
            """);
        using var client = Client(HttpVersion.Version20);
        var (body, version) = await Get(client, $"http://{pack.TcpEndPoint("h2c")}/");
        Assert.Equal(HttpVersion.Version20, version);
        Assert.Equal(pack.SlotPids[0], body.GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task A_tls_listener_with_pem_files_from_the_manifest_negotiates_http2_and_http1()
    {
        using var dir = new TempDir();
        var certificate = new SelfSignedCertificate(dir);
        await using var pack = await PackProcess.StartAsync("""
            name: hello-tls
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners:
              - name: https
                address: tcp://127.0.0.1:0
                protocols: http1AndHttp2
                tls: { certificate: cert.pem, key: key.pem }
            """, dir: dir);
        var url = $"https://localhost:{pack.TcpEndPoint("https").Port}/";
        using var h2 = Client(HttpVersion.Version20, certificate);
        Assert.Equal(HttpVersion.Version20, (await Get(h2, url)).Version);
        using var h1 = Client(HttpVersion.Version11, certificate);
        var (body, version) = await Get(h1, url);
        Assert.Equal(HttpVersion.Version11, version);
        Assert.Contains(body.GetProperty("pid").GetInt32(), pack.SlotPids.Values);

        using var untrusting = Client(HttpVersion.Version11);
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync(url));
    }

    [Fact]
    public async Task Hello_workers_stop_on_their_own_when_the_master_is_killed()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: hello-orphan
            command: dotnet
            args: ["{HelloHttp}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """);
        var workers = pack.SlotPids.Values.ToList();
        pack.Signal(Native.SIGKILL);
        await pack.WaitForExit(TimeSpan.FromSeconds(5));
        await Eventually.True(() => workers.All(pid => !Native.IsAlive(pid)), TimeSpan.FromSeconds(2), "HelloHttp workers outlived their master");
    }

    [Fact]
    public async Task Hello_runs_alone_without_a_pack()
    {
        var port = FreePort.Probe();
        await using var app = await StandaloneApp.StartAsync(RepoPaths.ExampleDll("HelloHttp"), ["--urls", $"http://127.0.0.1:{port}"]);
        using var client = Client(HttpVersion.Version11);
        var text = await Eventually.Value(async () =>
        {
            try { return await client.GetStringAsync($"http://127.0.0.1:{port}/"); }
            catch (HttpRequestException) { return null; }
        }, TimeSpan.FromSeconds(20), "HelloHttp alone to answer");
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal(app.Pid, body.GetProperty("pid").GetInt32());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("slot").ValueKind);
    }
}
