namespace Gopherpack.Linux;

/// <summary>How a process ended, decoded from a waitpid status.</summary>
internal readonly record struct ExitStatus(int? Code, int? Signal)
{
    public static ExitStatus FromWaitStatus(int status) =>
        (status & 0x7f) == 0 ? new ExitStatus((status >> 8) & 0xff, null) : new ExitStatus(null, status & 0x7f);

    public static ExitStatus Exited(int code) => new(code, null);
    public static ExitStatus Killed(int signal) => new(null, signal);
    /// <summary>Someone else reaped it (as PID 1 the .NET runtime reaps every child itself): it is gone, how is unknown.</summary>
    public static ExitStatus Unknown => new(null, null);

    public override string ToString() =>
        Code is { } code ? $"exit code {code}" : Signal is { } signal ? $"killed by {Manifest.SignalNames.Name(signal)}" : "exit status unknown: reaped elsewhere";
}
