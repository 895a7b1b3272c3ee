namespace Gopherpack.Control;

/// <summary>How one control error code reaches users: the <c>gopherpack</c> exit code and the PowerShell ErrorId and ErrorCategory.</summary>
public sealed record ControlErrorOutcome(string Code, int ExitCode, string ErrorId, string Category);

/// <summary>The one table from control error codes to CLI exit codes and PowerShell ErrorIds (docs/REFERENCE.md, "Exit codes and ErrorIds").</summary>
public static class ControlErrorTable
{
    public const int ExitOk = 0, ExitFailed = 1, ExitUsage = 2, ExitReloadFailed = 3, ExitNotRunning = 7;

    private static readonly ControlErrorOutcome Other = new("", ExitFailed, Model.PackErrors.PackControlFailed, "InvalidOperation");

    private static readonly Dictionary<string, ControlErrorOutcome> Outcomes = new ControlErrorOutcome[]
    {
        new(ControlErrors.BadRequest, ExitUsage, Model.PackErrors.PackControlFailed, "InvalidArgument"),
        new(ControlErrors.UnknownCommand, ExitFailed, Model.PackErrors.PackControlFailed, "InvalidOperation"),
        new(ControlErrors.UnsupportedVersion, ExitFailed, Model.PackErrors.PackControlFailed, "InvalidOperation"),
        new(ControlErrors.AccessDenied, ExitFailed, Model.PackErrors.AccessDenied, "PermissionDenied"),
        new(ControlErrors.ManifestInvalid, ExitUsage, Model.PackErrors.ManifestInvalid, "InvalidData"),
        new(ControlErrors.ReloadFailed, ExitReloadFailed, Model.PackErrors.PackReloadFailed, "InvalidResult"),
        new(ControlErrors.UpgradeFailed, ExitReloadFailed, Model.PackErrors.PackUpgradeFailed, "InvalidResult"),
        new(ControlErrors.ScaleFailed, ExitFailed, Model.PackErrors.PackScaleFailed, "InvalidResult"),
        new(ControlErrors.Busy, ExitReloadFailed, Model.PackErrors.PackBusy, "ResourceBusy"),
        new(ControlErrors.Timeout, ExitFailed, Model.PackErrors.PackTimeout, "OperationTimeout"),
        new(ControlErrors.MalformedReply, ExitFailed, Model.PackErrors.PackControlFailed, "InvalidResult"),
    }.ToDictionary(o => o.Code);

    public static IReadOnlyCollection<ControlErrorOutcome> All => Outcomes.Values;

    public static ControlErrorOutcome For(string code) => Outcomes.GetValueOrDefault(code) ?? Other with { Code = code };
}
