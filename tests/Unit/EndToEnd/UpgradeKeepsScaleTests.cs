using Gopherpack.Control;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// An upgrade keeps the worker count set by scale (or SIGTTIN/SIGTTOU), as a reload does, unless the
/// manifest changed <c>workers</c>: the new master starts that many workers, on the very sockets of the
/// old master's slots in reuseport mode, and keeps the count across its own reloads.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class UpgradeKeepsScaleTests
{
    private const int SIGTTIN = 21;

    private static string Manifest(string name, string mode, int workers) =>
        $"name: {name}\ncommand: dotnet\nargs: [\"{{worker}}\"]\nworkers: {workers}\n" +
        $"listeners: [{{ name: http, address: 'tcp://127.0.0.1:0', mode: {mode} }}]\n";

    [Theory]
    [InlineData("shared")]
    [InlineData("reuseport")]
    public async Task An_upgrade_keeps_the_scaled_worker_count_unless_the_manifest_changes_workers(string mode)
    {
        var name = "upscale-" + mode;
        await using var pack = await PackProcess.StartAsync(Manifest(name, mode, workers: 2));
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));

        // SIGTTIN: 2 -> 3, then an upgrade.
        pack.Signal(SIGTTIN);
        var scaledUp = await ReadyWorkers(client, name, 3, "SIGTTIN to add a third worker");
        var sockets = SlotSockets(scaledUp);
        var upgraded = await Upgrade(client, name, pack, scaledUp);
        Assert.True(upgraded.Workers.Count == 3, Describe("the upgrade kept 3 workers", upgraded, pack));
        // Slot i's worker of the new master holds the socket slot i's worker of the old one held (reuseport: one per slot).
        Assert.Equal(sockets, SlotSockets(upgraded));

        // scale 1, then an upgrade.
        var scale = await Cli.RunAsync("scale", name, "1", "--runtime-dir", pack.RuntimeDir);
        Assert.True(scale.Code == 0, scale.ToString());
        var scaledDown = await ReadyWorkers(client, name, 1, "the scale down to 1");
        upgraded = await Upgrade(client, name, pack, scaledDown);
        Assert.True(upgraded.Workers.Count == 1, Describe("the upgrade kept 1 worker", upgraded, pack));
        Assert.Contains(pack.Lines, l => l.Contains($"keeping the 1 worker(s) set by scale on master pid {scaledDown.MasterPid}"));

        // The new master keeps the count across its own reloads too.
        var reload = await Cli.RunAsync("reload", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload.ToString());
        var reloaded = await ReadyWorkers(client, name, 1, "the reload");
        Assert.True(reloaded.Workers.Count(w => w.Generation == reloaded.Generation) == 1, Describe("the reload kept 1 worker", reloaded, pack));

        // A manifest that changes 'workers' wins.
        File.WriteAllText(reloaded.Manifest, Manifest(name, mode, workers: 3).Replace("{worker}", RepoPaths.TestWorkerDll));
        upgraded = await Upgrade(client, name, pack, reloaded);
        Assert.True(upgraded.Workers.Count == 3, Describe("the manifest's 3 workers after it changed 'workers'", upgraded, pack));
    }

    /// <summary>Upgrades by the command and waits until the old master and its workers are gone, so only the new master's workers are listed.</summary>
    private static async Task<PackStatus> Upgrade(PackClient client, string name, PackProcess pack, PackStatus before)
    {
        var upgrade = await Cli.RunAsync("upgrade", name, "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade.ToString() + "\nmaster log:\n" + pack.Log);
        await Eventually.True(() => !Native.IsAlive(before.MasterPid) && before.Workers.All(w => !Native.IsAlive(w.Pid!.Value)), TimeSpan.FromSeconds(60),
            $"master pid {before.MasterPid} and its workers to exit after the upgrade");
        var after = await client.StatusAsync(name);
        Assert.NotEqual(before.MasterPid, after.MasterPid);
        Assert.All(after.Workers, w => Assert.True(w.IsReady, Describe("every worker of the new master ready", after, pack)));
        return after;
    }

    private static async Task<PackStatus> ReadyWorkers(PackClient client, string name, int count, string what) =>
        await Eventually.Value(async () =>
        {
            var status = await client.StatusAsync(name);
            return status.Workers.Count == count && status.Workers.All(w => w.IsReady) ? status : null;
        }, TimeSpan.FromSeconds(60), $"{count} ready worker(s) and no other after {what}");

    private static List<string> SlotSockets(PackStatus status) =>
        status.Workers.OrderBy(w => w.Slot).Select(w => new FileInfo($"/proc/{w.Pid}/fd/3").LinkTarget ?? "?").ToList();

    private static string Describe(string expected, PackStatus status, PackProcess pack) =>
        $"expected {expected}; master pid {status.MasterPid} has {string.Join(", ", status.Workers.Select(w => $"slot {w.Slot} pid {w.Pid} gen {w.Generation} {w.State}"))}\nmaster log:\n{pack.Log}";
}
