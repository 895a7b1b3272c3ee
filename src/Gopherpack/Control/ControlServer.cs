using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gopherpack.Logging;

namespace Gopherpack.Control;

/// <summary>
/// The pack's control socket: 0600 in the 0700 runtime dir, answers only its own uid or root
/// (SO_PEERCRED), one JSON request per line. A client that sends nothing, too much or garbage
/// gets a clear error or is dropped; the master's event loop is never blocked by a client.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private static readonly TimeSpan IdleClient = TimeSpan.FromSeconds(30);
    /// <summary>While a request runs longer than this, the client gets a heartbeat line this often, so it can tell a slow reload from a stuck master.</summary>
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(2);
    private Socket _socket;
    /// <summary>Sockets replaced by <see cref="Reclaim"/>: their path is another's now, so they close without unlinking it.</summary>
    private readonly List<Socket> _replaced = [];
    private readonly Func<ControlRequest, int, Task<ControlReply>> _handle;
    private readonly IMasterLog _log;
    private readonly uint _uid;
    private readonly CancellationTokenSource _closing = new();
    private readonly HashSet<Task> _clients = [];
    private string _boundPath;
    private bool _ownsFile = true;

    public string Path { get; }

    /// <param name="handle">Answers a request; gets the client's pid.</param>
    /// <param name="bindPath">Where to bind until <see cref="Publish"/> renames it to <paramref name="path"/> (a new master during an upgrade); null binds at the path.</param>
    public ControlServer(string path, uint uid, Func<ControlRequest, int, Task<ControlReply>> handle, IMasterLog log, string? bindPath = null)
    {
        Path = path;
        _boundPath = bindPath ?? path;
        _uid = uid;
        _handle = handle;
        _log = log;
        File.Delete(_boundPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(_boundPath));
        File.SetUnixFileMode(_boundPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _socket.Listen(1024);
        SocketFile = Linux.FileId.OfPath(_boundPath);
        _ = AcceptLoop(_socket);
    }

    /// <summary>The socket file as bound: what the janitor may remove if this master is killed.</summary>
    public Linux.FileId? SocketFile { get; private set; }

    /// <summary>Where the socket file is now: its bind path until <see cref="Publish"/>, then <see cref="Path"/>.</summary>
    public string BoundPath => _boundPath;

    private async Task AcceptLoop(Socket socket)
    {
        while (!_closing.IsCancellationRequested)
        {
            Socket client;
            try { client = await socket.AcceptAsync(_closing.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { return; }
            catch (SocketException e) when (!_closing.IsCancellationRequested)
            {
                // Out of fds (EMFILE) lasts until something closes: back off rather than spin or give up the socket.
                _log.Warn("control", $"accept failed: {e.Message}; retrying in 200ms");
                try { await Task.Delay(TimeSpan.FromMilliseconds(200), _closing.Token); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            catch (SocketException) { return; }
            var task = Serve(client);
            lock (_clients) _clients.Add(task);
            _ = task.ContinueWith(t => { lock (_clients) _clients.Remove(t); }, TaskScheduler.Default);
        }
    }

    private async Task Serve(Socket client)
    {
        using var _ = client;
        try
        {
            var (pid, uid) = PeerCredentials(client);
            if (uid != _uid && uid != 0)
            {
                _log.Warn("control", $"refused a client of uid {uid} (pid {pid}): only uid {_uid} or root may control this pack");
                // Its request is read (and ignored) first: closing with it unread would reset the connection,
                // and the client would see a broken pipe instead of the refusal.
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token))
                {
                    idle.CancelAfter(IdleClient);
                    await new SocketLineReader(client, ControlProtocol.MaxLineBytes).ReadLineAsync(idle.Token);
                }
                await Send(client, ControlReply.Failure(ControlErrors.AccessDenied, $"access denied: uid {uid} may not control this pack (owner uid {_uid})"));
                return;
            }
            var lines = new SocketLineReader(client, ControlProtocol.MaxLineBytes);
            while (true)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
                idle.CancelAfter(IdleClient);
                var line = await lines.ReadLineAsync(idle.Token);
                if (line is null) return;
                if (line.Length > ControlProtocol.MaxLineBytes)
                {
                    await Send(client, ControlReply.Failure(ControlErrors.BadRequest, $"request line longer than {ControlProtocol.MaxLineBytes} bytes"));
                    return;
                }
                if (Linux.SocketPeer.HasClosed(client))
                {
                    // Its client gave up (a timeout while this master was stopped or stalled) and was told the command
                    // failed: doing it now would surprise the operator with a stop or reload long after.
                    _log.Warn("control", $"dropped a request from pid {pid} that was read after its client had closed the connection: {(line.Length > 200 ? line[..200] + "..." : line)}");
                    return;
                }
                var answer = Answer(line, pid);
                while (await Task.WhenAny(answer, Task.Delay(Heartbeat)) != answer)
                    await Send(client, ControlReply.Heartbeat);
                await Send(client, await answer);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
            // The client went away, said nothing for too long, or the master is closing.
        }
    }

    private async Task<ControlReply> Answer(string line, int pid)
    {
        ControlRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(line, ControlJson.Default.ControlRequest);
        }
        catch (JsonException e)
        {
            return ControlReply.Failure(ControlErrors.BadRequest, $"the request is not valid JSON: {e.Message}");
        }
        if (request is null) return ControlReply.Failure(ControlErrors.BadRequest, "the request is empty");
        if (request.Version != ControlProtocol.Version)
            return ControlReply.Failure(ControlErrors.UnsupportedVersion, $"protocol version {request.Version} is not supported (this master speaks {ControlProtocol.Version})");
        return await _handle(request, pid);
    }

    private static async Task Send(Socket client, ControlReply reply)
    {
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(reply, ControlJson.Default.ControlReply) + "\n");
        await client.SendAsync(bytes);
    }

    private static (int Pid, uint Uid) PeerCredentials(Socket client)
    {
        var credentials = new byte[12];
        client.GetRawSocketOption(Linux.Libc.SOL_SOCKET, Linux.Libc.SO_PEERCRED, credentials);
        return (BitConverter.ToInt32(credentials, 0), BitConverter.ToUInt32(credentials, 4));
    }

    /// <summary>Waits (bounded) for replies still being written, e.g. the reply to <c>stop</c>.</summary>
    public async Task FlushAsync(TimeSpan timeout)
    {
        Task[] clients;
        lock (_clients) clients = _clients.ToArray();
        await Task.WhenAny(Task.WhenAll(clients), Task.Delay(timeout));
    }

    /// <summary>Renames the socket from its bind path over <see cref="Path"/> in one step: clients reach this server from now on.</summary>
    public void Publish()
    {
        if (_boundPath == Path) return;
        if (Linux.Libc.rename(_boundPath, Path) != 0)
            throw new IOException($"cannot rename {_boundPath} to {Path}: {Linux.Libc.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
        _boundPath = Path;
    }

    /// <summary>
    /// The file at <see cref="Path"/> is no longer this server's socket (an upgrade's new master renamed its own over it
    /// and died): a fresh socket is bound beside it and renamed into place, so clients reach this server again.
    /// </summary>
    public void Reclaim()
    {
        var temp = Path + ".reclaim." + Environment.ProcessId;
        File.Delete(temp);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(temp));
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            socket.Listen(1024);
            if (Linux.Libc.rename(temp, Path) != 0)
                throw new IOException($"cannot rename {temp} to {Path}: {Linux.Libc.Error(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _replaced.Add(_socket);
        _socket = socket;
        _boundPath = Path;
        _ownsFile = true;
        SocketFile = Linux.FileId.OfPath(Path);
        _ = AcceptLoop(socket);
    }

    /// <summary>Another master's socket now has the path: closing this one must not delete it.</summary>
    public void Disown() => _ownsFile = false;

    public async ValueTask DisposeAsync()
    {
        _closing.Cancel();
        foreach (var replaced in _replaced) Linux.SocketFiles.CloseWithoutUnlink(replaced);
        if (_ownsFile || _boundPath != Path) _socket.Dispose();
        else Linux.SocketFiles.CloseWithoutUnlink(_socket);
        await FlushAsync(TimeSpan.FromMilliseconds(500));
        // A new master that never published leaves only its own temporary path.
        if (_ownsFile || _boundPath != Path) try { File.Delete(_boundPath); } catch (IOException) { /* left behind: the next master's bind deletes a stale socket file first */ }
    }
}
