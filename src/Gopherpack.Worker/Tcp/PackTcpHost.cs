using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Gopherpack.Worker.Tcp;

/// <summary>Runs a raw TCP app for its whole life: in a pack on the inherited listener, alone on its own socket.</summary>
public static class PackTcpHost
{
    /// <param name="listener">The manifest listener to serve in a pack.</param>
    /// <param name="whenAlone">Where to listen when not in a pack (<c>dotnet run</c>).</param>
    /// <param name="handler">Serves each accepted client.</param>
    /// <param name="options">Connection limit, TLS, drain window and logging.</param>
    /// <returns>The process exit code: 0 after a graceful stop.</returns>
    public static async Task<int> RunAsync(string listener, EndPoint whenAlone, TcpConnectionHandler handler, TcpServerOptions? options = null)
    {
        options ??= new TcpServerOptions();
        var logger = options.LoggerFactory.CreateLogger(typeof(PackTcpHost).FullName!);
        var worker = PackWorker.Current;
        PackTcpServer server;
        if (worker.IsWorker)
        {
            var inherited = worker.Listener(listener)
                ?? throw new InvalidOperationException(worker.ListenerProblem is { } problem ? $"Gopherpack: {problem}"
                    : $"the pack gave this worker no listener named '{listener}' (it has: {string.Join(", ", worker.Listeners.Select(l => l.Name))})");
            server = PackTcpServer.FromListener(inherited, handler, options);
        }
        else
        {
            server = PackTcpServer.Bind(whenAlone, handler, options);
        }

        using var signals = new WorkerSignals(worker);
        var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult("SIGTERM"); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult("SIGINT"); });
        // Windows has no SIGQUIT (an app run alone there still serves, and stops on Ctrl+C).
        using var quit = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { c.Cancel = true; stop.TrySetResult("SIGQUIT"); });
        signals.WatchLifeline(() => stop.TrySetResult("master gone"));

        server.Start();
        signals.StartWatchdog();
        signals.Ready();
        logger.LogInformation("serving on {EndPoint} ({Worker})", server.LocalEndPoint, worker);

        var reason = await stop.Task;
        signals.Stopping();
        logger.LogInformation("{Reason}: stopping", reason);
        await server.StopAsync(signals.MasterGone ? TimeSpan.FromSeconds(1) : options.DrainTimeout);
        return 0;
    }
}
