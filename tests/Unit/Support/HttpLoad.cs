using System.Collections.Concurrent;

namespace Gopherpack.Tests.Support;

/// <summary>
/// The test's own load client: keep-alive loops (each one connection, reused) and new-connection
/// loops (a connection per request), counting every request that fails. Runs until stopped.
/// </summary>
public sealed class HttpLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly ConcurrentDictionary<string, int> _errors = new();
    private long _ok, _failed;

    /// <param name="unixSocket">Connect to this unix socket instead of the url's host (the url still names the path).</param>
    public HttpLoad(string url, int keepAlive, int newConnections, string? unixSocket = null)
    {
        for (var i = 0; i < keepAlive; i++) _loops.Add(Task.Run(() => Loop(url, reuse: true, unixSocket)));
        for (var i = 0; i < newConnections; i++) _loops.Add(Task.Run(() => Loop(url, reuse: false, unixSocket)));
    }

    public long Ok => Interlocked.Read(ref _ok);
    public long Failed => Interlocked.Read(ref _failed);
    public string Errors => string.Join("; ", _errors.Select(e => $"{e.Value}x {e.Key}"));

    private async Task Loop(string url, bool reuse, string? unixSocket)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            PooledConnectionLifetime = reuse ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
        };
        if (unixSocket is not null)
            handler.ConnectCallback = async (_, cancel) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(unixSocket), cancel);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        using var client = new HttpClient(handler)
        { Timeout = TimeSpan.FromSeconds(10) };
        while (!_stop.IsCancellationRequested)
        {
            try
            {
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
                _errors.AddOrUpdate(e.InnerException?.Message ?? e.Message, 1, (_, n) => n + 1);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_loops);
    }
}
