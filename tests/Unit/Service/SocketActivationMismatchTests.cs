using System.Net;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Service;

/// <summary>Socket activation that does not fit: fds meant for another process, or more fds than a listener takes.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class SocketActivationMismatchTests
{
    /// <summary>
    /// A wrapper that did not exec (here: LISTEN_PID names the launcher's parent): the fds are not the master's to use.
    /// It must say so and close them, then bind the address itself, instead of failing "address in use" naming nobody.
    /// </summary>
    [Fact]
    public async Task A_listen_pid_that_names_another_process_is_reported_and_its_fds_are_closed()
    {
        using var dir = new TempDir();
        var launcher = dir.File("activate.py", """
            import os, socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(os.environ["ACTIVATE_PORT"]))); s.listen(16)
            os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES="http", LISTEN_PID=str(os.getppid()))
            os.execvp(sys.argv[1], sys.argv[1:])
            """);
        var port = FreePort.Probe();
        var pack = await PackProcess.StartAsync($$"""
            name: samismatch
            command: dotnet
            args: ["{worker}"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:{{port}}" }]
            """, environment: new Dictionary<string, string> { ["ACTIVATE_PORT"] = port.ToString() }, dir: dir, launcher: ["python3", launcher]);
        await using (pack)
        {
            Assert.Contains(pack.Lines, l => l.Contains("LISTEN_PID") && l.Contains("does not match") && l.Contains("closed"));
            Assert.Equal(pack.SlotPids[0], await RawHttp.PidAsync(new IPEndPoint(IPAddress.Loopback, port)));
            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        }
    }

    [Fact]
    public async Task Two_activated_fds_named_after_one_shared_listener_are_refused_for_that_reason()
    {
        using var dir = new TempDir();
        var launcher = dir.File("activate.py", """
            import os, socket, sys
            fds = []
            for _ in range(2):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind(("127.0.0.1", 0)); s.listen(16)
                fds.append(s)
            for i, s in enumerate(fds):
                os.dup2(s.fileno(), 3 + i)
                os.set_inheritable(3 + i, True)
            os.environ.update(LISTEN_FDS="2", LISTEN_FDNAMES="http:http", LISTEN_PID=str(os.getpid()))
            os.execvp(sys.argv[1], sys.argv[1:])
            """);
        var pack = await PackProcess.StartAsync("""
            name: satwo
            command: dotnet
            args: ["{worker}"]
            workers: 1
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            """, dir: dir, launcher: ["python3", launcher]);
        await using (pack)
        {
            Assert.Contains(pack.Lines, l => l.Contains("listener 'http' is shared and takes one socket, but 2 inherited sockets are named 'http'"));
            Assert.DoesNotContain(pack.Lines, l => l.Contains("matches no listener"));
            pack.Signal(Native.SIGTERM);
            Assert.Equal(0, await pack.WaitForExit(TimeSpan.FromSeconds(30)));
        }
    }
}
