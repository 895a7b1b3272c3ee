using Gopherpack.Linux;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Runtime;

/// <summary>The master removes a socket file only if it is still the one it bound, never through a symlink at its name.</summary>
public sealed class FileUnlinkTests
{
    [Fact]
    public void The_very_file_is_removed_another_at_its_path_is_not_nor_is_a_symlink_followed()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "app.sock");
        File.WriteAllText(path, "");
        var id = FileId.OfPath(path)!.Value;
        Assert.True(FileUnlink.IfSame(path, id));
        Assert.False(File.Exists(path));
        Assert.False(FileUnlink.IfSame(path, id), "a path that names no file was reported removed");

        File.WriteAllText(path, "");
        var kept = path + ".kept";
        File.Move(path, kept); // still allocated: its inode number is not reused below
        File.WriteAllText(path, "another");
        Assert.False(FileUnlink.IfSame(path, id));
        Assert.True(File.Exists(path), "another file at the path was removed");

        var victim = Path.Combine(dir.Path, "victim");
        File.WriteAllText(victim, "");
        File.Delete(path);
        File.CreateSymbolicLink(path, victim);
        Assert.False(FileUnlink.IfSame(path, FileId.OfPath(victim)!.Value));
        Assert.True(File.Exists(victim), "the symlink at the path was followed");
    }
}
