using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>How many workers a pack runs and which CPU each slot is pinned to.</summary>
public static class WorkerPlan
{
    /// <param name="allowedCpus">The master's affinity mask.</param>
    /// <param name="cgroupCpuLimit">The cgroup CPU quota in whole CPUs, if any.</param>
    /// <returns>One entry per slot: its CPU, or null when <c>cpus: none</c>.</returns>
    /// <exception cref="WorkerPlanException">The manifest names CPUs this master may not use.</exception>
    public static IReadOnlyList<int?> SlotCpus(PackManifest manifest, IReadOnlyList<int> allowedCpus, int? cgroupCpuLimit)
    {
        var cpus = manifest.Cpus.Kind == CpuSelectionKind.List ? manifest.Cpus.List : allowedCpus;
        var forbidden = cpus.Where(c => !allowedCpus.Contains(c)).ToList();
        if (forbidden.Count > 0)
            throw new WorkerPlanException($"cpus: CPU {string.Join(", ", forbidden)} is not in the master's allowed CPUs ({string.Join(",", allowedCpus)})");
        var count = manifest.Workers ?? Math.Max(1, Math.Min(cpus.Count, cgroupCpuLimit ?? int.MaxValue));
        return Enumerable.Range(0, count)
            .Select(slot => manifest.Cpus.Kind == CpuSelectionKind.None ? (int?)null : cpus[slot % cpus.Count])
            .ToList();
    }

    /// <summary><see cref="SlotCpus(PackManifest, IReadOnlyList{int}, int?)"/> on this machine: this process's affinity mask and cgroup quota.</summary>
    /// <exception cref="WorkerPlanException">The manifest names CPUs this process may not use.</exception>
    public static IReadOnlyList<int?> SlotCpusHere(PackManifest manifest) =>
        SlotCpus(manifest, Linux.CpuTopology.AllowedCpus(), Linux.CpuTopology.CgroupCpuLimit());
}

public sealed class WorkerPlanException(string message) : Exception(message);
