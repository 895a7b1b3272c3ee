namespace Gopherpack.Tests.Support;

/// <summary>Polls a condition that has no event to await (process gone, file removed), bounded by a timeout that fails the test.</summary>
public static class Eventually
{
    public static async Task True(Func<bool> condition, TimeSpan timeout, string failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{failure} (waited {timeout.TotalSeconds:0.#}s)");
            await Task.Delay(20);
        }
    }

    public static async Task<T> Value<T>(Func<Task<T?>> probe, TimeSpan timeout, string failure) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{failure} (waited {timeout.TotalSeconds:0.#}s)");
            await Task.Delay(20);
        }
    }
}
