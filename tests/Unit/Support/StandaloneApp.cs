using System.Diagnostics;

namespace Gopherpack.Tests.Support;

/// <summary>An example run on its own (as with <c>dotnet run</c>), stopped by pid on dispose.</summary>
public sealed class StandaloneApp : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private StandaloneApp(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Add(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Output { get { lock (_output) return string.Join('\n', _output); } }

    public static Task<StandaloneApp> StartAsync(string dll, IEnumerable<string> args, IDictionary<string, string?>? environment = null) =>
        StartProgramAsync("dotnet", [dll, .. args], environment);

    public static Task<StandaloneApp> StartProgramAsync(string program, IEnumerable<string> args, IDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("GOPHERPACK_", StringComparison.Ordinal) || k.StartsWith("LISTEN_", StringComparison.Ordinal) || k == "NOTIFY_SOCKET").ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>()) start.Environment[key] = value;
        return Task.FromResult(new StandaloneApp(Process.Start(start)!));
    }

    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"process {Pid} did not exit within {timeout.TotalSeconds:0.#}s; output:\n{Output}"); }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Native.kill(_process.Id, Native.SIGTERM);
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await _process.WaitForExitAsync(cancel.Token); }
            catch (OperationCanceledException) { _process.Kill(); }
        }
        _process.Dispose();
    }
}
