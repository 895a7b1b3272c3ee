namespace Gopherpack.Linux;

/// <summary>How a process ended, decoded from a waitpid status.</summary>
public readonly record struct ExitStatus(int? Code, int? Signal)
{
    public static ExitStatus FromWaitStatus(int status) =>
        (status & 0x7f) == 0 ? new ExitStatus((status >> 8) & 0xff, null) : new ExitStatus(null, status & 0x7f);

    public static ExitStatus Exited(int code) => new(code, null);
    public static ExitStatus Killed(int signal) => new(null, signal);

    public bool IsClean => Code == 0;

    public override string ToString() =>
        Code is { } code ? $"exit code {code}" : $"killed by {Manifest.SignalNames.Name(Signal ?? 0)}";
}
