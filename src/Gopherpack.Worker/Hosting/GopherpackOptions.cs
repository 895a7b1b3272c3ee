using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gopherpack.Worker.Hosting;

/// <summary>How a Kestrel app serves its pack's listeners and drains on stop.</summary>
public sealed class GopherpackOptions
{
    private readonly Dictionary<string, Action<ListenOptions>> _listenerCallbacks = [];
    private readonly Dictionary<string, Func<X509Certificate2>> _certificates = [];

    /// <summary>
    /// How long a stopping worker keeps its open connections, answering with <c>Connection: close</c>,
    /// before Kestrel's own shutdown closes what is left. Keep it below the manifest's <c>stop.timeout</c>.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>During the drain, an HTTP/1 connection with no request for this long is closed.</summary>
    public TimeSpan DrainIdleClose { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The drain window when the master is gone (its lifeline broke): the pack is going down.</summary>
    public TimeSpan MasterGoneDrainTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Configures the Kestrel endpoint of one listener after the manifest's settings are applied.</summary>
    public GopherpackOptions Listener(string name, Action<ListenOptions> configure)
    {
        _listenerCallbacks[name] = configure;
        return this;
    }

    /// <summary>Uses this certificate for a listener instead of the manifest's PEM files.</summary>
    public GopherpackOptions Certificate(string name, Func<X509Certificate2> certificate)
    {
        _certificates[name] = certificate;
        return this;
    }

    internal Action<ListenOptions>? CallbackFor(string name) => _listenerCallbacks.GetValueOrDefault(name);
    internal Func<X509Certificate2>? CertificateFor(string name) => _certificates.GetValueOrDefault(name);
}
