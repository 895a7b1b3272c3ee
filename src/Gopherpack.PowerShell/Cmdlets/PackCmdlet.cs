using System.Management.Automation;
using Gopherpack.Control;
using Gopherpack.Model;
using Gopherpack.Runtime;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>What every Gopherpack cmdlet shares: -RuntimeDir, the client, and failures as ErrorRecords with stable ErrorIds.</summary>
public abstract class PackCmdlet : PSCmdlet
{
    private readonly CancellationTokenSource _stopping = new();

    [Parameter(HelpMessage = "Folder of the packs' pid files and control sockets (default: $env:GOPHERPACK_RUNTIME_DIR, $env:XDG_RUNTIME_DIR/gopherpack, /run/gopherpack for root, /tmp/gopherpack-UID).")]
    public string? RuntimeDir { get; set; }

    protected RuntimeDirectory Runtime => RuntimeDirectory.Resolve(RuntimeDir is null ? null : GetUnresolvedProviderPathFromPSPath(RuntimeDir));
    protected PackClient Client => new(Runtime);

    protected string FullPath(string path) => GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>Runs core work to completion; Ctrl+C (StopProcessing) cancels it; an optional timeout becomes PackTimeout.</summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work, int? timeoutSec = null)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        if (timeoutSec is > 0) cancel.CancelAfter(TimeSpan.FromSeconds(timeoutSec.Value));
        return work(cancel.Token).GetAwaiter().GetResult();
    }

    protected ErrorRecord ErrorFor(Exception exception, object? target)
    {
        var error = PackErrors.Classify(exception);
        var category = Enum.TryParse<ErrorCategory>(error.Category, out var parsed) ? parsed : ErrorCategory.NotSpecified;
        return new ErrorRecord(new InvalidOperationException(error.Message, exception), error.ErrorId, category, target);
    }

    protected override void StopProcessing() => _stopping.Cancel();

    internal PackClient CoreClient => Client;
    internal T RunCore<T>(Func<CancellationToken, Task<T>> work) => Run(work);
    internal ErrorRecord Error(Exception exception, object? target) => ErrorFor(exception, target);
}
