using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

public sealed class PlanningTests
{
    private static PackManifest With(int? workers, CpuSelection cpus) =>
        new() { Name = "p", ManifestPath = "/m.yml", Command = "/bin/true", WorkingDirectory = "/", Workers = workers, Cpus = cpus };

    [Fact]
    public void Auto_workers_is_one_per_allowed_cpu_pinned_in_order() =>
        Assert.Equal([2, 3, 5], WorkerPlan.SlotCpus(With(null, CpuSelection.Auto), [2, 3, 5], null));

    [Fact]
    public void Auto_workers_is_capped_by_the_cgroup_quota() =>
        Assert.Equal([0, 1], WorkerPlan.SlotCpus(With(null, CpuSelection.Auto), [0, 1, 2, 3], 2));

    [Fact]
    public void More_workers_than_cpus_are_pinned_round_robin() =>
        Assert.Equal([0, 1, 0, 1, 0], WorkerPlan.SlotCpus(With(5, CpuSelection.Auto), [0, 1], null));

    [Fact]
    public void An_explicit_cpu_list_decides_the_pinning_and_auto_count() =>
        Assert.Equal([3, 1], WorkerPlan.SlotCpus(With(null, new CpuSelection(CpuSelectionKind.List, [3, 1])), [0, 1, 2, 3], null));

    [Fact]
    public void Cpus_none_leaves_workers_unpinned() =>
        Assert.Equal([null, null, null], WorkerPlan.SlotCpus(With(3, CpuSelection.None), [0, 1], null));

    [Fact]
    public void A_cpu_outside_the_masters_mask_is_an_error()
    {
        var error = Assert.Throws<WorkerPlanException>(() => WorkerPlan.SlotCpus(With(null, new CpuSelection(CpuSelectionKind.List, [0, 9])), [0, 1], null));
        Assert.Contains("CPU 9", error.Message);
    }

    [Theory]
    [InlineData("max 100000", null)]
    [InlineData("150000 100000", 2)]
    [InlineData("50000 100000", 1)]
    [InlineData("400000 100000", 4)]
    [InlineData("garbage", null)]
    public void The_cgroup_cpu_quota_rounds_up_to_whole_cpus(string cpuMax, int? expected) =>
        Assert.Equal(expected, CpuTopology.ParseCpuMax(cpuMax));

    [Theory]
    [InlineData(0x0000, 0, null)]
    [InlineData(0x0300, 3, null)]
    [InlineData(0x0009, null, 9)]
    [InlineData(0x000f, null, 15)]
    public void Wait_statuses_decode(int status, int? code, int? signal) =>
        Assert.Equal(new ExitStatus(code, signal), ExitStatus.FromWaitStatus(status));
}
