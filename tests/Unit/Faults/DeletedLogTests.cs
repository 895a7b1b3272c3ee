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
            // The file appears before the master's line about it lands.
            await Eventually.True(() => File.ReadAllText(pack.LogPath).Contains("was deleted"), TimeSpan.FromSeconds(20), "the reopen to be logged");
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

    /// <summary>
    /// NAME.log replaced by a symlink (mv -T of a symlink over it): the master is detached from the path too, so it must
    /// not keep filling the deleted inode; the symlink, in its own private runtime dir, is replaced by a fresh file
    /// (its target never written), and rotation goes on.
    /// </summary>
    [Fact]
    public async Task A_log_replaced_by_a_symlink_is_replaced_by_a_fresh_file_and_stays_bounded()
    {
        using var dir = new TempDir();
        var runtime = Path.Combine(dir.Path, "rt");
        var manifest = dir.File("app.yml", """
            name: relinked
            command: sh
            args: ["-c", "while true; do head -c 2000 /dev/zero | tr '\\0' y; echo; done"]
            workers: 1
            ready: { mode: delay, delay: 50ms }
            logs: { maxSize: 256KiB }
            """);
        var target = dir.File("target.txt", "target's own line\n");
        var (start, pack) = await StartedPack.StartAsync(manifest, runtime, "relinked");
        await using (pack)
        {
            Assert.True(start.Code == 0, start.ToString());
            await Eventually.True(() => new FileInfo(pack!.LogPath).Length > 0, TimeSpan.FromSeconds(10), "the log to be written");
            var link = Path.Combine(runtime, "link.tmp");
            File.CreateSymbolicLink(link, target);
            File.Move(link, pack!.LogPath, overwrite: true); // rename(2): mv -T
            File.Delete(pack.LogPath + ".1");

            await Eventually.True(() => new FileInfo(pack.LogPath).LinkTarget is null && File.Exists(pack.LogPath), TimeSpan.FromSeconds(20),
                "the master to replace the symlink with a fresh log");
            await Eventually.True(() => File.ReadAllText(pack.LogPath).Contains("was deleted or replaced"), TimeSpan.FromSeconds(20), "the reopen to be logged");
            Assert.Equal("target's own line\n", File.ReadAllText(target));
            await Eventually.True(() => File.Exists(pack.LogPath + ".1"), TimeSpan.FromSeconds(30), "the reopened log to be rotated");
            var deleted = Directory.GetFiles($"/proc/{pack.MasterPid}/fd")
                .Select(fd => { try { return new FileInfo(fd).LinkTarget; } catch (IOException) { return null; } })
                .Where(t => t is not null && t.StartsWith(pack.LogPath) && t.EndsWith("(deleted)")).ToList();
            Assert.True(deleted.Count == 0, "the master still holds " + string.Join(", ", deleted));
        }
    }
}
