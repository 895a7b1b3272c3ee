using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gopherpack.Runtime;

namespace Gopherpack.Control;

/// <summary>Talks to running packs through their control sockets. Used by the CLI and the PowerShell cmdlets.</summary>
public sealed class PackClient(RuntimeDirectory runtime)
{
    /// <summary>
    /// How long the master may stay silent: a status reply, or between the heartbeats it sends while a reload,
    /// scale or stop runs. A stopped (SIGSTOP) or stuck master is reported instead of waited for forever.
    /// </summary>
    public static readonly TimeSpan DefaultSilenceTimeout = TimeSpan.FromSeconds(10);

    public RuntimeDirectory Runtime { get; } = runtime;
    public TimeSpan SilenceTimeout { get; init; } = DefaultSilenceTimeout;

    /// <summary>Names of the packs with a control socket in the runtime dir.</summary>
    /// <exception cref="PackControlException">The runtime dir cannot be read (another user's).</exception>
    public IReadOnlyList<string> PackNames()
    {
        CheckRuntimeDirectory();
        if (File.Exists(Runtime.Path))
            throw new PackControlException(ControlErrors.BadRequest, $"the runtime dir {Runtime.Path} is a file, not a directory: no pack can run there");
        try
        {
            return Directory.Exists(Runtime.Path)
                ? Directory.GetFiles(Runtime.Path, "*.sock").Select(f => System.IO.Path.GetFileNameWithoutExtension(f)!).Order().ToList()
                : [];
        }
        catch (UnauthorizedAccessException)
        {
            throw new PackControlException(ControlErrors.AccessDenied, $"access denied to the runtime dir {Runtime.Path}: it belongs to another user (pass --runtime-dir, or run as its owner)");
        }
    }

    public async Task<PackStatus> StatusAsync(string pack, CancellationToken cancel = default) =>
        Expect((await SendAsync(pack, new ControlRequest { Command = ControlCommands.Status }, cancel)).Pack, "status");

    /// <summary>The pack's metrics in the Prometheus text format (0.0.4).</summary>
    public async Task<string> MetricsAsync(string pack, CancellationToken cancel = default) =>
        (await SendAsync(pack, new ControlRequest { Command = ControlCommands.Metrics }, cancel)).Metrics ?? "";

    /// <summary>Every running pack's status, asked in parallel; sockets left by a killed master and packs that do not answer are skipped.</summary>
    public async Task<IReadOnlyList<PackStatus>> AllStatusAsync(CancellationToken cancel = default) =>
        (await StatusOfEveryPackAsync(cancel)).Packs;

    /// <summary>Every pack's status, asked in parallel, and why the packs that did not answer did not (one stuck pack never hides the others).</summary>
    public async Task<(IReadOnlyList<PackStatus> Packs, IReadOnlyList<PackControlException> Problems)> StatusOfEveryPackAsync(CancellationToken cancel = default)
    {
        var names = PackNames();
        var asked = names.Select(async name =>
        {
            try { return (Status: (PackStatus?)await StatusAsync(name, cancel), Problem: (PackControlException?)null); }
            catch (PackNotRunningException) { return (null, null); }
            catch (PackControlException e) { return (null, new PackControlException(e.Code, $"pack '{name}': {e.Message}", e.Details)); }
        }).ToList();
        var answers = await Task.WhenAll(asked);
        return (answers.Select(a => a.Status).OfType<PackStatus>().ToList(), answers.Select(a => a.Problem).OfType<PackControlException>().ToList());
    }

    /// <summary>A synchronous reload: returns when the new generation serves.</summary>
    /// <exception cref="PackControlException">It failed (<see cref="ControlErrors"/> code; the old generation still serves).</exception>
    public async Task<ReloadReport> ReloadAsync(string pack, string? manifest = null, string? strategy = null, CancellationToken cancel = default) =>
        Expect((await SendAsync(pack, new ControlRequest
        {
            Command = ControlCommands.Reload,
            Manifest = manifest is null ? null : System.IO.Path.GetFullPath(manifest),
            Strategy = strategy,
        }, cancel)).Reload, "reload");

    /// <summary>Replaces the master itself; returns when the new master serves (the old one's workers then drain).</summary>
    /// <param name="executable">The new master (a gopherpack executable or gopherpack.dll); null: the running master's own program.</param>
    /// <exception cref="PackControlException">It failed (<see cref="ControlErrors.UpgradeFailed"/> or <see cref="ControlErrors.Busy"/>; the old master still serves).</exception>
    public async Task<UpgradeReport> UpgradeAsync(string pack, string? executable = null, TimeSpan? timeout = null, CancellationToken cancel = default) =>
        Expect((await SendAsync(pack, new ControlRequest
        {
            Command = ControlCommands.Upgrade,
            Executable = executable is null ? null : System.IO.Path.GetFullPath(executable),
            Timeout = timeout?.TotalSeconds,
        }, cancel)).Upgrade, "upgrade");

    public async Task<int> ScaleAsync(string pack, int workers, CancellationToken cancel = default) =>
        (await SendAsync(pack, new ControlRequest { Command = ControlCommands.Scale, Workers = workers }, cancel)).Workers ?? workers;

