namespace Gopherpack.Master;

/// <summary>
/// .NET runtime settings for a worker pinned to one CPU: the counterpart of the Go seeds' GOMAXPROCS=1.
/// Each is given to pinned workers only, and only when neither the manifest's <c>env</c> nor the master's
/// own environment sets that variable; other languages ignore them. Why each one: docs/DESIGN.md, "Runtime
/// settings for one-core workers", with the measurements.
/// </summary>
internal static class OneCoreRuntimeDefaults
{
    public static readonly IReadOnlyList<KeyValuePair<string, string>> Variables =
    [
        // Gen0 budget of 64 MiB (the runtime reads GC settings as hex). A process limited to one CPU gets the
        // workstation GC and a cache-sized gen0 budget: 2,000 records as JSON per request then cost about
        // 100 gen0, 56 gen1 and 15 gen2 collections per 1,000 requests; with this, 8, 8 and 4.
        new("DOTNET_GCgen0size", "4000000"),
    ];

    /// <summary>The variables to add to a pinned worker's environment, given the keys it already has (COMPlus_X counts as DOTNET_X).</summary>
    public static IEnumerable<string> For(ISet<string> presentKeys) =>
        Variables.Where(v => !presentKeys.Contains(v.Key) && !presentKeys.Contains("COMPlus_" + v.Key["DOTNET_".Length..]))
            .Select(v => $"{v.Key}={v.Value}");
}
