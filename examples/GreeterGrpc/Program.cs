using Gopherpack.Worker;
using GreeterGrpc;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseGopherpack();
// Alone (dotnet run): h2c on 127.0.0.1:5050 (--port N to change). In a pack the manifest's listener is used.
var port = args.SkipWhile(a => a != "--port").Skip(1).Select(int.Parse).FirstOrDefault(5050);
builder.WebHost.ConfigureKestrel(k => { if (!PackWorker.Current.IsWorker) k.Listen(System.Net.IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http2); });
builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Gopherpack", LogLevel.Information);
var app = builder.Build();

var worker = PackWorker.Current;
app.MapUnary("greet.Greeter", "SayHello", HelloRequest.Parser, (request, _) => Task.FromResult(new HelloReply
{
    Message = $"Hello {request.Name}",
    Pid = Environment.ProcessId,
    Slot = worker.Slot ?? -1,
}));

app.Run();
