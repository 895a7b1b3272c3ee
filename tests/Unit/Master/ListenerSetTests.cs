using System.Net;
using System.Net.Sockets;
using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Master;

/// <summary>Listener sets on real sockets: an address belongs to one set (and its successors) only.</summary>
public sealed class ListenerSetTests
{
    private static ListenerSpec Tcp(string name, int port, ListenerMode mode = ListenerMode.Shared, int backlog = 4096) =>
        new() { Name = name, Address = ListenerAddress.ForTcp(new IPEndPoint(IPAddress.Loopback, port)), Mode = mode, Backlog = backlog };

    /// <remarks>Reuseport sets are checked against sockets outside the process, so that case is end-to-end (PackOwnershipTests).</remarks>
    [Fact]
    public void A_second_shared_set_on_a_bound_address_is_refused()
    {
        const ListenerMode mode = ListenerMode.Shared;
        using var first = ListenerSet.Bind([Tcp("http", 0, mode)], 2);
        var port = ((IPEndPoint)first.Listeners[0].Sockets.First().LocalEndPoint!).Port;
        var refused = Assert.Throws<ListenerException>(() => ListenerSet.Bind([Tcp("http", port, mode)], 2));
        Assert.StartsWith($"listener 'http': address tcp://127.0.0.1:{port} in use by another process", refused.Message);
    }

    [Fact]
    public void A_shared_listener_does_not_join_a_reuseport_socket_on_its_address()
    {
        // Bound without SO_REUSEPORT (.NET's ReuseAddress option would set it), a shared socket cannot share the address.
        using var foreign = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        foreign.SetRawSocketOption(Libc.SOL_SOCKET, Libc.SO_REUSEPORT, BitConverter.GetBytes(1));
        foreign.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        foreign.Listen();
        var port = ((IPEndPoint)foreign.LocalEndPoint!).Port;
        var refused = Assert.Throws<ListenerException>(() => ListenerSet.Bind([Tcp("http", port, ListenerMode.Shared)], 1));
        Assert.Contains("in use by another process", refused.Message);
    }

    [Fact]
    public void A_reload_keeps_the_socket_of_an_unchanged_address_when_name_and_backlog_change()
    {
        using var current = ListenerSet.Bind([Tcp("http", 0)], 2);
        var socket = current.Listeners[0].Shared!;
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var next = ListenerSet.Bind([Tcp("web", 0, backlog: 128)], 2, current);
        Assert.Same(socket, next.Listeners[0].Shared);
        current.HandOver(next);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(new IPEndPoint(IPAddress.Loopback, port));
        next.Dispose();
    }

    [Fact]
    public void A_mode_change_on_one_address_is_refused_clearly()
    {
        using var current = ListenerSet.Bind([Tcp("http", 0)], 2);
        var refused = Assert.Throws<ListenerException>(() => ListenerSet.Bind([Tcp("http", 0, ListenerMode.ReusePort)], 2, current));
        Assert.Contains("cannot change from mode shared to reuseport in a reload", refused.Message);
    }

    [Fact]
    public void A_reload_that_fails_on_a_later_listener_closes_the_slot_sockets_it_added()
    {
        using var current = ListenerSet.Bind([Tcp("rp", 0, ListenerMode.ReusePort)], 1);
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var busy = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var before = SocketTable.OwnSocketInodes();
        Assert.Throws<ListenerException>(() => ListenerSet.Bind([Tcp("rp", 0, ListenerMode.ReusePort), Tcp("http", busy)], 4, current));
        Assert.True(before.SetEquals(SocketTable.OwnSocketInodes()), "the failed reload leaked the reuseport sockets it bound for new slots");
        Assert.Single(current.Listeners[0].PerSlot);
    }
}
