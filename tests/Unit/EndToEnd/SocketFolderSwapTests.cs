using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// A unix listener's folder may be writable by another user, who swaps it for a symlink to a folder of root's that holds
/// a file of the socket's name: the master (at stop) and its janitor (after a SIGKILL) must not remove that file. The
/// swap is made while the pack runs, so it is in place when the master or janitor removes the socket file.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class SocketFolderSwapTests
{
    private static string Manifest(string socket) => $$"""
        name: swap
        command: dotnet
        args: ["{{RepoPaths.TestWorkerDll}}"]
        workers: 1
        listeners: [{ name: api, address: "unix://{{socket}}" }]
        """;

    /// <summary>The shared folder d (holding the socket) becomes d.real; d becomes a symlink to the victim folder.</summary>
    private static (string Real, string VictimFile) SwapFolder(TempDir dir, string shared)
    {
        var victim = Directory.CreateDirectory(Path.Combine(dir.Path, "victim")).FullName;
        var victimFile = Path.Combine(victim, "app.sock");
        File.WriteAllText(victimFile, "root's file");
        var real = shared + ".real";
        Directory.Move(shared, real);
        File.CreateSymbolicLink(shared, victim);
        return (real, victimFile);
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    [Fact]
    public async Task A_stopping_master_leaves_a_file_of_the_sockets_name_that_a_swapped_parent_folder_leads_to()
    {
        using var dir = new TempDir();
        var shared = Directory.CreateDirectory(Path.Combine(dir.Path, "d")).FullName;
        await using var pack = await PackProcess.StartAsync(Manifest(Path.Combine(shared, "app.sock")), dir: dir);
        var (real, victimFile) = SwapFolder(dir, shared);

        var stopped = await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StopAsync("swap", Timeout());
        Assert.Empty(stopped);
        await pack.WaitForExit(TimeSpan.FromSeconds(20));

        Assert.True(File.Exists(victimFile), "the stopping master removed the file the swapped folder leads to");
        Assert.True(File.Exists(Path.Combine(real, "app.sock")), "the socket file it bound should be left: it is no longer at its path");
    }

    [Fact]
    public async Task A_killed_masters_janitor_leaves_a_file_of_the_sockets_name_that_a_swapped_parent_folder_leads_to()
    {
        using var dir = new TempDir();
        var shared = Directory.CreateDirectory(Path.Combine(dir.Path, "d")).FullName;
        await using var pack = await PackProcess.StartAsync(Manifest(Path.Combine(shared, "app.sock")), dir: dir);
        var (_, victimFile) = SwapFolder(dir, shared);

        pack.Signal(Native.SIGKILL);
        await pack.WaitForExit(TimeSpan.FromSeconds(10));
        var leftovers = () => Directory.GetFileSystemEntries(pack.RuntimeDir, "swap.*").ToList();
        await Eventually.True(() => leftovers().Count == 0, TimeSpan.FromSeconds(10), $"the janitor to finish: {string.Join(", ", leftovers())}");

        Assert.True(File.Exists(victimFile), "the janitor removed the file the swapped folder leads to");
    }

    [Fact]
    public async Task A_stopping_master_removes_its_socket_file_from_a_folder_that_was_not_swapped()
    {
        using var dir = new TempDir();
        var socket = Path.Combine(Directory.CreateDirectory(Path.Combine(dir.Path, "d")).FullName, "app.sock");
        await using var pack = await PackProcess.StartAsync(Manifest(socket), dir: dir);
        Assert.True(File.Exists(socket));

        Assert.Empty(await new PackClient(new RuntimeDirectory(pack.RuntimeDir)).StopAsync("swap", Timeout()));
        await pack.WaitForExit(TimeSpan.FromSeconds(20));

        Assert.False(File.Exists(socket), "the stopping master left its socket file");
    }
}
