using Gopherpack.Linux;
using Gopherpack.Logging;
using Gopherpack.Runtime;

namespace Gopherpack.Master;

/// <summary>
/// The files a master holds in its runtime dir (pid file, control socket, notify folders, unix listener files) and
/// the janitor that removes them, and stops the workers it lists, if the master is killed (see
/// <see cref="RuntimeJanitor"/>). The pid file, control socket and listener files are this master's only while it
/// owns the pack: not before an upgrade's new master took over, not after this master handed over.
/// </summary>
internal sealed class MasterRuntimeFiles
{
    private readonly RuntimeDirectory _runtime;
    private readonly string _packName;
    private readonly string _notifyDirectory;
    private readonly GenerationStore _generations;
    private readonly RuntimeFileList _list;
    private readonly PosixSpawner _spawner;
    private readonly int _lifelineFd;
    private readonly IMasterLog _log;
    private PidFile? _pidFile;
    private Control.ControlServer? _control;
    /// <summary>The workers the janitor stops if this master is killed: those not yet reaped.</summary>
    private readonly Dictionary<int, JanitorWorker> _workers = [];
    /// <summary>Workers reaped since the list was last written: it is rewritten once the loop has handled what is queued.</summary>
    private bool _stale;

    /// <param name="owned">False for an upgrade's new master: the files are the old master's until it takes over.</param>
    public MasterRuntimeFiles(RuntimeDirectory runtime, string packName, string notifyDirectory, GenerationStore generations, PidFile? pidFile, bool owned,
        PosixSpawner spawner, int lifelineFd, IMasterLog log)
    {
        _runtime = runtime;
        _packName = packName;
        _notifyDirectory = notifyDirectory;
        _generations = generations;
        _pidFile = pidFile;
        _spawner = spawner;
        _lifelineFd = lifelineFd;
        _log = log;
        Owned = owned;
        _list = new RuntimeFileList(Path.Combine(runtime.Path, $"{packName}.files.{Environment.ProcessId}"));
        Update();
        Janitor = RuntimeJanitor.Start(spawner, lifelineFd, _list.Path);
    }

    /// <summary>The pid file, control socket and unix listener files are this master's.</summary>
    public bool Owned { get; private set; }

    public int Janitor { get; private set; }

    /// <summary>Where a master's control socket is bound before it takes over (beside the published one).</summary>
    public string ControlSocketOf(int masterPid) => _runtime.ControlSocket(_packName) + "." + masterPid;

    /// <summary>The control socket is bound: listed from now on (as NAME.sock.PID until this master owns the pack).</summary>
    public void Attach(Control.ControlServer control)
    {
        _control = control;
        Update();
    }

    /// <summary>A worker started: listed before the next spawn, so a master killed while it starts twenty leaves none unknown.</summary>
    public void ListWorker(JanitorWorker worker)
    {
        _workers[worker.Pid] = worker;
        Update();
    }

    /// <summary>A worker was reaped: its pid may be reused from now on, so the janitor must forget it (at the end of the batch).</summary>
    public void UnlistWorker(int pid) => _stale |= _workers.Remove(pid);

    public void UpdateIfStale()
    {
        if (_stale) Update();
    }

    /// <summary>Tells the janitor exactly which files this master holds now, and which workers.</summary>
    public void Update()
    {
        var files = new List<(string, FileId?)>();
        if (FileId.OfPath(_notifyDirectory) is { } notify) files.Add((_notifyDirectory, notify));
        files.Add((_runtime.NotifyDirectory(_packName), null));
        if (Owned)
        {
            if (_pidFile is not null && FileId.OfFd(_pidFile.LockFd) is { } pid) files.Add((_pidFile.Path, pid));
            if (_control?.SocketFile is { } control) files.Add((_control.Path, control));
            files.AddRange(_generations.SocketFiles.Select(f => (f.Path, (FileId?)f.Id)));
        }
        // A new master's control socket before it takes over (NAME.sock.PID) is its own file, killed or not.
        else if (_control is { SocketFile: { } bound } unpublished && unpublished.BoundPath != unpublished.Path)
            files.Add((unpublished.BoundPath, bound));
        _stale = false;
        try { _list.Write(files, _workers.Values, _generations.UnlistedStop); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warn("runtime", $"cannot update {_list.Path}: {e.Message}; if this master is killed its files may stay behind");
        }
    }

