namespace Gopherpack.Cli;

/// <summary>The documented exit codes of the gopherpack command (DESIGN.md, "The gopherpack command").</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int ReloadFailed = 3;
    public const int NotRunning = 7;
}
