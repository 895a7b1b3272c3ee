using System.Management.Automation;
using System.Management.Automation.Language;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>The generated help, as Get-Help reads it, against the cmdlets' metadata, as Get-Command reads it.</summary>
public sealed class HelpTests(ModuleFolder module) : ModuleTest(module)
{
    private static readonly HashSet<string> Common = [.. Cmdlet.CommonParameters];

    private static readonly string[] Names = ["Get-Pack", "Get-PackWorker", "Invoke-PackReload", "Invoke-PackUpgrade", "Start-Pack", "Stop-Pack", "Test-PackManifest"];
    public static TheoryData<string> Cmdlets => [.. Names];

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void Help_and_metadata_agree(string name)
    {
        var info = (CmdletInfo)Assert.Single(PS.Run($"Get-Command {name}").AssertNoErrors().Output).BaseObject;
        var help = Assert.Single(PS.Run($"Get-Help {name} -Full").AssertNoErrors().Output);
        Assert.False(string.IsNullOrWhiteSpace(help.Get<string>("Synopsis")), "no synopsis");
        Assert.NotEqual(name, help.Get<string>("Synopsis").Trim());

        var syntax = Items(Prop(help, "syntax"), "syntaxItem");
        Assert.Equal(info.ParameterSets.Count, syntax.Count);
        foreach (var (set, item) in info.ParameterSets.Zip(syntax))
        {
            var documented = Items(item, "parameter").ToDictionary(p => p.Get<string>("name"));
            var expected = set.Parameters.Where(p => !Common.Contains(p.Name)).ToList();
            Assert.Equal(expected.Select(p => p.Name).Order(), documented.Keys.Order());
            foreach (var parameter in expected)
            {
                var doc = documented[parameter.Name];
                Assert.True(parameter.IsMandatory == (doc.Get<string>("required") == "true"), $"{name} -{parameter.Name}: required");
                Assert.Equal(parameter.Position >= 0 ? parameter.Position.ToString() : "named", doc.Get<string>("position"));
                Assert.Equal(PipelineInput(parameter.ValueFromPipeline, parameter.ValueFromPipelineByPropertyName), doc.Get<string>("pipelineInput"));
            }
        }

        var parameters = Items(Prop(help, "parameters"), "parameter").ToDictionary(p => p.Get<string>("name"));
        var metadata = info.Parameters.Values.Where(p => !Common.Contains(p.Name)).ToList();
        Assert.Equal(metadata.Select(p => p.Name).Order(), parameters.Keys.Order());
        foreach (var parameter in metadata)
        {
            var doc = parameters[parameter.Name];
            Assert.Equal((Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType).Name, Prop(doc, "type").Get<string>("name"));
            Assert.Equal(parameter.Aliases.Count == 0 ? "none" : string.Join(", ", parameter.Aliases), doc.Get<string>("aliases"));
            Assert.Equal(parameter.Attributes.OfType<SupportsWildcardsAttribute>().Any(), doc.Get<string>("globbing") == "true");
            Assert.False(string.IsNullOrWhiteSpace(Text(Prop(doc, "description"))), $"{name} -{parameter.Name} has no description");
        }

        Assert.Equal(info.OutputType.Select(t => t.Name), Items(Prop(help, "returnValues"), "returnValue").Select(r => Prop(r, "type").Get<string>("name")));
        var inputs = Items(Prop(help, "inputTypes"), "inputType").Select(i => Prop(i, "type").Get<string>("name")).ToList();
        var piped = metadata.Where(p => p.Attributes.OfType<ParameterAttribute>().Any(a => a.ValueFromPipeline || a.ValueFromPipelineByPropertyName)).ToList();
        Assert.Equal(piped.Count == 0 ? ["None"] : piped.Select(p => (Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType).FullName!).ToList(), inputs);

        var examples = Items(Prop(help, "examples"), "example");
        Assert.NotEmpty(examples);
        foreach (var example in examples) ExampleUsesRealParameters(example.Get<string>("code"));
    }

    [Fact]
    public void Get_help_shows_the_syntax_with_positions_and_common_parameters()
    {
        PS.Host.TakeText();
        PS.Run("Get-Help Stop-Pack | Out-Default").AssertNoErrors();
        var text = PS.Host.TakeText();
        Assert.Contains("SYNTAX Stop-Pack [-Name] <String[]> [-PassThru] [-RuntimeDir <String>] [-TimeoutSec <Int32>] [-Confirm] [-WhatIf] [<CommonParameters>]", Flatten(text));
        PS.Run("Get-Help Invoke-PackReload -Parameter Strategy | Out-Default").AssertNoErrors();
        text = Flatten(PS.Host.TakeText());
        Assert.Contains("-Strategy <String>", text);
        Assert.Contains("Surge (a whole new generation next to the old) or Rolling (slot by slot).", text);
        PS.Run("Get-Help Invoke-PackReload | Out-Default").AssertNoErrors();
        Assert.Contains("[-Strategy {Surge | Rolling}]", Flatten(PS.Host.TakeText()));
    }

    /// <summary>An example parses, and every parameter it gives a Gopherpack cmdlet is one of that cmdlet's parameters or aliases.</summary>
    private void ExampleUsesRealParameters(string code)
    {
        var ast = Parser.ParseInput(code, out _, out var errors);
        Assert.True(errors.Length == 0, $"example does not parse: {code}: {string.Join("; ", errors.Select(e => e.Message))}");
        foreach (var command in ast.FindAll(a => a is CommandAst, searchNestedScriptBlocks: true).Cast<CommandAst>())
        {
            var name = command.GetCommandName();
            if (name is null || !Names.Contains(name)) continue;
            var info = (CmdletInfo)Assert.Single(PS.Run($"Get-Command {name}").Output).BaseObject;
            var known = info.Parameters.Values.SelectMany(p => p.Aliases.Append(p.Name)).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var parameter in command.CommandElements.OfType<CommandParameterAst>())
                Assert.True(known.Contains(parameter.ParameterName), $"example '{code}' gives {name} an unknown parameter -{parameter.ParameterName}");
        }
    }

    private static string PipelineInput(bool byValue, bool byName) => (byValue, byName) switch
    {
        (true, true) => "True (ByPropertyName, ByValue)",
        (true, false) => "True (ByValue)",
        (false, true) => "True (ByPropertyName)",
        _ => "False",
    };

    private static PSObject Prop(PSObject o, string name) =>
        o.Properties[name]?.Value is { } value ? PSObject.AsPSObject(value) : throw new Xunit.Sdk.XunitException($"help has no '{name}'");

    private static IReadOnlyList<PSObject> Items(PSObject o, string name) =>
        o.Properties[name]?.Value switch
        {
            null => [],
            object[] many => many.Select(PSObject.AsPSObject).ToList(),
            var one => [PSObject.AsPSObject(one)],
        };

    private static string Text(PSObject description) =>
        string.Join(" ", (description.BaseObject as object[] ?? [description]).Select(p => PSObject.AsPSObject(p).Properties["Text"]?.Value?.ToString() ?? ""));

    /// <summary>One line: Get-Help wraps at the host's width, mid-word, and indents the rest by four.</summary>
    private static string Flatten(string text) =>
        string.Join(" ", System.Text.RegularExpressions.Regex.Replace(text, "(?<=[^\n]{100,})\n {4}", "").Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));
}
