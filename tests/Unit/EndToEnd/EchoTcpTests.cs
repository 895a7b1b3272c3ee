using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class EchoTcpTests
{
    /// <summary>A connected echo client that has read the greeting.</summary>
    private sealed class EchoClient : IDisposable
    {
        private readonly TcpClient _tcp = new();
        private Stream _stream = Stream.Null;
        public string Greeting { get; private set; } = "";

        public static async Task<EchoClient> ConnectAsync(IPEndPoint endpoint, SelfSignedCertificate? tls = null)
        {
            var client = new EchoClient();
            await client._tcp.ConnectAsync(endpoint);
            client._stream = client._tcp.GetStream();
            if (tls is not null)
            {
                var ssl = new SslStream(client._stream, false, (_, cert, _, _) => tls.Validate(cert));
                await ssl.AuthenticateAsClientAsync("localhost");
                client._stream = ssl;
            }
            return client;
        }

        public async Task<string> ReadGreetingAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            Greeting = await ReadLineAsync(cancel.Token);
            return Greeting;
        }

        public async Task<string> EchoAsync(string text)
        {
            await _stream.WriteAsync(Encoding.UTF8.GetBytes(text + "\n"));
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            return await ReadLineAsync(cancel.Token);
        }

        private async Task<string> ReadLineAsync(CancellationToken cancel)
        {
            var line = new List<byte>();
            var one = new byte[1];
            while (await _stream.ReadAsync(one, cancel) == 1 && one[0] != '\n') line.Add(one[0]);
            return Encoding.UTF8.GetString(line.ToArray());
        }

        public void Dispose()
        {
            _stream.Dispose();
            _tcp.Dispose();
        }
    }

    [Fact]
    public async Task A_pack_of_echo_greets_with_the_worker_and_echoes()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: echo
            command: dotnet
            args: ["{EchoTcp}"]
            workers: 2
            listeners: [{ name: echo, address: "tcp://127.0.0.1:0", protocols: tcp }]
            """);
        using var client = await EchoClient.ConnectAsync(pack.TcpEndPoint("echo"));
        var greeting = await client.ReadGreetingAsync(TimeSpan.FromSeconds(5));
        Assert.Matches(@"^hello from pid \d+ slot \d cpu \d+$", greeting);
        Assert.Contains(int.Parse(greeting.Split(' ')[3]), pack.SlotPids.Values);
        Assert.Equal("ping", await client.EchoAsync("ping"));
        Assert.Equal("ünïcode", await client.EchoAsync("ünïcode"));
    }

    [Fact]
    public async Task Echo_over_tls_with_the_manifests_pem_files()
    {
        using var dir = new TempDir();
        var certificate = new SelfSignedCertificate(dir);
        await using var pack = await PackProcess.StartAsync("""
            name: echo-tls
            command: dotnet
            args: ["{EchoTcp}"]
            workers: 1
            listeners: [{ name: echo, address: "tcp://127.0.0.1:0", protocols: tcp, tls: { certificate: cert.pem, key: key.pem } }]
            """, dir: dir);
        using var client = await EchoClient.ConnectAsync(pack.TcpEndPoint("echo"), certificate);
        Assert.StartsWith("hello from pid", await client.ReadGreetingAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("secret", await client.EchoAsync("secret"));
    }

    [Fact]
    public async Task At_max_connections_a_third_client_waits_in_the_backlog_and_is_served_when_one_closes()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: echo-max
            command: dotnet
            args: ["{EchoTcp}"]
            workers: 1
            listeners: [{ name: echo, address: "tcp://127.0.0.1:0", protocols: tcp, maxConnections: 2 }]
            """);
        var endpoint = pack.TcpEndPoint("echo");
        using var first = await EchoClient.ConnectAsync(endpoint);
        using var second = await EchoClient.ConnectAsync(endpoint);
        await first.ReadGreetingAsync(TimeSpan.FromSeconds(5));
        await second.ReadGreetingAsync(TimeSpan.FromSeconds(5));

        using var third = await EchoClient.ConnectAsync(endpoint); // completes in the kernel: the backlog holds it
        var waiting = third.ReadGreetingAsync(TimeSpan.FromSeconds(15));
        // Proving the absence of a greeting needs a window of time; nothing else can be awaited.
        await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromSeconds(1)));
        Assert.False(waiting.IsCompleted, "the third client was served beyond maxConnections: 2");
        Assert.Equal("still here", await first.EchoAsync("still here"));

        first.Dispose();
        Assert.StartsWith("hello from pid", await waiting);
        Assert.Equal("served", await third.EchoAsync("served"));
    }

    [Fact]
    public async Task Out_of_file_descriptors_the_worker_backs_off_instead_of_spinning_and_serves_again_once_clients_close()
    {
        // prlimit execs the worker in place (same pid, so LISTEN_PID still matches) with few fds to spare (the runtime holds about 95).
        await using var pack = await PackProcess.StartAsync("""
            name: echo-emfile
            command: prlimit
            args: ["--nofile=160", "dotnet", "{EchoTcp}"]
            workers: 1
            cpus: none
            listeners: [{ name: echo, address: "tcp://127.0.0.1:0", protocols: tcp }]
            """);
        var endpoint = pack.TcpEndPoint("echo");
        var client = new Gopherpack.Control.PackClient(new Gopherpack.Runtime.RuntimeDirectory(pack.RuntimeDir));
        // The .NET runtime itself sometimes aborts a process that is out of fds ("Out of memory.", SIGABRT); the master
        // restarts it (what a supervisor is for). Such an attempt proves nothing about the backoff, so it is tried again.
        double? used = null;
        for (var attempt = 1; attempt <= 6 && used is null; attempt++)
        {
            var worker = await Eventually.Value(async () =>
                (await client.StatusAsync("echo-emfile")).Workers.FirstOrDefault(w => w.IsReady)?.Pid?.ToString(),
                TimeSpan.FromSeconds(30), "a ready worker");
            var pid = int.Parse(worker);
            var failuresBefore = pack.Lines.Count(l => l.Contains("accept failed"));
            var clients = new List<EchoClient>();
            try
            {
                // More connections than the worker has fds: the kernel completes them all (the backlog holds the rest).
                for (var i = 0; i < 150; i++) clients.Add(await EchoClient.ConnectAsync(endpoint));
                await Eventually.True(() => pack.Lines.Count(l => l.Contains("accept failed") && l.Contains("retrying with backoff")) > failuresBefore || !Native.IsAlive(pid),
                    TimeSpan.FromSeconds(30), "the worker to run out of fds");
                // Spinning on accept would burn a whole CPU; with backoff the worker is all but idle. A window of time is the measurement.
                var before = Gopherpack.Control.ProcStats.Read(pid).CpuSeconds;
                await Task.Delay(TimeSpan.FromSeconds(2));
                var after = Gopherpack.Control.ProcStats.Read(pid).CpuSeconds;
                if (before is { } b && after is { } a && Native.IsAlive(pid)) used = a - b;
            }
            finally
            {
                foreach (var open in clients) open.Dispose();
            }
        }
        Assert.True(used is not null, $"the runtime aborted the worker in every attempt; log:\n{pack.Log}");
        Assert.True(used < 0.5, $"the worker used {used:0.00} s of CPU in 2 s while out of fds: it spins on accept");
        // Closed clients give the fds back; the queued (now closed) connections are accepted and dropped, then a new one is served.
        string served;
        try
        {
            served = await Eventually.Value(async () =>
            {
                using var echo = await EchoClient.ConnectAsync(endpoint);
                try { return await echo.ReadGreetingAsync(TimeSpan.FromSeconds(3)) is { Length: > 0 } greeting ? greeting : null; }
                catch (OperationCanceledException) { return null; }
            }, TimeSpan.FromSeconds(30), "a new client to be served once fds are free again");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; log:\n{pack.Log}");
        }
        Assert.StartsWith("hello from pid ", served);
    }

    [Fact]
    public async Task Echo_runs_alone_without_a_pack()
    {
        var port = FreePort.Probe();
        await using var app = await StandaloneApp.StartAsync(RepoPaths.ExampleDll("EchoTcp"), ["--port", port.ToString()]);
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);
        var client = await Eventually.Value(async () =>
        {
            try { return await EchoClient.ConnectAsync(endpoint); }
            catch (SocketException) { return null; }
        }, TimeSpan.FromSeconds(20), "EchoTcp alone to listen");
        using (client)
        {
            Assert.Equal($"hello from pid {app.Pid}", await client.ReadGreetingAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal("alone", await client.EchoAsync("alone"));
        }
        Native.kill(app.Pid, Native.SIGTERM);
        Assert.Equal(0, await app.WaitForExit(TimeSpan.FromSeconds(15)));
    }
}
