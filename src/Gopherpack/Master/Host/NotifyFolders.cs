using Gopherpack.Linux;
using Gopherpack.Runtime;

namespace Gopherpack.Master;

/// <summary>
/// The folders of the workers' notify sockets: <c>RUNTIME/NAME.notify/MASTERPID/</c>, one folder per master, since
/// during an upgrade two masters' workers have notify sockets side by side. Private to the master unless workers of
/// another account must reach their sockets.
/// </summary>
internal sealed class NotifyFolders
{
    private readonly RuntimeDirectory _runtime;
    private readonly string _packFolder;
    private bool _openToWorkers;

    public NotifyFolders(RuntimeDirectory runtime, string packName)
    {
        _runtime = runtime;
        _packFolder = runtime.NotifyDirectory(packName);
        Path = System.IO.Path.Combine(_packFolder, Environment.ProcessId.ToString());
        CreatePrivate(_packFolder);
        CreatePrivate(Path);
    }

    /// <summary>This master's folder.</summary>
    public string Path { get; }

    /// <summary>0700, or 0711 at most once workers of another account must search it: never listable (left 0755 by an older master).</summary>
    private static void CreatePrivate(string path)
    {
        const UnixFileMode listable = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var mode = File.GetUnixFileMode(path);
        if ((mode & listable) != 0) File.SetUnixFileMode(path, mode & ~listable);
    }

    /// <summary>
    /// Workers of another account must reach their notify sockets: the runtime dir and the notify folders become
    /// searchable by everyone (0711: no listing); each socket itself is the worker account's alone (0600).
    /// </summary>
    /// <exception cref="SpawnException">They cannot be opened: no worker of that account could report.</exception>
    public void OpenToWorkers()
    {
        if (_openToWorkers) return;
        const UnixFileMode search = UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        try
        {
            foreach (var folder in new[] { _runtime.Path, _packFolder, Path })
                File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | search);
            _openToWorkers = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpawnException($"cannot make the notify sockets' folders searchable for the workers' account: {e.Message}");
        }
    }

    public void Delete()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { /* left in the private runtime dir, named for this pid */ }
        try { Directory.Delete(_packFolder); } catch (IOException) { /* another master's folder (an upgrade's) is still in it */ }
    }
}
