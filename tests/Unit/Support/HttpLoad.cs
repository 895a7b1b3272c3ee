using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Gopherpack.Tests.Support;

/// <summary>
/// The test's own load client: keep-alive loops (each one connection, reused) and new-connection
/// loops (a connection per request), counting every request that fails. Runs until stopped.
/// <see cref="Url"/> may be switched while it runs (a listener that moved); with <c>unixSocket</c> every
/// connection goes to that unix socket whatever the URL's host.
/// </summary>
public sealed class HttpLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly ConcurrentDictionary<string, int> _errors = new();
    private long _ok, _failed;

    private readonly string? _unixSocket;
    private volatile string _url;
    private readonly string?[] _using;

    private readonly TimeSpan _requestTimeout;

    /// <param name="requestTimeout">How long one request may take (default 10 s) before it counts as failed.</param>
    public HttpLoad(string url, int keepAlive, int newConnections, string? unixSocket = null, TimeSpan? requestTimeout = null)
    {
        _url = url;
        _requestTimeout = requestTimeout ?? TimeSpan.FromSeconds(10);
        _unixSocket = unixSocket;
        _using = new string?[keepAlive + newConnections];
        for (var i = 0; i < _using.Length; i++)
        {
            var (loop, reuse) = (i, i < keepAlive);
            _loops.Add(Task.Run(() => Loop(loop, reuse)));
        }
    }

    /// <summary>Where the next requests go.</summary>
    public string Url { get => _url; set => _url = value; }

    /// <summary>
    /// Sends the next requests to <paramref name="url"/> and returns once every client has started a request
    /// there, so none of them will send to the old address any more.
    /// </summary>
    public Task MoveTo(string url, TimeSpan timeout)
    {
        _url = url;
        return Eventually.True(() => Enumerable.Range(0, _using.Length).All(i => Volatile.Read(ref _using[i]) == url), timeout, $"every load client to move to {url}");
    }

    public long Ok => Interlocked.Read(ref _ok);
    public long Failed => Interlocked.Read(ref _failed);
    public string Errors => string.Join("; ", _errors.Select(e => $"{e.Value}x {e.Key}"));

    private async Task Loop(int loop, bool reuse)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            PooledConnectionLifetime = reuse ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
        };
        if (_unixSocket is { } path)
            handler.ConnectCallback = async (_, cancel) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        using var client = new HttpClient(handler)
        { Timeout = _requestTimeout };
        var url = _url;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                url = _url;
                Volatile.Write(ref _using[loop], url);
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                if (!reuse) request.Headers.ConnectionClose = true;
                using var response = await client.SendAsync(request, _stop.Token);
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync(_stop.Token);
                Interlocked.Increment(ref _ok);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                Interlocked.Increment(ref _failed);
                _errors.AddOrUpdate($"{e.InnerException?.Message ?? e.Message} ({Where(url)})", 1, (_, n) => n + 1);
            }
        }
    }

    private string Where(string url) => _unixSocket ?? new Uri(url).Authority;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_loops);
    }
}
