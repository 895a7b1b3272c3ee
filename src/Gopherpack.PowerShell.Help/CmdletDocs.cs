using System.Reflection;

namespace Gopherpack.PowerShell.Help;

public sealed record CmdletDoc(string Verb, string Noun, string Synopsis, string Description, IReadOnlyList<ParameterSetDoc> Sets,
    IReadOnlyList<ParameterDoc> Parameters, IReadOnlyList<string> OutputTypes, IReadOnlyList<ExampleDoc> Examples)
{
    public string Name => $"{Verb}-{Noun}";
}

public sealed record ParameterDoc(string Name, string TypeName, string TypeFullName, string Description, IReadOnlyList<string> Aliases,
    bool Wildcards, IReadOnlyList<string> ValidateSet)
{
    public bool IsSwitch => TypeName == "SwitchParameter";
    public bool IsArray => TypeName.EndsWith("[]", StringComparison.Ordinal);
}

/// <summary>A parameter as one parameter set has it. Position null: named.</summary>
public sealed record ParameterUse(ParameterDoc Parameter, int? Position, bool Mandatory, bool ByValue, bool ByPropertyName)
{
    /// <summary>As MAML and Get-Help say it: False, True (ByValue), True (ByPropertyName), True (ByPropertyName, ByValue).</summary>
    public string PipelineInput => (ByValue, ByPropertyName) switch
    {
        (true, true) => "True (ByPropertyName, ByValue)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };
}

public sealed record ParameterSetDoc(string Name, IReadOnlyList<ParameterUse> Parameters);

public sealed record ExampleDoc(string Code, string Remarks);

/// <summary>Reads cmdlets' documentation from their attributes, without loading PowerShell (the build has only the reference stub).</summary>
public static class CmdletDocReader
{
    private const string Sma = "System.Management.Automation.";
    private const string AllSets = "__AllParameterSets";

    public static IReadOnlyList<CmdletDoc> Read(Assembly module) =>
        module.GetTypes()
            .Select(type => (Type: type, Cmdlet: Attribute(type.GetCustomAttributesData(), Sma + "CmdletAttribute")))
            .Where(x => x.Cmdlet is not null && !x.Type.IsAbstract)
            .Select(x => Describe(x.Type, x.Cmdlet!))
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();

    private static CmdletDoc Describe(Type type, CustomAttributeData cmdlet)
    {
        var name = $"{cmdlet.ConstructorArguments[0].Value}-{cmdlet.ConstructorArguments[1].Value}";
        var attributes = type.GetCustomAttributesData();
        var help = Attribute(attributes, "Gopherpack.PowerShell.CmdletHelpAttribute")
            ?? throw new InvalidOperationException($"{name} ({type.FullName}) has no [CmdletHelp]");
        var examples = attributes.Where(a => a.AttributeType.FullName == "Gopherpack.PowerShell.HelpExampleAttribute")
            .Select(a => new ExampleDoc((string)a.ConstructorArguments[0].Value!, (string)a.ConstructorArguments[1].Value!)).ToList();
        if (examples.Count == 0) throw new InvalidOperationException($"{name} has no [HelpExample]");

        var declared = type.GetProperties()
            .Select(p => (Property: p, Uses: p.GetCustomAttributesData().Where(a => a.AttributeType.FullName == Sma + "ParameterAttribute").ToList()))
            .Where(x => x.Uses.Count > 0)
            .Select(x => (Doc: Parameter(name, x.Property, x.Uses[0]), x.Uses))
            .ToList();
        var setNames = declared.SelectMany(p => p.Uses).Select(u => Named(u, "ParameterSetName", AllSets)).Where(s => s != AllSets).Distinct().ToList();
        if (setNames.Count == 0) setNames.Add(AllSets);
        var sets = setNames.Select(set => new ParameterSetDoc(set, declared
            .SelectMany(p => p.Uses.Where(u => Named(u, "ParameterSetName", AllSets) is var s && (s == set || s == AllSets)).Take(1).Select(u => Use(p.Doc, u)))
            .Concat(ShouldProcess(cmdlet))
            .OrderBy(u => u.Position ?? int.MaxValue).ThenBy(u => u.Mandatory ? 0 : 1).ThenBy(u => IsRiskParameter(u) ? 1 : 0).ThenBy(u => u.Parameter.Name, StringComparer.Ordinal)
            .ToList())).ToList();
        var parameters = sets.SelectMany(s => s.Parameters).Select(u => u.Parameter).DistinctBy(p => p.Name).ToList();
        var outputs = attributes.Where(a => a.AttributeType.FullName == Sma + "OutputTypeAttribute")
            .SelectMany(a => Values(a.ConstructorArguments[0]).Select(v => v is Type t ? t.FullName! : v!.ToString()!)).ToList();
        return new CmdletDoc((string)cmdlet.ConstructorArguments[0].Value!, (string)cmdlet.ConstructorArguments[1].Value!,
            (string)help.ConstructorArguments[0].Value!, (string)help.ConstructorArguments[1].Value!, sets, parameters, outputs, examples);
    }

