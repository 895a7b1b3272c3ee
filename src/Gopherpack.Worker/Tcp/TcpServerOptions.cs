using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gopherpack.Worker.Tcp;

/// <summary>How <see cref="PackTcpHost"/> serves raw TCP.</summary>
public sealed class TcpServerOptions
{
    /// <summary>At most this many connections at once; further clients wait in the kernel backlog. The manifest's <c>maxConnections</c> wins in a pack.</summary>
    public int? MaxConnections { get; set; }

    /// <summary>TLS for every connection; in a pack the manifest's <c>tls:</c> PEM files are used when this is null.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>How long open connections may take to finish after a stop before they are cancelled.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the server logs accepts, drains and handler failures.</summary>
    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;
}

/// <summary>One accepted client. <see cref="Stopping"/> fires when the server starts draining; <see cref="Aborted"/> when the drain window ends.</summary>
public sealed class TcpConnection(Stream stream, System.Net.EndPoint? remote, CancellationToken stopping, CancellationToken aborted)
{
    /// <summary>The client's stream (TLS when configured).</summary>
    public Stream Stream { get; } = stream;
    /// <summary>The client's address.</summary>
    public System.Net.EndPoint? RemoteEndPoint { get; } = remote;
    /// <summary>Fires when the server starts draining: finish the current exchange and return.</summary>
    public CancellationToken Stopping { get; } = stopping;
    /// <summary>Fires when the drain window ends: the connection is being closed.</summary>
    public CancellationToken Aborted { get; } = aborted;
}

/// <summary>Serves one client; the connection is closed when the task ends.</summary>
public delegate Task TcpConnectionHandler(TcpConnection connection);
