using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Gopherpack.Logging;

/// <summary>
/// <c>logs.format: json</c>: one JSON object per line, for journald, Loki or Elasticsearch:
/// <c>{"time":"2026-11-21T18:55:46.123Z","level":"info","pack":"hello","slot":0,"pid":42,"event":"ready","message":"..."}</c>.
/// <c>slot</c> and <c>pid</c> are left out where they do not apply.
/// </summary>
internal sealed class JsonMasterLog : IMasterLog
{
    private readonly Action<string> _write;
    private readonly string _pack;

    /// <summary>A log that writes to <paramref name="writer"/> synchronously (tests, tools).</summary>
    public JsonMasterLog(TextWriter writer, string pack)
    {
        var gate = new object();
        _pack = pack;
        _write = line => { lock (gate) { writer.WriteLine(line); writer.Flush(); } };
    }

    /// <summary>A log that never blocks: lines are queued on <paramref name="sink"/> (dropped and counted when it is full).</summary>
    public JsonMasterLog(Output.OutputSink sink, string pack)
    {
        _pack = pack;
        _write = line => sink.TryWrite(line, important: true);
    }

    public void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null) =>
        _write(Line(DateTime.UtcNow, level, _pack, @event, message, slot, pid));

    public static string Line(DateTime time, LogLevel level, string pack, string @event, string message, int? slot, int? pid)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", time.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", MasterLogs.LevelName(level));
            json.WriteString("pack", pack);
            if (slot is { } s) json.WriteNumber("slot", s);
            if (pid is { } p) json.WriteNumber("pid", p);
            json.WriteString("event", @event);
            json.WriteString("message", message);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

/// <summary>The master's log in the manifest's <c>logs.format</c>.</summary>
public static class MasterLogs
{
    /// <summary>
    /// The master's log on its stderr, through the process's non-blocking output. The output's own notices
    /// (lines dropped, log file reopened) take the same format, so every master line is JSON with <c>logs.format: json</c>.
    /// </summary>
    public static IMasterLog Standard(Manifest.PackManifest manifest)
    {
        if (manifest.LogFormat != Manifest.LogFormat.Json)
        {
            Output.MasterOutput.Standard.FormatNotices(text => "gopherpack: " + text);
            return TextMasterLog.Standard(manifest.Name);
        }
        var name = manifest.Name;
        Output.MasterOutput.Standard.FormatNotices(text => Notice(name, text));
        return new JsonMasterLog(Output.MasterOutput.Standard.Err, name);
    }

    /// <summary>A notice of the master's output (event <c>output</c>, level warn) as a JSON line.</summary>
    public static string Notice(string pack, string text) => JsonMasterLog.Line(DateTime.UtcNow, LogLevel.Warn, pack, "output", text, null, null);

    public static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug", LogLevel.Info => "info", LogLevel.Warn => "warn", _ => "error",
    };
}