    private static ParameterDoc Parameter(string cmdlet, PropertyInfo property, CustomAttributeData parameter)
    {
        var attributes = property.GetCustomAttributesData();
        var description = Named<string?>(parameter, "HelpMessage", null);
        if (string.IsNullOrWhiteSpace(description)) throw new InvalidOperationException($"{cmdlet} -{property.Name} has no HelpMessage");
        // int? shows as Int32, as PowerShell's own syntax shows it.
        var type = property.PropertyType.IsGenericType && property.PropertyType.GetGenericTypeDefinition().FullName == "System.Nullable`1"
            ? property.PropertyType.GetGenericArguments()[0] : property.PropertyType;
        return new ParameterDoc(property.Name, type.Name, type.FullName!, description,
            StringArguments(attributes, Sma + "AliasAttribute"),
            Attribute(attributes, Sma + "SupportsWildcardsAttribute") is not null,
            StringArguments(attributes, Sma + "ValidateSetAttribute"));
    }

    private static ParameterUse Use(ParameterDoc doc, CustomAttributeData parameter)
    {
        var position = Named(parameter, "Position", int.MinValue);
        return new ParameterUse(doc, position >= 0 ? position : null, Named(parameter, "Mandatory", false),
            Named(parameter, "ValueFromPipeline", false), Named(parameter, "ValueFromPipelineByPropertyName", false));
    }

    /// <summary>-WhatIf and -Confirm, which PowerShell adds to a cmdlet that supports ShouldProcess.</summary>
    private static IEnumerable<ParameterUse> ShouldProcess(CustomAttributeData cmdlet)
    {
        if (!Named(cmdlet, "SupportsShouldProcess", false)) yield break;
        yield return new ParameterUse(new ParameterDoc("WhatIf", "SwitchParameter", Sma + "SwitchParameter",
            "Shows what would happen if the cmdlet runs. The cmdlet is not run.", ["wi"], false, []), null, false, false, false);
        yield return new ParameterUse(new ParameterDoc("Confirm", "SwitchParameter", Sma + "SwitchParameter",
            "Prompts you for confirmation before running the cmdlet.", ["cf"], false, []), null, false, false, false);
    }

    private static bool IsRiskParameter(ParameterUse use) => use.Parameter.Name is "WhatIf" or "Confirm";

    private static CustomAttributeData? Attribute(IEnumerable<CustomAttributeData> attributes, string fullName) =>
        attributes.FirstOrDefault(a => a.AttributeType.FullName == fullName);

    private static T Named<T>(CustomAttributeData attribute, string name, T fallback) =>
        attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => (T)a.TypedValue.Value!).DefaultIfEmpty(fallback).First();

    private static IReadOnlyList<string> StringArguments(IEnumerable<CustomAttributeData> attributes, string fullName) =>
        attributes.Where(a => a.AttributeType.FullName == fullName)
            .SelectMany(a => a.ConstructorArguments.SelectMany(Values)).Select(v => (string)v!).ToList();

    private static IEnumerable<object?> Values(CustomAttributeTypedArgument argument) =>
        argument.Value is IEnumerable<CustomAttributeTypedArgument> many ? many.Select(v => v.Value) : [argument.Value];
}
