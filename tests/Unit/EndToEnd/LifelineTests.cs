using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class LifelineTests
{
    [Fact]
    public async Task A_library_worker_stops_gracefully_when_its_lifeline_reaches_eof()
    {
        // The test plays the master: it holds the write end of the lifeline (a FIFO) and no death
        // signal is set, so only the worker library's own lifeline handling can stop the worker.
        using var dir = new TempDir();
        var fifo = Path.Combine(dir.Path, "lifeline");
        Assert.Equal(0, Native.mkfifo(fifo, Convert.ToUInt32("600", 8)));
        var port = FreePort.Probe();
        var environment = new Dictionary<string, string?>
        {
            ["GOPHERPACK_PACK"] = "lone", ["GOPHERPACK_SLOT"] = "0", ["GOPHERPACK_GENERATION"] = "1",
            ["GOPHERPACK_MASTER_PID"] = Environment.ProcessId.ToString(), ["GOPHERPACK_LIFELINE_FD"] = "3",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}", ["LIFELINE"] = fifo,
        };
        var writer = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write));
        await using var app = await StandaloneApp.StartProgramAsync("/bin/sh",
            ["-c", "exec 3<\"$LIFELINE\"; exec dotnet \"$0\"", RepoPaths.ExampleDll("HelloHttp")], environment);
        var lifeline = await writer.WaitAsync(TimeSpan.FromSeconds(10));

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.Value(async () =>
        {
            try { return await client.GetStringAsync($"http://127.0.0.1:{port}/health"); }
            catch (HttpRequestException) { return null; }
        }, TimeSpan.FromSeconds(20), "the worker to serve");

        await lifeline.DisposeAsync();
        Assert.Equal(0, await app.WaitForExit(TimeSpan.FromSeconds(10)));
        Assert.Contains($"The master (pid {Environment.ProcessId}) is gone: stopping", app.Output);
    }
}
