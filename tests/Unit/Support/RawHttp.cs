using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Gopherpack.Tests.Support;

/// <summary>One HTTP/1.1 GET on a fresh connection (tcp or unix), so each request is accepted anew.</summary>
public static class RawHttp
{
    public static async Task<string> GetAsync(EndPoint endpoint, string path = "/", int timeoutMs = 5000)
    {
        using var cancel = new CancellationTokenSource(timeoutMs);
        using var socket = endpoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, cancel.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"), cancel.Token);
        var received = new MemoryStream();
        var buffer = new byte[16384];
        while (true)
        {
            var read = await socket.ReceiveAsync(buffer, cancel.Token);
            if (read == 0) throw new IOException("connection closed before the response was complete");
            received.Write(buffer, 0, read);
            var text = Encoding.UTF8.GetString(received.ToArray());
            var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headerEnd < 0) continue;
            var length = int.Parse(text[..headerEnd].Split("\r\n").First(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim());
            if (Encoding.UTF8.GetByteCount(text[(headerEnd + 4)..]) >= length) return text[(headerEnd + 4)..];
        }
    }

    public static async Task<JsonElement> FactsAsync(EndPoint endpoint, string path = "/") =>
        JsonDocument.Parse(await GetAsync(endpoint, path)).RootElement;

    public static async Task<int> PidAsync(EndPoint endpoint) => (await FactsAsync(endpoint)).GetProperty("pid").GetInt32();
}
