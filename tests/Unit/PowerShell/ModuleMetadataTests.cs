using System.Text.RegularExpressions;
using System.Xml.Linq;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.PowerShell;

public sealed partial class ModuleMetadataTests : IClassFixture<CmdletMetadataFixture>
{
    private static readonly string[] Expected = ["Get-Pack", "Get-PackWorker", "Invoke-PackReload", "Start-Pack", "Stop-Pack", "Test-PackManifest"];
    private readonly CmdletMetadata _metadata;
    private static string ModuleFile(string name) => Path.Combine(RepoPaths.Root, "module", name);

    public ModuleMetadataTests(CmdletMetadataFixture fixture) => _metadata = fixture.Metadata;

    [GeneratedRegex(@"CmdletsToExport\s*=\s*@\(([^)]*)\)")] private static partial Regex CmdletsToExport();
    [GeneratedRegex(@"'([^']+)'")] private static partial Regex Quoted();

    [Fact]
    public void The_module_has_exactly_the_documented_cmdlets() =>
        Assert.Equal(Expected, _metadata.Cmdlets().Select(c => c.Name));

    [Fact]
    public void Every_cmdlet_uses_an_approved_verb_and_a_pack_noun()
    {
        var approved = _metadata.ApprovedVerbs();
        Assert.Contains("Start", approved);
        foreach (var cmdlet in _metadata.Cmdlets())
        {
            Assert.Contains(cmdlet.Name.Split('-')[0], approved);
            Assert.StartsWith("Pack", cmdlet.Name.Split('-')[1]);
        }
    }

    [Fact]
    public void The_psd1_exports_the_cmdlets_of_the_assembly_explicitly_for_powershell_7_4_core()
    {
        var psd1 = File.ReadAllText(ModuleFile("Gopherpack.psd1"));
        var exported = Quoted().Matches(CmdletsToExport().Match(psd1).Groups[1].Value).Select(m => m.Groups[1].Value).Order();
        Assert.Equal(_metadata.Cmdlets().Select(c => c.Name), exported);
        Assert.Contains("RootModule           = 'Gopherpack.PowerShell.dll'", psd1);
        Assert.Contains("PowerShellVersion    = '7.4'", psd1);
        Assert.Contains("CompatiblePSEditions = @('Core')", psd1);
        Assert.Contains("FormatsToProcess     = @('Gopherpack.Format.ps1xml')", psd1);
        foreach (var export in new[] { "FunctionsToExport", "AliasesToExport", "VariablesToExport" })
            Assert.Matches($@"{export}\s*=\s*@\(\)", psd1);
    }

    [Fact]
    public void The_format_file_has_a_table_view_for_every_object_type_the_cmdlets_write_and_no_other()
    {
        var views = XDocument.Load(ModuleFile("Gopherpack.Format.ps1xml")).Descendants("TypeName").Select(t => t.Value).Order().ToList();
        var written = _metadata.Cmdlets().SelectMany(c => _metadata.OutputTypes(c.Type)).Where(t => t.StartsWith("Gopherpack.", StringComparison.Ordinal)).Distinct().Order().ToList();
        Assert.Equal(["Gopherpack.Model.Pack", "Gopherpack.Model.PackWorker", "Gopherpack.Model.ReloadResult"], views);
        Assert.Equal(views, written);
        foreach (var type in views) Assert.NotNull(_metadata.Core.GetType(type));
        Assert.All(XDocument.Load(ModuleFile("Gopherpack.Format.ps1xml")).Descendants("View"), v => Assert.NotNull(v.Element("TableControl")));
    }

    [Fact]
    public void Stop_pack_supports_should_process_and_takes_packs_and_workers_from_the_pipeline()
    {
        var stop = _metadata.Cmdlets().Single(c => c.Name == "Stop-Pack");
        Assert.True(stop.Named<bool>("SupportsShouldProcess"));
        var name = _metadata.Parameters(stop.Type).Single(p => p.Name == "Name");
        Assert.Equal("String[]", name.Type);
        Assert.True(name.Named<bool>("ValueFromPipelineByPropertyName"));
        Assert.True(name.Named<bool>("ValueFromPipeline"));
        Assert.Contains("Pack", name.Aliases); // PackWorker.Pack binds to it
        Assert.NotNull(_metadata.Core.GetType("Gopherpack.Model.PackWorker")!.GetProperty("Pack"));
        Assert.NotNull(_metadata.Core.GetType("Gopherpack.Model.Pack")!.GetProperty("Name"));
    }

