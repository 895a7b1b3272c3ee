using Gopherpack.Worker;

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseGopherpack();
builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Gopherpack", LogLevel.Information);
var app = builder.Build();

var worker = PackWorker.Current;
app.MapGet("/", () => new
{
    message = "Hello from Gopherpack",
    pid = Environment.ProcessId,
    slot = worker.Slot,
    cpu = worker.Cpu,
    generation = worker.Generation,
});
app.MapGet("/health", () => "ok");

app.Run();
