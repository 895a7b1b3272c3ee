using System.Collections;
using Gopherpack.Worker;
using Gopherpack.Worker.Net;

namespace Gopherpack.Tests.Worker;

public sealed class PackWorkerTests
{
    private static Hashtable Contract(int pid) => new()
    {
        ["GOPHERPACK_PACK"] = "api", ["GOPHERPACK_SLOT"] = "3", ["GOPHERPACK_CPU"] = "5", ["GOPHERPACK_GENERATION"] = "2",
        ["GOPHERPACK_MASTER_PID"] = "100", ["GOPHERPACK_LIFELINE_FD"] = "5", ["NOTIFY_SOCKET"] = "/run/n/w1",
        ["WATCHDOG_USEC"] = "3000000", ["LISTEN_PID"] = pid.ToString(), ["LISTEN_FDS"] = "2", ["LISTEN_FDNAMES"] = "http:admin",
        ["GOPHERPACK_LISTENERS"] = """[{"name":"http","fd":3,"protocols":"http2","maxConnections":50,"tls":{"certificate":"/c.pem","key":"/k.pem"}},{"name":"admin","fd":4,"protocols":"tcp"}]""",
    };

    [Fact]
    public void A_worker_reads_who_it_is_and_its_listeners()
    {
        var worker = PackWorker.FromEnvironment(Contract(42), 42);
        Assert.True(worker.IsWorker);
        Assert.Equal(("api", 3, 5, 2, 100), (worker.Pack, worker.Slot, worker.Cpu, worker.Generation, worker.MasterPid));
        Assert.Equal(5, worker.LifelineFd);
        Assert.Equal(TimeSpan.FromSeconds(3), worker.WatchdogTimeout);
        Assert.Equal(new InheritedListener("http", 3, "http2", 50, "/c.pem", "/k.pem", null), worker.Listener("http"));
        Assert.Equal(new InheritedListener("admin", 4, "tcp", null, null, null, null), worker.Listener("admin"));
    }

    [Fact]
    public void The_settings_the_master_writes_are_the_settings_the_worker_reads()
    {
        var https = new Gopherpack.Manifest.ListenerSpec
        {
            Name = "https", Address = Gopherpack.Manifest.ListenerAddress.ForTcp(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)), Protocols = Gopherpack.Manifest.ListenerProtocols.Http1AndHttp2, MaxConnections = 7,
            Tls = new Gopherpack.Manifest.TlsSpec("/tls/c.pem", "/tls/k.pem"), Backlog = 128,
        };
        var raw = new Gopherpack.Manifest.ListenerSpec { Name = "raw", Address = Gopherpack.Manifest.ListenerAddress.ForTcp(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)), Protocols = Gopherpack.Manifest.ListenerProtocols.Tcp };
        var json = ListenerSettings.Json([ListenerSettings.From(https, 3, "tcp://127.0.0.1:4000"), ListenerSettings.From(raw, 4, "tcp://127.0.0.1:4001")]);
        var environment = Contract(9);
        environment["LISTEN_FDNAMES"] = "https:raw";
        environment["GOPHERPACK_LISTENERS"] = json;

        var worker = PackWorker.FromEnvironment(environment, 9);
        Assert.Equal(new InheritedListener("https", 3, "http1AndHttp2", 7, "/tls/c.pem", "/tls/k.pem", "tcp://127.0.0.1:4000", 128), worker.Listener("https"));
        Assert.Equal(new InheritedListener("raw", 4, "tcp", null, null, null, "tcp://127.0.0.1:4001", 4096), worker.Listener("raw"));
        Assert.StartsWith("""[{"name":"https","fd":3,"address":"tcp://127.0.0.1:4000","protocols":"http1AndHttp2","maxConnections":7,"tls":{"certificate":"/tls/c.pem","key":"/tls/k.pem"},"backlog":128}""", json);
    }

    [Fact]
    public void Listeners_meant_for_another_pid_are_not_adopted()
    {
        var worker = PackWorker.FromEnvironment(Contract(42), 43);
        Assert.True(worker.IsWorker);
        Assert.Empty(worker.Listeners);
    }

    [Fact]
    public void Outside_a_pack_nothing_is_set()
    {
        var worker = PackWorker.FromEnvironment(new Hashtable { ["PATH"] = "/bin" }, 42);
        Assert.False(worker.IsWorker);
        Assert.Null(worker.Slot);
        Assert.Empty(worker.Listeners);
        Assert.Equal("not in a pack", worker.ToString());
    }

    [Fact]
    public void Missing_names_and_broken_settings_still_give_usable_listeners()
    {
        var environment = Contract(7);
        environment["LISTEN_FDNAMES"] = "";
        environment["GOPHERPACK_LISTENERS"] = "{not json";
        var worker = PackWorker.FromEnvironment(environment, 7);
        Assert.Equal(["fd3", "fd4"], worker.Listeners.Select(l => l.Name));
        Assert.All(worker.Listeners, l => Assert.Equal("http1AndHttp2", l.Protocols));
    }
}

public sealed class ConnectionGateTests
{
    [Fact]
    public async Task At_the_limit_the_next_accept_waits_until_a_connection_ends()
    {
        var gate = new ConnectionGate(2);
        Assert.True(await gate.WaitForSlotAsync(CancellationToken.None));
        Assert.True(await gate.WaitForSlotAsync(CancellationToken.None));
        var third = gate.WaitForSlotAsync(CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.Equal(2, gate.Active);
        gate.Release();
        Assert.True(await third.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(2, gate.Active);
    }

    [Fact]
    public async Task Stopping_releases_a_waiting_accept_with_false_and_refuses_later_ones()
    {
        var gate = new ConnectionGate(1);
        Assert.True(await gate.WaitForSlotAsync(CancellationToken.None));
        var waiting = gate.WaitForSlotAsync(CancellationToken.None).AsTask();
        gate.StopAccepting();
        Assert.False(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(await gate.WaitForSlotAsync(CancellationToken.None));
        Assert.False(gate.IsAccepting);
    }

    [Fact]
    public async Task Without_a_limit_every_accept_passes()
    {
        var gate = new ConnectionGate(null);
        for (var i = 0; i < 1000; i++) Assert.True(await gate.WaitForSlotAsync(CancellationToken.None));
        Assert.Equal(1000, gate.Active);
    }
}
