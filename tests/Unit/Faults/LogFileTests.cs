using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>The log of a started pack: appended across runs, private, bounded by rotation.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class LogFileTests
{
    [Fact]
    public async Task Start_appends_to_a_private_log_that_is_rotated_past_its_size()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        var manifest = dir.File("app.yml", """
            name: logged
            command: sh
            args: ["-c", "echo first-run-line; exec sleep 600"]
            workers: 1
            ready: { mode: delay, delay: 50ms }
            """);
        var (first, pack) = await StartedPack.StartAsync(manifest, runtime, "logged");
        await using (pack)
        {
            Assert.True(first.Code == 0, first.ToString());
            await Eventually.True(() => File.ReadAllText(pack!.LogPath).Contains("first-run-line"), TimeSpan.FromSeconds(10), "the worker's line in the log");
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(pack!.LogPath));
            Assert.True((await Cli.RunAsync("stop", "logged", "--runtime-dir", runtime)).Code == 0);
        }

        File.WriteAllText(manifest, manifest.Length > 0 ? File.ReadAllText(manifest).Replace("first-run-line", "second-run-line") : "");
        var (again, restarted) = await StartedPack.StartAsync(manifest, runtime, "logged");
        await using (restarted)
        {
            Assert.True(again.Code == 0, again.ToString());
            await Eventually.True(() => File.ReadAllText(restarted!.LogPath).Contains("second-run-line"), TimeSpan.FromSeconds(10), "the second run's line");
            var log = File.ReadAllText(restarted!.LogPath);
            Assert.Contains("first-run-line", log); // appended, not overwritten from the start
            Assert.DoesNotContain('\0', log);
            Assert.True((await Cli.RunAsync("stop", "logged", "--runtime-dir", runtime)).Code == 0);
        }

        File.WriteAllText(manifest, """
            name: logged
            command: sh
            args: ["-c", "while true; do head -c 2000 /dev/zero | tr '\\0' y; echo; done"]
            workers: 1
            ready: { mode: delay, delay: 50ms }
            logs: { maxSize: 256KiB }
            """);
        var (second, flooding) = await StartedPack.StartAsync(manifest, runtime, "logged");
        await using (flooding)
        {
            Assert.True(second.Code == 0, second.ToString());
            var rotated = flooding!.LogPath + ".1";
            await Eventually.True(() => File.Exists(rotated), TimeSpan.FromSeconds(30), "the log to be rotated");
            Assert.DoesNotContain('\0', File.ReadAllText(rotated));
            // Checked every 16th of the bound: the rotated file overshoots 256 KiB by at most that and one line.
            Assert.True(new FileInfo(rotated).Length < 320 * 1024, $"the rotated log is {new FileInfo(rotated).Length} bytes for a 256 KiB bound");
            await Eventually.True(() => new FileInfo(flooding.LogPath).Length > 0, TimeSpan.FromSeconds(10), "the new log to be written");
            Assert.True(new FileInfo(flooding.LogPath).Length < 4 * 256 * 1024, $"the log is {new FileInfo(flooding.LogPath).Length} bytes");
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(flooding.LogPath));
        }
    }
}
