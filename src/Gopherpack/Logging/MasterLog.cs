namespace Gopherpack.Logging;

public enum LogLevel { Debug, Info, Warn, Error }

/// <summary>The master's log: one line per event, with pack, slot and pid where they apply.</summary>
public interface IMasterLog
{
    void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null);
}

internal static class MasterLogExtensions
{
    public static void Info(this IMasterLog log, string @event, string message, int? slot = null, int? pid = null) => log.Write(LogLevel.Info, @event, message, slot, pid);
    public static void Warn(this IMasterLog log, string @event, string message, int? slot = null, int? pid = null) => log.Write(LogLevel.Warn, @event, message, slot, pid);
    public static void Error(this IMasterLog log, string @event, string message, int? slot = null, int? pid = null) => log.Write(LogLevel.Error, @event, message, slot, pid);
}

/// <summary>Writes <c>2026-11-21T18:55:46.123Z info  hello slot=0 pid=42 ready: message</c> lines.</summary>
internal sealed class TextMasterLog : IMasterLog
{
    private readonly Action<string> _write;
    private readonly string _pack;

    /// <summary>A log that writes to <paramref name="writer"/> synchronously (tests, tools); the master uses <see cref="Standard"/>.</summary>
    public TextMasterLog(TextWriter writer, string pack)
    {
        var gate = new object();
        _pack = pack;
        _write = line => { lock (gate) { writer.WriteLine(line); writer.Flush(); } };
    }

    /// <summary>A log that never blocks: lines are queued on <paramref name="sink"/> (dropped and counted when it is full).</summary>
    public TextMasterLog(Output.OutputSink sink, string pack)
    {
        _pack = pack;
        _write = line => sink.TryWrite(line, important: true);
    }

    /// <summary>The master's log on its stderr, through the process's non-blocking output.</summary>
    public static TextMasterLog Standard(string pack) => new(Output.MasterOutput.Standard.Err, pack);

    public void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null)
    {
        var where = (slot is { } s ? $" slot={s}" : "") + (pid is { } p ? $" pid={p}" : "");
        _write($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {LevelName(level),-5} {_pack}{where} {@event}: {message}");
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug", LogLevel.Info => "info", LogLevel.Warn => "warn", _ => "error",
    };
}
