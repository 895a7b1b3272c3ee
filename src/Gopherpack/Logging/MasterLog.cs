namespace Gopherpack.Logging;

public enum LogLevel { Debug, Info, Warn, Error }

/// <summary>The master's log: one line per event, with pack, slot and pid where they apply.</summary>
public interface IMasterLog
{
    void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null);
}

public static class MasterLogExtensions
{
    public static void Info(this IMasterLog log, string @event, string message, int? slot = null, int? pid = null) => log.Write(LogLevel.Info, @event, message, slot, pid);
    public static void Warn(this IMasterLog log, string @event, string message, int? slot = null, int? pid = null) => log.Write(LogLevel.Warn, @event, message, slot, pid);
    public static void Error(this IMasterLog log, string @event, string message, int? slot = null, int? pid = null) => log.Write(LogLevel.Error, @event, message, slot, pid);
}

/// <summary>Writes <c>2026-11-21T18:55:46.123Z info  hello slot=0 pid=42 ready: message</c> lines.</summary>
public sealed class TextMasterLog(TextWriter writer, string pack) : IMasterLog
{
    private readonly object _gate = new();

    public void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null)
    {
        var where = (slot is { } s ? $" slot={s}" : "") + (pid is { } p ? $" pid={p}" : "");
        var line = $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {LevelName(level),-5} {pack}{where} {@event}: {message}";
        lock (_gate) { writer.WriteLine(line); writer.Flush(); }
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug", LogLevel.Info => "info", LogLevel.Warn => "warn", _ => "error",
    };
}
