using System.Net;
using System.Net.Sockets;
using System.Text;
using Gopherpack.Logging;

namespace Gopherpack.Metrics;

/// <summary>
/// The master's Prometheus endpoint at <c>metrics.address</c>: a minimal HTTP/1.x server, one request per
/// connection, that answers <c>GET /metrics</c> (text 0.0.4, or OpenMetrics when Accept asks for it) on the
/// thread pool from <see cref="MetricsSnapshot"/>s, never through the master's event loop.
/// </summary>
internal sealed class MetricsServer : IAsyncDisposable
{
    public const int MaxRequestBytes = 8192, MaxClients = 32;
    /// <summary>How long a client has to send its request head; then the connection is closed.</summary>
    public static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(5);
    private readonly Socket _socket;
    private readonly Func<bool, string> _render;
    private readonly IMasterLog _log;
    /// <summary>Cancelled to close everything: the accept loop and the connections being answered.</summary>
    private readonly CancellationTokenSource _closing = new();
    /// <summary>Cancelled to stop accepting only (an upgrade's hand-over): connections already accepted are answered.</summary>
    private readonly CancellationTokenSource _accepting;
    private readonly Task _acceptLoop;
    /// <summary>Open connections, oldest first.</summary>
    private readonly LinkedList<Client> _clients = new();

    private sealed class Client(Socket socket)
    {
        public Socket Socket { get; } = socket;
        public CancellationTokenSource Cancel { get; } = new();
        /// <summary>Set once the request head is read: from then on the connection is no longer idle.</summary>
        public volatile bool Answering;
        public LinkedListNode<Client>? Node;
    }

    private MetricsServer(Socket socket, Func<bool, string> render, IMasterLog log)
    {
        _socket = socket;
        _render = render;
        _log = log;
        _accepting = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        _acceptLoop = Task.Run(AcceptLoop);
    }

