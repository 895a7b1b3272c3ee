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
/// whenever its size or SHA-256 differs from the module's file. See docs/DESIGN.md, "The module's master".
/// </summary>
internal static partial class ModuleMaster
{
    public const string FileName = "gopherpack";
    private const UnixFileMode PrivateFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Executable = PrivateFolder | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>The path to run; <paramref name="verbose"/> says where it came from.</summary>
    public static string Resolve(string moduleFolder, Action<string> verbose)
    {
        var shipped = Path.Combine(moduleFolder, FileName);
        if (!File.Exists(shipped))
            throw new PackStartException($"the module folder has no {FileName} master ({shipped}); assemble the module with: dotnet publish src/Gopherpack.PowerShell -c Release -o DIR");
        if (CanExecute(shipped)) return shipped;

        var folder = CacheFolder();
        var copy = Path.Combine(folder, FileName);
        if (!SameContent(shipped, copy))
        {
            verbose($"{shipped} is not executable (a module installed from a package keeps no execute bit): copying it to {copy}");
            CopyExecutable(shipped, folder, copy);
        }
        if (!CanExecute(copy))
            throw new PackStartException($"cannot run the master: {shipped} is not executable and neither is its copy {copy} (a file system mounted noexec?); set XDG_CACHE_HOME to a folder that allows execution, or make {shipped} executable");
        verbose($"running the module's master from its private copy {copy}");
        return copy;
    }

    /// <summary>$XDG_CACHE_HOME/gopherpack/VERSION, else ~/.cache/gopherpack/VERSION, else (an account with no writable home, such as nobody) TMP/gopherpack-cache-UID/VERSION.</summary>
    private static string CacheFolder()
    {
        var version = typeof(ModuleMaster).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        foreach (var root in CacheRoots())
        {
            try
            {
                var folder = Path.Combine(root, version);
                Directory.CreateDirectory(folder, PrivateFolder);
                if (MakePrivate(root) && MakePrivate(folder)) return folder;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        throw new PackStartException($"cannot run the master: the module's {FileName} is not executable and no private cache folder could be made (tried {string.Join(", ", CacheRoots())})");
    }

    private static IEnumerable<string> CacheRoots()
    {
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)) yield return Path.Combine(xdg, "gopherpack");
        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home && Path.IsPathRooted(home)) yield return Path.Combine(home, ".cache", "gopherpack");
        yield return Path.Combine(Path.GetTempPath(), $"gopherpack-cache-{geteuid()}");
    }

    /// <summary>
    /// A folder only this account can write: not a link, mode 0700 (set when it was wider, which only its owner
    /// may do), writable. Only its owner (or root) can write a 0700 folder, so one that another account planted
    /// in /tmp fails here.
    /// </summary>
    private static bool MakePrivate(string folder)
    {
        var info = new DirectoryInfo(folder);
        if (info.LinkTarget is not null) return false;
        if ((info.UnixFileMode & ~PrivateFolder) != 0) File.SetUnixFileMode(folder, PrivateFolder);
        return (new DirectoryInfo(folder).UnixFileMode & ~PrivateFolder) == 0 && access(folder, W_OK) == 0;
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
    private const int W_OK = 2;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
