using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Runtime;

namespace Gopherpack.Master;

/// <summary>Sets a pack up (runtime dir, limits, CPUs, sockets), runs its master in this process, and tears it down.</summary>
public static class MasterRunner
{
    public const int ExitOk = 0, ExitFailed = 1;

    public static async Task<int> RunAsync(PackManifest manifest, RuntimeDirectory runtime, IMasterLog log)
    {
        int? running;
        try
        {
            runtime.Ensure();
            running = runtime.RunningMaster(manifest.Name);
        }
        catch (RuntimeDirectoryException e)
        {
            log.Error("setup", e.Message);
            return ExitFailed;
        }
        if (running is { } pid)
        {
            log.Error("setup", $"pack '{manifest.Name}' is already running (master pid {pid}, {runtime.PidFile(manifest.Name)})");
            return ExitFailed;
        }

        IReadOnlyList<int?> slotCpus;
        ListenerSet listeners;
        try
        {
            var nofile = FileLimits.RaiseNofile(manifest.NofileLimit);
            slotCpus = WorkerPlan.SlotCpus(manifest, CpuTopology.AllowedCpus(), CpuTopology.CgroupCpuLimit());
            listeners = ListenerSet.Bind(manifest.Listeners, slotCpus.Count);
            log.Info("setup", $"master pid {Environment.ProcessId}, {slotCpus.Count} worker(s), cpus {Describe(slotCpus)}, nofile {nofile}, runtime dir {runtime.Path}");
        }
        catch (Exception e) when (e is ListenerException or WorkerPlanException or InvalidOperationException)
        {
            log.Error("setup", e.Message);
            return ExitFailed;
        }
        foreach (var listener in listeners.Listeners)
            log.Info("listen", $"{listener.Spec.Name} {listener.BoundAddress} ({(listener.Spec.Mode == ListenerMode.ReusePort ? $"reuseport, {listener.PerSlot.Count} sockets" : "shared")})");
        if (listeners.Listeners.Any(l => l.Spec.Mode == ListenerMode.ReusePort) && TcpMigrateReqDisabled())
            log.Warn("listen", "net.ipv4.tcp_migrate_req is 0: connections queued on a slot's socket are dropped if that socket is closed (scale down)");

        runtime.WritePidFile(manifest.Name);
        using var host = new MasterHost(manifest, runtime, listeners, slotCpus, log);
        return await host.RunAsync();
    }

    private static string Describe(IReadOnlyList<int?> cpus) =>
        cpus.All(c => c is null) ? "unpinned" : string.Join(",", cpus.Select(c => c?.ToString() ?? "-"));

    private static bool TcpMigrateReqDisabled()
    {
        try { return File.ReadAllText("/proc/sys/net/ipv4/tcp_migrate_req").Trim() == "0"; }
        catch (IOException) { return false; }
    }
}
