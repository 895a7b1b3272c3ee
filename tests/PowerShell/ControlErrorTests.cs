using System.Management.Automation;
using System.Net.Sockets;
using System.Text;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>
/// The replies a real master gives that cannot be provoked as root here (another uid's access-denied) or from a
/// cmdlet (a protocol error), from a stand-in control socket that answers with exactly those reply lines.
/// </summary>
public sealed class ControlErrorTests(ModuleFolder module) : ModuleTest(module)
{
    [Theory]
    [InlineData("access-denied", "access denied: uid 1000 may not control this pack (owner uid 0)", "AccessDenied", ErrorCategory.PermissionDenied)]
    [InlineData("unsupported-version", "protocol version 2 is not supported", "PackControlFailed", ErrorCategory.InvalidOperation)]
    public async Task A_refusal_from_the_master_keeps_its_code_as_an_ErrorId(string code, string message, string errorId, ErrorCategory category)
    {
        Directory.CreateDirectory(Lab.RuntimeDir);
        using var master = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        master.Bind(new UnixDomainSocketEndPoint(Path.Combine(Lab.RuntimeDir, "fake.sock")));
        master.Listen();
        var answering = Answer(master, $$$"""{"ok":false,"error":{"code":"{{{code}}}","message":"{{{message}}}"}}""");

        foreach (var command in new[] { "Get-Pack", "Get-PackWorker", "Stop-Pack", "Invoke-PackReload" })
        {
            var error = PS.Run($"{command} -Name fake {Lab.Rt}").SingleError();
            Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(category, error.CategoryInfo.Category);
            Assert.Equal("fake", error.TargetObject);
            Assert.Contains(message, error.Exception.Message);
        }
        master.Close();
        await answering;
    }

    /// <summary>Answers every request with <paramref name="reply"/> until the socket is closed.</summary>
    private static async Task Answer(Socket listener, string reply)
    {
        while (true)
        {
            Socket client;
            try { client = await listener.AcceptAsync(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            using (client)
            {
                var buffer = new byte[4096];
                var request = new StringBuilder();
                while (!request.ToString().Contains('\n'))
                {
                    var read = await client.ReceiveAsync(buffer);
                    if (read == 0) break;
                    request.Append(Encoding.UTF8.GetString(buffer, 0, read));
                }
                await client.SendAsync(Encoding.UTF8.GetBytes(reply + "\n"));
            }
        }
    }
}
