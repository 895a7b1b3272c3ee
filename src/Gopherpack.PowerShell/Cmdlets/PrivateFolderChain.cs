using System.Runtime.InteropServices;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// Checks that no other account can change what a path under a cache folder names, so that the master copied
/// there is the one that runs. The folders above the cache's own folder (say $XDG_CACHE_HOME, /tmp) are taken by
/// their real path, and each must be owned by root or by this account and, when group or others may write it,
/// sticky (others cannot rename or remove what is ours); the cache's folders are then named by that real path. The cache's own folders (CACHE/gopherpack and VERSION
/// below it) must be real folders, not links, owned by this account, and are made 0700; one owned by anyone else
/// is refused and never changed. Checked with lstat (statx AT_SYMLINK_NOFOLLOW); once the whole chain passes,
/// only this account or root can change it, so the path is then safe to run from.
/// </summary>
internal static partial class PrivateFolderChain
{
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const uint GroupOrOtherWrite = 0b000_010_010;
    private const uint Sticky = 0b1_000_000_000;
    private const uint TypeMask = 0xF000, Directory = 0x4000, RegularFile = 0x8000, Link = 0xA000;

    /// <summary>
    /// <paramref name="outer"/> made if missing and taken by its real path: the cache's folders are then named
    /// through no link, which another account could point elsewhere after the check.
    /// </summary>
    public static string Resolve(string outer)
    {
        try
        {
            System.IO.Directory.CreateDirectory(outer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* not ours to make: the chain check that follows refuses it with the reason */ }
        return RealPath(outer) ?? outer;
    }

    /// <summary>Makes <paramref name="owned"/> (the cache's own folders, outermost first) and checks the chain; null when safe, else why not.</summary>
    public static string? Prepare(string outer, IReadOnlyList<string> owned)
    {
        try
        {
            if (WhyUnsafeAbove(outer) is { } above) return above;
            foreach (var folder in owned)
            {
                if (mkdir(folder, (uint)Private) != 0 && Marshal.GetLastPInvokeError() != EEXIST)
                    return $"{folder} cannot be made (errno {Marshal.GetLastPInvokeError()})";
                if (WhyNotOwnFolder(folder, fix: true) is { } why) return why;
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    /// <summary>The check of <see cref="Prepare"/> again, changing nothing: right before the path is run.</summary>
    public static string? Recheck(string outer, IReadOnlyList<string> owned)
    {
        if (WhyUnsafeAbove(outer) is { } above) return above;
        foreach (var folder in owned)
            if (WhyNotOwnFolder(folder, fix: false) is { } why) return why;
        return null;
    }

    /// <summary>A file in a checked folder that this account alone can change: a regular file of ours, one link, no group or other write.</summary>
    public static bool IsOwnFile(string path) =>
        Stat(path) is { } s && (s.Mode & TypeMask) == RegularFile && s.Uid == geteuid() && s.Links == 1 && (s.Mode & GroupOrOtherWrite) == 0;

    private static string? WhyUnsafeAbove(string outer)
    {
        var real = RealPath(outer);
        if (real is null) return $"{outer} cannot be resolved (errno {Marshal.GetLastPInvokeError()})";
        if (real != Path.TrimEndingDirectorySeparator(outer)) return $"{outer} now resolves to {real}";
        for (var folder = real; folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (Stat(folder) is not { } s) return $"{folder} cannot be read (errno {Marshal.GetLastPInvokeError()})";
            if (s.Uid != 0 && s.Uid != geteuid()) return $"{folder} (above the cache) is owned by uid {s.Uid}, neither this account nor root";
            if ((s.Mode & GroupOrOtherWrite) != 0 && (s.Mode & Sticky) == 0) return $"{folder} (above the cache) is writable by other accounts and not sticky";
        }
        return null;
    }

    private static string? WhyNotOwnFolder(string folder, bool fix)
    {
        if (Stat(folder) is not { } s) return $"{folder} cannot be read (errno {Marshal.GetLastPInvokeError()})";
        if ((s.Mode & TypeMask) == Link) return $"{folder} is a symbolic link";
        if ((s.Mode & TypeMask) != Directory) return $"{folder} is not a folder";
        if (s.Uid != geteuid()) return $"{folder} is owned by uid {s.Uid}, not by this account (uid {geteuid()})";
        if ((s.Mode & 0b111_111_111) != (uint)Private)
        {
            // Ours, in a folder others cannot change: safe to narrow, and only then.
            if (!fix || chmod(folder, (uint)Private) != 0) return $"{folder} has mode {Convert.ToString(s.Mode & 0b111_111_111, 8)}, not 700";
        }
        return null;
    }

    private readonly record struct Status(uint Mode, uint Uid, uint Links);

    /// <summary>lstat through statx, whose buffer has one layout on every architecture.</summary>
    private static Status? Stat(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, ref MemoryMarshal.GetReference(buffer)) != 0) return null;
        var nlink = BitConverter.ToUInt32(buffer[16..]);
        var uid = BitConverter.ToUInt32(buffer[20..]);
        var mode = BitConverter.ToUInt16(buffer[28..]);
        return new Status(mode, uid, nlink);
    }

    private static string? RealPath(string path)
    {
        var resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(resolved); }
        finally { free(resolved); }
    }

    private const int EEXIST = 17;
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, ref byte buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr realpath(string path, IntPtr resolved);

    [LibraryImport("libc")]
    private static partial void free(IntPtr pointer);

    [LibraryImport("libc")]
    internal static partial uint geteuid();
}