    [Theory]
    [InlineData("Start-Pack", "Manifest:String:mandatory:0", "TimeoutSec:Int32", "Wait:SwitchParameter", "RuntimeDir:String")]
    [InlineData("Stop-Pack", "Name:String[]:mandatory:0", "TimeoutSec:Int32", "PassThru:SwitchParameter", "RuntimeDir:String")]
    [InlineData("Invoke-PackReload", "Name:String:mandatory:0", "Manifest:String", "Strategy:String", "RuntimeDir:String")]
    [InlineData("Get-PackWorker", "Name:String[]:optional:0", "RuntimeDir:String")]
    [InlineData("Get-Pack", "Name:String[]:optional:0", "RuntimeDir:String")]
    [InlineData("Test-PackManifest", "Path:String:mandatory:0", "RuntimeDir:String")]
    public void Each_cmdlet_has_its_documented_parameters(string cmdlet, params string[] expected)
    {
        var parameters = _metadata.Parameters(_metadata.Cmdlets().Single(c => c.Name == cmdlet).Type);
        Assert.Equal(expected.Select(e => e.Split(':')[0]).Order(), parameters.Select(p => p.Name).Order());
        foreach (var spec in expected.Select(e => e.Split(':')))
        {
            var parameter = parameters.Single(p => p.Name == spec[0]);
            Assert.Equal(spec[1], parameter.Type);
            Assert.Equal(spec.Length > 2 && spec[2] == "mandatory", parameter.Named<bool>("Mandatory"));
            if (spec.Length > 3) Assert.Equal(int.Parse(spec[3]), parameter.Named<int>("Position"));
            Assert.False(string.IsNullOrWhiteSpace(parameter.Named<string>("HelpMessage")), $"{cmdlet} -{spec[0]} has no HelpMessage");
        }
    }

    [Fact]
    public void Invoke_pack_reload_offers_surge_and_rolling() =>
        Assert.Equal(["Surge", "Rolling"], _metadata.Parameters(_metadata.Cmdlets().Single(c => c.Name == "Invoke-PackReload").Type).Single(p => p.Name == "Strategy").ValidateSet);

    [Fact]
    public void The_help_file_documents_every_cmdlet_and_parameter()
    {
        XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10", maml = "http://schemas.microsoft.com/maml/2004/10";
        var help = XDocument.Load(ModuleFile("en-US/Gopherpack.PowerShell.dll-Help.xml"));
        var documented = help.Descendants(command + "command").ToDictionary(
            c => c.Element(command + "details")!.Element(command + "name")!.Value,
            c => c.Descendants(command + "parameter").ToDictionary(p => p.Element(maml + "name")!.Value, p => p.Element(maml + "description")!.Value));
        Assert.Equal(Expected, documented.Keys.Order());
        foreach (var cmdlet in _metadata.Cmdlets())
        {
            foreach (var parameter in _metadata.Parameters(cmdlet.Type))
                Assert.False(string.IsNullOrWhiteSpace(documented[cmdlet.Name].GetValueOrDefault(parameter.Name)), $"{cmdlet.Name} -{parameter.Name} is not in the help file");
            Assert.All(help.Descendants(command + "command").Where(c => c.Element(command + "details")!.Element(command + "name")!.Value == cmdlet.Name),
                c => Assert.NotEmpty(c.Descendants(command + "example")));
        }
        Assert.Contains("WhatIf", documented["Stop-Pack"].Keys);
        Assert.Contains("Confirm", documented["Stop-Pack"].Keys);
    }

    [Fact]
    public void The_cmdlets_are_thin_every_one_lives_in_one_small_file()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(RepoPaths.Root, "src/Gopherpack.PowerShell/Cmdlets"), "*.cs"))
            Assert.True(File.ReadAllLines(file).Length < 120, $"{Path.GetFileName(file)} has grown past a thin adapter");
        Assert.DoesNotContain(_metadata.Module.GetReferencedAssemblies(), a => a.Name is "System.Net.Sockets" or "YamlDotNet");
    }
}

public sealed class CmdletMetadataFixture : IDisposable
{
    public CmdletMetadata Metadata { get; } = new();
    public void Dispose() => Metadata.Dispose();
}
