using Gopherpack.Linux;

namespace Gopherpack.Master;

/// <summary>
/// Removes the master's runtime files (pid file, control socket, notify sockets, unix listener
/// sockets) when the master is killed and cannot do it itself. A small sh process whose fd 3 is
/// the lifeline pipe: EOF means the master is gone. It then reads the master's list of the files it
/// holds (<see cref="RuntimeFileList"/>, kept current through reloads and upgrades) and removes each file only if
/// it is still the very file the master created (same device and inode): a path that another pack
/// has bound since, or a pid file a new master has written, is left alone. A list that names another
/// master (a successor already took over) is not acted on.
/// </summary>
public static class RuntimeJanitor
{
    private const string Script =
        "cat <&3 >/dev/null; list=$1; pid=$2; " +
        "exec <\"$list\" 2>/dev/null || exit 0; read -r owner || exit 0; [ \"$owner\" = \"$pid\" ] || exit 0; " +
        "while read -r id path; do " +
        "if [ \"$id\" = rmdir ]; then rmdir -- \"$path\" 2>/dev/null; " +
        "elif [ \"$(stat -c %d:%i -- \"$path\" 2>/dev/null)\" = \"$id\" ]; then rm -rf -- \"$path\"; fi; " +
        "done; rm -f -- \"$list\"; exit 0";

    /// <returns>The janitor's pid; it is reaped with the workers' sweep or, after the master dies, by init.</returns>
    public static int Start(PosixSpawner spawner, int lifelineReadFd, string fileList)
    {
        string[] argv = ["/bin/sh", "-c", Script, "gopherpack-janitor", fileList, Environment.ProcessId.ToString()];
        var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        try
        {
            var fd = (int)devNull.DangerousGetHandle();
            return spawner.Spawn(new SpawnRequest("/bin/sh", argv, ["PATH=/usr/bin:/bin"], "/", fd, fd, [lifelineReadFd], null));
        }
        finally
        {
            devNull.Dispose();
        }
    }
}

/// <summary>
/// The runtime files a master holds right now, as <c>RUNTIME-DIR/NAME.files</c>: its pid, then one
/// <c>DEVICE:INODE PATH</c> line per file. Rewritten atomically (temporary file, then rename) whenever
/// the set changes (start, reload prepared, committed or abandoned, upgrade takeover or handover), so the
/// janitor always acts on the current set. A path without identity (<c>rmdir PATH</c>) is a shared folder,
/// removed only if empty.
/// </summary>
public sealed class RuntimeFileList(string path)
{
    private FileId? _written;

    public string Path { get; } = path;

    public void Write(IEnumerable<(string Path, FileId? Id)> files)
    {
        var temp = Path + ".tmp";
        var lines = new List<string> { Environment.ProcessId.ToString() };
        lines.AddRange(files.Where(f => !f.Path.Contains('\n')).Select(f => $"{f.Id?.ToString() ?? "rmdir"} {f.Path}"));
        // CreateNew (O_EXCL) never follows a symlink planted at the temporary name.
        File.Delete(temp);
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        using (var writer = new StreamWriter(stream))
            foreach (var line in lines) writer.WriteLine(line);
        File.Move(temp, Path, overwrite: true);
        _written = FileId.OfPath(Path);
    }

    /// <summary>A normal stop: the master removed its files itself.</summary>
    public void Delete()
    {
        if (_written is { } id && FileId.OfPath(Path) == id) File.Delete(Path);
    }
}
