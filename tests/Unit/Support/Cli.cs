using System.Diagnostics;

namespace Gopherpack.Tests.Support;

/// <summary>Runs the real <c>gopherpack</c> command and captures its exit code and output.</summary>
public static class Cli
{
    public sealed record Result(int Code, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {Code}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    public static async Task<Result> RunAsync(params string[] args) => await RunWithAsync(null, args);

    public static async Task<Result> RunWithAsync(IDictionary<string, string?>? environment, params string[] args) =>
        await LaunchAsync(environment, inherit: true, args);

    /// <summary>Runs the command with exactly <paramref name="environment"/>, nothing inherited from the tests.</summary>
    public static async Task<Result> RunCleanAsync(IDictionary<string, string?> environment, params string[] args) =>
        await LaunchAsync(environment, inherit: false, args);

    private static async Task<Result> LaunchAsync(IDictionary<string, string?>? environment, bool inherit, string[] args)
    {
        var command = RepoPaths.CliCommand;
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in command.Skip(1)) start.ArgumentList.Add(arg);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        if (!inherit) start.Environment.Clear();
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gopherpack {string.Join(' ', args)} did not finish in 120s");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
