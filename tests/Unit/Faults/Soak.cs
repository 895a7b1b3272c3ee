namespace Gopherpack.Tests.Faults;

/// <summary>Soak lengths: short in CI, full when bench/soak.sh sets the variables.</summary>
public static class Soak
{
    public static TimeSpan ChaosDuration => TimeSpan.FromSeconds(Read("GOPHERPACK_SOAK_SECONDS", 10));
    public static int Reloads => Read("GOPHERPACK_SOAK_RELOADS", 300);
    public static int FuzzCases => Read("GOPHERPACK_FUZZ_CASES", 5000);

    private static int Read(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var value) && value > 0 ? value : fallback;
}
