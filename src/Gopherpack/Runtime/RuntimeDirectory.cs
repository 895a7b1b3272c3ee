using Gopherpack.Linux;

namespace Gopherpack.Runtime;

/// <summary>
/// Where a pack keeps its control socket, pid file and notify sockets:
/// --runtime-dir, else GOPHERPACK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/gopherpack, else /run/gopherpack (root),
/// else /tmp/gopherpack-UID. Created 0700. An existing one must be private: owned by this user (or root) and
/// writable by nobody else, or another account could plant files in it (a NAME.log symlink the master would
/// append to). It is refused, never chmodded: the master changes no mode of what it did not create.
/// </summary>
public sealed class RuntimeDirectory(string path)
{
    public const string EnvironmentVariable = "GOPHERPACK_RUNTIME_DIR";
    public string Path { get; } = path;

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
            if (NotPrivate() is { } problem)
                throw new RuntimeDirectoryException($"runtime directory '{Path}' {problem}: another account could plant files in it " +
                    $"(such as a symlink named NAME.log); use a directory that is yours alone (mode 0700), with --runtime-dir or {EnvironmentVariable}");
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

    /// <summary>Why the directory is not private to this user; null when it is.</summary>
    private string? NotPrivate()
    {
        if (FileType.OwnerOf(Path) is not { } owner) return "cannot be examined";
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

public sealed class RuntimeDirectoryException(string message) : Exception(message);