    /// <summary>Graceful stop; returns once the master process is gone and its files are removed.</summary>
    /// <param name="force">Kill the workers at once instead of letting them drain.</param>
    /// <returns>What the master reports having cleaned up besides its workers (stray processes holding the pack's sockets).</returns>
    public async Task<IReadOnlyList<string>> StopAsync(string pack, CancellationToken cancel = default, bool force = false)
    {
        CheckRuntimeDirectory();
        var masterPid = Runtime.RunningMaster(pack);
        var reply = await SendAsync(pack, new ControlRequest { Command = ControlCommands.Stop, Force = force }, cancel);
        // A master running in this very process (Start-Pack -Wait in another runspace) is done when it has let go of its pid file.
        if (masterPid == Environment.ProcessId)
            while (Runtime.RunningMaster(pack) == masterPid) await Task.Delay(20, cancel);
        else
            while (masterPid is { } pid && Linux.Processes.IsAlive(pid) && Linux.ProcessStat.Read(pid)?.IsZombie != true) await Task.Delay(20, cancel);
        return reply.Notes ?? [];
    }


    /// <exception cref="PackNotRunningException">No master answers on the pack's socket.</exception>
    /// <exception cref="PackControlException">The master answered with an error.</exception>
    public async Task<ControlReply> SendAsync(string pack, ControlRequest request, CancellationToken cancel = default)
    {
        CheckRuntimeDirectory();
        var path = Runtime.ControlSocket(pack);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await ConnectAsync(socket, path, cancel);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused or SocketError.InvalidArgument)
        {
            throw new PackNotRunningException(pack, Runtime.Path);
        }
        catch (ArgumentOutOfRangeException)
        {
            // UnixDomainSocketEndPoint refuses a path over 107 bytes: no master could have bound it either.
            throw new PackNotRunningException(pack, Runtime.Path,
                $"its control socket path would be {Encoding.UTF8.GetByteCount(path)} bytes, longer than a unix socket allows, so no master can run there; use a shorter --runtime-dir");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new PackControlException(ControlErrors.AccessDenied, $"access denied to {path}: {e.Message}");
        }
        catch (SocketException) when (!File.Exists(path))
        {
            throw new PackNotRunningException(pack, Runtime.Path);
        }
        ControlReply? reply;
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request, ControlJson.Default.ControlRequest) + "\n"), cancel);
            var lines = new SocketLineReader(socket) { KeepsUnterminatedLine = true };
            do
            {
                using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                silence.CancelAfter(SilenceTimeout);
                string? line;
                try { line = await lines.ReadLineAsync(silence.Token); }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    throw new PackControlException(ControlErrors.Timeout,
                        $"pack '{pack}' did not answer '{request.Command}' within {SilenceTimeout.TotalSeconds:0} s: its master (pid {Runtime.RunningMaster(pack)?.ToString() ?? "unknown"}) is stopped or stuck");
                }
                if (line is null) throw new PackNotRunningException(pack, Runtime.Path, "the master closed the connection without answering");
                try { reply = JsonSerializer.Deserialize(line, ControlJson.Default.ControlReply); }
                catch (JsonException e) { throw new PackControlException(ControlErrors.MalformedReply, $"pack '{pack}' sent a malformed reply to '{request.Command}': {e.Message}"); }
                if (reply is null) throw new PackControlException(ControlErrors.MalformedReply, $"pack '{pack}' sent an empty (malformed) reply to '{request.Command}'");
            }
            while (reply.Pending == true);
        }
        catch (SocketException e)
        {
            // The master went away between accepting and answering (it was exiting).
            throw new PackNotRunningException(pack, Runtime.Path, $"the master closed the connection: {e.Message}");
        }
        if (!reply.Ok) throw new PackControlException(reply.Error?.Code ?? "error", reply.Error?.Message ?? "request failed", reply.Error?.Details, reply);
        return reply;
    }

    /// <summary>A runtime dir that is not private to this user is refused: what answers on its sockets could be another account's.</summary>
    /// <exception cref="PackControlException"><see cref="ControlErrors.AccessDenied"/>: it is not private.</exception>
    private void CheckRuntimeDirectory()
    {
        try { Runtime.CheckPrivate(); }
        catch (RuntimeDirectoryException e) { throw new PackControlException(ControlErrors.AccessDenied, e.Message); }
    }

    /// <summary>A reply without the part its command must carry is a control failure, not a crash.</summary>
    private static T Expect<T>(T? part, string command) where T : class =>
        part ?? throw new PackControlException(ControlErrors.MalformedReply, $"the master's reply to '{command}' lacks its result (malformed reply)");

    /// <summary>A unix socket whose accept queue is full refuses at once with EAGAIN; many clients at once must wait their turn.</summary>
    private static async Task ConnectAsync(Socket socket, string path, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel);
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10, cancel);
            }
        }
    }
}

public sealed class PackNotRunningException(string pack, string runtimeDir, string? detail = null)
    : Exception($"pack '{pack}' is not running (no master answers in {runtimeDir}{(detail is null ? "" : ": " + detail)})")
{
    public string Pack { get; } = pack;
}

public sealed class PackControlException(string code, string message, IReadOnlyList<string>? details = null, ControlReply? reply = null)
    : Exception(message)
{
    public string Code { get; } = code;
    public IReadOnlyList<string> Details { get; } = details ?? [];
    public ControlReply? Reply { get; } = reply;
}
