namespace Gopherpack.Tests.EndToEnd;

/// <summary>End-to-end tests run one at a time: they pin workers to this machine's few cores and measure timings.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    public const string Name = "end-to-end";
}
