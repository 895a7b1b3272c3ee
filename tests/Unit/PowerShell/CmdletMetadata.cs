using System.Reflection;
using System.Runtime.InteropServices;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.PowerShell;

/// <summary>
/// The module's cmdlet classes, read with MetadataLoadContext: PowerShellStandard.Library is a stub,
/// so the cmdlets cannot run here, but their attributes can be read.
/// </summary>
public sealed class CmdletMetadata : IDisposable
{
    private readonly MetadataLoadContext _context;

    public CmdletMetadata()
    {
        var bin = Path.GetDirectoryName(RepoPaths.Built("src/Gopherpack.PowerShell", "Gopherpack.PowerShell.dll"))!;
        var packages = typeof(CmdletMetadata).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "NuGetPackageRoot").Value!;
        StubPath = Path.Combine(packages, "powershellstandard.library", "5.1.0-preview-06", "lib", "netstandard2.0", "System.Management.Automation.dll");
        var paths = Directory.GetFiles(RuntimeEnvironment.GetRuntimeDirectory(), "*.dll").Concat(Directory.GetFiles(bin, "*.dll")).Append(StubPath);
        _context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        Module = _context.LoadFromAssemblyPath(Path.Combine(bin, "Gopherpack.PowerShell.dll"));
        Core = _context.LoadFromAssemblyPath(Path.Combine(bin, "Gopherpack.Core.dll"));
        Automation = _context.LoadFromAssemblyPath(StubPath);
    }

    public string StubPath { get; }
    public Assembly Module { get; }
    public Assembly Core { get; }
    public Assembly Automation { get; }

    public sealed record CmdletInfo(string Name, Type Type, CustomAttributeData Attribute)
    {
        public T? Named<T>(string name) => Attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();
    }

    public sealed record ParameterInfo(string Name, string Type, CustomAttributeData Attribute, IReadOnlyList<string> Aliases, IReadOnlyList<string> ValidateSet)
    {
        public T? Named<T>(string name) => Attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();
    }

    public IReadOnlyList<CmdletInfo> Cmdlets() =>
        Module.GetTypes()
            .Select(t => (Type: t, Attribute: t.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == "System.Management.Automation.CmdletAttribute")))
            .Where(x => x.Attribute is not null)
            .Select(x => new CmdletInfo($"{x.Attribute!.ConstructorArguments[0].Value}-{x.Attribute.ConstructorArguments[1].Value}", x.Type, x.Attribute))
            .OrderBy(c => c.Name)
            .ToList();

    public IReadOnlyList<ParameterInfo> Parameters(Type cmdlet) =>
        cmdlet.GetProperties()
            .Select(p => (Property: p, Attribute: p.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == "System.Management.Automation.ParameterAttribute")))
            .Where(x => x.Attribute is not null)
            .Select(x => new ParameterInfo(x.Property.Name, x.Property.PropertyType.Name, x.Attribute!,
                StringArguments(x.Property, "System.Management.Automation.AliasAttribute"),
                StringArguments(x.Property, "System.Management.Automation.ValidateSetAttribute")))
            .ToList();

    public IReadOnlyList<string> OutputTypes(Type cmdlet) =>
        cmdlet.GetCustomAttributesData().Where(a => a.AttributeType.FullName == "System.Management.Automation.OutputTypeAttribute")
            .SelectMany(a => ((IEnumerable<CustomAttributeTypedArgument>)a.ConstructorArguments[0].Value!).Select(v => ((Type)v.Value!).FullName!))
            .ToList();

    /// <summary>The approved verbs: the constants of the Verbs* classes of System.Management.Automation.</summary>
    public IReadOnlySet<string> ApprovedVerbs() =>
        Automation.GetTypes().Where(t => t.Namespace == "System.Management.Automation" && t.Name.StartsWith("Verbs", StringComparison.Ordinal))
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!))
            .ToHashSet();

    private static IReadOnlyList<string> StringArguments(PropertyInfo property, string attribute) =>
        property.GetCustomAttributesData().Where(a => a.AttributeType.FullName == attribute)
            .SelectMany(a => a.ConstructorArguments.SelectMany(arg => arg.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(v => (string)v.Value!) : [(string)arg.Value!]))
            .ToList();

    public void Dispose() => _context.Dispose();
}
