using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master.Upgrade;
using Gopherpack.Runtime;

namespace Gopherpack.Master;

/// <summary>Sets a pack up (runtime dir, limits, CPUs, sockets), runs its master in this process, and tears it down.</summary>
public static class MasterRunner
{
    internal const int ExitFailed = Control.ControlErrorTable.ExitFailed, ExitUpgradeFailed = 3;

    public static async Task<int> RunAsync(PackManifest manifest, RuntimeDirectory runtime, IMasterLog log, MasterOptions? options = null)
    {
        try
        {
            return await SetUpAndRunAsync(manifest, runtime, log, options ?? new MasterOptions());
        }
        finally
        {
            // The last lines (why the master exits) must not be lost in the output queue.
            Output.MasterOutput.Standard.Flush(TimeSpan.FromSeconds(2));
        }
    }

    private static async Task<int> SetUpAndRunAsync(PackManifest manifest, RuntimeDirectory runtime, IMasterLog log, MasterOptions options)
    {
        Output.MasterOutput.Standard.BoundLogFile(manifest.LogMaxBytes, runtime.Path);
        UpgradeHandover? handover;
        IReadOnlyList<AdoptedListener> inherited;
        try
        {
            // Sockets handed to this process: by an old master (upgrade), else by systemd (socket activation).
            handover = UpgradeHandover.TakeFromEnvironment();
            inherited = handover is not null ? handover.AdoptListeners() : SocketActivation.TakeFromEnvironment(warning => log.Warn("listen", warning));
        }
        catch (ListenerException e)
        {
            log.Error("setup", e.Message);
            return ExitFailed;
        }
        // The pid file lock comes first: of two masters of one pack started at once, exactly one gets
        // past here, and the other binds no socket and replaces no file. A new master of an upgrade
        // takes the pid file over later, from its predecessor, which holds the lock until then.
        PidFile? pidFile = null;
        try
        {
            runtime.Ensure();
            if (handover is null) pidFile = PidFile.Acquire(runtime.PidFile(manifest.Name), stale => log.Warn("setup", stale));
            else if (runtime.RunningMaster(manifest.Name) is { } pid && pid != handover.From)
                return Fail($"pack '{manifest.Name}' is already running (master pid {pid}, {runtime.PidFile(manifest.Name)})");
        }
        catch (RuntimeDirectoryException e)
        {
            return Fail(e.Message);
        }
        catch (PidFileLockedException e)
        {
            return Fail($"pack '{manifest.Name}' is already running (master pid {e.HolderPid?.ToString() ?? "unknown"}, {e.PidFilePath}); " +
                $"stop it first ('gopherpack stop {manifest.Name}') or use another --runtime-dir");
        }
        // Notify sockets are <runtime>/<name>.notify/<master pid>/w<worker id>: all must fit a unix socket path.
        var longest = Path.Combine(runtime.NotifyDirectory(manifest.Name), "4194304", "w" + long.MaxValue);
        if (System.Text.Encoding.UTF8.GetByteCount(longest) > WorkerIo.MaxSocketPath)
        {
            pidFile?.Dispose();
            return Fail($"the runtime dir {runtime.Path} is too long: the workers' notify sockets ({longest}) would exceed the {WorkerIo.MaxSocketPath}-byte limit of unix socket paths; use a shorter --runtime-dir");
        }

        IReadOnlyList<int?> slotCpus;
        ListenerSet listeners;
        System.Net.Sockets.Socket? metricsSocket = null;
        // As a reload does, an upgrade keeps the worker count set by scale unless the manifest changed 'workers'.
        var scaled = handover?.KeptWorkers(manifest);
        try
        {
            var nofile = FileLimits.RaiseNofile(manifest.NofileLimit);
            slotCpus = WorkerPlan.SlotCpusHere(scaled is { } count ? manifest with { Workers = count } : manifest);
            if (scaled is not null)
                log.Info("setup", $"keeping the {scaled} worker(s) set by scale on master pid {handover!.From} ('workers' in the manifest is unchanged)");
            metricsSocket = BindMetrics(manifest, handover);
            listeners = ListenerSet.Bind(manifest.Listeners, slotCpus.Count, inherited, out var unused, new RetiredSockets(handover?.RetiredSockets));
            // Upgraded from a master whose manifest had another 'user': the files are taken back too.
            foreach (var problem in listeners.ApplySocketFileAccess(manifest.Account)) log.Warn("listen", problem);
            if (manifest.Account is { } account)
            {
                if (WorkerLauncher.ChangesIdentity(account) && WorkerLauncher.FindSetpriv() is null)
                    throw new InvalidOperationException($"'user: {account.User}' needs util-linux setpriv to change the workers' identity, and it is not installed");
                log.Info("setup", $"workers run as {account}" + (WorkerLauncher.ChangesIdentity(account) ? ", with no capabilities and no_new_privs" : ", the master's own account"));
            }
            foreach (var why in unused) log.Warn("listen", why);
            log.Info("setup", $"master pid {Environment.ProcessId}, {slotCpus.Count} worker(s), cpus {Describe(slotCpus)}, nofile {nofile}, runtime dir {runtime.Path}");
        }
        catch (Exception e) when (e is ListenerException or WorkerPlanException or InvalidOperationException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            pidFile?.Dispose();
            metricsSocket?.Dispose();
            return Fail(e.Message);
        }
        var handed = inherited.SelectMany(i => i.Sockets).ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var listener in listeners.Listeners)
            log.Info("listen", $"{listener.Spec.Name} {listener.BoundAddress} ({(listener.Spec.Mode == ListenerMode.ReusePort ? $"reuseport, {listener.PerSlot.Count} sockets" : "shared")}"
                + (listener.Sockets.Any(handed.Contains) ? (handover is null ? ", from socket activation" : $", from master pid {handover.From}") : "") + ")");
        if (listeners.Listeners.Any(l => l.Spec.Mode == ListenerMode.ReusePort) && TcpMigrateReqDisabled())
            log.Warn("listen", "net.ipv4.tcp_migrate_req is 0: connections queued on a slot's socket are dropped if that socket is closed (scale down)");

