using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gopherpack.Worker.Hosting;

/// <summary>
/// Tells the master READY=1 once the app has started and STOPPING=1 when it stops, pings the
/// watchdog, stops the app when the lifeline breaks, and drains connections before Kestrel stops
/// (StoppingAsync runs before any hosted service's StopAsync).
/// </summary>
internal sealed class WorkerLifecycleService(
    PackWorker worker,
    GopherpackOptions options,
    DrainCoordinator drain,
    IHostApplicationLifetime lifetime,
    ILogger<WorkerLifecycleService> logger) : IHostedLifecycleService, IDisposable
{
    private readonly WorkerSignals _signals = new(worker);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        _signals.WatchLifeline(() =>
        {
            logger.LogWarning("The master (pid {MasterPid}) is gone: stopping", worker.MasterPid);
            lifetime.StopApplication();
        });
        _signals.StartWatchdog();
        if (!_signals.Ready()) logger.LogWarning("Could not send READY=1 to {NotifySocket}", worker.NotifySocket);
        logger.LogInformation("Worker ready: {Worker}, {Listeners} listener(s)", worker, worker.Listeners.Count);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _signals.Stopping();
        var window = _signals.MasterGone ? options.MasterGoneDrainTimeout : options.DrainTimeout;
        await drain.DrainAsync(window, options.DrainIdleClose, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _signals.Dispose();
}
