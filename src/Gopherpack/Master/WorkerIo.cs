using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Output;

namespace Gopherpack.Master;

/// <summary>
/// The I/O of each worker process: its notify socket and the pumps that copy its stdout and stderr to the
/// master's outputs. Everything created for a worker that fails to start is released again.
/// </summary>
/// <param name="onNotifyDropped">Told (rate-limited) about notify messages from processes outside a worker's process group.</param>
internal sealed class WorkerIo(string notifyDirectory, MasterOutput output, Action<long, string> onNotify, Action<long, string>? onNotifyDropped = null)
{
    /// <summary>The pipes reach EOF just after the exit; the pumps get this long to read the last lines.</summary>
    public static readonly TimeSpan LastLinesWait = TimeSpan.FromMilliseconds(200);
    /// <summary>sockaddr_un.sun_path is 108 bytes, with its terminating NUL.</summary>
    public const int MaxSocketPath = 107;

    private readonly Dictionary<long, Resources> _workers = [];

    private sealed record Resources(NotifyEndpoint Notify, WorkerOutput Stdout, WorkerOutput Stderr, RecentLines Recent);

    /// <summary>Where worker <paramref name="workerId"/>'s notify socket is.</summary>
    public string NotifyPath(long workerId) => Path.Combine(notifyDirectory, $"w{workerId}");

    /// <summary>Creates the worker's notify socket and output pipes, runs <paramref name="spawn"/> with them, and starts the pumps.</summary>
    /// <param name="prefixFor">The prefix of the worker's output lines, given its pid (null: none).</param>
    /// <param name="spawn">Gets (notify socket path, stdout write fd, stderr write fd); returns the pid.</param>
    /// <exception cref="SpawnException">Anything failed (too long a path, out of fds, posix_spawn); nothing is left open.</exception>
    /// <param name="account">The account the worker runs as when it is not the master's: its notify socket is given to it.</param>
    public int Start(long workerId, Func<int, string?> prefixFor, Func<string, int, int, int> spawn, Manifest.WorkerAccount? account = null)
    {
        var path = NotifyPath(workerId);
        if (System.Text.Encoding.UTF8.GetByteCount(path) > MaxSocketPath)
            throw new SpawnException($"the notify socket path {path} is longer than {MaxSocketPath} bytes; use a shorter --runtime-dir");
        var opened = new List<IDisposable>();
        try
        {
            var notify = new NotifyEndpoint(path, message => onNotify(workerId, message), why => onNotifyDropped?.Invoke(workerId, why), account);
            opened.Add(notify);
            var stdout = new UnixPipe();
            opened.Add(stdout);
            var stderr = new UnixPipe();
            opened.Add(stderr);
            var pid = spawn(path, stdout.WriteFd, stderr.WriteFd);
            notify.Accept(pid);
            stdout.CloseWrite();
            stderr.CloseWrite();
            var recent = new RecentLines();
            var label = prefixFor(pid);
            // A worker of another account must not drive the terminal of the account that runs the master (escape
            // sequences that make it answer into its input, set its title, write its clipboard).
            _workers[workerId] = new Resources(notify,
                new WorkerOutput(stdout.TakeReader(), output.Out, label, recent, neutralizeControls: account is not null && output.Out.IsTerminal),
                new WorkerOutput(stderr.TakeReader(), output.Err, label, recent, neutralizeControls: account is not null && output.Err.IsTerminal),
                recent);
            return pid;
        }
        catch (Exception e)
        {
            foreach (var resource in opened) resource.Dispose();
            if (e is SpawnException) throw;
            if (e is IOException { HResult: Libc.EMFILE or Libc.ENFILE } or System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.TooManyOpenSockets })
                throw SpawnException.OutOfFds(e.Message);
            throw new SpawnException($"cannot start the worker: {e.Message}");
        }
    }

    /// <summary>The worker's last output lines, once its pipes are drained (at most <see cref="LastLinesWait"/>); never blocks the caller.</summary>
    public async Task<IReadOnlyList<string>> LastLinesAsync(long workerId)
    {
        if (!_workers.TryGetValue(workerId, out var resources)) return [];
        await Task.WhenAny(Task.WhenAll(resources.Stdout.Completion, resources.Stderr.Completion), Task.Delay(LastLinesWait)).ConfigureAwait(false);
        return resources.Recent.ToList();
    }

    public void Release(long workerId)
    {
        if (_workers.Remove(workerId, out var resources)) resources.Notify.Dispose();
    }

    public void ReleaseAll()
    {
        foreach (var resources in _workers.Values) resources.Notify.Dispose();
        _workers.Clear();
    }
}
