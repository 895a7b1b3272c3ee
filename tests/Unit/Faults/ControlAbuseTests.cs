using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class ControlAbuseTests
{
    private static async Task<Socket> Connect(PackProcess pack, string name)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(pack.RuntimeDir, name + ".sock")));
        return socket;
    }

    private static async Task AssertPsAnswersWithinASecond(PackClient client, string name)
    {
        var clock = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var status = await client.StatusAsync(name, cancel.Token);
        Assert.Equal("Running", status.State);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"status took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Silent_huge_and_garbage_clients_and_a_crowd_never_stop_the_master_answering()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: abuse
            command: dotnet
            args: ["{worker}"]
            workers: 1
            """);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));

        // Clients that connect and say nothing hold no one up.
        var silent = new List<Socket>();
        for (var i = 0; i < 20; i++) silent.Add(await Connect(pack, "abuse"));
        await AssertPsAnswersWithinASecond(client, "abuse");

        // A huge line is refused and the connection closed.
        using (var huge = await Connect(pack, "abuse"))
        {
            var line = Encoding.ASCII.GetBytes("{\"version\":1,\"command\":\"" + new string('x', 200_000) + "\"}\n");
            try { await huge.SendAsync(line); } catch (SocketException) { }
            var reply = await ReadAll(huge);
            Assert.Contains("\"code\":\"bad-request\"", reply);
            Assert.Contains("longer than 65536 bytes", reply);
        }
        await AssertPsAnswersWithinASecond(client, "abuse");

        // Garbage of many kinds: each gets an error reply.
        foreach (var garbage in new[] { "]]]\n", "null\n", "\"status\"\n", "{\"version\":1}\n", "{\"version\":\"one\",\"command\":\"status\"}\n", "\u0000\u0001\u0002\n" })
        {
            using var socket = await Connect(pack, "abuse");
            await socket.SendAsync(Encoding.UTF8.GetBytes(garbage));
            var reply = await ReadLine(socket);
            Assert.Contains("\"ok\":false", reply);
        }

        // A crowd at once: every one answered.
        var crowd = Enumerable.Range(0, 200).Select(_ => client.StatusAsync("abuse")).ToList();
        var all = Task.WhenAll(crowd);
        Assert.True(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(20))) == all, "200 concurrent clients were not all answered in 20 s");
        Assert.All(await all, s => Assert.Equal("Running", s.State));

        await AssertPsAnswersWithinASecond(client, "abuse");
        foreach (var socket in silent) socket.Dispose();
        Assert.False(pack.Master.HasExited);
    }

    private static async Task<string> ReadLine(Socket socket)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[8192];
        var text = new StringBuilder();
        while (!text.ToString().Contains('\n'))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
            if (read == 0) break;
            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        return text.ToString();
    }

    private static async Task<string> ReadAll(Socket socket)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[8192];
        var text = new StringBuilder();
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token)) > 0) text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        catch (SocketException) { }
        return text.ToString();
    }
}
