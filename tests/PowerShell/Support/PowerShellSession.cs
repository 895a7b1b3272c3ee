using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace Gopherpack.PowerShell.Tests.Support;

/// <summary>What one script invocation wrote to each stream.</summary>
public sealed record ScriptResult(
    IReadOnlyList<PSObject> Output,
    IReadOnlyList<ErrorRecord> Errors,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Verbose,
    IReadOnlyList<ProgressRecord> Progress,
    PSInvocationState State)
{
    public override string ToString() =>
        $"state {State}; output: {string.Join(", ", Output)}; errors: {string.Join(" | ", Errors.Select(e => $"{e.FullyQualifiedErrorId}: {e}"))}; warnings: {string.Join(" | ", Warnings)}";

    /// <summary>The objects written, unwrapped (a bool, a string...).</summary>
    public IReadOnlyList<T> Objects<T>() => Output.Select(o => (T)o.BaseObject).ToList();
    public ErrorRecord SingleError() => Errors.Count == 1 ? Errors[0] : throw new Xunit.Sdk.XunitException($"expected one error: {this}");
    public ScriptResult AssertNoErrors() => Errors.Count == 0 && State == PSInvocationState.Completed ? this : throw new Xunit.Sdk.XunitException($"expected no error: {this}");
}

/// <summary>
/// A runspace of the real engine, in this process, with the module imported from the folder under test
/// and a <see cref="CapturingHost"/>. Every invocation is bounded; a timeout stops it and fails the test.
/// </summary>
public sealed class PowerShellSession : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    /// <param name="modulePsd1">The module to import into the session; null imports nothing.</param>
    public PowerShellSession(string? modulePsd1, string? location = null)
    {
        var state = InitialSessionState.CreateDefault2();
        if (modulePsd1 is not null) state.ImportPSModule(modulePsd1);
        Host = new CapturingHost();
        Runspace = RunspaceFactory.CreateRunspace(Host, state);
        Runspace.Open();
        // Set-Location is not among the engine's core cmdlets; this is what it does.
        if (location is not null) Runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(location));
    }

    public CapturingHost Host { get; }
    public Runspace Runspace { get; }

    /// <summary>Runs a script as a user's script would run (a terminating error ends only its statement; read Errors).</summary>
    public ScriptResult Run(string script, TimeSpan? timeout = null) => Invoke(ps => ps.AddScript(script), timeout);

    /// <summary>Starts a script and returns at once; <see cref="Running.Wait"/> collects the result.</summary>
    public Running Start(string script)
    {
        var ps = System.Management.Automation.PowerShell.Create(Runspace);
        ps.AddScript(script);
        var output = new PSDataCollection<PSObject>();
        var async = ps.BeginInvoke<PSObject, PSObject>(null, output);
        return new Running(ps, output, async);
    }

    /// <summary>Runs one command with AddCommand: a terminating error surfaces as the exception Invoke throws.</summary>
    public Collection<PSObject> Command(string name, IDictionary<string, object?> parameters)
    {
        using var ps = System.Management.Automation.PowerShell.Create(Runspace);
        ps.AddCommand(name);
        foreach (var (key, value) in parameters) ps.AddParameter(key, value);
        return ps.Invoke();
    }

    private ScriptResult Invoke(Action<System.Management.Automation.PowerShell> build, TimeSpan? timeout)
    {
        using var ps = System.Management.Automation.PowerShell.Create(Runspace);
        build(ps);
        var output = new PSDataCollection<PSObject>();
        var async = ps.BeginInvoke<PSObject, PSObject>(null, output);
        if (!async.AsyncWaitHandle.WaitOne(timeout ?? DefaultTimeout))
        {
            ps.Stop();
            throw new TimeoutException($"the script did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:0} s (stopped): {ps.Commands.Commands.FirstOrDefault()?.CommandText}");
        }
        try
        {
            ps.EndInvoke(async);
            return Result(ps, output);
        }
        catch (RuntimeException e) when (e is not PipelineStoppedException)
        {
            // $ErrorActionPreference = 'Stop' or -ErrorAction Stop: the error ended the whole script.
            return Result(ps, output, e.ErrorRecord);
        }
    }

    internal static ScriptResult Result(System.Management.Automation.PowerShell ps, PSDataCollection<PSObject> output, ErrorRecord? terminating = null) => new(
        output.ToList(),
        ps.Streams.Error.Concat(terminating is null || ps.Streams.Error.Any(e => e.Exception?.Message == terminating.Exception?.Message) ? [] : [terminating]).ToList(),
        ps.Streams.Warning.Select(w => w.Message).ToList(),
        ps.Streams.Verbose.Select(v => v.Message).ToList(),
        ps.Streams.Progress.ToList(),
        ps.InvocationStateInfo.State);

    public void Dispose() => Runspace.Dispose();

    /// <summary>A script running in the background (Start-Pack -Wait).</summary>
    public sealed class Running(System.Management.Automation.PowerShell ps, PSDataCollection<PSObject> output, IAsyncResult async) : IDisposable
    {
        public System.Management.Automation.PowerShell PowerShell => ps;
        public bool IsCompleted => async.IsCompleted;

        public ScriptResult Wait(TimeSpan timeout)
        {
            if (!async.AsyncWaitHandle.WaitOne(timeout))
            {
                ps.Stop();
                throw new TimeoutException($"the background script did not finish within {timeout.TotalSeconds:0} s (stopped)");
            }
            try { ps.EndInvoke(async); }
            catch (PipelineStoppedException) { }
            catch (RuntimeException e) { return Result(ps, output, e.ErrorRecord); }
            return Result(ps, output);
        }

        public void Dispose()
        {
            if (!async.IsCompleted) ps.Stop();
            ps.Dispose();
        }
    }
}

public static class PSObjectExtensions
{
    /// <summary>A property as a script sees it ($pack.Name): the tests do not load the module's types themselves.</summary>
    public static T Get<T>(this PSObject o, string property) =>
        o.Properties[property] is { } p ? (T)LanguagePrimitives.ConvertTo(p.Value, typeof(T), System.Globalization.CultureInfo.InvariantCulture)
            : throw new Xunit.Sdk.XunitException($"{o.TypeNames[0]} has no property {property}");
}
