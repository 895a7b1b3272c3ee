using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gopherpack.Worker;

/// <summary>
/// The worker side of the master's lifecycle signals: READY/STOPPING, watchdog pings, and the
/// lifeline pipe whose EOF means the master is gone. Shared by the Kestrel and raw TCP hosts.
/// </summary>
internal sealed partial class WorkerSignals : IDisposable
{
    private readonly PackWorker _worker;
    private Timer? _watchdog;
    private Stream? _lifeline;
    private volatile bool _disposed;

    public WorkerSignals(PackWorker worker) => _worker = worker;

    public bool Ready() => SdNotify.Send(_worker.NotifySocket, "READY=1");
    public bool Stopping() => SdNotify.Send(_worker.NotifySocket, "STOPPING=1");
    public bool Status(string status) => SdNotify.Send(_worker.NotifySocket, "STATUS=" + status.Replace('\n', ' '));

    /// <summary>Pings the watchdog at a third of its timeout, if the master enabled it.</summary>
    public void StartWatchdog()
    {
        if (_worker.WatchdogTimeout is not { } timeout) return;
        var period = timeout / 3;
        _watchdog = new Timer(_ => SdNotify.Send(_worker.NotifySocket, "WATCHDOG=1"), null, TimeSpan.Zero, period);
    }

    /// <summary>Calls <paramref name="onMasterGone"/> once when the lifeline pipe reaches EOF.</summary>
    public void WatchLifeline(Action onMasterGone)
    {
        if (_worker.LifelineFd is not { } fd) return;
        _lifeline = new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(fd, ownsHandle: true));
        _ = WaitForEof(_lifeline, onMasterGone);
    }

    private async Task WaitForEof(Stream lifeline, Action onMasterGone)
    {
        var buffer = new byte[16];
        try
        {
            while (await lifeline.ReadAsync(buffer) > 0) { }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException) { /* ends the wait as EOF does */ }
        // Closing the pipe on our own shutdown also ends the read: that is not the master going away.
        if (!_disposed) onMasterGone();
    }

    /// <summary>True when the master that started this worker no longer exists.</summary>
    public bool MasterGone => _worker.MasterPid is { } pid && kill(pid, 0) != 0 && Marshal.GetLastPInvokeError() == 3;

    [LibraryImport("libc", SetLastError = true)] private static partial int kill(int pid, int signal);

    public void Dispose()
    {
        _disposed = true;
        _watchdog?.Dispose();
        _lifeline?.Dispose();
    }
}
