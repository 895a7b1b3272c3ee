using Gopherpack.Control;
using Gopherpack.Linux;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>Turns control requests into events on the master's loop and their outcomes into replies.</summary>
public sealed class ControlDispatcher(MasterHost host)
{
    public async Task<ControlReply> HandleAsync(ControlRequest request, int clientPid) => request.Command switch
    {
        ControlCommands.Status => new ControlReply { Ok = true, Pack = await host.OnLoop(host.Status) },
        ControlCommands.Reload => await Reload(request.Manifest, request.Strategy, $"client pid {clientPid}"),
        ControlCommands.Stop => await Stop($"stop requested (client pid {clientPid})"),
        ControlCommands.Scale => await Scale(request.Workers),
        ControlCommands.Upgrade => await Upgrade(request.Executable, request.Timeout, $"client pid {clientPid}"),
        _ => ControlReply.Failure(ControlErrors.UnknownCommand, $"unknown command '{request.Command}' (known: status, reload, stop, scale, upgrade)"),
    };

    /// <summary>Replaces the master itself (see <see cref="Upgrade.UpgradeCoordinator"/>); replies once the new master serves, or with why not.</summary>
    public async Task<ControlReply> Upgrade(string? executable, double? timeoutSeconds, string requestedBy)
    {
        if (timeoutSeconds is { } seconds && seconds is not (> 0 and <= 86400))
            return ControlReply.Failure(ControlErrors.BadRequest, "upgrade 'timeout' must be from 1 to 86400 seconds");
        var current = host.Supervisor.Manifest;
        // The new master re-reads the manifest: an invalid one would only make it fail later.
        try
        {
            var manifest = ManifestLoader.Load(current.ManifestPath);
            if (manifest.Name != current.Name)
                return ControlReply.Failure(ControlErrors.ManifestInvalid, $"{current.ManifestPath} now names pack '{manifest.Name}', this pack is '{current.Name}'; nothing changed");
        }
        catch (ManifestException e)
        {
            host.Log.Write(Logging.LogLevel.Error, "upgrade", $"refused ({requestedBy}): the manifest is invalid; nothing changed");
            return ControlReply.Failure(ControlErrors.ManifestInvalid, $"{current.ManifestPath}: the manifest is invalid; nothing changed", e.Errors.Select(x => x.ToString()).ToList());
        }
        // Default: time for the new master to start plus its workers' ready.timeout.
        var timeout = timeoutSeconds is { } given ? TimeSpan.FromSeconds(given) : TimeSpan.FromSeconds(Math.Max(120, current.Ready.Timeout.TotalSeconds + 60));
        var done = new TaskCompletionSource<Upgrade.UpgradeResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.OnLoop(() => host.Upgrade.Begin(new Upgrade.UpgradeRequest(executable, timeout, requestedBy, done.SetResult)));
        var result = await done.Task;
        var report = new UpgradeReport(result.Ok, result.OldPid, result.NewPid, result.Generation, Math.Round(result.Duration.TotalMilliseconds, 1), result.Error);
        return result.Ok
            ? new ControlReply { Ok = true, Upgrade = report }
            : ControlReply.Failure(result.Refused ? ControlErrors.Busy : ControlErrors.UpgradeFailed, result.Error ?? "upgrade failed") with { Upgrade = report };
    }

    /// <summary>Reads and validates the manifest, plans its CPUs and runs the reload; an invalid manifest changes nothing.</summary>
    /// <remarks>systemd (Type=notify-reload) hears RELOADING=1 before and READY=1 after every reload request, whatever its outcome.</remarks>
    public async Task<ControlReply> Reload(string? manifestPath, string? strategyText, string requestedBy)
    {
        host.Notifier.Reloading($"reloading ({requestedBy})");
        var reply = await ReloadOnce(manifestPath, strategyText, requestedBy);
        host.Notifier.Ready(reply.Ok
            ? $"serving generation {reply.Reload?.Generation} (reloaded in {reply.Reload?.DurationMs:0} ms)"
            : $"serving generation {reply.Reload?.Generation.ToString() ?? "unchanged"}; the last reload failed: {reply.Error?.Message}");
        return reply;
    }

    private async Task<ControlReply> ReloadOnce(string? manifestPath, string? strategyText, string requestedBy)
    {
        var path = manifestPath ?? host.Supervisor.Manifest.ManifestPath;
        if (!Path.IsPathFullyQualified(path))
            return ControlReply.Failure(ControlErrors.BadRequest, $"manifest path '{path}' must be absolute");
        ReloadStrategy? strategy = null;
        if (strategyText is not null)
        {
            if (!Enum.TryParse<ReloadStrategy>(strategyText, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
                return ControlReply.Failure(ControlErrors.BadRequest, $"strategy '{strategyText}' must be surge or rolling");
            strategy = parsed;
        }

        PackManifest manifest;
        IReadOnlyList<int?> cpus;
        try
        {
            manifest = ManifestLoader.Load(path);
            cpus = WorkerPlan.SlotCpus(manifest, CpuTopology.AllowedCpus(), CpuTopology.CgroupCpuLimit());
        }
        catch (ManifestException e)
        {
            host.Log.Write(Logging.LogLevel.Error, "reload", $"refused ({requestedBy}): the manifest is invalid; nothing changed");
            return ControlReply.Failure(ControlErrors.ManifestInvalid, $"{path}: the manifest is invalid; nothing changed", e.Errors.Select(x => x.ToString()).ToList());
        }
        catch (WorkerPlanException e)
        {
            return ControlReply.Failure(ControlErrors.ManifestInvalid, e.Message);
        }
        if (manifest.Name != host.Supervisor.Manifest.Name)
        {
            var problem = $"{path}: the manifest names pack '{manifest.Name}', this pack is '{host.Supervisor.Manifest.Name}'; nothing changed";
            host.Log.Write(Logging.LogLevel.Error, "reload", $"refused ({requestedBy}): {problem}");
            return ControlReply.Failure(ControlErrors.ManifestInvalid, problem);
        }
        var done = new TaskCompletionSource<ReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new ReloadRequested(manifest, cpus, strategy ?? manifest.ReloadStrategy, done.SetResult));
        var result = await done.Task;
        var report = PackStatusBuilder.Report(result);
        return result.Ok
            ? new ControlReply { Ok = true, Reload = report }
            : ControlReply.Failure(result.Refused ? ControlErrors.Busy : ControlErrors.ReloadFailed, result.Error ?? "reload failed", result.Output) with { Reload = report };
    }

    private async Task<ControlReply> Stop(string reason)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new StopRequested(reason, done.SetResult));
        await done.Task;
        return new ControlReply { Ok = true };
    }

    public async Task<ControlReply> Scale(int? workers)
    {
        if (workers is not (>= 1 and <= 1024)) return ControlReply.Failure(ControlErrors.BadRequest, "scale needs 'workers' from 1 to 1024");
        IReadOnlyList<int?> cpus;
        try
        {
            cpus = WorkerPlan.SlotCpus(host.Supervisor.Manifest with { Workers = workers }, CpuTopology.AllowedCpus(), CpuTopology.CgroupCpuLimit());
        }
        catch (WorkerPlanException e)
        {
            return ControlReply.Failure(ControlErrors.ScaleFailed, e.Message);
        }
        var done = new TaskCompletionSource<ScaleResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new ScaleRequested(cpus, done.SetResult));
        var result = await done.Task;
        return result.Ok
            ? new ControlReply { Ok = true, Workers = result.Workers }
            : ControlReply.Failure(ControlErrors.ScaleFailed, result.Error ?? "scale failed") with { Workers = result.Workers };
    }
}
