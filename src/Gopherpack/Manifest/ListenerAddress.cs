using System.Net;

namespace Gopherpack.Manifest;

/// <summary>A parsed <c>tcp://HOST:PORT</c> or <c>unix:///path</c> listener address.</summary>
public sealed record ListenerAddress
{
    public IPEndPoint? Tcp { get; private init; }
    public string? UnixPath { get; private init; }
    public bool IsUnix => UnixPath is not null;

    public override string ToString() =>
        IsUnix ? "unix://" + UnixPath : "tcp://" + (Tcp!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Tcp.Address}]:{Tcp.Port}" : Tcp.ToString());

    public static ListenerAddress ForTcp(IPEndPoint endpoint) => new() { Tcp = endpoint };
    public static ListenerAddress ForUnix(string path) => new() { UnixPath = path };

    /// <summary>Parses an address; relative unix paths are taken against <paramref name="baseDirectory"/>.</summary>
    public static bool TryParse(string text, string baseDirectory, out ListenerAddress? address, out string error)
    {
        address = null;
        if (text.StartsWith("unix://", StringComparison.Ordinal))
        {
            var path = text["unix://".Length..];
            if (path.Length == 0) { error = "unix address needs a path, e.g. unix:///run/app.sock"; return false; }
            var full = Path.GetFullPath(path, baseDirectory);
            if (System.Text.Encoding.UTF8.GetByteCount(full) > 107) { error = $"unix socket path '{full}' is longer than 107 bytes"; return false; }
            address = ForUnix(full);
            error = "";
            return true;
        }
        if (!text.StartsWith("tcp://", StringComparison.Ordinal))
        {
            error = $"address '{text}' must start with tcp:// or unix://";
            return false;
        }
        var hostPort = text["tcp://".Length..];
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0) { error = $"address '{text}' needs a host and a port, e.g. tcp://0.0.0.0:8080"; return false; }
        var host = hostPort[..colon];
        var portText = hostPort[(colon + 1)..];
        if (!int.TryParse(portText, System.Globalization.NumberStyles.None, null, out var port) || port > 65535)
        {
            error = $"port '{portText}' must be a number from 0 to 65535";
            return false;
        }
        IPAddress? ip;
        if (host == "localhost") ip = IPAddress.Loopback;
        else if (host.StartsWith('[') && host.EndsWith(']'))
        {
            if (!IPAddress.TryParse(host[1..^1], out ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            { error = $"'{host}' is not an IPv6 address"; return false; }
        }
        else if (!IPAddress.TryParse(host, out ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            error = $"host '{host}' must be an IPv4 address, [IPv6 address] or localhost";
            return false;
        }
        address = ForTcp(new IPEndPoint(ip, port));
        error = "";
        return true;
    }
}
