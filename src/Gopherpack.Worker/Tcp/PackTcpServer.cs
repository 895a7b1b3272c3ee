using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Gopherpack.Worker.Net;
using Microsoft.Extensions.Logging;

namespace Gopherpack.Worker.Tcp;

/// <summary>
/// A raw TCP server on one listening socket: a handler per connection, optional TLS, a connection
/// limit enforced by not accepting (clients beyond it wait in the backlog), and a bounded drain.
/// </summary>
internal sealed class PackTcpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly TcpConnectionHandler _handler;
    private readonly TcpServerOptions _options;
    private readonly ConnectionGate _gate;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborted = new();
    private readonly HashSet<Task> _connections = [];
    private Task? _acceptLoop;

    private PackTcpServer(Socket listener, TcpConnectionHandler handler, TcpServerOptions options, int? maxConnections)
    {
        _listener = listener;
        _handler = handler;
        _options = options;
        _gate = new ConnectionGate(maxConnections);
        _logger = options.LoggerFactory.CreateLogger<PackTcpServer>();
    }

    public EndPoint LocalEndPoint => _listener.LocalEndPoint!;
    public int ActiveConnections => _gate.Active;

    /// <summary>Serves a socket inherited from the master, with the manifest's limit and TLS files.</summary>
    public static PackTcpServer FromListener(InheritedListener listener, TcpConnectionHandler handler, TcpServerOptions? options = null)
    {
        options ??= new TcpServerOptions();
        if (options.Certificate is null && listener.Certificate is { } cert && listener.Key is { } key)
            options.Certificate = Tls.PemCertificates.Load(cert, key);
        var socket = new Socket(new SafeSocketHandle(listener.Fd, ownsHandle: true));
        return new PackTcpServer(socket, handler, options, listener.MaxConnections ?? options.MaxConnections);
    }

    /// <summary>Binds its own socket: for running the same app outside a pack.</summary>
    public static PackTcpServer Bind(EndPoint endpoint, TcpConnectionHandler handler, TcpServerOptions? options = null)
    {
        options ??= new TcpServerOptions();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, endpoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        if (endpoint is not UnixDomainSocketEndPoint) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(endpoint);
        socket.Listen(512);
        return new PackTcpServer(socket, handler, options, options.MaxConnections);
    }

    public void Start() => _acceptLoop ??= AcceptLoop();

    private async Task AcceptLoop()
    {
        // The runtime's timer thread is started with the first timer; started only once the process is out of
        // fds (the backoff below), it never runs and the loop would wait forever. So it is started now.
        await Task.Delay(1, _stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        var failures = 0;
        while (await _gate.WaitForSlotAsync(_stopping.Token))
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                _gate.Release();
                if (e is SocketException socketError && !_stopping.IsCancellationRequested)
                {
                    // EMFILE/ENFILE persist until a connection closes: back off instead of spinning on accept.
                    if (failures++ == 0) _logger.LogWarning("accept failed: {Error}; retrying with backoff", socketError.Message);
                    try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 10 << Math.Min(failures, 7))), _stopping.Token); }
                    catch (OperationCanceledException) { break; }
                    continue;
                }
                break;
            }
            failures = 0;
            var task = Serve(client);
            lock (_connections) _connections.Add(task);
            _ = task.ContinueWith(t => { lock (_connections) _connections.Remove(t); }, TaskScheduler.Default);
        }
    }

    private async Task Serve(Socket client)
    {
        Stream stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            if (_options.Certificate is { } certificate)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, _aborted.Token);
            }
            await _handler(new TcpConnection(stream, client.RemoteEndPoint, _stopping.Token, _aborted.Token));
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            _logger.LogDebug("connection ended: {Error}", e.Message);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "connection handler failed");
        }
        finally
        {
            await stream.DisposeAsync();
            _gate.Release();
        }
    }

    /// <summary>Stops accepting (queued clients stay for the other workers), lets open connections finish within <paramref name="drainTimeout"/>, then cancels them.</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        _gate.StopAccepting();
        _stopping.Cancel();
        if (_acceptLoop is not null) await _acceptLoop;
        Task[] open;
        lock (_connections) open = _connections.ToArray();
        _logger.LogInformation("draining {Count} connection(s) for at most {Window}", open.Length, drainTimeout);
        var all = Task.WhenAll(open);
        if (await Task.WhenAny(all, Task.Delay(drainTimeout)) != all)
        {
            _aborted.Cancel();
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(1)));
        }
        _listener.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested) await StopAsync(TimeSpan.Zero);
        _listener.Dispose();
    }
}
