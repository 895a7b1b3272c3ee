using System.Xml.Linq;

namespace Gopherpack.PowerShell.Help;

/// <summary>Writes cmdlet docs as a MAML help file (the layout platyPS writes and Get-Help reads).</summary>
public static class MamlWriter
{
    private static readonly XNamespace Msh = "http://msh";
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    public static XDocument Write(IEnumerable<CmdletDoc> cmdlets) =>
        new(new XDeclaration("1.0", "utf-8", null),
            new XElement(Msh + "helpItems", new XAttribute("schema", "maml"), cmdlets.Select(CommandElement)));

    private static XElement CommandElement(CmdletDoc cmdlet) =>
        new(Command + "command",
            new XAttribute(XNamespace.Xmlns + "maml", Maml), new XAttribute(XNamespace.Xmlns + "command", Command), new XAttribute(XNamespace.Xmlns + "dev", Dev),
            new XElement(Command + "details",
                new XElement(Command + "name", cmdlet.Name),
                new XElement(Command + "verb", cmdlet.Verb),
                new XElement(Command + "noun", cmdlet.Noun),
                Description(cmdlet.Synopsis)),
            Description(cmdlet.Description),
            new XElement(Command + "syntax", cmdlet.Sets.Select(set =>
                new XElement(Command + "syntaxItem", new XElement(Maml + "name", cmdlet.Name), set.Parameters.Select(use => ParameterElement(use, inSyntax: true))))),
            new XElement(Command + "parameters", cmdlet.Parameters.Select(p => ParameterElement(FirstUse(cmdlet, p), inSyntax: false))),
            new XElement(Command + "inputTypes", InputTypes(cmdlet)),
            new XElement(Command + "returnValues", cmdlet.OutputTypes.Select(type =>
                new XElement(Command + "returnValue", TypeElement(type), Description($"{cmdlet.Name} writes {type} objects.")))),
            new XElement(Command + "examples", cmdlet.Examples.Select((example, i) =>
                new XElement(Command + "example",
                    new XElement(Maml + "title", $"-------------------------- Example {i + 1} --------------------------"),
                    new XElement(Dev + "code", example.Code),
                    new XElement(Dev + "remarks", new XElement(Maml + "para", example.Remarks))))));

    private static ParameterUse FirstUse(CmdletDoc cmdlet, ParameterDoc parameter) =>
        cmdlet.Sets.SelectMany(s => s.Parameters).First(u => u.Parameter.Name == parameter.Name);

    private static XElement ParameterElement(ParameterUse use, bool inSyntax)
    {
        var p = use.Parameter;
        var element = new XElement(Command + "parameter",
            new XAttribute("required", Bool(use.Mandatory)),
            new XAttribute("variableLength", Bool(p.IsArray)),
            new XAttribute("globbing", Bool(p.Wildcards)),
            new XAttribute("pipelineInput", use.PipelineInput),
            new XAttribute("position", use.Position?.ToString() ?? "named"),
            new XAttribute("aliases", p.Aliases.Count == 0 ? "none" : string.Join(", ", p.Aliases)),
            new XElement(Maml + "name", p.Name),
            Description(p.Description));
        if (inSyntax && p.ValidateSet.Count > 0)
            element.Add(new XElement(Command + "parameterValueGroup", p.ValidateSet.Select(v =>
                new XElement(Command + "parameterValue", new XAttribute("required", "false"), new XAttribute(Command + "variableLength", "false"), v))));
        else if (!p.IsSwitch || !inSyntax)
            element.Add(new XElement(Command + "parameterValue", new XAttribute("required", Bool(!p.IsSwitch)), new XAttribute("variableLength", Bool(p.IsArray)), p.TypeName));
        element.Add(new XElement(Dev + "type", new XElement(Maml + "name", p.TypeName), new XElement(Maml + "uri")));
        element.Add(new XElement(Dev + "defaultValue", p.IsSwitch ? "False" : "None"));
        return element;
    }

    /// <summary>One entry per parameter that takes pipeline input, saying how it binds.</summary>
    private static IEnumerable<XElement> InputTypes(CmdletDoc cmdlet)
    {
        var piped = cmdlet.Sets.SelectMany(s => s.Parameters).Where(u => u.ByValue || u.ByPropertyName).DistinctBy(u => u.Parameter.Name).ToList();
        if (piped.Count == 0)
            return [new XElement(Command + "inputType", TypeElement("None"), Description($"{cmdlet.Name} takes no pipeline input."))];
        return piped.Select(use =>
        {
            var names = string.Join(" or ", new[] { use.Parameter.Name }.Concat(use.Parameter.Aliases));
            var how = (use.ByValue, use.ByPropertyName) switch
            {
                (true, true) => $"binds to -{use.Parameter.Name} by value, and from any object's {names} property",
                (true, false) => $"binds to -{use.Parameter.Name} by value",
                _ => $"binds to -{use.Parameter.Name} from any object's {names} property",
            };
            return new XElement(Command + "inputType", TypeElement(use.Parameter.TypeFullName), Description($"{use.Parameter.TypeFullName} {how}."));
        });
    }

    private static XElement TypeElement(string name) => new(Dev + "type", new XElement(Maml + "name", name), new XElement(Maml + "uri"));
    private static XElement Description(string text) => new(Maml + "description", new XElement(Maml + "para", text));
    private static string Bool(bool value) => value ? "true" : "false";
}
