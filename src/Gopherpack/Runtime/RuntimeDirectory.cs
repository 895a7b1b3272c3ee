using Gopherpack.Linux;

namespace Gopherpack.Runtime;

/// <summary>
/// Where a pack keeps its control socket, pid file and notify sockets:
/// --runtime-dir, else GOPHERPACK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/gopherpack, else /run/gopherpack (root),
/// else /tmp/gopherpack-UID. Created 0700. An existing one must be private: a real directory (not a symlink: in /tmp
/// another account could plant /tmp/gopherpack-UID as one and re-point it later), owned by this user (or root) and
/// writable by nobody else, or another account could plant files in it (a NAME.log symlink the master would
/// append to, a fake control socket). It is refused, never chmodded: the master changes no mode of what it did not create.
/// The master (<see cref="Ensure"/>) and every client (<see cref="CheckPrivate"/>) check it before they use anything in it.
/// </summary>
public sealed class RuntimeDirectory(string path)
{
    public const string EnvironmentVariable = "GOPHERPACK_RUNTIME_DIR";

    /// <summary>The directory; after <see cref="Ensure"/>, its real path (no symlink in any component), the one that was checked.</summary>
    public string Path { get; private set; } = path;

    public static RuntimeDirectory Resolve(string? option)
    {
        if (!string.IsNullOrEmpty(option)) return new RuntimeDirectory(System.IO.Path.GetFullPath(option));
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnv)) return new RuntimeDirectory(System.IO.Path.GetFullPath(fromEnv));
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(xdg)) return new RuntimeDirectory(System.IO.Path.Combine(xdg, "gopherpack"));
        var uid = Libc.geteuid();
        return new RuntimeDirectory(uid == 0 ? "/run/gopherpack" : $"/tmp/gopherpack-{uid}");
    }

    public string PidFile(string pack) => System.IO.Path.Combine(Path, pack + ".pid");
    public string ControlSocket(string pack) => System.IO.Path.Combine(Path, pack + ".sock");
    public string NotifyDirectory(string pack) => System.IO.Path.Combine(Path, pack + ".notify");

    /// <exception cref="RuntimeDirectoryException">It cannot be created or is not private to this user.</exception>
    public void Ensure()
    {
        try
        {
            Directory.CreateDirectory(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            CheckPrivate();
            // Not a symlink, so only a parent could be one: keep the real path, so what was checked is what gets used.
            Path = System.IO.Path.GetFullPath(Linux.RealPath.Of(Path));
            // CreateNew: O_EXCL, so a symlink planted at the probe's name is not followed.
            var probe = System.IO.Path.Combine(Path, $".probe-{Environment.ProcessId}");
            File.Delete(probe);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) { }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RuntimeDirectoryException($"runtime directory '{Path}' is not usable: {e.Message} (choose another with --runtime-dir or {EnvironmentVariable})");
        }
    }

    /// <summary>
    /// For clients (stop, reload, ps, ...): a runtime dir that exists must be private, or a reply on its control socket,
    /// a pid in its pid file, could come from another account. One that does not exist is fine (no pack runs there).
    /// </summary>
    /// <exception cref="RuntimeDirectoryException">It exists and is not private to this user.</exception>
    public void CheckPrivate()
    {
        if (FileType.OwnerOfLink(Path) is null) return; // missing (or unreachable: using it fails on its own)
        if (NotPrivate() is { } problem)
            throw new RuntimeDirectoryException($"runtime directory '{Path}' {problem}: another account could plant files in it " +
                $"(such as a symlink named NAME.log or a fake control socket); refused: use a directory that is yours alone (mode 0700), with --runtime-dir or {EnvironmentVariable}");
    }

    /// <summary>Why the directory is not private to this user; null when it is.</summary>
    private string? NotPrivate()
    {
        if (FileType.OwnerOfLink(Path) is not { } owner) return "cannot be examined";
        if (owner.Type == FileType.IfLnk) return "is a symbolic link (the runtime dir itself must be a real directory)";
        if (owner.Type != FileType.IfDir) return "is not a directory";
        var uid = Libc.geteuid();
        if (owner.Uid != uid && owner.Uid != 0) return $"belongs to uid {owner.Uid}, not to this user (uid {uid}) or root";
        const int GroupWrite = 0b000_010_000, OtherWrite = 0b000_000_010;
        if ((owner.Permissions & (GroupWrite | OtherWrite)) != 0)
            return $"is writable by {((owner.Permissions & OtherWrite) != 0 ? "every user" : "its group")} (mode {Convert.ToString(owner.Permissions, 8).PadLeft(4, '0')})";
        return null;
    }

    /// <summary>The pid of the pack's live master: the one that holds the pid file's lock (see <see cref="Runtime.PidFile"/>); a stale pid file names none.</summary>
    public int? RunningMaster(string pack) => global::Gopherpack.Runtime.PidFile.Holder(PidFile(pack));
}

internal sealed class RuntimeDirectoryException(string message) : Exception(message);
