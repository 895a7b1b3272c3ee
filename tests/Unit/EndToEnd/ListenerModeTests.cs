using System.Net;
using System.Net.Sockets;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class ListenerModeTests
{
    private static string SocketInode(int pid, int fd) => new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget!;

    [Fact]
    public async Task Reuseport_gives_each_slot_its_own_socket_and_both_serve()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: rp
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", mode: reuseport }]
            """);
        Assert.Contains("reuseport, 2 sockets", pack.Log);
        var pids = pack.SlotPids.Values.ToList();
        Assert.NotEqual(SocketInode(pids[0], 3), SocketInode(pids[1], 3));

        var endpoint = pack.TcpEndPoint("http");
        var seen = new HashSet<int>();
        for (var i = 0; i < 400 && seen.Count < 2; i++) seen.Add(await RawHttp.PidAsync(endpoint));
        Assert.Equal(pids.ToHashSet(), seen);
    }

    [Fact]
    public async Task A_replacement_worker_inherits_its_slots_reuseport_socket()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: rp2
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0", mode: reuseport }]
            restart: { backoff: { initial: 10ms } }
            """);
        var old = pack.SlotPids[1];
        var socket = SocketInode(old, 3);
        Native.kill(old, Native.SIGKILL);
        var replacement = await pack.WaitForReplacement(1, old, TimeSpan.FromSeconds(10));
        Assert.Equal(socket, SocketInode(replacement, 3));
    }

    [Fact]
    public async Task Shared_mode_hands_every_worker_the_same_socket()
    {
        await using var pack = await PackProcess.StartAsync("""
            name: sh
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """);
        var pids = pack.SlotPids.Values.ToList();
        Assert.Equal(SocketInode(pids[0], 3), SocketInode(pids[1], 3));
    }

    [Fact]
    public async Task A_unix_socket_listener_serves_with_its_file_mode_and_is_removed_on_stop()
    {
        // A stale socket file left by a killed master is covered in MasterDeathTests.
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "api.sock");

        var pack = await PackProcess.StartAsync("""
            name: ux
            command: dotnet
            args: ["{worker}"]
            workers: 2
            listeners: [{ name: api, address: "unix://api.sock", fileMode: "0660" }]
            """, dir: dir);
        await using (pack)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(path));
            var pid = await RawHttp.PidAsync(new UnixDomainSocketEndPoint(path));
            Assert.Contains(pid, pack.SlotPids.Values);
            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        }
        Assert.False(File.Exists(path), "the socket file was left behind");
    }

    [Fact]
    public async Task A_live_unix_socket_of_another_process_is_not_taken_over()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "busy.sock");
        using var owner = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        owner.Bind(new UnixDomainSocketEndPoint(path));
        owner.Listen();
        await using var pack = await PackProcess.StartAsync("""
            name: busy
            command: dotnet
            args: ["{worker}"]
            listeners: [{ name: api, address: "unix://busy.sock" }]
            """, waitReady: false, dir: dir);
        Assert.Equal(1, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Contains("listener 'api': address unix://" + path + " in use by another process", pack.Log);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task An_ipv6_loopback_listener_serves()
    {
        if (!Socket.OSSupportsIPv6) return;
        await using var pack = await PackProcess.StartAsync("""
            name: six
            command: dotnet
            args: ["{worker}"]
            workers: 1
            listeners: [{ name: http, address: "tcp://[::1]:0" }]
            """);
        var endpoint = pack.TcpEndPoint("http");
        Assert.Equal(AddressFamily.InterNetworkV6, endpoint.AddressFamily);
        Assert.Equal(pack.SlotPids[0], await RawHttp.PidAsync(endpoint));
    }

    [Fact]
    public async Task A_port_in_use_is_a_clear_error_and_nothing_starts()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await using var pack = await PackProcess.StartAsync($$"""
            name: taken
            command: dotnet
            args: ["{worker}"]
            listeners: [{ name: http, address: "tcp://127.0.0.1:{{port}}" }]
            """, waitReady: false);
        Assert.Equal(1, await pack.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Contains($"listener 'http': address tcp://127.0.0.1:{port} in use by another process", pack.Log);
        Assert.Empty(pack.AllWorkerPids);
        Assert.Empty(Directory.GetFileSystemEntries(pack.RuntimeDir));
    }
}
