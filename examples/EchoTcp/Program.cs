// Echo server: greets each client with the worker that serves it, then echoes every byte back.
// In a pack it serves the manifest's "echo" listener; alone it listens on 127.0.0.1:7007
// (--port N to change, --tls CERT KEY for TLS).
using System.Net;
using System.Text;
using Gopherpack.Worker;
using Gopherpack.Worker.Tcp;
using Microsoft.Extensions.Logging;

var port = args.SkipWhile(a => a != "--port").Skip(1).Select(int.Parse).FirstOrDefault(7007);
var tls = args.SkipWhile(a => a != "--tls").Skip(1).Take(2).ToArray();
using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
var options = new TcpServerOptions { LoggerFactory = loggers };
if (tls.Length == 2) options.Certificate = Gopherpack.Worker.Tls.PemCertificates.Load(tls[0], tls[1]);

var worker = PackWorker.Current;
var greeting = Encoding.UTF8.GetBytes($"hello from pid {Environment.ProcessId}" + (worker.IsWorker ? $" slot {worker.Slot} cpu {worker.Cpu}" : "") + "\n");

return await PackTcpHost.RunAsync("echo", new IPEndPoint(IPAddress.Loopback, port), async connection =>
{
    await connection.Stream.WriteAsync(greeting, connection.Aborted);
    var buffer = new byte[4096];
    int read;
    while ((read = await connection.Stream.ReadAsync(buffer, connection.Aborted)) > 0)
        await connection.Stream.WriteAsync(buffer.AsMemory(0, read), connection.Aborted);
}, options);
