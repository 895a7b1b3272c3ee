using System.Text.Json;
using System.Text.Json.Serialization;
using Gopherpack.Manifest;

namespace Gopherpack;

/// <summary>One entry of <c>GOPHERPACK_LISTENERS</c>: a listener's settings for the worker library.</summary>
/// <param name="Backlog">A server that calls listen() again on the inherited socket must pass this (the socket is the whole pack's).</param>
internal sealed record ListenerSettings(string Name, int Fd, string Address, string Protocols, int? MaxConnections, TlsFiles? Tls, int? Backlog = null)
{
    public static ListenerSettings From(ListenerSpec spec, int fd, string boundAddress) => new(
        spec.Name, fd, boundAddress, JsonNamingPolicy.CamelCase.ConvertName(spec.Protocols.ToString()), spec.MaxConnections,
        spec.Tls is { } tls ? new TlsFiles(tls.Certificate, tls.Key) : null, spec.Backlog);

    /// <summary>The variable's value: a JSON array, camelCase keys.</summary>
    public static string Json(IEnumerable<ListenerSettings> listeners) => JsonSerializer.Serialize([.. listeners], ContractJson.Default.ListListenerSettings);
}

internal sealed record TlsFiles(string Certificate, string Key);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(List<ListenerSettings>))]
internal sealed partial class ContractJson : JsonSerializerContext;
