namespace Gopherpack.Manifest;

/// <summary>Linux signal numbers (x86_64/arm64) the manifest and the master use.</summary>
internal static class SignalNames
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGABRT = 6, SIGKILL = 9, SIGUSR1 = 10,
        SIGUSR2 = 12, SIGPIPE = 13, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19,
        SIGTTIN = 21, SIGTTOU = 22, SIGWINCH = 28;

    private static readonly Dictionary<string, int> StopSignals = new(StringComparer.OrdinalIgnoreCase)
    {
        ["SIGTERM"] = SIGTERM, ["SIGINT"] = SIGINT, ["SIGQUIT"] = SIGQUIT, ["SIGHUP"] = SIGHUP,
        ["SIGUSR1"] = SIGUSR1, ["SIGUSR2"] = SIGUSR2, ["SIGWINCH"] = SIGWINCH, ["SIGKILL"] = SIGKILL,
    };

    public static IEnumerable<string> StopSignalNames => StopSignals.Keys;

    /// <summary>Accepts <c>SIGTERM</c> or <c>TERM</c>, any case.</summary>
    public static bool TryParseStopSignal(string text, out int signal) =>
        StopSignals.TryGetValue(text.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? text : "SIG" + text, out signal);

    public static string Name(int signal) =>
        StopSignals.FirstOrDefault(p => p.Value == signal).Key
        ?? signal switch { SIGABRT => "SIGABRT", SIGPIPE => "SIGPIPE", 11 => "SIGSEGV", 4 => "SIGILL", 7 => "SIGBUS", 8 => "SIGFPE", _ => $"signal {signal}" };
}
