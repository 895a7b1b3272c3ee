using System.Collections.Concurrent;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// Runs async work while the pipeline thread waits, and runs on that thread every action the work posts
/// (progress, verbose): PowerShell refuses writes from any other thread.
/// </summary>
internal sealed class PipelinePump
{
    private readonly BlockingCollection<Action> _actions = [];

    /// <summary>Queues an action for the pipeline thread; dropped once the work has finished.</summary>
    public void Post(Action action)
    {
        try { _actions.Add(action); }
        catch (InvalidOperationException) { /* the cmdlet has finished: nobody is left to run it */ }
    }

    /// <summary>Runs the posted actions on the calling thread until <paramref name="work"/> completes, then returns its result.</summary>
    public T Run<T>(Task<T> work)
    {
        work.ContinueWith(_ => _actions.CompleteAdding(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        foreach (var action in _actions.GetConsumingEnumerable()) action();
        return work.GetAwaiter().GetResult();
    }
}
