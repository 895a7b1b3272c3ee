using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Gopherpack.Control;
using Gopherpack.Runtime;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>-Name as the Get- and Stop- cmdlets take it: literal names, or wildcards over the packs running in the runtime dir.</summary>
internal static class PackNames
{
    /// <summary>
    /// Each literal name as given (a missing pack is the caller's PackNotRunning error) and every running
    /// pack a wildcard matches (a wildcard that matches nothing is no error, as in Get-Process); each name once.
    /// </summary>
    public static IReadOnlyList<(string Name, bool Literal)> Expand(IEnumerable<string> names, RuntimeDirectory runtime)
    {
        var expanded = new List<(string, bool)>();
        var seen = new HashSet<string>();
        foreach (var name in names)
        {
            if (!WildcardPattern.ContainsWildcardCharacters(name))
            {
                if (seen.Add(name)) expanded.Add((name, true));
                continue;
            }
            var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
            foreach (var running in Running(runtime).Where(pattern.IsMatch))
                if (seen.Add(running)) expanded.Add((running, false));
        }
        return expanded;
    }

    /// <summary>Packs whose pid file names a live master, by name.</summary>
    public static IEnumerable<string> Running(RuntimeDirectory runtime) =>
        new PackClient(runtime).PackNames().Where(name => runtime.RunningMaster(name) is not null);
}

/// <summary>Tab completion of -Name: the packs running in the runtime dir (the one given with -RuntimeDir, if any).</summary>
public sealed class PackNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        RuntimeDirectory runtime;
        try { runtime = RuntimeDirectory.Resolve(RuntimeDirOf(fakeBoundParameters)); }
        catch (Exception e) when (e is ArgumentException or IOException or NotSupportedException) { return []; }
        var pattern = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return PackNames.Running(runtime).Where(pattern.IsMatch)
            .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, $"pack '{name}' (master pid {runtime.RunningMaster(name)})"))
            .ToList();
    }

    /// <summary>-RuntimeDir as typed, resolved against the session's current location, not the process's.</summary>
    private static string? RuntimeDirOf(IDictionary bound)
    {
        if (!bound.Contains("RuntimeDir") || bound["RuntimeDir"] is not { } value) return null;
        var text = value.ToString()!.Trim('\'', '"');
        if (Path.IsPathRooted(text)) return text;
        try
        {
            // Completion runs on the pipeline thread, where a script block sees the session's location.
            var location = ScriptBlock.Create("$ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath").Invoke().FirstOrDefault()?.BaseObject as string;
            return location is null ? text : Path.GetFullPath(text, location);
        }
        catch (RuntimeException)
        {
            return text;
        }
    }
}