    /// <summary>
    /// Reaps the janitor if it is gone while this master lives (killed, or its reader was): without one a later SIGKILL
    /// of the master would clean nothing, so a new one takes over, with the current list.
    /// </summary>
    public void ReplaceJanitorIfGone()
    {
        if (Processes.TryReap(Janitor) is not { } exit) return;
        var old = Janitor;
        try
        {
            Update();
            Janitor = RuntimeJanitor.Start(_spawner, _lifelineFd, _list.Path);
            _log.Warn("janitor", $"the janitor (pid {old}) exited ({exit}); started a new one (pid {Janitor})");
        }
        catch (Exception e)
        {
            _log.Error("janitor", $"the janitor (pid {old}) exited ({exit}) and a new one could not be started: {e.Message}; if this master is killed its workers and files stay behind");
        }
    }

    /// <summary>A new master that failed leaves its not-yet-published control socket behind if it was killed.</summary>
    public void DeleteControlSocketOf(int masterPid)
    {
        try { File.Delete(ControlSocketOf(masterPid)); } catch (IOException e) { _log.Warn("upgrade", $"cannot remove {ControlSocketOf(masterPid)}: {e.Message}"); }
    }

    /// <summary>An upgrade's new master takes over: pid file (written beside, renamed over) and control socket (renamed over the old one's).</summary>
    public void TakeOver()
    {
        // The old master holds its pid file lock until it has seen this: the pack is never unlocked.
        var pidFile = _runtime.PidFile(_packName);
        try { _pidFile = PidFile.Replace(pidFile); }
        catch (RuntimeDirectoryException e) { _log.Error("upgrade", $"cannot replace {pidFile}: {e.Message}"); }
        try { _control?.Publish(); }
        catch (IOException e) { _log.Error("upgrade", e.Message); }
        Owned = true;
        Update();
    }

    /// <summary>
    /// An upgrade's new master failed after it was told to commit: it may have renamed its pid file and control socket
    /// over this master's before it died (its janitor then removes them). This master takes back what is no longer
    /// its own, the same way: written beside and renamed over, so the pack is never without them for long.
    /// </summary>
    public void Reclaim()
    {
        if (!Owned) return;
        var path = _runtime.PidFile(_packName);
        if (_pidFile is { } lost && FileId.OfFd(lost.LockFd) != FileId.OfPath(path))
        {
            try
            {
                _pidFile = PidFile.Replace(path);
                lost.Dispose();
                _log.Warn("upgrade", $"took back {path} from the new master that failed after the commit");
            }
            catch (RuntimeDirectoryException e) { _log.Error("upgrade", $"cannot take back {path}: {e.Message}"); }
        }
        if (_control is { } control && control.SocketFile != FileId.OfPath(control.Path))
        {
            try
            {
                control.Reclaim();
                _log.Warn("upgrade", $"took back {control.Path} from the new master that failed after the commit");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
            {
                _log.Error("upgrade", $"cannot take back {control.Path}: {e.Message}; clients cannot reach this master");
            }
        }
        Update();
    }

    /// <summary>A new master has taken over: the shared files are its own from now on.</summary>
    public void HandOver()
    {
        Owned = false;
        _control?.Disown();
        Update();
    }

    /// <summary>
    /// The master stops: the janitor's list goes first (from here on this master removes its own files), then the pid
    /// file, only if it is still this master's, and its lock.
    /// </summary>
    public void Release()
    {
        try { _list.Delete(); } catch (IOException) { /* the janitor, finding this master gone, removes only files that are still its own */ }
        _pidFile?.Dispose();
    }
}
