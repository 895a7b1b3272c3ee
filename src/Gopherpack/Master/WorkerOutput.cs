using System.Text;

namespace Gopherpack.Master;

/// <summary>
/// Copies one worker stream (stdout or stderr) to the master's, line by line, optionally prefixed
/// with the worker's identity, and keeps the last lines for failure reports.
/// </summary>
public sealed class WorkerOutput
{
    private readonly RecentLines _recent;
    private readonly TextWriter _target;
    private readonly string? _prefix;

    public Task Completion { get; }

    public WorkerOutput(Stream source, TextWriter target, string? prefix, RecentLines recent)
    {
        _target = target;
        _prefix = prefix;
        _recent = recent;
        Completion = Pump(source);
    }

    private async Task Pump(Stream source)
    {
        using var reader = new StreamReader(source, Encoding.UTF8);
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                _recent.Add(line);
                _target.WriteLine(_prefix + line);
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }
}

/// <summary>The last lines a worker wrote on stdout and stderr together.</summary>
public sealed class RecentLines(int capacity = 20)
{
    private readonly Queue<string> _lines = new();

    public void Add(string line)
    {
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
