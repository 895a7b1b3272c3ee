using System.Diagnostics;
using Gopherpack.Linux;
using Gopherpack.Master;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Master;

/// <summary>
/// The janitor checks a listed file's identity and then removes it: a user who can write the file's folder swaps a
/// parent folder for a symlink in between, to have root remove a file or tree elsewhere. The race is made
/// deterministic: the janitor script runs with a <c>stat</c> first on its PATH that makes the swap right after the check.
/// </summary>
public sealed class JanitorFolderSwapTests
{
    private static readonly string RealStat = File.Exists("/usr/bin/stat") ? "/usr/bin/stat" : "/bin/stat";

    [Fact]
    public async Task A_parent_folder_swapped_for_a_symlink_after_the_check_does_not_lead_the_janitor_to_remove_a_file_elsewhere()
    {
        using var dir = new TempDir();
        var (shared, victim) = Folders(dir);
        File.WriteAllText(Path.Combine(shared, "app.sock"), "");
        File.WriteAllText(Path.Combine(victim, "app.sock"), "root's file");

        await RunJanitor(dir, Path.Combine(shared, "app.sock"), swap: true);

        Assert.True(File.Exists(Path.Combine(victim, "app.sock")), "the janitor removed the file the swapped folder leads to");
        Assert.False(File.Exists(Path.Combine(shared + ".real", "app.sock")), "the janitor left the file it listed");
    }

    [Fact]
    public async Task A_parent_folder_swapped_for_a_symlink_after_the_check_does_not_lead_the_janitor_to_remove_a_tree_elsewhere()
    {
        using var dir = new TempDir();
        var (shared, victim) = Folders(dir);
        Directory.CreateDirectory(Path.Combine(shared, "notify"));
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(victim, "notify")).FullName, "data"), "root's tree");

        await RunJanitor(dir, Path.Combine(shared, "notify"), swap: true);

        Assert.True(File.Exists(Path.Combine(victim, "notify", "data")), "the janitor removed the tree the swapped folder leads to");
        Assert.False(Directory.Exists(Path.Combine(shared + ".real", "notify")), "the janitor left the folder it listed");
    }

    [Fact]
    public async Task The_janitor_removes_a_listed_file_and_folder_and_only_unlinks_a_symlink_put_in_a_listed_files_place()
    {
        using var dir = new TempDir();
        var (shared, victim) = Folders(dir);
        var file = Path.Combine(shared, "app.sock");
        File.WriteAllText(file, "");
        var folder = Directory.CreateDirectory(Path.Combine(shared, "notify")).FullName;
        File.WriteAllText(Path.Combine(folder, "inner"), "");
        // What the master was writing when it was killed: its next list, and a pid file not yet renamed into place.
        var writing = new[] { Path.Combine(dir.Path, $"test.files.{Environment.ProcessId}.tmp"), Path.Combine(dir.Path, $"test.pid.{Environment.ProcessId}.3.tmp") };
        var others = new[] { Path.Combine(dir.Path, "test.pid.1.3.tmp"), Path.Combine(dir.Path, "test.files.1.tmp") };
        foreach (var path in writing.Concat(others)) File.WriteAllText(path, "");
        await RunJanitor(dir, [file, folder], swap: false);
        Assert.False(File.Exists(file), "the janitor left a listed file");
        Assert.False(Directory.Exists(folder), "the janitor left a listed folder");
        Assert.All(writing, path => Assert.False(File.Exists(path), $"the janitor left {path}"));
        Assert.All(others, path => Assert.True(File.Exists(path), $"the janitor removed another master's {path}"));

        // A symlink to the victim folder in a listed path's place is another file (its own inode): left alone, not followed.
        File.WriteAllText(Path.Combine(victim, "data"), "");
        Directory.CreateDirectory(folder);
        var id = FileId.OfPath(folder)!.Value;
        Directory.Move(folder, folder + ".moved"); // kept, so that its inode number is not reused by the symlink
        File.CreateSymbolicLink(folder, victim);
        await RunJanitor(dir, [(folder, id)], swap: false);
        Assert.True(File.Exists(Path.Combine(victim, "data")), "the janitor followed a symlink in a listed folder's place");
    }

    private static (string Shared, string Victim) Folders(TempDir dir) =>
        (Directory.CreateDirectory(Path.Combine(dir.Path, "d")).FullName, Directory.CreateDirectory(Path.Combine(dir.Path, "victim")).FullName);

    private static Task RunJanitor(TempDir dir, string listed, bool swap) => RunJanitor(dir, [listed], swap);

    private static Task RunJanitor(TempDir dir, string[] listed, bool swap) =>
        RunJanitor(dir, listed.Select(p => (p, FileId.OfPath(p)!.Value)).ToArray(), swap);

    /// <summary>
    /// Runs the janitor's script as the janitor of a master (this process, with another start time) that has died, its
    /// lifeline at EOF. With <paramref name="swap"/>, the first <c>stat</c> the script runs swaps d for a symlink to victim.
    /// </summary>
    private static async Task RunJanitor(TempDir dir, (string Path, FileId Id)[] listed, bool swap)
    {
        var list = new RuntimeFileList(Path.Combine(dir.Path, $"test.files.{Environment.ProcessId}"));
        list.Write(listed.Select(f => (f.Path, (FileId?)f.Id)), [], ("TERM", TimeSpan.FromSeconds(1)));
        var bin = Directory.CreateDirectory(Path.Combine(dir.Path, "bin")).FullName;
        var shared = Path.Combine(dir.Path, "d");
        File.WriteAllText(Path.Combine(bin, "stat"), $"""
            #!/bin/sh
            {RealStat} "$@"; rc=$?
            if [ ! -e '{dir.Path}/swapped' ]; then : >'{dir.Path}/swapped'; mv '{shared}' '{shared}.real'; ln -s '{dir.Path}/victim' '{shared}'; fi
            exit $rc
            """);
        File.SetUnixFileMode(Path.Combine(bin, "stat"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var born = ProcessStat.Read(Environment.ProcessId)!.Value.StartTime - 1;
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var arg in new[] { "-c", "exec /bin/sh -c \"$0\" \"$@\" 3</dev/null", RuntimeJanitor.Script, "gopherpack-janitor", list.Path, Environment.ProcessId.ToString(), born.ToString() })
            start.ArgumentList.Add(arg);
        start.Environment.Clear();
        start.Environment["PATH"] = swap ? $"{bin}:/usr/bin:/bin" : "/usr/bin:/bin";
        using var janitor = Process.Start(start)!;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try { await janitor.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException)
        {
            janitor.Kill();
            throw new TimeoutException("the janitor script did not finish within 20 s");
        }
        if (swap) Assert.True(File.Exists(Path.Combine(dir.Path, "swapped")), "the janitor never ran stat: the swap was not made");
    }
}
