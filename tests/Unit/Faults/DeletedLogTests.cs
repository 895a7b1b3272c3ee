using Gopherpack.Tests.EndToEnd;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Faults;

/// <summary>
/// Someone deletes NAME.log while the pack runs (rm, a cleanup script, logrotate's create without a postrotate):
/// the master must notice (link count 0, or the path names another file) and reopen it, so the log stays
/// visible and size-bounded instead of filling the disk through a deleted inode.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DeletedLogTests
{
    [Fact]
    public async Task A_deleted_log_is_reopened_and_rotation_keeps_bounding_it()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        var manifest = dir.File("app.yml", """
            name: unlinked
            command: sh
            args: ["-c", "while true; do head -c 2000 /dev/zero | tr '\\0' y; echo; done"]
            workers: 1
            ready: { mode: delay, delay: 50ms }
            logs: { maxSize: 256KiB }
            """);
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "unlinked");
        await using (pack)
        {
            Assert.True(start.Code == 0, start.ToString());
            await Eventually.True(() => new FileInfo(pack!.LogPath).Length > 0, TimeSpan.FromSeconds(10), "the log to be written");
            File.Delete(pack!.LogPath);
            File.Delete(pack.LogPath + ".1");

            await Eventually.True(() => File.Exists(pack.LogPath), TimeSpan.FromSeconds(20), "the master to reopen the deleted log");
            Assert.Contains("was deleted", File.ReadAllText(pack.LogPath));
            Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(pack.LogPath));
            // Rotation works on the new file, and no fd of the master still writes to the deleted one.
            await Eventually.True(() => File.Exists(pack.LogPath + ".1"), TimeSpan.FromSeconds(30), "the reopened log to be rotated");
            Assert.True(new FileInfo(pack.LogPath + ".1").Length < 320 * 1024, $"the rotated log is {new FileInfo(pack.LogPath + ".1").Length} bytes for a 256 KiB bound");
            var deleted = Directory.GetFiles($"/proc/{pack.MasterPid}/fd")
                .Select(fd => { try { return new FileInfo(fd).LinkTarget; } catch (IOException) { return null; } })
                .Where(target => target is not null && target.StartsWith(pack.LogPath) && target.EndsWith("(deleted)")).ToList();
            Assert.True(deleted.Count == 0, "the master still holds " + string.Join(", ", deleted));
        }
    }
}
