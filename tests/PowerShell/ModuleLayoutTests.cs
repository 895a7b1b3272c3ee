using System.Management.Automation;
using System.Reflection;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>The assembled module folder and its manifest, as the engine reads them.</summary>
public sealed class ModuleLayoutTests(ModuleFolder module) : ModuleTest(module)
{
    private static readonly string[] Expected = ["Get-Pack", "Get-PackWorker", "Invoke-PackReload", "Invoke-PackUpgrade", "Start-Pack", "Stop-Pack", "Test-PackManifest"];

    [Fact]
    public void The_folder_holds_the_module_its_help_and_the_executable_gopherpack_master_but_no_PowerShell()
    {
        foreach (var file in new[] { "Gopherpack.psd1", "LICENSE", "Gopherpack.Format.ps1xml", "Gopherpack.PowerShell.dll", "Gopherpack.Core.dll", "YamlDotNet.dll", "en-US/Gopherpack.PowerShell.dll-Help.xml", "gopherpack" })
            Assert.True(File.Exists(Path.Combine(Module.Path, file)), $"the module folder lacks {file}");
        Assert.False(File.Exists(Path.Combine(Module.Path, "System.Management.Automation.dll")), "the PowerShellStandard stub must not ship: the host brings the real engine");
        Assert.True((File.GetUnixFileMode(Module.Master) & UnixFileMode.UserExecute) != 0, "gopherpack is not executable");
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(Module.Master)[..4]);
    }

    [Fact]
    public void The_manifest_is_valid_for_PowerShell_7_6_core_with_a_real_guid_and_explicit_exports()
    {
        var info = (PSModuleInfo)Assert.Single(PS.Run($"Test-ModuleManifest {PackLab.Quote(Module.Psd1)}").AssertNoErrors().Output).BaseObject;
        Assert.Equal(new Version(7, 6), info.PowerShellVersion);
        Assert.Equal(["Core"], info.CompatiblePSEditions);
        Assert.NotEqual(Guid.Parse("6f1d2b7e-3c4a-4e5f-9a8b-0c1d2e3f4a5b"), info.Guid);
        Assert.Equal(4, info.Guid.ToByteArray()[7] >> 4);   // a random (version 4) GUID, not a typed-in pattern
        // The one version (Directory.Build.props), the same as the cmdlets' assembly; the gallery's links and notes.
        var assemblyVersion = typeof(ModuleLayoutTests).Assembly.GetName().Version!;
        Assert.Equal(new Version(assemblyVersion.Major, assemblyVersion.Minor, assemblyVersion.Build), info.Version);
        Assert.NotNull(info.ProjectUri);
        Assert.NotNull(info.LicenseUri);
        Assert.Contains(info.Version.ToString(), info.ReleaseNotes);
        Assert.Contains("Linux", info.Tags);
        Assert.Equal(Expected, info.ExportedCmdlets.Keys.Order());
        Assert.Empty(info.ExportedFunctions);
        Assert.Empty(info.ExportedAliases);
    }

    [Fact]
    public void The_imported_module_has_exactly_the_documented_cmdlets_with_approved_verbs()
    {
        var commands = PS.Run("Get-Command -Module Gopherpack").AssertNoErrors().Output.Select(c => (CmdletInfo)c.BaseObject).ToList();
        Assert.Equal(Expected, commands.Select(c => c.Name).Order());
        var approved = typeof(VerbsCommon).Assembly.GetTypes()
            .Where(t => t.Namespace == "System.Management.Automation" && t.Name.StartsWith("Verbs", StringComparison.Ordinal) && t.IsPublic)
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!))
            .ToHashSet();
        Assert.All(commands, c => Assert.Contains(c.Verb, approved));
        Assert.All(commands, c => Assert.StartsWith("Pack", c.Noun, StringComparison.Ordinal));
        Assert.True(commands.Single(c => c.Name == "Stop-Pack").Parameters.ContainsKey("WhatIf"));
    }
}
