using Gopherpack.Linux;

namespace Gopherpack.Runtime;

/// <summary>
/// Where a pack keeps its control socket, pid file and notify sockets:
/// --runtime-dir, else GOPHERPACK_RUNTIME_DIR, else $XDG_RUNTIME_DIR/gopherpack, else /run/gopherpack (root),
/// else /tmp/gopherpack-UID. Created 0700.
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
            var mode = File.GetUnixFileMode(Path);
            if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
                File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var probe = System.IO.Path.Combine(Path, $".probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RuntimeDirectoryException($"runtime directory '{Path}' is not usable: {e.Message} (choose another with --runtime-dir or {EnvironmentVariable})");
        }
    }

    /// <summary>The pid of the pack's live master: the one that holds the pid file's lock (see <see cref="Runtime.PidFile"/>); a stale pid file names none.</summary>
    public int? RunningMaster(string pack) => global::Gopherpack.Runtime.PidFile.Holder(PidFile(pack));
}

public sealed class RuntimeDirectoryException(string message) : Exception(message);
