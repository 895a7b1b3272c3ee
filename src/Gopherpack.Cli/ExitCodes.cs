namespace Gopherpack.Cli;

/// <summary>The documented exit codes of the gopherpack command (docs/REFERENCE.md, "Exit codes and ErrorIds").</summary>
public static class ExitCodes
{
    public const int Ok = Control.ControlErrorTable.ExitOk;
    public const int Failed = Control.ControlErrorTable.ExitFailed;
    public const int Usage = Control.ControlErrorTable.ExitUsage;
    public const int ReloadFailed = Control.ControlErrorTable.ExitReloadFailed;
    public const int NotRunning = Control.ControlErrorTable.ExitNotRunning;
}
