using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gopherpack.Control;

namespace Gopherpack.Tests.Support;

/// <summary>
/// One status request to a master that a test runs as another account (root runs it as nobody): PackClient refuses a
/// runtime dir that is not the caller's, as it should for an operator; the master itself answers its own uid or root.
/// </summary>
internal static class ForeignMasterStatus
{
    /// <exception cref="PackNotRunningException">Nothing answers on the socket.</exception>
    /// <exception cref="PackControlException">The master answered with an error, or not within <paramref name="timeout"/>.</exception>
    public static async Task<PackStatus> AskAsync(string runtimeDir, string pack, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(runtimeDir, pack + ".sock")), cancel.Token);
            var request = JsonSerializer.Serialize(new ControlRequest { Command = ControlCommands.Status }, ControlJson.Default.ControlRequest) + "\n";
            await socket.SendAsync(Encoding.UTF8.GetBytes(request), cancel.Token);
            using var reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
            var line = await reader.ReadLineAsync(cancel.Token)
                ?? throw new PackNotRunningException(pack, runtimeDir, "the master closed the connection without answering");
            var reply = JsonSerializer.Deserialize(line, ControlJson.Default.ControlReply)
                ?? throw new PackControlException(ControlErrors.MalformedReply, $"an empty reply to status: {line}");
            if (!reply.Ok || reply.Pack is null)
                throw new PackControlException(reply.Error?.Code ?? ControlErrors.MalformedReply, reply.Error?.Message ?? $"a status reply without the pack: {line}");
            return reply.Pack;
        }
        catch (SocketException e)
        {
            throw new PackNotRunningException(pack, runtimeDir, e.Message);
        }
        catch (OperationCanceledException)
        {
            throw new PackControlException(ControlErrors.Timeout, $"pack '{pack}' did not answer 'status' within {timeout.TotalSeconds:0} s");
        }
    }
}
