using Gopherpack.Logging;

namespace Gopherpack.Master;

/// <summary>
/// A signal whose operation runs one at a time and coalesces, as nginx's SIGHUP does: signals that arrive while the
/// operation runs make one more run once it has finished (the manifest may have changed again meanwhile), not one
/// refused attempt each. The signal handler only sets a flag or starts the run off the signal thread.
/// </summary>
internal sealed class CoalescedSignal(string signal, Func<Task> run, IMasterLog log)
{
    private readonly object _gate = new();
    private bool _running, _again;

    public void Raise()
    {
        lock (_gate)
        {
            if (_running)
            {
                if (!_again) log.Info("signal", $"{signal} while the one before is still handled: handled once more when it is done");
                _again = true;
                return;
            }
            _running = true;
        }
        _ = Task.Run(RunUntilCaughtUp);
    }

    private async Task RunUntilCaughtUp()
    {
        while (true)
        {
            try { await run(); }
            catch (Exception e) { log.Error("signal", $"handling {signal} failed: {e.Message}"); }
            lock (_gate)
            {
                if (!_again)
                {
                    _running = false;
                    return;
                }
                _again = false;
            }
        }
    }
}
