using Gopherpack.Control;
using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>What the control requests reach of the running master.</summary>
internal interface IControlledPack
{
    IMasterLog Log { get; }
    /// <summary>Readable from any thread.</summary>
    Metrics.PackMetrics Metrics { get; }
    /// <summary>Read only on the loop (<see cref="OnLoop{T}"/>).</summary>
    Supervisor Supervisor { get; }
    SystemdNotifier Notifier { get; }
    /// <summary>Completes once the master may exit; <see cref="StopNotes"/> are set then.</summary>
    Task Exited { get; }
    IReadOnlyList<string> StopNotes { get; }
    Task<T> OnLoop<T>(Func<T> read);
    void OnLoop(Action run);
    void Post(LoopEvent e);
    /// <summary>The status reply's pack (on the loop).</summary>
    PackStatus Status();
}

/// <summary>
/// Turns control requests (and SIGHUP, SIGUSR2) into events on the master's loop and their outcomes into replies.
/// What it needs of the supervisor's state it asks the loop for.
/// </summary>
internal sealed class ControlDispatcher(IControlledPack host)
{
    public async Task<ControlReply> HandleAsync(ControlRequest request, int clientPid) => request.Command switch
    {
        ControlCommands.Status => new ControlReply { Ok = true, Pack = await host.OnLoop(host.Status) },
        ControlCommands.Reload => await Reload(request.Manifest, request.Strategy, $"client pid {clientPid}"),
        ControlCommands.Stop => await Stop($"stop requested (client pid {clientPid}{(request.Force ? ", --force" : "")})", request.Force),
        ControlCommands.Scale => await Scale(request.Workers),
        ControlCommands.Upgrade => await Upgrade(request.Executable, request.Timeout, $"client pid {clientPid}"),
        ControlCommands.Metrics => new ControlReply { Ok = true, Metrics = host.Metrics.Render(openMetrics: false) },
        _ => ControlReply.Failure(ControlErrors.UnknownCommand, $"unknown command '{request.Command}' (known: status, reload, stop, scale, upgrade, metrics)"),
    };

