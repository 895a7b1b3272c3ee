// The benchmarks' app: HelloHttp's hello endpoint plus an allocating one, run either with the worker
// library (UseGopherpack) or without it (--without-gopherpack: Kestrel on the inherited fd 3 and a
// hand-sent READY=1), so the library's per-request cost is the difference between the two.
using Gopherpack.Worker;

var withoutLibrary = args.Contains("--without-gopherpack");
var builder = WebApplication.CreateBuilder(args.Where(a => a != "--without-gopherpack").ToArray());
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var worker = PackWorker.Current;
if (!withoutLibrary) builder.WebHost.UseGopherpack();
else if (worker.Listeners.Count > 0) builder.WebHost.ConfigureKestrel(k => k.ListenHandle((ulong)worker.Listeners[0].Fd));
var app = builder.Build();
if (withoutLibrary) app.Lifetime.ApplicationStarted.Register(() => SdNotify.Send(worker.NotifySocket, "READY=1"));

app.MapGet("/", () => new
{
    message = "Hello from Gopherpack",
    pid = Environment.ProcessId,
    slot = worker.Slot,
    cpu = worker.Cpu,
    generation = worker.Generation,
});
// 2,000 freshly allocated records as JSON (about 150 KB): a request that keeps the GC busy.
app.MapGet("/records", () => Enumerable.Range(0, 2000)
    .Select(i => new Record(i, $"record {i}", i * 1.25m, DateTime.UnixEpoch.AddSeconds(i), i % 3 == 0))
    .ToList());
app.MapGet("/health", () => "ok");
// For the benchmark's evidence: what the runtime did in this process so far.
app.MapGet("/stats", () => new
{
    gen0 = GC.CollectionCount(0),
    gen1 = GC.CollectionCount(1),
    gen2 = GC.CollectionCount(2),
    serverGc = System.Runtime.GCSettings.IsServerGC,
    processorCount = Environment.ProcessorCount,
    threadPoolThreads = ThreadPool.ThreadCount,
    allocatedBytes = GC.GetTotalAllocatedBytes(),
    gcPauseMs = GC.GetTotalPauseDuration().TotalMilliseconds,
    jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount(),
    jitMs = System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds,
});
app.Run();

internal sealed record Record(int Id, string Name, decimal Price, DateTime Created, bool Active);
