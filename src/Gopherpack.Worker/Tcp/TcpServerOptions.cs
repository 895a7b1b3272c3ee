using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gopherpack.Worker.Tcp;

public sealed class TcpServerOptions
{
    /// <summary>At most this many connections at once; further clients wait in the kernel backlog. The manifest's <c>maxConnections</c> wins in a pack.</summary>
    public int? MaxConnections { get; set; }

    /// <summary>TLS for every connection; in a pack the manifest's <c>tls:</c> PEM files are used when this is null.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>How long open connections may take to finish after a stop before they are cancelled.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;
}

/// <summary>One accepted client. <see cref="Stopping"/> fires when the server starts draining; <see cref="Aborted"/> when the drain window ends.</summary>
public sealed class TcpConnection(Stream stream, System.Net.EndPoint? remote, CancellationToken stopping, CancellationToken aborted)
{
    public Stream Stream { get; } = stream;
    public System.Net.EndPoint? RemoteEndPoint { get; } = remote;
    public CancellationToken Stopping { get; } = stopping;
    public CancellationToken Aborted { get; } = aborted;
}

public delegate Task TcpConnectionHandler(TcpConnection connection);
