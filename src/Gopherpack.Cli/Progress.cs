namespace Gopherpack.Cli;

/// <summary>A one-line progress display for long waits, shown only on a terminal.</summary>
public sealed class Progress(TextWriter writer)
{
    private readonly bool _enabled = !Console.IsErrorRedirected;
    private readonly object _gate = new();
    private int _width;

    public void Show(string text)
    {
        if (!_enabled) return;
        lock (_gate)
        {
            writer.Write("\r" + text.PadRight(_width));
            _width = text.Length;
        }
    }

    public void Done()
    {
        if (!_enabled || _width == 0) return;
        lock (_gate)
        {
            writer.Write("\r" + new string(' ', _width) + "\r");
            _width = 0;
        }
    }

    /// <summary>Shows "<paramref name="what"/>... Ns" every second until disposed; disposing clears the line, so an error printed next starts clean.</summary>
    public IDisposable Ticker(string what)
    {
        var started = DateTime.UtcNow;
        return new TickerTimer(this, new Timer(_ => Show($"{what}... {(DateTime.UtcNow - started).TotalSeconds:0}s"), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
    }

    private sealed class TickerTimer(Progress progress, Timer timer) : IDisposable
    {
        public void Dispose()
        {
            timer.Dispose();
            progress.Done();
        }
    }
}
