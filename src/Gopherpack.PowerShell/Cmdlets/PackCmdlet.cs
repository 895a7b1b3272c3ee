using System.Management.Automation;
using Gopherpack.Control;
using Gopherpack.Model;
using Gopherpack.Runtime;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// What every Gopherpack cmdlet shares: core work pumped on the pipeline thread, PowerShell paths, and
/// failures as ErrorRecords with stable ErrorIds.
/// </summary>
public abstract class GopherpackCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _stopping = new();
    private PipelinePump? _pump;

    protected string FullPath(string path) => GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>
    /// Runs core work to completion while this (the pipeline) thread runs what the work hands to <see cref="Later"/>.
    /// Ctrl+C (StopProcessing) cancels the work and stops the pipeline; past <paramref name="timeout"/> it is a TimeoutException.
    /// </summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work, TimeSpan? timeout = null, string? timeoutMessage = null)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        if (timeout is { } limit) cancel.CancelAfter(limit);
        var pump = _pump = new PipelinePump();
        try
        {
            return pump.Run(Task.Run(() => work(cancel.Token)));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (OperationCanceledException e) when (timeout is not null)
        {
            throw new TimeoutException(timeoutMessage ?? $"the operation did not finish within {timeout.Value.TotalSeconds:0.#} s", e);
        }
        finally
        {
            _pump = null;
        }
    }

    /// <summary>From the work of <see cref="Run{T}"/>: runs <paramref name="write"/> on the pipeline thread, the only one allowed to write.</summary>
    protected void Later(Action write) => _pump?.Post(write);

    protected ErrorRecord ErrorFor(Exception exception, object? target)
    {
        var error = PackErrors.Classify(exception);
        var category = Enum.TryParse<ErrorCategory>(error.Category, out var parsed) ? parsed : ErrorCategory.NotSpecified;
        return new ErrorRecord(new InvalidOperationException(error.Message, exception), error.ErrorId, category, target);
    }

    protected override void StopProcessing() => _stopping.Cancel();

    internal T RunCore<T>(Func<CancellationToken, Task<T>> work) => Run(work);
    internal ErrorRecord Error(Exception exception, object? target) => ErrorFor(exception, target);
    internal void Verbose(string text) => WriteVerbose(text);
}

/// <summary>A cmdlet that talks to packs: -RuntimeDir and the client.</summary>
public abstract class PackCmdlet : GopherpackCmdlet
{
    [Parameter(HelpMessage = "Folder of the packs' pid files and control sockets (default: $env:GOPHERPACK_RUNTIME_DIR, $env:XDG_RUNTIME_DIR/gopherpack, /run/gopherpack for root, /tmp/gopherpack-UID).")]
    public string? RuntimeDir { get; set; }

    protected RuntimeDirectory Runtime => RuntimeDirectory.Resolve(RuntimeDir is null ? null : FullPath(RuntimeDir));
    protected PackClient Client => new(Runtime);

    internal PackClient CoreClient => Client;
}