        // A new master writes the pid file only when it takes over from the old one.
        using var host = new MasterHost(manifest, runtime, listeners, slotCpus, log, options with { Handover = handover, PidFile = pidFile, ScaledWorkers = scaled, MetricsSocket = metricsSocket });
        var code = await host.RunAsync();
        // Stopped before it took over (an abandoned upgrade's SIGTERM may come before the commit pipe's EOF): still a failed upgrade.
        if (host.UpgradeFailure is null && !host.UpgradeNotCompleted) return code;
        // The supervisor logged the pack's own exit code; the process says the upgrade failed.
        log.Error("exit", $"exit code {ExitUpgradeFailed}: the upgrade that started this master did not complete{(host.UpgradeFailure is { } failure ? $": {failure}" : "")}");
        return ExitUpgradeFailed;

        int Fail(string message)
        {
            log.Error("setup", message);
            handover?.ReportFailure(message);
            return ExitFailed;
        }
    }

    /// <summary>
    /// The metrics endpoint's socket, had before the pack is ready. An upgrade's new master adopts the old master's
    /// socket when the address is unchanged (both then hold one listening socket: it is never unbound); otherwise it
    /// binds the address now, so an address in use fails the upgrade, and closes the socket it inherited.
    /// </summary>
    private static System.Net.Sockets.Socket? BindMetrics(PackManifest manifest, UpgradeHandover? handover)
    {
        var handed = handover?.Metrics is { } metrics ? SocketActivation.Adopt(metrics.Fd, "metrics.address") : null;
        var current = handover?.Metrics?.Address;
        if (manifest.MetricsAddress is not { } address)
        {
            handed?.Dispose();
            return null;
        }
        if (handed is not null)
        {
            if (handover!.Metrics!.Address == address.ToString()) return handed;
            handed.Dispose();
        }
        try { return Metrics.MetricsServer.Bind(address); }
        catch (System.Net.Sockets.SocketException e)
        {
            var why = e.SocketErrorCode != System.Net.Sockets.SocketError.AddressAlreadyInUse ? e.Message
                : current is not null && System.Net.IPEndPoint.TryParse(current, out var old) && Overlaps(old, address)
                    ? $"address in use by this pack's current master, which serves metrics on tcp://{current} until the new master takes over; " +
                      "an upgrade cannot move metrics.address to an address that overlaps it: keep that address, or change the port"
                    : "address in use by another process";
            throw new ListenerException($"metrics.address tcp://{address}: {why}");
        }
    }

    /// <summary>Same port, and one address takes in the other (a wildcard, or the same address).</summary>
    private static bool Overlaps(System.Net.IPEndPoint a, System.Net.IPEndPoint b) =>
        a.Port == b.Port && (a.Address.Equals(b.Address) || IsWildcard(a.Address) || IsWildcard(b.Address));

    private static bool IsWildcard(System.Net.IPAddress address) =>
        address.Equals(System.Net.IPAddress.Any) || address.Equals(System.Net.IPAddress.IPv6Any);

    private static string Describe(IReadOnlyList<int?> cpus) =>
        cpus.All(c => c is null) ? "unpinned" : string.Join(",", cpus.Select(c => c?.ToString() ?? "-"));

    private static bool TcpMigrateReqDisabled()
    {
        try { return File.ReadAllText("/proc/sys/net/ipv4/tcp_migrate_req").Trim() == "0"; }
        catch (IOException) { return false; }
    }
}
