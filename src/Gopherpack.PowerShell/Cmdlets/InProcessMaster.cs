using Gopherpack.Control;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master;
using Gopherpack.Runtime;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// Start-Pack -Wait: the pack's master in this process. Stopping the pipeline (Ctrl+C, PowerShell.Stop,
/// Stop-Job) becomes the pack's graceful stop, asked through its control socket as Stop-Pack would.
/// </summary>
internal static class InProcessMaster
{
    private static readonly TimeSpan Retry = TimeSpan.FromMilliseconds(50);

    public static async Task<int> RunAsync(PackManifest manifest, RuntimeDirectory runtime, IMasterLog log, CancellationToken stop)
    {
        var master = MasterRunner.RunAsync(manifest, runtime, log);
        await using (stop.Register(() => _ = StopWhenListening(manifest.Name, runtime, master)))
            return await master;
    }

    /// <summary>Asks this process's master to stop once its control socket answers; gives up when it has exited.</summary>
    private static async Task StopWhenListening(string pack, RuntimeDirectory runtime, Task master)
    {
        var client = new PackClient(runtime);
        while (!master.IsCompleted)
        {
            // Only our own master: a pack of that name run by another process is none of our business.
            if (runtime.RunningMaster(pack) == Environment.ProcessId)
            {
                try
                {
                    await client.SendAsync(pack, new ControlRequest { Command = ControlCommands.Stop });
                    return;
                }
                catch (Exception e) when (e is PackNotRunningException or PackControlException) { /* not answering yet (or any more): try again below */ }
            }
            await Task.WhenAny(master, Task.Delay(Retry));
        }
    }
}

/// <summary>
/// The in-process master's log: lines on stderr (fd 2) through the same bounded, non-blocking sink as
/// <c>gopherpack run</c>, so a host whose stderr nobody reads cannot stall the master; the last error is kept
/// for the PackFailed message.
/// </summary>
internal sealed class InProcessMasterLog(PackManifest manifest) : IMasterLog
{
    private readonly IMasterLog _text = MasterLogs.Standard(manifest);
    private volatile string? _lastError;

    /// <summary>": the last error" or nothing.</summary>
    public string LastError => _lastError is { } error ? ": " + error : "";

    public void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null)
    {
        if (level == LogLevel.Error) _lastError = $"{@event}: {message}";
        _text.Write(level, @event, message, slot, pid);
    }
}
