using System.Diagnostics;
using System.Text.Json;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class GreeterGrpcTests
{
    private const string Python = "/usr/bin/python3";

    /// <summary>Runs the python3-grpcio client (examples/GreeterGrpc/greet_client.py); one JSON reply per line.</summary>
    private static async Task<List<JsonElement>> CallAsync(string target, string name, int calls)
    {
        Assert.True(File.Exists(Python), "Debian's python3 with python3-grpcio is needed (.ci/run installs it)");
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(RepoPaths.ExampleDir("GreeterGrpc"), "greet_client.py"), target, name, calls.ToString() })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException) { process.Kill(); throw new TimeoutException("the gRPC client did not finish in 60s"); }
        Assert.True(process.ExitCode == 0, $"gRPC client failed ({process.ExitCode}): {await stderr}");
        return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
    }

    [Fact]
    public async Task A_real_grpc_client_calls_the_greeter_on_every_worker()
    {
        // reuseport spreads new connections over the workers' sockets, so every worker is reached.
        await using var pack = await PackProcess.StartAsync("""
            name: greeter
            command: dotnet
            args: ["{GreeterGrpc}"]
            workers: 2
            listeners: [{ name: grpc, address: "tcp://127.0.0.1:0", protocols: http2, mode: reuseport }]
            """);
        var replies = await CallAsync(pack.Address("grpc")["tcp://".Length..], "pack", 40);
        Assert.Equal(40, replies.Count);
        Assert.All(replies, r => Assert.Equal("Hello pack", r.GetProperty("message").GetString()));
        var bySlot = replies.GroupBy(r => r.GetProperty("slot").GetInt32()).ToDictionary(g => g.Key, g => g.Select(r => r.GetProperty("pid").GetInt32()).Distinct().Single());
        Assert.Equal(pack.SlotPids.OrderBy(p => p.Key).ToList(), bySlot.OrderBy(p => p.Key).ToList());
    }

    [Fact]
    public async Task The_greeter_runs_alone_without_a_pack()
    {
        var port = FreePort.Probe();
        await using var app = await StandaloneApp.StartAsync(RepoPaths.ExampleDll("GreeterGrpc"), ["--port", port.ToString()]);
        await Eventually.True(() => IsListening(port), TimeSpan.FromSeconds(20), "the greeter to listen");
        var reply = Assert.Single(await CallAsync($"127.0.0.1:{port}", "alone", 1));
        Assert.Equal("Hello alone", reply.GetProperty("message").GetString());
        Assert.Equal(app.Pid, reply.GetProperty("pid").GetInt32());
        Assert.Equal(-1, reply.GetProperty("slot").GetInt32());
    }

    private static bool IsListening(int port)
    {
        try
        {
            using var probe = new System.Net.Sockets.TcpClient();
            probe.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException) { return false; }
    }
}