    /// <summary>Replaces the master itself (see <see cref="Supervisor"/>'s upgrade); replies once the new master serves, or with why not.</summary>
    public async Task<ControlReply> Upgrade(string? executable, double? timeoutSeconds, string requestedBy)
    {
        if (timeoutSeconds is { } seconds && seconds is not (> 0 and <= 86400))
            return ControlReply.Failure(ControlErrors.BadRequest, "upgrade 'timeout' must be from 1 to 86400 seconds");
        var current = await host.OnLoop(() => host.Supervisor.Manifest);
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
            host.Metrics.Counters.Upgrade(succeeded: false);
            return ControlReply.Failure(ControlErrors.ManifestInvalid, $"{current.ManifestPath}: the manifest is invalid; nothing changed", e.Errors.Select(x => x.ToString()).ToList());
        }
        // Default: time for the new master to start plus its workers' ready.timeout.
        var timeout = timeoutSeconds is { } given ? TimeSpan.FromSeconds(given) : TimeSpan.FromSeconds(Math.Max(120, current.Ready.Timeout.TotalSeconds + 60));
        var done = new TaskCompletionSource<UpgradeOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new UpgradeRequested(executable, timeout, requestedBy, result => done.TrySetResult(result)));
        var result = await done.Task;
        // A success is counted by the new master, which serves the metrics from now on.
        if (!result.Ok && !result.Refused) host.Metrics.Counters.Upgrade(succeeded: false);
        var report = new UpgradeReport(result.Ok, Environment.ProcessId, result.NewPid, result.Generation, Math.Round(result.Duration.TotalMilliseconds, 1), result.Error);
        return result.Ok
            ? new ControlReply { Ok = true, Upgrade = report }
            : ControlReply.Failure(result.Refused ? ControlErrors.Busy : ControlErrors.UpgradeFailed, result.Error ?? "upgrade failed") with { Upgrade = report };
    }

    /// <summary>Reads and validates the manifest, plans its CPUs and runs the reload; an invalid manifest changes nothing.</summary>
    /// <remarks>systemd (Type=notify-reload) hears RELOADING=1 before and READY=1 after every reload request, whatever its outcome.</remarks>
    public async Task<ControlReply> Reload(string? manifestPath, string? strategyText, string requestedBy)
    {
        // A reload that supersedes the start is no reload to systemd: READY=1 must wait until the pack serves.
        var started = await host.OnLoop(() => host.Supervisor.State == PackState.Running);
        // On the loop, as every other word to the service manager, and in order with the reload's own events.
        if (started) host.OnLoop(() => host.Notifier.Reloading($"reloading ({requestedBy})"));
        var reply = await ReloadOnce(manifestPath, strategyText, requestedBy);
        if (started) host.OnLoop(() => host.Notifier.Ready(reply.Ok
            ? $"serving generation {reply.Reload?.Generation} (reloaded in {reply.Reload?.DurationMs:0} ms)"
            : reply.Error?.Code == ControlErrors.Busy
                ? $"serving generation {reply.Reload?.Generation.ToString() ?? "unchanged"}; a reload was not started: {reply.Error.Message}"
                : $"serving generation {reply.Reload?.Generation.ToString() ?? "unchanged"}; the last reload failed: {reply.Error?.Message}"));
        return reply;
    }

    private async Task<ControlReply> ReloadOnce(string? manifestPath, string? strategyText, string requestedBy)
    {
        var currentManifest = await host.OnLoop(() => host.Supervisor.Manifest);
        var current = currentManifest.ManifestPath;
        var path = manifestPath ?? current;
        if (!Path.IsPathFullyQualified(path))
            return ControlReply.Failure(ControlErrors.BadRequest, $"manifest path '{path}' must be absolute");
        ReloadStrategy? strategy = null;
        if (strategyText is not null)
        {
            if (!Enum.TryParse<ReloadStrategy>(strategyText, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
                return ControlReply.Failure(ControlErrors.BadRequest, $"strategy '{strategyText}' must be surge or rolling");
            strategy = parsed;
        }
        if (manifestPath is null) host.Log.Info("reload", $"requested ({requestedBy}): re-reading {path}");
        else if (manifestPath != current) host.Log.Info("reload", $"requested ({requestedBy}) from {path}; if it succeeds, SIGHUP and plain reloads use this manifest from now on");

        PackManifest manifest;
        IReadOnlyList<int?> cpus;
        try
        {
            manifest = ManifestLoader.Load(path);
            cpus = WorkerPlan.SlotCpusHere(manifest);
        }
        catch (ManifestException e)
        {
            var details = e.Errors.Select(x => x.ToString()).ToList();
            var missing = e.Errors.Count == 1 && e.Errors[0].Message == ManifestLoader.NotFound;
            var summary = missing ? $"{path}: the manifest file is missing; nothing changed" : $"{path}: the manifest is invalid; nothing changed";
            Reject(summary, details, requestedBy, strategy);
            return ControlReply.Failure(ControlErrors.ManifestInvalid, summary, details);
        }
        catch (WorkerPlanException e)
        {
            Reject($"{path}: {e.Message}; nothing changed", [], requestedBy, strategy);
            return ControlReply.Failure(ControlErrors.ManifestInvalid, e.Message);
        }
        if (manifest.Name != currentManifest.Name)
        {
            var problem = $"{path}: the manifest names pack '{manifest.Name}', this pack is '{currentManifest.Name}'; nothing changed";
            Reject(problem, [], requestedBy, strategy);
            return ControlReply.Failure(ControlErrors.ManifestInvalid, problem);
        }
        var done = new TaskCompletionSource<ReloadOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new ReloadRequested(manifest, cpus, strategy ?? manifest.ReloadStrategy, result => done.TrySetResult(result)));
        var result = await done.Task;
        var report = PackStatusBuilder.Report(result);
        return result.Ok
            ? new ControlReply { Ok = true, Reload = report }
            : ControlReply.Failure(result.Refused ? ControlErrors.Busy : ControlErrors.ReloadFailed, result.Error ?? "reload failed", result.Output) with { Reload = report };
    }

    /// <summary>A reload refused before it began is logged with every problem and becomes the last reload (ps shows it).</summary>
    private void Reject(string summary, IReadOnlyList<string> details, string requestedBy, ReloadStrategy? strategy)
    {
        var why = $"refused ({requestedBy}): {summary}" + string.Concat(details.Select(d => Environment.NewLine + "    " + d));
        host.Post(new ReloadRejected(new ReloadOutcome(false, 0, strategy ?? ReloadStrategy.Surge, TimeSpan.Zero, summary, Output: details), why));
    }

    private async Task<ControlReply> Stop(string reason, bool force)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new StopRequested(reason, () => done.TrySetResult(), force ? StopMode.KillNow : StopMode.Graceful));
        await done.Task;
        // After an upgrade the master may wait for the other master's workers before it exits; the notes come then.
        await host.Exited;
        return new ControlReply { Ok = true, Notes = host.StopNotes.Count > 0 ? host.StopNotes : null };
    }

    public async Task<ControlReply> Scale(int? workers)
    {
        if (workers is not (>= 1 and <= PackManifest.MaxWorkers)) return ControlReply.Failure(ControlErrors.BadRequest, $"scale needs 'workers' from 1 to {PackManifest.MaxWorkers}");
        IReadOnlyList<int?> cpus;
        try
        {
            var manifest = await host.OnLoop(() => host.Supervisor.Manifest);
            cpus = WorkerPlan.SlotCpusHere(manifest with { Workers = workers });
        }
        catch (WorkerPlanException e)
        {
            return ControlReply.Failure(ControlErrors.ScaleFailed, e.Message);
        }
        var done = new TaskCompletionSource<ScaleResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Post(new ScaleRequested(cpus, result => done.TrySetResult(result)));
        var result = await done.Task;
        return result.Ok
            ? new ControlReply { Ok = true, Workers = result.Workers }
            : ControlReply.Failure(result.Refused ? ControlErrors.Busy : ControlErrors.ScaleFailed, result.Error ?? "scale failed") with { Workers = result.Workers };
    }
}
