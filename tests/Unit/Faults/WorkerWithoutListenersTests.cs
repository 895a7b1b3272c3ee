using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

[Collection(EndToEndCollection.Name)]
public sealed class WorkerWithoutListenersTests
{
    [Fact]
    public async Task A_dotnet_worker_started_through_a_shell_without_exec_fails_loudly_instead_of_serving_localhost_5000()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        // sh -c without exec: the worker is sh's child, LISTEN_PID names sh, so the worker has no listeners.
        var manifest = dir.File("app.yml", $$"""
            name: noexec
            command: sh
            args: ["-c", "dotnet '{{RepoPaths.ExampleDll("HelloHttp")}}'; exit 1"]
            workers: 1
            cpus: none
            listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
            restart: { backoff: { initial: 10ms, max: 10ms }, limit: { restarts: 1, window: 60s } }
            """);
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "noexec", "--timeout", "90");
        await using var _ = pack;
        Assert.True(start.Code == 1, start.ToString());
        Assert.Contains("not to this process", start.Stderr);
        Assert.Contains("start the server with exec", start.Stderr);
    }
}
