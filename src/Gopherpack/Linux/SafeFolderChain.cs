namespace Gopherpack.Linux;

/// <summary>
/// Whether another account could change what a path under a folder names: swap a folder on the way for a symlink
/// between the master's check of a file and its removal, or at the moment it binds a socket there. Every folder on
/// the path, as written and as resolved, must be owned by root or by this process's account and, when group or others
/// may write it, be sticky (others then cannot rename or remove what is not theirs). Symlinks on the way are followed
/// only from such folders, so no one else can repoint them. As sshd checks the folders of a user's keys.
/// </summary>
internal static class SafeFolderChain
{
    private const int GroupOrOtherWrite = 0b000_010_010, Sticky = 0b1_000_000_000;

    /// <returns>Null when the chain is safe, else which folder is not and why.</returns>
    public static string? WhyUnsafe(string folder)
    {
        string real;
        try { real = RealPath.Of(folder); }
        catch (IOException e) { return e.Message; }
        foreach (var path in Prefixes(folder).Concat(Prefixes(real)).Distinct(StringComparer.Ordinal))
        {
            if (FileType.OwnerOfLink(path) is not { } entry) return $"{path} cannot be examined";
            // A symlink sits in the folder before it, already checked: only root or this account can repoint it.
            if (entry.Type == FileType.IfLnk) continue;
            if (entry.Uid != 0 && entry.Uid != Libc.geteuid())
                return $"the folder {path} is owned by uid {entry.Uid}, neither root nor this master's account (uid {Libc.geteuid()})";
            if ((entry.Permissions & GroupOrOtherWrite) != 0 && (entry.Permissions & Sticky) == 0)
                return $"the folder {path} is writable by other accounts and not sticky";
        }
        return null;
    }

    /// <summary>/, then each longer prefix down to <paramref name="folder"/> itself.</summary>
    private static IEnumerable<string> Prefixes(string folder)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var chain = new List<string>();
        for (var path = full; !string.IsNullOrEmpty(path); path = Path.GetDirectoryName(path)) chain.Add(path);
        chain.Reverse();
        return chain;
    }
}
