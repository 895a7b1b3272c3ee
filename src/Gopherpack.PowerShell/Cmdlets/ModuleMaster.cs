using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Gopherpack.Control;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// Finds the native master that Start-Pack launches. The module folder's <c>gopherpack</c> runs as it is when it
/// is executable (a folder assembled with dotnet publish). A module installed from a repository came out of a
/// nupkg, a zip that keeps no execute bit, in a folder the user may not write (AllUsers scope): then the master
/// runs from a private per-user copy, <c>CACHE/gopherpack/VERSION/gopherpack</c> with mode 0755, made again
/// whenever its size or SHA-256 differs from the module's file, in folders that only this account can change
/// (<see cref="PrivateFolderChain"/>); a location that fails the check is skipped for the next one. See
/// docs/DESIGN.md, "The module's master".
/// </summary>
internal static partial class ModuleMaster
{
    public const string FileName = "gopherpack";
    private const UnixFileMode Executable = PrivateFolderChain.Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>The importing module's own folder.</summary>
    public static string OwnFolder => Path.GetDirectoryName(typeof(ModuleMaster).Assembly.Location)!;

    private static string OwnVersion =>
        typeof(ModuleMaster).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    /// <summary>Whether <paramref name="file"/> is a module folder's master: named gopherpack, beside a Gopherpack.psd1.</summary>
    public static bool IsModuleMaster(string file) =>
        Path.GetFileName(file) == FileName && File.Exists(Path.Combine(Path.GetDirectoryName(file)!, ManifestFileName));

    /// <summary>
    /// The path to run; <paramref name="verbose"/> says where it came from. Another module folder than this one
    /// (Invoke-PackUpgrade -Executable) gets a private copy under its own manifest's version.
    /// </summary>
    /// <exception cref="PackStartException">No runnable master: the message says why (a race on the files included).</exception>
    public static string Resolve(string moduleFolder, Action<string> verbose)
    {
        try
        {
            return ResolveCore(moduleFolder, verbose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PackStartException($"cannot run the module's master from {moduleFolder}: {e.Message}");
        }
    }

    private static string ResolveCore(string moduleFolder, Action<string> verbose)
    {
        var shipped = Path.Combine(moduleFolder, FileName);
        if (!File.Exists(shipped))
            throw new PackStartException($"the module folder has no {FileName} master ({shipped}); assemble the module with: dotnet publish src/Gopherpack.PowerShell -c Release -o DIR");
        if (CanExecute(shipped)) return shipped;

        var version = Path.GetFullPath(moduleFolder).TrimEnd('/') == Path.GetFullPath(OwnFolder).TrimEnd('/') ? OwnVersion : ManifestVersion(moduleFolder) ?? OwnVersion;
        var refused = new List<string>();
        foreach (var location in CacheLocations(version))
        {
            if (PrivateFolderChain.Prepare(location.Outer, location.Owned) is { } why)
            {
                verbose($"not using the cache folder {location.Folder}: {why}");
                refused.Add($"{location.Folder}: {why}");
                continue;
            }
            var copy = Path.Combine(location.Folder, FileName);
            if (!PrivateFolderChain.IsOwnFile(copy) || !SameContent(shipped, copy))
            {
                verbose($"{shipped} is not executable (a module installed from a package keeps no execute bit): copying it to {copy}");
                CopyExecutable(shipped, location.Folder, copy);
            }
            var changed = PrivateFolderChain.Recheck(location.Outer, location.Owned) ?? (PrivateFolderChain.IsOwnFile(copy) ? null : $"{copy} is no longer this account's own file");
            if (changed is not null)
                throw new PackStartException($"cannot run the master: its private copy changed while it was made: {changed}");
            if (!CanExecute(copy))
                throw new PackStartException($"cannot run the master: {shipped} is not executable and neither is its copy {copy} (a file system mounted noexec?); set XDG_CACHE_HOME to a folder that allows execution, or make {shipped} executable");
            verbose($"running the module's master from its private copy {copy}");
            return copy;
        }
        throw new PackStartException($"cannot run the master: the module's {FileName} is not executable and no cache folder is safe to run a private copy from ({string.Join("; ", refused)})");
    }

    private const string ManifestFileName = "Gopherpack.psd1";

    private static string? ManifestVersion(string moduleFolder)
    {
        var manifest = Path.Combine(moduleFolder, ManifestFileName);
        if (!File.Exists(manifest)) return null;
        var match = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(manifest), @"ModuleVersion\s*=\s*'([^'/]+)'");
        return match.Success && match.Groups[1].Value is not ("." or "..") ? match.Groups[1].Value : null;
    }

    /// <summary>A place for the copy: <c>Outer</c> is the folder above the cache's own (checked by real path), <c>Owned</c> the folders that must be this account's, outermost first.</summary>
    private sealed record CacheLocation(string Outer, IReadOnlyList<string> Owned)
    {
        public string Folder => Owned[^1];
    }

    /// <summary>$XDG_CACHE_HOME/gopherpack/VERSION, else ~/.cache/gopherpack/VERSION, else (an account with no writable home, such as nobody) TMP/gopherpack-cache-UID/VERSION.</summary>
    private static IEnumerable<CacheLocation> CacheLocations(string version)
    {
        foreach (var (given, own) in CacheRoots())
        {
            var outer = PrivateFolderChain.Resolve(given);
            yield return new CacheLocation(outer, [Path.Combine(outer, own), Path.Combine(outer, own, version)]);
        }
    }

    private static IEnumerable<(string Outer, string Own)> CacheRoots()
    {
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)) yield return (xdg, "gopherpack");
        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && Path.IsPathRooted(home)) yield return (Path.Combine(home, ".cache"), "gopherpack");
        yield return (Path.GetTempPath(), $"gopherpack-cache-{PrivateFolderChain.geteuid()}");
    }

    private static bool SameContent(string shipped, string copy)
    {
        var copied = new FileInfo(copy);
        if (!copied.Exists || copied.LinkTarget is not null || copied.Length != new FileInfo(shipped).Length) return false;
        return Hash(shipped).AsSpan().SequenceEqual(Hash(copy));
    }

    private static byte[] Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return SHA256.HashData(stream);
    }

    /// <summary>Written beside the target and renamed over it, so a master started from the old copy keeps running and no one runs half a file.</summary>
    private static void CopyExecutable(string shipped, string folder, string copy)
    {
        var temporary = Path.Combine(folder, $".{FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        try
        {
            using (var source = File.OpenRead(shipped))
            using (var target = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = Executable }))
            {
                source.CopyTo(target);
                target.Flush(flushToDisk: true);
            }
            File.SetUnixFileMode(temporary, Executable);
            File.Move(temporary, copy, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static bool CanExecute(string path) => access(path, X_OK) == 0;

    private const int X_OK = 1;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);
}
