using System.Security.Cryptography.X509Certificates;
using Gopherpack.Worker.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Joins a Kestrel app to a Gopherpack pack.</summary>
public static class GopherpackWebHostExtensions
{
    /// <summary>
    /// In a pack: Kestrel serves the inherited listeners (by name, with the manifest's protocols,
    /// TLS and connection limits), READY=1/STOPPING=1 go to the master, the lifeline and watchdog
    /// are handled, and connections are drained on stop. Outside a pack it changes nothing.
    /// </summary>
    public static IWebHostBuilder UseGopherpack(this IWebHostBuilder builder, Action<GopherpackOptions>? configure = null)
    {
        var worker = Gopherpack.Worker.PackWorker.Current;
        if (!worker.IsWorker) return builder;
        // Without its sockets Kestrel would bind localhost:5000 and the worker would still report READY=1
        // while the pack's port times out: fail before readiness, with the reason in the master's log.
        if (worker.ListenerProblem is { } problem) throw new InvalidOperationException($"Gopherpack: {problem}");
        var options = new GopherpackOptions();
        configure?.Invoke(options);

        builder.ConfigureServices(services =>
        {
            services.AddSingleton(worker);
            services.AddSingleton(options);
            services.AddSingleton<DrainCoordinator>();
            services.RemoveAll<IConnectionListenerFactory>();
            services.AddSingleton<IConnectionListenerFactory>(sp => new GatedListenerFactory(
                ActivatorUtilities.CreateInstance<SocketTransportFactory>(sp), sp.GetRequiredService<DrainCoordinator>()));
            services.AddHostedService<WorkerLifecycleService>();
            services.AddTransient<IStartupFilter, DrainStartupFilter>();
            services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(5));
        });
        builder.ConfigureKestrel(kestrel =>
        {
            foreach (var listener in worker.Listeners)
            {
                var callback = options.CallbackFor(listener.Name);
                if (listener.Protocols == "tcp" && callback is null) continue; // raw TCP: for the app's own handler, not HTTP.
                kestrel.ListenHandle((ulong)listener.Fd, listen =>
                {
                    var certificate = options.CertificateFor(listener.Name) ?? PemCertificate(listener);
                    listen.Protocols = ProtocolsOf(listener.Protocols, tls: certificate is not null);
                    if (certificate is not null) listen.UseHttps(certificate());
                    callback?.Invoke(listen);
                });
            }
        });
        return builder;
    }

    /// <summary>Without TLS there is no ALPN to choose between HTTP/1.1 and h2c, so http1AndHttp2 serves HTTP/1.1 there; h2c needs <c>protocols: http2</c>.</summary>
    private static HttpProtocols ProtocolsOf(string protocols, bool tls) => protocols switch
    {
        "http1" => HttpProtocols.Http1,
        "http2" => HttpProtocols.Http2,
        "tcp" => HttpProtocols.None,
        _ => tls ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1,
    };

    private static Func<X509Certificate2>? PemCertificate(Gopherpack.Worker.InheritedListener listener) =>
        listener.Certificate is { } cert && listener.Key is { } key ? () => Gopherpack.Worker.Tls.PemCertificates.Load(cert, key) : null;
}