    /// <summary>Binds and listens; throws <see cref="SocketException"/> when the address is in use or cannot be had.</summary>
    public static Socket Bind(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(endpoint);
            socket.Listen(64);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <param name="render">The metrics text; true asks for OpenMetrics.</param>
    public static MetricsServer Serve(Socket listening, Func<bool, string> render, IMasterLog log) => new(listening, render, log);

    public IPEndPoint Endpoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>The URL to scrape, e.g. http://127.0.0.1:9100/metrics.</summary>
    public string Url => Endpoint.AddressFamily == AddressFamily.InterNetworkV6
        ? $"http://[{Endpoint.Address}]:{Endpoint.Port}/metrics"
        : $"http://{Endpoint}/metrics";

    private async Task AcceptLoop()
    {
        while (!_accepting.IsCancellationRequested)
        {
            Socket client;
            try { client = await _socket.AcceptAsync(_accepting.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { return; }
            catch (SocketException) when (!_accepting.IsCancellationRequested)
            {
                // Out of fds lasts until something closes: back off rather than spin.
                try { await Task.Delay(200, _accepting.Token); } catch (OperationCanceledException) { return; }
                continue;
            }
            catch (SocketException) { return; }
            var entry = new Client(client);
            Client? evicted = null;
            lock (_clients)
            {
                // At the cap the oldest connection still waiting for its request head makes room: silent
                // connections cannot lock real scrapes out.
                if (_clients.Count >= MaxClients)
                {
                    evicted = _clients.FirstOrDefault(c => !c.Answering);
                    if (evicted is not null)
                    {
                        _clients.Remove(evicted.Node!);
                        evicted.Node = null;
                    }
                }
                if (_clients.Count < MaxClients) entry.Node = _clients.AddLast(entry);
            }
            evicted?.Cancel.Cancel();
            if (entry.Node is null)
            {
                client.Dispose();
                continue;
            }
            _ = Task.Run(() => ServeClient(entry));
        }
    }

    private async Task ServeClient(Client entry)
    {
        var client = entry.Socket;
        try
        {
            using var _ = client;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, entry.Cancel.Token);
            timeout.CancelAfter(HeadTimeout);
            var request = await ReadRequest(client, timeout.Token);
            entry.Answering = true;
            timeout.CancelAfter(ClientTimeout);
            var (status, contentType, body) = Answer(request);
            var payload = Encoding.UTF8.GetBytes(body);
            var head = $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
            var bytes = Encoding.ASCII.GetBytes(head);
            await client.SendAsync(bytes, SocketFlags.None, timeout.Token);
            if (request?.Method != "HEAD") await client.SendAsync(payload, SocketFlags.None, timeout.Token);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { /* the scraper went away or was too slow, or the master is closing */ }
        catch (Exception e)
        {
            _log.Warn("metrics", $"answering a scrape failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            lock (_clients)
                if (entry.Node is not null)
                {
                    _clients.Remove(entry.Node);
                    entry.Node = null;
                }
            entry.Cancel.Dispose();
        }
    }

    private (string Status, string ContentType, string Body) Answer(HttpRequest? request)
    {
        const string plain = "text/plain; charset=utf-8";
        if (request is null) return ("400 Bad Request", plain, "bad request\n");
        if (request.Method is not ("GET" or "HEAD")) return ("405 Method Not Allowed", plain, "only GET /metrics\n");
        var path = request.Target.Split('?', 2)[0];
        if (path != "/metrics") return ("404 Not Found", plain, "not found: metrics are at /metrics\n");
        var openMetrics = PrometheusText.WantsOpenMetrics(request.Accept);
        return ("200 OK", openMetrics ? PrometheusText.OpenMetricsContentType : PrometheusText.TextContentType, _render(openMetrics));
    }

    private sealed record HttpRequest(string Method, string Target, string? Accept);


    /// <summary>Reads the request head (up to 8 KiB); null when it is malformed or too long.</summary>
    private static async Task<HttpRequest?> ReadRequest(Socket client, CancellationToken cancel)
    {
        var buffer = new byte[MaxRequestBytes];
        var total = 0;
        while (true)
        {
            var read = await client.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cancel);
            if (read == 0) return null;
            total += read;
            // A bare LF ends a line too (RFC 9112 section 2.2), so the head ends at an empty line either way.
            if (HeadEnd(buffer.AsSpan(0, total)) is var end and >= 0) return Parse(Encoding.ASCII.GetString(buffer, 0, end));
            if (total == buffer.Length) return null;
        }
    }

    /// <returns>Where the request head ends (before its empty line, CRLF or bare LF); -1 when it has not yet.</returns>
    public static int HeadEnd(ReadOnlySpan<byte> data)
    {
        for (var i = data.IndexOf((byte)'\n'); i >= 0 && i < data.Length; i++)
        {
            if (data[i] != (byte)'\n') continue;
            var next = i + 1;
            if (next < data.Length && data[next] == (byte)'\r') next++;
            if (next < data.Length && data[next] == (byte)'\n') return i > 0 && data[i - 1] == (byte)'\r' ? i - 1 : i;
        }
        return -1;
    }

    private static HttpRequest? Parse(string head)
    {
        var lines = head.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var parts = lines[0].Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal)) return null;
        string? accept = null;
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Trim().Equals("accept", StringComparison.OrdinalIgnoreCase)) accept = line[(colon + 1)..].Trim();
        }
        return new HttpRequest(parts[0], parts[1], accept);
    }

    /// <summary>
    /// Stops accepting and closes this process's fd of the listening socket; connections already accepted are still
    /// answered. The accept loop has ended before the fd is closed: .NET shuts down a socket that is closed while an
    /// operation uses it, and another process (an upgrade's other master) may hold the same listening socket, which
    /// must go on listening.
    /// </summary>
    public async Task StopAcceptingAsync()
    {
        await _accepting.CancelAsync();
        try { await _acceptLoop; }
        catch (Exception e) { _log.Warn("metrics", $"the metrics endpoint's accept loop failed: {e.GetType().Name}: {e.Message}"); }
        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync();
        await _closing.CancelAsync();
    }
}
