using Gopherpack.Control;
using Gopherpack.Linux;
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

    /// <summary>A pack whose unix listener's socket file is app.sock in <paramref name="folder"/>.</summary>
    private static Task<PackProcess> StartWithSocketIn(string folder, TempDir dir) =>
        PackProcess.StartAsync(Manifest(Path.Combine(folder, "app.sock")), dir: dir);

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    [Fact]
    public async Task A_stopping_master_leaves_a_file_of_the_sockets_name_that_a_swapped_parent_folder_leads_to()
    {
        using var dir = new TempDir();
        var shared = Directory.CreateDirectory(Path.Combine(dir.Path, "d")).FullName;
        await using var pack = await StartWithSocketIn(shared, dir);
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
        await using var pack = await StartWithSocketIn(shared, dir);
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

    /// <summary>
    /// The folder of a socket file must be one no other account can swap: owned by root or the master's account, and
    /// sticky where others may write (as /tmp). A folder another account owns, or one everyone may write, is refused at
    /// start, before the master binds or removes anything there (the attack bound a socket in root's folder through a
    /// swap at bind time, and removed a stale one there through a swap at start).
    /// </summary>
    [Theory]
    [InlineData("owned by nobody", "755", true, "is owned by uid 65534")]
    [InlineData("writable by all, not sticky", "777", false, "is writable by other accounts and not sticky")]
    public async Task A_socket_folder_another_account_could_swap_is_refused_at_start_and_nothing_is_created_or_removed(
        string what, string mode, bool chownToNobody, string reason)
    {
        Assert.True(UnixAccounts.EffectiveUid == 0, "this test gives a folder to another account, so it runs as root (as CI runs it)");
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        var shared = Directory.CreateDirectory(Path.Combine(dir.Path, "d")).FullName;
        var stale = Path.Combine(shared, "app.sock");
        // Bound, never listening: a stale socket file (kept open to the end, since disposing it would unlink it).
        using var old = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        old.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(stale));
        Assert.True(File.Exists(stale), "the stale socket file was not made");
        File.SetUnixFileMode(shared, (UnixFileMode)Convert.ToInt32(mode, 8));
        if (chownToNobody) UnixAccounts.Chown(shared, 65534, 65534);
        var manifest = dir.File("app.yml", Manifest(stale));

        var run = await Cli.RunAsync("run", manifest, "--runtime-dir", Path.Combine(dir.Path, "rt"));
        Assert.True(run.Code == 1, $"a socket folder {what} was not refused: {run}");
        Assert.Contains($"listener 'api': cannot put its socket file in {shared}", run.Stderr);
        Assert.Contains(reason, run.Stderr);
        Assert.True(File.Exists(stale), "the refused start removed the stale socket file anyway");
    }

    [Fact]
    public async Task A_socket_in_a_sticky_folder_everyone_may_write_is_bound()
    {
        using var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        var sticky = Directory.CreateDirectory(Path.Combine(dir.Path, "t")).FullName;
        File.SetUnixFileMode(sticky, (UnixFileMode)Convert.ToInt32("1777", 8));
        var socket = Path.Combine(sticky, "app.sock");
        await using var pack = await PackProcess.StartAsync(Manifest(socket), dir: dir);
        Assert.True(File.Exists(socket), "the socket in a sticky folder was not bound");
    }
}
