using System.Collections;
using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Runtime;

namespace Gopherpack.Control;

/// <summary>
/// Starts a master detached (its own session, log file next to the pid file) and waits until every
/// worker is ready, the master fails, or the timeout passes; on a timeout the master is stopped, so
/// nothing is left half started.
/// </summary>
public sealed class PackStarter(RuntimeDirectory runtime)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private const int LogTailLines = 20;

    /// <param name="masterArgv">The argv that runs the master of this manifest in the foreground, given the runtime dir.</param>
    /// <param name="progress">Called with (ready, total) workers while waiting.</param>
    /// <exception cref="ManifestException">The manifest is invalid.</exception>
    /// <exception cref="PackStartException">It did not come up; the message says why.</exception>
    public async Task<PackStatus> StartAsync(string manifestPath, Func<PackManifest, string, IReadOnlyList<string>> masterArgv, TimeSpan timeout,
        Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        var manifest = ManifestLoader.Load(manifestPath);
        try { runtime.Ensure(); }
        catch (RuntimeDirectoryException e) { throw new PackStartException(e.Message); }
        if (runtime.RunningMaster(manifest.Name) is { } running)
            throw new PackStartException($"pack '{manifest.Name}' is already running (master pid {running})");

        var logPath = Path.Combine(runtime.Path, manifest.Name + ".log");
        int pid;
        // A NAME.log that is a symlink, a FIFO, a hard link or another account's file: one line, not a stack trace.
        try { pid = SpawnMaster(logPath, masterArgv(manifest, runtime.Path)); }
        catch (IOException e) { throw new PackStartException(e.Message); }
        try
        {
            var status = await WaitUntilRunning(manifest.Name, pid, logPath, timeout, progress, cancel);
            Processes.ReapWhenExited(pid);
            return status;
        }
        catch (Exception e) when (e is not PackStartException)
        {
            // Cancelled (Ctrl+C) or the caller's progress callback failed: nothing is left half started,
            // and the master, our child, is reaped whenever it has stopped.
            Processes.Signal(pid, SignalNames.SIGTERM);
            Processes.ReapWhenExited(pid);
            throw;
        }
    }

    private async Task<PackStatus> WaitUntilRunning(string name, int pid, string logPath, TimeSpan timeout, Action<int, int>? progress, CancellationToken cancel)
    {
        var client = new PackClient(runtime);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Processes.TryReap(pid) is { } exit)
            {
                // Two starts at once: both spawn a master, the pid file lock lets exactly one of them run.
                if (runtime.RunningMaster(name) is { } other && other != pid)
                    throw new PackStartException($"pack '{name}' is already running (master pid {other}); this start's master (pid {pid}) exited ({exit})");
                throw new PackStartException($"the master exited ({exit}) before the pack was ready; last lines of {logPath}:{Environment.NewLine}{Tail(logPath)}");
            }
            try
            {
                var status = await client.StatusAsync(name, cancel);
                // Two starts at once: the status may come from the other start's master.
                var ours = status.MasterPid == pid;
                if (ours) progress?.Invoke(status.Workers.Count(w => w.IsReady), status.Workers.Count);
                if (ours && status.IsRunning) return status;
            }
            catch (PackNotRunningException) { /* its control socket is not bound yet: ask again */ }
            if (DateTime.UtcNow > deadline)
            {
                Processes.Signal(pid, SignalNames.SIGTERM);
                while (Processes.TryReap(pid) is null && DateTime.UtcNow < deadline + TimeSpan.FromSeconds(60)) await Task.Delay(Poll, CancellationToken.None);
                throw new PackStartException($"the pack was not ready within {Duration.Format(timeout)}; it was stopped. Last lines of {logPath}:{Environment.NewLine}{Tail(logPath)}");
            }
            await Task.Delay(Poll, cancel);
        }
    }

    /// <summary>
    /// Spawned from this thread: the master lives in its own session and has no death signal tied to a
    /// spawner thread, so no thread is left behind per start (a long pwsh session starts many packs).
    /// </summary>
    private static int SpawnMaster(string logPath, IReadOnlyList<string> argv)
    {
        using var log = AppendFile.Open(logPath);
        var logFd = (int)log.DangerousGetHandle();
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").ToList();
        try
        {
            return PosixSpawner.SpawnDetached(new SpawnRequest(argv[0], argv, environment, Environment.CurrentDirectory, logFd, logFd, [], null, NewSession: true));
        }
        catch (SpawnException e)
        {
            throw new PackStartException(e.Message);
        }
    }

    private static string Tail(string path)
    {
        // Only a plain file: a FIFO put there meanwhile would hang the read, a symlink lead elsewhere.
        if (FileType.OwnerOfLink(path)?.Type != FileType.IfReg) return "    (no log)";
        try { return string.Join(Environment.NewLine, File.ReadLines(path).TakeLast(LogTailLines).Select(l => "    " + Output.TerminalText.Visible(l))); }
        catch (IOException) { return "    (no log)"; }
    }
}

public sealed class PackStartException(string message) : Exception(message);
