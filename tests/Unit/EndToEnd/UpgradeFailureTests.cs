using System.Net;
using System.Text.RegularExpressions;
using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>An upgrade whose new master cannot serve leaves the old master serving, and the command says why (exit 3).</summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class UpgradeFailureTests
{
    [GeneratedRegex(@"starting new master pid (\d+)")] private static partial Regex NewMasterLine();

    private const string Manifest = """
        name: upfail
        command: dotnet
        args: ["{worker}"{switch}]
        workers: 2
        listeners: [{ name: http, address: "tcp://127.0.0.1:0" }]
        ready: { timeout: 60s }
        """;

    [Fact]
    public async Task Crashing_new_workers_a_timeout_a_bad_executable_and_a_second_request_leave_the_old_master_serving()
    {
        await using var pack = await PackProcess.StartAsync(Manifest.Replace("{switch}", ""));
        var runtime = new RuntimeDirectory(pack.RuntimeDir);
        var client = new PackClient(runtime);
        var before = await client.StatusAsync("upfail");
        var manifestPath = Path.Combine(pack.Dir.Path, "app.yml");
        var endpoint = pack.TcpEndPoint("http");

        // The new master re-reads the manifest: its workers now crash at start.
        File.WriteAllText(manifestPath, Manifest.Replace("{worker}", RepoPaths.TestWorkerDll).Replace("{switch}", ", --crash"));
        var crashed = await Cli.RunAsync("upgrade", "upfail", "--runtime-dir", pack.RuntimeDir);
        Assert.True(crashed.Code == 3, crashed.ToString());
        Assert.Contains("exited before it was ready", crashed.Stderr);
        await NewMastersGone(pack);
        await AssertOldMasterServes(client, runtime, before, endpoint);

        // Workers that never become ready: the --timeout ends the attempt.
        File.WriteAllText(manifestPath, Manifest.Replace("{worker}", RepoPaths.TestWorkerDll).Replace("{switch}", ", --never-ready"));
        var slow = await Cli.RunAsync("upgrade", "upfail", "--timeout", "3", "--runtime-dir", pack.RuntimeDir);
        Assert.True(slow.Code == 3, slow.ToString());
        Assert.Contains("not ready within 3s", slow.Stderr);
        await NewMastersGone(pack);
        await AssertOldMasterServes(client, runtime, before, endpoint);

        // While one upgrade runs, a reload, a scale and a second upgrade are refused.
        var running = client.UpgradeAsync("upfail", timeout: TimeSpan.FromSeconds(60));
        await Eventually.True(() => pack.Lines.Count(NewMasterLine().IsMatch) == 3, TimeSpan.FromSeconds(20), "the third upgrade to start");
        var second = await Cli.RunAsync("upgrade", "upfail", "--runtime-dir", pack.RuntimeDir);
        Assert.True(second.Code == 3, second.ToString());
        Assert.Contains("an upgrade is already running", second.Stderr);
        var reload = await Cli.RunAsync("reload", "upfail", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 3, reload.ToString());
        Assert.Contains("an upgrade is already running (new master pid", reload.Stderr);
        // Stopping the pack abandons the upgrade: its new master goes too.
        await client.StopAsync("upfail");
        var abandoned = await Assert.ThrowsAsync<PackControlException>(() => running);
        Assert.Equal(ControlErrors.UpgradeFailed, abandoned.Code);
        Assert.Contains("stopping", abandoned.Message);
        await NewMastersGone(pack);
    }

    [Fact]
    public async Task A_missing_or_relative_executable_is_refused_before_anything_starts()
    {
        await using var pack = await PackProcess.StartAsync(Manifest.Replace("{switch}", ""));
        var missing = await Cli.RunAsync("upgrade", "upfail", "--executable", "/nonexistent/gopherpack", "--runtime-dir", pack.RuntimeDir);
        Assert.True(missing.Code == 2, missing.ToString());
        Assert.Contains("--executable '/nonexistent/gopherpack' does not exist", missing.Stderr);
        var directory = await Cli.RunAsync("upgrade", "upfail", "--executable", "/tmp", "--runtime-dir", pack.RuntimeDir);
        Assert.True(directory.Code == 2, directory.ToString());
        Assert.Contains("--executable '/tmp' is a directory, not a program", directory.Stderr);
        var badTimeout = await Cli.RunAsync("upgrade", "upfail", "--timeout", "0", "--runtime-dir", pack.RuntimeDir);
        Assert.True(badTimeout.Code == 2, badTimeout.ToString());
        var notRunning = await Cli.RunAsync("upgrade", "nosuchpack", "--runtime-dir", pack.RuntimeDir);
        Assert.True(notRunning.Code == 7, notRunning.ToString());
        Assert.DoesNotContain(pack.Lines, l => NewMasterLine().IsMatch(l));
    }

    private static async Task AssertOldMasterServes(PackClient client, RuntimeDirectory runtime, PackStatus before, IPEndPoint endpoint)
    {
        var now = await client.StatusAsync("upfail");
        Assert.Equal(before.MasterPid, now.MasterPid);
        Assert.Equal(before.Generation, now.Generation);
        Assert.Equal(before.Workers.Select(w => w.Pid), now.Workers.Select(w => w.Pid));
        Assert.Equal(before.MasterPid.ToString(), File.ReadAllText(runtime.PidFile("upfail")).Trim());
        Assert.Contains(await RawHttp.PidAsync(endpoint), before.Workers.Select(w => w.Pid!.Value));
    }

    private static async Task NewMastersGone(PackProcess pack)
    {
        var started = pack.Lines.Select(l => NewMasterLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.NotEmpty(started);
        await Eventually.True(() => started.All(pid => !Native.IsAlive(pid)), TimeSpan.FromSeconds(30), "the failed new masters to exit");
        await Eventually.True(() => !Directory.GetFiles(pack.RuntimeDir).Any(f => Path.GetFileName(f).StartsWith("upfail.sock.", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "their temporary control sockets to be removed");
    }
}
