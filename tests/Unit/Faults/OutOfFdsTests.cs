using System.Diagnostics;
using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// More workers than the master's fd limit allows (60 workers under nofile 128): the master runs out of fds for
/// their pipes and notify sockets. The start must fail early and name the real cause, not wait out its timeout
/// while blaming posix_spawn for a bad file descriptor.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class OutOfFdsTests
{
    [Fact]
    public async Task A_start_that_runs_out_of_fds_fails_early_with_the_real_cause()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        var manifest = dir.File("app.yml", """
            name: nofds
            command: sh
            args: ["-c", "exec sleep 600"]
            workers: 60
            cpus: none
            limits: { nofile: 128 }
            ready: { mode: delay, delay: 50ms }
            """);
        var clock = Stopwatch.StartNew();
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "nofds", "--timeout", "110");
        await using (pack)
        {
            Assert.True(start.Code == 1, start.ToString());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"the start took {clock.Elapsed.TotalSeconds:0} s to fail");
            Assert.Contains("Too many open files", start.Stderr);
            Assert.Contains("limits.nofile", start.Stderr);
            var log = File.ReadAllText(Path.Combine(runtime, "nofds.log"));
            Assert.DoesNotContain("Bad file descriptor", log);
            Assert.Null(pack);
        }
    }
}
