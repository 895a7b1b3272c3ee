using Gopherpack.Control;
using Gopherpack.Manifest;

namespace Gopherpack.Model;

/// <summary>A failure as the cmdlets report it: a stable ErrorId and the name of a PowerShell ErrorCategory.</summary>
public sealed record PackError(string ErrorId, string Category, string Message);

/// <summary>Maps the core's exceptions to stable error ids, so deploy scripts can rely on them.</summary>
public static class PackErrors
{
    public const string PackNotRunning = "PackNotRunning";
    public const string PackReloadFailed = "PackReloadFailed";
    public const string PackUpgradeFailed = "PackUpgradeFailed";
    public const string PackBusy = "PackBusy";
    public const string ManifestInvalid = "ManifestInvalid";
    public const string PackStartFailed = "PackStartFailed";
    public const string PackTimeout = "PackTimeout";
    public const string AccessDenied = "AccessDenied";
    public const string PackScaleFailed = "PackScaleFailed";
    public const string PackControlFailed = "PackControlFailed";
    public const string PackFailed = "PackFailed";

    public static PackError Classify(Exception exception) => exception switch
    {
        PackNotRunningException e => new(PackNotRunning, "ObjectNotFound", e.Message),
        ManifestException e => new(ManifestInvalid, "InvalidData", string.Join(Environment.NewLine, e.Errors)),
        PackStartException e => new(PackStartFailed, "InvalidResult", e.Message),
        OperationCanceledException or TimeoutException => new(PackTimeout, "OperationTimeout", exception.Message),
        PackControlException e => FromTable(e),
        _ => new(PackFailed, "NotSpecified", exception.Message),
    };

    private static PackError FromTable(PackControlException e)
    {
        var outcome = ControlErrorTable.For(e.Code);
        return new(outcome.ErrorId, outcome.Category, e.Code is ControlErrors.ManifestInvalid or ControlErrors.ReloadFailed ? WithDetails(e) : e.Message);
    }

    private static string WithDetails(PackControlException e) =>
        e.Details.Count == 0 ? e.Message : e.Message + Environment.NewLine + string.Join(Environment.NewLine, e.Details);
}
