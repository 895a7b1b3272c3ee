using System.Text;
using Gopherpack.Output;

namespace Gopherpack.Master;

/// <summary>
/// Copies one worker stream (stdout or stderr) to the master's, line by line, optionally prefixed with the
/// worker's identity, and keeps the last lines for failure reports. It always keeps reading, so a worker
/// never blocks on its output: lines the master's output cannot take are dropped by the sink.
/// </summary>
internal sealed class WorkerOutput
{
    private readonly RecentLines _recent;
    private readonly OutputSink _target;
    private readonly byte[] _prefix;

    public Task Completion { get; }

    private readonly bool _neutralizeControls;

    /// <param name="neutralizeControls">Control characters are written as visible text (ESC as <c>^[</c>), not passed to the terminal.</param>
    public WorkerOutput(Stream source, OutputSink target, string? prefix, RecentLines recent, bool neutralizeControls = false)
    {
        _neutralizeControls = neutralizeControls;
        _target = target;
        _prefix = Encoding.UTF8.GetBytes(prefix ?? "");
        _recent = recent;
        Completion = Pump(source);
    }

    private async Task Pump(Stream source)
    {
        var splitter = new LineSplitter();
        var chunk = new byte[LineSplitter.MaxLineBytes];
        try
        {
            await using (source)
            {
                int read;
                while ((read = await source.ReadAsync(chunk)) > 0) splitter.Feed(chunk.AsSpan(0, read), Emit);
            }
        }
        // The worker closed its end or died, or the master closed the pipe at stop: either way its output has ended.
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        splitter.Finish(Emit);
    }

    private void Emit(ReadOnlySpan<byte> line)
    {
        _recent.Add(line);
        _target.TryWrite(_prefix, _neutralizeControls ? TerminalText.Visible(line) : line);
    }
}

/// <summary>Splits a byte stream into lines of at most <see cref="MaxLineBytes"/> (longer ones are cut, at a UTF-8 character boundary).</summary>
internal sealed class LineSplitter
{
    /// <summary>journald cuts at 48 KiB; 16 KiB keeps the master's buffers small and a line still readable.</summary>
    public const int MaxLineBytes = 16 * 1024;
    private readonly byte[] _pending = new byte[MaxLineBytes];
    private int _length;

    public delegate void LineHandler(ReadOnlySpan<byte> line);

    public void Feed(ReadOnlySpan<byte> data, LineHandler emit)
    {
        while (!data.IsEmpty)
        {
            var newline = data.IndexOf((byte)'\n');
            var take = newline >= 0 ? newline : data.Length;
            var room = MaxLineBytes - _length;
            if (take <= room && newline >= 0)
            {
                EmitPending(data[..take], emit);
                data = data[(take + 1)..];
                continue;
            }
            var copy = Math.Min(take, room);
            data[..copy].CopyTo(_pending.AsSpan(_length));
            _length += copy;
            data = data[copy..];
            if (_length == MaxLineBytes) EmitCut(emit);
        }
    }

    /// <summary>The stream ended: a last line without newline is emitted too.</summary>
    public void Finish(LineHandler emit)
    {
        if (_length > 0) EmitPending([], emit);
    }

    private void EmitPending(ReadOnlySpan<byte> tail, LineHandler emit)
    {
        if (_length == 0)
        {
            emit(StripCr(tail));
            return;
        }
        tail.CopyTo(_pending.AsSpan(_length));
        var line = _pending.AsSpan(0, _length + tail.Length);
        _length = 0;
        emit(StripCr(line));
    }

    /// <summary>A full buffer without newline: emit it up to the last complete UTF-8 character, keep the rest.</summary>
    private void EmitCut(LineHandler emit)
    {
        var cut = _length;
        for (var back = 1; back <= 3 && cut - back > 0; back++)
        {
            var b = _pending[cut - back];
            if ((b & 0xC0) == 0x80) continue; // a continuation byte: keep looking for the lead byte
            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (needed > back) cut -= back; // the character is incomplete: carry it over
            break;
        }
        emit(_pending.AsSpan(0, cut));
        var rest = _length - cut;
        _pending.AsSpan(cut, rest).CopyTo(_pending);
        _length = rest;
    }

    private static ReadOnlySpan<byte> StripCr(ReadOnlySpan<byte> line) => line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;
}

/// <summary>The last lines a worker wrote on stdout and stderr together (each cut to <see cref="MaxLineChars"/>).</summary>
internal sealed class RecentLines(int capacity = 20)
{
    public const int MaxLineChars = 1024;
    private readonly Queue<string> _lines = new();

    public void Add(ReadOnlySpan<byte> line)
    {
        var text = Encoding.UTF8.GetString(line.Length > MaxLineChars ? line[..MaxLineChars] : line);
        if (line.Length > MaxLineChars) text += "…";
        Add(text);
    }

    /// <summary>Kept as visible text: these lines are quoted in the log, in replies and on the operator's terminal.</summary>
    public void Add(string line)
    {
        line = Output.TerminalText.Visible(line);
        lock (_lines)
        {
            _lines.Enqueue(line);
            if (_lines.Count > capacity) _lines.Dequeue();
        }
    }

    public IReadOnlyList<string> ToList()
    {
        lock (_lines) return _lines.ToList();
    }
}
