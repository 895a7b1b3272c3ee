// A worker for the tests that speaks the worker contract by hand (no Gopherpack library):
// adopts the sockets of LISTEN_FDS, answers HTTP/1.1 with facts about itself, sends READY=1.
// Switches: --crash (exit 3 at start), --crash-in-slot=N (only in slot N), --crash-after-ready, --never-ready,
// --ignore-term, --mark-term=PATH (append a line to PATH at each SIGTERM), --watchdog (ping WATCHDOG=1).
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

var switches = new HashSet<string>(args);
Console.WriteLine($"test worker {Environment.ProcessId} starting: {string.Join(' ', args)}");
if (switches.Contains("--crash") || switches.Contains("--crash-in-slot=" + Environment.GetEnvironmentVariable("GOPHERPACK_SLOT")))
{
    Console.Error.WriteLine("test worker: crashing on purpose");
    return 3;
}

var exit = new TaskCompletionSource<int>();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    if (args.FirstOrDefault(a => a.StartsWith("--mark-term=", StringComparison.Ordinal)) is { } mark)
        File.AppendAllText(mark["--mark-term=".Length..], $"SIGTERM {Environment.ProcessId}\n");
    if (switches.Contains("--ignore-term")) Console.WriteLine("test worker: ignoring SIGTERM");
    else exit.TrySetResult(0);
});

if (switches.Contains("--ignore-term")) Console.WriteLine($"test worker {Environment.ProcessId}: SIGTERM handled from now on (ignored)");

var listeners = AdoptListeners();
foreach (var listener in listeners) _ = AcceptLoop(listener);

if (switches.Contains("--crash-after-ready"))
{
    Notify("READY=1");
    await Task.Delay(200);
    return 4;
}
if (!switches.Contains("--never-ready")) Notify("READY=1");
if (switches.Contains("--watchdog")) _ = WatchdogLoop();

var code = await exit.Task;
foreach (var listener in listeners) listener.Dispose();
return code;

static List<Socket> AdoptListeners()
{
    var count = int.TryParse(Environment.GetEnvironmentVariable("LISTEN_FDS"), out var n) ? n : 0;
    if (Environment.GetEnvironmentVariable("LISTEN_PID") != Environment.ProcessId.ToString()) count = 0;
    return Enumerable.Range(3, count).Select(fd => new Socket(new SafeSocketHandle(fd, ownsHandle: true))).ToList();
}

static void Notify(string message)
{
    var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
    if (string.IsNullOrEmpty(path)) return;
    using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    socket.Connect(new UnixDomainSocketEndPoint(path.StartsWith('@') ? "\0" + path[1..] : path));
    socket.Send(Encoding.UTF8.GetBytes(message));
}

static async Task WatchdogLoop()
{
    var usec = long.Parse(Environment.GetEnvironmentVariable("WATCHDOG_USEC") ?? "1000000");
    while (true)
    {
        Notify("WATCHDOG=1");
        await Task.Delay(TimeSpan.FromMicroseconds(usec / 3));
    }
}

static async Task AcceptLoop(Socket listener)
{
    while (true)
    {
        Socket client;
        try { client = await listener.AcceptAsync(); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
        _ = Serve(client);
    }
}

static async Task Serve(Socket client)
{
    using var _ = client;
    var buffer = new byte[8192];
    var pending = new StringBuilder();
    try
    {
        while (true)
        {
            var read = await client.ReceiveAsync(buffer);
            if (read == 0) return;
            pending.Append(Encoding.ASCII.GetString(buffer, 0, read));
            int end;
            while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
            {
                var request = pending.ToString(0, end);
                pending.Remove(0, end + 4);
                var body = Encoding.UTF8.GetBytes(Facts(request.Split(' ')[1 % Math.Max(1, request.Split(' ').Length)]));
                var head = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(head).Concat(body).ToArray());
            }
        }
    }
    catch (SocketException) { }
}

static string Facts(string path)
{
    var facts = new Dictionary<string, object?>
    {
        ["pid"] = Environment.ProcessId,
        ["slot"] = Environment.GetEnvironmentVariable("GOPHERPACK_SLOT"),
        ["cpu"] = Environment.GetEnvironmentVariable("GOPHERPACK_CPU"),
    };
    if (path == "/env")
    {
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            facts["env:" + entry.Key] = entry.Value;
        facts["pgid"] = getpgid(0);
    }
    return JsonSerializer.Serialize(facts);
}

[DllImport("libc")] static extern int getpgid(int pid);
