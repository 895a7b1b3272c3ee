using System.Collections.Concurrent;
using Gopherpack.Logging;
using Gopherpack.Master;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Master;

/// <summary>SIGHUPs coalesce as nginx's do: one reload at a time, and those that came meanwhile make one more.</summary>
public sealed class CoalescedSignalTests
{
    [Fact]
    public async Task Signals_raised_while_the_operation_runs_make_exactly_one_more_run()
    {
        var log = new ThreadSafeLog();
        var runs = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var signal = new CoalescedSignal("SIGHUP", async () =>
        {
            if (Interlocked.Increment(ref runs) == 1)
            {
                firstStarted.SetResult();
                await release.Task;
            }
            else secondStarted.TrySetResult();
        }, log);

        signal.Raise();
        await firstStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 5; i++) signal.Raise();
        Assert.Equal(1, Volatile.Read(ref runs));
        release.SetResult();
        await secondStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // Caught up: a later signal runs again, at once.
        await Eventually.True(() => { signal.Raise(); return Volatile.Read(ref runs) == 3; }, TimeSpan.FromSeconds(10), "a signal after the catch-up to run again");
        Assert.Single(log.LogLines, l => l.Contains("handled once more when it is done"));
    }

    [Fact]
    public async Task A_failed_run_is_logged_and_the_next_signal_still_runs()
    {
        var log = new ThreadSafeLog();
        var runs = 0;
        var signal = new CoalescedSignal("SIGHUP", () => Interlocked.Increment(ref runs) == 1 ? throw new InvalidOperationException("boom") : Task.CompletedTask, log);
        signal.Raise();
        await Eventually.True(() => log.LogLines.Any(l => l.Contains("handling SIGHUP failed: boom")), TimeSpan.FromSeconds(10), "the failure to be logged");
        await Eventually.True(() => { signal.Raise(); return Volatile.Read(ref runs) >= 2; }, TimeSpan.FromSeconds(10), "the next signal to run");
    }

    /// <summary>The runs happen off the test's thread: their log lines go to a concurrent queue.</summary>
    private sealed class ThreadSafeLog : IMasterLog
    {
        private readonly ConcurrentQueue<string> _lines = new();
        public IReadOnlyList<string> LogLines => _lines.ToArray();
        public void Write(LogLevel level, string @event, string message, int? slot = null, int? pid = null) => _lines.Enqueue($"{level} {@event} {message}");
    }
}
