using System.Reflection;
using System.Runtime.Versioning;
using Gopherpack.Worker;

namespace Gopherpack.Tests.Worker;

/// <summary>
/// The Gopherpack.Worker package builds into an app on any OS without CA1416: neither the assembly nor anything public
/// carries a platform attribute (what only Linux has is guarded inside), and outside a pack nothing is changed.
/// </summary>
public sealed class WorkerPackageSurfaceTests
{
    private static readonly Assembly Package = typeof(PackWorker).Assembly;

    [Fact]
    public void Neither_the_assembly_nor_its_public_api_is_marked_for_one_platform()
    {
        Assert.Empty(Package.GetCustomAttributes<OSPlatformAttribute>());
        var marked = Package.GetExportedTypes()
            .SelectMany(t => new MemberInfo[] { t }.Concat(t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)))
            .Where(m => m.GetCustomAttributes<OSPlatformAttribute>().Any())
            .Select(m => $"{m.DeclaringType?.Name}.{m.Name}")
            .ToList();
        Assert.Empty(marked);
    }
}
