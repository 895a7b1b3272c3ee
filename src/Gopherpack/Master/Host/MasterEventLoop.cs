using System.Threading.Channels;
using Gopherpack.Logging;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>
/// The master's one thread of decisions. Signals, child exits, notify datagrams, timers and control requests post
/// events from any thread; the loop handles them one at a time, in order, so the supervisor needs no locks.
/// </summary>
internal sealed class MasterEventLoop(IMasterLog log)
{
    private readonly Channel<LoopEvent> _events = Channel.CreateUnbounded<LoopEvent>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Code that must run on the loop (it reads or changes supervisor state), from a control request or a task.</summary>
    private sealed record LoopCall(Action Run) : LoopEvent;

    public void Post(LoopEvent e) => _events.Writer.TryWrite(e);

    /// <summary>Posts <paramref name="e"/> after <paramref name="delay"/>.</summary>
    public void After(TimeSpan delay, LoopEvent e)
    {
        // Task.Delay takes at most uint.MaxValue - 1 ms (about 49.7 days); the manifest bounds durations well below.
        if (delay > Duration.MaxTimer) delay = Duration.MaxTimer;
        _ = Task.Delay(delay).ContinueWith(_ => Post(e), TaskScheduler.Default);
    }

    /// <summary>Runs <paramref name="run"/> on the loop.</summary>
    public void OnLoop(Action run) => Post(new LoopCall(run));

    /// <summary>Runs <paramref name="read"/> on the loop, where supervisor state may be read.</summary>
    public Task<T> OnLoop<T>(Func<T> read)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        OnLoop(() =>
        {
            try { done.SetResult(read()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    /// <summary>
    /// Handles events until <paramref name="finished"/> says so. <paramref name="afterBatch"/> runs each time what was
    /// queued has been handled (work that may wait for a burst of events to pass, such as rewriting a file once).
    /// </summary>
    public async Task RunAsync(Action<LoopEvent> handle, Action afterBatch, Func<bool> finished)
    {
        while (!finished() && await _events.Reader.WaitToReadAsync())
        {
            while (!finished() && _events.Reader.TryRead(out var e))
            {
                try
                {
                    if (e is LoopCall call) call.Run();
                    else handle(e);
                }
                catch (Exception failure)
                {
                    // The supervisor contains its own failures; this is the last net for the host's part.
                    log.Error("internal", $"handling {e.GetType().Name} failed; the master carries on: {failure}");
                }
            }
            afterBatch();
        }
    }
}
